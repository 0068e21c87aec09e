"""The checks of training data larger than memory: one pass, chunk by chunk.

What is checked, and when (the in-memory checks, without loading the data):

- when ``fit`` starts, before any training: the shape (2-D, at least one row and one
  column; the number of features against ``n_features_in_`` in ``partial_fit``), the dtype
  (real, integer or boolean), then one pass over all rows in chunks of at most
  :data:`CHECK_VALUES` values: no NaN or infinity, values in the visible units' range (values within
  float rounding outside it are clipped as each batch is read, as in-memory data is
  clipped), and the per-feature moments, for the scale warning of Gaussian units (and
  ``DBNAutoencoder``'s standardisation);
- a stream (a re-iterable of batches) is read through once for those checks, and each batch
  is checked again as training reads it, since the next pass may yield other values
  (random augmentations): a bad batch stops training with the same message;
- the labels of a supervised estimator are checked in memory as usual (they are small).
"""

from __future__ import annotations

import os
import tempfile
import weakref
from typing import Any

import numpy as np
import torch
from sklearn.utils.validation import _check_y, check_consistent_length

from deepbelief.core.units import DOMAIN_TOLERANCE, UnitType, unit_type
from deepbelief.estimators._input import NO_Y, _warn
from deepbelief.estimators._large_input import LargeInput, Moments, large_kind, open_path
from deepbelief.exceptions import DataScaleWarning
from deepbelief.training.file_rows import FileRows
from deepbelief.training.iterable_source import batch_rows, one_shot_error
from deepbelief.training.lazy_stack import cache_directory
from deepbelief.training.sources import release_pages

__all__ = ["CHECK_VALUES", "check_large_X"]

#: Values per chunk of the checking pass over an array-like input (8 MiB in float64).
CHECK_VALUES = 2**20

_FILE_RESCALE = (
    "For a file larger than memory, fit the scaler chunk by chunk (scaler.partial_fit on "
    "slices X[i:i + 10000]) and write scaler.transform of each slice into a new file made by "
    "numpy.lib.format.open_memmap(path, mode='w+', dtype='float32', shape=X.shape); then "
    "pass that path.")
_STREAM_RESCALE = "For batches from an iterable, scale them where they are made (e.g. in the "\
    "DataLoader's dataset)."


class _RowCheck:
    """Checks one chunk or batch of rows: finite, and in the visible units' range."""

    def __init__(self, unit: UnitType | None, dtype: np.dtype, stream: bool) -> None:
        self.unit, self.dtype, self.stream = unit, dtype, stream
        self.outside = False  # some values lie within float rounding outside the range

    def __call__(self, rows: np.ndarray, first: int) -> None:
        values = np.asarray(rows).astype(self.dtype, copy=False)
        if values.dtype.kind == "f" and not np.isfinite(values).all():
            row, column = np.argwhere(~np.isfinite(values))[0]
            raise ValueError(
                f"X holds NaN or infinity (the first in row {first + row}, column {column}): "
                "replace or drop those values first (e.g. numpy.nan_to_num, or an imputer "
                "fitted on a sample), "
                + ("in the batches the iterable yields." if self.stream else
                   "writing the cleaned chunks to a new .npy file "
                   "(numpy.lib.format.open_memmap(path, mode='w+', dtype='float32', "
                   "shape=X.shape), filled chunk by chunk)."))
        if self.unit is None or not values.size:
            return
        tensor = torch.from_numpy(np.array(values, copy=not values.flags.writeable))
        if self.unit.check_domain(tensor) is None:
            return
        message = self.unit.check_domain(tensor, tolerance=DOMAIN_TOLERANCE)
        if message:
            raise ValueError(
                f"X does not fit the visible units: {message} ({self._where(values, first)})"
                f". {self.unit.rescale_advice} "
                + (_STREAM_RESCALE if self.stream else _FILE_RESCALE))
        self.outside = True

    def _where(self, values: np.ndarray, first: int) -> str:
        """The first rows holding values outside the units' bounds, else the chunk."""
        bounds = _bounds(self.unit)
        if bounds is not None and values.ndim == 2:
            lo, hi = bounds
            bad = np.zeros(len(values), dtype=bool)
            if lo is not None:
                bad |= (values < lo - DOMAIN_TOLERANCE).any(1)
            if hi is not None:
                bad |= (values > hi + DOMAIN_TOLERANCE).any(1)
            rows = np.flatnonzero(bad)
            if rows.size:
                shown = ", ".join(str(first + r) for r in rows[:5])
                return f"in rows {shown}" + (f" and {rows.size - 5} more" if rows.size > 5
                                             else "")
        return f"in rows {first} to {first + len(values) - 1}"


