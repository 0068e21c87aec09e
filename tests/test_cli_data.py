"""The command line and the data a model was trained on (issue 20, items 3, 4 and 11).

Table columns are matched by name, never silently by position; the model file records its
training data (and scaling), which every later command defaults to; per-unit-type 'auto'
learning rates train Gaussian layers without divergence, and ``train --scale`` stores its
scaling with the model.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from sklearn.datasets import load_iris

from deepbelief import RBM, DBNClassifier, DBNTransformer, GenerativeDBN, load
from deepbelief.cli import main
from deepbelief.cli.models import model_features
from deepbelief.cli.provenance import apply_scale, fit_scale
from deepbelief.datasets import load_digits
from deepbelief.estimators._base import pretrain_configs
from deepbelief.exceptions import DivergenceError
from deepbelief.io.modelfile import describe

NAMES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
QUICK = ["--layers", "16", "--pretrain-epochs", "2", "--epochs", "60", "--batch-size", "16",
         "--learning-rate", "0.01", "--scale", "minmax", "--no-history"]


def write_table(path, header, rows) -> None:
    lines = [",".join(header)] if header else []
    lines += [",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in row)
              for row in rows]
    path.write_text("\n".join(lines) + "\n")


def iris_table(path, order=NAMES, label="species", label_first=False, header=True):
    """Iris as a CSV with the feature columns in ``order`` and the label column."""
    X, y = load_iris(return_X_y=True)
    columns = [X[:, NAMES.index(name)] for name in order]
    rows = [[*(float(c[i]) for c in columns)] for i in range(len(y))]
    rows = [[int(t), *r] if label_first else [*r, int(t)] for r, t in zip(rows, y, strict=True)]
    names = [label, *order] if label_first else [*order, label]
    write_table(path, names if header else None, rows)
    return path


def cli(capsys, *argv) -> tuple[int, str, str]:
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1, err
    return lines[0]


def evaluate_json(capsys, *argv) -> dict:
    status, out, err = cli(capsys, "evaluate", *argv, "--json")
    assert status == 0, err
    return json.loads(out)


@pytest.fixture(scope="module")
def iris_model(tmp_path_factory):
    """A classifier trained from the command line on iris.csv (label column 'species')."""
    folder = tmp_path_factory.mktemp("iris")
    table = iris_table(folder / "iris.csv")
    model = folder / "iris.safetensors"
    assert main(["train", "--data", str(table), "--label-column", "species", *QUICK, "-o",
                 str(model), "-q"]) == 0
    return folder, table, model


# -- item 3: columns by name -------------------------------------------------------------------
def test_model_file_keeps_the_column_names(iris_model):
    """train saves the table's feature column names as feature_names_in_."""
    _, _, model = iris_model
    assert describe(model)["config"]["state"]["feature_names_in"] == NAMES
    assert list(load(model).feature_names_in_) == NAMES


def test_reordered_columns_score_the_same_with_an_info_line(iris_model, capsys):
    """The same table with its columns reversed (label first) scores exactly the same."""
    folder, table, model = iris_model
    reversed_table = iris_table(folder / "reversed.csv", NAMES[::-1], label_first=True)
    same = evaluate_json(capsys, model, "--data", table)
    status, out, err = cli(capsys, "evaluate", model, "--data", reversed_table, "--json")
    assert status == 0, err
    assert json.loads(out)["accuracy"] == same["accuracy"] > 0.9  # by position: 0.33
    assert "columns taken by name in the model's order" in err
    assert "label column: 'species' (column 1)" in err


