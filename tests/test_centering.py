"""Centred gradients (deepbelief.learning.centering; Melchior, Fischer & Wiskott, 2016).

Checked against enumeration on tiny RBMs: moving the offsets (with the paper's bias
re-adjustment) changes energies by a constant only; the centred gradient, with exact
expectations in place of samples, is the autograd gradient of the exact log-likelihood in
the centred parameters mapped back as the paper says. Then the plumbing: any rule, state
in checkpoints, in-place updates for CUDA graphs, the estimators' options, nothing changed
when it is off, and a learning check by exact log Z.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from sklearn.utils._param_validation import InvalidParameterError

import deepbelief.training.loop as loop
from deepbelief import (
    RBM,
    DBNAutoencoder,
    DBNClassifier,
    DBNRegressor,
    DBNTransformer,
    GenerativeDBN,
    load,
)
from deepbelief.callbacks import Callback
from deepbelief.core.rbm import RBMModule
from deepbelief.datasets import load_digits
from deepbelief.evaluation import exact_log_partition, log_likelihood
from deepbelief.io.modelfile import describe, load_file
from deepbelief.learning.centering import (
    Centering,
    centre_gradients_,
    centred_biases,
    centred_energy,
    make_centering,
    readjust_biases,
    uncentred_biases,
)
from deepbelief.learning.contrastive import RBMObjective, make_rule
from deepbelief.training.graphs import GraphedSteps
from deepbelief.training.greedy import RBMConfig

torch.set_num_threads(1)
D64 = torch.float64


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits()
    return X[:200], y[:200]


def _states(n: int) -> torch.Tensor:
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=n)), dtype=D64)


def _tiny_rbm(n_visible: int = 4, n_hidden: int = 3, seed: int = 0) -> RBMModule:
    rbm = RBMModule(n_visible, n_hidden, dtype=D64)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in rbm.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=D64))
    return rbm


def _offsets(rbm: RBMModule, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(rbm.n_visible, generator=g, dtype=D64),
            torch.rand(rbm.n_hidden, generator=g, dtype=D64))


# -- the reparameterisation --------------------------------------------------------------------
def test_moving_the_offsets_with_readjusted_biases_shifts_every_energy_by_one_constant():
    """The model's distribution does not depend on the offsets (checked on all 2^7 states)."""
    rbm = _tiny_rbm()
    V, H = _states(4), _states(3)
    v = V.repeat_interleave(len(H), 0)
    h = H.repeat(len(V), 1)
    old, new = _offsets(rbm, 1), _offsets(rbm, 2)
    with torch.no_grad():
        a_c, b_c = centred_biases(rbm.weight, rbm.visible_bias, rbm.hidden_bias, *old)
        e_old = centred_energy(rbm, v, h, a_c, b_c, *old)
        e_new = centred_energy(rbm, v, h, *readjust_biases(rbm.weight, a_c, b_c, old, new),
                               *new)
        e_plain = rbm.energy(v, h)
    for e in (e_old, e_new):
        shift = e - e_plain
        torch.testing.assert_close(shift, shift[:1].expand_as(shift), rtol=0, atol=1e-12)
        torch.testing.assert_close(torch.softmax(-e, 0), torch.softmax(-e_plain, 0))
    assert abs(float((e_new - e_old)[0])) > 1e-3  # the constant itself does change


def test_the_conversion_back_gives_the_ordinary_rbm_the_model_keeps():
    rbm = _tiny_rbm()
    mu, lam = _offsets(rbm, 3)
    with torch.no_grad():
        back = uncentred_biases(rbm.weight, *centred_biases(
            rbm.weight, rbm.visible_bias, rbm.hidden_bias, mu, lam), mu, lam)
    torch.testing.assert_close(back[0], rbm.visible_bias.detach())
    torch.testing.assert_close(back[1], rbm.hidden_bias.detach())


# -- the centred gradient against the exact likelihood ---------------------------------------
def _exact_log_likelihood(W, a, b, X: torch.Tensor) -> torch.Tensor:
    """Mean exact log-likelihood of a Bernoulli RBM (all visible states enumerated)."""
    def neg_free_energy(v):
        return v @ a + torch.nn.functional.softplus(b + v @ W).sum(-1)
    return neg_free_energy(X).mean() - torch.logsumexp(neg_free_energy(_states(W.shape[0])), 0)


