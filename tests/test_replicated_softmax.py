"""The Replicated Softmax layer against enumeration on tiny vocabularies: free energies,
conditionals, samples and partition functions per document length, AIS against the exact
partition functions, the layer protocol, and learning."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from deepbelief.core.layers import build_layer
from deepbelief.core.rbm import RBMModule
from deepbelief.core.replicated_softmax import (
    ReplicatedSoftmax,
    ReplicatedSoftmaxModule,
    multinomial_counts,
)
from deepbelief.core.units import unit_type
from deepbelief.evaluation import exact_log_partition
from deepbelief.evaluation.documents import (
    document_log_likelihood,
    document_log_partition,
    document_perplexity,
)
from deepbelief.learning.replicated_softmax import ReplicatedSoftmaxObjective

LENGTHS = (0, 1, 2, 4)


def _model(n_words: int = 3, n_hidden: int = 2, seed: int = 0) -> ReplicatedSoftmaxModule:
    g = torch.Generator().manual_seed(seed)
    rsm = ReplicatedSoftmaxModule(n_words, n_hidden, dtype=torch.float64)
    with torch.no_grad():
        rsm.weight.copy_(torch.randn(n_words, n_hidden, generator=g, dtype=torch.float64))
        rsm.visible_bias.copy_(torch.randn(n_words, generator=g, dtype=torch.float64))
        rsm.hidden_bias.copy_(0.5 * torch.randn(n_hidden, generator=g, dtype=torch.float64))
    return rsm.requires_grad_(False)


def _hidden_states(n_hidden: int) -> torch.Tensor:
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=n_hidden)),
                        dtype=torch.float64).reshape(-1, n_hidden)


def _energy(rsm, words: tuple[int, ...], h: torch.Tensor) -> torch.Tensor:
    """The paper's energy of one ordered word sequence, written out word by word."""
    a, b, W = rsm.visible_bias, rsm.hidden_bias, rsm.weight
    total = -len(words) * (b * h).sum(-1)
    for w in words:
        total = total - a[w] - (W[w] * h).sum(-1)
    return total


def _counts(words: tuple[int, ...], n_words: int) -> torch.Tensor:
    v = torch.zeros(n_words, dtype=torch.float64)
    for w in words:
        v[w] += 1
    return v


def _sequences(n_words: int, length: int):
    return itertools.product(range(n_words), repeat=length)


@pytest.mark.parametrize("length", LENGTHS)
def test_free_energy_and_hidden_conditional_against_enumeration(length):
    """F(v) and p(h | v) equal sums over the hidden states of the energy of the words."""
    rsm, hs = _model(), _hidden_states(2)
    for words in _sequences(3, length):
        v = _counts(words, 3)
        minus_e = -_energy(rsm, words, hs)  # (4,) over the hidden states
        free = -torch.logsumexp(minus_e, 0)
        assert torch.allclose(rsm.free_energy(v[None])[0], free, atol=1e-12)
        p_h = torch.softmax(minus_e, 0)
        assert torch.allclose(rsm.hidden_mean(v[None])[0], p_h @ hs, atol=1e-12)
        assert torch.allclose(rsm.energy(v[None].expand(4, 3), hs), -minus_e, atol=1e-12)


@pytest.mark.parametrize("length", [1, 2, 4])
def test_visible_conditional_and_hidden_free_energy_against_enumeration(length):
    """E[v | h] and F(h) at length D equal sums over the D-word sequences."""
    rsm, hs = _model(), _hidden_states(2)
    seqs = list(_sequences(3, length))
    counts = torch.stack([_counts(s, 3) for s in seqs])
    minus_e = torch.stack([-_energy(rsm, s, hs) for s in seqs])  # (sequences, hidden states)
    p_v_given_h = torch.softmax(minus_e, 0)
    assert torch.allclose(rsm.visible_mean(hs, length), p_v_given_h.t() @ counts, atol=1e-12)
    assert torch.allclose(rsm.free_energy_hidden(hs, length), -torch.logsumexp(minus_e, 0),
                          atol=1e-12)


@pytest.mark.parametrize("length", LENGTHS)
def test_exact_log_partition_per_length_against_enumeration(length):
    """log Z_D over every sequence and hidden state: the one-pass enumeration of all
    lengths, and the plain RBM of each length (at_length) through exact_log_partition."""
    rsm, hs = _model(), _hidden_states(2)
    brute = torch.logsumexp(torch.stack([-_energy(rsm, s, hs) for s in _sequences(3, length)]
                                        ).reshape(-1), 0)
    part = document_log_partition(rsm, [length], method="exact")
    assert part.log_z[0] == pytest.approx(float(brute), abs=1e-10)
    assert exact_log_partition(rsm.at_length(length)) == pytest.approx(float(brute), abs=1e-10)


