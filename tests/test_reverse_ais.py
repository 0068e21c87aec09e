"""Reverse annealing (RAISE) against exact answers on small models: its weights average to
the annealing model's probability, and with AIS it brackets the exact log-likelihood."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from deepbelief import RBM
from deepbelief.core.rbm import RBMModule
from deepbelief.datasets import load_digits
from deepbelief.evaluation import (
    ais_log_partition,
    exact_log_partition,
    log_likelihood,
    raise_log_likelihood,
)
from deepbelief.evaluation.partition import _base_visible_bias

F64 = torch.float64


def _random_rbm(seed: int, n_visible: int = 14, n_hidden: int = 10, visible="bernoulli",
                scale: float = 6.0) -> RBMModule:
    """Strong weights (several modes) centred so that no state dominates."""
    g = torch.Generator().manual_seed(seed)
    rbm = RBMModule(n_visible, n_hidden, visible)
    with torch.no_grad():
        rbm.weight.copy_(torch.randn(n_visible, n_hidden, generator=g) * scale
                         / math.sqrt(n_hidden))
        if visible == "bernoulli":
            rbm.visible_bias.copy_(-rbm.weight.sum(1) / 2)
        rbm.hidden_bias.copy_(-rbm.weight.sum(0) / 2)
    return rbm.requires_grad_(False)


def _model_samples(rbm: RBMModule, n: int, seed: int) -> tuple[torch.Tensor, float]:
    """Exact samples of the RBM's visible units and its exact log Z, by enumeration of the
    discrete layer (the visible one, else the hidden one and then v | h)."""
    g = torch.Generator().manual_seed(seed)
    model = rbm.double()
    layer = "visible" if math.isfinite(rbm.visible.n_states(rbm.n_visible)) else "hidden"
    units, size = ((rbm.visible, rbm.n_visible) if layer == "visible"
                   else (rbm.hidden, rbm.n_hidden))
    states = units.states(torch.arange(int(units.n_states(size))), size, F64)
    log_p = -(model.free_energy(states) if layer == "visible"
              else model.free_energy_hidden(states))
    log_z = float(torch.logsumexp(log_p, 0))
    picked = states[torch.multinomial(torch.softmax(log_p, 0), n, replacement=True,
                                      generator=g)]
    if layer == "hidden":
        picked = model.sample_visible(picked, g)[1]
    rbm.float()
    return picked.float(), log_z


def _errors(rbm, X, log_z, n_betas, seed, **kw) -> tuple[float, float]:
    """(AIS, RAISE) average log-likelihood minus the exact one."""
    exact = float(log_likelihood(rbm, X, log_z).mean())
    betas = np.linspace(0.0, 1.0, n_betas)
    ais = ais_log_partition(rbm, n_runs=100, betas=betas, random_state=seed, **kw)
    reverse = raise_log_likelihood(rbm, X, n_runs=10, betas=betas, random_state=seed, **kw)
    return float(log_likelihood(rbm, X, ais).mean()) - exact, reverse.mean - exact


def test_raise_weights_average_to_the_annealing_models_probability():
    """The mean weight of a run from v is p_ann(v): the probability that the forward chain
    (base-rate sample, one Gibbs sweep at each inverse temperature) ends at v, computed
    here by multiplying the exact transition matrices."""
    g = torch.Generator().manual_seed(0)
    n_v, n_h = 4, 3
    rbm = RBMModule(n_v, n_h, dtype=F64).requires_grad_(False)
    for p in (rbm.weight, rbm.visible_bias, rbm.hidden_bias):
        p.copy_(torch.randn(p.shape, generator=g, dtype=F64) * 1.5)
    data = (torch.rand(30, n_v, generator=g) < 0.3).double()
    a_0 = _base_visible_bias(rbm, "data", data, torch.device("cpu"), F64)
    V = rbm.visible.states(torch.arange(2**n_v), n_v, F64)
    H = rbm.hidden.states(torch.arange(2**n_h), n_h, F64)

    def factorial(states, p):  # prod_i p_i^x_i (1 - p_i)^(1 - x_i): (len(p), len(states))
        return (states[None] * p[:, None] + (1 - states[None]) * (1 - p[:, None])).prod(-1)

    def sweep(beta):  # T_beta(v -> v') = sum_h p(h | v) p(v' | h) at inverse temperature beta
        to_h = factorial(H, torch.sigmoid(beta * rbm.hidden_field(V)))
        to_v = factorial(V, torch.sigmoid((1 - beta) * a_0 + beta * rbm.visible_field(H)))
        return to_h @ to_v

    betas = [0.0, 0.3, 0.7, 1.0]
    p_ann = factorial(V, torch.sigmoid(a_0)[None])[0]
    for beta in betas[1:]:
        p_ann = p_ann @ sweep(beta)
    rows = [0, 5, 9, 15]
    result = raise_log_likelihood(rbm, V[rows], n_runs=20000, betas=betas, data=data,
                                  random_state=0)
    w = np.exp(result.log_weights)
    error = np.abs(w.mean(1) / p_ann[rows].numpy() - 1)
    assert np.all(error < 4 * w.std(1) / w.mean(1) / math.sqrt(w.shape[1])), error


@pytest.mark.parametrize("model_seed", [0, 1])
def test_short_annealing_puts_raise_below_and_ais_above_the_exact_likelihood(model_seed):
    """On test data drawn from the model, 5 temperatures: RAISE errs low for every seed;
    AIS errs high on average over 100 seeds (log Ẑ is biased low)."""
    rbm = _random_rbm(model_seed)
    X, log_z = _model_samples(rbm, 100, model_seed)
    exact = float(log_likelihood(rbm, X, log_z).mean())
    for seed in (0, 1):
        assert _errors(rbm, X, log_z, 5, seed)[1] < -0.3
    betas = np.linspace(0.0, 1.0, 5)
    ais = [float(log_likelihood(rbm, X, ais_log_partition(rbm, n_runs=10, betas=betas,
                                                          random_state=s)).mean())
           for s in range(100)]
    assert np.mean(ais) - exact > 0.1


@pytest.mark.parametrize("model_seed", [0, 1])
def test_raise_and_ais_converge_to_the_exact_likelihood(model_seed):
    rbm = _random_rbm(model_seed)
    X, log_z = _model_samples(rbm, 100, model_seed)
    short = _errors(rbm, X, log_z, 5, seed=0)
    long = _errors(rbm, X, log_z, 1000, seed=0)
    assert max(map(abs, long)) < 0.05, long
    assert abs(long[1]) < abs(short[1]) / 10, (short, long)


def test_raise_brackets_with_gaussian_visible_units():
    """Gaussian visible units (a log-density): exact samples through the enumerated hidden
    layer; RAISE errs low with few temperatures and converges with many."""
    rbm = _random_rbm(2, n_visible=6, n_hidden=8, visible="gaussian", scale=2.0)
    X, log_z = _model_samples(rbm, 100, 2)
    assert log_z == pytest.approx(exact_log_partition(rbm), abs=1e-6)
    assert _errors(rbm, X, log_z, 5, seed=0)[1] < -0.1
    assert max(map(abs, _errors(rbm, X, log_z, 1000, seed=0))) < 0.05


def test_raise_brackets_with_potts_visible_units():
    """Potts visible units (4 variables of 4 states): below the truth from the uniform
    base-rate model, converged from the per-variable one (the data's frequencies)."""
    rbm = _random_rbm(3, n_visible=16, n_hidden=8, visible=("potts", 4), scale=4.0)
    X, log_z = _model_samples(rbm, 100, 3)
    assert _errors(rbm, X, log_z, 5, seed=0, base="uniform")[1] < -0.2
    assert max(map(abs, _errors(rbm, X, log_z, 1000, seed=0, data=X))) < 0.05


def test_raise_on_held_out_digits_errs_low_and_converges():
    """A fitted estimator on held-out binarised digits (log Z exact through its 15 hidden
    units): below the truth from the uniform base-rate model with 10 temperatures, within
    0.05 nats with 1,000."""
    X = (load_digits()[0] > 0.5).astype(np.float32)
    model = RBM(n_components=15, n_iter=30, learning_rate=0.05, batch_size=20,
                random_state=0, device="cpu").fit(X[:1500])
    test = X[1500:1600]
    log_z = exact_log_partition(model)
    kw = {"base": "uniform"}
    assert _errors(model, test, log_z, 10, seed=0, **kw)[1] < -1.0
    assert abs(_errors(model, test, log_z, 1000, seed=0, **kw)[1]) < 0.05


def test_raise_result_reports_per_sample_estimates_and_spread():
    rbm = _random_rbm(0)
    X, _ = _model_samples(rbm, 9, 0)
    result = raise_log_likelihood(rbm, X, n_runs=3, betas=np.linspace(0, 1, 50),
                                  random_state=0, batch_size=7)  # 2 rows per batch
    assert result.log_likelihood.shape == (9,) and result.log_weights.shape == (9, 3)
    assert result.n_runs == 3 and result.n_betas == 50
    assert result.spread.shape == (9,) and np.all(result.spread >= 0)
    assert result.mean == pytest.approx(result.log_likelihood.mean())
    assert result.std_error == pytest.approx(result.log_likelihood.std(ddof=1) / 3)
    np.testing.assert_allclose(  # log mean(w) <= max log w
        result.log_likelihood, np.log(np.exp(result.log_weights).mean(1)), rtol=1e-10)


def test_raise_refuses_grey_levels_and_the_advised_binarisation_works():
    rbm = _random_rbm(0)
    grey = np.random.default_rng(0).random((5, 14)).astype(np.float32)
    with pytest.raises(ValueError, match="binarise it first") as error:
        raise_log_likelihood(rbm, grey, betas=[0.0, 1.0])
    rng = np.random.default_rng(0)
    assert "(rng.random(X.shape) < X).astype(np.float32)" in str(error.value)
    binary = (rng.random(grey.shape) < grey).astype(np.float32)
    assert raise_log_likelihood(rbm, binary, betas=[0.0, 1.0]).log_likelihood.shape == (5,)


@pytest.mark.parametrize("kwargs, words", [
    ({"n_runs": 0}, "n_runs must be a positive integer"),
    ({"batch_size": 0}, "batch_size must be a positive integer"),
    ({"betas": [0.0, 0.5]}, "exactly 1.0"),
])
def test_raise_refuses_bad_arguments(kwargs, words):
    with pytest.raises(ValueError, match=words):
        raise_log_likelihood(_random_rbm(0), np.zeros((2, 14)), **kwargs)


def test_raise_refuses_units_it_cannot_sample_exactly():
    with pytest.raises(ValueError, match="Bernoulli hidden units"):
        raise_log_likelihood(RBMModule(3, 2, "relu"), np.zeros((1, 3)))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_raise_on_cuda_converges_to_the_exact_likelihood():
    rbm = _random_rbm(0)
    X, log_z = _model_samples(rbm, 100, 0)
    exact = float(log_likelihood(rbm, X, log_z).mean())
    result = raise_log_likelihood(rbm.cuda(), X, n_runs=10, betas=np.linspace(0, 1, 1000),
                                  random_state=0)
    assert result.log_likelihood.dtype == np.float64
    assert abs(result.mean - exact) < 0.05


def test_cli_evaluate_prints_the_conservative_estimate_beside_the_ais_one(tmp_path, capsys):
    """'deepbelief evaluate' with AIS on binary data: reverse AIS of the first samples, with
    the AIS figure of the same samples; the exact value lies within a nat of both."""
    from deepbelief.cli.main import main

    X = (load_digits()[0] > 0.5).astype(np.float32)
    model = RBM(n_components=12, n_iter=5, learning_rate=0.05, random_state=0,
                device="cpu").fit(X)
    np.save(tmp_path / "binary.npy", X[:200])
    model.save(tmp_path / "rbm.safetensors")
    common = ["evaluate", str(tmp_path / "rbm.safetensors"), "--data",
              str(tmp_path / "binary.npy"), "--json", "-q"]
    assert main([*common, "--log-likelihood", "ais", "--ais-runs", "20", "--ais-betas", "300",
                 "--raise-samples", "30", "--raise-runs", "5"]) == 0
    ais = json.loads(capsys.readouterr().out)
    assert ais["raise_method"] == "reverse ais (30 samples x 5 runs, 300 betas)"
    assert main([*common, "--log-likelihood", "exact"]) == 0
    exact = json.loads(capsys.readouterr().out)
    assert "raise_log_likelihood" not in exact  # log Z is exact: nothing to bracket
    truth = float(log_likelihood(model, X[:30], exact["log_z"]).mean())
    assert ais["raise_log_likelihood"] == pytest.approx(truth, abs=1.0)
    assert ais["ais_log_likelihood_same_samples"] == pytest.approx(truth, abs=1.0)
    assert main([*common, "--log-likelihood", "ais", "--ais-betas", "10",
                 "--raise-samples", "0"]) == 0
    assert "raise_log_likelihood" not in json.loads(capsys.readouterr().out)


def test_cli_evaluate_skips_the_conservative_estimate_of_grey_levels(tmp_path, capsys, caplog):
    from deepbelief.cli.main import main

    X = load_digits()[0][:100]
    RBM(n_components=4, n_iter=1, random_state=0, device="cpu").fit(X).save(
        tmp_path / "rbm.safetensors")
    np.save(tmp_path / "grey.npy", X)
    assert main(["evaluate", str(tmp_path / "rbm.safetensors"), "--data",
                 str(tmp_path / "grey.npy"), "--json", "--log-likelihood", "ais",
                 "--ais-betas", "10", "--ais-runs", "5"]) == 0
    captured = capsys.readouterr()
    assert "raise_log_likelihood" not in json.loads(captured.out)
    assert "data are not binary" in captured.err + caplog.text
