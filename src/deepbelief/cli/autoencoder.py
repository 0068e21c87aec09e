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
from deepbelief.cli.errors import CommandError, UsageError
from deepbelief.cli.io import DATASETS, Data, data_from_args
from deepbelief.estimators import DBNAutoencoder

__all__ = ["AUTOENCODER_GROUPS", "WHY_NOT", "autoencoder_architecture", "autoencoder_summary",
           "check_loss_options", "check_rbm_on_top", "embedding_codes",
           "plot_autoencoder_reconstructions"]

log = logging.getLogger("deepbelief")

#: The groups of ``cli.train``'s option map that ``--kind autoencoder`` takes: the DBN
#: options (layers, units, pretraining), the fine-tuning options of the classifier
#: (``--epochs``: ``max_iter``, ``--learning-rate``: ``learning_rate_init``, ``--solver``,
#: ``--early-stopping``, ``--validation-fraction``) and its own (``--loss``).
AUTOENCODER_GROUPS = ("dbn", "supervised", "autoencoder")

#: Why an option does not apply to ``--kind autoencoder`` (its fine-tuning has no dropout).
WHY_NOT = {("autoencoder", "dropout"): "a deep autoencoder is fine-tuned without dropout",
           ("autoencoder", "input_dropout"): "a deep autoencoder is fine-tuned without "
                                             "dropout"}


#: The end of the usage errors of ``--loss cross_entropy``: the other ways out.
_OTHER_LOSS = "or use --loss squared_error or --loss auto"


def check_loss_options(args: argparse.Namespace, params: dict, X=None) -> None:
    """``train --kind autoencoder`` with the cross-entropy loss and options that give it
    Gaussian input units (``--visible-units gaussian``, ``--scale standard``), or, given
    the training data ``X`` (scaled), data outside [0, 1]: a usage error (exit status 2)
    naming the options to change, before any training.

    Raises
    ------
    UsageError
    """
    if args.kind != "autoencoder" or params.get("loss") != "cross_entropy":
        return
    units = params.get("visible_units", "auto")
    if units == "gaussian":
        raise UsageError("--loss cross_entropy needs Bernoulli input units (data in [0, 1]), "
                         "but --visible-units gaussian was given: drop --visible-units "
                         "gaussian (data in [0, 1] then gets Bernoulli units; add --scale "
                         f"minmax for other data), {_OTHER_LOSS}.", "deepbelief train")
    if args.scale == "standard":
        raise UsageError("--loss cross_entropy needs data in [0, 1], but --scale standard "
                         f"centres the data on 0: use --scale minmax, {_OTHER_LOSS}.",
                         "deepbelief train")
    if X is not None and units == "auto" and len(X):
        from deepbelief.core.units import DOMAIN_TOLERANCE

        low, high = float(X.min()), float(X.max())
        if low < -DOMAIN_TOLERANCE or high > 1 + DOMAIN_TOLERANCE:
            raise UsageError(f"--loss cross_entropy needs data in [0, 1], but the training "
                             f"data has values from {low:.4g} to {high:.4g}: add --scale "
                             f"minmax, {_OTHER_LOSS}.", "deepbelief train")


def check_rbm_on_top(model, path: str) -> None:
    """``sample`` (and ``plot samples``) of a DBN whose top layer is an autoencoder layer:
    an error that says how to train one that samples, in ``train``'s options.

    Raises
    ------
    CommandError
    """
    top = model.rbms_[-1]
    if top.kind == "rbm":
        return
    given = model.layer_type
    types = [given] * len(model.rbms_) if isinstance(given, str) else list(given)
    sizes = " ".join(str(layer.n_hidden) for layer in model.rbms_)
    raise CommandError(
        f"{path}'s top layer is an autoencoder layer (it was trained with --layer-type "
        f"{given if isinstance(given, str) else ' '.join(types)}), but 'sample' draws from "
        "the top RBM's Gibbs chain: train the model with an RBM on top to sample, e.g. "
        f"'deepbelief train --kind transformer --layers {sizes} --layer-type "
        f"{' '.join([*types[:-1], 'rbm'])}'.")


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
    elif method == "tsne":
        log.warning("the autoencoder's codes have %d dimensions: they are drawn as they are, "
                    "and --method tsne does not apply to them", codes.shape[1])
    return codes


def _training_data(args: argparse.Namespace, n_features: int) -> Data:
    """The data the model file says the model was trained on (its training split), read
    without the messages of a command's data (which speak of --data: it does not choose
    this data)."""
    from deepbelief.io.modelfile import describe

    recorded = (describe(args.model)["config"].get("metadata") or {}).get("data")
    if not recorded:
        raise CommandError(f"{args.model} does not record its training data")
    source = recorded["source"]
    if source not in DATASETS and not Path(source).exists():
        raise CommandError(f"it was trained on {source}, which no longer exists")
    trained = argparse.Namespace(**{**vars(args), "data": None, "limit": None,
                                    "split": recorded.get("split"), "label_column": None})
    disabled, log.disabled = log.disabled, True
    try:
        return data_from_args(trained, default_split="train", n_features=n_features)
    finally:
        log.disabled = disabled


def pca_reconstructions(model: DBNAutoencoder, args: argparse.Namespace,
                        data: Data, X: np.ndarray) -> tuple[np.ndarray, str]:
    """The reconstructions of ``X`` by PCA with as many components as the code has units,
    fitted on the model's training data (else, when it cannot be read, on ``data``), and
    the row's name. The messages say what each input is for: ``data`` (``--data``) gives
    the images drawn, the training data PCA's fit."""
    from sklearn.decomposition import PCA

    log.info("images drawn: the first %d of %s, chosen by --data and --split", len(X),
             data.name)
    try:
        training = _training_data(args, model.n_features_in_)
        fitted_on = training.X
        log.info("PCA fitted on the autoencoder's training data, %s (%d samples), as the "
                 "autoencoder was; --data does not change it", training.name, len(fitted_on))
    except CommandError as exc:
        log.warning("PCA fitted on %s, the data of the images drawn: the autoencoder's "
                    "training data cannot be read (%s)", data.name, exc)
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
