"""Potts (categorical) units: energies and conditionals against enumeration on tiny models,
exact and AIS log Z, and the RBM estimator on categorical tables (one-hot blocks)."""

from __future__ import annotations

import itertools
import math
import re

import numpy as np
import pytest
import torch
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from deepbelief import RBM, load
from deepbelief.core.potts import Potts, codes, one_hot
from deepbelief.core.rbm import RBMModule
from deepbelief.core.units import unit_type
from deepbelief.evaluation import ais_log_partition, exact_log_partition

F64 = torch.float64


def _potts_rbm(q: int, n_variables: int, n_hidden: int, seed: int, scale: float = 1.0,
               dtype=F64) -> RBMModule:
    g = torch.Generator().manual_seed(seed)
    rbm = RBMModule(n_variables * q, n_hidden, ("potts", q), dtype=dtype)
    with torch.no_grad():
        for p in (rbm.weight, rbm.visible_bias, rbm.hidden_bias):
            p.copy_(torch.randn(p.shape, generator=g, dtype=dtype) * scale)
    return rbm.requires_grad_(False)


def _one_hot_states(q: int, n_variables: int) -> torch.Tensor:
    """Every configuration, written out by itertools (independent of Potts.states)."""
    rows = [torch.cat([torch.eye(q, dtype=F64)[s] for s in combo])
            for combo in itertools.product(range(q), repeat=n_variables)]
    return torch.stack(rows)


def _binary_states(n: int) -> torch.Tensor:
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=n)), dtype=F64)


# -- the unit type against enumeration ------------------------------------------------------
def test_potts_free_energies_match_sums_over_the_joint_states():
    """F(v) sums the hidden states out and F(h) the one-hot visible states: both against
    log-sum-exp of -E(v, h) over every joint state."""
    q, n, n_h = 3, 2, 3
    rbm = _potts_rbm(q, n, n_h, seed=0, scale=1.5)
    V, H = _one_hot_states(q, n), _binary_states(n_h)
    energy = torch.stack([rbm.energy(V, h.expand(len(V), -1)) for h in H], dim=1)  # (v, h)
    torch.testing.assert_close(rbm.free_energy(V), -torch.logsumexp(-energy, dim=1))
    torch.testing.assert_close(rbm.free_energy_hidden(H), -torch.logsumexp(-energy, dim=0))


def test_potts_conditionals_match_enumeration():
    """p(v | h) by normalising exp(-E(v, h)) over every one-hot configuration: the unit's
    log_conditional, and its mean as the expectation of v."""
    q, n, n_h = 3, 2, 3
    rbm = _potts_rbm(q, n, n_h, seed=1, scale=1.5)
    V, H = _one_hot_states(q, n), _binary_states(n_h)
    for h in H:
        log_p = -rbm.energy(V, h.expand(len(V), -1))
        log_p = log_p - torch.logsumexp(log_p, 0)
        field = rbm.visible_field(h[None]).expand(len(V), -1)
        torch.testing.assert_close(rbm.visible.log_conditional(V, field), log_p)
        torch.testing.assert_close(rbm.visible_mean(h[None])[0], (log_p.exp()[:, None] * V).sum(0))


def test_potts_states_enumerate_each_configuration_once():
    unit = Potts(3)
    states = unit.states(torch.arange(unit.n_states(9)), 9, F64)
    assert states.shape == (27, 9)
    assert set(map(tuple, states.tolist())) == set(map(tuple, _one_hot_states(3, 3).tolist()))
    torch.testing.assert_close(states[1], torch.tensor([0, 1, 0, 1, 0, 0, 1, 0, 0.], dtype=F64))


def test_potts_sampler_draws_the_softmax_of_each_block():
    unit = Potts(4)
    field = torch.tensor([[2.0, 0.0, -1.0, 0.5, 0.0, 0.0, 0.0, 3.0]], dtype=F64)
    g = torch.Generator().manual_seed(0)
    samples = unit.sample(field.expand(40000, -1), g)
    assert torch.equal(samples.view(-1, 2, 4).sum(-1), torch.ones(40000, 2, dtype=F64))
    torch.testing.assert_close(samples.mean(0), unit.mean(field)[0], atol=0.01, rtol=0)


def test_potts_bias_for_mean_returns_the_marginals():
    """The base-rate model of AIS: biases whose block softmaxes are the data's frequencies."""
    unit = Potts(3)
    freq = torch.tensor([[0.2, 0.5, 0.3, 0.0, 1.0, 0.0]], dtype=F64)
    torch.testing.assert_close(unit.mean(unit.bias_for_mean(freq)),
                               torch.tensor([[0.2, 0.5, 0.3, 1e-3 / 1.002, 1 / 1.002,
                                              1e-3 / 1.002]], dtype=F64))


# -- log Z ------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1])
def test_exact_and_ais_log_z_of_a_potts_rbm_agree(seed):
    """AIS from the per-variable base-rate model agrees with enumeration within 0.05 nats;
    enumeration of either layer gives the same log Z."""
    q, n, n_h = 4, 4, 6
    rbm = _potts_rbm(q, n, n_h, seed=seed, dtype=torch.float32)
    exact = exact_log_partition(rbm, layer="visible")
    assert exact == pytest.approx(exact_log_partition(rbm, layer="hidden"), abs=1e-9)
    V = _one_hot_states(q, n)
    data = V[torch.randint(len(V), (200,), generator=torch.Generator().manual_seed(seed))]
    ais = ais_log_partition(rbm, n_runs=100, betas=np.linspace(0, 1, 3000), data=data,
                            random_state=seed)
    assert abs(ais.log_z - exact) < 0.05, (ais.log_z, exact)


