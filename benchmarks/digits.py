"""The digits demo over five seeds: accuracy and fit time of a 64-256-256-10 ReLU DBN.

scikit-learn's 8x8 digits scaled to [0, 1] (``deepbelief.datasets.load_digits``), split
80/20 with ``random_state=0``; ``DBNClassifier(**DEMO_PARAMS, random_state=seed)`` for
seeds 0..4, with ``DEMO_PARAMS`` imported from ``deepbelief.demo`` (the one source of
the demo's settings).

A reference measured in the same run on the same split: scikit-learn's
``MLPClassifier(hidden_layer_sizes=(256, 256), random_state=seed)`` (its defaults
otherwise: Adam, up to 200 epochs, float64 numpy). Seconds depend on the machine; the
ratio of our fit time to the MLP's travels better between machines, so the README quotes it.

With ``--layer-type autoencoder`` (or ``denoising``, or one type per layer) the same
model is pretrained with autoencoder layers instead of RBMs, on the same budget.

With ``--defaults`` the model is ``DBNClassifier(random_state=seed)``: the library
defaults, (256, 256) hidden layers included, nothing else given. ``--set NAME=VALUE ...``
changes single parameters over either (variants of a recipe, measured the same way).

    python benchmarks/digits.py [--quick] [--device cpu|cuda] [--threads N] [--defaults]
                                [--set NAME=VALUE ...]
                                [--layer-type rbm|autoencoder|denoising ...]
"""

from __future__ import annotations

import ast
import statistics
import warnings
from typing import Any

