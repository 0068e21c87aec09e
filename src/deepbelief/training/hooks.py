"""The callback protocol: the :class:`Callback` base class, the phase names, and
:class:`PhaseCallbacks`, which runs an estimator's callbacks in one phase (see
:mod:`deepbelief.training.callbacks` for the built-in callbacks)."""

from __future__ import annotations

import copy
import inspect
from collections.abc import Iterable

from deepbelief.training.loop import TrainingContext, notify_epoch_end

__all__ = ["PHASES", "Callback", "PhaseCallbacks", "check_callbacks", "check_phase",
           "context_info", "copy_callbacks", "describe_where"]


#: The names of the estimators' training phases (``context.phase``), in one place:
#: ``'pretrain'`` (an RBM: a layer of a DBN, or an ``RBM`` estimator), ``'finetune'``
#: (backpropagation through a DBN), ``'updown'`` (up-down fine-tuning of a generative DBN).
PHASES = ("pretrain", "finetune", "updown")


def check_phase(phase: str | None) -> str | None:
    """``phase`` if it is a phase name or None (every phase), else ValueError."""
    if phase is not None and phase not in PHASES:
        raise ValueError(f"phase must be one of {', '.join(map(repr, PHASES))} or None "
                         f"(every phase), got {phase!r}.")
    return phase


def context_info(context: TrainingContext, name: str):
    """An estimator-level entry of the context (``phase``, ``layer``, ``label``, ...);
    None when the loop runs outside an estimator and its caller did not tell it."""
    return context.where.get(name)


def describe_where(context: TrainingContext) -> str:
    """``'DBNClassifier fine-tuning'``, ``'... pretraining, layer 2'``: for messages."""
    label, layer = context_info(context, "label") or context.name, context_info(context, "layer")
    return label if layer is None else f"{label}, layer {layer + 1}"


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
        """Called before each epoch (``context.epoch``: epochs trained before it, 0-based)."""

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
                             "(epoch, record) or a deepbelief.callbacks.Callback.")
    return list(callbacks)


def copy_callbacks(callbacks: Iterable | None) -> list:
    """Fresh copies of callback objects (their state belongs to one fit); functions and
    other plain callables are kept as they are, so hooks that collect results in an
    outer list or object keep doing so."""
    return [copy.deepcopy(c) if isinstance(c, Callback) else c
            for c in check_callbacks(callbacks)]



# -- used by the estimators ------------------------------------------------------------------
class PhaseCallbacks(Callback):
    """Runs an estimator's callbacks for one phase, telling them where training stands.

    :func:`~deepbelief.training.loop.fit_epochs` knows the module and the epoch; this
    supplies, in the context's ``where`` (read as attributes), what the estimator knows:

    ``phase``
        The phase's name (one of :data:`PHASES`).
    ``layer``, ``n_layers``
        With ``n_layers`` (a stack trained one layer per ``fit_epochs`` call): the 0-based
        layer, counting the calls it sees after the ``lower_layers`` already trained
        (e.g. by a run resumed from a checkpoint), and the stack's size; else None.
    ``lower_layers``
        The trained layers below ``layer`` (bottom first): map raw input to this layer's
        input with :func:`deepbelief.core.stack.up_pass`; else empty.
    ``estimator``
        The estimator being fitted (its fitted attributes are not set yet).
    ``label``
        A short human-readable name of the phase, e.g. ``'DBNClassifier fine-tuning'``.

    then calls each callback in turn.
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
        layer = None
        if self.n_layers is not None:  # one fit_epochs call per layer of a stack
            layer = len(self._modules)
        context.where.update(phase=self.phase, estimator=self.estimator, label=self.label,
                             layer=layer, n_layers=self.n_layers,
                             lower_layers=list(self._modules) if layer is not None else [])
        if layer is not None:
            self._modules.append(context.module)
        for callback in self.callbacks:
            if hasattr(callback, "on_train_begin"):
                callback.on_train_begin(context)

    def on_epoch_begin(self, context: TrainingContext) -> None:
        for callback in self.callbacks:
            if hasattr(callback, "on_epoch_begin"):
                callback.on_epoch_begin(context)

    def on_epoch_end(self, context: TrainingContext) -> bool:
        return notify_epoch_end(self.callbacks, context)

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
