"""The reference example: a DBN classifier on scikit-learn's digits.

Digits scaled to [0, 1] (X/16), ``train_test_split(test_size=0.2, random_state=0)``,
hidden layers [256, 256]. ``make demo`` runs :func:`main`.
"""

from __future__ import annotations

import time
from pathlib import Path

from sklearn.model_selection import train_test_split

from deepbelief.datasets import load_digits
from deepbelief.estimators import DBNClassifier
from deepbelief.plotting import plot_predictions

#: The demo's settings (also used by ``benchmarks/digits.py``): NReLU hidden units,
#: dropout and SGD fine-tuning; see BENCHMARKS.md for the figures they give.
DEMO_PARAMS: dict = {
    "hidden_layer_sizes": (256, 256),
    "hidden_units": "relu",
    "pretrain_learning_rate": 0.01,
    "pretrain_epochs": 10,
    "batch_size": 32,
    "dropout": 0.2,
    "solver": "sgd",
    "learning_rate_init": 0.05,
    "max_iter": 100,
}


def run(seed: int = 0, output: str | Path = "out", device: str = "cpu") -> dict:
    """Fit the demo model; return accuracy, fit time and the picture's path."""
    X, y = load_digits()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
    model = DBNClassifier(**DEMO_PARAMS, random_state=seed, device=device)
    start = time.perf_counter()
    model.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    predictions = model.predict(X_test)
    accuracy = float((predictions == y_test).mean())
    picture = plot_predictions(X_test[:10], y_test[:10], predictions[:10],
                               Path(output) / "digits_predictions.png")
    return {"accuracy": accuracy, "fit_seconds": seconds, "picture": str(picture),
            "model": model, "n_train": len(X_train), "n_test": len(X_test)}


def main(seed: int = 0, output: str | Path = "out", device: str = "cpu") -> int:
    result = run(seed, output, device)
    model = result["model"]
    print(f"deepbelief demo: DBNClassifier {list(DEMO_PARAMS['hidden_layer_sizes'])} on digits "
          f"({result['n_train']} train / {result['n_test']} test, X/16, random_state=0 split)")
    print(f"  pretraining {model.pretrain_time_:.2f} s, fine-tuning {model.finetune_time_:.2f} s "
          f"({model.n_iter_} epochs)")
    print(f"  test accuracy: {result['accuracy']:.4f}")
    print(f"  training time: {result['fit_seconds']:.2f} s")
    print(f"  picture of 10 test digits with label and prediction: {result['picture']}")
    return 0
