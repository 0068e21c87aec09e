"""The hand-off to PyTorch: ``to_torch()`` of the estimators and ``deepbelief export``.

Every supported estimator, on data in [0, 1] (Bernoulli input units, clipped) and on
real-valued data (standardised inside the estimator where it offers
``visible_units='auto'``, else Gaussian units on standardised data): the plain module
gives the estimator's outputs, is a copy, runs without deepbelief, and its ONNX file gives
the same outputs in onnxruntime for batches of 1 and 7.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError

from deepbelief import (
    RBM,
    ConditionalRBM,
    DBNAutoencoder,
    DBNClassifier,
    DBNRegressor,
    DBNTransformer,
    GenerativeDBN,
    SequenceCRBM,
    load,
)
from deepbelief.cli import main
from deepbelief.cli.provenance import apply_scale
from deepbelief.datasets import load_digits
from deepbelief.exceptions import DataRangeWarning

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

#: estimator class -> (small parameters, the method ``to_torch()`` reproduces).
MODELS = {
    DBNClassifier: ({"hidden_layer_sizes": (16, 8), "pretrain_epochs": 1, "max_iter": 5},
                    "predict_proba"),
    DBNRegressor: ({"hidden_layer_sizes": (16,), "pretrain_epochs": 1, "max_iter": 5},
                   "predict"),
    DBNTransformer: ({"hidden_layer_sizes": (16, 8), "pretrain_epochs": 1}, "transform"),
    RBM: ({"n_components": 8, "n_iter": 2, "learning_rate": "auto"}, "transform"),
    DBNAutoencoder: ({"hidden_layer_sizes": (16, 2), "pretrain_epochs": 1, "max_iter": 3},
                     "transform"),
}
KINDS = ("bernoulli", "real")


def _offers_auto(cls) -> bool:
    return "auto" in cls._parameter_constraints["visible_units"][0].options


def _data(cls, kind: str, seed: int = 0):
    """``(X, y, visible_units)``: the digits (in [0, 1]), or real-valued columns far from
    standardised (mean 3, std 5) for an estimator that standardises them, else
    standardised ones for Gaussian units; y has one column for the Bernoulli case and two
    for the real one (a regressor's targets) or three classes."""
    rng = np.random.default_rng(seed)
    if kind == "bernoulli":
        X, digits = load_digits()
        X, digits = X[:200], digits[:200]
        y = digits if cls is DBNClassifier else X[:, 20:30].sum(1) * 10 + 5
        return X, y, "bernoulli"
    auto = _offers_auto(cls)
    X = rng.normal(3.0, 5.0, (200, 8)) if auto else rng.normal(0.0, 1.0, (200, 8))
    if cls is DBNClassifier:
        y = np.digitize(X[:, 0] + X[:, 1], np.quantile(X[:, 0] + X[:, 1], [1 / 3, 2 / 3]))
    else:
        y = np.stack([X[:, 0] * 4 + 100, X[:, 1] - X[:, 2]], axis=1)
    return X, y, "auto" if auto else "gaussian"


def _fit(cls, kind: str, seed: int = 0):
    params, _ = MODELS[cls]
    X, y, units = _data(cls, kind, seed)
    model = cls(**params, visible_units=units, random_state=seed, device="cpu")
    return model.fit(X, y) if cls in (DBNClassifier, DBNRegressor) else model.fit(X)


@pytest.fixture(scope="module")
def fitted():
    return {(cls, kind): _fit(cls, kind) for cls in MODELS for kind in KINDS}


def _expected(model, X) -> np.ndarray:
    return getattr(model, MODELS[type(model)][1])(X)


def _run(module: torch.nn.Module, X) -> np.ndarray:
    with torch.no_grad():
        return module(torch.as_tensor(X, dtype=torch.float32)).numpy()


def _close(actual, expected) -> None:
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5)


CASES = [pytest.param(cls, kind, id=f"{cls.__name__}-{kind}") for cls in MODELS
         for kind in KINDS]


