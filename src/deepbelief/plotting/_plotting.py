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

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

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

_DPI = 100
_TARGET_PIXELS = 560  # about the width of a mosaic picture
_PAD_RGB = (1.0, 1.0, 1.0)
_HIDDEN_RGB = (0.62, 0.79, 0.88)  # unknown pixels in plot_completions


# -- helpers -----------------------------------------------------------------------------------
def _new_figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=_DPI)


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=_DPI, metadata={"Software": None})
    return path


def _as_images(images, name: str = "images") -> np.ndarray:
    array = np.asarray(images, dtype=np.float64)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2 or array.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty 2-D array (n_images, n_pixels), got "
                         f"shape {array.shape}.")
    return array


def _shape_of(n_pixels: int, image_shape: Sequence[int] | None) -> tuple[int, int]:
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
    images = _as_images(images)
    height, width = _shape_of(images.shape[1], image_shape)
    rows, cols = _grid(len(images), n_cols)
    mosaic = np.full((rows * (height + pad) + pad, cols * (width + pad) + pad), pad_value,
                     dtype=np.float64)
    for i, image in enumerate(images):
        r, c = divmod(i, cols)
        top, left = pad + r * (height + pad), pad + c * (width + pad)
        mosaic[top : top + height, left : left + width] = image.reshape(height, width)
    return mosaic


def _show_rgb(rgb: np.ndarray, path, title: str | None,
              row_labels: Sequence[tuple[float, str]] = ()) -> Path:
    """Draw an RGB mosaic at an integer zoom, with an optional title and row labels."""
    height, width = rgb.shape[:2]
    zoom = max(1, min(8, round(_TARGET_PIXELS / max(height, width))))
    label_in = 1.1 if row_labels else 0.0
    title_in = 0.35 if title else 0.0
    w_in, h_in = width * zoom / _DPI, height * zoom / _DPI
    needed = w_in + label_in + 0.1
    W = max(needed, 0.08 * len(title or "") + 0.3)  # room for the title
    H = h_in + title_in + 0.1
    fig = _new_figure(W, H)
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
    return _save(fig, path)


def _mosaic_rgb(images: np.ndarray, shape, n_cols, cmap, vmin, vmax,
                hidden: np.ndarray | None = None) -> np.ndarray:
    """Tiles as RGB: padding white, ``hidden`` pixels (a bool mask like ``images``) blue."""
    mosaic = tile_images(images, shape, n_cols)
    rgb = _rgb(np.nan_to_num(mosaic), cmap, vmin, vmax)
    rgb[np.isnan(mosaic)] = _PAD_RGB
    if hidden is not None:
        flags = tile_images(hidden.astype(np.float64), shape, n_cols, pad_value=0.0) > 0.5
        rgb[flags] = _HIDDEN_RGB
    return rgb


def _data_range(*arrays: np.ndarray) -> tuple[float, float]:
    """[0, 1] for data in it (so that faint images stay faint), else the data's range."""
    low = min(float(np.nanmin(a)) for a in arrays)
    high = max(float(np.nanmax(a)) for a in arrays)
    if low >= 0.0 and high <= 1.0:
        return 0.0, 1.0
    return low, high


# -- images ------------------------------------------------------------------------------------
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
    images = _as_images(images)
    shape = _shape_of(images.shape[1], image_shape)
    vmin, vmax = _data_range(images)
    return _show_rgb(_mosaic_rgb(images, shape, n_cols, cmap, vmin, vmax), path, title)


def _first_layer_weights(model) -> np.ndarray:
    """(n_units, n_inputs) weights of a fitted RBM or DBN estimator, or an array as is."""
    if hasattr(model, "rbms_"):
        return model.rbms_[0].weight.detach().cpu().numpy().T
    if hasattr(model, "rbm_"):
        return model.rbm_.weight.detach().cpu().numpy().T
    if hasattr(model, "weight") and hasattr(model, "n_hidden"):  # an RBMModule
        return model.weight.detach().cpu().numpy().T
    return _as_images(model, "weights")


