"""``visible_units='auto'``, every estimator's default: Bernoulli units on data in [0, 1],
Gaussian units on data standardised inside the estimator otherwise, in every method, in the
model file and in the network handed to PyTorch.

The situation behind it: a new user passes a real-valued table (negative values, columns
in the hundreds) as they would to ``MLPClassifier``, and used to get a ValueError from the
Bernoulli input units.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.base import clone
from sklearn.preprocessing import MaxAbsScaler

from deepbelief import (
    RBM,
    DBNAutoencoder,
    DBNClassifier,
    DBNRegressor,
    DBNTransformer,
    GenerativeDBN,
    load,
)
from deepbelief.core.units import DOMAIN_TOLERANCE
from deepbelief.estimators._generative_recipe import GAUSSIAN_SPREAD
from deepbelief.estimators._input_scaling import InputScaling
from deepbelief.evaluation import exact_log_partition

CPU = {"device": "cpu", "random_state": 0}
ESTIMATORS = {
    "RBM": RBM(8, n_iter=2, **CPU),
    "DBNTransformer": DBNTransformer((8, 4), pretrain_epochs=2, **CPU),
    "DBNClassifier": DBNClassifier((8,), pretrain_epochs=2, max_iter=5, **CPU),
    "DBNRegressor": DBNRegressor((8,), pretrain_epochs=2, max_iter=5, **CPU),
    "GenerativeDBN": GenerativeDBN((8, 16), pretrain_epochs=2, updown_epochs=1, **CPU),
    "DBNAutoencoder": DBNAutoencoder((8, 2), pretrain_epochs=2, max_iter=3, **CPU),
}
SUPERVISED = {"DBNClassifier", "DBNRegressor", "GenerativeDBN"}

_RNG = np.random.default_rng(0)
#: A real-valued table: columns of other means and scales, negative values included.
REAL = (_RNG.normal(size=(240, 6)) * [1.0, 10.0, 0.1, 100.0, 3.0, 1.0]
        + [0.0, 50.0, -3.0, 1000.0, 0.0, -1.0])
UNIT = _RNG.random((240, 6))  # in [0, 1]
LABELS = (REAL[:, 0] + REAL[:, 4] / 3 > 0).astype(int)


def _fit(name: str, X, **params):
    model = clone(ESTIMATORS[name]).set_params(**params)
    if name == "DBNRegressor":
        return model.fit(X, LABELS.astype(float))
    return model.fit(X, LABELS) if name in SUPERVISED else model.fit(X)


def _output(model, X) -> np.ndarray:
    """What the model computes from ``X``: its predictions, or its features."""
    if isinstance(model, DBNClassifier | GenerativeDBN):
        return model.predict_proba(X)
    return model.predict(X) if hasattr(model, "predict") else model.transform(X)


def _first_layer(model):
    return model.rbm_ if hasattr(model, "rbm_") else model.rbms_[0]


@pytest.fixture(scope="module")
def fitted_real() -> dict:
    return {name: _fit(name, REAL) for name in ESTIMATORS}


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_auto_picks_bernoulli_units_for_data_in_the_unit_interval(name):
    model = _fit(name, UNIT)
    assert model.visible_units == "auto"
    assert model.visible_units_ == "bernoulli" and _first_layer(model).visible.name == "bernoulli"
    assert model.input_mean_ is None and model.input_scale_ is None


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_a_real_valued_table_trains_on_gaussian_units_and_standardised_data(fitted_real, name):
    """A real-valued table, which Bernoulli units refused, fits with the defaults."""
    model = fitted_real[name]
    assert model.visible_units_ == "gaussian" and _first_layer(model).visible.name == "gaussian"
    # the statistics of the float32 values the model computes with (float64 sums)
    real32 = REAL.astype(np.float32)
    np.testing.assert_allclose(model.input_mean_, real32.mean(0, dtype=np.float64), rtol=1e-12)
    # GenerativeDBN spreads standardised data to a standard deviation of 3 (its recipe)
    spread = GAUSSIAN_SPREAD if name == "GenerativeDBN" else 1.0
    np.testing.assert_allclose(model.input_scale_, real32.std(0, dtype=np.float64) / spread,
                               rtol=1e-12)
    assert np.isfinite(_output(model, REAL)).all()


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_explicit_bernoulli_units_still_refuse_a_real_valued_table(name):
    with pytest.raises(ValueError, match=r"Bernoulli units take values in \[0, 1\]"):
        _fit(name, REAL, visible_units="bernoulli")


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_the_units_of_the_table_do_not_matter(name):
    """Columns given in other units (times a power of two, so that the standardised data
    are the same numbers exactly) give the same model and the same outputs, bit for bit:
    the estimator standardises in fit and in every prediction."""
    scale = 2.0 ** np.arange(-3, 3)
    a, b = _fit(name, REAL), _fit(name, REAL * scale)
    np.testing.assert_array_equal(_output(a, REAL), _output(b, REAL * scale))
    for p, q in zip(_first_layer(a).parameters(), _first_layer(b).parameters(), strict=True):
        assert torch.equal(p, q)


def test_constant_column_is_kept_with_unit_scale():
    X = REAL.copy()
    X[:, 2] = 7.0
    model = _fit("DBNTransformer", X)
    assert model.input_scale_[2] == 1.0 and model.input_mean_[2] == 7.0
    assert np.isfinite(model.transform(X)).all()


def test_rounding_just_outside_the_unit_interval_is_bernoulli_data_clipped():
    """Data from a scaler that rounds to 1.00003 or -2e-5 is data in [0, 1]: Bernoulli
    units, trained as on the clipped data (as explicit Bernoulli units do)."""
    X = UNIT.copy()
    X[0, 1], X[3, 2] = 1 + DOMAIN_TOLERANCE / 3, -DOMAIN_TOLERANCE / 5
    rounded, clipped = _fit("RBM", X), _fit("RBM", np.clip(X, 0, 1))
    assert rounded.visible_units_ == "bernoulli"
    np.testing.assert_array_equal(rounded.components_, clipped.components_)


@settings(max_examples=25, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(2, 8), st.integers(1, 4)),
              elements=st.floats(-3.0, 3.0, allow_nan=False)))
def test_auto_is_bernoulli_exactly_when_every_value_fits_the_unit_interval(X):
    inside = X.min() >= -DOMAIN_TOLERANCE and X.max() <= 1 + DOMAIN_TOLERANCE
    scaling = InputScaling.fit(X, "auto")
    assert (scaling.visible_units == "bernoulli") == inside
    assert scaling.standardises == (not inside)


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_standardised_model_round_trips_through_its_file(fitted_real, name, tmp_path):
    model = fitted_real[name]
    loaded = load(model.save(tmp_path / "model.safetensors"))
    assert loaded.visible_units_ == "gaussian"
    np.testing.assert_array_equal(loaded.input_mean_, model.input_mean_)
    np.testing.assert_array_equal(loaded.input_scale_, model.input_scale_)
    np.testing.assert_array_equal(_output(loaded, REAL[:20]), _output(model, REAL[:20]))
    if hasattr(model, "reconstruct"):
        np.testing.assert_array_equal(loaded.reconstruct(REAL[:20]), model.reconstruct(REAL[:20]))


def test_a_file_written_before_the_scaling_was_kept_loads_with_its_parameter():
    """Model files of earlier versions have no ``visible_units_``: the parameter stands."""
    scaling = InputScaling.from_state({}, "bernoulli")
    assert (scaling.visible_units, scaling.mean, scaling.scale) == ("bernoulli", None, None)


@pytest.mark.parametrize("name", ["RBM", "DBNTransformer"])
def test_partial_fit_keeps_the_scaling_of_its_first_batch(name):
    model = clone(ESTIMATORS[name])
    model.partial_fit(REAL[:120])
    mean, scale = model.input_mean_.copy(), model.input_scale_.copy()
    model.partial_fit(REAL[120:])  # rows of other means and scales: not refitted
    np.testing.assert_array_equal(model.input_mean_, mean)
    np.testing.assert_array_equal(model.input_scale_, scale)
    np.testing.assert_allclose(mean, REAL[:120].mean(0), rtol=1e-6)


def test_partial_fit_after_data_in_the_unit_interval_stays_strict():
    model = clone(ESTIMATORS["RBM"]).partial_fit(UNIT)
    with pytest.raises(ValueError, match=r"Bernoulli units take values in \[0, 1\]"):
        model.partial_fit(REAL)


@pytest.mark.parametrize("name", ["RBM", "DBNTransformer", "DBNClassifier", "DBNRegressor",
                                  "DBNAutoencoder"])
def test_to_torch_standardises_as_the_estimator_does(fitted_real, name):
    model = fitted_real[name]
    net = model.to_torch()
    assert next(n for n, _ in net.named_children()) == "standardize"
    with torch.no_grad():
        out = net(torch.as_tensor(REAL, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(out, _output(model, REAL), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ["RBM", "DBNTransformer", "GenerativeDBN", "DBNAutoencoder"])
def test_reconstructions_are_in_the_data_units(fitted_real, name):
    model = fitted_real[name]
    scaling = InputScaling.of(model)
    recon = model.reconstruct(REAL)
    z = torch.as_tensor(scaling.apply(REAL))
    if name == "RBM":
        inside = model.rbm_.visible_mean(model.rbm_.hidden_mean(z))
    elif name == "DBNAutoencoder":
        inside = model.network_(z)
    else:
        inside = None
    if inside is not None:
        np.testing.assert_allclose(recon, scaling.invert(inside.detach().numpy()), rtol=1e-5,
                                   atol=1e-4)
    # the column of mean 1000 and scale 100 comes back near 1000, not near 0
    assert abs(recon[:, 3].mean() - 1000) < 100


@pytest.mark.parametrize("name", ["RBM", "DBNTransformer"])
def test_inverse_transform_of_transform_is_reconstruct_in_data_units(fitted_real, name):
    model = fitted_real[name]
    np.testing.assert_allclose(model.inverse_transform(model.transform(REAL[:30])),
                               model.reconstruct(REAL[:30]), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("name", ["RBM", "DBNTransformer", "GenerativeDBN"])
def test_samples_are_in_the_data_units(fitted_real, name):
    samples = fitted_real[name].sample(200, n_gibbs=5, random_state=0)
    assert samples.shape == (200, 6)
    assert abs(samples[:, 3].mean() - 1000) < 100 and abs(samples[:, 1].mean() - 50) < 10


def test_rbm_gibbs_step_is_in_the_data_units(fitted_real):
    step = fitted_real["RBM"].gibbs(REAL, random_state=0)
    assert step.dtype != bool and abs(step[:, 3].mean() - 1000) < 100


@pytest.mark.parametrize("name", ["RBM", "GenerativeDBN"])
def test_completion_keeps_the_known_entries_exactly_and_fills_in_data_units(fitted_real, name):
    known = np.arange(6) < 3
    filled = fitted_real[name].complete(REAL[:50], known, n_iter=5, random_state=0)
    np.testing.assert_array_equal(filled[:, :3], REAL[:50, :3].astype(filled.dtype))
    assert abs(filled[:, 3].mean() - 1000) < 100


def test_generative_training_mean_is_what_the_network_reads(fitted_real):
    """``complete`` starts the unknown entries at ``training_mean_``, in the network's
    (standardised) units."""
    np.testing.assert_allclose(fitted_real["GenerativeDBN"].training_mean_, 0.0, atol=1e-5)


def test_rbm_score_is_a_density_of_the_data_in_its_own_units():
    """The log-likelihood in the data's units includes the Jacobian of the
    standardisation: ``exp(score - log Z)`` integrates to 1 over the data's axis."""
    x = _RNG.normal(40.0, 8.0, size=(300, 1))
    rbm = RBM(3, n_iter=5, **CPU).fit(x)
    assert rbm.visible_units_ == "gaussian" and rbm.input_scale_[0] > 7
    grid = np.linspace(-40.0, 120.0, 20001)[:, None]
    density = np.exp(rbm.score_samples(grid) - exact_log_partition(rbm.rbm_))
    assert np.trapezoid(density, grid[:, 0]) == pytest.approx(1.0, abs=1e-3)
    z = torch.as_tensor(InputScaling.of(rbm).apply(x))
    with torch.no_grad():
        free = rbm.rbm_.free_energy(z).double().numpy()
    expected = -free - np.log(rbm.input_scale_).sum()
    np.testing.assert_allclose(rbm.score_samples(x), expected, rtol=1e-12)
    np.testing.assert_allclose(rbm.free_energy(x), -expected, rtol=1e-12)


