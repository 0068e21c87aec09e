"""2-D codes of the digits over five seeds: 5-NN accuracy of a DBNAutoencoder's codes
against 2-component PCA's.

scikit-learn's 8x8 digits scaled to [0, 1] (``deepbelief.datasets.load_digits``), split
80/20 with ``random_state=0``; ``DBNAutoencoder(**PARAMS, random_state=seed)`` (the
README's example) fitted on the training part for seeds 0..4; a 5-nearest-neighbour
classifier fitted on the training codes and scored on the test codes; the same for
``PCA(n_components=2)``, and the test squared error per image of both reconstructions.
With ``--gallery DIR`` it draws the test codes of seed 0 (``digits_autoencoder_embedding.png``).

    python benchmarks/digits_autoencoder.py [--quick] [--threads N] [--gallery docs/gallery]
"""

from __future__ import annotations

import statistics
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
from mnist_autoencoder import knn_accuracy  # 5 nearest neighbours
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split

from deepbelief import DBNAutoencoder
from deepbelief.datasets import load_digits
from deepbelief.plotting import plot_embedding
from deepbelief.plotting.comparison import squared_error_per_image

SEEDS = (0, 1, 2, 3, 4)
#: The README's example.
PARAMS: dict[str, Any] = {"hidden_layer_sizes": (128, 64, 2), "max_iter": 50}
QUICK_OVERRIDES: dict[str, Any] = {"pretrain_epochs": 2, "max_iter": 5}


def main() -> int:
    def options(parser) -> None:
        parser.add_argument("--gallery", metavar="DIR",
                            help="draw seed 0's test codes in DIR/digits_autoencoder_embedding.png")

    args = parse_args(__doc__.splitlines()[0], options)
    machine = print_machine_info()
    quick_banner(args)
    warm_up()
    X, y = load_digits()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
    params = {**PARAMS, **(QUICK_OVERRIDES if args.quick else {})}

    pca = PCA(n_components=2).fit(X_train)
    pca_accuracy = knn_accuracy(pca.transform(X_train), y_train, pca.transform(X_test), y_test)
    pca_error = squared_error_per_image(X_test, pca.inverse_transform(pca.transform(X_test)))
    rows, results = [], []
    for seed in SEEDS:
        model = DBNAutoencoder(**params, random_state=seed, device=args.device)
        with timer(args.device) as t:
            model.fit(X_train)
        codes_test = model.transform(X_test)
        accuracy = knn_accuracy(model.transform(X_train), y_train, codes_test, y_test)
        error = squared_error_per_image(X_test, model.reconstruct(X_test))
        results.append({"seed": seed, "accuracy": accuracy, "test_error": error,
                        "fit_s": t.seconds})
        rows.append((seed, accuracy, pca_accuracy, error, pca_error, t.seconds))
        if seed == SEEDS[0] and args.gallery:
            path = plot_embedding(codes_test, y_test,
                                  f"{args.gallery}/digits_autoencoder_embedding.png",
                                  feature_name="code",
                                  title=f"2-D codes of the digits test set: 5-NN accuracy "
                                        f"{accuracy:.1%} (PCA {pca_accuracy:.1%})")
            print(f"wrote {path}")
    mean = statistics.mean(r["accuracy"] for r in results)
    rows.append(("mean", mean, pca_accuracy,
                 statistics.mean(r["test_error"] for r in results), pca_error,
                 statistics.mean(r["fit_s"] for r in results)))
    print_table(f"DBNAutoencoder{params['hidden_layer_sizes']} on the digits "
                f"({len(X_train)} train / {len(X_test)} test)",
                ("seed", "5-NN accuracy", "PCA 5-NN accuracy", "test error", "PCA test error",
                 "fit s"), rows)
    write_json(args.json, "digits_autoencoder", args, machine,
                {"params": {k: str(v) for k, v in params.items()}, "seeds": results,
                 "pca_accuracy": pca_accuracy, "pca_test_error": pca_error})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
