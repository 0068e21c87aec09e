"""Callbacks: the protocol (plain functions and Callback objects), the context they see,
history records, early stopping, learning-rate schedules, progress bars and the
estimators' ``callbacks`` parameter."""

from __future__ import annotations

import io
import logging

import numpy as np
import pytest
import torch
from sklearn.base import clone

from deepbelief import RBM, DBNClassifier, DBNRegressor, DBNTransformer, DivergenceError, load
from deepbelief.callbacks import (
    Callback,
    EarlyStopping,
    FreeEnergyGap,
    LambdaCallback,
    LearningRateScheduler,
    ProgressBar,
)
from deepbelief.core.rbm import RBMModule
from deepbelief.datasets import load_digits
from deepbelief.learning.contrastive import RBMObjective, make_rule
from deepbelief.training.loop import TrainingContext, fit_epochs, make_optimizer

torch.set_num_threads(1)

X_DIGITS, Y_DIGITS = load_digits()
X, Y = X_DIGITS[:300], Y_DIGITS[:300]
SMALL = {"device": "cpu", "random_state": 0}


class Recorder(Callback):
    """Keeps what every hook saw."""

    def __init__(self):
        self.events = []

    def on_train_begin(self, context):
        self.events.append(("begin", context.phase, context.layer, context.n_layers,
                            len(context.lower_layers), type(context.module).__name__,
                            context.estimator, context.n_epochs, context.label))

    def on_epoch_begin(self, context):
        self.events.append(("epoch_begin", context.epoch, context.record))

    def on_epoch_end(self, context):
        assert context.record is context.history[-1]
        self.events.append(("epoch_end", context.epoch, context.record["epoch"]))

    def on_train_end(self, context):
        self.events.append(("end", context.error))


# -- the protocol ------------------------------------------------------------------------------


def test_context_tells_phase_layer_module_and_estimator():
    recorder = Recorder()
    clf = DBNClassifier((8, 4), pretrain_epochs=(1, 2), max_iter=2, callbacks=[recorder],
                        **SMALL).fit(X, Y)
    events = clf.callbacks_[0].events
    begins = [e for e in events if e[0] == "begin"]
    assert begins == [
        ("begin", "pretrain", 0, 2, 0, "RBMModule", clf, 1, "DBNClassifier pretraining"),
        ("begin", "pretrain", 1, 2, 1, "RBMModule", clf, 2, "DBNClassifier pretraining"),
        ("begin", "finetune", None, None, 0, "FeedForwardDBN", clf, 2,
         "DBNClassifier fine-tuning"),
    ]
    # hooks in order, epochs 0-based per phase, record None before the epoch ran
    assert events[:4] == [begins[0], ("epoch_begin", 0, None), ("epoch_end", 0, 1),
                          ("end", None)]
    assert [e for e in events if e[0] == "epoch_end"] == [
        ("epoch_end", 0, 1), ("epoch_end", 0, 1), ("epoch_end", 1, 2), ("epoch_end", 0, 1),
        ("epoch_end", 1, 2)]


def test_rbm_estimator_is_one_pretrain_phase_without_layer():
    recorder = Recorder()
    rbm = RBM(n_components=4, n_iter=2, callbacks=[recorder], **SMALL).fit(X)
    begin = rbm.callbacks_[0].events[0]
    assert begin[:5] == ("begin", "pretrain", None, None, 0) and begin[6] is rbm
    assert begin[8] == "RBM"


def test_plain_functions_get_the_1_based_epoch_of_the_record_and_can_stop():
    calls = []

    def stop_after_two(epoch, record):
        calls.append((epoch, record["epoch"], sorted(record)))
        return epoch == 2

    rbm = RBM(n_components=4, n_iter=10, callbacks=[stop_after_two], **SMALL).fit(X)
    assert rbm.n_iter_ == 2 and len(rbm.history_) == 2
    assert calls == [(1, 1, ["epoch", "reconstruction_error", "time"]),
                     (2, 2, ["epoch", "reconstruction_error", "time"])]
    assert rbm.callbacks_[0] is stop_after_two  # functions are not copied


