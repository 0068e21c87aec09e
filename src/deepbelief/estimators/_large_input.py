"""Training data larger than memory at the estimators' boundary.

``fit`` (and ``partial_fit``) of the estimators that take sparse input also take data that
is never loaded whole (:func:`large_kind` tells which):

- a ``numpy.memmap`` (``np.load(path, mmap_mode='r')`` gives one), or the path of a ``.npy``
  file, opened with ``mmap_mode='r'``;
- an HDF5 dataset (``h5py.Dataset``), or the path of an ``.h5``/``.hdf5`` file holding one
  dataset (or one named ``X``, ``x`` or ``data``); reading HDF5 needs the optional ``h5py``
  (``pip install 'deepbelief[hdf5]'``);
- a re-iterable of batches (a ``torch.utils.data.DataLoader``, a list of arrays), each a 2-D
  array or tensor of rows, or a tuple ``(x, y)`` / ``[x, y]`` whose labels a supervised
  estimator uses when ``y`` is None. A one-shot iterator (a generator) is refused with
  advice (:func:`~deepbelief.training.iterable_source.one_shot_error`).

:func:`~deepbelief.estimators._large_checks.check_large_X` checks such data in one pass,
chunk by chunk, and returns a :class:`LargeInput`, which the fit reads as a batch source
(:meth:`LargeInput.source`). ``RBM`` and ``DBNTransformer`` stream a re-iterable, one pass
per epoch; the other estimators need random access (labels, validation splits, fine-tuning)
and write its rows once to a temporary memory-mapped file.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch

from deepbelief.training.iterable_source import IterableSource
from deepbelief.training.lazy_stack import host_source
from deepbelief.training.sources import ArraySource, release_pages

__all__ = ["HDF5_ADVICE", "LargeInput", "Moments", "in_memory", "large_kind", "open_path",
           "subset"]

#: How to install the optional HDF5 reader.
HDF5_ADVICE = "pip install 'deepbelief[hdf5]' (or pip install h5py)"

#: Rows of the first chunk :meth:`LargeInput.sample` returns (e.g. for checks on
#: predictions after a fit).
SAMPLE_ROWS = 10_000

_HDF5_SUFFIXES = (".h5", ".hdf5", ".hdf")


def _hdf5_dataset(X: Any) -> bool:
    return type(X).__module__.startswith("h5py") and hasattr(X, "shape") and hasattr(
        X, "dtype") and hasattr(X, "id")


def _batch(item: Any) -> bool:
    """Whether ``item`` looks like one batch: a 2-D array or tensor, or a tuple or list
    whose first element is one."""
    if isinstance(item, (tuple, list)) and item:
        item = item[0]
    return isinstance(item, (np.ndarray, torch.Tensor)) and item.ndim == 2


def large_kind(X: Any) -> str | None:
    """How ``fit`` reads ``X`` when it may be larger than memory: 'array' (a memmap or HDF5
    dataset), 'path' (a file to open), 'stream' (an iterable of batches), or None (in-memory
    data, validated as before).

    Examples
    --------
    >>> large_kind(np.zeros((2, 2))), large_kind("x.npy"), large_kind([np.zeros((2, 3))])
    (None, 'path', 'stream')
    >>> large_kind([[0.0, 1.0], [1.0, 0.0]]) is None  # a list of rows stays an array
    True
    """
    if isinstance(X, np.memmap) or _hdf5_dataset(X):
        return "array"
    if isinstance(X, (str, os.PathLike)):
        return "path"
    if isinstance(X, (list, tuple)):
        return "stream" if X and all(_batch(item) for item in X) else None
    if isinstance(X, (np.ndarray, torch.Tensor, dict, set, bytes)) or hasattr(X, "__array__"):
        return None
    if hasattr(X, "tocsr") or not hasattr(X, "__iter__"):
        return None
    return "stream"


def _open_hdf5(path: str):
    try:
        import h5py
    except ImportError as exc:
        raise ImportError(f"Reading the HDF5 file {path} needs h5py: {HDF5_ADVICE}.") from exc
    handle = h5py.File(path, "r")
    names: list[str] = []
    handle.visititems(lambda name, obj: names.append(name) if isinstance(
        obj, h5py.Dataset) else None)
    chosen = next((n for n in ("X", "x", "data") if n in names), None)
    if chosen is None and len(names) == 1:
        chosen = names[0]
    if chosen is None:
        handle.close()
        raise ValueError(f"{path} holds the datasets {names}: pass the one to train on, "
                         f"h5py.File({path!r})['name'], instead of the path.")
    return handle[chosen]


def open_path(path: str | os.PathLike):
    """The array behind a path ``fit`` was given: a ``.npy`` file memory-mapped
    (``np.load(path, mmap_mode='r')``), or the dataset of an HDF5 file.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    ValueError
        For another kind of file (with how to convert it), or an HDF5 file whose dataset
        is ambiguous.
    ImportError
        For an HDF5 file without h5py installed (with the pip command).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"X={path!r}: no such file. fit reads a path as a .npy file "
                                "(memory-mapped) or an HDF5 file.")
    suffix = os.path.splitext(path)[1].lower()
    if suffix in _HDF5_SUFFIXES:
        return _open_hdf5(path)
    if suffix != ".npy":
        raise ValueError(
            f"X={path!r}: fit reads a path as a .npy file, opened memory-mapped, or an HDF5 "
            "file (.h5, .hdf5). Convert other data once, e.g. numpy.save('data.npy', X), or "
            "write it chunk by chunk into numpy.lib.format.open_memmap('data.npy', mode='w+', "
            "dtype='float32', shape=(n_samples, n_features)), and pass that path.")
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as exc:  # object arrays, .npz read as .npy, ...
        raise ValueError(f"X={path!r} cannot be memory-mapped ({exc}); save it as a plain "
                         "numeric array: numpy.save(path, X.astype('float32')).") from exc


