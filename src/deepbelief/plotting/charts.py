"""Charts with axes: learning curves of a training history and 2-D maps of features."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from deepbelief.plotting.mosaic import as_images, new_figure, save_figure

__all__ = ["plot_embedding", "plot_learning_curves"]


#: How the panels name the phases of a history (other keys are shown as they are).
PHASE_NAMES = {"pretrain": "pretraining", "finetune": "fine-tuning",
               "updown": "up-down fine-tuning"}


def _phases(history) -> list[tuple[str, list[list[dict]]]]:
    """``[(phase name, [records of each layer or of the whole phase]), ...]``: every phase
    of a history or a model, in its order (pretraining, fine-tuning, up-down, ...). A list
    of lists of records (a ``SequenceCRBM``'s layers, trained as a DBN's are pretrained)
    is drawn as its history file holds it: ``{"pretrain": [...]}``."""
    history = getattr(history, "history_", history)
    if _is_sequence(history) and history and all(_is_sequence(r) for r in history):
        history = {"pretrain": history}
    if isinstance(history, Mapping):
        phases = []
        for key, records in history.items():
            records = list(records or [])
            stacked = bool(records) and all(_is_sequence(r) for r in records)
            phases.append((PHASE_NAMES.get(key, str(key)), records if stacked else [records]))
        return phases
    if _is_sequence(history):
        return [("training", [list(history)])]
    raise ValueError("history must be a fitted model, its history_, or a list of "
                     f"per-epoch records; got {type(history).__name__}.")


def _is_sequence(value) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def _series(history) -> dict[str, list[tuple[str, list, list]]]:
    """``{panel title: [(line label, epochs, values), ...]}`` from a history or a model."""
    panels: dict[str, list] = {}
    for phase, layers in _phases(history):
        for i, records in enumerate(layers):
            keys = [k for r in records for k in r if k not in ("epoch", "time")]
            for key in dict.fromkeys(keys):
                points = [(r["epoch"], r[key]) for r in records if key in r]
                label = f"layer {i + 1}" if len(layers) > 1 else phase
                title = f"{phase}: {key.replace('_', ' ')}"
                panels.setdefault(title, []).append(
                    (label, [p[0] for p in points], [p[1] for p in points]))
    return panels


def plot_learning_curves(
    history,
    path: str | Path,
    *,
    title: str | None = None,
    n_cols: int = 3,
) -> Path:
    """Draw every per-epoch metric of a training history, one panel per metric and phase.

    Every phase of the history gets its panels (pretraining, fine-tuning, a generative
    DBN's up-down fine-tuning, ...); pretraining metrics get one line per layer.

    Parameters
    ----------
    history : fitted estimator, dict or list
        A model with ``history_``, or a ``history_`` itself (a DBN's ``{"pretrain": [...],
        "finetune": [...]}``, an RBM's list of records, or a ``SequenceCRBM``'s list of
        them per layer, drawn as pretraining), e.g. read from the JSON file that
        ``deepbelief train`` writes.
    path : str or Path
    title : str, optional
        Default: ``'training history: pretraining, fine-tuning'`` (its phases; '' for none).
    n_cols : int, default 3
        Panels per row.

    Returns
    -------
    Path

    Examples
    --------
    >>> import tempfile, pathlib
    >>> history = {"pretrain": [[{"epoch": 1, "reconstruction_error": 9.0},
    ...                          {"epoch": 2, "reconstruction_error": 6.5}]],
    ...            "finetune": [{"epoch": 1, "loss": 0.9}, {"epoch": 2, "loss": 0.4}]}
    >>> plot_learning_curves(history, pathlib.Path(tempfile.mkdtemp()) / "c.png").name
    'c.png'
    """
    panels = _series(history)
    if not panels:
        raise ValueError("the history holds no per-epoch metrics to draw (no epochs trained).")
    if title is None:
        phases = dict.fromkeys(name.split(":")[0] for name in panels)
        title = f"training history: {', '.join(phases)}"
    n = len(panels)
    cols = max(1, min(n_cols, n))
    rows = -(-n // cols)
    fig = new_figure(3.6 * cols, 2.7 * rows + (0.3 if title else 0))
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.set_axis_off()
    for ax, (name, lines) in zip(axes.ravel(), panels.items(), strict=False):
        for label, epochs, values in lines:
            ax.plot(epochs, values, marker="o" if len(epochs) < 15 else None, markersize=3,
                    label=label)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("epoch", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        if len(lines) > 1:
            ax.legend(fontsize=7)
        if all(len(e) <= 20 for _, e, _ in lines):
            from matplotlib.ticker import MaxNLocator

            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_embedding(
    features,
    labels,
    path: str | Path,
    *,
    method: str = "pca",
    title: str | None = None,
    random_state: int = 0,
    feature_name: str = "feature",
) -> Path:
    """Draw a 2-D map of features (e.g. ``DBNTransformer.transform``), coloured by label.

    Parameters
    ----------
    features : array-like of shape (n_samples, n_features)
        Two columns are drawn as they are; more are reduced to two by ``method``.
    labels : array-like of shape (n_samples,) or None
        Class of each point (colours and legend), or a real-valued target (a regressor's:
        a colour scale with a colorbar); None draws one colour.
    path : str or Path
    method : {'pca', 'tsne'}, default 'pca'
        scikit-learn's PCA, or t-SNE (slower, keeps neighbourhoods).
    title : str, optional
        Default: ``'2-D map of the features (PCA)'`` ('' for none).
    random_state : int, default 0
        Seeds t-SNE.
    feature_name : str, default 'feature'
        What the axes of two columns drawn as they are name them (``'code'``: the axes
        read 'code 1' and 'code 2').

    Returns
    -------
    Path

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from deepbelief.datasets import load_digits
    >>> X, y = load_digits()
    >>> plot_embedding(X, y, pathlib.Path(tempfile.mkdtemp()) / "map.png").name
    'map.png'
    """
    features = as_images(features, "features")
    if method not in ("pca", "tsne"):
        raise ValueError(f"method must be 'pca' or 'tsne', got {method!r}.")
    if features.shape[1] == 1:
        features = np.hstack([features, np.zeros_like(features)])
    axis_names = (f"{feature_name} 1", f"{feature_name} 2")
    if features.shape[1] > 2:
        if method == "pca":
            from sklearn.decomposition import PCA

            points = PCA(n_components=2).fit_transform(features)
            axis_names = ("principal component 1", "principal component 2")
        else:
            from sklearn.manifold import TSNE

            perplexity = min(30.0, max(2.0, (len(features) - 1) / 3))
            points = TSNE(n_components=2, init="pca", perplexity=perplexity,
                          random_state=random_state).fit_transform(features)
            axis_names = ("t-SNE 1", "t-SNE 2")
    else:
        points = features
    fig = new_figure(5.6, 4.6)
    ax = fig.subplots()
    labels = None if labels is None else np.asarray(labels)
    if labels is not None and len(labels) != len(points):
        raise ValueError(f"{len(labels)} labels for {len(points)} points.")
    if labels is None:
        ax.scatter(points[:, 0], points[:, 1], s=6, alpha=0.7)
    elif _continuous(labels):
        drawn = ax.scatter(points[:, 0], points[:, 1], s=6, alpha=0.7,
                           c=labels.astype(np.float64).ravel(), cmap="viridis")
        fig.colorbar(drawn, ax=ax, label="target")
    else:
        classes = np.unique(labels)
        from matplotlib import colormaps

        colours = colormaps["tab10" if len(classes) <= 10 else "tab20"]
        for i, cls in enumerate(classes):
            chosen = labels == cls
            ax.scatter(points[chosen, 0], points[chosen, 1], s=6, alpha=0.7,
                       color=colours(i % colours.N), label=str(cls))
        if len(classes) <= 20:
            ax.legend(fontsize=7, markerscale=2, loc="center left", bbox_to_anchor=(1, 0.5),
                      frameon=False)
    ax.set_xlabel(axis_names[0], fontsize=8)
    ax.set_ylabel(axis_names[1], fontsize=8)
    ax.tick_params(labelsize=7)
    if title is None:
        title = f"2-D map of the features ({method.upper() if method == 'pca' else 't-SNE'})"
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def _continuous(labels: np.ndarray) -> bool:
    """True for a real-valued target (not classes): floats that are not all whole numbers,
    or more than 20 distinct numbers."""
    if labels.dtype.kind not in "iuf":
        return False
    values = labels.astype(np.float64).ravel()
    whole = bool(np.all(np.isfinite(values)) and np.all(values == np.round(values)))
    return (labels.dtype.kind == "f" and not whole) or len(np.unique(values)) > 20
