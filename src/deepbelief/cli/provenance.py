"""What a model was trained on: ``deepbelief train`` records it in the model file, and every
later command that reads data defaults to it and prepares its data the same way.

The record is the ``metadata`` of the model file
(:meth:`~deepbelief.estimators._base.SaveLoadMixin.save`), read back with
``deepbelief.io.modelfile.describe(path)["config"]["metadata"]``::

    {"data": {"source": "digits", "split": "train", "data_dir": null, "limit": null,
              "label_column": null, "n_samples": 1437},
     "scale": {"kind": "standard", "offset": [...], "scale": [...]}}

``source`` is a built-in data set's name or a file's absolute path. ``scale`` (None without
``--scale``) is fitted on the training data, ``x' = (x - offset) / scale`` (clipped to [0, 1]
for 'minmax'), and applied by every later command, so a model and its scaling travel in one
file. The names of a table's feature columns are the model's ``feature_names_in_``.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from deepbelief.cli.columns import check_labels
from deepbelief.cli.errors import CommandError
from deepbelief.cli.io import DATASETS, Data, load_data

__all__ = ["SCALES", "apply_scale", "command_data", "fit_scale", "save_model",
           "training_record", "training_summary"]

log = logging.getLogger("deepbelief")

#: The choices of ``train --scale``.
SCALES = ("none", "minmax", "standard")


# -- scaling -----------------------------------------------------------------------------------
def fit_scale(kind: str | None, X: np.ndarray) -> dict[str, Any] | None:
    """The scaling ``kind`` ('none', 'minmax' or 'standard') fitted on ``X`` (n, d), as JSON
    data; None for 'none'. A constant column is only shifted (its scale is 1).

    Examples
    --------
    >>> fit_scale("minmax", np.array([[0.0, 5.0], [2.0, 5.0]]))
    {'kind': 'minmax', 'offset': [0.0, 5.0], 'scale': [2.0, 1.0]}
    """
    if kind in (None, "none"):
        return None
    if kind not in SCALES:
        raise ValueError(f"scale must be one of {', '.join(SCALES)}, got {kind!r}.")
    X = np.asarray(X, dtype=np.float64)
    offset = X.mean(0) if kind == "standard" else X.min(0)
    spread = X.std(0) if kind == "standard" else X.max(0) - offset
    spread = np.where(spread > 0, spread, 1.0)
    return {"kind": kind, "offset": offset.tolist(), "scale": spread.tolist()}


def apply_scale(scale: dict[str, Any] | None, X: np.ndarray) -> np.ndarray:
    """``X`` (n, d) scaled as :func:`fit_scale` says (float32); ``X`` itself for None.

    Raises
    ------
    CommandError
        When ``X`` has another number of columns than the scaling was fitted on.

    Examples
    --------
    >>> scale = fit_scale("minmax", np.array([[0.0], [2.0]]))
    >>> apply_scale(scale, np.array([[1.0], [3.0]])).ravel().tolist()
    [0.5, 1.0]
    """
    if scale is None:
        return X
    offset, spread = np.asarray(scale["offset"]), np.asarray(scale["scale"])
    if X.shape[1] != len(offset):
        raise CommandError(f"the data has {X.shape[1]} features but the model's scaling was "
                           f"fitted on {len(offset)}.")
    out = (np.asarray(X, dtype=np.float64) - offset) / spread
    if scale["kind"] == "minmax":  # the model's units live in [0, 1]
        out = np.clip(out, 0.0, 1.0)
    return np.ascontiguousarray(out, dtype=np.float32)


# -- the record --------------------------------------------------------------------------------
def training_record(args, data: Data) -> dict[str, Any]:
    """The metadata ``train`` saves with a model: its data (``args``: the train options)
    and the scaling applied to it (``data.scale``)."""
    builtin = args.data in DATASETS
    folder = not builtin and Path(args.data).is_dir()
    return {"data": {
        "source": args.data if builtin else str(Path(args.data).resolve()),
        "split": (args.split or "train") if builtin or folder else None,
        "data_dir": str(Path(args.data_dir).resolve()) if args.data_dir else None,
        "limit": args.limit,
        "label_column": data.label,
        "n_samples": len(data.X),
    }, "scale": data.scale}


def save_model(model, path: Path, args, data: Data) -> Path:
    """Save a trained model with :func:`training_record` and the names of its data's
    feature columns (``feature_names_in_``), which the later commands match by name."""
    if data.columns is not None and len(data.columns) == model.n_features_in_:
        model.feature_names_in_ = np.asarray(data.columns, dtype=object)
    try:
        return model.save(path, metadata=training_record(args, data))
    finally:  # the command goes on with arrays in the model's order, not named tables
        model.__dict__.pop("feature_names_in_", None)


def training_summary(metadata: dict[str, Any] | None) -> str | None:
    """The training data of a model file's ``metadata`` in words (None when not recorded).

    Examples
    --------
    >>> training_summary({"data": {"source": "digits", "split": "train", "limit": 500,
    ...                            "n_samples": 500}, "scale": {"kind": "standard"}})
    'digits (train split), 500 samples (--limit 500), scaled: standard'
    """
    data = (metadata or {}).get("data")
    if not data:
        return None
    text = data["source"] + (f" ({data['split']} split)" if data.get("split") else "")
    if data.get("n_samples") is not None:
        text += f", {data['n_samples']} samples"
        if data.get("limit"):
            text += f" (--limit {data['limit']})"
    if data.get("label_column") is not None:
        text += f", label column {data['label_column']!r}"
    scale = (metadata or {}).get("scale")
    if scale:
        text += f", scaled: {scale['kind']}"
    return text


# -- the data of a command ---------------------------------------------------------------------
def _model_header(path: str | None) -> tuple[dict, list[str] | None]:
    """A model file's record (metadata) and feature names ({} and None without)."""
    if path is None:
        return {}, None
    from deepbelief.io.modelfile import describe  # torch: only for commands with a model

    config = describe(path)["config"]
    names = (config.get("state") or {}).get("feature_names_in")
    return config.get("metadata") or {}, names


