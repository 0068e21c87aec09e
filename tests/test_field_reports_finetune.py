"""Field reports on fine-tuning (issue 19): divergence with finite weights, early stopping on
tiny data, one-column regression targets."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, DataConversionWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor

from deepbelief import DBNClassifier, DBNRegressor, DivergenceError, GenerativeDBN, load
from deepbelief.compat import SupervisedDBNClassification, SupervisedDBNRegression
from deepbelief.datasets import load_digits
from deepbelief.learning.supervised import DIVERGENCE_FACTOR, SupervisedObjective
from deepbelief.training.loop import fit_epochs

#: The reports' recipe, 0.2.0's defaults (sigmoid units, no dropout): their failures are
#: finite weights that predict one class, which rectified units turn into NaN at once.
FAST = {"hidden_layer_sizes": (32,), "pretrain_epochs": 2, "random_state": 0, "device": "cpu",
        "hidden_units": "bernoulli", "dropout": 0.0}


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits()
    return X[:600], y[:600]


@pytest.fixture(scope="module")
def regression():
    rng = np.random.default_rng(0)
    X = rng.random((300, 6))
    return X, X @ np.arange(1.0, 7.0) + 0.1 * rng.standard_normal(300)


# -- 5: fine-tuning that blows up with finite weights ----------------------------------------


#: The reported case on the digits: SGD at 10 makes the loss grow from about 6 to about 100
#: by epoch 7 (finite weights, every prediction one class).
REPORTED = {**FAST, "hidden_layer_sizes": (64,), "pretrain_epochs": 5, "max_iter": 30}


@pytest.fixture(scope="module")
def all_digits():
    return load_digits()


def test_sgd_fine_tuning_at_learning_rate_10_raises_instead_of_predicting_one_class(
        all_digits):
    """SGD at 10: a loss that grows tenfold with finite weights stops the fit."""
    X, y = all_digits
    clf = DBNClassifier(**REPORTED, solver="sgd", learning_rate_init=10)
    with pytest.raises(DivergenceError, match="fine-tuned network diverged") as info:
        clf.fit(X, y)
    message = str(info.value)
    assert "the mean loss of the epoch" in message and "weights are finite" in message
    assert "learning_rate_init" in message and "solver='adam'" in message
    assert not hasattr(clf, "network_")


@pytest.mark.parametrize("advice", [{"solver": "sgd", "learning_rate_init": 0.1},
                                    {"solver": "adam", "learning_rate_init": 0.001}])
def test_the_divergence_advice_fits_the_reported_case(all_digits, advice):
    """Both remedies the message names train the same network well."""
    X, y = all_digits
    clf = DBNClassifier(**REPORTED, **advice).fit(X, y)
    assert clf.score(X, y) > 0.9
    assert max(clf.loss_curve_) < clf.loss_curve_[0] * 2


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_huge_learning_rate_is_caught_in_the_first_epoch(digits, solver):
    """At 1e4 the loss is 10^4-10^5 times the start from the first epoch on."""
    X, y = digits
    clf = DBNClassifier(**FAST, solver=solver, learning_rate_init=1e4, max_iter=5)
    with pytest.raises(DivergenceError, match="diverged at epoch 1: the mean loss"):
        clf.fit(X, y)


def test_regressor_that_blows_up_with_finite_weights_raises(regression):
    X, y = regression
    reg = DBNRegressor(**FAST, solver="sgd", learning_rate_init=0.5, max_iter=5)
    with pytest.raises(DivergenceError, match=r"fine-tuned network diverged at epoch 1: the "
                                              r"mean loss.*learning_rate_init"):
        reg.fit(X, y)
    assert DBNRegressor(**FAST, solver="sgd", learning_rate_init=0.1, max_iter=20).fit(
        X, y).score(X, y) > 0.9


def test_compat_classifier_with_a_huge_learning_rate_raises(digits):
    X, y = digits
    clf = SupervisedDBNClassification(hidden_layers_structure=[32], n_epochs_rbm=2,
                                      learning_rate=1e4, n_iter_backprop=3, verbose=False,
                                      random_state=0, device="cpu")
    with pytest.raises(DivergenceError, match="fine-tuned network diverged"):
        clf.fit(X, y)


def test_up_down_that_blows_up_with_finite_weights_raises(all_digits):
    """Up-down at a learning rate of 1 leaves a model that classifies at chance."""
    X, y = all_digits
    params = {"hidden_layer_sizes": (64, 64, 128), "pretrain_epochs": 5, "updown_epochs": 2,
              "random_state": 0, "device": "cpu"}
    gen = GenerativeDBN(**params, updown_learning_rate=1.0)
    with pytest.raises(DivergenceError, match=r"up-down.*diverged at epoch 1: the "
                                              r"reconstruction error.*updown_learning_rate"):
        gen.fit(X, y)
    assert not hasattr(gen, "rbms_")
    healthy = GenerativeDBN(**params, updown_learning_rate=0.3).fit(X, y)  # the advice
    assert healthy.score(X, y) > 0.5
    assert healthy.history_["updown"][-1]["reconstruction_error"] < 4


class _Net(torch.nn.Linear):
    def set_generator(self, generator) -> None:
        pass


def _objective(baseline: float) -> SupervisedObjective:
    net = _Net(2, 1)
    with torch.no_grad():
        net.weight.zero_()
        net.bias.zero_()
    return SupervisedObjective(net, torch.nn.MSELoss(), baseline=baseline, advice="Do X.")


def test_loss_growth_is_measured_against_the_first_batch_or_the_baseline():
    x, y = torch.zeros(4, 2), torch.ones(4, 1)  # first loss: 1
    objective = _objective(baseline=0.0)
    objective.gradients_((x, y), None)
    assert objective.failure((x,)) is None
    objective.gradients_((x, 3 * y), None)  # loss 9: below 10 times the first
    assert objective.failure((x,)) is None
    objective.gradients_((x, 4 * y), None)  # loss 16
    assert "16" in objective.failure((x,))
    assert objective.failure((x,)) is None  # each epoch is judged on its own batches

    # A run that starts with a tiny loss (a resumed fit) is judged against the baseline.
    objective = _objective(baseline=1.0)
    objective.gradients_((x, 0.001 * y), None)
    objective.gradients_((x, 3 * y), None)
    assert objective.failure((x,)) is None
    assert DIVERGENCE_FACTOR == 10.0


def test_the_loop_raises_the_objectives_failure_with_its_advice():
    objective = _objective(baseline=0.0)
    x, y = torch.zeros(8, 2), torch.ones(8, 1)  # loss 1, then 100**2 from epoch 2 on
    optimizer = torch.optim.SGD(objective.module.parameters(), lr=0.0)
    with pytest.raises(DivergenceError, match=r"diverged at epoch 2: .*over 10 times.*Do X\."):
        fit_epochs(objective, (x, y), optimizer, epochs=3, batch_size=4, generator=None,
                   callbacks=[lambda epoch, record: y.mul_(100) is None])


# -- 8: early stopping on tiny data ------------------------------------------------------------


def _tiny(digits, n: int, n_classes: int):
    X, y = digits
    keep = np.flatnonzero(y < n_classes)[:n]
    return X[keep], y[keep]


@pytest.mark.parametrize("n_classes", [3, 10])
def test_early_stopping_on_13_samples_of_several_classes_fits_as_mlp_does(digits, n_classes):
    """A stratified split is impossible there: the split is drawn at random, with a warning."""
    X, y = _tiny(digits, 13, n_classes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        MLPClassifier(early_stopping=True, max_iter=3).fit(X, y)
    clf = DBNClassifier(**FAST, early_stopping=True, max_iter=3)
    with pytest.warns(UserWarning, match="drawn at random, not stratified"):
        clf.fit(X, y)
    assert len(clf.validation_scores_) == clf.n_iter_ > 0


def test_early_stopping_split_stays_stratified_where_it_can(digits):
    X, y = _tiny(digits, 40, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # no fallback warning
        warnings.simplefilter("ignore", ConvergenceWarning)  # 2 epochs do not converge
        clf = DBNClassifier(**FAST, early_stopping=True, validation_fraction=0.25,
                            max_iter=2).fit(X, y)
    assert clf.n_iter_ == 2


@pytest.mark.parametrize("estimator", [
    lambda: DBNClassifier(**FAST, early_stopping=True, max_iter=2),
    lambda: DBNRegressor(**FAST, early_stopping=True, max_iter=2),
])
def test_early_stopping_with_too_few_samples_names_validation_fraction(digits, estimator):
    """5 samples hold out 1 for validation: a clear error before pretraining, whose advice
    (the validation_fraction it names, or early_stopping=False) fits."""
    X, y = _tiny(digits, 5, 2)
    model = estimator()
    with pytest.raises(ValueError, match=r"validation_fraction=0.1 of the 5 training samples: "
                                         r"1 for validation.*between 0.21 and 0.8"):
        model.fit(X, y)
    assert not hasattr(model, "rbms_")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert clone(model).set_params(validation_fraction=0.21).fit(X, y).n_iter_ > 0
        assert clone(model).set_params(validation_fraction=0.8).fit(X, y).n_iter_ > 0
    assert clone(model).set_params(early_stopping=False).fit(X, y).n_iter_ == 2


def test_early_stopping_with_two_samples_says_to_give_more_or_turn_it_off(digits):
    X, y = _tiny(digits, 2, 2)
    with pytest.raises(ValueError, match="give at least 3 samples or set early_stopping=False"):
        DBNClassifier(**FAST, early_stopping=True).fit(X, y)


# -- 10: regression targets of shape (n, 1) ----------------------------------------------------


def test_column_vector_targets_give_1d_predictions_like_mlp(regression, tmp_path):
    X, y = regression
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlp = MLPRegressor(hidden_layer_sizes=(8,), max_iter=5).fit(X, y[:, None])
    reg = DBNRegressor(**FAST, max_iter=3)
    with pytest.warns(DataConversionWarning, match="column-vector y"):
        reg.fit(X, y[:, None])
    flat = clone(reg).fit(X, y)
    assert mlp.predict(X).shape == reg.predict(X).shape == (300,)
    assert reg.n_outputs_ == 1
    np.testing.assert_array_equal(reg.predict(X), flat.predict(X))  # the same model
    loaded = load(reg.save(tmp_path / "reg.safetensors"))
    np.testing.assert_array_equal(loaded.predict(X), reg.predict(X))


def test_two_column_targets_keep_two_columns(regression):
    X, y = regression
    reg = DBNRegressor(**FAST, max_iter=2).fit(X, np.c_[y, -y])
    assert reg.predict(X).shape == (300, 2)


def test_a_model_saved_with_a_column_vector_by_0_2_0_predicts_1d(regression, tmp_path,
                                                                 monkeypatch):
    """deepbelief 0.2.0 wrote ``y_1d: false`` for y of shape (n, 1); such files load to
    1-d predictions too."""
    X, y = regression
    reg = DBNRegressor(**FAST, max_iter=2).fit(X, y)
    monkeypatch.setattr(DBNRegressor, "_target_state",
                        lambda self: {"y_mean": self.y_mean_.tolist(),
                                      "y_scale": self.y_scale_.tolist(), "y_1d": False})
    path = reg.save(tmp_path / "old.safetensors")
    monkeypatch.undo()
    assert load(path).predict(X).shape == (300,)


def test_compat_regression_with_a_column_vector_predicts_1d(regression):
    X, y = regression
    reg = SupervisedDBNRegression(hidden_layers_structure=[16], n_epochs_rbm=1,
                                  n_iter_backprop=2, learning_rate=0.01, verbose=False,
                                  random_state=0, device="cpu")
    with pytest.warns(DataConversionWarning):
        reg.fit(X, y[:, None])
    assert reg.predict(X).shape == (300,)
    assert math.isfinite(reg.score(X, y[:, None]))


def test_fine_tuning_that_collapses_to_one_class_warns():
    """Field report: SGD at learning rate 5 left a classifier predicting one class, with a
    loss too low for the divergence check and no word."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    from deepbelief import DBNClassifier
    from deepbelief.datasets import load_digits

    X, y = load_digits()
    X, y = X[:600], y[:600]
    with pytest.warns(ConvergenceWarning, match=r"predicts one class .* for every training "
                                                r"sample.*rose above.*learning_rate_init=5"):
        DBNClassifier((64, 64), solver="sgd", learning_rate_init=5, pretrain_epochs=2,
                      max_iter=10, random_state=0, device="cpu").fit(X, y)
    with warnings.catch_warnings():  # the advice: a smaller rate; a healthy fit is silent
        warnings.simplefilter("error", ConvergenceWarning)
        clf = DBNClassifier((64, 64), hidden_units="relu", solver="sgd",
                            learning_rate_init=0.05, pretrain_epochs=2, max_iter=30,
                            random_state=0, device="cpu").fit(X, y)
    assert clf.score(X, y) > 0.9


def test_regression_no_better_than_the_mean_warns():
    from sklearn.datasets import load_diabetes
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.preprocessing import minmax_scale

    from deepbelief import DBNRegressor

    X, y = load_diabetes(return_X_y=True)
    X = minmax_scale(X)
    with pytest.warns(ConvergenceWarning, match=r"no better than their mean"):
        DBNRegressor((64,), hidden_units="relu", pretrain_epochs=3, max_iter=50, solver="sgd",
                     learning_rate_init=0.5, random_state=0, device="cpu").fit(X, y)