@pytest.mark.parametrize("command", ["predict", "transform"])
def test_every_command_matches_columns_by_name(iris_model, command, capsys, tmp_path):
    """predict and transform write the same results for a reordered table; plot reads it."""
    folder, table, model = iris_model
    reversed_table = iris_table(folder / f"rev-{command}.csv", NAMES[::-1], label_first=True)
    outputs = []
    for data in (table, reversed_table):
        status, _, err = cli(capsys, command, model, "--data", data, "-o",
                             tmp_path / f"{data.stem}.csv")
        assert status == 0, err
        outputs.append((tmp_path / f"{data.stem}.csv").read_text())
    assert outputs[0] == outputs[1]
    status, _, err = cli(capsys, "plot", "embedding", model, "--data", reversed_table, "-o",
                         tmp_path / "e.png")
    assert status == 0 and "columns taken by name" in err, err


def test_missing_and_extra_columns_are_one_line_errors_naming_them(iris_model, capsys):
    folder, _, model = iris_model
    missing = iris_table(folder / "missing.csv", NAMES[:3])
    status, _, err = cli(capsys, "evaluate", model, "--data", missing)
    line = error_line(err)
    assert status == 1 and "lacks the column(s) 'petal_width'" in line
    renamed = folder / "renamed.csv"
    renamed.write_text(iris_table(folder / "x.csv").read_text().replace("petal_width",
                                                                         "petal_w"))
    status, _, err = cli(capsys, "predict", model, "--data", renamed)
    line = error_line(err)
    assert status == 1 and "'petal_width'" in line and "'petal_w'" in line
    assert "--label-column" in line


def test_train_says_which_column_is_the_label(tmp_path, capsys):
    table = iris_table(tmp_path / "t.csv", label="label", label_first=True)
    status, _, err = cli(capsys, "train", "--data", table, *QUICK, "-o", tmp_path / "m.st")
    assert status == 0, err
    assert "label column: 'label' (column 1)" in err


def test_label_column_guessed_by_position_gets_a_warning(tmp_path, capsys):
    """A last column whose name is not label/y/target/class: a warning naming the option."""
    table = iris_table(tmp_path / "t.csv", label="species")
    status, _, err = cli(capsys, "train", "--data", table, *QUICK, "-o", tmp_path / "m.st")
    assert status == 0, err
    warning = next(line for line in err.splitlines() if "took the last column" in line)
    assert "'species'" in warning and "--label-column" in warning


def test_unnamed_label_column_first_is_caught_and_the_advice_works(tmp_path, capsys):
    """Label first, not named label/y/target/class: the last feature looked like the label.
    Training stops before it starts, naming --label-column; following that advice trains."""
    table = iris_table(tmp_path / "t.csv", label="species", label_first=True)
    status, _, err = cli(capsys, "train", "--data", table, *QUICK, "-o", tmp_path / "m.st")
    line = error_line(err)
    assert status == 1 and "continuous values" in line and "--label-column" in line
    assert not (tmp_path / "m.st").exists()
    status, _, err = cli(capsys, "train", "--data", table, "--label-column", "species",
                         *QUICK, "-o", tmp_path / "m.st")
    assert status == 0, err
    assert describe(tmp_path / "m.st")["config"]["metadata"]["data"]["label_column"] == "species"


def test_regressor_with_text_targets_names_the_label_column(tmp_path, capsys):
    write_table(tmp_path / "t.csv", ["a", "b", "name"], [[0.1, 0.2, "x"], [0.3, 0.4, "y"]])
    status, _, err = cli(capsys, "train", "--kind", "regressor", "--data", tmp_path / "t.csv",
                         "-o", tmp_path / "m.st")
    line = error_line(err)
    assert status == 1 and "holds text" in line and "--label-column" in line


# -- item 4: the model file records its training data ------------------------------------------
def test_model_file_records_its_training_data(iris_model, tmp_path, capsys):
    _, table, model = iris_model
    record = describe(model)["config"]["metadata"]
    assert record["data"] == {"source": str(table.resolve()), "split": None, "data_dir": None,
                              "limit": None, "label_column": "species", "n_samples": 150}
    assert record["scale"]["kind"] == "minmax" and len(record["scale"]["offset"]) == 4
    status, _, err = cli(capsys, "train", "--data", "digits", "--split", "train", "--limit",
                         "300", "--layers", "8", "--pretrain-epochs", "1", "--epochs", "1",
                         "--no-history", "-o", tmp_path / "d.st", "-q")
    assert status == 0, err
    data = describe(tmp_path / "d.st")["config"]["metadata"]["data"]
    assert (data["source"], data["split"], data["limit"], data["n_samples"]) == (
        "digits", "train", 300, 300)


