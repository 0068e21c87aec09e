"""One epoch of CD-1 on MNIST (60,000 x 784 -> 500 hidden, batch 128, float32).

Times ``deepbelief.RBM(...).fit(X)`` (the library path, best of ``--repeats``), converts it
to samples/s and GFLOP/s, compares with a measured ``torch.mm`` peak, then times
scikit-learn's ``BernoulliRBM`` on the same data (after ours, so that the peak RSS
reported after our fit is ours alone). PCD-1 epochs are timed too, interleaved with the
CD-1 ones (``--no-pcd`` leaves them out): the ratio of the best PCD-1 epoch to the best
CD-1 epoch is the cost of persistent chains.

    python benchmarks/rbm_throughput.py [--quick] [--device cpu|cuda] [--threads N]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from _common import (
    cd1_flops,
    current_rss_mib,
    load_mnist,
    matmul_peak_gflops,
    parse_args,
    peak_rss_mib,
    print_machine_info,
    print_table,
    quick_banner,
    reset_peak_rss,
    timer,
    warm_up,
    write_json,
)

import deepbelief

FULL = {"n_samples": None, "n_hidden": 500, "matmul_n": 2048}
QUICK = {"n_samples": 512, "n_hidden": 64, "matmul_n": 512}
BATCH_SIZE = 128
LEARNING_RATE = 0.05


def _extra(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repeats", type=int, default=3, help="timed fits of ours (best of)")
    parser.add_argument("--pcd", action=argparse.BooleanOptionalAction, default=True,
                        help="also time PCD-1 epochs, interleaved with CD-1 (default: on)")
    parser.add_argument(
        "--sklearn",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="time sklearn's BernoulliRBM (default: on for CPU, off for CUDA)",
    )
    parser.add_argument(
        "--sklearn-float64", action="store_true", help="also time BernoulliRBM on float64 data"
    )


def main() -> int:
    args = parse_args(__doc__.splitlines()[0], _extra)
    if args.repeats < 1:
        raise SystemExit("--repeats must be >= 1")
    machine = print_machine_info()
    size = QUICK if args.quick else FULL
    quick_banner(args)
    warmup_s = warm_up()

    X, _ = load_mnist("train", size["n_samples"])
    n, v = X.shape
    h = size["n_hidden"]
    flops = cd1_flops(n, v, h)
    rss_data = current_rss_mib()
    rss_peak_data = peak_rss_mib()

    peak = matmul_peak_gflops(args.device, n=size["matmul_n"])

    # From here, ru_maxrss is the peak of our fits (loading MNIST peaks higher otherwise).
    rss_reset = reset_peak_rss()
    runs, pcd_runs = [], []
    methods = ("cd", "pcd") if args.pcd else ("cd",)
    for i in range(args.repeats):
        for method in methods:
            model = deepbelief.RBM(
                n_components=h,
                batch_size=BATCH_SIZE,
                n_iter=1,
                method=method,
                learning_rate=LEARNING_RATE,
                device=args.device,
                random_state=0,
            )
            with timer(args.device) as t:
                model.fit(X)
            (runs if method == "cd" else pcd_runs).append(
                {
                    "run": i + 1,
                    "wall_s": t.seconds,
                    "fit_time_s": model.fit_time_,
                    "epoch_time_s": model.history_[0]["time"],
                    "reconstruction_error": model.history_[0]["reconstruction_error"],
                }
            )
            del model
    best = min(runs, key=lambda r: r["wall_s"])
    rss_peak_ours = peak_rss_mib()
    rss_before_sklearn = current_rss_mib()

    print_table(
        f"deepbelief.RBM CD-1, {n} x {v} -> {h}, batch {BATCH_SIZE}, float32, "
        f"device {args.device}: each fit",
        ("run", "fit() wall s", "fit_time_ s", "history 'time' s", "recon. error"),
        [
            (r["run"], r["wall_s"], r["fit_time_s"], r["epoch_time_s"], r["reconstruction_error"])
            for r in runs
        ],
    )

    ours_gflops = flops / best["wall_s"] / 1e9
    rows = [
        ("samples x visible x hidden", f"{n} x {v} x {h}"),
        ("FLOPs per epoch (5 matmuls of 2BVH per batch)", f"{flops / 1e9:.3f} GFLOP"),
        ("seconds / epoch (best fit() wall)", best["wall_s"]),
        ("seconds / epoch (its fit_time_)", best["fit_time_s"]),
        ("samples / s", n / best["wall_s"]),
        ("effective GFLOP/s", ours_gflops),
        (f"measured torch.mm float32 peak ({size['matmul_n']}^2), GFLOP/s", peak),
        ("fraction of peak", f"{ours_gflops / peak:.1%}"),
        ("one-time torch.optim import before timing (not counted), s", warmup_s),
        ("RSS after loading data, MiB", rss_data),
        ("peak RSS after loading data (before fits), MiB", rss_peak_data),
        (
            "peak RSS during our fits (ru_maxrss"
            + (", reset before the fits), MiB" if rss_reset else ", since start), MiB"),
            rss_peak_ours,
        ),
        ("RSS before sklearn, MiB", rss_before_sklearn),
    ]
    pcd_best = min(pcd_runs, key=lambda r: r["wall_s"]) if pcd_runs else None
    if pcd_best is not None:
        rows += [
            ("PCD-1 seconds / epoch (best fit() wall, interleaved with CD-1)",
             pcd_best["wall_s"]),
            ("PCD-1 epoch / CD-1 epoch", f"{pcd_best['wall_s'] / best['wall_s']:.3f}x"),
        ]

    results: dict = {
        "n_samples": n,
        "n_visible": v,
        "n_hidden": h,
        "batch_size": BATCH_SIZE,
        "flops_per_epoch": flops,
        "warm_up_s": warmup_s,
        "runs": runs,
        "best_wall_s": best["wall_s"],
        "best_fit_time_s": best["fit_time_s"],
        "samples_per_s": n / best["wall_s"],
        "gflops": ours_gflops,
        "matmul_peak_gflops": peak,
        "fraction_of_peak": ours_gflops / peak,
        "rss_after_data_mib": rss_data,
        "peak_rss_after_data_mib": rss_peak_data,
        "peak_rss_ours_mib": rss_peak_ours,
        "peak_rss_reset_before_fits": rss_reset,
        "rss_before_sklearn_mib": rss_before_sklearn,
        "sklearn": {},
        "pcd_runs": pcd_runs,
        "pcd_best_wall_s": None if pcd_best is None else pcd_best["wall_s"],
        "pcd_over_cd": None if pcd_best is None else pcd_best["wall_s"] / best["wall_s"],
    }

    run_sklearn = args.sklearn if args.sklearn is not None else args.device == "cpu"
    if run_sklearn:
        from sklearn.neural_network import BernoulliRBM

        dtypes = [np.float32] + ([np.float64] if args.sklearn_float64 else [])
        for dtype in dtypes:
            data = X.astype(dtype, copy=False)
            sk = BernoulliRBM(
                n_components=h,
                batch_size=BATCH_SIZE,
                n_iter=1,
                learning_rate=LEARNING_RATE,
                random_state=0,
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                start = time.perf_counter()
                sk.fit(data)
                seconds = time.perf_counter() - start
            name = np.dtype(dtype).name
            results["sklearn"][name] = {
                "seconds": seconds,
                "samples_per_s": n / seconds,
                "gflops": flops / seconds / 1e9,
                "ratio_sklearn_over_ours": seconds / best["wall_s"],
            }
            rows += [
                (f"sklearn BernoulliRBM ({name}, PCD-1) s / epoch", seconds),
                (f"sklearn BernoulliRBM ({name}) GFLOP/s", flops / seconds / 1e9),
                (f"ratio sklearn ({name}) / ours", f"{seconds / best['wall_s']:.2f}x"),
            ]
        rows.append(("peak RSS after sklearn (same count), MiB", peak_rss_mib()))
    else:
        rows.append(("sklearn BernoulliRBM", "skipped (use --sklearn)"))

    print_table("RBM throughput (one epoch)", ("figure", "value"), rows)
    write_json(args.json, "rbm_throughput", args, machine, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
