"""``ReplicatedSoftmaxRBM``: the Replicated Softmax topic model on word counts.

The layer and its mathematics are :mod:`deepbelief.core.replicated_softmax`, its learning
rule :mod:`deepbelief.learning.replicated_softmax`, its partition functions and perplexity
:mod:`deepbelief.evaluation.documents`; this module is the scikit-learn face: input
checks, ``fit`` / ``partial_fit`` (through
:func:`~deepbelief.estimators._single_layer.fit_one_layer`), topic features, scores, saving.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from deepbelief.core.plain import Stage, dense_stages, layer_dense
from deepbelief.core.replicated_softmax import ReplicatedSoftmaxModule
from deepbelief.core.stack import map_rows
from deepbelief.estimators._base import (
    SaveLoadMixin,
    as_input,
    check_X,
    fitted_input_state,
    make_generator,
    output_dtype,
    resolve_device,
    set_fitted_input_state,
    to_numpy,
    training_data,
)
from deepbelief.estimators._input import _warn, sparse_matrix
from deepbelief.estimators._rbm import RBM
from deepbelief.estimators._single_layer import LayerData, fit_one_layer
from deepbelief.evaluation.documents import (
    DocumentPartition,
    document_log_likelihood,
    document_log_partition,
)
from deepbelief.training.greedy import LayerTrainer
from deepbelief.training.loop import LoopState
from deepbelief.training.replicated_softmax_spec import ReplicatedSoftmaxConfig

__all__ = ["AUTO_RATE_WORDS", "ReplicatedSoftmaxRBM", "auto_document_rate", "check_counts",
           "validated_counts"]

#: ``learning_rate='auto'`` is this over the mean number of words per document. Measured
#: (20 hidden units or fewer, CD-1, momentum 0.9, exact perplexities): synthetic LDA
#: documents of 80 words learn at 0.001-0.003 and diverge at 0.01; of 300 words, 0.001
#: kills the layer (every hidden unit saturates) while 0.0001-0.0003 learn.
AUTO_RATE_WORDS = 0.1


def auto_document_rate(X) -> float:
    """``learning_rate='auto'``: :data:`AUTO_RATE_WORDS` over the mean number of words per
    document of the count matrix ``X`` (at least one word).

    Examples
    --------
    >>> auto_document_rate(np.array([[30.0, 50.0], [100.0, 20.0]]))  # 100 words on average
    0.001
    """
    mean_words = float(np.sum(X.mean(axis=0))) if X.shape[0] else 0.0
    return AUTO_RATE_WORDS / max(mean_words, 1.0)


def validated_counts(estimator, X, *, reset: bool, usage: str = "forward"):
    """``X`` validated as word counts for ``estimator`` (``check_X``, then
    :func:`check_counts`): a float array or a canonical CSR matrix (for ``usage='fit'``, a
    file or stream of training data may come back read in pieces)."""
    X = check_X(estimator, X, reset=reset, sparse=True, usage=usage)
    check_counts(X)
    return X


def check_counts(X) -> None:
    """Refuse word counts with negative values (a validated array, sparse matrix or large
    input read in pieces, whose values are finite), with what to give instead.

    Raises
    ------
    ValueError
    """
    values = X.data if sparse_matrix(X) else X  # an array, or a file read in pieces
    if values.size and float(values.min()) < 0:
        raise ValueError(
            "Negative values in data: X must hold word counts (non-negative numbers, e.g. "
            "CountVectorizer's output). Count the words with "
            "sklearn.feature_extraction.text.CountVectorizer, or "
            "deepbelief.datasets.documents.vectorize.")


def _warn_unseen_words(X) -> None:
    """The UserWarning of :meth:`ReplicatedSoftmaxRBM.partial_fit`'s first call when words
    of the vocabulary never occur in ``X``."""
    totals = np.asarray(X.sum(axis=0)).ravel()
    unseen = int((totals == 0).sum())
    if unseen:
        _warn(UserWarning(
            f"partial_fit's first batch never holds {unseen} of the {totals.size} words: "
            "their word biases start near log(1e-3 / n_words) and move slowly, which can leave "
            "the model worse than word frequencies alone. Call fit on a sample that covers "
            "the vocabulary first, then partial_fit on the rest."))


class ReplicatedSoftmaxRBM(ClassNamePrefixFeaturesOutMixin, TransformerMixin, SaveLoadMixin,
                           BaseEstimator):
    """Replicated Softmax: an undirected topic model of word counts (Salakhutdinov &
    Hinton, 2009).

    Each document of ``D`` words is ``D`` softmax units over the vocabulary sharing one
    weight matrix, under ``n_components`` binary hidden units whose biases are scaled by
    ``D`` (:mod:`deepbelief.core.replicated_softmax`). Trained by CD-k or PCD-k on a
    document-term count matrix; ``transform`` gives the hidden means (topic features).

    Parameters
    ----------
    n_components : int, default 50
        Binary hidden units.
    learning_rate : float or 'auto', default 'auto'
        Step size of the mean mini-batch gradient. Word counts make gradients that grow
        with the document length, so 'auto' is ``0.1 / (mean words per training
        document)`` (see :func:`auto_document_rate`): 0.00125 for documents of 80 words.
    batch_size : int, default 100
        Documents per mini-batch (densified one mini-batch at a time).
    n_iter : int, default 50
        Epochs.
    method : {'cd', 'pcd'}, default 'cd'
    k : int, default 1
        Gibbs steps per update.
    momentum : float or 'classic', default 0.9
    weight_decay : float, default 0.0
        L2 penalty on the weights.
    learning_rate_schedule : {'constant', 'linear', 'inverse'}, default 'constant'
    optimizer : {'sgd', 'adam'} or callable, default 'sgd'
    partition : {'auto', 'exact', 'ais', 'hidden_ais'}, default 'auto'
        How :meth:`score`, :meth:`score_samples` and :meth:`perplexity` get the partition
        function of each document length: exact enumeration of the hidden states (up to
        20 hidden units with 'auto'), Annealed Importance Sampling over words and hidden
        units (whole counts) or over the hidden units alone (any counts; 'auto' takes it
        for fractional lengths).
    ais_runs : int, default 100
        AIS runs per document length ('hidden_ais': runs shared by every length).
    ais_betas : int or None, default None
        Number of equally spaced AIS inverse temperatures; None: the 14,501 of
        Salakhutdinov & Murray (2008).
    random_state : int, RandomState or None, default None
        Seeds the weights, the shuffling, the sampling and the AIS runs.
    verbose : int, default 0
    device : str, default 'auto'
    callbacks : list or None, default None
        As for :class:`~deepbelief.RBM`.

    Attributes
    ----------
    rbm_ : ReplicatedSoftmaxModule
    components_ : ndarray of shape (n_components, n_features)
    intercept_hidden_ : ndarray of shape (n_components,)
        ``b``; a document of ``D`` words adds ``D b`` to the hidden input.
    intercept_visible_ : ndarray of shape (n_features,)
    n_features_in_ : int
    history_ : list of dict
        One record per epoch: ``reconstruction_error``, ``reconstruction_perplexity``
        (of the mean-field reconstruction, a training monitor, not the model's
        perplexity), ``time``.
    n_iter_ : int
    learning_rate_ : float
        The step size used ('auto' resolved on the first fit).
    fit_time_ : float

    Notes
    -----
    ``X`` is a count matrix: a SciPy CSR or CSC matrix (read one mini-batch or chunk of
    rows at a time, never densified whole) or a dense array. Fractional values are read
    as fractional counts (the energy holds ``D`` as a number): features and scores take
    them (AIS over the hidden units gives their partition functions), while the words
    sampled in training round each document's length; negative values are refused.

    :meth:`score` is the mean log-probability per word, ``Σ log p(V) / Σ D``, where
    ``p(V)`` is the probability of a document's words in one order (that of LDA's
    perplexity); :meth:`perplexity` is ``exp(-score)``. With AIS both are estimates, and
    since ``log Ẑ`` tends to underestimate ``log Z``, the perplexity tends to be optimistic.

    References
    ----------
    R. Salakhutdinov and G. E. Hinton, "Replicated Softmax: an Undirected Topic Model",
    NIPS 2009.

    Examples
    --------
    >>> from deepbelief import ReplicatedSoftmaxRBM
    >>> from deepbelief.datasets.documents import synthetic_corpus
    >>> corpus = synthetic_corpus(200, 50, 5, mean_length=30, random_state=0)
    >>> rsm = ReplicatedSoftmaxRBM(8, n_iter=5, random_state=0, device="cpu").fit(corpus.counts)
    >>> rsm.transform(corpus.counts).shape
    (200, 8)
    >>> 1 < rsm.perplexity(corpus.counts[:20]) < 50  # exact: 8 hidden units
    True
    """

    #: The input's unit type (not a parameter): what ``to_torch`` clips the input to.
    visible_units = "replicated_softmax"

    _parameter_constraints: ClassVar[dict] = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "n_iter": [Interval(Integral, 0, None, closed="left")],
        "method": [StrOptions({"cd", "pcd"})],
        "k": [Interval(Integral, 1, None, closed="left")],
        "momentum": [Interval(Real, 0, 1, closed="left"), StrOptions({"classic"})],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "learning_rate_schedule": [StrOptions({"constant", "linear", "inverse"})],
        "optimizer": [StrOptions({"sgd", "adam"}), callable],
        "partition": [StrOptions({"auto", "exact", "ais", "hidden_ais"})],
        "ais_runs": [Interval(Integral, 1, None, closed="left")],
        "ais_betas": [Interval(Integral, 2, None, closed="left"), None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "device": [str, torch.device],
        "callbacks": [list, tuple, None],
    }

    def __init__(
        self,
        n_components: int = 50,
        *,
        learning_rate: float | str = "auto",
        batch_size: int = 100,
        n_iter: int = 50,
        method: str = "cd",
        k: int = 1,
        momentum: float | str = 0.9,
        weight_decay: float = 0.0,
        learning_rate_schedule: str = "constant",
        optimizer="sgd",
        partition: str = "auto",
        ais_runs: int = 100,
        ais_betas: int | None = None,
        random_state=None,
        verbose: int = 0,
        device: str = "auto",
        callbacks: list | None = None,
    ) -> None:
        self.n_components = n_components
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.n_iter = n_iter
        self.method = method
        self.k = k
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.learning_rate_schedule = learning_rate_schedule
        self.optimizer = optimizer
        self.partition = partition
        self.ais_runs = ais_runs
        self.ais_betas = ais_betas
        self.random_state = random_state
        self.verbose = verbose
        self.device = device
        self.callbacks = callbacks

    # -- training ----------------------------------------------------------------------------
    def _config(self, learning_rate: float | None = None) -> ReplicatedSoftmaxConfig:
        """The layer spec, at ``learning_rate`` (default: the fitted ``learning_rate_``)."""
        rate = self.learning_rate_ if learning_rate is None else learning_rate
        return ReplicatedSoftmaxConfig(
            n_hidden=self.n_components, epochs=self.n_iter, learning_rate=rate,
            batch_size=self.batch_size, method=self.method, k=self.k, momentum=self.momentum,
            weight_decay=self.weight_decay, learning_rate_schedule=self.learning_rate_schedule,
            optimizer=self.optimizer)

    def _counts(self, X, *, reset: bool, usage: str = "forward"):
        return validated_counts(self, X, reset=reset, usage=usage)

    def _prepare(self, X, first: bool, device: torch.device, *,
                 incremental: bool = False) -> LayerData:
        X = self._counts(X, reset=first, usage="fit")
        if first and incremental:  # partial_fit's first call sets the word biases from X
            _warn_unseen_words(X)
        rate = self.learning_rate_ if not first else (
            auto_document_rate(X) if self.learning_rate == "auto" else self.learning_rate)
        return LayerData(self._config(rate), training_data(X, device), X,
                         attributes={"learning_rate_": rate})

    def _fit(self, X, incremental: bool, checkpoint=None, checkpoint_every: int = 1,
             resume: bool = False):
        return fit_one_layer(self, lambda first, device: self._prepare(
                                 X, first, device, incremental=incremental),
                             incremental=incremental, checkpoint=checkpoint,
                             checkpoint_every=checkpoint_every, resume=resume)

    def fit(self, X, y=None, *, checkpoint=None, checkpoint_every: int = 1,
            resume: bool = False) -> ReplicatedSoftmaxRBM:
        """Fit the model to the count matrix ``X`` (documents × words).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_documents, n_words)
            Word counts, e.g. ``CountVectorizer().fit_transform(texts)``.
        y : ignored
        checkpoint, checkpoint_every, resume :
            As for :meth:`deepbelief.RBM.fit`.

        Returns
        -------
        ReplicatedSoftmaxRBM
            ``self``.

        Raises
        ------
        ValueError
            If ``X`` holds negative, NaN or infinite values.
        """
        return self._fit(X, incremental=False, checkpoint=checkpoint,
                         checkpoint_every=checkpoint_every, resume=resume)

    def partial_fit(self, X, y=None) -> ReplicatedSoftmaxRBM:
        """One epoch over ``X``, continuing from the current state (weights, optimizer,
        persistent chains); the first call initialises the model. Returns ``self``.

        The first call sets the word biases to the log word frequencies of its ``X``: a word
        absent from that first batch starts at a bias near ``log(1e-3 / n_words)`` and
        learns slowly, so a UserWarning says how many words are missing. Fit a sample that
        covers the vocabulary first (``fit``), then continue with ``partial_fit``."""
        return self._fit(X, incremental=True)

    # -- inference ---------------------------------------------------------------------------
    def _input(self, X):
        """``X`` checked against the fitted model: a tensor on the model's device, or a CSR
        matrix (read chunk by chunk), and the output dtype."""
        check_is_fitted(self, "rbm_")
        X = self._counts(X, reset=False)
        return as_input(X, self.rbm_.weight.device), output_dtype(X)

    @torch.no_grad()
    def transform(self, X) -> np.ndarray:
        """Topic features: the hidden means ``E[h | v]``, shape (n_documents, n_components).

        The output keeps the input's float dtype (float64 stays float64, else float32).
        """
        x, dtype = self._input(X)
        return to_numpy(map_rows(self.rbm_.hidden_mean, x, device=self.rbm_.weight.device),
                        dtype)

    def _torch_parts(self) -> Stage:
        """``to_torch``: the hidden means of :meth:`transform` (a linear map of the counts
        and a sigmoid: the scaled hidden biases are part of the weight)."""
        return dense_stages(layer_dense([self.rbm_]))

    @torch.no_grad()
    def reconstruct(self, X) -> np.ndarray:
        """Expected counts ``D softmax(a + W E[h | v])`` of each document: its mean-field
        reconstruction at its own length, shape (n_documents, n_words)."""
        x, dtype = self._input(X)
        rsm = self.rbm_

        def recon(v: torch.Tensor) -> torch.Tensor:
            return rsm.visible_mean(rsm.hidden_mean(v), v.sum(-1))

        return to_numpy(map_rows(recon, x, device=rsm.weight.device), dtype)

    @torch.no_grad()
    def free_energy(self, X) -> np.ndarray:
        """Free energy ``F(v)`` per document (float64)."""
        x, _ = self._input(X)
        return to_numpy(map_rows(self.rbm_.free_energy, x, device=self.rbm_.weight.device),
                        np.float64)

    def log_partition(self, X) -> DocumentPartition:
        """``log Z_D`` for the lengths of the documents ``X`` (or for a sequence of
        lengths), as ``partition``, ``ais_runs`` and ``ais_betas`` say
        (:func:`~deepbelief.evaluation.documents.document_log_partition`; AIS seeded by
        ``random_state``, its base-rate model from ``X``'s word frequencies)."""
        check_is_fitted(self, "rbm_")
        documents = hasattr(X, "shape") and len(X.shape) == 2
        if documents:
            X = self._counts(X, reset=False)
        betas = None if self.ais_betas is None else np.linspace(0.0, 1.0, self.ais_betas)
        return document_log_partition(
            self.rbm_, X, method=self.partition, n_runs=self.ais_runs, betas=betas,
            data=X if documents else None,
            random_state=self.random_state if isinstance(self.random_state, Integral)
            else None)

    def score_samples(self, X) -> np.ndarray:
        """``log p(V)`` of each document (its words in one order), shape (n_documents,):
        ``-F(v) - log Z_D`` with :meth:`log_partition` (an estimate with AIS)."""
        X = self._counts(X, reset=False) if hasattr(X, "shape") else X
        return document_log_likelihood(self.rbm_, X, self.log_partition(X))

    def score(self, X, y=None) -> float:
        """Mean log-probability per word, ``Σ log p(V) / Σ D`` (higher is better; minus
        the log of :meth:`perplexity`).

        Raises
        ------
        ValueError
            If ``X`` holds no word.
        """
        check_is_fitted(self, "rbm_")
        X = self._counts(X, reset=False)
        n_words = float(X.sum())
        if n_words <= 0:
            raise ValueError("X holds no word: the score per word is not defined.")
        return float(self.score_samples(X).sum() / n_words)

    def perplexity(self, X) -> float:
        """Per-word perplexity ``exp(-Σ log p(V) / Σ D)`` of the documents ``X``, the
        definition of scikit-learn's ``LatentDirichletAllocation.perplexity`` (which
        computes it from its variational bound)."""
        return float(np.exp(-self.score(X)))

    def top_words(self, vocabulary=None, n_words: int = 10) -> list[list[str]]:
        """The ``n_words`` words of largest weight for each hidden unit (its topic).

        Parameters
        ----------
        vocabulary : sequence of str, optional
            The word of each column (default: ``feature_names_in_``, else ``'x0'``, ...).
        n_words : int, default 10

        Returns
        -------
        list of n_components lists of str
        """
        check_is_fitted(self, "rbm_")
        if vocabulary is None:
            vocabulary = getattr(self, "feature_names_in_", None)
        if vocabulary is None:
            vocabulary = [f"x{i}" for i in range(self.n_features_in_)]
        if len(vocabulary) != self.n_features_in_:
            raise ValueError(f"vocabulary has {len(vocabulary)} words but the model "
                             f"{self.n_features_in_}.")
        order = np.argsort(-self.components_, axis=1)[:, :n_words]
        return [[str(vocabulary[i]) for i in row] for row in order]

    # -- scikit-learn conventions ------------------------------------------------------------
    # The weights and biases as the RBM shows them (the same names on ``rbm_``).
    components_ = RBM.components_
    intercept_hidden_ = RBM.intercept_hidden_
    intercept_visible_ = RBM.intercept_visible_

    @property
    def _n_features_out(self) -> int:
        return self.n_components

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.input_tags.sparse = True
        tags.input_tags.positive_only = True
        return tags

    # -- saving ------------------------------------------------------------------------------
    def _get_state(self):
        state = {**fitted_input_state(self), "history": self.history_, "n_iter": self.n_iter_,
                 "learning_rate": self.learning_rate_}
        return state, {f"rbm.{k}": v for k, v in self.rbm_.state_dict().items()}

    def _set_state(self, state: dict, tensors: dict) -> None:
        device = resolve_device(self.device)
        n_visible, n_hidden = tensors["rbm.weight"].shape
        self.rbm_ = ReplicatedSoftmaxModule(n_visible, n_hidden, device=device)
        self.rbm_.load_state_dict({k[4:]: v for k, v in tensors.items()})
        set_fitted_input_state(self, state)
        self.history_ = state["history"]
        self.n_iter_ = state["n_iter"]
        self.learning_rate_ = state["learning_rate"]
        self._trainer = LayerTrainer(self.rbm_, self._config(),
                                     make_generator(self.random_state, device))
        self._trainer.state = LoopState(epoch=self.n_iter_, history=self.history_)
