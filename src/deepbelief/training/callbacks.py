"""Callbacks: hooks into training for early stopping, learning-rate schedules, progress and
user code.

Every estimator takes ``callbacks=[...]``. A callback is either

* a plain function ``(epoch, record) -> bool | None``, called after every epoch of every
  phase with the epoch, 1-based like the records (1 after the first epoch of each phase),
  and that epoch's record (the dict stored in ``history_``);
* or a :class:`Callback`, whose hooks receive a :class:`~deepbelief.training.loop.TrainingContext`
  telling the phase (one of :data:`PHASES`: ``'pretrain'``: training of an RBM, a DBN
  layer or an ``RBM`` estimator; ``'finetune'``: backpropagation; ``'updown'``: up-down
  fine-tuning of a :class:`~deepbelief.GenerativeDBN`), the layer, the epoch, the record,
  the module being trained, its optimizer and the estimator.

The hooks run once per *phase* (each pretrained layer, then fine-tuning)::

    on_train_begin(context)             # before the first epoch of the phase
    on_epoch_begin(context)             # before each epoch
    on_epoch_end(context) -> bool|None  # after each epoch: True stops the phase
    on_train_end(context)               # after the phase, also when it failed
                                        # (then context.error is the exception)

A callback may add metrics to ``context.record`` (numbers): they are kept in ``history_``
and shown by the progress bar. Estimators copy the callbacks they are given at the start of
``fit`` (their parameters are never changed) and keep the copies, with their state, as
``callbacks_``.

A callback whose state carries over from epoch to epoch may also define ``state_dict()``
(a tree of numbers, strings, lists, dicts and tensors) and ``load_state_dict(state)``: a
checkpoint (``fit(..., checkpoint=path)``) then saves that state, and a resumed fit puts it
back right after the callback's ``on_train_begin``, so the callback goes on as if training
had never stopped. :class:`EarlyStopping` and :class:`LearningRateScheduler` do.

Examples
--------
>>> from deepbelief import RBM
>>> from deepbelief.callbacks import EarlyStopping, LambdaCallback
>>> from deepbelief.datasets import load_digits
>>> X, _ = load_digits()
>>> seen = []
>>> rbm = RBM(n_components=16, n_iter=20, device="cpu", random_state=0, callbacks=[
...     lambda epoch, record: seen.append(record["reconstruction_error"]),
...     EarlyStopping(monitor="reconstruction_error", patience=2, tol=0.5),
... ]).fit(X[:300])
>>> len(seen) == len(rbm.history_) < 20
True
>>> rbm.callbacks_[1].stopped_epoch_ == len(rbm.history_)
True
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from deepbelief.core.rbm import RBMModule
from deepbelief.core.stack import up_pass
from deepbelief.training.hooks import (
    PHASES,
    Callback,
    PhaseCallbacks,
    check_callbacks,
    check_phase,
    context_info,
    copy_callbacks,
    describe_where,
)
from deepbelief.training.loop import TrainingContext
from deepbelief.training.progress import ProgressBar
from deepbelief.training.schedules import LinearDecay
from deepbelief.training.sources import as_source

__all__ = [
    "PHASES",
    "Callback",
    "EarlyStopping",
    "FreeEnergyGap",
    "LambdaCallback",
    "LearningRateScheduler",
    "PhaseCallbacks",
    "ProgressBar",
    "TrainingContext",
    "check_callbacks",
    "copy_callbacks",
]

log = logging.getLogger("deepbelief")


# -- early stopping ------------------------------------------------------------------------
class EarlyStopping(Callback):
    """Stop a phase when a metric of the epoch records stops improving.

    The rule of scikit-learn's ``MLPClassifier``: an epoch improves on the best value so far
    when it beats it by more than ``tol``; after ``patience`` epochs in a row without such an
    improvement, the phase stops. With ``restore_best=True`` the module's weights of the best
    epoch (the best value, improved by ``tol`` or not) are put back when the phase ends.
    The estimators' own ``early_stopping``, ``n_iter_no_change`` and ``tol`` use this class.

    Parameters
    ----------
    monitor : str, default 'loss'
        The record key to watch: ``'loss'`` (fine-tuning), ``'validation_score'`` (with
        ``early_stopping=True``), ``'reconstruction_error'`` (pretraining),
        ``'free_energy_gap'`` (with :class:`FreeEnergyGap`), or one a callback adds.
        Phases whose records lack it are left alone.
    mode : {'auto', 'min', 'max'}, default 'auto'
        Whether smaller or larger is better; 'auto' takes 'max' for keys containing
        'score' or 'accuracy', else 'min'.
    patience : int, default 10
        Epochs without improvement before stopping (sklearn's ``n_iter_no_change``).
    tol : float, default 1e-4
        The smallest change that counts as an improvement.
    restore_best : bool, default False
        Restore the best epoch's weights at the end of the phase.
    phase : {'pretrain', 'finetune', 'updown'} or None, default None
        The phase to watch; None watches every phase whose records have ``monitor``.

    Attributes
    ----------
    best_ : float
        The best value of the last phase watched.
    best_epoch_ : int
        Its epoch (1-based, as in the records).
    stopped_epoch_ : int or None
        The epoch (1-based) after which the phase was stopped, None if it ran to the end.

    Examples
    --------
    >>> from deepbelief import DBNClassifier
    >>> from deepbelief.training.callbacks import EarlyStopping
    >>> from deepbelief.datasets import load_digits
    >>> X, y = load_digits()
    >>> clf = DBNClassifier((32,), pretrain_epochs=1, max_iter=200, device="cpu",
    ...                     random_state=0, callbacks=[EarlyStopping(patience=3, tol=0.01)])
    >>> clf.fit(X[:500], y[:500]).n_iter_ < 200
    True
    """

    def __init__(self, monitor: str = "loss", *, mode: str = "auto", patience: int = 10,
                 tol: float = 1e-4, restore_best: bool = False,
                 phase: str | None = None) -> None:
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}.")
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
            raise ValueError(f"patience must be a positive integer, got {patience!r}.")
        if not tol >= 0:
            raise ValueError(f"tol must be >= 0, got {tol!r}.")
        self.monitor = monitor
        self.mode = mode
        self.patience = patience
        self.tol = tol
        self.restore_best = restore_best
        self.phase = check_phase(phase)

    def _maximize(self) -> bool:
        if self.mode != "auto":
            return self.mode == "max"
        return "score" in self.monitor or "accuracy" in self.monitor

    def on_train_begin(self, context: TrainingContext) -> None:
        self._active = self.phase in (None, context_info(context, "phase"))
        self.best_ = -np.inf if self._maximize() else np.inf
        self.best_epoch_ = None
        self.stopped_epoch_ = None
        self._stale = 0
        self._best_state = None

    def on_epoch_end(self, context: TrainingContext) -> bool:
        record = context.record
        if not self._active or self.monitor not in record:
            return False
        value = float(record[self.monitor])
        # sklearn MLP: improving by more than tol resets the count; any improvement is kept.
        score, best = (value, self.best_) if self._maximize() else (-value, -self.best_)
        self._stale = 0 if score > best + self.tol else self._stale + 1
        if score > best:
            self.best_, self.best_epoch_ = value, record["epoch"]
            if self.restore_best:
                self._best_state = copy.deepcopy(context.module.state_dict())
        if self._stale >= self.patience:
            self.stopped_epoch_ = record["epoch"]
            return True
        return False

    def on_train_end(self, context: TrainingContext) -> None:
        if not getattr(self, "_active", False):
            return
        if self.stopped_epoch_ is not None:
            log.info("%s stopped after epoch %d: %s did not improve by %g for %d epochs "
                     "(best %.6g at epoch %s%s).", describe_where(context), self.stopped_epoch_,
                     self.monitor, self.tol, self.patience, self.best_, self.best_epoch_,
                     ", weights restored" if self.restore_best else "")
        if self._best_state is not None and context.error is None:
            context.module.load_state_dict(self._best_state)
        self._best_state = None  # no stale copy of the weights in callbacks_

    def state_dict(self) -> dict:
        """The phase's progress (best value, counters, best weights), for checkpoints."""
        return {"best": float(self.best_), "best_epoch": self.best_epoch_,
                "stopped_epoch": self.stopped_epoch_, "stale": self._stale,
                "best_state": self._best_state}

    def load_state_dict(self, state: dict) -> None:
        """Continue a phase from :meth:`state_dict` (after ``on_train_begin``)."""
        self.best_, self.best_epoch_ = state["best"], state["best_epoch"]
        self.stopped_epoch_, self._stale = state["stopped_epoch"], state["stale"]
        self._best_state = state["best_state"]


# -- learning-rate schedules ---------------------------------------------------------------
class LearningRateScheduler(Callback):
    """Set the learning rate every epoch: from a function of the epoch, or with a
    ``torch.optim.lr_scheduler``.

    It takes precedence over the estimator's own schedule (``learning_rate_schedule`` of
    :class:`~deepbelief.RBM`, ...) for the phases it applies to: the built-in schedule is
    a callback too (:mod:`deepbelief.training.schedules`), which always runs first in
    ``on_epoch_begin``, so the rate this one sets is the rate every step of the epoch
    uses. The built-in momentum schedule still applies.

    Parameters
    ----------
    schedule : callable or 'linear', optional
        ``schedule(epoch) -> learning rate``, called before each epoch with the number of
        epochs already trained in the phase: 0 for the first, as torch's ``LambdaLR`` (so
        the rate of the epoch recorded as ``record["epoch"] == n`` is ``schedule(n - 1)``;
        ``partial_fit`` continues the count). ``'linear'``: the phase's own learning rate
        (e.g. ``learning_rate_init``) falling linearly to zero over the phase's epochs
        (e.g. ``max_iter``), both read when the phase starts, so the schedule follows the
        estimator's parameters (the record presets' schedule).
    scheduler : torch.optim.lr_scheduler class or callable, optional
        Instead of ``schedule``: a scheduler class (``torch.optim.lr_scheduler.StepLR``)
        built as ``scheduler(optimizer, **kwargs)``, or a function ``optimizer ->
        scheduler``, made at the start of each phase. It steps once after every epoch;
        ``ReduceLROnPlateau`` is stepped with the record's ``monitor`` value.
    monitor : str, default 'loss'
        The record key given to ``ReduceLROnPlateau``.
    phase : {'pretrain', 'finetune', 'updown'} or None, default None
        The phase to schedule; None schedules every phase (with the same rates: a DBN's
        pretraining and fine-tuning rates usually differ, so give the phase).
    **kwargs
        Passed to a scheduler class.

    Examples
    --------
    >>> import torch
    >>> from deepbelief import DBNClassifier
    >>> from deepbelief.training.callbacks import LearningRateScheduler
    >>> halve = LearningRateScheduler(scheduler=torch.optim.lr_scheduler.StepLR,
    ...                               step_size=2, gamma=0.5, phase="finetune")
    >>> decay = LearningRateScheduler(lambda epoch: 0.1 / (1 + epoch), phase="pretrain")
    >>> from deepbelief.datasets import load_digits
    >>> X, y = load_digits()
    >>> clf = DBNClassifier((16,), pretrain_epochs=2, max_iter=4, device="cpu",
    ...                     random_state=0, callbacks=[halve, decay]).fit(X[:200], y[:200])
    >>> clf.callbacks_[0].learning_rates_
    [0.001, 0.001, 0.0005, 0.0005]
    """

    def __init__(self, schedule: Callable[[int], float] | None = None, *,
                 scheduler: Callable | None = None, monitor: str = "loss",
                 phase: str | None = None, **kwargs: Any) -> None:
        if (schedule is None) == (scheduler is None):
            raise ValueError("give either schedule (epoch -> learning rate) or scheduler "
                             "(a torch.optim.lr_scheduler class or factory), not both.")
        if schedule is not None and not callable(schedule) and schedule != "linear":
            raise ValueError(f"schedule must be a function epoch -> learning rate or "
                             f"'linear', got {schedule!r}.")
        if scheduler is not None and not callable(scheduler):
            raise ValueError(f"scheduler must be a torch.optim.lr_scheduler class or a "
                             f"function optimizer -> scheduler, got {scheduler!r}.")
        self.schedule = schedule
        self.scheduler = scheduler
        self.monitor = monitor
        self.phase = check_phase(phase)
        self.kwargs = kwargs

    def on_train_begin(self, context: TrainingContext) -> None:
        self._active = self.phase in (None, context_info(context, "phase"))
        self.learning_rates_: list[float] = []
        self._torch = None
        if self._active and self.schedule == "linear":  # from the rate the phase starts at
            self._linear = LinearDecay(float(context.optimizer.param_groups[0]["lr"]),
                                       int(context.n_epochs))
        if self._active and self.scheduler is not None:
            if isinstance(self.scheduler, type):
                self._torch = self.scheduler(context.optimizer, **self.kwargs)
            else:
                self._torch = self.scheduler(context.optimizer)
            self._rates = [g["lr"] for g in context.optimizer.param_groups]

    def on_epoch_begin(self, context: TrainingContext) -> None:
        if not self._active:
            return
        groups = context.optimizer.param_groups
        if self._torch is None:
            schedule = self._linear if self.schedule == "linear" else self.schedule
            rate = float(schedule(context.epoch))
            if not rate >= 0:
                raise ValueError(f"the learning-rate schedule returned {rate!r} for epoch "
                                 f"{context.epoch} (0-based); learning rates must be >= 0.")
            self._rates = [rate] * len(groups)
        for group, rate in zip(groups, self._rates, strict=True):
            group["lr"] = rate  # over the estimator's own per-epoch schedule
        self.learning_rates_.append(self._rates[0])

    def on_epoch_end(self, context: TrainingContext) -> None:
        if self._torch is None:
            return
        if isinstance(self._torch, torch.optim.lr_scheduler.ReduceLROnPlateau):
            if self.monitor in context.record:
                self._torch.step(float(context.record[self.monitor]))
        else:
            self._torch.step()
        self._rates = [g["lr"] for g in context.optimizer.param_groups]

    def on_train_end(self, context: TrainingContext) -> None:
        self._torch = None  # schedulers hold the optimizer: don't keep it in callbacks_

    def state_dict(self) -> dict:
        """The rates so far and the torch scheduler's state, for checkpoints."""
        linear = getattr(self, "_linear", None)
        return {"learning_rates": list(getattr(self, "learning_rates_", [])),
                "rates": list(getattr(self, "_rates", [])),
                "linear": None if linear is None else [linear.base, linear.epochs],
                "scheduler": None if getattr(self, "_torch", None) is None
                else self._torch.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        """Continue a phase from :meth:`state_dict` (after ``on_train_begin``)."""
        self.learning_rates_ = list(state["learning_rates"])
        if state.get("linear") is not None:  # the rate the phase started at, not the last
            self._linear = LinearDecay(float(state["linear"][0]), int(state["linear"][1]))
        if state["rates"]:
            self._rates = list(state["rates"])
        if getattr(self, "_torch", None) is not None and state["scheduler"] is not None:
            self._torch.load_state_dict(state["scheduler"])


# -- user hooks -----------------------------------------------------------------------------
class LambdaCallback(Callback):
    """A callback made of functions, each taking the context (any of them may be None).

    Examples
    --------
    >>> from deepbelief.training.callbacks import LambdaCallback
    >>> phases = []
    >>> hook = LambdaCallback(on_train_begin=lambda c: phases.append((c.phase, c.layer)))
    >>> from deepbelief import DBNClassifier
    >>> from deepbelief.datasets import load_digits
    >>> X, y = load_digits()
    >>> _ = DBNClassifier((8, 8), pretrain_epochs=1, max_iter=1, device="cpu",
    ...                   callbacks=[hook]).fit(X[:100], y[:100])
    >>> phases
    [('pretrain', 0), ('pretrain', 1), ('finetune', None)]
    """

    def __init__(self, on_train_begin: Callable | None = None,
                 on_epoch_begin: Callable | None = None,
                 on_epoch_end: Callable | None = None,
                 on_train_end: Callable | None = None) -> None:
        for name, fn in (("on_train_begin", on_train_begin), ("on_epoch_begin", on_epoch_begin),
                         ("on_epoch_end", on_epoch_end), ("on_train_end", on_train_end)):
            if fn is not None and not callable(fn):
                raise ValueError(f"{name} must be a function of the context, got {fn!r}.")
        self._hooks = {"on_train_begin": on_train_begin, "on_epoch_begin": on_epoch_begin,
                       "on_epoch_end": on_epoch_end, "on_train_end": on_train_end}

    def __deepcopy__(self, memo):  # the functions are the user's: share, don't copy
        return LambdaCallback(**self._hooks)

    def on_train_begin(self, context):
        if self._hooks["on_train_begin"]:
            self._hooks["on_train_begin"](context)

    def on_epoch_begin(self, context):
        if self._hooks["on_epoch_begin"]:
            self._hooks["on_epoch_begin"](context)

    def on_epoch_end(self, context):
        if self._hooks["on_epoch_end"]:
            return self._hooks["on_epoch_end"](context)
        return None

    def on_train_end(self, context):
        if self._hooks["on_train_end"]:
            self._hooks["on_train_end"](context)

    def __repr__(self) -> str:
        hooks = ", ".join(f"{k}={v!r}" for k, v in self._hooks.items() if v is not None)
        return f"LambdaCallback({hooks})"


# -- monitors --------------------------------------------------------------------------------
class FreeEnergyGap(Callback):
    """Record ``free_energy_gap``: mean free energy of held-out data minus that of as many
    training samples, after every epoch of RBM training (Hinton 2010, §6).

    ``log p(v) = -F(v) - log Z`` with one ``Z`` for both sets, so the gap compares their
    log-likelihoods without ``Z``: near zero while the model generalises, growing when it
    overfits. In a DBN, each layer compares its own input: the held-out data is passed up
    through the layers below. Fine-tuning phases are left alone.

    Parameters
    ----------
    X_valid : array-like of shape (n_samples, n_features)
        Held-out data, never trained on, in the estimator's input format.
    max_samples : int, default 1000
        At most this many held-out (and training) samples are compared.

    Examples
    --------
    >>> from deepbelief import RBM
    >>> from deepbelief.training.callbacks import FreeEnergyGap
    >>> from deepbelief.datasets import load_digits
    >>> X, _ = load_digits()
    >>> rbm = RBM(n_components=16, n_iter=2, device="cpu", random_state=0,
    ...           callbacks=[FreeEnergyGap(X[1500:])]).fit(X[:1500])
    >>> sorted(rbm.history_[-1])
    ['epoch', 'free_energy_gap', 'reconstruction_error', 'time']
    """

    def __init__(self, X_valid, max_samples: int = 1000) -> None:
        self.X_valid = X_valid
        self.max_samples = max_samples

    def on_train_begin(self, context: TrainingContext) -> None:
        self._valid = self._train = None
        module = context.module
        if context_info(context, "phase") != "pretrain" or not isinstance(module, RBMModule):
            return
        lower = context_info(context, "lower_layers") or []
        X = np.asarray(self.X_valid, dtype=np.float32)[: self.max_samples]
        if X.ndim != 2 or X.shape[1] != (lower[0].n_visible if lower else module.n_visible):
            raise ValueError(f"FreeEnergyGap: X_valid has shape {X.shape}, but the model's "
                             "input has another number of features.")
        x = torch.from_numpy(np.ascontiguousarray(X)).to(module.weight.device)
        self._valid = up_pass(lower, x) if lower else x
        self._train = as_source(context.data).head(len(x))[0]  # tensors or a source

    @torch.no_grad()
    def on_epoch_end(self, context: TrainingContext) -> None:
        if self._valid is None:
            return
        rbm = context.module
        gap = rbm.free_energy(self._valid).mean() - rbm.free_energy(self._train).mean()
        context.record["free_energy_gap"] = float(gap)

    def on_train_end(self, context: TrainingContext) -> None:
        self._valid = self._train = None  # no tensors kept in callbacks_

    def __deepcopy__(self, memo):  # the data is read only: share it
        return FreeEnergyGap(self.X_valid, self.max_samples)
