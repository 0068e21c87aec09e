"""DBN estimators: unsupervised features, classification and regression."""

from __future__ import annotations

import time
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import torch
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    ClassNamePrefixFeaturesOutMixin,
    RegressorMixin,
    TransformerMixin,
)
from sklearn.model_selection import train_test_split
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d

from deepbelief.core.network import FeedForwardDBN
from deepbelief.core.rbm import RBMModule
from deepbelief.core.stack import down_pass, up_pass
from deepbelief.estimators._base import (
    SaveLoadMixin,
    as_tensor,
    check_checkpoint_args,
    check_X,
    fitted_input_state,
    make_generator,
    open_checkpoint,
    output_dtype,
    phase_callbacks,
    pretrain_configs,
    resolve_device,
    set_fitted_input_state,
    to_numpy,
)
from deepbelief.learning.supervised import SupervisedObjective
from deepbelief.training.callbacks import Callback, EarlyStopping, copy_callbacks
from deepbelief.training.checkpoint import CheckpointCallback, TrainingCheckpoint, remaining_epochs
from deepbelief.training.greedy import RBMConfig, pretrain_stack
from deepbelief.training.loop import LoopState, fit_epochs, make_optimizer

_UNITS = StrOptions({"bernoulli", "gaussian", "relu"})
_PER_LAYER_INT = [Interval(Integral, 0, None, closed="left"), list, tuple]
_PER_LAYER_REAL = [Interval(Real, 0, None, closed="neither"), list, tuple]
_PREDICT_CHUNK = 8192

_PRETRAIN_DOC = """
    hidden_layer_sizes : tuple of int, default (256, 256)
        Units per hidden layer, bottom first.
    visible_units : {'bernoulli', 'gaussian'}, default 'bernoulli'
        Unit type of the input layer: 'bernoulli' for data in [0, 1], 'gaussian' for
        standardized real-valued data.
    hidden_units : {'bernoulli', 'relu', 'gaussian'} or sequence, default 'bernoulli'
        Hidden unit type, for all layers or one per layer.
    pretrain_epochs : int or sequence of int, default 10
        Epochs of greedy RBM training per layer (0 skips pretraining of that layer).
    pretrain_learning_rate : float or sequence of float, default 0.1
        RBM step size, for all layers or one per layer. Layers with Gaussian visible or
        rectified linear units usually need about 0.01 (Hinton 2010, §13.2).
    pretrain_method : {'cd', 'pcd'}, default 'cd'
    k : int, default 1
        Gibbs steps of CD-k / PCD-k.
    pretrain_momentum : float or 'classic', default 'classic'
        'classic' is 0.5 for five epochs, then 0.9.
    pretrain_weight_decay : float, default 2e-4
        L2 penalty on RBM weights during pretraining.
    batch_size : int, default 32
        Mini-batch size of pretraining and fine-tuning.
    random_state : int, RandomState or None, default None
        Seeds everything (a private ``torch.Generator``; no global RNG is used or changed).
    verbose : int, default 0
        Show progress when positive: a progress bar per phase on a terminal, else one line
        per epoch on stdout (see :class:`deepbelief.training.callbacks.ProgressBar`).
    device : str, default 'auto'
        'cpu', 'cuda', 'cuda:N', or 'auto' (CUDA when available).
    callbacks : list or None, default None
        Functions ``(epoch, record)`` or :class:`deepbelief.training.callbacks.Callback` objects
        called after every epoch of every phase (each pretrained layer, then fine-tuning);
        one returning True stops that phase. They are copied by ``fit`` (see
        ``callbacks_``) and not saved with the model.
"""

