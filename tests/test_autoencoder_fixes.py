"""What a new user's trial of the deep autoencoders found, each situation fixed: output files
in a format the command cannot write, training errors shown without their units, messages
of ``plot reconstructions`` that mixed up its inputs, advice in the wrong syntax, options
ignored without a word, a code that compresses nothing, and the generative DBN's bare
error for autoencoder layers."""

from __future__ import annotations

import contextlib
import io
import json
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.preprocessing import MinMaxScaler

from deepbelief import (
    DBNAutoencoder,
    DBNTransformer,
    GenerativeDBN,
    ReplicatedSoftmaxRBM,
    SequenceCRBM,
    load,
)
from deepbelief.cli import main
from deepbelief.datasets import load_digits
from deepbelief.exceptions import DivergenceError

torch.set_num_threads(1)

ROOT = Path(__file__).parents[1]
TRAIN = ["train", "--kind", "autoencoder", "--layers", "8", "2", "--pretrain-epochs", "1",
         "--epochs", "1", "--seed", "0", "-q", "--no-history"]
FAST = {"pretrain_epochs": 1, "max_iter": 1, "random_state": 0, "device": "cpu"}


def cli(capsys, *argv) -> tuple[int, str, str]:
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    return load_digits()[0][:300]


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """Tiny models and data files: an autoencoder of the digits, and the digits at their
    original 0..16 scale (outside [0, 1], so an autoencoder standardises them)."""
    path = tmp_path_factory.mktemp("autoencoder_fixes")
    X, y = load_digits()
    np.savez(path / "raw.npz", X=X * 16, y=y)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main([*TRAIN, "--data", "digits", "-o", str(path / "ae.safetensors")]) == 0
    return path


# -- (2) transform: the output suffix, checked against what the model kind writes ----------
@pytest.mark.parametrize("output", ["codes.png", "codes.tsv", "codes"])
def test_transform_refuses_a_suffix_it_cannot_write_instead_of_writing_csv(output, folder,
                                                                          capsys):
    """``transform -o codes.png`` wrote CSV under a picture's name: now a usage error that
    lists the suffixes this model kind writes, and nothing is written."""
    status, _, err = cli(capsys, "transform", folder / "ae.safetensors", "-o",
                         folder / output)
    assert status == 2, err
    assert "error:" in err and "written as .npy or .csv" in err
    assert not (folder / output).exists()


def test_transform_writes_the_file_it_is_given_whatever_the_suffix_case(folder, capsys):
    """``-o codes.NPY`` is accepted as .npy, and written under that name (numpy's own
    naming wrote codes.NPY.npy)."""
    status, _, err = cli(capsys, "transform", folder / "ae.safetensors", "-o",
                         folder / "codes.NPY")
    assert status == 0, err
    assert np.load(folder / "codes.NPY").shape == (360, 2)
    assert not (folder / "codes.NPY.npy").exists()


def test_transform_of_a_sequence_model_accepts_npz_and_lists_it(tmp_path, capsys):
    """The check follows the model kind: a sequence model also writes .npz (one array per
    sequence), so its refusal lists .npz too, and .npz is written."""
    rng = np.random.default_rng(0)
    sequences = [rng.normal(size=(12, 3)).astype(np.float32) for _ in range(2)]
    model = SequenceCRBM((4,), order=2, pretrain_epochs=1, random_state=0, device="cpu")
    model.fit(sequences).save(tmp_path / "seq.safetensors")
    np.savez(tmp_path / "seqs.npz", *sequences)
    status, _, err = cli(capsys, "transform", tmp_path / "seq.safetensors", "--data",
                         tmp_path / "seqs.npz", "-o", tmp_path / "f.png")
    assert status == 2 and "written as .npz, .npy or .csv" in err
    status, _, err = cli(capsys, "transform", tmp_path / "seq.safetensors", "--data",
                         tmp_path / "seqs.npz", "-o", tmp_path / "f.npz")
    assert status == 0, err
    assert len(np.load(tmp_path / "f.npz").files) == 2


