"""CD-k and PCD gradients against hand computations and exact expectations on tiny RBMs."""

from __future__ import annotations

import copy
import itertools

import pytest
import torch

from deepbelief.core.coins import flip_coins
from deepbelief.core.rbm import RBMModule
from deepbelief.learning.contrastive import (
    ContrastiveDivergence,
    PersistentContrastiveDivergence,
    RBMObjective,
    make_rule,
)

torch.set_num_threads(1)

F64 = torch.float64


def _random_rbm(nv, nh, *, seed=0, std=1.0) -> RBMModule:
    rbm = RBMModule(nv, nh, dtype=F64)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in rbm.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=F64) * std)
    return rbm


def _binary(n: int) -> torch.Tensor:
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=n)), dtype=F64)


def _params(rbm):
    return rbm.weight.detach(), rbm.visible_bias.detach(), rbm.hidden_bias.detach()


def _grads(rbm):
    return tuple(p.grad.clone() for p in (rbm.weight, rbm.visible_bias, rbm.hidden_bias))


def _bernoulli_prob(states: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
    """P(states | mean) for independent Bernoulli units: (n_means, n_states)."""
    m = mean[:, None, :]
    return (states[None] * m + (1 - states[None]) * (1 - m)).prod(-1)


# -- CD-k: same random draws, computed by hand ------------------------------------------------


def _cd_by_hand(rbm, v_pos, k, sample_visible, generator):
    W, a, b = _params(rbm)
    sig = torch.sigmoid
    h_pos = sig(b + v_pos @ W)
    h = flip_coins(h_pos, generator)
    for step in range(k):
        pv = sig(a + h @ W.t())
        vs = flip_coins(pv, generator)
        v = pv if step == k - 1 and not sample_visible else vs
        ph = sig(b + v @ W)
        h = flip_coins(ph, generator)
    n = v_pos.shape[0]
    return (
        v.t() @ ph / n - v_pos.t() @ h_pos / n,
        v.mean(0) - v_pos.mean(0),
        ph.mean(0) - h_pos.mean(0),
    )


@pytest.mark.parametrize(("k", "sample_visible"), [(1, False), (1, True), (3, False)])
def test_cd_gradient_equals_hand_computation_from_the_same_draws(k, sample_visible):
    rbm = _random_rbm(3, 2, seed=1)
    v_pos = _binary(3)
    objective = RBMObjective(rbm, ContrastiveDivergence(k, sample_visible=sample_visible))
    objective.gradients_((v_pos,), torch.Generator().manual_seed(42))
    expect = _cd_by_hand(rbm, v_pos, k, sample_visible, torch.Generator().manual_seed(42))
    for got, want in zip(_grads(rbm), expect, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def test_gradients_overwrite_rather_than_accumulate():
    rbm = _random_rbm(3, 2, seed=2)
    objective = RBMObjective(rbm, ContrastiveDivergence(1))
    v = _binary(3)
    objective.gradients_((v,), torch.Generator().manual_seed(0))
    first = _grads(rbm)
    for p in rbm.parameters():
        p.grad.fill_(float("nan"))  # stale garbage must not leak into the new gradient
    objective.gradients_((v,), torch.Generator().manual_seed(0))
    for a, b in zip(first, _grads(rbm), strict=True):
        assert torch.equal(a, b)


def test_positive_phase_pushes_weights_towards_data_correlations():
    # With all parameters zero, every mean is 1/2 whatever the random draws, so the
    # CD-1 gradient for data v = (1, 0) is known exactly.
    rbm = RBMModule(2, 2, dtype=F64)
    objective = RBMObjective(rbm, ContrastiveDivergence(1))
    data = torch.tensor([[1.0, 0.0]] * 4, dtype=F64)
    objective.gradients_((data,), torch.Generator().manual_seed(0))
    torch.testing.assert_close(rbm.weight.grad,
                               torch.tensor([[-0.25, -0.25], [0.25, 0.25]], dtype=F64))
    torch.testing.assert_close(rbm.visible_bias.grad, torch.tensor([-0.5, 0.5], dtype=F64))
    torch.testing.assert_close(rbm.hidden_bias.grad, torch.zeros(2, dtype=F64))
    torch.optim.SGD(rbm.parameters(), lr=0.1).step()
    assert (rbm.weight[0] > 0).all() and (rbm.weight[1] < 0).all()
    assert rbm.visible_bias[0] > 0 > rbm.visible_bias[1]


# -- CD-k: expectation over the chain, by enumeration -----------------------------------------


def _cd_expectation(rbm, data, k, sample_visible):
    """Exact E[gradient] of CD-k by propagating the distribution of the hidden chain."""
    W, a, b = _params(rbm)
    sig = torch.sigmoid
    V, H = _binary(W.shape[0]), _binary(W.shape[1])
    p_h_given_v = _bernoulli_prob(H, sig(b + V @ W))  # (nV, nH)
    p_v_given_h = _bernoulli_prob(V, sig(a + H @ W.t()))  # (nH, nV)
    transition = p_v_given_h @ p_h_given_v  # h -> v -> h'
    h_pos = sig(b + data @ W)
    q = _bernoulli_prob(H, h_pos)  # (n_data, nH): distribution of h_0
    for _ in range(k - 1):
        q = q @ transition
    if sample_visible:
        weights = q @ p_v_given_h  # distribution of the last visible sample
        v_last = V
    else:
        weights, v_last = q, sig(a + H @ W.t())  # mean of v given each h_{k-1}
    h_neg = sig(b + v_last @ W)
    w = weights.mean(0)
    n = data.shape[0]
    return (
        (v_last * w[:, None]).t() @ h_neg - data.t() @ h_pos / n,
        w @ v_last - data.mean(0),
        w @ h_neg - h_pos.mean(0),
    )


@pytest.mark.parametrize(("nv", "k", "sample_visible"),
                         [(2, 1, False), (3, 1, False), (3, 2, True), (3, 4, False)])
def test_cd_gradient_is_unbiased_for_its_exact_expectation(nv, k, sample_visible):
    rbm = _random_rbm(nv, 2, seed=3)
    data = _binary(nv)[[1, 2, -1]]
    objective = RBMObjective(rbm, ContrastiveDivergence(k, sample_visible=sample_visible))
    batch = data.repeat(20_000, 1)  # 60 000 independent chains in one call
    objective.gradients_((batch,), torch.Generator().manual_seed(7))
    expect = _cd_expectation(rbm, data, k, sample_visible)
    for got, want in zip(_grads(rbm), expect, strict=True):
        # each entry averages 60 000 terms in [-1, 1]: standard error < 0.0025
        torch.testing.assert_close(got, want, rtol=0, atol=0.01)


def _exact_nll_gradient(rbm, data):
    W, a, b = (t.clone().requires_grad_(True) for t in _params(rbm))
    V, H = _binary(W.shape[0]), _binary(W.shape[1])

    def neg_energy(v, h):
        return (v @ a)[:, None] + (h @ b)[None, :] + v @ W @ h.t()

    log_p_data = torch.logsumexp(neg_energy(data, H), 1) - torch.logsumexp(
        neg_energy(V, H).flatten(), 0)
    return torch.autograd.grad(-log_p_data.mean(), (W, a, b))


def test_long_cd_chain_expectation_equals_the_exact_gradient():
    # With a sampled last reconstruction, CD-k's expectation tends to the maximum-likelihood
    # gradient as k grows; CD-1 is measurably biased here, so the tests can tell them apart.
    rbm = _random_rbm(3, 2, seed=4)
    data = _binary(3)[[0, 3, 5, 6]]
    exact = _exact_nll_gradient(rbm, data)
    for got, want in zip(_cd_expectation(rbm, data, 200, True), exact, strict=True):
        torch.testing.assert_close(got, want, rtol=0, atol=1e-9)
    assert (_cd_expectation(rbm, data, 1, True)[0] - exact[0]).abs().max() > 0.03
    # The default (mean of the last reconstruction, Hinton's guide §3.2) is a mean-field
    # approximation of the model term: biased even for k -> infinity, but only slightly.
    mean_field = _cd_expectation(rbm, data, 200, False)[0]
    assert 1e-4 < (mean_field - exact[0]).abs().max() < 0.02


def test_pcd_average_gradient_approaches_the_exact_likelihood_gradient():
    rbm = _random_rbm(2, 2, seed=5)
    data = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [1.0, 1.0]], dtype=F64)
    objective = RBMObjective(rbm, PersistentContrastiveDivergence(k=5, n_chains=20_000))
    g = torch.Generator().manual_seed(11)
    for _ in range(10):  # burn-in
        objective.gradients_((data,), g)
    total = [torch.zeros_like(p) for p in rbm.parameters()]
    n_calls = 60
    for _ in range(n_calls):
        objective.gradients_((data,), g)
        for t, grad in zip(total, _grads(rbm), strict=True):
            t += grad
    exact = _exact_nll_gradient(rbm, data)
    for t, want in zip(total, exact, strict=True):
        torch.testing.assert_close(t / n_calls, want, rtol=0, atol=0.01)


