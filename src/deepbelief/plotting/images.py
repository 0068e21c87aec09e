"""Pictures of images: grids of samples, filters, reconstructions, completions, classes and
predictions."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

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

__all__ = [
    "class_samples_title",
    "plot_class_samples",
    "plot_completions",
    "plot_filters",
    "plot_images",
    "plot_predictions",
    "plot_reconstructions",
]


def plot_images(
    images,
    path: str | Path,
    *,
    image_shape: Sequence[int] | None = None,
    n_cols: int | None = None,
    title: str | None = None,
    cmap: str = "gray_r",
) -> Path:
    """Draw a grid of images (samples, data) and save it.

    Parameters
    ----------
    images : array-like of shape (n_images, n_pixels)
        Flattened images; values in [0, 1] are drawn on that scale, others on their range.
    path : str or Path
        The PNG to write.
    image_shape : (height, width), optional
        Default: square.
    n_cols : int, optional
        Images per row; default about ``sqrt(n_images)``.
    title : str, optional
        Default: ``'N images'`` ('' for none).
    cmap : str, default 'gray_r'
        Matplotlib colormap (ink dark on white).

    Returns
    -------
    Path
        ``path``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from deepbelief.datasets import load_digits
    >>> X, _ = load_digits()
    >>> out = plot_images(X[:20], pathlib.Path(tempfile.mkdtemp()) / "digits.png", n_cols=10)
    >>> out.stat().st_size > 0
    True
    """
    images = as_images(images)
    shape = image_shape_of(images.shape[1], image_shape)
    vmin, vmax = data_range(images)
    title = f"{len(images)} images" if title is None else title
    return show_rgb(mosaic_rgb(images, shape, n_cols, cmap, vmin, vmax), path, title)


def _first_layer_weights(model) -> np.ndarray:
    """(n_units, n_inputs) weights of a fitted RBM or DBN estimator, or an array as is."""
    if hasattr(model, "rbms_"):
        return model.rbms_[0].weight.detach().cpu().numpy().T
    if hasattr(model, "rbm_"):
        return model.rbm_.weight.detach().cpu().numpy().T
    if hasattr(model, "weight") and hasattr(model, "n_hidden"):  # an RBMModule
        return model.weight.detach().cpu().numpy().T
    return as_images(model, "weights")


def plot_filters(
    weights,
    path: str | Path,
    *,
    image_shape: Sequence[int] | None = None,
    n_units: int = 100,
    n_cols: int | None = None,
    title: str | None = None,
) -> Path:
    """Draw the receptive fields (incoming weights) of first-layer hidden units as tiles.

    Each tile is one hidden unit's weights, scaled on its own to its largest absolute value
    (dark: positive, light: negative, mid-grey: zero).

    Parameters
    ----------
    weights : array of shape (n_units, n_pixels), or a fitted estimator
        An ``RBM`` (``components_``), a DBN (its first RBM), or an ``RBMModule``.
    path : str or Path
    image_shape : (height, width), optional
    n_units : int, default 100
        Draw the first ``n_units`` units.
    n_cols : int, optional
    title : str or None
        None: the default ('' for none).

    Returns
    -------
    Path
    """
    title = "receptive fields of the first hidden layer" if title is None else title
    weights = _first_layer_weights(weights)[: max(1, int(n_units))]
    shape = image_shape_of(weights.shape[1], image_shape)
    scale = np.abs(weights).max(axis=1, keepdims=True)
    scaled = weights / np.where(scale > 0, scale, 1.0)
    rgb = mosaic_rgb(scaled, shape, n_cols, "gray_r", -1.0, 1.0)
    return show_rgb(rgb, path, title)


def _paired_rows(groups: Sequence[np.ndarray], shape, n_cols: int, cmap, vmin, vmax,
                 names: Sequence[str], hidden: Sequence[np.ndarray | None]):
    """One row per group for each block of ``n_cols`` images, stacked; returns the RGB
    mosaic and ``(row centre, name)`` labels."""
    n = len(groups[0])
    cols = max(1, min(n_cols or 10, n))
    width = cols * (shape[1] + 1) + 1
    blocks, labels, offset = [], [], 0
    for lo in range(0, n, cols):
        for group, name, mask in zip(groups, names, hidden, strict=True):
            part_mask = None if mask is None else mask[lo : lo + cols]
            rgb = mosaic_rgb(group[lo : lo + cols], shape, cols, cmap, vmin, vmax, part_mask)
            if rgb.shape[1] < width:  # a short last row: pad it to the full width
                full = np.ones((rgb.shape[0], width, 3))
                full[:, : rgb.shape[1]] = rgb
                rgb = full
            top = 1
            if blocks:
                rgb, top = rgb[1:], 0  # rows share their padding line
            labels.append((offset + top + (shape[0] - 1) / 2, name))
            blocks.append(rgb)
            offset += rgb.shape[0]
    return np.concatenate(blocks), labels


def plot_reconstructions(
    originals,
    reconstructions,
    path: str | Path,
    *,
    image_shape: Sequence[int] | None = None,
    n_cols: int | None = 10,
    title: str | None = None,
) -> Path:
    """Draw images above their reconstructions (e.g. ``RBM.reconstruct``) and save it.

    Parameters
    ----------
    originals, reconstructions : array-like of shape (n_images, n_pixels)
    path : str or Path
    image_shape : (height, width), optional
    n_cols : int, default 10
        Images per row.
    title : str, optional
        Default: ``'N images and their reconstructions'`` ('' for none).

    Returns
    -------
    Path
    """
    originals = as_images(originals, "originals")
    reconstructions = as_images(reconstructions, "reconstructions")
    if originals.shape != reconstructions.shape:
        raise ValueError(f"originals {originals.shape} and reconstructions "
                         f"{reconstructions.shape} differ in shape.")
    shape = image_shape_of(originals.shape[1], image_shape)
    vmin, vmax = data_range(originals, reconstructions)
    rgb, labels = _paired_rows([originals, reconstructions], shape, n_cols, "gray_r", vmin,
                               vmax, ["original", "reconstruction"], [None, None])
    if title is None:
        title = f"{len(originals)} images and their reconstructions"
    return show_rgb(rgb, path, title, labels, target_pixels=_TARGET_PIXELS_ROWS)


def plot_completions(
    originals,
    masks,
    completions,
    path: str | Path,
    *,
    image_shape: Sequence[int] | None = None,
    n_cols: int | None = 10,
    title: str | None = None,
) -> Path:
    """Draw originals, what the model was shown (unknown pixels in blue) and its completion.

    Parameters
    ----------
    originals, completions : array-like of shape (n_images, n_pixels)
    masks : array-like of bool, shape (n_images, n_pixels) or (n_pixels,)
        True where a pixel was known (as in ``RBM.complete``).
    path : str or Path
    image_shape : (height, width), optional
    n_cols : int, default 10
    title : str, optional
        Default: what share of the pixels was hidden ('' for none).

    Returns
    -------
    Path
    """
    originals = as_images(originals, "originals")
    completions = as_images(completions, "completions")
    known = np.broadcast_to(np.asarray(masks, dtype=bool), originals.shape)
    shape = image_shape_of(originals.shape[1], image_shape)
    vmin, vmax = data_range(originals, completions)
    rgb, labels = _paired_rows(
        [originals, originals, completions], shape, n_cols, "gray_r", vmin, vmax,
        ["original", "shown", "completed"], [None, ~known, None])
    if title is None:
        title = f"completions of {len(originals)} images ({1 - known.mean():.0%} hidden)"
    return show_rgb(rgb, path, title, labels, target_pixels=_TARGET_PIXELS_ROWS)


def plot_class_samples(
    samples,
    labels: Sequence,
    path: str | Path,
    *,
    image_shape: Sequence[int] | None = None,
    title: str | None = None,
    cmap: str = "gray_r",
) -> Path:
    """Draw samples one row per class (e.g. ``GenerativeDBN.sample(n, y=labels)``), each row
    labelled with its class, and save it.

    Parameters
    ----------
    samples : array-like of shape (n_samples, n_pixels)
    labels : sequence of length n_samples
        The class of each sample; rows follow the sorted classes, shorter rows are padded.
    path : str or Path
    image_shape : (height, width), optional
    title : str, optional
        Default: ``'samples of classes A, B, ...'`` (``'samples of class A'`` for one class;
        '' for none).
    cmap : str, default 'gray_r'

    Returns
    -------
    Path

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from deepbelief.datasets import load_digits
    >>> X, y = load_digits()
    >>> out = plot_class_samples(X[:40], y[:40], pathlib.Path(tempfile.mkdtemp()) / "c.png")
    >>> out.stat().st_size > 0
    True
    """
    samples = as_images(samples, "samples")
    labels = np.asarray(labels)
    if labels.shape != (len(samples),):
        raise ValueError(f"labels must hold one class per sample ({len(samples)}), got shape "
                         f"{labels.shape}.")
    shape = image_shape_of(samples.shape[1], image_shape)
    classes = np.unique(labels)
    width = max(int((labels == c).sum()) for c in classes)
    groups = []
    for c in classes:  # rows of equal length: NaN tiles are drawn as padding
        row = np.full((width, samples.shape[1]), np.nan)
        members = samples[labels == c]
        row[: len(members)] = members
        groups.append(row)
    vmin, vmax = data_range(samples)
    rgb, row_labels = _paired_rows(groups, shape, width, cmap, vmin, vmax,
                                   [str(c) for c in classes], [None] * len(classes))
    if title is None:
        title = class_samples_title(classes)
    return show_rgb(rgb, path, title, row_labels)


def class_samples_title(classes: Sequence) -> str:
    """``'samples of class 3'``, ``'samples of classes 0, 1, 2'``: a title naming the
    classes that class-conditional samples were drawn for.

    >>> class_samples_title([7]), class_samples_title(["cat", "dog"])
    ('samples of class 7', 'samples of classes cat, dog')
    """
    names = [str(c) for c in classes]
    if len(names) == 1:
        return f"samples of class {names[0]}"
    shown = names if len(names) <= 12 else [*names[:11], "..."]
    return f"samples of classes {', '.join(shown)}"


def plot_predictions(
    images,
    labels: Sequence,
    predictions: Sequence,
    path: str | Path,
    *,
    image_shape: tuple[int, int] | None = None,
    n_cols: int = 5,
    title: str | None = None,
) -> Path:
    """Draw images titled ``label: L / pred: P`` (red when wrong) and save a PNG.

    Parameters
    ----------
    images : array of shape (n_images, n_pixels)
        Flattened square images (or give ``image_shape``).
    labels, predictions : sequences of length n_images
    path : where to write the PNG.
    image_shape : (height, width), default square.
    n_cols : images per row.
    title : str, optional
        Default: how many of the images are predicted right ('' for none).

    Returns
    -------
    Path
        The path written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from deepbelief.datasets import load_digits
    >>> X, y = load_digits()
    >>> out = plot_predictions(X[:5], y[:5], [0, 1, 2, 3, 5],
    ...                        pathlib.Path(tempfile.mkdtemp()) / "predictions.png")
    >>> out.suffix
    '.png'
    """
    images = as_images(images)
    shape = image_shape_of(images.shape[1], image_shape)
    n = len(images)
    n_cols = max(1, min(n_cols, n))
    n_rows = -(-n // n_cols)
    fig = new_figure(n_cols * 1.3, n_rows * 1.85)
    axes = fig.subplots(n_rows, n_cols, squeeze=False)
    for ax in axes.ravel():
        ax.set_axis_off()
    vmin, vmax = data_range(images)
    for ax, image, label, pred in zip(axes.ravel(), images, labels, predictions, strict=False):
        ax.imshow(image.reshape(shape), cmap="gray_r", interpolation="nearest", vmin=vmin,
                  vmax=vmax)
        ax.set_title(f"label: {label}\npred: {pred}", fontsize=9,
                     color="black" if label == pred else "red")
    if title is None:
        right = sum(bool(a == b) for a, b in zip(labels, predictions, strict=False))
        title = f"predictions: {right} of {n} right (red: wrong)"
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)
