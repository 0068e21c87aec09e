"""The generative DBN estimator (Hinton, Osindero & Teh, 2006): sampling, generative
classification and completion of inputs."""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import scipy.sparse
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d

from deepbelief.core.generative import (
    GenerativeStack,
    joined_with_labels,
)
from deepbelief.core.layers import layers_state, read_layers
from deepbelief.core.stack import map_rows
from deepbelief.estimators._base import (
    FitSession,
    SaveLoadMixin,
    as_input,
    as_tensor,
    fitted_input_state,
    pretrain_configs,
    resolve_device,
    set_fitted_input_state,
    to_numpy,
    training_data,
)
from deepbelief.estimators._docs import fit_doc
from deepbelief.estimators._generative_docs import GENERATIVE_PARAMS_DOC, SAMPLE_WEIGHT_DOC
from deepbelief.estimators._generative_precision import (
    float64_stack,
    label_chunk,
    label_free_energies,
)
from deepbelief.estimators._generative_recipe import (
    check_transposed_start,
    spread,
    with_epochs,
)
from deepbelief.estimators._generative_weights import (
    WeightedLayerPhase,
    generative_weights,
    start_top_rbm,
    weighted_rows,
)
from deepbelief.estimators._input import NO_Y, labelled_data
from deepbelief.estimators._input_scaling import InputScaling, check_input, resolved_units
from deepbelief.estimators._layer_options import RBMLayersOnly
from deepbelief.estimators._sample_weight import checkpointed_targets, weight_tensor
from deepbelief.estimators._scaled_generation import ScaledGeneration
from deepbelief.learning.updown import UpDownObjective
from deepbelief.training.callbacks import Callback
from deepbelief.training.greedy import RBMConfig, data_layout, data_mean, with_centering
from deepbelief.training.lazy_stack import host_source, stacked_input, with_columns
from deepbelief.training.loop import make_optimizer
from deepbelief.training.plan import LoopPhase, LoopSetup, StackPhase
from deepbelief.training.sources import SparseSource

_PER_LAYER_INT = [Interval(Integral, 0, None, closed="left"), StrOptions({"auto"}), list, tuple]
_PER_LAYER_RATE = [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"}), list,
                   tuple]
_CHUNK = 8192


class _GrowK(Callback):
    """Sets the top-level CD's ``k`` of the up-down objective before every epoch."""

    def __init__(self, schedule: list[int]) -> None:
        self.schedule = schedule

    def on_epoch_begin(self, context) -> None:
        context.objective.k = self.schedule[min(context.epoch, len(self.schedule) - 1)]

    def on_epoch_end(self, context) -> None:
        context.record["k"] = context.objective.k


def _with_labels(x: torch.Tensor | SparseSource, onehot: torch.Tensor | None):
    """The top RBM's data: ``x`` joined with the one-hot labels (a sparse ``x``, the inputs
    of a one-layer model, stays sparse)."""
    if onehot is None:
        return x
    if host_source(x):  # a file, its cache or its lazy up-pass (training/lazy_stack.py)
        return with_columns(x, onehot.cpu().numpy())
    if isinstance(x, SparseSource):
        joined = scipy.sparse.hstack([x.arrays[0], onehot.cpu().numpy()], format="csr")
        return SparseSource(joined, device=x.device)
    return torch.cat([x, onehot], dim=1)