def _recorded_source(model: str, record: dict, n_features: int | None) -> dict[str, Any]:
    """The data options a command takes from the model file when no --data is given."""
    trained = record.get("data")
    if not trained:
        if n_features == 64:  # files from before the record: the former default
            log.info("%s does not record its training data; using the digits", model)
            return {"source": "digits"}
        raise CommandError(f"{model} does not record the data it was trained on (it was saved "
                           "by an older deepbelief, or from Python); give the data with "
                           "--data.")
    source = trained["source"]
    if source not in DATASETS and not Path(source).exists():
        raise CommandError(f"{model} was trained on {source}, which no longer exists; give "
                           "the data with --data.")
    log.info("using the data %s was trained on, %s (--data chooses other data)", model, source)
    return {"source": source, "data_dir": trained.get("data_dir"),
            "limit": trained.get("limit")}


def command_data(args, *, default_split: str, n_features: int | None = None,
                 want_labels: bool = False) -> Data:
    """The data of a command (see :func:`deepbelief.cli.io.data_from_args`), prepared as
    its model's training data was.

    ``train`` fits ``--scale`` on its data. A command with a model file (``args.model``)
    reads its record: without ``--data`` it takes the data the model was trained on (the
    test split of a built-in set, else the same file), matches a table's columns to the
    model's feature names, and applies the model's scaling.

    Raises
    ------
    CommandError
        The recorded data is gone, or nothing is recorded and the model does not take the
        digits' 64 features (both name ``--data``); labels unfit for ``train --kind``.
    """
    model = getattr(args, "model", None)
    record, names = _model_header(model)
    options = {"source": args.data, "data_dir": args.data_dir, "limit": args.limit}
    if args.data is None:
        recorded = _recorded_source(model, record, n_features)
        options = {**recorded, **{k: v for k, v in options.items() if v is not None}}
    source = options["source"]
    builtin = source in DATASETS or Path(source).is_dir()
    data = load_data(source, split=args.split or (default_split if builtin else None),
                     data_dir=options.get("data_dir"), label_column=args.label_column,
                     limit=options.get("limit"), n_features=n_features,
                     want_labels=want_labels, feature_names=names,
                     recorded_label=(record.get("data") or {}).get("label_column"))
    if n_features is not None and data.X.shape[1] != n_features:
        trained = training_summary(record)
        raise CommandError(f"{data.name} has {data.X.shape[1]} features but the model takes "
                           f"{n_features}" + (f" (it was trained on {trained})" if trained
                                              else "") + "; give its kind of data with --data.")
    if model is None:  # train
        check_labels(data.y, f"the label column {data.label!r} of {data.name}"
                     if data.label else data.name, args.kind)
        scale = fit_scale(getattr(args, "scale", None), data.X)
    else:
        scale = record.get("scale")
    if scale is not None:
        data = replace(data, X=apply_scale(scale, data.X), scale=scale)
        log.info("data scaled: %s (fitted on the training data)", scale["kind"])
    log.info("data: %s, %d samples x %d features", data.name, *data.X.shape)
    return data
