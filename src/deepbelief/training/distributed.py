"""Data-parallel training on ``torch.distributed``: the same ``fit``, on several processes.

When a ``torch.distributed`` process group of more than one process is initialised (by
``torchrun``, or by ``deepbelief train`` launched with it), every estimator's ``fit`` trains
data-parallel with the same API: each process runs the same fit plan on the same data and
seed, and :func:`data_parallel` (entered around every
:func:`~deepbelief.training.loop.fit_epochs` of a layer trainer and a loop phase) splits
each mini-batch across the processes. With no process group, or a group of one, nothing
changes: the objective and the data go to the loop as they are.

Design
------
What is split
    ``batch_size`` is the *global* mini-batch. Every process draws the epoch's permutation
    from the shared generator (same seed, same stream position), so all agree on the global
    mini-batches, and each takes a contiguous block of rows of each
    (:func:`~deepbelief.core.sharding.split_rows`: rank ``r`` of ``W`` holds rows
    ``r·B//W`` to ``(r+1)·B//W``): :class:`ShardedSource`, over any batch source. A process
    whose block of a small last batch is empty trains on one row of it with weight 0.
The random numbers
    Inside a step, the unit types draw the random numbers of the *whole* global batch from
    the shared generator and keep their rows (:func:`~deepbelief.core.sharding.row_shard`,
    a facility of ``core`` that this module switches on), so every process samples its rows
    as one process would, and every generator stays at the same position. The draws of
    persistent chains run under the shard of the chains' rows; the binarisation of
    ``sample_inputs`` is drawn here, the same way. Dropout masks and the corruption of
    denoising autoencoder layers are drawn outside the unit types: each process draws them
    from its own stream, seeded from the run's seed and the rank (they are then not
    those of one process).
The gradients
    Each process's objective writes the mean gradient of its rows; they are weighted by the
    process's share of the batch's rows and summed across processes in **one flat
    all-reduce per step** (with the batch loss), which gives the gradient of the global
    batch: for an RBM, its positive and negative statistics. Every optimizer then takes
    the same step, so the parameters stay equal without being sent. Supervised
    fine-tuning (``DBNClassifier``, ``DBNRegressor``) uses
    ``torch.nn.parallel.DistributedDataParallel`` instead: its loss goes through the
    network's ``forward``, so DDP's bucketed all-reduce overlaps backpropagation (a
    communication hook weights the buckets by rows, and the loss is all-reduced beside).
    The deep autoencoder's fine-tuning computes its loss through ``encode`` and
    ``decode_field``, which DDP cannot see (it hooks ``forward`` only), and the layer-wise
    and up-down objectives write gradients without autograd: these use the flat
    all-reduce. L-BFGS works with both (the loss it compares is the global one).
Persistent chains
    Each process owns the chains of its rows (PCD, persistent up-down). A checkpoint
    gathers them, in rank order, into the chains one process would have (:func:`objective_state`);
    a resumed run splits them again (:func:`load_objective_state`), under any number of
    processes.
Decisions
    The epoch's loss is computed from the all-reduced batch losses; an objective's failure
    verdict is gathered (one process's verdict stops all); the callbacks' stop decision is
    rank 0's, broadcast (:class:`AgreedStop`). Parameters and the generator state are
    broadcast from rank 0 when training starts, so processes that were seeded apart still
    train one model.
Writing
    Only rank 0 writes model files (``save``), checkpoints (every process computes their
    state, rank 0 writes, all wait) and progress output (:func:`is_writer`).

Exactness
    The result equals that of one process with the same global batch and seed up to float
    rounding: the per-process sums of a batch's statistics are added in another order
    (relative differences of about 1e-7 per step). A sample differs only when a
    probability lies within that rounding of its uniform draw; the tests check agreement
    within 1e-5 (absolute, on weights of order 0.1 to 10). A correct data-parallel run, but
    not that of one process: a PCD step on a smaller last mini-batch (the chains' negative
    statistics are weighted by the processes' shares of the batch's rows, not of the
    chains), the running means of a sparsity target and of centring offsets (each process
    keeps its rows'), dropout and denoising corruption (above).
Costs and limits
    Every process holds the whole data set and computes the input of each layer above the
    first in full (one pass, next to the epochs that train on it), and draws the random
    numbers of the whole batch. Steps are not recorded into CUDA graphs; PT-PCD trains on
    one process.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

from deepbelief.core.sharding import RowShard, split_rows, world
from deepbelief.training.hooks import Callback
from deepbelief.training.loop import TrainingContext, warm_up_optimizers
from deepbelief.training.sources import Batch, BatchSource, as_source

__all__ = [
    "AgreedStop",
    "ShardedSource",
    "agreed_callbacks",
    "data_parallel",
    "is_distributed",
    "is_writer",
    "launched_by_torchrun",
    "load_objective_state",
    "objective_state",
    "rank",
    "share_generator",
    "synchronise",
    "torchrun_group",
    "world_size",
]


def rank() -> int:
    """This process's rank in the initialised process group (0 without one).

    >>> rank()
    0
    """
    return world()[0]


def world_size() -> int:
    """The number of processes of the initialised process group (1 without one).

    >>> world_size()
    1
    """
    return world()[1]


def is_distributed() -> bool:
    """Whether ``fit`` trains data-parallel: a process group of more than one process is
    initialised.

    >>> is_distributed()
    False
    """
    return world()[1] > 1


def is_writer() -> bool:
    """Whether this process writes files and progress output: rank 0 (and a lone process).

    >>> is_writer()
    True
    """
    return world()[0] == 0


def synchronise() -> None:
    """Wait for every process of the group (``torch.distributed.barrier``); nothing without
    one.

    >>> synchronise()  # one process: returns at once
    """
    if is_distributed():
        torch.distributed.barrier()


def _broadcast_object(value: Any) -> Any:
    """Rank 0's ``value`` on every process."""
    box = [value]
    torch.distributed.broadcast_object_list(box, src=0)
    return box[0]