def test_every_nth_epoch_callback_fires_at_epochs_n_2n_in_every_phase():
    """The README's ``epoch % 50 == 0`` printed at epochs 1, 51, 101: plain callbacks
    counted from 0 while records count from 1. Now both count from 1, in each phase."""
    fired = []

    def every_third(epoch, record):
        if epoch % 3 == 0:
            fired.append(record["epoch"])

    DBNClassifier((8,), pretrain_epochs=7, max_iter=6, callbacks=[every_third],
                  **SMALL).fit(X, Y)
    assert fired == [3, 6, 3, 6]  # pretraining epochs 3 and 6, fine-tuning epochs 3 and 6


def test_schedule_function_gets_epochs_trained_so_far_like_lambda_lr():
    """LearningRateScheduler(schedule) keeps torch's LambdaLR convention: 0 before the
    first epoch, so the rate recorded for epoch n is schedule(n - 1)."""
    seen = []
    RBM(n_components=4, n_iter=3, callbacks=[
        LearningRateScheduler(lambda epoch: seen.append(epoch) or 0.01)], **SMALL).fit(X)
    assert seen == [0, 1, 2]


def test_returning_true_stops_only_that_phase():
    stop_pretraining = LambdaCallback(on_epoch_end=lambda c: c.phase == "pretrain")
    clf = DBNClassifier((8, 4), pretrain_epochs=5, max_iter=3, callbacks=[stop_pretraining],
                        **SMALL).fit(X, Y)
    assert [len(h) for h in clf.history_["pretrain"]] == [1, 1]
    assert len(clf.history_["finetune"]) == 3


def test_callbacks_may_add_metrics_which_are_kept_as_floats(tmp_path):
    def add(epoch, record):
        record["double_epoch"] = torch.tensor(2.0 * record["epoch"])
        record["numpy"] = np.float32(0.5)

    dbn = DBNTransformer((8,), pretrain_epochs=2, callbacks=[add], **SMALL).fit(X)
    records = dbn.history_["pretrain"][0]
    assert [r["double_epoch"] for r in records] == [2.0, 4.0]
    assert all(type(r["double_epoch"]) is float and type(r["numpy"]) is float for r in records)
    loaded = load(dbn.save(tmp_path / "m.safetensors"))
    assert loaded.history_ == dbn.history_
    assert loaded.callbacks is None  # callbacks are code: never saved


def test_on_train_end_runs_when_training_fails():
    ended = []
    clf = DBNClassifier((8,), visible_units="gaussian", hidden_units="relu",
                        pretrain_learning_rate=1e6, pretrain_epochs=3, max_iter=2,
                        callbacks=[LambdaCallback(on_train_end=lambda c: ended.append(c.error))],
                        **SMALL)
    rng = np.random.default_rng(0)
    data = rng.standard_normal((100, 5)).astype(np.float32)
    with pytest.raises(DivergenceError):
        clf.fit(data, data[:, 0] > 0)
    assert len(ended) == 1 and isinstance(ended[0], DivergenceError)


def test_fit_epochs_accepts_callback_objects_and_initial_context():
    rbm = RBMModule(8, 3)
    rbm.reset_parameters(torch.Generator().manual_seed(0))
    data = (torch.rand(40, 8, generator=torch.Generator().manual_seed(1)) < 0.5).float()
    recorder = Recorder()
    state = fit_epochs(RBMObjective(rbm, make_rule("cd")), (data,),
                       make_optimizer(rbm, "sgd", 0.1), epochs=3, batch_size=10,
                       generator=torch.Generator().manual_seed(0),
                       callbacks=[recorder, lambda e, r: None],
                       context={"phase": "pretrain", "label": "mine", "layer": None,
                                "n_layers": None, "lower_layers": [], "estimator": None})
    assert len(state.history) == 3
    assert recorder.events[0][1] == "pretrain" and recorder.events[0][-1] == "mine"
    assert recorder.events[-1] == ("end", None)
    with pytest.raises(TypeError, match="not a callback"):
        fit_epochs(RBMObjective(rbm, make_rule("cd")), (data,), make_optimizer(rbm, "sgd", 0.1),
                   epochs=1, batch_size=10, generator=None, callbacks=[42])


