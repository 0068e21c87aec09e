"""The shared training loop: determinism, history, schedules, optimizers, callbacks,
divergence and continuation."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from deepbelief.core.rbm import RBMModule
from deepbelief.exceptions import DivergenceError
from deepbelief.learning.contrastive import RBMObjective, make_rule
from deepbelief.training.greedy import LayerTrainer, RBMConfig, pretrain_stack
from deepbelief.training.loop import (
    EpochSchedule,
    LoopState,
    fit_epochs,
    learning_rate_schedule,
    make_optimizer,
    momentum_schedule,
)

torch.set_num_threads(1)

PATTERNS = torch.tensor([[1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0],
                         [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0]])
DATA = PATTERNS.repeat(16, 1)  # 32 samples of two binary patterns


def _rbm_setup(init_seed=0, method="cd", lr=0.1, momentum=0.5):
    rbm = RBMModule(8, 4)
    rbm.reset_parameters(torch.Generator().manual_seed(init_seed), data_mean=DATA.mean(0))
    objective = RBMObjective(rbm, make_rule(method))
    optimizer = make_optimizer(rbm, "sgd", lr, momentum=momentum)
    return rbm, objective, optimizer


def _train(seed, epochs=5, **kw):
    rbm, objective, optimizer = _rbm_setup(**kw)
    state = fit_epochs(objective, (DATA,), optimizer, epochs=epochs, batch_size=8,
                       generator=torch.Generator().manual_seed(seed))
    return rbm, state


class _Recorder:
    """A trivial objective that records what the loop hands it."""

    def __init__(self, module=None, loss=None, nan_from_call=None, optimizer_ref=None):
        self.module = module if module is not None else nn.Linear(2, 1)
        for p in self.module.parameters():
            p.grad = torch.zeros_like(p)
        self.loss = loss
        self.nan_from_call = nan_from_call
        self.calls = 0
        self.batches: list[tuple] = []
        self.lrs: list[float] = []
        self.optimizer: torch.optim.Optimizer | None = optimizer_ref

    def gradients_(self, batch, generator):
        self.calls += 1
        self.batches.append(batch)
        if self.optimizer is not None:
            self.lrs.append(self.optimizer.param_groups[0]["lr"])
        for p in self.module.parameters():
            p.grad.fill_(0.0)
            if self.nan_from_call is not None and self.calls >= self.nan_from_call:
                p.grad.fill_(float("nan"))
        return self.loss


# -- determinism ---------------------------------------------------------------------------


def test_same_seed_gives_identical_parameters():
    a, state_a = _train(seed=1)
    b, state_b = _train(seed=1)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q)
    assert [r["reconstruction_error"] for r in state_a.history] == [
        r["reconstruction_error"] for r in state_b.history]


@pytest.mark.parametrize("method", ["cd", "pcd"])
def test_different_seeds_give_different_parameters(method):
    a, _ = _train(seed=1, method=method)
    b, _ = _train(seed=2, method=method)
    assert not torch.equal(a.weight, b.weight)


# -- history ---------------------------------------------------------------------------------


def test_history_records_and_reconstruction_error_decreases():
    _, state = _train(seed=3, epochs=30, lr=0.1, momentum=0.5)
    assert state.epoch == 30 and len(state.history) == 30
    assert [r["epoch"] for r in state.history] == list(range(1, 31))
    for record in state.history:
        assert set(record) == {"epoch", "reconstruction_error", "time"}
        assert isinstance(record["reconstruction_error"], float) and record["time"] >= 0
    errors = [r["reconstruction_error"] for r in state.history]
    assert errors[-1] < 0.3 * errors[0]
    assert errors[-1] < errors[len(errors) // 2] < errors[0]


def test_loss_is_the_sample_weighted_mean_of_batch_losses():
    # 10 samples, batch 4: batches of 4, 4, 2 with losses 1, 1, 4 -> (4 + 4 + 8) / 10
    class Objective(_Recorder):
        def gradients_(self, batch, generator):
            super().gradients_(batch, generator)
            return torch.tensor(4.0 if batch[0].shape[0] == 2 else 1.0)

    objective = Objective()
    optimizer = torch.optim.SGD(objective.module.parameters(), lr=0.1)
    state = fit_epochs(objective, (torch.zeros(10, 2),), optimizer, epochs=1, batch_size=4,
                       generator=torch.Generator().manual_seed(0))
    assert state.history[0]["loss"] == pytest.approx(1.6)


def test_batches_are_a_seeded_permutation_covering_the_data_once_per_epoch():
    x = torch.arange(10.0).reshape(10, 1).expand(10, 2).contiguous()
    y = torch.arange(10)
    orders = []
    for _ in range(2):
        objective = _Recorder()
        optimizer = torch.optim.SGD(objective.module.parameters(), lr=0.1)
        fit_epochs(objective, (x, y), optimizer, epochs=2, batch_size=3,
                   generator=torch.Generator().manual_seed(4))
        assert [b[0].shape[0] for b in objective.batches] == [3, 3, 3, 1] * 2
        for bx, by in objective.batches:
            assert torch.equal(bx[:, 0].long(), by)  # rows stay aligned across tensors
        order = torch.cat([b[1] for b in objective.batches])
        assert sorted(order[:10].tolist()) == list(range(10))
        assert sorted(order[10:].tolist()) == list(range(10))
        assert not torch.equal(order[:10], order[10:])  # reshuffled each epoch
        orders.append(order)
    assert torch.equal(orders[0], orders[1])


def test_monitor_sees_only_the_leading_monitor_size_samples():
    class Objective(_Recorder):
        def monitor(self, data, generator):
            self.monitored = data
            return {"n": torch.tensor(float(data[0].shape[0]))}

    objective = Objective()
    x = torch.arange(20.0).reshape(10, 2)
    state = fit_epochs(objective, (x,), torch.optim.SGD(objective.module.parameters(), lr=0.1),
                       epochs=1, batch_size=5, generator=None, monitor_size=3)
    assert state.history[0]["n"] == 3.0
    assert torch.equal(objective.monitored[0], x[:3])


def test_progress_object_is_updated_every_epoch():
    class Progress:
        def __init__(self):
            self.updates, self.postfixes = [], []

        def update(self, n):
            self.updates.append(n)

        def set_postfix(self, values):
            self.postfixes.append(values)

    progress = Progress()
    _, objective, optimizer = _rbm_setup()
    fit_epochs(objective, (DATA,), optimizer, epochs=3, batch_size=8,
               generator=torch.Generator().manual_seed(0), progress=progress)
    assert progress.updates == [1, 1, 1]
    assert all(set(p) == {"reconstruction_error"} for p in progress.postfixes)


# -- schedules ------------------------------------------------------------------------------


def test_momentum_schedule_values():
    classic = momentum_schedule("classic")
    assert [classic(e) for e in range(8)] == [0.5] * 5 + [0.9] * 3
    assert momentum_schedule(0.7)(0) == 0.7 and momentum_schedule("0.3")(100) == 0.3


def test_learning_rate_schedule_values():
    assert [learning_rate_schedule(0.2, "constant", 4)(e) for e in range(4)] == [0.2] * 4
    linear = learning_rate_schedule(0.2, "linear", 4)
    assert [linear(e) for e in range(4)] == pytest.approx([0.2, 0.15, 0.1, 0.05])
    assert linear(4) == pytest.approx(0.0)
    inverse = learning_rate_schedule(0.2, "inverse", 4)
    assert [inverse(e) for e in range(4)] == pytest.approx([0.2, 0.1, 0.2 / 3, 0.05])
    with pytest.raises(ValueError, match="cosine"):
        learning_rate_schedule(0.2, "cosine", 4)


def test_linear_schedule_never_goes_negative():
    linear = learning_rate_schedule(0.2, "linear", 4)
    assert all(linear(e) >= 0.0 for e in range(12))


def test_epoch_schedule_sets_lr_and_momentum_before_each_epoch():
    _, objective, optimizer = _rbm_setup(momentum=0.0)
    seen = []

    def record(epoch, _record):
        seen.append([(g["lr"], g["momentum"]) for g in optimizer.param_groups])

    schedule = EpochSchedule(learning_rate_schedule(0.1, "linear", 7), momentum_schedule("classic"))
    fit_epochs(objective, (DATA,), optimizer, epochs=7, batch_size=8,
               generator=torch.Generator().manual_seed(0), schedule=schedule, callbacks=[record])
    assert len(seen) == 7
    for epoch, groups in enumerate(seen):
        expect = (pytest.approx(0.1 * (1 - epoch / 7)), 0.5 if epoch < 5 else 0.9)
        assert groups == [expect, expect]


def test_epoch_schedule_is_applied_before_the_steps_of_the_epoch():
    module = nn.Linear(2, 1)
    optimizer = torch.optim.SGD(module.parameters(), lr=99.0)
    objective = _Recorder(module, optimizer_ref=optimizer)
    fit_epochs(objective, (torch.zeros(4, 2),), optimizer, epochs=3, batch_size=2,
               generator=None, schedule=EpochSchedule(lambda e: 10.0 ** -e))
    assert objective.lrs == [1.0, 1.0, 0.1, 0.1, 0.01, 0.01]


def test_epoch_schedule_skips_momentum_for_optimizers_without_it():
    module = nn.Linear(2, 1)
    optimizer = make_optimizer(module, "adam", 0.01)
    EpochSchedule(lambda e: 0.5, momentum_schedule("classic")).apply(optimizer, 3)
    assert all(g["lr"] == 0.5 and "momentum" not in g for g in optimizer.param_groups)


# -- optimizers ------------------------------------------------------------------------------


def test_make_optimizer_decays_matrices_only():
    rbm = RBMModule(3, 2)
    optimizer = make_optimizer(rbm, "sgd", 0.5, momentum=0.9, weight_decay=0.1)
    assert isinstance(optimizer, torch.optim.SGD)
    decay, no_decay = optimizer.param_groups
    assert [p is rbm.weight for p in decay["params"]] == [True]
    assert {id(p) for p in no_decay["params"]} == {id(rbm.visible_bias), id(rbm.hidden_bias)}
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert decay["momentum"] == 0.9 and decay["lr"] == 0.5
    # one step with zero gradients: only the weights shrink, by lr * weight_decay
    with torch.no_grad():
        for p in rbm.parameters():
            p.fill_(1.0)
            p.grad = torch.zeros_like(p)
    optimizer.step()
    assert torch.allclose(rbm.weight, torch.full((3, 2), 0.95))
    assert torch.equal(rbm.visible_bias, torch.ones(3))
    assert torch.equal(rbm.hidden_bias, torch.ones(2))


def test_make_optimizer_adam_callable_and_bad_names():
    module = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    adam = make_optimizer(module, "adam", 0.01, weight_decay=0.2)
    assert isinstance(adam, torch.optim.Adam)
    assert [len(g["params"]) for g in adam.param_groups] == [2, 2]
    assert [g["weight_decay"] for g in adam.param_groups] == [0.2, 0.0]
    received = {}

    def factory(groups, lr):
        received["groups"], received["lr"] = groups, lr
        return torch.optim.RMSprop(groups, lr=lr)

    custom = make_optimizer(module, factory, 0.03, weight_decay=0.2)
    assert isinstance(custom, torch.optim.RMSprop) and received["lr"] == 0.03
    assert [g["weight_decay"] for g in received["groups"]] == [0.2, 0.0]
    with pytest.raises(ValueError, match="bad"):
        make_optimizer(module, "bad", 0.1)


# -- callbacks -------------------------------------------------------------------------------


def test_callback_returning_true_stops_training():
    _, objective, optimizer = _rbm_setup()
    calls = []

    def stop_at_third(epoch, record):
        calls.append((epoch, record["epoch"]))
        return epoch == 3

    state = fit_epochs(objective, (DATA,), optimizer, epochs=10, batch_size=8,
                       generator=torch.Generator().manual_seed(0),
                       callbacks=[stop_at_third, lambda e, r: None])
    assert calls == [(1, 1), (2, 2), (3, 3)]
    assert state.epoch == 3 and len(state.history) == 3


def test_callbacks_returning_false_or_none_do_not_stop():
    _, objective, optimizer = _rbm_setup()
    state = fit_epochs(objective, (DATA,), optimizer, epochs=4, batch_size=8,
                       generator=torch.Generator().manual_seed(0),
                       callbacks=[lambda e, r: False, lambda e, r: None])
    assert state.epoch == 4


# -- divergence ------------------------------------------------------------------------------


def test_nan_gradients_raise_divergence_error_naming_epoch_and_learning_rate():
    # 4 samples, batch 2: the fifth call is the first batch of the third epoch
    objective = _Recorder(nan_from_call=5)
    optimizer = torch.optim.SGD(objective.module.parameters(), lr=0.1)
    state = LoopState()
    with pytest.raises(DivergenceError) as info:
        fit_epochs(objective, (torch.zeros(4, 2),), optimizer, epochs=5, batch_size=2,
                   generator=None, state=state, name="my layer")
    message = str(info.value)
    assert "epoch 3" in message and "learning rate" in message and "my layer" in message
    assert "weight" in message
    assert isinstance(info.value, FloatingPointError)
    assert len(state.history) == 2 and state.epoch == 2  # the diverged epoch isn't recorded


def test_nan_loss_raises_divergence_error():
    objective = _Recorder(loss=torch.tensor(float("nan")))
    optimizer = torch.optim.SGD(objective.module.parameters(), lr=0.1)
    with pytest.raises(DivergenceError, match=r"epoch 1.*the loss"):
        fit_epochs(objective, (torch.zeros(4, 2),), optimizer, epochs=2, batch_size=2,
                   generator=None)


def test_giant_learning_rate_diverges():
    rbm = RBMModule(4, 3, visible="gaussian", hidden="relu")
    g = torch.Generator().manual_seed(0)
    rbm.reset_parameters(g)
    optimizer = make_optimizer(rbm, "sgd", 1e30)
    x = torch.tensor([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]]).repeat(8, 1)
    with pytest.raises(DivergenceError, match="learning rate"):
        fit_epochs(RBMObjective(rbm, make_rule("cd")), (x,), optimizer, epochs=5,
                   batch_size=4, generator=g)


def test_dead_layer_raises_divergence_error():
    rbm = RBMModule(8, 3)
    with torch.no_grad():
        rbm.hidden_bias.fill_(60.0)  # every hidden mean saturates at exactly 1 for every input
    optimizer = make_optimizer(rbm, "sgd", 0.0)
    with pytest.raises(DivergenceError, match="dead"):
        fit_epochs(RBMObjective(rbm, make_rule("cd")), (DATA,), optimizer, epochs=2,
                   batch_size=8, generator=torch.Generator().manual_seed(0))


def test_divergence_epoch_counts_from_the_continued_state():
    objective = _Recorder(nan_from_call=1)
    optimizer = torch.optim.SGD(objective.module.parameters(), lr=0.1)
    with pytest.raises(DivergenceError, match="epoch 8"):
        fit_epochs(objective, (torch.zeros(4, 2),), optimizer, epochs=1, batch_size=4,
                   generator=None, state=LoopState(epoch=7))


# -- continuation ----------------------------------------------------------------------------


def test_continuing_from_a_loop_state_equals_one_longer_run():
    schedule = EpochSchedule(learning_rate_schedule(0.1, "inverse", 5),
                             momentum_schedule("classic"))
    rbm_a, objective_a, optimizer_a = _rbm_setup(momentum=0.0)
    g = torch.Generator().manual_seed(8)
    state = fit_epochs(objective_a, (DATA,), optimizer_a, epochs=3, batch_size=8, generator=g,
                       schedule=schedule)
    same = fit_epochs(objective_a, (DATA,), optimizer_a, epochs=3, batch_size=8, generator=g,
                      schedule=schedule, state=state)
    assert same is state
    assert state.epoch == 6 and [r["epoch"] for r in state.history] == [1, 2, 3, 4, 5, 6]

    rbm_b, objective_b, optimizer_b = _rbm_setup(momentum=0.0)
    whole = fit_epochs(objective_b, (DATA,), optimizer_b, epochs=6, batch_size=8,
                       generator=torch.Generator().manual_seed(8), schedule=schedule)
    for p, q in zip(rbm_a.parameters(), rbm_b.parameters(), strict=True):
        assert torch.equal(p, q)
    assert [r["reconstruction_error"] for r in whole.history] == [
        r["reconstruction_error"] for r in state.history]


def test_rbm_trainer_keeps_its_state_across_runs():
    config = RBMConfig(n_hidden=3, epochs=4, batch_size=8, momentum="classic")
    rbm = RBMModule(8, 3)
    rbm.reset_parameters(torch.Generator().manual_seed(0))
    trainer = LayerTrainer(rbm, config, torch.Generator().manual_seed(1))
    trainer.run(DATA, epochs=2)
    trainer.run(DATA)
    assert trainer.state.epoch == 6
    assert [r["epoch"] for r in trainer.state.history] == [1, 2, 3, 4, 5, 6]
    assert trainer.optimizer.param_groups[0]["momentum"] == 0.9  # epoch 5 (0-based)
    assert trainer.optimizer.param_groups[0]["weight_decay"] == config.weight_decay
    assert trainer.optimizer.param_groups[1]["weight_decay"] == 0.0


def test_pretrain_stack_chains_unit_types_and_histories():
    configs = [RBMConfig(n_hidden=5, hidden_units="relu", epochs=2, batch_size=8,
                         learning_rate=0.01),
               RBMConfig(n_hidden=3, visible_units="bernoulli", epochs=3, batch_size=8,
                         learning_rate=0.01)]
    rbms, histories = pretrain_stack(DATA, configs, torch.Generator().manual_seed(0))
    assert [(r.n_visible, r.n_hidden) for r in rbms] == [(8, 5), (5, 3)]
    assert rbms[1].visible.name == "relu"  # the layer below's hidden type, not the config's
    assert [len(h) for h in histories] == [2, 3]