def share_generator(generator: torch.Generator | None) -> None:
    """Give every process rank 0's state of ``generator`` (nothing without a process group
    of several processes), so that processes seeded apart (``random_state=None``) draw the
    same stream.

    >>> g = torch.Generator().manual_seed(3)
    >>> share_generator(g)  # one process: the state stays
    >>> g.initial_seed()
    3
    """
    if generator is None or not is_distributed():
        return
    state = _broadcast_object(generator.get_state())
    if rank() != 0:
        generator.set_state(state)


@torch.no_grad()
def _share_parameters(module: torch.nn.Module) -> None:
    """Rank 0's parameters and buffers on every process (in place)."""
    for tensor in module.state_dict().values():
        torch.distributed.broadcast(tensor, src=0)


def _local_rows(n_samples: int, batch_size: int, rank_: int, size: int) -> int:
    """Rows process ``rank_`` trains on in an epoch (at least one per global batch)."""
    rows = 0
    for lo in range(0, n_samples, batch_size):
        a, b = split_rows(min(batch_size, n_samples - lo), rank_, size)
        rows += max(b - a, 1)
    return rows


class ShardedSource:
    """This process's rows of each global mini-batch of ``source`` (a
    :class:`~deepbelief.training.sources.BatchSource`).

    Every process draws the same permutation (same generator state), so the global
    batches agree; each yields the rows :func:`~deepbelief.core.sharding.split_rows` gives
    it. A process whose share of a batch is empty yields the batch's last row, with weight
    0, so that it still takes part in the step's all-reduce.

    Parameters
    ----------
    source : BatchSource
        The whole data set (every process holds it).
    batch_size : int
        The global mini-batch size.
    rank, size : int
        This process's rank and the number of processes.

    Attributes
    ----------
    n_samples : int
        Rows this process trains on per epoch.
    current : tuple of (RowShard, float) or None
        The rows of the last yielded batch within its global batch, and their weight (their
        share of the batch's rows).

    Examples
    --------
    >>> from deepbelief.training.sources import TensorSource
    >>> x = torch.arange(10.0).reshape(5, 2)
    >>> first = ShardedSource(TensorSource(x), 5, rank=0, size=2)
    >>> [b[0][:, 0].tolist() for b in first.batches(5, torch.Generator().manual_seed(0))]
    [[8.0, 0.0]]
    >>> first.current
    (RowShard(lo=0, hi=2, total=5), 0.4)
    """

    def __init__(self, source: BatchSource, batch_size: int, *, rank: int, size: int) -> None:
        self.source = source
        self.device = source.device
        self.rank, self.size = rank, size
        self.n_samples = _local_rows(source.n_samples, batch_size, rank, size)
        self.current: tuple[RowShard, float] | None = None

    def batches(self, batch_size: int, generator: torch.Generator | None) -> Iterator[Batch]:
        """This process's rows of each global batch (see :class:`BatchSource`)."""
        for batch in self.source.batches(batch_size, generator):
            total = batch[0].shape[0]
            lo, hi = split_rows(total, self.rank, self.size)
            weight = (hi - lo) / total
            if hi == lo:  # nothing here: one row, weight 0
                lo = min(lo, total - 1)
                hi = lo + 1
            self.current = (RowShard(lo, hi, total), weight)
            yield tuple(t[lo:hi] for t in batch)

    def head(self, n: int) -> Batch:
        """The first ``n`` rows of the whole data set (the same on every process)."""
        return self.source.head(n)

    def __repr__(self) -> str:
        return f"ShardedSource({self.source!r}, rank={self.rank}, size={self.size})"


