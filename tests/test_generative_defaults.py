"""``GenerativeDBN()`` with its default recipe on small data, and ``sample_weight`` in its
``fit`` (issue 13).

A new user's ``GenerativeDBN().fit(X, y)`` on scikit-learn's 300 blobs (or on iris)
predicted one class for every row: ten epochs of 300 rows are 100 parameter updates, and
Gaussian units of unit variance on standardised data leave the hidden units nothing to
learn (:mod:`deepbelief.estimators._generative_recipe`).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import load_iris
from sklearn.model_selection import train_test_split

from deepbelief import GenerativeDBN
from deepbelief.callbacks import Callback
from deepbelief.core.generative import GenerativeStack
from deepbelief.estimators import _generative_weights
from deepbelief.estimators._generative_precision import label_chunk
from deepbelief.estimators._generative_recipe import GAUSSIAN_SPREAD, auto_epochs
from deepbelief.training import greedy

CPU = {"device": "cpu", "random_state": 0}


def _bits(n_rows: int, n_features: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random binary rows and two alternating classes."""
    X = (np.random.default_rng(seed).random((n_rows, n_features)) < 0.5).astype(np.float64)
    return X, np.arange(n_rows) % 2


def _parameters(model: GenerativeDBN) -> list[torch.Tensor]:
    layers = [*model.rbms_, *(model.recognition_ or [])]
    return [p.detach().clone() for layer in layers for p in layer.parameters()]


def _identical(a: GenerativeDBN, b: GenerativeDBN) -> bool:
    return all(torch.equal(p, q) for p, q in zip(_parameters(a), _parameters(b), strict=True))


# -- the default recipe -----------------------------------------------------------------------


