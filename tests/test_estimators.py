"""Behaviour of the scikit-learn estimators: RBM, DBNTransformer, DBNClassifier, DBNRegressor.

Every model here is tiny (a few units, a few epochs) and trained on the CPU with a fixed
seed, so the whole file runs in seconds on one thread.
"""

from __future__ import annotations

import itertools
import json
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import DataConversionWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neural_network import BernoulliRBM
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler

import deepbelief
from deepbelief import (
    RBM,
    DataScaleWarning,
    DBNClassifier,
    DBNRegressor,
    DBNTransformer,
    DivergenceError,
    ModelFileError,
    load,
)
from deepbelief.datasets import load_digits
from deepbelief.estimators import _early_stopping
from deepbelief.evaluation import pseudo_likelihood
from deepbelief.io.modelfile import metadata_sha256
from deepbelief.training.callbacks import Callback

# Small settings shared by the DBN estimators below.
SMALL = {"hidden_layer_sizes": (16,), "pretrain_epochs": 2, "device": "cpu", "random_state": 0}
FINETUNE = {**SMALL, "max_iter": 10, "learning_rate_init": 1e-2}


@pytest.fixture(scope="module")
def digits():
    """The 8x8 digits in [0, 1] (float32) and their labels."""
    return load_digits()


@pytest.fixture(scope="module")
def small(digits):
    """300 digits: enough to learn something, small enough to be fast."""
    X, y = digits
    return X[:300], y[:300]


