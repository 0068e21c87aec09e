"""The migration path: the old deep-belief-network API on top of deepbelief."""

import numpy as np
import pytest
import torch

from deepbelief import DBNClassifier, DBNRegressor, DBNTransformer
from deepbelief.compat import (
    SupervisedDBNClassification,
    SupervisedDBNRegression,
    UnsupervisedDBN,
)

torch.set_num_threads(1)


def test_old_parameter_names_translate_to_deepbelief():
    old = SupervisedDBNClassification(
        hidden_layers_structure=[256, 128], learning_rate_rbm=0.05, learning_rate=0.1,
        n_epochs_rbm=7, n_iter_backprop=42, batch_size=16, activation_function="relu",
        dropout_p=0.3, contrastive_divergence_iter=2, l2_regularization=0.5,
    )
    new = old._translate()
    assert new["hidden_layer_sizes"] == (256, 128)
    assert new["hidden_units"] == "relu"
    assert new["pretrain_learning_rate"] == 0.05
    assert new["pretrain_epochs"] == 7
    assert new["k"] == 2
    assert new["learning_rate_init"] == 0.1
    assert new["max_iter"] == 42
    assert new["dropout"] == 0.3
    assert new["batch_size"] == 16
    assert new["solver"] == "sgd"
    assert new["alpha"] == 0.5
    DBNClassifier(**new)  # every translated name is a real parameter


def test_sigmoid_maps_to_bernoulli_and_bad_names_are_rejected(digits_split):
    assert UnsupervisedDBN(activation_function="sigmoid")._translate()["hidden_units"] == (
        "bernoulli"
    )
    X_train, _, y_train, _ = digits_split
    with pytest.raises(ValueError, match="'activation_function' parameter of "
                       "SupervisedDBNClassification must be a str among"):
        SupervisedDBNClassification(activation_function="tanh").fit(X_train, y_train)
    with pytest.raises(ValueError, match=r"'optimization_algorithm' parameter .* among \{'sgd'\}"):
        SupervisedDBNClassification(optimization_algorithm="adam").fit(X_train, y_train)


def test_old_example_runs_with_only_the_import_changed(digits_split, tmp_path):
    # The old package's README example, shortened (fewer epochs) to keep the suite fast.
    X_train, X_test, y_train, y_test = digits_split
    classifier = SupervisedDBNClassification(
        hidden_layers_structure=[64, 64], learning_rate_rbm=0.05, learning_rate=0.1,
        n_epochs_rbm=3, n_iter_backprop=30, batch_size=32, activation_function="relu",
        dropout_p=0.2, verbose=False, random_state=0,
    )
    classifier.fit(X_train, y_train)
    assert isinstance(classifier.estimator_, DBNClassifier)
    accuracy = (classifier.predict(X_test) == y_test).mean()
    assert accuracy > 0.9
    proba = classifier.predict_proba_dict(X_test[:3])
    assert len(proba) == 3 and set(proba[0]) == set(range(10))
    assert abs(sum(proba[0].values()) - 1) < 1e-6

    path = classifier.save(tmp_path / "old.safetensors")
    loaded = SupervisedDBNClassification.load(path)
    np.testing.assert_array_equal(loaded.predict(X_test), classifier.predict(X_test))
    with pytest.raises(ValueError, match="not a model for SupervisedDBNRegression"):
        SupervisedDBNRegression.load(path)


def test_regression_and_unsupervised(digits_split):
    X_train, _, y_train, _ = digits_split
    reg = SupervisedDBNRegression(hidden_layers_structure=[32], n_epochs_rbm=2,
                                  n_iter_backprop=5, learning_rate=0.01,
                                  verbose=False, random_state=0).fit(X_train, y_train * 1.0)
    assert isinstance(reg.estimator_, DBNRegressor)
    assert reg.predict(X_train[:4]).shape == (4,)
    dbn = UnsupervisedDBN(hidden_layers_structure=[32, 8], n_epochs_rbm=2, learning_rate_rbm=0.1,
                          verbose=False, random_state=0).fit(X_train)
    assert isinstance(dbn.estimator_, DBNTransformer)
    assert dbn.transform(X_train[:5]).shape == (5, 8)


def test_l2_regularization_is_scaled_per_sample_like_the_old_package(digits_split):
    X_train, _, y_train, _ = digits_split
    clf = SupervisedDBNClassification(hidden_layers_structure=[16], n_epochs_rbm=1,
                                      n_iter_backprop=1, l2_regularization=2.0,
                                      verbose=False, random_state=0).fit(X_train, y_train)
    assert clf.estimator_.alpha == pytest.approx(2.0 / len(X_train))
