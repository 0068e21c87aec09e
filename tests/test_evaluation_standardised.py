"""Evaluation functions given an estimator that standardises its input inside
(``visible_units='auto'`` on real-valued data) refuse it instead of reading raw data through
its RBMs, and the advice they give (pass ``rbm_`` and standardised data, add the Jacobian)
reproduces the estimator's own score in the data's units."""

import numpy as np
import pytest

from deepbelief import RBM, DBNTransformer
from deepbelief.evaluation import exact_log_partition, log_likelihood


@pytest.fixture(scope="module")
def real_data():
    return np.random.default_rng(0).normal(50.0, 10.0, size=(120, 4))


@pytest.fixture(scope="module")
def rbm(real_data):
    return RBM(n_components=3, n_iter=2, device="cpu", random_state=0).fit(real_data)


def test_an_rbm_fitted_on_real_data_is_refused_with_advice(rbm, real_data):
    assert rbm.visible_units_ == "gaussian"
    with pytest.raises(ValueError, match=r"standardises its input.*model\.rbm_"):
        log_likelihood(rbm, real_data, log_z=0.0)
    with pytest.raises(ValueError, match="standardises its input"):
        exact_log_partition(rbm)


def test_the_advice_reproduces_the_estimators_score_in_data_units(rbm, real_data):
    z = (real_data - rbm.input_mean_) / rbm.input_scale_
    log_z = exact_log_partition(rbm.rbm_)
    advised = log_likelihood(rbm.rbm_, z, log_z=log_z) - np.log(rbm.input_scale_).sum()
    # the estimator's score_samples is -F in the data's units (log Z left out)
    np.testing.assert_allclose(advised, rbm.score_samples(real_data) - log_z, rtol=1e-4)


def test_a_dbn_fitted_on_real_data_is_refused(real_data):
    dbn = DBNTransformer((3,), pretrain_epochs=1, device="cpu", random_state=0).fit(real_data)
    from deepbelief.evaluation import dbn_log_likelihood_bound

    with pytest.raises(ValueError, match=r"model\.rbms_"):
        dbn_log_likelihood_bound(dbn, real_data, log_z_top=0.0)


def test_a_model_on_data_in_the_unit_interval_is_still_accepted():
    X = np.random.default_rng(1).random((50, 4))
    model = RBM(n_components=3, n_iter=1, device="cpu", random_state=0).fit(X)
    assert np.isfinite(exact_log_partition(model))