@pytest.fixture(scope="module")
def gaussian_data():
    """Standardized real-valued data and a regression target of 3 outputs."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 6)).astype(np.float32)
    Y = np.column_stack([X[:, 0] + X[:, 1], X[:, 2] - X[:, 3], 2 * X[:, 4]])
    Y = Y + 0.1 * rng.standard_normal(Y.shape)
    return X, Y


def _all_estimators():
    """One fitted-to-be instance of each estimator, with its data kind."""
    return [
        RBM(n_components=8, n_iter=2, device="cpu", random_state=0),
        DBNTransformer((16, 8), pretrain_epochs=2, device="cpu", random_state=0),
        DBNClassifier(**FINETUNE),
        DBNRegressor(**FINETUNE),
    ]


def _fit(estimator, X, y):
    return estimator.fit(X, y if isinstance(estimator, (DBNClassifier, DBNRegressor)) else None)


def _outputs(estimator, X) -> dict[str, np.ndarray]:
    """Everything a fitted estimator computes deterministically from ``X``."""
    out = {}
    for method in ("predict", "predict_proba", "predict_log_proba", "transform",
                   "score_samples", "free_energy", "reconstruct"):
        if hasattr(estimator, method):
            out[method] = getattr(estimator, method)(X)
    return out


def _assert_same_outputs(a: dict, b: dict) -> None:
    assert a.keys() == b.keys() and a
    for method in a:
        assert a[method].dtype == b[method].dtype, method
        assert np.array_equal(a[method], b[method]), method


def _weights(estimator) -> list[np.ndarray]:
    if isinstance(estimator, RBM):
        return [estimator.components_, estimator.intercept_hidden_,
                estimator.intercept_visible_]
    tensors = [t for r in estimator.rbms_ for t in r.state_dict().values()]
    if hasattr(estimator, "network_"):
        tensors += list(estimator.network_.state_dict().values())
    return [t.detach().cpu().numpy().copy() for t in tensors]


# ------------------------------------------------------------------------------------------
# Shapes and basic outputs
# ------------------------------------------------------------------------------------------


def test_classifier_outputs(small):
    X, y = small
    clf = DBNClassifier(**FINETUNE).fit(X, y)
    assert clf.n_features_in_ == 64
    np.testing.assert_array_equal(clf.classes_, np.arange(10))
    pred = clf.predict(X[:20])
    proba = clf.predict_proba(X[:20])
    log_proba = clf.predict_log_proba(X[:20])
    assert pred.shape == (20,) and pred.dtype == y.dtype
    assert proba.shape == log_proba.shape == (20, 10)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(np.exp(log_proba), proba, rtol=1e-10)
    np.testing.assert_array_equal(pred, clf.classes_[proba.argmax(1)])
    assert 0.5 < clf.score(X, y) <= 1.0  # ten epochs on 300 digits learn a lot already
    assert clf.n_iter_ == len(clf.loss_curve_) == 10
    assert clf.best_loss_ == min(clf.loss_curve_)
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]
    assert len(clf.rbms_) == 1 and clf.rbms_[0].weight.shape == (64, 16)
    assert [len(h) for h in clf.history_["pretrain"]] == [2]
    assert len(clf.history_["finetune"]) == 10
    assert not hasattr(clf, "validation_scores_")


def test_transformer_outputs(small):
    X, _ = small
    dbn = DBNTransformer((16, 8), pretrain_epochs=2, device="cpu", random_state=0)
    Z = dbn.fit_transform(X)
    assert Z.shape == (300, 8) and Z.dtype == np.float32
    assert np.all((Z > 0) & (Z < 1))  # means of Bernoulli hidden units
    assert [r.weight.shape for r in dbn.rbms_] == [(64, 16), (16, 8)]
    assert [len(h) for h in dbn.history_["pretrain"]] == [2, 2]
    assert list(dbn.get_feature_names_out()) == [f"dbntransformer{i}" for i in range(8)]
    # float64 input keeps its dtype (with the same values), as sklearn transformers do.
    Z64 = dbn.transform(X.astype(np.float64))
    assert Z64.dtype == np.float64
    np.testing.assert_array_equal(Z64, Z.astype(np.float64))


def test_transformer_relu_layers_and_per_layer_settings(small):
    X, _ = small
    dbn = DBNTransformer((16, 8), hidden_units=["relu", "bernoulli"], pretrain_epochs=[1, 3],
                         pretrain_learning_rate=[0.01, 0.1], device="cpu", random_state=0)
    Z = dbn.fit(X).transform(X)
    assert [r.hidden.name for r in dbn.rbms_] == ["relu", "bernoulli"]
    assert [r.visible.name for r in dbn.rbms_] == ["bernoulli", "relu"]
    assert [len(h) for h in dbn.history_["pretrain"]] == [1, 3]
    assert Z.shape == (300, 8)


def test_regressor_single_and_multi_output(gaussian_data):
    X, Y = gaussian_data
    reg = DBNRegressor(**{**FINETUNE, "visible_units": "gaussian", "max_iter": 60})
    reg.fit(X, Y)
    pred = reg.predict(X)
    assert pred.shape == (120, 3) and reg.n_outputs_ == 3
    assert reg.y_mean_.shape == reg.y_scale_.shape == (3,)
    assert reg.score(X, Y) > 0.8  # a near-linear target, fitted in-sample

    reg1 = clone(reg).fit(X, Y[:, 0])
    assert reg1.predict(X).shape == (120,) and reg1.n_outputs_ == 1
    assert reg1.score(X, Y[:, 0]) > 0.8

    # A column vector is one target: 1-d predictions, as MLPRegressor gives (a warning says
    # so); tests/test_field_reports_finetune.py has the details.
    with pytest.warns(DataConversionWarning):
        reg2 = clone(reg).fit(X, Y[:, :1])
    assert reg2.predict(X).shape == (120,)
    np.testing.assert_array_equal(reg2.predict(X), reg1.predict(X))


def test_regressor_constant_target(gaussian_data):
    X, _ = gaussian_data
    reg = DBNRegressor(**{**FINETUNE, "visible_units": "gaussian"}).fit(X, np.full(120, 3.5))
    prediction = reg.predict(X)
    assert np.all(np.isfinite(prediction)) and reg.y_scale_[0] == 1.0  # no division by 0
    np.testing.assert_allclose(prediction, 3.5, atol=0.05)


# ------------------------------------------------------------------------------------------
# Labels
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "labels",
    [
        np.array(["cat", "dog", "fish"]),
        np.array(["cat", "dog", "fish"], dtype=object),
        np.array([-3, 7, 42]),
        np.array([1.0, 2.0, 3.0]),
        np.array([True, False, True])[:2],
    ],
    ids=["str", "object", "int", "float", "bool"],
)
def test_classifier_keeps_label_type(small, labels):
    X, y = small
    names = labels[y % len(labels)]
    clf = DBNClassifier(**FINETUNE).fit(X, names)
    np.testing.assert_array_equal(clf.classes_, np.unique(labels))
    pred = clf.predict(X)
    assert pred.dtype == clf.classes_.dtype
    assert set(pred.tolist()) <= set(labels.tolist())
    assert np.mean(pred == names) > 0.5


def test_classifier_label_list_and_binary(small):
    X, y = small
    names = ["odd" if v % 2 else "even" for v in y]
    clf = DBNClassifier(**FINETUNE).fit(X.tolist(), names)
    assert list(clf.classes_) == ["even", "odd"]
    assert clf.predict_proba(X).shape == (300, 2)
    assert clf.score(X, names) > 0.7


# ------------------------------------------------------------------------------------------
# Feature names (pandas is optional)
# ------------------------------------------------------------------------------------------


def test_feature_names_with_pandas(small, tmp_path):
    pd = pytest.importorskip("pandas")
    X, y = small
    columns = [f"pixel{i}" for i in range(64)]
    frame = pd.DataFrame(X, columns=columns)
    clf = DBNClassifier(**FINETUNE).fit(frame, y)
    np.testing.assert_array_equal(clf.feature_names_in_, columns)
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        from_array = clf.predict(X)
    np.testing.assert_array_equal(clf.predict(frame), from_array)
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(frame[columns[::-1]])
    loaded = load(clf.save(tmp_path / "clf.safetensors"))
    np.testing.assert_array_equal(loaded.feature_names_in_, columns)
    assert loaded.feature_names_in_.dtype == object
    assert np.array_equal(loaded.predict_proba(frame), clf.predict_proba(frame))

    rbm = RBM(n_components=4, n_iter=1, device="cpu", random_state=0).fit(frame)
    np.testing.assert_array_equal(rbm.feature_names_in_, columns)
    assert list(rbm.get_feature_names_out()) == ["rbm0", "rbm1", "rbm2", "rbm3"]
    loaded = load(rbm.save(tmp_path / "rbm.safetensors"))
    np.testing.assert_array_equal(loaded.feature_names_in_, columns)
    # a DataFrame of float64 keeps float64, as a float64 array does
    assert rbm.transform(frame.astype("float64")).dtype == np.float64


def test_no_feature_names_for_arrays(small):
    X, y = small
    clf = DBNClassifier(**FINETUNE).fit(X, y)
    assert not hasattr(clf, "feature_names_in_")


# ------------------------------------------------------------------------------------------
# Determinism and random state
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("index", range(4), ids=["RBM", "Transformer", "Classifier", "Regressor"])
def test_same_seed_same_model_and_other_seed_other_model(small, index):
    X, y = small
    first = _fit(_all_estimators()[index], X, y)
    second = _fit(_all_estimators()[index], X, y)
    for a, b in zip(_weights(first), _weights(second), strict=True):
        assert np.array_equal(a, b)
    _assert_same_outputs(_outputs(first, X), _outputs(second, X))

    other = _fit(_all_estimators()[index].set_params(random_state=1), X, y)
    assert not np.array_equal(_weights(first)[0], _weights(other)[0])


def test_refit_is_idempotent(small):
    X, y = small
    clf = DBNClassifier(**FINETUNE).fit(X, y)
    before = clf.predict_proba(X)
    clf.fit(X, y)
    assert np.array_equal(clf.predict_proba(X), before)


def test_random_state_none_leaves_global_rngs_alone(small):
    X, y = small
    np.random.seed(123)  # noqa: NPY002 - the global state is what is checked
    torch.manual_seed(123)
    np_state = np.random.get_state()  # noqa: NPY002
    torch_state = torch.get_rng_state()
    estimators = [
        RBM(n_components=8, n_iter=2, device="cpu"),
        DBNTransformer((8,), pretrain_epochs=1, device="cpu"),
        DBNClassifier((8,), pretrain_epochs=1, max_iter=3, dropout=0.2, early_stopping=True,
                      pretrain_method="pcd", device="cpu"),
        DBNRegressor((8,), pretrain_epochs=1, max_iter=3, device="cpu"),
    ]
    for estimator in estimators:
        _fit(estimator, X, y)
        _outputs(estimator, X)
    estimators[0].gibbs(X[:5])
    estimators[0].sample(3, n_gibbs=2)
    estimators[0].partial_fit(X)

    after = np.random.get_state()  # noqa: NPY002
    assert after[0] == np_state[0] and np.array_equal(after[1], np_state[1])
    assert after[2:] == np_state[2:]
    assert torch.equal(torch.get_rng_state(), torch_state)
    # and None means fresh randomness each time
    again = RBM(n_components=8, n_iter=2, device="cpu").fit(X)
    assert not np.array_equal(again.components_, estimators[0].components_)


def test_random_state_instance(small):
    X, _ = small
    a = RBM(n_components=8, n_iter=1, device="cpu", random_state=np.random.RandomState(5)).fit(X)
    b = RBM(n_components=8, n_iter=1, device="cpu", random_state=np.random.RandomState(5)).fit(X)
    assert np.array_equal(a.components_, b.components_)


# ------------------------------------------------------------------------------------------
# RBM: a drop-in for sklearn's BernoulliRBM
# ------------------------------------------------------------------------------------------


def test_rbm_has_bernoulli_rbm_parameters_and_defaults():
    theirs = BernoulliRBM().get_params()
    ours = RBM().get_params()
    assert theirs.keys() <= ours.keys()
    for name, value in theirs.items():
        if name == "learning_rate":  # 'auto': BernoulliRBM's 0.1 with its Bernoulli units
            assert ours[name] == "auto" and RBM()._config("bernoulli").learning_rate == value
            continue
        assert ours[name] == value, name


def test_rbm_attributes(small):
    X, _ = small
    rbm = RBM(n_components=8, n_iter=3, device="cpu", random_state=0).fit(X)
    assert rbm.components_.shape == (8, 64)
    assert rbm.intercept_hidden_.shape == (8,)
    assert rbm.intercept_visible_.shape == (64,)
    assert rbm.n_features_in_ == 64 and rbm.n_iter_ == 3
    assert rbm.transform(X).shape == (300, 8)
    assert [r["epoch"] for r in rbm.history_] == [1, 2, 3]
    assert rbm.fit_time_ >= 0


def test_rbm_partial_fit_continues(small):
    X, _ = small
    rbm = RBM(n_components=8, device="cpu", random_state=0)
    assert rbm.partial_fit(X) is rbm
    assert rbm.n_iter_ == 1
    before = rbm.components_.copy()
    assert rbm.partial_fit(X[:100]) is rbm
    assert rbm.n_iter_ == 2 and len(rbm.history_) == 2
    assert not np.array_equal(before, rbm.components_)
    # partial_fit after fit goes on from the fitted model
    rbm.fit(X)
    assert rbm.n_iter_ == 10
    rbm.partial_fit(X)
    assert rbm.n_iter_ == 11


def test_rbm_gibbs(small):
    X, _ = small
    rbm = RBM(n_components=8, n_iter=2, device="cpu", random_state=0).fit(X)
    v = rbm.gibbs(X[:7])
    assert v.shape == (7, 64) and v.dtype == bool
    np.testing.assert_array_equal(rbm.gibbs(X[:7], random_state=3),
                                  rbm.gibbs(X[:7], random_state=3))
    gaussian = RBM(n_components=4, n_iter=1, visible_units="gaussian", learning_rate=0.01,
                   device="cpu", random_state=0).fit(X - 0.5)
    v = gaussian.gibbs(X[:7] - 0.5)
    assert v.shape == (7, 64) and v.dtype == np.float32


def test_rbm_score_samples_is_the_exact_pseudo_likelihood(small):
    X, _ = small
    rbm = RBM(n_components=8, n_iter=3, device="cpu", random_state=0).fit(X)
    scores = rbm.score_samples(X)
    assert scores.shape == (300,) and scores.dtype == np.float64
    assert np.all(scores <= 0)
    np.testing.assert_array_equal(scores, rbm.score_samples(X))  # deterministic
    # Binary data: the library's pseudo-likelihood.
    binary = (X > 0.5).astype(np.float32)
    expected = pseudo_likelihood(rbm.rbm_, torch.from_numpy(binary))
    np.testing.assert_allclose(rbm.score_samples(binary), expected, rtol=1e-5)
    # Data in [0, 1]: the sum over features of BernoulliRBM's one-feature estimate.
    v = X[:5].astype(np.float64)
    free_energy = rbm.free_energy
    brute = np.zeros(5)
    for i in range(64):
        flipped = v.copy()
        flipped[:, i] = 1 - flipped[:, i]
        brute += -np.logaddexp(0, free_energy(v) - free_energy(flipped))
    np.testing.assert_allclose(rbm.score_samples(v), brute, rtol=1e-4)


def test_rbm_score_samples_for_gaussian_visible_units():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 5)).astype(np.float32)
    rbm = RBM(n_components=4, n_iter=2, visible_units="gaussian", learning_rate=0.01,
              device="cpu", random_state=0).fit(X)
    np.testing.assert_allclose(rbm.score_samples(X), -rbm.free_energy(X))


def test_rbm_learns_digits(digits):
    X, _ = digits
    rbm = RBM(n_components=32, n_iter=5, random_state=0, device="cpu").fit(X)
    errors = [record["reconstruction_error"] for record in rbm.history_]
    assert len(errors) == 5
    assert errors[-1] < 0.75 * errors[0]
    # PCD's reconstruction error is noisy from epoch to epoch (its chains are random): it
    # falls, apart from at most a small step back
    assert all(b < 1.02 * a for a, b in itertools.pairwise(errors))
    assert sum(b < a for a, b in itertools.pairwise(errors)) >= 3


def test_rbm_features_as_sklearn_example(digits):
    """sklearn's "RBM features for digit classification" example, with our RBM."""
    X, y = digits
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
    model = Pipeline([
        ("rbm", RBM(n_components=64, learning_rate=0.06, n_iter=5, random_state=0,
                    device="cpu")),
        ("logistic", LogisticRegression(C=100.0, max_iter=1000)),
    ])
    assert model.fit(X_train, y_train).score(X_test, y_test) > 0.85


