"""Pictures of models and training, written as PNG files; headless (no display needed)."""

from deepbelief.plotting._plotting import (
    plot_class_samples,
    plot_completions,
    plot_embedding,
    plot_filters,
    plot_images,
    plot_learning_curves,
    plot_predictions,
    plot_reconstructions,
    tile_images,
)

__all__ = [
    "plot_class_samples",
    "plot_completions",
    "plot_embedding",
    "plot_filters",
    "plot_images",
    "plot_learning_curves",
    "plot_predictions",
    "plot_reconstructions",
    "tile_images",
]
