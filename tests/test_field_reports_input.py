"""Field reports on input data (issue 19, items 1, 2, 6 and 9), replayed on every estimator.

1. Float rounding of the recommended scaler (``MinMaxScaler`` returning 1.0000000000000002)
   is training data in [0, 1], not an error; a real range error prints the extremes at full
   precision with advice that works.
2. New data beyond the training range is clipped, with a warning, by every forward pass
   (transform, predict, score, ...); a likelihood stays undefined there (an error); fit and
   partial_fit stay strict.
6. SciPy sparse input is accepted by fit, partial_fit and the forward passes, read one
   mini-batch or chunk at a time: results equal those on the dense array, and the whole
   matrix is never densified.
9. Gaussian visible units warn about training data far from standardized, and never about
   standardized data, small samples included.
"""

from __future__ import annotations

import contextlib
import tracemalloc
import warnings

import numpy as np
import pytest
import scipy.sparse
import torch
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from deepbelief import RBM, DBNClassifier, DBNRegressor, DBNTransformer, GenerativeDBN
from deepbelief.compat import SupervisedDBNClassification, UnsupervisedDBN
from deepbelief.core import stack
from deepbelief.core.units import DOMAIN_TOLERANCE
from deepbelief.estimators._input import check_X
from deepbelief.exceptions import DataRangeWarning, DataScaleWarning, DivergenceError
from deepbelief.training import greedy

CPU = {"device": "cpu", "random_state": 0}
_SETTINGS = {
    RBM: {"n_components": 8, "n_iter": 2, "batch_size": 16},
    DBNTransformer: {"hidden_layer_sizes": (8, 4), "pretrain_epochs": 2},
    DBNClassifier: {"hidden_layer_sizes": (8,), "pretrain_epochs": 2, "max_iter": 3},
    DBNRegressor: {"hidden_layer_sizes": (8,), "pretrain_epochs": 2, "max_iter": 3},
    GenerativeDBN: {"hidden_layer_sizes": (8, 6), "pretrain_epochs": 2, "updown_epochs": 1},
}
MAKE = {cls.__name__: (lambda cls=cls, **kw: cls(**{**CPU, **_SETTINGS[cls], **kw}))
        for cls in _SETTINGS}
SUPERVISED = {"DBNClassifier", "DBNRegressor", "GenerativeDBN"}


def _fit(name: str, X, y, **kw):
    model = MAKE[name](**kw)
    target = y.astype(np.float64) if name == "DBNRegressor" else y
    return model.fit(X, target) if name in SUPERVISED else model.fit(X)


def _layers(model) -> list[torch.Tensor]:
    if isinstance(model, RBM):
        return [model.rbm_.weight, model.rbm_.visible_bias, model.rbm_.hidden_bias]
    tensors = [t for rbm in model.rbms_ for t in rbm.state_dict().values()]
    network = getattr(model, "network_", None)
    return tensors + ([] if network is None else list(network.state_dict().values()))


def _same_model(a, b) -> bool:
    return all(torch.equal(p, q) for p, q in zip(_layers(a), _layers(b), strict=True))


@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return X, y


@pytest.fixture(scope="module")
def cancer_minmax(cancer):
    X, y = cancer
    Z = MinMaxScaler().fit_transform(X)
    assert Z.max() == 1.0000000000000002  # the reported rounding
    return Z[:200], y[:200]


# -- 1. float rounding of the scaler ----------------------------------------------------------


@pytest.mark.parametrize("name", list(MAKE))
def test_minmax_rounding_is_fitted_as_the_clipped_data_by_every_estimator(name, cancer_minmax):
    """MinMaxScaler's 1.0000000000000002 is fitted, exactly as if it were clipped to 1."""
    Z, y = cancer_minmax
    model = _fit(name, Z, y)
    assert _same_model(model, _fit(name, np.clip(Z, 0.0, 1.0), y))


def test_minmax_pipeline_with_a_classifier_fits_the_breast_cancer_table(cancer):
    """The reported pipeline: MinMaxScaler then DBNClassifier on the bundled table."""
    X, y = cancer
    classifier = MAKE["DBNClassifier"](max_iter=30, learning_rate_init=0.01)
    assert make_pipeline(MinMaxScaler(), classifier).fit(X, y).score(X, y) > 0.95