def test_at_length_one_is_a_softmax_rbm():
    """One-word documents: the replicated softmax is an RBM with one softmax group."""
    rsm = _model(5, 3)
    rbm = RBMModule(5, 3, "softmax", dtype=torch.float64)
    rbm.load_state_dict(rsm.state_dict())
    v = torch.eye(5, dtype=torch.float64)
    assert torch.allclose(rsm.free_energy(v), rbm.free_energy(v))
    assert document_log_partition(rsm, [1]).log_z[0] == pytest.approx(exact_log_partition(rbm))


def test_document_log_likelihood_sums_to_one_over_sequences():
    """p(V) over all ordered sequences of a length sums to 1 (probabilities of the words
    in one order)."""
    rsm = _model()
    seqs = list(_sequences(3, 3))
    X = torch.stack([_counts(s, 3) for s in seqs]).numpy()
    log_p = document_log_likelihood(rsm, X, document_log_partition(rsm, X))
    assert np.exp(log_p).sum() == pytest.approx(1.0, abs=1e-10)


@pytest.mark.parametrize("n_words", [2, 5])
def test_multinomial_counts_match_the_word_distribution(n_words):
    """D words from softmax(f): counts sum to D and their mean is D p."""
    g = torch.Generator().manual_seed(0)
    probs = torch.softmax(torch.randn(1, n_words, generator=g, dtype=torch.float64), -1)
    lengths = torch.tensor([0, 1, 7, 30]).repeat_interleave(5000)
    counts = multinomial_counts(probs.expand(len(lengths), n_words), lengths, g)
    assert torch.equal(counts.sum(-1), lengths.to(counts.dtype))
    for d in (1, 7, 30):
        mean = counts[lengths == d].mean(0)
        spread = (d * probs[0] * (1 - probs[0]) / 5000).sqrt()
        assert torch.all((mean - d * probs[0]).abs() < 5 * spread)


def test_sampled_documents_follow_the_exact_conditional():
    """Counts drawn by sample_visible have the frequencies p(v | h) of enumeration."""
    rsm = _model()
    h = torch.tensor([[1.0, 0.0]], dtype=torch.float64).expand(20000, 2)
    _, v = rsm.sample_visible(h, torch.Generator().manual_seed(1), 2)
    seqs = list(_sequences(3, 2))
    minus_e = torch.stack([-_energy(rsm, s, h[0]) for s in seqs])
    p = torch.softmax(minus_e, 0)
    for s, p_s in zip(seqs, p, strict=True):
        if s[0] <= s[1]:  # one count vector per unordered pair
            c = _counts(s, 3)
            p_c = p_s * (2 if s[0] != s[1] else 1)
            freq = (v == c).all(-1).double().mean()
            assert abs(float(freq - p_c)) < 5 * math.sqrt(float(p_c * (1 - p_c)) / 20000)


@pytest.mark.parametrize("length", [1, 3, 7, 12])
def test_ais_within_five_hundredths_of_a_nat_of_exact_log_z(length):
    """AIS per document length, all lengths in one batch, against the exact log Z_D."""
    g = torch.Generator().manual_seed(3)
    rsm = ReplicatedSoftmaxModule(20, 8)
    with torch.no_grad():
        rsm.weight.copy_(0.3 * torch.randn(20, 8, generator=g))
        rsm.visible_bias.copy_(torch.randn(20, generator=g))
        rsm.hidden_bias.copy_(0.2 * torch.randn(8, generator=g))
    lengths = [1, 3, 7, 12]
    exact = document_log_partition(rsm, lengths, method="exact")
    ais = _AIS.setdefault("run", document_log_partition(
        rsm, lengths, method="ais", n_runs=100, betas=np.linspace(0, 1, 1500), random_state=0))
    i = lengths.index(length)
    assert abs(ais.log_z[i] - exact.log_z[i]) < 0.05
    assert ais.log_z_low[i] <= ais.log_z[i] <= ais.log_z_high[i]


_AIS: dict = {}  # the AIS batch of every length, run once for the four cases


def test_zero_length_documents_have_probability_one():
    """A document without words: log Z_0 = n_hidden log 2 and log p = 0."""
    rsm = _model()
    X = np.zeros((2, 3))
    part = document_log_partition(rsm, X, method="ais", n_runs=4, betas=[0.0, 0.5, 1.0],
                                  random_state=0)
    assert part.log_z[0] == pytest.approx(2 * math.log(2))
    assert np.allclose(document_log_likelihood(rsm, X, part), 0.0)


def test_ais_refuses_fractional_lengths_and_exact_takes_them():
    """Weights read as counts: AIS cannot draw 2.5 words, the exact sum can hold D = 2.5."""
    rsm = _model()
    with pytest.raises(ValueError, match="method='exact'"):
        document_log_partition(rsm, [2.5], method="ais")
    exact = document_log_partition(rsm, [2.5], method="exact")
    assert exact.log_z[0] == pytest.approx(exact_log_partition(rsm.at_length(2.5)))