def test_transform_of_a_document_model_names_npy_instead_of_appending_it(tmp_path, capsys):
    """A document model's features are saved with numpy, which appended .npy to any other
    name (``-o topics.csv`` wrote ``topics.csv.npy``): it is refused, naming .npy."""
    rng = np.random.default_rng(0)
    from scipy import sparse

    counts = sparse.csr_matrix(rng.poisson(1.0, size=(20, 12)).astype(np.float64))
    sparse.save_npz(tmp_path / "counts.npz", counts)
    ReplicatedSoftmaxRBM(3, n_iter=1, random_state=0, device="cpu").fit(counts).save(
        tmp_path / "rsm.safetensors")
    status, _, err = cli(capsys, "transform", tmp_path / "rsm.safetensors", "--data",
                         tmp_path / "counts.npz", "-o", tmp_path / "topics.csv")
    assert status == 2 and "written as .npy" in err
    assert not list(tmp_path.glob("topics.csv*"))


# -- (12) transform's CSV header ---------------------------------------------------------------
def test_transform_csv_header_is_get_feature_names_out(folder, capsys):
    """The CSV columns were feature_0, ...; they are the model's get_feature_names_out()."""
    status, out, err = cli(capsys, "transform", folder / "ae.safetensors", "--limit", "3")
    assert status == 0, err
    header = out.splitlines()[0].split(",")
    assert header == list(load(folder / "ae.safetensors").get_feature_names_out())
    assert header == ["dbnautoencoder0", "dbnautoencoder1"]


# -- (3) the units of the training history -----------------------------------------------------
def test_train_and_inspect_say_the_history_is_in_standardised_units(folder, capsys):
    """The history's errors were in standardised units and evaluate's in the data's, with
    nothing said: train and inspect now name the units of the history."""
    model = folder / "raw.safetensors"
    status, out, err = cli(capsys, *TRAIN, "--data", folder / "raw.npz", "-o", model)
    assert status == 0, err
    assert "units of the errors and losses above: standardised" in out
    assert "the scores below are in the data's units" in out
    status, out, _ = cli(capsys, "inspect", model)
    assert status == 0 and "units: standardised" in out and "data's units" in out
    status, out, _ = cli(capsys, "inspect", model, "--json")
    assert json.loads(out)["history"]["units"] == "standardised"
    status, out, _ = cli(capsys, "inspect", folder / "ae.safetensors", "--json")
    assert json.loads(out)["history"]["units"] == "data"
    status, out, _ = cli(capsys, "inspect", folder / "ae.safetensors")
    assert "standardised" not in out


def test_the_history_docstring_names_its_units():
    assert "standardised when ``input_mean_`` is set" in DBNAutoencoder.__doc__


# -- (4) plot reconstructions: what each input is for ------------------------------------------
def test_plot_reconstructions_says_what_data_and_pca_each_use(folder, capsys):
    """With --data given, the messages said 'using the data the model was trained on
    (--data chooses other data)' for PCA's fit: they now say that --data chooses the
    images drawn and that PCA is fitted on the training data."""
    np.save(folder / "some.npy", (load_digits()[0][:30] * 16).astype(np.float32))
    model = folder / "raw.safetensors"
    if not model.exists():
        assert cli(capsys, *TRAIN, "--data", folder / "raw.npz", "-o", model)[0] == 0
    status, _, err = cli(capsys, "plot", "reconstructions", model, "--data",
                         folder / "some.npy", "-n", "5", "-o", folder / "r.png")
    assert status == 0, err
    assert "images drawn: the first 5 of" in err and "some.npy" in err
    assert "PCA fitted on the autoencoder's training data" in err
    assert "--data does not change it" in err
    assert "--data chooses other data" not in err


# -- (5) the cross-entropy with Gaussian input units -------------------------------------------
def test_cross_entropy_with_gaussian_units_says_to_drop_them_and_that_works(digits):
    """The error advised scaling the data, not dropping visible_units='gaussian'."""
    with pytest.raises(ValueError, match=r"drop visible_units='gaussian'"):
        DBNAutoencoder((8, 2), visible_units="gaussian", loss="cross_entropy",
                       **FAST).fit(digits)
    model = DBNAutoencoder((8, 2), loss="cross_entropy", **FAST).fit(digits)
    assert model.loss_ == "cross_entropy"


def test_cross_entropy_on_data_outside_0_1_says_to_scale_it_and_that_works(digits):
    with pytest.raises(ValueError, match=r"outside \[0, 1\]: scale X into \[0, 1\]"):
        DBNAutoencoder((8, 2), loss="cross_entropy", **FAST).fit(digits * 16)
    scaled = MinMaxScaler().fit_transform(digits * 16)
    assert DBNAutoencoder((8, 2), loss="cross_entropy", **FAST).fit(scaled).loss_ == (
        "cross_entropy")