@pytest.mark.parametrize("name", ["RBM", "DBNTransformer"])
def test_partial_fit_accepts_the_scalers_rounding(name, cancer_minmax):
    Z, _ = cancer_minmax
    model = MAKE[name]().partial_fit(Z[:100]).partial_fit(Z[100:])
    assert np.isfinite(model.transform(Z)).all()


def test_compat_classes_fit_the_scalers_rounding(cancer_minmax):
    Z, y = cancer_minmax
    clf = SupervisedDBNClassification((8,), n_epochs_rbm=1, n_iter_backprop=2, verbose=False,
                                      random_state=0, device="cpu").fit(Z, y)
    assert clf.predict(Z).shape == y.shape
    assert UnsupervisedDBN((4,), n_epochs_rbm=1, verbose=False, device="cpu").fit(Z).transform(
        Z).shape == (len(Z), 4)


def test_float32_rounding_of_a_table_with_a_large_offset_is_accepted():
    """float32 data whose offset is a thousand times its spread: MinMaxScaler's output lies
    up to about 3e-5 outside [0, 1] (the measured worst case), inside the tolerance."""
    rng = np.random.default_rng(0)
    worst = 0.0
    for _ in range(30):
        X = (rng.normal(size=(500, 10)) * 0.1 + 300).astype(np.float32)
        Z = MinMaxScaler().fit_transform(X)
        worst = max(worst, float(Z.max()) - 1, -float(Z.min()))
        MAKE["RBM"]().fit(Z)
    assert 0 < worst < DOMAIN_TOLERANCE


def test_a_real_range_error_prints_full_precision_and_advice_that_works(cancer):
    """A value of 1.0002 is shown as 1.0002, not as a rounded 1; data from a scaler fitted
    on other rows is refused with advice (MinMaxScaler(clip=True)) that then fits."""
    X, _ = cancer
    scaled = MinMaxScaler().fit_transform(X)
    scaled[0, 0] = 1.0002
    with pytest.raises(ValueError, match=r"ranges from 0\.0 to 1\.0002\. Rescale"):
        MAKE["RBM"](visible_units="bernoulli").fit(scaled)
    train, other = X[:300], X[300:]
    with pytest.raises(ValueError, match=r"MinMaxScaler \(clip=True when the scaler was "
                                         r"fitted on other data\)"):
        MAKE["RBM"](visible_units="bernoulli").fit(MinMaxScaler().fit(train).transform(other))
    fixed = MinMaxScaler(clip=True).fit(train).transform(other)
    assert np.isfinite(MAKE["RBM"](visible_units="bernoulli").fit(fixed).transform(fixed)).all()


# -- 2. new data beyond the training range -----------------------------------------------------


@pytest.fixture(scope="module")
def fitted(cancer_minmax):
    Z, y = cancer_minmax
    models = {name: _fit(name, Z, y) for name in MAKE}
    models["compat"] = SupervisedDBNClassification(
        (8,), n_epochs_rbm=1, n_iter_backprop=2, verbose=False, random_state=0,
        device="cpu").fit(Z, y)
    return models


FORWARD = [
    ("RBM", lambda m, X: m.transform(X)),
    ("RBM", lambda m, X: m.reconstruct(X)),
    ("RBM", lambda m, X: m.gibbs(X, random_state=0)),
    ("RBM", lambda m, X: m.complete(X, np.arange(X.shape[1]) < 10, n_iter=2, random_state=0)),
    ("DBNTransformer", lambda m, X: m.transform(X)),
    ("DBNTransformer", lambda m, X: m.reconstruct(X)),
    ("DBNClassifier", lambda m, X: m.predict(X)),
    ("DBNClassifier", lambda m, X: m.predict_proba(X)),
    ("DBNClassifier", lambda m, X: m.predict_log_proba(X)),
    ("DBNRegressor", lambda m, X: m.predict(X)),
    ("GenerativeDBN", lambda m, X: m.predict_proba(X)),
    ("GenerativeDBN", lambda m, X: m.reconstruct(X)),
    ("GenerativeDBN", lambda m, X: m.complete(X, np.arange(X.shape[1]) < 10, n_iter=2,
                                              random_state=0)),
    ("compat", lambda m, X: m.predict_proba(X)),
]


@pytest.mark.parametrize(("name", "call"), FORWARD, ids=[f"{n}-{i}" for i, (n, _) in
                                                         enumerate(FORWARD)])
