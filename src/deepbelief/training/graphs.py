"""CUDA graphs for the optimizer steps of an epoch: the CD/PCD step without launch overhead.

One CD-1 step of a 784 x 500 RBM on a mini-batch of 128 is about 20 small kernels (five
matrix products, the sampling, the statistics, the fused SGD update). On a GPU each takes a
few microseconds, so the step is bound by Python and by the launch of each kernel, not by
the arithmetic: an epoch of MNIST ran at 2 % of an H100's float32 peak when launched
eagerly. :class:`GraphedSteps` records ``group`` consecutive steps once into a
``torch.cuda.CUDAGraph`` (Nvidia's CUDA graphs, through PyTorch) and then replays the whole
group with one launch; the only other work per group is one copy of the group's row indices
into a static buffer. The mini-batches are gathered inside the graph from the data resident
on the device, and the random numbers are drawn inside it from the training generator
(registered with the graph, so its stream advances at every replay).

What is graphed
    The full mini-batches of an epoch whose objective says ``graph_safe`` (an RBM objective
    under CD-k or PCD-k; see :class:`~deepbelief.learning.contrastive.RBMObjective`),
    trained from a :class:`~deepbelief.training.sources.TensorSource` on a CUDA device, with
    an optimizer that can be captured (``torch.optim.SGD``, or any whose parameter groups
    say ``capturable=True``) and needs no closure. Everything else — the CPU, objectives
    that return a loss, other sources, the last, smaller mini-batch — runs eagerly as
    before.
Re-capture
    The scalar hyper-parameters of the optimizer (learning rate, momentum, ...) are baked
    into a graph; when a schedule changes them between epochs the graphs are recorded again
    (a few milliseconds, at most once per epoch).
Warm-up
    The first ``WARM_UP_STEPS`` steps of a run are eager, on a side stream, as CUDA graph
    capture requires (the optimizer's state and the allocator's pools exist before capture).
Numbers
    The same mini-batches in the same order, and the same arithmetic; only the random
    numbers differ from an eager run (a graph draws them at other offsets of the
    generator's stream), so graphed and eager runs agree in distribution, not bit for bit.
    Graphed runs are not bit-reproducible across replays of a training run either, as no
    CUDA run is here (see the README's reproducibility section).
Switching it off
    ``DEEPBELIEF_CUDA_GRAPHS=0`` in the environment (read at each ``fit``), e.g. to compare.

On the CPU, ``GraphedSteps(..., capture=False)`` runs the very same grouped steps eagerly:
the tests use it to check the bookkeeping (indices, groups, remainders) bit for bit against
the ordinary loop.

References
----------
PyTorch documentation, "CUDA Graphs" (``torch.cuda.graphs``); J. Gray, "Getting started with
CUDA graphs", NVIDIA technical blog, 2019.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator

import torch

from deepbelief.training.sources import TensorSource, _epoch_order

__all__ = ["GROUP_STEPS", "WARM_UP_STEPS", "GraphedSteps", "cuda_graphs_enabled",
           "graphed_steps"]

#: Optimizer steps recorded in one graph (one launch replays them all).
GROUP_STEPS = 16
#: Eager steps before the first capture (CUDA graph capture needs a warmed-up optimizer).
WARM_UP_STEPS = 3


def cuda_graphs_enabled() -> bool:
    """Whether CUDA graphs are on: yes unless ``DEEPBELIEF_CUDA_GRAPHS`` is ``'0'``,
    ``'false'``, ``'no'`` or ``'off'``.

    Examples
    --------
    >>> isinstance(cuda_graphs_enabled(), bool)
    True
    """
    value = os.environ.get("DEEPBELIEF_CUDA_GRAPHS", "1").strip().lower()
    return value not in ("0", "false", "no", "off")


def _capturable(optimizer: torch.optim.Optimizer) -> bool:
    if isinstance(optimizer, torch.optim.SGD):
        return True
    return all(group.get("capturable", False) for group in optimizer.param_groups)


def _hyper_parameters(optimizer: torch.optim.Optimizer) -> tuple:
    """The scalar settings of every parameter group: what a captured step bakes in."""
    return tuple(
        tuple(sorted((k, v) for k, v in group.items()
                     if k != "params" and isinstance(v, (int, float, bool))))
        for group in optimizer.param_groups
    )


class GraphedSteps:
    """Train the full mini-batches of each epoch in groups of steps replayed as CUDA graphs.

    Parameters
    ----------
    objective : object
        The loop's objective (``module``, ``gradients_``); its ``gradients_`` must do only
        in-place updates of persistent state and return None (``graph_safe``).
    optimizer : torch.optim.Optimizer
        A capturable optimizer over ``objective.module``'s parameters (see module docstring).
    source : TensorSource
        The training tensors, resident on the device.
    batch_size : int
        Rows per mini-batch.
    generator : torch.Generator or None
        The training run's random stream (on the device).
    group : int, default :data:`GROUP_STEPS`
        Steps per graph.
    capture : bool, default True
        False runs the grouped steps eagerly (on any device; for tests).

    Examples
    --------
    On the CPU (``capture=False``) the grouped steps equal the loop's ordinary ones:

    >>> import torch
    >>> from deepbelief.core.rbm import RBMModule
    >>> from deepbelief.learning.contrastive import ContrastiveDivergence, RBMObjective
    >>> rbm = RBMModule(6, 3)
    >>> objective = RBMObjective(rbm, ContrastiveDivergence())
    >>> optimizer = torch.optim.SGD(rbm.parameters(), lr=0.1)
    >>> source = TensorSource((torch.rand(40, 6) < 0.5).float())
    >>> steps = GraphedSteps(objective, optimizer, source, 4, torch.Generator(), capture=False)
    >>> rest = list(steps.epoch())   # 10 full batches of 4: all trained inside
    >>> len(rest), steps.steps_run
    (0, 10)
    """

    def __init__(self, objective, optimizer: torch.optim.Optimizer, source: TensorSource,
                 batch_size: int, generator: torch.Generator | None, *,
                 group: int = GROUP_STEPS, capture: bool = True) -> None:
        if group < 1:
            raise ValueError(f"group must be >= 1, got {group}.")
        self.objective = objective
        self.optimizer = optimizer
        self.tensors = source.tensors
        self.n_samples = source.n_samples
        self.device = source.device
        self.batch_size = int(batch_size)
        self.generator = generator
        self.group = int(group)
        self.capture = capture
        self.steps_run = 0          # steps taken by this object (warm-up included)
        self.captures = 0           # graphs recorded (for tests and benchmarks)
        self._graphs: dict[int, torch.cuda.CUDAGraph] = {}
        self._index: dict[int, torch.Tensor] = {}
        self._key: tuple | None = None

    # -- one group of steps ------------------------------------------------------------------
    def _steps(self, index: torch.Tensor) -> None:
        """The grouped steps: one optimizer step per row of ``index`` (group, batch)."""
        for rows in index:
            batch = tuple(t.index_select(0, rows) for t in self.tensors)
            self.objective.gradients_(batch, self.generator)
            self.optimizer.step()

    def _record(self, n: int) -> None:
        """Capture a graph of ``n`` steps reading their rows from a static index buffer."""
        index = torch.zeros((n, self.batch_size), dtype=torch.long, device=self.device)
        graph = torch.cuda.CUDAGraph()
        if self.generator is not None and hasattr(graph, "register_generator_state"):
            graph.register_generator_state(self.generator)
        with torch.cuda.graph(graph):
            self._steps(index)
        self._graphs[n], self._index[n] = graph, index
        self.captures += 1

    def _run_group(self, rows: torch.Tensor) -> None:
        n = rows.shape[0]
        if self.capture:
            self._ready(n)
        if self.capture:  # still: the graph exists
            self._index[n].copy_(rows)
            self._graphs[n].replay()
        else:
            self._steps(rows)
        self.steps_run += n

    def _ready(self, n: int) -> None:
        """Have a graph of ``n`` steps at today's rates; on a failed capture, go eager."""
        key = _hyper_parameters(self.optimizer)
        if key != self._key:  # a schedule changed the rates: record again
            self._graphs.clear()
            self._index.clear()
            self._key = key
        if n in self._graphs:
            return
        try:
            self._record(n)  # capturing runs nothing: the replay takes the steps
        except RuntimeError as exc:
            warn_fallback(exc)
            self.capture = False

    def _warm_up(self, rows: torch.Tensor) -> None:
        if not self.capture:
            self._steps(rows)
        else:
            stream = torch.cuda.Stream(self.device)
            stream.wait_stream(torch.cuda.current_stream(self.device))
            with torch.cuda.stream(stream):
                self._steps(rows)
            torch.cuda.current_stream(self.device).wait_stream(stream)
        self.steps_run += rows.shape[0]

    # -- one epoch ---------------------------------------------------------------------------
    def epoch(self) -> Iterator[tuple[torch.Tensor, ...]]:
        """Take one epoch's steps; yield the mini-batches left to the caller's eager loop.

        The epoch's one random draw (the permutation) is made first, as every source does;
        the full mini-batches are trained here in order, then the last, smaller one (if any)
        is yielded for the caller to step eagerly.
        """
        order = _epoch_order(self.n_samples, self.generator, self.device)
        n_full = self.n_samples // self.batch_size
        full = order[: n_full * self.batch_size].view(n_full, self.batch_size)
        start = 0
        if self.steps_run < WARM_UP_STEPS:
            start = min(WARM_UP_STEPS - self.steps_run, n_full)
            self._warm_up(full[:start])
        for lo in range(start, n_full, self.group):
            self._run_group(full[lo : lo + self.group])
        if n_full * self.batch_size < self.n_samples:
            index = order[n_full * self.batch_size:]
            yield tuple(t.index_select(0, index) for t in self.tensors)


