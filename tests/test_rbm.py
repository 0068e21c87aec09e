"""RBM mathematics against enumeration and quadrature on tiny models."""

from __future__ import annotations

import itertools

import pytest
import torch

from deepbelief.core.rbm import RBMModule

torch.set_num_threads(1)

F64 = torch.float64


def _random_rbm(nv, nh, visible="bernoulli", hidden="bernoulli", *, seed=0, std=1.0,
                dtype=F64) -> RBMModule:
    rbm = RBMModule(nv, nh, visible, hidden, dtype=dtype)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in rbm.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=F64).to(dtype) * std)
    return rbm


def _states(kind: str, n: int) -> torch.Tensor:
    if kind == "bernoulli":
        return torch.tensor(list(itertools.product([0.0, 1.0], repeat=n)), dtype=F64)
    if kind == "softmax":
        return torch.eye(n, dtype=F64)
    raise AssertionError(kind)


def _phi(kind: str, x: torch.Tensor) -> torch.Tensor:
    return 0.5 * (x * x).sum(-1) if kind in ("gaussian", "relu") else x.new_zeros(x.shape[:-1])


def _hand_energy(rbm: RBMModule, v, h, vkind, hkind) -> torch.Tensor:
    """E(v, h) for every pair: v (nV, n_visible), h (nH, n_hidden) -> (nV, nH)."""
    W, a, b = rbm.weight.detach(), rbm.visible_bias.detach(), rbm.hidden_bias.detach()
    return (_phi(vkind, v)[:, None] - (v @ a)[:, None] + _phi(hkind, h)[None, :]
            - (h @ b)[None, :] - v @ W @ h.t())


def _gaussian_grid(n: int, lo=-15.0, hi=15.0, step=0.05):
    axis = torch.arange(lo, hi + step / 2, step, dtype=F64)
    grid = torch.cartesian_prod(*([axis] * n)).reshape(-1, n)
    return grid, step**n


PAIRS = [
    ("bernoulli", "bernoulli"),
    ("gaussian", "bernoulli"),
    ("softmax", "bernoulli"),
    ("bernoulli", "softmax"),
]


def _visible_data(kind: str, n: int, seed: int = 11) -> torch.Tensor:
    if kind == "gaussian":
        return torch.randn(6, n, generator=torch.Generator().manual_seed(seed), dtype=F64) * 1.5
    return _states(kind, n)


# -- energies ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("vkind", "hkind"), [*PAIRS, ("gaussian", "relu")])
def test_energy_matches_hand_formula(vkind, hkind):
    rbm = _random_rbm(4, 3, vkind, hkind, seed=1)
    g = torch.Generator().manual_seed(2)
    v = torch.randn(5, 4, generator=g, dtype=F64).abs()
    h = torch.randn(5, 3, generator=g, dtype=F64).abs()
    expect = torch.diagonal(_hand_energy(rbm, v, h, vkind, hkind))
    torch.testing.assert_close(rbm.energy(v, h), expect, rtol=1e-12, atol=1e-12)


def test_gaussian_energy_by_hand_numbers():
    rbm = RBMModule(2, 1, "gaussian", "gaussian", dtype=F64)
    with torch.no_grad():
        rbm.weight.copy_(torch.tensor([[2.0], [-1.0]]))
        rbm.visible_bias.copy_(torch.tensor([0.5, 1.0]))
        rbm.hidden_bias.copy_(torch.tensor([3.0]))
    v = torch.tensor([[1.0, 2.0]], dtype=F64)
    h = torch.tensor([[4.0]], dtype=F64)
    # 0.5*(1+4) - (0.5+2) + 0.5*16 - 12 - (1*2*4 + 2*(-1)*4) = 2.5 - 2.5 + 8 - 12 - 0
    assert float(rbm.energy(v, h).detach()[0]) == pytest.approx(-4.0, abs=1e-12)


# -- free energies by brute force -------------------------------------------------------------


@pytest.mark.parametrize(("vkind", "hkind"), PAIRS)
def test_free_energy_is_minus_log_sum_over_hidden_states(vkind, hkind):
    rbm = _random_rbm(4, 3, vkind, hkind, seed=3)
    v = _visible_data(vkind, 4)
    h = _states(hkind, 3)
    brute = -torch.logsumexp(-_hand_energy(rbm, v, h, vkind, hkind), dim=1)
    torch.testing.assert_close(rbm.free_energy(v), brute, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("vkind", "hkind"), [p for p in PAIRS if p[0] != "gaussian"])
