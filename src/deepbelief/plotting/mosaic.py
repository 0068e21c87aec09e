"""Drawing images as tiles, and the figures every picture is drawn on.

The helpers here are shared by :mod:`.images` and :mod:`.charts`: a figure that never
touches pyplot's global state, saving it as a PNG (creating its folder), checking image
arrays and shapes, and turning flattened images into one RGB mosaic.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = [
    "as_images",
    "data_range",
    "figure_title",
    "image_shape_of",
    "mosaic_rgb",
    "new_figure",
    "save_figure",
    "show_rgb",
    "tile_images",
]

_DPI = 100
_TARGET_PIXELS = 560  # about the width of a mosaic picture
_TARGET_PIXELS_ROWS = 900  # pictures of a few long rows (reconstructions, completions)
_PAD_RGB = (1.0, 1.0, 1.0)
_HIDDEN_RGB = (0.62, 0.79, 0.88)  # unknown pixels in plot_completions


def new_figure(width: float, height: float):
    """A new :class:`matplotlib.figure.Figure` of ``width`` x ``height`` inches, outside
    pyplot (so nothing is shown and no global state changes)."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=_DPI)


def figure_title(fig) -> str:
    """The title of ``fig``: its ``suptitle``, else its first axes' title ('' if none)."""
    suptitle = getattr(fig, "_suptitle", None)
    if suptitle is not None and suptitle.get_text():
        return suptitle.get_text()
    return next((ax.get_title() for ax in fig.axes if ax.get_title()), "")


