"""Deep autoencoders on the command line (``train --kind autoencoder``, ``transform``,
``evaluate``, ``inspect``, ``plot embedding``, ``plot reconstructions``), through
:func:`deepbelief.cli.main` in this process on small models of the digits, and the
pictures they draw (:func:`deepbelief.plotting.plot_reconstruction_comparison`, the codes'
axes of :func:`deepbelief.plotting.plot_embedding`)."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.decomposition import PCA

from deepbelief import DBNAutoencoder, load, plotting
from deepbelief.cli import load_data, main
from deepbelief.datasets import load_digits
from deepbelief.plotting import plot_embedding, plot_reconstruction_comparison
from deepbelief.plotting.comparison import squared_error_per_image

torch.set_num_threads(1)

TRAIN = ["train", "--kind", "autoencoder", "--data", "digits", "--pretrain-epochs", "1",
         "--seed", "0", "-q"]


def train(path, *options: str) -> str:
    """``deepbelief train --kind autoencoder ... -o path``; its stdout."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main([*TRAIN, *options, "-o", str(path)]) == 0
    return out.getvalue()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A 64-16-2 autoencoder trained by the command line, and what train printed."""
    path = tmp_path_factory.mktemp("autoencoder") / "ae.safetensors"
    return path, train(path, "--layers", "16", "2", "--epochs", "3")


@pytest.fixture(scope="module")
def digits_test():
    return load_data("digits", split="test")


@pytest.fixture
def captured(monkeypatch):
    """What the command hands to the plotting functions, which still draw."""
    calls = {}

    def keep(name):
        draw = getattr(plotting, name)

        def wrapper(*args, **kwargs):
            calls[name] = (args, kwargs)
            return draw(*args, **kwargs)

        monkeypatch.setattr(plotting, name, wrapper)

    keep("plot_embedding")
    keep("plot_reconstruction_comparison")
    return calls


# -- train --------------------------------------------------------------------------------------
def test_train_kind_autoencoder_fits_a_dbn_autoencoder(trained):
    """'--kind autoencoder' used to be refused as not available yet: now it trains one."""
    path, printed = trained
    model = load(path)
    assert isinstance(model, DBNAutoencoder)
    assert model.hidden_layer_sizes == (16, 2)
    assert (model.pretrain_epochs, model.max_iter) == (1, 3)
    assert len(model.history_["finetune"]) == 3
    assert ("DBNAutoencoder 64 (bernoulli) -> 16 (bernoulli) -> 2 (gaussian code) -> 16 -> 64"
            in printed)
    assert "fine-tuning: 3 epochs, loss" in printed
    assert "test: reconstruction error" in printed


def test_fine_tuning_options_reach_the_autoencoder(tmp_path):
    """The classifier's fine-tuning options, --solver lbfgs and --loss mean the same for
    an autoencoder: the model equals the estimator built with those parameters."""
    path = tmp_path / "lbfgs.safetensors"
    train(path, "--layers", "8", "2", "--epochs", "2", "--solver", "lbfgs", "--loss",
          "squared_error", "--learning-rate", "0.5", "--early-stopping",
          "--validation-fraction", "0.2", "--batch-size", "64")
    model = load(path)
    params = {"hidden_layer_sizes": (8, 2), "pretrain_epochs": 1, "max_iter": 2,
              "solver": "lbfgs", "loss": "squared_error", "learning_rate_init": 0.5,
              "early_stopping": True, "validation_fraction": 0.2, "batch_size": 64,
              "random_state": 0}
    assert {k: model.get_params()[k] for k in params} == params
    X = load_data("digits", split="train").X
    direct = DBNAutoencoder(**params, device="cpu").fit(X)
    np.testing.assert_allclose(model.transform(X[:50]), direct.transform(X[:50]), rtol=1e-5,
                               atol=1e-6)


def test_dropout_does_not_apply_to_an_autoencoder(capsys):
    assert main([*TRAIN, "--dropout", "0.1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "--dropout does not apply to --kind autoencoder" in err
    assert "without dropout" in err


def test_lbfgs_is_refused_for_a_classifier_with_the_solvers_it_has(capsys):
    assert main(["train", "--solver", "lbfgs", "--data", "digits"]) == 2
    err = capsys.readouterr().err
    assert "--solver" in err and "'adam'" in err and "'sgd'" in err


def test_cross_entropy_on_standardized_data_is_refused_and_the_advice_works(tmp_path,
                                                                            capsys):
    """Standardized data has no cross-entropy: the error says --loss squared_error, which
    then trains; the bad combination of options is a usage error (status 2)."""
    options = ["--layers", "8", "2", "--epochs", "1", "--scale", "standard"]
    assert main([*TRAIN, *options, "--loss", "cross_entropy", "-o",
                 str(tmp_path / "a.safetensors")]) == 2
    err = capsys.readouterr().err
    assert "--loss squared_error" in err
    train(tmp_path / "b.safetensors", *options, "--loss", "squared_error")
    assert load(tmp_path / "b.safetensors").loss_ == "squared_error"


# -- transform, evaluate, inspect ---------------------------------------------------------------
def test_transform_writes_the_codes(trained, digits_test, tmp_path):
    path, _ = trained
    out = tmp_path / "codes.npy"
    assert main(["transform", str(path), "-o", str(out), "-q"]) == 0
    codes = np.load(out)
    assert codes.shape == (len(digits_test.X), 2)
    np.testing.assert_array_equal(codes, load(path).transform(digits_test.X))


def test_evaluate_reports_the_squared_error_per_image(trained, digits_test, capsys):
    path, _ = trained
    assert main(["evaluate", str(path), "--json", "-q"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["model"] == "DBNAutoencoder" and report["n_samples"] == 360
    expected = -load(path).score(digits_test.X)
    assert report["reconstruction_error"] == pytest.approx(expected, rel=1e-5)


def test_inspect_shows_the_encoder_the_code_and_the_decoder(trained, capsys):
    path, _ = trained
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert "DBNAutoencoder" in out
    assert "layers: 64 (bernoulli) -> 16 (bernoulli) -> 2 (gaussian code) -> 16 -> 64" in out
    n_parameters = sum(p.numel() for p in load(path).network_.parameters())
    assert f"parameters: {n_parameters:,}" in out
    assert "finetune epochs 3" in out
    assert "code: 2 units; input units: bernoulli; fine-tuning loss: cross_entropy" in out


# -- pictures -----------------------------------------------------------------------------------
def test_plot_embedding_draws_the_2d_codes_as_they_are(trained, digits_test, tmp_path,
                                                        captured, capsys):
    path, _ = trained
    out = tmp_path / "embedding.png"
    assert main(["plot", "embedding", str(path), "-o", str(out)]) == 0
    assert out.stat().st_size > 0
    (features, labels, _), kwargs = captured["plot_embedding"]
    np.testing.assert_array_equal(features, load(path).transform(digits_test.X))
    np.testing.assert_array_equal(labels, digits_test.y)
    assert kwargs["feature_name"] == "code"
    assert "dimensions" not in capsys.readouterr().err


def test_plot_embedding_of_2d_codes_says_tsne_does_not_apply(trained, digits_test, tmp_path,
                                                               captured, capsys):
    """--method tsne on a 2-D code: the codes are drawn as they are, and the command says
    the option was not used (a new user's trial found it silently ignored)."""
    path, _ = trained
    assert main(["plot", "embedding", str(path), "--method", "tsne",
                 "-o", str(tmp_path / "e.png")]) == 0
    (features, _, _), _ = captured["plot_embedding"]
    np.testing.assert_array_equal(features, load(path).transform(digits_test.X))
    assert "--method tsne does not apply" in capsys.readouterr().err


def test_plot_embedding_of_wider_codes_says_what_it_draws_and_how_to_get_2d(tmp_path,
                                                                            capsys):
    model = tmp_path / "wide.safetensors"
    train(model, "--layers", "8", "3", "--epochs", "1")
    capsys.readouterr()
    assert main(["plot", "embedding", str(model), "-o", str(tmp_path / "e.png")]) == 0
    err = capsys.readouterr().err
    assert "codes have 3 dimensions" in err and "PCA map" in err
    assert "--kind autoencoder --layers 8 2" in err
    assert (tmp_path / "e.png").stat().st_size > 0


def test_plot_reconstructions_sets_ours_beside_pca_of_the_same_size(trained, digits_test,
                                                                    tmp_path, captured):
    """PCA has as many components as the code has units and is fitted on the data the
    model was trained on (its file records it), not on the images drawn."""
    path, _ = trained
    out = tmp_path / "reconstructions.png"
    assert main(["plot", "reconstructions", str(path), "-n", "8", "-o", str(out)]) == 0
    assert out.stat().st_size > 0
    (originals, rows, _), _ = captured["plot_reconstruction_comparison"]
    X = digits_test.X[:8]
    np.testing.assert_array_equal(originals, X)
    assert list(rows) == ["autoencoder (2)", "PCA (2)"]
    np.testing.assert_array_equal(rows["autoencoder (2)"], load(path).reconstruct(X))
    pca = PCA(n_components=2, random_state=0).fit(load_data("digits", split="train").X)
    np.testing.assert_allclose(rows["PCA (2)"], pca.inverse_transform(pca.transform(X)),
                               atol=1e-5)


def test_reconstruction_comparison_is_written_with_each_models_error(tmp_path):
    X, _ = load_digits()
    originals, blurred = X[:12], np.clip(X[:12] + 0.1, 0, 1)
    path = plot_reconstruction_comparison(originals, {"ours": originals, "blur": blurred},
                                          tmp_path / "new" / "compare.png", n_cols=5)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    title = Image.open(path).text["Title"]
    expected = squared_error_per_image(originals, blurred)
    assert title == f"squared error per image: ours 0, blur {expected:.3g}"


@pytest.mark.parametrize("rows, message", [
    ({}, "at least one model"),
    ({"short": np.zeros((3, 64))}, "must match"),
])
def test_reconstruction_comparison_refuses_what_it_cannot_draw(tmp_path, rows, message):
    with pytest.raises(ValueError, match=message):
        plot_reconstruction_comparison(np.zeros((4, 64)), rows, tmp_path / "x.png")


def test_squared_error_per_image_sums_pixels_and_averages_images():
    originals = np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    assert squared_error_per_image(originals, originals + 0.5) == pytest.approx(0.75)
    assert squared_error_per_image(originals, np.zeros((2, 3))) == pytest.approx(1.5)


def test_embedding_axes_name_the_codes(tmp_path, monkeypatch):
    from deepbelief.plotting import charts

    figures = []
    monkeypatch.setattr(charts, "save_figure", lambda fig, path: figures.append(fig) or path)
    codes = np.random.default_rng(0).normal(size=(30, 2))
    plot_embedding(codes, np.arange(30) % 3, tmp_path / "e.png", feature_name="code")
    plot_embedding(codes, None, tmp_path / "f.png")
    assert [ax.get_xlabel() for fig in figures for ax in fig.axes] == ["code 1", "feature 1"]


# -- the README's example -----------------------------------------------------------------------
def test_readme_example_2d_codes_beat_two_principal_components():
    """The README's digits example runs as printed, and its 2-D codes classify by 5-NN
    better than 2-component PCA's, as the comments after its prints say."""
    import re
    from pathlib import Path

    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    code = next(b for b in blocks if "DBNAutoencoder((128, 64, 2)" in b)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
    ours, pca = (float(line) for line in out.getvalue().split())
    printed = [float(v) for v in re.findall(r"\)\)\s+# (0\.\d+)", code)]
    assert ours > pca + 0.15
    assert ours == pytest.approx(printed[0], abs=0.03)
    assert pca == pytest.approx(printed[1], abs=0.001)