def test_rbm_sample_and_reconstruct(small):
    X, _ = small
    rbm = RBM(n_components=8, n_iter=2, device="cpu", random_state=0).fit(X)
    samples = rbm.sample(4, n_gibbs=3, random_state=0)
    assert samples.shape == (4, 64)
    assert set(np.unique(samples)) <= {0.0, 1.0}
    recon = rbm.reconstruct(X[:5])
    assert recon.shape == (5, 64) and np.all((recon > 0) & (recon < 1))


# ------------------------------------------------------------------------------------------
# In sklearn's tools: Pipeline, GridSearchCV, clone
# ------------------------------------------------------------------------------------------


def test_dbn_transformer_in_pipeline(small):
    X, y = small
    model = Pipeline([
        ("scale", MinMaxScaler()),
        ("dbn", DBNTransformer((32,), pretrain_epochs=20, device="cpu", random_state=0)),
        ("logistic", LogisticRegression(max_iter=500)),
    ])
    assert model.fit(X, y).score(X, y) > 0.8
    assert model.named_steps["dbn"].n_features_in_ == 64


def test_dbn_classifier_in_pipeline_with_gaussian_units(small):
    X, y = small
    model = Pipeline([
        ("scale", StandardScaler()),
        ("dbn", DBNClassifier(**{**FINETUNE, "visible_units": "gaussian",
                                 "pretrain_learning_rate": 0.01})),
    ])
    assert model.fit(X, y).score(X, y) > 0.6