class _ExactExpectations:
    """A rule whose negative phase is every visible state, repeated in proportion to its
    exact probability (to one part in 10^7): model expectations instead of samples."""

    persistent = False

    def negative_phase(self, rbm, v_pos, h_pos_sample, generator, context=None):
        V = _states(rbm.n_visible)
        counts = torch.round(torch.softmax(-rbm.free_energy(V), 0) * 1e7).long()
        v = V.repeat_interleave(counts, 0)
        return v, rbm.hidden_mean(v)

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


def test_the_centred_gradient_with_exact_expectations_is_the_papers_step_of_the_likelihood():
    """RBMObjective with centring writes minus the step of gradient ascent on the exact
    log-likelihood in the centred parameters (autograd), mapped back to W, a, b."""
    rbm = _tiny_rbm(seed=4)
    X = _states(4)[[0, 3, 5, 6, 7, 7, 12, 15]]
    objective = RBMObjective(rbm, _ExactExpectations(), centering=Centering(sliding=1.0))
    objective.gradients_((X,), torch.Generator().manual_seed(0))
    mu, lam = objective.centering.visible_offset, objective.centering.hidden_offset
    torch.testing.assert_close(mu, X.mean(0))  # sliding 1: this batch's means
    torch.testing.assert_close(lam, rbm.hidden_mean(X).mean(0).detach())

    W = rbm.weight.detach().clone().requires_grad_()
    a_c, b_c = (t.detach().clone().requires_grad_() for t in centred_biases(
        rbm.weight, rbm.visible_bias, rbm.hidden_bias, mu, lam))
    ll = _exact_log_likelihood(W, *uncentred_biases(W, a_c, b_c, mu, lam), X)
    g_w, g_a, g_b = torch.autograd.grad(ll, (W, a_c, b_c))
    step = (g_w, g_a - g_w @ lam, g_b - g_w.t() @ mu)  # back in the ordinary parameters
    for param, expected in zip((rbm.weight, rbm.visible_bias, rbm.hidden_bias), step,
                               strict=True):
        torch.testing.assert_close(param.grad, -expected, rtol=0, atol=2e-6)

    # ... and its weight part is the covariance form <(v-mu)(h-lam)ᵀ>_data - <...>_model.
    with torch.no_grad():
        V = _states(4)
        p = torch.softmax(-rbm.free_energy(V), 0)
        data = (X - mu).t() @ (rbm.hidden_mean(X) - lam) / len(X)
        model = (p[:, None] * (V - mu)).t() @ (rbm.hidden_mean(V) - lam)
    torch.testing.assert_close(g_w, data - model)


def test_centring_the_ordinary_exact_gradient_gives_the_same_step():
    """centre_gradients_ on the exact ordinary gradient equals the centred autograd step."""
    rbm = _tiny_rbm(seed=5)
    X = _states(4)[[1, 2, 9, 14]]
    mu, lam = _offsets(rbm, 6)
    params = [p.detach().clone().requires_grad_() for p in
              (rbm.weight, rbm.visible_bias, rbm.hidden_bias)]
    grads = [-g for g in torch.autograd.grad(_exact_log_likelihood(*params, X), params)]
    centre_gradients_(*grads, mu, lam)
    W = params[0].detach().clone().requires_grad_()
    a_c, b_c = (t.detach().clone().requires_grad_()
                for t in centred_biases(W.detach(), *params[1:], mu, lam))
    g_w, g_a, g_b = torch.autograd.grad(
        _exact_log_likelihood(W, *uncentred_biases(W, a_c, b_c, mu, lam), X), (W, a_c, b_c))
    for got, expected in zip(grads, (g_w, g_a - g_w @ lam, g_b - g_w.t() @ mu), strict=True):
        torch.testing.assert_close(got, -expected)


