"""``SemanticHashing``: binary codes of documents for fast retrieval (Salakhutdinov &
Hinton, 2009).

A stack is pretrained on word counts (a replicated softmax, then binary RBMs), unrolled
into a document autoencoder whose code layer is pushed to binary values by noise
(:mod:`deepbelief.core.semantic_hashing`), and fine-tuned on the words' cross-entropy
(:mod:`deepbelief.learning.document_reconstruction`); ``transform`` gives the codes packed
8 bits per byte, which :class:`~deepbelief.evaluation.retrieval.HammingIndex` searches.
"""

from __future__ import annotations

from functools import partial
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from deepbelief.core.layers import layers_state, read_layers
from deepbelief.core.semantic_hashing import DocumentAutoencoder
from deepbelief.core.stack import map_rows
from deepbelief.estimators._autoencoder_input import rows
from deepbelief.estimators._base import (
    FitSession,
    SaveLoadMixin,
    as_input,
    fitted_input_state,
    per_layer,
    resolve_device,
    set_fitted_input_state,
    to_numpy,
    training_data,
)
from deepbelief.estimators._documents import auto_document_rate, validated_counts
from deepbelief.estimators._early_stopping import (
    check_validation_size,
    draw_split,
    set_finetune_curves,
    stopping_callbacks,
)
from deepbelief.estimators._input import n_rows
from deepbelief.evaluation.retrieval import HammingIndex
from deepbelief.learning.document_reconstruction import (
    DocumentReconstructionObjective,
    word_cross_entropy,
)
from deepbelief.training.greedy import RBMConfig
from deepbelief.training.loop import make_optimizer
from deepbelief.training.plan import LoopPhase, LoopSetup, StackPhase
from deepbelief.training.replicated_softmax_spec import ReplicatedSoftmaxConfig

__all__ = ["SemanticHashing"]

_CHUNK = 8192