def test_rbm_score_of_data_in_the_unit_interval_has_no_jacobian():
    model = _fit("RBM", UNIT)
    assert InputScaling.of(model).log_jacobian == 0.0
    assert (model.score_samples(UNIT) <= 0).all()  # the exact pseudo-log-likelihood


def test_sample_inputs_needs_data_in_the_unit_interval():
    with pytest.raises(ValueError, match=r"'auto' picked Gaussian units.*MinMaxScaler"):
        RBM(4, n_iter=1, sample_inputs=True, **CPU).fit(REAL)
    assert RBM(4, n_iter=1, sample_inputs=True, **CPU).fit(UNIT).visible_units_ == "bernoulli"


def test_sparse_data_outside_the_unit_interval_gets_advice_that_works():
    counts = scipy.sparse.random(60, 8, density=0.3, random_state=0, format="csr") * 5
    with pytest.raises(ValueError, match=r"would make this sparse matrix dense.*MaxAbsScaler"):
        RBM(4, n_iter=1, **CPU).fit(counts)
    model = RBM(4, n_iter=1, **CPU).fit(MaxAbsScaler().fit_transform(counts))
    assert model.visible_units_ == "bernoulli"
    dense = RBM(4, n_iter=1, **CPU).fit(counts.toarray())  # or pass a dense array
    assert dense.visible_units_ == "gaussian"


