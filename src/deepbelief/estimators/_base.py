"""What every deepbelief estimator shares: devices, random streams, parameters, the fit
session, saving (the input checks live in :mod:`deepbelief.estimators._input`)."""

from __future__ import annotations

import logging
import numbers
from pathlib import Path

import numpy as np
import torch
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.validation import check_is_fitted

from deepbelief.estimators._export import to_torch as _to_torch
from deepbelief.estimators._fit_checkpoint import (  # their old home: import from here too
    DICT_ITEMS,
    check_checkpoint_args,
    checkpoint_params,
    json_param,
    open_checkpoint,
)
from deepbelief.estimators._input import (  # the input helpers' old home: import from here
    NO_Y,
    as_input,
    as_tensor,
    check_X,
    output_dtype,
    to_numpy,
    training_data,
)
from deepbelief.exceptions import ModelFileError
from deepbelief.io import modelfile as serialization
from deepbelief.training.autoencoder_spec import LAYER_TYPES, with_layer_types
from deepbelief.training.callbacks import copy_callbacks
from deepbelief.training.checkpoint import TrainingCheckpoint
from deepbelief.training.greedy import RBMConfig, auto_learning_rate
from deepbelief.training.plan import FitPlan

__all__ = [
    "LAYER_TYPES",
    "NO_Y",
    "FitSession",
    "SaveLoadMixin",
    "as_input",
    "as_tensor",
    "check_X",
    "checkpoint_params",
    "fitted_input_state",
    "load",
    "make_generator",
    "output_dtype",
    "per_layer",
    "pretrain_configs",
    "resolve_device",
    "set_fitted_input_state",
    "to_numpy",
    "training_data",
]

log = logging.getLogger("deepbelief")
log.addHandler(logging.NullHandler())  # a library logs; the application shows (or not)

_MODEL_TYPES: dict[str, type] = {}


def resolve_device(device: str | torch.device) -> torch.device:
    """``'auto'`` picks CUDA when available, else the CPU; anything else is checked."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device={device!r} is not a valid torch device ('cpu', 'cuda', "
                         "'cuda:1', 'auto').") from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was requested but CUDA is not available here; "
                         "use device='cpu' or 'auto'.")
    return resolved


def make_generator(random_state, device: torch.device) -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded from ``random_state``.

    An int seeds it directly; a ``numpy.random.RandomState`` draws a seed from itself; None
    takes fresh OS entropy (never any global RNG).
    """
    if random_state is None:
        seed = int(np.random.default_rng().integers(2**62))
    elif isinstance(random_state, numbers.Integral):
        seed = int(random_state)
    elif isinstance(random_state, np.random.RandomState):
        seed = int(random_state.randint(np.iinfo(np.int32).max))
    else:
        raise ValueError(f"random_state must be None, an int or a numpy RandomState, "
                         f"got {random_state!r}.")
    return torch.Generator(device=device).manual_seed(seed)


def per_layer(value, n_layers: int, name: str) -> list:
    """Broadcast a scalar setting to every layer, or check a per-layer sequence."""
    if isinstance(value, (list, tuple)):
        if len(value) != n_layers:
            raise ValueError(f"{name} has {len(value)} entries but hidden_layer_sizes has "
                             f"{n_layers}; give one value, or one per hidden layer.")
        return list(value)
    return [value] * n_layers


def check_per_layer_options(values: list, name: str, options: tuple[str, ...]) -> None:
    """Check each entry of a per-layer string parameter against ``options``."""
    for value in values:
        if value not in options:
            raise ValueError(f"{name} must hold {' or '.join(map(repr, options))} (one per "
                             f"hidden layer), got {value!r} in {values!r}.")


def check_per_layer(values: list, name: str, integer: bool, low: float, *,
                    closed: bool) -> None:
    """Check each entry of a per-layer parameter given as a sequence (the scalar form is
    checked by ``_parameter_constraints``): a number (an integer if ``integer``) that is
    ``>= low`` (``closed``) or ``> low``."""
    kind = numbers.Integral if integer else numbers.Real
    for value in values:
        ok = isinstance(value, kind) and not isinstance(value, bool)
        if not ok or not (value >= low if closed else value > low):
            what = "integers" if integer else "numbers"
            bound = f">= {low}" if closed else f"> {low}"
            raise ValueError(f"{name} must hold {what} {bound} (one per hidden layer), got "
                             f"{value!r} in {values!r}.")