@pytest.mark.parametrize("method", ["cd", "pcd"])
def test_centring_wraps_the_statistics_of_any_rule(method):
    """The same samples: the centred gradient is the rule's ordinary one, transformed."""
    X = (torch.rand(16, 6, generator=torch.Generator().manual_seed(0)) < 0.7).float()
    grads = {}
    for centering in (None, Centering(sliding=1.0)):
        rbm = RBMModule(6, 4)
        rbm.reset_parameters(torch.Generator().manual_seed(1), std=0.5)
        objective = RBMObjective(rbm, make_rule(method, 2), centering=centering)
        objective.gradients_((X,), torch.Generator().manual_seed(2))
        grads[centering is None] = [p.grad.clone() for p in rbm.parameters()]
    plain = grads[True]
    offsets = (X.mean(0), rbm.hidden_mean(X).mean(0).detach())
    centre_gradients_(*plain, *offsets)
    for got, expected in zip(grads[False], plain, strict=True):
        torch.testing.assert_close(got, expected)


# -- the offsets --------------------------------------------------------------------------------
def test_offsets_follow_a_running_average_updated_in_place():
    """A CUDA graph replays into the tensors it recorded: the offsets are never rebound."""
    centering = Centering(sliding=0.25)
    v1, h1 = torch.ones(2, 3), torch.zeros(2, 2)
    v2, h2 = torch.zeros(2, 3), torch.ones(2, 2)
    centering.update_(v1, h1, v1, h1)
    mu, lam = centering.visible_offset, centering.hidden_offset
    centering.update_(v2, h2, v2, h2)
    assert centering.visible_offset is mu and centering.hidden_offset is lam
    assert mu.tolist() == [0.75] * 3 and lam.tolist() == [0.25] * 2


def test_average_offsets_take_the_mean_of_data_and_model():
    centering = Centering(sliding=1.0, offsets="average")
    centering.update_(torch.ones(2, 3), torch.ones(2, 2), torch.zeros(4, 3), torch.zeros(4, 2))
    assert centering.visible_offset.tolist() == [0.5] * 3
    assert centering.hidden_offset.tolist() == [0.5] * 2


def test_grouped_graph_steps_train_a_centred_rbm_like_the_loop(digits, monkeypatch):
    """The CUDA-graph path (emulated on the CPU) gives the same weights and offsets."""
    params = {"n_components": 12, "n_iter": 3, "batch_size": 25, "random_state": 0,
              "device": "cpu", "centering": 0.1}
    plain = RBM(**params).fit(digits[0])
    made = []

    def emulated(objective, optimizer, source, batch_size, generator, closure_needed):
        made.append(GraphedSteps(objective, optimizer, source, batch_size, generator,
                                 group=3, capture=False))
        return made[-1]
    monkeypatch.setattr(loop, "graphed_steps", emulated)
    grouped = RBM(**params).fit(digits[0])
    assert made and made[0].objective.graph_safe
    for name, value in plain.rbm_.state_dict().items():
        assert torch.equal(grouped.rbm_.state_dict()[name], value), name
    assert torch.equal(made[0].objective.centering.visible_offset,
                       plain._trainer.objective.centering.visible_offset)


# -- state --------------------------------------------------------------------------------------
class _Interrupt(Callback):
    """Raises KeyboardInterrupt at the end of one epoch of one layer."""

    def __init__(self, layer, epoch: int) -> None:
        self.layer, self.epoch = layer, epoch

    def on_epoch_end(self, context):
        if context.layer == self.layer and context.epoch == self.epoch:
            raise KeyboardInterrupt


