"""ReplicatedSoftmaxRBM, the estimator, and the document loaders of deepbelief.datasets."""

from __future__ import annotations

import codecs
import pickle
import tracemalloc

import numpy as np
import pytest
import torch
from scipy import sparse
from sklearn.utils import Bunch
from sklearn.utils.estimator_checks import parametrize_with_checks

from deepbelief import ReplicatedSoftmaxRBM, load
from deepbelief.datasets.documents import (
    load_20newsgroups,
    load_lee_corpus,
    load_text_folder,
    synthetic_corpus,
    vectorize,
)


@pytest.fixture(scope="module")
def corpus():
    return synthetic_corpus(600, 60, 6, mean_length=40, random_state=0)


@pytest.fixture(scope="module")
def fitted(corpus):
    train = corpus.subset(np.arange(500))
    return ReplicatedSoftmaxRBM(10, n_iter=30, random_state=0, device="cpu").fit(train.counts)


def _unigram_perplexity(train, test) -> float:
    freq = np.asarray(train.counts.sum(0), dtype=np.float64).ravel() + 1e-3
    freq /= freq.sum()
    return float(np.exp(-(test.counts @ np.log(freq)).sum() / test.counts.sum()))


# -- the estimator ----------------------------------------------------------------------------
@parametrize_with_checks([ReplicatedSoftmaxRBM(8, n_iter=2, device="cpu", random_state=0)])
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def test_held_out_perplexity_beats_word_frequencies(corpus, fitted):
    """Documents of a known LDA model: the exact per-word perplexity of held-out documents
    is well below that of the training word frequencies."""
    train, test = corpus.subset(np.arange(500)), corpus.subset(np.arange(500, 600))
    perplexity = fitted.perplexity(test.counts)
    assert perplexity < 0.85 * _unigram_perplexity(train, test)
    assert fitted.score(test.counts) == pytest.approx(-np.log(perplexity))


def test_ais_perplexity_agrees_with_exact(corpus, fitted):
    """partition='ais' estimates the perplexity that partition='exact' computes."""
    test = corpus.subset(np.arange(500, 540)).counts
    exact = fitted.set_params(partition="exact").perplexity(test)
    ais = fitted.set_params(partition="ais", ais_runs=20, ais_betas=500).perplexity(test)
    fitted.set_params(partition="auto", ais_runs=100, ais_betas=None)
    assert ais == pytest.approx(exact, rel=0.01)


def _fit_peak(n: int, k: int = 5_000) -> int:
    """The peak of NumPy memory (tracemalloc) of a 1-epoch fit on ``n`` sparse documents."""
    rng = np.random.default_rng(0)
    X = sparse.random(n, k, density=0.004, format="csr", random_state=rng,
                      data_rvs=lambda size: rng.integers(1, 4, size)).astype(np.float32)
    model = ReplicatedSoftmaxRBM(4, n_iter=1, batch_size=100, device="cpu", random_state=0)
    tracemalloc.start()
    try:
        model.fit(X)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_sparse_counts_are_never_densified_whole():
    """A 10,000 × 5,000 count matrix (200 MB dense in float32) trains with a peak of NumPy
    memory (tracemalloc) that does not grow with the number of documents but by their
    sparse matrix: training densifies mini-batches (100 rows, 2 MB) and the rows monitored
    after each epoch (the first 2,048: at most a dense chunk, ``core.stack.CHUNK_VALUES``),
    never the whole matrix. Measured: about 147 MB for either size, the monitored rows
    (41 MB) and their copies."""
    small, large = _fit_peak(10_000), _fit_peak(20_000)
    dense_small = 10_000 * 5_000 * 4
    assert large - small < dense_small / 10, (small, large)  # the sparse data: 1.6 MB more
    assert large < dense_small, large


def test_negative_counts_are_refused_with_advice_that_works():
    texts = ["stars and planets", "planets orbit stars", "rivers and lakes", "lakes feed rivers"]
    with pytest.raises(ValueError, match="CountVectorizer"):
        ReplicatedSoftmaxRBM(2, n_iter=1, device="cpu").fit(-np.ones((4, 3)))
    from sklearn.feature_extraction.text import CountVectorizer

    counts = CountVectorizer().fit_transform(texts)
    model = ReplicatedSoftmaxRBM(2, n_iter=1, device="cpu", random_state=0).fit(counts)
    assert model.transform(counts).shape == (4, 2)


def test_auto_learning_rate_follows_document_length(corpus):
    model = ReplicatedSoftmaxRBM(2, n_iter=1, device="cpu", random_state=0).fit(corpus.counts)
    assert model.learning_rate_ == pytest.approx(0.1 / corpus.lengths.mean())


def test_partial_fit_continues_and_save_load_round_trips(tmp_path, corpus):
    model = ReplicatedSoftmaxRBM(5, device="cpu", random_state=0)
    model.partial_fit(corpus.counts[:300]).partial_fit(corpus.counts[300:])
    assert model.n_iter_ == 2 and len(model.history_) == 2
    path = model.save(tmp_path / "rsm.safetensors")
    copy = load(path)
    assert np.array_equal(copy.transform(corpus.counts), model.transform(corpus.counts))
    assert copy.learning_rate_ == model.learning_rate_
    copy.partial_fit(corpus.counts)  # a loaded model trains on
    assert copy.n_iter_ == 3


