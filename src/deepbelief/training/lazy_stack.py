"""Greedy stacking on data larger than memory: each layer's input is mapped up batch by
batch, or cached once in a memory-mapped file, instead of being held in memory.

In memory, greedy pretraining (:func:`~deepbelief.training.greedy.pretrain_stack`) trains a
layer, then replaces its data by the layer's up-pass, a tensor as long as the data. When the
data comes from a host-side source (a memory-mapped file or HDF5 dataset in an
:class:`~deepbelief.training.sources.ArraySource`, a stream in an
:class:`~deepbelief.training.iterable_source.IterableSource`), :func:`stacked_input` gives the
layer above one of two sources instead:

- ``'lazy'``: an :class:`UpPassSource`, which reads each mini-batch from the original source
  and passes it up through the trained layers on the device. Nothing is written; every
  epoch of layer ``k`` pays the up-pass through the ``k - 1`` layers below it.
- ``'memmap'``: the up-pass is computed once, chunk by chunk, into a temporary ``.npy`` file
  opened memory-mapped (:func:`cache_up_pass`), and the layer above reads its mini-batches
  from it like any memory-mapped file. The file is deleted when training no longer needs it.

``'auto'`` (the default) caches on the CPU when the layer above trains for more than one
epoch and the disk has room, and maps up lazily otherwise (on a GPU the up-pass of a batch
costs less than reading its cached rows back). Choose with :func:`stack_cache`. On the CPU
the cache also reproduces the in-memory fit exactly: its up-pass runs in the same chunks of
rows as the in-memory one, and the layer's initial biases come from ``torch.mean`` over the
whole cache file, as in memory.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from deepbelief.core.stack import up_pass
from deepbelief.training.sources import (
    RELEASE_BYTES,
    ArraySource,
    BatchSource,
    SparseSource,
    TensorSource,
    release_pages,
)

__all__ = [
    "STACK_CACHES",
    "JoinedColumns",
    "UpPassSource",
    "cache_directory",
    "cache_up_pass",
    "host_mean",
    "host_source",
    "stack_cache",
    "stacked_input",
    "with_columns",
]

Batch = tuple[torch.Tensor, ...]

#: The ways of stacking on a host-side source (:func:`stack_cache`).
STACK_CACHES = ("auto", "memmap", "lazy")

#: Rows per chunk of an up-pass (that of :func:`~deepbelief.core.stack.up_pass`: the same
#: chunks give the same floating-point results as in memory).
UP_PASS_ROWS = 8192

_settings: dict[str, Any] = {"mode": "auto", "directory": None}


@contextmanager
def stack_cache(mode: str = "auto", directory: str | os.PathLike | None = None):
    """Choose how greedy stacking passes data larger than memory up to the next layer.

    Parameters
    ----------
    mode : {'auto', 'memmap', 'lazy'}, default 'auto'
        'memmap': cache each layer's input once in a temporary memory-mapped file; 'lazy':
        pass every mini-batch up through the trained layers, each epoch; 'auto': 'memmap'
        on the CPU when the layer above trains for more than one epoch and the folder has
        room for the file, else 'lazy'. In-memory data (arrays, tensors, sparse matrices)
        is never affected.
    directory : str or path-like, optional
        Where cache files go (default: :func:`tempfile.gettempdir`, i.e. ``TMPDIR``); it
        should be on a disk, not in memory (``tmpfs``).

    Raises
    ------
    ValueError
        If ``mode`` is not one of :data:`STACK_CACHES`, or ``directory`` is not a folder.

    Examples
    --------
    >>> with stack_cache("lazy"):
    ...     pass  # DBNTransformer(...).fit(memmap) here maps every batch up lazily
    """
    if mode not in STACK_CACHES:
        raise ValueError(f"mode must be one of {STACK_CACHES}, got {mode!r}.")
    if directory is not None and not os.path.isdir(directory):
        raise ValueError(f"directory={str(directory)!r} is not a folder; create it first.")
    saved = dict(_settings)
    _settings.update(mode=mode, directory=directory)
    try:
        yield
    finally:
        _settings.update(saved)


def cache_directory() -> str | os.PathLike | None:
    """The folder of temporary files (caches, spooled streams) that :func:`stack_cache`
    chose; None: :func:`tempfile.gettempdir`."""
    return _settings["directory"]


def host_source(data: Any) -> bool:
    """Whether ``data`` is a source read from the host in pieces (a file, a stream, a lazy
    up-pass): not tensors, a :class:`TensorSource` or an in-memory sparse matrix."""
    return isinstance(data, BatchSource) and not isinstance(data, (TensorSource, SparseSource))


class _MappedSource:
    """A source whose batches, chunks and head are those of ``self.source`` passed through
    ``self._map`` (one batch at a time)."""

    source: Any

    def _map(self, batch: Batch) -> Batch:
        raise NotImplementedError

    def batches(self, batch_size: int, generator: torch.Generator | None) -> Iterator[Batch]:
        """One epoch of ``source``'s mini-batches (its draws), each mapped."""
        return map(self._map, self.source.batches(batch_size, generator))

    def chunks(self, size: int) -> Iterator[Batch]:
        """Consecutive, unshuffled chunks of ``source``, each mapped."""
        return map(self._map, self.source.chunks(size))

    def head(self, n: int) -> Batch:
        return self._map(self.source.head(n))

    def take(self, index) -> Batch:
        """The rows ``index`` of ``source`` (an ArraySource: rows at those positions),
        mapped (:class:`~deepbelief.training.resampled.ResampledSource` draws so)."""
        return self._map(self.source.take(index))


