"""Tests of deepbelief.evaluation: exact answers on tiny models, AIS against them."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from deepbelief.core.rbm import RBMModule
from deepbelief.evaluation import (
    AISResult,
    ais_log_partition,
    dbn_log_likelihood_bound,
    default_betas,
    exact_log_partition,
    free_energy_gap,
    log_likelihood,
    monitors,
    pseudo_likelihood,
    reconstruction_error,
)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # The annealing loop runs thousands of tiny ops; on a small, shared CPU the OpenMP
    # barriers of a multi-threaded run cost far more than they save. Restored afterwards.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _logit(p: torch.Tensor) -> torch.Tensor:
    return torch.log(p) - torch.log1p(-p)


def _random_rbm(
    n_visible: int,
    n_hidden: int,
    *,
    seed: int,
    w_std: float = 1.0,
    bias_std: float = 0.5,
    visible: str = "bernoulli",
    hidden: str = "bernoulli",
) -> RBMModule:
    g = torch.Generator().manual_seed(seed)
    rbm = RBMModule(n_visible, n_hidden, visible, hidden)
    with torch.no_grad():
        rbm.weight.copy_(torch.randn(n_visible, n_hidden, generator=g) * w_std)
        rbm.visible_bias.copy_(torch.randn(n_visible, generator=g) * bias_std)
        rbm.hidden_bias.copy_(torch.randn(n_hidden, generator=g) * bias_std)
    return rbm


def _binary_states(n: int) -> torch.Tensor:
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=n)), dtype=torch.float64)


def _float64(rbm: RBMModule) -> RBMModule:
    copy = RBMModule(rbm.n_visible, rbm.n_hidden, rbm.visible, rbm.hidden, dtype=torch.float64)
    copy.load_state_dict({k: v.double() for k, v in rbm.state_dict().items()})
    return copy.requires_grad_(False)


def _grid(lo: float, hi: float, step: float) -> torch.Tensor:
    return torch.arange(lo, hi + step / 2, step, dtype=torch.float64)


# -- exact_log_partition -----------------------------------------------------------------------
def test_exact_matches_brute_force_over_both_layers():
    rbm = _random_rbm(6, 5, seed=0, w_std=1.0)
    m = _float64(rbm)
    v, h = _binary_states(6), _binary_states(5)
    vv = v.repeat_interleave(len(h), 0)
    hh = h.repeat(len(v), 1)
    with torch.no_grad():
        brute = float(torch.logsumexp(-m.energy(vv, hh), 0))
    assert exact_log_partition(rbm) == pytest.approx(brute, abs=1e-10)
    from_visible = exact_log_partition(rbm, layer="visible")
    from_hidden = exact_log_partition(rbm, layer="hidden", chunk_size=7)  # uneven chunks
    assert from_visible == pytest.approx(brute, abs=1e-10)
    assert from_hidden == pytest.approx(brute, abs=1e-10)


def test_exact_gaussian_visible_matches_quadrature_2d():
    rbm = _random_rbm(2, 3, seed=1, w_std=1.0, visible="gaussian")
    m = _float64(rbm)
    x = _grid(-14.0, 14.0, 0.05)
    grid = torch.cartesian_prod(x, x)
    with torch.no_grad():
        log_integral = float(torch.logsumexp(-m.free_energy(grid), 0)) + 2 * math.log(0.05)
    assert exact_log_partition(rbm) == pytest.approx(log_integral, abs=1e-8)


def test_exact_gaussian_visible_4x6_matches_quadrature():
    # The integrand is a mixture of unit-variance Gaussians, for which the trapezoid rule
    # with step 0.5 is exact to ~exp(-2π²/0.25); the grid covers every mean by > 7 sd.
    rbm = _random_rbm(4, 6, seed=2, w_std=0.3, visible="gaussian")
    m = _float64(rbm)
    step = 0.5
    x = _grid(-10.0, 10.0, step)
    rest = torch.cartesian_prod(x, x, x)
    parts = []
    with torch.no_grad():
        for x0 in x:
            pts = torch.cat([x0.expand(len(rest), 1), rest], dim=1)
            parts.append(torch.logsumexp(-m.free_energy(pts), 0))
    log_integral = float(torch.logsumexp(torch.stack(parts), 0)) + 4 * math.log(step)
    assert exact_log_partition(rbm) == pytest.approx(log_integral, abs=1e-8)


def test_exact_gaussian_hidden_enumerates_visible():
    rbm = _random_rbm(3, 2, seed=3, hidden="gaussian")
    m = _float64(rbm)
    x = _grid(-14.0, 14.0, 0.05)
    grid = torch.cartesian_prod(x, x)
    with torch.no_grad():
        log_integral = float(torch.logsumexp(-m.free_energy_hidden(grid), 0))
    log_integral += 2 * math.log(0.05)
    assert exact_log_partition(rbm) == pytest.approx(log_integral, abs=1e-8)


def test_exact_log_partition_errors():
    with pytest.raises(ValueError, match="at most 2\\^25"):
        exact_log_partition(RBMModule(30, 26))
    with pytest.raises(ValueError, match="Bernoulli layer"):
        exact_log_partition(RBMModule(3, 3, "gaussian", "gaussian"))
    with pytest.raises(ValueError, match="visible layer has Gaussian"):
        exact_log_partition(RBMModule(3, 3, "gaussian"), layer="visible")
    with pytest.raises(ValueError, match="chunk_size"):
        exact_log_partition(RBMModule(3, 3), chunk_size=0)
    # A large layer is fine when the other one is small.
    assert math.isfinite(exact_log_partition(RBMModule(1000, 3)))


# -- AIS ---------------------------------------------------------------------------------------
def _mnist_like_rbm() -> tuple[RBMModule, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    p = torch.rand(784, generator=g) * 0.9 + 0.05
    data = (torch.rand(300, 784, generator=g) < p).float()
    rbm = RBMModule(784, 12)
    with torch.no_grad():
        rbm.weight.copy_(torch.randn(784, 12, generator=g) * 0.1)
        rbm.visible_bias.copy_(_logit(p) + 0.2 * torch.randn(784, generator=g))
        rbm.hidden_bias.copy_(torch.randn(12, generator=g) * 0.5 - 1.0)
    return rbm, data


def test_ais_matches_exact_784x12_with_data_base():
    # Over seeds the error has sd ≈ 0.006 here, so 0.05 is an ~8 sd margin.
    rbm, data = _mnist_like_rbm()
    exact = exact_log_partition(rbm)
    res = ais_log_partition(
        rbm, n_runs=200, betas=np.linspace(0, 1, 3000), data=data, random_state=0
    )
    assert isinstance(res, AISResult)
    assert abs(res.log_z - exact) < 0.05
    assert res.log_z_low < res.log_z < res.log_z_high
    assert res.n_runs == 200 and res.n_betas == 3000
    assert isinstance(res.log_weights, np.ndarray)
    assert res.log_weights.dtype == np.float64 and res.log_weights.shape == (200,)


def test_ais_matches_exact_20x15_uniform_base():
    rbm = _random_rbm(20, 15, seed=0, w_std=0.5)
    exact = exact_log_partition(rbm)
    res = ais_log_partition(
        rbm, n_runs=200, betas=np.linspace(0, 1, 2000), base="uniform", random_state=1
    )
    assert abs(res.log_z - exact) < 0.05


def test_ais_matches_exact_gaussian_visible():
    g = torch.Generator().manual_seed(5)
    mu = torch.randn(10, generator=g)
    data = mu + torch.randn(300, 10, generator=g)
    rbm = _random_rbm(10, 12, seed=5, w_std=0.1, visible="gaussian")
    with torch.no_grad():
        rbm.visible_bias.copy_(mu + 0.1 * torch.randn(10, generator=g))
    exact = exact_log_partition(rbm)
    res = ais_log_partition(
        rbm, n_runs=100, betas=np.linspace(0, 1, 1000), data=data.numpy(), random_state=2
    )
    assert abs(res.log_z - exact) < 0.05


def test_ais_is_exact_when_target_is_the_base_model():
    # Zero weights and visible biases fitted to the data: every importance weight is 1, so
    # AIS returns log Z_base = sum softplus(a) + n_hidden log 2 exactly (this pins the
    # n_hidden log 2 of the zero-weight hidden units).
    g = torch.Generator().manual_seed(0)
    data = (torch.rand(50, 9, generator=g) < 0.3).float()
    rbm = RBMModule(9, 4)
    p = data.double().mean(0).clamp(1e-3, 1 - 1e-3)
    with torch.no_grad():
        rbm.visible_bias.copy_(_logit(p))
    res = ais_log_partition(rbm, n_runs=10, betas=np.linspace(0, 1, 50), data=data, random_state=0)
    assert res.log_z == pytest.approx(exact_log_partition(rbm), abs=1e-5)
    assert res.log_z_high - res.log_z_low == pytest.approx(0.0, abs=1e-5)


def test_ais_interval_shrinks_with_more_runs():
    rbm = _random_rbm(20, 15, seed=0, w_std=0.5)
    betas = np.linspace(0, 1, 300)
    few = ais_log_partition(rbm, n_runs=25, betas=betas, random_state=0)
    many = ais_log_partition(rbm, n_runs=400, betas=betas, random_state=0)
    assert many.log_z_high - many.log_z_low < few.log_z_high - few.log_z_low
    assert math.isfinite(many.log_z_low)


def test_ais_is_reproducible_and_accepts_generators():
    rbm = _random_rbm(8, 5, seed=0)
    betas = np.linspace(0, 1, 100)
    a = ais_log_partition(rbm, n_runs=10, betas=betas, random_state=3)
    b = ais_log_partition(rbm, n_runs=10, betas=torch.from_numpy(betas), random_state=3)
    c = ais_log_partition(
        rbm, n_runs=10, betas=betas, random_state=torch.Generator().manual_seed(3)
    )
    np.testing.assert_array_equal(a.log_weights, b.log_weights)
    np.testing.assert_array_equal(a.log_weights, c.log_weights)
    d = ais_log_partition(rbm, n_runs=10, betas=betas, random_state=np.random.default_rng(0))
    assert math.isfinite(d.log_z)


def test_default_betas():
    betas = default_betas()
    assert betas.shape == (14501,) and betas[0] == 0.0 and betas[-1] == 1.0
    assert np.all(np.diff(betas) > 0)
    assert np.diff(betas)[:500] == pytest.approx(1e-3)
    assert np.diff(betas)[-10000:] == pytest.approx(1e-5)
    assert default_betas() is betas and not betas.flags.writeable


def test_ais_errors():
    with pytest.raises(ValueError, match="Bernoulli hidden"):
        ais_log_partition(RBMModule(3, 2, hidden="gaussian"), betas=[0.0, 1.0])
    with pytest.raises(ValueError, match="Bernoulli hidden"):
        ais_log_partition(RBMModule(3, 2, visible="relu"), betas=[0.0, 1.0])
    rbm = RBMModule(3, 2)
    with pytest.raises(ValueError, match="betas"):
        ais_log_partition(rbm, betas=[0.1, 1.0])
    with pytest.raises(ValueError, match="betas"):
        ais_log_partition(rbm, betas=[0.0, 0.6, 0.5, 1.0])
    with pytest.raises(ValueError, match="base"):
        ais_log_partition(rbm, betas=[0.0, 1.0], base="zeros")
    with pytest.raises(ValueError, match="n_runs"):
        ais_log_partition(rbm, n_runs=0, betas=[0.0, 1.0])
    with pytest.raises(ValueError, match="shape"):
        ais_log_partition(rbm, betas=[0.0, 1.0], data=np.zeros((4, 5)))
    with pytest.raises(ValueError, match="random_state"):
        ais_log_partition(rbm, betas=[0.0, 1.0], random_state="seed")


# -- log-likelihood ----------------------------------------------------------------------------
def test_log_likelihood_normalises_over_all_states():
    rbm = _random_rbm(8, 5, seed=4, w_std=1.0)
    states = _binary_states(8)
    ll = log_likelihood(rbm, states.numpy(), exact_log_partition(rbm))
    assert ll.shape == (256,) and ll.dtype == np.float64
    assert float(np.exp(ll).sum()) == pytest.approx(1.0, abs=1e-6)
    assert bool((ll <= 0).all())


def test_log_likelihood_gaussian_density_integrates_to_one():
    rbm = _random_rbm(2, 3, seed=1, visible="gaussian")
    x = _grid(-14.0, 14.0, 0.05)
    ll = log_likelihood(rbm, torch.cartesian_prod(x, x), exact_log_partition(rbm))
    assert float(np.exp(ll).sum()) * 0.05**2 == pytest.approx(1.0, abs=1e-6)


def test_log_likelihood_accepts_ais_result():
    rbm = _random_rbm(5, 4, seed=0)
    res = ais_log_partition(rbm, n_runs=10, betas=np.linspace(0, 1, 20), random_state=0)
    X = _binary_states(5)[:3]
    np.testing.assert_allclose(log_likelihood(rbm, X, res), log_likelihood(rbm, X, res.log_z))


# -- pseudo-likelihood -------------------------------------------------------------------------
def _brute_pseudo_likelihood(rbm: RBMModule, X: torch.Tensor) -> torch.Tensor:
    m = _float64(rbm)
    X = X.double()
    total = torch.zeros(len(X), dtype=torch.float64)
    with torch.no_grad():
        for i in range(X.shape[1]):
            flipped = X.clone()
            flipped[:, i] = 1 - flipped[:, i]
            total += torch.nn.functional.logsigmoid(m.free_energy(flipped) - m.free_energy(X))
    return total


@pytest.mark.parametrize("hidden", ["bernoulli", "gaussian"])
def test_pseudo_likelihood_matches_brute_force(hidden, monkeypatch):
    rbm = _random_rbm(7, 4, seed=6, hidden=hidden)
    g = torch.Generator().manual_seed(0)
    X = (torch.rand(13, 7, generator=g) < 0.5).float()
    expected = _brute_pseudo_likelihood(rbm, X)
    pl = pseudo_likelihood(rbm, X.numpy())
    assert pl.shape == (13,) and pl.dtype == np.float64
    np.testing.assert_allclose(pl, expected.numpy(), atol=1e-4)
    assert bool((pl <= 0).all())
    np.testing.assert_array_equal(pl, pseudo_likelihood(rbm, X))  # deterministic
    per_feature = pseudo_likelihood(rbm, X, per_feature=True)
    np.testing.assert_allclose(per_feature, pl / 7, rtol=1e-6)
    # Forcing the smallest blocks (one sample, one feature) gives the same values.
    monkeypatch.setattr(monitors, "_PL_BLOCK_ELEMENTS", 5)
    np.testing.assert_allclose(pseudo_likelihood(rbm, X), pl, atol=1e-6)


def test_pseudo_likelihood_errors():
    with pytest.raises(ValueError, match="Bernoulli visible"):
        pseudo_likelihood(RBMModule(3, 2, "gaussian"), torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        pseudo_likelihood(RBMModule(3, 2), torch.full((2, 3), 1.5))
    with pytest.raises(ValueError, match="shape"):
        pseudo_likelihood(RBMModule(3, 2), torch.zeros(2, 4))


# -- monitors ----------------------------------------------------------------------------------
def _one_by_one(w: float, a: float, b: float) -> RBMModule:
    rbm = RBMModule(1, 1)
    with torch.no_grad():
        rbm.weight.fill_(w)
        rbm.visible_bias.fill_(a)
        rbm.hidden_bias.fill_(b)
    return rbm


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def test_reconstruction_error_by_hand():
    rbm = _one_by_one(w=2.0, a=0.5, b=-1.0)
    recon_1 = _sigmoid(0.5 + 2.0 * _sigmoid(-1.0 + 2.0))
    recon_0 = _sigmoid(0.5 + 2.0 * _sigmoid(-1.0))
    expected = ((1 - recon_1) ** 2 + recon_0**2) / 2
    assert reconstruction_error(rbm, np.array([[1.0], [0.0]])) == pytest.approx(expected)
    # Zero parameters reconstruct every pixel as 0.5: error 0.25 per binary feature.
    X = (torch.rand(6, 10, generator=torch.Generator().manual_seed(0)) < 0.5).float()
    assert reconstruction_error(RBMModule(10, 3), X) == pytest.approx(2.5)


def test_free_energy_gap_by_hand():
    rbm = _one_by_one(w=2.0, a=0.5, b=-1.0)

    def free_energy(v: float) -> float:
        return -0.5 * v - _softplus(-1.0 + 2.0 * v)

    X_train = np.array([[1.0], [1.0], [0.0]])
    X_valid = np.array([[0.0], [0.0]])
    expected = free_energy(0.0) - (2 * free_energy(1.0) + free_energy(0.0)) / 3
    assert free_energy_gap(rbm, X_train, X_valid) == pytest.approx(expected)
    assert free_energy_gap(rbm, X_train, X_train) == pytest.approx(0.0, abs=1e-7)


# -- the DBN variational bound -------------------------------------------------------------


def _tiny_dbn(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    rbms = [RBMModule(5, 3, dtype=torch.float64), RBMModule(3, 4, dtype=torch.float64)]
    with torch.no_grad():
        for rbm in rbms:
            for p in rbm.parameters():
                p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64))
    return rbms


def _exact_dbn(rbms, v):
    """Exact log p(v) and the exact bound, by enumerating h1 (2-layer DBN, tiny)."""
    lower, top = rbms
    log_z = exact_log_partition(top)
    h1 = _binary_states(lower.n_hidden).double()
    log_joint = []  # log p(v | h1) + log p(h1), (n_v, n_h1 states)
    for state in h1:
        field = lower.visible_field(state.expand(len(v), -1))
        log_pv = (v * F.logsigmoid(field) + (1 - v) * F.logsigmoid(-field)).sum(-1)
        log_joint.append(log_pv - top.free_energy(state[None]) - log_z)
    log_joint = torch.stack(log_joint, 1)
    q = lower.hidden_mean(v)
    log_q = (h1[None] * torch.log(q[:, None]) + (1 - h1[None]) * torch.log1p(-q[:, None])).sum(-1)
    bound = (log_q.exp() * (log_joint - log_q)).sum(1)
    return torch.logsumexp(log_joint, 1), bound


def test_dbn_bound_matches_its_exact_value_and_stays_below_the_likelihood():
    rbms = _tiny_dbn()
    v = _binary_states(5)[[0, 7, 19, 31]].double()
    exact, exact_bound = _exact_dbn(rbms, v)
    assert (exact_bound <= exact + 1e-12).all()
    estimate = dbn_log_likelihood_bound(rbms, v, exact_log_partition(rbms[1]),
                                        n_samples=20000, random_state=0)
    np.testing.assert_allclose(estimate, exact_bound.detach().numpy(), atol=0.05, rtol=0)
    again = dbn_log_likelihood_bound(rbms, v, exact_log_partition(rbms[1]),
                                     n_samples=20000, random_state=0)
    np.testing.assert_array_equal(estimate, again)


def test_dbn_bound_of_a_single_rbm_is_its_log_likelihood():
    rbm = _tiny_dbn()[0]
    v = _binary_states(5)[:6].double()
    log_z = exact_log_partition(rbm)
    np.testing.assert_allclose(dbn_log_likelihood_bound([rbm], v, log_z, n_samples=3),
                               log_likelihood(rbm, v, log_z))


def test_dbn_bound_rejects_layers_it_cannot_bound():
    lower = RBMModule(5, 3, hidden="relu")
    with pytest.raises(ValueError, match="Bernoulli hidden units"):
        dbn_log_likelihood_bound([lower, RBMModule(3, 2)], torch.zeros(1, 5), 0.0)
    with pytest.raises(ValueError, match="n_samples"):
        dbn_log_likelihood_bound([RBMModule(5, 3)], torch.zeros(1, 5), 0.0, n_samples=0)


def test_exact_log_partition_enumerates_softmax_and_joined_layers():
    g = torch.Generator().manual_seed(4)
    rbm = RBMModule(4, 3, hidden="softmax", dtype=torch.float64)
    with torch.no_grad():
        for p in rbm.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64))
    v = torch.tensor(list(itertools.product([0.0, 1.0], repeat=4)), dtype=torch.float64)
    h = torch.eye(3, dtype=torch.float64)
    with torch.no_grad():
        energies = torch.stack([rbm.energy(v, hk.expand(len(v), 3)) for hk in h])
    brute = float(torch.logsumexp(-energies.reshape(-1), 0))
    assert exact_log_partition(rbm) == pytest.approx(brute, abs=1e-12)  # the 3 softmax states
    assert exact_log_partition(rbm, layer="visible") == pytest.approx(brute, abs=1e-12)
    joined = RBMModule(4, 2, [["bernoulli", 2], ["softmax", 2]], "gaussian")
    assert exact_log_partition(joined) == pytest.approx(
        math.log(4 * 2) + 2 * 0.5 * math.log(2 * math.pi), abs=1e-12)


# -- the public surface: Python floats and float64 NumPy arrays (issue 20, item 12) ----------
def test_public_results_are_python_floats_and_float64_arrays_not_tensors():
    """Evaluation printed as tensor(...) and mixed float32 with float64."""
    rbm = _random_rbm(6, 4, seed=2)
    X = _binary_states(6)[:5].numpy()
    log_z = exact_log_partition(rbm)
    ais = ais_log_partition(rbm, n_runs=5, betas=np.linspace(0, 1, 20), data=X,
                            random_state=0)
    floats = [log_z, ais.log_z, ais.log_z_low, ais.log_z_high, ais.log_z_base,
              reconstruction_error(rbm, X), free_energy_gap(rbm, X[:2], X[2:4])]
    assert all(type(value) is float for value in floats)
    arrays = [log_likelihood(rbm, X, log_z), log_likelihood(rbm, X, ais),
              pseudo_likelihood(rbm, X), pseudo_likelihood(rbm, X, per_feature=True),
              dbn_log_likelihood_bound([rbm], X, log_z, n_samples=2, random_state=0),
              ais.log_weights]
    for array in arrays:
        assert isinstance(array, np.ndarray) and array.dtype == np.float64
    assert "tensor" not in repr(arrays[0].mean()) and "tensor" not in repr(ais)
