"""Defaults search: candidate default recipes of DBNClassifier / DBNRegressor on six data sets.

Each recipe is a set of estimator parameters (unit types, learning rates, epochs, dropout,
solver, early stopping); everything it leaves out is the library default. A recipe runs as a
new user would run it: ``DBNClassifier(**recipe, random_state=seed).fit(X, y)`` on the raw
table (``visible_units='auto'`` standardises real-valued columns; pixels in [0, 1] get
Bernoulli units). In the same run, per data set and seed, scikit-learn's ``MLPClassifier`` /
``MLPRegressor`` with their defaults, on the raw table and behind a ``StandardScaler``.

Data sets and protocol (score: balanced accuracy for classification, R² for regression, on
held-out rows never seen in training):

- ``digits``: scikit-learn's digits X/16, the reference split
  ``train_test_split(test_size=0.2, random_state=0)``; the seed is the model's.
- ``mnist10k`` / ``fashion10k``: the first 10,000 training images, scored on the 10,000 test
  images (``DEEPBELIEF_DATA``).
- ``breast_cancer``, ``wine``, ``diabetes`` (regression): bundled with scikit-learn;
  ``friedman1`` (regression): ``make_friedman1(1000, noise=1.0, random_state=0)``; a
  stratified (classification) 75/25 split drawn with the seed.

    python benchmarks/defaults_search.py [--quick] [--threads 2] [--datasets NAME ...]
        [--recipes NAME ...] [--seeds N] [--image-seeds N]

The table it prints is recorded in BENCHMARKS.md ("Default recipe search").
"""

from __future__ import annotations

import statistics
import time
import warnings
from typing import Any

import numpy as np
from _common import (
    data_root,
    load_mnist,
    parse_args,
    print_machine_info,
    print_table,
    write_json,
)
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine, make_friedman1
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import balanced_accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from deepbelief import DBNClassifier, DBNRegressor
from deepbelief.datasets import load_digits, load_fashion_mnist

#: Candidate recipes: parameters given to the estimator; the rest are the library defaults
#: of the version that runs the script ('library' gives none at all).
RECIPES: dict[str, dict[str, Any]] = {
    "library": {},
    "sigmoid-adam": {"hidden_units": "bernoulli", "solver": "adam",
                     "learning_rate_init": 1e-3, "dropout": 0.0},
    "relu-sgd-dropout": {"hidden_units": "relu", "pretrain_learning_rate": 0.01,
                         "dropout": 0.2, "solver": "sgd", "learning_rate_init": 0.05},
    "relu-adam-dropout": {"hidden_units": "relu", "pretrain_learning_rate": 0.01,
                          "dropout": 0.2, "solver": "adam", "learning_rate_init": 1e-3},
    "relu-sgd-dropout-es": {"hidden_units": "relu", "pretrain_learning_rate": 0.01,
                            "dropout": 0.2, "solver": "sgd", "learning_rate_init": 0.05,
                            "early_stopping": True},
    "relu-adam": {"hidden_units": "relu", "pretrain_learning_rate": 0.01, "dropout": 0.0,
                  "solver": "adam", "learning_rate_init": 1e-3},
    "relu-adam-dropout-2e-3": {"hidden_units": "relu", "pretrain_learning_rate": 0.01,
                               "dropout": 0.2, "solver": "adam", "learning_rate_init": 2e-3},
    "relu-sgd-dropout-0.1": {"hidden_units": "relu", "pretrain_learning_rate": 0.01,
                             "dropout": 0.2, "solver": "sgd", "learning_rate_init": 0.1},
    "relu-sgd-dropout-200": {"hidden_units": "relu", "pretrain_learning_rate": 0.01,
                             "dropout": 0.2, "solver": "sgd", "learning_rate_init": 0.05,
                             "max_iter": 200, "n_iter_no_change": 20},
    "relu-adam-dropout-es": {"hidden_units": "relu", "pretrain_learning_rate": 0.01,
                             "dropout": 0.2, "solver": "adam", "learning_rate_init": 1e-3,
                             "early_stopping": True},
    "relu-sgd-es": {"hidden_units": "relu", "pretrain_learning_rate": 0.01, "dropout": 0.0,
                    "solver": "sgd", "learning_rate_init": 0.05, "early_stopping": True},
}
DEFAULT_RECIPES = ("library", "sigmoid-adam", "relu-sgd-dropout", "relu-adam-dropout",
                   "relu-sgd-dropout-es")
