"""A warning when a fitted supervised model predicts like a constant on its own training
data: a fine-tuning run that went wrong without blowing up."""

from __future__ import annotations

import numpy as np
from sklearn.base import is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import r2_score

from deepbelief.estimators._input import _warn


def check_training_predictions(estimator, X, y) -> None:
    """Warn (scikit-learn's :class:`~sklearn.exceptions.ConvergenceWarning`) when the fitted
    ``estimator`` predicts a single class for training data of several classes, or predicts
    its training targets no better than their mean (R² <= 0).

    Such a model is what fine-tuning leaves when its learning rate is too large but the loss
    stays finite (too little growth for :class:`~deepbelief.DivergenceError`). With
    ``max_iter=0`` the output layer is untrained on purpose and nothing is checked.
    """
    if estimator.max_iter == 0:
        return
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
                f"failed. {advice}"))
        return
    y = np.asarray(y, dtype=np.float64).reshape(len(predicted), -1)
    score = r2_score(y, np.asarray(predicted, dtype=np.float64).reshape(y.shape))
    if score <= 0.0:
        _warn(ConvergenceWarning(
            f"{name} predicts its training targets no better than their mean (R² {score:.3g} "
            f"on the training data): fine-tuning failed. {advice}"))
