"""The GPU at its limit: CD-1 and PCD-1 epochs of MNIST with and without CUDA graphs; precision.

1. One epoch of CD-1 (and PCD-1) on MNIST, 60,000 x 784 -> 500 hidden, batch 128,
   float32, through ``deepbelief.RBM(...).fit`` — with CUDA graphs (the default) and
   without (``DEEPBELIEF_CUDA_GRAPHS=0``), in the same run: the first epoch (it holds the
   warm-up and the graphs' recording) and the median of the later ones.
2. scikit-learn's ``BernoulliRBM`` epoch on the same data on this machine's CPU (float32,
   every core), for the ratio.
3. Matmul precision (``torch.set_float32_matmul_precision``: 'highest' = true float32,
   'high' = TF32, 'medium' = bfloat16 products): the same RBM trained ``--epochs`` epochs
   in each mode, its epoch time, and its test log-likelihood by AIS (Salakhutdinov & Murray
   2008; evaluated in 'highest' for every model).

    python benchmarks/gpu_limit.py [--quick] [--device cuda] [--epochs 10] [--json F]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings

import numpy as np
import torch
from _common import (
    cd1_flops,
    load_mnist,
    matmul_peak_gflops,
    parse_args,
    print_machine_info,
    print_table,
    quick_banner,
    timer,
    warm_up,
    write_json,
)

import deepbelief
from deepbelief.evaluation import ais_log_partition, log_likelihood

FULL = {"n_samples": None, "n_test": None, "n_hidden": 500, "epochs": 5, "ais_runs": 100,
        "ais_betas": None}
QUICK = {"n_samples": 2048, "n_test": 500, "n_hidden": 64, "epochs": 2, "ais_runs": 20,
         "ais_betas": 1000}
BATCH_SIZE = 128
LEARNING_RATE = 0.05


def _extra(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--epochs", type=int, default=10,
                        help="epochs of the precision comparison (default 10)")
    parser.add_argument("--no-sklearn", action="store_true", help="skip BernoulliRBM")
    parser.add_argument("--no-precision", action="store_true", help="skip part 3")


def _fit(X, size, method: str, epochs: int, device: str, graphs: bool):
    os.environ["DEEPBELIEF_CUDA_GRAPHS"] = "1" if graphs else "0"
    model = deepbelief.RBM(n_components=size["n_hidden"], batch_size=BATCH_SIZE, n_iter=epochs,
                           method=method, learning_rate=LEARNING_RATE, device=device,
                           random_state=0)
    with timer(device) as t:
        model.fit(X)
    times = [h["time"] for h in model.history_]
    return model, {"wall_s": t.seconds, "first_epoch_s": times[0],
                   "later_epoch_median_s": statistics.median(times[1:]) if len(times) > 1
                   else float("nan"),
                   "reconstruction_error": model.history_[-1]["reconstruction_error"]}


def _ais(model, X, X_test, size) -> dict:
    betas = None if size["ais_betas"] is None else np.linspace(0, 1, size["ais_betas"])
    start = time.perf_counter()
    result = ais_log_partition(model.rbm_, n_runs=size["ais_runs"], betas=betas, data=X,
                               random_state=0)
    ll = log_likelihood(model.rbm_, X_test, result)
    return {"log_z": result.log_z, "log_z_low": result.log_z_low,
            "log_z_high": result.log_z_high, "test_log_likelihood": float(ll.mean()),
            "ais_s": time.perf_counter() - start}


def main() -> int:
    args = parse_args(__doc__.splitlines()[0], _extra)
    machine = print_machine_info()
    size = QUICK if args.quick else FULL
    quick_banner(args)
    warm_up()
    X, _ = load_mnist("train", size["n_samples"])
    X_test, _ = load_mnist("test", size["n_test"])
    n, v = X.shape
    flops = cd1_flops(n, v, size["n_hidden"])
    peak = matmul_peak_gflops(args.device, n=2048 if not args.quick else 512)
    results: dict = {"n_samples": n, "n_hidden": size["n_hidden"], "batch_size": BATCH_SIZE,
                     "flops_per_epoch": flops, "matmul_peak_gflops": peak, "epochs": {}}

    rows = []
    for method in ("cd", "pcd"):
        for graphs in (True, False):
            _fit(X[:4096], size, method, 1, args.device, graphs)  # compile/allocator warm-up
            _, r = _fit(X, size, method, size["epochs"], args.device, graphs)
            label = f"{method.upper()}-1, CUDA graphs {'on' if graphs else 'off'}"
            results["epochs"][label] = r
            best = r["later_epoch_median_s"]
            rows.append((label, r["wall_s"], r["first_epoch_s"], best,
                         flops / best / 1e9 if best == best else float("nan"),
                         r["reconstruction_error"]))
    os.environ.pop("DEEPBELIEF_CUDA_GRAPHS", None)
    print_table(f"deepbelief.RBM {n} x {v} -> {size['n_hidden']}, batch {BATCH_SIZE}, "
                f"{size['epochs']} epochs, device {args.device} (matmul peak {peak:.0f} GFLOP/s)",
                ("run", "fit wall s", "epoch 1 s", "median later epoch s", "GFLOP/s",
                 "recon. error"), rows)

    if not args.no_sklearn:
        from sklearn.neural_network import BernoulliRBM

        sk = BernoulliRBM(n_components=size["n_hidden"], batch_size=BATCH_SIZE, n_iter=1,
                          learning_rate=LEARNING_RATE, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            sk.fit(X.astype(np.float32))
            seconds = time.perf_counter() - start
        ours = results["epochs"]["CD-1, CUDA graphs on"]["later_epoch_median_s"]
        results["sklearn_epoch_s"] = seconds
        results["sklearn_threads"] = torch.get_num_threads()
        print_table("scikit-learn BernoulliRBM, one epoch on this machine's CPU (float32)",
                    ("figure", "value"),
                    [("seconds / epoch", seconds), ("CPU threads (torch's count)",
                                                     torch.get_num_threads()),
                     ("ratio sklearn / ours (graphed CD-1 epoch)", f"{seconds / ours:.1f}x")])

    if not args.no_precision:
        epochs = 2 if args.quick else args.epochs
        rows, results["precision"] = [], {}
        for mode in ("highest", "high", "medium"):
            torch.set_float32_matmul_precision(mode)
            try:
                model, r = _fit(X, size, "cd", epochs, args.device, True)
            finally:
                torch.set_float32_matmul_precision("highest")
            r.update(_ais(model, X, X_test, size))
            results["precision"][mode] = r
            rows.append((mode, r["later_epoch_median_s"], r["reconstruction_error"],
                         r["log_z"], r["test_log_likelihood"], r["ais_s"]))
        print_table(f"matmul precision: CD-1 RBM, {epochs} epochs (AIS in 'highest', "
                    f"{size['ais_runs']} runs)",
                    ("precision", "median epoch s", "recon. error", "log Z",
                     "test log-lik. (nats)", "AIS s"), rows)
    write_json(args.json, "gpu_limit", args, machine, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
