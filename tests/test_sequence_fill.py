"""Filling in sequences (SequenceCRBM.fill_in, core/sequence_fill.py) and the bounds on what
generation and filling in return.

Field report (issue 16): with both knees of a synthetic gait missing in every frame, the
frame-by-frame fill-in fed its own estimates back as the knees' past and drifted away
exponentially, far beyond any angle in the data.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
import torch

from deepbelief import SequenceCRBM
from deepbelief.core.rbm import RBMModule
from deepbelief.core.sequence_fill import PRIOR, fill_sequence
from deepbelief.datasets import synthetic_gaits
from deepbelief.estimators import _sequence_data as sequence_data
from deepbelief.estimators._sequence_data import FRAME_CLIP, OutputBounds, Standardiser
from deepbelief.exceptions import DataRangeWarning, SequenceRangeWarning

torch.set_num_threads(1)

KNEES = [2, 3]


@pytest.fixture(scope="module")
def gaits() -> tuple[list[np.ndarray], np.ndarray]:
    """Eight training gaits of 80 frames and one held-out gait."""
    sequences, _ = synthetic_gaits(9, 80, random_state=0)
    return sequences[:8], sequences[8]


@pytest.fixture(scope="module")
def gait_model(gaits) -> SequenceCRBM:
    return SequenceCRBM(16, order=3, pretrain_epochs=10, batch_size=50, random_state=0,
                        device="cpu").fit(gaits[0])


def _limits(train: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The training range per channel widened by half of it on each side, at least a tenth
    of the median channel's range."""
    frames = np.concatenate(train)
    low, high = frames.min(0), frames.max(0)
    margin = np.maximum(0.5 * (high - low), 0.1 * np.median(high - low))
    return low - margin, high + margin


def _rmse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((a - b) ** 2)))


def test_both_knees_missing_in_every_frame_are_filled_in_without_drifting(gaits, gait_model):
    """Both knee channels lost for a whole gait: the estimate follows the knees, well below
    the error of filling in the training mean (the frame-by-frame fill-in drifted away)."""
    train, held_out = gaits
    mask = np.zeros(held_out.shape, dtype=bool)
    mask[:, KNEES] = True
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataRangeWarning)  # nothing needed bounding
        filled = gait_model.fill_in(np.where(mask, np.nan, held_out), mask)
    assert np.array_equal(filled[~mask], held_out[~mask])
    mean_error = _rmse(gait_model.mean_[KNEES], held_out[:, KNEES])
    assert _rmse(filled[:, KNEES], held_out[:, KNEES]) < 0.3 * mean_error
    low, high = _limits(train)
    assert np.all((filled >= low) & (filled <= high))


def test_a_missing_stretch_is_informed_by_the_frames_after_it(gaits, gait_model):
    """One leg lost in the middle of a gait: the offline estimate, which also uses the
    frames after the gap, is closer than the frame-by-frame one."""
    held_out = gaits[1]
    mask = np.zeros(held_out.shape, dtype=bool)
    mask[20:60, [0, 2, 4]] = True
    offline = gait_model.fill_in(held_out, mask)
    online = gait_model.fill_in(held_out, mask, method="online")
    # offline/online error ratio over random_state 0-5 of this model: 0.44 to 0.61 (0.42 to
    # 0.79 when a trial sampler drew its binary units from other random numbers)
    assert _rmse(offline[mask], held_out[mask]) < 0.85 * _rmse(online[mask], held_out[mask])
    assert np.array_equal(offline, gait_model.fill_in(held_out, mask))  # deterministic


def test_drifting_predictions_are_bounded_to_the_training_range_with_a_warning(gaits,
                                                                             gait_model):
    """A model whose autoregressive weights make every channel grow from frame to frame:
    generated and online filled-in values stop at the training range plus half of it."""
    train, held_out = gaits
    unstable = copy.deepcopy(gait_model)
    with torch.no_grad():
        unstable.layers_[0].context_visible.mul_(1.5)
    low, high = _limits(train)
    with pytest.warns(DataRangeWarning, match="generated values left the training range"):
        generated = unstable.generate(held_out[:3], 60, random_state=0)
    assert np.all((generated >= low - 1e-6) & (generated <= high + 1e-6))
    assert np.isclose(generated, high, atol=1e-6).any() or np.isclose(generated, low,
                                                                       atol=1e-6).any()
    mask = np.zeros(held_out.shape, dtype=bool)
    mask[:, KNEES] = True
    for method in ("online", "offline"):
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            filled = unstable.fill_in(held_out, mask, method=method)
        assert np.all((filled >= low - 1e-6) & (filled <= high + 1e-6)), method
        assert np.array_equal(filled[~mask], held_out[~mask])
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataRangeWarning)  # the trained model: no warning
        gait_model.generate(held_out[:3], 60, random_state=0)