def _bounds(unit: UnitType | None) -> tuple | None:
    if unit is None:
        return None
    lo, hi = (b if np.isfinite(b) else None for b in unit.bounds)
    return None if lo is None and hi is None else (lo, hi)


def _validated_dtype(dtype: np.dtype, what: str) -> np.dtype:
    """float64 stays, other real, integer and boolean dtypes become float32."""
    if np.dtype(dtype).kind not in "fbiu":
        raise TypeError(f"{what} has dtype {dtype}; training needs real, integer or boolean "
                        "values.")
    return np.dtype(np.float64 if np.dtype(dtype) == np.float64 else np.float32)


def _scan_array(array: Any, check: _RowCheck, moments: Moments) -> None:
    step = max(1, CHECK_VALUES // max(array.shape[1], 1))
    file = FileRows.of(array)  # a memmap: read without mapping its pages
    for lo in range(0, array.shape[0], step):
        rows = (np.asarray(array[lo : lo + step]) if file is None
                else file.read(slice(lo, lo + step)))
        check(rows, lo)
        moments.add(rows)
        release_pages(array)


def _array_input(array: Any, unit: UnitType | None) -> LargeInput:
    if len(array.shape) != 2:
        raise ValueError(f"Expected a 2-D array (rows by features), got shape "
                         f"{tuple(array.shape)}; reshape it without loading it: "
                         "X.reshape(len(X), -1) for a memmap.")
    dtype = _validated_dtype(array.dtype, "X")
    if not array.shape[0] or not array.shape[1]:
        raise ValueError(f"Found array with shape {tuple(array.shape)}: at least one row and "
                         "one feature are required.")
    check, moments = _RowCheck(unit, dtype, stream=False), Moments()
    _scan_array(array, check, moments)
    bounds = _bounds(unit) if check.outside else None
    return LargeInput(array, tuple(array.shape), dtype, bounds=bounds, moments=moments)


class _Spool:
    """Rows written once to a temporary file, read back memory-mapped."""

    def __init__(self) -> None:
        handle, self.path = tempfile.mkstemp(suffix=".bin", prefix="deepbelief-spool-",
                                             dir=cache_directory())
        self.file = os.fdopen(handle, "wb")

    def write(self, rows: np.ndarray, dtype: np.dtype) -> None:
        self.file.write(np.ascontiguousarray(rows, dtype=dtype).tobytes())

    def open(self, shape: tuple[int, int], dtype: np.dtype) -> np.memmap:
        self.file.close()
        array = np.memmap(self.path, dtype=dtype, mode="r", shape=shape)
        weakref.finalize(array, _remove, self.path)  # deleted with the array
        return array

    def discard(self) -> None:
        self.file.close()
        _remove(self.path)


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


def _stream_input(iterable: Any, unit: UnitType | None, spool: bool) -> LargeInput:
    """One pass over a re-iterable: checked, counted, its labels kept, and (``spool``) its
    rows written to a temporary file read back memory-mapped."""
    if iter(iterable) is iterable:
        raise one_shot_error(iterable)
    moments, labels = Moments(), []
    check, width, dtype = None, None, None
    writer = _Spool() if spool else None
    try:
        for item in iterable:
            rows = batch_rows(item)
            if width is None:
                width, dtype = rows.shape[1], _validated_dtype(rows.dtype, "A batch")
                check = _RowCheck(unit, dtype, stream=True)
            elif rows.shape[1] != width:
                raise ValueError(f"A batch has {rows.shape[1]} features but the first had "
                                 f"{width}: every batch needs the same columns.")
            check(rows, moments.n)
            moments.add(rows)
            if isinstance(item, (tuple, list)) and len(item) > 1:
                y = item[1]
                labels.append(y.detach().cpu().numpy() if isinstance(y, torch.Tensor)
                              else np.asarray(y))
            if writer is not None:
                writer.write(rows, dtype)
    except BaseException:
        if writer is not None:
            writer.discard()
        raise
    if not moments.n or not width:
        if writer is not None:
            writer.discard()
        raise ValueError("X yielded no rows: the iterable is empty.")
    shape = (moments.n, width)
    y = np.concatenate(labels) if labels else None
    if writer is not None:
        return LargeInput(writer.open(shape, dtype), shape, dtype, moments=moments, y=y,
                          bounds=_bounds(unit) if check.outside else None)
    return LargeInput(iterable, shape, dtype, stream=True, moments=moments, y=y,
                      bounds=_bounds(unit), check=_RowCheck(unit, dtype, stream=True))


def _check_features(estimator, n_features: int, reset: bool) -> None:
    """``n_features_in_`` set (``reset``) or checked, as scikit-learn's validation does."""
    if reset:
        estimator.n_features_in_ = n_features
        if hasattr(estimator, "feature_names_in_"):
            del estimator.feature_names_in_
        return
    expected = getattr(estimator, "n_features_in_", None)
    if expected is not None and expected != n_features:
        raise ValueError(f"X has {n_features} features, but {type(estimator).__name__} is "
                         f"expecting {expected} features as input.")


def _warn_scale(unit: UnitType, data: LargeInput) -> None:
    mean = torch.from_numpy(data.moments.mean)
    std = torch.from_numpy(np.sqrt(data.moments.var))
    message = unit.check_scale(mean, std, data.shape[0])
    if message:
        advice = (_STREAM_RESCALE if data.stream else
                  "For a file larger than memory, fit a StandardScaler chunk by chunk "
                  "(partial_fit on slices) and write its transform of each slice to a new "
                  ".npy file (numpy.lib.format.open_memmap), then pass that path.")
        _warn(DataScaleWarning(f"{message}. Standardize it first: on data of another scale "
                               f"training fails or degrades. {advice}"))


def check_large_X(estimator, X, *, reset: bool, units: str | None = None, y=NO_Y,
                  stream: bool = False, multi_output: bool = False, y_numeric: bool = False,
                  **_):
    """Check training data larger than memory (:func:`large_kind` is not None) in one pass,
    chunk by chunk; the large-data branch of
    :func:`~deepbelief.estimators._input.check_X` (``usage='fit'``).

    Returns a :class:`~deepbelief.estimators._large_input.LargeInput`, or ``(X, y)`` when
    ``y`` is given (a supervised fit): ``y`` validated as scikit-learn validates it; when
    ``y`` is None, the labels that came with a stream's batches.

    Parameters
    ----------
    estimator, reset, units, y, multi_output, y_numeric :
        As :func:`~deepbelief.estimators._input.check_X` takes them.
    stream : bool, default False
        The estimator streams a re-iterable once per epoch (``RBM``, ``DBNTransformer``);
        else its rows are written once to a temporary memory-mapped file.

    Raises
    ------
    TypeError
        One-shot iterators, dtypes that are not numbers.
    ValueError
        Shapes, NaN or infinity, values outside the visible units' range, labels, each
        with what to do.
    """
    unit = None if units is None else unit_type(units)
    kind = large_kind(X)
    if kind == "stream":
        data = _stream_input(X, unit, spool=not stream)
    else:
        data = _array_input(open_path(X) if kind == "path" else X, unit)
    _check_features(estimator, data.shape[1], reset)
    if unit is not None and unit.scale_sensitive:
        _warn_scale(unit, data)
    if y is NO_Y:
        return data
    if y is None:
        y = data.y
    if y is None:
        raise ValueError(f"{type(estimator).__name__} requires y to be passed, but the target "
                         "y is None: pass y, or batches of (x, y).")
    y = _check_y(y, multi_output=multi_output, y_numeric=y_numeric, estimator=estimator)
    check_consistent_length(np.empty((data.shape[0], 0)), y)
    return data, y
