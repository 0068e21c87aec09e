"""``log Z_D`` of a replicated softmax at fractional document lengths: AIS over the hidden
units alone (``hidden_ais_log_partition``) against the enumeration of the hidden marginal,
whole lengths left on AIS over the words, and the estimator scoring weighted counts.

Statistical tolerances: each estimate comes with ``log(Ẑ ∓ 3σ̂)`` bounds from 100 runs, a
nominal 99.7% interval (the mean of 100 weights is close to normal), so among the 20
intervals of a test (4 lengths × 5 seeds) about 0.06 are expected to miss: one miss is
allowed, two would happen with probability below 0.2% if the bounds were right. The mean
of the 5 seeds' ``log Ẑ`` must lie within 0.05 nats of the truth: on these models the
seeds' estimates have a standard deviation of at most 0.022 (measured), so their mean one
of 0.01, five of which is the tolerance; ``log Ẑ``'s bias (``-Var(Ẑ/Z)/2``, 0.0002 here)
is negligible.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from deepbelief import ReplicatedSoftmaxRBM
from deepbelief.core.replicated_softmax import ReplicatedSoftmaxModule
from deepbelief.evaluation.documents import (
    document_log_partition,
    hidden_ais_log_partition,
)

LENGTHS = [2.5, 3.0, 6.3, 7.0]  # fractional and whole, read together from one set of runs


def _model(n_words: int, n_hidden: int, seed: int, scale: float = 1.0):
    g = torch.Generator().manual_seed(seed)
    rsm = ReplicatedSoftmaxModule(n_words, n_hidden, dtype=torch.float64)
    with torch.no_grad():
        rsm.weight.copy_(scale * torch.randn(n_words, n_hidden, generator=g,
                                             dtype=torch.float64))
        rsm.visible_bias.copy_(torch.randn(n_words, generator=g, dtype=torch.float64))
        rsm.hidden_bias.copy_(0.5 * torch.randn(n_hidden, generator=g, dtype=torch.float64))
    return rsm.requires_grad_(False)


def _enumerated_log_z(rsm: ReplicatedSoftmaxModule, length: float) -> float:
    """``log Σ_h exp(D (b·h + log Σ_k exp(a_k + W_k·h)))`` over all ``2^n_hidden`` states,
    written here from the energy, not taken from the library."""
    states = torch.tensor(list(itertools.product([0.0, 1.0], repeat=rsm.n_hidden)),
                          dtype=torch.float64)
    words = torch.logsumexp(rsm.visible_bias + states @ rsm.weight.t(), dim=1)
    return float(torch.logsumexp(length * (states @ rsm.hidden_bias + words), dim=0))


def test_hidden_marginal_sums_the_ordered_word_sequences_out():
    """For whole D, Σ over the K^D ordered word sequences and the hidden states of
    exp(-E(V, h)) is the hidden-marginal sum the annealing estimates."""
    rsm = _model(3, 3, seed=1)
    a, b, W = rsm.visible_bias, rsm.hidden_bias, rsm.weight
    for length in (2, 3):
        total = []
        for h in itertools.product([0.0, 1.0], repeat=3):
            h = torch.tensor(h, dtype=torch.float64)
            for words in itertools.product(range(3), repeat=length):
                energy = -length * (b @ h) - sum(a[w] + W[w] @ h for w in words)
                total.append(-energy)
        assert float(torch.logsumexp(torch.stack(total), 0)) == pytest.approx(
            _enumerated_log_z(rsm, length), abs=1e-10)


@pytest.mark.parametrize("scale", [1.0, 2.0])
def test_whole_and_fractional_lengths_agree_with_enumeration(scale):
    """10 hidden units, 6 words, weights of two scales: five seeds' estimates at D = 2.5,
    3, 6.3 and 7 against the enumerated log Z_D (tolerances: the module's docstring)."""
    rsm = _model(6, 10, seed=int(scale), scale=scale)
    exact = np.array([_enumerated_log_z(rsm, d) for d in LENGTHS])
    parts = [hidden_ais_log_partition(rsm, LENGTHS, random_state=seed) for seed in range(5)]
    assert all(p.method == "hidden_ais" and p.lengths.tolist() == LENGTHS for p in parts)
    misses = sum(int(((exact < p.log_z_low - 1e-9) | (exact > p.log_z_high + 1e-9)).sum())
                 for p in parts)
    assert misses <= 1
    mean = np.mean([p.log_z for p in parts], axis=0)
    assert np.abs(mean - exact).max() < 0.05
    assert np.allclose(document_log_partition(rsm, LENGTHS, method="exact").log_z, exact)


def test_rungs_given_as_fractions_of_the_longest_length_serve_shorter_lengths():
    """betas=linspace(0, 1, 3000) are rungs of the longest length (9.5); 0.4 and 0 are
    read on the way, 0 exactly (n_hidden log 2)."""
    rsm = _model(6, 8, seed=3, scale=1.5)
    lengths = [0.0, 0.4, 9.5]
    part = hidden_ais_log_partition(rsm, lengths, betas=np.linspace(0, 1, 3000),
                                    random_state=0)
    assert part.log_z[0] == 8 * math.log(2.0)
    for i, d in enumerate(lengths):
        exact = _enumerated_log_z(rsm, d)
        assert part.log_z_low[i] - 1e-9 <= exact <= part.log_z_high[i] + 1e-9
        assert abs(part.log_z[i] - exact) < 0.05


def test_one_step_is_importance_sampling_from_fair_coins():
    """betas=[0, 1]: no annealing, Ẑ is the mean of exp(g_D(h)) over fair coins times
    2^n_hidden; with 100,000 runs on 3 hidden units it is within 0.01 of the truth (σ̂ of
    log Ẑ is 0.0025 here: four of them; coins of bias 0.3 would be 0.3 off)."""
    rsm = _model(3, 3, seed=2)
    part = hidden_ais_log_partition(rsm, [1.5], n_runs=100_000, betas=[0.0, 1.0],
                                    random_state=0)
    exact = _enumerated_log_z(rsm, 1.5)
    assert abs(part.log_z[0] - exact) < 0.01
    assert part.log_z_low[0] <= exact <= part.log_z_high[0]


def test_auto_keeps_whole_lengths_on_word_ais_and_anneals_fractional_ones():
    """21 hidden units (above the exact limit of 'auto'): whole lengths alone give 'ais''s
    numbers; mixed with fractional ones they are unchanged, and the fractional ones come
    from the hidden annealing, close to the exact sum."""
    rsm = _model(5, 21, seed=4, scale=0.5)
    betas = np.linspace(0, 1, 4000)
    whole = document_log_partition(rsm, [3, 7], method="auto", betas=betas, random_state=0)
    words = document_log_partition(rsm, [3, 7], method="ais", betas=betas, random_state=0)
    assert whole.method == words.method == "ais"
    assert np.array_equal(whole.log_z, words.log_z)
    mixed = document_log_partition(rsm, [7, 2.5, 3, 6.3], betas=betas, random_state=0)
    assert mixed.method == "ais+hidden_ais"
    assert mixed.lengths.tolist() == [2.5, 3.0, 6.3, 7.0]
    assert np.array_equal(mixed.log_z[[1, 3]], words.log_z)
    exact = document_log_partition(rsm, [2.5, 6.3], method="exact").log_z
    assert (mixed.log_z_low[[0, 2]] <= exact).all() and (exact <= mixed.log_z_high[[0, 2]]).all()
    assert np.abs(mixed.log_z[[0, 2]] - exact).max() < 0.1


def test_seeded_runs_repeat_and_leave_the_global_generators_alone():
    """The same random_state gives the same numbers; another gives others; neither
    torch's nor numpy's global generator moves."""
    rsm = _model(4, 6, seed=5)
    numpy_state = np.random.get_state()[1].copy()  # noqa: NPY002 (the global one)
    torch_state = torch.get_rng_state()
    first = hidden_ais_log_partition(rsm, [1.5, 4.2], n_runs=20, random_state=7)
    again = hidden_ais_log_partition(rsm, [1.5, 4.2], n_runs=20, random_state=7)
    other = hidden_ais_log_partition(rsm, [1.5, 4.2], n_runs=20, random_state=8)
    assert np.array_equal(first.log_z, again.log_z)
    assert not np.array_equal(first.log_z, other.log_z)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert np.array_equal(np.random.get_state()[1], numpy_state)  # noqa: NPY002


def test_word_ais_on_fractional_lengths_points_to_hidden_ais_which_works():
    """method='ais' cannot draw 2.5 words; its advice (method='hidden_ais', on the
    estimator partition='hidden_ais') gives the estimate."""
    rsm = _model(4, 6, seed=6)
    with pytest.raises(ValueError, match="method='hidden_ais'") as error:
        document_log_partition(rsm, [2.5], method="ais")
    assert "partition=" in str(error.value)
    part = document_log_partition(rsm, [2.5], method="hidden_ais", n_runs=50, random_state=0)
    assert abs(part.log_z[0] - _enumerated_log_z(rsm, 2.5)) < 0.05
    X = np.random.default_rng(0).uniform(size=(20, 4))
    est = ReplicatedSoftmaxRBM(6, n_iter=2, partition="ais", ais_betas=500,
                               random_state=0, device="cpu").fit(X)
    with pytest.raises(ValueError, match="partition="):
        est.score(X)
    assert np.isfinite(est.set_params(partition="hidden_ais").score(X))


def test_estimator_scores_weighted_counts_as_the_exact_sum_does():
    """Fractional counts (weights read as counts) under 21 hidden units: the default
    partition='auto' anneals the hidden units, and the score per word matches the exact
    enumeration's; the same random_state repeats it."""
    rng = np.random.default_rng(1)
    X = (rng.poisson(1.0, size=(40, 8)) + 0.5) * rng.uniform(0.3, 1.0, size=(40, 8))
    est = ReplicatedSoftmaxRBM(21, n_iter=5, ais_runs=50, ais_betas=2000, random_state=0,
                               device="cpu").fit(X)
    assert len(np.unique(X.sum(1))) == 40  # every document its own length
    score = est.score(X)
    assert est.score(X) == score
    assert est.log_partition(X).method == "hidden_ais"
    exact = est.set_params(partition="exact").score(X)
    assert abs(score - exact) < 0.01  # nats per word (documents of ~10 words)


def test_long_documents_and_many_hidden_units_stay_finite():
    """50 hidden units (the default) and a fractional document of 800.5 words: the
    estimate is finite and within its bounds."""
    rsm = _model(30, 50, seed=7, scale=0.3)
    part = hidden_ais_log_partition(rsm, [0.5, 800.5], n_runs=20,
                                    betas=np.linspace(0, 1, 2000), random_state=0)
    assert np.isfinite(part.log_z).all()
    assert (part.log_z_low <= part.log_z).all() and (part.log_z <= part.log_z_high).all()
    assert part.log_z[1] > 800.5 * float(torch.logsumexp(rsm.visible_bias, 0))
