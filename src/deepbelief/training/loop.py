"""The one mini-batch training loop, shared by every layer type and by fine-tuning.

An *objective* owns a module and knows how to write gradients for a mini-batch::

    objective.module                       # the nn.Module being trained
    objective.gradients_(batch, generator) # fill .grad; may return a detached batch loss
    objective.monitor(data, generator)     # optional: per-epoch metrics (tensors)
    objective.evaluate_(batch, generator)  # optional: gradients_ without the epoch's
                                           # statistics (L-BFGS's line search re-evaluates)

The loop asks a batch source (:mod:`deepbelief.training.sources`) for each epoch's
mini-batches, shuffled with a ``torch.Generator``, lets a ``torch.optim`` optimizer take
each step, and synchronises with the host only once per epoch (metrics, divergence check,
callbacks).

Callbacks are plain functions ``(epoch, record) -> bool | None`` (``epoch`` 1-based, the
record's ``epoch``: the first epoch is 1) or objects with any of the
hooks ``on_train_begin(context)``, ``on_epoch_begin(context)``, ``on_epoch_end(context)``
and ``on_train_end(context)`` (see :mod:`deepbelief.training.callbacks`), which receive a
:class:`TrainingContext`. A true value returned from ``on_epoch_end`` (or from a function)
stops the loop after that epoch.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from deepbelief.exceptions import DivergenceError
from deepbelief.training.graphs import graphed_steps
from deepbelief.training.schedules import (  # re-exported: they lived here
    EpochSchedule,
    learning_rate_schedule,
    momentum_schedule,
)
from deepbelief.training.sources import BatchSource, TensorSource, as_source

__all__ = [
    "LBFGS_OPTIONS",
    "EpochSchedule",
    "TrainingContext",
    "fit_epochs",
    "learning_rate_schedule",
    "make_optimizer",
    "momentum_schedule",
    "needs_closure",
    "notify_epoch_end",
    "warm_up_optimizers",
]

#: A plain callback: called after each epoch with ``(epoch, record)``, ``epoch`` 1-based
#: (``record["epoch"]``: 1 after the first epoch); True stops training.
#: Objects with ``on_epoch_end(context)`` etc. are accepted too
#: (:mod:`deepbelief.training.callbacks`).
Callback = Callable[[int, dict], bool | None]

#: ``torch.optim.LBFGS`` settings of ``make_optimizer('lbfgs')``: iterations (and at most
#: 25 % more loss evaluations) per mini-batch, the curvature pairs kept, the line search.
LBFGS_OPTIONS = {"max_iter": 3, "history_size": 10, "line_search_fn": "strong_wolfe"}


def make_optimizer(
    module: torch.nn.Module,
    optimizer: str | Callable,
    learning_rate: float,
    momentum: float = 0.0,
    weight_decay: float = 0.0,
) -> torch.optim.Optimizer:
    """Build a ``torch.optim`` optimizer; weight decay applies to weight matrices only.

    ``optimizer`` is ``'sgd'``, ``'adam'``, ``'lbfgs'`` or a callable
    ``(param_groups, lr) -> Optimizer``.

    ``'lbfgs'`` is ``torch.optim.LBFGS`` with a strong-Wolfe line search and
    :data:`LBFGS_OPTIONS` (a few iterations per mini-batch, as Hinton & Salakhutdinov (2006)
    ran three line searches of conjugate gradients on each mini-batch of 1000): give it
    large mini-batches, and an objective whose ``gradients_`` returns the loss
    (:func:`fit_epochs` steps it with a closure). It takes no weight decay (L-BFGS has no
    parameter groups): put a penalty in the objective's loss instead.

    Raises
    ------
    ValueError
        For an unknown ``optimizer``, or ``'lbfgs'`` with ``weight_decay``.
    """
    if optimizer == "lbfgs":
        if weight_decay:
            raise ValueError("L-BFGS takes no weight decay: add the penalty to the "
                             "objective's loss, and pass weight_decay=0.")
        return torch.optim.LBFGS(module.parameters(), lr=learning_rate, **LBFGS_OPTIONS)
    decay, no_decay = [], []
    for p in module.parameters():
        (decay if p.dim() > 1 else no_decay).append(p)
    groups = [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    if callable(optimizer):
        return optimizer(groups, learning_rate)
    kinds = {"sgd": (torch.optim.SGD, {"momentum": momentum}), "adam": (torch.optim.Adam, {})}
    if optimizer not in kinds:
        raise ValueError(f"Unknown optimizer {optimizer!r}; use 'sgd', 'adam', 'lbfgs' or a "
                         "callable.")
    cls, kwargs = kinds[optimizer]
    try:  # the fused kernel does the whole update in one pass (half the time on CPU)
        return cls(groups, lr=learning_rate, fused=True, **kwargs)
    except (RuntimeError, ValueError):  # device or dtype without a fused kernel
        return cls(groups, lr=learning_rate, **kwargs)


def warm_up_optimizers() -> float:
    """Pay, once per process, what torch's first optimizer costs; returns the seconds spent.

    The first ``torch.optim`` optimizer of a process imports ``torch._dynamo`` (about a
    second on two cores, more on a cold disk). Call this before timing a fit so that the
    import is not counted as training time; later calls cost nothing.

    Returns
    -------
    float
        Seconds spent (0.0 once torch's optimizers are warm).

    Examples
    --------
    >>> _ = warm_up_optimizers()
    >>> warm_up_optimizers()
    0.0
    """
    if "torch._dynamo" in sys.modules:
        return 0.0
    start = time.perf_counter()
    torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    return time.perf_counter() - start


@dataclass
class LoopState:
    """Where a loop is; carried across ``fit_epochs`` calls for checkpoints and partial fits."""

    epoch: int = 0
    history: list[dict] = field(default_factory=list)


@dataclass(eq=False)
class TrainingContext:
    """What a callback object sees: one context per call to :func:`fit_epochs` (a *phase*).

    :func:`fit_epochs` fills the fields of the loop; where the loop stands in a larger
    training run (an estimator's phase, the layer of a stack, ...) is told by the caller in
    :attr:`where`, whose entries read as attributes: ``context.phase`` is
    ``context.where["phase"]`` (see :class:`deepbelief.training.callbacks.PhaseCallbacks`
    for what the estimators supply). The same object is handed to every hook of that phase, so a
    callback may keep per-phase data on it or on itself.

    Attributes
    ----------
    module : torch.nn.Module
        The module being trained (an :class:`~deepbelief.core.rbm.RBMModule` in pretraining,
        the :class:`~deepbelief.core.network.FeedForwardDBN` in fine-tuning).
    optimizer : torch.optim.Optimizer
        Its optimizer (a learning-rate scheduler may change its ``param_groups``).
    data : tuple of torch.Tensor
        The training tensors of this phase, on the module's device (``(X,)`` or ``(X, y)``).
    n_epochs : int
        Epochs planned for this call (training may stop earlier).
    history : list of dict
        The records of the epochs trained so far (all calls, for ``partial_fit``).
    epoch : int
        The number of epochs trained before the current one: a 0-based index, for
        schedules and checkpoints (the current record's ``epoch``, and the ``epoch`` a plain
        callback receives, is this plus 1).
    record : dict or None
        The current epoch's record in ``on_epoch_end`` (None before it exists). It is the
        dict stored in ``history``: a callback may add metrics to it (numbers; tensors and
        numpy scalars are converted to float).
    generator : torch.Generator or None
        The training run's random stream (use it only to *draw*, to stay repeatable).
    name : str
        What is trained, for messages (``'layer 1 (RBM)'``).
    error : BaseException or None
        In ``on_train_end``: the exception that ended training, None on success.
    objective : object or None
        The objective being trained (see the module docstring); with ``module``,
        ``optimizer`` and ``generator`` it is the state a checkpoint saves
        (:mod:`deepbelief.training.checkpoint`).
    where : dict
        Where the loop stands, as its caller tells it (``fit_epochs(context=...)``); each
        entry is also an attribute (a name that is neither a field nor an entry raises
        AttributeError).
    """

    module: torch.nn.Module
    optimizer: torch.optim.Optimizer
    data: tuple[torch.Tensor, ...]
    n_epochs: int
    history: list[dict]
    epoch: int = 0
    record: dict | None = None
    generator: torch.Generator | None = None
    name: str = "layer"
    error: BaseException | None = None
    objective: Any = None
    where: dict = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        where = self.__dict__.get("where")
        if where is not None and name in where:
            return where[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


def _notify(callbacks: Sequence, hook: str, context: TrainingContext) -> None:
    for callback in callbacks:
        method = getattr(callback, hook, None)
        if method is not None:
            method(context)


def _as_float(value):
    """Callback-added metrics as plain numbers, so histories stay JSON data."""
    if isinstance(value, torch.Tensor):
        return float(value.detach())
    if hasattr(value, "dtype") and getattr(value, "shape", None) == ():  # numpy scalar
        return value.item()
    return value


def notify_epoch_end(callbacks: Sequence, context: TrainingContext) -> bool:
    """Run every callback's ``on_epoch_end`` (or a plain function's ``(epoch, record)``) on
    the finished epoch, converting the metrics they add to floats; True if one of them asks
    to stop."""
    record = context.record
    stop = False
    for callback in callbacks:
        method = getattr(callback, "on_epoch_end", None)
        if method is not None:
            result = method(context)
        elif callable(callback):
            result = callback(context.epoch + 1, record)  # 1-based, as record["epoch"]
        else:
            raise TypeError(f"{callback!r} is not a callback: give a function "
                            "(epoch, record) or a deepbelief.callbacks.Callback.")
        stop = bool(result) or stop
        for key, value in record.items():
            record[key] = _as_float(value)
    return stop


def _check_health(objective, monitor_data, name: str, epoch: int, loss: float | None) -> None:
    """Raise :class:`DivergenceError` when parameters or loss are not finite, or when the
    objective reports a failure (e.g. a dead layer, a loss that blew up), with the
    objective's ``advice`` when it has one."""
    bad = [n for n, p in objective.module.named_parameters() if not torch.isfinite(p).all()]
    if bad or (loss is not None and not math.isfinite(loss)):
        what = f"parameters {bad} became NaN or infinite" if bad else f"the loss is {loss}"
    elif hasattr(objective, "failure"):
        what = objective.failure(monitor_data)
    else:
        what = None
    if what:
        advice = getattr(objective, "advice", None) or (
            "Try a smaller learning rate (layers with rectified linear or Gaussian units "
            "usually need 0.01 or less), fewer units, more weight decay, or standardise "
            "real-valued data used with Gaussian units.")
        raise DivergenceError(f"Training of {name} diverged at epoch {epoch + 1}: {what}. "
                              f"{advice}")


def needs_closure(optimizer: torch.optim.Optimizer) -> bool:
    """Whether ``optimizer.step`` must be given a closure that re-evaluates the loss:
    ``torch.optim.LBFGS``, or an optimizer whose ``needs_closure`` attribute is true."""
    return isinstance(optimizer, torch.optim.LBFGS) or bool(
        getattr(optimizer, "needs_closure", False))


def _step(objective, optimizer: torch.optim.Optimizer, batch, generator, closure_needed: bool):
    """One optimizer step on ``batch``; returns the batch's loss before the step.

    The gradients are written once by ``objective.gradients_``. An optimizer that evaluates
    the loss several times per step (L-BFGS's line search, :func:`needs_closure`) gets a
    closure: its first call returns that loss, later ones re-evaluate loss and gradients at
    the new parameters with ``objective.evaluate_`` (which, unlike ``gradients_``, leaves the
    epoch's statistics alone) when the objective has one, else ``gradients_``.
    """
    loss = objective.gradients_(batch, generator)
    if not closure_needed:
        optimizer.step()
        return loss
    if loss is None:
        raise TypeError(f"{type(optimizer).__name__} needs the loss, but "
                        f"{type(objective).__name__}.gradients_ returns None.")
    evaluate = getattr(objective, "evaluate_", objective.gradients_)
    first = [loss]

    def closure() -> torch.Tensor:
        return first.pop() if first else evaluate(batch, generator)

    optimizer.step(closure)
    return loss


def fit_epochs(
    objective,
    data: Sequence[torch.Tensor] | BatchSource,
    optimizer: torch.optim.Optimizer,
    *,
    epochs: int,
    batch_size: int,
    generator: torch.Generator | None,
    schedule: EpochSchedule | None = None,
    callbacks: Sequence[Callback] = (),
    state: LoopState | None = None,
    monitor_size: int = 2048,
    name: str = "layer",
    progress=None,
    context: Mapping[str, Any] | None = None,
) -> LoopState:
    """Train ``objective.module`` for ``epochs`` more epochs over ``data``.

    Parameters
    ----------
    objective : see module docstring.
    data : sequence of tensors with a common first dimension (e.g. ``(X,)`` or ``(X, y)``),
        already on the module's device, or a :class:`~deepbelief.training.sources.BatchSource`
        (memory-mapped or sparse data, ...) whose batches are on that device; see
        :func:`~deepbelief.training.sources.as_source`. Callbacks see the tensors as
        ``context.data`` (a source that is not a ``TensorSource`` is passed as it is).
    optimizer : a ``torch.optim`` optimizer over the module's parameters.
    epochs, batch_size : int
    generator : torch.Generator on the data's device, for shuffling and sampling.
    schedule : optional per-epoch learning rate / momentum: a callback run before
        ``callbacks`` (:mod:`deepbelief.training.schedules`), so theirs take precedence.
    callbacks : functions called after each epoch with ``(epoch, record)`` (``epoch``
        1-based, as ``record["epoch"]``), or callback
        objects whose hooks receive a :class:`TrainingContext` (see
        :mod:`deepbelief.training.callbacks`); a true return value stops training after the epoch.
        ``on_train_end`` runs even when training fails (with ``context.error`` set).
    state : loop position and history to continue from.
    monitor_size : number of leading samples used for per-epoch monitoring metrics
        (``source.head(monitor_size)``).
    progress : optional object with ``update(n)`` and ``set_postfix(dict)`` (e.g. tqdm),
        updated once per epoch after the callbacks.
    context : optional :attr:`TrainingContext.where`: where the loop stands in a larger
        run (e.g. ``{"phase": "pretrain"}``), readable as attributes of the context.

    Returns
    -------
    LoopState with one history record per epoch (floats; ``time`` in seconds).
    """
    state = state or LoopState()
    if schedule is not None:
        callbacks = [schedule, *callbacks]
    source = as_source(data)
    monitor_data = source.head(monitor_size)
    closure_needed = needs_closure(optimizer)  # once per call, not per mini-batch
    graphed = graphed_steps(objective, optimizer, source, batch_size, generator, closure_needed)
    ctx = TrainingContext(
        module=objective.module, optimizer=optimizer, n_epochs=epochs,
        data=source.tensors if isinstance(source, TensorSource) else source,
        history=state.history, epoch=state.epoch, generator=generator, name=name,
        objective=objective, where=dict(context or {}),
    )
    try:
        _notify(callbacks, "on_train_begin", ctx)
        for _ in range(epochs):
            epoch = state.epoch
            ctx.epoch, ctx.record = epoch, None
            _notify(callbacks, "on_epoch_begin", ctx)
            start = time.perf_counter()
            loss_sum = torch.zeros((), device=source.device)
            has_loss = False
            batches = graphed.epoch() if graphed else source.batches(batch_size, generator)
            for batch in batches:
                loss = _step(objective, optimizer, batch, generator, closure_needed)
                if loss is not None:
                    loss_sum += loss * batch[0].shape[0]
                    has_loss = True
            record: dict = {"epoch": epoch + 1}
            if has_loss:
                record["loss"] = float(loss_sum) / source.n_samples
            if hasattr(objective, "monitor"):
                metrics = objective.monitor(monitor_data, generator)
                record.update({k: float(v) for k, v in metrics.items()})
            record["time"] = time.perf_counter() - start
            _check_health(objective, monitor_data, name, epoch, record.get("loss"))
            state.history.append(record)
            state.epoch += 1
            ctx.record = record
            stop = notify_epoch_end(callbacks, ctx)
            if progress is not None:
                progress.update(1)
                progress.set_postfix({k: v for k, v in record.items()
                                      if k not in ("epoch", "time")})
            if stop:
                break
    except BaseException as exc:
        ctx.error = exc
        raise
    finally:
        _notify(callbacks, "on_train_end", ctx)
    return state
