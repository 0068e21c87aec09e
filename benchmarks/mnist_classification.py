"""MNIST (or Fashion-MNIST) classification record: a 784-500-500-2000 DBN in a wall-time budget.

Protocol (the issue's): the 60,000 training images; a validation split of the *training*
set (``--validation-fraction``, default 1/12: 5,000 images) picks the fine-tuning epoch
(the best epoch's weights are kept) — the test set is used once, at the end; test error
on the 10,000 test images; time per phase; peak memory. The same network from random
initialisation, with the same budget, beside it (``--skip-random`` leaves it out;
``--skip-pretrained`` runs it alone, e.g. in a second sitting).

The recipe (``DBNClassifier.from_preset("mnist")``, the budget deciding the epochs):
greedy CD-1 pretraining of RBMs with rectified hidden units (``--pretrain-share`` of the
budget, shared by the layers in proportion to their cost, at most ``--pretrain-epochs``
each), then backpropagation with dropout of 20 % of the pixels and half of the hidden
units (Srivastava et al., JMLR 2014: 0.92 % for a DBN so fine-tuned), SGD with momentum
whose learning rate falls linearly to 2 % of its start as the budget runs out. Published
DBN results on MNIST: 1.25 % (Hinton, Osindero & Teh 2006), 1.2 % (Hinton & Salakhutdinov
2006), 1.15 % (Hinton 2010), 0.92 % (Srivastava et al. 2014), 0.79 % (a DBM with dropout,
same paper). Fashion-MNIST: no DBN result is published; 0.898 (gradient boosting) and
0.897 (SVC) are the best permutation-invariant figures listed for it.

    python benchmarks/mnist_classification.py [--dataset mnist|fashion] [--quick]
        [--budget-minutes 60] [--threads 2] [--skip-random | --skip-pretrained] [--n-train N]
        [--hidden-units bernoulli|relu] [--learning-rate R] [--dropout P]
        [--input-dropout P]

Prints the per-epoch logs (pretraining reconstruction error; fine-tuning loss and validation
accuracy) and the summary table recorded in BENCHMARKS.md.
"""

from __future__ import annotations

import time

import numpy as np
from _budget import AnnealToBudget, layer_budgets
from _common import (
    data_root,
    load_mnist,
    parse_args,
    peak_rss_mib,
    print_machine_info,
    print_table,
    quick_banner,
    warm_up,
    write_json,
)

from deepbelief import DBNClassifier
from deepbelief.datasets import load_fashion_mnist
from deepbelief.estimators import preset_params

FULL = {"n_train": None, "n_test": None, "layers": (500, 500, 2000), "budget_minutes": 60.0}
QUICK = {"n_train": 3000, "n_test": 1000, "layers": (64, 64, 128), "budget_minutes": 0.5}
PUBLISHED = {"mnist": "1.25 % (DBN 2006), 0.92 % (DBN + dropout, 2014), 0.79 % (DBM + dropout)",
             "fashion": "no DBN result published; 0.898 gradient boosting, 0.897 SVC"}


def load(dataset: str, kind: str, n: int | None):
    if dataset == "mnist":
        return load_mnist(kind, n)
    X, y = load_fashion_mnist(data_root(), kind=kind)
    return (X, y) if n is None else (X[:n].copy(), y[:n].copy())


def options(parser) -> None:
    parser.add_argument("--dataset", choices=("mnist", "fashion"), default="mnist")
    parser.add_argument("--budget-minutes", type=float, default=None,
                        help="wall time per model, pretraining included (default: 60)")
    parser.add_argument("--pretrain-share", type=float, default=0.15,
                        help="share of the budget for pretraining (default: 0.15)")
    parser.add_argument("--pretrain-epochs", type=int, default=None,
                        help="most CD-1 epochs per layer (default: the preset's)")
    parser.add_argument("--pretrain-learning-rate", type=float, nargs="+", default=None,
                        help="CD-1 learning rate, one or one per layer (default: the "
                             "preset's)")
    parser.add_argument("--hidden-units", choices=("bernoulli", "relu"), default=None,
                        help="hidden unit type (default: the preset's)")
    parser.add_argument("--learning-rate", type=float, default=None,
                        help="fine-tuning SGD learning rate at the start (default: the "
                             "preset's)")
    parser.add_argument("--dropout", type=float, default=None,
                        help="hidden-unit dropout (default: the preset's)")
    parser.add_argument("--input-dropout", type=float, default=None,
                        help="pixel dropout (default: the preset's)")
    parser.add_argument("--validation-fraction", type=float, default=1 / 12,
                        help="training images held out to pick the epoch (default: 1/12)")
    parser.add_argument("--skip-random", action="store_true",
                        help="leave out the randomly initialised network")
    parser.add_argument("--skip-pretrained", action="store_true",
                        help="leave out the pretrained DBN (only the random-init baseline)")
    parser.add_argument("--n-train", type=int, default=None,
                        help="the first N training images only (a pilot; default: all)")
    parser.add_argument("--seed", type=int, default=0, help="random_state (default: 0)")