def test_cd_with_a_long_chain_estimates_the_exact_likelihood_gradient():
    rbm = _random_rbm(3, 2, seed=4)
    data = _binary(3)[[0, 3, 5, 6]]
    objective = RBMObjective(rbm, ContrastiveDivergence(25, sample_visible=True))
    objective.gradients_((data.repeat(10_000, 1),), torch.Generator().manual_seed(3))
    for got, want in zip(_grads(rbm), _exact_nll_gradient(rbm, data), strict=True):
        torch.testing.assert_close(got, want, rtol=0, atol=0.006)


# -- PCD chains -------------------------------------------------------------------------------


def test_pcd_chains_start_from_data_and_persist():
    rbm = _random_rbm(3, 2, seed=6)
    rule = PersistentContrastiveDivergence(k=1, n_chains=5)
    objective = RBMObjective(rbm, rule)
    data = _binary(3)[[1, 6]]
    assert rule.chains is None
    objective.gradients_((data,), torch.Generator().manual_seed(0))
    # Reproduce: the positive phase draws h ~ p(h|v_data); the chains start at the data
    # and its hidden sample, repeated to n_chains rows; one Gibbs step v ~ p(v|h), then the
    # hidden state h ~ p(h|v) that the next update starts from.
    W, a, b = _params(rbm)
    g = torch.Generator().manual_seed(0)
    h_data = flip_coins(torch.sigmoid(b + data @ W), g)
    h = h_data[[0, 1, 0, 1, 0]]
    v = flip_coins(torch.sigmoid(a + h @ W.t()), g)
    h = flip_coins(torch.sigmoid(b + v @ W), g)
    assert rule.chains.shape == (5, 3)
    assert torch.equal(rule.chains, v)
    assert torch.equal(rule.hidden, h)
    first = rule.chains.clone()
    objective.gradients_((data,), torch.Generator().manual_seed(1))
    assert rule.chains.shape == (5, 3)
    assert not torch.equal(rule.chains, first)
    # the model term uses the persistent chains, not the data
    h_neg = torch.sigmoid(b + rule.chains @ W)
    torch.testing.assert_close(rbm.visible_bias.grad, rule.chains.mean(0) - data.mean(0))
    torch.testing.assert_close(rbm.hidden_bias.grad,
                               h_neg.mean(0) - torch.sigmoid(b + data @ W).mean(0))