DATASETS = ("digits", "mnist10k", "fashion10k", "breast_cancer", "wine", "diabetes",
            "friedman1")
REGRESSION = {"diabetes", "friedman1"}
IMAGES = {"mnist10k", "fashion10k"}


def load(name: str, seed: int, quick: bool):
    """``(X_train, X_test, y_train, y_test)`` of data set ``name`` for ``seed``."""
    if name == "digits":
        X, y = load_digits()
        return train_test_split(X, y, test_size=0.2, random_state=0)
    if name in IMAGES:
        n_train, n_test = (1000, 500) if quick else (10000, 10000)
        if name == "mnist10k":
            X, y = load_mnist("train", n_train)
            Xt, yt = load_mnist("test", n_test)
        else:
            X, y = load_fashion_mnist(data_root(), kind="train")
            Xt, yt = load_fashion_mnist(data_root(), kind="test")
            X, y, Xt, yt = X[:n_train], y[:n_train], Xt[:n_test], yt[:n_test]
        return X, Xt, y, yt
    if name == "friedman1":
        X, y = make_friedman1(n_samples=1000, noise=1.0, random_state=0)
    else:
        loader = {"breast_cancer": load_breast_cancer, "wine": load_wine,
                  "diabetes": load_diabetes}[name]
        X, y = loader(return_X_y=True)
    stratify = None if name in REGRESSION else y
    return train_test_split(X, y, test_size=0.25, random_state=seed, stratify=stratify)


def score(name: str, model, X_test, y_test) -> float:
    predictions = model.predict(X_test)
    if name in REGRESSION:
        return float(r2_score(y_test, predictions))
    return float(balanced_accuracy_score(y_test, predictions))


def fit_timed(model, X, y) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        model.fit(X, y)
        return time.perf_counter() - start


def references(name: str, seed: int):
    """scikit-learn's MLP with its defaults, on the raw table and behind a StandardScaler."""
    mlp = MLPRegressor if name in REGRESSION else MLPClassifier
    yield "MLP", mlp(random_state=seed)
    if name not in IMAGES and name != "digits":
        yield "scaler+MLP", make_pipeline(StandardScaler(), mlp(random_state=seed))


def options(parser) -> None:
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS))
    parser.add_argument("--recipes", nargs="+", choices=tuple(RECIPES),
                        default=list(DEFAULT_RECIPES))
    parser.add_argument("--seeds", type=int, default=5,
                        help="seeds per data set (default: 5; images: --image-seeds)")
    parser.add_argument("--image-seeds", type=int, default=3,
                        help="seeds for the 10,000-image sets (default: 3)")


def main() -> int:
    args = parse_args(__doc__.splitlines()[0], options)
    machine = print_machine_info()
    results: dict[str, dict[str, list[dict]]] = {}
    for name in args.datasets:
        n_seeds = args.image_seeds if name in IMAGES else args.seeds
        n_seeds = min(n_seeds, 2) if args.quick else n_seeds
        results[name] = {}
        for seed in range(n_seeds):
            X, Xt, y, yt = load(name, seed, args.quick)
            runs = [(ref, model) for ref, model in references(name, seed)]
            estimator = DBNRegressor if name in REGRESSION else DBNClassifier
            for recipe in args.recipes:
                params = dict(RECIPES[recipe])
                if args.quick:
                    params.update(max_iter=3, pretrain_epochs=1)
                runs.append((recipe, estimator(**params, random_state=seed,
                                               device=args.device)))
            for label, model in runs:
                seconds = fit_timed(model, X, y)
                figure = score(name, model, Xt, yt)
                results[name].setdefault(label, []).append({"seed": seed, "score": figure,
                                                            "fit_s": seconds})
                print(f"{name:14s} seed {seed} {label:22s} score {figure:.4f} "
                      f"fit {seconds:7.2f} s", flush=True)
    rows = []
    for name, by_label in results.items():
        for label, runs in by_label.items():
            scores = [r["score"] for r in runs]
            rows.append((name, label, f"{statistics.fmean(scores):.4f}",
                         f"{min(scores):.4f}", f"{statistics.fmean(r['fit_s'] for r in runs):.2f}",
                         f"{max(r['fit_s'] for r in runs):.2f}", len(runs)))
    print_table("Mean score (balanced accuracy; R² for regression) by data set and recipe",
                ("data set", "model", "mean", "min", "fit s mean", "fit s max", "seeds"), rows)
    write_json(args.json, "defaults_search", args, machine, results)
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    raise SystemExit(main())