def test_offline_fill_in_of_an_autoregressive_model_is_the_least_squares_solution():
    """Without hidden weights the model is x_t = b + A x_past + noise, and the offline
    fill-in is the least-squares estimate of the missing values (with the weak prior at the
    starting values: ridge rows)."""
    n, order, frames = 3, 2, 25
    rng = np.random.default_rng(0)
    rbm = RBMModule(n, 4, "gaussian", n_context=order * n)
    A = 0.4 * rng.standard_normal((order * n, n))
    b = rng.standard_normal(n)
    with torch.no_grad():
        rbm.weight.zero_()
        rbm.context_visible.copy_(torch.tensor(A, dtype=torch.float32))
        rbm.visible_bias.copy_(torch.tensor(b, dtype=torch.float32))
    x = rng.standard_normal((frames, n))
    missing = rng.random((frames, n)) < 0.3
    start = torch.tensor(np.where(missing, 0.0, x), dtype=torch.float32)
    filled = fill_sequence([rbm], [order], start, torch.from_numpy(missing), 1).numpy()
    least_squares = fill_sequence([rbm], [order], start, torch.from_numpy(missing), 1,
                                  prior=0.0).numpy()

    def residuals(values: np.ndarray) -> np.ndarray:
        z = x.copy()
        z[missing] = values
        past = np.stack([z[order - 1 - lag:frames - 1 - lag] for lag in range(order)], 1)
        return (z[order:] - b - past.reshape(frames - order, -1) @ A).ravel()

    n_missing = int(missing.sum())
    offset = residuals(np.zeros(n_missing))
    design = np.stack([residuals(e) - offset for e in np.eye(n_missing)], 1)
    for prior, values in ((PRIOR, filled), (0.0, least_squares)):
        expected = np.linalg.lstsq(np.vstack([design, np.sqrt(prior) * np.eye(n_missing)]),
                                   np.concatenate([-offset, np.zeros(n_missing)]),
                                   rcond=None)[0]
        assert np.allclose(values[missing], expected, atol=1e-3), prior
    assert np.array_equal(filled[~missing], x[~missing].astype(np.float32))


def test_offline_fill_in_refuses_gibbs_averages_with_advice_that_works(gaits, gait_model):
    held_out = gaits[1]
    mask = np.zeros(held_out.shape[1], dtype=bool)
    mask[KNEES[0]] = True
    with pytest.raises(ValueError, match="pass method='online'"):
        gait_model.fill_in(held_out, mask, "gibbs")
    filled = gait_model.fill_in(held_out, mask, "gibbs", n_gibbs=10, random_state=0,
                                method="online")  # the advice
    assert np.isfinite(filled).all()
    with pytest.raises(ValueError, match="method must be one of"):
        gait_model.fill_in(held_out, mask, method="smooth")


def test_offline_fill_in_of_binary_frames_stays_in_the_unit_interval():
    rng = np.random.default_rng(0)
    video = [(rng.random((30, 6)) < 0.3).astype(np.float32) for _ in range(3)]
    model = SequenceCRBM(8, order=2, visible_units="bernoulli", pretrain_epochs=5,
                         random_state=0, device="cpu").fit(video)
    mask = np.zeros(video[0].shape, dtype=bool)
    mask[5:20, :3] = True
    filled = model.fill_in(video[0], mask)
    assert filled.dtype == np.float32 and filled.min() >= 0.0 and filled.max() <= 1.0
    assert np.array_equal(filled[~mask], video[0][~mask])
    with pytest.warns(UserWarning, match="training means"):  # no frame to predict
        short = model.fill_in(video[0][:2], mask[5:7])
    assert np.allclose(short[mask[5:7]], np.broadcast_to(model.mean_, (2, 6))[mask[5:7]])


# -- the fill-in's input (issue 16, second round) ----------------------------------------------
@pytest.mark.filterwarnings("ignore::deepbelief.exceptions.SequenceRangeWarning")  # 10 epochs
def test_a_sequence_of_another_width_names_both_widths_and_padding_the_lack_works(gaits,
                                                                                gait_model):
    """Field report: a sequence without its last channel failed inside numpy ("operands could
    not be broadcast"); the message names both widths, and its advice (the lacking channel
    as a masked column of NaN) fills it in."""
    held_out = gaits[1]
    with pytest.raises(ValueError, match=r"11 channels per frame, but the model was fitted "
                                         r"on 12 \(n_features_in_\).*column of NaN"):
        gait_model.fill_in(held_out[:, :11], np.zeros(11, dtype=bool))
    padded = np.column_stack([held_out[:, :11], np.full(len(held_out), np.nan)])
    mask = np.zeros(12, dtype=bool)
    mask[11] = True
    filled = gait_model.fill_in(padded, mask)  # the advice
    assert np.isfinite(filled).all() and np.array_equal(filled[:, :11], held_out[:, :11])


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_among_the_observed_entries_says_to_mask_them_and_that_works(gaits, gait_model,
                                                                         bad):
    """A value lacking where the mask says observed: the message says where, and marking it
    missing as it says fills it in (scikit-learn's message suggested other estimators)."""
    sequence = gaits[1].copy()
    sequence[7, 4] = bad
    mask = np.zeros(12, dtype=bool)
    mask[KNEES] = True
    with pytest.raises(ValueError, match=r"frame 7, channel 4\): mark them missing in the "
                                         r"mask \(mask \| ~numpy.isfinite\(sequence\)\)"):
        gait_model.fill_in(sequence, mask)
    filled = gait_model.fill_in(sequence, mask | ~np.isfinite(sequence))  # the advice
    assert np.isfinite(filled).all()
    assert np.array_equal(filled[:, ~mask][np.isfinite(sequence[:, ~mask])],
                          sequence[:, ~mask][np.isfinite(sequence[:, ~mask])])


