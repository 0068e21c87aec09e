"""Pictures, headless: every function writes a PNG with matplotlib's Agg backend."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["plot_predictions"]


def _figure(n_cols: int, n_rows: int, size: float = 1.3):
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(n_cols * size, n_rows * (size + 0.55)))
    return fig, fig.subplots(n_rows, n_cols, squeeze=False)


def plot_predictions(
    images: np.ndarray,
    labels: Sequence,
    predictions: Sequence,
    path: str | Path,
    *,
    image_shape: tuple[int, int] | None = None,
    n_cols: int = 5,
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

    Returns
    -------
    The path written.
    """
    images = np.asarray(images)
    n = len(images)
    if image_shape is None:
        side = round(float(np.sqrt(images.shape[1])))
        image_shape = (side, side)
    n_rows = max(1, -(-n // n_cols))
    fig, axes = _figure(n_cols, n_rows)
    for ax in axes.ravel():
        ax.set_axis_off()
    for ax, image, label, pred in zip(axes.ravel(), images, labels, predictions, strict=False):
        ax.imshow(image.reshape(image_shape), cmap="gray_r", interpolation="nearest")
        ax.set_title(f"label: {label}\npred: {pred}", fontsize=9,
                     color="black" if label == pred else "red")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    return path
