"""Checkpoints and resuming: ``fit(..., checkpoint=path, resume=True)``.

A run interrupted anywhere (an exception in a callback, SIGKILL) and resumed from its
checkpoint must end with exactly the weights of an uninterrupted run (CPU, same
random_state). Every model is tiny; the whole file takes a few seconds on one thread.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from deepbelief import (
    RBM,
    DBNClassifier,
    DBNRegressor,
    DBNTransformer,
    GenerativeDBN,
    ModelFileError,
)
from deepbelief.callbacks import Callback, EarlyStopping, LearningRateScheduler
from deepbelief.datasets import load_digits
from deepbelief.training.checkpoint import load_checkpoint

torch.set_num_threads(1)

_HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits()
    return X[:200], y[:200]


@pytest.fixture(scope="module")
def regression():
    rng = np.random.default_rng(0)
    X = rng.random((150, 8)).astype(np.float32)
    Y = np.column_stack([X[:, :4].sum(1), X[:, 4] - X[:, 5]])
    return X, Y


class Interrupt(Callback):
    """Raises KeyboardInterrupt (as Ctrl-C would) in ``hook`` of one epoch of one phase."""

    def __init__(self, phase: str, layer: int | None, epoch: int,
                 hook: str = "on_epoch_end") -> None:
        self.phase, self.layer, self.epoch, self.hook = phase, layer, epoch, hook

    def _maybe(self, context, hook: str) -> None:
        if (hook == self.hook and context.phase == self.phase
                and context.layer == self.layer and context.epoch == self.epoch):
            raise KeyboardInterrupt

    def on_epoch_end(self, context):
        self._maybe(context, "on_epoch_end")

    def on_train_end(self, context):
        self._maybe(context, "on_train_end")


class Epochs(Callback):
    """Records ``(phase, layer, epoch)`` of every epoch trained."""

    def __init__(self) -> None:
        self.seen: list = []

    def __deepcopy__(self, memo):  # fit copies callbacks: keep recording here
        return self

    def on_epoch_end(self, context):
        self.seen.append((context.phase, context.layer, context.epoch))


def _strip(history):
    """A history without its timings (the only thing that differs between runs)."""
    if isinstance(history, dict) and "epoch" in history:
        return {k: v for k, v in history.items() if k != "time"}
    if isinstance(history, dict):
        return {k: _strip(v) for k, v in history.items()}
    return [_strip(h) for h in history]


def _tensors(estimator) -> list[tuple[str, torch.Tensor]]:
    if isinstance(estimator, RBM):
        return list(estimator.rbm_.state_dict().items())
    out = [(f"rbm{i}.{k}", v) for i, r in enumerate(estimator.rbms_)
           for k, v in r.state_dict().items()]
    out += [(f"rec{i}.{k}", v) for i, r in enumerate(getattr(estimator, "recognition_", None)
                                                      or []) for k, v in r.state_dict().items()]
    if hasattr(estimator, "network_"):
        out += [(f"net.{k}", v) for k, v in estimator.network_.state_dict().items()]
    return out


def _outputs(estimator, X) -> np.ndarray:
    for method in ("predict_proba", "predict", "transform"):
        if hasattr(estimator, method):
            return getattr(estimator, method)(X)
    raise AssertionError(estimator)


def assert_same_model(a, b, X) -> None:
    """Bit-identical weights, outputs and histories (timings aside)."""
    ta, tb = _tensors(a), _tensors(b)
    assert [n for n, _ in ta] == [n for n, _ in tb]
    for (name, x), (_, y) in zip(ta, tb, strict=True):
        assert torch.equal(x, y), name
    assert np.array_equal(_outputs(a, X), _outputs(b, X))
    assert _strip(a.history_) == _strip(b.history_)
    assert getattr(a, "n_iter_", None) == getattr(b, "n_iter_", None)


def _fit(estimator, data, **kwargs):
    X, y = data
    supervised = isinstance(estimator, (DBNClassifier, DBNRegressor, GenerativeDBN))
    return estimator.fit(X, y if supervised else None, **kwargs)


def _interrupted(make, data, path, interrupt: Interrupt, **kwargs):
    """Fit with ``interrupt`` among the callbacks; it must stop the run."""
    with pytest.raises(KeyboardInterrupt):
        _fit(make(callbacks=[interrupt]), data, checkpoint=path, **kwargs)


_RBM = {"n_components": 8, "n_iter": 6, "batch_size": 20, "method": "pcd", "k": 2,
        "momentum": "classic", "sparsity_target": 0.1, "sparsity_cost": 0.01,
        "device": "cpu", "random_state": 1}
_DBN = {"hidden_layer_sizes": (16, 8), "pretrain_epochs": 3, "pretrain_method": "pcd",
        "device": "cpu", "random_state": 2}
_CLF = {**_DBN, "max_iter": 8, "learning_rate_init": 0.01, "dropout": 0.2,
        "early_stopping": True, "validation_fraction": 0.2, "n_iter_no_change": 50}
# sigmoid hidden units: rectified ones under PCD die in 8 of 12 seeds of this tiny network
_REG = {**_DBN, "visible_units": "bernoulli", "hidden_units": "bernoulli", "max_iter": 6,
        "learning_rate_init": 0.01, "dropout": 0.1, "solver": "sgd"}

_GEN = {"hidden_layer_sizes": (16, 24), "pretrain_epochs": 3, "pretrain_method": ("cd", "pcd"),
        "updown_epochs": 4, "updown_k": (1, 2), "updown_batch_size": 20, "device": "cpu",
        "random_state": 4}


def _adam(groups, learning_rate):
    """A user-supplied optimizer (not JSON: left out of the parameters checked)."""
    return torch.optim.Adam(groups, lr=learning_rate)


CASES = {
    # name: (estimator class, params, data fixture, (phase, layer, epoch), checkpoint_every)
    "rbm-mid-training": (RBM, _RBM, "digits", ("pretrain", None, 3), 1),
    "rbm-every-2": (RBM, _RBM, "digits", ("pretrain", None, 4), 2),
    "rbm-own-optimizer": (RBM, {**_RBM, "optimizer": _adam, "learning_rate": 0.01}, "digits",
                          ("pretrain", None, 2), 1),
    "transformer-mid-layer-2": (DBNTransformer, _DBN, "digits", ("pretrain", 1, 1), 1),
    "transformer-start-of-layer-2": (DBNTransformer, _DBN, "digits", ("pretrain", 1, 0), 1),
    "classifier-mid-layer-2": (DBNClassifier, _CLF, "digits", ("pretrain", 1, 1), 1),
    "classifier-mid-finetuning": (DBNClassifier, _CLF, "digits", ("finetune", None, 3), 1),
    "classifier-every-3": (DBNClassifier, _CLF, "digits", ("finetune", None, 4), 3),
    "regressor-mid-layer-1": (DBNRegressor, _REG, "regression", ("pretrain", 0, 1), 1),
    "regressor-mid-finetuning": (DBNRegressor, _REG, "regression", ("finetune", None, 2), 1),
    "generative-mid-layer-1": (GenerativeDBN, _GEN, "digits", ("pretrain", 0, 1), 1),
    "generative-mid-top-rbm": (GenerativeDBN, _GEN, "digits", ("pretrain", 1, 1), 1),
    "generative-mid-updown": (GenerativeDBN, _GEN, "digits", ("updown", None, 2), 1),
    "generative-updown-every-2": (GenerativeDBN, _GEN, "digits", ("updown", None, 3), 2),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_resumed_fit_ends_with_the_weights_of_an_uninterrupted_fit(case, request, tmp_path):
    cls, params, fixture, where, every = CASES[case]
    data = request.getfixturevalue(fixture)
    reference = _fit(cls(**params), data)

    path = tmp_path / "run.ckpt"
    _interrupted(lambda **kw: cls(**params, **kw), data, path, Interrupt(*where),
                 checkpoint_every=every)
    epochs = Epochs()
    resumed = _fit(cls(**params, callbacks=[epochs]), data, checkpoint=path,
                   checkpoint_every=every, resume=True)
    assert_same_model(reference, resumed, data[0])

    # Only the work since the last checkpoint was redone: no finished layer, no epoch
    # before the last multiple of checkpoint_every.
    phase, layer, epoch = where
    assert epochs.seen[0] == (phase, layer, epoch - epoch % every)
    assert load_checkpoint(path, kind=cls.__name__)["stage"] == "finished"


def test_the_checkpoint_tells_where_training_stands(digits, tmp_path):
    path = tmp_path / "run.ckpt"
    _interrupted(lambda **kw: DBNClassifier(**_CLF, **kw), digits, path,
                 Interrupt("pretrain", 1, 2))
    state = load_checkpoint(path, kind="DBNClassifier")
    assert (state["stage"], state["phase"], state["position"]["layer"],
            state["current"]["epoch"]) == ("pretrain", 0, 1, 2)
    assert state["done"] == []
    assert len(state["position"]["rbms"]) == 1 and len(state["position"]["histories"]) == 1
    assert state["params"]["hidden_layer_sizes"] == [16, 8]
    assert "callbacks" not in state["params"] and "verbose" not in state["params"]

    _interrupted(lambda **kw: DBNClassifier(**_CLF, **kw), digits, path,
                 Interrupt("finetune", None, 2))
    state = load_checkpoint(path, kind="DBNClassifier")
    assert (state["stage"], state["phase"], state["current"]["epoch"]) == ("finetune", 1, 2)
    assert len(state["done"][0]["rbms"]) == 2  # the finished pretraining
    assert len(state["position"]["split"]["valid"]) == 40  # validation_fraction of 200
    early = state["current"]["callbacks"][1]  # _ValidationScore, EarlyStopping, user's
    assert early["type"] == "EarlyStopping" and early["state"]["best_state"] is not None


def test_a_phase_stopped_by_early_stopping_resumes_exactly(digits, tmp_path):
    """Killed after early stopping ended fine-tuning but before the final save: the
    checkpoint says 'stopped', and the resumed run restores the best weights."""
    params = {**_CLF, "max_iter": 40, "n_iter_no_change": 2, "tol": 0.5}
    reference = DBNClassifier(**params).fit(*digits)
    assert reference.n_iter_ < 40
    path = tmp_path / "run.ckpt"
    _interrupted(lambda **kw: DBNClassifier(**params, **kw), digits, path,
                 Interrupt("finetune", None, reference.n_iter_ - 1, hook="on_train_end"))
    assert load_checkpoint(path, kind="DBNClassifier")["current"]["stopped"]
    epochs = Epochs()
    resumed = DBNClassifier(**params, callbacks=[epochs]).fit(*digits, checkpoint=path,
                                                                resume=True)
    assert epochs.seen == []
    assert_same_model(reference, resumed, digits[0])


def test_callbacks_with_state_continue_where_they_were(digits, tmp_path):
    """A user's LearningRateScheduler (a torch scheduler) and EarlyStopping in
    pretraining are saved and put back."""

    def make(**kw):
        return DBNClassifier(**_CLF, callbacks=[
            LearningRateScheduler(scheduler=torch.optim.lr_scheduler.StepLR, step_size=2,
                                  gamma=0.5, phase="finetune"),
            EarlyStopping("reconstruction_error", patience=1, tol=10.0, restore_best=True,
                          phase="pretrain"),
            *kw.get("callbacks", [])])

    reference = make().fit(*digits)
    path = tmp_path / "run.ckpt"
    _interrupted(make, digits, path, Interrupt("finetune", None, 4))
    resumed = make().fit(*digits, checkpoint=path, resume=True)
    assert_same_model(reference, resumed, digits[0])
    assert resumed.callbacks_[0].learning_rates_ == reference.callbacks_[0].learning_rates_


def _load_worker():
    spec = importlib.util.spec_from_file_location("resume_worker", _HERE / "resume_worker.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run_until(path: Path, ready, timeout: float = 120.0, kind: str = "DBNClassifier"
               ) -> dict:
    """Start the worker, poll its checkpoint until ``ready(state)``, SIGKILL it."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join(p for p in (str(_HERE.parent / "src"),
                                                     os.environ.get("PYTHONPATH")) if p)}
    process = subprocess.Popen([sys.executable, str(_HERE / "resume_worker.py"), str(path),
                                "0.05", kind], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert process.poll() is None, process.communicate()[0].decode()
            try:  # writes are atomic: a read sees the old file or the new one, whole
                state = load_checkpoint(path, kind=kind)
            except FileNotFoundError:
                state = None
            if state is not None and ready(state):
                break
            time.sleep(0.01)
        else:
            raise AssertionError("the training process made no progress in time")
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    state = load_checkpoint(path, kind=kind)
    assert state["stage"] != "finished", "the process finished before it was killed"
    return state


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")
def test_a_killed_training_process_resumes_to_the_uninterrupted_model(tmp_path):
    """SIGKILL mid-pretraining of layer 2, restart the same command, SIGKILL again
    mid-fine-tuning, then finish here: the model equals an uninterrupted run's."""
    worker = _load_worker()
    X, y = worker.data()
    path = tmp_path / "run.ckpt"

    state = _run_until(path, lambda s: s["stage"] == "pretrain"
                       and s["position"]["layer"] == 1 and s["current"] is not None)
    assert state["stage"] == "pretrain" and len(state["position"]["rbms"]) >= 1
    state = _run_until(path, lambda s: s["stage"] == "finetune"
                       and s["current"] is not None and s["current"]["epoch"] >= 3)
    assert state["stage"] == "finetune"
    assert state["current"]["epoch"] < worker.PARAMS["max_iter"]
    _finish_here(DBNClassifier, worker.PARAMS, (X, y), path, state)


def _finish_here(cls, params, data, path, state) -> None:
    """Resume the killed run here: it restarts at the killed epoch and ends with the
    model of an uninterrupted run."""
    epochs = Epochs()
    resumed = cls(**params, callbacks=[epochs]).fit(*data, checkpoint=path,
                                                     checkpoint_every=1, resume=True)
    assert epochs.seen[0] == (state["stage"], None, state["current"]["epoch"])
    assert_same_model(cls(**params).fit(*data), resumed, data[0])


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")
def test_a_killed_generative_dbn_resumes_to_the_uninterrupted_model(tmp_path):
    """GenerativeDBN with labels: SIGKILL in the top RBM's training, restart, SIGKILL
    mid-up-down, then finish here: the model equals an uninterrupted run's."""
    worker = _load_worker()
    X, y = worker.data()
    path = tmp_path / "run.ckpt"
    kind = "GenerativeDBN"
    state = _run_until(path, lambda s: s["stage"] == "pretrain" and s["phase"] == 1
                       and s["current"] is not None, kind=kind)
    assert len(state["done"][0]["rbms"]) == 1  # the lower stack is finished
    state = _run_until(path, lambda s: s["stage"] == "updown" and s["current"] is not None
                       and s["current"]["epoch"] >= 2, kind=kind)
    assert state["current"]["epoch"] < worker.GENERATIVE["updown_epochs"]
    _finish_here(GenerativeDBN, worker.GENERATIVE, (X, y), path, state)


def test_a_checkpoint_of_an_older_layout_is_refused(digits, tmp_path):
    from deepbelief.training.checkpoint import LAYOUT_VERSION, save_checkpoint

    path = tmp_path / "run.ckpt"
    DBNTransformer(**_DBN).fit(digits[0], checkpoint=path)
    state = load_checkpoint(path, kind="DBNTransformer")
    save_checkpoint(path, {**state, "layout": LAYOUT_VERSION - 1}, kind="DBNTransformer")
    with pytest.raises(ModelFileError, match=rf"layout {LAYOUT_VERSION - 1}, written by "
                                             rf"deepbelief 0.1.0, and this version reads "
                                             rf"layout {LAYOUT_VERSION}. Finish that run"):
        DBNTransformer(**_DBN).fit(digits[0], checkpoint=path, resume=True)


def test_a_checkpoint_without_a_newer_parameter_resumes_at_its_default(digits, tmp_path):
    """A checkpoint written before a parameter existed (layer_type came in 0.3) was trained
    as that parameter's default: it resumes with the default and is refused otherwise."""
    from deepbelief.training.checkpoint import save_checkpoint

    path = tmp_path / "run.ckpt"
    DBNTransformer(**_DBN).fit(digits[0], checkpoint=path)
    state = load_checkpoint(path, kind="DBNTransformer")
    older = {k: v for k, v in state["params"].items() if k != "layer_type"}
    save_checkpoint(path, {**state, "params": older}, kind="DBNTransformer")
    DBNTransformer(**_DBN).fit(digits[0], checkpoint=path, resume=True)
    save_checkpoint(path, {**state, "params": older}, kind="DBNTransformer")
    with pytest.raises(ValueError, match=r"layer_type='rbm' in the checkpoint, "
                                         r"'autoencoder' now"):
        DBNTransformer(**_DBN, layer_type="autoencoder").fit(digits[0], checkpoint=path,
                                                             resume=True)


def test_a_crash_during_a_save_keeps_the_previous_checkpoint(digits, tmp_path, monkeypatch):
    real_replace = os.replace
    calls = []

    def replace(src, dst):
        calls.append(dst)
        if len(calls) == 3:  # the third save: the first layer's third epoch
            raise OSError("disk full")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    path = tmp_path / "run.ckpt"
    with pytest.raises(OSError, match="disk full"):
        DBNTransformer(**_DBN).fit(digits[0], checkpoint=path)
    monkeypatch.setattr(os, "replace", real_replace)
    state = load_checkpoint(path, kind="DBNTransformer")
    assert (state["stage"], state["position"]["layer"], state["current"]["epoch"]) == (
        "pretrain", 0, 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.ckpt"]  # no temporary file
    resumed = DBNTransformer(**_DBN).fit(digits[0], checkpoint=path, resume=True)
    assert_same_model(DBNTransformer(**_DBN).fit(digits[0]), resumed, digits[0])


@pytest.mark.parametrize("cls, params, fixture", [
    (RBM, _RBM, "digits"), (DBNTransformer, _DBN, "digits"),
    (DBNClassifier, _CLF, "digits"), (DBNRegressor, _REG, "regression"),
    (GenerativeDBN, _GEN, "digits"),
])
def test_checkpoints_change_nothing_in_the_model(cls, params, fixture, request, tmp_path):
    """The same weights with and without checkpoints; a finished checkpoint resumed
    rebuilds the same model without training."""
    data = request.getfixturevalue(fixture)
    plain = _fit(cls(**params), data)
    path = tmp_path / "run.ckpt"
    saved = _fit(cls(**params), data, checkpoint=path)
    assert_same_model(plain, saved, data[0])
    epochs = Epochs()
    rebuilt = _fit(cls(**params, callbacks=[epochs]), data, checkpoint=path, resume=True)
    assert epochs.seen == []
    assert_same_model(plain, rebuilt, data[0])


def test_resume_without_a_checkpoint_file_starts_from_the_beginning(digits, tmp_path):
    path = tmp_path / "run.ckpt"
    fitted = RBM(**_RBM).fit(digits[0], checkpoint=path, resume=True)
    assert_same_model(RBM(**_RBM).fit(digits[0]), fitted, digits[0])
    assert path.exists()


def test_temporary_files_of_a_save_killed_midway_are_removed(digits, tmp_path):
    stale = tmp_path / ".run.ckpt.k3j_x9.tmp"  # as a process killed while saving leaves
    stale.write_bytes(b"half a checkpoint")
    other = tmp_path / ".other.ckpt.abc.tmp"
    other.write_bytes(b"not ours")
    RBM(**_RBM).fit(digits[0], checkpoint=tmp_path / "run.ckpt", resume=True)
    assert not stale.exists() and other.exists()


def test_partial_fit_after_a_resumed_fit_continues_exactly(digits, tmp_path):
    path = tmp_path / "run.ckpt"
    reference = RBM(**_RBM).fit(digits[0]).partial_fit(digits[0])
    _interrupted(lambda **kw: RBM(**_RBM, **kw), digits, path, Interrupt("pretrain", None, 2))
    RBM(**_RBM).fit(digits[0], checkpoint=path, resume=True)
    resumed = RBM(**_RBM).fit(digits[0], checkpoint=path, resume=True).partial_fit(digits[0])
    assert_same_model(reference, resumed, digits[0])


def test_without_a_seed_a_resumed_run_continues_the_saved_random_stream(digits, tmp_path):
    """random_state=None seeds each fit afresh, but a resumed run draws from the saved
    generator: two resumptions of one checkpoint end the same."""
    params = {**_RBM, "random_state": None}
    path, copy = tmp_path / "run.ckpt", tmp_path / "copy.ckpt"
    _interrupted(lambda **kw: RBM(**params, **kw), digits, path, Interrupt("pretrain", None, 2))
    copy.write_bytes(path.read_bytes())
    first = RBM(**params).fit(digits[0], checkpoint=path, resume=True)
    second = RBM(**params).fit(digits[0], checkpoint=copy, resume=True)
    assert_same_model(first, second, digits[0])


# -- refusals -------------------------------------------------------------------------------
@pytest.fixture()
def rbm_checkpoint(digits, tmp_path):
    path = tmp_path / "run.ckpt"
    _interrupted(lambda **kw: RBM(**_RBM, **kw), digits, path, Interrupt("pretrain", None, 2))
    return path


def test_other_parameters_are_refused_and_named(digits, rbm_checkpoint):
    with pytest.raises(ValueError, match=r"other parameters \(k=2 in the checkpoint, 1 now; "
                                         r"n_iter=6 in the checkpoint, 7 now\).*resume=False"):
        RBM(**{**_RBM, "n_iter": 7, "k": 1}).fit(digits[0], checkpoint=rbm_checkpoint,
                                                 resume=True)
    # verbose and callbacks do not change the model: they may differ
    RBM(**_RBM, verbose=0, callbacks=[Epochs()]).fit(digits[0], checkpoint=rbm_checkpoint,
                                                     resume=True)


def test_other_data_is_refused(digits, regression, rbm_checkpoint, tmp_path):
    X = digits[0].copy()
    X[0, 0] = 1 - X[0, 0]
    with pytest.raises(ValueError, match="other data"):
        RBM(**_RBM).fit(X, checkpoint=rbm_checkpoint, resume=True)
    with pytest.raises(ValueError, match="other data"):
        RBM(**_RBM).fit(digits[0][:-1], checkpoint=rbm_checkpoint, resume=True)
    # the same values as float64 are the same training data
    RBM(**_RBM).fit(digits[0].astype(np.float64), checkpoint=rbm_checkpoint, resume=True)

    path = tmp_path / "clf.ckpt"
    X, y = digits
    _interrupted(lambda **kw: DBNClassifier(**_CLF, **kw), digits, path,
                 Interrupt("pretrain", 0, 1))
    labels = np.where(y == 0, 9, y)
    with pytest.raises(ValueError, match="other data"):
        DBNClassifier(**_CLF).fit(X, labels, checkpoint=path, resume=True)
    names = np.array([f"digit {v}" for v in y], dtype=object)
    with pytest.raises(ValueError, match="other data"):
        DBNClassifier(**_CLF).fit(X, names, checkpoint=path, resume=True)


def test_a_checkpoint_of_another_estimator_is_refused(digits, rbm_checkpoint):
    for resume in (True, False):  # refused, and not overwritten either
        with pytest.raises(ValueError, match=r"is a checkpoint of an RBM, not a training "
                                             r"checkpoint of a DBNTransformer"):
            DBNTransformer(**_DBN).fit(digits[0], checkpoint=rbm_checkpoint, resume=resume)


def test_a_model_file_or_a_corrupted_checkpoint_is_refused(digits, rbm_checkpoint, tmp_path):
    model = RBM(**_RBM).fit(digits[0]).save(tmp_path / "model.safetensors")
    saved = model.read_bytes()
    for resume in (True, False):  # a trained model is never overwritten by checkpoints
        with pytest.raises(ValueError, match=r"is a trained RBM model, not a training "
                                             r"checkpoint of an RBM.*another path"):
            RBM(**_RBM).fit(digits[0], checkpoint=model, resume=resume)
    assert model.read_bytes() == saved
    data = bytearray(rbm_checkpoint.read_bytes())
    data[-5] ^= 0xFF
    rbm_checkpoint.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match=r"corrupted.*Pass resume=False"):
        RBM(**_RBM).fit(digits[0], checkpoint=rbm_checkpoint, resume=True)
    # resume=False starts afresh and overwrites it
    fresh = RBM(**_RBM).fit(digits[0], checkpoint=rbm_checkpoint)
    assert load_checkpoint(rbm_checkpoint, kind="RBM")["stage"] == "finished"
    assert_same_model(RBM(**_RBM).fit(digits[0]), fresh, digits[0])


@pytest.mark.parametrize("kwargs, error, match", [
    ({"checkpoint_every": 0}, ValueError, "checkpoint_every must be a positive integer"),
    ({"checkpoint_every": 1.5}, ValueError, "checkpoint_every must be a positive integer"),
    ({"resume": True}, ValueError, r"resume=True needs checkpoint=<path>"),
    ({"resume": "yes", "checkpoint": "x.ckpt"}, ValueError, "resume must be True or False"),
    ({"checkpoint": 3}, ValueError, "checkpoint must be a path"),
    ({"checkpoint": "no/such/folder/x.ckpt"}, FileNotFoundError, "does not exist"),
])
def test_bad_checkpoint_arguments_are_refused_before_training(kwargs, error, match, digits,
                                                               tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    epochs = Epochs()
    with pytest.raises(error, match=match):
        DBNTransformer(**_DBN, callbacks=[epochs]).fit(digits[0], **kwargs)
    assert epochs.seen == []


@pytest.mark.parametrize("content", ["csv", "other estimator"])
def test_checkpoints_never_overwrite_a_file_that_is_not_one_of_this_estimator(
        digits, rbm_checkpoint, tmp_path, content):
    """Field report: --checkpoint pointed at an existing file overwrote it."""
    path = tmp_path / "target"
    if content == "csv":
        path.write_text("a,b\n1,2\n")
        what = "a file that is not a deepbelief file"
    else:
        path.write_bytes(rbm_checkpoint.read_bytes())
        what = "a checkpoint of an RBM"
    before = path.read_bytes()
    with pytest.raises(ValueError, match=rf"is {what}, not a training checkpoint of a "
                                         r"DBNTransformer.*another path"):
        DBNTransformer(**_DBN).fit(digits[0], checkpoint=path)
    assert path.read_bytes() == before
    # the advice works: another path trains and checkpoints
    DBNTransformer(**_DBN).fit(digits[0], checkpoint=tmp_path / "another.ckpt")
    assert (tmp_path / "another.ckpt").exists()
