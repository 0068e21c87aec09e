"""Refusing NaN and infinity in an estimator's input with advice that fits the estimator
(scikit-learn's own message suggests estimators of its own that accept missing values)."""

from __future__ import annotations

import numpy as np

__all__ = ["refuse_non_finite"]


def refuse_non_finite(values, what: str, advice: str, *, rows: str = "row",
                      columns: str = "column") -> None:
    """Raise a ValueError if ``values`` holds NaN or infinity, saying where and what to do.

    Input that is not a numeric array (sparse matrices, object arrays, ragged lists) is left
    to the estimator's other checks.

    Parameters
    ----------
    values : array-like
        The input as given (a list, an array, a DataFrame).
    what : str
        How the message names it, e.g. ``'X'`` or ``'sequence 2'``.
    advice : str
        What to do about it (the message ends with it).
    rows, columns : str, default 'row', 'column'
        The names of its axes in the message (e.g. ``'frame'``, ``'channel'``).

    Raises
    ------
    ValueError
        If ``values`` holds NaN or infinity: which, how many, where the first one is, and
        ``advice``.

    Examples
    --------
    >>> refuse_non_finite([[0.0, float("nan")]], "X", "drop that row.")
    Traceback (most recent call last):
    ...
    ValueError: X holds NaN (1 value, the first in row 0, column 1): drop that row.
    """
    try:
        array = np.asarray(values)
    except (TypeError, ValueError):
        return
    if array.ndim == 0 or array.dtype.kind not in "fc":
        return
    bad = ~np.isfinite(array)
    if not bad.any():
        return
    nan = bool(np.isnan(array).any())
    kinds = ("NaN and infinity" if nan and not np.isnan(array[bad]).all() else
             "NaN" if nan else "infinity")
    first = np.argwhere(bad)[0]
    where = ", ".join(f"{name} {index}" for name, index in zip((rows, columns), first,
                                                               strict=False))
    n = int(bad.sum())
    raise ValueError(f"{what} holds {kinds} ({n} value{'s' if n != 1 else ''}, the first in "
                     f"{where}): {advice}")
