"""``DBNAutoencoder``: the deep autoencoder of Hinton & Salakhutdinov (2006).

A stack of layers is pretrained greedily (RBMs by default, with linear code units), unrolled
into an encoder and a mirrored decoder (:mod:`deepbelief.core.deep_autoencoder`) and
fine-tuned by backpropagating the reconstruction loss
(:mod:`deepbelief.learning.reconstruction`). The input side (which units, and the
standardisation of real-valued data) is every estimator's
(:mod:`deepbelief.estimators._input_scaling`).
"""

from __future__ import annotations

from functools import partial
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import torch
from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from deepbelief.core.plain import Stage, dense_stages, network_dense
from deepbelief.core.stack import map_rows
from deepbelief.estimators._autoencoder_checks import (
    divergence_advice,
    loss_error,
    warn_no_compression,
)
from deepbelief.estimators._autoencoder_docs import FINETUNE_DOC, PARAMS_DOC
from deepbelief.estimators._autoencoder_input import rows
from deepbelief.estimators._base import (
    FitSession,
    as_tensor,
    output_dtype,
    per_layer,
    pretrain_configs,
    to_numpy,
    training_data,
)
from deepbelief.estimators._dbn import _BaseDBN
from deepbelief.estimators._decoding import check_columns
from deepbelief.estimators._docs import Y_IGNORED, fit_doc
from deepbelief.estimators._document_bottom import (  # word counts, visible_units=
    DOCUMENT_UNITS,  # 'replicated_softmax'; its check_input wraps _input_scaling's
    check_input,
    document_configs,
    document_loss,
    reconstruction,
    reconstruction_objective,
    unrolled_autoencoder,
    validation_score,
)
from deepbelief.estimators._early_stopping import (
    check_validation_size,
    draw_split,
    set_finetune_curves,
    stopping_callbacks,
)
from deepbelief.estimators._input import n_rows
from deepbelief.estimators._layer_options import warn_unused_layer_options
from deepbelief.training.greedy import monitor_rows, with_centering
from deepbelief.training.loop import make_optimizer
from deepbelief.training.plan import LoopPhase, LoopSetup, StackPhase
from deepbelief.training.sources import as_source

__all__ = ["DBNAutoencoder"]

_CHUNK = 8192

#: ``learning_rate_init='auto'`` per solver, measured on the digits and 10,000 MNIST images
#: (2-D codes, and the paper's 784-1000-500-250-30): Adam at 0.003 or 0.01 helps small
#: networks but harms the large one; SGD (momentum 0.9) at 0.1 fails on MNIST, whose summed
#: loss has larger gradients than the digits'; L-BFGS's line search scales its step.
AUTO_RATES = {"adam": 1e-3, "sgd": 1e-2, "lbfgs": 1.0}

#: ``finetune_batch_size='auto'`` for L-BFGS (Hinton & Salakhutdinov's conjugate gradients
#: took mini-batches of 1000); the other solvers take ``batch_size``.
LBFGS_BATCH = 1000