# -- persistent chains in checkpoints -----------------------------------------------------
def _chain_paths(objective) -> list[tuple[str, ...]]:
    """Where an objective's ``state_dict`` keeps per-row persistent chains (PCD's hidden
    state beside its visible one)."""
    if getattr(getattr(objective, "rule", None), "persistent", False):
        return [("rule", "chains"), ("rule", "hidden")]
    if getattr(objective, "persistent", False) and hasattr(objective, "chains"):
        return [("chains",)]
    return []


def _get(tree: dict, path: tuple[str, ...]):
    for key in path:
        if not isinstance(tree, dict) or key not in tree:
            return None
        tree = tree[key]
    return tree


def _replaced(tree: dict, path: tuple[str, ...], value) -> dict:
    """A copy of ``tree`` (copied along ``path`` only) with ``value`` at ``path``."""
    head, *rest = path
    return {**tree, head: _replaced(tree[head], tuple(rest), value) if rest else value}


def objective_state(objective) -> dict:
    """``objective.state_dict()``, with the persistent chains of every process gathered in
    rank order (the chains one process would hold). Every process must call it when a
    process group is initialised (a collective operation).

    >>> from deepbelief.core.rbm import RBMModule
    >>> from deepbelief.learning.contrastive import RBMObjective, make_rule
    >>> objective = RBMObjective(RBMModule(6, 3), make_rule("pcd"))
    >>> objective.rule.chains = torch.zeros(4, 6)
    >>> objective_state(objective)["rule"]["chains"].shape  # one process: its own chains
    torch.Size([4, 6])
    """
    state = objective.state_dict() if hasattr(objective, "state_dict") else {}
    if not is_distributed():
        return state
    for path in _chain_paths(objective):
        chains = _get(state, path)
        if isinstance(chains, torch.Tensor):
            blocks = [None] * world_size()
            torch.distributed.all_gather_object(blocks, chains.cpu())
            state = _replaced(state, path, torch.cat(blocks).to(chains.device))
    return state


