"""The fit plan: one learning-rate mechanism, ``DBNTransformer.partial_fit`` through the
same plan as ``fit``, and phase declarations."""

from __future__ import annotations

from typing import ClassVar

import pytest
import torch

from deepbelief import RBM, DBNTransformer
from deepbelief.callbacks import LearningRateScheduler
from deepbelief.core.stack import up_pass
from deepbelief.datasets import load_digits
from deepbelief.training.greedy import LayerTrainer, new_rbm
from deepbelief.training.plan import FitPlan, StackPhase

torch.set_num_threads(1)

X, _ = load_digits()
X = X[:200]
_DBN = {"pretrain_method": "pcd", "device": "cpu", "random_state": 0}


class _RecordingSGD(torch.optim.SGD):
    """SGD that records the learning rate of every step it takes."""

    used: ClassVar[list[float]] = []

    def step(self, closure=None):
        _RecordingSGD.used.append(self.param_groups[0]["lr"])
        return super().step(closure)


def _recording_sgd(groups, learning_rate):
    return _RecordingSGD(groups, lr=learning_rate, momentum=0.5)


def test_a_user_scheduler_sets_the_rates_the_optimizer_uses():
    """The built-in schedule (linear decay) is a callback run first; a user's
    LearningRateScheduler runs after it, so its rates are those of every step."""
    batches = 4  # 200 samples, batch_size 50
    _RecordingSGD.used = []
    RBM(8, n_iter=3, batch_size=50, learning_rate_schedule="linear", optimizer=_recording_sgd,
        device="cpu", random_state=0).fit(X)
    assert _RecordingSGD.used == pytest.approx([0.1] * batches + [0.1 * 2 / 3] * batches
                                               + [0.1 / 3] * batches)
    _RecordingSGD.used = []
    rbm = RBM(8, n_iter=3, batch_size=50, learning_rate_schedule="linear",
              optimizer=_recording_sgd, device="cpu", random_state=0,
              callbacks=[LearningRateScheduler(lambda epoch: 0.01 * (epoch + 1))]).fit(X)
    assert _RecordingSGD.used == [0.01] * batches + [0.02] * batches + [0.03] * batches
    assert rbm.callbacks_[0].learning_rates_ == [0.01, 0.02, 0.03]


def test_partial_fit_of_one_layer_twice_equals_fit_for_two_epochs():
    """Same draws in the same order: initialisation, then each epoch's shuffle and Gibbs
    samples from the one generator, which partial_fit keeps between calls."""
    fitted = DBNTransformer((8,), pretrain_epochs=2, **_DBN).fit(X)
    partial = DBNTransformer((8,), **_DBN).partial_fit(X).partial_fit(X)
    for a, b in zip(fitted.rbms_[0].state_dict().values(),
                    partial.rbms_[0].state_dict().values(), strict=True):
        assert torch.equal(a, b)
    strip = [{k: v for k, v in r.items() if k != "time"} for r in partial.history_["pretrain"][0]]
    assert strip == [{k: v for k, v in r.items() if k != "time"}
                     for r in fitted.history_["pretrain"][0]]


def test_partial_fit_trains_every_layer_bottom_up_and_keeps_their_state():
    """Two calls on a 2-layer DBN equal training the layers' trainers by hand: layer 1 one
    epoch, layer 2 on its up-pass, twice, with optimizers and PCD chains kept."""
    dbn = DBNTransformer((8, 4), **_DBN)
    dbn.partial_fit(X)
    first = [t.optimizer for t in dbn._trainers]
    dbn.partial_fit(X)
    assert [t.optimizer for t in dbn._trainers] == first  # the same optimizers, continued
    assert [len(h) for h in dbn.history_["pretrain"]] == [2, 2]

    configs = DBNTransformer((8, 4), **_DBN)._rbm_configs()
    generator = torch.Generator().manual_seed(0)
    x, trainers = torch.as_tensor(X), []
    for _ in range(2):
        x_i = x
        for i, config in enumerate(configs):
            if len(trainers) == i:
                trainers.append(LayerTrainer(new_rbm(x_i.shape[1], config, x_i, generator),
                                           config, generator))
            trainers[i].run(x_i, 1)
            x_i = up_pass([trainers[i].layer], x_i)
    for rbm, trainer in zip(dbn.rbms_, trainers, strict=True):
        for a, b in zip(rbm.state_dict().values(), trainer.layer.state_dict().values(),
                        strict=True):
            assert torch.equal(a, b)


def test_partial_fit_after_fit_continues_and_checks_the_features():
    dbn = DBNTransformer((8, 4), pretrain_epochs=1, **_DBN).fit(X)
    optimizers = [t.optimizer for t in dbn._trainers]
    dbn.partial_fit(X[:50])
    assert [len(h) for h in dbn.history_["pretrain"]] == [2, 2]
    assert [t.optimizer for t in dbn._trainers] == optimizers
    with pytest.raises(ValueError, match="features"):
        dbn.partial_fit(X[:, :10])


def test_a_plan_refuses_an_unknown_phase_name():
    phase = StackPhase("warmup", "demo", [], torch.zeros(2, 2))
    with pytest.raises(ValueError, match="unknown phase name 'warmup'"):
        FitPlan([phase])
