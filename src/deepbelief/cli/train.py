"""``deepbelief train`` (fit a model, save it with its history, print a summary) and
``deepbelief demo``.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from deepbelief.cli.autoencoder import AUTOENCODER_GROUPS, check_loss_options
from deepbelief.cli.autoencoder import WHY_NOT as AUTOENCODER_WHY_NOT
from deepbelief.cli.checkpoints import check_checkpoint_target, fit_resumable
from deepbelief.cli.io import (
    DATASETS,
    EXIT_OK,
    CommandError,
    Data,
    UsageError,
    data_from_args,
    load_data,
    one_line,
    prepare_outputs,
    write_history,
)
from deepbelief.cli.metrics import (
    STANDARDISED_HISTORY,
    format_value,
    history_units,
    model_metrics,
)
from deepbelief.cli.models import KINDS, architecture, n_parameters
from deepbelief.cli.provenance import apply_scale, save_model
from deepbelief.cli.sequence_parser import TRAIN_PARAMS as SEQUENCE_PARAMS
from deepbelief.cli.sequence_parser import WHY_NOT as SEQUENCE_WHY_NOT
from deepbelief.cli.sequence_parser import check_kind_options
from deepbelief.estimators import resolve_device

log = logging.getLogger("deepbelief")

#: option -> estimator parameter, per group of kinds ('supervised': classifier, regressor;
#: 'dbn': every DBN; 'rbm').
#: Rows of a memory-mapped --data file that train's summary scores (the file may not fit
#: in memory).
_SUMMARY_ROWS = 10_000

_TRAIN_PARAMS: dict[str, dict[str, str]] = {
    "layers": {"dbn": "hidden_layer_sizes", "generative": "hidden_layer_sizes",
               "rbm": "n_components"},
    "visible_units": {"dbn": "visible_units", "generative": "visible_units",
                      "rbm": "visible_units"},
    "hidden_units": {"dbn": "hidden_units", "rbm": "hidden_units"},
    "layer_type": {"dbn": "layer_type"},
    "pretrain_epochs": {"dbn": "pretrain_epochs", "generative": "pretrain_epochs"},
    "pretrain_learning_rate": {"dbn": "pretrain_learning_rate",
                               "generative": "pretrain_learning_rate"},
    "epochs": {"supervised": "max_iter", "generative": "updown_epochs", "rbm": "n_iter"},
    "learning_rate": {"supervised": "learning_rate_init", "generative": "updown_learning_rate",
                      "rbm": "learning_rate"},
    "batch_size": {"dbn": "batch_size", "generative": "batch_size", "rbm": "batch_size"},
    "solver": {"supervised": "solver"},
    "dropout": {"supervised": "dropout"},
    "input_dropout": {"supervised": "input_dropout"},
    "loss": {"autoencoder": "loss"},
    "method": {"dbn": "pretrain_method", "generative": "pretrain_method", "rbm": "method"},
    "k": {"dbn": "k", "generative": "k", "rbm": "k"},
    "early_stopping": {"supervised": "early_stopping"},
    "validation_fraction": {"supervised": "validation_fraction"},
    "class_weight": {"supervised": "class_weight"},
    "seed": {"dbn": "random_state", "generative": "random_state", "rbm": "random_state"},
    "device": {"dbn": "device", "generative": "device", "rbm": "device"},
}
_WHY_NOT = {
    ("transformer", "epochs"): "a transformer has no fine-tuning; use --pretrain-epochs",
    ("transformer", "learning_rate"): "a transformer has no fine-tuning; use "
                                      "--pretrain-learning-rate",
    ("rbm", "pretrain_epochs"): "an RBM has one layer; use --epochs",
    ("generative", "hidden_units"): "its units are Bernoulli",
    ("rbm", "pretrain_learning_rate"): "an RBM has one layer; use --learning-rate",
    ("generative", "layer_type"): "its layers are RBMs, which sampling and up-down need",
    ("regressor", "class_weight"): "its targets are numbers, not classes",
    **AUTOENCODER_WHY_NOT,
    **SEQUENCE_WHY_NOT,
}
for _option, _targets in SEQUENCE_PARAMS.items():  # --kind sequence and superres
    _TRAIN_PARAMS.setdefault(_option, {}).update(_targets)


def _groups(kind: str) -> tuple[str, ...]:
    if kind in ("rbm", "generative", "sequence", "superres"):
        return (kind,)
    if kind == "autoencoder":
        return AUTOENCODER_GROUPS
    return ("dbn", "supervised") if kind in ("classifier", "regressor") else ("dbn",)


def _estimator_params(args) -> tuple[type, dict[str, Any]]:
    kind = args.kind
    cls = KINDS[kind]
    groups = _groups(kind)
    valid = cls().get_params()
    params: dict[str, Any] = {"random_state": 0}
    if kind == "rbm":  # the RBM class keeps BernoulliRBM's 0.1; the command line: per unit type
        params["learning_rate"] = "auto"
    early_set = any(key == "early_stopping" for key, _ in args.set or [])
    if args.validation_fraction is not None and not (args.early_stopping or early_set):
        raise UsageError("--validation-fraction applies only with --early-stopping (it is the "
                         "part of the training data that early stopping holds out).",
                         "deepbelief train")
    for option, targets in _TRAIN_PARAMS.items():
        value = getattr(args, option)
        if value is None or (option == "early_stopping" and value is False):
            continue
        target = next((targets[g] for g in groups if targets.get(g) in valid), None)
        if target is None:
            why = _WHY_NOT.get((kind, option), "")
            raise UsageError(f"--{option.replace('_', '-')} does not apply to --kind {kind}"
                             + (f" ({why})" if why else "") + ".", "deepbelief train")
        if isinstance(value, list):
            if kind == "rbm" or len(value) == 1:
                if len(value) != 1:
                    raise UsageError(f"--{option.replace('_', '-')} takes one value for "
                                     "--kind rbm (it has one hidden layer).", "deepbelief train")
                value = value[0]
            else:
                value = tuple(value)
        params[target] = value
    for key, value in args.set or []:
        if key not in valid:
            where = (f"{key} in the [params] table of {args.config}"
                     if key in getattr(args, "config_params", ()) else f"--set {key}")
            raise UsageError(f"{where}: {cls.__name__} has no parameter {key!r} (it has "
                             f"{', '.join(sorted(valid))}).", "deepbelief train")
        params[key] = tuple(value) if isinstance(value, list) else value
    return cls, params


def _check_params(cls, params: dict) -> None:
    """Bad option values are usage errors: check them before any data is loaded."""
    try:
        model = cls(**params)
        model._validate_params()
        if hasattr(model, "_rbm_configs"):
            model._rbm_configs()
        resolve_device(model.device)
    except (ValueError, TypeError) as exc:
        raise UsageError(one_line(exc), "deepbelief train") from None


def _progress_callbacks(args) -> list:
    """The progress bar, then the TensorBoard logger of ``--tensorboard`` (last: it logs
    what the callbacks before it add to the records)."""
    from deepbelief.training.callbacks import ProgressBar

    callbacks = [ProgressBar(verbose=0 if args.quiet else 1, sink=log.info)]
    if getattr(args, "tensorboard", None):
        from deepbelief.training.tensorboard import TensorBoard

        try:
            callbacks.append(TensorBoard(args.tensorboard))
        except ImportError as exc:
            raise CommandError(f"--tensorboard: {exc}") from None
        log.info("logging for TensorBoard to %s", args.tensorboard)
    return callbacks


def run_train(args) -> int:
    check_kind_options(args)
    cls, params = _estimator_params(args)
    _check_params(cls, params)
    check_loss_options(args, params)
    history = _check_outputs(args, cls)
    if args.kind == "sequence":  # sequences: cli.sequences
        from deepbelief.cli.sequences import train_sequence

        return train_sequence(args, cls, params, history)
    if args.kind == "superres":  # (low-resolution, image) pairs: cli.superres
        from deepbelief.cli.superres import train_superres

        return train_superres(args, cls, params, history)
    supervised = args.kind in ("classifier", "regressor")
    data = data_from_args(args, default_split="train", want_labels=supervised)
    if args.kind == "generative" and data.y is not None:
        supervised = True  # labels join the top RBM; without them the model is unsupervised
    if supervised and data.y is None:
        raise CommandError(f"{data.name} has no labels, which --kind {args.kind} needs: use "
                           "a .npz file with arrays X and y, or a .csv file with a label "
                           "column.")
    X, y = data.X, data.y
    check_loss_options(args, params, X)
    callbacks = _progress_callbacks(args)
    if args.free_energy_gap:
        from sklearn.model_selection import train_test_split

        from deepbelief.training.callbacks import FreeEnergyGap

        if y is None:
            X, X_valid = train_test_split(X, test_size=args.free_energy_gap, random_state=0)
        else:
            X, X_valid, y, _ = train_test_split(X, y, test_size=args.free_energy_gap,
                                                random_state=0)
        callbacks.insert(0, FreeEnergyGap(X_valid))  # its gap shows in the bar and the logs
        log.info("held out %d samples to monitor the free-energy gap", len(X_valid))
    model = cls(**params, callbacks=callbacks)
    log.info("training %s on %s", cls.__name__, data.name)
    from deepbelief.training.loop import warm_up_optimizers

    warm_up_optimizers()  # torch's one-time optimizer import is not training time
    start = time.perf_counter()
    resumed = fit_resumable(model, X, y if supervised else None, checkpoint=args.checkpoint,
                            every=args.checkpoint_every, resume=args.resume)
    seconds = time.perf_counter() - start
    model.set_params(callbacks=None)  # the progress bar is not part of the model
    output = Path(args.output)
    save_model(model, output, args, data)  # with the data it was trained on
    if history is not None:
        write_history(model, history)
    _print_train_summary(model, data, args, X, y, (seconds, resumed), output, history)
    return EXIT_OK


def _check_outputs(args, cls: type) -> Path | None:
    """Check every file ``train`` writes before any work starts (creating missing folders),
    and refuse a --checkpoint file that is not a checkpoint of this run; returns the
    history path (None with --no-history)."""
    if args.resume and not args.checkpoint:
        raise UsageError("--resume needs --checkpoint PATH.", "deepbelief train")
    history = None if args.no_history else (
        Path(args.history) if args.history else Path(args.output).with_suffix(".history.json"))
    prepare_outputs("deepbelief train", {"-o": args.output, "--checkpoint": args.checkpoint,
                                         "--history": history})
    check_checkpoint_target(args.checkpoint, cls)
    return history


def _phase_line(records: list[dict], key: str) -> str:
    if not records:
        return "0 epochs"
    seconds = sum(r.get("time", 0.0) for r in records)
    text = f"{len(records)} epoch{'s' * (len(records) != 1)}"
    if key in records[0]:
        text += f", {key.replace('_', ' ')} {records[0][key]:.4g} -> {records[-1][key]:.4g}"
    return text + f" ({seconds:.2f} s)"


def _print_train_summary(model, data, args, X, y, time_and_resumed, output, history) -> None:
    seconds, resumed = time_and_resumed
    name = type(model).__name__
    out = sys.stdout
    print(f"deepbelief train: {name} {architecture(model)}, {n_parameters(model):,} "
          "parameters", file=out)
    print(f"  data: {data.name}, {len(X)} samples x {X.shape[1]} features", file=out)
    if isinstance(model.history_, dict):
        for i, records in enumerate(model.history_["pretrain"]):
            print(f"  pretraining layer {i + 1}: {_phase_line(records, 'reconstruction_error')}",
                  file=out)
        if "finetune" in model.history_:
            print(f"  fine-tuning: {_phase_line(model.history_['finetune'], 'loss')}",
                  file=out)
        if model.history_.get("updown"):
            records = model.history_["updown"]
            key = "training_error" if "training_error" in records[0] else "reconstruction_error"
            print(f"  up-down fine-tuning: {_phase_line(records, key)}", file=out)
        if history_units(model) == "standardised":
            print(f"  units of the errors and losses above: {STANDARDISED_HISTORY}; the "
                  "scores below are in the data's units", file=out)
    else:
        print(f"  training: {_phase_line(model.history_, 'reconstruction_error')}", file=out)
    if resumed:  # the phases' times above sum the epochs of every call of the run
        print(f"  time of this call: {seconds:.2f} s (it resumed {args.checkpoint}; the "
              "phase times above count the whole run)", file=out)
    else:
        print(f"  total time: {seconds:.2f} s", file=out)
    parts = [("train", Data(X, y, data.name))]
    if isinstance(X, np.memmap) and len(X) > _SUMMARY_ROWS:  # larger than memory: a sample
        parts = [(f"train (first {_SUMMARY_ROWS} rows)",
                  Data(X[:_SUMMARY_ROWS], None if y is None else y[:_SUMMARY_ROWS], data.name))]
    if args.data in DATASETS and (args.split or "train") == "train":
        try:
            test = load_data(args.data, split="test", data_dir=args.data_dir, limit=args.limit)
            parts.append(("test", Data(apply_scale(data.scale, test.X), test.y, test.name)))
        except CommandError as exc:
            log.warning("no test score: %s", exc)
    for label, part in parts:
        metrics = model_metrics(model, part)
        shown = [(k, v) for k, v in metrics.items()
                 if k in ("accuracy", "r2", "reconstruction_error", "pseudo_log_likelihood")]
        text = ", ".join(f"{k.replace('_', ' ')} {format_value(v)}" for k, v in shown)
        print(f"  {label}: {text} ({metrics['n_samples']} samples)", file=out)
    print(f"  model: {output}", file=out)
    if history is not None:
        print(f"  history: {history}", file=out)


def run_demo(args) -> int:
    from deepbelief.demo import main as demo_main

    prepare_outputs("deepbelief demo",
                    {"--output": Path(args.output) / "digits_predictions.png"})
    return demo_main(args.seed, args.output, args.device)
