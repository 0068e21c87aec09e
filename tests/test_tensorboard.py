"""The TensorBoard callback (``deepbelief.callbacks.TensorBoard``, ``train --tensorboard``):
what it writes is read back from the event files with TensorBoard's own reader."""

from __future__ import annotations

import pickle
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
import torch

from deepbelief import RBM, DBNAutoencoder, DBNClassifier, DBNTransformer, GenerativeDBN
from deepbelief.callbacks import LambdaCallback, TensorBoard
from deepbelief.cli import main
from deepbelief.datasets import load_digits

_REPO = Path(__file__).resolve().parents[1]

# tiny fits that are about the logs, not about fitting well
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits()
    return X[:300], y[:300]


def _read(log_dir):
    """Every event of the run in ``log_dir``, as TensorBoard reads it (nothing sampled away)."""
    accumulator = pytest.importorskip(
        "tensorboard.backend.event_processing.event_accumulator")
    everything = {kind: 0 for kind in (accumulator.SCALARS, accumulator.HISTOGRAMS,
                                       accumulator.IMAGES)}
    return accumulator.EventAccumulator(str(log_dir), size_guidance=everything).Reload()


def _curve(run, tag) -> tuple[list[int], list[float]]:
    events = run.Scalars(tag)
    return [e.step for e in events], [e.value for e in events]


def _as_logged(records, key) -> tuple[list[int], list[float]]:
    """A history's epochs and values as the event file holds them (float32 scalars)."""
    return [r["epoch"] for r in records], [float(np.float32(r[key])) for r in records]


def test_scalars_are_the_history_of_every_phase_and_layer(digits, tmp_path):
    """Pretraining per layer and fine-tuning (loss, validation score): the points are the
    records of ``history_``, at their epochs."""
    X, y = digits
    clf = DBNClassifier((16, 8), pretrain_epochs=3, max_iter=4, early_stopping=True,
                        n_iter_no_change=50, device="cpu", random_state=0,
                        callbacks=[TensorBoard(tmp_path)]).fit(X, y)
    run = _read(tmp_path)
    for layer, records in enumerate(clf.history_["pretrain"], start=1):
        tag = f"pretrain/layer{layer}/reconstruction_error"
        assert _curve(run, tag) == _as_logged(records, "reconstruction_error")
    for key in ("loss", "validation_score"):
        assert _curve(run, f"finetune/{key}") == _as_logged(clf.history_["finetune"], key)
    assert _curve(run, "finetune/learning_rate")[1] == [pytest.approx(1e-3)] * 4
    assert len(list(tmp_path.iterdir())) == 1  # one event file for the whole fit


def test_up_down_and_autoencoder_fine_tuning_are_logged(digits, tmp_path):
    """The other phases: a generative DBN's up-down, a deep autoencoder's fine-tuning."""
    X, y = digits
    gen = GenerativeDBN((16, 32), pretrain_epochs=1, updown_epochs=3, device="cpu",
                        random_state=0, callbacks=[TensorBoard(tmp_path / "gen")]).fit(X, y)
    run = _read(tmp_path / "gen")
    assert _curve(run, "updown/reconstruction_error") == _as_logged(
        gen.history_["updown"], "reconstruction_error")
    assert {"updown/filters", "updown/samples"} <= set(run.Tags()["images"])
    assert "updown/parameters/recognition1.weight" in run.Tags()["histograms"]

    auto = DBNAutoencoder((16, 2), pretrain_epochs=1, max_iter=2, device="cpu",
                          random_state=0, callbacks=[TensorBoard(tmp_path / "ae")]).fit(X)
    run = _read(tmp_path / "ae")
    assert _curve(run, "finetune/loss") == _as_logged(auto.history_["finetune"], "loss")
    assert {"finetune/filters", "finetune/reconstructions"} <= set(run.Tags()["images"])