def test_a_sequence_no_longer_than_the_receptive_field_gets_the_training_mean_and_a_warning(
        gaits, gait_model):
    """Field report: three frames (the receptive field) came back silently as the training
    mean; they still do (no frame can be predicted), with a warning whose advice, one
    frame more, has the missing entries inferred."""
    held_out = gaits[1]
    mask = np.zeros(12, dtype=bool)
    mask[KNEES] = True
    for method in ("offline", "online"):
        with pytest.warns(UserWarning, match=r"receptive_field_ \(3\).*6 missing entries were "
                                             r"filled with the channels' training means.*at "
                                             r"least 4 frames"):
            short = gait_model.fill_in(held_out[:3], mask, method=method)
        assert np.allclose(short[:, KNEES], gait_model.mean_[KNEES])
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="the sequence has")
        longer = gait_model.fill_in(held_out[:4], mask)  # the advice
    assert not np.allclose(longer[:, KNEES], gait_model.mean_[KNEES], atol=1e-3)


# -- the margin of a channel that barely moves -------------------------------------------------
def test_the_margin_has_a_floor_of_a_tenth_of_the_median_range_and_constants_stay():
    """Ranges 2, 2, 1e-4 and 0: margins 1, 1, 0.2 (not 5e-5) and 0 (a constant stays)."""
    low, high = np.array([0.0, -1.0, 0.9999, 3.0]), np.array([2.0, 1.0, 1.0, 3.0])
    scaler = Standardiser(np.zeros(4), np.ones(4), enabled=True, clip=FRAME_CLIP)
    bounds = OutputBounds.of(low, high, scaler, torch.device("cpu"))
    assert np.allclose(bounds.low.numpy(), [-1.0, -2.0, 0.7999, 3.0])
    assert np.allclose(bounds.high.numpy(), [3.0, 2.0, 1.2, 3.0])


def _coded_gaits(n_sequences: int, seed: int) -> list[np.ndarray]:
    """Synthetic gaits as the sines and cosines of their angles, with a thirteenth joint that
    barely moves (0.01 rad about an offset of its own per gait): its cosine spans ~1e-4."""
    sequences, _ = synthetic_gaits(n_sequences, 120, random_state=seed)
    rng = np.random.default_rng(seed + 100)
    coded = []
    for angles in sequences:
        t = np.arange(len(angles))
        still = (0.01 * rng.standard_normal() + 0.01 * np.sin(t / 5 + rng.uniform(0, 6))
                 + 0.002 * rng.standard_normal(len(angles)))
        angles = np.column_stack([angles, still])
        coded.append(np.column_stack([np.sin(angles), np.cos(angles)]))
    return coded


def test_a_channel_that_barely_moves_is_not_bounded_within_a_sliver(monkeypatch):
    """Field report: sin/cos codes of a joint that barely moves warned in 5 of 6 sequences
    (half its range of 1e-4 was the margin). With the knees and that joint missing, the
    fill-ins and generations stay within the floored margin without a warning; with the
    bare half range (the old bound) the same calls warn."""
    train, held_out = _coded_gaits(12, 0), _coded_gaits(3, 1)
    model = SequenceCRBM(32, order=3, pretrain_epochs=20, batch_size=50, random_state=0,
                         device="cpu").fit(train)
    assert (model.data_max_ - model.data_min_)[-1] < 1e-3  # the still joint's cosine
    mask = np.zeros(26, dtype=bool)
    mask[[2, 3, 12, 15, 16, 25]] = True  # the knees' and the still joint's sines and cosines

    def run() -> None:
        for sequence in held_out:
            model.fill_in(sequence, mask)
            model.generate(sequence[:10], 100, random_state=0)

    with warnings.catch_warnings():
        warnings.simplefilter("error", SequenceRangeWarning)
        run()
    monkeypatch.setattr(sequence_data, "MARGIN_FLOOR", 0.0)
    with pytest.warns(SequenceRangeWarning, match="left the training range"):
        run()