@pytest.mark.parametrize(("cls", "kind"), CASES)
def test_module_computes_the_estimators_output_from_raw_input(fitted, cls, kind):
    """The plain module maps raw input to predict_proba / predict / transform, its input
    stage clipping (Bernoulli units) or standardising (real-valued data), with standard
    torch layers only."""
    model = fitted[cls, kind]
    X = _data(cls, kind)[0]
    module = model.to_torch()
    _close(_run(module, X), _expected(model, X))
    assert all(type(m).__module__.startswith("torch.nn") for m in module.modules())
    assert not module.training
    first = next(iter(module.named_children()))[0]
    standardised = getattr(model, "input_mean_", None) is not None
    assert first == ("standardize" if standardised else "clip" if kind == "bernoulli"
                     else "linear1")
    assert standardised == (_data(cls, kind)[2] == "auto")
    if kind == "bernoulli":  # out-of-range input is clipped as the estimator clips it
        outside = X * 1.5 - 0.2
        with pytest.warns(DataRangeWarning):
            expected = _expected(model, outside)
        _close(_run(module, outside), expected)


VARIANTS = {
    "autoencoder-layers-relu-gaussian": (DBNTransformer, {
        "hidden_layer_sizes": (8, 4), "layer_type": ("denoising", "rbm"),
        "hidden_units": ("relu", "gaussian"), "pretrain_epochs": 1}),
    "classifier-dropout-relu": (DBNClassifier, {
        "hidden_layer_sizes": (16, 8), "hidden_units": "relu", "dropout": 0.3,
        "pretrain_epochs": 1, "max_iter": 3}),
    "rbm-relu-visible": (RBM, {"n_components": 6, "n_iter": 1, "visible_units": "relu",
                               "learning_rate": 0.01}),
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_layer_kinds_unit_types_and_dropout(variant, tmp_path, capsys):
    """Autoencoder layers, rectified and linear hidden units, dropout (left out after
    training) and rectified visible units (clipped below at 0): the module and its ONNX
    file give the estimator's outputs."""
    cls, params = VARIANTS[variant]
    X, digits = load_digits()
    X, digits = X[:200] * 2.0, digits[:200]  # rectified visible units: non-negative values
    if params.get("visible_units") != "relu":
        X = X / 2.0
    model = cls(**params, random_state=0, device="cpu")
    model = model.fit(X, digits) if cls is DBNClassifier else model.fit(X)
    module = model.to_torch()
    if variant == "rbm-relu-visible":
        assert isinstance(module.clip, torch.nn.Hardtanh) and module.clip.min_val == 0.0
        X = X - 0.5  # some values below the range: clipped by both
        with pytest.warns(DataRangeWarning):
            expected = _expected(model, X)
    else:
        expected = _expected(model, X)
    _close(_run(module, X), expected)
    if variant == "classifier-dropout-relu":
        assert not any(isinstance(m, torch.nn.Dropout) for m in module.modules())
        assert isinstance(module.relu1, torch.nn.ReLU)
    pytest.importorskip("onnxscript")
    path = model.save(tmp_path / "model.safetensors")
    assert main(["export", str(path), "-o", str(tmp_path / "model.onnx"), "-q"]) == 0
    for n, out in zip((1, 7), _onnx_outputs(tmp_path / "model.onnx", X), strict=True):
        _close(out, expected[:n])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_model_fitted_on_cuda_is_handed_over_on_the_cpu():
    """A model fitted on the GPU gives a CPU module with the same outputs."""
    X, y = load_digits()
    model = DBNClassifier((16,), pretrain_epochs=1, max_iter=3, random_state=0,
                          device="cuda").fit(X[:200], y[:200])
    module = model.to_torch()
    assert {p.device.type for p in module.parameters()} == {"cpu"}
    _close(_run(module, X[:50]), model.predict_proba(X[:50]))


def test_classifier_logits_come_before_the_softmax(fitted):
    """Dropping the last layer gives the logits: their log-softmax is predict_log_proba."""
    model = fitted[DBNClassifier, "bernoulli"]
    X = _data(DBNClassifier, "bernoulli")[0]
    module = model.to_torch()
    assert isinstance(module[-1], torch.nn.Softmax)
    logits = torch.as_tensor(_run(module[:-1], X))
    _close(torch.log_softmax(logits, 1).numpy(), model.predict_log_proba(X))


def test_regressor_output_shape_follows_predict(fitted):
    """One target: shape (batch,); two targets: (batch, 2), as predict returns them."""
    for kind, shape in (("bernoulli", (200,)), ("real", (200, 2))):
        model = fitted[DBNRegressor, kind]
        assert _run(model.to_torch(), _data(DBNRegressor, kind)[0]).shape == shape


def _estimator_parameters(model) -> list[torch.Tensor]:
    """The tensors ``to_torch()`` copies from: the fitted network, layer or layers."""
    modules = [getattr(model, name) for name in ("network_", "rbm_") if hasattr(model, name)]
    return [p for m in modules or model.rbms_ for p in m.parameters()]


@pytest.mark.parametrize("cls", list(MODELS), ids=lambda c: c.__name__)
def test_module_is_a_copy_that_a_refit_leaves_alone(cls):
    """The module holds float32 CPU copies: changing the estimator's weights in place, or
    refitting it on other data, does not change the module."""
    model = _fit(cls, "bernoulli")
    X = _data(cls, "bernoulli")[0]
    module = model.to_torch()
    before = {k: v.clone() for k, v in module.state_dict().items()}
    out = _run(module, X)
    assert all(v.dtype == torch.float32 and v.device.type == "cpu" for v in before.values())
    with torch.no_grad():
        for p in _estimator_parameters(model):
            p.add_(1.0)
    assert not np.allclose(_expected(model, X), out, atol=1e-4)
    X2, y2, _ = _data(cls, "bernoulli")
    model.set_params(random_state=1)
    model.fit(1.0 - X2, y2) if cls in (DBNClassifier, DBNRegressor) else model.fit(1.0 - X2)
    after = module.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    np.testing.assert_array_equal(_run(module, X), out)


def test_module_runs_without_deepbelief_and_under_torch_export(fitted, tmp_path):
    """A pickled module loads in a Python where deepbelief cannot be imported; the module
    exports with torch.export with any batch size."""
    model = fitted[DBNClassifier, "real"]
    X = np.ascontiguousarray(_data(DBNClassifier, "real")[0][:7], dtype=np.float32)
    module = model.to_torch()
    torch.save(module, tmp_path / "net.pt")
    np.save(tmp_path / "x.npy", X)
    code = ("import sys; sys.modules['deepbelief'] = None\n"
            "import numpy as np, torch\n"
            f"net = torch.load({str(tmp_path / 'net.pt')!r}, weights_only=False)\n"
            f"x = torch.from_numpy(np.load({str(tmp_path / 'x.npy')!r}))\n"
            f"np.save({str(tmp_path / 'y.npy')!r}, net(x).detach().numpy())\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    _close(np.load(tmp_path / "y.npy"), model.predict_proba(X))
    assert pickle.loads(pickle.dumps(module)) is not None
    program = torch.export.export(module, (torch.as_tensor(X),),
                                  dynamic_shapes=({0: torch.export.Dim("batch")},))
    for n in (1, 7):
        _close(program.module()(torch.as_tensor(X[:n])).detach().numpy(),
               model.predict_proba(X[:n]))


@pytest.mark.parametrize("cls", [GenerativeDBN, ConditionalRBM, SequenceCRBM],
                         ids=lambda c: c.__name__)
def test_models_without_a_feed_forward_pass_say_what_to_use(cls):
    """GenerativeDBN, ConditionalRBM and SequenceCRBM raise NotImplementedError naming the
    estimators that export and what to use instead."""
    with pytest.raises(NotImplementedError) as info:
        cls().to_torch()
    message = str(info.value)
    assert message.startswith(f"{cls.__name__} has no network to hand to PyTorch")
    assert "DBNClassifier, DBNRegressor, DBNTransformer, RBM and DBNAutoencoder" in message
    assert {GenerativeDBN: "train a DBNClassifier", ConditionalRBM: "DBNRegressor",
            SequenceCRBM: "DBNTransformer on windows"}[cls] in message


def test_unfitted_estimator_is_not_fitted_error():
    with pytest.raises(NotFittedError):
        DBNClassifier().to_torch()


# -- deepbelief export -------------------------------------------------------------------------
def _onnx_outputs(path: Path, X: np.ndarray) -> list[np.ndarray]:
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["input"]
    return [session.run(None, {"input": np.ascontiguousarray(X[:n], dtype=np.float32)})[0]
            for n in (1, 7)]


@pytest.mark.parametrize(("cls", "kind"), CASES)
def test_export_onnx_gives_the_estimators_outputs(fitted, cls, kind, tmp_path, capsys):
    """``deepbelief export MODEL -o model.onnx``: onnxruntime gives the estimator's outputs
    for batches of 1 and 7."""
    pytest.importorskip("onnxscript")
    model = fitted[cls, kind]
    X = _data(cls, kind)[0]
    path = model.save(tmp_path / "model.safetensors")
    assert main(["export", str(path), "-o", str(tmp_path / "model.onnx")]) == 0
    for n, out in zip((1, 7), _onnx_outputs(tmp_path / "model.onnx", X), strict=True):
        _close(out, _expected(model, X[:n]))
    assert "wrote" in capsys.readouterr().err


def test_export_of_a_trained_command_line_model_includes_its_scaling(tmp_path, capsys):
    """A model trained with 'train --scale minmax' is exported with that scaling (and its
    clipping): the ONNX and .pt2 files take the raw data, as 'predict' does."""
    pytest.importorskip("onnxscript")
    X = load_digits()[0][:40] * 16 + 3.0  # raw values, as a CSV file would hold them
    np.savez(tmp_path / "data.npz", X=X, y=load_digits()[1][:40])
    model_file = tmp_path / "clf.safetensors"
    assert main(["train", "--data", str(tmp_path / "data.npz"), "--layers", "8", "--epochs",
                 "2", "--pretrain-epochs", "1", "--scale", "minmax", "-o", str(model_file),
                 "-q"]) == 0
    record = load(model_file)
    from deepbelief.io.modelfile import describe

    scale = describe(model_file)["config"]["metadata"]["scale"]
    expected = record.predict_proba(apply_scale(scale, X))
    assert main(["export", str(model_file), "-o", str(tmp_path / "clf.onnx"), "-q"]) == 0
    for n, out in zip((1, 7), _onnx_outputs(tmp_path / "clf.onnx", X), strict=True):
        _close(out, expected[:n])
    assert main(["export", str(model_file), "-o", str(tmp_path / "clf.pt2"), "-q"]) == 0
    program = torch.export.load(str(tmp_path / "clf.pt2")).module()
    for n in (1, 7):
        _close(program(torch.as_tensor(X[:n], dtype=torch.float32)).detach().numpy(),
               expected[:n])
    capsys.readouterr()


def _saved(tmp_path, cls=DBNTransformer) -> Path:
    X = load_digits()[0][:50]
    model = cls(hidden_layer_sizes=(4,), pretrain_epochs=1, device="cpu", random_state=0)
    return model.fit(X, load_digits()[1][:50]).save(tmp_path / "model.safetensors")


def test_export_without_onnx_packages_gives_the_pip_command(tmp_path, capsys, monkeypatch):
    """Without onnxscript: exit 1 and the pip command of the 'onnx' extra, which lists what
    the export imports; the other format named in the message works meanwhile."""
    path = _saved(tmp_path)
    monkeypatch.setitem(sys.modules, "onnxscript", None)
    assert main(["export", str(path), "-o", str(tmp_path / "m.onnx")]) == 1
    err = capsys.readouterr().err
    assert "needs the package onnxscript" in err
    assert "pip install 'deepbelief[onnx]'" in err and "-o model.pt2" in err
    assert not (tmp_path / "m.onnx").exists()
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]["onnx"]
    assert {r.split(">")[0].split("=")[0] for r in extra} >= {"onnx", "onnxscript"}
    assert main(["export", str(path), "-o", str(tmp_path / "m.pt2"), "-q"]) == 0


def test_export_errors_say_what_to_do(tmp_path, capsys):
    """An unsupported model kind, an unknown suffix, an output under a file: one line,
    what to do; nothing written. An existing file is replaced, as other commands do."""
    generative = _saved(tmp_path, GenerativeDBN)
    assert main(["export", str(generative), "-o", str(tmp_path / "g.pt2")]) == 1
    err = capsys.readouterr().err
    assert "holds a GenerativeDBN model, which has no network to export" in err
    assert "train --kind classifier, regressor, transformer, rbm, autoencoder and documents" in err
    path = _saved(tmp_path)
    assert main(["export", str(path), "-o", str(tmp_path / "m.pt")]) == 2
    assert "give a file ending in .onnx (ONNX) or .pt2" in capsys.readouterr().err
    (tmp_path / "file").write_text("")
    assert main(["export", str(path), "-o", str(tmp_path / "file" / "m.pt2")]) == 1
    assert "is a file, not a folder" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "missing.safetensors"), "-o",
                 str(tmp_path / "m.pt2")]) == 1
    assert "not found" in capsys.readouterr().err
    target = tmp_path / "m.pt2"
    target.write_bytes(b"old")
    assert main(["export", str(path), "-o", str(target), "-q"]) == 0
    assert target.read_bytes() != b"old"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_export_help(capsys):
    assert main(["export", "--help"]) == 0
    out = capsys.readouterr().out
    assert "usage: deepbelief export" in out and ".onnx" in out and ".pt2" in out
    assert main(["--help"]) == 0
    assert "export" in capsys.readouterr().out
