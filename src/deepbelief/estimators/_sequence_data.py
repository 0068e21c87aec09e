"""The input and output of :class:`~deepbelief.estimators.SequenceCRBM`: lists of sequences
checked, standardised per channel; generated and filled-in values kept within bounds."""

from __future__ import annotations

import numpy as np
import torch

from deepbelief.core.temporal import PREDICTIONS
from deepbelief.estimators._generation import check_count
from deepbelief.estimators._input import _warn, check_X
from deepbelief.exceptions import SequenceRangeWarning

__all__ = [
    "FILL_METHODS",
    "RANGE_MARGIN",
    "OutputBounds",
    "SequenceRangeWarning",
    "Standardiser",
    "check_fill_method",
    "check_mask",
    "check_prediction",
    "check_sequences",
    "one_or_list",
]

#: How far generated and filled-in values of a Gaussian channel may leave the channel's
#: training range: this fraction of the range on each side.
RANGE_MARGIN = 0.5

#: The ways of :meth:`~deepbelief.estimators.SequenceCRBM.fill_in`.
FILL_METHODS = ("offline", "online")


def _items(sequences) -> tuple[list, bool]:
    """The sequences as a list of arrays, and whether a single one was given."""
    if isinstance(sequences, (list, tuple)):
        if not sequences:
            raise ValueError("no sequences were given: pass a list of (n_frames, n_channels) "
                             "arrays, or one such array.")
        return [np.asarray(s) for s in sequences], False
    array = np.asarray(sequences)
    if array.ndim == 3:
        return list(array), False
    return [array], True


def check_sequences(estimator, sequences, *, reset: bool, usage: str = "forward",
                    min_length: int = 0) -> tuple[list[np.ndarray], bool]:
    """Validate sequences for ``estimator`` (``check_X`` on their frames, so widths, NaN
    and the visible units' range are checked as for any estimator).

    Parameters
    ----------
    sequences : array of shape (T, D) or (n_sequences, T, D), or list of (T_i, D) arrays
    reset : bool
        True in ``fit``: sets ``n_features_in_``.
    usage : str
        ``check_X``'s usage ('fit' or 'forward').
    min_length : int
        The fewest frames a sequence may have.

    Returns
    -------
    list of float arrays (T_i, D), and whether a single sequence was given.
    """
    items, single = _items(sequences)
    for i, item in enumerate(items):
        if item.ndim != 2:
            what = "the sequence" if single else f"sequence {i}"
            raise ValueError(
                f"{what} has shape {item.shape}; each sequence must be a 2-D array of shape "
                "(n_frames, n_channels): use x.reshape(-1, 1) for one channel, and pass "
                "several sequences as a list of such arrays.")
    widths = {item.shape[1] for item in items}
    if len(widths) > 1:
        raise ValueError(f"the sequences have different numbers of channels {sorted(widths)}; "
                         "every frame must have the same channels.")
    short = [i for i, item in enumerate(items) if item.shape[0] < min_length]
    if short:
        lengths = ", ".join(f"sequence {i}: {items[i].shape[0]}" for i in short[:5])
        raise ValueError(
            f"{len(short)} sequence(s) have fewer than {min_length} frames ({lengths}); the "
            f"model needs {min_length} frames ({min_length - 1} frames of past and one "
            "more) in each sequence: drop the short ones, or use a smaller order.")
    frames = check_X(estimator, np.concatenate(items), reset=reset,
                     units=None if estimator.visible_units == "gaussian" else
                     estimator.visible_units, usage=usage)
    ends = np.cumsum([item.shape[0] for item in items])[:-1]
    return np.split(frames, ends), single


def one_or_list(arrays: list, single: bool):
    """One array when a single sequence was given, else the list."""
    return arrays[0] if single else arrays


