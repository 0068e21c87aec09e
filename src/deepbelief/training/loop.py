"""The one mini-batch training loop, shared by every layer type and by fine-tuning.

An *objective* owns a module and knows how to write gradients for a mini-batch::

    objective.module                       # the nn.Module being trained
    objective.gradients_(batch, generator) # fill .grad; may return a detached batch loss
    objective.monitor(data, generator)     # optional: per-epoch metrics (tensors)

The loop shuffles with a ``torch.Generator``, slices mini-batches on the data's device,
lets a ``torch.optim`` optimizer take each step, and synchronises with the host only once
per epoch (metrics, divergence check, callbacks).

Callbacks are plain functions ``(epoch, record) -> bool | None`` or objects with any of the
hooks ``on_train_begin(context)``, ``on_epoch_begin(context)``, ``on_epoch_end(context)``
and ``on_train_end(context)`` (see :mod:`deepbelief.training.callbacks`), which receive a
:class:`TrainingContext`. A true value returned from ``on_epoch_end`` (or from a function)
stops the loop after that epoch.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from deepbelief.exceptions import DivergenceError

__all__ = [
    "EpochSchedule",
    "TrainingContext",
    "fit_epochs",
    "make_optimizer",
    "momentum_schedule",
]

#: A plain callback: called after each epoch with ``(epoch, record)``; True stops training.
#: Objects with ``on_epoch_end(context)`` etc. are accepted too
#: (:mod:`deepbelief.training.callbacks`).
Callback = Callable[[int, dict], bool | None]


@dataclass
class EpochSchedule:
    """Per-epoch hyper-parameters applied to every optimizer parameter group.

    ``learning_rate(epoch)`` and ``momentum(epoch)`` return the value for that epoch
    (0-based); ``momentum`` may be ``None`` for optimizers without one.
    """

    learning_rate: Callable[[int], float]
    momentum: Callable[[int], float] | None = None

    def apply(self, optimizer: torch.optim.Optimizer, epoch: int) -> None:
        for group in optimizer.param_groups:
            group["lr"] = self.learning_rate(epoch)
            if self.momentum is not None and "momentum" in group:
                group["momentum"] = self.momentum(epoch)


@dataclass(frozen=True)
class Constant:
    """The same value every epoch."""

    value: float

    def __call__(self, epoch: int) -> float:
        return self.value


@dataclass(frozen=True)
class ClassicMomentum:
    """0.5 for the first five epochs, then 0.9 (Hinton 2010, §9)."""

    def __call__(self, epoch: int) -> float:
        return 0.5 if epoch < 5 else 0.9


@dataclass(frozen=True)
class LinearDecay:
    """``base`` decaying linearly to zero at ``epochs``, then staying at zero."""

    base: float
    epochs: int

    def __call__(self, epoch: int) -> float:
        # Clamped: partial_fit may continue past the planned epochs.
        return self.base * max(0.0, 1.0 - epoch / max(self.epochs, 1))


@dataclass(frozen=True)
class InverseDecay:
    """``base / (1 + epoch)``."""

    base: float

    def __call__(self, epoch: int) -> float:
        return self.base / (1.0 + epoch)


def momentum_schedule(momentum: float | str) -> Callable[[int], float]:
    """A constant momentum, or ``'classic'``: 0.5 for five epochs, then 0.9 (Hinton 2010)."""
    if momentum == "classic":
        return ClassicMomentum()
    return Constant(float(momentum))


def learning_rate_schedule(base: float, kind: str, epochs: int) -> Callable[[int], float]:
    """``'constant'``, ``'linear'`` (to zero at the last epoch) or ``'inverse'`` (base/(1+t)).

    The schedules are small picklable objects, so trainers holding them pickle too.
    """
    if kind == "constant":
        return Constant(base)
    if kind == "linear":
        return LinearDecay(base, epochs)
    if kind == "inverse":
        return InverseDecay(base)
    raise ValueError(f"Unknown learning-rate schedule {kind!r}; use constant, linear or inverse.")


def make_optimizer(
    module: torch.nn.Module,
    optimizer: str | Callable,
    learning_rate: float,
    momentum: float = 0.0,
    weight_decay: float = 0.0,
) -> torch.optim.Optimizer:
    """Build a ``torch.optim`` optimizer; weight decay applies to weight matrices only.

    ``optimizer`` is ``'sgd'``, ``'adam'`` or a callable ``(param_groups, lr) -> Optimizer``.
    """
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
        raise ValueError(f"Unknown optimizer {optimizer!r}; use 'sgd', 'adam' or a callable.")
    cls, kwargs = kinds[optimizer]
    try:  # the fused kernel does the whole update in one pass (half the time on CPU)
        return cls(groups, lr=learning_rate, fused=True, **kwargs)
    except (RuntimeError, ValueError):  # device or dtype without a fused kernel
        return cls(groups, lr=learning_rate, **kwargs)


@dataclass
class LoopState:
    """Where a loop is; carried across ``fit_epochs`` calls for checkpoints and partial fits."""

    epoch: int = 0
    history: list[dict] = field(default_factory=list)


@dataclass(eq=False)
class TrainingContext:
    """What a callback object sees: one context per call to :func:`fit_epochs` (a *phase*).

    :func:`fit_epochs` fills the fields it knows; the estimators add where the loop stands
    in the model (``phase``, ``layer``, ``estimator``, ...). The same object is handed to
    every hook of that phase, so a callback may keep per-phase data on it or on itself.

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
        The current epoch, 0-based (the ``epoch`` a plain callback receives).
    record : dict or None
        The current epoch's record in ``on_epoch_end`` (None before it exists). It is the
        dict stored in ``history``: a callback may add metrics to it (numbers; tensors and
        numpy scalars are converted to float).
    generator : torch.Generator or None
        The training run's random stream (use it only to *draw*, to stay repeatable).
    name : str
        What is trained, for messages (``'layer 1 (RBM)'``).
    phase : {'pretrain', 'finetune'} or None
        ``'pretrain'``: training of an RBM (a DBN layer, or an ``RBM`` estimator);
        ``'finetune'``: backpropagation through a DBN. None outside the estimators.
    layer : int or None
        0-based index of the DBN layer being pretrained; None otherwise.
    n_layers : int or None
        Number of layers of the DBN being pretrained; None otherwise.
    lower_layers : list of RBMModule
        The trained layers below ``layer`` (bottom first): map raw input to this layer's
        input with :func:`deepbelief.core.stack.up_pass`.
    estimator : object or None
        The estimator being fitted (its fitted attributes are not set yet).
    label : str or None
        A short human-readable name of the phase, e.g. ``'DBNClassifier fine-tuning'``.
    error : BaseException or None
        In ``on_train_end``: the exception that ended training, None on success.
    objective : object or None
        The objective being trained (see the module docstring); with ``module``,
        ``optimizer`` and ``generator`` it is the state a checkpoint saves
        (:mod:`deepbelief.training.checkpoint`).
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
    phase: str | None = None
    layer: int | None = None
    n_layers: int | None = None
    lower_layers: list = field(default_factory=list)
    estimator: Any = None
    label: str | None = None
    error: BaseException | None = None
    objective: Any = None


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


