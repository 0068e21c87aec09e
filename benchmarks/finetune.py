"""One backpropagation epoch of a 784-500-500-2000-10 network on MNIST.

Times ``deepbelief.DBNClassifier(hidden_layer_sizes=(500, 500, 2000), pretrain_epochs=0,
max_iter=1, batch_size=128, solver='sgd', learning_rate_init=0.1).fit(X, y)`` and reports
the fine-tuning epoch (``history_['finetune'][0]['time']``) and the test accuracy after it.
With ``pretrain_epochs=0`` the layers keep their random initialisation.

    python benchmarks/finetune.py [--quick] [--device cpu|cuda] [--threads N]
"""

from __future__ import annotations

import itertools

from _common import (
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

FULL = {"n_train": None, "n_test": None, "layers": (500, 500, 2000), "matmul_n": 2048}
QUICK = {"n_train": 512, "n_test": 500, "layers": (64, 64, 128), "matmul_n": 512}
BATCH_SIZE = 128
N_CLASSES = 10


def backprop_flops(n_samples: int, sizes: list[int]) -> float:
    """FLOPs of one epoch of matmuls: forward (2VH per sample and layer), weight gradient
    (2VH) and input gradient (2VH, not needed for the first layer)."""
    products = [a * b for a, b in itertools.pairwise(sizes)]
    return 2.0 * n_samples * (2 * sum(products) + sum(products[1:]))


def main() -> int:
    args = parse_args(__doc__.splitlines()[0])
    machine = print_machine_info()
    size = QUICK if args.quick else FULL
    quick_banner(args)
    warmup_s = warm_up()

    X, y = load_mnist("train", size["n_train"])
    X_test, y_test = load_mnist("test", size["n_test"])
    n = X.shape[0]
    peak = matmul_peak_gflops(args.device, n=size["matmul_n"])
    rss_before = current_rss_mib()
    rss_reset = reset_peak_rss()

    clf = deepbelief.DBNClassifier(
        hidden_layer_sizes=size["layers"],
        pretrain_epochs=0,
        max_iter=1,
        batch_size=BATCH_SIZE,
        solver="sgd",
        learning_rate_init=0.1,
        random_state=0,
        device=args.device,
    )
    with timer(args.device) as fit_t:
        clf.fit(X, y)
    with timer(args.device) as predict_t:
        accuracy = clf.score(X_test, y_test)

    sizes = [X.shape[1], *size["layers"], N_CLASSES]
    epoch_s = clf.history_["finetune"][0]["time"]
    flops = backprop_flops(n, sizes)
    gflops = flops / epoch_s / 1e9
    results = {
        "n_train": n,
        "n_test": X_test.shape[0],
        "layer_sizes": sizes,
        "batch_size": BATCH_SIZE,
        "finetune_epoch_s": epoch_s,
        "finetune_time_s": clf.finetune_time_,
        "pretrain_time_s": clf.pretrain_time_,
        "fit_wall_s": fit_t.seconds,
        "samples_per_s": n / epoch_s,
        "flops_per_epoch": flops,
        "gflops": gflops,
        "matmul_peak_gflops": peak,
        "fraction_of_peak": gflops / peak,
        "train_loss": clf.loss_curve_[0],
        "test_accuracy": accuracy,
        "predict_s": predict_t.seconds,
        "warm_up_s": warmup_s,
        "rss_before_fit_mib": rss_before,
        "peak_rss_mib": peak_rss_mib(),
        "peak_rss_reset_before_fit": rss_reset,
    }
    print_table(
        f"Fine-tuning {'-'.join(map(str, sizes))}, {n} samples, batch {BATCH_SIZE}, "
        f"SGD lr 0.1, 1 epoch, device {args.device}",
        ("figure", "value"),
        [
            ("fine-tuning epoch (history_ 'time'), s", epoch_s),
            ("finetune_time_ (incl. network setup), s", clf.finetune_time_),
            ("pretrain_time_ (0 epochs: init + bottom-up passes), s", clf.pretrain_time_),
            ("fit() wall, s", fit_t.seconds),
            ("samples / s", n / epoch_s),
            ("FLOPs per epoch (fwd + weight grad + input grad)", f"{flops / 1e9:.3f} GFLOP"),
            ("effective GFLOP/s", gflops),
            (f"measured torch.mm float32 peak ({size['matmul_n']}^2), GFLOP/s", peak),
            ("fraction of peak", f"{gflops / peak:.1%}"),
            ("training loss (epoch mean)", clf.loss_curve_[0]),
            (f"test accuracy ({X_test.shape[0]} images)", f"{accuracy:.4f}"),
            ("predict + score on test set, s", predict_t.seconds),
            ("one-time torch.optim import before timing (not counted), s", warmup_s),
            ("RSS before fit, MiB", rss_before),
            (peak_label(rss_reset), results["peak_rss_mib"]),
        ],
    )
    write_json(args.json, "finetune", args, machine, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
