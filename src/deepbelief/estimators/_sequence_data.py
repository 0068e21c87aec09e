"""The input and output of :class:`~deepbelief.estimators.SequenceCRBM`: lists of sequences
checked, standardised per channel; generated and filled-in values kept within bounds."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from deepbelief.core.temporal import PREDICTIONS
from deepbelief.estimators._finite import refuse_non_finite
from deepbelief.estimators._generation import check_count
from deepbelief.estimators._input import _warn, check_X
from deepbelief.exceptions import SequenceRangeWarning

__all__ = [
    "FILL_METHODS",
    "FRAME_CLIP",
    "MARGIN_FLOOR",
    "RANGE_MARGIN",
    "OutputBounds",
    "SequenceRangeWarning",
    "Standardiser",
    "check_fill_method",
    "check_mask",
    "check_prediction",
    "check_sequences",
    "check_width",
    "fill_start",
    "one_or_list",
]

#: How far generated and filled-in values of a Gaussian channel may leave the channel's
#: training range: this fraction of the range on each side ...
RANGE_MARGIN = 0.5

#: ... and at least this fraction of the median range of the channels that vary. A channel
#: that barely moves (the cosine of a joint angle that stays near 0 spans ~1e-4) would
#: otherwise be bounded within a sliver of the data's scale, and its own units cannot help:
#: its predictions stray by ~8 of its standard deviations, a sinusoid's half range is ~1.7.
#: Sin/cos codes of 12 synthetic gaits and a joint within 0.01 rad of an offset of its own
#: per gait (order 3, 32 units, 20 epochs), knees and that joint missing in 6 held-out gaits:
#: of their 18 offline, online fill-ins and generations, 13 warned with the bare half range,
#: 9 with a floor of 0.05 and 1 with 0.1 (``tests/test_sequence_fill.py`` checks 3 of them).
#: The channels are taken to share one unit (angles, their codes, positions of one scale).
MARGIN_FLOOR = 0.1

#: ``SequenceCRBM``'s default ``frame_clip``, the bound on its standardised frames. Synthetic
#: gaits (12 of 120 frames, order 3, 32 units, 30 epochs, seeds 0 and 1) with a thirteenth
#: channel of noise 0.002 that jumps by 0.2 to 1.0 in one training frame (35 to 38 standard
#: deviations): unclipped, the context weights grew to 600 and more (jump 1.0) and the
#: one-step error of clean held-out gaits was 0.015 to 995; clipped at 3, 5 or 8 it was 0.011
#: to 0.012, as without a jump. 3 changed the model of clean gaits (a few of their values lie
#: beyond 3 standard deviations); 5 and 8 left it bit for bit.
FRAME_CLIP = 5.0

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


#: What to do about NaN or infinity in the frames each method reads.
_NON_FINITE = {
    "fit": "a model learns from complete frames: split the sequence around those frames (fit "
           "takes a list of sequences, and no (frame, past) pair crosses two), or fill them "
           "in first with fill_in(sequence, ~numpy.isfinite(sequence)) of a model fitted on "
           "complete sequences.",
    "fill_in": "mark them missing in the mask (mask | ~numpy.isfinite(sequence)) to have them "
               "filled in.",
    "generate": "fill them in first: seed = model.fill_in(seed, ~numpy.isfinite(seed)).",
    "other": "fill them in first: sequence = model.fill_in(sequence, "
             "~numpy.isfinite(sequence)).",
}

#: What a fitted model's methods do with the frames after its receptive field.
_VERBS = {"transform": ("encode", "transformed"), "predict_next": ("predict", "predicted"),
          "score": ("score", "scored")}


def _too_short(lengths: dict[str, int], min_length: int, method: str, single: bool) -> str:
    """The message for sequences (named: frames) shorter than ``min_length``; ``single``:
    one sequence was given alone."""
    listed = ", ".join(f"{name}: {n}" for name, n in list(lengths.items())[:5])
    what = f"{len(lengths)} sequence(s) have fewer than {min_length} frames ({listed})"
    if single:
        (name, n), = lengths.items()
        what = f"{name} has {n} frames"
    if method == "generate":
        return (f"{what}, but the model generates from the last {min_length} frames "
                "(receptive_field_): give at least that many.")
    if method == "fit":
        fix = "give a longer one" if single else "drop the short ones"
        return (f"{what}; the model needs {min_length} frames ({min_length - 1} frames of past "
                f"and one more) in each sequence: {fix}, or use a smaller order.")
    verb, done = _VERBS.get(method, ("read", "read"))
    return (f"{what}; {method} needs {min_length} frames in each sequence (the fitted model's "
            f"receptive_field_ of {min_length - 1} frames of past, and one frame to {verb}), "
            f"and a shorter sequence cannot be {done}: " + (
                f"give at least {min_length} frames." if single else "drop the short ones "
                f"([s for s in sequences if len(s) >= {min_length}])."))


def check_width(estimator, width: int, what: str, advice: str = "") -> None:
    """Refuse frames of ``width`` channels for a model fitted on another number."""
    if width != estimator.n_features_in_:
        raise ValueError(
            f"{what} has {width} channels per frame, but the model was fitted on "
            f"{estimator.n_features_in_} (n_features_in_): give frames of the training "
            f"channels, in their order{advice}.")


def check_sequences(estimator, sequences, *, reset: bool, method: str, min_length: int = 0,
                    name: str | None = None) -> tuple[list[np.ndarray], bool]:
    """Validate sequences for ``estimator`` (``check_X`` on their frames, so that the visible
    units' range is checked as for any estimator), with messages that name ``method``.

    Parameters
    ----------
    sequences : array of shape (T, D) or (n_sequences, T, D), or list of (T_i, D) arrays
    reset : bool
        True in ``fit``: sets ``n_features_in_``.
    method : str
        The method that reads them ('fit', 'transform', 'predict_next', 'score',
        'generate', 'fill_in'): it chooses the advice of the messages.
    min_length : int
        The fewest frames a sequence may have.
    name : str, optional
        What the messages call the sequence given alone, or in a list of one (e.g. 'the
        seed'); by default 'the sequence' alone, 'sequence i' in a list.

    Returns
    -------
    list of float arrays (T_i, D), and whether a single sequence was given.

    Raises
    ------
    ValueError
        For sequences that are not 2-D, of different widths or (fitted) of another width
        than the model's, shorter than ``min_length``, or holding NaN or infinity.
    """
    items, single = _items(sequences)
    names = ([name or "the sequence"] if single or (name and len(items) == 1) else
             [f"sequence {i}" for i in range(len(items))])
    for what, item in zip(names, items, strict=True):
        if item.ndim != 2:
            raise ValueError(
                f"{what} has shape {item.shape}; each sequence must be a 2-D array of shape "
                "(n_frames, n_channels): use x.reshape(-1, 1) for one channel, and pass "
                "several sequences as a list of such arrays.")
    widths = {item.shape[1] for item in items}
    if len(widths) > 1:
        raise ValueError(f"the sequences have different numbers of channels {sorted(widths)}; "
                         "every frame must have the same channels.")
    if not reset:
        check_width(estimator, items[0].shape[1], names[0] if len(items) == 1 else
                    "each sequence")
    short = {what: item.shape[0] for what, item in zip(names, items, strict=True)
             if item.shape[0] < min_length}
    if short:
        raise ValueError(_too_short(short, min_length, method, single or name is not None))
    for what, item in zip(names, items, strict=True):
        refuse_non_finite(item, what, _NON_FINITE.get(method, _NON_FINITE["other"]),
                          rows="frame", columns="channel")
    frames = check_X(estimator, np.concatenate(items), reset=reset,
                     units=None if estimator.visible_units == "gaussian" else
                     estimator.visible_units, usage="fit" if method == "fit" else "forward")
    ends = np.cumsum([item.shape[0] for item in items])[:-1]
    return np.split(frames, ends), single


def one_or_list(arrays: list, single: bool):
    """One array when a single sequence was given, else the list."""
    return arrays[0] if single else arrays


class Standardiser:
    """Per-channel standardisation ``(x - mean) / scale`` of Gaussian frames, clipped to
    ``[-clip, clip]`` (None: unclipped); Bernoulli frames (``enabled=False``) pass unchanged.
    A constant channel gets scale 1."""

    def __init__(self, mean: np.ndarray, scale: np.ndarray, enabled: bool,
                 clip: float | None = None) -> None:
        self.mean, self.scale, self.enabled, self.clip = mean, scale, enabled, clip

    @classmethod
    def fit(cls, frames: np.ndarray, enabled: bool, clip: float | None = None) -> Standardiser:
        mean = frames.mean(0, dtype=np.float64)
        std = frames.std(0, dtype=np.float64)
        scale = np.where(std > 1e-8 * np.maximum(np.abs(mean), 1.0), std, 1.0)
        return cls(mean, scale, enabled, clip)

    def forward(self, x: np.ndarray, device: torch.device, *, clip: bool = True) -> torch.Tensor:
        """Frames in data units -> standardised float32 tensor on ``device`` (clipped unless
        ``clip`` is False)."""
        if self.enabled:
            x = (x - self.mean) / self.scale
            if clip and self.clip is not None:
                x = np.clip(x, -self.clip, self.clip)
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
    (standardised) units: the training range widened on each side by :data:`RANGE_MARGIN` of
    itself, at least :data:`MARGIN_FLOOR` of the median channel's range (a channel constant
    in training keeps its constant). Called on values and a mask, it bounds the masked
    values and counts those it moved (constant channels aside).
    """

    def __init__(self, low: torch.Tensor, high: torch.Tensor) -> None:
        self.low, self.high, self.count = low, high, 0

    @classmethod
    def of(cls, data_min: np.ndarray, data_max: np.ndarray, scaler: Standardiser,
           device: torch.device) -> OutputBounds:
        """The limits of a model trained on frames ranging over ``[data_min, data_max]``;
        none for frames that are not standardised (Bernoulli frames, which stay in [0, 1])."""
        ranges = data_max - data_min
        typical = np.median(ranges[ranges > 0]) if (ranges > 0).any() else 0.0
        margin = np.where(ranges > 0, np.maximum(RANGE_MARGIN * ranges,
                                                 MARGIN_FLOOR * typical), 0.0)
        limits = np.stack([data_min - margin, data_max + margin])
        if not scaler.enabled:
            limits = np.array([[-np.inf], [np.inf]]) * np.ones_like(data_min)
        low, high = scaler.forward(limits, device, clip=False)
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
                f"{RANGE_MARGIN:.0%} of that range (at least {MARGIN_FLOOR:.0%} of the median "
                "channel's range) and were bounded to that limit: the model's predictions of "
                f"these channels drift away; {advice}."))