def auto_hidden_units(units: str, layer_type: str, below: str | None = None) -> str:
    """A layer's hidden unit type, 'auto' resolved: rectified linear units (noisy rectified
    units while pretraining, Nair & Hinton 2010) in an RBM layer, the supervised
    estimators' default recipe (BENCHMARKS.md, 'Default recipe search'); Bernoulli units in
    an autoencoder layer (the sigmoid layers of Vincent et al. 2010) and over a replicated
    softmax (``below``), whose hidden units are binary.

    >>> auto_hidden_units("auto", "rbm"), auto_hidden_units("auto", "denoising")
    ('relu', 'bernoulli')
    """
    if units != "auto":
        return units
    if layer_type != "rbm" or below == "replicated_softmax":
        return "bernoulli"
    return "relu"


def pretrain_configs(estimator, hidden_units="bernoulli",
                     visible_units: str = "bernoulli") -> list:
    """One layer spec per entry of ``estimator.hidden_layer_sizes``: an :class:`RBMConfig`,
    or an autoencoder layer's where ``estimator.layer_type`` (when it has one) says
    'autoencoder' or 'denoising' (:func:`~deepbelief.training.autoencoder_spec.with_layer_types`).

    Reads the estimator's shared pretraining parameters (``pretrain_epochs`` and
    ``pretrain_learning_rate``, one value or one per layer, ``'auto'`` resolved per layer by
    :func:`~deepbelief.training.greedy.auto_learning_rate`, ``batch_size``,
    ``pretrain_method``, ``k``, ``pretrain_momentum``, ``pretrain_weight_decay``).
    ``hidden_units`` is one unit type or one per layer; each layer's visible units are the
    hidden units of the layer below.
    """
    sizes = estimator.hidden_layer_sizes
    sizes = [sizes] if isinstance(sizes, numbers.Integral) else list(sizes)
    if not sizes or any(isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1
                        for s in sizes):
        raise ValueError("hidden_layer_sizes must be a positive integer or a non-empty "
                         "sequence of positive integers (units per hidden layer), got "
                         f"{estimator.hidden_layer_sizes!r}.")
    n = len(sizes)
    units = per_layer(hidden_units, n, "hidden_units")
    for u in units:
        if u not in ("auto", "bernoulli", "relu", "gaussian"):
            raise ValueError(f"Unknown hidden unit type {u!r} in hidden_units="
                             f"{hidden_units!r}; use 'auto', 'bernoulli', 'relu' or "
                             "'gaussian'.")
    layer_types = per_layer(getattr(estimator, "layer_type", "rbm"), n, "layer_type")
    check_per_layer_options(layer_types, "layer_type", LAYER_TYPES)
    units = [auto_hidden_units(u, kind, visible_units if i == 0 else None)
             for i, (u, kind) in enumerate(zip(units, layer_types, strict=True))]
    epochs = per_layer(estimator.pretrain_epochs, n, "pretrain_epochs")
    visible = [visible_units, *units[:-1]]
    given = per_layer(estimator.pretrain_learning_rate, n, "pretrain_learning_rate")
    auto = [isinstance(rate, str) and rate == "auto" for rate in given]
    rates = [auto_learning_rate(vis, hid) if is_auto else rate
             for rate, is_auto, vis, hid in zip(given, auto, visible, units, strict=True)]
    check_per_layer(epochs, "pretrain_epochs", True, 0, closed=True)
    check_per_layer(rates, "pretrain_learning_rate", False, 0, closed=False)
    methods = per_layer(estimator.pretrain_method, n, "pretrain_method")
    check_per_layer_options(methods, "pretrain_method", ("cd", "pcd", "pt"))
    ks = per_layer(estimator.k, n, "k")
    check_per_layer(ks, "k", True, 1, closed=True)
    schedules = per_layer(getattr(estimator, "pretrain_learning_rate_schedule", "constant"),
                          n, "pretrain_learning_rate_schedule")
    check_per_layer_options(schedules, "pretrain_learning_rate_schedule",
                            ("constant", "linear"))
    configs = [
        RBMConfig(
            n_hidden=int(size), visible_units=vis, hidden_units=hid, epochs=int(ep),
            learning_rate=float(lr), batch_size=estimator.batch_size, method=method,
            k=int(k), momentum=estimator.pretrain_momentum,
            weight_decay=estimator.pretrain_weight_decay, learning_rate_schedule=schedule,
            init=getattr(estimator, "pretrain_init", "random"),
        )
        for size, vis, hid, ep, lr, method, k, schedule in zip(
            sizes, visible, units, epochs, rates, methods, ks, schedules, strict=True)
    ]
    return with_layer_types(
        configs, layer_types, auto_rate=auto,
        corruption=getattr(estimator, "corruption", "masking"),
        corruption_level=getattr(estimator, "corruption_level", 0.0),
        tied=getattr(estimator, "tied_weights", True))


