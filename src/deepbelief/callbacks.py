"""Callbacks for ``fit``: the public path of :mod:`deepbelief.training.callbacks`.

>>> from deepbelief.callbacks import EarlyStopping, ProgressBar
"""

from deepbelief.training.callbacks import (
    Callback,
    EarlyStopping,
    FreeEnergyGap,
    LambdaCallback,
    LearningRateScheduler,
    ProgressBar,
    TrainingContext,
)

__all__ = [
    "Callback",
    "EarlyStopping",
    "FreeEnergyGap",
    "LambdaCallback",
    "LearningRateScheduler",
    "ProgressBar",
    "TrainingContext",
]
