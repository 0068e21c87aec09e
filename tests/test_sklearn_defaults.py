"""scikit-learn's estimator checks on every public estimator exactly as a user constructs
it: ``Estimator()``, no argument at all.

scikit-learn's checks feed real-valued tables (negative values, means of 100) to every
estimator, as a new user would. ``visible_units='auto'``, the default, standardises such
data inside the estimator (Gaussian visible units), so the checks run on the defaults:
nothing is configured around them. ``tests/test_sklearn_checks.py`` checks small
configurations of the same estimators. ``SequenceCRBM`` is left out: it takes sequences
(lists of (T, D) arrays), not one table of rows.

The checks listed in :data:`KNOWN_FAILURES` fail with the defaults for reasons of the
default training recipe, not of the input handling: apart from the ``sample_weight`` checks
(new since), they failed in the same way before ``'auto'`` existed, with
``visible_units='gaussian'`` given (version 0.2.0). They are strict
expected failures: once the defaults pass them, the test fails until the entry is removed.
:data:`ROUNDING` lists a check that fails by float32 rounding, which depends on the
machine's BLAS: it may pass, and fails as an expected failure.
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

_TRAIN = ("check_{}_train", "check_{}_train(readonly_memmap=True)",
          "check_{}_train(readonly_memmap=True,X_dtype=float32)")
_AIS = ("score needs whole-number word counts for AIS (50 hidden units are too many to "
        "enumerate), and the checks pass fractional values")

#: New with ``sample_weight`` (issue 13, item 4), so not from 0.2.0: weights equal repeated
#: rows in expectation only, as for scikit-learn's own stochastic estimators;
#: tests/test_sample_weight.py passes both checks on a configuration without random draws.
_WEIGHTS = dict.fromkeys(
    ("check_sample_weight_equivalence_on_dense_data",
     "check_sample_weight_equivalence_on_sparse_data"),
    "pretraining samples hidden units row by row and both phases shuffle mini-batches, so a "
    "repeated row changes every later random draw")

#: Checks the defaults fail, by estimator, with the reason (see the module's docstring).
KNOWN_FAILURES = {
    "DBNClassifier": _WEIGHTS,
    "DBNRegressor": {
        **_WEIGHTS,
        **{check.format("regressors"): "the default recipe reaches R² <= 0.5 on the "
           "200-row regression table of the check (predictions near the mean)"
           for check in _TRAIN},
    },
    "GenerativeDBN": {
        check.format("classifiers"): "the default (500, 500, 2000) stack trained for 10 "
        "epochs on 300 blobs predicts one class (also on the blobs scaled into [0, 1])"
        for check in _TRAIN},
    "ReplicatedSoftmaxRBM": {"check_fit_score_takes_y": _AIS,
                             "check_pipeline_consistency": _AIS},
}


#: Checks that may fail by float32 rounding (machine-dependent), by (estimator, check).
ROUNDING = {
    ("DBNRegressor", "check_methods_subset_invariance"): "the float32 products of the "
    "(256, 256) network may round differently for one row and for 20 (1.8e-7 on a "
    "prediction of -0.31 on a 2-core EPYC, where the check allows 1e-7)",
}


def _expected_failed_checks(estimator) -> dict[str, str]:
    return KNOWN_FAILURES.get(type(estimator).__name__, {})


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks,
                         xfail_strict=True)
def test_defaults_pass_scikit_learn_checks(estimator, check):
    """A user's ``Estimator()`` passes scikit-learn's checks on real-valued data."""
    try:
        check(estimator)
    except AssertionError:
        reason = ROUNDING.get((type(estimator).__name__, getattr(check, "func", check).__name__))
        if reason is None:
            raise
        pytest.xfail(reason)
