"""DBN estimators: the shared pretraining base and the unsupervised feature extractor."""

from __future__ import annotations

from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from deepbelief.core.layers import layers_state, read_layers
from deepbelief.core.plain import Stage, dense_stages, layer_dense
from deepbelief.core.stack import down_pass, up_pass
from deepbelief.estimators._base import (
    LAYER_TYPES,
    FitSession,
    SaveLoadMixin,
    as_input,
    fitted_input_state,
    make_generator,
    output_dtype,
    pretrain_configs,
    resolve_device,
    set_fitted_input_state,
    to_numpy,
    training_data,
)
from deepbelief.estimators._decoding import decode
from deepbelief.estimators._docs import INPUT_ATTRIBUTES_DOC, PRETRAIN_DOC, Y_IGNORED, fit_doc
from deepbelief.estimators._document_bottom import (  # word counts: visible_units=
    DOCUMENT_UNITS,  # 'replicated_softmax'; its check_input wraps _input_scaling's
    check_input,
    document_configs,
    document_state,
    set_document_state,
    stack_reconstruction,
)
from deepbelief.estimators._generation import check_count
from deepbelief.estimators._input_scaling import InputScaling, resolved_units
from deepbelief.estimators._layer_options import warn_unused_layer_options
from deepbelief.learning.autoencoding import CORRUPTIONS
from deepbelief.training.greedy import LayerTrainer, RBMConfig, with_centering
from deepbelief.training.loop import LoopState
from deepbelief.training.plan import StackPhase

_UNITS = StrOptions({"bernoulli", "gaussian", "relu"})
#: The input units the DBN estimators offer ('auto': see estimators/_input_scaling.py).
VISIBLE_UNITS = {"auto", "bernoulli", "gaussian"}
_PER_LAYER_INT = [Interval(Integral, 0, None, closed="left"), list, tuple]
_PER_LAYER_RATE = [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"}), list,
                   tuple]


