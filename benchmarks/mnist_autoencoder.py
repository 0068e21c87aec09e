"""Deep autoencoder on MNIST (Hinton & Salakhutdinov, Science 2006): 784-1000-500-250-30.

Pretrains a stack of RBMs (linear units in the code layer), unrolls it into an encoder and
a mirrored decoder and fine-tunes the whole autoencoder by backpropagation
(``DBNAutoencoder``), then reports on the 10,000 MNIST test images the squared error per
image (summed over the 784 pixels, averaged over the images) of:

- ours, pretrained and fine-tuned (the paper: 3.00);
- the same network without pretraining, with the same fine-tuning budget;
- PCA with 30 components (the paper: 13.87);
- logistic PCA (the paper: 8.01), here amortised: a linear 30-unit encoder and a logistic
  decoder trained with cross-entropy (one ``DBNAutoencoder`` layer without pretraining);

and for a 784-1000-500-250-2 autoencoder, the 5-nearest-neighbour test accuracy of its 2-D
codes against 2-component PCA's; the wall time of every phase; the gallery pictures
(``autoencoder_embedding.png``, ``autoencoder_reconstructions.png``).

The time budget (``--budget-minutes``, default 60, for the 30-D autoencoder) is split: a
share (``--pretrain-share``) goes to pretraining, given to the layers in proportion to the
cost of their epochs (each layer also stops after ``--pretrain-epochs``); fine-tuning gets
the rest, and stops early when the reconstruction error of a validation split of the
*training* set (never the test set) stops improving.

``--classifier`` runs instead the stacked-denoising-autoencoder DBN as a classifier
against the RBM DBN, each with the same budget (Vincent et al. 2010: SdA-3, about 1.28 %
test error).

    python benchmarks/mnist_autoencoder.py [--quick] [--budget-minutes 60] [--threads 2]
        [--pretrain-epochs N] [--finetune-epochs N] [--solver adam|sgd|lbfgs]
        [--batch-size N] [--skip-random] [--skip-2d] [--gallery DIR] [--classifier]
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from _budget import TimeBudget, layer_budgets
from _common import (
    REPO_ROOT,
    load_mnist,
    parse_args,
    print_machine_info,
    print_table,
    quick_banner,
    warm_up,
    write_json,
)

from deepbelief import DBNAutoencoder, DBNClassifier
from deepbelief.plotting import plot_embedding, plot_reconstruction_comparison
from deepbelief.plotting.comparison import squared_error_per_image

FULL = {"n_train": None, "n_test": None, "layers": (1000, 500, 250), "pretrain_epochs": 50,
        "finetune_epochs": 1000, "budget_minutes": 60.0, "budget_2d_minutes": 20.0,
        "classifier_layers": (1000, 1000, 1000)}
QUICK = {"n_train": 10000, "n_test": 2000, "layers": (256, 128, 64), "pretrain_epochs": 3,
         "finetune_epochs": 100, "budget_minutes": 0.4, "budget_2d_minutes": 0.2,
         "classifier_layers": (128, 128, 128)}
PAPER = {"ours": "3.00", "logistic PCA": "8.01", "PCA": "13.87"}
CODE = 30
K_NEIGHBOURS = 5
N_DRAWN = 5000  # test codes in the embedding picture


def extra_options(parser) -> None:
    parser.add_argument("--budget-minutes", type=float, default=None,
                        help="training time of the 30-D autoencoder (default: 60; quick: 0.25)")
    parser.add_argument("--budget-2d-minutes", type=float, default=None,
                        help="training time of the 2-D autoencoder (default: 20)")
    parser.add_argument("--pretrain-share", type=float, default=0.25,
                        help="share of the budget for pretraining (default: 0.25)")
    parser.add_argument("--pretrain-epochs", type=int, default=None,
                        help="most RBM epochs per layer (default: 50, the paper's)")
    parser.add_argument("--pretrain-learning-rate", type=float, default=0.1,
                        help="RBM learning rate (default: 0.1; the code layer's: 0.001)")
    parser.add_argument("--finetune-epochs", type=int, default=None,
                        help="most fine-tuning epochs (default: 1000: the budget decides)")
    parser.add_argument("--solver", choices=("adam", "sgd", "lbfgs"), default="adam",
                        help="fine-tuning optimizer (default: adam)")
    parser.add_argument("--learning-rate", type=float, default=None,
                        help="fine-tuning learning rate (default: the estimator's 'auto': "
                             "0.001, or 1 with lbfgs)")
    parser.add_argument("--batch-size", type=int, default=100,
                        help="mini-batch of pretraining and fine-tuning (default: 100)")
    parser.add_argument("--validation-fraction", type=float, default=1 / 12,
                        help="part of the training set held out for early stopping "
                             "(default: 1/12, 5,000 images)")
    parser.add_argument("--skip-random", action="store_true",
                        help="skip the network without pretraining")
    parser.add_argument("--skip-2d", action="store_true", help="skip the 2-D autoencoder")
    parser.add_argument("--skip-logistic-pca", action="store_true",
                        help="skip logistic PCA")
    parser.add_argument("--gallery", default=None, metavar="DIR",
                        help="folder for the pictures (default: docs/gallery; quick: none)")
    parser.add_argument("--classifier", action="store_true",
                        help="run only the SdA-vs-RBM DBN classifier comparison")
    parser.add_argument("--seed", type=int, default=0, help="random_state (default: 0)")


def autoencoder(args, size: dict, code: int, budget_s: float, *, pretrain: bool = True,
                finetune_s: float | None = None, layers=None) -> DBNAutoencoder:
    """The autoencoder of the benchmark; fine-tuning gets ``finetune_s`` seconds, or (None)
    what pretraining leaves of ``budget_s``."""
    layers = size["layers"] if layers is None else layers
    sizes = [784, *layers, code]
    budget = TimeBudget(layer_budgets(sizes, budget_s * args.pretrain_share),
                        finetune=finetune_s, total=budget_s)
    return DBNAutoencoder(
        hidden_layer_sizes=(*layers, code), code_units="gaussian",
        pretrain_epochs=(args.pretrain_epochs or size["pretrain_epochs"]) if pretrain else 0,
        pretrain_learning_rate=[args.pretrain_learning_rate] * len(layers) + [0.001],
        max_iter=args.finetune_epochs or size["finetune_epochs"], solver=args.solver,
        learning_rate_init=args.learning_rate or "auto", batch_size=args.batch_size,
        early_stopping=True, validation_fraction=args.validation_fraction,
        random_state=args.seed, device=args.device, callbacks=[budget])


def fit_timed(model, X: np.ndarray, y: np.ndarray | None = None) -> dict:
    """Fit; the wall time of each phase and the fine-tuning epochs."""
    model.fit(X) if y is None else model.fit(X, y)
    return {"pretrain_s": model.pretrain_time_, "finetune_s": model.finetune_time_,
            "finetune_epochs": len(model.history_["finetune"])}


def knn_accuracy(train_codes, y, test_codes, y_test) -> float:
    """Test accuracy of the :data:`K_NEIGHBOURS` nearest training codes' vote."""
    from sklearn.neighbors import KNeighborsClassifier

    knn = KNeighborsClassifier(n_neighbors=K_NEIGHBOURS).fit(train_codes, y)
    return float(knn.score(test_codes, y_test))


