"""Sample-quality measures (deepbelief.evaluation.sample_quality) on known distributions.

Mode coverage of a classifier's histogram (uniform, degenerate, a few modes), the unbiased
kernel MMD (about 0 for one distribution, on average exactly so; large for two apart;
equal to the formula written out), and the nearest-neighbour adversarial accuracy AATS
(about 0.5 for one distribution, 1 for disjoint sets, about 0 for copies; equal to the
pooled-matrix computation of the rbms package).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.neighbors import KNeighborsClassifier

from deepbelief.datasets import load_digits
from deepbelief.evaluation import (
    adversarial_accuracy,
    class_coverage,
    histogram_entropy,
    kernel_mmd,
    median_bandwidth,
    sample_quality,
)


@pytest.fixture(scope="module")
def judge():
    """A classifier of the digits trained on the first 1,200 images, and the rest."""
    X, y = load_digits()
    model = KNeighborsClassifier(3).fit(X[:1200], y[:1200])
    return model, X[1200:], y[1200:]


# -- the histogram and its entropy -------------------------------------------------------------
def test_a_uniform_histogram_has_full_coverage_and_a_degenerate_one_none():
    assert histogram_entropy([7, 7, 7]) == pytest.approx(1.0)
    assert histogram_entropy([0, 9, 0]) == 0.0
    assert histogram_entropy([4]) == 0.0
    expected = -(0.5 * math.log(0.5) + 2 * 0.25 * math.log(0.25))
    assert histogram_entropy([2, 1, 1], normalise=False) == pytest.approx(expected)
    assert histogram_entropy([2, 1, 1]) == pytest.approx(expected / math.log(3))


@pytest.mark.parametrize("counts", [[], [1, -1], [0, 0]])
def test_histograms_without_mass_are_refused(counts):
    with pytest.raises(ValueError, match="non-negative and not all zero"):
        histogram_entropy(counts)


def test_test_images_cover_every_digit_and_a_few_modes_do_not(judge):
    """Real images spread over the ten classes; images of three digits give log 3/log 10."""
    model, X, y = judge
    full = class_coverage(model, X)
    assert full.n_covered == 10 and full.coverage > 0.98
    assert full.counts.sum() == len(X) and full.classes.tolist() == list(range(10))
    few = X[np.isin(y, [1, 4, 7])]
    collapsed = class_coverage(model, few)
    top = np.argsort(collapsed.counts)[-3:]
    assert sorted(collapsed.classes[top].tolist()) == [1, 4, 7]
    assert collapsed.counts[top].sum() >= 0.85 * len(few)
    assert math.log(3) / math.log(10) - 0.05 < collapsed.coverage < 0.7  # a few stray votes
    single = class_coverage(model, X[y == 0])
    assert single.coverage < 0.1 and single.entropy < 0.25


class _Threshold:
    """An object with only ``predict`` (no ``classes_``)."""

    def predict(self, X):
        return np.where(np.asarray(X)[:, 0] > 0, "up", "down")


def test_a_classifier_without_classes_asks_for_them_and_the_advice_works():
    X = np.array([[1.0], [2.0], [-1.0], [3.0]])
    with pytest.raises(ValueError, match=r"pass classes=\[\.\.\.\]"):
        class_coverage(_Threshold(), X)
    result = class_coverage(_Threshold(), X, classes=["down", "up", "flat"])
    assert result.counts.tolist() == [1, 3, 0] and result.n_covered == 2
    with pytest.raises(ValueError, match=r"predicted \['up'\]"):
        class_coverage(_Threshold(), X, classes=["down"])
    with pytest.raises(TypeError, match="predict"):
        class_coverage(object(), X, classes=[0])


# -- kernel MMD ----------------------------------------------------------------------------------
def _mmd2_written_out(X, Y, sigma):
    k = lambda a, b: math.exp(-np.sum((a - b) ** 2) / (2 * sigma**2))  # noqa: E731
    n, m = len(X), len(Y)
    xx = sum(k(X[i], X[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    yy = sum(k(Y[i], Y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x, y) for x in X for y in Y) / (n * m)
    return xx + yy - 2 * xy


def test_the_mmd_is_the_unbiased_formula_in_any_chunking(monkeypatch):
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(9, 3)), rng.normal(0.5, 1, size=(7, 3))
    sigma = median_bandwidth(X, Y)
    pooled = np.vstack([X, Y])
    pairs = [np.linalg.norm(pooled[i] - pooled[j]) for i in range(16) for j in range(i + 1, 16)]
    assert sigma == pytest.approx(float(np.median(pairs)))
    expected = _mmd2_written_out(X, Y, sigma)
    assert kernel_mmd(X, Y).mmd2 == pytest.approx(expected, rel=1e-10)
    monkeypatch.setattr(sample_quality, "_CHUNK", 2)
    result = kernel_mmd(X, Y)
    assert result.mmd2 == pytest.approx(expected, rel=1e-10) and result.bandwidth == sigma
    assert kernel_mmd(X, Y, bandwidth=0.7).mmd2 == pytest.approx(
        _mmd2_written_out(X, Y, 0.7), rel=1e-10)


def test_the_mmd_of_one_distribution_is_zero_on_average_and_of_two_apart_is_not():
    """Unbiased: over 60 small pairs of one distribution the mean is within noise of 0."""
    rng = np.random.default_rng(1)
    values = [kernel_mmd(rng.random((15, 4)), rng.random((15, 4)), bandwidth=0.5).mmd2
              for _ in range(60)]
    assert abs(np.mean(values)) < 3 * np.std(values) / math.sqrt(len(values))
    same = kernel_mmd(rng.random((400, 4)), rng.random((400, 4)))
    apart = kernel_mmd(rng.random((400, 4)), rng.random((400, 4)) + 2)
    assert abs(same.mmd2) < 0.005 and apart.mmd2 > 0.5


def test_the_mmd_refuses_what_it_cannot_compare():
    with pytest.raises(ValueError, match="at least 2 rows"):
        kernel_mmd(np.zeros((1, 2)), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="same shape"):
        kernel_mmd(np.zeros((3, 2)), np.zeros((3, 4)))
    with pytest.raises(ValueError, match="bandwidth"):
        kernel_mmd(np.zeros((3, 2)), np.ones((3, 2)), bandwidth=0.0)
    with pytest.raises(ValueError, match="NaN"):
        kernel_mmd(np.full((3, 2), np.nan), np.ones((3, 2)))


# -- adversarial accuracy -----------------------------------------------------------------------
def _aats_pooled(real, generated):
    """The pooled distance matrix with columns reversed for the real rows, then argmin: the
    computation of the rbms package (its compute_aats), written out here."""
    full = torch.cat([torch.as_tensor(real), torch.as_tensor(generated)]).double()
    d = torch.cdist(full, full)
    d.fill_diagonal_(math.inf)
    d = d.numpy()
    n = len(real)
    d[:n] = d[:n, ::-1]
    closest = d.argmin(1)
    return (closest[:n] >= n).mean(), (closest[n:] >= n).mean()


def test_aats_matches_the_pooled_computation_with_its_tie_rule(monkeypatch):
    rng = np.random.default_rng(2)
    real = rng.integers(0, 2, (60, 5)).astype(float)  # binary: many ties
    generated = rng.integers(0, 2, (60, 5)).astype(float)
    truth, synthetic = _aats_pooled(real, generated)
    monkeypatch.setattr(sample_quality, "_CHUNK", 7)
    result = adversarial_accuracy(real, generated)
    assert (result.truth, result.synthetic) == (truth, synthetic)
    assert result.aats == (truth + synthetic) / 2 and result.n_samples == 60


def test_aats_is_one_half_for_one_distribution_one_for_two_apart_and_zero_for_copies():
    rng = np.random.default_rng(3)
    real = rng.normal(size=(1000, 2))
    assert adversarial_accuracy(real, rng.normal(size=(1000, 2))).aats == \
        pytest.approx(0.5, abs=0.04)
    assert adversarial_accuracy(real, rng.normal(10, 1, size=(1000, 2))).aats == 1.0
    copies = real + rng.normal(0, 1e-6, size=real.shape)
    assert adversarial_accuracy(real, copies).aats == 0.0


def test_aats_with_the_hamming_distance_on_binary_images():
    """On binary data the Hamming distance is the squared Euclidean one: same verdicts."""
    rng = np.random.default_rng(4)
    real = (rng.random((300, 30)) < 0.2).astype(np.float32)
    inverted = 1 - (rng.random((300, 30)) < 0.2).astype(np.float32)
    assert adversarial_accuracy(real, inverted, metric="hamming").aats == 1.0
    other = torch.as_tensor((rng.random((300, 30)) < 0.2).astype(np.float32))
    hamming = adversarial_accuracy(real, other, metric="hamming")
    euclidean = adversarial_accuracy(real, other)
    assert (hamming.truth, hamming.synthetic) == (euclidean.truth, euclidean.synthetic)


@pytest.mark.parametrize("kwargs, match", [
    ({"metric": "cosine"}, "'euclidean' or 'hamming'"),
    ({"n_samples": 1}, r"in \[2, 10\]"),
    ({"n_samples": 11}, r"in \[2, 10\]"),
])
def test_aats_refuses_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        adversarial_accuracy(np.zeros((10, 2)), np.ones((12, 2)), **kwargs)


def test_aats_compares_the_first_rows_of_each_set():
    real, generated = np.zeros((10, 2)), np.ones((12, 2))
    assert adversarial_accuracy(real, generated).n_samples == 10
    assert adversarial_accuracy(real, generated, n_samples=4).n_samples == 4