@pytest.mark.parametrize(("options", "advice"), [
    (["--visible-units", "gaussian"], "drop --visible-units gaussian"),
    (["--scale", "standard"], "use --scale minmax"),
    (["--data", "RAW"], "add --scale minmax"),
])
def test_cli_cross_entropy_combinations_are_usage_errors_naming_options(options, advice,
                                                                       folder, capsys):
    """On the command line the error named MinMaxScaler and exited 1: it is a usage error
    (status 2) in the command's options, without traceback."""
    options = [str(folder / "raw.npz") if o == "RAW" else o for o in options]
    status, _, err = cli(capsys, *TRAIN, *options, "--loss", "cross_entropy", "-o",
                         folder / "x.safetensors")
    assert status == 2, err
    assert advice in err and "--loss squared_error" in err
    assert "Traceback" not in err and "MinMaxScaler" not in err and "_units=" not in err


def test_cli_cross_entropy_advice_works(folder, capsys):
    status, _, err = cli(capsys, *TRAIN, "--data", folder / "raw.npz", "--scale", "minmax",
                         "--loss", "cross_entropy", "-o", folder / "mm.safetensors")
    assert status == 0, err
    assert load(folder / "mm.safetensors").loss_ == "cross_entropy"


# -- (6) layer options that no layer uses ------------------------------------------------------
@pytest.mark.parametrize(("params", "named"), [
    ({"corruption_level": 0.5}, "corruption_level=0.5"),
    ({"corruption": "gaussian"}, "corruption='gaussian'"),
    ({"tied_weights": False}, "tied_weights=False"),
    ({"layer_type": "autoencoder", "corruption_level": 0.5}, "corruption_level=0.5"),
])
def test_layer_options_that_no_layer_uses_warn_naming_layer_type(params, named, digits):
    with pytest.warns(UserWarning, match=re.escape(named)) as caught:
        DBNAutoencoder((8, 2), **params, **FAST).fit(digits)
    message = next(str(w.message) for w in caught if named in str(w.message))
    assert f"layer_type={params.get('layer_type', 'rbm')!r}" in message


@pytest.mark.parametrize("params", [
    {"layer_type": "denoising", "corruption_level": 0.5, "tied_weights": False},
    {"layer_type": ("autoencoder", "rbm"), "tied_weights": False},
    {},
])
def test_layer_options_that_a_layer_uses_do_not_warn(params, digits):
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        DBNAutoencoder((8, 2), **params, **FAST).fit(digits)


# -- (7) sample's advice in the command's options ----------------------------------------------
def test_sample_of_a_dbn_with_an_autoencoder_on_top_gives_train_options(folder, capsys):
    """The error said layer_type=('denoising', 'rbm'), Python's syntax, on the command line:
    it gives train's --layer-type, and that advice trains a model that samples."""
    common = ["train", "--kind", "transformer", "--layers", "8", "4", "--pretrain-epochs",
              "1", "-q", "--no-history"]
    status, _, err = cli(capsys, *common, "--layer-type", "denoising", "-o",
                         folder / "dae.safetensors")
    assert status == 0, err
    status, _, err = cli(capsys, "sample", folder / "dae.safetensors", "-o",
                         folder / "s.png")
    assert status == 1
    assert "--layer-type denoising rbm" in err and "layer_type" not in err
    assert "--layers 8 4" in err
    status, _, err = cli(capsys, *common, "--layer-type", "denoising", "rbm", "-o",
                         folder / "ok.safetensors")
    assert status == 0, err
    status, _, err = cli(capsys, "sample", folder / "ok.safetensors", "-n", "2",
                         "--n-gibbs", "2", "-o", folder / "s.png")
    assert status == 0, err


def test_sample_of_an_autoencoder_names_the_pictures_it_has(folder, capsys):
    status, _, err = cli(capsys, "sample", folder / "ae.safetensors", "-o", folder / "s.png")
    assert status == 1
    assert "deepbelief plot reconstructions" in err and "deepbelief plot embedding" in err


# -- (8) the divergence advice names the solver ------------------------------------------------
def test_divergence_advice_names_the_solver_and_the_advice_works(digits):
    with pytest.raises(DivergenceError) as caught:
        DBNAutoencoder((8, 2), solver="sgd", learning_rate_init=1e6, **FAST).fit(digits)
    message = str(caught.value)
    assert "solver='sgd' at learning_rate_init=1e+06" in message
    assert "solver='adam' with learning_rate_init=0.001" in message
    DBNAutoencoder((8, 2), solver="adam", learning_rate_init=0.001, **FAST).fit(digits)