def plot_filters(
    weights,
    path: str | Path,
    *,
    image_shape: Sequence[int] | None = None,
    n_units: int = 100,
    n_cols: int | None = None,
    title: str | None = "receptive fields of the first hidden layer",
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

    Returns
    -------
    Path
    """
    weights = _first_layer_weights(weights)[: max(1, int(n_units))]
    shape = _shape_of(weights.shape[1], image_shape)
    scale = np.abs(weights).max(axis=1, keepdims=True)
    scaled = weights / np.where(scale > 0, scale, 1.0)
    rgb = _mosaic_rgb(scaled, shape, n_cols, "gray_r", -1.0, 1.0)
    return _show_rgb(rgb, path, title)


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
            rgb = _mosaic_rgb(group[lo : lo + cols], shape, cols, cmap, vmin, vmax, part_mask)
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

    Returns
    -------
    Path
    """
    originals = _as_images(originals, "originals")
    reconstructions = _as_images(reconstructions, "reconstructions")
    if originals.shape != reconstructions.shape:
        raise ValueError(f"originals {originals.shape} and reconstructions "
                         f"{reconstructions.shape} differ in shape.")
    shape = _shape_of(originals.shape[1], image_shape)
    vmin, vmax = _data_range(originals, reconstructions)
    rgb, labels = _paired_rows([originals, reconstructions], shape, n_cols, "gray_r", vmin,
                               vmax, ["original", "reconstruction"], [None, None])
    return _show_rgb(rgb, path, title, labels)


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

    Returns
    -------
    Path
    """
    originals = _as_images(originals, "originals")
    completions = _as_images(completions, "completions")
    known = np.broadcast_to(np.asarray(masks, dtype=bool), originals.shape)
    shape = _shape_of(originals.shape[1], image_shape)
    vmin, vmax = _data_range(originals, completions)
    rgb, labels = _paired_rows(
        [originals, originals, completions], shape, n_cols, "gray_r", vmin, vmax,
        ["original", "shown", "completed"], [None, ~known, None])
    return _show_rgb(rgb, path, title, labels)


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
    samples = _as_images(samples, "samples")
    labels = np.asarray(labels)
    if labels.shape != (len(samples),):
        raise ValueError(f"labels must hold one class per sample ({len(samples)}), got shape "
                         f"{labels.shape}.")
    shape = _shape_of(samples.shape[1], image_shape)
    classes = np.unique(labels)
    width = max(int((labels == c).sum()) for c in classes)
    groups = []
    for c in classes:  # rows of equal length: NaN tiles are drawn as padding
        row = np.full((width, samples.shape[1]), np.nan)
        members = samples[labels == c]
        row[: len(members)] = members
        groups.append(row)
    vmin, vmax = _data_range(samples)
    rgb, row_labels = _paired_rows(groups, shape, width, cmap, vmin, vmax,
                                   [str(c) for c in classes], [None] * len(classes))
    return _show_rgb(rgb, path, title, row_labels)


def plot_predictions(
    images,
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
    images = _as_images(images)
    shape = _shape_of(images.shape[1], image_shape)
    n = len(images)
    n_cols = max(1, min(n_cols, n))
    n_rows = -(-n // n_cols)
    fig = _new_figure(n_cols * 1.3, n_rows * 1.85)
    axes = fig.subplots(n_rows, n_cols, squeeze=False)
    for ax in axes.ravel():
        ax.set_axis_off()
    vmin, vmax = _data_range(images)
    for ax, image, label, pred in zip(axes.ravel(), images, labels, predictions, strict=False):
        ax.imshow(image.reshape(shape), cmap="gray_r", interpolation="nearest", vmin=vmin,
                  vmax=vmax)
        ax.set_title(f"label: {label}\npred: {pred}", fontsize=9,
                     color="black" if label == pred else "red")
    fig.tight_layout()
    return _save(fig, path)


# -- curves and maps ---------------------------------------------------------------------------
def _series(history) -> dict[str, list[tuple[str, list, list]]]:
    """``{panel title: [(line label, epochs, values), ...]}`` from a history or a model."""
    history = getattr(history, "history_", history)
    if isinstance(history, Mapping):
        phases = [("pretraining", history.get("pretrain") or []),
                  ("fine-tuning", [history.get("finetune") or []])]
    elif isinstance(history, Sequence):
        phases = [("training", [history])]
    else:
        raise ValueError("history must be a fitted model, its history_, or a list of "
                         f"per-epoch records; got {type(history).__name__}.")
    panels: dict[str, list] = {}
    for phase, layers in phases:
        for i, records in enumerate(layers):
            keys = [k for r in records for k in r if k not in ("epoch", "time")]
            for key in dict.fromkeys(keys):
                points = [(r["epoch"], r[key]) for r in records if key in r]
                label = f"layer {i + 1}" if phase == "pretraining" else phase
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
    """Draw every per-epoch metric of a training history, one panel per metric.

    Pretraining metrics get one line per layer; fine-tuning metrics one line.

    Parameters
    ----------
    history : fitted estimator, dict or list
        A model with ``history_``, or a ``history_`` itself (a DBN's ``{"pretrain": [...],
        "finetune": [...]}`` or an RBM's list of records), e.g. read from the JSON file
        that ``deepbelief train`` writes.
    path : str or Path
    title : str, optional
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
    n = len(panels)
    cols = max(1, min(n_cols, n))
    rows = -(-n // cols)
    fig = _new_figure(3.6 * cols, 2.7 * rows + (0.3 if title else 0))
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
    return _save(fig, path)


def plot_embedding(
    features,
    labels,
    path: str | Path,
    *,
    method: str = "pca",
    title: str | None = None,
    random_state: int = 0,
) -> Path:
    """Draw a 2-D map of features (e.g. ``DBNTransformer.transform``), coloured by label.

    Parameters
    ----------
    features : array-like of shape (n_samples, n_features)
        Two columns are drawn as they are; more are reduced to two by ``method``.
    labels : array-like of shape (n_samples,) or None
        Class of each point (colours and legend); None draws one colour.
    path : str or Path
    method : {'pca', 'tsne'}, default 'pca'
        scikit-learn's PCA, or t-SNE (slower, keeps neighbourhoods).
    title : str, optional
    random_state : int, default 0
        Seeds t-SNE.

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
    features = _as_images(features, "features")
    if method not in ("pca", "tsne"):
        raise ValueError(f"method must be 'pca' or 'tsne', got {method!r}.")
    if features.shape[1] == 1:
        features = np.hstack([features, np.zeros_like(features)])
    axis_names = ("feature 1", "feature 2")
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
    fig = _new_figure(5.6, 4.6)
    ax = fig.subplots()
    if labels is None:
        ax.scatter(points[:, 0], points[:, 1], s=6, alpha=0.7)
    else:
        labels = np.asarray(labels)
        if len(labels) != len(points):
            raise ValueError(f"{len(labels)} labels for {len(points)} points.")
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
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, path)
