"""Input data of the estimators: validation (:func:`check_X`: shapes, dtypes, the visible
units' range and scale, sparse matrices) and the data as tensors, whole or chunk by chunk."""

from __future__ import annotations

import sys
import warnings

import numpy as np
import scipy.sparse
import torch
from sklearn.utils.sparsefuncs import mean_variance_axis
from sklearn.utils.validation import validate_data

from deepbelief.core.units import DOMAIN_TOLERANCE, UnitType, unit_type
from deepbelief.estimators._large_input import LargeInput, large_kind, subset
from deepbelief.exceptions import DataRangeWarning, DataScaleWarning
from deepbelief.training.lazy_stack import host_source
from deepbelief.training.sources import BatchSource, SparseSource

__all__ = [
    "NO_Y",
    "SPARSE_FORMATS",
    "USAGES",
    "as_input",
    "as_tensor",
    "check_X",
    "labelled_data",
    "n_rows",
    "output_dtype",
    "sparse_matrix",
    "to_numpy",
    "training_data",
]

#: ``check_X(..., y=NO_Y)``: unsupervised validation (``y`` is neither checked nor returned).
NO_Y = object()


#: ``check_X(usage=...)``: what values outside the visible units' range mean (values within
#: :data:`~deepbelief.core.units.DOMAIN_TOLERANCE` of it, float rounding, are always clipped
#: silently):
#:
#: - ``'fit'``: training data (``fit``, ``partial_fit``): a ValueError that names the fix;
#:   a :class:`~deepbelief.exceptions.DataScaleWarning` for data far from the scale the
#:   units model (Gaussian units: standardized data);
#: - ``'forward'``: input of a forward pass (``transform``, ``predict``, ``score``,
#:   ``reconstruct``, ``gibbs``, ``complete``), defined for any real input: clipped to the
#:   units' range, with a :class:`~deepbelief.exceptions.DataRangeWarning`;
#: - ``'likelihood'``: input of a free energy or (pseudo-)likelihood, which is not defined
#:   for values outside the units' states: a ValueError.
USAGES = ("fit", "forward", "likelihood")

#: The sparse formats ``check_X(sparse=True)`` accepts; they come back as CSR.
SPARSE_FORMATS = ("csr", "csc")


def check_X(estimator, X, *, reset: bool, units: str | None = None, y=NO_Y,
            usage: str = "fit", sparse: bool = False, stream: bool = False, **kwargs):
    """``validate_data`` to a float32 or float64 array, then the visible units' domain check.

    float64 input stays float64 (so that outputs can keep the input's dtype), everything
    else becomes float32; models always compute in float32 (see :func:`as_tensor`). Returns
    the array, or ``(X, y)`` when ``y`` is given: a supervised estimator passes its ``y``
    even when it is None, so that sklearn reports the missing target.

    ``units`` names the visible unit type whose range (:meth:`UnitType.check_domain`) ``X``
    must fit, as ``usage`` says (:data:`USAGES`); the returned array is then clipped to it
    (a copy, only when a value lies outside). With ``sparse``, a SciPy CSR or CSC matrix is
    accepted and returned in CSR form (canonical: sorted, no duplicate entries), never
    densified; else sparse input raises sklearn's TypeError.

    Training data larger than memory (``usage='fit'`` with ``sparse``: a memmap, a ``.npy``
    or HDF5 path, an HDF5 dataset, a re-iterable of batches) is checked chunk by chunk and
    comes back as a :class:`~deepbelief.estimators._large_input.LargeInput`; ``stream``: the
    estimator reads a re-iterable once per epoch instead of spooling it to a file (see
    :mod:`deepbelief.estimators._large_checks`).
    """
    if usage not in USAGES:
        raise ValueError(f"usage must be one of {USAGES}, got {usage!r}.")
    if sparse and usage == "fit" and large_kind(X) is not None:
        from deepbelief.estimators._large_checks import check_large_X  # it builds on this

        return check_large_X(estimator, X, reset=reset, units=units, y=y, stream=stream,
                             **kwargs)
    kw = {"dtype": [np.float32, np.float64],
          "accept_sparse": list(SPARSE_FORMATS) if sparse else False, **kwargs}
    if y is NO_Y:
        X = validate_data(estimator, X, reset=reset, **kw)
    else:
        X, y = validate_data(estimator, X, y, reset=reset, **kw)
    if sparse_matrix(X):
        X = _canonical_csr(X)
    elif X.dtype == np.float64:
        _refuse_beyond_float32(X)
    if units is not None and X.shape[0] and X.shape[1]:
        unit = unit_type(units)
        X = _fit_domain(unit, X, usage)
        if usage == "fit" and unit.scale_sensitive:
            _check_scale(unit, X)
    return X if y is NO_Y else (X, y)