@pytest.mark.parametrize("form", ["dense", "csr"])
def test_forward_passes_clip_rows_beyond_the_training_range(fitted, cancer_minmax, name, call,
                                                            form):
    """Rows 1.5 times larger than the training rows: clipped to [0, 1], with a warning."""
    Z, _ = cancer_minmax
    beyond = Z[:20] * 1.5 - 0.1
    as_form = scipy.sparse.csr_matrix if form == "csr" else np.asarray
    with pytest.warns(DataRangeWarning, match=r"from -0\.\d+ to 1\.4\. It was clipped to "
                                              r"the range \(numpy\.clip\(X, 0\.0, 1\.0\)\)"):
        result = call(fitted[name], as_form(beyond))
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataRangeWarning)
        expected = call(fitted[name], np.clip(beyond, 0.0, 1.0))
    np.testing.assert_array_equal(result, expected)


def test_scores_use_the_clipped_rows(fitted, cancer_minmax):
    Z, y = cancer_minmax
    beyond = Z * 1.5
    for name, target in (("DBNClassifier", y), ("DBNRegressor", y.astype(float)),
                         ("GenerativeDBN", y)):
        with pytest.warns(DataRangeWarning):
            score = fitted[name].score(beyond, target)
        assert score == fitted[name].score(np.clip(beyond, 0, 1), target)


def test_cross_val_score_of_the_minmax_pipeline_has_no_nan(cancer):
    """Held-out folds lie slightly outside the training folds' range: every fold scores."""
    X, y = cancer
    pipe = make_pipeline(MinMaxScaler(), MAKE["DBNClassifier"](max_iter=10,
                                                                learning_rate_init=0.01))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataRangeWarning)
        scores = cross_val_score(pipe, X, y, cv=3, error_score="raise")
    assert np.isfinite(scores).all() and scores.min() > 0.85


@pytest.mark.parametrize("method", ["score_samples", "free_energy"])
def test_a_likelihood_beyond_the_units_states_is_refused_with_advice_that_works(
        fitted, cancer_minmax, method):
    Z, _ = cancer_minmax
    beyond = Z[:20] * 1.5
    with pytest.raises(ValueError, match=r"free energy or likelihood is not defined.*"
                                         r"numpy\.clip\(X, 0\.0, 1\.0\)"):
        getattr(fitted["RBM"], method)(beyond)
    assert np.isfinite(getattr(fitted["RBM"], method)(np.clip(beyond, 0.0, 1.0))).all()


@pytest.mark.parametrize("name", list(MAKE))
def test_fit_stays_strict_beyond_the_tolerance(cancer_minmax, name):
    Z, y = cancer_minmax
    with pytest.raises(ValueError, match=r"to 1\.5 *\. Rescale it to \[0, 1\]"):
        _fit(name, Z * 1.5, y, visible_units="bernoulli")


@pytest.mark.parametrize("name", ["RBM", "DBNTransformer"])
def test_partial_fit_stays_strict(fitted, cancer_minmax, name):
    Z, _ = cancer_minmax
    with pytest.raises(ValueError, match="Rescale it"):
        fitted[name].partial_fit(Z * 1.5)


def test_the_warnings_point_at_the_callers_line(fitted, cancer_minmax, cancer):
    Z, _ = cancer_minmax
    with pytest.warns(DataRangeWarning) as record:
        fitted["DBNClassifier"].predict(Z * 2)
    assert record[0].filename == __file__
    with pytest.warns(DataScaleWarning) as record, contextlib.suppress(DivergenceError):
        MAKE["RBM"](visible_units="gaussian").fit(cancer[0][:50])
    assert record[0].filename == __file__


def test_the_range_warning_can_be_filtered(fitted, cancer_minmax):
    Z, _ = cancer_minmax
    assert issubclass(DataRangeWarning, UserWarning)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", category=DataRangeWarning)
        fitted["RBM"].transform(Z * 2)


# -- 6. sparse input -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def binary():
    """Binary bag-of-words-like data: its float32 column sums are exact in any order, so
    the data mean (the visible biases' start) is the same for CSR and dense input."""
    rng = np.random.default_rng(0)
    X = (rng.random((150, 40)) < 0.15).astype(np.float32)
    return X, np.arange(150) % 3


@pytest.mark.parametrize("name", list(MAKE))
@pytest.mark.parametrize("form", [scipy.sparse.csr_matrix, scipy.sparse.csc_matrix,
                                  scipy.sparse.csr_array])
