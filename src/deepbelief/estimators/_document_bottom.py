"""Word counts at the bottom of the DBN estimators: ``visible_units='replicated_softmax'``.

:class:`~deepbelief.DBNTransformer`, :class:`~deepbelief.DBNClassifier`,
:class:`~deepbelief.DBNRegressor` and :class:`~deepbelief.DBNAutoencoder` take a
document-term count matrix when their ``visible_units`` is ``'replicated_softmax'``: the
bottom layer is then a replicated-softmax RBM (Salakhutdinov & Hinton, 2009), trained
greedily through the same loop as :class:`~deepbelief.ReplicatedSoftmaxRBM`'s layer (its
spec, :class:`~deepbelief.training.replicated_softmax_spec.ReplicatedSoftmaxConfig`), and
the layers above train on its hidden probabilities as on any layer's. Its up-pass scales
the hidden biases by each document's length ``D``, and so does the unrolled network
(``W + 1 bᵀ``, see :mod:`deepbelief.core.replicated_softmax`) that ``transform``,
``predict`` and fine-tuning use. A deep autoencoder's reconstruction of such a bottom is a
softmax over the words (:class:`~deepbelief.core.semantic_hashing.DocumentAutoencoder`
without code noise), fine-tuned on the words' cross-entropy
(:mod:`deepbelief.learning.document_reconstruction`) and scaled to ``D`` where it stands
for counts.

This module is the glue: the input check (:func:`check_input`), the layer specs
(:func:`document_configs`), the reconstruction and the fine-tuning objective of a
document autoencoder, and what a model file keeps of it.

References
----------
R. Salakhutdinov and G. E. Hinton, "Replicated Softmax: an Undirected Topic Model",
NIPS 2009.
"""

from __future__ import annotations

from numbers import Real

import numpy as np
import torch
from torch import nn

from deepbelief.core.deep_autoencoder import DeepAutoencoder
from deepbelief.core.semantic_hashing import DocumentAutoencoder
from deepbelief.core.stack import down_pass, map_rows, up_pass
from deepbelief.estimators._base import per_layer
from deepbelief.estimators._documents import AUTO_RATE_WORDS, auto_document_rate, check_counts
from deepbelief.estimators._input import NO_Y, check_X, sparse_matrix
from deepbelief.estimators._input_scaling import InputScaling
from deepbelief.estimators._input_scaling import check_input as scaled_input
from deepbelief.estimators._large_input import LargeInput
from deepbelief.learning.document_reconstruction import (
    DocumentReconstructionObjective,
    word_cross_entropy,
)
from deepbelief.learning.reconstruction import ReconstructionObjective, constant_loss
from deepbelief.training.greedy import RBMConfig
from deepbelief.training.replicated_softmax_spec import ReplicatedSoftmaxConfig

__all__ = ["DOCUMENT_LOSS", "DOCUMENT_UNITS", "check_input", "check_whole_counts",
           "document_configs", "document_loss", "document_state", "reconstruction",
           "reconstruction_objective", "set_document_state", "stack_reconstruction",
           "unrolled_autoencoder", "validation_score"]

#: The ``visible_units`` value of word counts.
DOCUMENT_UNITS = "replicated_softmax"

#: A document autoencoder's fine-tuning loss (``loss_``).
DOCUMENT_LOSS = "word_cross_entropy"

_CHUNK = 8192

_ROUND_ADVICE = (
    "Round them to whole numbers (numpy.rint(X); for a sparse matrix, X.data = "
    "numpy.rint(X.data)), or, for weighted counts such as TF-IDF, use visible_units='auto' "
    "or ReplicatedSoftmaxRBM, which reads fractional counts.")


def _reads_counts(estimator, first: bool) -> bool:
    """Whether ``estimator`` reads word counts: its parameter for a new model, else the
    input units it was fitted with."""
    if first:
        return estimator.visible_units == DOCUMENT_UNITS
    return InputScaling.of(estimator).visible_units == DOCUMENT_UNITS


def check_whole_counts(X) -> None:
    """Refuse word counts that are negative (:func:`~deepbelief.estimators._documents.
    check_counts`) or not whole numbers, with what to give instead.

    ``X`` is a validated array, a canonical CSR matrix (its stored values are read, never
    densified) or data read in pieces (its extremes; the whole numbers of a file's first
    rows, which a stream of batches cannot give back).

    Raises
    ------
    ValueError

    Examples
    --------
    >>> check_whole_counts(np.array([[2.0, 0.0, 1.0]]))
    >>> check_whole_counts(np.array([[0.5, 1.0]]))
    Traceback (most recent call last):
    ...
    ValueError: Non-integer values in data: ...
    """
    check_counts(X)
    if isinstance(X, LargeInput):
        values = None if X.stream else X.sample()
    else:
        values = X.data if sparse_matrix(X) else X
    if values is not None and values.size and not np.array_equal(values, np.rint(values)):
        raise ValueError(
            "Non-integer values in data: visible_units='replicated_softmax' reads word "
            "counts (whole numbers of occurrences, e.g. CountVectorizer's output). "
            + _ROUND_ADVICE)


