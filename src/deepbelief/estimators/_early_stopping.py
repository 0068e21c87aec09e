"""Fine-tuning's stopping rule (sklearn MLP semantics) and the held-out validation set of
``early_stopping``, shared by the supervised estimators and the deep autoencoder."""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from deepbelief.training.callbacks import Callback, EarlyStopping

__all__ = ["ValidationScore", "check_validation_size", "draw_split", "set_finetune_curves",
           "stopping_callbacks", "validation_split"]


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


def draw_split(estimator, n_samples: int, stratify, generator: torch.Generator,
               device) -> dict | None:
    """The rows ``{"train": ..., "valid": ...}`` (index tensors on the CPU) of
    ``estimator.early_stopping``'s split of ``n_samples`` training rows, seeded by one draw
    from ``generator`` (on ``device``); None, and no draw, without early stopping."""
    if not estimator.early_stopping:
        return None
    seed = int(torch.randint(2**31 - 1, (1,), generator=generator, device=device))
    idx_train, idx_valid = validation_split(n_samples, estimator.validation_fraction,
                                            stratify, seed)
    return {"train": torch.as_tensor(idx_train), "valid": torch.as_tensor(idx_valid)}


def stopping_callbacks(estimator, valid) -> list:
    """The fine-tuning phase's own callbacks, as scikit-learn's MLP stops: after
    ``n_iter_no_change`` epochs without a ``tol`` improvement of the validation score
    (keeping the best weights; ``valid`` are the validation tensors) or, with ``valid``
    None, of the training loss."""
    internal: list = [EarlyStopping(
        "loss" if valid is None else "validation_score",
        mode="min" if valid is None else "max",
        patience=estimator.n_iter_no_change, tol=estimator.tol,
        restore_best=valid is not None,
    )]
    if valid is not None:
        internal.insert(0, ValidationScore(estimator, valid))
    return internal


def set_finetune_curves(estimator, history: dict) -> None:
    """``history_`` and the attributes derived from its fine-tuning records: ``n_iter_``,
    ``loss_curve_``, ``best_loss_`` and, with ``early_stopping``, ``validation_scores_``
    and ``best_validation_score_`` (removed without it: no stale scores)."""
    records = history["finetune"]
    estimator.history_ = history
    estimator.n_iter_ = len(records)
    estimator.loss_curve_ = [r["loss"] for r in records]
    estimator.best_loss_ = min(estimator.loss_curve_, default=None)
    if estimator.early_stopping:
        estimator.validation_scores_ = [r["validation_score"] for r in records]
        estimator.best_validation_score_ = max(estimator.validation_scores_, default=None)
    else:
        estimator.__dict__.pop("validation_scores_", None)
        estimator.__dict__.pop("best_validation_score_", None)