def test_grid_search(small):
    X, y = small
    search = GridSearchCV(DBNClassifier(**FINETUNE),
                          {"hidden_layer_sizes": [(4,), (16,)]}, cv=2)
    search.fit(X, y)
    assert search.best_params_["hidden_layer_sizes"] in [(4,), (16,)]
    assert len(search.cv_results_["mean_test_score"]) == 2
    assert search.best_estimator_.predict(X).shape == (300,)
    # 16 hidden units beat 4 on digits
    assert search.best_params_ == {"hidden_layer_sizes": (16,)}


def test_clone(small):
    X, y = small
    clf = DBNClassifier(**FINETUNE, dropout=0.1).fit(X, y)
    copy = clone(clf)
    assert copy.get_params() == clf.get_params()
    assert not hasattr(copy, "network_") and not hasattr(copy, "classes_")


# ------------------------------------------------------------------------------------------
# Saving, loading and pickling
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("index", range(4), ids=["RBM", "Transformer", "Classifier", "Regressor"])
def test_save_load_round_trip(small, tmp_path, index):
    X, y = small
    estimator = _fit(_all_estimators()[index], X, y)
    path = tmp_path / "model.safetensors"
    assert estimator.save(path) == path
    loaded = load(path)
    assert type(loaded) is type(estimator)
    assert loaded.get_params() == estimator.get_params()
    assert loaded.n_features_in_ == estimator.n_features_in_
    assert loaded.history_ == estimator.history_
    _assert_same_outputs(_outputs(estimator, X), _outputs(loaded, X))
    for a, b in zip(_weights(estimator), _weights(loaded), strict=True):
        assert np.array_equal(a, b)
    # also through deepbelief.load and with a str path
    assert type(deepbelief.load(str(path))) is type(estimator)


