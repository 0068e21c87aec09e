"""DBN estimators with a supervised head: classification and regression."""

from __future__ import annotations

import math
from functools import partial
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import torch
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d

from deepbelief.core.layers import Layer
from deepbelief.core.network import FeedForwardDBN
from deepbelief.core.plain import Stage, affine_stage, dense_stages, network_dense
from deepbelief.core.stack import map_rows
from deepbelief.estimators import _sample_weight as weighting
from deepbelief.estimators._base import FitSession, training_data
from deepbelief.estimators._convergence import check_training_predictions
from deepbelief.estimators._dbn import _BaseDBN
from deepbelief.estimators._docs import (
    FINETUNE_DOC,
    INPUT_ATTRIBUTES_DOC,
    SUPERVISED_PRETRAIN_DOC,
    fit_doc,
)
from deepbelief.estimators._document_bottom import check_input  # _input_scaling's + counts
from deepbelief.estimators._early_stopping import (
    check_validation_size,
    draw_split,
    set_finetune_curves,
    stopping_callbacks,
)
from deepbelief.estimators._input import labelled_data, n_rows
from deepbelief.estimators._large_input import in_memory
from deepbelief.estimators._layer_options import warn_unused_layer_options
from deepbelief.estimators._presets import preset_params
from deepbelief.learning.supervised import SupervisedObjective
from deepbelief.training.loop import make_optimizer
from deepbelief.training.plan import LoopPhase, LoopSetup, StackPhase

_PREDICT_CHUNK = 8192


