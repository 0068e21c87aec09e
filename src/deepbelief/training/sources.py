"""Batch sources: where :func:`~deepbelief.training.loop.fit_epochs` gets its mini-batches.

The loop does not slice data itself; it asks a *source* for one epoch of shuffled
mini-batches at a time, and for the leading rows it monitors after each epoch. A source
holds ``n_samples`` rows spread over one or more aligned arrays (``(X,)`` or ``(X, y)``) and
hands them out as tuples of tensors on its ``device`` (the host-side sources convert real
data to ``float32`` and integer labels to ``int64``).

- :class:`TensorSource`: tensors already on the device (what every estimator passes today);
- :class:`ArraySource`: NumPy arrays, ``np.memmap`` and ``.npy`` files opened with
  ``mmap_mode='r'``; rows are read and moved one mini-batch at a time;
- :class:`SparseSource`: a SciPy sparse matrix of features (kept as CSR), densified one
  mini-batch at a time, with optional dense arrays (labels) beside it.

Every source shuffles with the same single draw, ``torch.randperm(n_samples,
generator=generator, device=device)`` at the start of each epoch, so on the same data and
seed all three hand out the same rows in the same batches, and training through any of them
gives identical weights. Anything else with ``n_samples``, ``device``, ``batches`` and
``head`` (the :class:`BatchSource` protocol) can be passed too, e.g. a per-rank shard.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from os import PathLike
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

__all__ = ["ArraySource", "BatchSource", "SparseSource", "TensorSource", "as_source"]

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


class ArraySource:
    """Mini-batches gathered from NumPy arrays, memory-mapped ones included.

    Only the rows of the current mini-batch are read (in increasing order, which suits the
    page cache of a memory-mapped file), converted and moved to the device; the whole array
    is never loaded. The batches are the same, row for row, as those of a
    :class:`TensorSource` holding the same data.

    Parameters
    ----------
    *arrays : numpy.ndarray or numpy.memmap
        Aligned arrays of shape ``(n_samples, ...)``; any array-like with NumPy indexing and
        a ``dtype`` works. Real and boolean arrays become ``float32`` tensors, integer
        arrays ``int64`` ones (labels).
    device : str or torch.device, default='cpu'
        Where the batches go.

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
    """

    #: How many leading arrays may be SciPy sparse matrices (:class:`SparseSource`: one).
    _n_sparse = 0

    def __init__(self, *arrays: Any, device: str | torch.device = "cpu") -> None:
        if any(hasattr(a, "tocsr") for a in arrays[self._n_sparse:]):
            raise TypeError(f"{type(self).__name__} takes dense arrays here; wrap a "
                            "scipy.sparse feature matrix in SparseSource(X, y).")
        self.n_samples = _common_length(arrays, type(self).__name__)
        self.arrays = tuple(arrays)
        self.dtypes = tuple(_torch_dtype(a) for a in arrays)
        self.device = torch.device(device)

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

    def _rows(self, array, index: np.ndarray) -> np.ndarray:
        """``array[index]`` as a dense NumPy array (``index`` is sorted)."""
        return np.asarray(array[index])

    def _tensor(self, rows: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
        host = np.ascontiguousarray(rows, dtype=np.float32 if dtype == torch.float32
                                    else np.int64)
        return torch.from_numpy(host).to(self.device)

    def _take(self, index: np.ndarray) -> Batch:
        """The rows ``index`` (in that order) of every array, as tensors on the device."""
        order = np.argsort(index, kind="stable")
        back = np.empty_like(order)
        back[order] = np.arange(len(order))  # sorted rows -> the batch's order
        ascending = index[order]
        return tuple(self._tensor(self._rows(a, ascending)[back], dtype)
                     for a, dtype in zip(self.arrays, self.dtypes, strict=True))

    def batches(self, batch_size: int, generator: torch.Generator | None) -> Iterator[Batch]:
        """One epoch of shuffled mini-batches (see :class:`BatchSource`); the permutation is
        drawn on ``device`` (like :class:`TensorSource`) and copied to the host once."""
        order = _epoch_order(self.n_samples, generator, self.device).cpu().numpy()
        for lo in range(0, self.n_samples, batch_size):
            yield self._take(order[lo : lo + batch_size])

    def head(self, n: int) -> Batch:
        """The first ``n`` rows of every array, as tensors on the device."""
        return self._take(np.arange(min(n, self.n_samples)))

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