from _common import (
    parse_args,
    print_machine_info,
    print_table,
    quick_banner,
    timer,
    warm_up,
    write_json,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

import deepbelief
from deepbelief.datasets import load_digits
from deepbelief.demo import DEMO_PARAMS

SEEDS = (0, 1, 2, 3, 4)
#: --quick: tiny layers and one epoch of each phase (a smoke test of the script).
QUICK_OVERRIDES: dict[str, Any] = {
    "hidden_layer_sizes": (32, 32),
    "pretrain_epochs": 1,
    "max_iter": 1,
}
#: The reference: scikit-learn's MLP with the demo's layer sizes, its defaults otherwise.
MLP_PARAMS: dict[str, Any] = {"hidden_layer_sizes": (256, 256)}
MLP_QUICK_OVERRIDES: dict[str, Any] = {"hidden_layer_sizes": (32, 32), "max_iter": 1}


def fit_mlp(X_train, y_train, X_test, y_test, seed: int, quick: bool) -> dict[str, Any]:
    """Fit the reference MLP (on the CPU, as scikit-learn runs) and time it."""
    params = {**MLP_PARAMS, **(MLP_QUICK_OVERRIDES if quick else {})}
    mlp = MLPClassifier(**params, random_state=seed)
    with warnings.catch_warnings():  # --quick stops it after one epoch
        warnings.simplefilter("ignore", ConvergenceWarning)
        with timer("cpu") as t:
            mlp.fit(X_train, y_train)
    return {"mlp_accuracy": mlp.score(X_test, y_test), "mlp_fit_s": t.seconds,
            "mlp_epochs": mlp.n_iter_}


def _layer_type_option(parser) -> None:
    parser.add_argument("--layer-type", nargs="+", default=["rbm"], metavar="TYPE",
                        choices=("rbm", "autoencoder", "denoising"),
                        help="the DBN's building block: rbm (default), autoencoder or "
                             "denoising; one, or one per layer")
    parser.add_argument("--defaults", action="store_true",
                        help="the library defaults instead of the demo's settings")
    parser.add_argument("--set", nargs="+", default=[], metavar="NAME=VALUE",
                        help="DBNClassifier parameters over the others, each value a Python "
                             "literal (e.g. batch_size=64 pretrain_learning_rate=[0.01,0.001])")


def _overrides(items: list[str]) -> dict[str, Any]:
    """``--set NAME=VALUE ...`` as a dict, the values read by :func:`ast.literal_eval`."""
    result = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise SystemExit(f"--set takes NAME=VALUE, got {item!r}")
        try:
            result[name] = ast.literal_eval(value)
        except (ValueError, SyntaxError) as exc:
            raise SystemExit(f"--set {item!r}: {value!r} is not a Python literal") from exc
    return result


def main() -> int:
    args = parse_args(__doc__.splitlines()[0], _layer_type_option)
    machine = print_machine_info()
    quick_banner(args)
    warmup_s = warm_up()

    X, y = load_digits()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
    params = {**({} if args.defaults else DEMO_PARAMS),
              **(QUICK_OVERRIDES if args.quick else {}), **_overrides(args.set)}
    layer_type = args.layer_type
    if layer_type != ["rbm"]:
        params["layer_type"] = layer_type[0] if len(layer_type) == 1 else tuple(layer_type)

    runs = []
    for seed in SEEDS:
        clf = deepbelief.DBNClassifier(**params, random_state=seed, device=args.device)
        with timer(args.device) as t:
            clf.fit(X_train, y_train)
        runs.append(
            {
                "seed": seed,
                "accuracy": clf.score(X_test, y_test),
                "fit_s": t.seconds,
                "pretrain_s": clf.pretrain_time_,
                "finetune_s": clf.finetune_time_,
                "finetune_epochs": clf.n_iter_,
                **fit_mlp(X_train, y_train, X_test, y_test, seed, args.quick),
            }
        )
        runs[-1]["ratio"] = runs[-1]["fit_s"] / runs[-1]["mlp_fit_s"]
    effective = {k: v for k, v in clf.get_params().items() if k not in ("verbose", "random_state")}

    print_table(
        ("Digits parameters (the library defaults" if args.defaults
         else "Digits demo parameters (DEMO_PARAMS")
        + (" + quick overrides" if args.quick else "")
        + "; others at their defaults)",
        ("parameter", "value"),
        [(k, repr(v)) for k, v in effective.items()],
    )
    print_table(
        f"Digits demo, {len(X_train)} train / {len(X_test)} test, device {args.device}",
        ("seed", "accuracy", "fit s", "pretrain s", "fine-tune s", "fine-tune epochs"),
        [
            (
                r["seed"],
                f"{r['accuracy']:.4f}",
                r["fit_s"],
                r["pretrain_s"],
                r["finetune_s"],
                r["finetune_epochs"],
            )
            for r in runs
        ],
    )
    acc = [r["accuracy"] for r in runs]
    fit = [r["fit_s"] for r in runs]
    summary = {
        "accuracy_mean": statistics.fmean(acc),
        "accuracy_std": statistics.stdev(acc) if len(acc) > 1 else 0.0,
        "accuracy_min": min(acc),
        "accuracy_max": max(acc),
        "fit_s_mean": statistics.fmean(fit),
        "fit_s_min": min(fit),
        "fit_s_max": max(fit),
        "mlp_accuracy_mean": statistics.fmean(r["mlp_accuracy"] for r in runs),
        "mlp_fit_s_mean": statistics.fmean(r["mlp_fit_s"] for r in runs),
        "ratio_mean": statistics.fmean(r["ratio"] for r in runs),
        "ratio_min": min(r["ratio"] for r in runs),
        "ratio_max": max(r["ratio"] for r in runs),
    }
    print_table(
        "Reference: MLPClassifier(hidden_layer_sizes="
        f"{(MLP_QUICK_OVERRIDES if args.quick else MLP_PARAMS)['hidden_layer_sizes']}, "
        "random_state=seed) on the same split, CPU; ratio = our fit s / its fit s",
        ("seed", "MLP accuracy", "MLP fit s", "MLP epochs", "DBN fit s", "ratio"),
        [(r["seed"], f"{r['mlp_accuracy']:.4f}", r["mlp_fit_s"], r["mlp_epochs"], r["fit_s"],
          f"{r['ratio']:.2f}") for r in runs],
    )
    print_table(
        f"Digits demo summary over seeds {SEEDS[0]}..{SEEDS[-1]}",
        ("figure", "mean", "std", "min", "max"),
        [
            (
                "test accuracy",
                f"{summary['accuracy_mean']:.4f}",
                f"{summary['accuracy_std']:.4f}",
                f"{summary['accuracy_min']:.4f}",
                f"{summary['accuracy_max']:.4f}",
            ),
            (
                "fit wall time, s",
                summary["fit_s_mean"],
                statistics.stdev(fit) if len(fit) > 1 else 0.0,
                summary["fit_s_min"],
                summary["fit_s_max"],
            ),
            (
                "fit time / MLP fit time",
                f"{summary['ratio_mean']:.2f}",
                f"{statistics.stdev(r['ratio'] for r in runs) if len(runs) > 1 else 0.0:.2f}",
                f"{summary['ratio_min']:.2f}",
                f"{summary['ratio_max']:.2f}",
            ),
        ],
    )
    print(f"(one-time torch.optim import before timing, not counted: {warmup_s:.3g} s)")
    write_json(
        args.json,
        "digits",
        args,
        machine,
        {
            "params": effective,
            "runs": runs,
            "summary": summary,
            "warm_up_s": warmup_s,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
