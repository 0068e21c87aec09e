"""SequenceCRBM and the temporal stack (core/temporal.py): conditional RBMs over time.

Every model is tiny and trains for a few epochs; the file runs in seconds on one thread.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepbelief import SequenceCRBM, load
from deepbelief.callbacks import Callback
from deepbelief.core.rbm import RBMModule
from deepbelief.core.temporal import lagged_pairs, predict_frames, recognise, sweep
from deepbelief.datasets import synthetic_gaits
from deepbelief.exceptions import NotFittedError
from deepbelief.training.checkpoint import load_checkpoint

torch.set_num_threads(1)


def _periodic(n_frames: int = 160, phase: float = 0.0, noise: float = 0.0,
              seed: int = 0) -> np.ndarray:
    """Three smooth periodic channels (a toy gait), in radians, float64."""
    t = np.arange(n_frames) + phase
    x = np.column_stack([np.sin(t / 4), 0.5 * np.cos(t / 4 + 1), np.sin(t / 2)])
    return x + noise * np.random.default_rng(seed).normal(size=x.shape)


@pytest.fixture(scope="module")
def walks() -> list[np.ndarray]:
    return [_periodic(120, phase=7.0 * i, noise=0.02, seed=i) for i in range(4)]


_FAST = {"pretrain_epochs": 8, "batch_size": 20, "random_state": 0, "device": "cpu"}


@pytest.fixture(scope="module")
def model(walks) -> SequenceCRBM:
    return SequenceCRBM(16, order=2, **_FAST).fit(walks)


@pytest.fixture(scope="module")
def two_layers(walks) -> SequenceCRBM:
    return SequenceCRBM((16, 8), order=(2, 1), **_FAST).fit(walks)


# -- (frame, past) pairs ----------------------------------------------------------------------
def test_pairs_never_cross_a_sequence_boundary():
    """Each pair's frame and past frames come from one sequence, in time order."""
    lengths, order = [5, 2, 7, 3], 2
    seqs = [torch.stack([torch.tensor([1000.0 * s + t, -t]) for t in range(n)])
            for s, n in enumerate(lengths)]
    frames, context = lagged_pairs(seqs, order)
    assert frames.shape == (sum(max(n - order, 0) for n in lengths), 2)
    assert context.shape == (frames.shape[0], order * 2)
    for frame, past in zip(frames, context.reshape(-1, order, 2), strict=True):
        sequence, t = divmod(int(frame[0]), 1000)
        assert [int(p[0]) for p in past] == [1000 * sequence + t - lag
                                             for lag in range(1, order + 1)]
        assert past[:, 1].tolist() == [-(t - lag) for lag in range(1, order + 1)]


def test_recognition_levels_start_where_their_past_is_complete():
    """Level l of a stack starts at frame sum(orders[:l]) of the data."""
    layers = [RBMModule(3, 5, "gaussian", n_context=6), RBMModule(5, 4, n_context=5)]
    levels = recognise(layers, [2, 1], torch.randn(10, 3))
    assert [tuple(level.shape) for level in levels] == [(10, 3), (8, 5), (7, 4)]


# -- reduction to the plain RBM ---------------------------------------------------------------
def test_zero_context_weights_give_the_plain_rbm():
    """A CRBM whose context weights are zero has the plain RBM's conditionals and chain."""
    plain = RBMModule(4, 3, "gaussian")
    plain.reset_parameters(torch.Generator().manual_seed(0), std=0.5)
    with torch.no_grad():
        plain.visible_bias.normal_(generator=torch.Generator().manual_seed(1))
        plain.hidden_bias.normal_(generator=torch.Generator().manual_seed(2))
    crbm = RBMModule(4, 3, "gaussian", n_context=8)
    crbm.load_state_dict({**plain.state_dict(), "context_visible": torch.zeros(8, 4),
                          "context_hidden": torch.zeros(8, 3)})
    sequence = torch.randn(12, 4, generator=torch.Generator().manual_seed(3))
    _, context = lagged_pairs([sequence], 2)
    v = sequence[2:]
    assert torch.equal(crbm.hidden_mean(v, context), plain.hidden_mean(v))
    assert torch.equal(crbm.visible_mean(plain.hidden_mean(v), context),
                       plain.visible_mean(plain.hidden_mean(v)))

    # One Gibbs sweep of the temporal stack is the plain RBM's h-sample, v-mean step.
    _, h = plain.sample_hidden(v, torch.Generator().manual_seed(4))
    expected = plain.visible_mean(h)
    assert torch.equal(sweep([crbm], [context], v, torch.Generator().manual_seed(4)), expected)

    # Mean-field one-step prediction from the previous frame is the plain mean-field step.
    predicted = predict_frames([crbm], [2], sequence, 1, None, "mean_field")
    assert torch.equal(predicted, plain.visible_mean(plain.hidden_mean(sequence[1:-1])))