def test_a_standardised_model_reads_sparse_input_at_prediction(fitted_real):
    model = fitted_real["DBNClassifier"]
    np.testing.assert_array_equal(model.predict_proba(scipy.sparse.csr_matrix(REAL[:20])),
                                  model.predict_proba(REAL[:20]))


def test_a_file_larger_than_memory_is_standardised_as_in_memory(tmp_path):
    path = tmp_path / "real.npy"
    np.save(path, REAL.astype(np.float32))
    on_disk = _fit("DBNTransformer", str(path))
    in_memory = _fit("DBNTransformer", REAL.astype(np.float32))
    np.testing.assert_allclose(on_disk.input_mean_, in_memory.input_mean_, rtol=1e-6)
    np.testing.assert_allclose(on_disk.input_scale_, in_memory.input_scale_, rtol=1e-6)
    np.testing.assert_allclose(on_disk.transform(REAL), in_memory.transform(REAL), atol=1e-4)


def test_batches_are_standardised_one_at_a_time():
    """A stream of batches trains as the same stream standardised beforehand would."""
    batches = [REAL[i:i + 60].astype(np.float32) for i in range(0, 240, 60)]
    streamed = _fit("RBM", batches)
    assert streamed.visible_units_ == "gaussian"
    np.testing.assert_allclose(streamed.input_mean_, REAL.mean(0), rtol=1e-6)
    scaling = InputScaling.of(streamed)
    by_hand = _fit("RBM", [scaling.apply(b) for b in batches], visible_units="gaussian")
    np.testing.assert_allclose(streamed.components_, by_hand.components_, atol=1e-5)


