"""Word counts under the DBN estimators: ``visible_units='replicated_softmax'``, a
replicated-softmax bottom layer in DBNTransformer, DBNClassifier, DBNRegressor and
DBNAutoencoder."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.sparse import _compressed

import deepbelief.core.stack as stack_module
import deepbelief.training.greedy as greedy_module
from deepbelief import (
    DBNAutoencoder,
    DBNClassifier,
    DBNRegressor,
    DBNTransformer,
    GenerativeDBN,
    ReplicatedSoftmaxRBM,
    load,
)
from deepbelief.cli.main import main
from deepbelief.core.stack import up_pass
from deepbelief.datasets.documents import synthetic_corpus
from deepbelief.learning.document_reconstruction import word_cross_entropy

COUNTS = {"visible_units": "replicated_softmax", "random_state": 0, "device": "cpu"}

# Most fits here train an epoch or two to test the mechanics, not the models: the quality
# checks assert their scores, and the warnings about short training are not the subject.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def corpus():
    return synthetic_corpus(400, 60, 4, mean_length=40, random_state=0)


@pytest.fixture(scope="module")
def transformer(corpus):
    return DBNTransformer((16, 6), pretrain_epochs=3, batch_size=50, **COUNTS).fit(
        corpus.counts)


def _sigmoid(a: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-a))


def test_bottom_layer_is_the_replicated_softmax_rbm_of_the_same_settings(corpus, transformer):
    """The stack's bottom layer trains exactly as ReplicatedSoftmaxRBM does with the same
    settings and seed: the same 'auto' rate (0.1 / mean length), bit-identical weights."""
    rsm = ReplicatedSoftmaxRBM(16, n_iter=3, batch_size=50, momentum="classic",
                               weight_decay=2e-4, random_state=0, device="cpu").fit(
        corpus.counts)
    bottom = transformer.rbms_[0]
    assert bottom.kind == "replicated_softmax"
    assert transformer._trainers[0].config.learning_rate == rsm.learning_rate_
    for name in ("weight", "visible_bias", "hidden_bias"):
        assert torch.equal(getattr(bottom, name), getattr(rsm.rbm_, name)), name
    one_layer = DBNTransformer(16, pretrain_epochs=3, batch_size=50, **COUNTS).fit(
        corpus.counts)
    np.testing.assert_array_equal(one_layer.transform(corpus.counts),
                                  rsm.transform(corpus.counts))


def test_transform_scales_the_hidden_biases_by_the_document_length(corpus, transformer):
    """The up pass of counts v is sigmoid(v W + D b) with D = the document's word count,
    then the binary layer above as usual."""
    bottom, top = transformer.rbms_
    v = corpus.counts[:20].toarray().astype(np.float64)
    W, b = bottom.weight.detach().double().numpy(), bottom.hidden_bias.detach().double().numpy()
    h = _sigmoid(v @ W + v.sum(1, keepdims=True) * b)
    W2, b2 = top.weight.detach().double().numpy(), top.hidden_bias.detach().double().numpy()
    expected = _sigmoid(h @ W2 + b2)
    np.testing.assert_allclose(transformer.transform(corpus.counts[:20]), expected, atol=1e-5)


def test_dense_integer_counts_train_as_the_sparse_matrix(corpus):
    """A dense array of integer counts gives the same model as its CSR matrix (at a given
    rate: 'auto' reads the mean length in float32 from a dense array, which can differ
    from the sparse matrix's in the last bit, as in ReplicatedSoftmaxRBM)."""
    settings = {"pretrain_epochs": 3, "batch_size": 50, "pretrain_learning_rate": 0.002}
    dense = DBNTransformer((16, 6), **settings, **COUNTS).fit(corpus.counts.toarray())
    sparse = DBNTransformer((16, 6), **settings, **COUNTS).fit(corpus.counts)
    for a, b in zip(dense.rbms_, sparse.rbms_, strict=True):
        assert torch.equal(a.weight, b.weight)


def test_counts_in_a_npy_file_train_as_in_memory(corpus, tmp_path):
    """Counts larger than memory (a .npy file read in pieces) give the model of the same
    counts in memory, and their fractional values are refused as well."""
    dense = corpus.counts.toarray().astype(np.float32)
    path = tmp_path / "counts.npy"
    np.save(path, dense)
    settings = {"pretrain_epochs": 2, "pretrain_learning_rate": 0.003, **COUNTS}
    from_file = DBNTransformer((8, 4), **settings).fit(str(path))
    in_memory = DBNTransformer((8, 4), **settings).fit(dense)
    for a, b in zip(from_file.rbms_, in_memory.rbms_, strict=True):
        assert torch.equal(a.weight, b.weight)
    dense[5, 3] = 0.5
    np.save(path, dense)
    with pytest.raises(ValueError, match="Non-integer"):
        DBNTransformer((8, 4), **settings).fit(str(path))


def test_reconstruct_gives_expected_counts_and_the_decoder_word_distributions(
        corpus, transformer):
    """reconstruct: D softmax(...) per document (rows sum to D); inverse_transform: the
    word distributions of one word (rows sum to 1)."""
    X = corpus.counts[:10]
    lengths = np.asarray(X.sum(1)).ravel()
    np.testing.assert_allclose(transformer.reconstruct(X).sum(1), lengths, rtol=1e-5)
    words = transformer.inverse_transform(transformer.transform(X))
    np.testing.assert_allclose(words.sum(1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(words * lengths[:, None], transformer.reconstruct(X),
                               rtol=1e-4, atol=1e-6)


def test_classifier_on_topic_labels_beats_chance(corpus):
    """Documents labelled by their dominant LDA topic: held-out accuracy far above the
    majority class's share."""
    X, y = corpus.counts, corpus.labels
    clf = DBNClassifier((32,), pretrain_epochs=5, max_iter=20, **COUNTS).fit(X[:300], y[:300])
    chance = np.bincount(y[300:]).max() / 100  # 0.33
    assert clf.score(X[300:], y[300:]) > chance + 0.4  # 0.95 measured


def test_fine_tuned_network_starts_from_the_length_scaled_up_pass(corpus):
    """Before fine-tuning (max_iter=0) the classifier's body is exactly the stack's up pass
    of counts (the scaled hidden bias is part of the first layer's weights)."""
    clf = DBNClassifier((12, 6), pretrain_epochs=2, max_iter=0, **COUNTS).fit(
        corpus.counts, corpus.labels)
    x = torch.from_numpy(corpus.counts[:30].toarray()).float()
    with torch.no_grad():
        torch.testing.assert_close(clf.network_.features(x), up_pass(clf.rbms_, x))


def test_regressor_predicts_a_topic_proportion(corpus):
    """Regression on word counts: the share of topic 0 in each document, learnt better than
    its mean."""
    X, y = corpus.counts, corpus.doc_topic[:, 0]
    reg = DBNRegressor((32,), pretrain_epochs=5, max_iter=30, **COUNTS).fit(X[:300], y[:300])
    assert reg.score(X[300:], y[300:]) > 0.8  # R² 0.98 measured


def test_autoencoder_fine_tuning_lowers_the_words_cross_entropy(corpus):
    """The document autoencoder's reconstruction is a softmax over the words; fine-tuning
    on the words' cross-entropy lowers it below that of the pretrained stack unrolled."""
    X = corpus.counts
    settings = {"pretrain_epochs": 5, **COUNTS}
    pretrained = DBNAutoencoder((32, 4), max_iter=0, **settings).fit(X)
    tuned = DBNAutoencoder((32, 4), max_iter=30, **settings).fit(X)
    x = torch.from_numpy(X.toarray()).float()

    def loss(model) -> float:
        net = model.network_
        with torch.no_grad():
            return float(word_cross_entropy(net.decode_field(net.encode(x)), x).mean())

    assert tuned.loss_ == "word_cross_entropy"
    assert loss(tuned) < loss(pretrained) - 0.2  # 2.47 from 2.99 measured
    assert tuned.loss_curve_[-1] < tuned.loss_curve_[0]
    assert tuned.score(X) > pretrained.score(X)  # squared error of the expected counts
    np.testing.assert_allclose(tuned.reconstruct(X[:5]).sum(1),
                               np.asarray(X[:5].sum(1)).ravel(), rtol=1e-5)


def test_autoencoder_early_stopping_scores_the_words_cross_entropy(corpus):
    """With early stopping, the validation score is minus the words' cross-entropy."""
    ae = DBNAutoencoder((16, 4), pretrain_epochs=2, max_iter=3, early_stopping=True,
                        **COUNTS).fit(corpus.counts)
    assert len(ae.validation_scores_) == ae.n_iter_
    assert all(-np.log(60) - 1 < s < 0 for s in ae.validation_scores_)


def _densify_spy(n_rows: int, rows: list):
    """A ``toarray`` of SciPy's compressed matrices that records the rows of every matrix
    made dense and refuses a matrix of ``n_rows`` rows or more (the whole one)."""
    toarray = _compressed._cs_matrix.toarray

    def spy(matrix, *args, **kwargs):
        rows.append(matrix.shape[0])
        if matrix.shape[0] >= n_rows:
            raise AssertionError(f"a sparse matrix of {matrix.shape[0]} rows was made dense")
        return toarray(matrix, *args, **kwargs)

    return spy


def test_sparse_counts_are_never_densified_whole(monkeypatch):
    """fit, transform, predict and reconstruct read a CSR matrix of counts one mini-batch
    or chunk (here at most 100 rows) at a time."""
    corpus = synthetic_corpus(600, 50, 3, mean_length=20, random_state=2)
    X, y = corpus.counts, corpus.labels
    for module in (stack_module, greedy_module):
        monkeypatch.setattr(module, "CHUNK_VALUES", 100 * X.shape[1])
    rows: list[int] = []
    monkeypatch.setattr(_compressed._cs_matrix, "toarray", _densify_spy(X.shape[0], rows))
    settings = {"pretrain_epochs": 1, "batch_size": 50, **COUNTS}
    dbn = DBNTransformer((8, 4), **settings).fit(X)
    dbn.transform(X)
    dbn.reconstruct(X)
    DBNClassifier((8,), max_iter=1, **settings).fit(X, y).predict(X)
    DBNAutoencoder((8, 2), max_iter=1, **settings).fit(X).reconstruct(X)
    assert rows and max(rows) <= 100


@pytest.mark.parametrize("kind", [DBNTransformer, DBNClassifier, DBNRegressor, DBNAutoencoder])
def test_save_load_round_trip_and_inspect(kind, corpus, tmp_path, capsys):
    """A saved model gives the same outputs once loaded; `deepbelief inspect` shows the
    replicated-softmax input layer."""
    X, y = corpus.counts[:200], corpus.labels[:200]
    model = kind((8, 3), pretrain_epochs=2, **COUNTS)
    if kind in (DBNClassifier, DBNRegressor):
        model.set_params(max_iter=2).fit(X, y.astype(float) if kind is DBNRegressor else y)
        output = "predict"
    else:
        if kind is DBNAutoencoder:
            model.set_params(max_iter=2)
        model.fit(X)
        output = "transform"
    path = model.save(tmp_path / "model.safetensors")
    loaded = load(path)
    assert loaded.visible_units_ == "replicated_softmax"
    np.testing.assert_array_equal(getattr(loaded, output)(X), getattr(model, output)(X))
    if kind is not DBNClassifier:
        np.testing.assert_array_equal(loaded.reconstruct(X) if hasattr(loaded, "reconstruct")
                                      else loaded.predict(X),
                                      model.reconstruct(X) if hasattr(model, "reconstruct")
                                      else model.predict(X))
    capsys.readouterr()
    assert main(["inspect", str(path)]) == 0
    assert "60 (replicated_softmax) -> 8 (bernoulli)" in capsys.readouterr().out


def test_loaded_transformer_continues_at_its_rate(corpus, transformer, tmp_path):
    """partial_fit of a loaded model trains its replicated softmax at the rate 'auto' gave
    it on the training documents (kept in the file), not at a rate from the new batch."""
    loaded = load(transformer.save(tmp_path / "dbn.safetensors"))
    loaded.partial_fit(corpus.counts[:40] * 3)  # longer documents: another 'auto' rate
    assert loaded._trainers[0].config.learning_rate == transformer._trainers[0].config.learning_rate
    assert [len(h) for h in loaded.history_["pretrain"]] == [4, 4]


def test_to_torch_passes_counts_up_as_transform(corpus, transformer):
    """The exported module computes transform's features from dense counts."""
    x = corpus.counts[:16].toarray().astype(np.float32)
    with torch.no_grad():
        out = transformer.to_torch()(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(out, transformer.transform(x), atol=1e-6)


def test_negative_counts_are_refused_with_advice(corpus):
    X = corpus.counts[:50].toarray().astype(np.float64)
    X[3, 2] = -1
    with pytest.raises(ValueError, match=r"Negative values.*CountVectorizer"):
        DBNTransformer(4, pretrain_epochs=1, **COUNTS).fit(X)


@pytest.mark.parametrize("form", ["dense", "sparse"])
def test_fractional_counts_are_refused_and_rounding_them_works(corpus, form):
    """Word counts must be whole numbers; the advice (round them) makes them trainable, and
    a fitted model refuses fractional counts at transform too."""
    X = corpus.counts[:80].astype(np.float64) * 0.5
    X = X.toarray() if form == "dense" else X.tocsr()
    model = DBNTransformer(4, pretrain_epochs=1, **COUNTS)
    with pytest.raises(ValueError, match=r"Non-integer.*numpy\.rint"):
        model.fit(X)
    if form == "dense":
        X = np.rint(X)
    else:
        X.data = np.rint(X.data)
    model.fit(X)
    with pytest.raises(ValueError, match="Non-integer"):
        model.transform(X * 0.5)


def test_generative_dbn_refuses_counts_naming_what_to_use(corpus):
    """GenerativeDBN cannot read word counts; the error names the estimators that can, and
    the first of them classifies the same documents."""
    X, y = corpus.counts[:100], corpus.labels[:100]
    with pytest.raises(ValueError, match=r"GenerativeDBN does not take.*DBNClassifier\("
                                         r"visible_units='replicated_softmax'\)"):
        GenerativeDBN((8,), visible_units="replicated_softmax").fit(X, y)
    DBNClassifier((8,), pretrain_epochs=1, max_iter=1, **COUNTS).fit(X, y)


@pytest.mark.parametrize(("bad", "match", "fixed"), [
    ({"layer_type": "autoencoder"}, "first layer_type", {"layer_type": ("rbm", "autoencoder")}),
    ({"hidden_units": "relu"}, "first hidden_units", {"hidden_units": ("bernoulli", "relu")}),
    ({"pretrain_method": "pt"}, "'cd' or 'pcd'", {"pretrain_method": "pcd"}),
])
def test_bottom_layers_a_replicated_softmax_cannot_be_are_refused(corpus, bad, match, fixed):
    """A replicated softmax is a binary RBM trained by CD or PCD: other bottom layers are
    refused, and the advised per-layer setting trains."""
    X = corpus.counts[:100]
    with pytest.raises(ValueError, match=match):
        DBNTransformer((6, 4), pretrain_epochs=1, **bad, **COUNTS).fit(X)
    model = DBNTransformer((6, 4), pretrain_epochs=1, **fixed, **COUNTS).fit(X)
    assert model.rbms_[0].kind == "replicated_softmax"


def test_autoencoder_of_one_layer_needs_binary_codes_and_the_words_loss(corpus):
    """A one-layer document autoencoder's code is the replicated softmax's hidden layer
    (binary: code_units='bernoulli' or None); its loss is the words' cross-entropy."""
    X = corpus.counts[:100]
    settings = {"pretrain_epochs": 1, "max_iter": 1, **COUNTS}
    with pytest.raises(ValueError, match="code_units='bernoulli' or None"):
        DBNAutoencoder(4, **settings).fit(X)
    with pytest.raises(ValueError, match="loss='auto'"):
        DBNAutoencoder((8, 2), loss="squared_error", **settings).fit(X)
    assert DBNAutoencoder(4, code_units=None, **settings).fit(X).network_.n_code == 4


def test_readme_example_runs_as_printed():
    """The README's word-count example: the classifier's held-out accuracy is the one its
    comment shows, and the autoencoder's reconstructions hold each document's words."""
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    code = next(b for b in blocks if 'DBNClassifier((32,), visible_units="replicated_softmax"'
                in b)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
    accuracy, loss = out.getvalue().splitlines()[:2]
    printed = float(re.search(r"# (0\.\d+) \(chance", code).group(1))
    assert float(accuracy) == pytest.approx(printed, abs=0.03)
    assert loss.startswith("word_cross_entropy")