class _FieldCounter:
    """Counts the RBM's matrix products with its weights (its visible and hidden fields)."""

    def __init__(self, rbm, monkeypatch):
        self.calls = 0  # matrix products
        self.draws = 0  # random numbers drawn for the hidden units
        for name in ("hidden_field", "visible_field"):
            original = getattr(rbm, name)

            def counted(*args, _original=original, **kwargs):
                self.calls += 1
                return _original(*args, **kwargs)

            monkeypatch.setattr(rbm, name, counted)
        mean_and_sample = rbm.hidden.mean_and_sample

        def drawn(field, generator):
            self.draws += field.numel()
            return mean_and_sample(field, generator)

        monkeypatch.setattr(rbm.hidden, "mean_and_sample", drawn)


@pytest.mark.parametrize("k", [1, 3])
def test_pcd_update_costs_what_a_cd_update_costs(k, monkeypatch):
    rbm = _random_rbm(4, 3, seed=12)
    data = _binary(4)[3:11]
    counter = _FieldCounter(rbm, monkeypatch)
    RBMObjective(rbm, ContrastiveDivergence(k)).gradients_((data,), torch.Generator())
    cd_calls, counter.calls = counter.calls, 0
    objective = RBMObjective(rbm, PersistentContrastiveDivergence(k))
    objective.gradients_((data,), torch.Generator())  # the first: a CD-k update
    assert counter.calls == cd_calls
    counter.calls = counter.draws = 0
    for _ in range(2):
        objective.gradients_((data,), torch.Generator())
    assert cd_calls == 2 * k + 1  # the data's hidden field, then two per Gibbs step
    assert counter.calls == 2 * cd_calls
    # no hidden sample of the data: the chains' k hidden samples per update only
    assert counter.draws == 2 * k * data.shape[0] * 3


