"""Exceptions and warnings raised by deepbelief."""

from __future__ import annotations

from sklearn.exceptions import NotFittedError

__all__ = [
    "DataRangeWarning",
    "DataScaleWarning",
    "DivergenceError",
    "ModelFileError",
    "NotFittedError",
    "SequenceRangeWarning",
]


class DivergenceError(FloatingPointError):
    """Training produced NaN or infinite parameters or loss."""


class ModelFileError(ValueError):
    """A model file is missing, truncated, tampered with, or of an unsupported version."""


class DataRangeWarning(UserWarning):
    """Input to a fitted model lay outside its visible units' range and was clipped to it
    (e.g. new data beyond the range of the data a ``MinMaxScaler`` was fitted on).

    Filter it with ``warnings.filterwarnings("ignore", category=DataRangeWarning)``.
    """


class DataScaleWarning(UserWarning):
    """Training data is far from the scale its visible units model (e.g. unstandardized
    data for Gaussian units of unit variance).

    Filter it with ``warnings.filterwarnings("ignore", category=DataScaleWarning)``.
    """


class SequenceRangeWarning(DataRangeWarning):
    """Values that a :class:`~deepbelief.estimators.SequenceCRBM` generated or filled in
    left their channel's training range by more than half of that range, and were
    bounded to that limit: the model's predictions of those channels drift away.

    Filter it (or every :class:`~deepbelief.exceptions.DataRangeWarning`) with
    ``warnings.filterwarnings("ignore", category=...)``.
    """
