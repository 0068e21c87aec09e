"""Pictures of models and training, written as PNG files; headless (no display needed).

Every function draws on its own :class:`matplotlib.figure.Figure` (never pyplot's global
state), writes the file (creating its folder) and returns its path. Images are given
flattened, one per row, as the estimators take them; square images need no shape.

=============================  ================================================================
function                       draws
=============================  ================================================================
:func:`plot_filters`           receptive fields of first-layer hidden units, as image tiles
:func:`plot_images`            a grid of images (e.g. samples from a model)
:func:`plot_reconstructions`   originals above their reconstructions
:func:`plot_completions`       originals, the known part, and the model's completion
:func:`plot_predictions`       images titled with label and prediction (red when wrong)
:func:`plot_learning_curves`   per-epoch metrics of ``history_``, one panel per metric
:func:`plot_embedding`         a 2-D map (PCA or t-SNE) of features, coloured by label
=============================  ================================================================

:func:`plot_reconstruction_comparison` draws originals above the reconstructions of several
models (a deep autoencoder's and PCA's, say), each row labelled with its model.

Sequences (:mod:`.sequences`): :func:`plot_frame_strips` draws videos as labelled film strips,
:func:`plot_joint_angles` channels over time (generated beside real), :func:`save_gif` an
animated GIF, and :func:`plot_superresolution` low-resolution inputs, estimates and truth.

Examples
--------
>>> import tempfile, pathlib
>>> from deepbelief import RBM
>>> from deepbelief.datasets import load_digits
>>> from deepbelief.plotting import plot_filters
>>> X, _ = load_digits()
>>> rbm = RBM(n_components=16, n_iter=2, device="cpu", random_state=0).fit(X)
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> plot_filters(rbm, folder / "filters.png").name
'filters.png'
"""

from deepbelief.plotting.charts import plot_embedding, plot_learning_curves
from deepbelief.plotting.comparison import plot_reconstruction_comparison
from deepbelief.plotting.images import (
    plot_class_samples,
    plot_completions,
    plot_filters,
    plot_images,
    plot_predictions,
    plot_reconstructions,
)
from deepbelief.plotting.mosaic import tile_images
from deepbelief.plotting.sequences import (
    plot_frame_strips,
    plot_joint_angles,
    plot_superresolution,
    save_gif,
)

__all__ = [
    "plot_class_samples",
    "plot_completions",
    "plot_embedding",
    "plot_filters",
    "plot_frame_strips",
    "plot_images",
    "plot_joint_angles",
    "plot_learning_curves",
    "plot_predictions",
    "plot_reconstruction_comparison",
    "plot_reconstructions",
    "plot_superresolution",
    "save_gif",
    "tile_images",
]