#: What to use instead where ``visible_units='replicated_softmax'`` (word counts) is not
#: offered, by estimator (the others: :data:`_WORD_COUNTS_ELSEWHERE`).
_WORD_COUNTS_INSTEAD = {
    "GenerativeDBN": "its up-down fine-tuning and its samples need visible units of a fixed "
                     "size, which a document of any length is not. Classify documents with "
                     "DBNClassifier(visible_units='replicated_softmax'), or model them with "
                     "ReplicatedSoftmaxRBM or DBNTransformer(visible_units='replicated_softmax')",
}
_WORD_COUNTS_ELSEWHERE = (
    "word counts need a layer of their own. Use ReplicatedSoftmaxRBM for one layer, or "
    "DBNTransformer, DBNClassifier, DBNRegressor or DBNAutoencoder with "
    "visible_units='replicated_softmax' for a stack")


def _validate_params(estimator) -> None:
    """``estimator._validate_params()``, and ``visible_units='replicated_softmax'`` where the
    estimator does not offer it refused with what to use instead (an
    ``InvalidParameterError``, as for any value out of the parameter's options)."""
    try:
        estimator._validate_params()
    except InvalidParameterError as exc:
        counts = estimator.get_params(deep=False).get("visible_units") == "replicated_softmax"
        if not (counts and "'visible_units' parameter" in str(exc)):
            raise
        name = type(estimator).__name__
        reason = _WORD_COUNTS_INSTEAD.get(name, _WORD_COUNTS_ELSEWHERE)
        raise InvalidParameterError(f"{name} does not take visible_units='replicated_softmax': "
                                    f"{reason}.") from exc


class FitSession:
    """The start of every estimator's ``fit``: parameters checked, device, random stream,
    callbacks (copies), and the checkpoint opened; :meth:`run` then runs the estimator's
    declared phases with a :class:`~deepbelief.training.plan.FitPlan`.

    Parameters
    ----------
    estimator : the estimator being fitted (its ``_validate_params`` is called).
    checkpoint, checkpoint_every, resume :
        ``fit``'s arguments, checked before anything else.
    callbacks : list, optional
        The callbacks to run (``partial_fit`` passes those of the previous call); default:
        copies of ``estimator.callbacks``.
    generator : torch.Generator, optional
        Continue this stream (``partial_fit``); default: a new one from ``random_state``.

    Attributes
    ----------
    device : torch.device
    generator : torch.Generator
    callbacks : list
    checkpoint : TrainingCheckpoint or None
        Set by :meth:`open`.
    """

    def __init__(self, estimator, *, checkpoint=None, checkpoint_every: int = 1,
                 resume: bool = False, callbacks: list | None = None,
                 generator: torch.Generator | None = None) -> None:
        check_checkpoint_args(checkpoint, checkpoint_every, resume)
        if generator is None:
            _validate_params(estimator)
        self.estimator = estimator
        self.device = (resolve_device(estimator.device) if generator is None
                       else generator.device)
        self.generator = (make_generator(estimator.random_state, self.device)
                          if generator is None else generator)
        self.callbacks = copy_callbacks(estimator.callbacks) if callbacks is None else callbacks
        self._args = (checkpoint, checkpoint_every, resume)
        self.checkpoint: TrainingCheckpoint | None = None

    def open(self, X: np.ndarray, y=None) -> TrainingCheckpoint | None:
        """Open the checkpoint for the validated training data (``resume``: read it and
        put the random stream back where it was). Call before any random draw."""
        checkpoint, every, resume = self._args
        self.checkpoint = open_checkpoint(self.estimator, checkpoint, every=every,
                                           resume=resume, generator=self.generator, X=X, y=y)
        return self.checkpoint

    def run(self, phases: list) -> FitPlan:
        """Run ``phases`` (see :mod:`deepbelief.training.plan`); returns the plan."""
        plan = FitPlan(phases, owner=self.estimator, callbacks=self.callbacks,
                       verbose=self.estimator.verbose, generator=self.generator,
                       checkpoint=self.checkpoint)
        plan.run()
        return plan


def fitted_input_state(estimator) -> dict:
    """``n_features_in_`` and ``feature_names_in_`` as JSON data, for saving."""
    names = getattr(estimator, "feature_names_in_", None)
    return {"n_features_in": estimator.n_features_in_,
            "feature_names_in": None if names is None else [str(n) for n in names]}


def set_fitted_input_state(estimator, state: dict) -> None:
    """The inverse of :func:`fitted_input_state`."""
    estimator.n_features_in_ = state["n_features_in"]
    if state.get("feature_names_in") is not None:
        estimator.feature_names_in_ = np.asarray(state["feature_names_in"], dtype=object)


def params_record(estimator) -> dict:
    """``estimator``'s parameters as JSON data (``"params"``) and the names of those that
    were tuples (``"tuple_params"``: JSON has lists only), as model files keep them."""
    raw = estimator.get_params(deep=False)
    return {"params": {k: json_param(k, v) for k, v in raw.items()},
            "tuple_params": sorted(k for k, v in raw.items()
                                   if isinstance(v, tuple) and k != "callbacks")}


