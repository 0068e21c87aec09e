"""The transposed start of an RBM above another (core/warm_start.py), checked by enumerating
every state of tiny models, and GenerativeDBN(pretrain_init='transpose')."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from sklearn.preprocessing import MinMaxScaler

from deepbelief import GenerativeDBN
from deepbelief.core.rbm import RBMModule
from deepbelief.core.warm_start import softplus_residuals, transposed_start
from deepbelief.evaluation import dbn_log_likelihood_bound, exact_log_partition, log_likelihood

F64 = torch.float64


def states(n: int) -> torch.Tensor:
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=n)), dtype=F64)


def random_rbm(n_visible: int, n_hidden: int, seed: int, scale: float = 1.0) -> RBMModule:
    g = torch.Generator().manual_seed(seed)
    rbm = RBMModule(n_visible, n_hidden, dtype=F64)
    with torch.no_grad():
        rbm.weight.copy_(scale * torch.randn(n_visible, n_hidden, generator=g, dtype=F64))
        rbm.visible_bias.copy_(torch.randn(n_visible, generator=g, dtype=F64))
        rbm.hidden_bias.copy_(torch.randn(n_hidden, generator=g, dtype=F64))
    return rbm


def lower_prior(lower: RBMModule) -> torch.Tensor:
    """log p(h) of the lower RBM, every hidden state, by enumeration."""
    logits = -lower.free_energy_hidden(states(lower.n_hidden))
    return logits - torch.logsumexp(logits, 0)


def upper_marginal(upper: RBMModule, n: int) -> torch.Tensor:
    """log p(h) of the upper RBM over its first ``n`` (of ``n``) visible units."""
    logits = -upper.free_energy(states(n))
    return logits - torch.logsumexp(logits, 0)


def kl(log_p: torch.Tensor, log_q: torch.Tensor) -> float:
    return float((log_p.exp() * (log_p - log_q)).sum())


@torch.no_grad()
def test_the_transpose_has_the_lower_rbms_prior_exactly():
    lower = random_rbm(5, 4, seed=0)
    upper = transposed_start(lower, RBMModule(4, 5, dtype=F64))
    assert torch.equal(upper.weight, lower.weight.T)
    assert torch.allclose(upper_marginal(upper, 4), lower_prior(lower), atol=1e-12)
    # without the start, the same upper RBM is far from it
    assert kl(lower_prior(lower), upper_marginal(RBMModule(4, 5, dtype=F64), 4)) > 0.1


@torch.no_grad()
def test_the_dbn_bound_starts_at_the_rbms_log_likelihood():
    """With the transposed top, the factorial posterior is exact, so the bound's expectation
    is the RBM's log-likelihood for every input (the estimate averages bottom-up samples:
    4,000 per input put its standard error near 0.01 nats)."""
    lower = random_rbm(6, 4, seed=1)
    upper = transposed_start(lower, RBMModule(4, 6, dtype=F64))
    v = states(6).float().numpy()
    bound = dbn_log_likelihood_bound([lower, upper], v, exact_log_partition(upper),
                                     n_samples=4000, random_state=0)
    exact = log_likelihood(lower, v, exact_log_partition(lower))
    np.testing.assert_allclose(bound, exact, atol=0.06)
    assert np.mean(bound) == pytest.approx(np.mean(exact), abs=0.01)
    # a random top RBM gives a bound well below it
    other = RBMModule(4, 6, dtype=F64)
    other.reset_parameters(torch.Generator().manual_seed(0))
    loose = dbn_log_likelihood_bound([lower, other], v, exact_log_partition(other),
                                     n_samples=4000, random_state=0)
    assert np.mean(loose) < np.mean(exact) - 0.1


@torch.no_grad()
def test_extra_hidden_units_keep_their_start_and_label_units_get_no_weights():
    lower = random_rbm(4, 3, seed=2)
    upper = RBMModule(3 + 2, 6, dtype=F64)  # 2 label units after the 3 hidden units below
    upper.reset_parameters(torch.Generator().manual_seed(1))
    with torch.no_grad():
        upper.visible_bias[3:] = torch.tensor([0.5, -0.5], dtype=F64)
    extra = upper.weight[:3, 4:].clone()
    transposed_start(lower, upper)
    assert torch.equal(upper.weight[:3, :4], lower.weight.T)
    assert torch.equal(upper.weight[:3, 4:], extra)
    assert torch.equal(upper.weight[3:], torch.zeros(2, 6, dtype=F64))
    assert upper.visible_bias[3:].tolist() == [0.5, -0.5]
    assert torch.equal(upper.visible_bias[:3], lower.hidden_bias)
    assert torch.equal(upper.hidden_bias[:4], lower.visible_bias)


@torch.no_grad()
def test_a_smaller_upper_rbm_folds_terms_that_do_not_vary_exactly():
    """Visible units without weights add a constant to log p(h): dropping them is exact."""
    lower = random_rbm(7, 4, seed=3)
    lower.weight[4:] = 0.0
    h = (torch.rand(50, 4, generator=torch.Generator().manual_seed(0)) < 0.5).to(F64)
    upper = transposed_start(lower, RBMModule(4, 4, dtype=F64), h)
    kept = {tuple(col.tolist()) for col in upper.weight.T}
    assert kept == {tuple(row.tolist()) for row in lower.weight[:4]}
    assert torch.allclose(upper_marginal(upper, 4), lower_prior(lower), atol=1e-12)


@torch.no_grad()
def test_the_fold_brings_a_smaller_upper_rbm_closer_to_the_prior():
    lower = random_rbm(8, 4, seed=4)
    prior = lower_prior(lower)
    draws = torch.multinomial(prior.exp(), 4000, replacement=True,
                              generator=torch.Generator().manual_seed(0))
    h = states(4)[draws]
    upper = transposed_start(lower, RBMModule(4, 5, dtype=F64), h)
    unfolded = RBMModule(4, 5, dtype=F64)
    unfolded.load_state_dict(upper.state_dict())
    unfolded.visible_bias.copy_(lower.hidden_bias)
    folded_kl = kl(prior, upper_marginal(upper, 4))
    assert folded_kl < kl(prior, upper_marginal(unfolded, 4))
    assert folded_kl < kl(prior, upper_marginal(RBMModule(4, 5, dtype=F64), 4))
    # the units kept are those whose terms depart most from linear
    residual, _ = softplus_residuals(lower, h)
    kept = {tuple(col.tolist()) for col in upper.weight.T}
    top5 = torch.argsort(residual, descending=True)[:5]
    assert kept == {tuple(lower.weight[i].tolist()) for i in top5.tolist()}


def test_softplus_residuals_of_a_linear_term_are_zero():
    lower = random_rbm(3, 2, seed=5)
    with torch.no_grad():
        lower.weight[0] = 0.0
    h = states(2)
    residual, slope = softplus_residuals(lower, h)
    assert float(residual[0]) == 0.0
    assert float(slope[0]) == pytest.approx(float(torch.sigmoid(lower.visible_bias[0].detach())))
    assert float(residual[1:].min()) > 0.0


@pytest.mark.parametrize("build, message", [
    (lambda: (RBMModule(4, 3, visible="gaussian"), RBMModule(3, 4)), "Bernoulli visible"),
    (lambda: (RBMModule(4, 3), RBMModule(3, 4, hidden="gaussian")), "Bernoulli hidden"),
    (lambda: (RBMModule(4, 3), RBMModule(2, 4)), "fewer than the lower RBM's 3"),
    (lambda: (RBMModule(4, 3), RBMModule(3, 2)), r"hidden_states of shape \(n_samples, 3\)"),
    (lambda: (RBMModule(4, 3), RBMModule(3, 4, visible="gaussian")), "must be Bernoulli"),
    (lambda: (RBMModule(4, 3, n_context=2), RBMModule(3, 4)), "conditional RBM"),
    (lambda: (RBMModule(4, 3),) * 2, "the same one twice"),
])
def test_transposed_start_refuses_models_that_do_not_fit(build, message):
    lower, upper = build()
    with pytest.raises(ValueError, match=message):
        transposed_start(lower, upper)


@pytest.mark.parametrize("hidden_states", [torch.zeros(0, 3),
                                           torch.full((5, 3), float("nan"))])
def test_transposed_start_refuses_hidden_states_without_finite_rows(hidden_states):
    with pytest.raises(ValueError, match="at least one row of finite values"):
        transposed_start(RBMModule(4, 3), RBMModule(3, 2), hidden_states)


# -- GenerativeDBN(pretrain_init='transpose') ---------------------------------------------

def binary_data(n: int = 300, d: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    p = np.where(y[:, None] == 1, 0.8, 0.2) * np.ones(d)
    return (rng.random((n, d)) < p).astype(np.float32), y


def test_generative_dbn_starts_its_top_rbm_at_the_rbm_below():
    X, _ = binary_data()
    model = GenerativeDBN((4, 6), pretrain_init="transpose", pretrain_epochs=[5, 0],
                          pretrain_learning_rate=0.05, random_state=0, device="cpu").fit(X)
    lower, top = model.rbms_
    assert torch.equal(top.weight, lower.weight.T)
    v = states(6).float().numpy()
    bound = dbn_log_likelihood_bound(model.rbms_, v, exact_log_partition(top),
                                     n_samples=4000, random_state=0)
    exact = log_likelihood(lower, v, exact_log_partition(lower))
    assert np.mean(bound) == pytest.approx(np.mean(exact), abs=0.01)
    random_top = GenerativeDBN((4, 6), pretrain_epochs=[5, 0], pretrain_learning_rate=0.05,
                               random_state=0, device="cpu").fit(X).rbms_[1]
    assert not torch.equal(random_top.weight, lower.weight.T)


def test_generative_dbn_transposed_start_with_labels_keeps_the_label_prior():
    X, y = binary_data(seed=1)
    kw = {"pretrain_epochs": [3, 0], "pretrain_learning_rate": 0.05, "random_state": 0,
          "device": "cpu"}
    model = GenerativeDBN((4, 6), pretrain_init="transpose", **kw).fit(X, y)
    plain = GenerativeDBN((4, 6), **kw).fit(X, y)
    lower, top = model.rbms_
    assert torch.equal(model.rbms_[0].weight, plain.rbms_[0].weight)
    assert torch.equal(top.weight[:4], lower.weight.T)
    assert torch.equal(top.weight[4:], torch.zeros(2, 6))
    assert torch.equal(top.visible_bias[4:], plain.rbms_[1].visible_bias[4:])
    assert torch.equal(top.visible_bias[:4], lower.hidden_bias)


def test_generative_dbn_refuses_a_transposed_start_over_gaussian_inputs_and_the_advice_works():
    X, y = binary_data(seed=2)
    X_real = X * 4.0 - 1.0
    model = GenerativeDBN((4, 3), pretrain_init="transpose", pretrain_epochs=1,
                          random_state=0, device="cpu")
    with pytest.raises(ValueError, match="Scale X into") as err:
        model.fit(X_real, y)
    assert "'auto' picked Gaussian units" in str(err.value)
    model.fit(MinMaxScaler(clip=True).fit_transform(X_real), y)  # the advice
    assert model.rbms_[1].n_hidden == 3
    gaussian = GenerativeDBN((4, 3), visible_units="gaussian", pretrain_init="transpose",
                             pretrain_epochs=1, random_state=0, device="cpu")
    with pytest.raises(ValueError, match="use visible_units='bernoulli'"):
        gaussian.fit(X, y)
    gaussian.set_params(visible_units="bernoulli").fit(X, y)  # the advice
    GenerativeDBN((4, 3), pretrain_epochs=1, random_state=0, device="cpu").fit(X_real, y)
