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
                                        [--top-init random transpose] [--top-epochs 200]
                                        [--top-learning-rate 0.001]
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
from deepbelief.core.warm_start import transposed_start
from deepbelief.evaluation import (
    ais_log_partition,
    dbn_log_likelihood_bound,
    default_betas,
    log_likelihood,
    raise_log_likelihood,
)
from deepbelief.training.greedy import LayerTrainer, RBMConfig


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
    parser.add_argument("--top-learning-rate", type=float, default=None,
                        help="the second layer's (default: --learning-rate)")
    parser.add_argument("--top-init", nargs="+", choices=["random", "transpose"],
                        default=["random"],
                        help="how the second layer starts: small random weights, or the "
                             "first layer's transpose (Hinton et al. 2006; the bound then "
                             "starts at the RBM's log-likelihood); both: side by side")
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
    # images, greedily: sampled once, or afresh for every mini-batch with --sample-inputs;
    # started from random weights, or from the first layer's transpose (--top-init).
    H_train = rbm.transform(X_fixed)
    if not args.sample_inputs:
        H_train = binarise(H_train, 2)
    top_epochs = args.epochs if args.top_epochs is None or args.quick else args.top_epochs
    top_rate = args.learning_rate if args.top_learning_rate is None else args.top_learning_rate
    for init in args.top_init:
        result[f"dbn_{init}"] = _dbn(rbm, H_train, X_test, init, top_epochs, top_rate, betas,
                                     args)
    _write(args.json, result)
    return 0


def _dbn(rbm: RBM, H_train: np.ndarray, X_test: np.ndarray, init: str, epochs: int,
         rate: float, betas, args) -> dict:
    """Train the second RBM from ``init`` and score the DBN's test lower bound (before
    training too, when it starts from the first RBM's transpose)."""
    config = RBMConfig(args.top_hidden, epochs=epochs, learning_rate=rate,
                       batch_size=args.batch_size, method=args.method, k=args.k,
                       momentum="classic", weight_decay=args.weight_decay,
                       learning_rate_schedule="linear", sample_inputs=args.sample_inputs)
    data = torch.from_numpy(H_train).to(args.device)
    generator = torch.Generator(args.device).manual_seed(1)
    top = config.new_layer(data, generator)
    figures = {}
    if init == "transpose":
        states = torch.bernoulli(data[:20000], generator=generator)
        transposed_start(rbm.rbm_, top, states)
        start = _bound(rbm, top, H_train, X_test, betas, args)
        figures.update({f"start_{key}": value for key, value in start.items()})
        print(f"  DBN 784-500-{args.top_hidden} from the transposed first layer, before "
              f"training: test lower bound {_interval(start)} nats")
    start = time.perf_counter()
    LayerTrainer(top, config, generator).run(data)
    figures["train_s"] = time.perf_counter() - start
    figures.update(_bound(rbm, top, H_train, X_test, betas, args))
    print(f"  DBN 784-500-{args.top_hidden}, second layer from {init} weights ({epochs} "
          f"epochs, lr {rate} linearly to 0) {figures['train_s']:.1f} s; top log Z = "
          f"{figures['top_log_z']:.2f}; test lower bound {_interval(figures)} nats "
          f"({args.bound_samples} bottom-up samples per image)")
    return figures


def _interval(figures: dict) -> str:
    return (f"{figures['bound']:.2f} ({figures['bound_low']:.2f} .. "
            f"{figures['bound_high']:.2f} over the top log Z's ±3σ)")


def _bound(rbm: RBM, top, H_train: np.ndarray, X_test: np.ndarray, betas,
           args) -> dict:
    """The DBN's mean test lower bound, its interval over the top RBM's log Z interval
    (AIS, ±3σ), and that log Z."""
    top_ais = ais_log_partition(top, n_runs=args.ais_runs, betas=betas, data=H_train,
                                random_state=0)
    bound = float(dbn_log_likelihood_bound([rbm.rbm_, top], X_test, top_ais,
                                           n_samples=args.bound_samples,
                                           random_state=0).mean())
    # The bound falls by what log Z rises: its interval over the top log Z's ±3σ.
    return {"bound": bound, "bound_low": bound + top_ais.log_z - top_ais.log_z_high,
            "bound_high": bound + top_ais.log_z - top_ais.log_z_low,
            "top_log_z": top_ais.log_z}


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
