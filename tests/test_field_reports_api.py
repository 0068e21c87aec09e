"""Field reports on the API surface (issue 19, items 3, 4 and 7).

3. From features back to inputs: ``inverse_transform`` on every transformer (``RBM``,
   ``DBNTransformer``, the compat ``UnsupervisedDBN`` and its layers), ``reconstruct`` and
   the old ``rbm_layers`` on the compat class.
4. The compat ``load`` restores the parameters under their old names, and an invalid value
   is reported under the name the user gave.
7. Every function of ``deepbelief.evaluation`` takes the fitted estimator as well as the
   module, and refuses what it cannot evaluate with an error that says what it takes.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from deepbelief import RBM, DBNClassifier, DBNTransformer, load
from deepbelief.compat import (
    RBMLayer,
    SupervisedDBNClassification,
    SupervisedDBNRegression,
    UnsupervisedDBN,
)
from deepbelief.core.stack import down_pass
from deepbelief.datasets import load_digits
from deepbelief.evaluation import (
    ais_log_partition,
    dbn_log_likelihood_bound,
    exact_log_partition,
    free_energy_gap,
    log_likelihood,
    pseudo_likelihood,
    reconstruction_error,
)

X, Y = load_digits()
X, Y = X[:300], Y[:300]


def _rbm(**kw):
    return RBM(8, n_iter=1, device="cpu", random_state=0, **kw).fit(X)


def _dbn():
    return DBNTransformer((12, 6), pretrain_epochs=1, device="cpu", random_state=0).fit(X)


def _compat_dbn():
    return UnsupervisedDBN(hidden_layers_structure=[12, 6], n_epochs_rbm=1, verbose=False,
                           learning_rate_rbm=0.1, random_state=0, device="cpu").fit(X)


def _partial_dbn():
    dbn = DBNTransformer((12, 6), device="cpu", random_state=0)
    dbn.partial_fit(X[:150])
    return dbn.partial_fit(X[150:])


TRANSFORMERS = {"rbm": _rbm, "dbn": _dbn, "compat": _compat_dbn, "partial_fit": _partial_dbn}


def _layers(model) -> list:
    return [model.rbm_] if hasattr(model, "rbm_") else list(model.rbms_)


# -- 3. inverse_transform ---------------------------------------------------------------------
@pytest.mark.parametrize("kind", TRANSFORMERS)
def test_features_decode_back_to_inputs_by_the_top_down_pass_of_means(kind):
    """The features of transform go back to inputs, as the old down_pass route did."""
    model = TRANSFORMERS[kind]()
    features = model.transform(X[:20])
    decoded = model.inverse_transform(features)
    by_hand = down_pass(_layers(model), torch.from_numpy(features)).numpy()
    assert isinstance(decoded, np.ndarray) and decoded.dtype == np.float32
    np.testing.assert_array_equal(decoded, by_hand)
    np.testing.assert_array_equal(decoded, model.reconstruct(X[:20]))
    wide = model.inverse_transform(features.astype(np.float64))
    assert wide.dtype == np.float64
    np.testing.assert_allclose(wide, decoded, rtol=1e-6)
    assert wide.shape == (20, X.shape[1])


@pytest.mark.parametrize("kind", TRANSFORMERS)
@pytest.mark.parametrize(("bad", "phrase"), [
    (lambda F: F[:, :-1], r"columns, but \w+\.inverse_transform expects \d+, one per hidden "
                          "unit of its top layer: pass what its transform returns"),
    (lambda F: np.where(F > 0.5, np.nan, F), "NaN or infinite"),
    (lambda F: np.where(F > 0.5, np.inf, F), "NaN or infinite"),
    (lambda F: F[0], "Expected 2D array"),
])
def test_inverse_transform_refuses_features_it_cannot_decode(kind, bad, phrase):
    """Wrong column counts and non-finite features are refused with a clear message."""
    model = TRANSFORMERS[kind]()
    with pytest.raises(ValueError, match=phrase):
        model.inverse_transform(bad(model.transform(X[:5])))


@pytest.mark.parametrize("model", [RBM(), DBNTransformer(), UnsupervisedDBN()])
def test_inverse_transform_of_an_unfitted_model_says_fit_first(model):
    with pytest.raises(NotFittedError):
        model.inverse_transform(np.zeros((1, 4)))


def test_compat_unsupervised_dbn_lists_its_layers_under_the_old_names():
    """rbm_layers: W (hidden x visible), b (visible bias), c (hidden bias), and per-layer
    transform / inverse_transform that chain to the whole model's."""
    dbn = _compat_dbn()
    layers = dbn.rbm_layers
    assert [type(layer) for layer in layers] == [RBMLayer, RBMLayer]
    assert [(layer.n_visible_units, layer.n_hidden_units) for layer in layers] == [(64, 12),
                                                                                   (12, 6)]
    for layer, rbm in zip(layers, dbn.estimator_.rbms_, strict=True):
        np.testing.assert_array_equal(layer.W, rbm.weight.detach().numpy().T)
        np.testing.assert_array_equal(layer.b, rbm.visible_bias.detach().numpy())
        np.testing.assert_array_equal(layer.c, rbm.hidden_bias.detach().numpy())
    up = layers[1].transform(layers[0].transform(X[:7]))
    np.testing.assert_array_equal(up, dbn.transform(X[:7]))
    down = layers[0].inverse_transform(layers[1].inverse_transform(up))
    np.testing.assert_array_equal(down, dbn.reconstruct(X[:7]))
    with pytest.raises(ValueError, match=r"RBMLayer\.transform expects 12, one per visible unit"):
        layers[1].transform(X[:7])