def test_commands_default_to_the_recorded_data(iris_model, capsys, tmp_path):
    """No --data: the file the model was trained on (with its label column and scaling)."""
    _, table, model = iris_model
    assert evaluate_json(capsys, model) == evaluate_json(capsys, model, "--data", table)
    status, out, err = cli(capsys, "predict", model)
    assert status == 0 and len(out.splitlines()) == 151, err
    assert "using the data" in err and str(table.resolve()) in err


def test_mnist_model_evaluates_on_the_mnist_test_split(data_dir, tmp_path, capsys):
    """A model trained on MNIST: 'evaluate MODEL' uses MNIST's test split, not the digits."""
    model = tmp_path / "mnist.st"
    status, _, err = cli(capsys, "train", "--data", "mnist", "--data-dir", data_dir, "--limit",
                         "200", "--layers", "16", "--pretrain-epochs", "1", "--epochs", "1",
                         "--no-history", "-o", model, "-q")
    assert status == 0, err
    result = evaluate_json(capsys, model)
    assert result["data"] == "mnist (test)" and result["n_samples"] == 200


def test_builtin_model_defaults_to_the_test_split(tmp_path, capsys):
    model = tmp_path / "d.st"
    assert main(["train", "--data", "digits", "--layers", "8", "--pretrain-epochs", "1",
                 "--epochs", "1", "--no-history", "-o", str(model), "-q"]) == 0
    capsys.readouterr()
    assert evaluate_json(capsys, model)["data"] == "digits (test split)"
    assert evaluate_json(capsys, model, "--split", "train")["data"] == "digits (train split)"


def test_recorded_file_gone_is_one_line_error_naming_data(tmp_path, capsys):
    table = iris_table(tmp_path / "gone.csv")
    model = tmp_path / "m.st"
    assert main(["train", "--data", str(table), "--label-column", "species", *QUICK, "-o",
                 str(model), "-q"]) == 0
    table.rename(tmp_path / "kept.csv")
    for argv in (["evaluate", model], ["predict", model], ["plot", "embedding", model],
                 ["transform", model]):
        status, _, err = cli(capsys, *argv)
        line = error_line(err)
        assert status == 1 and "gone.csv" in line and "no longer exists" in line
        assert "--data" in line
    status, _, err = cli(capsys, "evaluate", model, "--data", tmp_path / "kept.csv")
    assert status == 0, err


def test_data_of_another_kind_names_what_the_model_was_trained_on(iris_model, capsys):
    _, _, model = iris_model
    status, _, err = cli(capsys, "evaluate", model, "--data", "digits")
    line = error_line(err)
    assert status == 1 and "64 features but the model takes 4" in line
    assert "iris.csv" in line and "--data" in line


def test_inspect_shows_the_training_data(iris_model, capsys):
    _, table, model = iris_model
    status, out, _ = cli(capsys, "inspect", model)
    assert status == 0
    assert f"trained on: {table.resolve()}, 150 samples, label column 'species', " \
           "scaled: minmax" in out
    assert "input: 4 features (sepal_length, sepal_width, petal_length, petal_width)" in out
    status, out, _ = cli(capsys, "inspect", model, "--json")
    assert json.loads(out)["feature_names"] == NAMES