# -- learning -------------------------------------------------------------------------------------
def test_one_step_prediction_of_a_periodic_sequence_beats_copying_the_last_frame(model):
    test = [_periodic(80, phase=3.5)]
    copy_error = ((test[0][2:] - test[0][1:-1]) ** 2).sum(1).mean()
    assert -model.score(test) < 0.25 * copy_error


def test_a_fit_is_reproducible_with_a_seed(walks, model):
    again = SequenceCRBM(16, order=2, **_FAST).fit(walks)
    for a, b in zip(model.layers_[0].state_dict().values(),
                    again.layers_[0].state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_transform_gives_features_from_the_receptive_field_on(model, two_layers, walks):
    features = model.transform([walks[0], walks[1][:30]])
    assert [f.shape for f in features] == [(118, 16), (28, 16)]
    assert np.array_equal(model.transform(walks[1][:30]), features[1])
    assert two_layers.receptive_field_ == 3
    assert two_layers.transform(walks[0]).shape == (117, 8)
    pooled = model.transform(walks, pool="mean_std")
    assert pooled.shape == (4, 32)
    assert np.allclose(pooled[0], np.concatenate([features[0].mean(0), features[0].std(0)]))


def test_pooling_with_frame_to_frame_change_separates_slow_and_fast_motion(model, walks):
    """Pooled features that tell how fast a sequence moves: its mean absolute change."""
    pooled = model.transform(walks, pool="mean_std_change")
    features = model.transform(walks)
    assert pooled.shape == (4, 48)
    assert np.array_equal(pooled[:, :32], model.transform(walks, pool="mean_std"))
    assert np.allclose(pooled[1, 32:], np.abs(np.diff(features[1], axis=0)).mean(0))
    slow = model.transform(np.repeat(walks[0], 2, axis=0), pool="mean_std_change")
    assert slow[0, 32:].sum() < 0.75 * pooled[0, 32:].sum()
    with pytest.raises(ValueError, match="longer sequences"):
        model.transform(walks[0][:model.receptive_field_ + 1], pool="mean_std_change")
    assert model.transform(walks[0][:model.receptive_field_ + 2], pool="mean_std_change").shape \
        == (1, 48)


# -- generation and filling in --------------------------------------------------------------------
def test_generation_is_reproducible_with_a_seed_and_keeps_the_data_units(walks):
    data = [100.0 + 10.0 * w for w in walks]  # far from standardised: the model rescales
    model = SequenceCRBM(16, order=2, **_FAST).fit(data)
    seed = data[0][:5]
    a = model.generate(seed, 40, random_state=3)
    assert a.shape == (40, 3) and a.dtype == np.float64
    assert np.array_equal(a, model.generate(seed, 40, random_state=3))
    assert not np.array_equal(a, model.generate(seed, 40, random_state=4))
    assert np.all(np.abs(a.mean(0) - data[0].mean(0)) < 5.0)
    assert np.all(a.std(0) < 3 * data[0].std(0))
    assert model.generate(seed, 0).shape == (0, 3)


def test_bernoulli_frames_generate_values_in_the_unit_interval():
    rng = np.random.default_rng(0)
    video = [(rng.random((30, 6)) < 0.3).astype(np.float32) for _ in range(3)]
    model = SequenceCRBM(8, order=1, visible_units="bernoulli", **_FAST).fit(video)
    frames = model.generate(video[0][:1], 10, random_state=0)
    assert frames.shape == (10, 6) and frames.dtype == np.float32
    assert frames.min() >= 0.0 and frames.max() <= 1.0
    assert np.array_equal(model.mean_, np.concatenate(video).mean(0, dtype=np.float64))


def test_fill_in_keeps_observed_entries_and_beats_mean_filling(model):
    truth = _periodic(80, phase=1.0)
    mask = np.zeros(truth.shape, dtype=bool)
    mask[10:60, 1] = True  # one channel lost for 50 frames
    given = np.where(mask, np.nan, truth)
    filled = model.fill_in(given, mask, random_state=0)
    assert np.array_equal(filled[~mask], truth[~mask])
    error = ((filled[mask] - truth[mask]) ** 2).mean()
    assert error < 0.2 * ((truth[mask] - model.mean_[1]) ** 2).mean()
    assert error < 0.2 * (truth[mask] ** 2).mean()

    online = model.fill_in(given, mask, random_state=0, method="online")
    assert np.array_equal(online[~mask], truth[~mask])
    assert ((online[mask] - truth[mask]) ** 2).mean() < 0.2 * (truth[mask] ** 2).mean()
    sampled = model.fill_in(given, mask, "gibbs", n_gibbs=20, random_state=0, method="online")
    assert np.array_equal(sampled[~mask], truth[~mask])
    assert ((sampled[mask] - truth[mask]) ** 2).mean() < 0.2 * (truth[mask] ** 2).mean()
    assert np.array_equal(sampled, model.fill_in(given, mask, "gibbs", n_gibbs=20,
                                                 random_state=0, method="online"))


def test_one_step_predictions_are_deterministic_or_seeded(model, walks):
    mean_field = model.predict_next(walks[0])
    assert mean_field.shape == (118, 3)
    assert np.array_equal(mean_field, model.predict_next(walks[0], random_state=5))
    gibbs = model.predict_next(walks[:2], "gibbs", n_gibbs=20, random_state=1)
    assert np.array_equal(gibbs[0], model.predict_next(walks[:2], "gibbs", 20, 1)[0])
    assert not np.array_equal(gibbs[0], model.predict_next(walks[0], "gibbs", 20, 2))
    seeded = model.predict_next(walks[:2], "gibbs", 20, random_state=model.random_state)
    assert model.score(walks[:2], prediction="gibbs", n_gibbs=20) == -np.mean(np.concatenate(
        [((g - w[2:]) ** 2).sum(1) for g, w in zip(seeded, walks, strict=False)]))


def test_online_fill_in_takes_a_channel_mask_and_the_training_mean_before_the_past_is_known(
        model):
    truth = _periodic(40)
    filled = model.fill_in(truth, np.array([False, False, True]), random_state=0,
                           method="online")
    assert np.allclose(filled[:2, 2], model.mean_[2])  # no past yet: the training mean
    assert np.array_equal(filled[:, :2], truth[:, :2])


def test_two_layer_model_fits_generates_and_fills_in(two_layers, walks):
    first, second = two_layers.layers_
    assert (first.n_context, second.n_context) == (2 * 3, 1 * 16)
    assert [len(h) for h in two_layers.history_] == [8, 8]
    frames = two_layers.generate(walks[0][:3], 20, random_state=0)
    assert frames.shape == (20, 3) and np.isfinite(frames).all()
    truth = _periodic(40)
    mask = np.zeros(truth.shape, dtype=bool)
    mask[5:, 0] = True
    filled = two_layers.fill_in(truth, mask, random_state=0)
    assert np.array_equal(filled[~mask], truth[~mask]) and np.isfinite(filled).all()


def test_a_constant_channel_is_modelled_without_dividing_by_zero(walks):
    data = [np.column_stack([w, np.full(len(w), 2.5)]) for w in walks]
    model = SequenceCRBM(8, order=2, **_FAST).fit(data)
    assert model.scale_[3] == 1.0 and model.mean_[3] == 2.5
    assert np.isfinite(model.generate(data[0][:2], 5, random_state=0)).all()


# -- saving and checkpoints -----------------------------------------------------------------------
def test_save_and_load_give_the_same_outputs(two_layers, walks, tmp_path):
    path = two_layers.save(tmp_path / "gait.safetensors")
    loaded = load(path, device="cpu")
    assert loaded.get_params() == {**two_layers.get_params(), "hidden_layer_sizes": (16, 8)}
    assert loaded.orders_ == [2, 1] and loaded.receptive_field_ == 3
    assert np.array_equal(loaded.transform(walks[0]), two_layers.transform(walks[0]))
    assert np.array_equal(loaded.generate(walks[1][:4], 10, random_state=1),
                          two_layers.generate(walks[1][:4], 10, random_state=1))
    assert loaded.score(walks[:2]) == two_layers.score(walks[:2])
    assert np.array_equal(loaded.data_max_, two_layers.data_max_)
    mask = np.zeros(walks[1].shape, dtype=bool)
    mask[10:30, 1] = True
    assert np.array_equal(loaded.fill_in(walks[1], mask), two_layers.fill_in(walks[1], mask))
    assert loaded.history_ == two_layers.history_


class _Interrupt(Callback):
    """Raises KeyboardInterrupt at the end of one epoch of one layer (as Ctrl-C would)."""

    def __init__(self, layer: int, epoch: int) -> None:
        self.layer, self.epoch = layer, epoch

    def on_epoch_end(self, context):
        if context.layer == self.layer and context.epoch == self.epoch:
            raise KeyboardInterrupt


@pytest.mark.parametrize("layer", [0, 1])
def test_a_resumed_fit_ends_with_the_weights_of_an_uninterrupted_fit(two_layers, walks, layer,
                                                                    tmp_path):
    path = tmp_path / "run.ckpt"
    params = {"hidden_layer_sizes": (16, 8), "order": (2, 1), **_FAST}
    with pytest.raises(KeyboardInterrupt):
        SequenceCRBM(**params, callbacks=[_Interrupt(layer, 3)]).fit(walks, checkpoint=path)
    resumed = SequenceCRBM(**params).fit(walks, checkpoint=path, resume=True)
    for a, b in zip(two_layers.layers_, resumed.layers_, strict=True):
        for (name, x), y in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
            assert torch.equal(x, y), name
    assert load_checkpoint(path, kind="SequenceCRBM")["stage"] == "finished"
    with pytest.raises(ValueError, match="trained on other data"):
        SequenceCRBM(**params).fit(walks[:3], checkpoint=path, resume=True)


# -- bad input ------------------------------------------------------------------------------------
def test_bad_sequences_are_refused_with_advice_that_works(model, walks):
    with pytest.raises(ValueError, match="reshape"):
        SequenceCRBM(4, order=1, **_FAST).fit(walks[0][:, 0])
    SequenceCRBM(4, order=1, **_FAST).fit(walks[0][:, 0].reshape(-1, 1))  # the advice
    with pytest.raises(ValueError, match=r"fewer than 3 frames.*drop the short"):
        SequenceCRBM(4, order=2, **_FAST).fit([walks[0], walks[1][:2]])
    SequenceCRBM(4, order=2, **_FAST).fit([s for s in [walks[0], walks[1][:2]] if len(s) > 2])
    with pytest.raises(ValueError, match="different numbers of channels"):
        SequenceCRBM(4, **_FAST).fit([walks[0], walks[1][:, :2]])
    with pytest.raises(ValueError, match="NaN"):
        SequenceCRBM(4, **_FAST).fit([np.where(walks[0] > 0.9, np.nan, walks[0])])
    with pytest.raises(ValueError, match="one or two"):
        SequenceCRBM((4, 4, 4), **_FAST).fit(walks)
    with pytest.raises(ValueError, match="no sequences"):
        SequenceCRBM(4, **_FAST).fit([])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        SequenceCRBM(4, visible_units="bernoulli", **_FAST).fit(walks)
    with pytest.raises(ValueError, match="visible_units"):
        SequenceCRBM(4, visible_units="relu", **_FAST).fit(walks)
    with pytest.raises(ValueError, match="order has 1 entries"):
        SequenceCRBM((4, 4), order=(2,), **_FAST).fit(walks)
    with pytest.raises(ValueError, match="frame_clip"):
        SequenceCRBM(4, frame_clip=0.0, **_FAST).fit(walks)


def test_bad_arguments_of_the_fitted_model_are_refused(model, walks):
    with pytest.raises(ValueError, match="2 channels per frame, but the model was fitted on 3"):
        model.transform(walks[0][:, :2])
    with pytest.raises(ValueError, match=r"seed has 1 frames.*at least"):
        model.generate(walks[0][:1], 5)
    with pytest.raises(ValueError, match="n_steps"):
        model.generate(walks[0][:4], -1)
    with pytest.raises(ValueError, match="mask has shape"):
        model.fill_in(walks[0], np.zeros((5, 3), dtype=bool))
    with pytest.raises(ValueError, match="bool"):
        model.fill_in(walks[0], np.full(walks[0].shape, 0.5))
    observed_nan = walks[0].copy()
    observed_nan[3, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model.fill_in(observed_nan, np.zeros(walks[0].shape, dtype=bool))
    with pytest.raises(ValueError, match="pool"):
        model.transform(walks[0], pool="max")
    with pytest.raises(ValueError, match="prediction must be one of"):
        model.predict_next(walks[0], "sample")
    with pytest.raises(ValueError, match="n_gibbs"):
        model.fill_in(walks[0], np.zeros(3, dtype=bool), n_gibbs=0)
    with pytest.raises(ValueError, match="2-D array"):
        model.fill_in(walks[0][:, 0], np.zeros(len(walks[0]), dtype=bool))


def _all_finite(result) -> bool:
    """Whether a method's result (a score, or a list of arrays) is finite throughout."""
    return all(np.isfinite(r).all() for r in (result if isinstance(result, list) else [result]))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_infinity_in_training_sequences_is_refused_with_advice_that_works(walks, bad):
    """Field report: scikit-learn's message suggested its HistGradientBoosting estimators;
    ours says where, and splitting the sequence around the frame, as it advises, fits."""
    sequence = walks[0].copy()
    sequence[60, 1] = bad
    with pytest.raises(ValueError, match=r"sequence 1 holds (NaN|infinity) \(1 value, the "
                                         r"first in frame 60, channel 1\): .*split the "
                                         r"sequence around those frames"):
        SequenceCRBM(4, order=2, **_FAST).fit([walks[1], sequence])
    SequenceCRBM(4, order=2, **_FAST).fit([walks[1], sequence[:60], sequence[61:]])


def test_nan_in_a_fitted_model_s_input_is_refused_and_filling_it_in_first_works(model, walks):
    """NaN in a seed or in the sequences of transform, predict_next and score: the message
    says where and to fill the values in first, and that works."""
    sequence = walks[2].copy()
    sequence[10:12, 0] = np.nan
    with pytest.raises(ValueError, match=r"the seed holds NaN \(2 values, the first in frame "
                                         r"10, channel 0\): .*seed = model.fill_in\(seed, "):
        model.generate(sequence[:20], 5)
    seed = model.fill_in(sequence[:20], ~np.isfinite(sequence[:20]))  # the advice
    assert np.isfinite(model.generate(seed, 5, random_state=0)).all()
    filled = model.fill_in(sequence, ~np.isfinite(sequence))
    for method in (model.transform, model.predict_next, model.score):
        with pytest.raises(ValueError, match=r"holds NaN .*sequence = model.fill_in\("):
            method([walks[0], sequence])
        assert _all_finite(method([walks[0], filled]))


def test_sequences_too_short_for_a_fitted_model_are_refused_without_advising_another_order(
        model, walks):
    """Field report: "use a smaller order" cannot help a fitted model; the message says the
    minimum length and that a shorter sequence cannot be read, and dropping works."""
    sequences = [walks[0], walks[1][:2], walks[2][:3]]
    for name, method, done in (("transform", model.transform, "transformed"),
                               ("predict_next", model.predict_next, "predicted"),
                               ("score", model.score, "scored")):
        with pytest.raises(ValueError, match=rf"sequence 1: 2\); {name} needs 3 frames in each "
                                             rf"sequence .*cannot be {done}: drop the short "
                                             r"ones \(\[s for s in sequences if len\(s\) >= 3"
                                             ) as error:
            method(sequences)
        assert "order" not in str(error.value).replace("receptive_field_", "")
        with pytest.raises(ValueError, match=r"the sequence has 2 frames.*give at least 3"):
            method(walks[1][:2])
        assert _all_finite(method([s for s in sequences if len(s) >= 3]))  # the advice


# -- glitches in a channel almost constant in training (frame_clip) ----------------------------
def _gaits_with_a_still_joint(n_sequences: int, seed: int, glitch: float) -> list[np.ndarray]:
    """Synthetic gaits with a thirteenth channel of noise 0.002 about 0 that jumps by
    ``glitch`` in frame 40 of the first gait."""
    sequences, _ = synthetic_gaits(n_sequences, 120, random_state=seed)
    rng = np.random.default_rng(seed)
    still = [0.002 * rng.standard_normal(len(s)) for s in sequences]
    still[0][40] += glitch
    return [np.column_stack([s, c]) for s, c in zip(sequences, still, strict=True)]


def test_a_glitch_in_a_channel_almost_constant_in_training_is_clipped():
    """One frame ~38 standard deviations out: unclipped, the context weights blow up and so
    does the one-step error of clean gaits; the default frame_clip keeps the model sane, and
    at inference reads the glitch as 5 standard deviations."""
    train = _gaits_with_a_still_joint(12, 0, glitch=1.0)
    clean = _gaits_with_a_still_joint(4, 100, glitch=0.0)
    settings = {"order": 3, "pretrain_epochs": 30, "batch_size": 50, "random_state": 0,
                "device": "cpu"}
    clipped = SequenceCRBM(32, **settings).fit(train)
    unclipped = SequenceCRBM(32, frame_clip=None, **settings).fit(train)
    assert clipped.frame_clip == 5.0 and -clipped.score(clean) < 0.02
    assert -unclipped.score(clean) > 100 * -clipped.score(clean)
    assert unclipped.layers_[0].context_visible.abs().max() > 100
    glitched, beyond = clean[0].copy(), clean[0].copy()
    glitched[40, 12] = 1.0
    beyond[40, 12] = clipped.mean_[12] + 6 * clipped.scale_[12]
    assert np.array_equal(clipped.predict_next(glitched), clipped.predict_next(beyond))


def test_frames_within_the_clip_train_and_predict_as_unclipped_bit_for_bit(walks, model):
    unclipped = SequenceCRBM(16, order=2, frame_clip=None, **_FAST).fit(walks)
    for mine, theirs in zip(model.layers_, unclipped.layers_, strict=True):
        for name, value in mine.state_dict().items():
            assert torch.equal(value, theirs.state_dict()[name]), name
    assert np.array_equal(model.predict_next(walks[0]), unclipped.predict_next(walks[0]))


def test_an_unfitted_model_says_so_in_every_method(walks):
    model = SequenceCRBM(4, **_FAST)
    for call in (lambda: model.transform(walks[0]), lambda: model.predict_next(walks[0]),
                 lambda: model.score(walks[0]), lambda: model.generate(walks[0], 3),
                 lambda: model.fill_in(walks[0], np.zeros(3, dtype=bool))):
        with pytest.raises(NotFittedError):
            call()