def test_free_energy_hidden_is_minus_log_sum_over_visible_states(vkind, hkind):
    rbm = _random_rbm(4, 3, vkind, hkind, seed=4)
    v = _states(vkind, 4)
    h = _states(hkind, 3)
    brute = -torch.logsumexp(-_hand_energy(rbm, v, h, vkind, hkind), dim=0)
    torch.testing.assert_close(rbm.free_energy_hidden(h), brute, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("vkind", "hkind"), [("bernoulli", "gaussian"), ("softmax", "relu"),
                                            ("bernoulli", "relu")])
def test_free_energy_hidden_of_real_valued_hidden_states(vkind, hkind):
    # F(h) = -log sum_v exp(-E(v, h)) holds for any h, so real-valued hidden vectors
    # (with their base energy phi(h) = |h|²/2) can be checked by enumerating v.
    rbm = _random_rbm(4, 3, vkind, hkind, seed=15)
    v = _states(vkind, 4)
    h = torch.randn(7, 3, generator=torch.Generator().manual_seed(16), dtype=F64).abs() * 2
    brute = -torch.logsumexp(-_hand_energy(rbm, v, h, vkind, hkind), dim=0)
    torch.testing.assert_close(rbm.free_energy_hidden(h), brute, rtol=1e-12, atol=1e-12)


def test_free_energy_hidden_of_gaussian_visibles_by_quadrature():
    rbm = _random_rbm(2, 3, "gaussian", "bernoulli", seed=5)
    grid, cell = _gaussian_grid(2)
    h = _states("bernoulli", 3)
    log_integrand = -_hand_energy(rbm, grid, h, "gaussian", "bernoulli")  # (n_grid, 8)
    brute = -(torch.logsumexp(log_integrand, dim=0) + torch.log(torch.tensor(cell, dtype=F64)))
    torch.testing.assert_close(rbm.free_energy_hidden(h), brute, rtol=1e-9, atol=1e-9)
    # and the log partition function agrees both ways round
    log_z_h = torch.logsumexp(-rbm.free_energy_hidden(h), 0)
    v = grid
    log_z_v = torch.logsumexp(-rbm.free_energy(v), 0) + torch.log(torch.tensor(cell, dtype=F64))
    torch.testing.assert_close(log_z_h, log_z_v, rtol=1e-9, atol=1e-9)


# -- conditionals -----------------------------------------------------------------------------


