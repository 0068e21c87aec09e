"""The fit of an estimator whose model is one trained layer (a conditional RBM, ...).

:func:`fit_one_layer` is the whole ``fit`` / ``partial_fit`` of such an estimator around
its own input handling: a :class:`~deepbelief.estimators._base.FitSession`, one
:class:`~deepbelief.training.plan.LayerPhase` (checkpoints, resume, callbacks, progress and
timing come from the plan), the state restored when ``partial_fit`` diverges, and the fitted
attributes set once training has succeeded.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from deepbelief.estimators._base import FitSession
from deepbelief.exceptions import DivergenceError
from deepbelief.training.greedy import LayerSpec
from deepbelief.training.plan import LayerPhase

__all__ = ["LayerData", "fit_one_layer"]


@dataclass
class LayerData:
    """What an estimator's ``prepare`` hands to :func:`fit_one_layer`.

    Attributes
    ----------
    config : LayerSpec
        The layer and its training settings.
    data : tensor or tuple of tensors
        The layer's training data on the session's device (a conditional RBM's ``(visible,
        context)``).
    X, y : arrays
        The validated input, whose digest a checkpoint records (``y`` None if unused).
    attributes : dict
        Fitted attributes the input handling computed (e.g. standardisation), set on the
        estimator only once training has succeeded.
    """

    config: LayerSpec
    data: Any
    X: Any
    y: Any = None
    attributes: dict = field(default_factory=dict)


def fit_one_layer(estimator, prepare: Callable[[bool, torch.device], LayerData], *,
                  incremental: bool, checkpoint=None, checkpoint_every: int = 1,
                  resume: bool = False):
    """Train ``estimator``'s layer; returns ``estimator`` with ``rbm_`` (the layer),
    ``history_``, ``n_iter_``, ``fit_time_`` and ``callbacks_`` set.

    Parameters
    ----------
    estimator : a scikit-learn estimator
        It has ``device``, ``random_state``, ``verbose`` and ``callbacks`` parameters; after
        a first fit it keeps its trainer in ``_trainer``.
    prepare : callable
        ``prepare(first, device)`` validates the input (``first``: a new model, so fit the
        input's attributes; else check it against them) and returns a :class:`LayerData`.
    incremental : bool
        ``partial_fit``: one epoch, continuing the trainer of the previous call (the first
        call builds the layer).
    checkpoint, checkpoint_every, resume :
        ``fit``'s arguments (see ``RBM.fit``).

    Raises
    ------
    DivergenceError
        If training diverged; ``partial_fit`` then leaves the estimator as it was.
    """
    first = not (incremental and hasattr(estimator, "rbm_"))
    trainer = None if first else estimator._trainer
    session = FitSession(  # partial_fit continues with the same callbacks (and state)
        estimator, checkpoint=checkpoint, checkpoint_every=checkpoint_every, resume=resume,
        callbacks=None if first else getattr(estimator, "callbacks_", None),
        generator=None if first else trainer.generator)
    prepared = prepare(first, session.device)
    session.open(prepared.X, prepared.y)
    phase = LayerPhase("pretrain", type(estimator).__name__, prepared.config, prepared.data,
                       epochs=1 if incremental else None, trainer=trainer,
                       generator=session.generator)
    backup = None if first else copy.deepcopy((trainer.layer.state_dict(),
                                                 trainer.state_dict()))
    try:
        session.run([phase])
    except DivergenceError:
        if backup is not None:  # never leave NaN weights behind
            trainer.layer.load_state_dict(backup[0])
            trainer.load_state_dict(backup[1])
            estimator.history_ = trainer.state.history
        raise
    for name, value in prepared.attributes.items():
        setattr(estimator, name, value)
    estimator.rbm_, estimator._trainer = phase.trainer.layer, phase.trainer
    estimator.callbacks_ = session.callbacks
    estimator.history_, estimator.n_iter_ = phase.history, len(phase.history)
    estimator.fit_time_ = phase.time
    return estimator
