"""Mini-batches streamed from a re-iterable of batches: a ``torch.utils.data.DataLoader``, a
list of arrays, or any object whose ``__iter__`` starts a new pass each time.

Data that neither fits in memory nor lies in one file (images decoded from disk, a data
base, random augmentations) reaches :func:`~deepbelief.training.loop.fit_epochs` through
:class:`IterableSource`: each epoch is one pass over the iterable, whose rows are regrouped
into the loop's ``batch_size``. The rows come in the iterable's order (shuffle them in the
``DataLoader``: ``shuffle=True``); the source draws nothing from the loop's generator.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np
import torch

__all__ = ["HEAD_ROWS", "IterableSource", "batch_rows", "one_shot_error", "regroup"]

Batch = tuple[torch.Tensor, ...]

#: Rows of the first pass kept for :meth:`IterableSource.head` (the rows monitored after
#: each epoch; ``fit_epochs`` asks for 2048).
HEAD_ROWS = 2048


def one_shot_error(data: Any, what: str = "X") -> TypeError:
    """The error for a one-shot iterator (a generator), with what to pass instead."""
    return TypeError(
        f"{what} is a one-shot iterator ({type(data).__name__}): training reads the data once "
        "to check it and once per epoch, but an iterator is used up after one pass. Pass "
        "something that can be iterated again: a list of the batches (list(batches)), a "
        "torch.utils.data.DataLoader, or an object whose __iter__ returns a new iterator "
        "each time.")


def batch_rows(item: Any) -> np.ndarray:
    """The rows of one batch of an iterable as a 2-D NumPy array: the batch itself (an
    array or tensor), or the first element of a tuple or list such as a ``DataLoader``'s
    ``[x, y]`` (the others are labels or ignored).

    Raises
    ------
    ValueError
        If the rows are not two-dimensional (rows by features).

    Examples
    --------
    >>> import torch
    >>> batch_rows([torch.ones(2, 3), torch.zeros(2)]).shape
    (2, 3)
    """
    if isinstance(item, (tuple, list)):
        item = item[0]
    if isinstance(item, torch.Tensor):
        item = item.detach().cpu().numpy()
    rows = np.asarray(item)
    if rows.ndim != 2:
        raise ValueError(f"Each batch must hold a 2-D array of rows by features (or a tuple "
                         f"whose first element is one), got shape {rows.shape}; reshape "
                         "the batches, e.g. x.reshape(len(x), -1).")
    return rows


def regroup(parts: Iterable[np.ndarray], size: int) -> Iterator[np.ndarray]:
    """Consecutive runs of ``size`` rows (the last may be smaller) of the concatenated
    ``parts``.

    Examples
    --------
    >>> parts = [np.zeros((3, 2)), np.zeros((4, 2)), np.zeros((1, 2))]
    >>> [len(p) for p in regroup(parts, 5)]
    [5, 3]
    """
    pending: list[np.ndarray] = []
    count = 0
    for part in parts:
        pending.append(part)
        count += len(part)
        while count >= size:
            rows = np.concatenate(pending) if len(pending) > 1 else pending[0]
            yield rows[:size]
            rest = rows[size:]
            pending, count = ([rest] if len(rest) else []), len(rest)
    if count:
        yield np.concatenate(pending) if len(pending) > 1 else pending[0]


class IterableSource:
    """Mini-batches from a re-iterable of batches, one pass per epoch.

    Parameters
    ----------
    iterable : re-iterable
        Each pass yields batches: 2-D arrays or tensors (rows by features), or tuples or
        lists whose first element is one (a ``DataLoader`` over a ``TensorDataset(X, y)``
        yields ``[x, y]``; the labels are ignored). Each pass must yield the same number
        of rows (in any order).
    device : str or torch.device, default='cpu'
        Where the batches go (as ``float32``).
    n_samples, n_features : int, optional
        Rows per pass and columns, when known (e.g. from a check of the data); else
        counted now, in one pass.
    check : callable, optional
        ``check(rows, first_row)``: called on each batch's rows (a NumPy array) as it is
        read, with the position of its first row in the pass; raises to refuse the data.
    transform : callable, optional
        ``transform(rows) -> rows`` on the host, before the rows become a tensor (e.g.
        clipping to the visible units' range); it must act on each row independently.

    Raises
    ------
    TypeError
        If ``iterable`` is a one-shot iterator (a generator): see :func:`one_shot_error`.
    ValueError
        If a batch is not 2-D, the widths differ, or a pass yields a different number of
        rows than ``n_samples``.

    Examples
    --------
    >>> import torch
    >>> batches = [torch.ones(3, 2), torch.zeros(4, 2)]
    >>> source = IterableSource(batches)
    >>> source.n_samples, source.n_features
    (7, 2)
    >>> [len(b[0]) for b in source.batches(5, None)]
    [5, 2]
    >>> source.head(1)
    (tensor([[1., 1.]]),)
    """

    #: Read in its own order, one pass per epoch (no random access to shard).
    streams = True

    def __init__(self, iterable: Iterable, *, device: str | torch.device = "cpu",
                 n_samples: int | None = None, n_features: int | None = None,
                 check: Callable[[np.ndarray, int], None] | None = None,
                 transform: Callable[[np.ndarray], np.ndarray] | None = None) -> None:
        if iter(iterable) is iterable:
            raise one_shot_error(iterable)
        self.iterable = iterable
        self.device = torch.device(device)
        self.check, self.transform = check, transform
        self.n_features = n_features
        self._head: np.ndarray | None = None
        self.n_samples = n_samples
        if n_samples is None or n_features is None:
            n_samples = sum(len(rows) for rows in self._pass())
        self.n_samples = int(n_samples)

    def _pass(self) -> Iterator[np.ndarray]:
        """One pass: every batch's rows, checked; the first rows are kept for :meth:`head`."""
        seen = 0
        keep = self._head is None or len(self._head) < min(HEAD_ROWS, self.n_samples or 0)
        kept: list[np.ndarray] = []
        for item in self.iterable:
            rows = batch_rows(item)
            if self.n_features is None:
                self.n_features = rows.shape[1]
            elif rows.shape[1] != self.n_features:
                raise ValueError(f"A batch has {rows.shape[1]} features but the first had "
                                 f"{self.n_features}: every batch needs the same columns.")
            if self.check is not None:
                self.check(rows, seen)
            if keep and seen < HEAD_ROWS:
                kept.append(np.array(rows[: HEAD_ROWS - seen]))
                self._head = np.concatenate(kept)
            seen += len(rows)
            yield rows

    def _tensor(self, rows: np.ndarray) -> torch.Tensor:
        if self.transform is not None:
            rows = self.transform(rows)
        return torch.from_numpy(np.ascontiguousarray(rows, dtype=np.float32)).to(self.device)

    def chunks(self, size: int) -> Iterator[Batch]:
        """One pass in runs of ``size`` rows, in the iterable's order."""
        seen = 0
        for rows in regroup(self._pass(), size):
            seen += len(rows)
            yield (self._tensor(rows),)
        if seen != self.n_samples:
            raise ValueError(
                f"The iterable yielded {seen} rows in this pass but {self.n_samples} when it "
                "was first read: every pass must yield the same rows (in any order).")

    def batches(self, batch_size: int, generator: torch.Generator | None) -> Iterator[Batch]:
        """One epoch: a pass over the iterable in mini-batches of ``batch_size`` rows, in
        its order (nothing is drawn from ``generator``)."""
        return self.chunks(batch_size)

    def head(self, n: int) -> Batch:
        """The first ``n`` rows of the first pass that read them (at most
        :data:`HEAD_ROWS` are kept, so that monitoring sees the same rows every epoch)."""
        wanted = min(n, HEAD_ROWS, self.n_samples)
        if self._head is None or len(self._head) < wanted:
            self._head = None
            for _ in self._pass():
                if len(self._head) >= wanted:
                    break
        return (self._tensor(self._head[:n]),)

    def __repr__(self) -> str:
        return (f"IterableSource({type(self.iterable).__name__}, n_samples={self.n_samples}, "
                f"device={self.device})")
