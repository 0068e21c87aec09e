"""CUDA graphs for the CD/PCD step (deepbelief.training.graphs), checked on the CPU.

On the CPU ``GraphedSteps(capture=False)`` runs the very steps a graph would record: the same
mini-batches, in groups, from a static index buffer. Put in place of the ordinary loop it must
train bit for bit the same weights, whatever the batch count, group size, learning rule or
schedule. The captured path itself is tested in tests/test_cuda.py on a GPU.
"""

from __future__ import annotations

import pytest
import torch

import deepbelief.training.loop as loop
from deepbelief import RBM, DBNTransformer
from deepbelief.core.rbm import RBMModule
from deepbelief.datasets import load_digits
from deepbelief.learning.contrastive import (
    ContrastiveDivergence,
    PersistentContrastiveDivergence,
    RBMObjective,
)
from deepbelief.training import graphs
from deepbelief.training.graphs import GraphedSteps, cuda_graphs_enabled, graphed_steps
from deepbelief.training.sources import ArraySource, TensorSource


@pytest.fixture(scope="module")
def digits():
    X, _ = load_digits()
    return X[:500]


def _emulate(monkeypatch, group: int, made: list) -> None:
    """Let fit_epochs use GraphedSteps without capture on the CPU."""
    def fake(objective, optimizer, source, batch_size, generator, closure_needed):
        if not getattr(objective, "graph_safe", False) or closure_needed:
            return None
        steps = GraphedSteps(objective, optimizer, source, batch_size, generator,
                             group=group, capture=False)
        made.append(steps)
        return steps
    monkeypatch.setattr(loop, "graphed_steps", fake)


@pytest.mark.parametrize("group", [1, 3, 16])
@pytest.mark.parametrize("kwargs", [
    {"method": "cd", "batch_size": 32},
    {"method": "pcd", "batch_size": 50},
    {"method": "cd", "k": 2, "batch_size": 7, "sample_inputs": True, "momentum": "classic"},
    {"method": "pcd", "batch_size": 20, "sparsity_target": 0.1, "sparsity_cost": 0.5,
     "learning_rate_schedule": "linear"},
])
def test_grouped_steps_train_the_same_weights_as_the_loop(digits, monkeypatch, group, kwargs):
    """The graph's bookkeeping (groups, warm-up, the last short batch) changes nothing."""
    params = {"n_components": 16, "n_iter": 6, "random_state": 3, **kwargs}
    plain = RBM(**params).fit(digits)
    made: list = []
    _emulate(monkeypatch, group, made)
    grouped = RBM(**params).fit(digits)
    assert made and made[0].steps_run == 6 * (len(digits) // kwargs["batch_size"])
    for name, value in plain.rbm_.state_dict().items():
        torch.testing.assert_close(grouped.rbm_.state_dict()[name], value, rtol=0, atol=0)
    assert [h["reconstruction_error"] for h in grouped.history_] == \
        [h["reconstruction_error"] for h in plain.history_]


def test_grouped_steps_in_every_layer_of_a_dbn(digits, monkeypatch):
    plain = DBNTransformer((24, 8), pretrain_epochs=3, random_state=0).fit(digits)
    made: list = []
    _emulate(monkeypatch, 4, made)
    grouped = DBNTransformer((24, 8), pretrain_epochs=3, random_state=0).fit(digits)
    assert len(made) == 2  # one per layer
    torch.testing.assert_close(torch.as_tensor(grouped.transform(digits)),
                               torch.as_tensor(plain.transform(digits)), rtol=0, atol=0)


def test_epoch_yields_only_the_short_last_batch():
    rbm = RBMModule(5, 3)
    objective = RBMObjective(rbm, ContrastiveDivergence())
    optimizer = torch.optim.SGD(rbm.parameters(), lr=0.1)
    source = TensorSource(torch.rand(23, 5).round())
    steps = GraphedSteps(objective, optimizer, source, 4, torch.Generator().manual_seed(0),
                         group=2, capture=False)
    rest = list(steps.epoch())
    assert steps.steps_run == 5 and len(rest) == 1 and rest[0][0].shape == (3, 5)
    assert list(steps.epoch()) and steps.steps_run == 10


def test_group_must_be_positive():
    rbm = RBMModule(5, 3)
    with pytest.raises(ValueError, match="group must be >= 1"):
        GraphedSteps(RBMObjective(rbm, ContrastiveDivergence()),
                     torch.optim.SGD(rbm.parameters(), lr=0.1),
                     TensorSource(torch.zeros(8, 5)), 4, None, group=0)


def _objective_and_sgd(**kwargs):
    rbm = RBMModule(6, 3, **kwargs)
    return (RBMObjective(rbm, PersistentContrastiveDivergence()),
            torch.optim.SGD(rbm.parameters(), lr=0.1))


def test_no_graphs_where_they_cannot_apply(monkeypatch):
    objective, sgd = _objective_and_sgd()
    data = torch.zeros(64, 6)
    # the CPU
    assert graphed_steps(objective, sgd, TensorSource(data), 8, None, False) is None

    class FakeCuda(TensorSource):
        device = torch.device("cuda")

    cuda = FakeCuda(data)
    cuda.device = torch.device("cuda")
    assert isinstance(graphed_steps(objective, sgd, cuda, 8, None, False), GraphedSteps)
    assert graphed_steps(objective, sgd, cuda, 8, None, True) is None          # closure
    assert graphed_steps(objective, sgd, cuda, 32, None, False) is None        # 2 batches
    adam = torch.optim.Adam(objective.module.parameters())
    assert graphed_steps(objective, adam, cuda, 8, None, False) is None        # not capturable
    adam = torch.optim.Adam(objective.module.parameters(), capturable=True)
    assert graphed_steps(objective, adam, cuda, 8, None, False) is not None
    host = ArraySource(data.numpy())
    host.device = torch.device("cuda")
    assert graphed_steps(objective, sgd, host, 8, None, False) is None         # not resident
    conditional, sgd2 = _objective_and_sgd(n_context=2)
    assert not conditional.graph_safe
    assert graphed_steps(conditional, sgd2, cuda, 8, None, False) is None
    monkeypatch.setenv("DEEPBELIEF_CUDA_GRAPHS", "0")
    assert not cuda_graphs_enabled()
    assert graphed_steps(objective, sgd, cuda, 8, None, False) is None


@pytest.mark.parametrize("value, enabled", [("1", True), ("off", False), ("False", False),
                                            ("no", False), ("yes", True)])
def test_environment_switch(monkeypatch, value, enabled):
    monkeypatch.setenv("DEEPBELIEF_CUDA_GRAPHS", value)
    assert cuda_graphs_enabled() is enabled


def test_hyper_parameter_key_sees_schedule_changes():
    _, sgd = _objective_and_sgd()
    before = graphs._hyper_parameters(sgd)
    sgd.param_groups[0]["lr"] = 0.05
    assert graphs._hyper_parameters(sgd) != before


def test_persistent_chains_are_updated_in_place():
    """A graph replays into the tensors it recorded: PCD must not rebind its chains."""
    rbm = RBMModule(6, 3)
    rule = PersistentContrastiveDivergence()
    v = torch.rand(4, 6).round()
    g = torch.Generator().manual_seed(0)
    rule.negative_phase(rbm, v, torch.zeros(4, 3), g)
    chains = rule.chains
    before = chains.clone()
    rule.negative_phase(rbm, v, torch.zeros(4, 3), g)
    assert rule.chains is chains and not torch.equal(chains, before)
