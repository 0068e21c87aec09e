"""Partition functions, log-probabilities and perplexities of Replicated Softmax models.

A replicated softmax (:mod:`deepbelief.core.replicated_softmax`) has one partition function
per document length ``D``, ``log p(V) = -F(v) - log Z_D``. :func:`document_log_partition`
gets ``log Z_D`` for every length asked, exactly for small hidden layers or by AIS. The
exact sum enumerates the hidden states once for all lengths, since the free energy of a
hidden state at length ``D`` is ``D`` times that at length 1. AIS reuses
:func:`~deepbelief.evaluation.ais_log_partition` on the model restricted to the lengths
(:meth:`~deepbelief.core.replicated_softmax.ReplicatedSoftmaxModule.at_length`): the runs of
every length advance together as one batch, whose row ``i`` is the model at its own length
(the scaled hidden bias is a weight tied across the vocabulary, so one set of weights serves
every length), and the weights are averaged per length, each with the analytic ``log Z`` of
its own base-rate model, ``D log Σ_k exp(a_A,k) + n_hidden log 2``. AIS over the words
draws ``D`` words, so it takes whole lengths only; :func:`hidden_ais_log_partition` anneals
the hidden units alone, the words summed out (:mod:`~deepbelief.evaluation.hidden_ais`),
which holds for any real length, and one set of its runs serves every length.

:func:`document_log_likelihood` and :func:`document_perplexity` then score documents; the
perplexity is per word, ``exp(-Σ_n log p(v_n) / Σ_n D_n)``, the definition scikit-learn's
``LatentDirichletAllocation.perplexity`` uses (there with a variational bound in place of
``log p``).

References
----------
R. Salakhutdinov and G. E. Hinton, "Replicated Softmax: an Undirected Topic Model",
NIPS 2009. R. Salakhutdinov and I. Murray, "On the quantitative analysis of deep belief
networks", ICML 2008.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from deepbelief.core.replicated_softmax import ReplicatedSoftmaxModule, document_lengths
from deepbelief.core.stack import row_chunks
from deepbelief.evaluation._common import RandomState, _make_generator, _refuse, _wide_device
from deepbelief.evaluation.hidden_ais import hidden_annealing, length_ladder
from deepbelief.evaluation.partition import (
    MAX_EXACT_UNITS,
    _base_visible_bias,
    _check_betas,
    _log_mean_and_bounds,
    ais_log_partition,
)

__all__ = ["DocumentPartition", "as_rsm", "document_log_likelihood", "document_log_partition",
           "document_perplexity", "hidden_ais_log_partition"]

_ONE_RSM = "a ReplicatedSoftmaxModule or a fitted ReplicatedSoftmaxRBM (its rbm_)"
#: Hidden layers up to this size have ``log Z_D`` summed exactly by ``method='auto'``.
EXACT_HIDDEN = 20
#: AIS rows (runs × lengths) advanced together at most; more lengths run in groups.
MAX_AIS_ROWS = 8192


def as_rsm(model: Any, caller: str) -> ReplicatedSoftmaxModule:
    """The replicated softmax to evaluate: ``model`` itself or a fitted estimator's ``rbm_``.

    Raises
    ------
    TypeError
        For anything else (the message says what is accepted).
    sklearn.exceptions.NotFittedError
        For an estimator that is not fitted yet.
    """
    if isinstance(model, ReplicatedSoftmaxModule):
        return model
    layer = getattr(model, "rbm_", None)
    if layer is None and callable(getattr(model, "fit", None)):
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(model, "rbm_")
    if not isinstance(layer, ReplicatedSoftmaxModule):
        raise _refuse(model, _ONE_RSM, caller)
    return layer


@dataclass(frozen=True, eq=False)
class DocumentPartition:
    """``log Z_D`` of a replicated softmax for each of a set of document lengths.

    Attributes
    ----------
    lengths : numpy.ndarray of float64, shape (n_lengths,)
        The lengths, increasing: whole numbers of words, or the row sums of fractional
        counts (weights read as counts; every method but 'ais').
    log_z, log_z_low, log_z_high : numpy.ndarray of float64, shape (n_lengths,)
        ``log Z_D`` and, for AIS, ``log(Ẑ ∓ 3σ̂)`` of each length (equal to ``log_z`` when
        exact). ``exp(log Ẑ)`` is unbiased, so ``log Ẑ`` tends to underestimate ``log Z``
        and the log-probabilities built on it to be optimistic.
    method : {'exact', 'ais', 'hidden_ais', 'ais+hidden_ais'}
        The last: whole lengths by 'ais', fractional ones by 'hidden_ais'.
    """

    lengths: np.ndarray
    log_z: np.ndarray
    log_z_low: np.ndarray
    log_z_high: np.ndarray
    method: str

    def of(self, lengths: np.ndarray | Sequence[float]) -> np.ndarray:
        """``log Z_D`` for each of ``lengths`` (each must be one of :attr:`lengths`, to
        float rounding).

        Raises
        ------
        KeyError
            For a length this partition does not hold.
        """
        lengths = np.asarray(lengths, dtype=np.float64)
        known = self.lengths
        index = np.clip(np.searchsorted(known, lengths), 1, max(known.size - 1, 1))
        nearest = np.where(np.abs(known[index - 1] - lengths) <= np.abs(known[index] - lengths),
                           index - 1, index) if known.size > 1 else np.zeros_like(index)
        found = np.abs(known[nearest] - lengths) <= 1e-9 * np.maximum(1.0, np.abs(lengths))
        if not found.all():
            missing = sorted(set(lengths[~found].tolist()))[:5]
            raise KeyError(f"no log Z for documents of lengths {missing}: compute "
                           "document_log_partition for the lengths of these documents.")
        return self.log_z[nearest]


def _lengths_of(X) -> np.ndarray:
    """The distinct document lengths (float64, increasing) of ``X`` (counts, dense or
    sparse: its row sums), or of a sequence of lengths."""
    if hasattr(X, "shape") and len(X.shape) == 2:
        sums = X.sum(axis=1) if hasattr(X, "toarray") else X.sum(1)
        sums = sums.detach().cpu().numpy() if isinstance(sums, torch.Tensor) else sums
        values = np.asarray(sums, dtype=np.float64).ravel()
    else:
        values = np.asarray(X, dtype=np.float64).ravel()
    if values.size and not (np.isfinite(values).all() and values.min() >= 0):
        raise ValueError("document lengths must be finite and non-negative (word counts).")
    return np.unique(values)


@torch.no_grad()
def document_log_partition(
    model: Any,
    lengths,
    *,
    method: Literal["auto", "exact", "ais", "hidden_ais"] = "auto",
    n_runs: int = 100,
    betas: Sequence[float] | np.ndarray | None = None,
    base: Literal["data", "uniform"] = "data",
    data=None,
    random_state: RandomState = None,
) -> DocumentPartition:
    """``log Z_D`` of a replicated softmax for every document length ``D`` asked.

    Parameters
    ----------
    model : ReplicatedSoftmaxModule or fitted ReplicatedSoftmaxRBM
    lengths : sequence of numbers, or array-like / sparse matrix of counts (n_documents, K)
        The lengths, or documents whose lengths (row sums) to take. The energy holds ``D``
        as a number, so fractional lengths (weights read as counts) have a partition
        function too, which every method but 'ais' computes.
    method : {'auto', 'exact', 'ais', 'hidden_ais'}, default 'auto'
        'exact' enumerates the ``2^n_hidden`` hidden states once for every length (up to
        2^25; ``F_D(h) = D F_1(h)``, so one enumeration serves all lengths, as
        :func:`~deepbelief.evaluation.exact_log_partition` of each length's model would
        give them); 'ais' runs
        Annealed Importance Sampling (:func:`~deepbelief.evaluation.ais_log_partition`)
        with ``n_runs`` runs per length, whole lengths only; 'hidden_ais' anneals the
        hidden units alone (:func:`hidden_ais_log_partition`), any length; 'auto' is
        exact up to 20 hidden units, else 'ais' for whole lengths and 'hidden_ais' for
        fractional ones (the same generator, the whole lengths first: with whole lengths
        only, 'auto' and 'ais' give the same numbers).
    n_runs : int, default 100
        AIS runs per length ('hidden_ais': runs shared by every length).
    betas : sequence of float, optional
        AIS inverse temperatures (default: the 14,501 of Salakhutdinov & Murray, 2008;
        for 'hidden_ais', see :func:`hidden_ais_log_partition`).
    base : {'data', 'uniform'}, default 'data'
        AIS base-rate model: visible biases at the log word frequencies of ``data`` (one
        base model for every length: its visible units at length ``D`` are ``D`` draws
        from them), or zero. 'hidden_ais' needs none (the words are summed out).
    data : array-like or sparse matrix of counts, optional
        Documents for the base-rate model (without it the base model is uniform).
    random_state : int, generator or None
        Seeds the AIS runs.

    Returns
    -------
    DocumentPartition

    Raises
    ------
    ValueError
        For negative or non-finite lengths, fractional lengths with 'ais', an unknown
        method, or 'exact' with more than 25 hidden units.

    Examples
    --------
    With zero parameters ``Z_D = 2^n_hidden K^D``:

    >>> rsm = ReplicatedSoftmaxModule(5, 3)
    >>> part = document_log_partition(rsm, [0, 2])
    >>> bool(np.allclose(part.log_z, [3 * math.log(2), 3 * math.log(2) + 2 * math.log(5)]))
    True
    """
    rsm = as_rsm(model, "document_log_partition")
    distinct = _lengths_of(lengths)
    whole = distinct == np.round(distinct)
    if method not in ("auto", "exact", "ais", "hidden_ais"):
        raise ValueError("method must be 'auto', 'exact', 'ais' or 'hidden_ais', got "
                         f"{method!r}.")
    if method == "auto":
        method = ("exact" if rsm.n_hidden <= EXACT_HIDDEN else "ais" if whole.all() else
                  "ais+hidden_ais" if whole.any() else "hidden_ais")
    if method == "exact":
        log_z = _exact_log_partitions(rsm, distinct)
        return DocumentPartition(distinct, log_z, log_z, log_z, "exact")
    if method == "hidden_ais":
        return hidden_ais_log_partition(rsm, distinct, n_runs=n_runs, betas=betas,
                                        random_state=random_state)
    if method == "ais" and not whole.all():
        raise ValueError("AIS over the words draws D words per document, so it needs "
                         "whole-number lengths (word counts); for fractional counts use "
                         "method='hidden_ais' (AIS over the hidden units, any length; or "
                         "'auto', which takes it or the exact sum) or method='exact' (at "
                         "most 25 hidden units). "
                         "ReplicatedSoftmaxRBM takes the same values as partition=.")
    _check_runs(n_runs)
    generator = _make_generator(random_state, rsm.weight.device)
    words = _word_ais(rsm, distinct[whole], n_runs, betas, base, data, generator)
    if whole.all():
        return words
    hidden = hidden_ais_log_partition(rsm, distinct[~whole], n_runs=n_runs, betas=betas,
                                      random_state=generator)
    order = np.argsort(np.concatenate([words.lengths, hidden.lengths]), kind="stable")
    columns = (np.concatenate([getattr(words, name), getattr(hidden, name)])[order]
               for name in ("lengths", "log_z", "log_z_low", "log_z_high"))
    return DocumentPartition(*columns, method)


def _check_runs(n_runs) -> None:
    if isinstance(n_runs, bool) or not isinstance(n_runs, int) or n_runs < 1:
        raise ValueError(f"n_runs must be a positive integer, got {n_runs!r}.")


def _word_ais(rsm: ReplicatedSoftmaxModule, distinct: np.ndarray, n_runs: int, betas, base,
              data, generator: torch.Generator) -> DocumentPartition:
    """``log Z_D`` of the whole lengths ``distinct`` by AIS over the words and hidden units
    (``document_log_partition``'s 'ais'), the runs of every length in batches."""
    if distinct.size == 0:
        return _estimates(distinct, [], [], "ais")
    if data is not None and hasattr(data, "toarray"):
        data = np.asarray(data.sum(axis=0), dtype=np.float64)  # the word totals suffice
    device = rsm.weight.device
    a_base = _base_visible_bias(rsm.at_length(1), base, data, device, rsm.weight.dtype)
    log_z_base_word = float(torch.logsumexp(a_base.double(), 0))
    per_group = max(1, MAX_AIS_ROWS // n_runs)
    base_log_z, log_weights = [], []
    for lo in range(0, distinct.size, per_group):
        group = torch.as_tensor(distinct[lo:lo + per_group], device=device)
        view = rsm.at_length(group.repeat_interleave(n_runs).to(rsm.weight.dtype))
        run = ais_log_partition(view, n_runs=view.visible.length.numel(), betas=betas,
                                base=base, data=data, random_state=generator)
        base_log_z += [d * log_z_base_word + rsm.n_hidden * math.log(2.0)
                       for d in group.tolist()]
        log_weights += list(torch.from_numpy(run.log_weights).view(-1, n_runs))
    return _estimates(distinct, base_log_z, log_weights, "ais")


def _estimates(lengths: np.ndarray, base_log_z: Sequence[float], log_weights,
               method: str) -> DocumentPartition:
    """The partition of AIS runs: ``log Z_D`` and its bounds for each of ``lengths``, from
    its base model's ``log Z`` and its runs' log weights (a 1-D tensor per length)."""
    results = [[z0 + x for x in _log_mean_and_bounds(log_w)]
               for z0, log_w in zip(base_log_z, log_weights, strict=True)]
    log_z, low, high = np.array(results, dtype=np.float64).reshape(-1, 3).T
    return DocumentPartition(lengths, log_z, low, high, method)


@torch.no_grad()
def hidden_ais_log_partition(
    model: Any,
    lengths,
    *,
    n_runs: int = 100,
    betas: Sequence[float] | np.ndarray | None = None,
    random_state: RandomState = None,
) -> DocumentPartition:
    """``log Z_D`` of a replicated softmax for every length ``D`` asked, whole or
    fractional, by Annealed Importance Sampling of the hidden units alone.

    The words of a document are summed out exactly, ``Z_D = Σ_h exp(D g_1(h))`` with
    ``g_1(h) = b·h + log Σ_k exp(a_k + W_k·h)`` (Salakhutdinov & Hinton, 2009), which holds
    ``D`` as a number. ``n_runs`` runs climb the document length ``t`` from 0 (fair coins,
    ``log Z_0 = n_hidden log 2``) to the longest length, one Metropolis flip of one hidden
    unit per rung, and each length is read when the runs pass it (Neal, 2001; details in
    :mod:`deepbelief.evaluation.hidden_ais`). A length's estimate is unbiased in ``Z_D``
    with the ``log(Ẑ ∓ 3σ̂)`` bounds of :func:`~deepbelief.evaluation.ais_log_partition`;
    the lengths share their runs, so their errors are correlated. The work is in float64
    and does not grow with the number of lengths.

    Parameters
    ----------
    model : ReplicatedSoftmaxModule or fitted ReplicatedSoftmaxRBM
    lengths : sequence of numbers, or array-like / sparse matrix of counts (n_documents, K)
        The lengths, or documents whose lengths (row sums) to take.
    n_runs : int, default 100
        Annealing runs (shared by every length).
    betas : sequence of float, optional
        Rungs as fractions of the longest length, from exactly 0 to exactly 1 (each length
        asked is added). Default: 14,501 rungs spaced geometrically in the length, from
        ``10⁻³`` of the shortest positive length (at most ``10⁻³``) to the longest.
    random_state : int, generator or None
        Seeds the runs (a torch.Generator on the model's device is used as is).

    Returns
    -------
    DocumentPartition
        ``method='hidden_ais'``; ``lengths`` (n_lengths,), the distinct lengths.

    Raises
    ------
    ValueError
        For negative or non-finite lengths, ``n_runs`` below 1 or invalid ``betas``.

    References
    ----------
    R. Salakhutdinov and G. E. Hinton, "Replicated Softmax: an Undirected Topic Model",
    NIPS 2009. R. M. Neal, "Annealed importance sampling", Statistics and Computing 11,
    2001.

    Examples
    --------
    With zero weights the hidden units are independent and ``log Z_D`` is
    ``D log Σ_k exp(a_k) + Σ_j log(1 + exp(D b_j))``; the estimate at ``D = 2.5``:

    >>> rsm = ReplicatedSoftmaxModule(4, 3)
    >>> _ = rsm.hidden_bias.data.fill_(0.2)
    >>> part = hidden_ais_log_partition(rsm, [2.5], n_runs=50, random_state=0)
    >>> exact = 2.5 * math.log(4) + 3 * math.log1p(math.exp(0.5))
    >>> part.method, bool(abs(part.log_z[0] - exact) < 0.01)
    ('hidden_ais', True)
    """
    rsm = as_rsm(model, "hidden_ais_log_partition")
    distinct = _lengths_of(lengths)
    _check_runs(n_runs)
    generator = _make_generator(random_state, rsm.weight.device)
    ladder = length_ladder(distinct, None if betas is None else _check_betas(betas))
    log_w = hidden_annealing(_float64_copy(rsm), ladder, np.searchsorted(ladder, distinct),
                             n_runs, generator).cpu()
    base_log_z = [rsm.n_hidden * math.log(2.0)] * distinct.size
    return _estimates(distinct, base_log_z, list(log_w), "hidden_ais")


def _exact_log_partitions(rsm: ReplicatedSoftmaxModule, lengths: np.ndarray) -> np.ndarray:
    """``log Z_D`` for every length at once, by one enumeration of the hidden states.

    ``F_D(h) = D F_1(h)`` (the free energy of ``h`` at length ``D`` is ``D`` times that at
    length 1), so ``log Z_D = log Σ_h exp(-D F_1(h))``: the hidden states are enumerated
    once, in float64, whatever the number of lengths (``exact_log_partition`` of
    :meth:`~ReplicatedSoftmaxModule.at_length` gives the same, one length at a time).
    """
    if rsm.n_hidden > MAX_EXACT_UNITS:
        raise ValueError(f"the exact partition function enumerates the 2^{rsm.n_hidden} "
                         f"hidden states; it enumerates at most 2^{MAX_EXACT_UNITS}: use "
                         "method='ais'.")
    model = _float64_copy(rsm)
    device = model.weight.device
    scale = torch.as_tensor(lengths, dtype=torch.float64, device=device).unsqueeze(1)
    total = 1 << model.n_hidden
    chunk = max(1024, (1 << 22) // max(len(lengths), 1))  # chunk × lengths values at once
    parts = []
    for start in range(0, total, chunk):
        index = torch.arange(start, min(start + chunk, total), device=device)
        states = model.hidden.states(index, model.n_hidden, torch.float64)
        parts.append(torch.logsumexp(-scale * model.free_energy_hidden(states, 1), dim=1))
    return torch.logsumexp(torch.stack(parts, 1), dim=1).cpu().numpy()


def _float64_copy(rsm: ReplicatedSoftmaxModule) -> ReplicatedSoftmaxModule:
    copy = ReplicatedSoftmaxModule(rsm.n_visible, rsm.n_hidden,
                                   device=_wide_device(rsm.weight.device), dtype=torch.float64)
    copy.load_state_dict(rsm.state_dict())
    return copy.requires_grad_(False)


def _documents(X, n_visible: int, device: torch.device) -> Iterator[torch.Tensor]:
    """The rows of ``X`` (dense or sparse counts), a chunk at a time, as float64 tensors on
    ``device``, checked (shape, finite, non-negative)."""
    if not hasattr(X, "toarray"):
        X = torch.as_tensor(np.asarray(X) if not isinstance(X, torch.Tensor) else X)
    if len(X.shape) != 2 or X.shape[1] != n_visible:
        raise ValueError(f"X must have shape (n_documents, {n_visible}) (counts of the "
                         f"model's vocabulary), got {tuple(X.shape)}.")
    for chunk in row_chunks(X, 4096, device):
        chunk = chunk.to(device=device, dtype=torch.float64)
        if not bool(torch.isfinite(chunk).all()) or bool((chunk < 0).any()):
            raise ValueError("X must hold word counts: finite, non-negative values.")
        yield chunk


@torch.no_grad()
def document_log_likelihood(model: Any, X, partition: DocumentPartition) -> np.ndarray:
    """``log p(V) = -F(v) - log Z_D`` of each document (its words in one order), in float64.

    Parameters
    ----------
    model : ReplicatedSoftmaxModule or fitted ReplicatedSoftmaxRBM
    X : array-like or sparse matrix of shape (n_documents, K)
        Word counts, read a chunk of rows at a time.
    partition : DocumentPartition
        ``log Z_D`` for (at least) the lengths of ``X``'s documents
        (:func:`document_log_partition`).

    Returns
    -------
    numpy.ndarray of shape (n_documents,)
        Add ``log D! - Σ_k log v_k!`` for the probability of the count vector.

    Raises
    ------
    KeyError
        If ``partition`` lacks the length of a document.
    ValueError
        If ``X`` has the wrong number of columns or holds negative or non-finite values.
    """
    rsm = _float64_copy(as_rsm(model, "document_log_likelihood"))
    out = []
    for v in _documents(X, rsm.n_visible, rsm.weight.device):
        log_z = partition.of(document_lengths(v).cpu().numpy())
        out.append(-rsm.free_energy(v).cpu().numpy() - log_z)
    return np.concatenate(out)


def document_perplexity(model: Any, X, partition: DocumentPartition) -> float:
    """Per-word perplexity ``exp(-Σ_n log p(v_n) / Σ_n D_n)`` of the documents ``X``.

    With an AIS partition function the perplexity is itself an estimate, optimistic (too
    low) when the annealing is too short. Documents without words count for nothing.

    Raises
    ------
    ValueError
        If ``X`` holds no word.

    Examples
    --------
    An untrained model (zero parameters) gives every word of a vocabulary of 5 the
    probability 1/5:

    >>> rsm = ReplicatedSoftmaxModule(5, 3)
    >>> X = np.array([[2, 0, 1, 0, 0], [0, 0, 0, 4, 1]])
    >>> round(document_perplexity(rsm, X, document_log_partition(rsm, X)), 6)
    5.0
    """
    log_p = document_log_likelihood(model, X, partition)
    n_words = float(np.asarray(X.sum()))
    if n_words <= 0:
        raise ValueError("the documents hold no word: the perplexity is not defined.")
    return float(np.exp(-log_p.sum() / n_words))
