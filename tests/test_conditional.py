"""Conditional RBMs: exact checks on tiny models, the CD gradient of the context weights,
the reduction to a plain RBM, and the ``ConditionalRBM`` estimator (learning, prediction,
saving, checkpoints, input errors)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline

from deepbelief import RBM, ConditionalRBM, load
from deepbelief.callbacks import Callback
from deepbelief.core.conditional import autoregressive_start, gibbs_mean, gibbs_sample, mean_field
from deepbelief.core.rbm import RBMModule
from deepbelief.learning.contrastive import (
    ContrastiveDivergence,
    PersistentContrastiveDivergence,
    RBMObjective,
)

torch.set_num_threads(1)

F64 = torch.float64
V_STATES = torch.tensor(list(itertools.product([0.0, 1.0], repeat=3)), dtype=F64)
H_STATES = torch.tensor(list(itertools.product([0.0, 1.0], repeat=2)), dtype=F64)
CONTEXTS = torch.tensor([[0.7, -1.3], [-0.4, 0.9]], dtype=F64)  # two context values


def _crbm(seed: int = 0, std: float = 1.0) -> RBMModule:
    """A Bernoulli conditional RBM, 3 visible, 2 hidden, 2 context units, random weights."""
    rbm = RBMModule(3, 2, n_context=2, dtype=F64)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in rbm.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=F64) * std)
    return rbm


def _energies(rbm: RBMModule, c: torch.Tensor) -> torch.Tensor:
    """E(v, h | c) by hand for every pair of states: (8 visible states, 4 hidden states)."""
    p = {k: v.detach() for k, v in rbm.named_parameters()}
    a = p["visible_bias"] + c @ p["context_visible"]
    b = p["hidden_bias"] + c @ p["context_hidden"]
    interaction = V_STATES @ p["weight"] @ H_STATES.t()
    return -(V_STATES @ a)[:, None] - (H_STATES @ b)[None, :] - interaction


def _p_visible(rbm: RBMModule, c: torch.Tensor) -> torch.Tensor:
    """p(v | c) of the 8 visible states, by enumeration."""
    return torch.softmax(torch.logsumexp(-_energies(rbm, c), 1), 0)


# -- the model against enumeration ----------------------------------------------------------


@pytest.mark.parametrize("row", [0, 1])
def test_joint_free_energy_and_conditionals_match_enumeration_at_each_context(row):
    """p(v, h | c), F(v | c), p(h | v, c) and p(v | h, c) for two context values."""
    rbm, c = _crbm(), CONTEXTS[row]
    energy = _energies(rbm, c)
    joint = torch.softmax(-energy.reshape(-1), 0).reshape(energy.shape)  # p(v, h | c)
    with torch.no_grad():
        vv, hh = V_STATES.repeat_interleave(4, 0), H_STATES.repeat(8, 1)
        model_joint = torch.softmax(-rbm.energy(vv, hh, c.expand(32, 2)), 0)
        torch.testing.assert_close(model_joint.reshape(8, 4), joint)
        torch.testing.assert_close(rbm.free_energy(V_STATES, c.expand(8, 2)),
                                   -torch.logsumexp(-energy, 1))
        torch.testing.assert_close(rbm.hidden_mean(V_STATES, c.expand(8, 2)),
                                   (joint / joint.sum(1, keepdim=True)) @ H_STATES)
        torch.testing.assert_close(rbm.visible_mean(H_STATES, c.expand(4, 2)),
                                   (joint / joint.sum(0, keepdim=True)).t() @ V_STATES)
    # The two contexts give different models: the context is not ignored.
    assert not torch.allclose(_p_visible(rbm, CONTEXTS[0]), _p_visible(rbm, CONTEXTS[1]))


def test_gibbs_mean_approaches_the_exact_conditional_mean():
    """Averaged Gibbs sweeps at a context estimate E[v | c]; sampling draws from p(v | c)."""
    rbm = _crbm(seed=3)
    c = CONTEXTS.repeat_interleave(2000, 0)
    exact = torch.stack([_p_visible(rbm, ci) @ V_STATES for ci in CONTEXTS])
    estimate = gibbs_mean(rbm, c, 40, torch.Generator().manual_seed(0))
    torch.testing.assert_close(estimate.reshape(2, 2000, 3).mean(1), exact, atol=0.03, rtol=0)
    draws = gibbs_sample(rbm, c, 40, torch.Generator().manual_seed(1))
    torch.testing.assert_close(draws.reshape(2, 2000, 3).mean(1), exact, atol=0.05, rtol=0)


def test_clamped_units_keep_their_values_and_the_start_is_the_autoregressive_part():
    rbm = _crbm(seed=2)
    c = CONTEXTS
    with torch.no_grad():
        start = torch.sigmoid(rbm.visible_bias + c @ rbm.context_visible)
    torch.testing.assert_close(autoregressive_start(rbm, c), start)
    torch.testing.assert_close(mean_field(rbm, c, 0), start)
    known = torch.tensor([[True, False, False], [False, False, True]])
    values = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]], dtype=F64)
    for v in (mean_field(rbm, c, 5, known=known, values=values),
              gibbs_mean(rbm, c, 6, torch.Generator().manual_seed(0), known=known,
                         values=values),
              gibbs_sample(rbm, c, 3, torch.Generator().manual_seed(0), known=known,
                           values=values)):
        assert torch.equal(v[known], values[known])
    with pytest.raises(ValueError, match="burn_in"):
        gibbs_mean(rbm, c, 4, None, burn_in=4)
    with pytest.raises(ValueError, match="at least one Gibbs sweep"):
        gibbs_sample(rbm, c, 0, None)


# -- the learning rule's gradient -----------------------------------------------------------


class _FixedNegative:
    """A rule whose negative phase is the given visible rows (and their hidden means)."""

    def __init__(self, v: torch.Tensor) -> None:
        self.v = v

    def negative_phase(self, rbm, v_pos, h_pos_sample, generator, context=None):
        return self.v, rbm.hidden_mean(self.v, context)

    def state_dict(self) -> dict:
        return {}


def _objective_gradient(rbm: RBMModule, rule, batch, generator=None) -> dict:
    objective = RBMObjective(rbm, rule)
    for p in rbm.parameters():
        p.grad = None
    objective.gradients_(batch, generator)
    return {name: p.grad.clone() for name, p in rbm.named_parameters()}


def _exact_gradient(rbm: RBMModule, v: torch.Tensor, c: torch.Tensor) -> dict:
    """The gradient of -mean log p(v | c) over the rows, by autograd of the enumeration."""
    rbm.zero_grad()
    free = rbm.free_energy(v, c)
    log_z = torch.stack([torch.logsumexp(-rbm.free_energy(V_STATES, ci.expand(8, 2)), 0)
                         for ci in c])
    (free + log_z).mean().backward()
    return {name: p.grad.clone() for name, p in rbm.named_parameters()}


@pytest.mark.parametrize("row", [0, 1])
@pytest.mark.parametrize("v_index", [0, 5, 7])
def test_the_objective_with_exact_model_statistics_is_the_exact_gradient(row, v_index):
    """Positive minus negative statistics, the negative phase averaged exactly over
    p(v' | c) (one row: the objective's gradient is linear in the negative sample), equals
    the gradient of -log p(v | c): the formulas of A and B are right."""
    rbm = _crbm(seed=1)
    v, c = V_STATES[v_index : v_index + 1], CONTEXTS[row : row + 1]
    weights = _p_visible(rbm, c[0])
    expected = {name: 0.0 for name, _ in rbm.named_parameters()}
    for state, weight in zip(V_STATES, weights, strict=True):
        grads = _objective_gradient(rbm, _FixedNegative(state[None]), (v, c))
        expected = {name: expected[name] + weight * g for name, g in grads.items()}
    exact = _exact_gradient(rbm, v, c)
    assert set(exact) >= {"context_visible", "context_hidden"}
    for name, grad in exact.items():
        torch.testing.assert_close(expected[name], grad, msg=name)


@pytest.mark.parametrize("rule", ["cd-30", "pcd"])
def test_long_chains_approach_the_exact_gradient(rule):
    """CD with a long chain (and PCD once its chains have mixed), averaged over many
    copies of one (v, c) pair per context, estimate the exact gradient of log p(v | c)."""
    rbm = _crbm(seed=4, std=0.7)
    n = 3000
    v = torch.cat([V_STATES[2:3], V_STATES[6:7]]).repeat_interleave(n, 0)
    c = CONTEXTS.repeat_interleave(n, 0)
    generator = torch.Generator().manual_seed(0)
    exact = _exact_gradient(rbm, v[[0, n]], c[[0, n]])
    if rule == "pcd":
        pcd = PersistentContrastiveDivergence(k=5)
        for _ in range(6):  # mix the persistent chains (the weights do not change)
            _objective_gradient(rbm, pcd, (v, c), generator)
        estimate = _objective_gradient(rbm, pcd, (v, c), generator)
    else:
        estimate = _objective_gradient(rbm, ContrastiveDivergence(k=30), (v, c), generator)
    for name, grad in exact.items():
        torch.testing.assert_close(estimate[name], grad, atol=0.05, rtol=0, msg=name)


# -- a zero context is a plain RBM ------------------------------------------------------------


def test_a_zero_context_is_the_plain_rbm_free_energies_and_cd_update():
    crbm = _crbm(seed=5)
    plain = RBMModule(3, 2, dtype=F64)
    plain.load_state_dict({k: v for k, v in crbm.state_dict().items()
                           if not k.startswith("context")})
    v = V_STATES
    zeros = torch.zeros(8, 2, dtype=F64)
    with torch.no_grad():
        assert torch.equal(crbm.free_energy(v, zeros), plain.free_energy(v))
    g1, g2 = (torch.Generator().manual_seed(9) for _ in range(2))
    conditional = _objective_gradient(crbm, ContrastiveDivergence(k=2), (v, zeros), g1)
    unconditional = _objective_gradient(plain, ContrastiveDivergence(k=2), (v,), g2)
    for name, grad in unconditional.items():
        assert torch.equal(conditional[name], grad), name
    assert not conditional["context_visible"].any() and not conditional["context_hidden"].any()


def test_a_constant_context_trains_the_plain_rbm_bit_for_bit():
    """ConditionalRBM on a constant X (a zero context after standardisation) ends with the
    weights of RBM on y alone, with the same settings and seed."""
    y = (np.random.default_rng(0).random((60, 5)) < 0.4).astype(np.float32)
    common = {"n_components": 4, "n_iter": 3, "batch_size": 8, "method": "cd",
              "learning_rate": 0.1, "momentum": 0.5, "device": "cpu", "random_state": 7}
    crbm = ConditionalRBM(**common).fit(np.full((60, 2), 3.0), y)
    rbm = RBM(**common).fit(y)
    for name, tensor in rbm.rbm_.state_dict().items():
        assert torch.equal(crbm.rbm_.state_dict()[name], tensor), name
    assert not crbm.rbm_.context_visible.any() and not crbm.rbm_.context_hidden.any()


# -- the estimator ------------------------------------------------------------------------


PATTERNS = np.array([[1, 1, 1, 0, 0, 0, 1, 0, 1, 0],
                     [0, 0, 1, 1, 1, 0, 0, 1, 0, 1],
                     [1, 0, 0, 0, 1, 1, 1, 1, 0, 0],
                     [0, 1, 0, 1, 0, 1, 0, 0, 1, 1]], dtype=np.float64)


def _patterns(n: int, seed: int):
    """X: which of four patterns (one-hot, with noise); y: that pattern, 10 % bits flipped."""
    rng = np.random.default_rng(seed)
    k = rng.integers(0, 4, n)
    X = np.eye(4)[k] + rng.normal(0, 0.2, (n, 4))
    y = np.abs(PATTERNS[k] - (rng.random((n, 10)) < 0.1))
    return X, y


@pytest.fixture(scope="module")
def fitted():
    X, y = _patterns(400, 0)
    return ConditionalRBM(16, n_iter=15, device="cpu", random_state=0).fit(X, y)


@pytest.mark.parametrize("prediction", ["mean_field", "gibbs"])
def test_predictions_of_y_chosen_by_x_beat_the_mean(fitted, prediction):
    """y is a noisy binary pattern that X selects: the fitted model predicts it far better
    than the training mean does."""
    X, y = _patterns(300, 1)
    model = fitted if prediction == "mean_field" else ConditionalRBM(
        **{**fitted.get_params(), "prediction": "gibbs", "n_gibbs": 20}).fit(*_patterns(400, 0))
    error = ((model.predict(X) - y) ** 2).mean()
    baseline = ((_patterns(400, 0)[1].mean(0) - y) ** 2).mean()
    assert error < 0.5 * baseline  # the best possible, E[y | X], has 0.09 / 0.25 = 0.36
    assert model.score(X, y) > 0.45
    assert fitted.visible_units_ == "bernoulli"


def test_fits_are_reproducible_with_a_seed_and_differ_without():
    X, y = _patterns(100, 2)
    params = {"n_components": 6, "n_iter": 2, "device": "cpu"}
    a = ConditionalRBM(**params, random_state=3, prediction="gibbs").fit(X, y)
    b = ConditionalRBM(**params, random_state=3, prediction="gibbs").fit(X, y)
    for name, tensor in a.rbm_.state_dict().items():
        assert torch.equal(b.rbm_.state_dict()[name], tensor), name
    assert np.array_equal(a.predict(X), b.predict(X))
    assert np.array_equal(a.sample(X, random_state=1), b.sample(X, random_state=1))
    assert not np.array_equal(a.sample(X, 3, random_state=1), a.sample(X, 3, random_state=2))
    c = ConditionalRBM(**params, random_state=4).fit(X, y)
    assert not torch.equal(a.rbm_.weight, c.rbm_.weight)


def test_real_valued_y_gets_gaussian_units_on_standardised_values():
    """y outside [0, 1] is modelled by Gaussian units on y standardised inside; predictions
    come back in y's units and shape (1-D y: 1-D predictions)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    y = 50.0 + 10.0 * (X[:, 0] - 2 * X[:, 1]) + rng.normal(0, 1.0, 300)
    model = ConditionalRBM(8, n_iter=20, device="cpu", random_state=0).fit(X, y)
    assert model.visible_units_ == "gaussian" and model.n_outputs_ == 1
    np.testing.assert_allclose([model.y_mean_[0], model.y_scale_[0]], [y.mean(), y.std()])
    prediction = model.predict(X)
    assert prediction.shape == (300,) and prediction.dtype == np.float64
    assert model.score(X, y) > 0.9
    assert model.hidden_features(X).shape == (300, 8)
    assert model.sample(X[:5]).shape == (5,)