def test_pcd_chains_with_frozen_parameters_sample_the_model_distribution():
    # With the parameters frozen (gradients computed, no step taken) the chains are a Gibbs
    # chain of the RBM: their visible states follow p(v), checked by enumeration.
    rbm = _random_rbm(3, 2, seed=13, std=0.8)
    W, a, b = _params(rbm)
    states = _binary(3)
    log_p = states @ a + torch.nn.functional.softplus(b + states @ W).sum(-1)
    p = torch.softmax(log_p, 0)
    objective = RBMObjective(rbm, PersistentContrastiveDivergence(k=1, n_chains=4000))
    g = torch.Generator().manual_seed(14)
    counts = torch.zeros(8, dtype=F64)
    codes = torch.tensor([4.0, 2.0, 1.0], dtype=F64)
    for step in range(60):
        objective.gradients_((states[[0]],), g)
        if step >= 20:
            counts += torch.bincount((objective.rule.chains @ codes).long(), minlength=8)
    tv = 0.5 * float((counts / counts.sum() - p).abs().sum())
    assert tv < 0.01
    # and the stored hidden state is a sample of p(h | v) of the chains' visible state
    h_mean = torch.sigmoid(b + objective.rule.chains @ W).mean(0)
    torch.testing.assert_close(objective.rule.hidden.mean(0), h_mean, rtol=0, atol=0.03)


def test_pcd_chains_set_by_hand_or_restored_without_a_hidden_state_draw_one(monkeypatch):
    rbm = _random_rbm(3, 2, seed=15)
    data = _binary(3)[[1, 2, 6]]
    rule = PersistentContrastiveDivergence()
    objective = RBMObjective(rbm, rule)
    objective.gradients_((data,), torch.Generator().manual_seed(0))
    rule.chains = torch.ones(3, 3, dtype=F64)  # by hand: the kept hidden state is stale
    counter = _FieldCounter(rbm, monkeypatch)
    objective.gradients_((data,), torch.Generator().manual_seed(1))
    assert counter.calls == 4  # one more product: h drawn from the new chains once
    counter.calls = 0
    objective.gradients_((data,), torch.Generator().manual_seed(2))
    assert counter.calls == 3
    # a checkpoint without the hidden state (written before it was kept) continues
    state = objective.state_dict()
    assert torch.equal(state["rule"]["hidden"], rule.hidden)
    del state["rule"]["hidden"]
    restored = PersistentContrastiveDivergence()
    RBMObjective(rbm, restored).load_state_dict(state)
    assert restored.hidden is None and torch.equal(restored.chains, rule.chains)
    counter.calls = 0
    RBMObjective(rbm, restored).gradients_((data,), torch.Generator().manual_seed(3))
    assert counter.calls == 4 and restored.hidden.shape == (3, 2)


