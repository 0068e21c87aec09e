"""The objective of one process in data-parallel training: its rows' gradients, all-reduced
into the global mini-batch's (see :mod:`deepbelief.training.distributed` for the design).

:class:`DistributedObjective` wraps any objective of
:func:`~deepbelief.training.loop.fit_epochs` (the loop drives it as it drives the one it
wraps): each step runs the wrapped objective on this process's rows under the batch's
:func:`~deepbelief.core.sharding.row_shard`, then sums the gradients weighted by the rows'
share of the batch across processes, in one flat all-reduce (or through
``DistributedDataParallel`` for supervised fine-tuning). :data:`COMMUNICATION` counts the
time and bytes of those all-reduces (the benchmarks read it).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch.nn.parallel import DistributedDataParallel

from deepbelief.core.coins import flip_coins
from deepbelief.core.network import Dropout
from deepbelief.core.sharding import RowShard, row_shard, world
from deepbelief.learning.supervised import SupervisedObjective
from deepbelief.training.distributed import (
    ShardedSource,
    load_objective_state,
    objective_state,
)

__all__ = ["COMMUNICATION", "CommunicationLog", "DistributedObjective"]


@dataclass
class CommunicationLog:
    """Seconds spent in the flat all-reduces of the training steps, their number and bytes
    (this process; DDP's overlapped buckets are not counted)."""

    seconds: float = 0.0
    calls: int = 0
    bytes: int = 0

    def reset(self) -> None:
        self.seconds, self.calls, self.bytes = 0.0, 0, 0


#: The all-reduces of this process since the last ``reset()``.
COMMUNICATION = CommunicationLog()


@contextmanager
def _swapped(owner, name: str, value) -> Iterator[None]:
    """``owner.name`` set to ``value`` for the block."""
    before = getattr(owner, name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, before)


class _ChainRows:
    """A persistent rule whose Gibbs steps draw under the shard of the chains' rows (which
    differ from the batch's on a smaller last batch)."""

    def __init__(self, rule, shard: RowShard) -> None:
        self.rule, self.shard = rule, shard

    def negative_phase(self, *args, **kwargs):
        with row_shard(self.shard):
            return self.rule.negative_phase(*args, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self.rule, name)


class _NetworkDDP(DistributedDataParallel):
    """DDP over a :class:`~deepbelief.core.network.FeedForwardDBN`, which the supervised
    objective also hands its generator (for dropout)."""

    def set_generator(self, generator: torch.Generator | None) -> None:
        self.module.set_generator(generator)


def _rows_weighted_sum(weight: list[float], bucket):
    """DDP communication hook: the bucket's gradients times this process's share of the
    batch's rows, summed over processes (the global batch's mean gradient)."""
    buffer = bucket.buffer()
    if weight[0]:
        buffer.mul_(weight[0])
    else:
        buffer.zero_()
    future = torch.distributed.all_reduce(buffer, async_op=True).get_future()
    return future.then(lambda done: done.value()[0])


def _draws_outside_units(objective) -> bool:
    """Whether ``objective`` draws random numbers that the row shard does not reach:
    dropout masks, the corruption of a denoising autoencoder layer."""
    module = getattr(objective, "module", None)
    dropout = module is not None and any(isinstance(m, Dropout) and m.p > 0
                                         for m in module.modules())
    corrupts = (getattr(objective, "corruption", None) is not None
                and getattr(objective, "corruption_level", 0) > 0)
    return dropout or corrupts


class DistributedObjective:
    """An objective trained on this process's rows of each global mini-batch.

    Parameters
    ----------
    objective : object
        Any objective of :func:`~deepbelief.training.loop.fit_epochs` (``module``,
        ``gradients_``; optionally ``evaluate_``, ``monitor``, ``failure``, ``state_dict``).
    source : ShardedSource
        This process's rows; ``source.current`` tells each step which rows it holds.
    generator : torch.Generator or None
        The run's shared generator (to seed this process's own stream for the draws the row
        shard does not reach, see :mod:`deepbelief.training.distributed`).

    Notes
    -----
    Attributes that are not its own are read from and written to ``objective`` (a callback
    may set ``context.objective.k``). ``gradients_`` and ``evaluate_`` return the global
    batch's loss; ``monitor`` adds the epoch's global ``loss``, which replaces the loop's
    count of this process's rows.

    Examples
    --------
    Built by :func:`~deepbelief.training.distributed.data_parallel` in a process group; it
    reads and writes the wrapped objective's attributes:

    >>> from deepbelief.core.rbm import RBMModule
    >>> from deepbelief.learning.contrastive import RBMObjective, make_rule
    >>> from deepbelief.training.sources import TensorSource
    >>> objective = RBMObjective(RBMModule(6, 3), make_rule("cd"))
    >>> rows = ShardedSource(TensorSource(torch.zeros(8, 6)), 4, rank=0, size=2)
    >>> wrapped = DistributedObjective(objective, rows, None)
    >>> wrapped.module is objective.module, wrapped.graph_safe
    (True, False)
    >>> wrapped.sample_inputs = True
    >>> objective.sample_inputs
    True
    """

    graph_safe = False  # the all-reduce is not recorded into CUDA graphs

    def __init__(self, objective, source: ShardedSource,
                 generator: torch.Generator | None) -> None:
        self._inner = objective
        self._source = source
        self._rank, self._size = world()
        self._params = list(objective.module.parameters())
        self._loss_sum = torch.zeros((), device=source.device)
        self._has_loss = False
        self._chains: RowShard | None = None
        self._weight = [1.0]  # the DDP hook's: a list, so the hook holds no reference here
        self._noise = None
        if _draws_outside_units(objective):
            device = source.device
            seed = (0 if generator is None else generator.initial_seed()) * 1_000_003
            self._noise = torch.Generator(device=device).manual_seed(
                (seed + self._rank + 1) % 2**63)
        self._ddp = None
        if type(objective) is SupervisedObjective:
            device = source.device
            ids = None if device.type != "cuda" else [
                torch.cuda.current_device() if device.index is None else device.index]
            self._ddp = _NetworkDDP(objective.module, device_ids=ids)
            self._ddp.register_comm_hook(self._weight, _rows_weighted_sum)

    # -- what the loop reads and writes ---------------------------------------------------
    @property
    def module(self) -> torch.nn.Module:
        return self._inner.module

    def __getattr__(self, name: str):
        inner = self.__dict__.get("_inner")
        if inner is None or name.startswith("__"):
            raise AttributeError(name)
        return getattr(inner, name)

    def __setattr__(self, name: str, value) -> None:
        if name.startswith("_"):
            object.__setattr__(self, name, value)
        else:
            setattr(self._inner, name, value)

    def gradients_(self, batch: tuple[torch.Tensor, ...], generator):
        """One step on this process's rows; returns the global batch's loss (or None)."""
        return self._step(batch, generator, self._inner.gradients_, count=True)

    def evaluate_(self, batch: tuple[torch.Tensor, ...], generator):
        """:meth:`gradients_` through the wrapped objective's ``evaluate_`` (L-BFGS's line
        search), leaving the epoch's loss alone."""
        inner = self._inner
        return self._step(batch, generator, getattr(inner, "evaluate_", inner.gradients_),
                          count=False)

    def monitor(self, data: tuple[torch.Tensor, ...], generator) -> dict:
        """The wrapped objective's metrics, and the epoch's ``loss`` over the global batches
        (as one process counts it: the batch losses weighted by their rows)."""
        inner = self._inner
        metrics = dict(inner.monitor(data, generator)) if hasattr(inner, "monitor") else {}
        if self._has_loss:
            metrics["loss"] = float(self._loss_sum) / self._source.source.n_samples
        self._loss_sum = torch.zeros((), device=self._source.device)
        self._has_loss = False
        return metrics

    def failure(self, data: tuple[torch.Tensor, ...]) -> str | None:
        """The wrapped objective's verdict on any process (every process then stops)."""
        if not hasattr(self._inner, "failure"):
            return None
        verdicts = [None] * self._size
        torch.distributed.all_gather_object(verdicts, self._inner.failure(data))
        return next((v for v in verdicts if v), None)

    def state_dict(self) -> dict:
        """The wrapped objective's state, with every process's chains (a collective)."""
        return objective_state(self._inner)

    def load_state_dict(self, state: dict) -> None:
        load_objective_state(self._inner, state)
        self._chains = None

    def close(self) -> None:
        """Release the DDP wrapper (its reducer and hooks on the network's parameters) now,
        not at some later garbage collection: a reducer destroyed after its process group
        aborts the process."""
        if self._ddp is not None:
            self._ddp = None
            gc.collect()

    # -- one step -------------------------------------------------------------------------
    def _step(self, batch, generator, method, *, count: bool):
        shard, weight = self._source.current
        inner = self._inner
        with row_shard(shard), self._prepared(shard, weight):
            if getattr(inner, "sample_inputs", False):
                batch = (flip_coins(batch[0], generator), *batch[1:])
                with _swapped(inner, "sample_inputs", False):
                    loss = method(batch, self._noise or generator)
            else:
                loss = method(batch, self._noise or generator)
        loss = self._reduce(loss, weight)
        if count and loss is not None:
            self._loss_sum += loss * shard.total
            self._has_loss = True
        return loss

    @contextmanager
    def _prepared(self, shard: RowShard, weight: float) -> Iterator[None]:
        """The wrapped objective as this step needs it: the DDP network in place of the
        network, or a persistent rule drawing under its chains' shard."""
        inner = self._inner
        if self._ddp is not None:
            self._weight[0] = weight
            with _swapped(inner, "module", self._ddp):
                yield
            return
        rule = getattr(inner, "rule", None)
        if not getattr(rule, "persistent", False) or getattr(inner.module, "n_context", 0):
            yield
            return
        if rule.chains is None:  # the chains start as this step's rows
            self._chains = shard
        elif self._chains is None:
            self._chains = self._chain_rows(rule.chains.shape[0])
        with _swapped(inner, "rule", _ChainRows(rule, self._chains)):
            yield

    def _chain_rows(self, rows: int) -> RowShard:
        """Where this process's ``rows`` chains lie among every process's (a collective)."""
        counts = [0] * self._size
        torch.distributed.all_gather_object(counts, rows)
        lo = sum(counts[: self._rank])
        return RowShard(lo, lo + rows, sum(counts))

    def _reduce(self, loss: torch.Tensor | None, weight: float) -> torch.Tensor | None:
        """The global batch's loss; without DDP, also the gradients (one all-reduce)."""
        if self._ddp is not None:
            if loss is None:
                return None
            total = (loss * weight).reshape(1)
            torch.distributed.all_reduce(total)
            return total[0]
        grads = [p.grad for p in self._params if p.grad is not None]
        parts = [g.reshape(-1) for g in grads]
        if loss is not None:
            parts.append(loss.reshape(1).to(parts[0].dtype if parts else loss.dtype))
        flat = torch.cat(parts)
        if weight:
            flat.mul_(weight)
        else:
            flat.zero_()
        start = time.perf_counter()
        torch.distributed.all_reduce(flat)
        COMMUNICATION.seconds += time.perf_counter() - start
        COMMUNICATION.calls += 1
        COMMUNICATION.bytes += flat.numel() * flat.element_size()
        offset = 0
        for g in grads:
            g.copy_(flat[offset:offset + g.numel()].view_as(g))
            offset += g.numel()
        return None if loss is None else flat[-1].to(loss.dtype)