@pytest.mark.parametrize("make, layer", [
    (lambda **kw: RBM(n_components=8, n_iter=5, batch_size=20, method="pcd", centering=True,
                      device="cpu", random_state=1, **kw), None),
    (lambda **kw: DBNTransformer((12, 6), pretrain_epochs=3, pretrain_method="pcd",
                                 pretrain_centering=0.2, device="cpu", random_state=2, **kw),
     1),
])
def test_an_interrupted_centred_fit_resumes_to_the_uninterrupted_weights(digits, tmp_path,
                                                                         make, layer):
    """The offsets are checkpointed with the chains: resuming changes nothing."""
    X = digits[0]
    reference = make().fit(X)
    path = tmp_path / "run.ckpt"
    with pytest.raises(KeyboardInterrupt):
        make(callbacks=[_Interrupt(layer, 2)]).fit(X, checkpoint=path)
    resumed = make().fit(X, checkpoint=path, resume=True)
    rbms = ([reference.rbm_], [resumed.rbm_]) if layer is None else \
        (reference.rbms_, resumed.rbms_)
    for a, b in zip(*rbms, strict=True):
        for name, value in a.state_dict().items():
            assert torch.equal(b.state_dict()[name], value), name


def test_the_objective_state_round_trip_continues_exactly():
    X = (torch.rand(12, 5, generator=torch.Generator().manual_seed(0)) < 0.5).float()

    def objective():
        rbm = RBMModule(5, 3)
        rbm.reset_parameters(torch.Generator().manual_seed(0))
        return RBMObjective(rbm, make_rule("pcd"), centering=0.3)

    first, second = objective(), objective()
    g = torch.Generator().manual_seed(1)
    first.gradients_((X,), g)
    state = first.state_dict()
    assert set(state["centering"]) == {"visible_offset", "hidden_offset"}
    second.load_state_dict(state)
    assert second.centering.visible_offset is not first.centering.visible_offset  # a copy
    for obj in (first, second):
        obj.gradients_((X[:6],), torch.Generator().manual_seed(2))
    for p, q in zip(first.module.parameters(), second.module.parameters(), strict=True):
        assert torch.equal(p.grad, q.grad)
    assert torch.equal(first.centering.hidden_offset, second.centering.hidden_offset)


def test_without_centring_the_objective_state_is_as_before():
    """No 'centering' entry: checkpoints of uncentred runs keep their layout."""
    objective = RBMObjective(RBMModule(3, 2), make_rule("cd"))
    assert objective.centering is None and set(objective.state_dict()) == {"rule", "q"}


# -- the estimators -----------------------------------------------------------------------------
def test_off_by_default_and_on_changes_the_weights(digits):
    X = digits[0]
    params = {"n_components": 8, "n_iter": 2, "device": "cpu", "random_state": 0}
    default = RBM(**params).fit(X)
    off = RBM(**params, centering=False).fit(X)
    on = RBM(**params, centering=True).fit(X)
    assert RBM().centering is False
    assert torch.equal(default.rbm_.weight, off.rbm_.weight)
    assert not torch.equal(default.rbm_.weight, on.rbm_.weight)


def test_a_centred_model_is_saved_and_scored_as_an_ordinary_rbm(digits, tmp_path):
    """Same tensors in the file, and free energies, AIS and sampling work unchanged."""
    X = digits[0]
    params = {"n_components": 8, "n_iter": 2, "device": "cpu", "random_state": 0}
    on = RBM(**params, centering=True).fit(X)
    off = RBM(**params).fit(X)
    path_on, path_off = on.save(tmp_path / "on.dbm"), off.save(tmp_path / "off.dbm")
    assert load_file(path_on)[1].keys() == load_file(path_off)[1].keys()
    assert describe(path_on)["config"].keys() == describe(path_off)["config"].keys()
    again = load(path_on)
    np.testing.assert_array_equal(again.score_samples(X), on.score_samples(X))
    assert again.sample(3, random_state=0).shape == (3, X.shape[1])


@pytest.mark.parametrize("cls", [DBNTransformer, DBNClassifier, DBNRegressor, DBNAutoencoder,
                                 GenerativeDBN])
def test_dbn_pretraining_centres_every_rbm_layer(cls):
    layer_type = {"layer_type": ("rbm", "autoencoder")} if cls is DBNAutoencoder else {}
    model = cls(hidden_layer_sizes=(8, 4), pretrain_centering=0.05, **layer_type)
    configs = (model._layer_configs("bernoulli") if cls is DBNAutoencoder
               else model._rbm_configs())
    rbm_configs = [c for c in configs if isinstance(c, RBMConfig)]
    assert rbm_configs and all(c.centering == 0.05 for c in rbm_configs)
    assert len(rbm_configs) == (1 if layer_type else 2)  # autoencoder layers as they were
    layer = RBMModule(3, 2)
    assert rbm_configs[0].objective(layer).centering.sliding == 0.05
    assert cls(hidden_layer_sizes=(8, 4))._get_param_names().count("pretrain_centering") == 1


