"""The ``deepbelief`` command line, end to end on the digits.

Every command runs once in a real subprocess (``python -m deepbelief ...``): exit status,
files written, what stdout and stderr say. Finer cases (options, config files, data files,
errors) call :func:`deepbelief.cli.main` in this process, which is the same code without
the cost of starting Python and importing torch again.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from deepbelief import RBM, DBNClassifier, DBNRegressor, DBNTransformer, load
from deepbelief.cli import CommandError, UsageError, load_data, main
from deepbelief.datasets import load_digits

torch.set_num_threads(1)

SUBCOMMANDS = ("train", "evaluate", "predict", "transform", "sample", "complete", "inspect",
               "plot", "demo")


def run(*args: str, cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess:
    """``python -m deepbelief ARGS`` in ``cwd``, one thread, output captured."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "deepbelief", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)


def assert_one_line_error(result, status: int, *fragments: str) -> None:
    assert result.returncode == status, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1, result.stderr
    for fragment in fragments:
        assert fragment in errors[0], errors[0]


def assert_png(path: Path) -> None:
    from matplotlib.image import imread

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = imread(path)
    assert pixels.shape[0] >= 100 and pixels.shape[1] >= 100 and pixels.std() > 0.05


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("cli")


@pytest.fixture(scope="module")
def trained(work):
    """``deepbelief train --data digits`` exactly as the README shows it."""
    start = time.perf_counter()
    result = run("train", "--data", "digits", cwd=work)
    return result, time.perf_counter() - start


@pytest.fixture(scope="module")
def rbm_file(work):
    result = run("train", "--data", "digits", "--kind", "rbm", "--layers", "16", "--epochs",
                 "5", "--learning-rate", "0.05", "--free-energy-gap", "0.1", "-o",
                 "rbm.safetensors", "--history", "rbm.csv", "-q", cwd=work)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # -q: results only
    return work / "rbm.safetensors"


# -- every command, in a subprocess ------------------------------------------------------------


def test_train_on_digits_takes_seconds_and_prints_a_summary(trained, work):
    result, seconds = trained
    assert result.returncode == 0, result.stderr
    assert seconds < 60  # ~8 s on one thread, most of it starting Python and torch
    lines = result.stdout.splitlines()
    assert lines[0].startswith("deepbelief train: DBNClassifier 64 (bernoulli) -> 256 "
                               "(relu) -> 256 (relu) -> 10 classes")
    assert "  data: digits (train split), 1437 samples x 64 features" in lines
    assert any(line.startswith("  pretraining layer 2: 10 epochs, reconstruction error")
               for line in lines)
    finetune = next(line for line in lines if line.startswith("  fine-tuning: "))
    epochs = int(finetune.split()[1])  # at most 100; it stops when the loss stalls
    assert 10 < epochs <= 100 and "epochs, loss" in finetune
    test_line = next(line for line in lines if line.startswith("  test: accuracy"))
    assert float(test_line.split()[2]) > 0.9
    assert "  model: model.safetensors" in lines
    # not a terminal: progress on stderr, through logging, at most ten lines a phase
    progress = [line for line in result.stderr.splitlines() if line.startswith("[")]
    assert 10 + 10 + 5 <= len(progress) <= 10 + 10 + 10
    assert progress[-1].startswith(f"[DBNClassifier fine-tuning] epoch {epochs}, ")
    assert progress[0].startswith("[DBNClassifier pretraining] layer 1, epoch 1, ")
    history = json.loads((work / "model.history.json").read_text())
    assert [len(h) for h in history["pretrain"]] == [10, 10]
    assert set(history["finetune"][0]) == {"epoch", "loss", "time"}
    assert isinstance(load(work / "model.safetensors"), DBNClassifier)