@pytest.mark.parametrize(("vkind", "hkind"), PAIRS)
def test_hidden_conditional_mean_matches_enumeration(vkind, hkind):
    rbm = _random_rbm(4, 3, vkind, hkind, seed=6)
    v = _visible_data(vkind, 4)
    h = _states(hkind, 3)
    p_h_given_v = torch.softmax(-_hand_energy(rbm, v, h, vkind, hkind), dim=1)
    brute = p_h_given_v @ h
    mean, sample = rbm.sample_hidden(v, torch.Generator().manual_seed(0))
    torch.testing.assert_close(mean, brute, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(rbm.hidden_mean(v), brute, rtol=1e-12, atol=1e-12)
    assert sample.shape == brute.shape


@pytest.mark.parametrize(("vkind", "hkind"), [p for p in PAIRS if p[0] != "gaussian"])
def test_visible_conditional_mean_matches_enumeration(vkind, hkind):
    rbm = _random_rbm(4, 3, vkind, hkind, seed=7)
    v = _states(vkind, 4)
    h = _states(hkind, 3)
    p_v_given_h = torch.softmax(-_hand_energy(rbm, v, h, vkind, hkind), dim=0)  # (nV, nH)
    brute = p_v_given_h.t() @ v
    torch.testing.assert_close(rbm.sample_visible(h)[0], brute, rtol=1e-12, atol=1e-12)


def test_gaussian_visible_conditional_mean_by_quadrature():
    rbm = _random_rbm(2, 3, "gaussian", "bernoulli", seed=8)
    grid, _ = _gaussian_grid(2)
    h = _states("bernoulli", 3)
    weights = torch.softmax(-_hand_energy(rbm, grid, h, "gaussian", "bernoulli"), dim=0)
    brute = weights.t() @ grid
    torch.testing.assert_close(rbm.visible_mean(h), brute, rtol=1e-9, atol=1e-9)


def test_hidden_samples_follow_the_conditional():
    rbm = _random_rbm(4, 3, seed=9)
    v = _states("bernoulli", 4)[[3, 10]]
    n = 50_000
    batch = v.repeat_interleave(n, 0)
    mean, sample = rbm.sample_hidden(batch, torch.Generator().manual_seed(1))
    emp = sample.reshape(2, n, 3).mean(1)
    expect = mean.reshape(2, n, 3)[:, 0]
    tol = 5 * (expect * (1 - expect) / n).sqrt()
    assert ((emp - expect).abs() <= tol).all()


# -- numerical robustness ---------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, F64])
@pytest.mark.parametrize(("vkind", "hkind"), PAIRS)
def test_huge_weights_give_finite_free_energies(vkind, hkind, dtype):
    rbm = _random_rbm(4, 3, vkind, hkind, seed=10, dtype=dtype)
    with torch.no_grad():
        rbm.weight.mul_(1e3)
    v = _visible_data(vkind, 4).to(dtype)
    h = _states(hkind, 3).to(dtype)
    fe, feh = rbm.free_energy(v), rbm.free_energy_hidden(h)
    assert torch.isfinite(fe).all() and torch.isfinite(feh).all()
    if dtype == F64:
        brute = -torch.logsumexp(-_hand_energy(rbm, v, h, vkind, hkind), dim=1)
        torch.testing.assert_close(fe, brute, rtol=1e-10, atol=1e-8)


# -- Gibbs sampling ---------------------------------------------------------------------------


def test_gibbs_chains_converge_to_the_exact_marginal():
    rbm = _random_rbm(3, 2, seed=12)
    states = _states("bernoulli", 3)
    log_p = -torch.logsumexp(-_hand_energy(rbm, states, _states("bernoulli", 2), "bernoulli",
                                            "bernoulli"), dim=1)
    exact = torch.softmax(-log_p, 0)
    # the model is far from uniform, so the check below can tell a wrong sampler apart
    assert 0.5 * (exact - 1 / 8).abs().sum() > 0.15
    n_chains = 40_000
    start = torch.zeros(n_chains, 3, dtype=F64)  # every chain starts in the same state
    v = rbm.gibbs(start, n_steps=60, generator=torch.Generator().manual_seed(3))
    assert set(v.unique().tolist()) <= {0.0, 1.0}
    index = (v @ torch.tensor([4.0, 2.0, 1.0], dtype=F64)).long()
    empirical = torch.bincount(index, minlength=8).to(F64) / n_chains
    tv = 0.5 * (empirical - exact).abs().sum()
    assert tv < 0.02, (empirical, exact)


def test_gibbs_is_repeatable_with_a_generator():
    rbm = _random_rbm(5, 4, seed=13)
    v0 = _states("bernoulli", 5)
    a = rbm.gibbs(v0, 3, torch.Generator().manual_seed(4))
    b = rbm.gibbs(v0, 3, torch.Generator().manual_seed(4))
    c = rbm.gibbs(v0, 3, torch.Generator().manual_seed(5))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_forward_and_shapes():
    rbm = _random_rbm(6, 4, seed=14, dtype=torch.float32)
    v = torch.rand(3, 6, generator=torch.Generator().manual_seed(0))
    assert rbm.n_visible == 6 and rbm.n_hidden == 4
    torch.testing.assert_close(rbm(v), torch.sigmoid(v @ rbm.weight + rbm.hidden_bias))
    assert rbm.free_energy(v).shape == (3,)
    assert rbm.free_energy_hidden(rbm(v)).shape == (3,)


def test_reset_parameters_sets_visible_bias_to_data_log_odds():
    rbm = RBMModule(3, 2, dtype=F64)
    mean = torch.tensor([0.25, 0.5, 1.0], dtype=F64)
    rbm.reset_parameters(torch.Generator().manual_seed(0), std=0.01, data_mean=mean)
    p = mean.clamp(1e-3, 1 - 1e-3)
    torch.testing.assert_close(rbm.visible_bias.detach(), torch.log(p / (1 - p)))
    assert torch.equal(rbm.hidden_bias.detach(), torch.zeros(2, dtype=F64))
    assert 0 < float(rbm.weight.detach().abs().max()) < 0.1


@pytest.mark.parametrize("kind", ["gaussian", "relu"])
def test_reset_parameters_sets_real_visible_bias_to_the_data_mean(kind):
    rbm = RBMModule(3, 2, kind, dtype=F64)
    mean = torch.tensor([-0.5, 0.25, 2.0], dtype=F64)
    rbm.reset_parameters(torch.Generator().manual_seed(0), data_mean=mean)
    assert torch.equal(rbm.visible_bias.detach(), mean)
    # the visible means start at the data mean when the weights are negligible
    torch.testing.assert_close(rbm.visible_mean(torch.zeros(1, 2, dtype=F64))[0],
                               rbm.visible.mean(mean))


# -- context input (conditional RBMs) ----------------------------------------------------------
def _context_rbm(visible="bernoulli", seed=3) -> RBMModule:
    rbm = RBMModule(3, 2, visible, n_context=2, dtype=F64)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in rbm.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=F64))
    return rbm