def test_sparse_fit_gives_the_dense_models_bits(binary, name, form):
    X, y = binary
    dense, sparse = _fit(name, X, y), _fit(name, form(X), y)
    assert _same_model(dense, sparse)
    forward = {"RBM": "transform", "DBNTransformer": "transform", "DBNClassifier":
               "predict_proba", "DBNRegressor": "predict", "GenerativeDBN": "predict_proba"}
    call = getattr(sparse, forward[name])
    np.testing.assert_array_equal(call(form(X)), getattr(dense, forward[name])(X))


@pytest.mark.parametrize("name", ["DBNClassifier", "DBNRegressor"])
def test_sparse_fit_with_early_stopping_gives_the_dense_models_bits(binary, name):
    X, y = binary
    assert _same_model(_fit(name, X, y, early_stopping=True),
                       _fit(name, scipy.sparse.csr_matrix(X), y, early_stopping=True))


@pytest.mark.parametrize("name", ["RBM", "DBNTransformer"])
def test_sparse_partial_fit_gives_the_dense_models_bits(binary, name):
    X, _ = binary
    dense, sparse = MAKE[name](), MAKE[name]()
    for part in (slice(0, 70), slice(70, None)):
        dense.partial_fit(X[part])
        sparse.partial_fit(scipy.sparse.csr_matrix(X[part]))
    assert _same_model(dense, sparse)


def test_rbm_scores_and_reconstructions_of_sparse_input(binary):
    X, _ = binary
    model, S = MAKE["RBM"]().fit(X), scipy.sparse.csr_matrix(X)
    for method in ("score_samples", "free_energy", "reconstruct"):
        np.testing.assert_array_equal(getattr(model, method)(S), getattr(model, method)(X))


def test_real_valued_sparse_data_trains_within_float_rounding_of_dense():
    """Counts scaled to [0, 1]: the column sums are rounded in another order, so the start
    of the visible biases may differ in the last bit; the models agree to float precision."""
    rng = np.random.default_rng(2)
    X = (rng.poisson(0.3, size=(200, 30)) / 4).clip(0, 1).astype(np.float32) * 0.7
    dense, sparse = MAKE["RBM"]().fit(X), MAKE["RBM"]().fit(scipy.sparse.csr_matrix(X))
    np.testing.assert_allclose(sparse.components_, dense.components_, atol=1e-6)
    np.testing.assert_allclose(sparse.transform(X), dense.transform(X), atol=1e-5)


def test_duplicate_entries_of_a_sparse_matrix_are_checked_as_their_sum():
    """Two stored 0.6s at one place are a 1.2 in the matrix: outside [0, 1]."""
    X = scipy.sparse.csr_matrix((np.array([0.6, 0.6, 1.0], np.float32), np.array([0, 0, 1]),
                                 np.array([0, 2, 3])), shape=(2, 3))
    assert not X.has_canonical_format
    with pytest.raises(ValueError, match=r"ranges from 0\.0 to 1\.2"):
        MAKE["RBM"](visible_units="bernoulli").fit(X)


def test_count_vectorizer_then_rbm_pipeline():
    """The common text pipeline: binary word counts (a CSR matrix) into an RBM."""
    words = ["cat", "dog", "fish", "bird", "tree", "rock", "sun", "rain"]
    rng = np.random.default_rng(0)
    docs = [" ".join(rng.choice(words, size=5)) for _ in range(60)]
    pipe = make_pipeline(CountVectorizer(binary=True), RBM(4, n_iter=3, **CPU))
    features = pipe.fit_transform(docs)
    dense = CountVectorizer(binary=True).fit_transform(docs).toarray()
    assert features.shape == (60, 4)
    np.testing.assert_array_equal(features, RBM(4, n_iter=3, **CPU).fit_transform(dense))


@pytest.fixture
def densified(monkeypatch):
    """Records the shape of every block a sparse matrix densifies, with a small chunk
    budget (300 values) so that densifying the whole matrix would show."""
    shapes = []
    base = scipy.sparse._compressed._cs_matrix
    original_toarray, original_todense = base.toarray, base.todense

    def toarray(self, *args, **kwargs):
        shapes.append(self.shape)
        return original_toarray(self, *args, **kwargs)

    def todense(self, *args, **kwargs):
        shapes.append(self.shape)
        return original_todense(self, *args, **kwargs)

    monkeypatch.setattr(base, "toarray", toarray)
    monkeypatch.setattr(base, "todense", todense)
    monkeypatch.setattr(stack, "CHUNK_VALUES", 300)
    monkeypatch.setattr(greedy, "CHUNK_VALUES", 300)
    return shapes