def load_objective_state(objective, state: dict) -> None:
    """``objective.load_state_dict(state)``, each process taking its rows of the chains
    saved by :func:`objective_state` (or by one process).

    >>> from deepbelief.core.rbm import RBMModule
    >>> from deepbelief.learning.contrastive import RBMObjective, make_rule
    >>> objective = RBMObjective(RBMModule(6, 3), make_rule("pcd"))
    >>> load_objective_state(objective, {"rule": {"chains": torch.ones(5, 6)}})
    >>> objective.rule.chains.shape  # one process: all of them
    torch.Size([5, 6])
    """
    if is_distributed():
        rank_, size = world()
        for path in _chain_paths(objective):
            chains = _get(state, path)
            if isinstance(chains, torch.Tensor):
                lo, hi = split_rows(chains.shape[0], rank_, size)
                state = _replaced(state, path, chains[lo:hi].clone())
    if hasattr(objective, "load_state_dict"):
        objective.load_state_dict(state)


# -- decisions ------------------------------------------------------------------------------
class AgreedStop(Callback):
    """Runs ``callback`` and makes its stop decision rank 0's on every process: a callback
    that decides from the clock or from rank-local state would otherwise stop some
    processes and leave the others waiting for them.

    Examples
    --------
    >>> from deepbelief.training.hooks import Callback
    >>> class Stop(Callback):
    ...     def on_epoch_end(self, context):
    ...         return True
    >>> AgreedStop(Stop()).callback.on_epoch_end(None)  # its decision, broadcast in a group
    True
    """

    def __init__(self, callback) -> None:
        self.callback = callback

    def on_train_begin(self, context: TrainingContext) -> None:
        self.callback.on_train_begin(context)

    def on_epoch_begin(self, context: TrainingContext) -> None:
        self.callback.on_epoch_begin(context)

    def on_epoch_end(self, context: TrainingContext) -> bool:
        return bool(_broadcast_object(bool(self.callback.on_epoch_end(context))))

    def on_train_end(self, context: TrainingContext) -> None:
        self.callback.on_train_end(context)


def agreed_callbacks(callbacks: list) -> list:
    """``callbacks`` (objects with the four hooks) each wrapped in :class:`AgreedStop` in a
    process group of several processes; as they are otherwise.

    >>> callbacks = [object()]
    >>> agreed_callbacks(callbacks) is callbacks  # one process
    True
    """
    return [AgreedStop(c) for c in callbacks] if is_distributed() else callbacks


# -- the entry point ------------------------------------------------------------------------
def _fingerprint(module: torch.nn.Module, source: BatchSource, batch_size: int) -> tuple:
    """What every process must agree on: sizes, shapes and a checksum of the first rows."""
    head = source.head(256)
    weights = torch.arange(1, head[0].shape[0] + 1, dtype=torch.float64)  # order matters
    sums = tuple(round(float(t.double().reshape(len(t), -1).sum(1).cpu() @ weights), 6)
                 for t in head)
    return (source.n_samples, int(batch_size), tuple(tuple(t.shape[1:]) for t in head), sums,
            tuple((name, tuple(p.shape)) for name, p in module.named_parameters()))


def _check_agreement(module: torch.nn.Module, source: BatchSource, batch_size: int,
                     size: int) -> None:
    """Refuse, on every process alike, data or settings that differ between processes
    (which would otherwise hang at the first all-reduce or abort inside gloo)."""
    mine = _fingerprint(module, source, batch_size)
    every = [None] * size
    torch.distributed.all_gather_object(every, mine)
    odd = [r for r, theirs in enumerate(every) if theirs != every[0]]
    if odd:
        what = ["rows", "batch size", "features", "first rows' values", "layer sizes"]
        differ = [w for i, w in enumerate(what) if any(every[r][i] != every[0][i] for r in odd)]
        raise ValueError(f"Processes {odd} were given other data or settings than process 0 "
                         f"(their {', '.join(differ)} differ): every process must call fit "
                         "with the same data, in the same order, and the same parameters.")