def test_hidden_features_and_free_energy_match_enumeration(fitted):
    """The estimator's E[h | y, X] and F(y | X) are the module's at the standardised
    context; without y the features use the prediction."""
    X, y = _patterns(5, 3)
    c = torch.from_numpy(((X - fitted.x_mean_) / fitted.x_scale_).astype(np.float32))
    v = torch.from_numpy(y.astype(np.float32))
    with torch.no_grad():
        np.testing.assert_allclose(fitted.hidden_features(X, y), fitted.rbm_.hidden_mean(v, c))
        np.testing.assert_allclose(fitted.free_energy(X, y), fitted.rbm_.free_energy(v, c),
                                   rtol=1e-6)
    np.testing.assert_allclose(fitted.hidden_features(X),
                               fitted.hidden_features(X, fitted.predict(X)))


def test_save_and_load_give_the_same_model(fitted, tmp_path):
    X, y = _patterns(20, 4)
    loaded = load(fitted.save(tmp_path / "crbm.safetensors"))
    assert isinstance(loaded, ConditionalRBM)
    for name in ("x_mean_", "x_scale_", "y_mean_", "y_scale_"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(fitted, name))
    assert np.array_equal(loaded.predict(X), fitted.predict(X))
    assert np.array_equal(loaded.free_energy(X, y), fitted.free_energy(X, y))
    assert loaded.visible_units_ == "bernoulli" and loaded.n_iter_ == fitted.n_iter_
    loaded.partial_fit(X, y)  # continues from the loaded weights
    assert loaded.n_iter_ == fitted.n_iter_ + 1