class UpPassSource(_MappedSource):
    """The mini-batches of ``source`` passed up through ``layers`` on the device.

    The batches are drawn as ``source`` draws them (its one permutation per epoch), then
    each passes through :func:`~deepbelief.core.stack.up_pass`, so nothing as long as the
    data is ever held.

    Parameters
    ----------
    source : BatchSource
        The data of the bottom layer, with a ``chunks(size)`` method (an
        :class:`~deepbelief.training.sources.ArraySource` or
        :class:`~deepbelief.training.iterable_source.IterableSource`).
    layers : sequence of layers, bottom first
        Trained layers on ``source.device``.

    Examples
    --------
    >>> from deepbelief.core.rbm import RBMModule
    >>> source = UpPassSource(ArraySource(np.ones((5, 6))), [RBMModule(6, 4)])
    >>> source.n_samples, source.n_features, source.head(2)[0].shape
    (5, 4, torch.Size([2, 4]))
    """

    def __init__(self, source: BatchSource, layers: Sequence) -> None:
        if isinstance(source, UpPassSource):  # one pass through every layer
            source, layers = source.source, [*source.layers, *layers]
        self.source, self.layers = source, list(layers)
        self.n_samples, self.device = source.n_samples, source.device

    @property
    def n_features(self) -> int:
        return self.layers[-1].n_hidden

    def _map(self, batch: Batch) -> Batch:
        return (up_pass(self.layers, batch[0]), *batch[1:])  # labels etc. pass through

    def __repr__(self) -> str:
        return f"UpPassSource({self.source!r}, {len(self.layers)} layers)"


class JoinedColumns(_MappedSource):
    """One tensor per batch: the columns of every tensor of ``source``'s batches side by
    side (a top RBM's inputs joined with the one-hot labels); see :func:`with_columns`.

    Parameters
    ----------
    source : ArraySource or UpPassSource
        Its batches are tuples of tensors with the same rows.
    n_features : int
        Their columns in all.

    Examples
    --------
    >>> source = JoinedColumns(ArraySource(np.zeros((3, 2)), np.ones((3, 1))), 3)
    >>> source.head(1)
    (tensor([[0., 0., 1.]]),)
    """

    def __init__(self, source: Any, n_features: int) -> None:
        self.source, self.n_features = source, n_features
        self.n_samples, self.device = source.n_samples, source.device

    @staticmethod
    def _map(batch: Batch) -> Batch:
        return (torch.cat(batch, 1),)


def with_columns(source: Any, extra: np.ndarray) -> JoinedColumns:
    """A host-side source's rows with the columns of ``extra`` beside them (e.g. one-hot
    labels, aligned with the rows of the original data), as one tensor per batch.

    ``source`` is an :class:`~deepbelief.training.sources.ArraySource` (a file or a cache)
    or an :class:`UpPassSource` over one; ``extra`` is read with the same rows.

    Examples
    --------
    >>> joined = with_columns(ArraySource(np.zeros((4, 2))), np.eye(4, dtype=np.float32))
    >>> joined.n_features, joined.head(1)[0].tolist()
    (6, [[0.0, 0.0, 1.0, 0.0, 0.0, 0.0]])
    """
    def beside(inner: ArraySource) -> ArraySource:
        if not isinstance(inner, ArraySource):
            raise TypeError(f"cannot add columns to a {type(inner).__name__}; write the "
                            "data to a file (an ArraySource) first.")
        return ArraySource(inner.arrays[0], extra, device=inner.device, rows=inner.rows,
                           transform=inner.transform)

    width = source.n_features + extra.shape[1]
    if isinstance(source, UpPassSource):
        return JoinedColumns(UpPassSource(beside(source.source), source.layers), width)
    return JoinedColumns(beside(source), width)