# -- 4. the compat classes keep their parameters ---------------------------------------------
def _weights(compat) -> list[torch.Tensor]:
    estimator = compat.estimator_
    modules = [*estimator.rbms_, *([estimator.network_] if hasattr(estimator, "network_")
                                   else [])]
    return [t for m in modules for t in m.state_dict().values()]


COMPAT_FITS = {
    "classification": lambda: SupervisedDBNClassification(
        hidden_layers_structure=[16], activation_function="relu", learning_rate=0.1,
        learning_rate_rbm=0.05, n_epochs_rbm=2, n_iter_backprop=3, l2_regularization=0.5,
        dropout_p=0.1, batch_size=16, verbose=False, random_state=0, device="cpu"),
    "regression": lambda: SupervisedDBNRegression(
        hidden_layers_structure=(16, 8), learning_rate=0.01, n_epochs_rbm=1,
        n_iter_backprop=2, verbose=False, random_state=3, device="cpu"),
    "unsupervised": lambda: UnsupervisedDBN(
        hidden_layers_structure=[16, 4], activation_function="relu", learning_rate_rbm=0.01,
        n_epochs_rbm=2, contrastive_divergence_iter=2, verbose=0, random_state=1,
        device="cpu"),
}


def _fit(compat):
    return compat.fit(X) if isinstance(compat, UnsupervisedDBN) else compat.fit(X, Y * 1.0)


@pytest.mark.parametrize("kind", COMPAT_FITS)
def test_compat_load_restores_the_parameters_and_clone_refits_the_same(kind, tmp_path):
    """A loaded compat model reports what it was trained with; clone(loaded).fit trains the
    same network as the original fit."""
    original = _fit(COMPAT_FITS[kind]())
    path = original.save(tmp_path / "model.safetensors")
    loaded = type(original).load(path)
    assert loaded.get_params() == original.get_params()
    assert type(loaded.hidden_layers_structure) is type(original.hidden_layers_structure)
    refit = _fit(clone(loaded))
    for a, b in zip(_weights(refit), _weights(original), strict=True):
        assert torch.equal(a, b)
    assert type(load(path)) is type(original.estimator_)  # still a deepbelief model file


def test_compat_load_of_a_file_without_the_record_translates_back(tmp_path):
    """A file saved before the compat parameters were recorded: every parameter that can be
    translated back is, and the one that cannot (l2_regularization) is named."""
    original = _fit(COMPAT_FITS["classification"]())
    path = original.estimator_.save(tmp_path / "old.safetensors")
    with pytest.warns(UserWarning, match="l2_regularization is unknown"):
        loaded = SupervisedDBNClassification.load(path)
    expected = {**original.get_params(), "l2_regularization": 1.0}
    assert loaded.get_params() == expected
    refit = _fit(clone(loaded).set_params(l2_regularization=0.5))
    for a, b in zip(_weights(refit), _weights(original), strict=True):
        assert torch.equal(a, b)