def test_same_seed_gives_the_same_weights(corpus):
    a = ReplicatedSoftmaxRBM(4, n_iter=2, method="pcd", k=2, device="cpu",
                             random_state=3).fit(corpus.counts)
    b = ReplicatedSoftmaxRBM(4, n_iter=2, method="pcd", k=2, device="cpu",
                             random_state=3).fit(corpus.counts.toarray())
    assert np.array_equal(a.components_, b.components_)  # sparse and dense alike


def test_to_torch_computes_the_topic_features(fitted, corpus):
    net = fitted.to_torch()
    x = torch.as_tensor(corpus.counts[:20].toarray(), dtype=torch.float32)
    assert np.allclose(net(x).detach().numpy(), fitted.transform(corpus.counts[:20]), atol=1e-6)


def test_top_words_and_reconstruction(fitted, corpus):
    words = fitted.top_words(corpus.vocabulary, n_words=3)
    assert len(words) == 10 and all(len(w) == 3 and w[0] in corpus.vocabulary for w in words)
    with pytest.raises(ValueError, match="vocabulary has 2 words"):
        fitted.top_words(["a", "b"])
    recon = fitted.reconstruct(corpus.counts[:5])
    assert np.allclose(recon.sum(1), corpus.lengths[:5], rtol=1e-5)


# -- the loaders -------------------------------------------------------------------------------
def test_synthetic_corpus_is_seeded_and_labelled_by_dominant_topic():
    a = synthetic_corpus(50, 20, 3, mean_length=15, random_state=4)
    b = synthetic_corpus(50, 20, 3, mean_length=15, random_state=4)
    assert (a.counts != b.counts).nnz == 0
    assert np.array_equal(a.labels, a.doc_topic.argmax(1))
    assert a.lengths.min() >= 1
    train, test = a.split(0.2, random_state=0)
    assert len(train) == 40 and len(test) == 10 and train.vocabulary == a.vocabulary


def test_text_folder_labels_documents_by_subfolder(tmp_path):
    for label, texts in {"space": ["stars planets orbit", "planets stars"],
                         "water": ["rivers lakes rain", "rain rivers"]}.items():
        (tmp_path / label).mkdir()
        for i, text in enumerate(texts):
            (tmp_path / label / f"{i}.txt").write_text(text)
    corpus = load_text_folder(tmp_path, min_df=1, stop_words=None)
    assert corpus.label_names == ["space", "water"]
    assert corpus.labels.tolist() == [0, 0, 1, 1]
    assert corpus.names[0] == "space/0.txt"
    again = load_text_folder(tmp_path, vocabulary=corpus.vocabulary)
    assert again.vocabulary == corpus.vocabulary


def test_text_folder_without_text_files_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no \.txt file"):
        load_text_folder(tmp_path)


def test_lee_corpus_reads_a_path_and_explains_a_missing_gensim(tmp_path, monkeypatch):
    file = tmp_path / "lee_background.cor"
    file.write_text("the fire burned the hills\nthe storm hit the coast\n\n"
                    "fire crews fought the fire\n")
    corpus = load_lee_corpus(file, min_df=1, stop_words=None)
    assert corpus.counts.shape[0] == 3 and corpus.labels is None
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError, match="pip install gensim"):
        load_lee_corpus()


def _fake_20newsgroups_cache(home):
    """scikit-learn's cache file of 20 Newsgroups, made of four short posts."""
    def part(texts, target):
        return Bunch(data=texts, target=np.array(target), target_names=["rec.autos", "sci.space"],
                     filenames=np.array([f"post{i}" for i in range(len(texts))]))

    cache = {"train": part(["From: a\n\nengine wheels car", "From: b\n\norbit rocket launch",
                            "From: c\n\ncar engine oil"], [0, 1, 0]),
             "test": part(["From: d\n\nrocket orbit moon"], [1])}
    (home / "20news-bydate_py3.pkz").write_bytes(
        codecs.encode(pickle.dumps(cache), "zlib_codec"))


def test_20newsgroups_reads_scikit_learns_cache_without_download(tmp_path):
    _fake_20newsgroups_cache(tmp_path)
    train = load_20newsgroups("train", data_home=tmp_path, min_df=1, stop_words=None)
    assert train.labels.tolist() == [0, 1, 0]
    assert train.label_names == ["rec.autos", "sci.space"]
    test = load_20newsgroups("test", data_home=tmp_path, vocabulary=train.vocabulary)
    assert test.counts.shape == (1, len(train.vocabulary))
    assert test.counts.sum() == 2  # 'rocket' and 'orbit'; 'moon' is not in the vocabulary


def test_20newsgroups_without_cache_advises_download(tmp_path):
    with pytest.raises(OSError, match="download=True"):
        load_20newsgroups(data_home=tmp_path)


def test_vectorize_keeps_the_training_vocabulary():
    train = vectorize(["alpha beta", "beta gamma"], min_df=1, stop_words=None)
    test = vectorize(["gamma delta gamma"], vocabulary=train.vocabulary)
    assert test.vocabulary == train.vocabulary
    assert test.counts.toarray().tolist() == [[0, 0, 2]]


def test_data_parallel_fit_is_refused_with_what_to_do(corpus, monkeypatch):
    """Under torchrun, each process would draw words for its own longest document."""
    import deepbelief.training.replicated_softmax_spec as spec

    monkeypatch.setattr(spec, "is_distributed", lambda: True)
    with pytest.raises(NotImplementedError, match="in one process"):
        ReplicatedSoftmaxRBM(n_components=4, n_iter=1, random_state=0).fit(corpus.counts)