class _BaseDBN(SaveLoadMixin, BaseEstimator):
    _parameter_constraints: ClassVar[dict] = {
        "hidden_layer_sizes": [list, tuple, Interval(Integral, 1, None, closed="left")],
        "visible_units": [StrOptions(VISIBLE_UNITS | {DOCUMENT_UNITS})],
        "hidden_units": [_UNITS, list, tuple],
        "pretrain_epochs": _PER_LAYER_INT,
        "pretrain_learning_rate": _PER_LAYER_RATE,
        "pretrain_method": [StrOptions({"cd", "pcd", "pt"})],
        "k": [Interval(Integral, 1, None, closed="left")],
        "pretrain_momentum": [Interval(Real, 0, 1, closed="left"), StrOptions({"classic"})],
        "pretrain_weight_decay": [Interval(Real, 0, None, closed="left")],
        "pretrain_centering": ["boolean", Interval(Real, 0, 1, closed="right")],
        "layer_type": [StrOptions(set(LAYER_TYPES)), list, tuple],
        "corruption": [StrOptions(set(CORRUPTIONS))],
        "corruption_level": [Interval(Real, 0, None, closed="left")],
        "tied_weights": ["boolean"],
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
        visible_units: str = "auto",
        hidden_units="bernoulli",
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
        self.pretrain_centering = pretrain_centering
        self.layer_type = layer_type
        self.corruption = corruption
        self.corruption_level = corruption_level
        self.tied_weights = tied_weights
        self.batch_size = batch_size
        self.random_state = random_state
        self.verbose = verbose
        self.device = device
        self.callbacks = callbacks

    # -- pretraining -----------------------------------------------------------------------
    def _rbm_configs(self, visible_units: str | None = None, X=None) -> list[RBMConfig]:
        """The layer specs over ``visible_units`` (default: the fitted model's input units,
        else the parameter, 'auto' checked as the 'bernoulli' it picks on data in [0, 1]);
        over word counts, a replicated softmax at the bottom, its rate from ``X``."""
        units = visible_units or resolved_units(self)
        return document_configs(self, with_centering(
            pretrain_configs(self, self.hidden_units, units), self.pretrain_centering),
            units, X)

    def _scaling(self) -> InputScaling:
        return InputScaling.of(self)

    def _input(self, X) -> tuple:
        """``X`` checked for a forward pass through the fitted model (values outside the
        visible units' range clipped, with a warning) and standardised as in training
        (``visible_units='auto'`` on real-valued data), as a tensor (a sparse matrix stays
        sparse, for ``up_pass`` and ``map_rows``), and the output dtype."""
        X, scaling = check_input(self, X, first=False, usage="forward", sparse=True)
        return as_input(scaling.apply(X), self.rbms_[0].weight.device), output_dtype(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # read one mini-batch or chunk of rows at a time
        return tags

    # -- saving ----------------------------------------------------------------------------
    def _rbm_state(self) -> tuple[dict, dict]:
        layers, tensors = layers_state(self.rbms_)
        config = {"layers": layers, **fitted_input_state(self), **self._scaling().state(),
                  **document_state(self), "history": self.history_}
        return config, tensors

    def _set_rbm_state(self, config: dict, tensors: dict) -> torch.device:
        device = resolve_device(self.device)
        self._trainers = []
        self.rbms_ = read_layers(config, tensors, device)
        set_fitted_input_state(self, config)
        InputScaling.from_state(config, self.visible_units).set_attributes(self)
        set_document_state(self, config)
        self.history_ = config["history"]
        return device


class DBNTransformer(ClassNamePrefixFeaturesOutMixin, TransformerMixin, _BaseDBN):
    __doc__ = f"""Deep Belief Network as an unsupervised feature extractor.

    Greedy layer-wise training of RBMs (or autoencoder layers, see ``layer_type``);
    ``transform`` is the deterministic bottom-up pass.

    Parameters
    ----------{PRETRAIN_DOC}
    Attributes
    ----------
    rbms_ : list of RBMModule or AutoencoderLayer
        The trained layers, bottom first: RBMs, or autoencoder layers where ``layer_type``
        asks for them (``inverse_transform`` and ``reconstruct`` then decode with their
        decoders; ``sample`` needs an RBM on top).
{INPUT_ATTRIBUTES_DOC}
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
        Seconds spent pretraining in the last call to ``fit`` or ``partial_fit``.

    Notes
    -----
    ``partial_fit(X)`` trains one epoch of every layer on ``X``, bottom-up: each layer on
    the up-pass of ``X`` through the layers below as they are after their own update. It
    keeps the layers' optimizers and persistent chains between calls (and after ``fit``);
    a model loaded from a file continues its weights with fresh ones.

    With ``visible_units='auto'`` (the default), the first call to ``fit`` or
    ``partial_fit`` picks the input units from the data and ``partial_fit`` keeps them and
    the standardisation; ``reconstruct``, ``inverse_transform`` and ``sample`` return
    values in the data's units. With explicit input units, ``fit`` and ``partial_fit``
    refuse values outside their range (float rounding within 1e-4 of it is clipped);
    ``transform`` and ``reconstruct`` clip them, with a
    :class:`~deepbelief.exceptions.DataRangeWarning`. ``X`` may be a SciPy CSR or CSC
    matrix, read one mini-batch or chunk of rows at a time (never densified whole); under
    'auto' it must lie in [0, 1] (standardising it would make it dense).

    Examples
    --------
    >>> from deepbelief import DBNTransformer
    >>> from deepbelief.datasets import load_digits
    >>> X, _ = load_digits()
    >>> dbn = DBNTransformer((32, 8), pretrain_epochs=2, random_state=0, device="cpu")
    >>> dbn.fit_transform(X).shape
    (1797, 8)
    """

    def _fit(self, X, incremental: bool, checkpoint=None, checkpoint_every: int = 1,
             resume: bool = False) -> DBNTransformer:
        """``fit`` and ``partial_fit`` (``incremental``: one epoch per layer, continuing)."""
        first = not (incremental and hasattr(self, "rbms_"))
        trainers = [] if first else self._layer_trainers()
        session = FitSession(
            self, checkpoint=checkpoint, checkpoint_every=checkpoint_every, resume=resume,
            callbacks=None if first else getattr(self, "callbacks_", None),
            generator=trainers[0].generator if trainers else None)
        X, scaling = check_input(self, X, first=first, sparse=True,
                                 stream=True)  # a re-iterable of batches: one pass per epoch
        configs = self._rbm_configs(scaling.visible_units, X)
        if first:
            warn_unused_layer_options(self)
        session.open(X)
        stack = StackPhase("pretrain", f"{type(self).__name__} pretraining", configs,
                           training_data(scaling.apply(X), session.device),
                           incremental=incremental, trainers=trainers)
        session.run([stack])
        scaling.set_attributes(self)
        self.rbms_, self._trainers = stack.rbms, stack.trainers
        self.history_ = {"pretrain": stack.history}
        self.pretrain_time_ = stack.time
        self.callbacks_ = session.callbacks
        return self

    def _layer_trainers(self) -> list[LayerTrainer]:
        """The layers' trainers of the last fit, or new ones for a model loaded from a file
        (fresh optimizers, the epochs counted from its history)."""
        trainers = getattr(self, "_trainers", None)
        if trainers:
            return trainers
        generator = make_generator(self.random_state, self.rbms_[0].weight.device)
        trainers = [LayerTrainer(rbm, config, generator)
                    for rbm, config in zip(self.rbms_, self._rbm_configs(), strict=True)]
        for trainer, history in zip(trainers, self.history_["pretrain"], strict=True):
            trainer.state = LoopState(epoch=len(history), history=list(history))
        return trainers

    def fit(self, X, y=None, *, checkpoint=None, checkpoint_every: int = 1,
            resume: bool = False) -> DBNTransformer:
        return self._fit(X, False, checkpoint, checkpoint_every, resume)

    fit.__doc__ = fit_doc("Greedy layer-wise pretraining on ``X``.", "DBNTransformer",
                          Y_IGNORED)

    def partial_fit(self, X, y=None) -> DBNTransformer:
        """One epoch of every layer on ``X``, bottom-up, continuing the current state.

        Each layer trains on ``X`` passed up through the layers below as they are after
        their own update; the optimizers and persistent chains carry over between calls.
        The first call (on an unfitted model) initialises the layers and, with
        ``visible_units='auto'``, picks the input units and standardisation from its
        batch; later calls keep them and need the same number of features.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            A batch of training data.
        y : ignored

        Returns
        -------
        DBNTransformer
            ``self``.

        Examples
        --------
        >>> from deepbelief import DBNTransformer
        >>> from deepbelief.datasets import load_digits
        >>> X, _ = load_digits()
        >>> dbn = DBNTransformer((16, 8), random_state=0, device="cpu")
        >>> for batch in (X[:900], X[900:]):
        ...     _ = dbn.partial_fit(batch)
        >>> [len(h) for h in dbn.history_["pretrain"]]
        [2, 2]
        """
        return self._fit(X, True)

    @torch.no_grad()
    def transform(self, X) -> np.ndarray:
        """Top-layer hidden means, shape (n_samples, hidden_layer_sizes[-1]).

        The output keeps the input's float dtype (float64 stays float64, else float32).
        """
        check_is_fitted(self, "rbms_")
        x, dtype = self._input(X)
        return to_numpy(up_pass(self.rbms_, x), dtype)

    def _torch_parts(self) -> Stage:
        """``to_torch``: the up pass of :meth:`transform`."""
        return dense_stages(layer_dense(self.rbms_))

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
        return self._scaling().invert(to_numpy(stack_reconstruction(self.rbms_, x),
                                               dtype))

    def inverse_transform(self, X) -> np.ndarray:
        """From top-layer features back to inputs: the deterministic top-down pass of means.

        Each layer's visible means ``E[v | h]``, from the top layer down (the decoder of
        Hinton & Salakhutdinov, 2006), in the data's units, so
        ``inverse_transform(transform(X))`` is :meth:`reconstruct`. The output keeps the
        input's float dtype (float64 stays float64, else float32).

        Parameters
        ----------
        X : array-like of shape (n_samples, hidden_layer_sizes[-1])
            Features, e.g. the output of :meth:`transform`.

        Returns
        -------
        ndarray of shape (n_samples, n_features_in_)

        Raises
        ------
        ValueError
            If ``X`` does not have one column per top-layer hidden unit, or holds NaN or
            infinity.

        Examples
        --------
        >>> from deepbelief import DBNTransformer
        >>> from deepbelief.datasets import load_digits
        >>> X, _ = load_digits()
        >>> dbn = DBNTransformer((32, 8), pretrain_epochs=2, random_state=0,
        ...                      device="cpu").fit(X)
        >>> dbn.inverse_transform(dbn.transform(X[:5])).shape
        (5, 64)
        """
        check_is_fitted(self, "rbms_")
        return self._scaling().invert(decode(self.rbms_, X, type(self).__name__))

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
            Visible means (grey levels for Bernoulli input units), in the data's units.

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
        n_samples, n_gibbs = check_count("n_samples", n_samples), check_count("n_gibbs", n_gibbs)
        top = self.rbms_[-1]
        if top.kind != "rbm":
            raise ValueError(
                f"sample draws from the top RBM's Gibbs chain, but this model's top layer is "
                f"{'an' if top.kind[0] in 'aeiou' else 'a'} {top.kind} layer (layer_type="
                f"{self.layer_type!r}); fit with an RBM on top, e.g. layer_type=('denoising', "
                "'rbm') for two layers, to sample.")
        device = top.weight.device
        generator = make_generator(random_state, device)
        v = top.visible.random_start((n_samples, top.n_visible), generator, device=device)
        v = top.gibbs(v, max(n_gibbs - 1, 0), generator)
        _, h = top.sample_hidden(v, generator)
        return self._scaling().invert(to_numpy(down_pass(self.rbms_, h)))

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
