"""Test log-likelihood of an RBM (and a 2-layer DBN bound) on MNIST, by AIS.

Salakhutdinov & Murray (2008): a 500-hidden RBM trained with CD-25 scores -86.34 nats per
test image; 2-layer DBNs about -84.5 to -86. Pixels are binarised stochastically (with a
fixed seed), as in the paper; with ``--sample-inputs`` training instead draws a fresh
binarisation of every mini-batch (dynamic binarisation) and the test set stays the fixed one.

Beside the AIS figure, which errs high, it prints the conservative reverse-AIS (RAISE)
estimate of the first ``--raise-images`` test images, which errs low (Burda, Grosse &
Salakhutdinov, 2015), and the AIS figure of the same images.

    python benchmarks/rbm_likelihood.py [--quick] [--epochs 100] [--method pcd] [--k 1]
                                        [--sample-inputs] [--no-dbn] [--json FILE]
                                        [--raise-images 100] [--raise-runs 10]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from _common import load_mnist  # $DEEPBELIEF_DATA, else ../shared/data

from deepbelief import RBM
from deepbelief.evaluation import (
    ais_log_partition,
    dbn_log_likelihood_bound,
    default_betas,
    log_likelihood,
    raise_log_likelihood,
)


def binarise(X: np.ndarray, seed: int) -> np.ndarray:
    return (np.random.default_rng(seed).random(X.shape) < X).astype(np.float32)


def train(X: np.ndarray, args, n_hidden: int, seed: int,
          epochs: int | None = None) -> tuple[RBM, float]:
    model = RBM(
        n_components=n_hidden, method=args.method, k=args.k, batch_size=args.batch_size,
        n_iter=args.epochs if epochs is None else epochs, learning_rate=args.learning_rate,
        learning_rate_schedule="linear",
        momentum="classic", weight_decay=args.weight_decay, random_state=seed,
        sample_inputs=args.sample_inputs, device=args.device, verbose=args.verbose,
    )
    start = time.perf_counter()
    model.fit(X)
    return model, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 images, 1 epoch, 1,000 betas")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--method", choices=["pcd", "cd"], default="pcd")
    parser.add_argument("--k", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--learning-rate", type=float, default=0.05)
    parser.add_argument("--weight-decay", type=float, default=2e-4)
    parser.add_argument("--top-epochs", type=int, default=None,
                        help="epochs of the DBN's second layer (default: --epochs)")
    parser.add_argument("--top-hidden", type=int, default=500, help="second layer of the DBN")
    parser.add_argument("--ais-runs", type=int, default=100)
    parser.add_argument("--bound-samples", type=int, default=10)
    parser.add_argument("--raise-images", type=int, default=100,
                        help="test images scored by reverse AIS (0: none; quick: 25)")
    parser.add_argument("--raise-runs", type=int, default=10,
                        help="reverse-AIS runs per image")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--verbose", type=int, default=0)
    parser.add_argument("--sample-inputs", action="store_true",
                        help="train on a fresh binarisation of every mini-batch")
    parser.add_argument("--no-dbn", action="store_true", help="skip the 2-layer DBN bound")
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    X_train, _ = load_mnist("train")
    X_test, _ = load_mnist("test")
    betas = default_betas()
    if args.quick:
        X_train, X_test, args.epochs = X_train[:2000], X_test[:500], 1
        args.raise_images = min(args.raise_images, 25)
        betas = np.linspace(0.0, 1.0, 1000)
    X_fixed, X_test = binarise(X_train, 0), binarise(X_test, 1)
    if not args.sample_inputs:
        X_train = X_fixed
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}; "
          f"{len(X_train)} train / {len(X_test)} test images, stochastically binarised "
          f"({'afresh for every mini-batch' if args.sample_inputs else 'once'})")
    print(f"RBM 784-500, {args.method.upper()}-{args.k}, {args.epochs} epochs, batch "
          f"{args.batch_size}, lr {args.learning_rate} linearly to 0, momentum 0.5->0.9, "
          f"weight decay {args.weight_decay}")

    rbm, train_s = train(X_train, args, 500, seed=0)
    start = time.perf_counter()
    ais = ais_log_partition(rbm.rbm_, n_runs=args.ais_runs, betas=betas, data=X_train,
                            random_state=0)
    ais_s = time.perf_counter() - start
    test_ll = float(log_likelihood(rbm.rbm_, X_test, ais).mean())
    train_ll = float(log_likelihood(rbm.rbm_, X_fixed[:10000], ais).mean())
    print(f"  training {train_s:.1f} s; AIS {args.ais_runs} runs x {len(betas)} betas "
          f"{ais_s:.1f} s: log Z = {ais.log_z:.2f} (+3sd interval {ais.log_z_low:.2f} .. "
          f"{ais.log_z_high:.2f})")
    print(f"  RBM average log-likelihood: test {test_ll:.2f} nats, train {train_ll:.2f} nats")
    result = {"args": vars(args), "train_s": train_s, "ais_s": ais_s, "log_z": ais.log_z,
              "log_z_low": ais.log_z_low, "log_z_high": ais.log_z_high, "test_ll": test_ll,
              "train_ll": train_ll}
    if args.raise_images:
        result.update(_conservative(rbm, X_test[:args.raise_images], X_train, ais, betas, args))
    if args.no_dbn:
        _write(args.json, result)
        return 0

    # Second layer on the first layer's hidden activities given the (fixed) binary training
    # images, greedily: sampled once, or afresh for every mini-batch with --sample-inputs.
    H_train = rbm.transform(X_fixed)
    if not args.sample_inputs:
        H_train = binarise(H_train, 2)
    top_epochs = args.epochs if args.top_epochs is None or args.quick else args.top_epochs
    top, top_s = train(H_train, args, args.top_hidden, seed=1, epochs=top_epochs)
    top_ais = ais_log_partition(top.rbm_, n_runs=args.ais_runs, betas=betas, data=H_train,
                                random_state=0)
    bound = float(dbn_log_likelihood_bound([rbm.rbm_, top.rbm_], X_test, top_ais,
                                           n_samples=args.bound_samples, random_state=0).mean())
    print(f"  DBN 784-500-{args.top_hidden}: second layer ({top_epochs} epochs) {top_s:.1f} s; "
          f"top log Z = "
          f"{top_ais.log_z:.2f}; test lower bound {bound:.2f} nats "
          f"({args.bound_samples} bottom-up samples per image)")
    result.update(dbn_train_s=top_s, top_log_z=top_ais.log_z, dbn_bound=bound)
    _write(args.json, result)
    return 0


def _conservative(rbm: RBM, images: np.ndarray, X_train: np.ndarray, ais, betas,
                  args) -> dict:
    """RAISE (errs low) of ``images`` beside the AIS figure (errs high) of the same images."""
    start = time.perf_counter()
    reverse = raise_log_likelihood(rbm.rbm_, images, n_runs=args.raise_runs, betas=betas,
                                   data=X_train, random_state=0)
    raise_s = time.perf_counter() - start
    same = float(log_likelihood(rbm.rbm_, images, ais).mean())
    print(f"  first {len(images)} test images: AIS {same:.2f} nats (errs high), reverse AIS "
          f"{reverse.mean:.2f} nats (errs low; {args.raise_runs} runs x {len(betas)} betas, "
          f"{raise_s:.1f} s; runs' spread {float(np.mean(reverse.spread)):.2f} nats)")
    return {"raise_images": len(images), "raise_s": raise_s, "raise_test_ll": reverse.mean,
            "ais_test_ll_same_images": same}


def _write(path: str | None, result: dict) -> None:
    if path:
        Path(path).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    sys.exit(main())