def _epoch_end(callbacks: Sequence, context: TrainingContext) -> bool:
    """Run every callback on the finished epoch; True if one of them asks to stop."""
    record = context.record
    stop = False
    for callback in callbacks:
        method = getattr(callback, "on_epoch_end", None)
        if method is not None:
            result = method(context)
        elif callable(callback):
            result = callback(context.epoch, record)
        else:
            raise TypeError(f"{callback!r} is not a callback: give a function "
                            "(epoch, record) or a deepbelief.training.callbacks.Callback.")
        stop = bool(result) or stop
        for key, value in record.items():
            record[key] = _as_float(value)
    return stop


def _check_health(objective, monitor_data, name: str, epoch: int, loss: float | None) -> None:
    """Raise :class:`DivergenceError` when parameters or loss are not finite, or when the
    objective reports a failure (e.g. a dead layer)."""
    bad = [n for n, p in objective.module.named_parameters() if not torch.isfinite(p).all()]
    if bad or (loss is not None and not math.isfinite(loss)):
        what = f"parameters {bad} became NaN or infinite" if bad else f"the loss is {loss}"
    elif hasattr(objective, "failure"):
        what = objective.failure(monitor_data)
    else:
        what = None
    if what:
        raise DivergenceError(
            f"Training of {name} diverged at epoch {epoch + 1}: {what}. Try a smaller "
            "learning rate (layers with rectified linear or Gaussian units usually need "
            "0.01 or less), fewer units, more weight decay, or standardise real-valued data "
            "used with Gaussian units."
        )


def fit_epochs(
    objective,
    data: Sequence[torch.Tensor],
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
        already on the module's device.
    optimizer : a ``torch.optim`` optimizer over the module's parameters.
    epochs, batch_size : int
    generator : torch.Generator on the data's device, for shuffling and sampling.
    schedule : optional per-epoch learning rate / momentum.
    callbacks : functions called after each epoch with ``(epoch, record)``, or callback
        objects whose hooks receive a :class:`TrainingContext` (see
        :mod:`deepbelief.training.callbacks`); a true return value stops training after the epoch.
        ``on_train_end`` runs even when training fails (with ``context.error`` set).
    state : loop position and history to continue from.
    monitor_size : number of leading samples used for per-epoch monitoring metrics.
    progress : optional object with ``update(n)`` and ``set_postfix(dict)`` (e.g. tqdm),
        updated once per epoch after the callbacks.
    context : optional initial values of :class:`TrainingContext` fields (``phase``,
        ``layer``, ``estimator``, ...).

    Returns
    -------
    LoopState with one history record per epoch (floats; ``time`` in seconds).
    """
    state = state or LoopState()
    n = data[0].shape[0]
    device = data[0].device
    monitor_data = tuple(t[:monitor_size] for t in data)
    ctx = TrainingContext(
        module=objective.module, optimizer=optimizer, data=tuple(data), n_epochs=epochs,
        history=state.history, epoch=state.epoch, generator=generator, name=name,
        objective=objective, **(context or {}),
    )
    try:
        _notify(callbacks, "on_train_begin", ctx)
        for _ in range(epochs):
            epoch = state.epoch
            if schedule is not None:
                schedule.apply(optimizer, epoch)
            ctx.epoch, ctx.record = epoch, None
            _notify(callbacks, "on_epoch_begin", ctx)
            start = time.perf_counter()
            order = torch.randperm(n, generator=generator, device=device)
            loss_sum = torch.zeros((), device=device)
            has_loss = False
            for lo in range(0, n, batch_size):
                index = order[lo : lo + batch_size]
                batch = tuple(t.index_select(0, index) for t in data)
                loss = objective.gradients_(batch, generator)
                optimizer.step()
                if loss is not None:
                    loss_sum += loss * index.shape[0]
                    has_loss = True
            record: dict = {"epoch": epoch + 1}
            if has_loss:
                record["loss"] = float(loss_sum) / n
            if hasattr(objective, "monitor"):
                metrics = objective.monitor(monitor_data, generator)
                record.update({k: float(v) for k, v in metrics.items()})
            record["time"] = time.perf_counter() - start
            _check_health(objective, monitor_data, name, epoch, record.get("loss"))
            state.history.append(record)
            state.epoch += 1
            ctx.record = record
            stop = _epoch_end(callbacks, ctx)
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