def test_files_without_a_record_still_load_and_evaluate(tmp_path, capsys):
    """Saved from Python (no record): 64 features default to the digits as before; other
    data needs --data, which the error names."""
    X, y = load_digits()
    model = tmp_path / "py.st"
    DBNClassifier((8,), pretrain_epochs=1, max_iter=1, random_state=0).fit(X, y).save(model)
    assert "metadata" not in describe(model)["config"]
    assert evaluate_json(capsys, model)["data"] == "digits (test split)"
    small = tmp_path / "small.st"
    DBNClassifier((8,), pretrain_epochs=1, max_iter=1, random_state=0).fit(
        X[:, :10], y).save(small)
    status, _, err = cli(capsys, "evaluate", small)
    line = error_line(err)
    assert status == 1 and "does not record the data" in line and "--data" in line


def test_save_metadata_hook(tmp_path):
    """save(path, metadata=...) keeps JSON data in the file; load ignores it."""
    X = np.eye(4, dtype=np.float32)
    rbm = RBM(2, n_iter=1, random_state=0).fit(X)
    folder = tmp_path
    rbm.save(folder / "a.st", metadata={"data": {"source": "eye"}, "n": [1, 2]})
    assert describe(folder / "a.st")["config"]["metadata"] == {"data": {"source": "eye"},
                                                                "n": [1, 2]}
    np.testing.assert_array_equal(load(folder / "a.st").transform(X), rbm.transform(X))
    with pytest.raises(TypeError, match="metadata must be a dict"):
        rbm.save(folder / "b.st", metadata=["x"])
    with pytest.raises(TypeError, match="cannot be stored"):
        rbm.save(folder / "b.st", metadata={"x": object()})
    assert not (folder / "b.st").exists()


# -- item 11: 'auto' learning rates, --scale ---------------------------------------------------
def test_auto_learning_rates_per_layer():
    """'auto': 0.1 for a Bernoulli layer, 0.01 where either side is Gaussian or ReLU."""
    rates = [c.learning_rate for c in pretrain_configs(
        DBNClassifier((8, 8, 8), visible_units="gaussian"), "bernoulli", "gaussian")]
    assert rates == [0.01, 0.1, 0.1]
    rates = [c.learning_rate for c in pretrain_configs(
        DBNTransformer((8, 8)), ["relu", "bernoulli"], "bernoulli")]
    assert rates == [0.01, 0.01]
    rates = [c.learning_rate for c in pretrain_configs(
        DBNTransformer((8, 8), pretrain_learning_rate=(0.05, "auto")), "bernoulli")]
    assert rates == [0.05, 0.1]
    assert DBNClassifier().pretrain_learning_rate == "auto"
    assert GenerativeDBN().pretrain_learning_rate == "auto"
    assert RBM().learning_rate == "auto"  # BernoulliRBM's 0.1 with Bernoulli units
    assert RBM(learning_rate="auto", visible_units="gaussian")._config().learning_rate == 0.01
    assert RBM(learning_rate="auto")._config().learning_rate == 0.1


def _weights(model) -> list[torch.Tensor]:
    modules = [model.rbm_] if hasattr(model, "rbm_") else model.rbms_
    return [p.detach().clone() for m in modules for p in m.parameters()]


@pytest.mark.parametrize("make", [
    lambda lr: RBM(16, n_iter=2, random_state=0, device="cpu", learning_rate=lr),
    lambda lr: DBNTransformer((16, 8), pretrain_epochs=2, random_state=0, device="cpu",
                              pretrain_learning_rate=lr),
    lambda lr: GenerativeDBN((16, 8), pretrain_epochs=2, random_state=0, device="cpu",
                             pretrain_learning_rate=lr),
])
def test_auto_is_bit_identical_to_0_1_for_bernoulli_layers(make):
    X, y = load_digits()
    auto = _weights(make("auto").fit(X[:200], y[:200]))
    fixed = _weights(make(0.1).fit(X[:200], y[:200]))
    assert all(torch.equal(a, b) for a, b in zip(auto, fixed, strict=True))


@pytest.fixture(scope="module")
def standardised_digits():
    X = load_digits()[0]
    return ((X - X.mean(0)) / np.where(X.std(0) > 0, X.std(0), 1.0)).astype(np.float32)