def _with_border(X: np.ndarray, inked, value: float = 1.0) -> np.ndarray:
    """X with one more column, zero but in the rows ``inked`` (a digit's border pixel)."""
    column = np.zeros((len(X), 1))
    column[inked] = value
    return np.hstack([X, column])


def test_a_rare_border_pixel_speckles_the_prediction_unless_the_context_is_clipped(tmp_path):
    """A context column inked in one training row of 400 (20 standard deviations) and inked
    at prediction: read unclipped it saturates the visible units and triples the error;
    with ``context_clip=5`` the prediction stays close to the one without ink."""
    X, y = _patterns(400, 0)
    X_test, y_test = _patterns(300, 1)
    clean, inked = _with_border(X_test, []), _with_border(X_test, slice(None))
    errors = {}
    for clip in (None, 5.0):
        model = ConditionalRBM(16, n_iter=15, device="cpu", random_state=0,
                               context_clip=clip).fit(_with_border(X, [0]), y)
        errors[clip] = [((model.predict(x) - y_test) ** 2).mean() for x in (clean, inked)]
    assert errors[None][1] > 2.5 * errors[None][0]
    assert errors[5.0][1] < 1.5 * errors[5.0][0]
    assert errors[5.0][0] < 1.05 * errors[None][0]
    loaded = load(model.save(tmp_path / "clipped.safetensors"))
    assert loaded.context_clip == 5.0
    assert np.array_equal(loaded.predict(inked), model.predict(inked))