class _SupervisedDBN(_BaseDBN):
    """Pretraining, then backpropagation through the unrolled stack with a head."""

    _parameter_constraints: ClassVar[dict] = {
        **_BaseDBN._parameter_constraints,
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "solver": [StrOptions({"adam", "sgd"}), callable],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "hidden_units": [StrOptions({"auto", "bernoulli", "gaussian", "relu"}), list, tuple],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "input_dropout": [Interval(Real, 0, 1, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        hidden_layer_sizes=(256, 256),
        *,
        visible_units: str = "auto",
        hidden_units="auto",
        pretrain_epochs=10,
        pretrain_learning_rate="auto",
        pretrain_method: str = "cd",
        k: int = 1,
        pretrain_momentum="classic",
        pretrain_weight_decay: float = 2e-4,
        pretrain_centering: bool | float = False,
        layer_type="rbm",
        corruption: str = "masking",
        corruption_level: float = 0.25,
        tied_weights: bool = True,
        batch_size: int = 32,
        max_iter: int = 100,
        solver="adam",
        learning_rate_init: float = 1e-3,
        momentum: float = 0.9,
        alpha: float = 1e-4,
        dropout: float = 0.2,
        input_dropout: float = 0.0,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 10,
        tol: float = 1e-4,
        random_state=None,
        verbose: int = 0,
        device: str = "auto",
        callbacks: list | None = None,
    ) -> None:
        super().__init__(
            hidden_layer_sizes, visible_units=visible_units, hidden_units=hidden_units,
            pretrain_epochs=pretrain_epochs, pretrain_learning_rate=pretrain_learning_rate,
            pretrain_method=pretrain_method, k=k, pretrain_momentum=pretrain_momentum,
            pretrain_weight_decay=pretrain_weight_decay,
            pretrain_centering=pretrain_centering, layer_type=layer_type,
            corruption=corruption, corruption_level=corruption_level,
            tied_weights=tied_weights, batch_size=batch_size,
            random_state=random_state, verbose=verbose, device=device, callbacks=callbacks,
        )
        self.max_iter = max_iter
        self.solver = solver
        self.learning_rate_init = learning_rate_init
        self.momentum = momentum
        self.alpha = alpha
        self.dropout = dropout
        self.input_dropout = input_dropout
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol

    # Subclasses define: _multi_output, _encode_targets(y, weight) -> (tensor targets, n_outputs,
    # fitted target attributes), _loss(), _baseline(n_outputs) (the loss of a constant
    # prediction), _validation_score(net, x, y, *weight) (higher is better), _stratify(y).

    def _fit_supervised(self, X, y, sample_weight=None, checkpoint=None,
                        checkpoint_every: int = 1, resume: bool = False):
        session = FitSession(self, checkpoint=checkpoint, checkpoint_every=checkpoint_every,
                             resume=resume)
        (X, y), scaling = check_input(
            self, X, first=True, y=y, sparse=True,
            multi_output=self._multi_output,  # regression: numeric, 1 or more
            y_numeric=self._multi_output)
        X, y, weight = weighting.fit_weights(self, X, y, sample_weight)  # 0: rows dropped
        configs = self._rbm_configs(scaling.visible_units, X)
        warn_unused_layer_options(self)
        targets, n_outputs, target_attributes = self._encode_targets(y, weight)
        if self.early_stopping:  # before pretraining, not after it
            check_validation_size(X.shape[0], self.validation_fraction)
        session.open(X, weighting.checkpointed_targets(y, weight))
        data = training_data(scaling.apply(X), session.device)  # sparse: one batch at a time
        name = type(self).__name__
        stack = StackPhase("pretrain", f"{name} pretraining", configs, data,
                           sample_weight=weighting.weight_tensor(weight, data.device))
        finetune = LoopPhase(
            "finetune", f"{name} fine-tuning",
            partial(self._finetune_setup, stack, data,
                    weighting.label_columns(targets, weight, data.device), y, n_outputs,
                    session.generator),
            epochs=self.max_iter, batch_size=self.batch_size,
            loop_name="the fine-tuned network")
        session.run([stack, finetune])
        net = finetune.module
        net.eval()

        # Every fitted attribute is set here, once training has succeeded.
        for attribute, value in target_attributes.items():
            setattr(self, attribute, value)
        scaling.set_attributes(self)
        self.rbms_ = stack.rbms
        self.network_ = net
        self.callbacks_ = session.callbacks
        self.pretrain_time_ = stack.time
        self.finetune_time_ = finetune.time
        self._set_curves({"pretrain": stack.history, "finetune": finetune.history})
        check_training_predictions(self, *in_memory(X, y), weight)  # larger than memory: a sample
        return self

    def _network(self, rbms: list[Layer], n_outputs: int, device) -> FeedForwardDBN:
        """An untrained (uninitialised) network shaped for ``rbms``, to load weights into."""
        return FeedForwardDBN(
            [rbms[0].n_visible] + [r.n_hidden for r in rbms],
            [r.activation for r in rbms], n_outputs, self.dropout,
            input_dropout=self.input_dropout, device=device,
        )

    def _finetune_setup(self, stack: StackPhase, data, targets, y, n_outputs: int, generator,
                        position: dict | None) -> LoopSetup:
        """Backpropagation through the unrolled stack: the network (the pretrained weights
        and a random head) and, with ``early_stopping``, a validation split, both drawn
        only when ``position`` is None (else the checkpoint's split, no draws)."""
        device, rbms = data.device, stack.rbms
        if position is None:
            net = FeedForwardDBN.from_rbms(rbms, n_outputs, self.dropout, generator,
                                           input_dropout=self.input_dropout)
            split = draw_split(self, n_rows(data), self._stratify(y), generator, device)
        else:
            net = self._network(rbms, n_outputs, device)
            split = position["split"]
        train, valid = labelled_data(data, targets), None
        if split is not None:
            idx_train, idx_valid = split["train"].to(device), split["valid"].to(device)
            train = labelled_data(data, targets, idx_train)
            valid = labelled_data(data, targets, idx_valid, dense=True)
        internal = stopping_callbacks(self, valid)
        optimizer = make_optimizer(net, self.solver, self.learning_rate_init, self.momentum,
                                   self.alpha)
        objective = SupervisedObjective(net, self._loss(), baseline=self._baseline(n_outputs),
                                        advice=self._divergence_advice())
        return LoopSetup(objective, optimizer, train, internal, {"split": split})

    def _divergence_advice(self) -> str:
        """What to change when fine-tuning diverges (tested on digits with SGD at 10)."""
        return (f"Try a smaller learning_rate_init (it is {self.learning_rate_init:g}; 0.1 or "
                "less usually suits solver='sgd'), or solver='adam' with its default "
                "learning_rate_init=0.001.")

    def _set_curves(self, history: dict) -> None:
        """``history_`` and the attributes derived from its fine-tuning records."""
        set_finetune_curves(self, history)

    @torch.no_grad()
    def _forward(self, X) -> torch.Tensor:
        check_is_fitted(self, "network_")
        x, _ = self._input(X)
        self.network_.eval()
        return map_rows(self.network_, x, _PREDICT_CHUNK, device=self.rbms_[0].weight.device)

    # -- saving ----------------------------------------------------------------------------
    def _get_state(self):
        config, tensors = self._rbm_state()
        config.update(self._target_state())
        config["n_outputs"] = self.network_.head[-1].out_features
        tensors.update({f"network.{k}": v for k, v in self.network_.state_dict().items()})
        return config, tensors

    def _set_state(self, config, tensors) -> None:
        device = self._set_rbm_state(config, tensors)
        net = self._network(self.rbms_, config["n_outputs"], device)
        net.load_state_dict({k[len("network."):]: v for k, v in tensors.items()
                             if k.startswith("network.")})
        net.eval()
        self.network_ = net
        self._set_curves(self.history_)
        self._set_target_state(config)


class DBNClassifier(ClassifierMixin, _SupervisedDBN):
    __doc__ = f"""Deep Belief Network classifier: greedy RBM pretraining, then backpropagation.

    The pretrained stack is unrolled into a feed-forward network (weights copied from the
    RBMs) topped by a softmax layer and fine-tuned with cross-entropy.

    Parameters
    ----------{SUPERVISED_PRETRAIN_DOC}{FINETUNE_DOC}{weighting.CLASS_WEIGHT_DOC}
    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    rbms_ : list of RBMModule or AutoencoderLayer
        The pretrained layers (before fine-tuning), bottom first: RBMs, or autoencoder
        layers where ``layer_type`` asks for them.
    network_ : FeedForwardDBN
        The fine-tuned network.
{INPUT_ATTRIBUTES_DOC}
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined only when X has feature names that are all strings.
    n_iter_ : int
        Fine-tuning epochs run.
    loss_curve_ : list of float
        Training loss per fine-tuning epoch.
    best_loss_ : float or None
        The smallest training loss (None when ``max_iter=0``).
    validation_scores_ : list of float
        Validation accuracy per epoch (only with ``early_stopping=True``).
    best_validation_score_ : float
        The best validation accuracy, whose weights were kept (only with
        ``early_stopping=True``).
    history_ : dict
        ``{{"pretrain": [...per layer...], "finetune": [...per epoch...]}}``: per-epoch
        records with ``epoch`` (1-based), ``time`` (seconds), ``reconstruction_error``
        (pretraining), ``loss`` and ``validation_score`` (fine-tuning), and what callbacks
        add.
    callbacks_ : list
        The callbacks used by the last fit, with their state (copies of ``callbacks``).
    pretrain_time_, finetune_time_ : float
        Seconds spent in each phase of the last fit.

    References
    ----------
    Hinton, Osindero & Teh (2006), A fast learning algorithm for deep belief nets.
    Hinton & Salakhutdinov (2006), Reducing the dimensionality of data with neural networks.

    Examples
    --------
    >>> from deepbelief import DBNClassifier
    >>> from deepbelief.datasets import load_digits
    >>> X, y = load_digits()
    >>> clf = DBNClassifier((64,), pretrain_epochs=2, max_iter=5, random_state=0,
    ...                     device="cpu").fit(X[:500], y[:500])
    >>> clf.predict(X[:3]).shape
    (3,)
    """

    _multi_output = False
    _parameter_constraints: ClassVar[dict] = {
        **_SupervisedDBN._parameter_constraints,
        "class_weight": [dict, StrOptions({"balanced"}), None]}
    __init__ = weighting.add_keyword(_SupervisedDBN.__init__, "class_weight", None)

    @classmethod
    def from_preset(cls, name: str, **params) -> DBNClassifier:
        """A classifier with the recipe ``name`` of :data:`deepbelief.estimators.PRESETS`
        (``'mnist'``, ``'fashion-mnist'``), ``params`` overriding it.

        Raises ``ValueError`` for an unknown name, listing the known ones.

        >>> DBNClassifier.from_preset("mnist", max_iter=2).max_iter
        2
        """
        return cls(**{**preset_params(name), **params})

    def fit(self, X, y, sample_weight=None, *, checkpoint=None, checkpoint_every: int = 1,
            resume: bool = False) -> DBNClassifier:
        return self._fit_supervised(X, y, sample_weight, checkpoint, checkpoint_every, resume)

    fit.__doc__ = fit_doc(
        "Pretrain on ``X``, then fine-tune to predict ``y``.", "DBNClassifier", """
        y : array-like of shape (n_samples,)
            Class labels.""" + weighting.SAMPLE_WEIGHT_DOC, """
            With ``early_stopping``, the validation split too.""")

    def _encode_targets(self, y, weight=None):
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        classes, encoded = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(
                f"The data has only one class ({classes.tolist()[0]!r}); a classifier needs "
                "samples of at least 2 classes."
            )
        return (torch.from_numpy(encoded.astype(np.int64)), len(classes),
                {"classes_": classes})

    def _stratify(self, y):
        return y

    def _loss(self):
        return torch.nn.CrossEntropyLoss()

    def _baseline(self, n_outputs: int) -> float:
        return math.log(n_outputs)  # cross-entropy of equal probabilities

    def _validation_score(self, net, x, y, *weight) -> float:
        return weighting.accuracy(net(x), y, *weight)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, shape (n_samples, n_classes), columns in ``classes_`` order."""
        proba = torch.softmax(self._forward(X).double(), dim=1)
        return proba.cpu().numpy()

    def predict_log_proba(self, X) -> np.ndarray:
        """Log class probabilities, shape (n_samples, n_classes)."""
        return torch.log_softmax(self._forward(X).double(), dim=1).cpu().numpy()

    def predict(self, X) -> np.ndarray:
        """Predicted class labels, shape (n_samples,), of the type of ``classes_``."""
        index = self._forward(X).argmax(1).cpu().numpy()
        return self.classes_[index]

    def _torch_parts(self) -> Stage:
        """``to_torch``: the fine-tuned network, then the softmax of ``predict_proba``."""
        return [*dense_stages(network_dense(self.network_)),
                ("softmax", torch.nn.Softmax(dim=1))]

    def _target_state(self) -> dict:
        return {"classes": self.classes_.tolist(), "classes_dtype": self.classes_.dtype.str}

    def _set_target_state(self, config) -> None:
        dtype = np.dtype(config["classes_dtype"])
        self.classes_ = np.asarray(config["classes"], dtype=object if dtype.kind == "O" else dtype)


class DBNRegressor(RegressorMixin, _SupervisedDBN):
    __doc__ = f"""Deep Belief Network regressor: greedy RBM pretraining, then backpropagation.

    The pretrained stack is unrolled into a feed-forward network topped by a linear layer
    and fine-tuned with squared error on standardized targets (one or several outputs).

    Parameters
    ----------{SUPERVISED_PRETRAIN_DOC}{FINETUNE_DOC}
    Attributes
    ----------
    rbms_ : list of RBMModule or AutoencoderLayer
        The pretrained layers, bottom first (see ``layer_type``).
    network_ : FeedForwardDBN
{INPUT_ATTRIBUTES_DOC}
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
    n_outputs_ : int
        Number of targets.
    y_mean_, y_scale_ : ndarray of shape (n_outputs_,)
        The targets are standardized with these during fine-tuning.
    n_iter_ : int
        Fine-tuning epochs run.
    loss_curve_ : list of float
        Training loss (on standardized targets) per fine-tuning epoch.
    best_loss_ : float or None
    validation_scores_ : list of float
        Validation R² per epoch (only with ``early_stopping=True``).
    best_validation_score_ : float
        Only with ``early_stopping=True``.
    history_ : dict
        ``{{"pretrain": [...per layer...], "finetune": [...per epoch...]}}``, as for
        :class:`DBNClassifier`.
    callbacks_ : list
        The callbacks used by the last fit, with their state.
    pretrain_time_, finetune_time_ : float

    Examples
    --------
    >>> import numpy as np
    >>> from deepbelief import DBNRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.random((200, 5)).astype(np.float32)
    >>> y = X.sum(1)
    >>> reg = DBNRegressor((16,), pretrain_epochs=2, max_iter=20, random_state=0,
    ...                    device="cpu").fit(X, y)
    >>> reg.predict(X[:2]).shape
    (2,)
    """

    _multi_output = True

    def fit(self, X, y, sample_weight=None, *, checkpoint=None, checkpoint_every: int = 1,
            resume: bool = False) -> DBNRegressor:
        return self._fit_supervised(X, y, sample_weight, checkpoint, checkpoint_every, resume)

    fit.__doc__ = fit_doc(
        "Pretrain on ``X``, then fine-tune to predict ``y``.", "DBNRegressor", """
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets. One column, (n_samples, 1), is one target, as in scikit-learn's
            MLPRegressor: a DataConversionWarning, and ``predict`` returns shape
            (n_samples,).""" + weighting.SAMPLE_WEIGHT_DOC, """
            With ``early_stopping``, the validation split too.""")

    def _encode_targets(self, y, weight=None):
        y = np.asarray(y, dtype=np.float64)
        if y.ndim == 2 and y.shape[1] == 1:  # one target, as MLPRegressor: y of shape (n,)
            y = column_or_1d(y, warn=True)
        y2 = y.reshape(len(y), -1)
        mean, std = weighting.moments(y2, weight)  # weighted: a weight of 2 is the row twice
        scale = np.where(std > 0, std, 1.0)
        scaled = ((y2 - mean) / scale).astype(np.float32)
        attributes = {"n_outputs_": y2.shape[1], "y_mean_": mean, "y_scale_": scale}
        return torch.from_numpy(scaled), y2.shape[1], attributes

    def _stratify(self, y):
        return None

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags

    def _loss(self):
        return torch.nn.MSELoss()

    def _baseline(self, n_outputs: int) -> float:
        return 1.0  # predicting the mean of standardized targets

    def _validation_score(self, net, x, y, *weight) -> float:
        return weighting.r2(net(x), y, *weight)

    def predict(self, X) -> np.ndarray:
        """Predicted targets: shape (n_samples,) for one target (also when ``y`` had shape
        (n_samples, 1), as scikit-learn's regressors), else (n_samples, n_outputs_)."""
        out = self._forward(X).double().cpu().numpy() * self.y_scale_ + self.y_mean_
        return out.ravel() if self.n_outputs_ == 1 else out

    def _torch_parts(self) -> Stage:
        """``to_torch``: the fine-tuned network, its outputs in the targets' units, and
        for one target ``predict``'s shape (n_samples,)."""
        flatten = [("flatten", torch.nn.Flatten(0))] if self.n_outputs_ == 1 else []
        return [*dense_stages(network_dense(self.network_)),
                *affine_stage("unstandardize", self.y_scale_, self.y_mean_), *flatten]

    def _target_state(self) -> dict:
        # "y_1d" tells versions up to 0.2.0 to return 1-d predictions for one target.
        return {"y_mean": self.y_mean_.tolist(), "y_scale": self.y_scale_.tolist(),
                "y_1d": self.n_outputs_ == 1}

    def _set_target_state(self, config) -> None:
        self.y_mean_ = np.asarray(config["y_mean"])
        self.y_scale_ = np.asarray(config["y_scale"])
        self.n_outputs_ = len(self.y_mean_)