def test_gaussian_visible_units_train_with_the_default_rate(standardised_digits):
    """Standardised digits, Gaussian visible units: 0.1 (the former default of the DBNs)
    diverges, 'auto' (0.01, the DBNs' default) trains and lowers the reconstruction error."""
    with pytest.raises(DivergenceError):
        RBM(64, visible_units="gaussian", learning_rate=0.1, n_iter=3, random_state=0,
            device="cpu").fit(standardised_digits)
    with pytest.raises(DivergenceError):
        DBNTransformer((128,), visible_units="gaussian", pretrain_learning_rate=0.1,
                       pretrain_epochs=3, random_state=0, device="cpu").fit(standardised_digits)
    rbm = RBM(64, visible_units="gaussian", learning_rate="auto", n_iter=3, random_state=0,
              device="cpu").fit(standardised_digits)
    dbn = DBNTransformer((128,), visible_units="gaussian", pretrain_epochs=3, random_state=0,
                         device="cpu").fit(standardised_digits)
    for history in (rbm.history_, dbn.history_["pretrain"][0]):
        errors = [r["reconstruction_error"] for r in history]
        assert np.isfinite(errors).all() and errors[-1] < errors[0]


def test_gaussian_rbm_from_the_command_line_trains(tmp_path, capsys):
    """train --kind rbm --visible-units gaussian --scale standard: 'auto' rate, no NaN."""
    status, out, err = cli(capsys, "train", "--kind", "rbm", "--visible-units", "gaussian",
                           "--scale", "standard", "--layers", "64", "--epochs", "3",
                           "--no-history", "-o", tmp_path / "r.st")
    assert status == 0, err
    assert describe(tmp_path / "r.st")["config"]["params"]["learning_rate"] == "auto"
    assert "reconstruction error" in out and "nan" not in out


def test_scale_is_fitted_on_training_data_and_applied_later(tmp_path, capsys):
    """--scale standard with Gaussian visible units: stored in the file, applied by
    evaluate and transform (not refitted on their data)."""
    model = tmp_path / "g.st"
    status, out, err = cli(capsys, "train", "--data", "digits", "--visible-units", "gaussian",
                           "--scale", "standard", "--layers", "32", "--pretrain-epochs", "3",
                           "--epochs", "20", "--no-history", "-o", model)
    assert status == 0, err
    test_line = next(line for line in out.splitlines() if line.strip().startswith("test:"))
    scale = describe(model)["config"]["metadata"]["scale"]
    assert scale["kind"] == "standard"
    from deepbelief.cli import load_data

    train = load_data("digits", split="train")
    np.testing.assert_allclose(scale["offset"], train.X.mean(0), atol=1e-6)
    accuracy = evaluate_json(capsys, model)["accuracy"]
    assert f"accuracy {accuracy:.4f}" in test_line and accuracy > 0.85
    status, _, err = cli(capsys, "transform", model, "-o", tmp_path / "f.npy")
    assert status == 0, err
    expected = model_features(load(model),
                              apply_scale(scale, load_data("digits", split="test").X))
    np.testing.assert_allclose(np.load(tmp_path / "f.npy"), expected, rtol=1e-6)


def test_minmax_scale_clips_later_data_to_the_unit_range():
    scale = fit_scale("minmax", np.array([[0.0, 1.0], [4.0, 1.0]]))
    assert scale["scale"] == [4.0, 1.0]  # a constant column is only shifted
    out = apply_scale(scale, np.array([[-2.0, 1.0], [2.0, 3.0], [8.0, 0.0]]))
    np.testing.assert_array_equal(out, [[0.0, 0.0], [0.5, 1.0], [1.0, 0.0]])


def test_scale_option_in_help():
    result = subprocess.run([sys.executable, "-m", "deepbelief", "train", "--help"],
                            capture_output=True, text=True, check=False, timeout=120)
    assert "--scale {none,minmax,standard}" in result.stdout
    assert "auto: 0.1" in " ".join(result.stdout.split())