def test_missing_length_is_named():
    rsm = _model()
    part = document_log_partition(rsm, [1, 2])
    with pytest.raises(KeyError, match=r"\[3.0\]"):
        document_log_likelihood(rsm, np.array([[1, 1, 1]]), part)


def test_layer_protocol_unrolls_and_rebuilds():
    """The up pass is the linear map v (W + 1 bᵀ) then a sigmoid; files rebuild the layer."""
    rsm = _model(6, 4).float()
    v = torch.poisson(torch.full((5, 6), 2.0), generator=torch.Generator().manual_seed(0))
    weight_t, bias = rsm.unrolled()
    assert torch.allclose(torch.sigmoid(v @ weight_t.t() + bias), rsm.hidden_mean(v))
    copy = build_layer(rsm.layer_config(), rsm.state_dict())
    assert isinstance(copy, ReplicatedSoftmaxModule)
    assert torch.equal(copy.hidden_mean(v), rsm.hidden_mean(v))
    assert unit_type("replicated_softmax") == ReplicatedSoftmax()


def test_gibbs_keeps_each_document_length():
    rsm = _model(6, 4)
    v = torch.tensor([[3.0, 0, 0, 1, 0, 0], [0, 0, 0, 0, 0, 0], [1, 1, 1, 1, 1, 9]],
                     dtype=torch.float64)
    out = rsm.gibbs(v, 3, torch.Generator().manual_seed(0))
    assert torch.equal(out.sum(-1), v.sum(-1))


@pytest.mark.parametrize(("method", "rate"), [("cd", 0.01), ("pcd", 0.003)])
def test_training_lowers_the_exact_perplexity_of_held_out_documents(method, rate):
    """CD-1 and PCD-1 on documents from two topics: held-out perplexity (exact) falls
    well below that of the word frequencies alone (PCD's chains, stuck in one topic at a
    time, oscillate at CD's step: it takes a smaller one)."""
    g = torch.Generator().manual_seed(0)
    topics = torch.tensor([[0.3, 0.3, 0.3, 0.05, 0.05, 0, 0, 0],
                           [0, 0, 0, 0.05, 0.05, 0.3, 0.3, 0.3]])
    which = torch.randint(0, 2, (600,), generator=g)
    docs = torch.stack([torch.multinomial(topics[t], 10, replacement=True,
                                          generator=g).bincount(minlength=8) for t in which])
    docs = docs.float()
    train, test = docs[:500], docs[500:]
    rsm = ReplicatedSoftmaxModule(8, 4)
    rsm.reset_parameters(g, data_mean=train.mean(0))
    before = document_perplexity(rsm, test.numpy(), document_log_partition(rsm, test))
    objective = ReplicatedSoftmaxObjective(rsm, method)
    optimizer = torch.optim.SGD(rsm.parameters(), lr=rate, momentum=0.5)
    for _ in range(30):
        for batch in train.split(20):
            objective.gradients_((batch,), g)
            optimizer.step()
    after = document_perplexity(rsm, test.numpy(), document_log_partition(rsm, test))
    # the word frequencies: about 6.8; knowing each document's topic: exp(1.383) = 3.99
    assert after < 0.8 * before
    assert after > 3.5


def test_stacks_under_binary_layers_and_unrolls_into_a_network():
    """The layer protocol: pretrain_stack trains a replicated softmax under an RBM from a
    sparse count matrix, and the unrolled feed-forward network computes the stack's up
    pass (the classifier's and transformer's path once they accept word counts)."""
    from scipy import sparse

    from deepbelief.core.network import FeedForwardDBN
    from deepbelief.core.stack import up_pass
    from deepbelief.training.greedy import RBMConfig, pretrain_stack
    from deepbelief.training.replicated_softmax_spec import ReplicatedSoftmaxConfig
    from deepbelief.training.sources import SparseSource

    g = torch.Generator().manual_seed(0)
    counts = sparse.csr_matrix(torch.poisson(torch.full((60, 15), 0.7), generator=g).numpy())
    layers, histories = pretrain_stack(
        SparseSource(counts), [ReplicatedSoftmaxConfig(8, epochs=2), RBMConfig(4, epochs=2)], g)
    assert [layer.kind for layer in layers] == ["replicated_softmax", "rbm"]
    assert len(histories[0]) == 2 and "reconstruction_perplexity" in histories[0][0]
    net = FeedForwardDBN.from_rbms(layers, 3, generator=g)
    x = torch.from_numpy(counts.toarray())
    assert torch.allclose(net.features(x), up_pass(layers, counts), atol=1e-6)
    with pytest.raises(ValueError, match="bottom layer"):
        ReplicatedSoftmaxConfig(4).stacked_on(RBMConfig(8))