def test_context_shifts_the_biases_and_the_conditionals_match_enumeration():
    rbm = _context_rbm()
    c = torch.tensor([[0.7, -1.3]], dtype=F64)
    v, h = _states("bernoulli", 3), _states("bernoulli", 2)
    A, B = rbm.context_visible.detach(), rbm.context_hidden.detach()
    a, b, W = rbm.visible_bias.detach() + c[0] @ A, rbm.hidden_bias.detach() + c[0] @ B, \
        rbm.weight.detach()
    energy = -(v @ a)[:, None] - (h @ b)[None, :] - v @ W @ h.t()  # E(v, h | c) by hand
    with torch.no_grad():
        vv, hh = v.repeat_interleave(len(h), 0), h.repeat(len(v), 1)
        torch.testing.assert_close(rbm.energy(vv, hh, c.expand(len(vv), 2)),
                                   energy.reshape(-1))
        joint = torch.softmax(-energy.reshape(-1), 0).reshape(len(v), len(h))  # p(v, h | c)
        p_h = joint / joint.sum(1, keepdim=True)  # p(h | v, c)
        torch.testing.assert_close(rbm.hidden_mean(v, c.expand(len(v), 2)), p_h @ h)
        p_v = joint / joint.sum(0, keepdim=True)  # p(v | h, c)
        torch.testing.assert_close(rbm.visible_mean(h, c.expand(len(h), 2)), p_v.t() @ v)
        torch.testing.assert_close(rbm.free_energy(v, c.expand(len(v), 2)),
                                   -torch.logsumexp(-energy, 1))
        torch.testing.assert_close(rbm.free_energy_hidden(h, c.expand(len(h), 2)),
                                   -torch.logsumexp(-energy, 0))


def test_context_rows_are_per_sample_and_sampling_uses_them():
    rbm = _context_rbm("gaussian")
    v = torch.randn(4, 3, generator=torch.Generator().manual_seed(0), dtype=F64)
    c = torch.randn(4, 2, generator=torch.Generator().manual_seed(1), dtype=F64)
    with torch.no_grad():
        rows = torch.cat([rbm.hidden_field(v[i:i + 1], c[i:i + 1]) for i in range(4)])
        torch.testing.assert_close(rbm.hidden_field(v, c), rows)
        h = rbm.sample_hidden(v, torch.Generator().manual_seed(2), context=c)[1]
        mean, _ = rbm.sample_visible(h, torch.Generator(), context=c)
        torch.testing.assert_close(mean, h @ rbm.weight.t() + rbm.visible_bias
                                   + c @ rbm.context_visible)
        assert rbm.gibbs(v, 2, torch.Generator().manual_seed(4), context=c).shape == (4, 3)
        # A zero context is no context.
        torch.testing.assert_close(rbm.free_energy(v, torch.zeros(4, 2, dtype=F64)),
                                   rbm.free_energy(v))


def test_without_context_nothing_changes():
    plain = _random_rbm(4, 3, "gaussian", "relu")
    assert set(plain.state_dict()) == {"weight", "visible_bias", "hidden_bias"}
    v = torch.randn(5, 4, generator=torch.Generator().manual_seed(0), dtype=F64)
    with torch.no_grad():
        assert torch.equal(plain.hidden_field(v), torch.addmm(plain.hidden_bias, v, plain.weight))
    with pytest.raises(ValueError, match="n_context=0"):
        plain.hidden_field(v, torch.zeros(5, 1, dtype=F64))
    with pytest.raises(ValueError, match="2 values per sample"):
        _context_rbm().visible_field(torch.zeros(1, 2, dtype=F64), torch.zeros(1, 3, dtype=F64))
    with pytest.raises(ValueError, match="n_context"):
        RBMModule(3, 2, n_context=-1)
    # reset_parameters zeroes the context weights and leaves the plain parameters' draws alone.
    ctx, base = RBMModule(4, 3, n_context=2), RBMModule(4, 3)
    ctx.reset_parameters(torch.Generator().manual_seed(0))
    base.reset_parameters(torch.Generator().manual_seed(0))
    assert torch.equal(ctx.weight, base.weight)
    assert not ctx.context_visible.any() and not ctx.context_hidden.any()