def _refuse_beyond_float32(X: np.ndarray) -> None:
    """Finite float64 values that float32, the models' arithmetic, holds as infinity."""
    big = np.abs(X) > np.finfo(np.float32).max
    if big.any():
        row, column = np.argwhere(big)[0]  # validate_data made X 2-D
        raise ValueError(
            f"X holds {int(big.sum())} value(s) beyond float32's range (±3.4e+38), in which "
            f"the models compute; the first, {X[row, column]:.3g},"
            f" is in row {row}, column {column}. Compress or rescale those columns first, "
            "e.g. make_pipeline(FunctionTransformer(np.arcsinh), model) (StandardScaler "
            "cannot: their squares overflow float64 too).")


def sparse_matrix(X) -> bool:
    """Whether ``X`` is a SciPy sparse matrix or array."""
    return scipy.sparse.issparse(X)


def _canonical_csr(X):
    """``X`` in CSR form with sorted indices and no duplicate entries (copied if needed), so
    that its stored values are the values of its dense form."""
    X = X.tocsr()
    if not X.has_canonical_format:
        X = X.copy()
        X.sum_duplicates()
    return X


def _stored_values(X, unit: UnitType) -> torch.Tensor:
    """A tensor of ``X``'s values for the domain check: a view of a dense array (a copy of a
    read-only or reversed one); for a sparse matrix its stored values and, if it has
    implicit zeros, one zero, as a row (unit types whose checks are element-wise), or its
    dense rows (unit types that check rows, e.g. the one-hot blocks of Potts units)."""
    if sparse_matrix(X) and not unit.elementwise:
        return torch.from_numpy(X.toarray())
    if sparse_matrix(X):
        values = torch.from_numpy(X.data)
        if X.nnz < X.shape[0] * X.shape[1]:
            values = torch.cat([values, values.new_zeros(1)])
        return values[None]
    if not X.flags.writeable or any(step < 0 for step in X.strides):
        X = X.copy()
    return torch.from_numpy(X)  # no float32 copy


def _warn(warning: Warning) -> None:
    """Issue ``warning`` at the first caller outside deepbelief (and torch's decorators):
    the user's line."""
    frame, level = sys._getframe(1), 2  # stacklevel 2: the caller of _warn
    while frame is not None and frame.f_globals.get("__name__", "").startswith(
            ("deepbelief.", "torch.")):
        frame, level = frame.f_back, level + 1
    warnings.warn(warning, stacklevel=level)


def _fit_domain(unit: UnitType, X, usage: str):
    """``X`` checked against ``unit``'s range as ``usage`` says, and clipped to it."""
    values = _stored_values(X, unit)
    if unit.check_domain(values) is None:
        return X
    message = unit.check_domain(values, tolerance=DOMAIN_TOLERANCE)
    if message and usage == "fit":
        advice = unit.rescale_advice
        if sparse_matrix(X):  # MinMaxScaler refuses sparse input: advise what takes it
            advice = ("For a sparse matrix, scale it with sklearn.preprocessing.MaxAbsScaler "
                      "(non-negative data then lies in [0, 1]), or for word counts use "
                      "CountVectorizer(binary=True).")
        raise ValueError(f"X does not fit the visible units: {message}. {advice}")
    lo, hi = (bound if np.isfinite(bound) else None for bound in unit.bounds)
    clip = f"numpy.clip(X, {lo}, {hi})"
    if message and usage == "likelihood":
        raise ValueError(
            f"X does not fit the visible units: {message}. A free energy or likelihood is "
            "not defined for values outside the units' states: clip X to their range first "
            f"({clip}, or a MinMaxScaler fitted with clip=True); transform and predict clip "
            "such input themselves, with a warning.")
    if message:
        _warn(DataRangeWarning(
            f"X lies outside the range of the visible units: {message}. It was clipped to "
            f"the range ({clip}) for this forward pass. Scale new data as the training "
            "data was scaled (e.g. with the same MinMaxScaler, clip=True, to clip it "
            "there) to silence this warning."))
    if sparse_matrix(X):
        X = X.copy()
        X.data = unit.clip(torch.from_numpy(X.data)[None])[0].numpy()
        return X
    return unit.clip(values).numpy()


