"""The held-out validation set of the supervised estimators' ``early_stopping``."""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from deepbelief.training.callbacks import Callback

__all__ = ["ValidationScore", "check_validation_size", "validation_split"]


def _sizes(n_samples: int, fraction: float) -> tuple[int, int]:
    """(training, validation) sizes of ``train_test_split(test_size=fraction)``."""
    n_valid = math.ceil(fraction * n_samples)
    return n_samples - n_valid, n_valid


def _enough(n_samples: int, fraction: float) -> bool:
    n_train, n_valid = _sizes(n_samples, fraction)
    return n_valid >= 2 and n_train >= 1


def check_validation_size(n_samples: int, fraction: float) -> None:
    """Refuse a split with fewer than 2 validation samples or no training sample, saying
    which ``validation_fraction`` would do (scikit-learn's MLP also refuses fewer than 2).

    Raises
    ------
    ValueError
        When ``validation_fraction=fraction`` of ``n_samples`` is too small a split.
    """
    if _enough(n_samples, fraction):
        return
    n_train, n_valid = _sizes(n_samples, fraction)
    good = [f / 100 for f in range(1, 100) if _enough(n_samples, f / 100)]
    advice = (f"set validation_fraction between {good[0]:g} and {good[-1]:g}, give more "
              "samples, or set early_stopping=False" if good
              else "give at least 3 samples or set early_stopping=False")
    raise ValueError(
        f"early_stopping=True holds out validation_fraction={fraction:g} of the {n_samples} "
        f"training samples: {n_valid} for validation and {n_train} for training, but it "
        f"needs at least 2 for validation and 1 for training. To fit, {advice}."
    )


def validation_split(n_samples: int, fraction: float, stratify, seed: int):
    """Indices ``(train, valid)``: stratified by ``stratify`` (the classes, or None) where
    scikit-learn can split so (every class at least twice, and no fewer samples on either
    side than classes), else at random with a warning (scikit-learn's MLPClassifier never
    stratifies more than two classes)."""
    indices = np.arange(n_samples)
    if stratify is not None:
        try:
            return train_test_split(indices, test_size=fraction, random_state=seed,
                                    stratify=stratify)
        except ValueError:
            warnings.warn("The early-stopping validation split is drawn at random, not "
                          "stratified by class: a class has fewer than 2 samples, or there "
                          "are fewer validation or training samples than classes.",
                          UserWarning, stacklevel=2)
    return train_test_split(indices, test_size=fraction, random_state=seed)


class ValidationScore(Callback):
    """Adds ``validation_score`` (the estimator's score on held-out data: accuracy, R²) to
    every fine-tuning record."""

    def __init__(self, estimator, valid) -> None:
        self.estimator, self.valid = estimator, valid

    @torch.no_grad()
    def on_epoch_end(self, context) -> None:
        context.module.eval()
        context.record["validation_score"] = self.estimator._validation_score(
            context.module, *self.valid)