@dataclass
class Moments:
    """Per-feature running moments in float64 (shifted by the first row, for accuracy),
    and the extreme values, gathered chunk by chunk."""

    n: int = 0
    shift: np.ndarray | None = None
    sums: np.ndarray | None = None
    squares: np.ndarray | None = None
    low: float = np.inf
    high: float = -np.inf

    def add(self, rows: np.ndarray) -> None:
        if not len(rows):
            return
        rows = rows.astype(np.float64, copy=False)
        if self.shift is None:
            self.shift = rows[0].copy()
            self.sums, self.squares = np.zeros_like(self.shift), np.zeros_like(self.shift)
        centred = rows - self.shift
        self.sums += centred.sum(0)
        self.squares += np.einsum("ij,ij->j", centred, centred)
        self.n += len(rows)
        self.low, self.high = min(self.low, float(rows.min())), max(self.high,
                                                                     float(rows.max()))

    @property
    def mean(self) -> np.ndarray:
        return self.shift + self.sums / self.n

    @property
    def var(self) -> np.ndarray:
        return np.maximum(self.squares / self.n - (self.sums / self.n) ** 2, 0.0)


@dataclass
class LargeInput:
    """Checked training data read in pieces: an array-like (memmap, HDF5 dataset) or a
    re-iterable of batches (``stream``).

    It stands in for the validated ``X`` in the estimators' ``fit``: ``shape``, ``min``,
    ``max``, ``mean`` and ``std`` (over rows, from the moments gathered while checking)
    answer as an array's would, and :meth:`source` gives the batch source to train on.

    Attributes
    ----------
    data : memmap, h5py.Dataset or re-iterable
    shape : (n_samples, n_features)
    dtype : numpy dtype
        The dtype in-memory validation would give: float64 stays float64, any other
        becomes float32.
    stream : bool
        ``data`` is a re-iterable of batches, read once per epoch.
    bounds : (low, high) or None
        Clip every row to these bounds (values within float rounding outside the visible
        units' range, as in-memory validation clips them).
    moments : Moments
    transform : callable or None
        A further row transform (e.g. a standardisation), after the clipping.
    y : array or None
        The labels that came with a stream's batches.
    check : callable or None
        ``check(rows, first_row)`` re-run on every batch of a stream as it is read.
    """

    data: Any
    shape: tuple[int, int]
    dtype: np.dtype
    stream: bool = False
    bounds: tuple | None = None
    moments: Moments = field(default_factory=Moments)
    transform: Callable | None = None
    y: Any = None
    check: Callable | None = None

    ndim = 2

    def rows_transform(self) -> Callable | None:
        """What each batch's rows go through on the host (None: nothing)."""
        dtype, bounds, extra = self.dtype, self.bounds, self.transform
        if self.data_dtype == dtype and bounds is None and extra is None:
            return None

        def transform(rows: np.ndarray) -> np.ndarray:
            rows = rows.astype(dtype, copy=False)
            if bounds is not None:
                rows = np.clip(rows, *bounds)
            return rows if extra is None else extra(rows)

        return transform

    @property
    def data_dtype(self) -> np.dtype:
        return np.dtype(getattr(self.data, "dtype", self.dtype))

    def with_transform(self, transform: Callable) -> LargeInput:
        """This input with ``transform`` applied to every batch's rows."""
        return replace(self, transform=transform)

    def source(self, device: torch.device) -> ArraySource | IterableSource:
        """The batch source to train on, on ``device``."""
        if self.stream:
            source = IterableSource(self.data, device=device, n_samples=self.shape[0],
                                    n_features=self.shape[1], check=self.check,
                                    transform=self.rows_transform())
            if self.transform is None:  # the checked mean is the mean the layer sees
                source.column_mean = torch.from_numpy(
                    self.moments.mean.astype(np.float32)).to(device)
            return source
        return ArraySource(self.data, device=device, transform=self.rows_transform())

    # -- what array-like questions the estimators ask ------------------------------------
    def min(self) -> float:
        return self.moments.low

    def max(self) -> float:
        return self.moments.high

    @property
    def size(self) -> int:
        return self.shape[0] * self.shape[1]

    def mean(self, axis: int = 0, dtype=np.float64) -> np.ndarray:
        return self.moments.mean.astype(dtype)

    def std(self, axis: int = 0, dtype=np.float64) -> np.ndarray:
        return np.sqrt(self.moments.var).astype(dtype)

    def sample(self, n: int = SAMPLE_ROWS) -> np.ndarray:
        """The first ``n`` rows of an array-like input as checked (validated dtype,
        clipped), in memory."""
        rows = np.asarray(self.data[: min(n, self.shape[0])]).astype(self.dtype)
        release_pages(self.data)
        return rows if self.bounds is None else np.clip(rows, *self.bounds)

    def digest(self, y=None) -> str:
        """The SHA-256 that :func:`~deepbelief.training.checkpoint.data_digest` gives the
        same data in memory (as float32, with ``y``), read chunk by chunk; a checkpoint
        written by an in-memory fit of the same data can be resumed from the file."""
        digest = hashlib.sha256()
        digest.update(json.dumps(["<f4", list(self.shape)]).encode())
        source = replace(self, transform=None, check=None).source(torch.device("cpu"))
        for (chunk,) in source.chunks(8192):
            digest.update(chunk.numpy().reshape(-1).view(np.uint8))
        extra = None
        if y is not None:
            y = np.asarray(y)
            if y.dtype.kind == "O":
                extra = [y.shape, y.tolist()]
            else:
                y = np.ascontiguousarray(y)
                digest.update(json.dumps([y.dtype.str, list(y.shape)]).encode())
                digest.update(y.reshape(-1).view(np.uint8))
        digest.update(json.dumps(extra, sort_keys=True, default=repr).encode())
        return digest.hexdigest()


def subset(data: ArraySource, index: torch.Tensor | None, *extra: np.ndarray,
           dense: bool = False):
    """The rows ``index`` (None: all) of a host-side training source, with ``extra``
    aligned arrays beside them (e.g. targets), as ``fit_epochs`` takes them: an
    :class:`~deepbelief.training.sources.ArraySource` reading just those rows, or with
    ``dense`` the rows in memory as tensors (e.g. a validation set)."""
    if not host_source(data) or not isinstance(data, ArraySource):
        raise TypeError(f"subset needs an ArraySource over a file, got {type(data).__name__}.")
    rows = data.rows
    if index is not None:
        picked = index.cpu().numpy()
        rows = picked if rows is None else rows[picked]
    source = ArraySource(*data.arrays[:1], *extra, device=data.device, rows=rows,
                         transform=data.transform)
    return source.head(source.n_samples) if dense else source


def in_memory(X, y):
    """``(X, y)`` as they are, or for a :class:`LargeInput` its first rows
    (:meth:`LargeInput.sample`) with theirs of ``y``: what checks on the predictions of a
    fitted model read (they need a sample, not every row)."""
    if not isinstance(X, LargeInput):
        return X, y
    sample = X.sample()
    return sample, y[: len(sample)]
