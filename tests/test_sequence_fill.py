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
from deepbelief.exceptions import DataRangeWarning

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
    """The training range per channel widened by half of it on each side."""
    frames = np.concatenate(train)
    low, high = frames.min(0), frames.max(0)
    return low - 0.5 * (high - low), high + 0.5 * (high - low)


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
    assert _rmse(offline[mask], held_out[mask]) < 0.7 * _rmse(online[mask], held_out[mask])
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
    short = model.fill_in(video[0][:2], mask[:2])  # no frame to predict: the training mean
    assert np.allclose(short[mask[:2]], np.broadcast_to(model.mean_, (2, 6))[mask[:2]])