def test_pcd_default_chain_count_is_the_batch_size_and_resets_for_a_new_shape():
    rule = PersistentContrastiveDivergence()
    rbm = _random_rbm(3, 2, seed=7)
    RBMObjective(rbm, rule).gradients_((_binary(3)[:4],), torch.Generator().manual_seed(0))
    assert rule.chains.shape == (4, 3)
    other = _random_rbm(4, 2, seed=8)
    RBMObjective(other, rule).gradients_((_binary(4)[:6],), torch.Generator().manual_seed(0))
    assert rule.chains.shape == (6, 4)


def _pcd_objective(rbm):
    return RBMObjective(rbm, make_rule("pcd", 1), sparsity_target=0.1, sparsity_cost=0.3)


FIRST, SECOND = [2, 5, 7], [0, 1, 3]


def test_pcd_state_dict_round_trip_continues_identically():
    rbm = _random_rbm(3, 2, seed=9)
    first, second = _binary(3)[FIRST], _binary(3)[SECOND]
    objective = _pcd_objective(rbm)
    objective.gradients_((first,), torch.Generator().manual_seed(0))
    state = copy.deepcopy(objective.state_dict())  # a checkpoint, as the estimators take it
    assert torch.equal(state["rule"]["chains"], objective.rule.chains)
    assert torch.equal(state["rule"]["hidden"], objective.rule.hidden)
    assert torch.equal(state["q"], objective._q)
    objective.gradients_((second,), torch.Generator().manual_seed(1))
    expect = _grads(rbm)
    restored = _pcd_objective(rbm)
    restored.load_state_dict(state)
    restored.gradients_((second,), torch.Generator().manual_seed(1))
    for a, b in zip(expect, _grads(rbm), strict=True):
        assert torch.equal(a, b)
    # a fresh objective restarts its chains (and running mean) from the batch: it differs
    _pcd_objective(rbm).gradients_((second,), torch.Generator().manual_seed(1))
    assert not torch.equal(expect[0], rbm.weight.grad)
    assert not torch.equal(expect[2], rbm.hidden_bias.grad)


def test_objective_state_is_a_snapshot_not_a_live_reference():
    rbm = _random_rbm(3, 2, seed=9)
    first, second = _binary(3)[FIRST], _binary(3)[SECOND]
    objective = _pcd_objective(rbm)
    objective.gradients_((first,), torch.Generator().manual_seed(0))
    state = objective.state_dict()
    saved_q = state["q"].clone()
    restored = _pcd_objective(rbm)
    restored.load_state_dict(state)
    objective.gradients_((second,), torch.Generator().manual_seed(1))  # original moves on
    expect = _grads(rbm)
    restored.gradients_((second,), torch.Generator().manual_seed(1))  # same step from the state
    assert torch.equal(state["q"], saved_q)
    for a, b in zip(expect, _grads(rbm), strict=True):
        assert torch.equal(a, b)


def test_cd_state_is_empty():
    rule = ContrastiveDivergence(2)
    assert rule.state_dict() == {}
    rule.load_state_dict({})


# -- sparsity ---------------------------------------------------------------------------------


