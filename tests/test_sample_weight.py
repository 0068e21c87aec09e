"""``sample_weight`` and ``class_weight`` in the supervised estimators' ``fit``, and the
warnings a new user wants (issue 13, items 4 and 5).

A user with a rare class (90/6/4 %) got a classifier that predicts the majority class only,
without a word, and ``fit(X, y, sample_weight=w)`` or ``class_weight='balanced'`` were
TypeErrors.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse
import torch
from sklearn import config_context
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning, UnsetMetadataPassedError
from sklearn.metrics import accuracy_score, r2_score, recall_score
from sklearn.model_selection import cross_validate, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.estimator_checks import (
    check_sample_weight_equivalence_on_dense_data,
    check_sample_weight_equivalence_on_sparse_data,
)

from deepbelief import DBNClassifier, DBNRegressor, load
from deepbelief.callbacks import Callback
from deepbelief.cli.main import main
from deepbelief.datasets import load_digits, load_mnist
from deepbelief.estimators import _sample_weight as weighting
from deepbelief.estimators._convergence import check_training_predictions
from deepbelief.learning.supervised import SupervisedObjective, weighted_mean
from deepbelief.training import greedy
from deepbelief.training.resampled import ResampledSource
from deepbelief.training.sources import ArraySource, TensorSource

CPU = {"device": "cpu", "random_state": 0}
TINY = {"hidden_layer_sizes": (8,), "pretrain_epochs": 2, "max_iter": 10, **CPU}

quiet = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def table():
    """60 rows of 6 features in [0, 1], 3 classes, and a real-valued target."""
    rng = np.random.default_rng(0)
    X = rng.random((60, 6))
    y = np.arange(60) % 3
    return X, y, X @ np.arange(1.0, 7.0)


def _parameters(model) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.network_.parameters()]


def _identical(a, b) -> bool:
    return all(torch.equal(p, q) for p, q in zip(_parameters(a), _parameters(b), strict=True))


# -- what a weight means ----------------------------------------------------------------------


@quiet
@pytest.mark.parametrize("cls", [DBNClassifier, DBNRegressor])
def test_a_weight_of_two_is_the_row_twice(cls, table):
    """A weight of 2 on row 5 trains as row 5 repeated, to float rounding.

    The configuration makes the two fits see the same sums: one mini-batch holds every row
    (``batch_size`` above the row count), so each epoch's gradient is the mean over all
    rows in both fits, only summed in another order (the epoch's permutation); there is no
    pretraining (its hidden samples are drawn row by row, so one more row shifts every draw
    after it) and no dropout, so fine-tuning draws nothing after the output layer's start,
    which both fits draw alike. What is left differs by float32 rounding only.
    """
    X, y_class, y_real = table
    y = y_class if cls is DBNClassifier else y_real
    settings = {**CPU, "hidden_layer_sizes": (8,), "pretrain_epochs": 0, "batch_size": 1000,
                "max_iter": 30, "dropout": 0.0}
    weight = np.ones(len(X))
    weight[5] = 2
    weighted = cls(**settings).fit(X, y, sample_weight=weight)
    repeated = cls(**settings).fit(np.vstack([X, X[5:6]]), np.concatenate([y, y[5:6]]))
    np.testing.assert_allclose(weighted.loss_curve_, repeated.loss_curve_, rtol=1e-5)
    for p, q in zip(_parameters(weighted), _parameters(repeated), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-5)
    predict = "predict_proba" if cls is DBNClassifier else "predict"
    np.testing.assert_allclose(getattr(weighted, predict)(X), getattr(repeated, predict)(X),
                               rtol=1e-4, atol=1e-5)


@quiet
@pytest.mark.parametrize("cls", [DBNClassifier, DBNRegressor])
@pytest.mark.parametrize("early_stopping", [False, True])
def test_a_weight_of_zero_is_the_row_left_out(cls, early_stopping, table):
    """Rows of weight 0 are removed before training: bit for bit the fit without them,
    pretraining, mini-batches and the early-stopping split included."""
    X, y_class, y_real = table
    y = y_class if cls is DBNClassifier else y_real
    weight = np.tile([0.0, 1.0, 2.0, 0.0, 3.0], 12)
    kept = weight > 0
    settings = {**TINY, "early_stopping": early_stopping, "batch_size": 8}
    weighted = cls(**settings).fit(X, y, sample_weight=weight)
    dropped = cls(**settings).fit(X[kept], y[kept], sample_weight=weight[kept])
    assert _identical(weighted, dropped)
    assert weighted.loss_curve_ == dropped.loss_curve_
    if early_stopping:
        assert weighted.validation_scores_ == dropped.validation_scores_


@quiet
@pytest.mark.parametrize("cls", [DBNClassifier, DBNRegressor])
def test_equal_weights_change_nothing(cls, table):
    """Weights that are all equal (ones, or threes) give the unweighted fit, bit for bit."""
    X, y_class, y_real = table
    y = y_class if cls is DBNClassifier else y_real
    plain = cls(**TINY).fit(X, y)
    for weight in (np.ones(len(X)), np.full(len(X), 3.0), 3):
        assert _identical(plain, cls(**TINY).fit(X, y, sample_weight=weight))


def test_fine_tuning_minimises_the_weighted_mean_of_the_rows_losses():
    """The batch loss is scikit-learn's MLP weighting: Σ w_i l_i / Σ w_i (numpy.average),
    for the cross-entropy and the squared error; a batch of weight 0 has no gradient."""
    torch.manual_seed(0)
    x, labels, w = torch.randn(5, 3), torch.tensor([0, 1, 1, 0, 1]), torch.rand(5) * 3
    for loss, y in ((torch.nn.CrossEntropyLoss(), labels), (torch.nn.MSELoss(), x[:, :2])):
        net = torch.nn.Linear(3, 2)
        net.set_generator = lambda generator: None
        objective = SupervisedObjective(net, loss)
        rows = loss.__class__(reduction="none")(net(x), y).reshape(5, -1).mean(1)
        expected = np.average(rows.detach().numpy(), weights=w.numpy())
        assert float(objective.evaluate_((x, y, w), None)) == pytest.approx(expected, rel=1e-6)
        assert float(objective.evaluate_((x, y, torch.zeros(5)), None)) == 0.0
        assert all(float(p.grad.abs().max()) == 0.0 for p in net.parameters())
    assert float(weighted_mean(torch.tensor([1.0, 3.0]), torch.tensor([1.0, 1.0]))) == 2.0


def test_weighted_validation_scores_are_scikit_learns():
    """Early stopping's score with weights: accuracy_score and r2_score with sample_weight."""
    rng = np.random.default_rng(0)
    scores, y, w = rng.random((50, 3)), rng.integers(0, 3, 50), rng.random(50)
    expected = accuracy_score(y, scores.argmax(1), sample_weight=w)
    got = weighting.accuracy(*(torch.as_tensor(a) for a in (scores, y, w)))
    assert got == pytest.approx(expected)
    predicted, target = rng.random((50, 1)), rng.random((50, 1))
    expected = r2_score(target, predicted, sample_weight=w)
    assert weighting.r2(*(torch.as_tensor(a) for a in (predicted, target, w))) == pytest.approx(
        expected)


# -- pretraining draws rows in proportion to their weights -----------------------------------


def test_pretraining_epochs_draw_rows_in_proportion_to_their_weights():
    """Over many epochs each row is drawn as often as its share of the total weight says,
    from tensors or from an array read in pieces alike (the same rows, draw for draw)."""
    x = np.arange(4.0).reshape(4, 1)
    weight = torch.tensor([0.0, 1.0, 1.0, 2.0])
    counts = {}
    for source in (TensorSource(torch.as_tensor(x, dtype=torch.float32)), ArraySource(x)):
        generator = torch.Generator().manual_seed(0)
        drawn = torch.cat([b[0] for _ in range(2000)
                           for b in ResampledSource(source, weight).batches(3, generator)])
        counts[type(source).__name__] = torch.bincount(drawn[:, 0].long(), minlength=4)
    assert torch.equal(counts["TensorSource"], counts["ArraySource"])
    share = counts["TensorSource"].double() / counts["TensorSource"].sum()
    torch.testing.assert_close(share, torch.tensor([0.0, 0.25, 0.25, 0.5], dtype=torch.double),
                               atol=0.01, rtol=0)


def test_the_weights_reach_every_pretrained_layer(table, monkeypatch):
    """Each layer of the stack trains on rows drawn with the fit's weights."""
    X, y, _ = table
    seen = []

    class Recording(ResampledSource):
        def __init__(self, source, weight):
            seen.append(weight.clone())
            super().__init__(source, weight)

    monkeypatch.setattr(greedy, "ResampledSource", Recording)
    weight = np.tile([1.0, 2.0, 3.0], 20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        DBNClassifier(**{**TINY, "hidden_layer_sizes": (8, 4)}).fit(X, y, sample_weight=weight)
    assert len(seen) == 2
    for w in seen:
        torch.testing.assert_close(w, torch.as_tensor(weight, dtype=torch.float32))


@quiet
def test_weights_train_alike_from_memory_and_from_a_memory_mapped_file(table, tmp_path):
    """Data read from a .npy file in pieces trains on the same weighted rows as in memory
    (to float rounding: the file's column means, the first biases, are summed in float64)."""
    X, y, _ = table
    path = tmp_path / "X.npy"
    np.save(path, X.astype(np.float32))
    weight = np.tile([1.0, 2.0, 3.0], 20)
    in_memory = DBNClassifier(**TINY).fit(X.astype(np.float32), y, sample_weight=weight)
    from_file = DBNClassifier(**TINY).fit(np.load(path, mmap_mode="r"), y, sample_weight=weight)
    for p, q in zip(_parameters(in_memory), _parameters(from_file), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=1e-5)


@quiet
@pytest.mark.parametrize("cls", [DBNClassifier, DBNRegressor])
@pytest.mark.parametrize("check", [check_sample_weight_equivalence_on_dense_data,
                                   check_sample_weight_equivalence_on_sparse_data])
def test_scikit_learns_weight_equivalence_check_passes_without_random_draws(cls, check):
    """scikit-learn's own check (integer weights as repeated rows, 0 as removed rows, to
    its tolerance of 1e-7) on the configuration of ``test_a_weight_of_two_is_the_row_twice``:
    no pretraining, one mini-batch of every row. With pretraining and smaller batches the
    two fits draw differently (``tests/test_sklearn_checks.py`` marks those), as they do
    with dropout (a mask per row)."""
    check(cls.__name__, cls((8,), pretrain_epochs=0, batch_size=1000, max_iter=30,
                            dropout=0.0, **CPU))


# -- class_weight ---------------------------------------------------------------------------


@quiet
def test_class_weight_is_sample_weight_per_class(table):
    """A dict of class weights trains as those weights given row by row; 'balanced' as
    scikit-learn's compute_sample_weight('balanced', y); with sample_weight, the product."""
    X, _, _ = table
    y = np.r_[np.zeros(40, int), np.ones(14, int), np.full(6, 2)]
    per_class = {0: 1.0, 1: 3.0, 2: 7.0}
    rows = np.vectorize(per_class.get)(y).astype(float)
    assert _identical(DBNClassifier(**TINY, class_weight=per_class).fit(X, y),
                      DBNClassifier(**TINY).fit(X, y, sample_weight=rows))
    balanced = compute_sample_weight("balanced", y)
    assert _identical(DBNClassifier(**TINY, class_weight="balanced").fit(X, y),
                      DBNClassifier(**TINY).fit(X, y, sample_weight=balanced))
    weight = np.tile([1.0, 2.0], 30)
    assert _identical(DBNClassifier(**TINY, class_weight=per_class).fit(X, y, weight),
                      DBNClassifier(**TINY).fit(X, y, sample_weight=weight * rows))


def test_class_weight_is_a_parameter_as_scikit_learn_reads_them():
    clf = DBNClassifier((8,), class_weight="balanced")
    assert clf.get_params()["class_weight"] == "balanced"
    assert "class_weight='balanced'" in repr(clf)
    assert clone(clf).class_weight == "balanced"
    assert DBNClassifier().class_weight is None
    assert "class_weight" not in DBNRegressor().get_params()
    with pytest.raises(ValueError, match="class_weight"):
        DBNClassifier(class_weight="rare").fit(np.zeros((4, 2)), [0, 1, 0, 1])


# -- bad weights: errors whose advice works --------------------------------------------------


def _fit(X, y, weight, fit_params=(), **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return DBNClassifier(**{**TINY, **params}).fit(X, y, sample_weight=weight,
                                                       **dict(fit_params))


BAD = {
    # name: (weights from n, message, the advice applied to those weights)
    "negative": (lambda n: np.r_[-1.0, np.ones(n - 1)], r"negative value \(-1\).*"
                 r"numpy\.clip\(sample_weight, 0, None\)", lambda w: np.clip(w, 0, None)),
    "NaN": (lambda n: np.r_[np.nan, np.ones(n - 1)], r"NaN.*finite.*numpy\.where",
            lambda w: np.where(np.isfinite(w), w, 1.0)),
    "infinite": (lambda n: np.r_[np.inf, np.ones(n - 1)], r"infinity.*finite.*numpy\.where",
                 lambda w: np.where(np.isfinite(w), w, 1.0)),
    "a column": (lambda n: np.ones((n, 1)), r"one weight per row.*numpy\.ravel", np.ravel),
    "all zero": (lambda n: np.zeros(n), r"zero for every row.*None weighs every row 1",
                 lambda w: None),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_weights_are_refused_with_advice_that_works(case, table):
    X, y, _ = table
    make, message, advice = BAD[case]
    weight = make(len(X))
    with pytest.raises(ValueError, match=message):
        _fit(X, y, weight)
    _fit(X, y, advice(weight))


def test_weights_of_the_wrong_length_are_refused(table):
    X, y, _ = table
    with pytest.raises(ValueError, match=r"one weight per row of X.*shape \(60,\), here \(59,\)"):
        _fit(X, y, np.ones(59))


def test_bad_class_weights_are_refused_with_the_classes(table):
    X, y, _ = table
    # field report: scikit-learn's message named class 2 (left out, which is allowed), not
    # the label 5 that y does not hold
    with pytest.raises(ValueError, match=r"names the label\(s\) \[5\], which y does not hold "
                                         r"\(the classes of y: \[0, 1, 2\]\)"):
        _fit(X, y, None, class_weight={0: 1.0, 1: 2.0, 5: 1.0})
    _fit(X, y, None, class_weight={0: 1.0, 1: 2.0})  # a class left out weighs 1
    _fit(X, y, None, class_weight={0: 1.0, 1: 2.0, 2: 1.0, 5: 1.0})  # all, and more: a CV fold
    with pytest.raises(ValueError, match=r"finite, non-negative weight"):
        _fit(X, y, None, class_weight={0: 1.0, 1: -2.0, 2: 1.0})
    _fit(X, y, None, class_weight={0: 1.0, 1: 2.0, 2: 1.0})  # every class named


def test_weights_that_leave_one_class_are_refused(table):
    """All positive weight on one class: an error naming the class (scikit-learn's
    check_classifiers_one_label_sample_weights), and its advice works."""
    X, y, _ = table
    weight = (y == 1).astype(float)
    with pytest.raises(ValueError, match=r"Only one class \(1\) has rows of positive weight.*"
                                         r"positive sample_weight to rows of another class"):
        _fit(X, y, weight)
    weight[y == 2] = 0.5
    _fit(X, y, weight)


def test_weights_are_refused_in_data_parallel_training(table, monkeypatch):
    X, y, _ = table
    monkeypatch.setattr(weighting, "world", lambda: (0, 2))
    with pytest.raises(ValueError, match="not supported in data-parallel training"):
        _fit(X, y, np.tile([1.0, 2.0], 30))


def test_a_checkpoint_is_resumed_only_with_the_same_weights(table, tmp_path):
    X, y, _ = table
    path = tmp_path / "fit.ckpt"
    _fit(X, y, np.tile([1.0, 2.0], 30), {"checkpoint": path})
    with pytest.raises(ValueError, match="other data"):
        _fit(X, y, np.tile([2.0, 1.0], 30), {"checkpoint": path, "resume": True})
    _fit(X, y, np.tile([1.0, 2.0], 30), {"checkpoint": path, "resume": True})


# -- scikit-learn's metadata routing and scores ----------------------------------------------


@quiet
def test_sample_weight_is_routed_by_scikit_learns_metadata_api(table):
    """With metadata routing on, cross_validate hands the weights to fit and score once
    the estimator requests them, and refuses to drop them silently otherwise."""
    X, y, _ = table
    weight = np.tile([1.0, 2.0, 3.0], 20)
    with config_context(enable_metadata_routing=True):
        clf = DBNClassifier(**TINY).set_fit_request(sample_weight=True).set_score_request(
            sample_weight=True)
        result = cross_validate(clf, X, y, cv=2, params={"sample_weight": weight})
        assert len(result["test_score"]) == 2
        with pytest.raises(UnsetMetadataPassedError):
            cross_validate(DBNClassifier(**TINY), X, y, cv=2, params={"sample_weight": weight})


@quiet
def test_score_takes_sample_weight(table):
    X, y_class, y_real = table
    weight = np.tile([1.0, 2.0, 3.0], 20)
    clf = DBNClassifier(**TINY).fit(X, y_class)
    assert clf.score(X, y_class, sample_weight=weight) == pytest.approx(
        accuracy_score(y_class, clf.predict(X), sample_weight=weight))
    reg = DBNRegressor(**TINY).fit(X, y_real)
    assert reg.score(X, y_real, sample_weight=weight) == pytest.approx(
        r2_score(y_real, reg.predict(X), sample_weight=weight))


# -- the command line -------------------------------------------------------------------------


def test_the_command_line_weighs_rare_classes_up(tmp_path, capsys):
    """``deepbelief train --class-weight balanced`` trains a DBNClassifier(class_weight=
    'balanced'); a regressor has no classes to weigh, and says so."""
    out = tmp_path / "m.safetensors"
    argv = ["train", "--data", "digits", "--layers", "8", "--pretrain-epochs", "1", "--epochs",
            "2", "--device", "cpu", "-o", str(out), "--no-history"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        assert main([*argv, "--class-weight", "balanced"]) == 0
    assert load(out).class_weight == "balanced"
    capsys.readouterr()
    assert main([*argv, "--kind", "regressor", "--class-weight", "balanced"]) == 2
    assert "--class-weight does not apply to --kind regressor (its targets are numbers" in (
        capsys.readouterr().err)


# -- a rare class, and the warnings a user wants ------------------------------------------------


@pytest.fixture(scope="module")
def rare_classes():
    """The field report's table: 3 classes of 90/6/4 %, min-max scaled, split in a
    stratified way (train, test)."""
    X, y = make_classification(3000, 20, n_classes=3, n_clusters_per_class=1,
                               weights=[0.9, 0.06, 0.04], random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(MinMaxScaler().fit_transform(X), y,
                                                        random_state=0, stratify=y)
    return X_train, X_test, y_train, y_test


#: Small enough for the suite (9 s a fit on 2 cores); with it, as with the defaults, the
#: unweighted fit misses the rarest class.
RARE = {"hidden_layer_sizes": (64,), "max_iter": 30, **CPU}
#: The 0.2.0 default recipe (sigmoid units, no dropout), which ignored both rare classes.
OLD_RECIPE = {"hidden_units": "bernoulli", "dropout": 0.0}


def test_balanced_class_weights_lift_the_recall_of_rare_classes(rare_classes):
    """Unweighted, the classifier never predicts the rarest class (measured: recall 1,
    0.28, 0; balanced accuracy 0.43); with class_weight='balanced' both rare classes are
    found (measured: recall 0.92, 0.62, 0.81; balanced accuracy 0.78)."""
    X_train, X_test, y_train, y_test = rare_classes
    plain = DBNClassifier(**RARE).fit(X_train, y_train)
    assert recall_score(y_test, plain.predict(X_test), average=None)[2] == 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        balanced = DBNClassifier(**RARE, class_weight="balanced").fit(X_train, y_train)
    assert not [w for w in caught if "predicts one class" in str(w.message)]
    recall = recall_score(y_test, balanced.predict(X_test), average=None)
    assert recall[1] > 0.4 and recall[2] > 0.6 and recall[0] > 0.8


def test_a_classifier_that_ignores_rare_classes_warns_with_the_fix(rare_classes):
    """The field report's case, on the 0.2.0 recipe: the common class only (balanced
    accuracy 1/3), and a warning that advises weighing the classes."""
    X_train, X_test, y_train, y_test = rare_classes
    with pytest.warns(ConvergenceWarning, match=r"predicts one class \(0\).*unbalanced "
                                                r"\(95 to 2013 samples\).*class_weight="
                                                r"'balanced'"):
        plain = DBNClassifier(**RARE, **OLD_RECIPE).fit(X_train, y_train)
    assert recall_score(y_test, plain.predict(X_test), average=None).tolist() == [1, 0, 0]


def test_near_constant_features_warn_and_the_advice_silences_them(rare_classes):
    """The field report's pretrained features barely vary (median standard deviation
    0.008 over units); standardised with Gaussian visible units, as the warning advises,
    they do (0.10) and no warning is left."""
    X_train, _, y_train, _ = rare_classes
    pretrain_only = {**RARE, "max_iter": 0}
    with pytest.warns(ConvergenceWarning, match=r"features of the first layer hardly vary.*"
                                                r"make_pipeline\(StandardScaler\(\), "
                                                r"DBNClassifier\(visible_units='gaussian'\)\)"):
        DBNClassifier(**pretrain_only).fit(X_train, y_train)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make_pipeline(StandardScaler(), DBNClassifier(**pretrain_only, visible_units="gaussian")
                      ).fit(X_train, y_train)


def test_the_feature_warning_is_silent_on_digits_and_mnist():
    """The default pretraining (10 epochs of (256, 256); fine-tuning left out: this is the
    pretraining's warning) on the digits and on 1,000 MNIST images: features of median
    standard deviation 0.095 and 0.37, far above the floor of 0.02."""
    X, y = load_digits()
    datasets = [(X, y)]
    try:
        X_mnist, y_mnist = load_mnist()
        datasets.append((X_mnist[:1000], y_mnist[:1000]))
    except FileNotFoundError:
        pass
    for X, y in datasets:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            DBNClassifier(max_iter=0, **CPU).fit(X, y)


@quiet
def test_short_pretraining_is_not_judged(table):
    """A bottom layer pretrained for fewer than 200 updates still has about the features
    of its random start: that is left to fine-tuning, not warned about."""
    X, y, _ = table
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        DBNClassifier(**{**TINY, "max_iter": 0}).fit(X, y)  # 2 epochs of 8 batches


@quiet
def test_zero_weights_leave_sparse_rows_out_too(table):
    """The rows of weight 0 of a sparse matrix are removed as those of an array."""
    X, y, _ = table
    weight = np.tile([0.0, 1.0, 2.0, 0.0, 3.0], 12)
    kept = weight > 0
    assert _identical(
        DBNClassifier(**TINY).fit(scipy.sparse.csr_matrix(X), y, sample_weight=weight),
        DBNClassifier(**TINY).fit(scipy.sparse.csr_matrix(X[kept]), y[kept], weight[kept]))


def test_the_regression_warning_weighs_the_rows(table):
    """R² <= 0 on the rows that carry the weight warns, though the unweighted R² is
    positive (0.17)."""
    X, _, y = table
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg = DBNRegressor(**TINY).fit(X, y)
    target = reg.predict(X)
    target[30:] = target.mean()  # the second half: predictions that vary about a constant
    weight = np.r_[np.zeros(30), np.ones(30)]
    assert r2_score(target, reg.predict(X)) > 0.1
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        check_training_predictions(reg, X, target)
    with pytest.warns(ConvergenceWarning, match="no better than their mean"):
        check_training_predictions(reg, X, target, weight)


def test_a_dataframe_fit_warns_of_nothing_but_what_is_wrong(table):
    """The checks after fit read the validated rows: no warning about missing column
    names (the DataFrame's were checked by fit)."""
    X, y, _ = table
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", ConvergenceWarning)
        DBNClassifier(**TINY).fit(frame, y, sample_weight=pd.Series(np.tile([1.0, 2.0], 30)))


@quiet
def test_a_class_weight_dict_is_saved_and_resumed(table, tmp_path):
    """A dict with integer labels (JSON keys are strings) comes back from the model file
    as it was given, and a checkpoint resumes with it."""
    X, y, _ = table
    params = {**TINY, "class_weight": {0: 1.0, 1: 2.0, 2: 3.0}}
    path, checkpoint = tmp_path / "m.safetensors", tmp_path / "fit.ckpt"
    model = DBNClassifier(**params).fit(X, y, checkpoint=checkpoint)
    model.save(path)
    assert load(path).class_weight == {0: 1.0, 1: 2.0, 2: 3.0}
    resumed = DBNClassifier(**params).fit(X, y, checkpoint=checkpoint, resume=True)
    assert _identical(model, resumed)


class _StopAt(Callback):
    """Raises KeyboardInterrupt (as Ctrl-C would) at the end of one epoch of one phase."""

    def __init__(self, phase: str, layer: int | None, epoch: int) -> None:
        self.where = (phase, layer, epoch)

    def on_epoch_end(self, context):
        if (context.phase, context.layer, context.epoch) == self.where:
            raise KeyboardInterrupt


@quiet
@pytest.mark.parametrize("where", [("pretrain", 1, 1), ("finetune", None, 3)])
def test_a_weighted_fit_resumed_from_a_checkpoint_is_the_uninterrupted_fit(where, table,
                                                                           tmp_path):
    """The weighted draws of pretraining and the weighted batches of fine-tuning continue
    bit for bit from a checkpoint (interrupted in the second layer, or in fine-tuning)."""
    X, y, _ = table
    params = {**TINY, "hidden_layer_sizes": (8, 4), "early_stopping": True}
    weight = np.tile([1.0, 2.0, 0.0, 3.0], 15)
    straight = DBNClassifier(**params).fit(X, y, sample_weight=weight)
    path = tmp_path / "fit.ckpt"
    with pytest.raises(KeyboardInterrupt):
        DBNClassifier(**params, callbacks=[_StopAt(*where)]).fit(
            X, y, sample_weight=weight, checkpoint=path)
    resumed = DBNClassifier(**params).fit(X, y, sample_weight=weight, checkpoint=path,
                                          resume=True)
    assert _identical(straight, resumed)
    assert resumed.validation_scores_ == straight.validation_scores_