def test_a_centred_dbn_trains(digits):
    params = {"hidden_layer_sizes": (16, 8), "pretrain_epochs": 2, "device": "cpu",
              "random_state": 0}
    model = DBNTransformer(**params, pretrain_centering=True).fit(digits[0])
    plain = DBNTransformer(**params).fit(digits[0])
    for centred, ordinary in zip(model.rbms_, plain.rbms_, strict=True):
        assert not torch.equal(centred.weight, ordinary.weight)


@pytest.mark.parametrize("value", [0.0, 1.5, -1, "yes"])
def test_a_sliding_factor_outside_0_1_is_refused(digits, value):
    with pytest.raises(InvalidParameterError, match="centering"):
        RBM(centering=value, n_iter=1, device="cpu").fit(digits[0])


def test_the_objective_refuses_bad_centring_with_advice_that_works():
    with pytest.raises(ValueError, match=r"0\.01 is the paper's choice") as error:
        make_centering(2.0)
    assert "(0, 1]" in str(error.value)
    assert make_centering(0.01).sliding == 0.01
    with pytest.raises(ValueError, match="'data' or 'average'"):
        Centering(offsets="model")
    shared = Centering(0.5)
    assert make_centering(shared) is not shared  # offsets are one run's state
    assert make_centering(np.bool_(True)).sliding == 0.01 and make_centering(None) is None


# -- learning ---------------------------------------------------------------------------------
def _mostly_on(seed: int, n: int = 300, d: int = 10) -> np.ndarray:
    """Four prototypes with most pixels on (data means far from 0.5), 5 % of bits flipped."""
    rng = np.random.default_rng(seed)
    prototypes = (rng.random((4, d)) < 0.85).astype(np.float32)
    X = prototypes[rng.integers(0, 4, n)]
    return np.abs(X - (rng.random(X.shape) < 0.05)).astype(np.float32)


def test_centring_learns_at_least_as_well_by_exact_log_likelihood():
    """A short PCD run on data far from 0.5, scored by exact log Z: centring is no worse."""
    scores = {False: [], True: []}
    for seed in range(3):
        X = _mostly_on(seed)
        for centering in scores:
            model = RBM(n_components=6, n_iter=5, batch_size=10, learning_rate=0.1,
                        centering=centering, device="cpu", random_state=seed).fit(X)
            scores[centering].append(
                log_likelihood(model, X, exact_log_partition(model)).mean())
    assert np.mean(scores[True]) >= np.mean(scores[False])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_centred_rbm_trains_in_cuda_graphs_and_resumes_on_cuda(digits, tmp_path):
    """The captured path updates the offsets in place; a checkpoint read from the file (on
    the CPU) puts them back on the GPU."""
    X = np.tile(digits[0], (10, 1))
    params = {"n_components": 32, "n_iter": 3, "batch_size": 20, "centering": True,
              "device": "cuda", "random_state": 0}
    model = RBM(**params).fit(X)
    offset = model._trainer.objective.centering.visible_offset
    assert offset.device.type == "cuda"
    torch.testing.assert_close(offset.cpu(), torch.as_tensor(X).mean(0), atol=0.1, rtol=0)
    before = offset.clone()
    model.partial_fit(X)
    assert model._trainer.objective.centering.visible_offset is offset
    assert not torch.equal(offset, before)
    path = tmp_path / "cuda.ckpt"
    with pytest.raises(KeyboardInterrupt):
        RBM(**params, callbacks=[_Interrupt(None, 2)]).fit(X, checkpoint=path)
    resumed = RBM(**params).fit(X, checkpoint=path, resume=True)
    assert resumed._trainer.objective.centering.visible_offset.device.type == "cuda"
    assert np.isfinite(resumed.score_samples(X[:50])).all()
