"""Bad input to the public API: each case names the exception type exactly and a phrase of
the message that tells the user what to do. Good input of other types is converted."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse
import torch
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import InvalidParameterError

from deepbelief import RBM, DBNClassifier, DBNRegressor, DBNTransformer

_RNG = np.random.default_rng(0)
X = _RNG.random((40, 4)).astype(np.float32)  # in [0, 1]: fits Bernoulli visible units
Y = np.arange(40) % 2
Y_REG = X.sum(1)
FAST = {"hidden_layer_sizes": (4,), "pretrain_epochs": 1, "device": "cpu", "random_state": 0}


def clf(**params) -> DBNClassifier:
    return DBNClassifier(**{**FAST, "max_iter": 2, **params})


def reg(**params) -> DBNRegressor:
    return DBNRegressor(**{**FAST, "max_iter": 2, **params})


def rbm(**params) -> RBM:
    return RBM(**{"n_components": 4, "n_iter": 1, "device": "cpu", "random_state": 0,
                  **params})


@pytest.fixture(scope="module")
def fitted():
    return {
        "clf": clf().fit(X, Y),
        "reg": reg().fit(X, Y_REG),
        "dbn": DBNTransformer(**FAST).fit(X),
        "rbm": rbm().fit(X),
    }


def _with(value, row: int = 0, col: int = 0) -> np.ndarray:
    bad = X.copy()
    bad[row, col] = value
    return bad


_RESCALE = r"Rescale it to \[0, 1\], e\.g\. with sklearn\.preprocessing\.MinMaxScaler"

# (id, call on an unfitted or a fitted estimator, exception type, phrase of the message)
FIT_CASES = [
    ("nan", lambda: clf().fit(_with(np.nan), Y), ValueError, "Input X contains NaN"),
    ("inf", lambda: clf().fit(_with(np.inf), Y), ValueError, "Input X contains infinity"),
    ("neg-inf", lambda: rbm().fit(_with(-np.inf)), ValueError, "Input X contains infinity"),
    ("1d-X", lambda: clf().fit(X[:, 0], Y), ValueError, "Expected 2D array, got 1D array"),
    ("3d-X", lambda: clf().fit(X[None], Y), ValueError, "Found array with dim 3"),
    ("no-samples", lambda: clf().fit(X[:0], Y[:0]), ValueError,
     r"0 sample\(s\) \(shape=\(0, 4\)\) while a minimum of 1 is required"),
    ("no-features", lambda: DBNTransformer(**FAST).fit(X[:, :0]), ValueError,
     r"0 feature\(s\) \(shape=\(40, 0\)\) while a minimum of 1 is required"),
    # explicit Bernoulli units refuse data outside [0, 1] ('auto', the default, standardises it)
    ("bernoulli-negative", lambda: clf(visible_units="bernoulli").fit(X - 0.5, Y), ValueError,
     r"Bernoulli units take values in \[0, 1\], but the data ranges from -0\.49"),
    ("bernoulli-too-large", lambda: rbm(visible_units="bernoulli").fit(X * 255), ValueError,
     _RESCALE),
    ("bernoulli-suggests-gaussian",
     lambda: DBNTransformer(**FAST, visible_units="bernoulli").fit(X * 2), ValueError,
     r"visible_units='gaussian'\) on standardized data"),
    ("strings", lambda: clf().fit(np.full((40, 4), "a"), Y), ValueError,
     "could not convert string to float"),
    ("complex", lambda: clf().fit(X + 1j, Y), ValueError, "Complex data not supported"),
    ("X-None", lambda: clf().fit(None, Y), ValueError, "Expected 2D array, got scalar array"),
    ("rbm-X-None", lambda: rbm().fit(None), ValueError, "Expected 2D array, got scalar array"),
    ("y-None", lambda: clf().fit(X, None), ValueError, "requires y to be passed"),
    ("regressor-y-None", lambda: reg().fit(X, None), ValueError, "requires y to be passed"),
    ("lengths-differ", lambda: clf().fit(X, Y[:30]), ValueError,
     r"inconsistent numbers of samples: \[40, 30\]"),
    ("regressor-lengths-differ", lambda: reg().fit(X[:10], Y_REG), ValueError,
     "inconsistent numbers of samples"),
    ("one-class", lambda: clf().fit(X, np.zeros(40)), ValueError,
     r"only one class \(0\.0\); a classifier needs samples of at least 2 classes"),
    ("one-string-class", lambda: clf().fit(X, ["cat"] * 40), ValueError,
     r"only one class \('cat'\)"),
    ("regressor-y-nan", lambda: reg().fit(X, np.where(Y, np.nan, 1.0)), ValueError,
     "Input y contains NaN"),
    ("regressor-y-inf", lambda: reg().fit(X, np.where(Y, np.inf, 1.0)), ValueError,
     "Input y contains infinity"),
    ("classifier-y-nan", lambda: clf().fit(X, np.where(Y, np.nan, 1.0)), ValueError,
     "Input y contains NaN"),
    ("continuous-y", lambda: clf().fit(X, Y_REG), ValueError, "Unknown label type: continuous"),
    ("multilabel-y", lambda: clf().fit(X, np.column_stack([Y, Y])), ValueError,
     r"y should be a 1d array, got an array of shape \(40, 2\)"),
    ("regressor-string-y", lambda: reg().fit(X, np.array(["a", "b"] * 20)), ValueError,
     "could not convert string to float"),
    ("sparse-nan", lambda: clf().fit(scipy.sparse.csr_matrix(_with(np.nan)), Y), ValueError,
     "Input X contains NaN"),
    ("sparse-outside-bernoulli",
     lambda: rbm(visible_units="bernoulli").fit(scipy.sparse.csr_matrix(X * 3)),
     ValueError, r"the data ranges from 0\.0082155\d* to 2\.99"),
    # invalid parameters
    ("negative-hidden-size", lambda: clf(hidden_layer_sizes=(4, -2)).fit(X, Y), ValueError,
     r"hidden_layer_sizes must be a positive integer or a non-empty sequence.*\(4, -2\)"),
    ("negative-hidden-int", lambda: clf(hidden_layer_sizes=-3).fit(X, Y),
     InvalidParameterError, "'hidden_layer_sizes' parameter of DBNClassifier"),
    ("no-hidden-layer", lambda: clf(hidden_layer_sizes=()).fit(X, Y), ValueError,
     "non-empty sequence of positive integers"),
    ("fractional-hidden-size", lambda: clf(hidden_layer_sizes=(4.5,)).fit(X, Y), ValueError,
     r"positive integers.*got \(4\.5,\)"),
    ("unknown-hidden-units", lambda: clf(hidden_units="tanh").fit(X, Y),
     InvalidParameterError, r"'hidden_units' parameter .* Got 'tanh'"),
    ("unknown-hidden-units-in-list", lambda: clf(hidden_units=["tanh"]).fit(X, Y), ValueError,
     "Unknown hidden unit type 'tanh'"),
    ("unknown-visible-units", lambda: DBNTransformer(**FAST, visible_units="softmax").fit(X),
     InvalidParameterError, "'visible_units' parameter"),
    ("rbm-unknown-units", lambda: rbm(hidden_units="sigmoid").fit(X), InvalidParameterError,
     "'hidden_units' parameter of RBM"),
    ("hidden-units-list-too-long",
     lambda: clf(hidden_units=["relu", "bernoulli", "relu"]).fit(X, Y), ValueError,
     "hidden_units has 3 entries but hidden_layer_sizes has 1"),
    ("pretrain-epochs-list-too-short",
     lambda: clf(hidden_layer_sizes=(4, 3), pretrain_epochs=[1]).fit(X, Y), ValueError,
     "pretrain_epochs has 1 entries but hidden_layer_sizes has 2"),
    ("negative-pretrain-epochs", lambda: clf(pretrain_epochs=[-1]).fit(X, Y), ValueError,
     "pretrain_epochs must hold integers >= 0"),
    ("zero-learning-rate-in-list", lambda: clf(pretrain_learning_rate=[0.0]).fit(X, Y),
     ValueError, "pretrain_learning_rate must hold numbers > 0"),
    ("bad-device", lambda: clf(device="gpu").fit(X, Y), ValueError,
     "device='gpu' is not a valid torch device"),
    ("rbm-bad-device", lambda: rbm(device="tpu:0").fit(X), ValueError,
     "is not a valid torch device"),
    ("device-not-a-string", lambda: rbm(device=0).fit(X), InvalidParameterError,
     "'device' parameter of RBM"),
    ("n-components-zero", lambda: rbm(n_components=0).fit(X), InvalidParameterError,
     r"'n_components' parameter of RBM must be an int in the range \[1, inf\)"),
    ("negative-learning-rate", lambda: rbm(learning_rate=-0.1).fit(X), InvalidParameterError,
     "'learning_rate' parameter of RBM"),
    ("bad-random-state", lambda: clf(random_state="seed").fit(X, Y), InvalidParameterError,
     "'random_state' parameter of DBNClassifier"),
    ("dropout-one", lambda: clf(dropout=1.0).fit(X, Y), InvalidParameterError,
     r"'dropout' parameter of DBNClassifier must be a float in the range \[0.0, 1.0\)"),
    ("unknown-solver", lambda: reg(solver="lbfgs").fit(X, Y_REG), InvalidParameterError,
     "'solver' parameter of DBNRegressor"),
]


@pytest.mark.parametrize(("call", "exception", "phrase"),
                         [case[1:] for case in FIT_CASES], ids=[case[0] for case in FIT_CASES])
def test_bad_fit_input(call, exception, phrase):
    with pytest.raises(exception, match=phrase) as info:
        call()
    assert type(info.value) is exception


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
@pytest.mark.parametrize("make", [lambda: clf(device="cuda"), lambda: rbm(device="cuda:0")])
def test_cuda_requested_without_cuda(make):
    estimator = make()
    with pytest.raises(ValueError, match="CUDA is not available here; use device='cpu'"):
        estimator.fit(X, Y)


# (id, call on the fitted estimators, exception type, phrase of the message)
FITTED_CASES = [
    ("predict-wrong-features", lambda f: f["clf"].predict(X[:, :3]), ValueError,
     "X has 3 features, but DBNClassifier is expecting 4 features as input"),
    ("proba-wrong-features", lambda f: f["clf"].predict_proba(np.ones((2, 5))), ValueError,
     "X has 5 features, but DBNClassifier is expecting 4"),
    ("regressor-wrong-features", lambda f: f["reg"].predict(X[:, :2]), ValueError,
     "X has 2 features, but DBNRegressor is expecting 4"),
    ("transform-wrong-features", lambda f: f["dbn"].transform(X[:, :3]), ValueError,
     "X has 3 features, but DBNTransformer is expecting 4"),
    ("rbm-transform-wrong-features", lambda f: f["rbm"].transform(X[:, :1]), ValueError,
     "X has 1 features, but RBM is expecting 4"),
    ("score-samples-wrong-features", lambda f: f["rbm"].score_samples(X[:, :3]), ValueError,
     "X has 3 features, but RBM is expecting 4"),
    ("gibbs-wrong-features", lambda f: f["rbm"].gibbs(X[:, :3]), ValueError,
     "X has 3 features, but RBM is expecting 4"),
    ("predict-nan", lambda f: f["clf"].predict(_with(np.nan)), ValueError,
     "Input X contains NaN"),
    ("proba-inf", lambda f: f["clf"].predict_proba(_with(np.inf)), ValueError,
     "Input X contains infinity"),
    ("transform-nan", lambda f: f["dbn"].transform(_with(np.nan)), ValueError,
     "Input X contains NaN"),
    ("gibbs-nan", lambda f: f["rbm"].gibbs(_with(np.nan)), ValueError, "Input X contains NaN"),
    ("predict-one-sample-1d", lambda f: f["clf"].predict(X[0]), ValueError,
     r"Reshape your data either using array\.reshape\(-1, 1\)"),
    ("predict-no-samples", lambda f: f["reg"].predict(X[:0]), ValueError,
     r"0 sample\(s\)"),
    ("score-samples-outside-bernoulli", lambda f: f["rbm"].score_samples(-X), ValueError,
     r"data ranges from -0\.99.*free energy or likelihood is not defined"),
    ("free-energy-outside-bernoulli", lambda f: f["rbm"].free_energy(X * 3), ValueError,
     r"clip X to their range first \(numpy\.clip\(X, 0\.0, 1\.0\)"),
    ("predict-None", lambda f: f["reg"].predict(None), ValueError,
     "Expected 2D array, got scalar array"),
    ("predict-strings", lambda f: f["clf"].predict(np.full((2, 4), "x")), ValueError,
     "could not convert string to float"),
    ("transform-complex", lambda f: f["rbm"].transform(X + 0j), ValueError,
     "Complex data not supported"),
    ("predict-sparse-wrong-features",
     lambda f: f["clf"].predict(scipy.sparse.csr_matrix(X[:, :3])), ValueError,
     "X has 3 features, but DBNClassifier is expecting 4"),
    ("partial-fit-wrong-features", lambda f: f["rbm"].partial_fit(X[:, :3]), ValueError,
     "X has 3 features, but RBM is expecting 4"),
    ("partial-fit-outside-bernoulli", lambda f: f["rbm"].partial_fit(X + 1), ValueError,
     _RESCALE),
    ("partial-fit-nan", lambda f: f["rbm"].partial_fit(_with(np.nan)), ValueError,
     "Input X contains NaN"),
    ("sample-negative", lambda f: f["rbm"].sample(-1), ValueError,
     "n_samples must be a non-negative integer"),
    ("sample-fractional-steps", lambda f: f["rbm"].sample(2, n_gibbs=1.5), ValueError,
     "n_gibbs must be a non-negative integer"),
]


@pytest.mark.parametrize(("call", "exception", "phrase"),
                         [case[1:] for case in FITTED_CASES],
                         ids=[case[0] for case in FITTED_CASES])
def test_bad_input_to_a_fitted_model(fitted, call, exception, phrase):
    with pytest.raises(exception, match=phrase) as info:
        call(fitted)
    assert type(info.value) is exception


def test_failed_partial_fit_leaves_the_model_unchanged(fitted):
    model = fitted["rbm"]
    weights, n_iter = model.components_.copy(), model.n_iter_
    with pytest.raises(ValueError):
        model.partial_fit(X * 2)
    assert model.n_iter_ == n_iter and np.array_equal(model.components_, weights)


# ------------------------------------------------------------------------------------------
# Before fit
# ------------------------------------------------------------------------------------------

UNFITTED_CASES = [
    ("predict", lambda: clf().predict(X)),
    ("predict_proba", lambda: clf().predict_proba(X)),
    ("predict_log_proba", lambda: clf().predict_log_proba(X)),
    ("score", lambda: clf().score(X, Y)),
    ("regressor-predict", lambda: reg().predict(X)),
    ("transform", lambda: DBNTransformer(**FAST).transform(X)),
    ("rbm-transform", lambda: rbm().transform(X)),
    ("score_samples", lambda: rbm().score_samples(X)),
    ("gibbs", lambda: rbm().gibbs(X)),
    ("sample", lambda: rbm().sample(2)),
    ("components_", lambda: rbm().components_),
    ("save-classifier", lambda: clf().save("never-written.safetensors")),
    ("save-rbm", lambda: rbm().save("never-written.safetensors")),
]


@pytest.mark.parametrize("call", [case[1] for case in UNFITTED_CASES],
                         ids=[case[0] for case in UNFITTED_CASES])
def test_use_before_fit(call, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(NotFittedError, match=r"is not fitted yet\. Call 'fit'"):
        call()
    assert not list(tmp_path.iterdir())  # save wrote nothing


# ------------------------------------------------------------------------------------------
# Input that is converted, not rejected
# ------------------------------------------------------------------------------------------


def test_lists_are_converted(fitted):
    model = clf().fit(X.tolist(), Y.tolist())
    assert np.array_equal(model.predict(X.tolist()), fitted["clf"].predict(X))
    assert np.array_equal(model.predict_proba(X), fitted["clf"].predict_proba(X))
    assert np.array_equal(rbm().fit(X.tolist()).transform(X.tolist()),
                          fitted["rbm"].transform(X))
    regressor = reg().fit(X.tolist(), Y_REG.tolist())
    assert np.array_equal(regressor.predict(X), fitted["reg"].predict(X))


def test_float64_is_accepted_and_gives_the_float32_model(fitted):
    X64 = X.astype(np.float64)
    model = clf().fit(X64, Y)
    assert np.array_equal(model.predict_proba(X64), fitted["clf"].predict_proba(X))
    Z = fitted["dbn"].transform(X64)
    assert Z.dtype == np.float64
    np.testing.assert_array_equal(Z, fitted["dbn"].transform(X))


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, bool, np.float16])
def test_integer_and_other_dtypes_are_accepted(fitted, dtype):
    binary = X > 0.5
    data = binary.astype(dtype)
    expected = binary.astype(np.float32)
    model = clf().fit(data, Y)
    assert np.array_equal(model.predict_proba(data), clf().fit(expected, Y).predict_proba(expected))
    Z = fitted["rbm"].transform(data)
    assert Z.dtype == np.float32
    assert np.array_equal(Z, fitted["rbm"].transform(expected))
    assert fitted["rbm"].gibbs(data).shape == (40, 4)
    assert fitted["rbm"].score_samples(data).shape == (40,)


def test_object_array_of_numbers_is_accepted(fitted):
    assert np.array_equal(fitted["clf"].predict(X.astype(object)), fitted["clf"].predict(X))


def test_read_only_and_non_contiguous_input(fitted):
    frozen = X.copy()
    frozen.flags.writeable = False
    assert np.array_equal(fitted["rbm"].transform(frozen), fitted["rbm"].transform(X))
    wide = np.asfortranarray(X)
    assert np.array_equal(fitted["clf"].predict_proba(wide), fitted["clf"].predict_proba(X))
    strided = np.repeat(X, 2, axis=1)[:, ::2]
    assert np.array_equal(fitted["dbn"].transform(strided), fitted["dbn"].transform(X))


def test_column_vector_y_warns_and_is_used(fitted):
    from sklearn.exceptions import DataConversionWarning

    with pytest.warns(DataConversionWarning, match="column-vector y was passed"):
        model = clf().fit(X, Y[:, None])
    assert np.array_equal(model.predict(X), fitted["clf"].predict(X))
