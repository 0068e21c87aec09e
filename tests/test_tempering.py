"""Parallel tempering: the sampler (deepbelief.core.tempering), PT-PCD
(deepbelief.learning.tempering) and ``method='pt'`` of the estimators, checked against exact
enumeration on tiny models."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

import deepbelief.core.tempering as tempering
from deepbelief import RBM, DBNTransformer, GenerativeDBN
from deepbelief.core.rbm import RBMModule
from deepbelief.core.tempering import (
    ParallelTempering,
    inverse_temperatures,
    scaled_energy,
    swap_probability,
)
from deepbelief.datasets import load_digits
from deepbelief.learning.contrastive import (
    PersistentContrastiveDivergence,
    RBMObjective,
    make_rule,
)
from deepbelief.learning.tempering import ParallelTemperingPCD

LADDER = [1.0, 0.6, 0.35, 0.2, 0.1]


def _two_modes(n_visible: int = 8, weight: float = 6.0) -> RBMModule:
    """An RBM with two modes of equal mass, most pixels off (h = 0) and most on (h = 1):
    a Gibbs chain leaves its mode about once in 5,000 steps (half the pixels must turn on
    at once, each with probability sigmoid(-3))."""
    rbm = RBMModule(n_visible, 1)
    with torch.no_grad():
        rbm.weight.fill_(weight)
        rbm.visible_bias.fill_(-weight / 2)
        rbm.hidden_bias.fill_(-weight * n_visible / 2)
    return rbm


def _states(n: int) -> torch.Tensor:
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=n)))


def _exact(rbm: RBMModule) -> torch.Tensor:
    """p(v) over every visible state, in the order of :func:`_states`."""
    return torch.softmax(-rbm.free_energy(_states(rbm.n_visible)).detach().double(), 0)


def _index(v: torch.Tensor) -> torch.Tensor:
    n = v.shape[-1]
    return (v * 2.0 ** torch.arange(n - 1, -1, -1, dtype=v.dtype)).sum(-1).long()


def _tv_at_beta_one(rbm: RBMModule, sampler: ParallelTempering, steps: int, burn_in: int,
                    seed: int = 0) -> float:
    """Total-variation distance between the beta = 1 replicas' states over ``steps`` steps
    (after ``burn_in``) and the exact distribution."""
    g = torch.Generator().manual_seed(seed)
    counts = torch.zeros(2 ** rbm.n_visible, dtype=torch.float64)
    for step in range(burn_in + steps):
        sampler.step_(rbm, g)
        if step >= burn_in:
            counts += torch.bincount(_index(sampler.v[0]), minlength=counts.numel()).double()
    return 0.5 * float((counts / counts.sum() - _exact(rbm)).abs().sum())


# -- the ladder ---------------------------------------------------------------------------------
def test_a_count_gives_a_geometric_ladder_from_one():
    betas = inverse_temperatures(5, lowest=0.0625)
    assert betas.tolist() == [1.0, 0.5, 0.25, 0.125, 0.0625]
    assert inverse_temperatures(1).tolist() == [1.0]


@pytest.mark.parametrize("bad", [0, [0.9, 0.5], [1.0, 0.5, 0.5], [1.0, -0.1], [], "hot",
                                 [[1.0]], True])
def test_a_bad_ladder_is_refused_with_an_example_that_works(bad):
    with pytest.raises(ValueError, match="temperatures") as info:
        inverse_temperatures(bad)
    if "e.g." in str(info.value):  # the example given must be accepted
        example = str(info.value).split("e.g. ")[1].split(";")[0]
        inverse_temperatures(eval(example))


# -- swaps --------------------------------------------------------------------------------------
def test_swap_probability_is_the_metropolis_formula_on_every_pair_of_states():
    """On a 3 x 2 RBM, for every two joint states (v, h) and a base-rate bias, against the
    formula from the full energies (Bernoulli units: phi = 0, so D = E + a0·v)."""
    torch.manual_seed(0)
    rbm = RBMModule(3, 2)
    with torch.no_grad():
        for p in rbm.parameters():
            p.copy_(torch.randn(p.shape))
    base = torch.tensor([0.3, -0.2, 0.5])
    joint = torch.tensor([list(s) for s in itertools.product([0.0, 1.0], repeat=5)])
    v, h = joint[:, :3], joint[:, 3:]
    d = scaled_energy(rbm, v, h, base).detach().double()
    torch.testing.assert_close(d, (rbm.energy(v, h) + v @ base).detach().double())
    beta_i, beta_j = 1.0, 0.4
    p = swap_probability(torch.tensor(beta_i, dtype=torch.float64),
                         torch.tensor(beta_j, dtype=torch.float64), d[:, None], d[None, :])
    for i, j in [(0, 31), (7, 12), (20, 3), (5, 5)]:
        expected = min(1.0, math.exp((beta_i - beta_j) * (float(d[i]) - float(d[j]))))
        assert float(p[i, j]) == pytest.approx(expected, rel=1e-12)
    assert bool(((p >= 0) & (p <= 1)).all())


def test_the_sampler_accepts_swaps_with_the_formulas_frequency(monkeypatch):
    """Two fixed joint states at two temperatures: the fraction of rows that swap matches
    min(1, exp(dbeta dE)) within four standard errors."""
    rbm = _two_modes(4)
    n = 40000
    v = torch.stack([torch.zeros(n, 4), torch.ones(n, 4)])  # beta_0: off, beta_1: on
    h = torch.zeros(2, n, 1)                                # D = 0 and D = 8
    monkeypatch.setattr(tempering, "tempered_sweep", lambda *args: (v.clone(), h.clone()))
    betas = [1.0, 0.8]
    sampler = ParallelTempering(torch.zeros(n, 4), betas)
    sampler.step_(rbm, torch.Generator().manual_seed(0))
    d = scaled_energy(rbm, v[:, 0], h[:, 0]).detach()
    p = float(swap_probability(torch.tensor(1.0), torch.tensor(0.8), d[0], d[1]))
    assert 0.05 < p < 0.95  # a check of the frequency, not of 0 or 1
    rate = float(sampler.swap_rates()[0])
    assert abs(rate - p) < 4 * np.sqrt(p * (1 - p) / n)
    swapped = sampler.v[0].sum(1) == 4  # rows whose beta = 1 replica is now the "on" one
    assert float(swapped.double().mean()) == pytest.approx(rate)


# -- the stationary distribution -------------------------------------------------------------
def test_pt_samples_the_exact_distribution_where_gibbs_sticks_in_one_mode():
    """Both start in the all-off mode: after 300 steps the Gibbs chains are still there
    (half the mass missing), the beta = 1 replicas of PT match the exact distribution."""
    rbm = _two_modes()
    start = torch.zeros(500, 8)
    gibbs = _tv_at_beta_one(rbm, ParallelTempering(start, 1), 300, 100)
    pt = _tv_at_beta_one(rbm, ParallelTempering(start, LADDER), 300, 100)
    assert gibbs > 0.35  # measured 0.46 and 0.47 (two seeds)
    assert pt < 0.03     # measured 0.007 and 0.005


def test_a_wrong_acceptance_rule_is_caught_by_the_distance(monkeypatch):
    """Swapping always (no Metropolis test) mixes the hot replicas' states into beta = 1:
    the same test as above then fails by far."""
    monkeypatch.setattr(tempering, "swap_probability", lambda *args: torch.ones_like(args[2]))
    rbm = _two_modes()
    wrong = _tv_at_beta_one(rbm, ParallelTempering(torch.zeros(500, 8), LADDER), 300, 100)
    assert wrong > 0.1  # measured 0.19 (0.23 with the sign of the exponent flipped)


def test_an_adapted_ladder_moves_towards_the_target_and_still_samples_exactly():
    rbm = _two_modes()
    sampler = ParallelTempering(torch.zeros(500, 8), 4, swap_target=0.5, adapt_rate=0.1)
    g = torch.Generator().manual_seed(0)
    before = inverse_temperatures(4)
    for _ in range(300):
        sampler.step_(rbm, g)
    assert not torch.equal(sampler.betas.double(), before)
    assert sampler.betas[0] == 1.0 and bool((sampler.betas[1:] < sampler.betas[:-1]).all())
    sampler.freeze_()
    sampler.attempts.zero_()
    sampler.accepted.zero_()
    frozen = sampler.betas.clone()
    assert _tv_at_beta_one(rbm, sampler, 300, 0, seed=1) < 0.03
    assert torch.equal(sampler.betas, frozen)
    rates = sampler.swap_rates()
    assert rates.min() > 0.2  # the adapted gaps let the replicas swap


def test_an_adapted_ladder_needs_positive_temperatures():
    with pytest.raises(ValueError, match="above 0"):
        ParallelTempering(torch.zeros(2, 3), [1.0, 0.5, 0.0], swap_target=0.3)
    ParallelTempering(torch.zeros(2, 3), [1.0, 0.5, 0.1], swap_target=0.3)  # the advice


# -- diagnostics --------------------------------------------------------------------------------
def test_round_trips_are_counted_on_a_hand_made_sequence():
    """Three temperatures, one row; replicas A (starts at beta_0), B, C. Alternating swaps
    of pairs 0 and 1 walk the replicas round the ladder: A reaches the bottom at the second
    exchange and is back at the top at the fifth (trip 1); B, first at the top after the
    first exchange, completes its trip at the seventh (trip 2). C, at the top after the
    third exchange, reaches the bottom at the sixth but not the top again."""
    sampler = ParallelTempering(torch.arange(3.0).view(3, 1, 1), 3)
    pair = [torch.tensor([[True], [False]]), torch.tensor([[False], [True]])]
    trips = []
    for step in range(7):
        sampler.exchange_(pair[step % 2])
        trips.append(sampler.round_trips())
    assert trips == [0, 0, 0, 0, 1, 1, 2]
    assert sampler.v.flatten().tolist() == [1.0, 0.0, 2.0]  # B, A, C
    assert sampler.accepted.tolist() == [4, 3]


def test_swap_rates_lie_in_the_unit_interval_and_count_every_attempt():
    rbm = _two_modes()
    sampler = ParallelTempering(torch.zeros(50, 8), LADDER)
    g = torch.Generator().manual_seed(0)
    for _ in range(11):
        sampler.step_(rbm, g)
    rates = sampler.swap_rates()
    assert rates.shape == (4,) and bool(((rates >= 0) & (rates <= 1)).all())
    # even pairs on the 6 even steps, odd pairs on the 5 odd ones, 50 rows each
    assert sampler.attempts.tolist() == [300, 250, 300, 250]
    info = sampler.diagnostics()
    assert set(info) == {"betas", "swap_rates", "round_trips", "steps"}
    assert info["steps"] == 11


def test_swap_rates_before_any_attempt_are_nan():
    assert np.isnan(ParallelTempering(torch.zeros(2, 3), 3).swap_rates()).all()


# -- PT-PCD --------------------------------------------------------------------------------------
def _model_statistics(rbm: RBMModule) -> torch.Tensor:
    """Exact <v hᵀ> under the model."""
    v = _states(rbm.n_visible)
    return torch.einsum("s,si,sj->ij", _exact(rbm), v.double(),
                        rbm.hidden_mean(v).detach().double())


@pytest.mark.parametrize("rule, unbiased", [
    (lambda: ParallelTemperingPCD(temperatures=LADDER), True),
    (lambda: PersistentContrastiveDivergence(), False),
])
def test_pt_pcd_negative_statistics_are_unbiased_in_the_long_run(rule, unbiased):
    """With the parameters held fixed, the average of PT-PCD's negative statistics over many
    updates is the model's <v hᵀ>; PCD's chains, started in one mode, are far from it."""
    rbm = _two_modes()
    rule = rule()
    g = torch.Generator().manual_seed(0)
    v_pos = torch.zeros(200, 8)  # the data: one mode only
    total, n = torch.zeros(8, 1, dtype=torch.float64), 0
    for step in range(400):
        v, h = rule.negative_phase(rbm, v_pos, None, g)
        if step >= 100:
            total += (v.double().t() @ h.detach().double()) / v.shape[0]
            n += 1
    error = float((total / n - _model_statistics(rbm)).abs().max())
    assert (error < 0.02) if unbiased else (error > 0.2)


def test_pt_pcd_with_one_temperature_is_pcd():
    rbm = _two_modes()
    data = (torch.rand(8, 8, generator=torch.Generator().manual_seed(1)) < 0.5).float()
    pt, pcd = ParallelTemperingPCD(k=2, temperatures=1), PersistentContrastiveDivergence(k=2)
    g1, g2 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    for _ in range(3):
        a, b = pt.negative_phase(rbm, data, None, g1), pcd.negative_phase(rbm, data, None, g2)
        torch.testing.assert_close(a[0], b[0], rtol=0, atol=0)
        torch.testing.assert_close(a[1], b[1])


def test_pt_pcd_updates_its_chains_in_place_and_is_graph_safe():
    """A CUDA graph replays into the tensors it recorded: no tensor of the state is rebound."""
    rbm = RBMModule(6, 3)
    rule = make_rule("pt", temperatures=[1.0, 0.5])
    assert isinstance(rule, ParallelTemperingPCD)
    assert RBMObjective(rbm, rule).graph_safe
    v = (torch.rand(4, 6, generator=torch.Generator().manual_seed(0)) < 0.5).float()
    g = torch.Generator().manual_seed(0)
    rule.negative_phase(rbm, v, None, g)
    state = {name: getattr(rule.sampler, name) for name in ParallelTempering._STATE
             if getattr(rule.sampler, name) is not None}
    before = {name: t.clone() for name, t in state.items()}
    rule.negative_phase(rbm, v, None, g)
    for name, tensor in state.items():
        assert getattr(rule.sampler, name) is tensor, name
    assert not torch.equal(state["steps"], before["steps"])


def test_pt_pcd_state_round_trip_continues_the_same_chains():
    rbm = _two_modes()
    data = (torch.rand(10, 8, generator=torch.Generator().manual_seed(1)) < 0.5).float()
    rule = ParallelTemperingPCD(temperatures=4)
    g = torch.Generator().manual_seed(0)
    for _ in range(5):
        rule.negative_phase(rbm, data, None, g)
    saved, generator_state = rule.state_dict(), g.get_state()
    after = [rule.negative_phase(rbm, data, None, g)[0].clone() for _ in range(5)]
    copy = ParallelTemperingPCD(temperatures=4)
    copy.load_state_dict(saved)
    g.set_state(generator_state)
    again = [copy.negative_phase(rbm, data, None, g)[0].clone() for _ in range(5)]
    for a, b in zip(after, again, strict=True):
        assert torch.equal(a, b)
    assert copy.diagnostics()["round_trips"] == rule.diagnostics()["round_trips"]
    assert ParallelTemperingPCD().state_dict() == {"sampler": None}


def test_pt_pcd_refuses_a_conditional_rbm():
    rbm = RBMModule(4, 2, n_context=3)
    with pytest.raises(ValueError, match="method='pcd'"):
        ParallelTemperingPCD().negative_phase(rbm, torch.zeros(2, 4), None, None,
                                              context=torch.zeros(2, 3))


# -- the estimators ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def digits():
    X, y = load_digits()
    return X[:300], y[:300]


def test_rbm_trains_by_pt_pcd_and_resumes_to_the_uninterrupted_weights(digits, tmp_path):
    """The replicas of every temperature are checkpointed: an interrupted fit resumes to the
    weights of one run straight through."""
    from deepbelief.training.hooks import Callback

    class Interrupt(Callback):
        def on_epoch_end(self, context):
            if context.epoch == 2:
                raise KeyboardInterrupt

    X = digits[0]
    params = {"n_components": 8, "n_iter": 4, "batch_size": 30, "method": "pt",
              "temperatures": [1.0, 0.7, 0.4], "device": "cpu", "random_state": 0}
    reference = RBM(**params).fit(X)
    assert reference._trainer.objective.rule.sampler.v.shape == (3, 30, 64)
    path = tmp_path / "run.ckpt"
    with pytest.raises(KeyboardInterrupt):
        RBM(**params, callbacks=[Interrupt()]).fit(X, checkpoint=path)
    resumed = RBM(**params).fit(X, checkpoint=path, resume=True)
    for name, value in reference.rbm_.state_dict().items():
        assert torch.equal(resumed.rbm_.state_dict()[name], value), name


def test_pt_options_leave_the_default_rules_unchanged(digits):
    """``temperatures`` is read by 'pt' only: PCD trains the same weights whatever it says."""
    X = digits[0]
    a = RBM(n_components=8, n_iter=2, device="cpu", random_state=0).fit(X)
    b = RBM(n_components=8, n_iter=2, device="cpu", random_state=0, temperatures=3).fit(X)
    assert torch.equal(a.rbm_.weight, b.rbm_.weight)


def test_a_bad_ladder_in_the_estimator_says_what_to_give(digits):
    with pytest.raises(ValueError, match="start at 1"):
        RBM(n_components=4, n_iter=1, method="pt", temperatures=[0.5, 0.2],
            device="cpu").fit(digits[0])


def test_rbm_sample_by_pt_returns_samples_and_diagnostics(digits):
    model = RBM(n_components=16, n_iter=2, device="cpu", random_state=0).fit(digits[0])
    plain = model.sample(5, n_gibbs=20, random_state=0)
    assert torch.equal(torch.as_tensor(plain),
                       torch.as_tensor(model.sample(5, n_gibbs=20, random_state=0,
                                                    method="gibbs")))
    samples, info = model.sample(5, n_gibbs=20, random_state=0, method="pt", temperatures=4,
                                 swap_target=0.3, diagnostics=True)
    assert samples.shape == (5, 64) and set(np.unique(samples)) <= {0.0, 1.0}
    assert info["steps"] == 20 and len(info["betas"]) == 4
    means = model.sample(5, n_gibbs=20, random_state=0, method="pt", mean=True)
    assert ((means > 0) & (means < 1)).all()
    again = model.sample(5, n_gibbs=20, random_state=0, method="pt", mean=True)
    assert np.array_equal(means, again)


def test_pt_samples_gaussian_visible_units_of_unit_variance():
    """Tempering scales the fields only: at beta = 0 Gaussian units stay N(0, 1), so the
    hot replicas of a model with large weights stay finite and of unit spread."""
    rbm = RBMModule(5, 3, visible="gaussian")
    with torch.no_grad():
        rbm.weight.fill_(0.5)
    sampler = ParallelTempering(torch.zeros(4000, 5), [1.0, 0.5, 0.0])
    g = torch.Generator().manual_seed(0)
    for _ in range(50):
        sampler.step_(rbm, g)
    hottest = sampler.v[2]
    assert bool(torch.isfinite(sampler.v).all())
    assert float(hottest.mean()) == pytest.approx(0.0, abs=0.05)
    assert float(hottest.std()) == pytest.approx(1.0, abs=0.05)


@pytest.mark.parametrize("kwargs, match", [
    ({"method": "hot"}, "'gibbs' or 'pt'"),
    ({"diagnostics": True}, "method='pt'"),
])
def test_rbm_sample_refuses_bad_options_with_advice(digits, kwargs, match):
    model = RBM(n_components=4, n_iter=1, device="cpu", random_state=0).fit(digits[0])
    with pytest.raises(ValueError, match=match):
        model.sample(2, n_gibbs=2, **kwargs)


def test_dbn_pretrains_with_pt_pcd(digits):
    model = DBNTransformer((12, 6), pretrain_epochs=2, pretrain_method="pt", device="cpu",
                           random_state=0).fit(digits[0])
    assert model.transform(digits[0]).shape == (300, 6)


def test_generative_dbn_samples_by_pt_in_the_top_rbm(digits):
    X, y = digits
    gen = GenerativeDBN((16, 24), pretrain_epochs=1, updown_epochs=1, device="cpu",
                        random_state=0).fit(X, y)
    samples = gen.sample(4, n_gibbs=10, random_state=0, method="pt", temperatures=3)
    assert samples.shape == (4, 64) and ((samples >= 0) & (samples <= 1)).all()
    binary = gen.sample(4, n_gibbs=10, random_state=0, method="pt", binary=True)
    assert set(np.unique(binary)) <= {0.0, 1.0}
    with pytest.raises(ValueError, match="y=None"):
        gen.sample(4, y=3, n_gibbs=10, method="pt")


def test_grouped_pt_pcd_steps_train_the_same_weights_as_the_loop(digits, monkeypatch):
    """The CUDA-graph path's bookkeeping, run eagerly on the CPU (as tests/test_cuda_graphs.py
    does for CD and PCD), trains PT-PCD's weights bit for bit."""
    import deepbelief.training.loop as loop
    from deepbelief.training.graphs import GraphedSteps

    params = {"n_components": 8, "n_iter": 3, "batch_size": 25, "method": "pt",
              "temperatures": 3, "device": "cpu", "random_state": 0}
    plain = RBM(**params).fit(digits[0])
    made = []

    def grouped(objective, optimizer, source, batch_size, generator, closure_needed):
        assert objective.graph_safe and not closure_needed
        made.append(GraphedSteps(objective, optimizer, source, batch_size, generator,
                                 group=4, capture=False))
        return made[-1]

    monkeypatch.setattr(loop, "graphed_steps", grouped)
    steps = RBM(**params).fit(digits[0])
    assert made and made[0].steps_run == 3 * 12
    for name, value in plain.rbm_.state_dict().items():
        assert torch.equal(steps.rbm_.state_dict()[name], value), name


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_pt_pcd_steps_are_replayed_from_cuda_graphs(digits, monkeypatch):
    """On a GPU the PT-PCD step is recorded into CUDA graphs and trains a model."""
    import deepbelief.training.loop as loop

    made = []
    real = loop.graphed_steps

    def spy(*args, **kwargs):
        steps = real(*args, **kwargs)
        made.append(steps)
        return steps

    monkeypatch.setattr(loop, "graphed_steps", spy)
    X = np.tile(digits[0], (4, 1))
    model = RBM(n_components=32, n_iter=3, batch_size=20, method="pt", temperatures=4,
                device="cuda", random_state=0).fit(X)
    assert made and made[0] is not None and made[0].captures > 0
    sampler = model._trainer.objective.rule.sampler
    assert int(sampler.steps) == 3 * -(-len(X) // 20)
    assert bool(torch.isfinite(model.rbm_.weight).all())


def test_command_line_and_generative_dbn_take_pt(tmp_path):
    """``train --method pt`` trains an RBM by PT-PCD; GenerativeDBN takes the name too."""
    from deepbelief import GenerativeDBN
    from deepbelief.cli import main
    from deepbelief.datasets import load_digits

    out = tmp_path / "pt.safetensors"
    assert main(["train", "-q", "--kind", "rbm", "--data", "digits", "--layers", "8",
                 "--method", "pt", "--epochs", "1", "-o", str(out)]) == 0
    from deepbelief import load

    assert load(out).method == "pt"
    X, y = load_digits()
    model = GenerativeDBN((16, 32), pretrain_epochs=1, updown_epochs=1, pretrain_method="pt",
                          random_state=0).fit(X[:200], y[:200])
    assert model.predict(X[:5]).shape == (5,)