def test_compat_load_refuses_a_model_the_old_parameters_cannot_describe(tmp_path):
    """A DBNClassifier trained with Adam is no SupervisedDBNClassification; the advice
    (deepbelief.load) works."""
    path = DBNClassifier((8,), pretrain_epochs=1, max_iter=1, device="cpu",
                         random_state=0).fit(X, Y).save(tmp_path / "native.safetensors")
    with pytest.raises(ValueError, match=r"cannot express \(.*solver='adam'.*deepbelief\.load"):
        SupervisedDBNClassification.load(path)
    assert load(path).predict(X[:3]).shape == (3,)


def test_compat_load_keeps_the_device_argument(tmp_path):
    original = _fit(COMPAT_FITS["unsupervised"]())
    path = original.save(tmp_path / "model.safetensors")
    assert UnsupervisedDBN.load(path, device="cpu").estimator_.rbms_[0].weight.device.type == (
        "cpu")


OLD_BAD_VALUES = [
    ("n_iter_backprop", -1), ("learning_rate", 0.0), ("l2_regularization", -1.0),
    ("dropout_p", 1.5), ("learning_rate_rbm", -0.1), ("n_epochs_rbm", -1),
    ("contrastive_divergence_iter", 0), ("batch_size", 0), ("hidden_layers_structure", [0]),
    ("hidden_layers_structure", "64"), ("learning_rate_rbm", [0.1, 0.1, 0.1]),
    ("n_epochs_rbm", [1, -1]), ("activation_function", "tanh"),
    ("optimization_algorithm", "adam"), ("verbose", -1),
]
_NEW_NAMES = {"n_iter_backprop": "max_iter", "learning_rate": "learning_rate_init",
              "l2_regularization": "alpha", "dropout_p": "dropout",
              "learning_rate_rbm": "pretrain_learning_rate", "n_epochs_rbm": "pretrain_epochs",
              "contrastive_divergence_iter": "'k'", "hidden_layers_structure":
              "hidden_layer_sizes", "activation_function": "hidden_units",
              "optimization_algorithm": "solver"}


@pytest.mark.parametrize(("kind", "name", "value"), [
    (kind, name, value) for kind, make in COMPAT_FITS.items()
    for name, value in OLD_BAD_VALUES if name in make().get_params()])
def test_an_invalid_old_value_is_reported_under_the_old_name(kind, name, value):
    """The error names the parameter as the user typed it, and the compat class."""
    compat = COMPAT_FITS[kind]().set_params(**{name: value})
    with pytest.raises(ValueError) as error:
        _fit(compat)
    message = str(error.value)
    assert name in message
    assert _NEW_NAMES.get(name, "@") not in message.replace(name, "")
    assert "DBNClassifier" not in message and "DBNTransformer" not in message


def test_compat_trains_with_no_backpropagation_iterations():
    """n_iter_backprop=0 (only pretraining) is valid, as max_iter=0 is."""
    clf = SupervisedDBNClassification(hidden_layers_structure=[8], n_epochs_rbm=1,
                                      n_iter_backprop=0, verbose=False, random_state=0,
                                      device="cpu").fit(X, Y)
    assert clf.predict(X[:4]).shape == (4,)


# -- 7. evaluation takes the estimators --------------------------------------------------------
ONE_RBM = {
    "exact_log_partition": lambda m: exact_log_partition(m),
    "ais_log_partition": lambda m: ais_log_partition(
        m, n_runs=4, betas=np.linspace(0, 1, 30), data=X, random_state=0).log_z,
    "log_likelihood": lambda m: log_likelihood(m, X[:5], 3.0),
    "pseudo_likelihood": lambda m: pseudo_likelihood(m, X[:5]),
    "reconstruction_error": lambda m: reconstruction_error(m, X),
    "free_energy_gap": lambda m: free_energy_gap(m, X[:50], X[50:100]),
}


def _same(a, b) -> None:
    if isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b)
    else:
        assert a == b


@pytest.mark.parametrize("function", ONE_RBM)
def test_evaluation_takes_the_fitted_rbm_estimator(function):
    """The fitted RBM itself gives what its module rbm_ gives."""
    rbm = _rbm()
    _same(ONE_RBM[function](rbm), ONE_RBM[function](rbm.rbm_))


