"""One fine-tuning epoch on the digits: the DBN's network against scikit-learn's MLP.

The same 64-256-256-10 network and the same mini-batch (32) for both, no pretraining (the
epoch alone is timed: ``pretrain_epochs=0``), ``--epochs`` epochs per fit, ``--repeats``
fits each; the figure is the best fit's seconds per epoch. Pairs: Adam against Adam (the
defaults of both), SGD with momentum against SGD with momentum, and the DBN with its
default dropout (0.2) against the MLP without (it has none). One thread pool, one fit at
a time.

    python benchmarks/small_data_epoch.py [--threads 2] [--epochs 30] [--repeats 3]
"""

from __future__ import annotations

import time
import warnings

from _common import parse_args, print_machine_info, print_table, warm_up, write_json
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

from deepbelief import DBNClassifier
from deepbelief.datasets import load_digits


def options(parser) -> None:
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)


def best_epoch_seconds(make, X, y, epochs: int, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        model = make()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            start = time.perf_counter()
            model.fit(X, y)
            times.append(time.perf_counter() - start)
    return min(times) / epochs


def main() -> int:
    args = parse_args(__doc__.splitlines()[0], options)
    machine = print_machine_info()
    warm_up()
    X, y = load_digits()
    X, _, y, _ = train_test_split(X, y, test_size=0.2, random_state=0)
    e = 2 if args.quick else args.epochs
    mlp = {"hidden_layer_sizes": (256, 256), "batch_size": 32, "max_iter": e, "tol": 0.0,
           "n_iter_no_change": 10**6, "random_state": 0}
    dbn = {"hidden_layer_sizes": (256, 256), "batch_size": 32, "max_iter": e,
           "pretrain_epochs": 0, "n_iter_no_change": 10**6, "random_state": 0,
           "device": args.device}
    pairs = [
        ("adam", lambda: DBNClassifier(**dbn, dropout=0.0),
         lambda: MLPClassifier(**mlp)),
        ("adam, DBN default dropout 0.2", lambda: DBNClassifier(**dbn),
         lambda: MLPClassifier(**mlp)),
        ("sgd, momentum 0.9", lambda: DBNClassifier(**dbn, dropout=0.0, solver="sgd",
                                                    learning_rate_init=0.05),
         lambda: MLPClassifier(**mlp, solver="sgd", learning_rate_init=0.05)),
    ]
    rows, results = [], {}
    for label, make_dbn, make_mlp in pairs:
        ours = best_epoch_seconds(make_dbn, X, y, e, args.repeats)
        theirs = best_epoch_seconds(make_mlp, X, y, e, args.repeats)
        results[label] = {"dbn_epoch_s": ours, "mlp_epoch_s": theirs}
        rows.append((label, f"{ours:.4f}", f"{theirs:.4f}", f"{ours / theirs:.2f}"))
    print_table(f"Seconds per fine-tuning epoch, digits ({len(X)} rows), batch 32, "
                "64-256-256-10, best of the repeats",
                ("solver", "DBN s/epoch", "MLP s/epoch", "DBN / MLP"), rows)
    write_json(args.json, "small_data_epoch", args, machine, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