@pytest.mark.parametrize("name", list(MAKE))
def test_sparse_input_is_densified_one_chunk_at_a_time(binary, densified, name):
    X, y = binary
    S = scipy.sparse.csr_matrix(X)
    model = _fit(name, S, y)
    if name in ("RBM", "DBNTransformer"):
        model.partial_fit(S)
        model.transform(S)
    else:
        model.predict(S)
    assert densified, "the sparse path was not taken"
    assert max(rows for rows, _ in densified) <= max(16, 32, 300 // X.shape[1])
    assert all(rows < X.shape[0] for rows, _ in densified)


def test_transform_of_a_wide_sparse_matrix_stays_within_a_chunks_memory():
    """20,000 x 12,500 with few non-zeros: 1 GB dense, read in chunks of 64 MB."""
    rng = np.random.default_rng(0)
    rbm = RBM(4, n_iter=1, **CPU).fit(
        scipy.sparse.csr_matrix((rng.random((40, 12_500)) < 0.01).astype(np.float32)))
    where = rng.integers(0, [[20_000], [12_500]], size=(2, 25_000))
    X = scipy.sparse.csr_matrix((np.ones(25_000, np.float32), tuple(where)),
                                shape=(20_000, 12_500))
    X.data[:] = 1.0  # duplicates were summed
    tracemalloc.start()
    try:
        features = rbm.transform(X)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert features.shape == (20_000, 4)
    assert peak < 0.3 * X.shape[0] * X.shape[1] * 4  # well below the dense matrix
    np.testing.assert_array_equal(features[:100], rbm.transform(X[:100].toarray()))


def test_checkpoint_of_a_sparse_fit_resumes_and_refuses_other_data(binary, tmp_path):
    X, _ = binary
    S, path = scipy.sparse.csr_matrix(X), tmp_path / "rbm.ckpt"
    first = MAKE["RBM"]().fit(S, checkpoint=path)
    again = MAKE["RBM"]().fit(S, checkpoint=path, resume=True)
    assert _same_model(first, again)
    other = S.copy()
    other.data[0] = 0.5
    with pytest.raises(ValueError, match="other data"):
        MAKE["RBM"]().fit(other, checkpoint=path, resume=True)


def test_compat_unsupervised_dbn_takes_sparse_input(binary):
    X, _ = binary
    S = scipy.sparse.csr_matrix(X)
    dbn = UnsupervisedDBN((4,), n_epochs_rbm=1, verbose=False, random_state=0, device="cpu")
    np.testing.assert_array_equal(dbn.fit(S).transform(S), dbn.transform(X))


# -- 9. the scale of Gaussian visible units ------------------------------------------------------


@pytest.mark.parametrize("name", list(MAKE))
def test_gaussian_units_warn_about_an_unstandardized_table(cancer, name):
    """The raw breast-cancer table (values up to 4,254): a warning naming StandardScaler."""
    X, y = cancer
    with (pytest.warns(DataScaleWarning, match=r"root mean square is \d+.*StandardScaler"),
          contextlib.suppress(DivergenceError)):  # training on such data often diverges
        _fit(name, X[:100], y[:100], visible_units="gaussian")


@pytest.mark.parametrize("name", ["RBM", "DBNTransformer"])
def test_partial_fit_on_unstandardized_data_warns(cancer, name):
    X, _ = cancer
    with pytest.warns(DataScaleWarning), contextlib.suppress(DivergenceError):
        MAKE[name](visible_units="gaussian").partial_fit(X[:50])


def test_the_advice_silences_the_scale_warning(cancer):
    X, y = cancer
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataScaleWarning)
        make_pipeline(StandardScaler(),
                      MAKE["DBNClassifier"](visible_units="gaussian")).fit(X[:100], y[:100])


def _standardized_tables():
    tables = [load_digits().data, load_breast_cancer().data, load_diabetes().data]
    return [StandardScaler().fit_transform(t) for t in tables]


def test_no_scale_warning_on_standardized_tables_or_small_samples_of_them():
    """Whole tables, and 1 to 20 rows drawn from them (heavy-tailed features: a rare digit
    pixel standardizes to 40), and small standard normal tables: never a warning."""
    model, rng = RBM(visible_units="gaussian"), np.random.default_rng(0)
    samples = []
    for table in _standardized_tables():
        samples.append(table)
        samples += [table[rng.choice(len(table), n, replace=False)]
                    for n in (1, 2, 3, 5, 20) for _ in range(200)]
    samples += [rng.normal(size=(n, m)) for n in (1, 2, 5) for m in (1, 3, 10)
                for _ in range(300)]
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataScaleWarning)
        for X in samples:
            check_X(model, X, reset=True, units="gaussian")