class DBNAutoencoder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, _BaseDBN):
    __doc__ = f"""Deep autoencoder: greedy pretraining, unrolling, then backpropagation.

    Hinton & Salakhutdinov (2006): a stack of RBMs (the code layer with linear units) is
    pretrained layer by layer, then unrolled into an encoder (the stack's bottom-up pass)
    and a decoder that mirrors it (the transposed weights and the visible biases), whose
    weights are then untied and fine-tuned together by backpropagating the
    reconstruction loss. ``transform`` gives the codes, ``inverse_transform`` the
    reconstructions from codes, ``score`` the negative squared reconstruction error.

    Parameters
    ----------{PARAMS_DOC}{FINETUNE_DOC}
    Attributes
    ----------
    rbms_ : list of layers
        The pretrained layers (before fine-tuning), bottom first.
    network_ : DeepAutoencoder
        The fine-tuned encoder and decoder
        (:class:`~deepbelief.core.deep_autoencoder.DeepAutoencoder`; a
        :class:`~deepbelief.core.semantic_hashing.DocumentAutoencoder` without code noise
        over word counts).
    visible_units_ : str
        The input units used: 'bernoulli', 'gaussian' or 'replicated_softmax'.
    loss_ : str
        The fine-tuning loss used: 'cross_entropy', 'squared_error' or
        'word_cross_entropy' (word counts).
    input_mean_, input_scale_ : ndarray of shape (n_features_in_,) or None
        The standardisation of the input (``visible_units='auto'`` on data outside
        [0, 1]), else None.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined only when X has feature names that are all strings.
    n_iter_ : int
        Fine-tuning epochs run.
    loss_curve_ : list of float
        Training loss per fine-tuning epoch (the L2 penalty included).
    best_loss_ : float or None
    validation_scores_ : list of float
        Negative squared reconstruction error of the validation rows per epoch (only with
        ``early_stopping=True``), in the units the network is trained in.
    best_validation_score_ : float
        Only with ``early_stopping=True``.
    history_ : dict
        ``{{"pretrain": [...per layer...], "finetune": [...per epoch...]}}``; a fine-tuning
        record holds ``epoch``, ``loss``, ``reconstruction_error`` (squared, summed over
        the features, on up to 2048 training rows; like ``loss``, in the units the network
        trains in: standardised when ``input_mean_`` is set, whereas :meth:`score` is in
        the data's units), ``time`` and, with early stopping,
        ``validation_score``.
    callbacks_ : list
        The callbacks used by the last fit, with their state.
    pretrain_time_, finetune_time_ : float
        Seconds spent in each phase of the last fit.

    Notes
    -----
    On the 784-1000-500-250-30 network and the MNIST test set, Hinton & Salakhutdinov
    report an average squared reconstruction error of 3.00 per image, against 13.87 for
    PCA with 30 components (``benchmarks/mnist_autoencoder.py`` measures ours).

    References
    ----------
    G. E. Hinton and R. R. Salakhutdinov, "Reducing the dimensionality of data with neural
    networks", Science 313 (5786), 504-507, 2006.

    Examples
    --------
    >>> from deepbelief import DBNAutoencoder
    >>> from deepbelief.datasets import load_digits
    >>> X, _ = load_digits()
    >>> ae = DBNAutoencoder((32, 2), pretrain_epochs=2, max_iter=5, random_state=0,
    ...                     device="cpu").fit(X[:500])
    >>> ae.transform(X[:3]).shape, ae.inverse_transform(ae.transform(X[:3])).shape
    ((3, 2), (3, 64))
    >>> ae.loss_, round(-ae.score(X[:500]) / 64, 1) < 1
    ('cross_entropy', True)
    """

    _parameter_constraints: ClassVar[dict] = {
        **_BaseDBN._parameter_constraints,
        "visible_units": [StrOptions({"auto", "bernoulli", "gaussian", DOCUMENT_UNITS})],
        "code_units": [StrOptions({"gaussian", "bernoulli", "relu"}), None],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "solver": [StrOptions(set(AUTO_RATES)), callable],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither"),
                               StrOptions({"auto"})],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "loss": [StrOptions({"auto", "cross_entropy", "squared_error"})],
        "finetune_batch_size": [Interval(Integral, 1, None, closed="left"),
                                StrOptions({"auto"})],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        hidden_layer_sizes=(256, 64, 2),
        *,
        visible_units: str = "auto",
        hidden_units="bernoulli",
        code_units: str | None = "gaussian",
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
        learning_rate_init="auto",
        momentum: float = 0.9,
        alpha: float = 1e-4,
        loss: str = "auto",
        finetune_batch_size="auto",
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
        self.code_units = code_units
        self.max_iter = max_iter
        self.solver = solver
        self.learning_rate_init = learning_rate_init
        self.momentum = momentum
        self.alpha = alpha
        self.loss = loss
        self.finetune_batch_size = finetune_batch_size
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol

    # -- fitting ---------------------------------------------------------------------------
    def _layer_configs(self, visible_units: str, X=None) -> list:
        """The layer specs: ``hidden_units`` with the code layer's replaced by
        ``code_units``, over ``visible_units`` (word counts: a replicated softmax at the
        bottom, its rate from ``X``)."""
        sizes = self.hidden_layer_sizes
        n = 1 if isinstance(sizes, Integral) else max(len(sizes), 1)
        units = per_layer(self.hidden_units, n, "hidden_units")
        if self.code_units is not None:
            units[-1] = self.code_units
        return document_configs(self, with_centering(
            pretrain_configs(self, units, visible_units), self.pretrain_centering),
            visible_units, X)

    def _resolve_loss(self, visible_units: str) -> str:
        if visible_units == DOCUMENT_UNITS:
            return document_loss(self.loss)
        if self.loss == "auto":
            return "cross_entropy" if visible_units == "bernoulli" else "squared_error"
        if self.loss == "cross_entropy" and visible_units != "bernoulli":
            raise loss_error(self.visible_units, visible_units)
        return self.loss

    def _learning_rate(self) -> float:
        if self.learning_rate_init != "auto":
            return float(self.learning_rate_init)
        return AUTO_RATES.get(self.solver, AUTO_RATES["adam"])  # a callable: Adam's

    def _batch_size(self) -> int:
        if self.finetune_batch_size != "auto":
            return int(self.finetune_batch_size)
        return LBFGS_BATCH if self.solver == "lbfgs" else self.batch_size

    def fit(self, X, y=None, *, checkpoint=None, checkpoint_every: int = 1,
            resume: bool = False) -> DBNAutoencoder:
        session = FitSession(self, checkpoint=checkpoint, checkpoint_every=checkpoint_every,
                             resume=resume)
        X, scaling = check_input(self, X, first=True, sparse=True)
        loss = self._resolve_loss(scaling.visible_units)
        configs = self._layer_configs(scaling.visible_units, X)
        warn_unused_layer_options(self)
        warn_no_compression(configs[-1].n_hidden, self.n_features_in_)
        if self.early_stopping:  # before pretraining, not after it
            check_validation_size(X.shape[0], self.validation_fraction)
        session.open(X)
        data = training_data(scaling.apply(X), session.device)
        name = type(self).__name__
        stack = StackPhase("pretrain", f"{name} pretraining", configs, data)
        finetune = LoopPhase(
            "finetune", f"{name} fine-tuning",
            partial(self._finetune_setup, stack, data, loss, session.generator),
            epochs=self.max_iter, batch_size=self._batch_size(),
            loop_name="the deep autoencoder")
        session.run([stack, finetune])
        net = finetune.module
        net.eval()

        # Every fitted attribute is set here, once training has succeeded.
        scaling.set_attributes(self)
        self.loss_ = loss
        self.rbms_ = stack.rbms
        self.network_ = net
        self.callbacks_ = session.callbacks
        self.pretrain_time_ = stack.time
        self.finetune_time_ = finetune.time
        set_finetune_curves(self, {"pretrain": stack.history, "finetune": finetune.history})
        return self

    fit.__doc__ = fit_doc("Pretrain the stack on ``X``, unroll it, then fine-tune it to "
                          "reconstruct ``X``.", "DBNAutoencoder", Y_IGNORED, """
            With ``early_stopping``, the validation split too.""")

    def _finetune_setup(self, stack: StackPhase, data, loss: str, generator,
                        position: dict | None) -> LoopSetup:
        """The unrolled stack (copies of the layers; nothing drawn) and, with
        ``early_stopping``, the validation split, drawn only when ``position`` is None
        (else the checkpoint's)."""
        net = unrolled_autoencoder(stack.rbms)
        if position is None:
            split = draw_split(self, n_rows(data), None, generator, data.device)
        else:
            split = position["split"]
        train, valid = rows(data), None
        if split is not None:
            train = rows(data, split["train"].to(data.device))
            valid = rows(data, split["valid"].to(data.device), dense=True)
        objective = reconstruction_objective(
            net, loss, as_source(train).head(monitor_rows(train))[0], weight_decay=self.alpha,
            advice=self._divergence_advice())
        optimizer = make_optimizer(net, self.solver, self._learning_rate(), self.momentum)
        return LoopSetup(objective, optimizer, train, stopping_callbacks(self, valid),
                         {"split": split})

    def _divergence_advice(self) -> str:
        """What to change when fine-tuning diverges, naming the solver and its rate."""
        return divergence_advice(self.solver, self._learning_rate(), AUTO_RATES["adam"])

    @torch.no_grad()
    def _validation_score(self, net, x) -> float:
        return validation_score(net, x)

    # -- the fitted model ------------------------------------------------------------------
    def _input(self, X) -> tuple:
        """``X`` checked for a forward pass and standardised as in training (the DBNs'
        ``_input``), once the network is fitted."""
        check_is_fitted(self, "network_")
        return super()._input(X)

    def _device(self) -> torch.device:
        return self.network_.decoder[0].weight.device

    @torch.no_grad()
    def _map(self, fn, X) -> tuple[torch.Tensor, type]:
        x, dtype = self._input(X)
        return map_rows(fn, x, _CHUNK, device=self._device()), dtype

    def transform(self, X) -> np.ndarray:
        """The codes, shape (n_samples, hidden_layer_sizes[-1]): the fine-tuned encoder.

        The output keeps the input's float dtype (float64 stays float64, else float32).
        """
        check_is_fitted(self, "network_")
        codes, dtype = self._map(self.network_.encode, X)
        return to_numpy(codes, dtype)

    def _torch_parts(self) -> Stage:
        """``to_torch``: the fine-tuned encoder of :meth:`transform`."""
        return dense_stages(network_dense(self.network_.encoder))

    def reconstruct(self, X) -> np.ndarray:
        """The reconstructions of ``X`` (encoder, then decoder), in the data's units:
        shape (n_samples, n_features).

        Examples
        --------
        >>> from deepbelief import DBNAutoencoder
        >>> from deepbelief.datasets import load_digits
        >>> X, _ = load_digits()
        >>> ae = DBNAutoencoder((16, 2), pretrain_epochs=1, max_iter=2, random_state=0,
        ...                     device="cpu").fit(X)
        >>> ae.reconstruct(X[:4]).shape
        (4, 64)
        """
        check_is_fitted(self, "network_")
        out, dtype = self._map(partial(reconstruction, self.network_), X)
        return self._scaling().invert(to_numpy(out, dtype))

    @torch.no_grad()
    def inverse_transform(self, X) -> np.ndarray:
        """The reconstructions from codes (the fine-tuned decoder), in the data's units.

        ``inverse_transform(transform(X))`` is :meth:`reconstruct`. The output keeps the
        input's float dtype (float64 stays float64, else float32).

        Parameters
        ----------
        X : array-like of shape (n_samples, hidden_layer_sizes[-1])
            Codes, e.g. the output of :meth:`transform`.

        Returns
        -------
        ndarray of shape (n_samples, n_features_in_)

        Raises
        ------
        ValueError
            If ``X`` does not have one column per code unit, or holds NaN or infinity.
        """
        check_is_fitted(self, "network_")
        codes = check_columns(X, self.network_.n_code, type(self).__name__,
                              meaning="one per code unit: pass what its transform returns")
        out = map_rows(self.network_.decode, as_tensor(codes, self._device()), _CHUNK)
        return self._scaling().invert(to_numpy(out, output_dtype(codes)))

    def score(self, X, y=None) -> float:
        """The negative squared reconstruction error per row, summed over the features and
        averaged over the rows, in the data's units (higher is better).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        float
        """
        check_is_fitted(self, "network_")
        scale = self._scaling().scale_tensor(self._device())

        def errors(x: torch.Tensor) -> torch.Tensor:
            diff = reconstruction(self.network_, x) - x
            return ((diff if scale is None else diff * scale) ** 2).sum(-1)

        per_row, _ = self._map(errors, X)
        return -float(per_row.double().mean())

    @property
    def _n_features_out(self) -> int:
        return self.network_.n_code

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    # -- saving ----------------------------------------------------------------------------
    def _get_state(self):
        config, tensors = self._rbm_state()
        config["loss"] = self.loss_
        tensors.update({f"network.{k}": v for k, v in self.network_.state_dict().items()})
        return config, tensors

    def _set_state(self, config, tensors) -> None:
        self._set_rbm_state(config, tensors)
        net = unrolled_autoencoder(self.rbms_)
        net.load_state_dict({k[len("network."):]: v for k, v in tensors.items()
                             if k.startswith("network.")})
        net.eval()
        self.network_ = net
        self.loss_ = config["loss"]
        set_finetune_curves(self, self.history_)