def run_autoencoders(args, size: dict, gallery: Path | None) -> dict:
    from sklearn.decomposition import PCA

    X, y = load_mnist("train", size["n_train"])
    X_test, y_test = load_mnist("test", size["n_test"])
    budget_s = 60.0 * (args.budget_minutes or size["budget_minutes"])
    rows, results, recon = [], {}, {}

    ours = autoencoder(args, size, CODE, budget_s)
    times = fit_timed(ours, X)
    recon["ours"] = ours.inverse_transform(ours.transform(X_test))
    results["ours"] = {**times, "test_error": squared_error_per_image(X_test, recon["ours"])}

    if not args.skip_random:
        # the same fine-tuning budget: its seconds and its most epochs
        random = autoencoder(args, size, CODE, budget_s, pretrain=False,
                             finetune_s=times["finetune_s"])
        random_times = fit_timed(random, X)
        recon["no pretraining"] = random.reconstruct(X_test)
        results["no pretraining"] = {**random_times, "test_error": squared_error_per_image(
            X_test, recon["no pretraining"])}

    start = time.perf_counter()
    pca = PCA(n_components=CODE, random_state=args.seed).fit(X)
    recon["PCA"] = pca.inverse_transform(pca.transform(X_test))
    results["PCA"] = {"pretrain_s": 0.0, "finetune_s": time.perf_counter() - start,
                      "test_error": squared_error_per_image(X_test, recon["PCA"])}

    if not args.skip_logistic_pca:
        logistic = autoencoder(args, size, CODE, budget_s, pretrain=False, layers=(),
                               finetune_s=budget_s * 0.1)
        logistic_times = fit_timed(logistic, X)
        recon["logistic PCA"] = logistic.reconstruct(X_test)
        results["logistic PCA"] = {**logistic_times, "test_error": squared_error_per_image(
            X_test, recon["logistic PCA"])}

    for name, r in results.items():
        rows.append((name, r["test_error"], PAPER.get(name, "-"), r["pretrain_s"],
                     r["finetune_s"], r.get("finetune_epochs", "-")))
    print_table(f"30-D codes: MNIST test squared error per image ({len(X_test)} images)",
                ("model", "test error", "paper", "pretrain s", "fine-tune s",
                 "fine-tune epochs"), rows)
    if gallery is not None:
        shown = {k: v[:10] for k, v in recon.items() if k in ("ours", "PCA", "logistic PCA")}
        path = plot_reconstruction_comparison(
            X_test[:10], shown, gallery / "autoencoder_reconstructions.png",
            image_shape=(28, 28))
        print(f"wrote {path}")

    if not args.skip_2d:
        budget_2d = 60.0 * (args.budget_2d_minutes or size["budget_2d_minutes"])
        ours_2d = autoencoder(args, size, 2, budget_2d)
        times_2d = fit_timed(ours_2d, X)
        codes, codes_test = ours_2d.transform(X), ours_2d.transform(X_test)
        pca_2d = PCA(n_components=2, random_state=args.seed).fit(X)
        accuracy = {"ours": knn_accuracy(codes, y, codes_test, y_test),
                    "PCA": knn_accuracy(pca_2d.transform(X), y, pca_2d.transform(X_test),
                                        y_test)}
        results["2-D"] = {**times_2d, "knn_accuracy": accuracy}
        print_table(f"2-D codes: {K_NEIGHBOURS}-NN test accuracy",
                    ("model", "accuracy", "pretrain s", "fine-tune s"),
                    [("autoencoder 784-...-2", accuracy["ours"], times_2d["pretrain_s"],
                      times_2d["finetune_s"]), ("PCA (2 components)", accuracy["PCA"], 0.0,
                                                 0.0)])
        if gallery is not None:
            shown = slice(0, N_DRAWN)
            path = plot_embedding(codes_test[shown], y_test[shown],
                                  gallery / "autoencoder_embedding.png",
                                  feature_name="code", title=(
                                      f"2-D codes of {len(y_test[shown]):,} MNIST test "
                                      f"images; {K_NEIGHBOURS}-NN test accuracy "
                                      f"{accuracy['ours']:.1%} (PCA "
                                      f"{accuracy['PCA']:.1%})"))
            print(f"wrote {path}")
    return results


