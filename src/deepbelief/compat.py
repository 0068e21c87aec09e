"""Drop-in replacements for the ``deep-belief-network`` package (``dbn``).

A script written for that package only changes its import line::

    # from dbn.tensorflow import SupervisedDBNClassification
    from deepbelief.compat import SupervisedDBNClassification

The classes accept the old parameter names and translate them to
:class:`deepbelief.DBNClassifier`, :class:`deepbelief.DBNRegressor` and
:class:`deepbelief.DBNTransformer`, which do the work (available as ``estimator_``).
Differences: models are saved in deepbelief's safe format (never pickle), bad input and
diverging training raise clear errors instead of producing NaN weights, and ``random_state``
is available for repeatable runs.

Parameter mapping:

=============================  ======================================================
old name                       deepbelief
=============================  ======================================================
hidden_layers_structure        hidden_layer_sizes
activation_function            hidden_units ('sigmoid' -> 'bernoulli', 'relu' -> 'relu')
learning_rate_rbm              pretrain_learning_rate
n_epochs_rbm                   pretrain_epochs
contrastive_divergence_iter    k
learning_rate                  learning_rate_init (SGD fine-tuning)
n_iter_backprop                max_iter
l2_regularization              alpha (divided by n_samples, as the old package did)
dropout_p                      dropout
batch_size                     batch_size
optimization_algorithm         solver ('sgd')
=============================  ======================================================
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, TransformerMixin
from sklearn.utils.validation import _num_samples, check_is_fitted

from deepbelief.estimators import DBNClassifier, DBNRegressor, DBNTransformer, load

__all__ = ["SupervisedDBNClassification", "SupervisedDBNRegression", "UnsupervisedDBN"]

_ACTIVATIONS = {"sigmoid": "bernoulli", "relu": "relu"}


def _hidden_units(activation_function: str) -> str:
    try:
        return _ACTIVATIONS[activation_function]
    except KeyError:
        raise ValueError(f"activation_function must be 'sigmoid' or 'relu', "
                         f"got {activation_function!r}.") from None


class _CompatBase(BaseEstimator):
    """Shared translation; subclasses set ``_target`` and list their own parameters."""

    _target: type

    def _translate(self) -> dict:
        params = self.get_params()
        if params.get("optimization_algorithm", "sgd") != "sgd":
            raise ValueError("optimization_algorithm must be 'sgd' (the only one the old "
                             "package offered); use deepbelief's estimators for others.")
        new = {
            "hidden_layer_sizes": tuple(params["hidden_layers_structure"]),
            "hidden_units": _hidden_units(params["activation_function"]),
            "pretrain_learning_rate": params["learning_rate_rbm"],
            "pretrain_epochs": params["n_epochs_rbm"],
            "k": params["contrastive_divergence_iter"],
            "batch_size": params["batch_size"],
            "verbose": int(bool(params["verbose"])),
            "random_state": params["random_state"],
            "device": params["device"],
        }
        if "n_iter_backprop" in params:
            new.update(
                # Plain SGD for every iteration, as the old package ran it.
                solver="sgd", momentum=0.0, learning_rate_init=params["learning_rate"],
                max_iter=params["n_iter_backprop"], n_iter_no_change=params["n_iter_backprop"],
                alpha=params["l2_regularization"],
                dropout=params["dropout_p"],
            )
        return new

    def _fit(self, X, y=None):
        params = self._translate()
        if "alpha" in params:
            # The old package decayed weights by lr * l2 / n_samples per step.
            params["alpha"] = params["alpha"] / max(_num_samples(X), 1)
        self.estimator_ = self._target(**params)
        self.estimator_.fit(X) if y is None else self.estimator_.fit(X, y)
        self.n_features_in_ = self.estimator_.n_features_in_
        return self

    def save(self, path: str | Path) -> Path:
        """Save in deepbelief's format (the old package pickled; we never do)."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.save(path)

    @classmethod
    def load(cls, path: str | Path):
        """Load a model saved by :meth:`save` (returns the same compat class)."""
        estimator = load(path)
        if not isinstance(estimator, cls._target):
            raise ValueError(f"{path} holds a {type(estimator).__name__}, not a model for "
                             f"{cls.__name__}.")
        obj = cls.__new__(cls)
        obj.__init__()
        obj.estimator_ = estimator
        obj.n_features_in_ = estimator.n_features_in_
        return obj