def graphed_steps(objective, optimizer: torch.optim.Optimizer, source, batch_size: int,
                  generator: torch.Generator | None,
                  closure_needed: bool) -> GraphedSteps | None:
    """A :class:`GraphedSteps` when this fit can use CUDA graphs (module docstring), else None.

    Parameters
    ----------
    objective, optimizer, source, batch_size, generator :
        As :func:`~deepbelief.training.loop.fit_epochs` got them.
    closure_needed : bool
        Whether the optimizer steps with a closure (then: None).

    Returns
    -------
    GraphedSteps or None

    Examples
    --------
    >>> import torch
    >>> from deepbelief.core.rbm import RBMModule
    >>> from deepbelief.learning.contrastive import ContrastiveDivergence, RBMObjective
    >>> rbm = RBMModule(6, 3)
    >>> objective = RBMObjective(rbm, ContrastiveDivergence())
    >>> optimizer = torch.optim.SGD(rbm.parameters(), lr=0.1)
    >>> graphed_steps(objective, optimizer, TensorSource(torch.zeros(8, 6)), 4, None, False)
    ... # on the CPU: None (the ordinary loop)
    """
    if (closure_needed or not isinstance(source, TensorSource) or source.device.type != "cuda"
            or not getattr(objective, "graph_safe", False) or not _capturable(optimizer)
            or not cuda_graphs_enabled()):
        return None
    if source.n_samples // batch_size <= WARM_UP_STEPS:  # too short to be worth recording
        return None
    return GraphedSteps(objective, optimizer, source, batch_size, generator)


def warn_fallback(exc: BaseException) -> None:
    """Say once per call that capture failed and the loop continues eagerly."""
    warnings.warn(f"CUDA graph capture failed ({exc}); training continues without CUDA "
                  "graphs. Set DEEPBELIEF_CUDA_GRAPHS=0 to skip the attempt.",
                  RuntimeWarning, stacklevel=3)