def test_save_load_keeps_classifier_attributes(small, tmp_path):
    X, y = small
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven",
                      "eight", "nine"])[y]
    clf = DBNClassifier(**FINETUNE, early_stopping=True, n_iter_no_change=2).fit(X, names)
    loaded = load(clf.save(tmp_path / "clf.safetensors"))
    np.testing.assert_array_equal(loaded.classes_, clf.classes_)
    assert loaded.classes_.dtype == clf.classes_.dtype
    assert np.array_equal(loaded.predict(X), clf.predict(X))
    assert loaded.n_iter_ == clf.n_iter_
    assert loaded.loss_curve_ == clf.loss_curve_ and loaded.best_loss_ == clf.best_loss_
    assert loaded.validation_scores_ == clf.validation_scores_
    assert loaded.score(X, names) == clf.score(X, names)


def test_save_load_regressor_multi_output(gaussian_data, tmp_path):
    X, Y = gaussian_data
    reg = DBNRegressor(**{**FINETUNE, "visible_units": "gaussian"}).fit(X, Y)
    loaded = load(reg.save(tmp_path / "reg.safetensors"))
    assert loaded.n_outputs_ == 3
    np.testing.assert_array_equal(loaded.y_mean_, reg.y_mean_)
    assert np.array_equal(loaded.predict(X), reg.predict(X))


