"""Pictures of sequences and of super-resolution: frame strips, joint-angle curves, animated
GIFs of videos, and low-resolution | upsampled | model | truth grids."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from deepbelief.plotting.images import _paired_rows
from deepbelief.plotting.mosaic import (
    _TARGET_PIXELS_ROWS,
    as_images,
    data_range,
    image_shape_of,
    mosaic_rgb,
    new_figure,
    save_figure,
    show_rgb,
)

__all__ = ["plot_frame_strips", "plot_joint_angles", "plot_superresolution", "save_gif"]


def _named_sequences(sequences, name: str) -> dict[str, np.ndarray]:
    """``{label: (n_frames, n_values) array}`` from a mapping, one 2-D array, a 3-D array
    or a list of 2-D arrays (labelled 'sequence 1', ...)."""
    if isinstance(sequences, Mapping):
        named = {str(k): np.asarray(v, dtype=np.float64) for k, v in sequences.items()}
    else:
        if isinstance(sequences, np.ndarray) and sequences.ndim == 2:
            sequences = [sequences]
        named = {f"sequence {i + 1}": np.asarray(s, dtype=np.float64)
                 for i, s in enumerate(sequences)}
    if not named:
        raise ValueError(f"{name} is empty: give at least one sequence.")
    for label, array in named.items():
        if array.ndim != 2 or 0 in array.shape:
            raise ValueError(f"{name}[{label!r}] must be a non-empty 2-D array (n_frames, "
                             f"n_values), got shape {array.shape}.")
    widths = {a.shape[1] for a in named.values()}
    if len(widths) > 1:
        raise ValueError(f"{name}: the sequences have different widths {sorted(widths)} "
                         "(values per frame); give sequences of the same channels.")
    return named


def plot_frame_strips(
    sequences,
    path: str | Path,
    *,
    image_shape: Sequence[int] | None = None,
    every: int = 1,
    max_frames: int = 20,
    title: str | None = None,
    cmap: str = "gray_r",
) -> Path:
    """Draw each sequence of image frames as one row (a film strip), labelled.

    Parameters
    ----------
    sequences : mapping of str to array-like (n_frames, n_pixels), or array-like
        Videos, e.g. ``{"real": video[20:], "generated": model.generate(...)}``; an array
        (n_sequences, n_frames, n_pixels) or a list of 2-D arrays is labelled 'sequence 1',
        'sequence 2', .... Shorter sequences leave their row's end blank.
    path : str or Path
        The PNG to write.
    image_shape : (height, width), optional
        Default: square.
    every : int, default 1
        Draw every ``every``-th frame (frames 0, every, 2 * every, ...).
    max_frames : int, default 20
        At most this many frames per row.
    title : str, optional
        Default: which frames are drawn ('' for none).
    cmap : str, default 'gray_r'

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        No sequence, a sequence that is not 2-D, sequences of different widths, or frames
        that do not fit ``image_shape``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from deepbelief.datasets import bouncing_balls
    >>> videos = bouncing_balls(2, 30, size=16, random_state=0)
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "strips.png"
    >>> plot_frame_strips({"first": videos[0], "second": videos[1]}, out, every=3).name
    'strips.png'
    """
    if every < 1 or max_frames < 1:
        raise ValueError(f"every and max_frames must be positive, got {every} and "
                         f"{max_frames}.")
    named = _named_sequences(sequences, "sequences")
    shape = image_shape_of(next(iter(named.values())).shape[1], image_shape)
    picked = {k: v[::every][:max_frames] for k, v in named.items()}
    n_shown = max(len(v) for v in picked.values())
    rows = []
    for frames in picked.values():
        padded = np.full((n_shown, frames.shape[1]), np.nan)  # NaN tiles are drawn blank
        padded[: len(frames)] = frames
        rows.append(padded)
    vmin, vmax = data_range(*picked.values())
    rgb, labels = _paired_rows(rows, shape, n_shown, cmap, vmin, vmax, list(picked),
                               [None] * len(rows))
    if title is None:
        last = (n_shown - 1) * every
        title = f"frames 0 to {last}" + (f", every {every}" if every > 1 else "")
    return show_rgb(rgb, path, title, labels, target_pixels=_TARGET_PIXELS_ROWS)


def plot_joint_angles(
    sequences,
    path: str | Path,
    *,
    channels: Sequence[int] | None = None,
    channel_names: Sequence[str] | None = None,
    starts: Mapping[str, int] | None = None,
    frame_time: float | None = None,
    n_cols: int = 3,
    title: str | None = None,
) -> Path:
    """Draw channels of sequences over time, one panel per channel, one line per sequence.

    Parameters
    ----------
    sequences : mapping of str to array-like (n_frames, n_channels), or array-like
        E.g. ``{"real": walk, "generated": continuation}``; an array or list of 2-D arrays
        is labelled 'sequence 1', ....
    path : str or Path
        The PNG to write.
    channels : sequence of int, optional
        The channels to draw (default: the first six).
    channel_names : sequence of str, optional
        A name for every channel of the sequences (default: 'channel i').
    starts : mapping of str to int, optional
        The frame at which a sequence starts (default 0), e.g. ``{"generated": 20}`` to draw
        a continuation after its 20 seed frames.
    frame_time : float, optional
        Seconds per frame: the x axis in seconds (default: in frames).
    n_cols : int, default 3
        Panels per row.
    title : str, optional
        Default: none.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        No sequence, sequences of different widths, a channel out of range, or
        ``channel_names`` of the wrong length.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from deepbelief.datasets import synthetic_gaits, GAIT_CHANNELS
    >>> (walk, run), _ = synthetic_gaits(2, 60, style="both", random_state=0)
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "angles.png"
    >>> plot_joint_angles({"one": walk, "other": run}, out, channels=[0, 2],
    ...                   channel_names=GAIT_CHANNELS).name
    'angles.png'
    """
    named = _named_sequences(sequences, "sequences")
    width = next(iter(named.values())).shape[1]
    channels = list(range(min(6, width))) if channels is None else [int(c) for c in channels]
    if not channels or any(not 0 <= c < width for c in channels):
        raise ValueError(f"channels must lie in [0, {width}), got {channels}.")
    if channel_names is not None and len(channel_names) != width:
        raise ValueError(f"channel_names has {len(channel_names)} names for {width} channels.")
    starts = dict(starts or {})
    unknown = sorted(set(starts) - set(named))
    if unknown:
        raise ValueError(f"starts names {unknown}, which are not among the sequences "
                         f"{list(named)}.")
    n_cols = max(1, min(n_cols, len(channels)))
    n_rows = math.ceil(len(channels) / n_cols)
    fig = new_figure(3.2 * n_cols, 2.2 * n_rows + (0.4 if title else 0.1))
    axes = fig.subplots(n_rows, n_cols, squeeze=False)
    unit = frame_time or 1.0
    for ax, channel in zip(axes.flat, channels, strict=False):
        for label, values in named.items():
            t = (starts.get(label, 0) + np.arange(len(values))) * unit
            ax.plot(t, values[:, channel], label=label, linewidth=1.2)
        ax.set_title(channel_names[channel] if channel_names is not None
                     else f"channel {channel}", fontsize=9)
        ax.tick_params(labelsize=8)
        ax.set_xlabel("seconds" if frame_time else "frame", fontsize=8)
    for ax in axes.flat[len(channels):]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def save_gif(
    frames,
    path: str | Path,
    *,
    image_shape: Sequence[int] | None = None,
    fps: float = 10.0,
    zoom: int = 4,
    cmap: str = "gray_r",
) -> Path:
    """Write a video as an animated GIF (matplotlib's animation, Pillow writer).

    Parameters
    ----------
    frames : array-like (n_frames, n_pixels), or mapping of str to such arrays
        One video, or several drawn side by side (e.g. ``{"real": ..., "generated":
        ...}``, each titled with its name; shorter ones hold their last frame).
    path : str or Path
        The ``.gif`` to write (its folder is created).
    image_shape : (height, width), optional
        Default: square.
    fps : float, default 10
        Frames per second.
    zoom : int, default 4
        Screen pixels per image pixel.
    cmap : str, default 'gray_r'

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        An empty video, frames that do not fit ``image_shape``, a bad ``fps``/``zoom``, or
        a ``path`` that does not end in ``.gif`` (Pillow would write a still image).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from PIL import Image
    >>> from deepbelief.datasets import bouncing_balls
    >>> video = bouncing_balls(1, 12, size=16, random_state=0)[0]
    >>> out = save_gif(video, pathlib.Path(tempfile.mkdtemp()) / "balls.gif", fps=5)
    >>> Image.open(out).n_frames
    12
    """
    from matplotlib.animation import FuncAnimation, PillowWriter

    if not fps > 0 or zoom < 1:
        raise ValueError(f"fps must be positive and zoom at least 1, got {fps} and {zoom}.")
    if Path(path).suffix.lower() != ".gif":
        raise ValueError(f"an animated GIF's name ends in .gif, got {Path(path).name!r}.")
    named = (_named_sequences(frames, "frames") if isinstance(frames, Mapping)
             else {"": as_images(frames, "frames")})
    shape = image_shape_of(next(iter(named.values())).shape[1], image_shape)
    vmin, vmax = data_range(*named.values())
    n_frames = max(len(v) for v in named.values())

    def picture(t: int) -> np.ndarray:
        tiles = np.stack([v[min(t, len(v) - 1)] for v in named.values()])
        return mosaic_rgb(tiles, shape, len(tiles), cmap, vmin, vmax)

    first = picture(0)
    label_in = 0.25 if any(named) else 0.0
    height, width = first.shape[0] * zoom / 100, first.shape[1] * zoom / 100
    fig = new_figure(width, height + label_in)
    ax = fig.add_axes((0, 0, 1, height / (height + label_in)))
    ax.set_axis_off()
    image = ax.imshow(first, interpolation="nearest")
    if label_in:
        fig.text(0.5, 1 - 0.5 * label_in / (height + label_in), "   |   ".join(named),
                 ha="center", va="center", fontsize=8)
    def draw(t: int) -> list:
        image.set_data(picture(t))
        return [image]

    animation = FuncAnimation(fig, draw, frames=n_frames, blit=False)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    animation.save(path, writer=PillowWriter(fps=fps), dpi=100)
    return path


def _upsampled(images: np.ndarray, shape: tuple[int, int], target: tuple[int, int]):
    """Low-resolution images enlarged by pixel repetition to ``target`` (for display)."""
    fy, fx = target[0] // shape[0], target[1] // shape[1]
    if fy * shape[0] != target[0] or fx * shape[1] != target[1]:
        raise ValueError(f"low-resolution images of {shape[0]}x{shape[1]} do not divide the "
                         f"{target[0]}x{target[1]} images evenly; give low_shape.")
    grid = images.reshape(len(images), *shape)
    return grid.repeat(fy, axis=1).repeat(fx, axis=2).reshape(len(images), -1)


def _psnr(truth: np.ndarray, estimate: np.ndarray, peak: float) -> tuple[float, float]:
    """The mean squared error per pixel and the PSNR in dB (``10 log10(peak^2 / mse)``)."""
    mse = float(np.mean((truth - estimate) ** 2))
    return mse, (math.inf if mse == 0 else 10 * math.log10(peak**2 / mse))


def plot_superresolution(
    low_res,
    estimates: Mapping[str, object],
    truth,
    path: str | Path,
    *,
    low_shape: Sequence[int] | None = None,
    image_shape: Sequence[int] | None = None,
    n_cols: int = 10,
    title: str | None = None,
) -> Path:
    """Draw low-resolution images, estimates of their high-resolution versions, and the
    truth: one row each (e.g. low-res | bicubic | model | truth).

    Parameters
    ----------
    low_res : array-like of shape (n_images, n_low_pixels)
        The inputs; drawn enlarged by pixel repetition to the size of the truth.
    estimates : mapping of str to array-like of shape (n_images, n_pixels)
        The rows between input and truth, by label, in order (e.g. ``{"bicubic": ...,
        "conditional RBM": ...}``).
    truth : array-like of shape (n_images, n_pixels), or None
        The high-resolution images (None when unknown: no truth row, no scores).
    path : str or Path
        The PNG to write.
    low_shape, image_shape : (height, width), optional
        Shapes of the low- and high-resolution images; default: square.
    n_cols : int, default 10
        Images per row.
    title : str, optional
        Default: each estimate's mean squared error per pixel and PSNR (peak 1 for data in
        [0, 1], else the truth's range) over the images drawn ('' for none; without truth:
        the sizes).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        No estimate, arrays whose numbers of images or pixels disagree, or a low resolution
        that does not divide the high one.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np
    >>> from deepbelief.datasets import load_digits
    >>> X, _ = load_digits()
    >>> low = X[:8].reshape(8, 4, 2, 4, 2).mean(axis=(2, 4)).reshape(8, 16)
    >>> blocky = low.reshape(8, 4, 1, 4, 1).repeat(2, 2).repeat(2, 4).reshape(8, 64)
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "superres.png"
    >>> plot_superresolution(low, {"pixel repetition": blocky}, X[:8], out).name
    'superres.png'
    """
    low_res = as_images(low_res, "low_res")
    if not estimates:
        raise ValueError("estimates is empty: give at least one, as {label: images}.")
    rows = {str(k): as_images(v, f"estimates[{k!r}]") for k, v in estimates.items()}
    reference = as_images(truth, "truth") if truth is not None else next(iter(rows.values()))
    for label, images in rows.items():
        if images.shape != reference.shape:
            raise ValueError(f"estimates[{label!r}] has shape {images.shape}, the "
                             f"{'truth' if truth is not None else 'first'} {reference.shape}: "
                             "they must match.")
    if len(low_res) != len(reference):
        raise ValueError(f"low_res has {len(low_res)} images, the estimates "
                         f"{len(reference)}.")
    shape = image_shape_of(reference.shape[1], image_shape)
    small = image_shape_of(low_res.shape[1], low_shape)
    groups = [_upsampled(low_res, small, shape), *rows.values()]
    names = [f"input {small[0]}x{small[1]}", *rows]
    if truth is not None:
        groups, names = [*groups, reference], [*names, "truth"]
    vmin, vmax = data_range(*groups)
    rgb, labels = _paired_rows(groups, shape, n_cols, "gray_r", vmin, vmax, names,
                               [None] * len(groups))
    if title is None and truth is None:
        title = f"{small[0]}x{small[1]} -> {shape[0]}x{shape[1]}"
    elif title is None:
        truth = reference
        peak = 1.0 if (vmin, vmax) == (0.0, 1.0) else vmax - vmin
        scores = [(label, *_psnr(truth, images, peak)) for label, images in rows.items()]
        title = "; ".join(f"{label}: MSE {mse:.4f}, PSNR {db:.1f} dB"
                          for label, mse, db in scores)
    return show_rgb(rgb, path, title, labels, target_pixels=_TARGET_PIXELS_ROWS)
