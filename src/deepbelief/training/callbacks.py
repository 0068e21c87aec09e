"""Callbacks: hooks into training for early stopping, learning-rate schedules, progress and
user code.

Every estimator takes ``callbacks=[...]``. A callback is either

* a plain function ``(epoch, record) -> bool | None``, called after every epoch of every
  phase with the 0-based epoch and that epoch's record (the dict stored in ``history_``);
* or a :class:`Callback`, whose hooks receive a :class:`~deepbelief.training.loop.TrainingContext`
  telling the phase (``'pretrain'``: training of an RBM, a DBN layer or an ``RBM``
  estimator; ``'finetune'``: backpropagation), the layer, the epoch, the record, the module
  being trained, its optimizer and the estimator.

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
import inspect
import logging
import os
import sys
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch

from deepbelief.training.loop import TrainingContext, _epoch_end

__all__ = [
    "Callback",
    "EarlyStopping",
    "FreeEnergyGap",
    "LambdaCallback",
    "LearningRateScheduler",
    "ProgressBar",
    "TrainingContext",
]

log = logging.getLogger("deepbelief")

_PHASES = (None, "pretrain", "finetune")


def _check_phase(phase: str | None) -> str | None:
    if phase not in _PHASES:
        raise ValueError(f"phase must be 'pretrain', 'finetune' or None (every phase), "
                         f"got {phase!r}.")
    return phase


def _where(context: TrainingContext) -> str:
    """``'DBNClassifier fine-tuning'``, ``'... pretraining, layer 2'``: for messages."""
    label = context.label or context.name
    return label if context.layer is None else f"{label}, layer {context.layer + 1}"


class Callback:
    """Base class of callback objects: every hook does nothing unless overridden.

    Subclasses override the hooks they need. A callback that applies to one phase only
    should check ``context.phase``; the built-in ones take a ``phase`` argument.

    Examples
    --------
    A callback that records the top singular value of every RBM's weights:

    >>> import torch
    >>> from deepbelief import DBNTransformer
    >>> from deepbelief.training.callbacks import Callback
    >>> class SpectralNorm(Callback):
    ...     def on_epoch_end(self, context):
    ...         if context.phase == "pretrain":
    ...             context.record["spectral_norm"] = torch.linalg.matrix_norm(
    ...                 context.module.weight, ord=2)
    >>> from deepbelief.datasets import load_digits
    >>> X, _ = load_digits()
    >>> dbn = DBNTransformer((16, 8), pretrain_epochs=2, device="cpu", random_state=0,
    ...                      callbacks=[SpectralNorm()]).fit(X)
    >>> sorted(dbn.history_["pretrain"][1][0])
    ['epoch', 'reconstruction_error', 'spectral_norm', 'time']
    """

    def on_train_begin(self, context: TrainingContext) -> None:
        """Called before the first epoch of a phase."""

    def on_epoch_begin(self, context: TrainingContext) -> None:
        """Called before each epoch (``context.epoch`` is the epoch about to run)."""

    def on_epoch_end(self, context: TrainingContext) -> bool | None:
        """Called after each epoch with ``context.record`` set; return True to stop."""
        return None

    def on_train_end(self, context: TrainingContext) -> None:
        """Called after the phase, also when it failed (``context.error`` is then set)."""

    def __repr__(self) -> str:
        names = [p for p in inspect.signature(type(self).__init__).parameters
                 if p not in ("self", "args", "kwargs")]
        args = ", ".join(f"{n}={getattr(self, n)!r}" for n in names if hasattr(self, n))
        return f"{type(self).__name__}({args})"


def check_callbacks(callbacks: Iterable | None) -> list:
    """Check an estimator's ``callbacks`` parameter; return its entries as a list."""
    if callbacks is None:
        return []
    if isinstance(callbacks, (str, bytes)) or not isinstance(callbacks, (list, tuple)):
        raise ValueError(f"callbacks must be a list of callbacks or None, got {callbacks!r}.")
    for callback in callbacks:
        if not (isinstance(callback, Callback) or hasattr(callback, "on_epoch_end")
                or callable(callback)):
            raise ValueError(f"{callback!r} in callbacks is not a callback: give a function "
                             "(epoch, record) or a deepbelief.training.callbacks.Callback.")
    return list(callbacks)


