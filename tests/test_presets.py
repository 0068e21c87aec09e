"""Named recipes (``DBNClassifier.from_preset``) and the input dropout they use."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from deepbelief import DBNClassifier, load
from deepbelief.estimators import PRESETS, preset_params
from deepbelief.training.callbacks import Callback, LearningRateScheduler
from deepbelief.training.hooks import context_info


def test_every_preset_builds_a_valid_classifier_whose_rate_decays_to_zero():
    for name in PRESETS:
        clf = DBNClassifier.from_preset(name)
        clf._validate_params()
        (schedule,) = clf.callbacks
        assert isinstance(schedule, LearningRateScheduler) and schedule.phase == "finetune"
        assert schedule.schedule == "linear"
        assert clone(clf).get_params()["max_iter"] == clf.max_iter


SMALL = dict(hidden_layer_sizes=(8,), pretrain_epochs=1, early_stopping=False,
             random_state=0, device="cpu")


def _xy():
    rng = np.random.default_rng(0)
    X = rng.random((200, 12)).astype(np.float32)
    return X, (X[:, 0] > 0.5).astype(int)


def test_overriding_the_rate_or_the_epochs_moves_the_preset_schedule():
    """Field report: the schedule was built from the preset's 0.05 and 640 epochs, so
    from_preset("mnist", max_iter=5, learning_rate_init=0.2) fine-tuned at 0.05 -> 0.0497."""
    X, y = _xy()
    clf = DBNClassifier.from_preset("mnist", max_iter=4, learning_rate_init=0.2, **SMALL)
    clf.fit(X, y)
    assert clf.callbacks_[0].learning_rates_ == pytest.approx([0.2, 0.15, 0.1, 0.05])
    again = clone(clf).set_params(max_iter=2, learning_rate_init=0.1).fit(X, y)
    assert again.callbacks_[0].learning_rates_ == pytest.approx([0.1, 0.05])


def test_a_resumed_preset_fit_keeps_the_rate_it_started_from(tmp_path):
    """The optimizer of a resumed phase holds the last epoch's rate, not the first: the
    schedule's start comes back from the checkpoint, and the rates equal a whole run's."""
    X, y = _xy()
    whole = DBNClassifier.from_preset("mnist", max_iter=4, **SMALL).fit(X, y)

    class Interrupt(Callback):
        def on_epoch_end(self, context):
            if context_info(context, "phase") == "finetune" and context.epoch == 2:
                raise KeyboardInterrupt

    path = tmp_path / "run.ckpt"
    first = DBNClassifier.from_preset("mnist", max_iter=4, **SMALL)
    first.set_params(callbacks=[*first.callbacks, Interrupt()])
    with pytest.raises(KeyboardInterrupt):
        first.fit(X, y, checkpoint=path)
    resumed = DBNClassifier.from_preset("mnist", max_iter=4, **SMALL)
    resumed.fit(X, y, checkpoint=path, resume=True)
    assert resumed.callbacks_[0].learning_rates_ == whole.callbacks_[0].learning_rates_
    assert whole.callbacks_[0].learning_rates_ == pytest.approx([0.05, 0.0375, 0.025, 0.0125])


def test_preset_overrides_and_fresh_objects():
    a = DBNClassifier.from_preset("mnist", max_iter=3, random_state=1)
    b = DBNClassifier.from_preset("fashion")  # alias of 'fashion-mnist'
    assert a.max_iter == 3 and a.random_state == 1 and b.max_iter == PRESETS["mnist"][0]["max_iter"]
    assert a.callbacks[0] is not b.callbacks[0]
    preset_params("mnist")["dropout"] = 0.9  # a copy: the preset itself is unchanged
    assert PRESETS["mnist"][0]["dropout"] == 0.5
    # Fashion-MNIST is the MNIST recipe with less pixel dropout (BENCHMARKS.md)
    assert b.input_dropout == 0.1 and a.input_dropout == 0.2
    assert {k: v for k, v in PRESETS["fashion-mnist"][0].items() if k != "input_dropout"} == {
        k: v for k, v in PRESETS["mnist"][0].items() if k != "input_dropout"}


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