def test_histograms_and_images_have_their_tags_shapes_and_epochs(digits, tmp_path):
    X, y = digits
    DBNClassifier((16,), pretrain_epochs=5, max_iter=4, device="cpu", random_state=0,
                  callbacks=[TensorBoard(tmp_path, histogram_every=2, image_every=3,
                                         max_images=8, max_samples=100)]).fit(X, y)
    run = _read(tmp_path)
    weight = run.Histograms("pretrain/layer1/parameters/weight")
    assert [h.step for h in weight] == [1, 3, 5]  # every 2 epochs from the first, the last
    assert {h.histogram_value.num for h in weight} == {64 * 16}
    hidden = run.Histograms("pretrain/layer1/activations/hidden")
    assert {h.histogram_value.num for h in hidden} == {100 * 16}  # max_samples rows
    assert [h.step for h in run.Histograms("finetune/activations/body.1")] == [1, 3, 4]
    assert "finetune/parameters/head.1.weight" in run.Tags()["histograms"]  # after dropout
    filters = run.Images("pretrain/layer1/filters")
    assert [i.step for i in filters] == [1, 4, 5]
    assert {(i.width, i.height) for i in filters} == {(8 * 8, 8)}  # 8 filters of 8 x 8 in a row
    samples = run.Images("pretrain/layer1/samples")
    assert {(i.width, i.height) for i in samples} == {(8 * 8, 8)}
    assert "finetune/filters" in run.Tags()["images"]


def test_each_kind_of_output_can_be_switched_off(digits, tmp_path):
    X, y = digits
    DBNClassifier((16,), pretrain_epochs=1, max_iter=1, device="cpu", random_state=0,
                  callbacks=[TensorBoard(tmp_path / "none", weights=False, activations=False,
                                         filters=False, samples=False)]).fit(X, y)
    tags = _read(tmp_path / "none").Tags()
    assert tags["histograms"] == [] and tags["images"] == []
    assert "finetune/loss" in tags["scalars"]

    DBNClassifier((16,), pretrain_epochs=1, max_iter=1, device="cpu", random_state=0,
                  callbacks=[TensorBoard(tmp_path / "some", activations=False,
                                         samples=False)]).fit(X, y)
    tags = _read(tmp_path / "some").Tags()
    assert not any("activations" in t for t in tags["histograms"])
    assert sorted(tags["images"]) == ["finetune/filters", "pretrain/layer1/filters"]


def test_image_shape_picks_the_images_and_skips_other_widths(digits, tmp_path):
    X, _ = digits
    DBNTransformer((16,), pretrain_epochs=1, device="cpu", random_state=0,
                   callbacks=[TensorBoard(tmp_path / "wide", image_shape=(4, 16),
                                          max_images=4)]).fit(X)
    (image,) = _read(tmp_path / "wide").Images("pretrain/layer1/filters")
    assert (image.width, image.height) == (4 * 16, 4)
    DBNTransformer((16,), pretrain_epochs=1, device="cpu", random_state=0,
                   callbacks=[TensorBoard(tmp_path / "other", image_shape=(5, 5))]).fit(X)
    assert _read(tmp_path / "other").Tags()["images"] == []


