"""Wall-clock budgets for the benchmark scripts: stop each phase when its seconds are spent,
and anneal the fine-tuning learning rate over the epochs the budget leaves.

Imported as ``_budget`` by scripts run as ``python benchmarks/x.py``.
"""

from __future__ import annotations

import itertools
import time

import numpy as np

from deepbelief.callbacks import Callback
from deepbelief.training.hooks import context_info


class TimeBudget(Callback):
    """Stop training when its wall time is spent: pretraining layer ``i`` after
    ``pretrain[i]`` seconds, fine-tuning after ``finetune`` seconds or, when None, after what
    is left of ``total`` seconds counted from the start of the first phase."""

    def __init__(self, pretrain: list[float], *, finetune: float | None = None,
                 total: float = 0.0) -> None:
        self.pretrain = pretrain
        self.finetune = finetune
        self.total = total
        self.began: float | None = None
        self.start = self.limit = 0.0

    def on_train_begin(self, context) -> None:
        self.start = time.perf_counter()
        self.began = self.start if self.began is None else self.began
        if context.phase == "pretrain" and context_info(context, "layer") is not None:
            self.limit = self.pretrain[context.layer]
        elif self.finetune is not None:
            self.limit = self.finetune
        else:
            self.limit = max(self.total - (self.start - self.began), 1.0)

    def on_epoch_end(self, context) -> bool:
        return time.perf_counter() - self.start >= self.limit


class AnnealToBudget(TimeBudget):
    """A :class:`TimeBudget` that also sets the learning rate of ``phase`` (fine-tuning by
    default; 'pretrain' for a lone RBM, whose phase has no layer and gets all of
    ``total``) to ``rate * (1 - t / T)`` (floored at ``floor * rate``), ``t`` the phase's
    time spent at the start of the epoch and ``T`` its seconds: a linear decay that ends
    where the budget does, whatever the machine's speed. The rates used are kept in
    ``rates_``. (One callback, not two: the estimator copies its callbacks.)"""

    def __init__(self, pretrain: list[float], rate: float, *, total: float = 0.0,
                 floor: float = 0.02, phase: str = "finetune") -> None:
        super().__init__(pretrain, total=total)
        self.rate = rate
        self.floor = floor
        self.phase = phase
        self.rates_: list[float] = []

    def on_epoch_begin(self, context) -> None:
        if context.phase != self.phase:
            return
        spent = time.perf_counter() - self.start
        rate = self.rate * max(self.floor, 1.0 - spent / self.limit)
        for group in context.optimizer.param_groups:
            group["lr"] = rate
        self.rates_.append(rate)


def layer_budgets(sizes: list[int], seconds: float) -> list[float]:
    """``seconds`` of pretraining shared by the layers in proportion to the cost of an epoch
    (visible x hidden units)."""
    costs = np.array([a * b for a, b in itertools.pairwise(sizes)], float)
    return (seconds * costs / costs.sum()).tolist()
