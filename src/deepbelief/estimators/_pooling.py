"""Features per frame pooled over time into one row per sequence (for classifying sequences)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: The pooling statistics by name, each computed per feature over a sequence's frames.
POOLS: tuple[str, ...] = ("mean_std", "mean_std_change")


def pool_over_time(features: Sequence[np.ndarray], pool: str) -> np.ndarray:
    """One row per sequence: statistics over time of its features, feature by feature.

    'mean_std' gives the mean and the standard deviation over the frames; 'mean_std_change'
    adds the mean absolute change from one frame to the next, a measure of how fast the
    features move (the dynamics a classifier of, e.g., slow and fast motion needs).

    Parameters
    ----------
    features : sequence of arrays (T_i, F)
        Features per frame of each sequence; at least 2 frames each for 'mean_std_change'.
    pool : {'mean_std', 'mean_std_change'}
        The statistics.

    Returns
    -------
    ndarray (n_sequences, 2 * F) for 'mean_std', (n_sequences, 3 * F) for
    'mean_std_change', in that order of statistics.

    Raises
    ------
    ValueError
        If ``pool`` is not one of :data:`POOLS`, or a sequence is too short for it.

    Examples
    --------
    >>> import numpy as np
    >>> pool_over_time([np.array([[0.0], [2.0], [1.0]])], "mean_std_change")
    array([[1.        , 0.81649658, 1.5       ]])
    """
    if pool not in POOLS:
        raise ValueError(f"pool must be None or one of {POOLS}, got {pool!r}.")
    minimum = 2 if pool == "mean_std_change" else 1
    if any(len(f) < minimum for f in features):
        raise ValueError(f"pool={pool!r} needs at least {minimum} frames of features per "
                         "sequence: pass longer sequences.")

    def row(f: np.ndarray) -> np.ndarray:
        stats = [f.mean(0), f.std(0)]
        if pool == "mean_std_change":
            stats.append(np.abs(np.diff(f, axis=0)).mean(0))
        return np.concatenate(stats)
    return np.stack([row(np.asarray(f)) for f in features])
