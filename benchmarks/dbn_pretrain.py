"""Greedy pretraining of a 784-500-500-2000 DBN on MNIST: one CD-1 epoch per layer.

Times ``deepbelief.DBNTransformer(hidden_layer_sizes=(500, 500, 2000), pretrain_epochs=1,
batch_size=128).fit(X)`` and reports each layer's epoch time (``history_`` records),
the time spent between layers (initialisation, the bottom-up pass that makes the next
layer's data) and the total.

    python benchmarks/dbn_pretrain.py [--quick] [--device cpu|cuda] [--threads N]
"""

from __future__ import annotations

import itertools

from _common import (
    cd1_flops,
    current_rss_mib,
    load_mnist,
    matmul_peak_gflops,
    parse_args,
    peak_label,
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

FULL = {"n_samples": None, "layers": (500, 500, 2000), "matmul_n": 2048}
QUICK = {"n_samples": 512, "layers": (64, 64, 128), "matmul_n": 512}
BATCH_SIZE = 128


def main() -> int:
    args = parse_args(__doc__.splitlines()[0])
    machine = print_machine_info()
    size = QUICK if args.quick else FULL
    quick_banner(args)
    warmup_s = warm_up()

    X, _ = load_mnist("train", size["n_samples"])
    n = X.shape[0]
    peak = matmul_peak_gflops(args.device, n=size["matmul_n"])
    rss_before = current_rss_mib()
    rss_reset = reset_peak_rss()

    dbn = deepbelief.DBNTransformer(
        hidden_layer_sizes=size["layers"],
        pretrain_epochs=1,
        batch_size=BATCH_SIZE,
        random_state=0,
        device=args.device,
    )
    with timer(args.device) as t:
        dbn.fit(X)

    sizes = [X.shape[1], *size["layers"]]
    rows = []
    layers = []
    for i, history in enumerate(dbn.history_["pretrain"]):
        v, h = sizes[i], sizes[i + 1]
        record = history[0]
        seconds = record["time"]
        gflops = cd1_flops(n, v, h) / seconds / 1e9
        layers.append(
            {
                "layer": i + 1,
                "n_visible": v,
                "n_hidden": h,
                "epoch_s": seconds,
                "samples_per_s": n / seconds,
                "gflops": gflops,
                "fraction_of_peak": gflops / peak,
                "reconstruction_error": record.get("reconstruction_error"),
            }
        )
        rows.append(
            (
                i + 1,
                f"{v} x {h}",
                seconds,
                n / seconds,
                gflops,
                f"{gflops / peak:.1%}",
                record.get("reconstruction_error", float("nan")),
            )
        )
    layer_total = sum(layer["epoch_s"] for layer in layers)
    total_flops = sum(cd1_flops(n, a, b) for a, b in itertools.pairwise(sizes))
    print_table(
        f"DBN pretraining {'-'.join(map(str, sizes))}, {n} samples, batch {BATCH_SIZE}, "
        f"1 CD-1 epoch per layer, device {args.device}",
        ("layer", "V x H", "s / layer-epoch", "samples/s", "GFLOP/s", "of peak", "recon. error"),
        rows,
    )
    print_table(
        "DBN pretraining totals",
        ("figure", "value"),
        [
            ("sum of layer epochs, s", layer_total),
            ("pretrain_time_, s", dbn.pretrain_time_),
            ("between layers (init + bottom-up pass), s", dbn.pretrain_time_ - layer_total),
            ("fit() wall, s", t.seconds),
            ("one-time torch.optim import before timing (not counted), s", warmup_s),
            ("effective GFLOP/s over layer epochs", total_flops / layer_total / 1e9),
            (f"measured torch.mm float32 peak ({size['matmul_n']}^2), GFLOP/s", peak),
            ("RSS before fit, MiB", rss_before),
            (peak_label(rss_reset), peak_rss_mib()),
        ],
    )
    write_json(
        args.json,
        "dbn_pretrain",
        args,
        machine,
        {
            "n_samples": n,
            "layer_sizes": sizes,
            "batch_size": BATCH_SIZE,
            "layers": layers,
            "layer_epochs_s": layer_total,
            "pretrain_time_s": dbn.pretrain_time_,
            "fit_wall_s": t.seconds,
            "warm_up_s": warmup_s,
            "matmul_peak_gflops": peak,
            "rss_before_fit_mib": rss_before,
            "peak_rss_mib": peak_rss_mib(),
            "peak_rss_reset_before_fit": rss_reset,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