def test_a_context_within_the_clip_gives_the_unclipped_model_bit_for_bit():
    X, y = _patterns(100, 2)
    params = {"n_components": 6, "n_iter": 2, "device": "cpu", "random_state": 3}
    assert np.abs((X - X.mean(0)) / X.std(0)).max() < 5
    a = ConditionalRBM(**params).fit(X, y)  # the default clip, 5
    b = ConditionalRBM(**params, context_clip=None).fit(X, y)
    for name, tensor in a.rbm_.state_dict().items():
        assert torch.equal(tensor, b.rbm_.state_dict()[name]), name
    assert np.array_equal(a.predict(X), b.predict(X))
    assert not np.array_equal(a.predict(10 * X), b.predict(10 * X))  # beyond: clipped


def test_partial_fit_continues_training():
    X, y = _patterns(100, 5)
    params = {"n_components": 6, "n_iter": 3, "device": "cpu", "random_state": 0}
    model = ConditionalRBM(**params)
    for _ in range(3):
        model.partial_fit(X, y)
    assert model.n_iter_ == 3 and len(model.history_) == 3
    with pytest.raises(ValueError, match="y has 4 columns"):
        model.partial_fit(X, y[:, :4])


class _Stop(Callback):
    def on_epoch_end(self, context):
        if context.epoch == 2:
            raise KeyboardInterrupt