def params_from_record(record: dict) -> dict:
    """The inverse of :func:`params_record` (a record without ``"tuple_params"``, from an
    early file, had every list as a tuple)."""
    params = dict(record["params"])
    tuples = record.get("tuple_params")
    for name, value in params.items():
        if isinstance(value, list) and (tuples is None or name in tuples):
            params[name] = tuple(value)
        if isinstance(value, dict) and set(value) == {DICT_ITEMS}:  # e.g. class_weight
            params[name] = {key: item for key, item in value[DICT_ITEMS]}
    return params


class SaveLoadMixin:
    """``save(path)`` to the safetensors + JSON format, and the registry for ``load``."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("_"):
            _MODEL_TYPES[cls.__name__] = cls

    # Subclasses provide these two, symmetrical, methods.
    def _get_state(self) -> tuple[dict, dict[str, torch.Tensor]]:
        raise NotImplementedError

    def _set_state(self, config: dict, tensors: dict[str, torch.Tensor]) -> None:
        raise NotImplementedError

    to_torch = _to_torch  # the hand-off to PyTorch: estimators/_export.py

    def save(self, path: str | Path, *, metadata: dict | None = None) -> Path:
        """Write the fitted model to ``path`` (safetensors + JSON; never pickle).

        The write is atomic: an interrupted save leaves any previous file intact. The file
        holds the parameters and the fitted model, not the training state (optimizer
        moments, persistent chains). A ``numpy.random.RandomState`` given as
        ``random_state`` is saved as None.

        Parameters
        ----------
        path : str or path-like
            The model file to write.
        metadata : dict, optional
            Anything else to keep with the model, as JSON data (str keys; None, bool,
            numbers, str, lists, dicts): for example which data it was trained on, as the
            ``deepbelief`` command records it. It is covered by the file's checksum,
            ignored by :func:`load`, and read back by
            ``deepbelief.io.modelfile.describe(path)["config"]["metadata"]``.

        Returns
        -------
        pathlib.Path
            ``path``.

        Raises
        ------
        TypeError, ValueError
            If ``metadata`` is not a dict or holds something JSON cannot (the message names
            it); nothing is written then.

        Examples
        --------
        >>> import tempfile, pathlib, numpy as np
        >>> from deepbelief import RBM
        >>> from deepbelief.io.modelfile import describe
        >>> model = RBM(2, n_iter=1, random_state=0).fit(np.eye(4))
        >>> folder = tempfile.TemporaryDirectory()
        >>> path = pathlib.Path(folder.name) / "rbm.safetensors"
        >>> describe(model.save(path, metadata={"data": "eye(4)"}))["config"]["metadata"]
        {'data': 'eye(4)'}
        >>> folder.cleanup()
        """
        check_is_fitted(self)
        if metadata is not None and not isinstance(metadata, dict):
            raise TypeError(f"metadata must be a dict of JSON data, got "
                            f"{type(metadata).__name__}.")
        config, tensors = self._get_state()
        document = {**params_record(self), "state": config}
        if metadata is not None:
            document["metadata"] = metadata
        return serialization.save_file(path, model_type=type(self).__name__, config=document,
                                       tensors=tensors)


def load(path: str | Path, device: str | torch.device | None = None):
    """Load a model saved with ``.save(path)``; returns a fitted estimator.

    The file is fully verified (format, version, checksum) before any model is built, and
    nothing in it is ever executed or unpickled. ``device`` overrides the saved device
    parameter (e.g. load a GPU-trained model on a CPU-only machine with ``device='cpu'``).

    Raises
    ------
    FileNotFoundError
        If there is no file at ``path``.
    ModelFileError
        If the file is not a valid deepbelief model file, or its configuration does not fit
        the model type it names (e.g. an edited ``model_type``).
    """
    if device is not None:
        device = str(resolve_device(device) if device != "auto" else device)
    header, tensors = serialization.load_file(path, expected_type=sorted(_MODEL_TYPES))
    model_type = header["model_type"]
    cls = _MODEL_TYPES[model_type]
    config = header["config"]
    try:
        params = params_from_record(config)
        if device is not None:
            params["device"] = device
        elif "cuda" in str(params.get("device")) and not torch.cuda.is_available():
            params["device"] = "cpu"  # a GPU-trained model still loads on a CPU-only machine
        estimator = cls(**params)
        estimator._set_state(config["state"], tensors)
    except (KeyError, IndexError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
        raise ModelFileError(
            f"{path}: the file's configuration does not fit a {model_type} model "
            f"({type(exc).__name__}: {exc}); it was edited, or written by another program."
        ) from exc
    return estimator