def test_dbn_bound_takes_the_fitted_dbn_and_its_layers_in_every_form():
    """A DBNTransformer, the compat UnsupervisedDBN, its rbm_layers, a list of fitted RBMs
    and a single RBM are all accepted."""
    def bound(model):
        return dbn_log_likelihood_bound(model, X[:4], 2.0, n_samples=3, random_state=0)

    dbn = _dbn()
    expected = bound(list(dbn.rbms_))
    _same(bound(dbn), expected)
    compat = _compat_dbn()
    _same(bound(compat), bound(compat.rbm_layers))
    _same(bound(compat), bound(list(compat.estimator_.rbms_)))
    rbm = _rbm()
    _same(bound(rbm), bound([rbm]))
    torch.testing.assert_close(bound([rbm]), log_likelihood(rbm, X[:4], 2.0))


@pytest.mark.parametrize("function", ONE_RBM)
def test_evaluation_refuses_what_it_cannot_evaluate(function):
    """A string, a DBN for a one-RBM function, a classifier: TypeError saying what is
    accepted (and the advice works); an unfitted RBM: NotFittedError."""
    call = ONE_RBM[function]
    with pytest.raises(TypeError, match=rf"{function} takes an RBMModule or a fitted "
                                        r"deepbelief\.RBM .*; got 'rbm'"):
        call("rbm")
    with pytest.raises(NotFittedError, match="not fitted yet"):
        call(RBM())
    dbn = _dbn()
    with pytest.raises(TypeError, match=r"a stack of 2 RBMs: pass one of them, e\.g\. "
                                        r"model\.rbms_\[-1\]"):
        call(dbn)
    call(dbn.rbms_[0])  # one of them, as the message says (the bottom one reads X)
    clf = DBNClassifier((8,), hidden_units="bernoulli", pretrain_epochs=1, max_iter=1,
                        device="cpu", random_state=0).fit(X, Y)
    with pytest.raises(TypeError, match=r"got a DBNClassifier, a model that predicts.*pass "
                                        r"them: model\.rbms_"):
        call(clf)
    call(clf.rbms_[0])


@pytest.mark.parametrize("bad", ["abc", 3, [], ["a", "b"], DBNTransformer(), "classifier"])
def test_dbn_bound_refuses_what_is_not_a_dbn(bad):
    if bad == "classifier":
        bad = DBNClassifier((8,), pretrain_epochs=1, max_iter=1, device="cpu",
                            random_state=0).fit(X, Y)
    expected = NotFittedError if isinstance(bad, DBNTransformer) else TypeError
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(expected, match="dbn_log_likelihood_bound takes the RBMs of a DBN"
                           if expected is TypeError else "not fitted yet"):
            dbn_log_likelihood_bound(bad, X[:2], 0.0)


def test_evaluation_refuses_data_outside_the_visible_units_states():
    """Field report sibling: likelihoods of values outside [0, 1] came out "better" than
    those of the real data instead of being refused."""
    from deepbelief.evaluation import (
        exact_log_partition,
        free_energy_gap,
        log_likelihood,
        pseudo_likelihood,
        reconstruction_error,
    )

    X = (load_digits()[0][:200] > 0.5).astype(np.float32)
    rbm = RBM(8, n_iter=2, random_state=0, device="cpu").fit(X)
    log_z = exact_log_partition(rbm)
    for call in (lambda: log_likelihood(rbm, X * 1.5, log_z),
                 lambda: pseudo_likelihood(rbm, X * 2),
                 lambda: free_energy_gap(rbm, X * 3, X)):
        with pytest.raises(ValueError, match=r"does not fit the visible units.*numpy.clip"):
            call()
    # the advice works, and a forward pass takes any input
    assert np.isfinite(log_likelihood(rbm, np.clip(X * 1.5, 0.0, 1.0), log_z)).all()
    assert np.isfinite(reconstruction_error(rbm, X * 1.5))


def test_evaluation_says_how_to_pass_a_sparse_matrix():
    import scipy.sparse as sp

    from deepbelief.evaluation import exact_log_partition, log_likelihood

    X = (load_digits()[0][:100] > 0.5).astype(np.float32)
    rbm = RBM(8, n_iter=1, random_state=0, device="cpu").fit(X)
    log_z = exact_log_partition(rbm)
    with pytest.raises(TypeError, match=r"sparse matrix.*X.toarray\(\)"):
        log_likelihood(rbm, sp.csr_matrix(X), log_z)
    np.testing.assert_array_equal(log_likelihood(rbm, sp.csr_matrix(X).toarray(), log_z),
                                  log_likelihood(rbm, X, log_z))
