"""Pictures of topic models: the words of each hidden unit."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from deepbelief.plotting.mosaic import new_figure, save_figure

__all__ = ["plot_top_words"]


def plot_top_words(components, vocabulary: Sequence[str], path: str | Path, *,
                   n_words: int = 8, n_units: int = 20, n_cols: int = 4,
                   title: str | None = None) -> Path:
    """Draw the words of largest weight of each hidden unit (its topic), as bar charts.

    Parameters
    ----------
    components : array-like of shape (n_units, n_words_in_vocabulary)
        One row of word weights per hidden unit (a topic model's ``components_``).
    vocabulary : sequence of str
        The word of each column.
    path : str or Path
    n_words : int, default 8
        Words per unit.
    n_units : int, default 20
        Units drawn: those whose top words weigh most.
    n_cols : int, default 4
    title : str, optional
        Default: ``'top words of the hidden units'``.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ValueError
        If ``vocabulary`` does not have one word per column.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> w = np.array([[3.0, 0.0, 1.0], [0.0, 2.0, 0.5]])
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "topics.png"
    >>> plot_top_words(w, ["sun", "rain", "wind"], out, n_words=2).name
    'topics.png'
    """
    weights = np.asarray(components, dtype=np.float64)
    if weights.ndim != 2 or weights.shape[1] != len(vocabulary):
        raise ValueError(f"vocabulary has {len(vocabulary)} words but components has shape "
                         f"{weights.shape}: give one word per column.")
    n_words = min(n_words, weights.shape[1])
    order = np.argsort(-weights, axis=1)[:, :n_words]
    top = np.take_along_axis(weights, order, axis=1)
    units = np.argsort(-top.sum(1), kind="stable")[:n_units]
    n_cols = max(1, min(n_cols, len(units)))
    n_rows = -(-len(units) // n_cols)
    fig = new_figure(3.2 * n_cols, 0.28 * n_words * n_rows + 0.6 * n_rows + 0.6)
    for i, unit in enumerate(units):
        ax = fig.add_subplot(n_rows, n_cols, i + 1)
        ax.barh(np.arange(n_words), top[unit], color="tab:blue")
        ax.set_yticks(np.arange(n_words), [str(vocabulary[j]) for j in order[unit]],
                      fontsize=8)
        ax.invert_yaxis()
        ax.set_title(f"unit {unit}", fontsize=9)
        ax.tick_params(axis="x", labelsize=7)
    fig.suptitle("top words of the hidden units" if title is None else title)
    fig.tight_layout()
    return save_figure(fig, path)