def run_classifiers(args, size: dict) -> dict:
    """The stacked denoising autoencoder DBN against the RBM DBN, the same budget each."""
    X, y = load_mnist("train", size["n_train"])
    X_test, y_test = load_mnist("test", size["n_test"])
    budget_s = 60.0 * (args.budget_minutes or size["budget_minutes"])
    sizes = [784, *size["classifier_layers"]]
    results, rows = {}, []
    for layer_type in ("rbm", "denoising"):
        budget = TimeBudget(layer_budgets(sizes, budget_s * args.pretrain_share),
                            total=budget_s)
        clf = DBNClassifier(
            hidden_layer_sizes=size["classifier_layers"], layer_type=layer_type,
            pretrain_epochs=args.pretrain_epochs or size["pretrain_epochs"],
            max_iter=args.finetune_epochs or size["finetune_epochs"],
            solver="sgd" if args.solver == "lbfgs" else args.solver,
            learning_rate_init=args.learning_rate or DBNClassifier().learning_rate_init,
            batch_size=args.batch_size,
            early_stopping=True, validation_fraction=args.validation_fraction,
            random_state=args.seed, device=args.device, callbacks=[budget])
        times = fit_timed(clf, X, y)
        error = 1.0 - float(clf.score(X_test, y_test))
        results[layer_type] = {**times, "test_error": error}
        rows.append((layer_type, f"{error:.2%}", times["pretrain_s"], times["finetune_s"],
                     times["finetune_epochs"]))
    print_table(f"DBN classifiers 784-{'-'.join(map(str, size['classifier_layers']))}-10: "
                "MNIST test error (Vincent et al. 2010, SdA-3: 1.28 %)",
                ("layers", "test error", "pretrain s", "fine-tune s", "fine-tune epochs"), rows)
    return results


def main() -> int:
    args = parse_args(__doc__.splitlines()[0], extra_options)
    machine = print_machine_info()
    size = QUICK if args.quick else FULL
    quick_banner(args)
    warm_up()
    gallery = Path(args.gallery) if args.gallery else (
        None if args.quick else REPO_ROOT / "docs" / "gallery")
    start = time.perf_counter()
    if args.classifier:
        results = run_classifiers(args, size)
    else:
        results = run_autoencoders(args, size, gallery)
    print(f"\ntotal wall time: {time.perf_counter() - start:.1f} s")
    write_json(args.json, "mnist_autoencoder", args, machine, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