def test_scale_warning_on_sparse_data_reads_the_matrix_without_densifying_it(densified):
    rng = np.random.default_rng(0)
    counts = scipy.sparse.csr_matrix(rng.poisson(0.2, size=(100, 50)) * 500.0)
    with pytest.warns(DataScaleWarning):
        check_X(RBM(visible_units="gaussian"), counts, reset=True, units="gaussian",
                sparse=True)
    assert not densified


def _digits_accuracy(X, y) -> tuple[float, bool]:
    # the recipe of the measurement (0.2.0's sigmoid units, no dropout): rectified units
    # die at once on data 30 standard deviations off centre (a DivergenceError instead)
    model = DBNClassifier((32,), visible_units="gaussian", hidden_units="bernoulli",
                          dropout=0.0, pretrain_epochs=3, pretrain_learning_rate=0.01,
                          max_iter=25, **CPU)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataScaleWarning)
        model.fit(X, y)
    return model.score(X, y), any(w.category is DataScaleWarning for w in caught)


def test_the_warning_fires_where_training_fails_on_digits():
    """The thresholds come from this measurement (digits, Gaussian visible units): the
    standardized data trains, and neither data 30 standard deviations off centre nor data
    shrunk a hundredfold does; the warning fires for those two only."""
    X, y = load_digits(return_X_y=True)
    X, y = StandardScaler().fit_transform(X[:600]), y[:600]
    accuracy, warned = _digits_accuracy(X, y)
    assert accuracy > 0.9 and not warned
    for bad in (X + 30, X * 0.01):
        accuracy, warned = _digits_accuracy(bad, y)
        assert accuracy < 0.2 and warned


def test_free_energy_gap_watches_sparse_training_data_as_it_does_dense():
    """Field report sibling: the free-energy gap callback read sparse training data as a
    tuple of tensors and crashed."""
    import scipy.sparse as sp

    from deepbelief import DBNTransformer
    from deepbelief.callbacks import FreeEnergyGap
    from deepbelief.datasets import load_digits

    X = load_digits()[0][:400]
    gaps = []
    for data in (X, sp.csr_matrix(X)):
        model = DBNTransformer((8,), pretrain_epochs=2, device="cpu", random_state=0,
                               callbacks=[FreeEnergyGap(X[300:])]).fit(data)
        gaps.append([r["free_energy_gap"] for r in model.history_["pretrain"][0]])
    assert gaps[0] == gaps[1] and all(g != 0 for g in gaps[0])


def test_the_advice_for_sparse_counts_works_on_sparse_matrices():
    """Field report sibling: the range error and the scale warning on sparse counts advised
    scalers that refuse sparse input."""
    import warnings

    import scipy.sparse as sp
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.preprocessing import MaxAbsScaler, StandardScaler

    from deepbelief import RBM, DataScaleWarning

    docs = ["the cat sat on the mat", "the dog ate the cat food", "a cat and a dog",
            "dogs and cats and mats", "the mat the mat the mat"] * 4
    counts = CountVectorizer().fit_transform(docs)
    with pytest.raises(ValueError, match=r"MaxAbsScaler.*CountVectorizer\(binary=True\)"):
        RBM(4, n_iter=1, random_state=0, device="cpu").fit(counts)
    RBM(4, n_iter=1, random_state=0, device="cpu").fit(MaxAbsScaler().fit_transform(counts))
    RBM(4, n_iter=1, random_state=0, device="cpu").fit(
        CountVectorizer(binary=True).fit_transform(docs))
    big = sp.csr_matrix(counts * 1000.0)
    with pytest.warns(DataScaleWarning, match=r"StandardScaler\(with_mean=False\)"):
        RBM(4, n_iter=1, visible_units="gaussian", learning_rate=0.01, random_state=0,
            device="cpu").fit(big)
    scaled = StandardScaler(with_mean=False).fit_transform(big)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataScaleWarning)
        RBM(4, n_iter=1, visible_units="gaussian", learning_rate=0.01, random_state=0,
            device="cpu").fit(scaled)
