"""scikit-learn's estimator checks (``parametrize_with_checks``) on every estimator.

The configuration under test
----------------------------
scikit-learn's checks feed standardized, real-valued data (negative values included) to
every estimator. That lies outside the domain [0, 1] of Bernoulli visible units, the
default, which deepbelief rejects by design with a ValueError telling how to rescale (see
``tests/test_input_validation.py``). So the estimators are checked with Gaussian visible
units (``visible_units='gaussian'``), the unit type meant for standardized data, and are
kept small for speed (16 hidden units, 2 pretraining epochs, the CPU, a fixed seed). Apart
from the unit type and the sizes these are the default settings, including the fine-tuning
defaults, which ``check_classifiers_train`` and ``check_regressors_train`` exercise on about
a hundred samples.

``GenerativeDBN`` classifies generatively (free energies of the top RBM), which needs a
little more training than two epochs to pass ``check_classifiers_train``'s accuracy bar
(0.83 on blobs): it is checked as a single RBM over the inputs joined with the labels, 32
hidden units, 20 epochs at learning rate 0.05.

Every check passes: no check is marked as an expected failure.
"""

from __future__ import annotations

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from deepbelief import (
    RBM,
    ConditionalRBM,
    DBNAutoencoder,
    DBNClassifier,
    DBNRegressor,
    DBNTransformer,
    GenerativeDBN,
)

# scikit-learn's checks feed data of mean 100 to Gaussian units: the scale warning is right.
pytestmark = pytest.mark.filterwarnings("ignore::deepbelief.DataScaleWarning")

_DBN = {
    "visible_units": "gaussian",
    "hidden_layer_sizes": (16,),
    "pretrain_epochs": 2,
    "device": "cpu",
    "random_state": 0,
}

ESTIMATORS = [
    # Gaussian visible units want a smaller step than BernoulliRBM's 0.1 (Hinton 2010, §13.2).
    RBM(n_components=16, n_iter=2, learning_rate=0.01, visible_units="gaussian",
        device="cpu", random_state=0),
    DBNTransformer(**_DBN),
    DBNClassifier(**_DBN),
    DBNRegressor(**_DBN),
    GenerativeDBN((32,), visible_units="gaussian", pretrain_epochs=20,
                  pretrain_learning_rate=0.05, device="cpu", random_state=0),
    # Its defaults: 'auto' visible units model scikit-learn's real-valued targets with
    # Gaussian units on y standardised inside (and the context is standardised too).
    ConditionalRBM(device="cpu", random_state=0),
    # Its defaults: 'auto' visible units standardise real-valued data inside.
    DBNAutoencoder(),
]


def _expected_failed_checks(estimator) -> dict[str, str]:
    """Checks that are known to fail, with the reason (none at present)."""
    return {}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