def test_save_load_keeps_parameter_types(small, tmp_path):
    X, y = small
    clf = DBNClassifier([8, 4], hidden_units=("relu", "bernoulli"), pretrain_epochs=[1, 2],
                        pretrain_learning_rate=0.01, max_iter=2, device="cpu",
                        random_state=np.random.RandomState(0)).fit(X, y)
    loaded = load(clf.save(tmp_path / "clf.safetensors"), device="cpu")
    params = loaded.get_params()
    assert params["hidden_layer_sizes"] == [8, 4]
    assert params["hidden_units"] == ("relu", "bernoulli")
    assert params["pretrain_epochs"] == [1, 2]
    assert params["random_state"] is None  # a RandomState is not saved
    assert np.array_equal(loaded.predict_proba(X), clf.predict_proba(X))


def test_loaded_rbm_can_continue_training(small, tmp_path):
    X, _ = small
    rbm = RBM(n_components=8, n_iter=2, device="cpu", random_state=0).fit(X)
    loaded = load(rbm.save(tmp_path / "rbm.safetensors"))
    loaded.partial_fit(X)
    assert loaded.n_iter_ == 3 and len(loaded.history_) == 3
    assert not np.array_equal(loaded.components_, rbm.components_)


def _set_model_type(path: Path, model_type: str, *, rehash: bool = False) -> None:
    """Rewrite the model type in a model file's metadata; ``rehash`` also recomputes the
    metadata checksum, as a deliberate tamperer would."""
    data = path.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    document = json.loads(header["__metadata__"]["deepbelief"])
    document["model_type"] = model_type
    if rehash:
        document["metadata_sha256"] = metadata_sha256(document)
    header["__metadata__"]["deepbelief"] = json.dumps(document)
    text = json.dumps(header).encode("utf-8")
    path.write_bytes(struct.pack("<Q", len(text)) + text + data[8 + length :])


@pytest.mark.parametrize(("index", "other"), [(2, "DBNRegressor"), (0, "DBNTransformer"),
                                              (1, "RBM")])
def test_load_rejects_a_file_whose_model_type_was_changed(small, tmp_path, index, other):
    X, y = small
    estimator = _fit(_all_estimators()[index], X, y)
    path = estimator.save(tmp_path / "model.safetensors")
    _set_model_type(path, other)
    with pytest.raises(ModelFileError, match="metadata_sha256"):
        load(path)
    _set_model_type(path, other, rehash=True)  # past the checksum, the contents still disagree
    with pytest.raises(ModelFileError, match=f"does not fit a {other} model"):
        load(path)


def test_load_rejects_a_non_model_file(tmp_path):
    path = tmp_path / "model.safetensors"
    path.write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
    with pytest.raises(ModelFileError, match="never unpickles"):
        load(path)
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing.safetensors")