def test_a_default_model_tells_the_iris_species_apart():
    """``GenerativeDBN()`` on iris (120 training rows of 4 measurements) predicted one
    species for every flower; it now classifies most test flowers right."""
    X, y = load_iris(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
    model = GenerativeDBN(**CPU).fit(X_train, y_train)
    assert set(model.predict(X_test)) == {0, 1, 2}
    assert model.score(X_test, y_test) >= 0.7  # 0.80-0.83 over seeds 0-2; 0.2 before


@pytest.mark.parametrize(("n_rows", "epochs"), [(300, 20), (2_400, 14), (3_200, 10)])
def test_auto_epochs_make_1000_updates_within_10_to_20_epochs(n_rows, epochs):
    """``pretrain_epochs='auto'`` trains every layer ceil(1000 / batches) epochs, at least 10
    (large data, e.g. MNIST, as before) and at most 20 (300 rows: 200 updates, not 100)."""
    assert auto_epochs(n_rows, 32) == epochs
    X, y = _bits(n_rows)
    model = GenerativeDBN((4, 4), **CPU).fit(X, y)
    assert [len(h) for h in model.history_["pretrain"]] == [epochs, epochs]


def test_auto_epochs_on_large_data_are_the_ten_epochs_of_before():
    """On 100 mini-batches or more the default trains as ``pretrain_epochs=10``, bit for bit."""
    X, y = _bits(3_200)
    assert _identical(GenerativeDBN((4, 4), **CPU).fit(X, y),
                      GenerativeDBN((4, 4), pretrain_epochs=10, **CPU).fit(X, y))


def test_a_given_number_of_epochs_is_kept_on_small_data():
    X, y = _bits(300)
    model = GenerativeDBN((4, 4), pretrain_epochs=3, **CPU).fit(X, y)
    assert [len(h) for h in model.history_["pretrain"]] == [3, 3]


def test_real_valued_data_is_read_at_three_standard_deviations():
    """'auto' standardises real-valued data to a standard deviation of 3 (the Gaussian
    units' noise is a third of each feature's spread); the model's outputs are in the
    data's units; explicit Gaussian units read the data as given."""
    rng = np.random.default_rng(0)
    X = rng.normal(100.0, 5.0, (200, 3))
    y = np.arange(200) % 2
    model = GenerativeDBN((8,), pretrain_epochs=1, **CPU).fit(X, y)
    assert model.visible_units_ == "gaussian"
    np.testing.assert_allclose(model.input_scale_, X.std(0) / GAUSSIAN_SPREAD)
    assert np.abs(model.reconstruct(X).mean(0) - X.mean(0)).max() < 5.0
    explicit = GenerativeDBN((8,), pretrain_epochs=1, visible_units="gaussian", **CPU)
    assert explicit.fit((X - 100) / 5, y).input_scale_ is None


def test_a_rows_probabilities_do_not_depend_on_the_rows_beside_it():
    """The label free energies are summed in float64: one row and a batch agree far below
    scikit-learn's 1e-7 (in float32 they differed by 5e-7 once the model separated the
    classes)."""
    X, y = load_iris(return_X_y=True)
    model = GenerativeDBN(**CPU).fit(X, y)
    together = model.predict_proba(X[:20])
    alone = np.vstack([model.predict_proba(X[i : i + 1]) for i in range(20)])
    np.testing.assert_allclose(alone, together, rtol=1e-12, atol=1e-12)
    assert label_chunk(GenerativeStack(model.rbms_)) == 2**25 // (3 * 2000)


# -- sample_weight ------------------------------------------------------------------------------


@pytest.mark.parametrize("labelled", [True, False])
def test_a_weight_of_zero_is_the_row_left_out(labelled):
    """Rows of weight 0 are removed before training: bit for bit the fit without them,
    lower layers, top RBM and up-down fine-tuning included, with or without labels."""
    X, y = _bits(90)
    weight = np.tile([0.0, 1.0, 2.0, 0.0, 3.0], 18)
    kept = weight > 0
    settings = {"hidden_layer_sizes": (8, 8), "pretrain_epochs": 2, "updown_epochs": 1,
                "batch_size": 8, **CPU}
    weighted = GenerativeDBN(**settings).fit(X, y if labelled else None, sample_weight=weight)
    dropped = GenerativeDBN(**settings).fit(X[kept], y[kept] if labelled else None,
                                            sample_weight=weight[kept])
    assert _identical(weighted, dropped)


def test_every_phase_draws_its_rows_in_proportion_to_the_weights(monkeypatch):
    """The lower RBMs, the top RBM and up-down fine-tuning each draw their epochs' rows
    with the weights (a ResampledSource given them), not a permutation."""
    seen = []

    class Recording(_generative_weights._ResampledRows):  # a ResampledSource
        def __init__(self, source, weight):
            seen.append(weight.clone())
            super().__init__(source, weight)

    monkeypatch.setattr(greedy, "ResampledSource", Recording)
    monkeypatch.setattr(_generative_weights, "_ResampledRows", Recording)
    X, y = _bits(60)
    weight = np.tile([1.0, 2.0, 3.0], 20)
    GenerativeDBN((8, 8), pretrain_epochs=1, updown_epochs=1, **CPU).fit(
        X, y, sample_weight=weight)
    assert len(seen) == 3  # layer 1, the top RBM, up-down
    for w in seen:
        torch.testing.assert_close(w, torch.as_tensor(weight, dtype=torch.float32))


def test_integer_weights_are_repeated_rows_where_nothing_is_drawn():
    """With no epochs nothing is drawn at random after the initial weights: a weight of 2
    gives the model of the row repeated (the labels' prior from the weighted class counts)."""
    X, y = _bits(30)
    weight = np.tile([1, 2, 0, 3, 1], 6)
    settings = {"hidden_layer_sizes": (16,), "pretrain_epochs": 0, **CPU}
    weighted = GenerativeDBN(**settings).fit(X, y, sample_weight=weight)
    repeated = GenerativeDBN(**settings).fit(np.repeat(X, weight, 0), np.repeat(y, weight))
    labels = slice(X.shape[1], None)
    assert torch.equal(weighted.rbms_[0].visible_bias[labels],
                       repeated.rbms_[0].visible_bias[labels])
    np.testing.assert_allclose(weighted.predict_proba(X), repeated.predict_proba(X),
                               rtol=1e-7, atol=1e-9)


def test_a_weight_of_three_counts_as_three_rows_in_expectation():
    """On inputs that say nothing about the class, class 1 weighted 3 is learnt as a prior of
    3/4, as with its rows repeated three times (same updates per epoch), where the
    unweighted data give 1/2. (Weights in the initial biases only, with the epochs drawing
    rows uniformly, gave 0.50.)"""
    X, y = np.zeros((60, 4)), np.arange(60) % 2
    weight = np.where(y == 1, 3, 1)
    settings = {"hidden_layer_sizes": (8,), "pretrain_epochs": 20, "device": "cpu"}

    def prior(batch_size, X, y, sample_weight=None):
        return np.mean([GenerativeDBN(**settings, batch_size=batch_size, random_state=seed)
                        .fit(X, y, sample_weight=sample_weight).predict_proba(X[:1])[0, 1]
                        for seed in range(5)])

    weighted = prior(10, X, y, weight)  # 0.71
    repeated = prior(20, np.repeat(X, weight, 0), np.repeat(y, weight))  # 0.75
    unweighted = prior(10, X, y)  # 0.55
    assert abs(weighted - 0.75) < 0.1 and abs(repeated - 0.75) < 0.1
    assert weighted > unweighted + 0.1


class _CtrlC(Callback):
    """Raises KeyboardInterrupt at the end of one epoch of the top RBM (layer index 1)."""

    def on_epoch_end(self, context):
        if context.phase == "pretrain" and context.layer == 1 and context.epoch == 1:
            raise KeyboardInterrupt


def test_a_weighted_fit_resumed_from_a_checkpoint_is_the_uninterrupted_one(tmp_path):
    """Interrupted in the top RBM's epochs and resumed, a weighted fit keeps drawing rows by
    the weights: it ends as the fit that was never interrupted, bit for bit."""
    X, y = _bits(60)
    weight = np.tile([1.0, 2.0, 3.0], 20)
    settings = {"hidden_layer_sizes": (8, 8), "pretrain_epochs": 3, "updown_epochs": 2, **CPU}
    whole = GenerativeDBN(**settings).fit(X, y, sample_weight=weight)
    path = tmp_path / "fit.ckpt"
    with pytest.raises(KeyboardInterrupt):
        GenerativeDBN(**settings, callbacks=[_CtrlC()]).fit(X, y, sample_weight=weight,
                                                            checkpoint=path)
    resumed = GenerativeDBN(**settings).fit(X, y, sample_weight=weight, checkpoint=path,
                                            resume=True)
    assert _identical(whole, resumed)


class _CtrlCAtTheTop(Callback):
    """Raises KeyboardInterrupt when the top RBM's first epoch begins: the last checkpoint
    is the one written when the lower layers finished."""

    def on_epoch_begin(self, context):
        if context.phase == "pretrain" and context.layer == 1:
            raise KeyboardInterrupt


@pytest.mark.parametrize("init", ["random", "transpose"])
def test_a_fit_interrupted_before_the_top_rbm_resumes_from_the_boundary(tmp_path, init):
    X, y = _bits(60)
    settings = {"hidden_layer_sizes": (8, 8), "pretrain_epochs": 2, "pretrain_init": init,
                **CPU}
    whole = GenerativeDBN(**settings).fit(X, y)
    path = tmp_path / "fit.ckpt"
    with pytest.raises(KeyboardInterrupt):
        GenerativeDBN(**settings, callbacks=[_CtrlCAtTheTop()]).fit(X, y, checkpoint=path)
    resumed = GenerativeDBN(**settings).fit(X, y, checkpoint=path, resume=True)
    assert _identical(whole, resumed)


def test_bad_weights_are_refused_with_advice():
    X, y = _bits(20)
    with pytest.raises(ValueError, match=r"numpy\.clip"):
        GenerativeDBN((4,), pretrain_epochs=1, **CPU).fit(X, y, sample_weight=-np.ones(20))
    only_class_0 = (y == 0).astype(float)
    with pytest.raises(ValueError, match="positive sample_weight to rows of another class"):
        GenerativeDBN((4,), pretrain_epochs=1, **CPU).fit(X, y, sample_weight=only_class_0)