def _check_split(module: torch.nn.Module, source: BatchSource, batch_size: int,
                 size: int) -> None:
    """Refuse what cannot train data-parallel, saying what to change."""
    rows = min(batch_size, source.n_samples)
    if rows < size:
        raise ValueError(f"A mini-batch of {rows} rows cannot be split across {size} "
                         f"processes: give batch_size >= {size} (the global mini-batch) and "
                         f"at least {size} samples, or start fewer processes.")
    backend = str(torch.distributed.get_backend())
    device = next(module.parameters()).device
    if backend == "nccl" and device.type != "cuda":
        raise ValueError("The process group's backend is NCCL, which reduces CUDA tensors "
                         f"only, but the model is on {device}: train with device='cuda', or "
                         "initialise the group with backend='gloo' (or 'cpu:gloo,cuda:nccl').")


@contextmanager
def data_parallel(objective, data, batch_size: int, generator: torch.Generator | None
                  ) -> Iterator[tuple[Any, Any]]:
    """``(objective, data)`` to hand to :func:`~deepbelief.training.loop.fit_epochs`:
    as they are without a process group of several processes, else a
    :class:`~deepbelief.training.allreduce.DistributedObjective` over this process's
    :class:`ShardedSource` (the parameters and the generator are first made rank 0's).

    Every process must enter it with the same objective, data and settings.

    Examples
    --------
    >>> from deepbelief.core.rbm import RBMModule
    >>> from deepbelief.learning.contrastive import RBMObjective, make_rule
    >>> objective = RBMObjective(RBMModule(6, 3), make_rule("cd"))
    >>> data = (torch.zeros(8, 6),)
    >>> with data_parallel(objective, data, 4, None) as (same, rows):
    ...     same is objective, rows is data
    (True, True)
    """
    rank_, size = world()
    if size == 1:
        yield objective, data
        return
    from deepbelief.training.allreduce import DistributedObjective

    source = as_source(data)
    if getattr(source, "streams", False):
        raise ValueError("A stream of batches (a DataLoader or a list of batches) is not "
                         "split across processes: give every process the same NumPy array, "
                         "memmap, .npy path or HDF5 dataset, or train in one process.")
    _check_agreement(objective.module, source, batch_size, size)
    _check_split(objective.module, source, batch_size, size)
    _share_parameters(objective.module)
    share_generator(generator)
    sharded = ShardedSource(source, batch_size, rank=rank_, size=size)
    wrapped = DistributedObjective(objective, sharded, generator)
    try:
        yield wrapped, sharded
    finally:
        wrapped.close()


# -- the command line -----------------------------------------------------------------------
def launched_by_torchrun() -> bool:
    """Whether this process was started by ``torchrun`` (its environment variables
    ``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT`` and ``LOCAL_RANK``).

    >>> launched_by_torchrun()  # under pytest
    False
    """
    return all(name in os.environ for name in ("RANK", "WORLD_SIZE", "MASTER_ADDR",
                                               "MASTER_PORT", "LOCAL_RANK"))


@contextmanager
def torchrun_group(device: str = "auto") -> Iterator[int]:
    """Initialise the process group from ``torchrun``'s environment variables for the
    length of the block, and destroy it at the end; yields this process's rank.

    The backend is NCCL for CUDA (``device`` 'cuda', 'cuda:N', or 'auto' where CUDA is
    available: each process then uses GPU ``LOCAL_RANK``), gloo otherwise. A group that is
    already initialised is used as it is (and left alone).

    torch's first optimizer imports ``torch._dynamo``; imported after a gloo group is
    initialised, it makes about a third of the processes abort at exit ("terminate called
    without an active exception", torch 2.13), so it is imported first
    (:func:`~deepbelief.training.loop.warm_up_optimizers`): do the same in a script that
    initialises its own group.
    """
    dist = torch.distributed
    if dist.is_initialized():
        yield dist.get_rank()
        return
    warm_up_optimizers()
    cuda = str(device).startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    if cuda:
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
    dist.init_process_group("cpu:gloo,cuda:nccl" if cuda else "gloo")
    try:
        yield dist.get_rank()
    finally:
        dist.destroy_process_group()