@pytest.mark.parametrize("index", range(4), ids=["RBM", "Transformer", "Classifier", "Regressor"])
def test_pickle_round_trip(small, index):
    X, y = small
    estimator = _fit(_all_estimators()[index], X, y)
    copy = pickle.loads(pickle.dumps(estimator))
    assert copy.get_params() == estimator.get_params()
    _assert_same_outputs(_outputs(estimator, X), _outputs(copy, X))


def test_pickled_rbm_continues_exactly_like_the_original(small):
    X, _ = small
    rbm = RBM(n_components=8, n_iter=2, momentum=0.5, device="cpu", random_state=0).fit(X)
    copy = pickle.loads(pickle.dumps(rbm))
    rbm.partial_fit(X)
    copy.partial_fit(X)
    assert copy.n_iter_ == rbm.n_iter_ == 3
    np.testing.assert_array_equal(copy.components_, rbm.components_)
    assert copy.history_[:2] == rbm.history_[:2]


# ------------------------------------------------------------------------------------------
# Training options: early stopping, verbose, divergence
# ------------------------------------------------------------------------------------------


def test_early_stopping_keeps_the_best_weights(monkeypatch):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 6)).astype(np.float32)
    y = X[:, 0] + 0.5 * rng.standard_normal(120)
    splits = []

    def recording_split(*args, **kwargs):
        result = train_test_split(*args, **kwargs)
        splits.append(result)
        return result

    monkeypatch.setattr(_early_stopping, "train_test_split", recording_split)
    reg = DBNRegressor((32,), visible_units="gaussian", pretrain_epochs=1,
                       pretrain_learning_rate=0.01, learning_rate_init=1e-2,
                       early_stopping=True, validation_fraction=0.25, n_iter_no_change=5,
                       max_iter=200, random_state=0, device="cpu").fit(X, y)
    scores = reg.validation_scores_
    assert len(scores) == reg.n_iter_ < 200  # it stopped early
    assert reg.best_validation_score_ == max(scores)
    best = int(np.argmax(scores))
    assert best == reg.n_iter_ - 1 - 5 and scores[-1] < max(scores)
    # The kept weights are those of the best epoch, not the last one.
    (_, idx_valid), = splits
    assert len(idx_valid) == 30
    scaled = (y[idx_valid] - reg.y_mean_[0]) / reg.y_scale_[0]
    predicted = (reg.predict(X[idx_valid]) - reg.y_mean_[0]) / reg.y_scale_[0]
    r2 = 1 - np.sum((predicted - scaled) ** 2) / np.sum((scaled - scaled.mean()) ** 2)
    assert r2 == pytest.approx(reg.best_validation_score_, abs=1e-5)
    assert r2 != pytest.approx(scores[-1], abs=1e-5)


def test_early_stopping_classifier(small):
    X, y = small
    clf = DBNClassifier(**{**FINETUNE, "max_iter": 100}, early_stopping=True,
                        n_iter_no_change=3).fit(X, y)
    assert clf.n_iter_ < 100
    assert len(clf.validation_scores_) == clf.n_iter_
    assert all(0 <= s <= 1 for s in clf.validation_scores_)
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    # a later fit without early stopping leaves no stale scores behind
    clf.set_params(early_stopping=False, max_iter=2).fit(X, y)
    assert not hasattr(clf, "validation_scores_")
    assert not hasattr(clf, "best_validation_score_")


def test_training_loss_stall_stops_training(small):
    X, y = small
    clf = DBNClassifier(**{**FINETUNE, "max_iter": 50}, tol=10.0, n_iter_no_change=2)
    assert clf.fit(X, y).n_iter_ == 3  # no epoch improves the loss by 10


def test_verbose_prints_one_line_per_epoch(small, capsys):
    X, y = small
    RBM(n_components=4, n_iter=3, verbose=1, device="cpu", random_state=0).fit(X)
    lines = capsys.readouterr().err.splitlines()  # progress goes to stderr
    assert len(lines) == 3
    for epoch, line in enumerate(lines, 1):
        assert line.startswith(f"[RBM] epoch {epoch}, reconstruction_error = ")

    DBNClassifier((8, 4), pretrain_epochs=2, max_iter=3, verbose=1, device="cpu",
                  random_state=0).fit(X, y)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2 + 2 + 3
    assert lines[0].startswith("[DBNClassifier pretraining] layer 1, epoch 1, ")
    assert lines[3].startswith("[DBNClassifier pretraining] layer 2, epoch 2, ")
    assert lines[4].startswith("[DBNClassifier fine-tuning] epoch 1, loss = ")
    assert lines[6].startswith("[DBNClassifier fine-tuning] epoch 3, ")


