"""Rows of a batch split across processes, and the random draws of those rows.

In data-parallel training (:mod:`deepbelief.training.distributed`) each of ``world``
processes holds a contiguous block of rows of every global mini-batch:
:func:`split_rows` says which. For the result to equal one process trained on the whole
batch, every process must also use the random numbers that one process would have drawn
for *its* rows, and every process's generator must stay at the same position of the shared
stream (the next epoch's permutation is drawn from it). So, inside :func:`row_shard`, the
draws of the unit types (:mod:`deepbelief.core.units`) and of AIS are made for the whole
global batch, from the shared generator, and each process keeps its own rows:

>>> g = lambda: torch.Generator().manual_seed(0)
>>> whole = uniform((5, 3), g(), "cpu", torch.float32)  # one process, 5 rows
>>> with row_shard(RowShard(2, 5, 5)):  # the second of two processes holds rows 2 to 4
...     mine = uniform((3, 3), g(), "cpu", torch.float32)
>>> torch.equal(mine, whole[2:])
True

Outside :func:`row_shard` (one process: the default) every draw is the plain torch call,
so single-process results are bit for bit those of before. A draw whose rows do not match
the active shard is refused (RuntimeError): it would put the processes' generators out of
step. Drawing the global batch's numbers costs each process ``world`` times its share of
the random numbers, a few per cent of a CD step whose matrix products are split.

This module also answers which process this is (:func:`world`), without importing the
training layer, and gathers rows back (:func:`gather_rows`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import torch

__all__ = ["RowShard", "active_shard", "categorical", "gather_rows", "global_shape",
           "normal", "row_shard", "split_rows", "uniform", "world"]


def world() -> tuple[int, int]:
    """``(rank, world_size)`` of the initialised ``torch.distributed`` process group;
    ``(0, 1)`` when none is (or torch was built without it).

    >>> world()
    (0, 1)
    """
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def split_rows(total: int, rank: int, size: int) -> tuple[int, int]:
    """The rows ``[lo, hi)`` of ``total`` that process ``rank`` of ``size`` holds: contiguous
    blocks in rank order, whose sizes differ by at most one (the later ranks get the extra
    rows).

    >>> [split_rows(5, r, 2) for r in range(2)]
    [(0, 2), (2, 5)]
    """
    return rank * total // size, (rank + 1) * total // size


@dataclass(frozen=True)
class RowShard:
    """The rows ``[lo, hi)`` of a global batch of ``total`` rows held by this process.

    >>> RowShard(2, 5, 5).rows
    3
    """

    lo: int
    hi: int
    total: int

    @property
    def rows(self) -> int:
        return self.hi - self.lo


_ACTIVE: ContextVar[RowShard | None] = ContextVar("deepbelief_row_shard", default=None)


@contextmanager
def row_shard(shard: RowShard | None) -> Iterator[RowShard | None]:
    """Make the draws of this block those of rows ``shard.lo:shard.hi`` of a global batch
    (None: plain draws). Nested blocks replace the outer shard until they end.

    >>> with row_shard(RowShard(0, 1, 2)):
    ...     active_shard()
    RowShard(lo=0, hi=1, total=2)
    >>> active_shard() is None
    True
    """
    token = _ACTIVE.set(shard)
    try:
        yield shard
    finally:
        _ACTIVE.reset(token)


def active_shard() -> RowShard | None:
    """The shard of the innermost :func:`row_shard` block, or None."""
    return _ACTIVE.get()


def global_shape(shape: tuple[int, ...]) -> tuple[RowShard | None, tuple[int, ...]]:
    """``(shard, shape of the global draw)`` for a draw of ``shape`` made by this process:
    ``(None, shape)`` outside :func:`row_shard`, else the active shard and ``shape`` with
    the global batch's number of rows.

    Raises
    ------
    RuntimeError
        Inside :func:`row_shard`, when ``shape[0]`` is not the shard's number of rows.

    >>> with row_shard(RowShard(2, 5, 5)):
    ...     global_shape((3, 4))
    (RowShard(lo=2, hi=5, total=5), (5, 4))
    """
    shard = _ACTIVE.get()
    if shard is None:
        return None, tuple(shape)
    if not shape or shape[0] != shard.rows:
        raise RuntimeError(f"a random draw of shape {tuple(shape)} inside a row shard of "
                           f"{shard.rows} rows (rows {shard.lo}:{shard.hi} of {shard.total}): "
                           "the processes' random streams would drift apart. Draw per row "
                           "of the batch, or outside deepbelief.core.sharding.row_shard.")
    return shard, (shard.total, *shape[1:])


def uniform(shape: tuple[int, ...], generator: torch.Generator | None, device,
            dtype: torch.dtype) -> torch.Tensor:
    """``torch.rand(shape)``, or this process's rows of the global batch's draw.

    Raises
    ------
    RuntimeError
        Inside :func:`row_shard`, when ``shape[0]`` is not the shard's number of rows.
    """
    shard, full = global_shape(shape)
    values = torch.rand(full, generator=generator, device=device, dtype=dtype)
    return values if shard is None else values[shard.lo:shard.hi]


def normal(shape: tuple[int, ...], generator: torch.Generator | None, device,
           dtype: torch.dtype) -> torch.Tensor:
    """``torch.randn(shape)``, or this process's rows of the global batch's draw (see
    :func:`uniform`).

    >>> normal((2, 3), torch.Generator().manual_seed(0), "cpu", torch.float32).shape
    torch.Size([2, 3])
    """
    shard, full = global_shape(shape)
    values = torch.randn(full, generator=generator, device=device, dtype=dtype)
    return values if shard is None else values[shard.lo:shard.hi]


def _padded(values: torch.Tensor, fill: float) -> tuple[RowShard | None, torch.Tensor]:
    """``values`` placed at this process's rows of a global batch filled with ``fill``, so
    that a draw that consumes the stream per element of its input consumes it as the
    global draw would."""
    shard, full = global_shape(values.shape)
    if shard is None:
        return None, values
    padded = values.new_full(full, fill)
    padded[shard.lo:shard.hi] = values
    return shard, padded


def categorical(probs: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """One index per row drawn from ``probs`` (rows of probabilities), shape ``(rows, 1)``:
    ``torch.multinomial(probs, 1)``, or this process's rows of the global batch's draw.

    >>> categorical(torch.tensor([[0.0, 1.0], [1.0, 0.0]]), None).tolist()
    [[1], [0]]
    """
    shard, full = _padded(probs, 1.0)
    index = torch.multinomial(full, 1, generator=generator)
    return index if shard is None else index[shard.lo:shard.hi]


def gather_rows(rows: torch.Tensor, total: int) -> torch.Tensor:
    """The rows of every process, in rank order: ``total`` rows, the inverse of taking
    :func:`split_rows` on each. The same result on every process; ``rows`` itself when
    there is no process group.

    Every process must call it (it is a collective operation).

    Raises
    ------
    ValueError
        If ``rows`` does not have this process's number of rows of ``total``.

    Examples
    --------
    >>> gather_rows(torch.arange(3.0), 3)  # one process holds every row
    tensor([0., 1., 2.])
    """
    rank, size = world()
    lo, hi = split_rows(total, rank, size)
    if rows.shape[0] != hi - lo:
        raise ValueError(f"process {rank} holds {rows.shape[0]} rows, but its share of "
                         f"{total} is {hi - lo}.")
    if size == 1:
        return rows
    width = -(-total // size)  # every block padded to the largest
    padded = rows.new_zeros((width, *rows.shape[1:]))
    padded[: hi - lo] = rows
    blocks = [torch.empty_like(padded) for _ in range(size)]
    torch.distributed.all_gather(blocks, padded)
    return torch.cat([block[: b - a] for block, (a, b) in
                      zip(blocks, (split_rows(total, r, size) for r in range(size)),
                          strict=True)])