def test_divergence_advice_on_the_command_line_names_the_options(folder, capsys):
    status, _, err = cli(capsys, *TRAIN, "--data", "digits", "--solver", "sgd",
                         "--learning-rate", "1e6", "-o", folder / "div.safetensors")
    assert status == 1
    assert "--solver sgd" in err and "--learning-rate 1e+06" in err
    assert "--solver adam with --learning-rate 0.001" in err
    assert "learning_rate_init" not in err


# -- (9) train --help: the autoencoder's own defaults ------------------------------------------
def test_train_help_states_the_defaults_of_the_autoencoder(capsys):
    assert main(["train", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "autoencoder: 256 64 2" in text
    assert "autoencoder: auto: 0.001 with adam, 0.01 with sgd, 1 with lbfgs" in text
    visible = text[text.rindex("--visible-units {"):text.rindex("--hidden-units UNITS")]
    assert "default: auto" in visible or "autoencoder: auto" in visible
    defaults = DBNAutoencoder().get_params()
    assert defaults["hidden_layer_sizes"] == (256, 64, 2)
    assert defaults["learning_rate_init"] == defaults["visible_units"] == "auto"


# -- (10) the README's digits figure: which seed, and the mean -----------------------------
def test_readme_says_its_digits_figure_is_seed_0_and_gives_the_five_seed_mean():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    benchmarks = (ROOT / "BENCHMARKS.md").read_text(encoding="utf-8")
    row = next(line for line in benchmarks.splitlines()
               if line.startswith("| 5-NN accuracy of the 2-D codes"))
    mean = float(row.split("|")[-2].strip("* "))
    assert "# 0.861 (seed 0)" in readme
    assert f"**{mean:.3f}**" in readme
    assert "docs/gallery/autoencoder_embedding.png" in readme and "0.8435" in readme
    assert "set_num_threads" in readme


# -- (11) a code no smaller than the input -----------------------------------------------------
def test_a_code_as_wide_as_the_input_warns_that_it_does_not_compress(digits):
    with pytest.warns(UserWarning, match="does not compress"):
        DBNAutoencoder((8, 10), **FAST).fit(digits[:, :10])
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        DBNAutoencoder((8, 9), **FAST).fit(digits[:, :10])


# -- (12) GenerativeDBN(layer_type=...) --------------------------------------------------------
@pytest.mark.parametrize("name", ["layer_type", "corruption", "tied_weights"])
def test_generative_dbn_refuses_autoencoder_layers_saying_what_to_use(name, digits):
    """It raised a bare 'unexpected keyword argument'; the error says autoencoder layers
    are not available in the generative model and what to use, which works."""
    with pytest.raises(TypeError, match="autoencoder layers are not available") as caught:
        GenerativeDBN(**{name: "denoising"})
    assert "DBNTransformer" in str(caught.value) and "DBNAutoencoder" in str(caught.value)
    DBNTransformer((8,), layer_type="denoising", pretrain_epochs=1, random_state=0,
                   device="cpu").fit(digits)
    import copy
    import pickle

    from sklearn.base import clone

    model = GenerativeDBN((8,), pretrain_epochs=1)
    assert clone(model).get_params() == model.get_params()
    assert pickle.loads(pickle.dumps(copy.deepcopy(model))).get_params() == (
        model.get_params())


@pytest.mark.parametrize("cls", ["DBNTransformer", "DBNClassifier", "DBNRegressor"])
def test_every_dbn_warns_of_corruption_that_its_layers_ignore(cls):
    """A DBN of plain autoencoder layers given a corruption level warns, and the advice
    names only 'denoising' (an 'autoencoder' layer would ignore it as well)."""
    import deepbelief

    X = np.random.default_rng(0).random((40, 6))
    y = np.arange(40) % 2
    model = getattr(deepbelief, cls)((4,), layer_type="autoencoder", corruption_level=0.5,
                                     pretrain_epochs=1, device="cpu", random_state=0,
                                     **({} if cls == "DBNTransformer" else {"max_iter": 2}))
    with pytest.warns(UserWarning, match=r"Give layer_type='denoising' \(") as caught:
        model.fit(X, y)
    assert not any("'autoencoder' (for every" in str(w.message) for w in caught)
    model.set_params(layer_type="denoising")
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*ignored, as layer_type.*")
        model.fit(X, y)  # the advice followed: silent