_FIT_DOC = """
        Optionally saves checkpoints during training, or resumes from one.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.{y}
        checkpoint : str, path-like or None, default None
            A file to which the whole training state is written, atomically: the trained
            layers and the state of the phase in progress (weights, optimizer, persistent
            chains, random stream, epoch, history, the callbacks' states such as early
            stopping's).{extra}
            It is saved every ``checkpoint_every`` epochs of each phase and at the end of
            each phase; its folder must exist. None: no checkpoints (and no overhead).
        checkpoint_every : int, default 1
            Epochs between two checkpoints, in every phase.
        resume : bool, default False
            Continue from ``checkpoint`` when the file exists, without redoing the layers
            already trained (training starts from the beginning when there is no file, so
            the same call serves the first run and every restart). With the same data,
            parameters and ``random_state``, a run resumed on the CPU ends with exactly
            the weights of an uninterrupted run. A checkpoint of a finished fit just
            rebuilds the model, without training. False: start afresh, overwriting
            ``checkpoint``. See ``docs/checkpoints.md``.

        Returns
        -------
        {name}
            ``self``.

        Raises
        ------
        ModelFileError
            With ``resume``: the file is not a checkpoint of a ``{name}``, or is
            corrupted.
        ValueError
            With ``resume``: the checkpoint was written with other parameters (named in
            the message; ``verbose`` and ``callbacks`` may differ) or on other data.
"""


def _fit_doc(summary: str, name: str, y: str = "", extra: str = "") -> str:
    return f"""{summary}
{_FIT_DOC.format(name=name, y=y, extra=extra)}"""


_Y_IGNORED = """
        y : ignored"""

_FINETUNE_DOC = """
    max_iter : int, default 100
        Epochs of backpropagation fine-tuning (0 keeps the pretrained weights and an
        untrained output layer).
    solver : {'adam', 'sgd'} or callable, default 'adam'
        ``torch.optim`` optimizer; a callable receives ``(param_groups, learning_rate)``.
    learning_rate_init : float, default 1e-3
        Fine-tuning step size.
    momentum : float, default 0.9
        Momentum for ``solver='sgd'``.
    alpha : float, default 1e-4
        L2 penalty (weight decay) on the weights during fine-tuning.
    dropout : float, default 0.0
        Dropout probability on the inputs of every layer above the first.
    early_stopping : bool, default False
        Hold out ``validation_fraction`` of the training data, stop when its score has not
        improved by ``tol`` for ``n_iter_no_change`` epochs, and keep the best weights.
        Without it, training stops when the training loss stalls the same way.
    validation_fraction : float, default 0.1
    n_iter_no_change : int, default 10
    tol : float, default 1e-4
"""