def copy_callbacks(callbacks: Iterable | None) -> list:
    """Fresh copies of callback objects (their state belongs to one fit); functions and
    other plain callables are kept as they are, so hooks that collect results in an
    outer list or object keep doing so."""
    return [copy.deepcopy(c) if isinstance(c, Callback) else c
            for c in check_callbacks(callbacks)]


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
    phase : {'pretrain', 'finetune'} or None, default None
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
        self.phase = _check_phase(phase)

    def _maximize(self) -> bool:
        if self.mode != "auto":
            return self.mode == "max"
        return "score" in self.monitor or "accuracy" in self.monitor

    def on_train_begin(self, context: TrainingContext) -> None:
        self._active = self.phase in (None, context.phase)
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
                     "(best %.6g at epoch %s%s).", _where(context), self.stopped_epoch_,
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

    The rate set here overrides the estimator's own schedule (e.g. ``learning_rate_schedule``
    of :class:`~deepbelief.RBM`) for the phases it applies to.

    Parameters
    ----------
    schedule : callable, optional
        ``schedule(epoch) -> learning rate``; ``epoch`` is 0-based, counted from the start
        of each phase (``partial_fit`` continues the count).
    scheduler : torch.optim.lr_scheduler class or callable, optional
        Instead of ``schedule``: a scheduler class (``torch.optim.lr_scheduler.StepLR``)
        built as ``scheduler(optimizer, **kwargs)``, or a function ``optimizer ->
        scheduler``, made at the start of each phase. It steps once after every epoch;
        ``ReduceLROnPlateau`` is stepped with the record's ``monitor`` value.
    monitor : str, default 'loss'
        The record key given to ``ReduceLROnPlateau``.
    phase : {'pretrain', 'finetune'} or None, default None
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
        if schedule is not None and not callable(schedule):
            raise ValueError(f"schedule must be a function epoch -> learning rate, "
                             f"got {schedule!r}.")
        if scheduler is not None and not callable(scheduler):
            raise ValueError(f"scheduler must be a torch.optim.lr_scheduler class or a "
                             f"function optimizer -> scheduler, got {scheduler!r}.")
        self.schedule = schedule
        self.scheduler = scheduler
        self.monitor = monitor
        self.phase = _check_phase(phase)
        self.kwargs = kwargs

    def on_train_begin(self, context: TrainingContext) -> None:
        self._active = self.phase in (None, context.phase)
        self.learning_rates_: list[float] = []
        self._torch = None
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
            rate = float(self.schedule(context.epoch))
            if not rate >= 0:
                raise ValueError(f"the learning-rate schedule returned {rate!r} for epoch "
                                 f"{context.epoch}; learning rates must be >= 0.")
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
        return {"learning_rates": list(getattr(self, "learning_rates_", [])),
                "rates": list(getattr(self, "_rates", [])),
                "scheduler": None if getattr(self, "_torch", None) is None
                else self._torch.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        """Continue a phase from :meth:`state_dict` (after ``on_train_begin``)."""
        self.learning_rates_ = list(state["learning_rates"])
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
        from deepbelief.core.rbm import RBMModule
        from deepbelief.core.stack import up_pass

        self._valid = self._train = None
        module = context.module
        if context.phase == "finetune" or not isinstance(module, RBMModule):
            return
        X = np.asarray(self.X_valid, dtype=np.float32)[: self.max_samples]
        if X.ndim != 2 or X.shape[1] != (context.lower_layers[0].n_visible
                                         if context.lower_layers else module.n_visible):
            raise ValueError(f"FreeEnergyGap: X_valid has shape {X.shape}, but the model's "
                             "input has another number of features.")
        x = torch.from_numpy(np.ascontiguousarray(X)).to(module.weight.device)
        self._valid = up_pass(context.lower_layers, x) if context.lower_layers else x
        self._train = context.data[0][: len(x)]

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


# -- progress ----------------------------------------------------------------------------------
def _in_ci() -> bool:
    value = os.environ.get("CI", "").strip().lower()
    return value not in ("", "0", "false", "no")


def _format_metrics(record: dict, skip=("epoch",)) -> str:
    return ", ".join(f"{k} = {v:.4g}" if isinstance(v, float) else f"{k} = {v}"
                     for k, v in record.items() if k not in skip)


class ProgressBar(Callback):
    """Show training progress: a tqdm bar per phase, or one line per epoch.

    With ``verbose > 0``, a `tqdm <https://tqdm.github.io>`_ bar per phase (each pretrained
    layer, then fine-tuning) shows the epochs done and the last epoch's metrics, updated
    once per epoch, when ``file`` is a terminal and the environment variable ``CI`` is not
    set; otherwise (logs, CI, notebooks' captured output) one line per epoch goes to
    ``sink``. ``verbose=0`` shows nothing. Estimators with ``verbose > 0`` add one
    themselves unless ``callbacks`` already holds one.

    Parameters
    ----------
    verbose : int, default 1
        0: silent; > 0: bars or lines.
    bar : bool or None, default None
        True: always a bar; False: always lines; None: decide as above.
    file : file-like or None, default None
        Where bars go (``sys.stderr`` when None).
    sink : callable or None, default None
        Receives each line (a str) when there is no bar; ``print`` to ``sys.stdout`` when
        None. ``logging.getLogger("deepbelief").info`` sends them to logging.

    Examples
    --------
    >>> from deepbelief import RBM
    >>> from deepbelief.training.callbacks import ProgressBar
    >>> from deepbelief.datasets import load_digits
    >>> X, _ = load_digits()
    >>> _ = RBM(n_components=8, n_iter=2, device="cpu", random_state=0,
    ...         callbacks=[ProgressBar(bar=False)]).fit(X)  # doctest: +ELLIPSIS
    [RBM] epoch 1, reconstruction_error = ..., time = ...
    [RBM] epoch 2, reconstruction_error = ..., time = ...
    """

    def __init__(self, verbose: int = 1, *, bar: bool | None = None, file=None,
                 sink: Callable[[str], Any] | None = None) -> None:
        self.verbose = verbose
        self.bar = bar
        self.file = file
        self.sink = sink

    def _use_bar(self, stream) -> bool:
        if self.bar is not None:
            return bool(self.bar)
        isatty = getattr(stream, "isatty", None)
        return (bool(isatty and isatty()) and not _in_ci()
                and os.environ.get("TERM", "") != "dumb")

    def on_train_begin(self, context: TrainingContext) -> None:
        self._bar = None
        if not self.verbose or context.n_epochs <= 0:
            return
        stream = self.file if self.file is not None else sys.stderr
        if self._use_bar(stream):
            from tqdm.auto import tqdm

            desc = context.label or context.name
            if context.layer is not None:
                desc += f" layer {context.layer + 1}"
                if context.n_layers:
                    desc += f"/{context.n_layers}"
            self._bar = tqdm(total=context.n_epochs, desc=desc, unit="epoch", file=stream,
                             leave=True, dynamic_ncols=True)

    def on_epoch_end(self, context: TrainingContext) -> None:
        if not self.verbose:
            return
        record = context.record
        if self._bar is not None:
            self._bar.set_postfix_str(_format_metrics(record, ("epoch", "time"))
                                      .replace(" = ", "="), refresh=False)
            self._bar.update(1)
            return
        label = context.label or context.name
        where = f"layer {context.layer + 1}, " if context.layer is not None else ""
        line = f"[{label}] {where}epoch {record['epoch']}, {_format_metrics(record)}"
        if self.sink is not None:
            self.sink(line)
        else:
            print(line, file=sys.stdout, flush=True)

    def on_train_end(self, context: TrainingContext) -> None:
        if getattr(self, "_bar", None) is not None:
            self._bar.close()
        self._bar = None

    def __deepcopy__(self, memo):  # streams and sinks are shared, never copied
        return ProgressBar(self.verbose, bar=self.bar, file=self.file, sink=self.sink)


# -- used by the estimators ------------------------------------------------------------------
class PhaseCallbacks(Callback):
    """Runs an estimator's callbacks for one phase, telling them where training stands.

    :func:`~deepbelief.training.greedy.pretrain_stack` and
    :func:`~deepbelief.training.loop.fit_epochs`
    know the module and the epoch; this adds the phase, the layer (counting the phases it
    sees, after the ``lower_layers`` already trained, e.g. by a run resumed from a
    checkpoint), the layers below, the estimator and a label, then calls each callback in
    turn.
    """

    def __init__(self, callbacks: list, *, phase: str, estimator, label: str,
                 n_layers: int | None = None, lower_layers: Iterable = ()) -> None:
        self.callbacks = callbacks
        self.phase = phase
        self.estimator = estimator
        self.label = label
        self.n_layers = n_layers
        self._modules: list = list(lower_layers)

    def on_train_begin(self, context: TrainingContext) -> None:
        context.phase, context.estimator, context.label = self.phase, self.estimator, self.label
        if self.n_layers is not None:  # one phase per layer of greedy pretraining
            context.layer, context.n_layers = len(self._modules), self.n_layers
            context.lower_layers = list(self._modules)
            self._modules.append(context.module)
        for callback in self.callbacks:
            if hasattr(callback, "on_train_begin"):
                callback.on_train_begin(context)

    def on_epoch_begin(self, context: TrainingContext) -> None:
        for callback in self.callbacks:
            if hasattr(callback, "on_epoch_begin"):
                callback.on_epoch_begin(context)

    def on_epoch_end(self, context: TrainingContext) -> bool:
        return _epoch_end(self.callbacks, context)

    def on_train_end(self, context: TrainingContext) -> None:
        errors = []
        for callback in self.callbacks:  # every callback ends (bars close) even if one fails
            if hasattr(callback, "on_train_end"):
                try:
                    callback.on_train_end(context)
                except Exception as exc:
                    errors.append(exc)
        if errors and context.error is None:
            raise errors[0]