def test_the_loop_context_has_no_estimator_vocabulary():
    """The loop knows the loop; where it stands (phase, layer, ...) is its caller's to
    tell, in ``where``, whose entries read as attributes."""
    module = torch.nn.Linear(2, 1)
    context = TrainingContext(module, torch.optim.SGD(module.parameters(), lr=0.1), (), 1, [])
    assert context.where == {} and context.error is None and context.epoch == 0
    with pytest.raises(AttributeError, match="phase"):
        _ = context.phase
    context.where["phase"] = "pretrain"
    assert context.phase == "pretrain"
    # the built-in callbacks work outside the estimators too
    data = (torch.rand(20, 8, generator=torch.Generator().manual_seed(1)) < 0.5).float()
    rbm = RBMModule(8, 3)
    stopper = EarlyStopping("reconstruction_error", patience=1, tol=1e9)
    lines = []
    state = fit_epochs(RBMObjective(rbm, make_rule("cd")), (data,),
                       make_optimizer(rbm, "sgd", 0.1), epochs=5, batch_size=10,
                       generator=torch.Generator().manual_seed(0),
                       callbacks=[stopper, ProgressBar(bar=False, sink=lines.append)])
    assert len(state.history) == 2 and stopper.stopped_epoch_ == 2
    assert lines[0].startswith("[layer] epoch 1")


def test_early_stopping_watches_the_updown_phase():
    """Every phase name is accepted, from the one list (GenerativeDBN runs 'updown')."""
    from deepbelief import GenerativeDBN
    from deepbelief.training.callbacks import PHASES

    assert PHASES == ("pretrain", "finetune", "updown")
    stopper = EarlyStopping("reconstruction_error", patience=1, tol=1e9, phase="updown")
    LearningRateScheduler(lambda e: 0.01, phase="updown")
    gen = GenerativeDBN((16, 32), pretrain_epochs=3, updown_epochs=6, callbacks=[stopper],
                        **SMALL).fit(X, Y)
    assert [len(h) for h in gen.history_["pretrain"]] == [3, 3]  # pretraining unwatched
    assert len(gen.history_["updown"]) == 2 and gen.callbacks_[0].stopped_epoch_ == 2


# -- the callbacks parameter -------------------------------------------------------------------


def test_callbacks_parameter_follows_sklearn_conventions():
    stopper = EarlyStopping("reconstruction_error", patience=1, tol=100.0)
    given = [stopper]
    rbm = RBM(n_components=4, n_iter=5, callbacks=given, **SMALL)
    assert rbm.get_params()["callbacks"] is given
    rbm.fit(X)
    assert rbm.callbacks is given and given == [stopper]
    assert not hasattr(stopper, "stopped_epoch_")  # the estimator used a copy
    assert rbm.callbacks_[0] is not stopper and rbm.callbacks_[0].stopped_epoch_ == 2
    copy = clone(rbm)
    assert copy.callbacks is not given and isinstance(copy.callbacks[0], EarlyStopping)
    assert copy.fit(X).n_iter_ == rbm.n_iter_


@pytest.mark.parametrize("bad", [[1], ["print"]])
def test_bad_callbacks_are_rejected(bad):
    with pytest.raises(ValueError, match="not a callback"):
        RBM(n_components=4, n_iter=1, callbacks=bad, **SMALL).fit(X)


def test_callbacks_must_be_a_list():
    with pytest.raises(ValueError, match="callbacks"):
        DBNTransformer((4,), pretrain_epochs=1, callbacks=print, **SMALL).fit(X)


def test_partial_fit_keeps_the_callbacks_state():
    seen = Recorder()
    rbm = RBM(n_components=4, callbacks=[seen], **SMALL)
    rbm.partial_fit(X)
    first = rbm.callbacks_[0]
    rbm.partial_fit(X)
    assert rbm.callbacks_[0] is first
    assert [e[1:] for e in first.events if e[0] == "epoch_end"] == [(0, 1), (1, 2)]


# -- early stopping ----------------------------------------------------------------------------


def test_early_stopping_callback_matches_the_estimators_own():
    own = DBNClassifier((16,), pretrain_epochs=1, max_iter=50, tol=10.0, n_iter_no_change=2,
                        **SMALL).fit(X, Y)
    assert own.n_iter_ == 3
    theirs = DBNClassifier((16,), pretrain_epochs=1, max_iter=50, n_iter_no_change=50,
                           callbacks=[EarlyStopping("loss", patience=2, tol=10.0)],
                           **SMALL).fit(X, Y)
    assert theirs.loss_curve_ == own.loss_curve_
    stopper = theirs.callbacks_[0]
    assert stopper.stopped_epoch_ == 3 and stopper.best_epoch_ == 3
    assert stopper.best_ == min(own.loss_curve_)


