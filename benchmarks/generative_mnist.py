"""Generative DBN on MNIST (Hinton, Osindero & Teh 2006): classification, samples, completion.

Trains ``GenerativeDBN((500, 500, 2000))`` greedily (labels joined to the top RBM's visible
layer) and reports: the generative classification error on the test set; the fraction of
class-conditional samples (100 per class) that a separately trained ``DBNClassifier``
assigns to the requested class; and the accuracy of that classifier on test digits whose
bottom half was hidden and then completed by the model, next to two baselines (hidden half
filled with the training mean; left at zero).

    python benchmarks/generative_mnist.py [--quick] [--epochs 10] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from deepbelief import DBNClassifier, GenerativeDBN
from deepbelief.datasets import load_mnist


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3,000 images, tiny layers")
    parser.add_argument("--epochs", type=int, default=10, help="CD epochs per layer")
    parser.add_argument("--n-gibbs", type=int, default=200)
    parser.add_argument("--n-complete", type=int, default=2000, help="test images to complete")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    root = Path(os.environ.get("DEEPBELIEF_DATA")
                or Path(__file__).resolve().parents[2] / "shared" / "data") / "mnist"
    X, y = load_mnist(root)
    X_test, y_test = load_mnist(root, kind="test")
    layers, clf_layers = (500, 500, 2000), (500, 500)
    if args.quick:
        X, y, X_test, y_test = X[:3000], y[:3000], X_test[:500], y_test[:500]
        layers, clf_layers, args.epochs, args.n_complete = (64, 64, 128), (64,), 1, 200
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}; "
          f"{len(X)} train / {len(X_test)} test images")

    start = time.perf_counter()
    gen = GenerativeDBN(layers, pretrain_epochs=args.epochs, batch_size=100, random_state=0,
                        device=args.device).fit(X, y)
    fit_s = time.perf_counter() - start
    error = 1.0 - float((gen.predict(X_test) == y_test).mean())
    print(f"GenerativeDBN 784-{'-'.join(map(str, layers[:-1]))}+10-{layers[-1]}, "
          f"{args.epochs} CD-1 epochs per layer: {fit_s:.1f} s; generative classification "
          f"test error {100 * error:.2f} %")

    start = time.perf_counter()
    judge = DBNClassifier(clf_layers, pretrain_epochs=5, max_iter=20, batch_size=100,
                          solver="sgd", learning_rate_init=0.1, dropout=0.2, random_state=0,
                          device=args.device).fit(X, y)
    judge_accuracy = float((judge.predict(X_test) == y_test).mean())
    print(f"judge DBNClassifier {clf_layers}: {time.perf_counter() - start:.1f} s, test "
          f"accuracy {judge_accuracy:.4f}")

    wanted = np.repeat(np.arange(10), 100 if not args.quick else 10)
    start = time.perf_counter()
    samples = gen.sample(len(wanted), y=wanted, n_gibbs=args.n_gibbs, random_state=0)
    agree = float((judge.predict(samples) == wanted).mean())
    print(f"class-conditional samples: {len(wanted)} ({args.n_gibbs} Gibbs steps, "
          f"{time.perf_counter() - start:.1f} s); classified as the requested class: "
          f"{100 * agree:.1f} %")

    images, labels = X_test[: args.n_complete], y_test[: args.n_complete]
    mask = np.zeros(784, dtype=bool)
    mask[: 14 * 28] = True  # the top half is known
    start = time.perf_counter()
    completed = gen.complete(images, np.broadcast_to(mask, images.shape), random_state=0)
    complete_s = time.perf_counter() - start
    mean_fill = np.where(mask, images, X.mean(0))
    zero_fill = np.where(mask, images, 0.0).astype(np.float32)
    for name, data in [("completed by the model", completed), ("training-mean fill", mean_fill),
                       ("zero fill", zero_fill)]:
        accuracy = float((judge.predict(data.astype(np.float32)) == labels).mean())
        print(f"  bottom half hidden, {name}: judge accuracy {accuracy:.4f}")
    print(f"  (completion of {len(images)} images: {complete_s:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