class SemanticHashing(ClassNamePrefixFeaturesOutMixin, TransformerMixin, SaveLoadMixin,
                      BaseEstimator):
    """Semantic hashing: a deep autoencoder of word counts with a binary code layer.

    Pretraining (greedy): a replicated softmax on the counts
    (:class:`~deepbelief.ReplicatedSoftmaxRBM`'s layer), then binary RBMs, the last of
    which is the code layer. Fine-tuning: the stack unrolled into an encoder and a
    decoder whose output is a softmax over the words, trained by backpropagating the
    cross-entropy of each document's word distribution, with Gaussian noise of standard
    deviation ``code_noise`` added to the code layer's input so that the codes become
    binary (Salakhutdinov & Hinton, 2009). ``transform`` thresholds the codes at 0.5 and
    packs them (``numpy.packbits``): similar documents lie few bits apart.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default (500, 500, 32)
        Units per layer, bottom first; the last is the number of bits of the codes.
    pretrain_epochs : int or sequence of int, default 50
        Epochs of each layer's pretraining.
    rsm_learning_rate : float or 'auto', default 'auto'
        The replicated softmax's step size (see :class:`~deepbelief.ReplicatedSoftmaxRBM`).
    pretrain_learning_rate : float, default 0.1
        The step size of the binary RBMs above it.
    pretrain_momentum : float or 'classic', default 'classic'
        Of the binary RBMs (the replicated softmax takes 0.9).
    pretrain_weight_decay : float, default 2e-4
        Of the binary RBMs.
    batch_size : int, default 100
        Documents per mini-batch, pretraining and fine-tuning.
    code_noise : float, default 4.0
        Standard deviation of the noise added to the code layer's input while
        fine-tuning (the paper's variance 16); 0 fine-tunes without noise.
    max_iter : int, default 50
        Fine-tuning epochs (0: codes from pretraining alone).
    solver : {'adam', 'sgd'} or callable, default 'adam'
    learning_rate_init : float, default 0.001
    alpha : float, default 1e-5
        L2 penalty of fine-tuning on the weights.
    early_stopping, validation_fraction, n_iter_no_change, tol :
        As for :class:`~deepbelief.DBNAutoencoder`; the validation score is minus the
        words' cross-entropy.
    random_state, verbose, device, callbacks :
        As for the other estimators.

    Attributes
    ----------
    rbms_ : list of layers
        The pretrained layers: a ReplicatedSoftmaxModule, then RBMModules.
    network_ : DocumentAutoencoder
        The fine-tuned encoder and decoder.
    n_bits_ : int
    n_features_in_ : int
    history_ : dict
        ``{"pretrain": [...per layer...], "finetune": [...per epoch...]}``; a fine-tuning
        record holds ``loss``, ``word_cross_entropy`` and ``binary_codes`` (the fraction of
        code values within 0.1 of 0 or 1, on up to 2048 training documents).
    n_iter_, loss_curve_, best_loss_ :
        As for :class:`~deepbelief.DBNAutoencoder`.

    References
    ----------
    R. Salakhutdinov and G. E. Hinton, "Semantic hashing", International Journal of
    Approximate Reasoning 50(7), 969-978, 2009.

    Examples
    --------
    >>> from deepbelief import SemanticHashing
    >>> from deepbelief.datasets.documents import synthetic_corpus
    >>> corpus = synthetic_corpus(300, 60, 4, mean_length=40, random_state=0)
    >>> hashing = SemanticHashing((32, 8), pretrain_epochs=5, max_iter=5, random_state=0,
    ...                           device="cpu").fit(corpus.counts)
    >>> codes = hashing.transform(corpus.counts)
    >>> codes.shape, codes.dtype
    ((300, 1), dtype('uint8'))
    >>> neighbours = hashing.index(corpus.counts).search(codes[0], radius=1)
    """

    _parameter_constraints: ClassVar[dict] = {
        "hidden_layer_sizes": [list, tuple],
        "pretrain_epochs": [Interval(Integral, 0, None, closed="left"), list, tuple],
        "rsm_learning_rate": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "pretrain_learning_rate": [Interval(Real, 0, None, closed="neither")],
        "pretrain_momentum": [Interval(Real, 0, 1, closed="left"), StrOptions({"classic"})],
        "pretrain_weight_decay": [Interval(Real, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "code_noise": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "solver": [StrOptions({"adam", "sgd"}), callable],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "device": [str, torch.device],
        "callbacks": [list, tuple, None],
    }

    #: The input's unit type (not a parameter): what ``to_torch`` clips the input to.
    visible_units = "replicated_softmax"

    def __init__(self, hidden_layer_sizes=(500, 500, 32), *, pretrain_epochs=50,
                 rsm_learning_rate="auto", pretrain_learning_rate: float = 0.1,
                 pretrain_momentum="classic", pretrain_weight_decay: float = 2e-4,
                 batch_size: int = 100, code_noise: float = 4.0, max_iter: int = 50,
                 solver="adam", learning_rate_init: float = 0.001, alpha: float = 1e-5,
                 early_stopping: bool = False, validation_fraction: float = 0.1,
                 n_iter_no_change: int = 10, tol: float = 1e-4, random_state=None,
                 verbose: int = 0, device: str = "auto", callbacks: list | None = None) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.pretrain_epochs = pretrain_epochs
        self.rsm_learning_rate = rsm_learning_rate
        self.pretrain_learning_rate = pretrain_learning_rate
        self.pretrain_momentum = pretrain_momentum
        self.pretrain_weight_decay = pretrain_weight_decay
        self.batch_size = batch_size
        self.code_noise = code_noise
        self.max_iter = max_iter
        self.solver = solver
        self.learning_rate_init = learning_rate_init
        self.alpha = alpha
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.random_state = random_state
        self.verbose = verbose
        self.device = device
        self.callbacks = callbacks

    # -- fitting ---------------------------------------------------------------------------
    def _configs(self, X) -> list:
        """The layer specs: a replicated softmax, then binary RBMs."""
        sizes = [int(s) for s in self.hidden_layer_sizes]
        if not sizes or min(sizes) < 1:
            raise ValueError("hidden_layer_sizes must be a non-empty sequence of positive "
                             f"integers, got {self.hidden_layer_sizes!r}.")
        epochs = per_layer(self.pretrain_epochs, len(sizes), "pretrain_epochs")
        rate = (auto_document_rate(X) if self.rsm_learning_rate == "auto"
                else self.rsm_learning_rate)
        bottom = ReplicatedSoftmaxConfig(sizes[0], epochs=int(epochs[0]), learning_rate=rate,
                                         batch_size=self.batch_size)
        return [bottom] + [
            RBMConfig(size, epochs=int(ep), learning_rate=self.pretrain_learning_rate,
                      batch_size=self.batch_size, momentum=self.pretrain_momentum,
                      weight_decay=self.pretrain_weight_decay)
            for size, ep in zip(sizes[1:], epochs[1:], strict=True)]

    def fit(self, X, y=None) -> SemanticHashing:
        """Pretrain the stack on the count matrix ``X``, unroll it, and fine-tune it.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_documents, n_words)
            Word counts (read one mini-batch at a time when sparse).
        y : ignored

        Returns
        -------
        SemanticHashing
            ``self``.

        Raises
        ------
        ValueError
            If ``X`` holds negative or non-finite values, or with ``early_stopping`` when
            the validation split would be empty.
        """
        session = FitSession(self)
        X = validated_counts(self, X, reset=True)
        configs = self._configs(X)
        if self.early_stopping:
            check_validation_size(X.shape[0], self.validation_fraction)
        session.open(X)
        data = training_data(X, session.device)
        name = type(self).__name__
        stack = StackPhase("pretrain", f"{name} pretraining", configs, data)
        finetune = LoopPhase("finetune", f"{name} fine-tuning",
                             partial(self._finetune_setup, stack, data, session.generator),
                             epochs=self.max_iter, batch_size=self.batch_size,
                             loop_name="the document autoencoder")
        session.run([stack, finetune])
        self.rbms_ = stack.rbms
        self.network_ = finetune.module.eval()
        self.n_bits_ = self.network_.n_code
        self.callbacks_ = session.callbacks
        self.pretrain_time_, self.finetune_time_ = stack.time, finetune.time
        set_finetune_curves(self, {"pretrain": stack.history, "finetune": finetune.history})
        return self

    def _finetune_setup(self, stack: StackPhase, data, generator,
                        position: dict | None) -> LoopSetup:
        net = DocumentAutoencoder.from_layers(stack.rbms, self.code_noise)
        split = (draw_split(self, n_rows(data), None, generator, data.device)
                 if position is None else position["split"])
        train, valid = rows(data), None
        if split is not None:
            train = rows(data, split["train"].to(data.device))
            valid = rows(data, split["valid"].to(data.device), dense=True)
        objective = DocumentReconstructionObjective(
            net, weight_decay=self.alpha,
            advice=f"Try a smaller learning_rate_init (it is {self.learning_rate_init:g}).")
        optimizer = make_optimizer(net, self.solver, self.learning_rate_init, 0.9)
        return LoopSetup(objective, optimizer, train, stopping_callbacks(self, valid),
                         {"split": split})

    @torch.no_grad()
    def _validation_score(self, net, x) -> float:
        return -float(word_cross_entropy(net.decode_field(net.encode(x)), x).mean())

    # -- the fitted model --------------------------------------------------------------------
    @torch.no_grad()
    def _map(self, fn, X) -> torch.Tensor:
        check_is_fitted(self, "network_")
        X = validated_counts(self, X, reset=False)
        device = self.network_.decoder[0].weight.device
        return map_rows(fn, as_input(X, device), _CHUNK, device=device)

    def encode(self, X) -> np.ndarray:
        """The real-valued codes in (0, 1), shape (n_documents, n_bits_) (float32)."""
        return to_numpy(self._map(self.network_.encode, X))

    def transform(self, X) -> np.ndarray:
        """The binary codes, packed 8 bits per byte: ``numpy.packbits(encode(X) > 0.5,
        axis=1)``, shape (n_documents, ⌈n_bits_ / 8⌉), ``uint8``.

        ``numpy.unpackbits(codes, axis=1, count=n_bits_)`` gives the bits back.
        """
        return np.packbits(self.encode(X) > 0.5, axis=1)

    def index(self, X) -> HammingIndex:
        """A :class:`~deepbelief.evaluation.retrieval.HammingIndex` of the documents
        ``X``: ``index(X).search(transform(query)[0], radius)`` lists the documents within
        ``radius`` bits of a query, whatever their number."""
        return HammingIndex(self.transform(X), n_bits=self.n_bits_)

    def score(self, X, y=None) -> float:
        """Minus the words' cross-entropy of the reconstructions, averaged over the
        documents (higher is better)."""
        net = self.network_

        def loss(x: torch.Tensor) -> torch.Tensor:
            return word_cross_entropy(net.decode_field(net.encode(x)), x)

        return -float(self._map(loss, X).double().mean())

    @property
    def _n_features_out(self) -> int:
        return (self.n_bits_ + 7) // 8

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = []  # codes are uint8
        tags.input_tags.sparse = True
        tags.input_tags.positive_only = True
        return tags

    # -- saving ------------------------------------------------------------------------------
    def _get_state(self):
        layers, tensors = layers_state(self.rbms_)
        config = {"layers": layers, **fitted_input_state(self), "history": self.history_}
        tensors.update({f"network.{k}": v for k, v in self.network_.state_dict().items()})
        return config, tensors

    def _set_state(self, config, tensors) -> None:
        self.rbms_ = read_layers(config, tensors, resolve_device(self.device))
        net = DocumentAutoencoder.from_layers(self.rbms_, self.code_noise)
        net.load_state_dict({k[len("network."):]: v for k, v in tensors.items()
                             if k.startswith("network.")})
        self.network_ = net.eval()
        self.n_bits_ = net.n_code
        set_fitted_input_state(self, config)
        set_finetune_curves(self, config["history"])