def fill_start(estimator, sequence, mask) -> tuple[np.ndarray, np.ndarray]:
    """The checked input of ``estimator.fill_in``: the sequence with the training mean in
    its missing entries, and the mask (T, D); a warning when the sequence is too short for
    any frame of it to be predicted (its missing entries then keep the training mean)."""
    check_is_fitted(estimator)
    given = np.asarray(sequence)
    if given.ndim != 2:
        raise ValueError(f"the sequence has shape {given.shape}; fill_in takes one "
                         "sequence, a 2-D array of shape (n_frames, n_channels).")
    check_width(estimator, given.shape[1], "the sequence", "; a channel you do not have goes "
                "in as missing: add a column of NaN for it and set it in the mask")
    mask = check_mask(mask, given.shape)
    start = np.where(mask, estimator.mean_, given)  # the training mean where nothing is known
    if given.dtype.kind == "f":
        start = start.astype(given.dtype)
    (seq,), _ = check_sequences(estimator, [start], reset=False, method="fill_in",
                                min_length=1, name="the sequence")
    field = estimator.receptive_field_
    if seq.shape[0] <= field and mask.any():
        _warn(UserWarning(
            f"the sequence has {seq.shape[0]} frames, no more than the model's "
            f"receptive_field_ ({field}): no frame of it can be predicted from its past, so "
            f"its {int(mask.sum())} missing entries were filled with the channels' training "
            f"means (mean_); give at least {field + 1} frames to have them inferred."))
    return seq, mask