# -- specs, encodings and messages --------------------------------------------------------
def test_potts_spec_round_trips_through_unit_type_and_model_config():
    unit = unit_type(("potts", 5))
    assert unit == Potts(5) and unit != Potts(4) and unit.spec == ["potts", 5]
    assert unit_type(unit.spec) == unit  # as read back from a model file's JSON
    assert RBMModule(10, 2, ("potts", 5)).layer_config()["visible"] == ["potts", 5]


@pytest.mark.parametrize("spec, words", [
    ("potts", "('potts', q)"),
    (("potts", 1), "q >= 2"),
    (("gaussian", 3), "only Potts units take a parameter"),
])
def test_bad_potts_specs_say_what_to_give(spec, words):
    with pytest.raises(ValueError, match=re.escape(words)):
        unit_type(spec)


def test_potts_layer_of_the_wrong_width_is_refused():
    with pytest.raises(ValueError, match="multiple of 3"):
        Potts(3).mean(torch.zeros(1, 7))


@pytest.mark.parametrize("x, words", [
    ([[0.0, 2.0, 1.0]], "integer-coded table"),
    ([[1.0, 0.0, 1.0]], "block summing to 2"),
    ([[-0.5, 1.0, 0.5]], "down to -0.5"),
    ([[1.0, 0.0]], "not a multiple of 3"),
])
def test_potts_domain_messages_name_what_is_wrong(x, words):
    assert words in Potts(3).check_domain(torch.tensor(x))


def test_one_hot_and_codes_are_inverse_and_check_their_input():
    table = np.array([[0, 3, 1], [2, 2, 0]])
    X = one_hot(table, 4)
    assert X.shape == (2, 12) and np.array_equal(codes(X, 4), table)
    assert Potts(4).check_domain(torch.from_numpy(X)) is None
    with pytest.raises(ValueError, match="pass q=4 or more"):
        one_hot(table, 3)
    with pytest.raises(ValueError, match="integers"):
        one_hot([[0.5]], 3)


# -- the estimator on a categorical table ---------------------------------------------------
def _sequences(n_samples: int, seed: int = 0) -> tuple[np.ndarray, int]:
    """Exact samples of a known Potts RBM (6 variables of 4 states), by enumeration."""
    q, n = 4, 6
    teacher = _potts_rbm(q, n, 5, seed=seed)
    states = teacher.visible.states(torch.arange(q**n), n * q, F64)
    log_p = -teacher.free_energy(states)
    g = torch.Generator().manual_seed(seed)
    index = torch.multinomial(torch.softmax(log_p, 0), n_samples, replacement=True, generator=g)
    return states[index].numpy().astype(np.float32), q


def test_rbm_learns_the_column_frequencies_of_a_categorical_table():
    """Samples of an RBM fitted to sequences of a known Potts model reproduce the data's
    per-column state frequencies, far closer than uniform frequencies."""
    X, q = _sequences(3000)
    model = RBM(n_components=16, visible_units=("potts", q), n_iter=50, learning_rate=0.05,
                learning_rate_schedule="linear", batch_size=20, random_state=0,
                device="cpu").fit(X)
    samples = model.sample(3000, n_gibbs=200, random_state=0)
    blocks = samples.reshape(3000, -1, q)
    assert set(np.unique(samples)) <= {0.0, 1.0} and np.all(blocks.sum(-1) == 1)
    gap = np.abs(samples.mean(0) - X.mean(0)).max()
    assert gap < 0.05, gap
    assert np.abs(X.mean(0) - 1 / q).max() > 10 * gap
    assert np.array_equal(codes(model.gibbs(X[:5], random_state=0), q).shape, (5, 6))


def test_integer_coded_table_is_refused_and_the_advised_encodings_work():
    """The error names both encodings; one_hot and OneHotEncoder (sparse output) then fit."""
    rng = np.random.default_rng(0)
    table = rng.integers(0, 4, (60, 5))
    model = RBM(n_components=3, visible_units=("potts", 4), n_iter=2, random_state=0,
                device="cpu")
    with pytest.raises(ValueError) as error:
        model.fit(table.astype(np.float32))
    assert "one_hot(codes, 4)" in str(error.value)
    assert "OneHotEncoder(categories=[range(4)] * n_variables)" in str(error.value)
    dense = model.fit(one_hot(table, 4)).transform(one_hot(table, 4))
    pipe = make_pipeline(OneHotEncoder(categories=[range(4)] * 5),
                         RBM(n_components=3, visible_units=("potts", 4), n_iter=2,
                             random_state=0, device="cpu")).fit(table)
    np.testing.assert_allclose(pipe.transform(table), dense, rtol=1e-5, atol=1e-6)


def test_potts_rbm_saves_and_loads(tmp_path):
    X, q = _sequences(100)
    model = RBM(n_components=4, visible_units=("potts", q), n_iter=2, random_state=0,
                device="cpu").fit(X)
    path = model.save(tmp_path / "potts.safetensors")
    loaded = load(path)
    assert loaded.visible_units == ("potts", q) and loaded.rbm_.visible == Potts(q)
    np.testing.assert_array_equal(loaded.transform(X[:5]), model.transform(X[:5]))


def test_potts_log_z_is_the_sum_of_independent_blocks_without_weights():
    rbm = _potts_rbm(3, 2, 2, seed=0)
    rbm.weight.zero_()
    a = rbm.visible_bias.view(2, 3)
    expected = float(torch.logsumexp(a, -1).sum()) + sum(
        math.log1p(math.exp(float(b))) for b in rbm.hidden_bias)
    assert exact_log_partition(rbm) == pytest.approx(expected, abs=1e-12)
