"""Image resolution for super-resolution data: block-mean downsampling (the low-resolution
inputs) and bicubic upsampling (the classic baseline an estimate is compared with)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["downsample", "upsample_bicubic"]


def _as_grid(images, image_shape: Sequence[int] | None) -> np.ndarray:
    """Flattened images (n, n_pixels) as an array (n, height, width)."""
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 2 or images.shape[0] == 0:
        raise ValueError(f"images must be a non-empty 2-D array (n_images, n_pixels), got "
                         f"shape {images.shape}")
    if image_shape is None:
        side = math.isqrt(images.shape[1])
        if side * side != images.shape[1]:
            raise ValueError(f"images of {images.shape[1]} pixels are not square; give "
                             "image_shape=(height, width)")
        image_shape = (side, side)
    height, width = (int(v) for v in image_shape)
    if height * width != images.shape[1]:
        raise ValueError(f"image_shape {height}x{width} does not hold {images.shape[1]} pixels")
    return images.reshape(len(images), height, width)


def _check_factor(factor: int) -> int:
    if not isinstance(factor, (int, np.integer)) or factor < 1:
        raise ValueError(f"factor must be a positive int, got {factor!r}")
    return int(factor)


def downsample(images, factor: int, image_shape: Sequence[int] | None = None) -> np.ndarray:
    """Average ``factor x factor`` blocks of pixels: the low-resolution version of images.

    Parameters
    ----------
    images : array-like of shape (n_images, height * width)
        Flattened images.
    factor : int
        The block side; it must divide the height and the width (28x28 MNIST: 2 gives
        14x14, 4 gives 7x7).
    image_shape : (height, width), optional
        Default: square.

    Returns
    -------
    ndarray of shape (n_images, (height // factor) * (width // factor)), float64

    Raises
    ------
    ValueError
        If the factor does not divide the image sides, or the images do not fit the shape.

    Examples
    --------
    >>> downsample([[1.0, 3.0, 0.0, 0.0, 5.0, 7.0, 0.0, 4.0, 0.0, 0.0, 0.0, 0.0,
    ...              0.0, 0.0, 0.0, 0.0]], 2)
    array([[4., 1., 0., 0.]])
    """
    factor = _check_factor(factor)
    grid = _as_grid(images, image_shape)
    n, height, width = grid.shape
    if height % factor or width % factor:
        raise ValueError(f"factor {factor} does not divide {height}x{width} images")
    blocks = grid.reshape(n, height // factor, factor, width // factor, factor)
    return blocks.mean(axis=(2, 4)).reshape(n, -1)


def _cubic_weights(size: int, factor: int, a: float = -0.5) -> np.ndarray:
    """The (size * factor, size) matrix of cubic convolution (Keys 1981, ``a = -0.5``) that
    enlarges one axis, pixel centres aligned and edges repeated."""
    target = (np.arange(size * factor) + 0.5) / factor - 0.5  # source coordinate of a pixel
    base = np.floor(target).astype(int)
    matrix = np.zeros((size * factor, size))
    for offset in range(-1, 3):
        distance = np.abs(target - (base + offset))
        weight = np.where(
            distance <= 1,
            (a + 2) * distance**3 - (a + 3) * distance**2 + 1,
            a * distance**3 - 5 * a * distance**2 + 8 * a * distance - 4 * a,
        )
        np.add.at(matrix, (np.arange(size * factor), np.clip(base + offset, 0, size - 1)),
                  weight)
    return matrix


def upsample_bicubic(images, factor: int, image_shape: Sequence[int] | None = None, *,
                     clip: bool = True) -> np.ndarray:
    """Enlarge images ``factor`` times by bicubic interpolation (cubic convolution).

    The weights are those of Keys (1981) with ``a = -0.5``, the "bicubic" of image editors
    and of Pillow; pixel centres are aligned and the edge pixels repeated.

    Parameters
    ----------
    images : array-like of shape (n_images, height * width)
        Flattened low-resolution images.
    factor : int
    image_shape : (height, width), optional
        Of the low-resolution images; default: square.
    clip : bool, default True
        Clip the result to the range of the input (cubic interpolation overshoots at
        edges).

    Returns
    -------
    ndarray of shape (n_images, height * factor * width * factor), float64

    Examples
    --------
    >>> import numpy as np
    >>> flat = np.full((1, 4), 0.5)
    >>> upsample_bicubic(flat, 2)                 # a constant image stays constant
    array([[0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]])
    """
    factor = _check_factor(factor)
    grid = _as_grid(images, image_shape)
    rows = _cubic_weights(grid.shape[1], factor)
    cols = _cubic_weights(grid.shape[2], factor)
    out = np.einsum("ij,njk,lk->nil", rows, grid, cols)
    if clip:
        out = np.clip(out, grid.min(), grid.max())
    return out.reshape(len(grid), -1)
