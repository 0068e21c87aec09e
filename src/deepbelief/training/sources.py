"""Batch sources: where :func:`~deepbelief.training.loop.fit_epochs` gets its mini-batches.

The loop does not slice data itself; it asks a *source* for one epoch of shuffled
mini-batches at a time, and for the leading rows it monitors after each epoch. A source
holds ``n_samples`` rows spread over one or more aligned arrays (``(X,)`` or ``(X, y)``) and
hands them out as tuples of tensors on its ``device`` (the host-side sources convert real
data to ``float32`` and integer labels to ``int64``).

- :class:`TensorSource`: tensors already on the device (what every estimator passes today);
- :class:`ArraySource`: NumPy arrays, ``np.memmap``, ``.npy`` files opened with
  ``mmap_mode='r'`` and HDF5 datasets (``h5py.Dataset``); rows are read and moved one
  mini-batch at a time, and the pages of a memory-mapped file are handed back to the
  operating system as reading goes on (:func:`release_pages`), so that the process's
  resident memory stays bounded however large the file;
- :class:`SparseSource`: a SciPy sparse matrix of features (kept as CSR), densified one
  mini-batch at a time, with optional dense arrays (labels) beside it.

:class:`~deepbelief.training.iterable_source.IterableSource` (re-iterables of batches, such
as a ``torch.utils.data.DataLoader``) and the sources of lazy stacking
(:mod:`deepbelief.training.lazy_stack`) live beside this module.

Every source shuffles with the same single draw, ``torch.randperm(n_samples,
generator=generator, device=device)`` at the start of each epoch, so on the same data and
seed all three hand out the same rows in the same batches, and training through any of them
gives identical weights. Anything else with ``n_samples``, ``device``, ``batches`` and
``head`` (the :class:`BatchSource` protocol) can be passed too, e.g. a per-rank shard.
"""

from __future__ import annotations

import mmap
from collections.abc import Callable, Iterator, Sequence
from os import PathLike
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

from deepbelief.training.file_rows import FileRows

__all__ = ["ArraySource", "BatchSource", "SparseSource", "TensorSource", "as_source",
           "release_pages"]

Batch = tuple[torch.Tensor, ...]


@runtime_checkable
class BatchSource(Protocol):
    """What :func:`~deepbelief.training.loop.fit_epochs` needs from its training data.

    Attributes
    ----------
    n_samples : int
        Number of rows; every epoch hands out each of them exactly once.
    device : torch.device
        Where the batches' tensors are (the module's device).

    Notes
    -----
    ``batches`` is called once per epoch and must return a fresh iterator each time (a
    source is re-iterable, unlike a one-shot stream). It must take all its random draws from
    ``generator`` before it yields the first batch, and none after, so that the draws of the
    objective (which shares the generator) stay in a fixed order.
    """

    n_samples: int
    device: torch.device

    def batches(self, batch_size: int, generator: torch.Generator | None) -> Iterator[Batch]:
        """One epoch of shuffled mini-batches of ``batch_size`` rows (the last may be
        smaller), each a tuple of tensors on ``device`` with ``batch_size`` leading rows."""
        ...

    def head(self, n: int) -> Batch:
        """The first ``min(n, n_samples)`` rows, unshuffled, as tensors on ``device``
        (the rows monitored after each epoch)."""
        ...