def test_train_an_rbm_with_a_csv_history(rbm_file, work):
    rows = list(csv.DictReader(open(work / "rbm.csv", encoding="utf-8")))
    assert [r["epoch"] for r in rows] == ["1", "2", "3", "4", "5"]
    assert set(rows[0]) == {"phase", "layer", "epoch", "reconstruction_error", "time",
                            "free_energy_gap"}
    assert isinstance(load(rbm_file), RBM)


def test_evaluate(trained, work):
    result = run("evaluate", "model.safetensors", "--data", "digits", "--json", cwd=work)
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)
    assert metrics["model"] == "DBNClassifier" and metrics["data"] == "digits (test split)"
    assert metrics["n_samples"] == 360 and metrics["accuracy"] > 0.9
    assert metrics["error_rate"] == pytest.approx(1 - metrics["accuracy"])
    assert metrics["log_loss"] > 0


def test_predict_to_csv(trained, work):
    result = run("predict", "model.safetensors", "--limit", "5", "--proba", "-o",
                 "out/predictions.csv", cwd=work)
    assert result.returncode == 0, result.stderr
    rows = list(csv.reader(open(work / "out" / "predictions.csv", encoding="utf-8")))
    assert rows[0] == ["prediction", *(f"p_{c}" for c in range(10))]
    assert len(rows) == 6
    probabilities = np.asarray(rows[1:], dtype=float)[:, 1:]
    np.testing.assert_allclose(probabilities.sum(1), 1, atol=1e-4)


def test_transform_to_npy(trained, work):
    result = run("transform", "model.safetensors", "--limit", "4", "-o", "features.npy",
                 cwd=work)
    assert result.returncode == 0, result.stderr
    assert np.load(work / "features.npy").shape == (4, 256)


def test_sample(rbm_file, work):
    result = run("sample", rbm_file.name, "-n", "20", "--n-gibbs", "100", "-o", "s.png",
                 cwd=work)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "s.png"
    assert_png(work / "s.png")


def test_complete(rbm_file, work):
    result = run("complete", rbm_file.name, "--data", "digits", "--n-iter", "30",
                 "-o", "completions.png", cwd=work)
    assert result.returncode == 0, result.stderr
    assert_png(work / "completions.png")


def test_inspect(trained, work):
    result = run("inspect", "model.safetensors", cwd=work)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("model.safetensors: DBNClassifier (deepbelief model file, format")
    assert "  layers: 64 (bernoulli) -> 256 (relu) -> 256 (relu) -> 10 classes" in out
    assert "  classes: 0 1 2 3 4 5 6 7 8 9" in out
    assert "    max_iter = 100" in out and "    random_state = 0" in out


def test_plot(trained, work):
    result = run("plot", "filters", "model.safetensors", "-o", "filters.png", cwd=work)
    assert result.returncode == 0, result.stderr
    assert_png(work / "filters.png")


def test_help_of_every_command(work, capsys):
    result = run("--help", cwd=work)
    assert result.returncode == 0
    for command in SUBCOMMANDS:
        assert command in result.stdout
    for command in SUBCOMMANDS:
        assert main([command, "--help"]) == 0
        assert f"usage: deepbelief {command}" in capsys.readouterr().out


def test_console_script(work):
    script = Path(sys.executable).with_name("deepbelief")
    if not script.exists():
        pytest.skip("the deepbelief console script is not installed next to this Python")
    result = subprocess.run([str(script), "--version"], capture_output=True, text=True,
                            check=False, timeout=60)
    assert result.returncode == 0 and result.stdout.startswith("deepbelief ")


# -- errors, in a subprocess: one line, no traceback -------------------------------------------


def test_missing_model_file_fails_with_status_1(work):
    result = run("evaluate", "missing.safetensors", cwd=work)
    assert_one_line_error(result, 1, "deepbelief evaluate: error: model file not found: "
                                     "missing.safetensors")


def test_bad_option_is_a_usage_error(work):
    result = run("train", "--layers", "many", cwd=work)
    assert_one_line_error(result, 2, "deepbelief train: error: argument --layers:",
                          "'many'", "deepbelief train --help")


