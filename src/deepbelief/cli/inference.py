"""The commands that run a trained model on data: ``deepbelief evaluate`` (scores),
``predict`` (predictions as CSV) and ``transform`` (features).

A sequence model reads sequences (:mod:`deepbelief.cli.sequence_inference`), a conditional
RBM its inputs and their truth (:mod:`deepbelief.cli.conditional_data`).
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import numpy as np

from deepbelief.cli.conditional_data import conditional_data, conditional_features
from deepbelief.cli.io import (
    EXIT_OK,
    CommandError,
    UsageError,
    check_suffix,
    csv_number,
    data_from_args,
    prepare_outputs,
    write_table,
)
from deepbelief.cli.metrics import (
    conditional_metrics,
    format_value,
    model_metrics,
    sequence_metrics,
)
from deepbelief.cli.models import CLASSIFIERS, load_model, model_features, require
from deepbelief.cli.sequence_inference import command_sequences, write_frame_features
from deepbelief.estimators import (
    ConditionalRBM,
    DBNClassifier,
    DBNRegressor,
    GenerativeDBN,
    SequenceCRBM,
)

log = logging.getLogger("deepbelief")


def _metrics(model, args) -> dict:
    """What ``evaluate`` reports: the data's name, then the model's scores on it."""
    if isinstance(model, SequenceCRBM):
        sequences = command_sequences(args, model)
        return {"data": sequences.name, **sequence_metrics(model, sequences.sequences)}
    if isinstance(model, ConditionalRBM):
        pairs = conditional_data(args, model)
        return {"data": pairs.data.name, **conditional_metrics(model, pairs)}
    data = data_from_args(args, default_split="test", n_features=model.n_features_in_,
                          want_labels=isinstance(model, (DBNClassifier, DBNRegressor)))
    return {"data": data.name, **model_metrics(model, data, args)}


def _warn_unused_likelihood_options(model, args) -> None:
    """Say so when likelihood options are given for a supervised model, whose score has no
    log-likelihood."""
    if (not isinstance(model, (DBNClassifier, DBNRegressor, GenerativeDBN))
            or getattr(args, "commands", None) is None):
        return
    parser = args.commands[args.command]  # the options of its "RBM log-likelihood" group
    group = next(g for g in parser._action_groups if g.title == "RBM log-likelihood")
    given = [action.option_strings[0] for action in group._group_actions
             if getattr(args, action.dest, None) != action.default]
    if given:
        log.warning("%s %s to RBMs only: a %s is scored without a log-likelihood; ignored",
                    ", ".join(given), "apply" if len(given) > 1 else "applies",
                    type(model).__name__)


def run_evaluate(args) -> int:
    model = load_model(args.model, args.device)
    _warn_unused_likelihood_options(model, args)
    metrics = {"model": type(model).__name__, **_metrics(model, args)}
    if args.json:
        finite = {k: None if isinstance(v, float) and not math.isfinite(v) else v
                  for k, v in metrics.items()}
        print(json.dumps(finite, indent=1))
    else:
        width = max(len(k) for k in metrics)
        for key, value in metrics.items():
            print(f"{key.replace('_', ' ') + ':':<{width + 2}}{format_value(value)}")
    return EXIT_OK


def run_predict(args) -> int:
    prepare_outputs("deepbelief predict", {"-o": args.output})
    # a table with a header (and the class probabilities): CSV text, never under .npy
    check_suffix("deepbelief predict", "-o", args.output, (".csv", ".txt"),
                 "the predictions of a classifier or regressor")
    model = load_model(args.model, args.device)
    require(model, args.model, "predict", (*CLASSIFIERS, DBNRegressor),
            "; use 'deepbelief transform' for the features of other models")
    if isinstance(model, GenerativeDBN) and not hasattr(model, "classes_"):
        raise CommandError(f"{args.model} holds a GenerativeDBN trained without labels: it "
                           "cannot classify.")
    data = data_from_args(args, default_split="test", n_features=model.n_features_in_)
    if args.proba and not isinstance(model, CLASSIFIERS):
        raise UsageError("--proba needs a classifier.", "deepbelief predict")
    if isinstance(model, CLASSIFIERS):
        proba = model.predict_proba(data.X)
        predicted = model.classes_[proba.argmax(1)]
        header = ["prediction"]
        rows = [[p] for p in predicted]
        if args.proba:
            header += [f"p_{c}" for c in model.classes_]
            rows = [[p, *(f"{v:.6g}" for v in row)]
                    for p, row in zip(predicted, proba, strict=True)]
    else:
        predicted = np.asarray(model.predict(data.X))
        columns = predicted.reshape(len(predicted), -1)
        header = (["prediction"] if columns.shape[1] == 1
                  else [f"prediction_{i}" for i in range(columns.shape[1])])
        rows = [[csv_number(v) for v in row] for row in columns]
    write_table(args.output, header, rows)
    return EXIT_OK


#: What ``transform -o`` writes, by the path's suffix: a sequence model's features per frame
#: (:func:`~deepbelief.cli.sequence_inference.write_frame_features`), else one table.
SEQUENCE_FEATURE_FILES, FEATURE_FILES = (".npz", ".npy", ".csv"), (".npy", ".csv")


def feature_names(model, n_features: int) -> list[str]:
    """The CSV header of ``transform``: the model's ``get_feature_names_out()`` where it
    has one (``dbnautoencoder0``, ...), else ``feature_0``, ..."""
    if hasattr(model, "get_feature_names_out"):
        return [str(name) for name in model.get_feature_names_out()]
    return [f"feature_{i}" for i in range(n_features)]


def run_transform(args) -> int:
    prepare_outputs("deepbelief transform", {"-o": args.output})
    model = load_model(args.model, args.device)
    sequences = isinstance(model, SequenceCRBM)
    check_suffix("deepbelief transform", "-o", args.output,
                 SEQUENCE_FEATURE_FILES if sequences else FEATURE_FILES,
                 f"the features of {'a' if sequences else 'this'} {type(model).__name__}")
    if sequences:  # features per frame, from receptive_field_ on
        sequences = command_sequences(args, model).sequences
        write_frame_features(args.output, model.transform(sequences), model.receptive_field_)
        return EXIT_OK
    if isinstance(model, ConditionalRBM):
        features = conditional_features(model, conditional_data(args, model))
    else:
        data = data_from_args(args, default_split="test", n_features=model.n_features_in_)
        features = model_features(model, data.X)
    if args.output and Path(args.output).suffix.lower() == ".npy":
        with open(args.output, "wb") as handle:  # numpy would add .npy to 'F.NPY'
            np.save(handle, features)
        log.info("wrote %s", args.output)
    else:
        write_table(args.output, feature_names(model, features.shape[1]),
                    [[f"{v:.6g}" for v in row] for row in features])
    return EXIT_OK
