"""Make the README's gallery: small PNGs of what ``deepbelief.plotting`` draws.

    python docs/make_gallery.py [--output docs/gallery] [--threads 1]

Trains small models on scikit-learn's digits (and on MNIST when its files are found in
``$DEEPBELIEF_DATA`` or ``<repo>/../shared/data``) with fixed seeds, and writes one PNG per
picture, each under 100 KB. About 20-40 s on one CPU thread.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from deepbelief import RBM, DBNClassifier, DBNTransformer
from deepbelief.datasets import load_digits, load_mnist
from deepbelief.demo import DEMO_PARAMS
from deepbelief.plotting import (
    plot_completions,
    plot_embedding,
    plot_filters,
    plot_images,
    plot_learning_curves,
    plot_predictions,
    plot_reconstructions,
)

REPO = Path(__file__).resolve().parents[1]
MAX_BYTES = 100_000


def _mnist_folder() -> Path | None:
    for base in (os.environ.get("DEEPBELIEF_DATA"), REPO.parent / "shared" / "data"):
        if base and (Path(base) / "mnist").is_dir():
            return Path(base) / "mnist"
    return None


def digits(out: Path) -> list[Path]:
    X, y = load_digits()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
    written = []

    rbm = RBM(n_components=100, n_iter=40, learning_rate=0.05, batch_size=10,
              device="cpu", random_state=0).fit(X_train)
    written.append(plot_filters(rbm, out / "digits_rbm_filters.png", n_units=100, n_cols=10,
                                title="RBM on digits: receptive fields of 100 hidden units"))
    written.append(plot_images(rbm.sample(30, n_gibbs=1000, random_state=0, mean=True),
                               out / "digits_rbm_samples.png", n_cols=10,
                               title="RBM samples after 1000 Gibbs steps from noise"))
    written.append(plot_reconstructions(X_test[:20], rbm.reconstruct(X_test[:20]),
                                        out / "digits_rbm_reconstructions.png", n_cols=10,
                                        title="test digits and their RBM reconstructions"))
    top_half = np.arange(64) < 32
    written.append(plot_completions(X_test[:10], top_half,
                                    rbm.complete(X_test[:10], top_half, n_iter=200,
                                                 random_state=0),
                                    out / "digits_rbm_completions.png",
                                    title="bottom halves filled in by the RBM (200 clamped "
                                          "Gibbs steps)"))

    dbn = DBNTransformer((256, 64), pretrain_epochs=20, pretrain_learning_rate=0.05,
                         device="cpu", random_state=0).fit(X_train)
    written.append(plot_images(dbn.sample(30, n_gibbs=1000, random_state=0),
                               out / "digits_dbn_samples.png", n_cols=10,
                               title="DBN samples: Gibbs sampling in the top RBM, then down"))

    clf = DBNClassifier(**DEMO_PARAMS, device="cpu", random_state=0).fit(X_train, y_train)
    predicted = clf.predict(X_test)
    wrong = np.flatnonzero(predicted != y_test)[:5]
    chosen = np.concatenate([np.arange(5), wrong]) if len(wrong) else np.arange(10)
    written.append(plot_predictions(X_test[chosen], y_test[chosen], predicted[chosen],
                                    out / "digits_predictions.png"))
    written.append(plot_learning_curves(clf, out / "digits_learning_curves.png",
                                        title="DBNClassifier [256, 256] on digits"))
    with torch.no_grad():
        features = clf.network_.features(torch.as_tensor(X_test)).numpy()
    written.append(plot_embedding(features, y_test, out / "digits_embedding.png",
                                  title="top hidden layer of the fine-tuned DBN (test digits, "
                                        "PCA)"))
    return written


def mnist(out: Path, folder: Path) -> list[Path]:
    X, _ = load_mnist(folder)
    X = X[:10000]
    rbm = RBM(n_components=200, n_iter=10, learning_rate=0.02, batch_size=20,
              device="cpu", random_state=0).fit(X)
    return [
        plot_filters(rbm, out / "mnist_rbm_filters.png", n_units=64, n_cols=8,
                     title="RBM on MNIST (10,000 images): receptive fields of 64 of its 200 "
                           "hidden units"),
        plot_images(rbm.sample(20, n_gibbs=1000, random_state=0, mean=True),
                    out / "mnist_rbm_samples.png", n_cols=10,
                    title="RBM samples after 1000 Gibbs steps from noise"),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=str(REPO / "docs" / "gallery"))
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    out = Path(args.output)
    start = time.perf_counter()
    written = digits(out)
    folder = _mnist_folder()
    if folder is not None:
        written += mnist(out, folder)
    else:
        print("MNIST not found ($DEEPBELIEF_DATA or ../shared/data): digits only")
    for path in written:
        size = path.stat().st_size
        print(f"{path}  {size / 1000:.0f} KB")
        if size > MAX_BYTES:
            raise SystemExit(f"{path} is {size} bytes, over the {MAX_BYTES} byte budget")
    print(f"{len(written)} pictures in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
