"""The models the commands work on: the kinds ``train`` builds, loading a model file, what
a model can do, and what it is made of.

The commands dispatch on the public estimator classes (``isinstance``), never on class
names.
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from deepbelief.cli.autoencoder import autoencoder_architecture
from deepbelief.cli.io import CommandError
from deepbelief.core.stack import down_pass, up_pass
from deepbelief.estimators import (
    RBM,
    ConditionalRBM,
    DBNAutoencoder,
    DBNClassifier,
    DBNRegressor,
    DBNTransformer,
    GenerativeDBN,
    ReplicatedSoftmaxRBM,
    SequenceCRBM,
    load,
)
from deepbelief.estimators._input_scaling import InputScaling

log = logging.getLogger("deepbelief")

#: ``--kind`` -> estimator class.
KINDS: dict[str, type] = {"classifier": DBNClassifier, "regressor": DBNRegressor,
                          "transformer": DBNTransformer, "rbm": RBM,
                          "generative": GenerativeDBN, "autoencoder": DBNAutoencoder,
                          "sequence": SequenceCRBM, "superres": ConditionalRBM,
                          "documents": ReplicatedSoftmaxRBM}
#: Models that classify (``predict``, ``predict_proba``, ``classes_``).
CLASSIFIERS: tuple[type, ...] = (DBNClassifier, GenerativeDBN)
#: Models that draw samples (``sample``).
SAMPLERS: tuple[type, ...] = (RBM, DBNTransformer, GenerativeDBN)
#: Models that fill in hidden parts of their input (``complete``).
COMPLETERS: tuple[type, ...] = (RBM, GenerativeDBN)


def load_model(path: str, device: str | None = None):
    """The estimator saved in the model file ``path``, on ``device`` (default: as saved).

    The commands match a table's columns to the file's ``feature_names_in_`` by name
    (:mod:`deepbelief.cli.columns`) and hand the model arrays in its order, so the loaded
    estimator does not keep the names (it would warn that arrays have none)."""
    model = load(path, device=device)
    model.__dict__.pop("feature_names_in_", None)
    log.info("model: %s from %s", type(model).__name__, path)
    return model


def _a(name: str) -> str:
    return f"{'an' if name.startswith(('RBM', 'A', 'E', 'I', 'O', 'U')) else 'a'} {name}"


#: The command that does the job of another for a kind of model that the other does not take.
_GENERATE = "'deepbelief generate' (it continues a seed with the model's frames)"
_GENERATE_PICTURE = ("'deepbelief generate MODEL -o frames.npz --picture frames.png' (generated "
                     "frames beside the real ones)")
_PREDICT = "'deepbelief predict' (the images it estimates from low-resolution ones)"
_PREDICT_PICTURE = ("'deepbelief predict MODEL --picture images.png' (its images beside the "
                    "input, bicubic upsampling and the truth)")
_AUTOENCODER_PICTURES = ("'deepbelief plot reconstructions MODEL' (its reconstructions beside "
                         "PCA's) or 'deepbelief plot embedding MODEL' (its codes): a deep "
                         "autoencoder does not sample")
INSTEAD: dict[tuple[type, str], str] = {
    (SequenceCRBM, "sample"): _GENERATE,
    (SequenceCRBM, "plot samples"): _GENERATE,
    (SequenceCRBM, "predict"): _GENERATE + ", or 'deepbelief evaluate' for its one-step "
                                           "prediction error",
    (SequenceCRBM, "complete"): "'deepbelief fill-in' (it fills in missing channels)",
    (SequenceCRBM, "plot reconstructions"): _GENERATE_PICTURE,
    (SequenceCRBM, "plot predictions"): _GENERATE_PICTURE,
    (ConditionalRBM, "sample"): _PREDICT,
    (ConditionalRBM, "plot samples"): _PREDICT,
    (ConditionalRBM, "complete"): _PREDICT,
    (ConditionalRBM, "plot reconstructions"): _PREDICT_PICTURE,
    (ConditionalRBM, "plot predictions"): _PREDICT_PICTURE,
    **{(DBNAutoencoder, command): _AUTOENCODER_PICTURES
       for command in ("sample", "plot samples", "complete")},
}


def require(model, path: str, command: str, allowed: tuple[type, ...] | None = None,
            why: str = "") -> None:
    """Raise :class:`CommandError` unless ``model`` is an instance of one of ``allowed``
    (None: of any kind but those :data:`INSTEAD` sends to another command for ``command``);
    the message names the command to use instead where there is one (``MODEL`` in it
    reads ``path``)."""
    instead = INSTEAD.get((type(model), command))
    if (instead is None) if allowed is None else isinstance(model, allowed):
        return
    name = _a(type(model).__name__)
    text = f"{path} holds {name} model; '{command}' "
    if allowed is None:
        text += "does not take it"
    else:
        text += f"needs {_a(' or '.join(cls.__name__ for cls in allowed))} model"
    if instead:
        why = f". For {name} model use {instead.replace('MODEL', path)}"
    raise CommandError(f"{text}{why}.")


def architecture(model) -> str:
    """``64 (bernoulli) -> 256 (relu) -> 10 classes``."""
    if isinstance(model, DBNAutoencoder):
        return autoencoder_architecture(model)
    if isinstance(model, SequenceCRBM):  # conditional layers: frames given their past
        layers = model.layers_
        orders = model.orders_
        return " -> ".join([f"{layers[0].n_visible} ({layers[0].visible.name})",
                            *(f"{m.n_hidden} ({m.hidden.name})" for m in layers)]) + (
            f", order{'s' * (len(orders) > 1)} {', '.join(str(o) for o in orders)}")
    if hasattr(model, "rbm_"):
        rbm = model.rbm_
        given = (f", given {model.n_features_in_} input features"
                 if isinstance(model, ConditionalRBM) else "")
        return (f"{rbm.n_visible} ({rbm.visible.name}) -> {rbm.n_hidden} "
                f"({rbm.hidden.name}){given}")
    rbms = model.rbms_
    parts = [f"{rbms[0].n_visible} ({rbms[0].visible.name})"]
    parts += [f"{r.n_hidden} ({r.hidden.name})" for r in rbms]
    if hasattr(model, "classes_"):
        parts.append(f"{len(model.classes_)} classes")
    elif hasattr(model, "n_outputs_"):
        parts.append(f"{model.n_outputs_} output{'s' * (model.n_outputs_ > 1)}")
    return " -> ".join(parts)


def image_pixels(model) -> int:
    """The pixels of the images a model's pictures show: its outputs for a conditional RBM
    (its input is their low-resolution version), its input (frames) for the others."""
    return model.n_outputs_ if isinstance(model, ConditionalRBM) else model.n_features_in_


def n_parameters(model) -> int:
    """The number of trained numbers in ``model``."""
    modules = ([model.rbm_] if hasattr(model, "rbm_") else
               list(getattr(model, "layers_", None) or model.rbms_))
    modules += list(getattr(model, "recognition_", None) or [])  # untied up-pass weights
    if hasattr(model, "network_"):
        modules = [model.network_]
    return sum(p.numel() for m in modules for p in m.parameters())


def model_features(model, X: np.ndarray) -> np.ndarray:
    """A model's features: ``transform``, or the top hidden layer of a fine-tuned network."""
    if hasattr(model, "transform"):
        return model.transform(X)
    with torch.no_grad():
        x = torch.as_tensor(InputScaling.of(model).apply(X), device=model.rbms_[0].weight.device)
        return model.network_.features(x).cpu().numpy()


def reconstruct(model, X: np.ndarray) -> np.ndarray:
    """The up-down mean-field reconstruction of ``X``: the model's own ``reconstruct``, or
    (a supervised DBN) the up-down pass through its pretrained stack, in the data's units."""
    if hasattr(model, "reconstruct"):
        return model.reconstruct(X)
    scaling = InputScaling.of(model)  # visible_units='auto' may standardise the input
    x = torch.as_tensor(scaling.apply(X), dtype=torch.float32,
                        device=model.rbms_[0].weight.device)
    return scaling.invert(down_pass(model.rbms_, up_pass(model.rbms_, x)).cpu().numpy())