def check_input(estimator, X, *, first: bool, usage: str = "fit", y=NO_Y, **kwargs):
    """:func:`deepbelief.estimators._input_scaling.check_input`, and word counts for a DBN
    estimator with ``visible_units='replicated_softmax'``.

    Counts are validated as :class:`~deepbelief.ReplicatedSoftmaxRBM` validates them
    (``check_X`` without a range check, a SciPy matrix kept sparse in canonical CSR form;
    then :func:`check_whole_counts`), and their scaling is none:
    ``InputScaling('replicated_softmax')``.

    Returns
    -------
    checked, scaling :
        As :func:`~deepbelief.estimators._input_scaling.check_input` returns them.

    Raises
    ------
    ValueError
        What ``check_X`` raises, and for counts that are negative or not whole numbers.
    """
    if not _reads_counts(estimator, first):
        return scaled_input(estimator, X, first=first, usage=usage, y=y, **kwargs)
    checked = check_X(estimator, X, reset=first, usage=usage, y=y, **kwargs)
    check_whole_counts(checked if y is NO_Y else checked[0])
    return checked, InputScaling(DOCUMENT_UNITS)


def _bottom_rate(estimator, n_layers: int, X) -> float:
    """The replicated softmax's step size: ``pretrain_learning_rate`` (its first entry),
    'auto' resolved from the mean length of the documents ``X``
    (:func:`~deepbelief.estimators._documents.auto_document_rate`), without ``X`` the rate
    a loaded model was trained with, else that of one-word documents (a stand-in for
    checks of the parameters before any data is seen)."""
    rate = per_layer(estimator.pretrain_learning_rate, n_layers, "pretrain_learning_rate")[0]
    if not (isinstance(rate, str) and rate == "auto"):
        return float(rate)
    if X is not None:
        return auto_document_rate(X)
    return getattr(estimator, "_rsm_learning_rate", None) or AUTO_RATE_WORDS


def document_configs(estimator, configs: list, visible_units, X=None) -> list:
    """The layer specs of a DBN estimator: ``configs`` as they are, or over word counts
    (``visible_units='replicated_softmax'``) with the bottom one a
    :class:`~deepbelief.training.replicated_softmax_spec.ReplicatedSoftmaxConfig` of the
    same settings (size, epochs, batch size, method, k, momentum, weight decay, schedule)
    and the step size of :func:`_bottom_rate`.

    ``configs`` are :func:`~deepbelief.estimators._base.pretrain_configs`'s (centring, where
    asked, stays on the binary RBMs above: a replicated softmax has none).

    Raises
    ------
    ValueError
        For word counts under a bottom layer that is not a binary RBM trained by CD or
        PCD (``layer_type``, ``hidden_units``, ``code_units``, ``pretrain_method``).
    """
    if visible_units != DOCUMENT_UNITS:
        return configs
    bottom = configs[0]
    name = type(estimator).__name__
    if not isinstance(bottom, RBMConfig):
        raise ValueError(
            f"{name}: the bottom layer over word counts (visible_units='replicated_softmax') "
            f"is a replicated-softmax RBM, not a {bottom.label} layer; give 'rbm' as the "
            "first layer_type, e.g. layer_type=('rbm', 'autoencoder').")
    if bottom.hidden_units != "bernoulli":
        code = (" (the code layer: with one layer, pass code_units='bernoulli' or None)"
                if getattr(estimator, "code_units", None) is not None and len(configs) == 1
                else "")
        raise ValueError(
            f"{name}: a replicated softmax's hidden units are binary, but the first layer's "
            f"are {bottom.hidden_units!r}{code}; give 'bernoulli' as the first hidden_units, "
            "e.g. hidden_units=('bernoulli', 'relu').")
    if bottom.method not in ("cd", "pcd"):
        raise ValueError(
            f"{name}: a replicated-softmax bottom layer trains by 'cd' or 'pcd', not "
            f"{bottom.method!r}; give pretrain_method='cd' or 'pcd'.")
    rate = _bottom_rate(estimator, len(configs), X)
    spec = ReplicatedSoftmaxConfig(
        bottom.n_hidden, epochs=bottom.epochs, learning_rate=rate,
        batch_size=bottom.batch_size, method=bottom.method, k=bottom.k,
        momentum=bottom.momentum, weight_decay=bottom.weight_decay,
        learning_rate_schedule=bottom.learning_rate_schedule, optimizer=bottom.optimizer)
    return [spec, *configs[1:]]


