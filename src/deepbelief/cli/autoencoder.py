"""The deep autoencoder on the command line: what ``train --kind autoencoder`` maps to
:class:`~deepbelief.estimators.DBNAutoencoder`, how ``inspect`` describes it, and its
pictures: ``plot embedding`` draws its codes, ``plot reconstructions`` sets its
reconstructions beside PCA's with as many components as the code has units.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np

from deepbelief import plotting
from deepbelief.cli.errors import CommandError
from deepbelief.cli.io import Data, data_from_args
from deepbelief.estimators import DBNAutoencoder

__all__ = ["AUTOENCODER_GROUPS", "WHY_NOT", "autoencoder_architecture", "autoencoder_summary",
           "embedding_codes", "plot_autoencoder_reconstructions"]

log = logging.getLogger("deepbelief")

#: The groups of ``cli.train``'s option map that ``--kind autoencoder`` takes: the DBN
#: options (layers, units, pretraining), the fine-tuning options of the classifier
#: (``--epochs``: ``max_iter``, ``--learning-rate``: ``learning_rate_init``, ``--solver``,
#: ``--early-stopping``, ``--validation-fraction``) and its own (``--loss``).
AUTOENCODER_GROUPS = ("dbn", "supervised", "autoencoder")

#: Why an option does not apply to ``--kind autoencoder`` (its fine-tuning has no dropout).
WHY_NOT = {("autoencoder", "dropout"): "a deep autoencoder is fine-tuned without dropout"}


def autoencoder_architecture(model: DBNAutoencoder) -> str:
    """``64 (bernoulli) -> 16 (bernoulli) -> 2 (gaussian code) -> 16 -> 64``: the encoder's
    layers with their unit types, then the mirrored decoder."""
    layers = model.rbms_
    encoder = [f"{layers[0].n_visible} ({layers[0].visible.name})"]
    encoder += [f"{layer.n_hidden} ({layer.hidden.name})" for layer in layers[:-1]]
    encoder.append(f"{layers[-1].n_hidden} ({layers[-1].hidden.name} code)")
    decoder = [str(layer.n_visible) for layer in reversed(layers)]
    return " -> ".join(encoder + decoder)


def autoencoder_summary(model: DBNAutoencoder) -> dict:
    """What ``inspect`` adds for an autoencoder: its code size, input units and the
    fine-tuning loss it used."""
    return {"code_size": int(model.network_.n_code), "visible_units": model.visible_units_,
            "loss": model.loss_}


def embedding_codes(model: DBNAutoencoder, X: np.ndarray, method: str) -> np.ndarray:
    """The codes of ``X`` for ``plot embedding``; wider codes than 2 are drawn as the map
    ``method`` makes of them, and the command says so (with how to get 2-D codes)."""
    codes = model.transform(X)
    if codes.shape[1] > 2:
        sizes = " ".join(str(layer.n_hidden) for layer in model.rbms_[:-1])
        log.warning("the autoencoder's codes have %d dimensions: the picture is a %s map of "
                    "them, not the codes themselves (train a 2-D code to draw it as it is: "
                    "--kind autoencoder --layers %s2)", codes.shape[1],
                    "PCA" if method == "pca" else "t-SNE", f"{sizes} " if sizes else "")
    return codes


def _training_data(args: argparse.Namespace, n_features: int) -> Data:
    """The data the model file says the model was trained on (its training split)."""
    from deepbelief.io.modelfile import describe

    recorded = (describe(args.model)["config"].get("metadata") or {}).get("data")
    if not recorded:
        raise CommandError(f"{args.model} does not record its training data")
    trained = argparse.Namespace(**{**vars(args), "data": None, "limit": None,
                                    "split": recorded.get("split"), "label_column": None})
    return data_from_args(trained, default_split="train", n_features=n_features)


def pca_reconstructions(model: DBNAutoencoder, args: argparse.Namespace,
                        data: Data, X: np.ndarray) -> tuple[np.ndarray, str]:
    """The reconstructions of ``X`` by PCA with as many components as the code has units,
    fitted on the model's training data (else, when it cannot be read, on ``data``), and
    the row's name."""
    from sklearn.decomposition import PCA

    try:
        fitted_on = _training_data(args, model.n_features_in_).X
    except CommandError as exc:
        log.warning("PCA fitted on %s, the data drawn (%s)", data.name, exc)
        fitted_on = data.X
    n_components = min(model.network_.n_code, *fitted_on.shape)
    pca = PCA(n_components=n_components, random_state=0).fit(fitted_on)
    return pca.inverse_transform(pca.transform(X)), f"PCA ({n_components})"


def plot_autoencoder_reconstructions(model: DBNAutoencoder, args: argparse.Namespace,
                                     data: Data, output: str, shape) -> Path:
    """``plot reconstructions`` of an autoencoder: originals, its reconstructions, and
    PCA's with as many components as its code has units."""
    X = data.X[: args.n]
    pca, name = pca_reconstructions(model, args, data, X)
    rows = {f"autoencoder ({model.network_.n_code})": model.reconstruct(X), name: pca}
    return plotting.plot_reconstruction_comparison(X, rows, output, image_shape=shape,
                                                   n_cols=args.n_cols or 10,
                                                   title=args.title)