@pytest.mark.parametrize("target", [0.05, 0.95])
def test_sparsity_penalty_pushes_hidden_activity_towards_the_target(target):
    rbm = _random_rbm(3, 2, seed=10, std=0.3)
    batches = [_binary(3)[[1, 2, 7]], _binary(3)[[0, 3, 4, 6]]]
    plain = RBMObjective(rbm, ContrastiveDivergence(1))
    sparse = RBMObjective(rbm, ContrastiveDivergence(1), sparsity_target=target,
                          sparsity_cost=0.5, sparsity_decay=0.9)
    W, _, b = _params(rbm)
    q = None
    for i, batch in enumerate(batches):
        plain.gradients_((batch,), torch.Generator().manual_seed(i))
        base = _grads(rbm)
        sparse.gradients_((batch,), torch.Generator().manual_seed(i))
        h_mean = torch.sigmoid(b + batch @ W).mean(0)
        q = h_mean if q is None else 0.9 * q + 0.1 * h_mean
        penalty = 0.5 * (q - target)
        torch.testing.assert_close(rbm.hidden_bias.grad - base[2], penalty)
        torch.testing.assert_close(rbm.weight.grad - base[0], torch.outer(batch.mean(0), penalty))
        torch.testing.assert_close(rbm.visible_bias.grad, base[1])
        # gradient descent moves the hidden bias (hence activity) towards the target
        if target < 0.5:
            assert (penalty > 0).all()
        else:
            assert (penalty < 0).all()


# -- construction -----------------------------------------------------------------------------


def test_make_rule():
    cd = make_rule("cd", 3)
    assert isinstance(cd, ContrastiveDivergence) and cd.k == 3 and not cd.persistent
    pcd = make_rule("pcd")
    assert isinstance(pcd, PersistentContrastiveDivergence) and pcd.k == 1 and pcd.persistent
    with pytest.raises(ValueError, match="bad"):
        make_rule("bad")
    with pytest.raises(ValueError, match="k must be"):
        ContrastiveDivergence(0)
    with pytest.raises(ValueError, match="k must be"):
        PersistentContrastiveDivergence(0)


def test_objective_allocates_gradients_and_monitors_reconstruction():
    rbm = _random_rbm(3, 2, seed=12)
    assert all(p.grad is None for p in rbm.parameters())
    objective = RBMObjective(rbm, make_rule("cd"))
    v = _binary(3)
    objective.gradients_((v,), torch.Generator().manual_seed(0))
    assert all(p.grad is not None and p.grad.shape == p.shape for p in rbm.parameters())
    for p in rbm.parameters():  # grads that vanished (e.g. after unpickling) come back
        p.grad = None
    objective.gradients_((v,), torch.Generator().manual_seed(0))
    assert all(p.grad is not None and p.grad.shape == p.shape for p in rbm.parameters())
    W, a, b = _params(rbm)
    recon = torch.sigmoid(a + torch.sigmoid(b + v @ W) @ W.t())
    got = objective.monitor((v,), None)["reconstruction_error"]
    torch.testing.assert_close(got, ((v - recon) ** 2).sum(-1).mean())


def test_sampled_inputs_give_the_cd_gradient_of_the_binarised_data_in_expectation():
    # sample_inputs reads a row as Bernoulli probabilities: the expected gradient is the
    # CD-1 expectation averaged over every binarisation v, weighted by P(v | p).
    rbm = _random_rbm(3, 2, seed=5)
    p = torch.tensor([[0.2, 0.7, 0.5]], dtype=F64)
    states = _binary(3)
    weights = _bernoulli_prob(states, p)[0]
    per_state = [_cd_expectation(rbm, v[None], 1, False) for v in states]
    expect = [sum(w * g[i] for w, g in zip(weights, per_state, strict=True)) for i in range(3)]
    objective = RBMObjective(rbm, ContrastiveDivergence(1), sample_inputs=True)
    objective.gradients_((p.repeat(60_000, 1),), torch.Generator().manual_seed(11))
    for got, want in zip(_grads(rbm), expect, strict=True):
        torch.testing.assert_close(got, want, rtol=0, atol=0.01)
    # without sampling the probabilities themselves are the data: a different gradient
    plain = RBMObjective(rbm, ContrastiveDivergence(1))
    plain.gradients_((p.repeat(60_000, 1),), torch.Generator().manual_seed(11))
    assert not torch.allclose(_grads(rbm)[0], expect[0], atol=0.02)
