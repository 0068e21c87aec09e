"""Callbacks for ``fit``: the public path of :mod:`deepbelief.training.callbacks` (and of
:class:`~deepbelief.training.tensorboard.TensorBoard`).

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
from deepbelief.training.tensorboard import TensorBoard

__all__ = [
    "Callback",
    "EarlyStopping",
    "FreeEnergyGap",
    "LambdaCallback",
    "LearningRateScheduler",
    "ProgressBar",
    "TensorBoard",
    "TrainingContext",
]