class _BaseDBN(SaveLoadMixin, BaseEstimator):
    _parameter_constraints: ClassVar[dict] = {
        "hidden_layer_sizes": [list, tuple, Interval(Integral, 1, None, closed="left")],
        "visible_units": [StrOptions({"bernoulli", "gaussian"})],
        "hidden_units": [_UNITS, list, tuple],
        "pretrain_epochs": _PER_LAYER_INT,
        "pretrain_learning_rate": _PER_LAYER_REAL,
        "pretrain_method": [StrOptions({"cd", "pcd"})],
        "k": [Interval(Integral, 1, None, closed="left")],
        "pretrain_momentum": [Interval(Real, 0, 1, closed="left"), StrOptions({"classic"})],
        "pretrain_weight_decay": [Interval(Real, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "device": [str, torch.device],
        "callbacks": [list, tuple, None],
    }

    def __init__(
        self,
        hidden_layer_sizes=(256, 256),
        *,
        visible_units: str = "bernoulli",
        hidden_units="bernoulli",
        pretrain_epochs=10,
        pretrain_learning_rate=0.1,
        pretrain_method: str = "cd",
        k: int = 1,
        pretrain_momentum="classic",
        pretrain_weight_decay: float = 2e-4,
        batch_size: int = 32,
        random_state=None,
        verbose: int = 0,
        device: str = "auto",
        callbacks: list | None = None,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.visible_units = visible_units
        self.hidden_units = hidden_units
        self.pretrain_epochs = pretrain_epochs
        self.pretrain_learning_rate = pretrain_learning_rate
        self.pretrain_method = pretrain_method
        self.k = k
        self.pretrain_momentum = pretrain_momentum
        self.pretrain_weight_decay = pretrain_weight_decay
        self.batch_size = batch_size
        self.random_state = random_state
        self.verbose = verbose
        self.device = device
        self.callbacks = callbacks

    # -- pretraining -----------------------------------------------------------------------
    def _rbm_configs(self) -> list[RBMConfig]:
        return pretrain_configs(self, self.hidden_units, self.visible_units)

    def _setup(self):
        """Validate parameters, pick the device and the random stream; copy the callbacks."""
        self._validate_params()
        configs = self._rbm_configs()
        device = resolve_device(self.device)
        callbacks = copy_callbacks(self.callbacks)
        return configs, device, make_generator(self.random_state, device), callbacks

    def _pretrain(self, data: torch.Tensor, configs, generator, callbacks: list,
                  ckpt: TrainingCheckpoint | None = None, *, last_stage: str = "finished"):
        """Greedy layer-wise training; returns the RBMs and their per-layer histories.

        With a checkpoint, every layer's end is saved (``last_stage`` after the top one),
        and a resumed run continues after the layers it had trained.
        """
        trained: list[RBMModule] = []
        histories: list[list[dict]] = []
        saved = None if ckpt is None else ckpt.resumed
        if saved is not None:
            trained = self._saved_rbms(saved["rbms"], configs, data.device)
            histories = [list(h) for h in saved["histories"]]
            if saved["stage"] != "pretrain":
                return trained, histories
        phase = phase_callbacks(self, callbacks, phase="pretrain",
                                label=f"{type(self).__name__} pretraining",
                                n_layers=len(configs), lower_layers=trained)
        if ckpt is None:
            return pretrain_stack(data, configs, generator, callbacks=[phase])

        def layer_end(rbms: list[RBMModule], histories: list[list[dict]]) -> None:
            stage = last_stage if len(rbms) == len(configs) else "pretrain"
            ckpt.position = {"stage": stage, "layer": len(rbms),
                             "rbms": [r.state_dict() for r in rbms], "histories": histories}
            ckpt.save()

        current = None if saved is None else saved["current"]
        ckpt.position = {"stage": "pretrain", "layer": len(trained),
                         "rbms": [r.state_dict() for r in trained], "histories": histories}
        wrapper = CheckpointCallback(ckpt, phase, None if current is None
                                     else current["callbacks"])
        return pretrain_stack(data, configs, generator, callbacks=[wrapper], trained=trained,
                              histories=histories, resume=current, on_layer_end=layer_end)

    @staticmethod
    def _saved_rbms(states: list[dict], configs, device) -> list[RBMModule]:
        """The trained layers of a checkpoint, rebuilt on ``device``."""
        rbms = []
        for state, config in zip(states, configs, strict=False):
            n_visible, n_hidden = state["weight"].shape
            rbm = RBMModule(n_visible, n_hidden, config.visible_units, config.hidden_units,
                            device=device)
            rbm.load_state_dict(state)
            rbms.append(rbm)
        return rbms

    def _input(self, X) -> tuple[torch.Tensor, type]:
        """``X`` checked against the fitted model, as a tensor, and the output dtype."""
        X = check_X(self, X, reset=False, units=self.visible_units)
        return as_tensor(X, self.rbms_[0].weight.device), output_dtype(X)

    # -- saving ----------------------------------------------------------------------------
    def _rbm_state(self) -> tuple[dict, dict]:
        config = {
            "rbm_units": [[r.visible.name, r.hidden.name] for r in self.rbms_],
            **fitted_input_state(self),
            "history": self.history_,
        }
        tensors = {
            f"rbm.{i}.{k}": v for i, r in enumerate(self.rbms_) for k, v in r.state_dict().items()
        }
        return config, tensors

    def _set_rbm_state(self, config: dict, tensors: dict) -> torch.device:
        device = resolve_device(self.device)
        self.rbms_ = []
        for i, (vis, hid) in enumerate(config["rbm_units"]):
            w = tensors[f"rbm.{i}.weight"]
            rbm = RBMModule(w.shape[0], w.shape[1], vis, hid, device=device)
            rbm.load_state_dict({
                k[len(f"rbm.{i}."):]: v for k, v in tensors.items() if k.startswith(f"rbm.{i}.")
            })
            self.rbms_.append(rbm)
        set_fitted_input_state(self, config)
        self.history_ = config["history"]
        return device


class DBNTransformer(ClassNamePrefixFeaturesOutMixin, TransformerMixin, _BaseDBN):
    __doc__ = f"""Deep Belief Network as an unsupervised feature extractor.

    Greedy layer-wise RBM training; ``transform`` is the deterministic bottom-up pass.

    Parameters
    ----------{_PRETRAIN_DOC}
    Attributes
    ----------
    rbms_ : list of RBMModule
        The trained layers, bottom first.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined only when X has feature names that are all strings.
    history_ : dict
        ``{{"pretrain": [per-layer list of per-epoch records]}}``; a record holds
        ``epoch`` (1-based), ``reconstruction_error``, ``time`` (seconds) and what callbacks
        add (e.g. ``free_energy_gap``).
    callbacks_ : list
        The callbacks used by the last fit, with their state (copies of ``callbacks``).
    pretrain_time_ : float
        Seconds spent pretraining.

    Examples
    --------
    >>> from deepbelief import DBNTransformer
    >>> from deepbelief.datasets import load_digits
    >>> X, _ = load_digits()
    >>> dbn = DBNTransformer((32, 8), pretrain_epochs=2, random_state=0, device="cpu")
    >>> dbn.fit_transform(X).shape
    (1797, 8)
    """

    def fit(self, X, y=None, *, checkpoint=None, checkpoint_every: int = 1,
            resume: bool = False) -> DBNTransformer:
        configs, device, generator, callbacks = self._setup()
        check_checkpoint_args(checkpoint, checkpoint_every, resume)
        X = check_X(self, X, reset=True, units=self.visible_units)
        ckpt = open_checkpoint(self, checkpoint, every=checkpoint_every, resume=resume,
                               generator=generator, X=X)
        start = time.perf_counter()
        rbms, histories = self._pretrain(as_tensor(X, device), configs, generator, callbacks,
                                         ckpt, last_stage="finished")
        self.rbms_ = rbms
        self.history_ = {"pretrain": histories}
        self.pretrain_time_ = time.perf_counter() - start
        self.callbacks_ = callbacks
        return self

    fit.__doc__ = _fit_doc("Greedy layer-wise pretraining on ``X``.", "DBNTransformer",
                           _Y_IGNORED)

    @torch.no_grad()
    def transform(self, X) -> np.ndarray:
        """Top-layer hidden means, shape (n_samples, hidden_layer_sizes[-1]).

        The output keeps the input's float dtype (float64 stays float64, else float32).
        """
        check_is_fitted(self, "rbms_")
        x, dtype = self._input(X)
        return to_numpy(up_pass(self.rbms_, x), dtype)

    @torch.no_grad()
    def reconstruct(self, X) -> np.ndarray:
        """Deterministic up-down pass: ``X`` up the stack by hidden means, then back down by
        visible means; shape (n_samples, n_features).

        Examples
        --------
        >>> from deepbelief import DBNTransformer
        >>> from deepbelief.datasets import load_digits
        >>> X, _ = load_digits()
        >>> dbn = DBNTransformer((32, 16), pretrain_epochs=2, random_state=0,
        ...                      device="cpu").fit(X)
        >>> dbn.reconstruct(X[:5]).shape
        (5, 64)
        """
        check_is_fitted(self, "rbms_")
        x, dtype = self._input(X)
        return to_numpy(down_pass(self.rbms_, up_pass(self.rbms_, x)), dtype)

    @torch.no_grad()
    def sample(self, n_samples: int, n_gibbs: int = 1000, random_state=None) -> np.ndarray:
        """Draw ``n_samples`` inputs from the DBN's generative model.

        ``n_gibbs`` steps of block Gibbs sampling in the top RBM (the DBN's undirected top
        level), started from noise, then a deterministic top-down pass: the top RBM's
        visible means, and each lower RBM's visible means in turn (Hinton, Osindero & Teh,
        2006).

        Parameters
        ----------
        n_samples : int
            Independent chains.
        n_gibbs : int, default 1000
            Gibbs steps in the top RBM.
        random_state : int, RandomState or None, default None
            Seeds the chains (no global RNG is used).

        Returns
        -------
        ndarray of shape (n_samples, n_features_in_)
            Visible means (grey levels for Bernoulli input units).

        Examples
        --------
        >>> from deepbelief import DBNTransformer
        >>> from deepbelief.datasets import load_digits
        >>> X, _ = load_digits()
        >>> dbn = DBNTransformer((32, 16), pretrain_epochs=2, random_state=0,
        ...                      device="cpu").fit(X)
        >>> dbn.sample(3, n_gibbs=20, random_state=0).shape
        (3, 64)
        """
        check_is_fitted(self, "rbms_")
        for name, value in (("n_samples", n_samples), ("n_gibbs", n_gibbs)):
            if isinstance(value, bool) or not isinstance(value, Integral) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}.")
        top = self.rbms_[-1]
        device = top.weight.device
        generator = make_generator(random_state, device)
        v = torch.rand((n_samples, top.n_visible), generator=generator, device=device)
        if top.visible.name == "bernoulli":
            v = (v < 0.5).float()
        v = top.gibbs(v, max(n_gibbs - 1, 0), generator)
        _, h = top.sample_hidden(v, generator)
        return to_numpy(down_pass(self.rbms_, h))

    @property
    def _n_features_out(self) -> int:
        return self.rbms_[-1].n_hidden

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    def _get_state(self):
        return self._rbm_state()

    def _set_state(self, config, tensors) -> None:
        self._set_rbm_state(config, tensors)


class _SupervisedDBN(_BaseDBN):
    """Pretraining, then backpropagation through the unrolled stack with a head."""

    _parameter_constraints: ClassVar[dict] = {
        **_BaseDBN._parameter_constraints,
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "solver": [StrOptions({"adam", "sgd"}), callable],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        hidden_layer_sizes=(256, 256),
        *,
        visible_units: str = "bernoulli",
        hidden_units="bernoulli",
        pretrain_epochs=10,
        pretrain_learning_rate=0.1,
        pretrain_method: str = "cd",
        k: int = 1,
        pretrain_momentum="classic",
        pretrain_weight_decay: float = 2e-4,
        batch_size: int = 32,
        max_iter: int = 100,
        solver="adam",
        learning_rate_init: float = 1e-3,
        momentum: float = 0.9,
        alpha: float = 1e-4,
        dropout: float = 0.0,
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
            pretrain_weight_decay=pretrain_weight_decay, batch_size=batch_size,
            random_state=random_state, verbose=verbose, device=device, callbacks=callbacks,
        )
        self.max_iter = max_iter
        self.solver = solver
        self.learning_rate_init = learning_rate_init
        self.momentum = momentum
        self.alpha = alpha
        self.dropout = dropout
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol

    # Subclasses define: _multi_output, _encode_targets(y) -> (tensor targets, n_outputs,
    # fitted target attributes), _loss(), _validation_score(net, x, y) (higher is better),
    # _stratify(y).

    def _fit_supervised(self, X, y, checkpoint=None, checkpoint_every: int = 1,
                        resume: bool = False):
        configs, device, generator, callbacks = self._setup()
        check_checkpoint_args(checkpoint, checkpoint_every, resume)
        X, y = check_X(self, X, reset=True, units=self.visible_units, y=y,
                       multi_output=self._multi_output,  # regression: numeric, 1 or more
                       y_numeric=self._multi_output)
        targets, n_outputs, target_attributes = self._encode_targets(y)
        ckpt = open_checkpoint(self, checkpoint, every=checkpoint_every, resume=resume,
                               generator=generator, X=X, y=y)
        data = as_tensor(X, device)
        targets = targets.to(device)
        start = time.perf_counter()
        rbms, pretrain_history = self._pretrain(data, configs, generator, callbacks, ckpt,
                                                last_stage="finetune")
        pretrain_time = time.perf_counter() - start

        start = time.perf_counter()
        saved = None if ckpt is None else ckpt.resumed
        if saved is not None and saved["stage"] == "finished":  # rebuild, don't train
            net = self._network(rbms, n_outputs, device)
            net.load_state_dict(saved["network"])
            history = saved["finetune"]
        else:
            net, history = self._finetune(data, targets, y, rbms, n_outputs, generator,
                                          callbacks, ckpt, pretrain_history)
        net.eval()

        # Every fitted attribute is set here, once training has succeeded.
        for name, value in target_attributes.items():
            setattr(self, name, value)
        self.rbms_ = rbms
        self.network_ = net
        self.callbacks_ = callbacks
        self.pretrain_time_ = pretrain_time
        self.finetune_time_ = time.perf_counter() - start
        self._set_curves({"pretrain": pretrain_history, "finetune": history})
        return self

    def _network(self, rbms: list[RBMModule], n_outputs: int, device) -> FeedForwardDBN:
        """An untrained (uninitialised) network shaped for ``rbms``, to load weights into."""
        return FeedForwardDBN(
            [rbms[0].n_visible] + [r.n_hidden for r in rbms],
            [r.hidden.activation for r in rbms], n_outputs, self.dropout, device=device,
        )

    def _finetune(self, data, targets, y, rbms, n_outputs, generator, callbacks,
                  ckpt: TrainingCheckpoint | None, pretrain_history):
        """Backpropagation through the unrolled stack; returns the network and history.

        With a checkpoint, saves during training and at its end; a resumed run continues
        the saved network, optimizer, validation split, loop and callbacks.
        """
        device = data.device
        saved = None if ckpt is None else ckpt.resumed
        current = None if saved is None or saved["stage"] != "finetune" else saved["current"]
        split = None
        if current is None:
            net = FeedForwardDBN.from_rbms(rbms, n_outputs, self.dropout, generator)
            if self.early_stopping:
                seed = int(torch.randint(2**31 - 1, (1,), generator=generator, device=device))
                idx_train, idx_valid = train_test_split(
                    np.arange(len(data)), test_size=self.validation_fraction,
                    random_state=seed, stratify=self._stratify(y),
                )
                split = {"train": torch.as_tensor(idx_train),
                         "valid": torch.as_tensor(idx_valid)}
        else:
            net = self._network(rbms, n_outputs, device)
            net.load_state_dict(current["module"])
            split = saved["split"]
        train, valid = (data, targets), None
        if split is not None:
            idx_train, idx_valid = split["train"].to(device), split["valid"].to(device)
            train = (data[idx_train], targets[idx_train])
            valid = (data[idx_valid], targets[idx_valid])
        # sklearn MLP semantics: stop after n_iter_no_change epochs without a tol
        # improvement of the validation score (keeping the best weights) or of the loss.
        internal: list = [EarlyStopping(
            "loss" if valid is None else "validation_score",
            mode="min" if valid is None else "max",
            patience=self.n_iter_no_change, tol=self.tol, restore_best=valid is not None,
        )]
        if valid is not None:
            internal.insert(0, _ValidationScore(self, valid))
        optimizer = make_optimizer(net, self.solver, self.learning_rate_init, self.momentum,
                                   self.alpha)
        phase = phase_callbacks(self, callbacks, phase="finetune", internal=internal,
                                label=f"{type(self).__name__} fine-tuning")
        state, epochs, hooks = LoopState(), self.max_iter, [phase]
        if ckpt is not None:
            if current is not None:
                optimizer.load_state_dict(current["optimizer"])
                state = LoopState(epoch=current["epoch"], history=list(current["history"]))
                epochs = remaining_epochs(current, self.max_iter)
            ckpt.position = {"stage": "finetune", "rbms": [r.state_dict() for r in rbms],
                             "histories": pretrain_history, "split": split}
            hooks = [CheckpointCallback(ckpt, phase, None if current is None
                                        else current["callbacks"])]
        state = fit_epochs(
            SupervisedObjective(net, self._loss()), train, optimizer,
            epochs=epochs, batch_size=self.batch_size, generator=generator,
            callbacks=hooks, state=state, name="the fine-tuned network",
        )
        net.eval()
        if ckpt is not None:
            ckpt.position = {"stage": "finished", "rbms": [r.state_dict() for r in rbms],
                             "histories": pretrain_history, "network": net.state_dict(),
                             "finetune": state.history}
            ckpt.save()
        return net, state.history

    def _set_curves(self, history: dict) -> None:
        """``history_`` and the attributes derived from its fine-tuning records."""
        records = history["finetune"]
        self.history_ = history
        self.n_iter_ = len(records)
        self.loss_curve_ = [r["loss"] for r in records]
        self.best_loss_ = min(self.loss_curve_, default=None)
        if self.early_stopping:
            self.validation_scores_ = [r["validation_score"] for r in records]
            self.best_validation_score_ = max(self.validation_scores_, default=None)
        else:  # no stale scores from an earlier fit with early stopping
            self.__dict__.pop("validation_scores_", None)
            self.__dict__.pop("best_validation_score_", None)

    @torch.no_grad()
    def _forward(self, X) -> torch.Tensor:
        check_is_fitted(self, "network_")
        x, _ = self._input(X)
        self.network_.eval()
        return torch.cat([self.network_(x[i : i + _PREDICT_CHUNK])
                          for i in range(0, max(len(x), 1), _PREDICT_CHUNK)])

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


class _ValidationScore(Callback):
    """Adds ``validation_score`` (the estimator's score on held-out data: accuracy, R²) to
    every fine-tuning record."""

    def __init__(self, estimator: _SupervisedDBN, valid) -> None:
        self.estimator, self.valid = estimator, valid

    @torch.no_grad()
    def on_epoch_end(self, context) -> None:
        context.module.eval()
        context.record["validation_score"] = self.estimator._validation_score(
            context.module, *self.valid)


class DBNClassifier(ClassifierMixin, _SupervisedDBN):
    __doc__ = f"""Deep Belief Network classifier: greedy RBM pretraining, then backpropagation.

    The pretrained stack is unrolled into a feed-forward network (weights copied from the
    RBMs) topped by a softmax layer and fine-tuned with cross-entropy.

    Parameters
    ----------{_PRETRAIN_DOC}{_FINETUNE_DOC}
    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    rbms_ : list of RBMModule
        The pretrained layers (before fine-tuning), bottom first.
    network_ : FeedForwardDBN
        The fine-tuned network.
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

    def fit(self, X, y, *, checkpoint=None, checkpoint_every: int = 1,
            resume: bool = False) -> DBNClassifier:
        return self._fit_supervised(X, y, checkpoint, checkpoint_every, resume)

    fit.__doc__ = _fit_doc(
        "Pretrain on ``X``, then fine-tune to predict ``y``.", "DBNClassifier", """
        y : array-like of shape (n_samples,)
            Class labels.""", """
            With ``early_stopping``, the validation split too.""")

    def _encode_targets(self, y):
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

    def _validation_score(self, net, x, y) -> float:
        return float((net(x).argmax(1) == y).float().mean())

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
    ----------{_PRETRAIN_DOC}{_FINETUNE_DOC}
    Attributes
    ----------
    rbms_ : list of RBMModule
    network_ : FeedForwardDBN
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

    def fit(self, X, y, *, checkpoint=None, checkpoint_every: int = 1,
            resume: bool = False) -> DBNRegressor:
        return self._fit_supervised(X, y, checkpoint, checkpoint_every, resume)

    fit.__doc__ = _fit_doc(
        "Pretrain on ``X``, then fine-tune to predict ``y``.", "DBNRegressor", """
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.""", """
            With ``early_stopping``, the validation split too.""")

    def _encode_targets(self, y):
        y = np.asarray(y, dtype=np.float64)
        y2 = y.reshape(len(y), -1)
        mean, std = y2.mean(0), y2.std(0)
        scale = np.where(std > 0, std, 1.0)
        scaled = ((y2 - mean) / scale).astype(np.float32)
        attributes = {"n_outputs_": y2.shape[1], "y_mean_": mean, "y_scale_": scale,
                      "_y_1d": y.ndim == 1}
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

    def _validation_score(self, net, x, y) -> float:
        residual = ((net(x) - y) ** 2).sum()
        total = ((y - y.mean(0)) ** 2).sum().clamp_min(1e-12)
        return float(1 - residual / total)

    def predict(self, X) -> np.ndarray:
        """Predicted targets, shape (n_samples,) or (n_samples, n_outputs)."""
        out = self._forward(X).double().cpu().numpy() * self.y_scale_ + self.y_mean_
        return out.ravel() if self._y_1d else out

    def _target_state(self) -> dict:
        return {"y_mean": self.y_mean_.tolist(), "y_scale": self.y_scale_.tolist(),
                "y_1d": self._y_1d}

    def _set_target_state(self, config) -> None:
        self.y_mean_ = np.asarray(config["y_mean"])
        self.y_scale_ = np.asarray(config["y_scale"])
        self.n_outputs_ = len(self.y_mean_)
        self._y_1d = config["y_1d"]
