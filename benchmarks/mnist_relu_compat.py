"""The old deep-belief-network package's ReLU settings on MNIST, through deepbelief.compat.

The old package silently produced NaN weights and ~9% accuracy here. deepbelief must
either train (report the test accuracy) or stop with a clear DivergenceError.

    python benchmarks/mnist_relu_compat.py [--quick] [--epochs-rbm 10] [--iter-backprop 100]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

from deepbelief import DivergenceError
from deepbelief.compat import SupervisedDBNClassification
from deepbelief.datasets import load_mnist


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="5,000 images, 1+2 epochs")
    parser.add_argument("--epochs-rbm", type=int, default=10)
    parser.add_argument("--iter-backprop", type=int, default=100)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    fallback = Path(__file__).resolve().parents[2] / "shared" / "data"
    root = os.environ.get("DEEPBELIEF_DATA") or str(fallback)
    X, y = load_mnist(Path(root) / "mnist")
    X_test, y_test = load_mnist(Path(root) / "mnist", kind="test")
    epochs_rbm, iters = args.epochs_rbm, args.iter_backprop
    if args.quick:
        X, y, epochs_rbm, iters = X[:5000], y[:5000], 1, 2
    # The old package's README settings, as a user would carry them over to MNIST.
    clf = SupervisedDBNClassification(
        hidden_layers_structure=[256, 256], learning_rate_rbm=0.05, learning_rate=0.1,
        n_epochs_rbm=epochs_rbm, n_iter_backprop=iters, batch_size=32,
        activation_function="relu", dropout_p=0.2, verbose=False, random_state=0,
        device=args.device,
    )
    start = time.perf_counter()
    try:
        clf.fit(X, y)
    except DivergenceError as exc:
        print(f"stopped with a clear error after {time.perf_counter() - start:.1f} s:\n  {exc}")
        return 0
    seconds = time.perf_counter() - start
    weights_finite = all(np.isfinite(p.detach().cpu().numpy()).all()
                         for p in clf.estimator_.network_.parameters())
    accuracy = float((clf.predict(X_test) == y_test).mean())
    print(f"trained {len(X)} images: n_epochs_rbm={epochs_rbm}, n_iter_backprop={iters}, "
          f"{seconds:.1f} s; weights finite: {weights_finite}; test accuracy {accuracy:.4f}")
    return 0 if weights_finite else 1


if __name__ == "__main__":
    sys.exit(main())