def test_wrong_model_type_fails_with_status_1(trained, work):
    result = run("sample", "model.safetensors", cwd=work)
    assert_one_line_error(result, 1, "model.safetensors holds a DBNClassifier model; "
                                     "'sample' needs an RBM or DBNTransformer or "
                                     "GenerativeDBN model")


# -- in process: options, config files, data files ---------------------------------------------


def test_generative_dbn_from_the_command_line(tmp_path, capsys):
    model = tmp_path / "gen.safetensors"
    assert main(["train", "--data", "digits", "--kind", "generative", "--layers", "32", "64",
                 "--pretrain-epochs", "10", "--epochs", "2", "--quiet", "-o", str(model)]) == 0
    out = capsys.readouterr().out
    assert "GenerativeDBN 64 (bernoulli) -> 32 (bernoulli) -> 64 (bernoulli) -> 10 classes" in out
    assert "up-down fine-tuning: 2 epochs, training error" in out
    assert "test: reconstruction error" in out and "accuracy" in out
    gen = load(model)
    assert gen.recognition_ is not None and gen.get_params()["updown_epochs"] == 2
    assert main(["evaluate", str(model), "--data", "digits", "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["model"] == "GenerativeDBN" and 0.5 < metrics["accuracy"] <= 1
    assert main(["predict", str(model), "--data", "digits", "--proba", "--limit", "3"]) == 0
    rows = capsys.readouterr().out.strip().splitlines()
    assert rows[0].startswith("prediction,p_0,p_1") and len(rows) == 4
    npy = tmp_path / "threes.npy"
    assert main(["sample", str(model), "--label", "3", "-n", "4", "--n-gibbs", "20",
                 "--npy", str(npy), "-o", str(tmp_path / "threes.png")]) == 0
    assert np.load(npy).shape == (4, 64)
    assert_png(tmp_path / "threes.png")
    assert main(["sample", str(model), "--label", "3", "-n", "4", "--n-gibbs", "20",
                 "--label-warmup", "10", "--npy", str(npy), "-o", str(tmp_path / "w.png")]) == 0
    np.testing.assert_array_equal(
        np.load(npy), gen.sample(4, y=3, n_gibbs=20, random_state=0, label_warmup=10))
    assert main(["sample", str(model), "--label-warmup", "10", "-o", str(tmp_path / "x.png")]) == 2
    assert "--label-warmup needs --label" in capsys.readouterr().err
    assert main(["sample", str(model), "--label", "3", "--n-gibbs", "5", "--label-warmup", "10",
                 "-o", str(tmp_path / "x.png")]) == 2
    assert "must not exceed" in capsys.readouterr().err
    assert main(["sample", str(model), "--label", "12", "-o", str(tmp_path / "x.png")]) == 2
    assert "--label 12: not a class of this model" in capsys.readouterr().err
    assert main(["complete", str(model), "--data", "digits", "--n-images", "4",
                 "--n-iter", "5", "-o", str(tmp_path / "completed.png")]) == 0
    assert_png(tmp_path / "completed.png")
    capsys.readouterr()
    assert main(["inspect", str(model), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["history"]["updown_epochs"] == 2
    assert main(["train", "--data", "digits", "--kind", "generative", "--hidden-units", "relu",
                 "-o", str(tmp_path / "y.safetensors")]) == 2
    assert "its units are Bernoulli" in capsys.readouterr().err
    ckpt, out = tmp_path / "c.ckpt", tmp_path / "z.safetensors"
    argv = ["train", "--data", "digits", "--kind", "generative", "--layers", "16", "32",
            "--pretrain-epochs", "1", "--epochs", "1", "--seed", "0",
            "--checkpoint", str(ckpt), "-o", str(out)]
    assert main(argv) == 0 and ckpt.exists()
    first = load(out).predict_proba(load_digits()[0][:20])
    capsys.readouterr()
    assert main([*argv, "--resume"]) == 0  # a finished checkpoint: rebuilt, not retrained
    np.testing.assert_array_equal(load(out).predict_proba(load_digits()[0][:20]), first)


@pytest.mark.parametrize("argv, message", [
    (["train", "--kind", "transformer", "--epochs", "3"], "--epochs does not apply to --kind "
                                                          "transformer"),
    (["train", "--kind", "rbm", "--pretrain-epochs", "3"], "an RBM has one layer"),
    (["train", "--kind", "rbm", "--layers", "8", "8"], "takes one value for --kind rbm"),
    (["train", "--dropout", "2"], "dropout"),
    (["train", "--set", "nonsense=1"], "has no parameter 'nonsense'"),
    (["train", "--hidden-units", "relu", "relu", "relu"],
     "--hidden-units has 3 entries but --layers has 2"),
    (["train", "--data", "digits", "--split", "nope"], "invalid choice: 'nope'"),
    (["plot", "filters"], "required: MODEL"),
    (["nothing"], "invalid choice"),
])
def test_usage_errors(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_failures(tmp_path, capsys):
    X = np.random.default_rng(0).random((30, 64)).astype(np.float32)
    np.save(tmp_path / "X.npy", X)
    assert main(["train", "--data", str(tmp_path / "X.npy"), "-o", str(tmp_path / "m")]) == 1
    assert "has no labels, which --kind classifier needs" in capsys.readouterr().err
    np.save(tmp_path / "big.npy", X * 16)
    assert main(["train", "--kind", "transformer", "--visible-units", "bernoulli", "--data",
                 str(tmp_path / "big.npy")]) == 1
    assert "does not fit the visible units" in capsys.readouterr().err
    (tmp_path / "broken.safetensors").write_bytes(b"not a model at all")
    assert main(["inspect", str(tmp_path / "broken.safetensors")]) == 1
    assert "not a deepbelief model file" in capsys.readouterr().err
    assert main(["train", "--data", "mnist", "--data-dir", str(tmp_path)]) == 1
    assert "MNIST train data not found" in capsys.readouterr().err


def test_config_file_and_settings(tmp_path, capsys):
    config = tmp_path / "settings.toml"
    config.write_text('kind = "classifier"\nlayers = [16, 8]\nhidden-units = "relu"\n'
                      "pretrain-epochs = 1\npretrain-learning-rate = 0.01\nepochs = 2\n"
                      f'early-stopping = true\noutput = "{tmp_path / "m.safetensors"}"\n'
                      "\n[params]\npretrain_momentum = 0.5\nalpha = 0.001\n")
    assert main(["train", "--config", str(config), "--epochs", "3", "--set",
                 "alpha=0.01", "--no-history", "-q"]) == 0
    model = load(tmp_path / "m.safetensors")
    assert model.hidden_layer_sizes == (16, 8) and model.hidden_units == "relu"
    assert model.max_iter == 3  # the command line wins over the file
    assert model.early_stopping is True and model.pretrain_momentum == 0.5
    assert model.alpha == 0.01
    assert not (tmp_path / "m.history.json").exists()
    assert "fine-tuning: 3 epochs" in capsys.readouterr().out
    config.write_text("layer = 3\n")
    assert main(["train", "--config", str(config)]) == 2
    assert "unknown setting 'layer'" in capsys.readouterr().err
    config.write_text('kind = "classifier"\n\n[params]\nfoo = 1\n')
    assert main(["train", "--config", str(config)]) == 2
    err = capsys.readouterr().err  # named where the user wrote it, not as a --set never typed
    assert f"foo in the [params] table of {config}" in err and "--set foo" not in err
    assert main(["train", "--config", str(config), "--set", "bar=1"]) == 2
    assert "foo in the [params] table" in capsys.readouterr().err


def test_regressor_transformer_and_commands_on_files(tmp_path, capsys):
    X = np.random.default_rng(0).random((120, 6)).astype(np.float32)
    y = X.sum(1)
    with open(tmp_path / "train.csv", "w", encoding="utf-8") as handle:
        handle.write("a,b,c,target,d,e,f\n")
        for row, target in zip(X, y, strict=True):
            handle.write(",".join(f"{v:.6f}" for v in [*row[:3], target, *row[3:]]) + "\n")
    reg = str(tmp_path / "reg.safetensors")
    assert main(["train", "--kind", "regressor", "--data", str(tmp_path / "train.csv"),
                 "--layers", "16", "--hidden-units", "relu", "--pretrain-epochs", "1",
                 "--pretrain-learning-rate", "0.01", "--learning-rate", "0.01", "--epochs",
                 "60", "-o", reg, "-q"]) == 0
    out = capsys.readouterr().out
    assert "DBNRegressor 6 (bernoulli) -> 16 (relu) -> 1 output" in out
    assert "train: r2 " in out and "test:" not in out  # a file has no test split
    assert isinstance(load(reg), DBNRegressor)
    assert main(["evaluate", reg, "--data", str(tmp_path / "train.csv"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["r2"] > 0.9
    np.save(tmp_path / "X.npy", X[:3])
    assert main(["predict", reg, "--data", str(tmp_path / "X.npy")]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[0] == "prediction" and len(rows) == 4

    np.savez(tmp_path / "digits.npz", X=load_data("digits").X[:200])
    tr = str(tmp_path / "tr.safetensors")
    assert main(["train", "--kind", "transformer", "--data", str(tmp_path / "digits.npz"),
                 "--layers", "16", "8", "--pretrain-epochs", "2", "-o", tr, "--history",
                 str(tmp_path / "tr.csv"), "-q"]) == 0
    assert isinstance(load(tr), DBNTransformer)
    rows = list(csv.DictReader(open(tmp_path / "tr.csv", encoding="utf-8")))
    assert [(r["phase"], r["layer"], r["epoch"]) for r in rows] == [
        ("pretrain", "1", "1"), ("pretrain", "1", "2"), ("pretrain", "2", "1"),
        ("pretrain", "2", "2")]
    assert main(["plot", "curves", str(tmp_path / "tr.csv"), "-o",
                 str(tmp_path / "tr-curves.png")]) == 0
    assert main(["evaluate", tr, "--data", "digits", "--limit", "50"]) == 0
    assert "reconstruction error:" in capsys.readouterr().out
    assert main(["predict", tr]) == 1
    assert "use 'deepbelief transform'" in capsys.readouterr().err
    assert main(["sample", tr, "-n", "6", "--n-gibbs", "5", "-o",
                 str(tmp_path / "s.png")]) == 0
    for picture in ("filters", "samples", "reconstructions", "embedding", "curves"):
        path = tmp_path / f"{picture}.png"
        assert main(["plot", picture, tr, "-o", str(path), "--n-gibbs", "5", "-q"]) == 0
        assert path.is_file(), picture
    assert main(["plot", "predictions", tr]) == 1
    assert "needs a DBNClassifier" in capsys.readouterr().err


def test_rbm_log_likelihood_exact_and_by_ais(rbm_file, capsys):
    assert main(["evaluate", str(rbm_file), "--limit", "100", "--json", "-q"]) == 0
    exact = json.loads(capsys.readouterr().out)
    assert exact["log_z_method"] == "exact" and exact["log_likelihood"] < 0
    assert main(["evaluate", str(rbm_file), "--limit", "100", "--json", "-q",
                 "--log-likelihood", "ais", "--ais-runs", "20", "--ais-betas", "300"]) == 0
    ais = json.loads(capsys.readouterr().out)
    assert ais["log_z_method"] == "ais (20 runs, 300 betas)"
    assert ais["log_z"] == pytest.approx(exact["log_z"], abs=0.5)
    assert ais["log_z_low"] <= ais["log_z"] <= ais["log_z_high"]


def test_plot_curves_from_history_files(rbm_file, trained, work, tmp_path, capsys):
    for history in (work / "rbm.csv", work / "model.history.json"):
        out = tmp_path / f"{history.stem}.png"
        assert main(["plot", "curves", str(history), "-o", str(out)]) == 0
        assert_png(out)
    assert main(["plot", "predictions", str(work / "model.safetensors"), "-o",
                 str(tmp_path / "p.png"), "-n", "5"]) == 0
    assert_png(tmp_path / "p.png")


# -- data sources ------------------------------------------------------------------------------


def test_load_data_sources(tmp_path):
    train, test, every = (load_data("digits", split=s) for s in ("train", "test", "all"))
    assert (len(train.X), len(test.X), len(every.X)) == (1437, 360, 1797)
    assert train.X.dtype == np.float32 and train.y.dtype == np.int64
    with open(tmp_path / "x.tsv", "w", encoding="utf-8") as handle:
        handle.write("0.5\t0.25\tcat\n1\t0\tdog\n")
    table = load_data(str(tmp_path / "x.tsv"), want_labels=True)
    np.testing.assert_array_equal(table.X, [[0.5, 0.25], [1, 0]])
    assert table.y.tolist() == ["cat", "dog"]
    (tmp_path / "h.csv").write_text("label,p1,p2\n3,0,1\n4,1,0\n")
    headed = load_data(str(tmp_path / "h.csv"))
    assert headed.y.tolist() == [3, 4] and headed.X.shape == (2, 2)
    unlabelled = load_data(str(tmp_path / "h.csv"), label_column="none")
    assert unlabelled.y is None and unlabelled.X.shape == (2, 3)
    plain = tmp_path / "p.csv"
    plain.write_text("0,1,2\n1,0,3\n")
    assert load_data(str(plain)).y is None  # no labels asked for: every column is a feature
    assert load_data(str(plain), n_features=2).y.tolist() == [2, 3]
    assert load_data(str(plain), label_column="0").X.tolist() == [[1, 2], [0, 3]]
    with pytest.raises(CommandError, match="takes 5 features"):
        load_data(str(plain), n_features=5)
    with pytest.raises(UsageError, match="--split"):
        load_data(str(plain), split="test")
    with pytest.raises(CommandError, match="neither a built-in data set"):
        load_data(str(tmp_path / "none.csv"))
    np.savez(tmp_path / "bad.npz", features=np.zeros((2, 2)))
    with pytest.raises(CommandError, match="no array named 'X'"):
        load_data(str(tmp_path / "bad.npz"))
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(CommandError, match="cannot read"):
        load_data(str(tmp_path / "x.json"))


def test_mnist_from_the_shared_data(data_dir, capsys):
    mnist = load_data("mnist", split="test", data_dir=data_dir / "mnist", limit=100)
    assert mnist.X.shape == (100, 784) and mnist.name == "mnist (test)"
    folder = load_data(str(data_dir / "mnist"), split="test", limit=10)
    np.testing.assert_array_equal(folder.X, mnist.X[:10])


def test_train_with_a_checkpoint_resumes_to_the_same_model(work):
    common = ("train", "--data", "digits", "--layers", "16", "--pretrain-epochs", "2",
              "--epochs", "3", "--seed", "0", "--checkpoint", "run.ckpt")
    first = run(*common, "-o", "a.safetensors", cwd=work)
    assert first.returncode == 0, first.stderr
    assert (work / "run.ckpt").is_file()
    # A finished checkpoint: --resume rebuilds the fitted model without training.
    again = run(*common, "--resume", "-o", "b.safetensors", cwd=work)
    assert again.returncode == 0, again.stderr
    from deepbelief import load

    a, b = load(work / "a.safetensors"), load(work / "b.safetensors")
    for p, q in zip(a.network_.parameters(), b.network_.parameters(), strict=True):
        assert torch.equal(p, q)
    assert_one_line_error(run("train", "--data", "digits", "--resume", cwd=work), 2,
                          "--resume needs --checkpoint")