class _SupervisedCompat(_CompatBase):
    def __init__(
        self,
        hidden_layers_structure=(100, 100),
        activation_function: str = "sigmoid",
        optimization_algorithm: str = "sgd",
        learning_rate: float = 1e-3,
        learning_rate_rbm: float = 1e-3,
        n_iter_backprop: int = 100,
        l2_regularization: float = 1.0,
        n_epochs_rbm: int = 10,
        contrastive_divergence_iter: int = 1,
        batch_size: int = 32,
        dropout_p: float = 0.0,
        verbose: bool = True,
        random_state=None,
        device: str = "auto",
    ) -> None:
        self.hidden_layers_structure = hidden_layers_structure
        self.activation_function = activation_function
        self.optimization_algorithm = optimization_algorithm
        self.learning_rate = learning_rate
        self.learning_rate_rbm = learning_rate_rbm
        self.n_iter_backprop = n_iter_backprop
        self.l2_regularization = l2_regularization
        self.n_epochs_rbm = n_epochs_rbm
        self.contrastive_divergence_iter = contrastive_divergence_iter
        self.batch_size = batch_size
        self.dropout_p = dropout_p
        self.verbose = verbose
        self.random_state = random_state
        self.device = device

    def fit(self, X, y):
        """Pretrain, then fine-tune on ``(X, y)``."""
        return self._fit(X, y)

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict(X)


class SupervisedDBNClassification(ClassifierMixin, _SupervisedCompat):
    """Old ``dbn.SupervisedDBNClassification``, backed by :class:`deepbelief.DBNClassifier`.

    Examples
    --------
    >>> from deepbelief.compat import SupervisedDBNClassification
    >>> from deepbelief.datasets import load_digits
    >>> X, y = load_digits()
    >>> clf = SupervisedDBNClassification(hidden_layers_structure=[32], n_epochs_rbm=2,
    ...     n_iter_backprop=5, learning_rate=0.1, verbose=False, device="cpu")
    >>> clf.fit(X[:300], y[:300]).predict(X[:2]).shape
    (2,)
    """

    _target = DBNClassifier

    @property
    def classes_(self) -> np.ndarray:
        check_is_fitted(self, "estimator_")
        return self.estimator_.classes_

    def predict_proba(self, X) -> np.ndarray:
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict_proba(X)

    def predict_proba_dict(self, X) -> list[dict]:
        """One ``{label: probability}`` dict per sample, as the old package returned."""
        proba = self.predict_proba(X)
        return [dict(zip(self.classes_.tolist(), row.tolist(), strict=True)) for row in proba]


class SupervisedDBNRegression(RegressorMixin, _SupervisedCompat):
    """Old ``dbn.SupervisedDBNRegression``, backed by :class:`deepbelief.DBNRegressor`."""

    _target = DBNRegressor


class UnsupervisedDBN(TransformerMixin, _CompatBase):
    """Old ``dbn.UnsupervisedDBN``, backed by :class:`deepbelief.DBNTransformer`."""

    _target = DBNTransformer

    def __init__(
        self,
        hidden_layers_structure=(100, 100),
        activation_function: str = "sigmoid",
        optimization_algorithm: str = "sgd",
        learning_rate_rbm: float = 1e-3,
        n_epochs_rbm: int = 10,
        contrastive_divergence_iter: int = 1,
        batch_size: int = 32,
        verbose: bool = True,
        random_state=None,
        device: str = "auto",
    ) -> None:
        self.hidden_layers_structure = hidden_layers_structure
        self.activation_function = activation_function
        self.optimization_algorithm = optimization_algorithm
        self.learning_rate_rbm = learning_rate_rbm
        self.n_epochs_rbm = n_epochs_rbm
        self.contrastive_divergence_iter = contrastive_divergence_iter
        self.batch_size = batch_size
        self.verbose = verbose
        self.random_state = random_state
        self.device = device

    def fit(self, X, y=None):
        """Greedy layer-wise pretraining on ``X``."""
        return self._fit(X)

    def transform(self, X) -> np.ndarray:
        check_is_fitted(self, "estimator_")
        return self.estimator_.transform(X)