def test_a_resumed_fit_ends_with_the_weights_of_an_uninterrupted_fit(tmp_path):
    X, y = _patterns(120, 6)
    params = {"n_components": 6, "n_iter": 5, "batch_size": 16, "method": "pcd",
              "device": "cpu", "random_state": 2}
    reference = ConditionalRBM(**params).fit(X, y)
    path = tmp_path / "run.ckpt"
    with pytest.raises(KeyboardInterrupt):
        ConditionalRBM(**params, callbacks=[_Stop()]).fit(X, y, checkpoint=path)
    resumed = ConditionalRBM(**params).fit(X, y, checkpoint=path, resume=True)
    for name, tensor in reference.rbm_.state_dict().items():
        assert torch.equal(resumed.rbm_.state_dict()[name], tensor), name
    with pytest.raises(ValueError, match="trained on other data"):  # another y
        ConditionalRBM(**params).fit(X, 1 - y, checkpoint=path, resume=True)


def test_bad_input_is_refused_with_advice_that_works(fitted):
    X, y = _patterns(50, 7)
    with pytest.raises(ValueError, match="visible_units='gaussian'"):
        ConditionalRBM(4, visible_units="bernoulli", n_iter=1).fit(X, y * 2)
    ConditionalRBM(4, visible_units="gaussian", n_iter=1, device="cpu").fit(X, y * 2)
    ConditionalRBM(4, n_iter=1, device="cpu").fit(X, y * 2)  # 'auto' picks Gaussian
    bad = y.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        ConditionalRBM(4, n_iter=1).fit(X, bad)
    with pytest.raises(ValueError, match="4 features"):
        fitted.predict(X[:, :3])
    with pytest.raises(ValueError, match="9 columns, but ConditionalRBM was fitted with 10"):
        fitted.free_energy(X, y[:, :9])
    with pytest.raises(ValueError, match="rows"):
        fitted.hidden_features(X[:10], y[:9])
    with pytest.raises(ValueError, match="y does not fit"):
        fitted.free_energy(X, y - 0.5)
    with pytest.raises(ValueError, match="n_gibbs"):
        fitted.sample(X, 0)
    with pytest.raises(ValueError, match="context_clip"):
        ConditionalRBM(4, context_clip=0.0).fit(X, y)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_infinity_in_x_or_y_is_refused_with_advice_that_works(fitted, bad):
    """Field report: scikit-learn's message suggested HistGradientBoosting, though the
    docstring promises a message that names the fix; ours says where and what to do, and
    dropping the rows (or imputing NaN in a pipeline) works."""
    X, y = _patterns(60, 8)
    X_bad, y_bad = X.copy(), y.copy()
    X_bad[3, 2], y_bad[5, 1] = bad, bad
    kind = "NaN" if np.isnan(bad) else "infinity"
    model = ConditionalRBM(4, n_iter=1, device="cpu", random_state=0)
    with pytest.raises(ValueError, match=rf"X holds {kind} \(1 value, the first in row 3, "
                                         r"column 2\): drop those rows of X and y"):
        model.fit(X_bad, y)
    keep = np.isfinite(X_bad).all(axis=1)
    model.fit(X_bad[keep], y[keep])  # the advice
    with pytest.raises(ValueError, match=rf"y holds {kind} .*row 5, column 1\): drop those"):
        model.fit(X, y_bad)
    keep = np.isfinite(y_bad).reshape(len(y_bad), -1).all(axis=1)
    model.fit(X[keep], y_bad[keep])  # the advice
    for method in (fitted.predict, fitted.sample, fitted.hidden_features):
        with pytest.raises(ValueError, match=rf"X holds {kind} .*reads every column of X"):
            method(X_bad)
        assert np.isfinite(method(X_bad[np.isfinite(X_bad).all(axis=1)])).all()  # the advice
    with pytest.raises(ValueError, match=rf"y holds {kind}"):
        fitted.free_energy(X, y_bad)
    if np.isnan(bad):  # imputing, the other advice
        pipeline = make_pipeline(SimpleImputer(), ConditionalRBM(4, n_iter=1, device="cpu"))
        assert np.isfinite(pipeline.fit(X_bad, y).predict(X_bad)).all()