def test_early_stopping_restores_the_best_weights():
    snapshots = []

    def keep(epoch, record):
        record["index"] = epoch

    def snapshot(context):
        snapshots.append({k: v.clone() for k, v in context.module.state_dict().items()})

    stopper = EarlyStopping("noisy", mode="max", patience=3, restore_best=True)
    scores = iter([0.1, 0.5, 0.2, 0.3, 0.4, 0.45, 0.0, 0.0])

    def noisy(epoch, record):
        record["noisy"] = next(scores)

    rbm = RBM(n_components=4, n_iter=8, **SMALL,
              callbacks=[keep, noisy, stopper, LambdaCallback(on_epoch_end=snapshot)]).fit(X)
    assert rbm.n_iter_ == 5  # epoch 2 was the best; 3, 4 and 5 did not beat it
    best = snapshots[1]
    for name, value in rbm.rbm_.state_dict().items():
        assert torch.equal(value, best[name])
    assert not torch.equal(snapshots[-1]["weight"], best["weight"])


def test_early_stopping_ignores_phases_without_its_metric(caplog):
    clf = DBNClassifier((8,), pretrain_epochs=3, max_iter=4, **SMALL,
                        callbacks=[EarlyStopping("reconstruction_error", patience=1,
                                                 tol=1e9)])
    with caplog.at_level(logging.INFO, logger="deepbelief"):
        clf.fit(X, Y)
    assert len(clf.history_["pretrain"][0]) == 2 and clf.n_iter_ == 4
    assert "pretraining, layer 1 stopped after epoch 2" in caplog.text


@pytest.mark.parametrize("kwargs, match", [
    ({"mode": "best"}, "mode"), ({"patience": 0}, "patience"), ({"tol": -1.0}, "tol"),
    ({"phase": "warmup"}, "phase")])
def test_early_stopping_checks_its_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        EarlyStopping(**kwargs)


# -- learning-rate schedules -------------------------------------------------------------------


def _rates_seen(phase):
    rates = []
    return rates, LambdaCallback(on_epoch_begin=lambda c: rates.append(
        c.optimizer.param_groups[0]["lr"]) if c.phase == phase else None)


def test_learning_rate_function_sets_each_epochs_rate():
    rates, spy = _rates_seen("pretrain")
    rbm = RBM(n_components=4, n_iter=4, **SMALL,
              callbacks=[LearningRateScheduler(lambda epoch: 0.1 / (1 + epoch)), spy]).fit(X)
    assert rates == pytest.approx([0.1, 0.05, 0.1 / 3, 0.025])
    assert rbm.callbacks_[0].learning_rates_ == rates


def test_torch_scheduler_class_and_factory_for_fine_tuning_only():
    pre, spy_pre = _rates_seen("pretrain")
    fine, spy_fine = _rates_seen("finetune")
    step = LearningRateScheduler(scheduler=torch.optim.lr_scheduler.StepLR, step_size=2,
                                 gamma=0.1, phase="finetune")
    DBNClassifier((8,), pretrain_epochs=2, max_iter=5, solver="sgd", learning_rate_init=0.5,
                  pretrain_learning_rate=0.05, callbacks=[step, spy_pre, spy_fine],
                  **SMALL).fit(X, Y)
    assert pre == [0.05, 0.05]
    assert fine == pytest.approx([0.5, 0.5, 0.05, 0.05, 0.005])
    fine.clear()
    factory = LearningRateScheduler(
        scheduler=lambda opt: torch.optim.lr_scheduler.ReduceLROnPlateau(
            opt, factor=0.5, patience=0, threshold=10.0), phase="finetune")
    DBNRegressor((8,), pretrain_epochs=1, max_iter=3, solver="sgd", learning_rate_init=0.2,
                 callbacks=[factory, spy_fine], **SMALL).fit(X, X[:, 10])
    assert fine == pytest.approx([0.2, 0.1, 0.05])  # no 10-fold improvement: halve


def test_learning_rate_scheduler_checks_its_arguments():
    with pytest.raises(ValueError, match="either"):
        LearningRateScheduler()
    with pytest.raises(ValueError, match="either"):
        LearningRateScheduler(lambda e: 0.1, scheduler=torch.optim.lr_scheduler.StepLR)
    with pytest.raises(ValueError, match=">= 0"):
        RBM(n_components=4, n_iter=1, callbacks=[LearningRateScheduler(lambda e: -1.0)],
            **SMALL).fit(X)


