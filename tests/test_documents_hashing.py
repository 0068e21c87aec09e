"""Semantic hashing: the document autoencoder, its binary codes, Hamming-ball search and
retrieval precision."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.utils.estimator_checks import parametrize_with_checks

from deepbelief import SemanticHashing, load
from deepbelief.core.rbm import RBMModule
from deepbelief.core.replicated_softmax import ReplicatedSoftmaxModule
from deepbelief.core.semantic_hashing import DocumentAutoencoder
from deepbelief.core.stack import up_pass
from deepbelief.datasets.documents import synthetic_corpus
from deepbelief.evaluation.retrieval import HammingIndex, hamming_distances, precision_at
from deepbelief.learning.document_reconstruction import DocumentReconstructionObjective


@pytest.fixture(scope="module")
def corpus():
    return synthetic_corpus(800, 120, 6, mean_length=40, random_state=1)


def _fit(corpus, noise: float) -> SemanticHashing:
    return SemanticHashing((48, 12), pretrain_epochs=15, max_iter=25, code_noise=noise,
                           random_state=0, device="cpu").fit(corpus.counts[:600])


@pytest.fixture(scope="module")
def hashing(corpus):
    return _fit(corpus, 4.0)


@parametrize_with_checks([SemanticHashing((8, 4), pretrain_epochs=1, max_iter=2,
                                          device="cpu", random_state=0)])
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def test_noise_before_the_code_layer_makes_the_codes_binary(corpus, hashing):
    """Fine-tuned with noise of standard deviation 4 before the code sigmoid, most code
    values end near 0 or 1; without noise far fewer do."""
    plain = _fit(corpus, 0.0)
    with_noise = hashing.history_["finetune"][-1]["binary_codes"]
    without = plain.history_["finetune"][-1]["binary_codes"]
    assert with_noise > 0.8
    assert with_noise > without + 0.1


def test_codes_retrieve_documents_of_the_same_topic(corpus, hashing):
    """Held-out queries: the 10 nearest training documents in Hamming distance mostly share
    the query's dominant topic (chance: about 1/6)."""
    queries, database = hashing.transform(corpus.counts[600:]), hashing.transform(
        corpus.counts[:600])
    precision = precision_at(hamming_distances(queries, database), corpus.labels[:600],
                             [10], corpus.labels[600:])
    assert precision[10] > 0.6


def test_transform_packs_the_thresholded_codes(corpus, hashing):
    codes = hashing.transform(corpus.counts[:50])
    bits = np.unpackbits(codes, axis=1, count=hashing.n_bits_).astype(bool)
    assert codes.dtype == np.uint8 and codes.shape == (50, 2)
    assert np.array_equal(bits, hashing.encode(corpus.counts[:50]) > 0.5)


def test_hamming_ball_search_finds_exactly_the_codes_within_the_radius():
    rng = np.random.default_rng(0)
    bits = rng.random((300, 12)) < 0.5
    codes = np.packbits(bits, axis=1)
    index = HammingIndex(codes, n_bits=12)
    distances = hamming_distances(codes[:20], codes)
    for q in range(20):
        for radius in (0, 1, 2):
            found = index.search(codes[q], radius)
            expected = np.flatnonzero(distances[q] <= radius)
            assert sorted(found.tolist()) == expected.tolist()
            assert np.all(np.diff(distances[q][found]) >= 0)  # nearest first


def test_precision_at_leaves_each_query_out():
    distances = np.zeros((3, 3))
    assert precision_at(distances, np.array([0, 0, 1]), [1, 2]) == {1: 2 / 3, 2: 1 / 3}


def test_save_and_load_keep_the_codes(tmp_path, corpus, hashing):
    copy = load(hashing.save(tmp_path / "hashing.safetensors"))
    assert np.array_equal(copy.transform(corpus.counts), hashing.transform(corpus.counts))
    assert copy.score(corpus.counts[:100]) == pytest.approx(hashing.score(corpus.counts[:100]))


def test_unrolled_encoder_is_the_stacks_up_pass_and_noise_needs_training_mode():
    """Before fine-tuning the encoder is the pretrained stack's up pass bit for bit; the
    code noise is drawn only in training mode, from the loop's generator."""
    g = torch.Generator().manual_seed(0)
    layers = [ReplicatedSoftmaxModule(10, 6), RBMModule(6, 3)]
    for layer in layers:
        layer.reset_parameters(g, std=0.5)
    net = DocumentAutoencoder.from_layers(layers, code_noise=4.0)
    x = torch.poisson(torch.full((5, 10), 2.0), generator=g)
    assert torch.equal(net.encode(x), up_pass(layers, x))
    net.train()
    net.set_generator(torch.Generator().manual_seed(1))
    noisy = net.encode(x)
    net.set_generator(torch.Generator().manual_seed(1))
    assert torch.equal(noisy, net.encode(x)) and not torch.equal(noisy, up_pass(layers, x))


def test_document_objective_refuses_sigmoid_outputs():
    from deepbelief.core.deep_autoencoder import DeepAutoencoder

    with pytest.raises(ValueError, match="softmax reconstruction"):
        DocumentReconstructionObjective(DeepAutoencoder.from_layers([RBMModule(4, 2)]))
