"""Reconstructions of several models side by side: originals, then one row per model (e.g.
a deep autoencoder's and PCA's with the same code size), with each model's error."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from deepbelief.plotting.images import _paired_rows
from deepbelief.plotting.mosaic import (
    _TARGET_PIXELS_ROWS,
    as_images,
    data_range,
    image_shape_of,
    show_rgb,
)

__all__ = ["plot_reconstruction_comparison", "squared_error_per_image"]


def squared_error_per_image(originals, reconstructions) -> float:
    """The squared error summed over the pixels of an image, averaged over the images (the
    figure of Hinton & Salakhutdinov, 2006).

    Examples
    --------
    >>> squared_error_per_image([[0.0, 1.0], [1.0, 1.0]], [[0.5, 1.0], [1.0, 0.0]])
    0.625
    """
    originals = np.asarray(originals, dtype=np.float64)
    reconstructions = np.asarray(reconstructions, dtype=np.float64)
    return float(((originals - reconstructions) ** 2).sum(axis=1).mean())


def plot_reconstruction_comparison(
    originals,
    reconstructions: Mapping[str, object],
    path: str | Path,
    *,
    image_shape: Sequence[int] | None = None,
    n_cols: int | None = 10,
    title: str | None = None,
) -> Path:
    """Draw images above the reconstructions of several models, one row per model.

    Every row is drawn on the colour scale of the originals (values beyond it, such as
    PCA's reconstructions below 0, at its ends), so that each model's picture looks as its
    reconstructions would as data.

    Parameters
    ----------
    originals : array-like of shape (n_images, n_pixels)
    reconstructions : mapping of str to array-like of shape (n_images, n_pixels)
        Each model's reconstructions of ``originals``, by the name its row is labelled with
        (e.g. ``{"autoencoder": ae.reconstruct(X), "PCA": pca.inverse_transform(...)}``),
        in the order of the rows.
    path : str or Path
    image_shape : (height, width), optional
        Default: square.
    n_cols : int, default 10
        Images per row.
    title : str, optional
        Default: each model's squared error per image of the images drawn (summed over the
        pixels, averaged over the images) ('' for none).

    Returns
    -------
    Path

    Raises
    ------
    ValueError
        No reconstructions, or an array whose shape differs from ``originals``'.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from sklearn.decomposition import PCA
    >>> from deepbelief.datasets import load_digits
    >>> X, _ = load_digits()
    >>> pca = PCA(n_components=2).fit(X)
    >>> rows = {"PCA (2)": pca.inverse_transform(pca.transform(X[:10]))}
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "compare.png"
    >>> plot_reconstruction_comparison(X[:10], rows, path).name
    'compare.png'
    """
    originals = as_images(originals, "originals")
    if not reconstructions:
        raise ValueError("reconstructions is empty: give at least one model's "
                         "reconstructions, as {name: array}.")
    rows = {str(name): as_images(images, f"reconstructions[{name!r}]")
            for name, images in reconstructions.items()}
    for name, images in rows.items():
        if images.shape != originals.shape:
            raise ValueError(f"reconstructions[{name!r}] has shape {images.shape}, the "
                             f"originals {originals.shape}: they must match.")
    shape = image_shape_of(originals.shape[1], image_shape)
    vmin, vmax = data_range(originals)  # the data's scale: PCA's overshoot is clipped
    rgb, labels = _paired_rows([originals, *rows.values()], shape, n_cols, "gray_r", vmin,
                               vmax, ["original", *rows], [None] * (len(rows) + 1))
    if title is None:
        errors = ", ".join(f"{name} {squared_error_per_image(originals, images):.3g}"
                           for name, images in rows.items())
        title = f"squared error per image: {errors}"
    return show_rgb(rgb, path, title, labels, target_pixels=_TARGET_PIXELS_ROWS)