class GenerativeDBN(RBMLayersOnly, SaveLoadMixin, ClassifierMixin, ScaledGeneration,
                    BaseEstimator):
    __doc__ = f"""Generative Deep Belief Net with label units in its top RBM (Hinton et al., 2006).

    A greedy stack of Bernoulli RBMs whose top RBM models the penultimate layer joined
    with softmax label units, e.g. ``hidden_layer_sizes=(500, 500, 2000)`` on MNIST gives
    784-500-500+10-2000. Without labels (``fit(X)``) the top RBM models the penultimate
    layer alone. Every layer is an RBM (the DBNs' ``layer_type`` is not offered here:
    sampling, generative classification and up-down fine-tuning need each layer's
    generative model, which an autoencoder layer does not define). The model then

    * classifies generatively: ``p(y = k | x) ∝ exp(-F_top(h(x) ⊕ e_k))``, with ``h(x)``
      the deterministic bottom-up pass and ``F_top`` the top RBM's free energy, exact over
      the labels (``predict``, ``predict_proba``, ``score``);
    * samples inputs, optionally of given classes (``sample``);
    * completes partially observed inputs (``complete``).

    Training is greedy, then optionally ``updown_epochs`` of the paper's up-down fine-tuning
    (contrastive wake-sleep, :mod:`deepbelief.learning.updown`), which unties the recognition
    (bottom-up) and generative (top-down) weights of the lower layers.

    With ``visible_units='auto'`` (the default) on data outside [0, 1], every method reads
    ``X`` standardised as the training data was, and ``reconstruct``, ``sample`` and
    ``complete`` return values in the data's units. With explicit input units, ``fit``
    refuses inputs outside their range (float rounding within 1e-4 of it is clipped);
    ``predict``, ``predict_proba``, ``score``, ``reconstruct`` and ``complete`` clip them,
    with a :class:`~deepbelief.exceptions.DataRangeWarning`. ``X`` may be a SciPy CSR or
    CSC matrix (in [0, 1] under 'auto'): ``fit`` reads it one mini-batch at a time, the
    classification and ``reconstruct`` one chunk of rows at a time.

    Parameters
    ----------{GENERATIVE_PARAMS_DOC}
    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The labels; only when fitted with ``y``.
    rbms_ : list of RBMModule
        The trained RBMs, bottom first; the last is the top RBM, whose visible units are
        ``Joined([(Bernoulli(), n_penultimate), (Softmax(), n_classes)])`` with labels.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined only when X has feature names that are all strings.
    recognition_ : list of RBMModule or None
        After up-down fine-tuning: the untied bottom-up copies of ``rbms_[:-1]`` used by the
        up pass (``rbms_[:-1]`` then hold the generative weights); None for a greedy model.
    history_ : dict
        ``{{"pretrain": [per-layer list of per-epoch records], "updown": [per-epoch
        records]}}``; up-down records hold ``reconstruction_error`` and, with labels,
        ``training_error`` (generative classification error on the first 2,048 samples).
    visible_units_ : str
        The input units used ('auto' resolved: 'bernoulli' or 'gaussian').
    input_mean_, input_scale_ : ndarray of shape (n_features_in_,) or None
        The standardisation of the input, ``(X - input_mean_) / input_scale_``
        (``visible_units='auto'`` on data outside [0, 1]); else None.
    training_mean_ : ndarray of shape (n_features_in_,)
        Mean of the training inputs as the network reads them (standardised, when
        ``input_mean_`` is set): where ``complete`` starts the unknown entries.
    callbacks_ : list
        The callbacks used by the last fit (copies of ``callbacks``).
    pretrain_time_ : float
        Seconds spent in greedy training.
    updown_time_ : float
        Seconds spent in up-down fine-tuning (0 without it).

    References
    ----------
    Hinton, Osindero & Teh (2006), A fast learning algorithm for deep belief nets.
    Neural Computation 18(7), 1527-1554.

    Examples
    --------
    >>> from deepbelief import GenerativeDBN
    >>> from deepbelief.datasets import load_digits
    >>> X, y = load_digits()
    >>> gen = GenerativeDBN((32, 64), pretrain_epochs=2, random_state=0,
    ...                     device="cpu").fit(X[:300], y[:300])
    >>> gen.predict_proba(X[:2]).shape
    (2, 10)
    >>> gen.sample(4, y=[0, 1, 2, 3], n_gibbs=10, random_state=0).shape
    (4, 64)
    """

    _parameter_constraints: ClassVar[dict] = {
        "hidden_layer_sizes": [list, tuple, Interval(Integral, 1, None, closed="left")],
        "pretrain_epochs": _PER_LAYER_INT,
        "pretrain_learning_rate": _PER_LAYER_RATE,
        "visible_units": [StrOptions({"auto", "bernoulli", "gaussian"})],
        "pretrain_method": [StrOptions({"cd", "pcd", "pt"}), list, tuple],
        "k": [Interval(Integral, 1, None, closed="left"), list, tuple],
        "pretrain_learning_rate_schedule": [StrOptions({"constant", "linear"}), list, tuple],
        "pretrain_momentum": [Interval(Real, 0, 1, closed="left"), StrOptions({"classic"})],
        "pretrain_weight_decay": [Interval(Real, 0, None, closed="left")],
        "pretrain_centering": ["boolean", Interval(Real, 0, 1, closed="right")],
        "pretrain_init": [StrOptions({"random", "transpose"})],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "updown_epochs": [Interval(Integral, 0, None, closed="left")],
        "updown_learning_rate": [Interval(Real, 0, None, closed="neither")],
        "updown_batch_size": [Interval(Integral, 1, None, closed="left"), None],
        "updown_k": [Interval(Integral, 1, None, closed="left"), list, tuple],
        "updown_method": [StrOptions({"cd", "pcd"})],
        "callbacks": [list, tuple, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "device": [str, torch.device],
    }

    def __init__(
        self,
        hidden_layer_sizes=(500, 500, 2000),
        *,
        visible_units: str = "auto",
        pretrain_epochs="auto",
        pretrain_learning_rate="auto",
        pretrain_method="cd",
        k=1,
        pretrain_learning_rate_schedule="constant",
        pretrain_momentum="classic",
        pretrain_weight_decay: float = 2e-4,
        pretrain_centering: bool | float = False,
        pretrain_init: str = "random",
        batch_size: int = 32,
        updown_epochs: int = 0,
        updown_learning_rate: float = 0.01,
        updown_k=(3, 6, 10),
        updown_batch_size: int | None = None,
        updown_method: str = "pcd",
        callbacks: list | None = None,
        random_state=None,
        verbose: int = 0,
        device: str = "auto",
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.visible_units = visible_units
        self.pretrain_epochs = pretrain_epochs
        self.pretrain_learning_rate = pretrain_learning_rate
        self.pretrain_method = pretrain_method
        self.k = k
        self.pretrain_learning_rate_schedule = pretrain_learning_rate_schedule
        self.pretrain_momentum = pretrain_momentum
        self.pretrain_weight_decay = pretrain_weight_decay
        self.pretrain_centering = pretrain_centering
        self.pretrain_init = pretrain_init
        self.batch_size = batch_size
        self.updown_epochs = updown_epochs
        self.updown_learning_rate = updown_learning_rate
        self.updown_k = updown_k
        self.updown_batch_size = updown_batch_size
        self.updown_method = updown_method
        self.callbacks = callbacks
        self.random_state = random_state
        self.verbose = verbose
        self.device = device

    # -- training ----------------------------------------------------------------------------
    def _rbm_configs(self, visible_units: str | None = None,
                     n_rows: int | None = None) -> list[RBMConfig]:
        """The layer specs over ``visible_units`` (default: :func:`resolved_units`) for
        ``n_rows`` training rows (what ``pretrain_epochs='auto'`` reads)."""
        visible_units = visible_units or resolved_units(self)
        configs = pretrain_configs(with_epochs(self, n_rows), visible_units=visible_units)
        check_transposed_start(self, visible_units, len(configs))
        return with_centering(configs, self.pretrain_centering)

    def fit(self, X, y=None, sample_weight=None, *, checkpoint=None, checkpoint_every: int = 1,
            resume: bool = False) -> GenerativeDBN:
        session = FitSession(self, checkpoint=checkpoint, checkpoint_every=checkpoint_every,
                             resume=resume)
        k_schedule = self._k_schedule()
        classes = onehot = None
        checked, scaling = check_input(self, X, first=True, y=NO_Y if y is None else y,
                                       sparse=True)
        scaling = spread(scaling)  # real-valued data: noise below its spread (_generative_recipe)
        X, y = (checked, None) if y is None else checked
        if y is not None:
            y = column_or_1d(y, warn=True)
            check_classification_targets(y)
        X, y, weight = generative_weights(self, X, y, sample_weight)  # 0: rows dropped
        configs = self._rbm_configs(scaling.visible_units, X.shape[0])
        if y is not None:
            classes, encoded = np.unique(y, return_inverse=True)
            if len(classes) < 2:
                raise ValueError(f"The data has only one class ({classes.tolist()[0]!r}); "
                                 "generative classification needs at least 2 classes.")
        session.open(X, y if weight is None else checkpointed_targets(
            np.zeros(len(weight)) if y is None else y, weight))
        X = scaling.apply(X)  # what the network reads, from here on
        data = training_data(X, session.device)  # sparse: read one mini-batch at a time
        label, n = f"{type(self).__name__} pretraining", len(configs)
        weight = weight_tensor(weight, data.device)
        lower = StackPhase("pretrain", label, configs[:-1], data, n_layers=n,
                           sample_weight=weight)
        top_config = configs[-1]
        if classes is not None:
            onehot = torch.nn.functional.one_hot(
                torch.from_numpy(encoded.astype(np.int64)).to(data.device), len(classes)
            ).to(data_layout(data)[2])
            n_penultimate = configs[-2].n_hidden if n > 1 else X.shape[1]
            top_config = replace(top_config, visible_units=joined_with_labels(
                top_config.visible_units, n_penultimate, len(classes)))

        def top_data() -> torch.Tensor | SparseSource:
            return _with_labels(stacked_input(data, lower.rbms, top_config.epochs)
                                if lower.rbms else data, onehot)

        top = WeightedLayerPhase(
            "pretrain", label, top_config, top_data, n_layers=n,
            lower_layers=lambda: lower.rbms, loop_name=f"layer {n} (top RBM)",
            init=partial(start_top_rbm, config=top_config, below=lambda: lower.rbms,
                         generator=session.generator, weight=weight,
                         labels=onehot is not None or weight is not None),
            generator=session.generator, sample_weight=weight)
        phases = [lower, top] if n > 1 else [top]
        if self.updown_epochs:
            data_tuple = weighted_rows(labelled_data(data, onehot) if onehot is not None
                                       else (data,) if isinstance(data, torch.Tensor)
                                       else data, weight)
            phases.append(LoopPhase(
                "updown", f"{type(self).__name__} up-down fine-tuning",
                partial(self._updown_setup, lower, top, data_tuple, k_schedule),
                epochs=self.updown_epochs, batch_size=self.updown_batch_size or self.batch_size,
                loop_name="up-down fine-tuning"))
        session.run(phases)
        stack = GenerativeStack([*lower.rbms, top.trainer.layer])
        if self.updown_epochs:
            stack = phases[-1].setup.objective.stack
        scaling.set_attributes(self)
        self.rbms_ = [*stack.lower, stack.top]
        self.recognition_ = None if stack.tied else stack.recognition
        self.training_mean_ = (np.asarray(X, dtype=np.float32).mean(0)
                               if isinstance(data, torch.Tensor)
                               else data_mean(data).cpu().numpy())
        self.history_ = {"pretrain": [*lower.history, top.history],
                         "updown": phases[-1].history if self.updown_epochs else []}
        self.callbacks_ = session.callbacks
        self.pretrain_time_ = lower.time + top.time
        self.updown_time_ = phases[-1].time if self.updown_epochs else 0.0
        if classes is None:  # no stale labels from an earlier fit with y
            self.__dict__.pop("classes_", None)
        else:
            self.classes_ = classes
        return self

    fit.__doc__ = fit_doc(
        """Greedy layer-wise training: the lower RBMs on ``X``, then the top RBM on the
        penultimate layer's means joined with one-hot labels; then ``updown_epochs`` of
        up-down fine-tuning.""", "GenerativeDBN", """
        y : array-like of shape (n_samples,) or None
            Class labels; None trains an unsupervised model (which can sample and complete
            inputs but not classify).""" + SAMPLE_WEIGHT_DOC)

    def _k_schedule(self) -> list[int]:
        """``updown_k`` as one Gibbs-step count per up-down epoch."""
        ks = [self.updown_k] if isinstance(self.updown_k, Integral) else list(self.updown_k)
        if not ks or any(isinstance(k, bool) or not isinstance(k, Integral) or k < 1
                         for k in ks):
            raise ValueError(f"updown_k must be an integer >= 1 or a non-empty sequence of "
                             f"them, got {self.updown_k!r}.")
        n = self.updown_epochs
        return [int(ks[min(e * len(ks) // n, len(ks) - 1)]) for e in range(n)]

    def _updown_setup(self, lower: StackPhase, top: WeightedLayerPhase, data: tuple,
                      k_schedule: list[int], position: dict | None) -> LoopSetup:
        """Up-down fine-tuning of the greedy stack, untied (draws nothing)."""
        stack = GenerativeStack([*lower.rbms, top.trainer.layer]).untied()
        objective = UpDownObjective(stack, k_schedule[0],
                                    persistent=self.updown_method == "pcd")
        optimizer = make_optimizer(objective.module, "sgd", self.updown_learning_rate, 0.0,
                                   self.pretrain_weight_decay)
        return LoopSetup(objective, optimizer, data, [_GrowK(k_schedule)])

    # -- helpers -------------------------------------------------------------------------------
    @property
    def _stack(self) -> GenerativeStack:
        return GenerativeStack(self.rbms_, getattr(self, "recognition_", None))

    def _input(self, X, chunked: bool = False):
        """``X`` checked for a forward pass (values outside the visible units' range are
        clipped, with a warning) and standardised as in training, as a tensor
        (``chunked``: a sparse matrix stays sparse, for ``map_rows``)."""
        check_is_fitted(self, "rbms_")
        X, scaling = check_input(self, X, first=False, usage="forward", sparse=True)
        return (as_input if chunked else as_tensor)(scaling.apply(X),
                                                    self.rbms_[0].weight.device)

    def _check_labelled(self, what: str) -> None:
        check_is_fitted(self, "rbms_")
        if not hasattr(self, "classes_"):
            raise ValueError(f"{what} needs a model trained with labels: this one was fitted "
                             "without y (fit(X, y) trains the label units that generative "
                             "classification uses).")

    def _encode(self, y, n: int) -> torch.Tensor:
        """Labels (one per sample, or one for all) as one-hot rows, shape (n, n_classes)."""
        y = np.asarray(y, dtype=object)
        y = np.broadcast_to(y, (n,)) if y.ndim == 0 else y
        if y.shape != (n,):
            raise ValueError(f"y must hold one label per sample ({n}), got shape {y.shape}.")
        lookup = {c: i for i, c in enumerate(self.classes_.tolist())}
        unknown = sorted({repr(v) for v in y.tolist() if v not in lookup})
        if unknown:
            raise ValueError(f"y holds labels unseen in fit: {', '.join(unknown)}; the "
                             f"classes are {self.classes_.tolist()}.")
        index = np.array([lookup[v] for v in y.tolist()], dtype=np.int64)
        device = self.rbms_[0].weight.device
        return torch.nn.functional.one_hot(torch.from_numpy(index),
                                           len(self.classes_)).to(device, torch.float32)

    # -- classification ----------------------------------------------------------------------
    @torch.no_grad()
    def _label_free_energies(self, X) -> torch.Tensor:
        """Float64 free energies of every label (:mod:`._generative_precision`)."""
        self._check_labelled("predict")
        x, stack = self._input(X, chunked=True), float64_stack(self._stack)
        return map_rows(partial(label_free_energies, stack), x, label_chunk(stack),
                        device=self.rbms_[0].weight.device)

    def predict_proba(self, X) -> np.ndarray:
        """``p(y | x)`` by the top RBM's free energy of each label given the bottom-up
        representation of ``x``: shape (n_samples, n_classes), columns in ``classes_``
        order."""
        return torch.softmax(-self._label_free_energies(X).double(), dim=1).cpu().numpy()

    def predict_log_proba(self, X) -> np.ndarray:
        """Log of :meth:`predict_proba`."""
        return torch.log_softmax(-self._label_free_energies(X).double(), dim=1).cpu().numpy()

    def predict(self, X) -> np.ndarray:
        """The label of lowest free energy, shape (n_samples,)."""
        index = self._label_free_energies(X).argmin(1).cpu().numpy()
        return self.classes_[index]

    @torch.no_grad()
    def reconstruct(self, X) -> np.ndarray:
        """Mean-field pass through the whole model: up to the penultimate layer, the top
        RBM's hidden means (given the label probabilities ``p(label | h)`` when the model
        has labels) and back down: shape (n_samples, n_features_in_), in the data's
        units."""
        x, stack = self._input(X, chunked=True), self._stack

        def through(chunk: torch.Tensor) -> torch.Tensor:
            h = stack.up_pass(chunk)
            v = torch.cat([h, stack.label_proba(h)], dim=1) if stack.n_classes else h
            top = stack.top.visible_mean(stack.top.hidden_mean(v))
            return stack.down_pass(top[:, : stack.n_penultimate])

        return InputScaling.of(self).invert(
            to_numpy(map_rows(through, x, _CHUNK, device=self.rbms_[0].weight.device)))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # read one mini-batch or chunk of rows at a time
        return tags

    # -- saving ----------------------------------------------------------------------------------
    def _get_state(self):
        layers, tensors = layers_state(self.rbms_)
        config = {"layers": layers, **fitted_input_state(self),
                  **InputScaling.of(self).state(), "history": self.history_}
        if hasattr(self, "classes_"):
            config["classes"] = self.classes_.tolist()
            config["classes_dtype"] = self.classes_.dtype.str
        recognition = getattr(self, "recognition_", None) or []
        config["untied"] = bool(recognition)
        tensors.update(layers_state(recognition, prefix="recognition")[1])
        if hasattr(self, "training_mean_"):
            tensors["training_mean"] = torch.as_tensor(self.training_mean_)
        return config, tensors

    def _set_state(self, config, tensors) -> None:
        device = resolve_device(self.device)

        self.rbms_ = read_layers(config, tensors, device)
        self.recognition_ = (read_layers(config, tensors, device, prefix="recognition",
                                         legacy_prefix="recognition",
                                         count=len(self.rbms_) - 1)
                             if config.get("untied") else None)
        set_fitted_input_state(self, config)
        InputScaling.from_state(config, self.visible_units).set_attributes(self)
        if "training_mean" in tensors:  # absent from files written before it was kept
            self.training_mean_ = tensors["training_mean"].cpu().numpy()
        else:
            self.__dict__.pop("training_mean_", None)
        self.history_ = config["history"]
        if "classes" in config:
            dtype = np.dtype(config["classes_dtype"])
            self.classes_ = np.asarray(config["classes"],
                                       dtype=object if dtype.kind == "O" else dtype)
        GenerativeStack(self.rbms_, self.recognition_)  # checks that the layers fit together