def _epoch_order(n: int, generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    """The one random draw of an epoch: a permutation of ``range(n)`` on ``device``."""
    return torch.randperm(n, generator=generator, device=device)


def _common_length(arrays: Sequence, kind: str) -> int:
    if not arrays:
        raise ValueError(f"A {kind} needs at least one array (e.g. (X,) or (X, y)).")
    lengths = [a.shape[0] for a in arrays]
    if len(set(lengths)) != 1:
        raise ValueError(f"The arrays of a {kind} must have the same number of rows; "
                         f"got {lengths}.")
    return lengths[0]


class TensorSource:
    """Mini-batches sliced from tensors already on the device.

    Parameters
    ----------
    *tensors : torch.Tensor
        Aligned tensors of shape ``(n_samples, ...)`` on one device, e.g. ``X`` of shape
        ``(n_samples, n_features)`` and labels ``y`` of shape ``(n_samples,)``.

    Raises
    ------
    ValueError
        If no tensor is given or their first dimensions differ.

    Examples
    --------
    >>> import torch
    >>> x = torch.arange(10.0).reshape(5, 2)
    >>> source = TensorSource(x, torch.arange(5))
    >>> source.n_samples, source.device
    (5, device(type='cpu'))
    >>> [b[1].tolist() for b in source.batches(2, torch.Generator().manual_seed(0))]
    [[4, 0], [1, 3], [2]]
    >>> source.head(2)[0]
    tensor([[0., 1.],
            [2., 3.]])
    """

    def __init__(self, *tensors: torch.Tensor) -> None:
        self.n_samples = _common_length(tensors, "TensorSource")
        self.tensors: Batch = tuple(tensors)
        self.device = tensors[0].device

    def batches(self, batch_size: int, generator: torch.Generator | None) -> Iterator[Batch]:
        """One epoch of shuffled mini-batches (see :class:`BatchSource`)."""
        order = _epoch_order(self.n_samples, generator, self.device)
        for lo in range(0, self.n_samples, batch_size):
            index = order[lo : lo + batch_size]
            yield tuple(t.index_select(0, index) for t in self.tensors)

    def head(self, n: int) -> Batch:
        """The first ``n`` rows of every tensor (views, no copy)."""
        return tuple(t[:n] for t in self.tensors)

    def __repr__(self) -> str:
        shapes = ", ".join(str(tuple(t.shape)) for t in self.tensors)
        return f"TensorSource({shapes}, device={self.device})"


def _torch_dtype(array) -> torch.dtype:
    """``float32`` for real and boolean arrays, ``int64`` for integer ones."""
    kind = np.dtype(array.dtype).kind
    if kind in "fb":
        return torch.float32
    if kind in "iu":
        return torch.int64
    raise TypeError(f"Cannot train on an array of dtype {array.dtype}: give real, boolean or "
                    "integer data.")


def _feature_dtype(array) -> torch.dtype:
    """``float32`` for real, boolean and integer feature arrays (pixels, counts)."""
    _torch_dtype(array)  # refuses the dtypes that hold no numbers
    return torch.float32


#: Bytes of memory-mapped files read between two :func:`release_pages` (32 MiB, counting
#: each row read apart as the pages it spans): about the most an :class:`ArraySource` adds
#: to the process's resident memory while it reads a file.
RELEASE_BYTES = 32 * 2**20

_PAGE = mmap.PAGESIZE


def _shared_mapping(array) -> mmap.mmap | None:
    """The ``mmap`` under a NumPy array mapped from a file in a shared mode (``'r'``,
    ``'r+'``, ``'w+'``: ``np.memmap``, ``np.load(mmap_mode=...)``, or a view of one), else
    None. A copy-on-write mapping (mode ``'c'``) is left alone: releasing its pages would
    discard the changes made to them."""
    while array is not None:
        if isinstance(array, np.memmap):
            mapping = getattr(array, "_mmap", None)
            return mapping if mapping is not None and array.mode != "c" else None
        array = getattr(array, "base", None)
    return None


def release_pages(*arrays: Any) -> None:
    """Hand the pages of memory-mapped arrays back to the operating system.

    Reading a memory-mapped file maps its pages into the process, and they count as its
    resident memory (RSS) until the process lets them go. ``madvise(MADV_DONTNEED)`` lets
    them go: the data stays in the file (and in the page cache, so reading it again is
    still fast) and the pages are read back on the next access. Arrays that are not
    mapped from a file in a shared mode are ignored, as are platforms without
    ``madvise``.

    Parameters
    ----------
    *arrays : numpy.ndarray, numpy.memmap or anything else

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "x.npy")
    >>> np.save(path, np.ones((1000, 100), dtype=np.float32))
    >>> X = np.load(path, mmap_mode="r")
    >>> float(X.sum())
    100000.0
    >>> release_pages(X, np.zeros(3))  # X's pages are let go; X reads as before
    >>> float(X[999].sum())
    100.0
    """
    advice = getattr(mmap, "MADV_DONTNEED", None)
    for array in arrays:
        mapping = _shared_mapping(array)
        if mapping is None or advice is None:
            continue
        try:
            mapping.madvise(advice)
        except (OSError, ValueError):  # a closed or unsupported mapping: nothing to release
            pass


class ArraySource:
    """Mini-batches gathered from NumPy arrays, memory-mapped ones and HDF5 datasets included.

    Only the rows of the current mini-batch are read (in increasing order, which suits the
    page cache of a file and HDF5's selections), converted and moved to the device; the
    whole array is never loaded. The rows of a memory-mapped file are read with ``preadv``
    (:class:`~deepbelief.training.file_rows.FileRows`), without mapping its pages; where
    that does not apply, pages are mapped and released after every :data:`RELEASE_BYTES`
    (:func:`release_pages`). Either way the resident memory of a fit stays bounded however
    large the file. The batches are the same, row for row,
    as those of a :class:`TensorSource` holding the same data.

    Parameters
    ----------
    *arrays : numpy.ndarray, numpy.memmap or h5py.Dataset
        Aligned arrays of shape ``(n_samples, ...)``; any array-like with NumPy indexing
        (slices and increasing integer arrays) and a ``dtype`` works. The first array (the
        features) becomes ``float32`` tensors whatever its number type (uint8 pixels,
        integer counts); after it, real and boolean arrays become ``float32`` tensors,
        integer arrays ``int64`` ones (labels).
    device : str or torch.device, default='cpu'
        Where the batches go.
    rows : array of int, optional
        Train on these rows of the arrays only (e.g. the training part of a validation
        split), as if the arrays held just them, in this order; nothing is copied.
    transform : callable, optional
        ``transform(values) -> values``: applied on the host to the rows read from the first
        array (a NumPy array, rows by features) before they become a ``float32`` tensor,
        e.g. clipping or standardisation. It must act on each row independently.

    Raises
    ------
    ValueError
        If no array is given or their first dimensions differ.
    TypeError
        If an array's dtype is neither real, boolean nor integer, or an array is a SciPy
        sparse matrix (use :class:`SparseSource`).

    See Also
    --------
    ArraySource.from_npy : open ``.npy`` files memory-mapped.

    Examples
    --------
    >>> import numpy as np, torch
    >>> x = np.arange(10, dtype=np.float64).reshape(5, 2)
    >>> source = ArraySource(x, np.arange(5))
    >>> [b[1].tolist() for b in source.batches(2, torch.Generator().manual_seed(0))]
    [[4, 0], [1, 3], [2]]
    >>> source.head(1)
    (tensor([[0., 1.]]), tensor([0]))
    >>> ArraySource(x, rows=[3, 1]).head(2)[0]
    tensor([[6., 7.],
            [2., 3.]])
    """

    #: How many leading arrays may be SciPy sparse matrices (:class:`SparseSource`: one).
    _n_sparse = 0

    def __init__(self, *arrays: Any, device: str | torch.device = "cpu", rows=None,
                 transform: Callable[[np.ndarray], np.ndarray] | None = None) -> None:
        if any(hasattr(a, "tocsr") for a in arrays[self._n_sparse:]):
            raise TypeError(f"{type(self).__name__} takes dense arrays here; wrap a "
                            "scipy.sparse feature matrix in SparseSource(X, y).")
        n_samples = _common_length(arrays, type(self).__name__)
        self.rows = None if rows is None else np.asarray(rows, dtype=np.int64).reshape(-1)
        self.n_samples = n_samples if self.rows is None else len(self.rows)
        self.arrays = tuple(arrays)
        # the first array holds features: float32 even when stored as integers (uint8
        # pixels, counts); integer arrays after it are labels (int64)
        self.dtypes = (_feature_dtype(arrays[0]), *(_torch_dtype(a) for a in arrays[1:]))
        self.device = torch.device(device)
        self.transform = transform
        self._files = tuple(FileRows.of(a) for a in arrays)  # memmaps: read, not mapped
        self._unreleased = 0  # bytes read through mappings since their last release

    @property
    def n_features(self) -> int:
        """Columns of the first array (the features)."""
        return self.arrays[0].shape[1]

    @classmethod
    def from_npy(cls, *paths: str | PathLike, device: str | torch.device = "cpu") -> ArraySource:
        """An :class:`ArraySource` over ``.npy`` files, opened read-only with
        ``np.load(path, mmap_mode='r')`` (nothing is read until a batch needs it).

        Examples
        --------
        >>> import numpy as np, tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "x.npy")
        >>> np.save(path, np.eye(3, dtype=np.float32))
        >>> source = ArraySource.from_npy(path)
        >>> type(source.arrays[0]).__name__, source.head(1)[0]
        ('memmap', tensor([[1., 0., 0.]]))
        """
        return cls(*(np.load(p, mmap_mode="r") for p in paths), device=device)

    def _rows(self, array, index: np.ndarray | slice) -> np.ndarray:
        """``array[index]`` as a dense NumPy array (``index`` is sorted, or a slice)."""
        return np.asarray(array[index])

    def _tensor(self, rows: np.ndarray, dtype: torch.dtype, first: bool) -> torch.Tensor:
        if first and self.transform is not None:
            rows = self.transform(rows)
        host = np.ascontiguousarray(rows, dtype=np.float32 if dtype == torch.float32
                                    else np.int64)
        if not host.flags.writeable:  # a slice of a read-only file: copy it out
            host = host.copy()
        return torch.from_numpy(host).to(self.device)

    def _read(self, index: np.ndarray | slice, back: np.ndarray | None = None) -> Batch:
        """The rows ``index`` (increasing, or a slice) of every array, reordered by
        ``back``, as tensors on the device; mapped pages are released now and then."""
        batch = []
        for i, (array, dtype, file) in enumerate(zip(self.arrays, self.dtypes, self._files,
                                                     strict=True)):
            rows = self._rows(array, index) if file is None else file.read(index)
            batch.append(self._tensor(rows if back is None else rows[back], dtype, i == 0))
            if file is None and _shared_mapping(array) is not None:
                scattered = 0 if isinstance(index, slice) else _PAGE * len(rows)
                self._unreleased += rows.nbytes + scattered  # a row apart: one more page
        if self._unreleased >= RELEASE_BYTES:
            self.release()
        return tuple(batch)

    def take(self, index) -> Batch:
        """The rows ``index`` (positions in ``range(n_samples)``, in that order) of every
        array, as tensors on the device."""
        index = np.asarray(index, dtype=np.int64).reshape(-1)
        if self.rows is not None:
            index = self.rows[index]
        order = np.argsort(index, kind="stable")
        back = np.empty_like(order)
        back[order] = np.arange(len(order))  # sorted rows -> the batch's order
        return self._read(index[order], back)

    def chunks(self, size: int) -> Iterator[Batch]:
        """Consecutive, unshuffled chunks of at most ``size`` rows (slices of the arrays
        when no ``rows`` are selected); pages are released at the end."""
        for lo in range(0, self.n_samples, size):
            hi = min(lo + size, self.n_samples)
            yield (self._read(slice(lo, hi)) if self.rows is None
                   else self.take(np.arange(lo, hi)))
        self.release()

    def release(self) -> None:
        """Release the pages of memory-mapped arrays read so far (:func:`release_pages`)."""
        release_pages(*self.arrays)
        self._unreleased = 0

    def batches(self, batch_size: int, generator: torch.Generator | None) -> Iterator[Batch]:
        """One epoch of shuffled mini-batches (see :class:`BatchSource`); the permutation is
        drawn on ``device`` (like :class:`TensorSource`) and copied to the host once."""
        order = _epoch_order(self.n_samples, generator, self.device).cpu().numpy()
        for lo in range(0, self.n_samples, batch_size):
            yield self.take(order[lo : lo + batch_size])
        self.release()

    def head(self, n: int) -> Batch:
        """The first ``n`` rows of every array, as tensors on the device."""
        return self.take(np.arange(min(n, self.n_samples)))

    def __repr__(self) -> str:
        shapes = ", ".join(str(tuple(a.shape)) for a in self.arrays)
        return f"{type(self).__name__}({shapes}, device={self.device})"


class SparseSource(ArraySource):
    """Mini-batches from a SciPy sparse matrix, densified one mini-batch at a time.

    The matrix is kept in CSR form (converted once if it is in another sparse format); each
    mini-batch's rows are sliced from it and made dense on the host, then moved to the
    device as ``float32``. The full dense matrix is never built. The batches are the same as
    those of a :class:`TensorSource` over ``X.toarray()``.

    Parameters
    ----------
    X : scipy.sparse matrix or array, shape (n_samples, n_features)
        The features.
    *arrays : numpy.ndarray
        Further aligned dense arrays of shape ``(n_samples, ...)`` (e.g. labels ``y``).
    device : str or torch.device, default='cpu'
        Where the batches go.

    Raises
    ------
    TypeError
        If ``X`` is not a SciPy sparse matrix (use :class:`ArraySource` for dense data).
    ValueError
        If the first dimensions differ.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from scipy import sparse
    >>> X = sparse.csr_matrix(np.eye(4, dtype=np.float32))
    >>> source = SparseSource(X, np.arange(4))
    >>> x, y = next(source.batches(2, torch.Generator().manual_seed(0)))
    >>> x, y
    (tensor([[1., 0., 0., 0.],
            [0., 1., 0., 0.]]), tensor([0, 1]))
    """

    _n_sparse = 1

    def __init__(self, X: Any, *arrays: Any, device: str | torch.device = "cpu") -> None:
        from scipy import sparse

        if not sparse.issparse(X):
            raise TypeError(f"SparseSource needs a scipy.sparse matrix, not {type(X).__name__}; "
                            "use ArraySource for dense NumPy arrays.")
        super().__init__(X.tocsr(), *arrays, device=device)

    def _rows(self, array, index: np.ndarray) -> np.ndarray:
        rows = array[index]
        return rows.toarray() if hasattr(rows, "toarray") else np.asarray(rows)


def _same_device(a: torch.device, b: torch.device) -> bool:
    """Equal devices, treating a missing index (``'cuda'``) as any index of that type."""
    return a.type == b.type and (a.index is None or b.index is None or a.index == b.index)


def as_source(data: Any, device: str | torch.device | None = None) -> BatchSource:
    """The :class:`BatchSource` for ``data``, as :func:`~deepbelief.training.loop.fit_epochs`
    takes it.

    Parameters
    ----------
    data : tuple or list of torch.Tensor, or BatchSource
        Aligned tensors (``(X,)`` or ``(X, y)``) become a :class:`TensorSource`; a source is
        returned as it is.
    device : str or torch.device, optional
        The device the batches must be on: tensors are moved there (a no-op when they
        already are); a source on another device is an error. None: as the data is.

    Returns
    -------
    BatchSource

    Raises
    ------
    TypeError
        If ``data`` is neither (the message names what is accepted).
    ValueError
        If a source is on another device than ``device``, or the tensors' first dimensions
        differ.

    Examples
    --------
    >>> import numpy as np, torch
    >>> as_source((torch.zeros(3, 2),))
    TensorSource((3, 2), device=cpu)
    >>> source = ArraySource(np.zeros((3, 2)))
    >>> as_source(source) is source
    True
    >>> as_source(np.zeros((3, 2)))
    Traceback (most recent call last):
    ...
    TypeError: Training data must be ... not ndarray; wrap NumPy arrays and memmaps in ...
    """
    if isinstance(data, (tuple, list)) and data and all(isinstance(t, torch.Tensor)
                                                        for t in data):
        tensors = data if device is None else [t.to(device) for t in data]
        return TensorSource(*tensors)
    if isinstance(data, BatchSource):
        if device is not None and not _same_device(data.device, torch.device(device)):
            raise ValueError(f"The batch source is on {data.device}, but training runs on "
                             f"{torch.device(device)}.")
        return data
    raise TypeError(
        "Training data must be a tuple or list of torch tensors ((X,) or (X, y)) or a "
        f"deepbelief.training.sources.BatchSource, not {type(data).__name__}; "
        + ("wrap a single tensor in a tuple: (X,)." if isinstance(data, torch.Tensor) else
           "wrap NumPy arrays and memmaps in ArraySource and scipy.sparse matrices in "
           "SparseSource.")
    )