def save_figure(fig, path: str | Path) -> Path:
    """Write ``fig`` as a PNG at ``path`` (creating its folder), with its title in the
    file's ``Title`` text (image viewers and screen readers show it); returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=_DPI, metadata={"Software": None, "Title": figure_title(fig) or None})
    return path


def as_images(images, name: str = "images") -> np.ndarray:
    """``images`` as a float64 array of shape (n_images, n_pixels); one flat image becomes
    one row.

    Raises
    ------
    ValueError
        If the array is empty or not 1-D or 2-D; the message calls it ``name``.

    Examples
    --------
    >>> as_images([0.0, 1.0, 0.5, 0.25]).shape
    (1, 4)
    """
    array = np.asarray(images, dtype=np.float64)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2 or array.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty 2-D array (n_images, n_pixels), got "
                         f"shape {array.shape}.")
    return array


def image_shape_of(n_pixels: int, image_shape: Sequence[int] | None) -> tuple[int, int]:
    """The (height, width) of images of ``n_pixels`` pixels: ``image_shape``, or square.

    Raises
    ------
    ValueError
        If ``image_shape`` is None and ``n_pixels`` is not a square, or ``image_shape`` does
        not hold ``n_pixels`` pixels.

    Examples
    --------
    >>> image_shape_of(64, None), image_shape_of(6, (2, 3))
    ((8, 8), (2, 3))
    """
    if image_shape is None:
        side = math.isqrt(n_pixels)
        if side * side != n_pixels:
            raise ValueError(f"images of {n_pixels} pixels are not square; give "
                             "image_shape=(height, width).")
        return side, side
    height, width = (int(v) for v in image_shape)
    if height * width != n_pixels:
        raise ValueError(f"image_shape {height}x{width} has {height * width} pixels but the "
                         f"images have {n_pixels}.")
    return height, width


def _grid(n: int, n_cols: int | None) -> tuple[int, int]:
    cols = n_cols or max(1, math.ceil(math.sqrt(n)))
    cols = max(1, min(int(cols), n))
    return -(-n // cols), cols


def _rgb(values: np.ndarray, cmap: str, vmin: float, vmax: float) -> np.ndarray:
    from matplotlib import colormaps

    scaled = (values - vmin) / (vmax - vmin) if vmax > vmin else np.zeros_like(values)
    return colormaps[cmap](np.clip(scaled, 0.0, 1.0))[..., :3]


def tile_images(
    images,
    image_shape: Sequence[int] | None = None,
    n_cols: int | None = None,
    *,
    pad: int = 1,
    pad_value: float = np.nan,
) -> np.ndarray:
    """Arrange flattened images in a grid: one 2-D array, ``pad`` pixels between tiles.

    Parameters
    ----------
    images : array-like of shape (n_images, n_pixels)
    image_shape : (height, width), optional
        Default: square.
    n_cols : int, optional
        Tiles per row; default about ``sqrt(n_images)``.
    pad : int, default 1
    pad_value : float, default NaN
        Value of the padding (and of empty tiles).

    Returns
    -------
    ndarray of shape (rows * (height + pad) + pad, cols * (width + pad) + pad)

    Examples
    --------
    >>> tile_images(np.ones((3, 4)), n_cols=3, pad_value=0).astype(int)
    array([[0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
           [0, 1, 1, 0, 1, 1, 0, 1, 1, 0],
           [0, 1, 1, 0, 1, 1, 0, 1, 1, 0],
           [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]])
    """
    images = as_images(images)
    height, width = image_shape_of(images.shape[1], image_shape)
    rows, cols = _grid(len(images), n_cols)
    mosaic = np.full((rows * (height + pad) + pad, cols * (width + pad) + pad), pad_value,
                     dtype=np.float64)
    for i, image in enumerate(images):
        r, c = divmod(i, cols)
        top, left = pad + r * (height + pad), pad + c * (width + pad)
        mosaic[top : top + height, left : left + width] = image.reshape(height, width)
    return mosaic


def show_rgb(rgb: np.ndarray, path, title: str | None,
              row_labels: Sequence[tuple[float, str]] = (), *,
              target_pixels: int = _TARGET_PIXELS) -> Path:
    """Draw an RGB mosaic at an integer zoom (its longer side about ``target_pixels``, at
    most 8 screen pixels per image pixel), with an optional title and row labels."""
    height, width = rgb.shape[:2]
    zoom = max(1, min(8, round(target_pixels / max(height, width))))
    label_in = 1.1 if row_labels else 0.0
    title_in = 0.35 if title else 0.0
    w_in, h_in = width * zoom / _DPI, height * zoom / _DPI
    needed = w_in + label_in + 0.1
    W = max(needed, 0.08 * len(title or "") + 0.3)  # room for the title
    H = h_in + title_in + 0.1
    fig = new_figure(W, H)
    left = label_in + (W - needed) / 2
    ax = fig.add_axes((left / W, 0.05 / H, w_in / W, h_in / H))
    ax.imshow(rgb, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([c for c, _ in row_labels], [t for _, t in row_labels], fontsize=9)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title:
        fig.suptitle(title, fontsize=10, y=1 - 0.05 / H, va="top")
    return save_figure(fig, path)


def mosaic_rgb(images: np.ndarray, shape, n_cols, cmap, vmin, vmax,
                hidden: np.ndarray | None = None) -> np.ndarray:
    """Tiles as RGB: padding white, ``hidden`` pixels (a bool mask like ``images``) blue."""
    mosaic = tile_images(images, shape, n_cols)
    rgb = _rgb(np.nan_to_num(mosaic), cmap, vmin, vmax)
    rgb[np.isnan(mosaic)] = _PAD_RGB
    if hidden is not None:
        flags = tile_images(hidden.astype(np.float64), shape, n_cols, pad_value=0.0) > 0.5
        rgb[flags] = _HIDDEN_RGB
    return rgb


def data_range(*arrays: np.ndarray) -> tuple[float, float]:
    """[0, 1] for data in it (so that faint images stay faint), else the data's range."""
    low = min(float(np.nanmin(a)) for a in arrays)
    high = max(float(np.nanmax(a)) for a in arrays)
    if low >= 0.0 and high <= 1.0:
        return 0.0, 1.0
    return low, high