def test_a_stream_in_the_unit_interval_is_checked_batch_by_batch():
    """A later pass over a stream may yield other values (augmentation): Bernoulli units
    picked on the first pass refuse them as explicit ones do."""
    class Drifting:
        def __init__(self):
            self.passes = 0

        def __iter__(self):
            self.passes += 1
            shift = 0.0 if self.passes <= 2 else 5.0  # the check's pass and epoch 1
            return iter([UNIT[:120] + shift, UNIT[120:] + shift])

    with pytest.raises(ValueError, match=r"Bernoulli units take values in \[0, 1\]"):
        RBM(4, n_iter=3, **CPU).fit(Drifting())


def test_a_float64_array_and_a_list_of_the_same_numbers_train_the_same_model():
    """A float64 array stays float64 through validation and a list becomes float32: the
    standardisation starts from the float32 values in both, so both give one model (the
    rectified default network amplified the difference to 0.6 on scikit-learn's
    regression check)."""
    rng = np.random.default_rng(3)
    X = rng.normal(5.0, 3.0, (60, 4))
    y = X @ np.array([1.0, -2.0, 0.5, 0.0])
    params = dict(hidden_layer_sizes=(8,), pretrain_epochs=1, max_iter=3, random_state=0,
                  device="cpu")
    a = DBNRegressor(**params).fit(X, y)
    b = DBNRegressor(**params).fit(X.tolist(), y)
    np.testing.assert_array_equal(a.input_mean_, b.input_mean_)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_values_beyond_float32_are_refused_and_the_advice_works(name):
    """Field report: a column of 1e300 (finite in float64, infinite in the models' float32)
    ended in a DivergenceError that advised a smaller learning rate."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    huge = REAL.copy()
    huge[7, 3] = 1e300
    with pytest.raises(ValueError, match=r"1 value\(s\) beyond float32's range.*1e\+300.*row "
                                         r"7, column 3.*arcsinh"):
        _fit(name, huge)
    pipe = make_pipeline(FunctionTransformer(np.arcsinh), clone(ESTIMATORS[name]))
    y = LABELS.astype(float) if name == "DBNRegressor" else LABELS
    pipe.fit(huge, y) if name in SUPERVISED else pipe.fit(huge)
    assert np.isfinite(_output(pipe[-1], pipe[0].transform(huge))).all()