def document_state(estimator) -> dict:
    """What a model file keeps of a word-count bottom: the replicated softmax's step size
    (``pretrain_learning_rate='auto'`` is resolved from the training documents, which a
    loaded model's ``partial_fit`` no longer sees); nothing for other inputs."""
    if InputScaling.of(estimator).visible_units != DOCUMENT_UNITS:
        return {}
    trainers = getattr(estimator, "_trainers", None)
    rate = (trainers[0].config.learning_rate if trainers
            else getattr(estimator, "_rsm_learning_rate", None))
    return {} if rate is None else {"rsm_learning_rate": float(rate)}


def set_document_state(estimator, config: dict) -> None:
    """The inverse of :func:`document_state`."""
    rate = config.get("rsm_learning_rate")
    if isinstance(rate, Real):
        estimator._rsm_learning_rate = float(rate)


def stack_reconstruction(layers, x) -> torch.Tensor:
    """The deterministic up-down pass of a stack: the visible means, which for a
    replicated-softmax bottom are each document's expected counts at its own length
    (``D softmax(a + W h)``), chunk by chunk; else ``down_pass(layers, up_pass(layers, x))``.
    """
    if layers[0].kind != DOCUMENT_UNITS:
        return down_pass(layers, up_pass(layers, x))

    def counts(v: torch.Tensor) -> torch.Tensor:
        return down_pass(layers, up_pass(layers, v)) * v.sum(-1, keepdim=True)

    return map_rows(counts, x, _CHUNK, device=layers[0].weight.device)


def unrolled_autoencoder(layers) -> DeepAutoencoder:
    """A deep autoencoder unrolled from trained layers: for a replicated-softmax bottom, a
    :class:`~deepbelief.core.semantic_hashing.DocumentAutoencoder` without code noise
    (its reconstruction a softmax over the words), else a
    :class:`~deepbelief.core.deep_autoencoder.DeepAutoencoder`."""
    if layers[0].kind == DOCUMENT_UNITS:
        return DocumentAutoencoder.from_layers(layers, code_noise=0.0)
    return DeepAutoencoder.from_layers(layers)


def _words(net: nn.Module) -> bool:
    return getattr(net, "output_activation", None) == "softmax"


def reconstruction(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """A deep autoencoder's reconstruction of ``x``: ``net(x)``, which for word counts
    (a softmax output) is scaled to each document's length ``D``: expected counts."""
    out = net(x)
    return out * x.sum(-1, keepdim=True) if _words(net) else out


def validation_score(net: nn.Module, x: torch.Tensor) -> float:
    """The early-stopping score of a deep autoencoder on the rows ``x`` (higher is
    better): minus the squared error per row, or for word counts minus the words'
    cross-entropy per document (the fine-tuning loss)."""
    if _words(net):
        return -float(word_cross_entropy(net.decode_field(net.encode(x)), x).mean())
    return -float(((net(x) - x) ** 2).sum(-1).mean())


def document_loss(loss: str) -> str:
    """The fine-tuning loss of a document autoencoder for the parameter ``loss``.

    Raises
    ------
    ValueError
        For a loss other than 'auto'.
    """
    if loss != "auto":
        raise ValueError(
            f"loss={loss!r} does not fit word counts: with visible_units='replicated_softmax' "
            "the reconstruction is a softmax over the words, fine-tuned on the words' "
            "cross-entropy; use loss='auto'.")
    return DOCUMENT_LOSS


def reconstruction_objective(net: nn.Module, loss: str, sample: torch.Tensor, *,
                             weight_decay: float, advice: str) -> ReconstructionObjective:
    """The fine-tuning objective of a deep autoencoder, its baseline (the loss of a
    constant reconstruction, a failed fit's) measured on the rows ``sample``: the words'
    cross-entropy (:class:`~deepbelief.learning.document_reconstruction.
    DocumentReconstructionObjective`; baseline: the word frequencies of ``sample``) for
    ``loss='word_cross_entropy'``, else ``loss`` of
    :class:`~deepbelief.learning.reconstruction.ReconstructionObjective`."""
    if loss != DOCUMENT_LOSS:
        return ReconstructionObjective(net, loss, weight_decay=weight_decay,
                                       baseline=constant_loss(sample, loss), advice=advice)
    frequencies = sample.sum(0).clamp_min(torch.finfo(sample.dtype).tiny)
    baseline = float(word_cross_entropy(frequencies.log().expand_as(sample), sample).mean())
    return DocumentReconstructionObjective(net, weight_decay=weight_decay, baseline=baseline,
                                           advice=advice)