def test_not_verbose_prints_nothing(small, capsys):
    X, y = small
    DBNClassifier(**FINETUNE).fit(X, y)
    RBM(n_components=4, n_iter=2, device="cpu", random_state=0).fit(X)
    assert capsys.readouterr() == ("", "")


def _diverging_classifier():
    return DBNClassifier((8,), visible_units="gaussian", hidden_units="relu",
                         pretrain_learning_rate=1e6, pretrain_epochs=3, max_iter=2,
                         device="cpu", random_state=0)


def test_pretraining_divergence_raises_a_clear_error():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 5)).astype(np.float32)
    clf = _diverging_classifier()
    with pytest.raises(DivergenceError, match=r"layer 1 \(RBM\) diverged at epoch 1") as info:
        clf.fit(X, X[:, 0] > 0)
    assert "NaN or infinite" in str(info.value)
    assert "smaller learning rate" in str(info.value)
    assert isinstance(info.value, FloatingPointError)
    # nothing half-trained is left behind
    assert not hasattr(clf, "rbms_") and not hasattr(clf, "network_")
    with pytest.raises(deepbelief.exceptions.NotFittedError):
        clf.predict(X)


def test_divergence_keeps_the_previous_model(small):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 5)).astype(np.float32)
    y = X[:, 0] > 0
    clf = DBNClassifier((8,), visible_units="gaussian", pretrain_learning_rate=0.01,
                        max_iter=2, device="cpu", random_state=0).fit(X, y)
    before = clf.predict_proba(X)
    clf.set_params(solver="sgd", learning_rate_init=1e8, max_iter=5)
    with pytest.raises(DivergenceError, match="the fine-tuned network diverged"):
        clf.fit(X, y)
    after = clf.predict_proba(X)
    assert np.all(np.isfinite(after)) and np.array_equal(after, before)


def test_rbm_divergence_keeps_finite_weights():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 5)).astype(np.float32)
    rbm = RBM(n_components=4, n_iter=2, visible_units="gaussian", hidden_units="relu",
              learning_rate=1e6, device="cpu", random_state=0)
    with pytest.raises(DivergenceError, match="diverged at epoch"):
        rbm.fit(X)
    assert not hasattr(rbm, "rbm_")

    rbm = RBM(n_components=4, n_iter=2, visible_units="gaussian", learning_rate=0.01,
              device="cpu", random_state=0).fit(X)
    weights = rbm.components_.copy()
    with pytest.raises(DivergenceError), pytest.warns(DataScaleWarning):
        rbm.partial_fit(X * 1e30)
    assert rbm.n_iter_ == 2
    assert np.array_equal(rbm.components_, weights)
    rbm.partial_fit(X)  # and training goes on from the good state
    assert rbm.n_iter_ == 3 and np.all(np.isfinite(rbm.components_))


# ------------------------------------------------------------------------------------------
# Quality on real data
# ------------------------------------------------------------------------------------------


def test_digits_accuracy(digits):
    X, y = digits
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
    clf = DBNClassifier(hidden_layer_sizes=(64,), pretrain_epochs=5, max_iter=50,
                        random_state=0, device="cpu").fit(X_train, y_train)
    assert clf.score(X_test, y_test) >= 0.9


def test_rbm_sample_inputs_needs_bernoulli_visible_units_and_trains_on_binary_samples():
    X = np.random.default_rng(0).random((64, 6)).astype(np.float32)
    with pytest.raises(ValueError, match=r"sample_inputs=True .* visible_units='bernoulli'"):
        RBM(4, sample_inputs=True, visible_units="gaussian", device="cpu").fit(X)
    seen = []

    class Spy(Callback):
        def on_train_begin(self, context):
            original = context.objective.rule.negative_phase

            def negative_phase(rbm_, v_pos, h, g):
                seen.append(v_pos.clone())
                return original(rbm_, v_pos, h, g)

            context.objective.rule.negative_phase = negative_phase

    RBM(4, n_iter=1, batch_size=64, sample_inputs=True, random_state=0, device="cpu",
        callbacks=[Spy()]).fit(X)
    assert seen and set(torch.unique(seen[0]).tolist()) == {0.0, 1.0}