# -- monitors ----------------------------------------------------------------------------------


def test_free_energy_gap_is_recorded_for_every_layer():
    dbn = DBNTransformer((16, 8), pretrain_epochs=2, **SMALL,
                         callbacks=[FreeEnergyGap(X_DIGITS[1500:])]).fit(X_DIGITS[:1500])
    for records in dbn.history_["pretrain"]:
        assert all(np.isfinite(r["free_energy_gap"]) for r in records)
    clf = DBNClassifier((8,), pretrain_epochs=1, max_iter=2, **SMALL,
                        callbacks=[FreeEnergyGap(X_DIGITS[1500:])]).fit(X, Y)
    assert "free_energy_gap" not in clf.history_["finetune"][0]
    with pytest.raises(ValueError, match="features"):
        RBM(n_components=4, n_iter=1, callbacks=[FreeEnergyGap(X[:, :10])], **SMALL).fit(X)


# -- progress ----------------------------------------------------------------------------------


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_lines_go_to_the_sink_one_per_epoch():
    lines = []
    DBNClassifier((8, 4), pretrain_epochs=2, max_iter=2, **SMALL,
                  callbacks=[ProgressBar(sink=lines.append)]).fit(X, Y)
    assert len(lines) == 6
    assert lines[0].startswith("[DBNClassifier pretraining] layer 1, epoch 1, "
                               "reconstruction_error = ")
    assert lines[-1].startswith("[DBNClassifier fine-tuning] epoch 2, loss = ")


def test_progress_without_a_terminal_prints_every_nth_epoch_and_the_last(capsys):
    """A log of the default digits run had 120 lines, one per epoch: now at most about ten
    a phase, the last epoch always among them, on stderr like the bars."""
    RBM(n_components=4, n_iter=25, verbose=1, **SMALL).fit(X)
    out, err = capsys.readouterr()
    epochs = [int(line.split("epoch ")[1].split(",")[0]) for line in err.splitlines()]
    assert out == "" and epochs == [3, 6, 9, 12, 15, 18, 21, 24, 25]
    lines = []
    RBM(n_components=4, n_iter=4, **SMALL,
        callbacks=[ProgressBar(bar=False, every=3, sink=lines.append)]).fit(X)
    assert [line.split(",")[0] for line in lines] == ["[RBM] epoch 3", "[RBM] epoch 4"]


def test_progress_shows_the_last_epoch_when_early_stopping_ends_a_phase():
    lines = []
    rbm = RBM(n_components=4, n_iter=100, **SMALL, callbacks=[
        lambda epoch, record: epoch == 14,
        ProgressBar(bar=False, sink=lines.append)]).fit(X)
    assert len(rbm.history_) == 14
    assert [line.split(",")[0] for line in lines] == [f"[RBM] epoch {e}" for e in (10, 14)]


def test_progress_bar_checks_every():
    with pytest.raises(ValueError, match="every must be a positive integer"):
        ProgressBar(every=0)


def test_progress_bar_on_a_terminal(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    terminal = _Terminal()
    lines = []
    DBNClassifier((8, 4), pretrain_epochs=2, max_iter=3, **SMALL,
                  callbacks=[ProgressBar(file=terminal, sink=lines.append)]).fit(X, Y)
    text = terminal.getvalue()
    assert lines == []
    assert "DBNClassifier pretraining layer 1/2" in text and "layer 2/2" in text
    assert "DBNClassifier fine-tuning" in text and "3/3" in text and "loss=" in text


def test_no_bar_in_ci_and_nothing_when_not_verbose(monkeypatch, capsys):
    monkeypatch.setenv("CI", "true")
    terminal = _Terminal()
    lines = []
    RBM(n_components=4, n_iter=2, **SMALL,
        callbacks=[ProgressBar(file=terminal, sink=lines.append)]).fit(X)
    assert terminal.getvalue() == "" and len(lines) == 2
    RBM(n_components=4, n_iter=2, **SMALL, callbacks=[ProgressBar(verbose=0)]).fit(X)
    assert capsys.readouterr() == ("", "")


def test_verbose_estimator_adds_no_second_progress_bar(capsys):
    lines = []
    RBM(n_components=4, n_iter=2, verbose=1, **SMALL,
        callbacks=[ProgressBar(bar=False, sink=lines.append)]).fit(X)
    assert len(lines) == 2 and capsys.readouterr().out == ""