def recipe(args, size: dict) -> dict:
    """The preset's parameters with the script's overrides."""
    params = preset_params(args.dataset)
    del params["callbacks"]  # the budget anneals the rate instead (AnnealToBudget)
    params["hidden_layer_sizes"] = size["layers"]
    rate = args.pretrain_learning_rate
    overrides = {"pretrain_epochs": args.pretrain_epochs, "hidden_units": args.hidden_units,
                 "pretrain_learning_rate": None if rate is None
                 else rate[0] if len(rate) == 1 else rate,
                 "learning_rate_init": args.learning_rate, "dropout": args.dropout,
                 "input_dropout": args.input_dropout}
    params.update({k: v for k, v in overrides.items() if v is not None})
    # the budget decides the epochs; the validation split keeps the best one
    params.update(max_iter=100_000, early_stopping=True, n_iter_no_change=100_000,
                  validation_fraction=args.validation_fraction)
    return params


def fit_one(args, params: dict, budget_s: float, X, y, X_test, y_test, *, pretrain: bool):
    sizes = [X.shape[1], *params["hidden_layer_sizes"]]
    share = args.pretrain_share if pretrain else 0.0
    budget = AnnealToBudget(layer_budgets(sizes, budget_s * share),
                            params["learning_rate_init"], total=budget_s)
    clf = DBNClassifier(**{**params, "pretrain_epochs": params["pretrain_epochs"] if pretrain
                           else 0},
                        random_state=args.seed, device=args.device, callbacks=[budget])
    start = time.perf_counter()
    clf.fit(X, y)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    error = 1.0 - float(clf.score(X_test, y_test))
    predict_s = time.perf_counter() - start
    best = int(np.argmax(clf.validation_scores_)) + 1
    return clf, {"test_error": error, "fit_s": fit_s, "pretrain_s": clf.pretrain_time_,
                 "finetune_s": clf.finetune_time_, "finetune_epochs": clf.n_iter_,
                 "best_epoch": best, "best_validation_accuracy": clf.best_validation_score_,
                 "predict_s": predict_s, "first_rate": clf.callbacks_[0].rates_[0],
                 "last_rate": clf.callbacks_[0].rates_[-1],
                 "pretrain_epochs": [len(h) for h in clf.history_["pretrain"]]}


def print_logs(label: str, clf) -> None:
    for layer, records in enumerate(clf.history_["pretrain"]):
        errors = " ".join(f"{r['reconstruction_error']:.4g}" for r in records)
        print(f"[{label}] pretraining layer {layer + 1}, reconstruction error per epoch: "
              f"{errors}")
    for r in clf.history_["finetune"]:
        print(f"[{label}] fine-tuning epoch {r['epoch']:4d}  loss {r['loss']:.5f}  "
              f"validation accuracy {r['validation_score']:.4f}  {r['time']:.2f} s", flush=True)


def main() -> int:
    args = parse_args(__doc__.splitlines()[0], options)
    if args.skip_random and args.skip_pretrained:
        raise SystemExit("--skip-random and --skip-pretrained together leave nothing to run; "
                         "give at most one of them.")
    machine = print_machine_info()
    size = QUICK if args.quick else FULL
    quick_banner(args)
    warm_up()
    budget_s = 60.0 * (args.budget_minutes or size["budget_minutes"])
    X, y = load(args.dataset, "train", args.n_train or size["n_train"])
    X_test, y_test = load(args.dataset, "test", size["n_test"])
    params = recipe(args, size)
    print_table(f"Recipe (DBNClassifier.from_preset('{args.dataset}'), budget settings)",
                ("parameter", "value"), sorted((k, repr(v)) for k, v in params.items()))
    results, rows = {}, []
    runs = (([] if args.skip_pretrained else [("pretrained", True)])
            + ([] if args.skip_random else [("random init", False)]))
    for label, pretrain in runs:
        clf, figures = fit_one(args, params, budget_s, X, y, X_test, y_test,
                               pretrain=pretrain)
        print_logs(label, clf)
        results[label] = figures
        rows.append((label, f"{figures['test_error']:.2%}", f"{1 - figures['test_error']:.4f}",
                     f"{figures['pretrain_s']:.0f}", f"{figures['finetune_s']:.0f}",
                     figures["finetune_epochs"], figures["best_epoch"],
                     f"{figures['best_validation_accuracy']:.4f}"))
    peak = peak_rss_mib()
    print_table(f"{args.dataset}: {len(X)} training images ({args.validation_fraction:.3g} "
                f"held out for validation), {len(X_test)} test images, budget "
                f"{budget_s / 60:g} min per model; published: {PUBLISHED[args.dataset]}",
                ("model", "test error", "test accuracy", "pretrain s", "fine-tune s",
                 "fine-tune epochs", "best epoch", "validation accuracy"), rows)
    print(f"peak RSS {peak:.0f} MiB")
    write_json(args.json, f"{args.dataset}_classification", args, machine,
               {**results, "peak_rss_mib": peak})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
