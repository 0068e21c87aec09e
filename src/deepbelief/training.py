"""The one mini-batch training loop, shared by every layer type and by fine-tuning.

An *objective* owns a module and knows how to write gradients for a mini-batch::

    objective.module                       # the nn.Module being trained
    objective.gradients_(batch, generator) # fill .grad; may return a detached batch loss
    objective.monitor(data, generator)     # optional: per-epoch metrics (tensors)

The loop shuffles with a ``torch.Generator``, slices mini-batches on the data's device,
lets a ``torch.optim`` optimizer take each step, and synchronises with the host only once
per epoch (metrics, divergence check, callbacks).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from .exceptions import DivergenceError

__all__ = ["EpochSchedule", "fit_epochs", "make_optimizer", "momentum_schedule"]

#: Called after each epoch with ``(epoch, record)``; returning True stops training.
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
    callbacks : called after each epoch with ``(epoch, record)``; True stops training.
    state : loop position and history to continue from.
    monitor_size : number of leading samples used for per-epoch monitoring metrics.
    progress : optional object with ``update(n)`` and ``set_postfix(dict)`` (e.g. tqdm).

    Returns
    -------
    LoopState with one history record per epoch (floats; ``time`` in seconds).
    """
    state = state or LoopState()
    n = data[0].shape[0]
    device = data[0].device
    monitor_data = tuple(t[:monitor_size] for t in data)
    for _ in range(epochs):
        epoch = state.epoch
        if schedule is not None:
            schedule.apply(optimizer, epoch)
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
        if progress is not None:
            progress.update(1)
            progress.set_postfix({k: v for k, v in record.items() if k not in ("epoch", "time")})
        stop = False
        for callback in callbacks:
            stop = bool(callback(epoch, record)) or stop
        if stop:
            break
    return state
