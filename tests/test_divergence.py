"""Training never returns a broken model silently: NaN and dead layers stop it clearly."""

import numpy as np
import pytest
import torch

from deepbelief import DivergenceError
from deepbelief.core.rbm import RBMModule
from deepbelief.learning.contrastive import ContrastiveDivergence, RBMObjective
from deepbelief.training.loop import fit_epochs

torch.set_num_threads(1)


def _data(n=64, d=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand((n, d), generator=g) < 0.5).float()


def test_dead_layer_is_reported_with_layer_epoch_and_advice():
    rbm = RBMModule(6, 4, "bernoulli", "relu")
    with torch.no_grad():
        rbm.hidden_bias.fill_(-1e6)  # every ReLU unit outputs 0 for every input
    objective = RBMObjective(rbm, ContrastiveDivergence(1))
    optimizer = torch.optim.SGD(rbm.parameters(), lr=1e-9)
    with pytest.raises(DivergenceError, match=r"layer 2 \(RBM\) diverged at epoch 1: .*dead.*"
                                              r"smaller learning rate"):
        fit_epochs(objective, (_data(),), optimizer, epochs=3, batch_size=16,
                   generator=torch.Generator().manual_seed(0), name="layer 2 (RBM)")


def test_healthy_layer_and_constant_inputs_are_not_flagged():
    rbm = RBMModule(6, 4)
    rbm.reset_parameters(torch.Generator().manual_seed(0), std=0.1)
    objective = RBMObjective(rbm, ContrastiveDivergence(1))
    assert objective.failure((_data(),)) is None
    same = torch.ones((8, 6))  # identical inputs: a constant output is expected, not a failure
    with torch.no_grad():
        rbm.hidden_bias.fill_(-1e6)
    assert objective.failure((same,)) is None
    assert "dead" in objective.failure((_data(),))


def test_nan_parameters_stop_training():
    rbm = RBMModule(6, 4)
    objective = RBMObjective(rbm, ContrastiveDivergence(1))
    optimizer = torch.optim.SGD(rbm.parameters(), lr=0.1)
    with torch.no_grad():
        rbm.weight[0, 0] = float("nan")
    message = r"parameters \[.*'weight'.*\] became NaN or infinite"
    with pytest.raises(DivergenceError, match=message):
        fit_epochs(objective, (_data(),), optimizer, epochs=1, batch_size=16,
                   generator=torch.Generator().manual_seed(0))


def test_estimator_with_absurd_learning_rate_raises_instead_of_returning_nan():
    from deepbelief import DBNClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 8)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    clf = DBNClassifier((16,), visible_units="gaussian", hidden_units="relu",
                        pretrain_learning_rate=1e4, pretrain_epochs=5, max_iter=2,
                        random_state=0, device="cpu")
    with pytest.raises(DivergenceError, match=r"layer 1 .*diverged"):
        clf.fit(X, y)
    assert not hasattr(clf, "network_")
