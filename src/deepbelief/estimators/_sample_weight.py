"""Row weights of the supervised estimators' ``fit``: ``sample_weight`` checked (with advice
that works), ``class_weight`` multiplied in, rows of weight 0 left out, and the weighted
scores that early stopping reads.

What the weights do, phase by phase (the numpydoc of ``fit`` says the same):

- rows of weight 0 are removed before anything else, so that a zero weight is the row
  dropped, bit for bit (in-memory data; a file read in pieces keeps them, at weight 0);
- weights that are all equal are no weights: the fit is the unweighted one, bit for bit;
- pretraining draws each epoch's rows in proportion to the weights
  (:class:`~deepbelief.training.resampled.ResampledSource`): the layers' mini-batch
  statistics are unbiased estimates of their weighted means, whatever the layer kind;
- fine-tuning minimises the weighted mean of the rows' losses in each mini-batch, as
  scikit-learn's MLP does (:class:`~deepbelief.learning.supervised.SupervisedObjective`);
- early stopping's validation split keeps its rows' weights, and its score (accuracy,
  R²) is weighted.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable

import numpy as np
import torch
from sklearn.base import is_classifier
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.validation import _check_sample_weight

from deepbelief.core.sharding import world
from deepbelief.estimators._large_input import LargeInput

__all__ = ["CLASS_WEIGHT_DOC", "SAMPLE_WEIGHT_DOC", "accuracy", "add_keyword",
           "checkpointed_targets", "fit_weights", "label_columns", "moments", "r2", "weight_tensor"]

SAMPLE_WEIGHT_DOC = """
        sample_weight : array-like of shape (n_samples,) or None, default None
            How much each row counts: non-negative and finite, not all 0 (None: every
            row counts 1; weights that are all equal change nothing). An integer weight
            counts as the row repeated that many times, 0 as the row left out (it is
            removed before training; the standardisation of real-valued input under
            ``visible_units='auto'`` is still fitted on every row, unweighted).
            Fine-tuning minimises the weighted mean of the rows' losses in each
            mini-batch (scikit-learn's MLP weighting); pretraining draws each epoch's rows
            with replacement in proportion to the weights (so the layers' statistics
            estimate weighted means); early stopping's validation score is weighted.
            Data-parallel training (torchrun) refuses weights that differ."""

CLASS_WEIGHT_DOC = """    class_weight : dict, 'balanced' or None, default None
        Weights of the classes, multiplied into ``fit``'s ``sample_weight``: a dict
        ``{label: weight}`` (every class of ``y`` named, or the missing ones weigh 1 when
        the dict names only some), or 'balanced': ``n_samples / (n_classes * count)`` per
        class, from the (weighted) counts of the training rows, as scikit-learn's
        ``compute_class_weight``. Use it when a class is rare and should not be ignored.
"""


def _advice(sample_weight, n_samples: int) -> str:
    """What to do about a ``sample_weight`` that scikit-learn's check refused."""
    shape = np.shape(sample_weight)
    if shape not in ((), (n_samples,)):
        flatten = (" (numpy.ravel(sample_weight) flattens a column)"
                   if shape == (n_samples, 1) else "")
        return (f"Give one weight per row of X, in the order of its rows: shape "
                f"({n_samples},), here {shape}{flatten}.")
    return ("Give every row a finite number as its weight, e.g. 1.0 where it is missing: "
            "numpy.where(numpy.isfinite(sample_weight), sample_weight, 1.0).")


def check_sample_weight(sample_weight, n_samples: int) -> np.ndarray:
    """``sample_weight`` validated by scikit-learn's ``_check_sample_weight`` (a copy, as
    float64, shape ``(n_samples,)``), with advice in every error.

    Raises
    ------
    ValueError
        For the wrong number of weights or dimensions, values that are not finite numbers,
        a negative weight, or weights that are all 0; the message says what to give.

    Examples
    --------
    >>> check_sample_weight([1, 2], 2)
    array([1., 2.])
    >>> check_sample_weight([1, -2], 2)
    Traceback (most recent call last):
    ...
    ValueError: sample_weight has a negative value (-2): ... numpy.clip(sample_weight, 0, None).
    """
    try:
        weight = _check_sample_weight(sample_weight, np.empty((n_samples, 0)),
                                      dtype=np.float64, copy=True, allow_all_zero_weights=True)
    except ValueError as error:
        raise ValueError(f"{error} {_advice(sample_weight, n_samples)}") from None
    if not np.isfinite(weight).all():  # not caught above for a scalar
        raise ValueError(f"sample_weight is not finite. {_advice(sample_weight, n_samples)}")
    if (weight < 0).any():
        raise ValueError(
            f"sample_weight has a negative value ({weight.min():g}): a weight says how much "
            "a row counts, 0 to leave it out. Give non-negative weights, e.g. "
            "numpy.clip(sample_weight, 0, None).")
    if not (weight > 0).any():
        raise ValueError("sample_weight is zero for every row: give at least one row a "
                         "positive weight (None weighs every row 1).")
    return weight


def _class_weights(class_weight, y: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Each row's weight from ``class_weight`` ('balanced' or a dict), from the classes of
    the rows of positive ``weight`` (their weighted counts for 'balanced', as scikit-learn's
    ``compute_class_weight(..., sample_weight=...)``); 0 for the others."""
    positive = weight > 0
    classes = np.unique(y[positive])
    if isinstance(class_weight, dict):  # scikit-learn's message names the classes left out
        unknown = [k for k in class_weight if not np.isin(k, classes)]  # ... not these
        # refused, as by scikit-learn, only when some class is left out too (a fold of a
        # cross-validation may lack a class that the dict weighs)
        if unknown and len(class_weight) - len(unknown) < len(classes):
            raise ValueError(f"class_weight names the label(s) {unknown}, which y does not "
                             f"hold (the classes of y: {classes.tolist()}): weigh only "
                             "those classes; a class left out gets weight 1.")
    try:
        per_class = compute_class_weight(class_weight, classes=classes, y=y[positive],
                                         sample_weight=weight[positive])
    except ValueError as error:
        raise ValueError(f"{error}. class_weight takes 'balanced', None, or a dict "
                         f"{{label: weight}} over the classes of y: {classes.tolist()}.") from None
    if not (np.isfinite(per_class).all() and (per_class >= 0).all()):
        raise ValueError(f"class_weight gives the weights {per_class.tolist()} to the classes "
                         f"{classes.tolist()}: give each class a finite, non-negative weight.")
    rows = np.zeros(len(y))
    rows[positive] = per_class[np.searchsorted(classes, y[positive])]
    return rows


def fit_weights(estimator, X, y, sample_weight) -> tuple:
    """``(X, y, weight)`` for a supervised fit on validated ``X``, ``y``.

    ``weight`` is ``sample_weight`` (checked) times the row's ``estimator.class_weight``
    (classifiers), a float64 array of shape ``(n_samples,)``; None without weights, or
    when every row has the same weight (then the fit is the unweighted one). Rows of
    weight 0 are removed from in-memory ``X`` and ``y``.

    Raises
    ------
    ValueError
        For bad weights (:func:`check_sample_weight`), a bad ``class_weight``, a classifier
        whose rows of positive weight are of one class, or weights in data-parallel
        training.
    """
    class_weight = getattr(estimator, "class_weight", None)
    if sample_weight is None and class_weight is None:
        return X, y, None
    n_samples = X.shape[0]
    weight = (np.ones(n_samples) if sample_weight is None
              else check_sample_weight(sample_weight, n_samples))
    if class_weight is not None:
        weight = weight * _class_weights(class_weight, np.asarray(y), weight)
        if not (weight > 0).any():
            raise ValueError("Every row's weight (sample_weight times class_weight) is zero: "
                             "give at least one class and row a positive weight.")
    if is_classifier(estimator):
        _check_classes(np.asarray(y)[weight > 0])
    keep = weight > 0
    if not keep.all() and not isinstance(X, LargeInput):
        rows = np.flatnonzero(keep)
        X, y, weight = X[rows], np.asarray(y)[rows], weight[rows]
    if np.all(weight == weight[0]):
        return X, y, None
    if world()[1] > 1:
        raise ValueError("sample_weight and class_weight are not supported in data-parallel "
                         "training (torchrun): fit in one process, or repeat the rows that "
                         "should count more.")
    return X, y, weight


def _check_classes(y: np.ndarray) -> None:
    """Refuse classification targets whose rows of positive weight are of one class."""
    classes = np.unique(y)
    if len(classes) == 1:
        raise ValueError(
            f"Only one class ({classes.tolist()[0]!r}) has rows of positive weight; a "
            "classifier needs samples of at least 2 classes. Give a positive sample_weight "
            "to rows of another class.")


def weight_tensor(weight: np.ndarray | None, device: torch.device) -> torch.Tensor | None:
    """The weights as a float32 tensor on ``device`` (None stays None)."""
    return None if weight is None else torch.as_tensor(weight, dtype=torch.float32,
                                                       device=device)


def label_columns(targets: torch.Tensor, weight: np.ndarray | None, device: torch.device):
    """What fine-tuning's batches carry beside ``X``: the targets on ``device``, and with
    ``weight`` the rows' weights too, as a tuple (``labelled_data`` takes both)."""
    if weight is None:
        return targets.to(device)
    return targets.to(device), weight_tensor(weight, device)


def checkpointed_targets(y, weight: np.ndarray | None):
    """The targets as a checkpoint's data digest reads them: with the weights beside them,
    so that a run resumed with other weights is refused."""
    if weight is None:
        return y
    y = np.asarray(y)
    if y.dtype.kind in "biuf":
        return np.column_stack([y.reshape(len(y), -1), weight])
    return np.column_stack([y.astype(object).reshape(len(y), -1), weight.astype(object)])


def moments(values: np.ndarray, weight: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The per-column mean and standard deviation of ``values`` (n, k), weighted by
    ``weight`` (so that a weight of 2 counts as the row twice); ``values.mean(0),
    values.std(0)`` without weights.

    Examples
    --------
    >>> moments(np.array([[0.0], [3.0]]), np.array([2.0, 1.0]))
    (array([1.]), array([1.41421356]))
    """
    if weight is None:
        return values.mean(0), values.std(0)
    mean = np.average(values, axis=0, weights=weight)
    return mean, np.sqrt(np.average((values - mean) ** 2, axis=0, weights=weight))


def accuracy(scores: torch.Tensor, y: torch.Tensor, weight: torch.Tensor | None = None) -> float:
    """The (weighted) share of rows whose highest score is their class ``y``."""
    correct = (scores.argmax(1) == y).float()
    if weight is None:
        return float(correct.mean())
    return float((correct * weight).sum() / weight.sum())


def r2(predicted: torch.Tensor, y: torch.Tensor, weight: torch.Tensor | None = None) -> float:
    """R² of ``predicted`` for ``y`` (shape (n, n_outputs)), over every output together;
    with ``weight``, the weighted sums of squares about the weighted mean."""
    if weight is None:
        residual = ((predicted - y) ** 2).sum()
        total = ((y - y.mean(0)) ** 2).sum().clamp_min(1e-12)
        return float(1 - residual / total)
    w = weight.reshape(-1, 1)
    mean = (w * y).sum(0) / w.sum()
    residual = (w * (predicted - y) ** 2).sum()
    total = (w * (y - mean) ** 2).sum().clamp_min(1e-12)
    return float(1 - residual / total)


def add_keyword(init: Callable, name: str, default) -> Callable:
    """``init`` with one more keyword-only parameter ``name``, stored on the estimator.

    scikit-learn reads an estimator's parameters from the signature of its ``__init__``
    (``get_params``, ``clone``, ``repr``): the returned ``__init__`` shows ``init``'s
    parameters and then ``name`` in its ``__signature__``, so that a subclass adds a
    parameter without restating (and drifting from) the inherited ones.

    Examples
    --------
    >>> from sklearn.base import BaseEstimator
    >>> class Base(BaseEstimator):
    ...     def __init__(self, a=1, *, b=2):
    ...         self.a, self.b = a, b
    >>> class Child(Base):
    ...     __init__ = add_keyword(Base.__init__, "c", None)
    >>> Child(3, c="x").get_params()
    {'a': 3, 'b': 2, 'c': 'x'}
    """

    @functools.wraps(init)
    def __init__(self, *args, **kwargs):
        value = kwargs.pop(name, default)
        init(self, *args, **kwargs)
        setattr(self, name, value)

    signature = inspect.signature(init)
    keyword = inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default)
    __init__.__signature__ = signature.replace(
        parameters=[*signature.parameters.values(), keyword])
    return __init__
