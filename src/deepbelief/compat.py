"""Drop-in replacements for the ``deep-belief-network`` package (``dbn``).

A script written for that package only changes its import line::

    # from dbn.tensorflow import SupervisedDBNClassification
    from deepbelief.compat import SupervisedDBNClassification

The classes accept the old parameter names and translate them to
:class:`deepbelief.DBNClassifier`, :class:`deepbelief.DBNRegressor` and
:class:`deepbelief.DBNTransformer`, which do the work (available as ``estimator_``).
Differences: models are saved in deepbelief's safe format (never pickle), bad input and
diverging training raise clear errors instead of producing NaN weights, and ``random_state``
is available for repeatable runs. ``load`` restores the parameters under their old names;
an invalid value is reported under the name it was given. ``UnsupervisedDBN`` keeps the old
``rbm_layers`` (each with ``W``, ``b``, ``c``, ``n_hidden_units``, ``n_visible_units``,
``transform``) and adds ``inverse_transform`` and ``reconstruct``.

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

import re
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, TransformerMixin
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import _num_samples, check_is_fitted

from deepbelief.core.stack import up_pass
from deepbelief.estimators import DBNClassifier, DBNRegressor, DBNTransformer, load
from deepbelief.estimators._base import (
    as_tensor,
    output_dtype,
    params_from_record,
    params_record,
    to_numpy,
)
from deepbelief.estimators._decoding import check_columns, decode
from deepbelief.io.modelfile import describe

__all__ = ["RBMLayer", "SupervisedDBNClassification", "SupervisedDBNRegression",
           "UnsupervisedDBN"]

_ACTIVATIONS = {"sigmoid": "bernoulli", "relu": "relu"}
#: Old name -> deepbelief name, for the values passed on as they are (``l2_regularization``
#: is divided by n_samples; ``activation_function`` and ``verbose`` are converted).
_RENAMED = {
    "hidden_layers_structure": "hidden_layer_sizes",
    "learning_rate_rbm": "pretrain_learning_rate",
    "n_epochs_rbm": "pretrain_epochs",
    "contrastive_divergence_iter": "k",
    "learning_rate": "learning_rate_init",
    "n_iter_backprop": "max_iter",
    "l2_regularization": "alpha",
    "dropout_p": "dropout",
    "batch_size": "batch_size",
    "random_state": "random_state",
    "device": "device",
}
_OWN_CONSTRAINTS = {
    "activation_function": [StrOptions(set(_ACTIVATIONS))],
    "optimization_algorithm": [StrOptions({"sgd"})],  # the only one the old package had
    "verbose": ["verbose"],
}


def _old_names(message: str, names: list[str], target: str, compat: str) -> str:
    """``message`` of a deepbelief error with the old parameter and class names."""
    new_to_old = {_RENAMED[n]: n for n in names if n in _RENAMED and _RENAMED[n] != n}
    pattern = r"\b(" + "|".join(map(re.escape, new_to_old)) + r")\b"
    return re.sub(pattern, lambda m: new_to_old[m.group()], message).replace(target, compat)


class RBMLayer:
    """One layer of a fitted :class:`UnsupervisedDBN`, under the names of the old package's
    ``BinaryRBM`` (an item of ``rbm_layers``). It reads the fitted layer: refitting the DBN
    makes new layers, and ``rbm_layers`` new views of them.

    Attributes
    ----------
    W : ndarray of shape (n_hidden_units, n_visible_units)
        Weights (a copy).
    b : ndarray of shape (n_visible_units,)
        Visible biases.
    c : ndarray of shape (n_hidden_units,)
        Hidden biases.
    n_hidden_units, n_visible_units : int
    rbm_ : RBMModule
        The deepbelief layer (the functions of :mod:`deepbelief.evaluation` take the layer
        itself).
    """

    def __init__(self, rbm) -> None:
        self.rbm_ = rbm

    @property
    def W(self) -> np.ndarray:
        return to_numpy(self.rbm_.weight.t())

    @property
    def b(self) -> np.ndarray:
        return to_numpy(self.rbm_.visible_bias)

    @property
    def c(self) -> np.ndarray:
        return to_numpy(self.rbm_.hidden_bias)

    @property
    def n_hidden_units(self) -> int:
        return self.rbm_.n_hidden

    @property
    def n_visible_units(self) -> int:
        return self.rbm_.n_visible

    @torch.no_grad()
    def transform(self, X) -> np.ndarray:
        """Hidden means ``E[h | v]``, shape (n_samples, n_hidden_units); the dtype of ``X``
        is kept (float64 stays float64, else float32)."""
        X = check_columns(X, self.n_visible_units, "RBMLayer", "transform",
                          "one per visible unit (the output of the layer below)")
        return to_numpy(up_pass([self.rbm_], as_tensor(X, self.rbm_.weight.device)),
                        output_dtype(X))

    def inverse_transform(self, X) -> np.ndarray:
        """Visible means ``E[v | h]`` of hidden values ``X``, shape (n_samples,
        n_visible_units); the dtype of ``X`` is kept."""
        return decode([self.rbm_], X, "RBMLayer")

    def __repr__(self) -> str:
        return f"RBMLayer(n_visible_units={self.n_visible_units}, " \
               f"n_hidden_units={self.n_hidden_units})"


class _CompatBase(BaseEstimator):
    """Shared translation; subclasses set ``_target`` and list their own parameters."""

    _target: type

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "_target" in cls.__dict__:  # each old name checked as its deepbelief parameter is
            constraints = cls._target._parameter_constraints
            cls._parameter_constraints = {
                name: _OWN_CONSTRAINTS.get(name) or constraints[_RENAMED[name]]
                for name in cls._get_param_names()}

    def _translate(self) -> dict:
        params = self.get_params()
        sizes = params["hidden_layers_structure"]
        new = {
            "hidden_layer_sizes": tuple(sizes) if isinstance(sizes, (list, tuple)) else sizes,
            "hidden_units": _ACTIVATIONS[params["activation_function"]],
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
                max_iter=params["n_iter_backprop"],
                n_iter_no_change=max(params["n_iter_backprop"], 1),
                alpha=params["l2_regularization"],
                dropout=params["dropout_p"],
            )
        return new

    def _checked_target(self, n_samples: int):
        """The deepbelief estimator for these parameters, every error naming the old ones."""
        self._validate_params()
        params = self._translate()
        if "alpha" in params:
            # The old package decayed weights by lr * l2 / n_samples per step.
            params["alpha"] = params["alpha"] / max(n_samples, 1)
        estimator = self._target(**params)
        try:
            estimator._rbm_configs()  # per-layer values (lists) and hidden_layers_structure
        except ValueError as exc:
            raise ValueError(_old_names(str(exc), self._get_param_names(),
                                        self._target.__name__, type(self).__name__)) from None
        return estimator

    def _fit(self, X, y=None):
        self.estimator_ = self._checked_target(_num_samples(X))
        self.estimator_.fit(X) if y is None else self.estimator_.fit(X, y)
        self.n_features_in_ = self.estimator_.n_features_in_
        return self

    def save(self, path: str | Path) -> Path:
        """Save in deepbelief's format (the old package pickled; we never do).

        The file is a model file of the deepbelief estimator (``deepbelief.load`` reads it)
        that also records this object's parameters, which :meth:`load` restores.
        """
        check_is_fitted(self, "estimator_")
        record = {"class": type(self).__name__, **params_record(self)}
        return self.estimator_.save(path, metadata={"compat": record})

    @classmethod
    def load(cls, path: str | Path, device: str | None = None):
        """Load a model saved by :meth:`save` (returns the same compat class), with the
        parameters it was fitted with; ``device`` as in :func:`deepbelief.load`.

        Raises
        ------
        ValueError
            If the file holds another kind of model, or a deepbelief model whose settings
            the old parameters cannot express (load it with :func:`deepbelief.load`).
        """
        estimator = load(path, device=device)
        if not isinstance(estimator, cls._target):
            raise ValueError(f"{path} holds a {type(estimator).__name__}, not a model for "
                             f"{cls.__name__}.")
        record = (describe(path)["config"].get("metadata") or {}).get("compat") or {}
        if record.get("class") == cls.__name__:
            params = params_from_record(record)
        else:  # saved before the record was kept: translate deepbelief's parameters back
            params = cls._params_from(estimator, path)
        obj = cls(**{**params, "device": estimator.device})
        obj.estimator_ = estimator
        obj.n_features_in_ = estimator.n_features_in_
        return obj

    @classmethod
    def _params_from(cls, estimator, path) -> dict:
        """The old parameters of ``estimator`` (the inverse of ``_translate``)."""
        target = estimator.get_params()
        names = cls._get_param_names()
        params = {old: target[new] for old, new in _RENAMED.items() if old in names}
        sizes = params["hidden_layers_structure"]
        params["hidden_layers_structure"] = list(sizes) if isinstance(sizes, tuple) else sizes
        units = {v: k for k, v in _ACTIVATIONS.items()}
        params["activation_function"] = units.get(target["hidden_units"], "sigmoid")
        params["verbose"] = bool(target["verbose"])
        if "l2_regularization" in names:
            params["l2_regularization"] = cls().l2_regularization
        same = cls._target(**{**cls(**params)._translate(), "alpha": target["alpha"],
                              "callbacks": target["callbacks"]}).get_params()
        differ = {k: v for k, v in target.items() if same[k] != v}
        if differ:
            listed = ", ".join(f"{k}={v!r}" for k, v in sorted(differ.items()))
            raise ValueError(f"{path} holds a {cls._target.__name__} trained with settings "
                             f"{cls.__name__} cannot express ({listed}); load it with "
                             "deepbelief.load(path).")
        if "l2_regularization" in names:
            warnings.warn(
                f"{path} was saved before the compat classes recorded their parameters: "
                f"l2_regularization is unknown (the file holds alpha = l2_regularization / "
                f"n_samples = {target['alpha']!r}) and is set to its default; set_params("
                "l2_regularization=...) before refitting.", UserWarning, stacklevel=3)
        return params


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
        """Top-layer hidden means, shape (n_samples, hidden_layers_structure[-1])."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.transform(X)

    def inverse_transform(self, X) -> np.ndarray:
        """From top-layer features back to inputs: the deterministic top-down pass of means
        (see :meth:`deepbelief.DBNTransformer.inverse_transform`)."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.inverse_transform(X)

    def reconstruct(self, X) -> np.ndarray:
        """``inverse_transform(transform(X))``: up the stack and back down by means."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.reconstruct(X)

    @property
    def rbm_layers(self) -> list[RBMLayer]:
        """The fitted layers, bottom first, under the old ``BinaryRBM`` names."""
        return [RBMLayer(rbm) for rbm in self.rbms_]

    @property
    def rbms_(self) -> list:
        """The fitted layers (deepbelief's ``RBMModule``), bottom first, as in
        :class:`deepbelief.DBNTransformer`; :mod:`deepbelief.evaluation` takes this object."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.rbms_