def _check_scale(unit: UnitType, X) -> None:
    """A :class:`DataScaleWarning` when ``X``'s per-feature moments do not suit ``unit``."""
    if sparse_matrix(X):
        mean, var = mean_variance_axis(X, axis=0)
    else:  # float64 sums, a few thousand rows at a time (no float64 copy of X)
        sums, squares = np.zeros((2, X.shape[1]))
        with np.errstate(over="ignore", invalid="ignore"):  # huge values: an infinite scale
            for lo in range(0, X.shape[0], 4096):
                rows = X[lo : lo + 4096].astype(np.float64)
                sums += rows.sum(0)
                squares += np.einsum("ij,ij->j", rows, rows)
            mean = sums / X.shape[0]
            var = np.maximum(squares / X.shape[0] - mean**2, 0.0)
    message = unit.check_scale(torch.from_numpy(np.asarray(mean, dtype=np.float64)),
                               torch.from_numpy(np.sqrt(var, dtype=np.float64)), X.shape[0])
    if message:
        scaler = ("StandardScaler(with_mean=False) (a sparse matrix cannot be centred "
                  "without densifying it)" if sparse_matrix(X) else "StandardScaler "
                  "(make_pipeline(StandardScaler(), model))")
        _warn(DataScaleWarning(
            f"{message}. Standardize it first, e.g. with sklearn.preprocessing.{scaler}: on "
            "data of another scale training fails or degrades."))


def output_dtype(X: np.ndarray) -> type:
    """The dtype of a transform's output for a validated ``X``: float64 stays float64."""
    return np.float64 if X.dtype == np.float64 else np.float32


def as_tensor(X: np.ndarray, device: torch.device) -> torch.Tensor:
    """``X`` as a float32 tensor on ``device`` (copied when read-only, e.g. a memmap).

    A sparse matrix is densified whole: only for methods whose output is as large as
    ``X`` (``reconstruct``, ``gibbs``, ``complete``); the others read it chunk by chunk
    (:func:`as_input`, :func:`training_data`).
    """
    if sparse_matrix(X):
        X = X.toarray()
    X = np.ascontiguousarray(X, dtype=np.float32)
    if not X.flags.writeable:
        X = X.copy()
    return torch.from_numpy(X).to(device)


def as_input(X, device: torch.device):
    """The input of a forward pass: a float32 tensor on ``device`` for a dense ``X``
    (:func:`as_tensor`); a sparse ``X`` stays a CSR matrix on the host, for
    :func:`~deepbelief.core.stack.up_pass` and :func:`~deepbelief.core.stack.map_rows` to
    read one chunk of rows at a time."""
    return X if sparse_matrix(X) else as_tensor(X, device)


def training_data(X, device: torch.device) -> torch.Tensor | SparseSource:
    """The data of a fit plan's first layer: a float32 tensor on ``device`` for a dense
    ``X``; for a sparse ``X``, a :class:`~deepbelief.training.sources.SparseSource` that
    densifies one mini-batch at a time (the same batches, row for row)."""
    if isinstance(X, LargeInput):  # read one mini-batch at a time (_large_input.py)
        return X.source(device)
    return SparseSource(X, device=device) if sparse_matrix(X) else as_tensor(X, device)


def to_numpy(t: torch.Tensor, dtype=np.float32) -> np.ndarray:
    """A tensor's values as a numpy array of ``dtype`` (on the CPU)."""
    return t.detach().cpu().numpy().astype(dtype, copy=False)


def n_rows(data: torch.Tensor | SparseSource) -> int:
    """Rows of :func:`training_data`'s result."""
    return data.n_samples if isinstance(data, BatchSource) else len(data)


def labelled_data(data: torch.Tensor | SparseSource,
                  targets: torch.Tensor | tuple[torch.Tensor, ...],
                  index: torch.Tensor | None = None, *, dense: bool = False):
    """The rows ``index`` (None: all) of :func:`training_data`'s result with their
    ``targets`` (a tensor on its device, or a tuple of aligned ones such as the targets and
    the rows' weights), as ``fit_epochs`` takes them: a tuple of tensors, or for sparse
    data a :class:`~deepbelief.training.sources.SparseSource` of the rows and targets
    (``dense``: tensors, those rows densified, e.g. a validation set)."""
    columns = targets if isinstance(targets, tuple) else (targets,)
    if host_source(data):  # a file: a source of those rows (_large_input.py)
        return subset(data, index, *(c.cpu().numpy() for c in columns), dense=dense)
    if not isinstance(data, SparseSource):
        return ((data, *columns) if index is None
                else (data[index], *(c[index] for c in columns)))
    rows = slice(None) if index is None else index.cpu().numpy()
    matrix, arrays = data.arrays[0][rows], [c.cpu().numpy()[rows] for c in columns]
    if dense:
        return (as_tensor(matrix, data.device),
                *(torch.from_numpy(a).to(data.device) for a in arrays))
    return SparseSource(matrix, *arrays, device=data.device)
