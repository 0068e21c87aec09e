"""Warnings when a fitted supervised model learnt little: pretrained features that hardly
vary across the training rows, or predictions like a constant on its own training data (a
fine-tuning run that went wrong without blowing up)."""

from __future__ import annotations

import warnings
from contextlib import contextmanager

import numpy as np
import torch
from sklearn.base import is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import r2_score

from deepbelief.core.stack import up_pass
from deepbelief.estimators._input import _warn

#: A pretrained layer whose hidden means hardly vary across the training rows (the median
#: over its units of their standard deviation below this) gives fine-tuning features that
#: carry little of the input. Measured after default pretraining (layers 1 / 2 of (256,
#: 256), seeds 0 and 1): digits 0.095-0.098 / 0.081-0.083, 5,000 MNIST images 0.37 / 0.36,
#: 5,000 Fashion-MNIST images 0.31 / 0.33; a 3-class make_classification table
#: (20 features, min-max scaled, std 0.14 each) 0.008-0.009 / 0.0005.
FEATURE_SPREAD_FLOOR = 0.02

#: The bottom layer is judged only once it has had this many updates (pretraining epochs
#: times mini-batches): features start near-constant from small random weights and need
#: some updates to spread (digits, (256,), batch 32: 0.018 after 57 updates, 0.059 after
#: 114, 0.10 after 228; on 600 images 0.024 after 76, 0.089 after 114). Shorter
#: pretraining, on purpose or on a tiny table, is left to fine-tuning.
FEATURE_MIN_UPDATES = 200

#: Training rows read by :func:`check_pretrained_features`.
_FEATURE_ROWS = 2048


def check_pretrained_features(estimator, X) -> None:
    """Warn (:class:`~sklearn.exceptions.ConvergenceWarning`) when the pretrained bottom
    layer's features are near-constant across the first 2048 training rows ``X``: the
    median over its units of the standard deviation of their hidden means is below
    :data:`FEATURE_SPREAD_FLOOR` after at least :data:`FEATURE_MIN_UPDATES` updates. Not
    judged: a bottom layer trained for fewer updates (its features are still about those
    of its random start), and the layers above, whose inputs are features already (a layer
    on them starts near 0.02 from its random weights, and fine-tuning does well from there:
    0.023 on the standardised table above).
    """
    if not estimator.rbms_:
        return
    updates = len(estimator.history_["pretrain"][0]) * -(-X.shape[0] // estimator.batch_size)
    if updates < FEATURE_MIN_UPDATES:
        return
    with _validated_rows():
        x, _ = estimator._input(X[:_FEATURE_ROWS])
    if x.shape[0] < 2:
        return
    with torch.no_grad():
        spread = float(up_pass(estimator.rbms_[:1], x).std(0, unbiased=False).median())
    if spread < FEATURE_SPREAD_FLOOR:
        _warn(ConvergenceWarning(
            "After pretraining, the features of the first layer hardly vary across the "
            f"training samples (the median standard deviation of its units is {spread:.2g}, "
            f"under {FEATURE_SPREAD_FLOOR:g}): fine-tuning starts from features that carry "
            f"little of the input. {_feature_advice(estimator)}"))


@contextmanager
def _validated_rows():
    """Read the training rows, validated by ``fit`` already: as an array they have lost the
    column names of a DataFrame, which ``fit`` checked, so scikit-learn's warning about
    missing feature names does not apply to them."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="X does not have valid feature names",
                                category=UserWarning)
        yield


def _feature_advice(estimator) -> str:
    """What to try: for Bernoulli visible units, the measured fix (the table above,
    standardised, with Gaussian visible units: features 0.10, balanced accuracy 0.74
    where the min-max scaled table gives 0.48)."""
    name = type(estimator).__name__
    units = getattr(estimator, "visible_units_", estimator.visible_units)
    if units == "bernoulli":
        return ("Bernoulli visible units suit values near 0 or 1 (such as pixels); for "
                "real-valued features, standardise them and use Gaussian visible units: "
                f"make_pipeline(StandardScaler(), {name}(visible_units='gaussian')).")
    return ("Try a larger pretrain_learning_rate or more pretrain_epochs, or standardise the "
            "features (sklearn.preprocessing.StandardScaler).")


def check_training_predictions(estimator, X, y, sample_weight=None) -> None:
    """Warn (scikit-learn's :class:`~sklearn.exceptions.ConvergenceWarning`) when the fitted
    ``estimator``'s pretrained features are near-constant (:func:`check_pretrained_features`),
    when it predicts a single class for training data of several classes, or when it
    predicts its training targets no better than their mean (R² <= 0, weighted by
    ``sample_weight``: its first ``len(X)`` values).

    Such a model is what fine-tuning leaves when its learning rate is too large but the loss
    stays finite (too little growth for :class:`~deepbelief.DivergenceError`), or when a
    rare class is not weighted up. With ``max_iter=0`` the output layer is untrained on
    purpose and its predictions are not checked.
    """
    check_pretrained_features(estimator, X)
    if estimator.max_iter == 0:
        return
    with _validated_rows():
        predicted = estimator.predict(X)
    losses = estimator.loss_curve_
    n_outputs = len(estimator.classes_) if is_classifier(estimator) else estimator.n_outputs_
    baseline = estimator._baseline(n_outputs)  # the loss of a constant prediction
    if losses and max(losses) > 1.1 * baseline:  # pushed past a constant: steps too large
        advice = (f"Its loss rose above that of a constant prediction ({max(losses):.4g} > "
                  f"{baseline:.4g}): learning_rate_init={estimator.learning_rate_init!r} is "
                  f"probably too large for solver={estimator.solver!r}; try a smaller one, or "
                  "solver='adam' with its default learning_rate_init=0.001.")
    else:
        advice = (f"Its loss stayed near that of a constant prediction ({baseline:.4g}) over "
                  f"{len(losses)} epochs: train longer (max_iter), with more data per class, "
                  "or with a larger learning_rate_init.")
    name = type(estimator).__name__
    if is_classifier(estimator):
        if len(estimator.classes_) > 1 and np.unique(predicted).size == 1:
            _warn(ConvergenceWarning(
                f"{name} predicts one class ({np.asarray(predicted[:1]).tolist()[0]!r}) for "
                "every training sample, "
                f"although the training data has {len(estimator.classes_)}: fine-tuning "
                f"failed. {advice}{_rare_class_advice(estimator, y)}"))
        return
    y = np.asarray(y, dtype=np.float64).reshape(len(predicted), -1)
    weight = None if sample_weight is None else sample_weight[: len(y)]
    score = r2_score(y, np.asarray(predicted, dtype=np.float64).reshape(y.shape),
                     sample_weight=weight)
    if score <= 0.0:
        _warn(ConvergenceWarning(
            f"{name} predicts its training targets no better than their mean (R² {score:.3g} "
            f"on the training data): fine-tuning failed. {advice}"))


def _rare_class_advice(estimator, y) -> str:
    """A hint at ``class_weight='balanced'`` when the classes of ``y`` are unbalanced (the
    rarest under half as frequent as the commonest) and no class weights were given."""
    counts = np.unique(np.asarray(y), return_counts=True)[1]
    if getattr(estimator, "class_weight", None) is not None or counts.min() >= counts.max() / 2:
        return ""
    return (f" Its classes are unbalanced ({counts.min()} to {counts.max()} samples): "
            "class_weight='balanced' makes each class count as much as the others.")