def test_the_fitted_model_is_the_same_with_or_without_the_callback(digits, tmp_path):
    """Nothing drawn from the run's stream (dropout, sampling), nothing changed."""
    X, y = digits
    params = {"hidden_layer_sizes": (16, 8), "pretrain_epochs": 2, "max_iter": 3,
              "dropout": 0.2, "device": "cpu", "random_state": 0}
    plain = DBNClassifier(**params).fit(X, y)
    logged = DBNClassifier(**params, callbacks=[TensorBoard(tmp_path, histogram_every=1,
                                                            image_every=1)]).fit(X, y)
    for a, b in zip(plain.network_.state_dict().values(),
                    logged.network_.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert logged.network_.training == plain.network_.training


def test_partial_fit_appends_in_order_and_copies_start_their_own_file(digits, tmp_path):
    """``partial_fit`` calls extend the curves of one file; a pickled copy writes its own."""
    X, _ = digits
    dbn = DBNTransformer((16, 8), pretrain_epochs=1, device="cpu", random_state=0,
                         callbacks=[TensorBoard(tmp_path)])
    for _ in range(3):
        dbn.partial_fit(X)
    run = _read(tmp_path)
    for layer in (1, 2):
        steps, _ = _curve(run, f"pretrain/layer{layer}/reconstruction_error")
        assert steps == [1, 2, 3]
    copy = pickle.loads(pickle.dumps(dbn))
    copy.partial_fit(X)
    assert len(list(tmp_path.iterdir())) == 2
    assert _curve(_read(tmp_path), "pretrain/layer2/reconstruction_error") == _as_logged(
        copy.history_["pretrain"][1], "reconstruction_error")


def test_interrupted_run_is_on_disk_and_its_resumption_extends_the_curves(digits, tmp_path):
    """Ctrl-C in fine-tuning leaves a readable file; resuming from the checkpoint continues
    the epochs, and the last point of each epoch is the resumed history's."""
    X, y = digits
    logs, checkpoint = tmp_path / "logs", tmp_path / "run.ckpt"
    params = {"hidden_layer_sizes": (16,), "pretrain_epochs": 2, "max_iter": 5,
              "device": "cpu", "random_state": 0}

    def interrupt(context):
        if context.phase == "finetune" and context.record["epoch"] == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        DBNClassifier(**params, callbacks=[TensorBoard(logs), LambdaCallback(
            on_epoch_end=interrupt)]).fit(X, y, checkpoint=checkpoint)
    assert _curve(_read(logs), "finetune/loss")[0] == [1, 2, 3]
    resumed = DBNClassifier(**params, callbacks=[TensorBoard(logs)]).fit(
        X, y, checkpoint=checkpoint, resume=True)
    steps, values = _curve(_read(logs), "finetune/loss")
    assert steps == sorted(steps) and steps[-1] == 5
    last = dict(zip(steps, values, strict=True))  # TensorBoard keeps a restarted step's last
    assert (list(last), list(last.values())) == _as_logged(resumed.history_["finetune"], "loss")


def test_train_tensorboard_writes_the_logs(tmp_path, capsys):
    """``deepbelief train --tensorboard DIR``, with the free-energy gap among the metrics."""
    logs = tmp_path / "logs"
    assert main(["train", "--data", "digits", "--layers", "16", "--pretrain-epochs", "2",
                 "--epochs", "2", "--free-energy-gap", "0.1", "--quiet", "--no-history",
                 "--tensorboard", str(logs), "-o", str(tmp_path / "m.safetensors")]) == 0
    tags = _read(logs).Tags()
    assert {"pretrain/layer1/reconstruction_error", "pretrain/layer1/free_energy_gap",
            "finetune/loss"} <= set(tags["scalars"])
    assert "pretrain/layer1/filters" in tags["images"]


def _without_tensorboard(monkeypatch) -> None:
    """Make the tensorboard package (and torch's module that needs it) unimportable."""
    packages = ("tensorboard", "torch.utils.tensorboard")
    for name in [*packages, *(n for n in sys.modules if n.startswith(packages))]:
        monkeypatch.setitem(sys.modules, name, None)


def test_missing_tensorboard_says_how_to_install_it(monkeypatch, tmp_path, capsys):
    _without_tensorboard(monkeypatch)
    with pytest.raises(ImportError, match=r"pip install 'deepbelief\[tensorboard\]'"):
        TensorBoard(tmp_path)
    assert main(["train", "--data", "digits", "--layers", "8", "--quiet", "--tensorboard",
                 str(tmp_path / "logs"), "-o", str(tmp_path / "m.safetensors")]) == 1
    err = capsys.readouterr().err
    assert "pip install 'deepbelief[tensorboard]'" in err and "internal error" not in err
    # the advice works: the extra exists and installs tensorboard (also for development)
    extras = tomllib.loads((_REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    for extra in ("tensorboard", "dev"):
        assert any(r.startswith("tensorboard") for r in extras[extra])


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"histogram_every": 0}, "histogram_every"),
    ({"image_every": 1.5}, "image_every"),
    ({"image_shape": (28,)}, "image_shape"),
    ({"image_shape": (28, 0)}, "image_shape"),
    ({"max_samples": -1}, "max_samples"),
])
def test_bad_settings_are_refused(kwargs, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        TensorBoard(tmp_path, **kwargs)


def test_only_the_writing_process_logs(digits, tmp_path, monkeypatch):
    """In data-parallel training the other ranks write no event file."""
    import deepbelief.training.tensorboard as tb

    monkeypatch.setattr(tb, "is_writer", lambda: False)
    X, _ = digits
    RBM(8, n_iter=2, random_state=0, callbacks=[TensorBoard(tmp_path / "logs")]).fit(X)
    assert not (tmp_path / "logs").exists() or not list((tmp_path / "logs").iterdir())