@torch.no_grad()
def host_mean(source: Any) -> torch.Tensor:
    """The per-feature mean of a host-side source's rows (shape (n_features,), float32, on
    its device), read chunk by chunk.

    A source that carries its mean (``column_mean``: a cache file of
    :func:`cache_up_pass`, a stream whose mean was taken while it was checked) gives it.
    Otherwise the column sums are accumulated in float64, rounded to float32 and divided by
    the number of rows in float32, as ``torch.mean`` of the dense data divides its float32
    sums: equal to the in-memory mean whenever the float32 sums are exact (binary or integer
    data such as pixels and counts, as for a sparse matrix), and within float32 rounding of
    it otherwise.

    Examples
    --------
    >>> x = (np.random.default_rng(0).random((1000, 70)) < 0.3).astype(np.float32)
    >>> host_mean(ArraySource(x)).equal(torch.from_numpy(x).mean(0))
    True
    """
    known = getattr(source, "column_mean", None)
    if known is not None:
        return known
    total = torch.zeros(source.n_features, dtype=torch.float64, device=source.device)
    for chunk in source.chunks(max(1, 2**20 // max(source.n_features, 1))):  # 4 MiB chunks
        total += chunk[0].sum(0, dtype=torch.float64)
    return total.to(torch.float32) / source.n_samples


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


@torch.no_grad()
def cache_up_pass(source: Any, layers: Sequence,
                  directory: str | os.PathLike | None = None) -> ArraySource:
    """``source``'s rows passed up through ``layers``, written once to a temporary
    memory-mapped ``.npy`` file and read back as an
    :class:`~deepbelief.training.sources.ArraySource` on ``source``'s device.

    The up-pass runs in chunks of :data:`UP_PASS_ROWS` rows, as
    :func:`~deepbelief.core.stack.up_pass` does in memory, so the cached values are those of
    the in-memory up-pass. Pages are released as they are written. The file is deleted when
    the array is freed, i.e. with the source (a process killed meanwhile leaves it behind:
    ``deepbelief-stack-*.npy`` in the folder of :func:`stack_cache`).

    Parameters
    ----------
    source : host-side source with ``chunks(size)``
    layers : sequence of layers, bottom first
    directory : str or path-like, optional
        Where the file goes (default: :func:`tempfile.gettempdir`).

    Examples
    --------
    >>> from deepbelief.core.rbm import RBMModule
    >>> x = np.random.default_rng(0).random((100, 6), dtype=np.float32)
    >>> rbm = RBMModule(6, 4)
    >>> cached = cache_up_pass(ArraySource(x), [rbm])
    >>> cached.n_features, cached.head(100)[0].equal(up_pass([rbm], torch.from_numpy(x)))
    (4, True)
    """
    n, m = source.n_samples, layers[-1].n_hidden
    handle, path = tempfile.mkstemp(suffix=".npy", prefix="deepbelief-stack-", dir=directory)
    os.close(handle)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, m))
    weakref.finalize(out, _remove, path)  # deleted with the array (and its views)
    written, lo = 0, 0
    for chunk in source.chunks(UP_PASS_ROWS):
        hidden = up_pass(layers, chunk[0]).cpu().numpy()
        out[lo : lo + len(hidden)] = hidden
        lo += len(hidden)
        written += hidden.nbytes
        if written >= RELEASE_BYTES:
            release_pages(out)
            written = 0
    out.flush()
    cached = ArraySource(out, device=source.device)
    # torch.mean over the whole file, as over the in-memory up-pass: the same float32 sums
    # (the pages it reads are the file's, released right after)
    cached.column_mean = torch.from_numpy(out).mean(0).to(source.device)
    release_pages(out)
    return cached


def _cache_fits(n_bytes: int, directory: str | os.PathLike | None) -> bool:
    folder = directory if directory is not None else tempfile.gettempdir()
    try:
        return shutil.disk_usage(folder).free > 2 * n_bytes
    except OSError:
        return False


def _mode(source: Any, layers: Sequence, epochs: int | None) -> str:
    """'memmap' or 'lazy' for the data above ``layers``, as :func:`stack_cache` says."""
    mode, directory = _settings["mode"], _settings["directory"]
    if mode != "auto":
        return mode
    size = source.n_samples * layers[-1].n_hidden * 4
    cpu = source.device.type == "cpu"
    return "memmap" if cpu and (epochs is None or epochs > 1) and _cache_fits(
        size, directory) else "lazy"


def stacked_input(data: Any, layers: Sequence, epochs: int | None = None):
    """The data of the layer above ``layers`` (just trained on ``data``), bottom first.

    In-memory data (a tensor; a :class:`~deepbelief.training.sources.SparseSource`'s matrix)
    gives :func:`~deepbelief.core.stack.up_pass` of it, a tensor, as it always has. A
    host-side source (:func:`host_source`) gives an :class:`UpPassSource` or a cached
    :class:`~deepbelief.training.sources.ArraySource` (see :func:`stack_cache`);
    ``epochs`` is how long the layer above trains (the cache pays from two epochs on).

    Examples
    --------
    >>> from deepbelief.core.rbm import RBMModule
    >>> rbm = RBMModule(6, 4)
    >>> stacked_input(torch.ones(5, 6), [rbm]).shape
    torch.Size([5, 4])
    >>> type(stacked_input(ArraySource(np.ones((5, 6))), [rbm], epochs=1)).__name__
    'UpPassSource'
    """
    if not host_source(data):
        return up_pass(layers, data.arrays[0] if isinstance(data, SparseSource) else data)
    if _mode(data, layers, epochs) == "lazy":
        return UpPassSource(data, layers)
    if isinstance(data, UpPassSource):  # pass up from the bottom once, into the cache
        data, layers = data.source, [*data.layers, *layers]
    return cache_up_pass(data, layers, _settings["directory"])
