"""scikit-learn's estimator checks on every public estimator exactly as a user constructs
it: ``Estimator()``, no argument at all.

scikit-learn's checks feed real-valued tables (negative values, means of 100) to every
estimator, as a new user would. ``visible_units='auto'``, the default, standardises such
data inside the estimator (Gaussian visible units), so the checks run on the defaults:
nothing is configured around them, with one exception of scikit-learn's own making:
:data:`PER_CHECK_PARAMS`. ``tests/test_sklearn_checks.py`` checks small
configurations of the same estimators. ``SequenceCRBM`` is left out: it takes sequences
(lists of (T, D) arrays), not one table of rows.

``check_sample_weight_equivalence_on_dense_data`` and ``_on_sparse_data`` compare a fit
with integer weights to a fit on the rows repeated as often, to 1e-7. Stochastic
mini-batch training cannot pass them: a repeated row changes every later random draw (the
hidden samples of pretraining, the shuffled mini-batches), so weights equal repetition in
expectation only. scikit-learn runs these two checks on its own stochastic estimators with
parameters that make the fit deterministic (``PER_ESTIMATOR_CHECK_PARAMS`` in
``sklearn/utils/_test_common/instance_generator.py``: ``MLPClassifier(solver='lbfgs')``,
``MLPRegressor(solver='sgd', tol=1e-2, random_state=42)``, ``LogisticRegression`` per
solver). So does this module: :data:`PER_CHECK_PARAMS` runs those two checks, and only
those, on a clone of the default estimator with the parameters of
``tests/test_sample_weight.py`` (no pretraining, one mini-batch of every row, no dropout,
no early stopping: nothing is drawn at random after the initial weights); ``GenerativeDBN``,
whose every epoch draws, on a single RBM with no epochs (the weights then enter its initial
biases, the labels' prior included, as repeated rows do).

No check is an expected failure of the defaults. (Until issue 13's defaults search, the
0.2.0 recipe failed ``check_regressors_train``: R² <= 0.5 on its 200-row table; the
rectified default reaches 0.86-0.93.) :data:`ROUNDING` lists a check that fails by float32
rounding, which depends on the
machine's BLAS: it may pass, and fails as an expected failure.
"""

from __future__ import annotations

import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from deepbelief import (
    RBM,
    ConditionalRBM,
    DBNAutoencoder,
    DBNClassifier,
    DBNRegressor,
    DBNTransformer,
    GenerativeDBN,
    ReplicatedSoftmaxRBM,
    SemanticHashing,
)

ESTIMATORS = [
    RBM(),
    DBNTransformer(),
    DBNClassifier(),
    DBNRegressor(),
    GenerativeDBN(),
    ConditionalRBM(),
    DBNAutoencoder(),
    ReplicatedSoftmaxRBM(),
    SemanticHashing(),
]

_WEIGHT_CHECKS = ("check_sample_weight_equivalence_on_dense_data",
                  "check_sample_weight_equivalence_on_sparse_data")
#: The configuration of tests/test_sample_weight.py without random draws after the initial
#: weights: no pretraining, every row in one mini-batch, no dropout, no early stopping (its
#: validation split is drawn).
_NO_DRAWS = {"hidden_layer_sizes": (8,), "pretrain_epochs": 0, "batch_size": 1000,
             "max_iter": 30, "dropout": 0.0, "early_stopping": False}

#: Parameters set on a clone of the default estimator for one check, by estimator and
#: check, as scikit-learn's ``PER_ESTIMATOR_CHECK_PARAMS`` (see the module's docstring).
PER_CHECK_PARAMS = {
    estimator: {check: params for check in _WEIGHT_CHECKS}
    for estimator, params in [
        ("DBNClassifier", _NO_DRAWS), ("DBNRegressor", _NO_DRAWS),
        # every epoch draws: the default's top RBM alone, with no epochs
        ("GenerativeDBN", {"hidden_layer_sizes": (2000,), "pretrain_epochs": 0})]
}

#: Checks that may fail by float32 rounding (machine-dependent), by (estimator, check).
ROUNDING = {
    ("DBNRegressor", "check_methods_subset_invariance"): "the float32 products of the "
    "(256, 256) network may round differently for one row and for 20 (1.8e-7 on a "
    "prediction of -0.31 on a 2-core EPYC, where the check allows 1e-7)",
}


@parametrize_with_checks(ESTIMATORS)
def test_defaults_pass_scikit_learn_checks(estimator, check):
    """A user's ``Estimator()`` passes scikit-learn's checks on real-valued data."""
    name = getattr(check, "func", check).__name__
    params = PER_CHECK_PARAMS.get(type(estimator).__name__, {}).get(name)
    try:
        check(estimator if params is None else clone(estimator).set_params(**params))
    except AssertionError:
        reason = ROUNDING.get((type(estimator).__name__, name))
        if reason is None:
            raise
        pytest.xfail(reason)
