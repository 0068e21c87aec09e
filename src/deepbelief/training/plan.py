"""One fit plan: estimators declare their training phases, :class:`FitPlan` runs them.

A *phase* is a stretch of training with one name in
:data:`~deepbelief.training.callbacks.PHASES` (what callbacks see as ``context.phase``):
greedy pretraining of a stack (:class:`StackPhase`), one RBM (:class:`LayerPhase`), or any
objective trained by :func:`~deepbelief.training.loop.fit_epochs` (:class:`LoopPhase`:
backpropagation fine-tuning, up-down, ...). :class:`FitPlan` runs the phases in order and
owns everything around them:

* the callbacks of each phase: the phase's internal ones, then the user's, then a
  :class:`~deepbelief.training.callbacks.ProgressBar` when ``verbose``
  (:class:`~deepbelief.training.callbacks.PhaseCallbacks` tells them the phase, layer,
  estimator and label);
* checkpoints (:class:`~deepbelief.training.checkpoint.TrainingCheckpoint`), whose position
  is built here only (:meth:`FitPlan.position`), and exact resumption: finished phases are
  rebuilt from the checkpoint without training, the phase in progress continues from its
  saved loop state, a finished fit is only rebuilt;
* each phase's history (``phase.history``) and time (``phase.time``, seconds).

A phase implements ``train(run, resume)``, ``state_dict()`` / ``load_state_dict(state)``
(the finished phase, as a checkpoint stores it) and ``position()`` (what a checkpoint needs,
besides the loop in progress, to continue it); the estimators only declare phases.

Examples
--------
>>> import torch
>>> from deepbelief.training.greedy import RBMConfig
>>> x = (torch.rand(64, 6, generator=torch.Generator().manual_seed(0)) < 0.5).float()
>>> stack = StackPhase("pretrain", "demo pretraining", [RBMConfig(4, epochs=2),
...                    RBMConfig(3, epochs=1)], x)
>>> plan = FitPlan([stack], generator=torch.Generator().manual_seed(0))
>>> plan.run()
>>> [len(h) for h in stack.history], [r.n_hidden for r in stack.rbms]
([2, 1], [4, 3])
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from deepbelief.training.checkpoint import (
    CheckpointCallback,
    TrainingCheckpoint,
    remaining_epochs,
)
from deepbelief.training.distributed import (
    agreed_callbacks,
    data_parallel,
    load_objective_state,
    share_generator,
)
from deepbelief.training.greedy import (
    LayerSpec,
    LayerTrainer,
    data_layout,
    monitor_rows,
    pretrain_stack,
)
from deepbelief.training.hooks import PHASES, PhaseCallbacks
from deepbelief.training.lazy_stack import stacked_input
from deepbelief.training.loop import LoopState, fit_epochs, warm_up_optimizers
from deepbelief.training.progress import ProgressBar

__all__ = ["FitPlan", "LayerPhase", "LoopPhase", "LoopSetup", "PhaseRun", "StackPhase"]


class PhaseRun:
    """What a phase gets from the plan while it trains: its callbacks, and saves.

    Parameters
    ----------
    plan : FitPlan
    phase : the phase being trained.
    restore : list or None
        The callbacks' states saved in the checkpoint, when the phase resumes mid-loop.
    """

    def __init__(self, plan: FitPlan, phase, restore: list | None) -> None:
        self.plan, self.phase, self.restore = plan, phase, restore

    @property
    def generator(self) -> torch.Generator | None:
        return self.plan.generator

    def callbacks(self, internal: Sequence = (), *, n_layers: int | None = None,
                  lower_layers: Sequence = ()) -> list:
        """The loop callbacks of this phase (for ``fit_epochs(callbacks=...)``).

        ``internal`` run first, then the user's, then a progress bar; with a checkpoint,
        they are wrapped to save every ``checkpoint_every`` epochs. ``n_layers`` and
        ``lower_layers``: the phase trains layers of a stack, the first of which lies above
        ``lower_layers``, one per ``fit_epochs`` call.
        """
        plan = self.plan
        every = [*internal, *plan.callbacks]
        if plan.verbose and not any(isinstance(c, ProgressBar) for c in plan.callbacks):
            every.append(ProgressBar(plan.verbose))
        phase = PhaseCallbacks(every, phase=self.phase.name, estimator=plan.owner,
                               label=self.phase.label, n_layers=n_layers,
                               lower_layers=lower_layers)
        if plan.checkpoint is None:
            return agreed_callbacks([phase])
        restore, self.restore = self.restore, None
        return agreed_callbacks([CheckpointCallback(plan.checkpoint, phase, restore)])

    def boundary(self) -> None:
        """Save a checkpoint at a boundary inside the phase (e.g. a layer's end)."""
        if self.plan.checkpoint is not None:
            self.plan.checkpoint.save()


class FitPlan:
    """Runs declared phases with callbacks, checkpoints, exact resume, history and timing.

    Parameters
    ----------
    phases : sequence of phases
        In training order (see the module docstring for what a phase implements).
    owner : object, optional
        The estimator being fitted: ``context.estimator`` for the callbacks (the plan
        never looks inside it).
    callbacks : list, optional
        The user's callbacks (copies: their state belongs to this fit).
    verbose : int, default 0
        Positive: a :class:`ProgressBar` unless ``callbacks`` has one.
    generator : torch.Generator or None
        The run's random stream (set to the saved state when a checkpoint was read).
    checkpoint : TrainingCheckpoint or None
        Where to save; a checkpoint that was :meth:`~TrainingCheckpoint.read` (its
        ``resumed`` state) is continued.
    """

    def __init__(self, phases: Sequence, *, owner: Any = None, callbacks: Sequence = (),
                 verbose: int = 0, generator: torch.Generator | None = None,
                 checkpoint: TrainingCheckpoint | None = None) -> None:
        for phase in phases:
            if phase.name not in PHASES:
                raise ValueError(f"unknown phase name {phase.name!r}; add it to "
                                 f"deepbelief.training.hooks.PHASES {PHASES}.")
        self.phases = list(phases)
        self.owner = owner
        self.callbacks = list(callbacks)
        self.verbose = verbose
        self.generator = generator
        self.checkpoint = checkpoint
        self._index = 0
        if checkpoint is not None:
            checkpoint.position = self.position

    def position(self) -> dict:
        """Where training stands, as every checkpoint saves it (built here only)::

            stage     name of the phase in progress, or 'finished'
            phase     its index in the plan (the number of phases when finished)
            done      state_dict() of each finished phase
            position  the phase in progress's position() (None before it started)
        """
        index = self._index
        current = self.phases[index] if index < len(self.phases) else None
        return {"stage": "finished" if current is None else current.name, "phase": index,
                "done": [p.state_dict() for p in self.phases[:index]],
                "position": None if current is None else current.position()}

    def run(self) -> None:
        """Train (or rebuild from the checkpoint) every phase, in order."""
        saved = None if self.checkpoint is None else self.checkpoint.resumed
        start = 0 if saved is None else int(saved["phase"])
        if saved is not None and len(saved["done"]) != start:
            raise ValueError("the checkpoint's plan does not fit this estimator's phases.")
        warm_up_optimizers()  # torch's one-time import is not training time
        share_generator(self.generator)  # in a process group: rank 0's stream everywhere
        for index, phase in enumerate(self.phases):
            phase.time = 0.0
            if index < start:  # finished before: rebuild, don't train
                phase.load_state_dict(saved["done"][index])
                continue
            resume = None
            if index == start and saved is not None and (
                    saved["position"] is not None or saved["current"] is not None):
                resume = {"position": saved["position"], "current": saved["current"]}
            self._index = index
            run = PhaseRun(self, phase, None if resume is None or resume["current"] is None
                           else resume["current"]["callbacks"])
            begin = time.perf_counter()
            phase.train(run, resume)
            phase.time = time.perf_counter() - begin
            self._index = index + 1
            if self.checkpoint is not None:
                self.checkpoint.save()


def _trainer_state(trainer: LayerTrainer) -> dict:
    return {"module": trainer.layer.state_dict(), **trainer.state_dict()}


def _load_trainer(config: LayerSpec, data: torch.Tensor, state: dict,
                  generator: torch.Generator | None) -> LayerTrainer:
    layer = config.empty_layer(*data_layout(data))  # draws nothing
    layer.load_state_dict(state["module"])
    trainer = LayerTrainer(layer, config, generator)
    trainer.load_state_dict(state)
    return trainer


class LayerPhase:
    """Training of one layer: an ``RBM`` estimator, or the top RBM of a generative DBN.

    Parameters
    ----------
    name, label : str
        The phase name (in ``PHASES``) and its label for messages.
    config : LayerSpec
    data : tensor, SparseSource or callable
        The training data (n_samples, n_visible) (a sparse matrix in a
        :class:`~deepbelief.training.sources.SparseSource`), or a function returning it
        when the phase starts (when it depends on an earlier phase).
    epochs : int or None
        Epochs to train (None: ``config.epochs``).
    init : callable, optional
        ``init(rbm, data)`` after a fresh RBM's initialisation (e.g. label biases).
    trainer : LayerTrainer, optional
        Continue this trainer (``partial_fit``) instead of starting a new RBM.
    n_layers, lower_layers :
        When the RBM is the top layer of a stack: the stack's size and the layers below
        (a function returning them, when they come from an earlier phase).
    loop_name : str
        What is trained, for messages.
    generator : torch.Generator or None
        The run's random stream, for an RBM rebuilt from a checkpoint (``partial_fit``
        continues it).

    Attributes
    ----------
    trainer : LayerTrainer
        After training: the trainer (its ``rbm``, its ``state.history``).
    """

    def __init__(self, name: str, label: str, config: LayerSpec, data, *,
                 epochs: int | None = None, init: Callable | None = None,
                 trainer: LayerTrainer | None = None, n_layers: int | None = None,
                 lower_layers: Callable | Sequence = (), loop_name: str = "RBM",
                 generator: torch.Generator | None = None) -> None:
        self.name, self.label, self.config = name, label, config
        self._data, self.epochs, self.init = data, epochs, init
        self.trainer = trainer
        self.n_layers, self._lower, self.loop_name = n_layers, lower_layers, loop_name
        self.generator = generator
        self.time = 0.0

    @property
    def data(self) -> torch.Tensor:
        if callable(self._data):
            self._data = self._data()
        return self._data

    @property
    def history(self) -> list[dict]:
        return self.trainer.state.history

    def train(self, run: PhaseRun, resume: dict | None) -> None:
        data, epochs = self.data, self.epochs
        if resume is not None and resume["current"] is not None:
            self.trainer = _load_trainer(self.config, data, resume["current"], run.generator)
            epochs = remaining_epochs(resume["current"],
                                      self.config.epochs if epochs is None else epochs)
        elif self.trainer is None:
            layer = self.config.new_layer(data, run.generator)
            if self.init is not None:
                self.init(layer, data)
            self.trainer = LayerTrainer(layer, self.config, run.generator)
        lower = self._lower() if callable(self._lower) else self._lower
        self.trainer.run(data, epochs, name=self.loop_name, callbacks=run.callbacks(
            n_layers=self.n_layers, lower_layers=lower))

    def position(self) -> dict:
        return {}

    def state_dict(self) -> dict:
        """The trained RBM and its trainer's state (so ``partial_fit`` continues exactly)."""
        return _trainer_state(self.trainer)

    def load_state_dict(self, state: dict) -> None:
        self.trainer = _load_trainer(self.config, self.data, state, self.generator)


class StackPhase:
    """Greedy layer-wise pretraining of a stack of layers (Hinton, Osindero & Teh, 2006).

    Any :class:`~deepbelief.training.greedy.LayerSpec` (RBMs now, other layer kinds next):
    the phase builds, trains, saves and rebuilds layers only through their specs.

    Parameters
    ----------
    name, label : str
    configs : list of LayerSpec
        One per layer, bottom first (e.g. :class:`RBMConfig`).
    data : tensor (n_samples, n_features) or SparseSource
        A sparse matrix (in a :class:`~deepbelief.training.sources.SparseSource`) is read
        one mini-batch or chunk at a time (see :mod:`deepbelief.training.greedy`).
    n_layers : int, optional
        The size of the whole stack when this phase trains its lower part (default: the
        number of ``configs``): callbacks see it as ``context.n_layers``.
    incremental : bool, default False
        One epoch of every layer, bottom-up, each on the up-pass of the layer below as it
        is after its own update (``partial_fit``), continuing ``trainers``.
    trainers : list of LayerTrainer, optional
        The layers' trainers of earlier incremental calls, bottom first.
    sample_weight : torch.Tensor of shape (n_samples,), optional
        Non-negative row weights: every layer's epochs draw their rows in proportion to
        them (:class:`~deepbelief.training.resampled.ResampledSource`). None: each epoch
        is a permutation of the rows.

    Attributes
    ----------
    rbms : list of Layer
        The trained layers, bottom first (RBMs for the estimators of today).
    history : list of list of dict
        One epoch history per layer.
    trainers : list of LayerTrainer
        The layers' trainers (their optimizers, persistent chains and loop positions).
    """

    def __init__(self, name: str, label: str, configs: Sequence[LayerSpec],
                 data: torch.Tensor, *, n_layers: int | None = None, incremental: bool = False,
                 trainers: Sequence[LayerTrainer] = (),
                 sample_weight: torch.Tensor | None = None) -> None:
        self.name, self.label, self.configs, self.data = name, label, list(configs), data
        self.sample_weight = sample_weight
        self.n_layers = len(self.configs) if n_layers is None else n_layers
        self.incremental = incremental
        self.trainers = list(trainers)
        self.rbms: list = [t.layer for t in self.trainers]
        self.history: list[list[dict]] = [t.state.history for t in self.trainers]
        self.time = 0.0

    def train(self, run: PhaseRun, resume: dict | None) -> None:
        if self.incremental:
            self._train_one_epoch(run)
            return
        current = None
        if resume is not None:
            self.load_state_dict(resume["position"])
            current = resume["current"]
        trainers: list = []  # of the layers trained here, for partial_fit after fit

        def layer_end(rbms: list, histories: list[list[dict]], trainer) -> None:
            self.rbms, self.history = list(rbms), [list(h) for h in histories]
            trainers.append(trainer)
            if len(rbms) < len(self.configs):  # the plan saves the phase's end
                run.boundary()

        self.rbms, self.history = pretrain_stack(
            self.data, self.configs, run.generator, trained=self.rbms, histories=self.history,
            resume=current, on_layer_end=layer_end, sample_weight=self.sample_weight,
            callbacks=run.callbacks(n_layers=self.n_layers, lower_layers=self.rbms))
        # layers rebuilt from a checkpoint have no trainer state: partial_fit starts afresh
        self.trainers = trainers if len(trainers) == len(self.rbms) else []

    def _train_one_epoch(self, run: PhaseRun) -> None:
        callbacks = run.callbacks(n_layers=self.n_layers, lower_layers=())
        x = self.data
        for i, config in enumerate(self._stacked_configs()):
            if i == len(self.trainers):  # the first call initialises the layer
                self.trainers.append(LayerTrainer(config.new_layer(x, run.generator), config,
                                                  run.generator))
            self.trainers[i].run(x, 1, callbacks=callbacks,
                                 name=f"layer {i + 1} ({config.label})")
            if i + 1 < len(self.configs):
                x = stacked_input(x, [self.trainers[i].layer], epochs=1)  # lazy_stack.py
        self.rbms = [t.layer for t in self.trainers]
        self.history = [t.state.history for t in self.trainers]

    def position(self) -> dict:
        """The layers trained so far and their histories."""
        return self.state_dict()

    def state_dict(self) -> dict:
        return {"layer": len(self.rbms), "rbms": [r.state_dict() for r in self.rbms],
                "histories": [list(h) for h in self.history]}

    def _stacked_configs(self) -> list:
        """Each spec as stacked on the one below (as :func:`pretrain_stack` reads them)."""
        configs = self.configs[:1]
        for config in self.configs[1:]:
            configs.append(config.stacked_on(configs[-1]))
        return configs

    def load_state_dict(self, state: dict) -> None:
        self.rbms = []
        n_visible, device, dtype = data_layout(self.data)
        for saved, config in zip(state["rbms"], self._stacked_configs(), strict=False):
            layer = config.empty_layer(n_visible, device, dtype)
            layer.load_state_dict(saved)
            self.rbms.append(layer)
            n_visible = config.n_hidden
        self.history = [list(h) for h in state["histories"]]
        self.trainers = []


@dataclass
class LoopSetup:
    """What :class:`LoopPhase` trains: built by the estimator's ``build(position)``.

    ``position`` is what a resumed phase needs to build the same setup again without
    drawing from the random stream (e.g. a validation split); ``internal`` are the phase's
    own callbacks (run before the user's). ``data`` is what ``fit_epochs`` takes: a tuple
    of tensors or a batch source (e.g. a ``SparseSource`` of sparse inputs and targets).
    """

    objective: Any
    optimizer: torch.optim.Optimizer
    data: Any
    internal: list = field(default_factory=list)
    position: dict = field(default_factory=dict)


class LoopPhase:
    """Any objective trained by :func:`fit_epochs`: fine-tuning, up-down, ...

    Parameters
    ----------
    name, label : str
    build : callable
        ``build(position)``: a :class:`LoopSetup`. ``position`` is None for a fresh start
        (the build may draw from the random stream: initial weights, a split), else the
        setup's saved ``position``: build the same setup without drawing (the module's
        weights, the optimizer and the loop are then loaded from the checkpoint).
    epochs, batch_size : int
    loop_name : str
        What is trained, for messages.

    Attributes
    ----------
    setup : LoopSetup
        After training: the objective (``setup.objective.module`` is the trained module).
    history : list of dict
    """

    def __init__(self, name: str, label: str, build: Callable[[dict | None], LoopSetup], *,
                 epochs: int, batch_size: int, loop_name: str) -> None:
        self.name, self.label, self.build = name, label, build
        self.epochs, self.batch_size, self.loop_name = epochs, batch_size, loop_name
        self.setup: LoopSetup | None = None
        self.history: list[dict] = []
        self.time = 0.0

    @property
    def module(self) -> torch.nn.Module:
        return self.setup.objective.module

    def train(self, run: PhaseRun, resume: dict | None) -> None:
        state, epochs = LoopState(), self.epochs
        self.setup = setup = self.build(None if resume is None else resume["position"] or {})
        current = None if resume is None else resume["current"]
        if current is not None:
            self.module.load_state_dict(current["module"])
            setup.optimizer.load_state_dict(current["optimizer"])
            load_objective_state(setup.objective, current["objective"])
            state = LoopState(epoch=current["epoch"], history=list(current["history"]))
            epochs = remaining_epochs(current, self.epochs)
        self.history = state.history
        with data_parallel(setup.objective, setup.data, self.batch_size,
                           run.generator) as (objective, data):
            fit_epochs(objective, data, setup.optimizer, epochs=epochs,
                       batch_size=self.batch_size, generator=run.generator, state=state,
                       callbacks=run.callbacks(setup.internal), name=self.loop_name,
                       monitor_size=monitor_rows(setup.data))

    def position(self) -> dict | None:
        return None if self.setup is None else self.setup.position

    def state_dict(self) -> dict:
        return {"module": self.module.state_dict(), "history": list(self.history),
                "position": self.setup.position}

    def load_state_dict(self, state: dict) -> None:
        self.setup = self.build(state["position"])
        self.module.load_state_dict(state["module"])
        self.history = list(state["history"])