class Standardiser:
    """Per-channel standardisation ``(x - mean) / scale`` of Gaussian frames; Bernoulli
    frames (``enabled=False``) pass unchanged. A constant channel gets scale 1."""

    def __init__(self, mean: np.ndarray, scale: np.ndarray, enabled: bool) -> None:
        self.mean, self.scale, self.enabled = mean, scale, enabled

    @classmethod
    def fit(cls, frames: np.ndarray, enabled: bool) -> Standardiser:
        mean = frames.mean(0, dtype=np.float64)
        std = frames.std(0, dtype=np.float64)
        scale = np.where(std > 1e-8 * np.maximum(np.abs(mean), 1.0), std, 1.0)
        return cls(mean, scale, enabled)

    def forward(self, x: np.ndarray, device: torch.device) -> torch.Tensor:
        """Frames in data units -> standardised float32 tensor on ``device``."""
        if self.enabled:
            x = (x - self.mean) / self.scale
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(device)

    def inverse(self, t: torch.Tensor, dtype=np.float32) -> np.ndarray:
        """A standardised tensor -> frames in data units."""
        x = t.detach().cpu().numpy().astype(np.float64)
        if self.enabled:
            x = x * self.scale + self.mean
        return x.astype(dtype)


def check_prediction(prediction: str, n_gibbs) -> int:
    """``n_gibbs`` as an int, after checking it and ``prediction``."""
    if prediction not in PREDICTIONS:
        raise ValueError(f"prediction must be one of {PREDICTIONS}, got {prediction!r}.")
    return check_count("n_gibbs", n_gibbs, 1)


def check_mask(mask, shape: tuple) -> np.ndarray:
    """``mask`` as a bool array of ``shape`` (a channel mask (D,) is repeated per frame)."""
    mask = np.asarray(mask)
    if mask.dtype != bool and not (mask.dtype.kind in "iuf" and np.isin(mask, (0, 1)).all()):
        raise ValueError(f"mask must be a bool array (True where a value is missing), got "
                         f"dtype {mask.dtype}.")
    mask = mask.astype(bool)
    if len(shape) == 2 and mask.shape == shape[1:]:
        mask = np.broadcast_to(mask, shape)
    if mask.shape != shape:
        raise ValueError(f"mask has shape {mask.shape} but the sequence has shape {shape}: "
                         "give one of the sequence's shape, or (n_channels,) for channels "
                         "missing in every frame.")
    return np.ascontiguousarray(mask)


def check_fill_method(method: str, prediction: str) -> None:
    """Refuse an unknown fill-in method, and Gibbs averages outside the online one."""
    if method not in FILL_METHODS:
        raise ValueError(f"method must be one of {FILL_METHODS}, got {method!r}.")
    if method == "offline" and prediction != "mean_field":
        raise ValueError(f"prediction={prediction!r} infers frame after frame, as "
                         "method='online' does; method='offline' minimises the error of "
                         "mean-field predictions: pass method='online', or leave prediction "
                         "at 'mean_field'.")


class OutputBounds:
    """Per-channel limits of generated and filled-in Gaussian values, in the model's
    (standardised) units: the training range widened by :data:`RANGE_MARGIN` of itself on
    each side (a channel constant in training keeps its constant). Called on values and a
    mask, it bounds the masked values and counts those it moved (constant channels aside).
    """

    def __init__(self, low: torch.Tensor, high: torch.Tensor) -> None:
        self.low, self.high, self.count = low, high, 0

    @classmethod
    def of(cls, data_min: np.ndarray, data_max: np.ndarray, scaler: Standardiser,
           device: torch.device) -> OutputBounds:
        """The limits of a model trained on frames ranging over ``[data_min, data_max]``;
        none for frames that are not standardised (Bernoulli frames, which stay in [0, 1])."""
        margin = RANGE_MARGIN * (data_max - data_min)
        limits = np.stack([data_min - margin, data_max + margin])
        if not scaler.enabled:
            limits = np.array([[-np.inf], [np.inf]]) * np.ones_like(data_min)
        low, high = scaler.forward(limits, device)
        return cls(low, high)

    def __call__(self, values: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
        outside = where & ((values < self.low) | (values > self.high)) & (self.high > self.low)
        self.count += int(outside.sum())
        return torch.where(where, values.clamp(self.low, self.high), values)

    def warn(self, what: str, advice: str) -> None:
        """Issue a :class:`SequenceRangeWarning` if any value was bounded."""
        if self.count:
            _warn(SequenceRangeWarning(
                f"{self.count} {what} left the training range of their channel by more than "
                f"{RANGE_MARGIN:.0%} of that range and were bounded to that limit: the "
                f"model's predictions of these channels drift away; {advice}."))
