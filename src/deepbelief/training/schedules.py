"""Per-epoch schedules of the learning rate and momentum.

The estimators' built-in schedules (``learning_rate_schedule`` and ``momentum='classic'``
of :class:`~deepbelief.RBM`, the DBNs' ``pretrain_momentum``) are an
:class:`EpochSchedule`, which is a callback: :func:`~deepbelief.training.loop.fit_epochs`
runs it first in every epoch's ``on_epoch_begin``, before the estimator's and the user's
callbacks. So there is one mechanism that sets ``group["lr"]``: callbacks, in order, and a
user's :class:`~deepbelief.training.callbacks.LearningRateScheduler`, which runs later,
takes precedence over the built-in schedule for the phases it applies to.

The schedules are small picklable objects, so trainers holding them pickle too.

>>> schedule = EpochSchedule(learning_rate_schedule(0.1, "linear", 4), momentum_schedule("classic"))
>>> [round(schedule.learning_rate(e), 3) for e in range(4)], schedule.momentum(5)
([0.1, 0.075, 0.05, 0.025], 0.9)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

__all__ = [
    "ClassicMomentum",
    "Constant",
    "EpochSchedule",
    "InverseDecay",
    "LinearDecay",
    "learning_rate_schedule",
    "momentum_schedule",
]


@dataclass
class EpochSchedule:
    """Per-epoch hyper-parameters applied to every optimizer parameter group.

    ``learning_rate(epoch)`` and ``momentum(epoch)`` return the value for that epoch
    (0-based); ``momentum`` may be ``None`` for optimizers without one. As a callback, it
    sets them in ``on_epoch_begin`` (see the module docstring for the order).
    """

    learning_rate: Callable[[int], float]
    momentum: Callable[[int], float] | None = None

    def apply(self, optimizer: torch.optim.Optimizer, epoch: int) -> None:
        """Set the rates of ``epoch`` in every parameter group of ``optimizer``."""
        for group in optimizer.param_groups:
            group["lr"] = self.learning_rate(epoch)
            if self.momentum is not None and "momentum" in group:
                group["momentum"] = self.momentum(epoch)

    def on_epoch_begin(self, context: Any) -> None:
        """The callback hook: :meth:`apply` for ``context.epoch``."""
        self.apply(context.optimizer, context.epoch)

    def on_epoch_end(self, context: Any) -> None:
        """Nothing after an epoch (a callback object defines this hook)."""


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
    """``'constant'``, ``'linear'`` (to zero at the last epoch) or ``'inverse'`` (base/(1+t))."""
    if kind == "constant":
        return Constant(base)
    if kind == "linear":
        return LinearDecay(base, epochs)
    if kind == "inverse":
        return InverseDecay(base)
    raise ValueError(f"Unknown learning-rate schedule {kind!r}; use constant, linear or inverse.")
