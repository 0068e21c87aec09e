"""Named recipes (``DBNClassifier.from_preset``) and the input dropout they use."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from deepbelief import DBNClassifier, load
from deepbelief.estimators import PRESETS, preset_params
from deepbelief.training.callbacks import LearningRateScheduler


def test_every_preset_builds_a_valid_classifier_whose_rate_decays_to_zero():
    for name in PRESETS:
        clf = DBNClassifier.from_preset(name)
        clf._validate_params()
        (schedule,) = clf.callbacks
        assert isinstance(schedule, LearningRateScheduler) and schedule.phase == "finetune"
        assert schedule.schedule(0) == clf.learning_rate_init
        assert schedule.schedule(clf.max_iter) == 0.0
        assert clone(clf).get_params()["max_iter"] == clf.max_iter


def test_preset_overrides_and_fresh_objects():
    a = DBNClassifier.from_preset("mnist", max_iter=3, random_state=1)
    b = DBNClassifier.from_preset("fashion")  # alias of 'fashion-mnist'
    assert a.max_iter == 3 and a.random_state == 1 and b.max_iter == PRESETS["mnist"][0]["max_iter"]
    assert a.callbacks[0] is not b.callbacks[0]
    preset_params("mnist")["dropout"] = 0.9  # a copy: the preset itself is unchanged
    assert PRESETS["mnist"][0]["dropout"] == 0.5


def test_unknown_preset_names_the_known_ones():
    with pytest.raises(ValueError, match="'fashion-mnist', 'mnist'"):
        DBNClassifier.from_preset("cifar10")


def test_input_dropout_trains_saves_and_loads(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.random((600, 12)).astype(np.float32)
    y = (X[:, 0] > 0.5).astype(int)
    params = dict(hidden_layer_sizes=(8,), pretrain_epochs=1, max_iter=20, solver="sgd",
                  learning_rate_init=0.05, hidden_units="relu", random_state=0,
                  device="cpu")
    with_drop = DBNClassifier(**params, input_dropout=0.3).fit(X, y)
    without = DBNClassifier(**params).fit(X, y)
    # the masks change the updates (same seed, same everything else)
    assert not np.allclose(with_drop.predict_proba(X), without.predict_proba(X))
    path = tmp_path / "m"
    with_drop.save(path)
    again = load(path)
    assert again.input_dropout == 0.3
    np.testing.assert_array_equal(again.predict_proba(X), with_drop.predict_proba(X))
