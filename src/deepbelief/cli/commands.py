"""The commands of the command line (``deepbelief train``, ``evaluate``, ...).

Each ``run_*`` function takes the parsed arguments of :mod:`deepbelief.cli` and returns the
exit status; errors are raised as :class:`~deepbelief.cli.io.UsageError` (exit 2) or
:class:`~deepbelief.cli.io.CommandError` and library exceptions (exit 1).
"""

from __future__ import annotations

import json
import logging
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from deepbelief.cli.io import (
    DATASETS,
    CommandError,
    Data,
    UsageError,
    csv_number,
    load_data,
    one_line,
    read_history,
    write_history,
    write_table,
)

log = logging.getLogger("deepbelief")

EXIT_OK = 0

#: ``--kind`` -> estimator class name.
KINDS = {"classifier": "DBNClassifier", "regressor": "DBNRegressor",
         "transformer": "DBNTransformer", "rbm": "RBM", "generative": "GenerativeDBN"}
#: Kinds the command line knows of, which this version cannot train yet.
LATER_KINDS = ("autoencoder",)
#: Models that classify (``predict``, ``predict_proba``, ``classes_``).
CLASSIFIERS = ("DBNClassifier", "GenerativeDBN")


def _data_from_args(args, *, default_split: str, n_features: int | None = None,
                    want_labels: bool = False) -> Data:
    data = load_data(args.data, split=args.split or (default_split if args.data in DATASETS
                                                     or Path(args.data).is_dir() else None),
                     data_dir=args.data_dir, label_column=args.label_column,
                     limit=args.limit, n_features=n_features, want_labels=want_labels)
    log.info("data: %s, %d samples x %d features", data.name, *data.X.shape)
    return data


# -- models ------------------------------------------------------------------------------------
def _load_model(path: str, device: str | None = None):
    from deepbelief.estimators import load

    model = load(path, device=device)
    log.info("model: %s from %s", type(model).__name__, path)
    return model


def _a(name: str) -> str:
    return f"{'an' if name.startswith(('RBM', 'A', 'E', 'I', 'O', 'U')) else 'a'} {name}"


def _require(model, path: str, command: str, allowed: Sequence[str], why: str = "") -> None:
    name = type(model).__name__
    if name not in allowed:
        wanted = " or ".join(allowed)
        raise CommandError(f"{path} holds {_a(name)} model; '{command}' needs {_a(wanted)} "
                           f"model{why}.")


def _image_shape(text: str | None, n_pixels: int) -> tuple[int, int] | None:
    if text is None:
        side = math.isqrt(n_pixels)
        if side * side != n_pixels:
            raise UsageError(f"the model's {n_pixels} features are not a square image; give "
                             "--image-shape HEIGHTxWIDTH.")
        return side, side
    try:
        height, width = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise UsageError(f"--image-shape must look like 28x28, got {text!r}.") from None
    if height * width != n_pixels:
        raise UsageError(f"--image-shape {text} has {height * width} pixels but the model "
                         f"takes {n_pixels} features.")
    return height, width


def _architecture(model) -> str:
    """``64 (bernoulli) -> 256 (relu) -> 10 classes``."""
    if hasattr(model, "rbm_"):
        rbm = model.rbm_
        return (f"{rbm.n_visible} ({rbm.visible.name}) -> {rbm.n_hidden} "
                f"({rbm.hidden.name})")
    rbms = model.rbms_
    parts = [f"{rbms[0].n_visible} ({rbms[0].visible.name})"]
    parts += [f"{r.n_hidden} ({r.hidden.name})" for r in rbms]
    if hasattr(model, "classes_"):
        parts.append(f"{len(model.classes_)} classes")
    elif hasattr(model, "n_outputs_"):
        parts.append(f"{model.n_outputs_} output{'s' * (model.n_outputs_ > 1)}")
    return " -> ".join(parts)


def _n_parameters(model) -> int:
    modules = [model.rbm_] if hasattr(model, "rbm_") else list(model.rbms_)
    modules += list(getattr(model, "recognition_", None) or [])  # untied up-pass weights
    if hasattr(model, "network_"):
        modules = [model.network_]
    return sum(p.numel() for m in modules for p in m.parameters())


# -- metrics -----------------------------------------------------------------------------------
def _reconstruction_error(model, X: np.ndarray) -> float:
    """Mean over samples of the summed squared error of the up-down mean-field pass."""
    if hasattr(model, "reconstruct"):
        recon = model.reconstruct(X)
    else:  # a supervised DBN: its pretrained stack
        recon = _stack_reconstruct(model, X)
    return float(((X - recon) ** 2).sum(1).mean())


def _stack_reconstruct(model, X: np.ndarray) -> np.ndarray:
    import torch

    from deepbelief.core.stack import up_pass

    with torch.no_grad():
        x = torch.as_tensor(X, dtype=torch.float32, device=model.rbms_[0].weight.device)
        h = up_pass(model.rbms_, x)
        for rbm in reversed(model.rbms_):
            h = rbm.visible_mean(h)
    return h.cpu().numpy()


def _log_likelihood(model, X: np.ndarray, args) -> dict[str, Any]:
    """Mean log p(v) of an RBM: exact enumeration when small, AIS otherwise."""
    import torch

    from deepbelief.core.units import Bernoulli
    from deepbelief.evaluation import ais_log_partition, exact_log_partition, log_likelihood

    rbm = model.rbm_
    binary = [n for n, layer in ((rbm.n_visible, rbm.visible), (rbm.n_hidden, rbm.hidden))
              if isinstance(layer, Bernoulli)]
    method = args.log_likelihood
    if method == "auto":
        method = "exact" if binary and min(binary) <= args.exact_max_units else "ais"
    out: dict[str, Any] = {}
    if method == "exact":
        start = time.perf_counter()
        log_z = exact_log_partition(rbm)
        out["log_z_method"] = "exact"
    else:
        if not isinstance(rbm.hidden, Bernoulli):
            log.warning("no log-likelihood: AIS needs Bernoulli hidden units (this RBM has "
                        "%s); its pseudo-log-likelihood is reported instead.", rbm.hidden.name)
            return {}
        betas = None if args.ais_betas is None else np.linspace(0.0, 1.0, args.ais_betas)
        start = time.perf_counter()
        result = ais_log_partition(rbm, n_runs=args.ais_runs, betas=betas,
                                   data=X, random_state=args.seed)
        log_z = result.log_z
        out.update(log_z_method=f"ais ({result.n_runs} runs, {result.n_betas} betas)",
                   log_z_low=result.log_z_low, log_z_high=result.log_z_high)
    out["log_z"] = float(log_z)
    with torch.no_grad():
        out["log_likelihood"] = float(log_likelihood(rbm, X, log_z).mean())
    out["log_z_seconds"] = time.perf_counter() - start
    return out


def _metrics(model, data: Data, args=None) -> dict[str, Any]:
    """What ``evaluate`` (and ``train``'s summary) reports for a model on data."""
    X, y = data.X, data.y
    name = type(model).__name__
    out: dict[str, Any] = {"n_samples": len(X)}
    if name == "GenerativeDBN":
        out["reconstruction_error"] = _reconstruction_error(model, X)
        if not hasattr(model, "classes_") or y is None:
            return out  # trained without labels, or no labels to compare with
    if name in CLASSIFIERS:
        if y is None:
            raise CommandError(f"{data.name} has no labels; evaluating a classifier needs them.")
        from sklearn.metrics import log_loss

        proba = model.predict_proba(X)
        predicted = model.classes_[proba.argmax(1)]
        accuracy = float(np.mean(predicted == _labels_like(y, model.classes_)))
        out.update(accuracy=accuracy, error_rate=1.0 - accuracy)
        known = np.isin(_labels_like(y, model.classes_), model.classes_)
        if known.all():
            out["log_loss"] = float(log_loss(_labels_like(y, model.classes_), proba,
                                              labels=model.classes_))
    elif name == "DBNRegressor":
        if y is None:
            raise CommandError(f"{data.name} has no targets; evaluating a regressor needs them.")
        from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

        y = np.asarray(y, dtype=np.float64)
        predicted = model.predict(X)
        out.update(r2=float(r2_score(y, predicted)),
                   mse=float(mean_squared_error(y, predicted)),
                   mae=float(mean_absolute_error(y, predicted)))
    else:
        out["reconstruction_error"] = _reconstruction_error(model, X)
        if name == "RBM":
            if model.visible_units == "bernoulli":
                out["pseudo_log_likelihood"] = float(model.score_samples(X).mean())
            out["free_energy"] = float(model.free_energy(X).mean())
            if args is not None and args.log_likelihood != "none":
                out.update(_log_likelihood(model, X, args))
    return out


def _labels_like(y: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Labels read from a file as the classes' type (CSV digits are int, '3' is str...)."""
    if classes.dtype.kind in "iu" and y.dtype.kind == "f" and np.all(y == np.round(y)):
        return y.astype(classes.dtype)
    if classes.dtype.kind in "US" and y.dtype.kind not in "US":
        return y.astype(str)
    return y


def _format_value(value) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1e4 else f"{value:.6g}"
    return str(value)


# -- train -------------------------------------------------------------------------------------
#: option -> estimator parameter, per group of kinds ('supervised': classifier, regressor;
#: 'dbn': every DBN; 'rbm').
_TRAIN_PARAMS: dict[str, dict[str, str]] = {
    "layers": {"dbn": "hidden_layer_sizes", "generative": "hidden_layer_sizes",
               "rbm": "n_components"},
    "visible_units": {"dbn": "visible_units", "rbm": "visible_units"},
    "hidden_units": {"dbn": "hidden_units", "rbm": "hidden_units"},
    "pretrain_epochs": {"dbn": "pretrain_epochs", "generative": "pretrain_epochs"},
    "pretrain_learning_rate": {"dbn": "pretrain_learning_rate",
                               "generative": "pretrain_learning_rate"},
    "epochs": {"supervised": "max_iter", "generative": "updown_epochs", "rbm": "n_iter"},
    "learning_rate": {"supervised": "learning_rate_init", "generative": "updown_learning_rate",
                      "rbm": "learning_rate"},
    "batch_size": {"dbn": "batch_size", "generative": "batch_size", "rbm": "batch_size"},
    "solver": {"supervised": "solver"},
    "dropout": {"supervised": "dropout"},
    "method": {"dbn": "pretrain_method", "generative": "pretrain_method", "rbm": "method"},
    "k": {"dbn": "k", "generative": "k", "rbm": "k"},
    "early_stopping": {"supervised": "early_stopping"},
    "validation_fraction": {"supervised": "validation_fraction"},
    "seed": {"dbn": "random_state", "generative": "random_state", "rbm": "random_state"},
    "device": {"dbn": "device", "generative": "device", "rbm": "device"},
}
_WHY_NOT = {
    ("transformer", "epochs"): "a transformer has no fine-tuning; use --pretrain-epochs",
    ("transformer", "learning_rate"): "a transformer has no fine-tuning; use "
                                      "--pretrain-learning-rate",
    ("rbm", "pretrain_epochs"): "an RBM has one layer; use --epochs",
    ("generative", "visible_units"): "its units are Bernoulli",
    ("generative", "hidden_units"): "its units are Bernoulli",
    ("rbm", "pretrain_learning_rate"): "an RBM has one layer; use --learning-rate",
}


def _groups(kind: str) -> tuple[str, ...]:
    if kind in ("rbm", "generative"):
        return (kind,)
    return ("dbn", "supervised") if kind in ("classifier", "regressor") else ("dbn",)


def _estimator_params(args) -> tuple[type, dict[str, Any]]:
    from deepbelief import estimators

    kind = args.kind
    cls = getattr(estimators, KINDS[kind])
    groups = _groups(kind)
    params: dict[str, Any] = {"random_state": 0}
    for option, targets in _TRAIN_PARAMS.items():
        value = getattr(args, option)
        if value is None or (option == "early_stopping" and value is False):
            continue
        target = next((targets[g] for g in groups if g in targets), None)
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
    valid = cls().get_params()
    for key, value in args.set or []:
        if key not in valid:
            raise UsageError(f"--set {key}: {cls.__name__} has no parameter {key!r} (it has "
                             f"{', '.join(sorted(valid))}).", "deepbelief train")
        params[key] = tuple(value) if isinstance(value, list) else value
    return cls, params


def _check_params(cls, params: dict) -> None:
    """Bad option values are usage errors: check them before any data is loaded."""
    from deepbelief.estimators._base import resolve_device

    try:
        model = cls(**params)
        model._validate_params()
        if hasattr(model, "_rbm_configs"):
            model._rbm_configs()
        resolve_device(model.device)
    except (ValueError, TypeError) as exc:
        raise UsageError(one_line(exc), "deepbelief train") from None


def _progress_callbacks(args) -> list:
    from deepbelief.training.callbacks import ProgressBar

    return [ProgressBar(verbose=0 if args.quiet else 1, sink=log.info)]


def run_train(args) -> int:
    if args.kind in LATER_KINDS:
        raise UsageError(f"--kind {args.kind} is not available yet in this version (available: "
                         f"{', '.join(KINDS)}).", "deepbelief train")
    cls, params = _estimator_params(args)
    _check_params(cls, params)
    supervised = args.kind in ("classifier", "regressor")
    data = _data_from_args(args, default_split="train", want_labels=supervised)
    if args.kind == "generative" and data.y is not None:
        supervised = True  # labels join the top RBM; without them the model is unsupervised
    if supervised and data.y is None:
        raise CommandError(f"{data.name} has no labels, which --kind {args.kind} needs: use "
                           "a .npz file with arrays X and y, or a .csv file with a label "
                           "column.")
    X, y = data.X, data.y
    callbacks = _progress_callbacks(args)
    if args.free_energy_gap:
        from sklearn.model_selection import train_test_split

        from deepbelief.training.callbacks import FreeEnergyGap

        if y is None:
            X, X_valid = train_test_split(X, test_size=args.free_energy_gap, random_state=0)
        else:
            X, X_valid, y, _ = train_test_split(X, y, test_size=args.free_energy_gap,
                                                random_state=0)
        callbacks.append(FreeEnergyGap(X_valid))
        log.info("held out %d samples to monitor the free-energy gap", len(X_valid))
    model = cls(**params, callbacks=callbacks)
    log.info("training %s on %s", cls.__name__, data.name)
    start = time.perf_counter()
    if args.resume and not args.checkpoint:
        raise UsageError("--resume needs --checkpoint PATH.", "deepbelief train")
    resumable = {"checkpoint": args.checkpoint, "checkpoint_every": args.checkpoint_every,
                 "resume": args.resume}
    if args.kind == "generative":
        if args.checkpoint:
            raise UsageError("--checkpoint is not available for --kind generative in this "
                             "version.", "deepbelief train")
        resumable = {}
    model.fit(X, **resumable) if not supervised else model.fit(X, y, **resumable)
    seconds = time.perf_counter() - start
    model.set_params(callbacks=None)  # the progress bar is not part of the model
    output = Path(args.output)
    model.save(output)
    history = None
    if not args.no_history:
        history = Path(args.history) if args.history else output.with_suffix(".history.json")
        write_history(model, history)
    _print_train_summary(model, data, args, X, y, seconds, output, history)
    return EXIT_OK


def _phase_line(records: list[dict], key: str) -> str:
    if not records:
        return "0 epochs"
    seconds = sum(r.get("time", 0.0) for r in records)
    text = f"{len(records)} epoch{'s' * (len(records) != 1)}"
    if key in records[0]:
        text += f", {key.replace('_', ' ')} {records[0][key]:.4g} -> {records[-1][key]:.4g}"
    return text + f" ({seconds:.2f} s)"


def _print_train_summary(model, data, args, X, y, seconds, output, history) -> None:
    name = type(model).__name__
    out = sys.stdout
    print(f"deepbelief train: {name} {_architecture(model)}, {_n_parameters(model):,} "
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
    else:
        print(f"  training: {_phase_line(model.history_, 'reconstruction_error')}", file=out)
    print(f"  total time: {seconds:.2f} s", file=out)
    parts = [("train", Data(X, y, data.name))]
    if args.data in DATASETS and (args.split or "train") == "train":
        try:
            parts.append(("test", load_data(args.data, split="test", data_dir=args.data_dir,
                                            limit=args.limit)))
        except CommandError as exc:
            log.warning("no test score: %s", exc)
    for label, part in parts:
        metrics = _metrics(model, part)
        shown = [(k, v) for k, v in metrics.items()
                 if k in ("accuracy", "r2", "reconstruction_error", "pseudo_log_likelihood")]
        text = ", ".join(f"{k.replace('_', ' ')} {_format_value(v)}" for k, v in shown)
        print(f"  {label}: {text} ({metrics['n_samples']} samples)", file=out)
    print(f"  model: {output}", file=out)
    if history is not None:
        print(f"  history: {history}", file=out)


# -- evaluate / predict / transform ------------------------------------------------------------
def run_evaluate(args) -> int:
    model = _load_model(args.model, args.device)
    name = type(model).__name__
    data = _data_from_args(args, default_split="test", n_features=model.n_features_in_,
                           want_labels=name in ("DBNClassifier", "DBNRegressor"))
    metrics = {"model": name, "data": data.name, **_metrics(model, data, args)}
    if args.json:
        finite = {k: None if isinstance(v, float) and not math.isfinite(v) else v
                  for k, v in metrics.items()}
        print(json.dumps(finite, indent=1))
    else:
        width = max(len(k) for k in metrics)
        for key, value in metrics.items():
            print(f"{key.replace('_', ' ') + ':':<{width + 2}}{_format_value(value)}")
    return EXIT_OK


def run_predict(args) -> int:
    model = _load_model(args.model, args.device)
    _require(model, args.model, "predict", (*CLASSIFIERS, "DBNRegressor"),
             "; use 'deepbelief transform' for the features of other models")
    if type(model).__name__ == "GenerativeDBN" and not hasattr(model, "classes_"):
        raise CommandError(f"{args.model} holds a GenerativeDBN trained without labels: it "
                           "cannot classify.")
    data = _data_from_args(args, default_split="test", n_features=model.n_features_in_)
    if args.proba and type(model).__name__ not in CLASSIFIERS:
        raise UsageError("--proba needs a classifier.", "deepbelief predict")
    if type(model).__name__ in CLASSIFIERS:
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


def run_transform(args) -> int:
    model = _load_model(args.model, args.device)
    data = _data_from_args(args, default_split="test", n_features=model.n_features_in_)
    features = _features(model, data.X)
    if args.output and Path(args.output).suffix.lower() == ".npy":
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        np.save(args.output, features)
        log.info("wrote %s", args.output)
    else:
        write_table(args.output, [f"feature_{i}" for i in range(features.shape[1])],
                     [[f"{v:.6g}" for v in row] for row in features])
    return EXIT_OK


# -- pictures ----------------------------------------------------------------------------------
def _features(model, X: np.ndarray) -> np.ndarray:
    """A model's features: ``transform``, or the top hidden layer of a fine-tuned network."""
    if hasattr(model, "transform"):
        return model.transform(X)
    import torch

    with torch.no_grad():
        x = torch.as_tensor(X, device=model.rbms_[0].weight.device)
        return model.network_.features(x).cpu().numpy()


def _draw_samples(model, args) -> np.ndarray:
    name = type(model).__name__
    _require(model, args.model, "sample", ("RBM", "DBNTransformer", "GenerativeDBN"))
    label = getattr(args, "label", None)
    if label is not None and name != "GenerativeDBN":
        raise UsageError("--label needs a GenerativeDBN (trained with labels).")
    warmup = getattr(args, "label_warmup", 0)
    if warmup and label is None:
        raise UsageError("--label-warmup needs --label.")
    if warmup > args.n_gibbs:
        raise UsageError(f"--label-warmup {warmup} counts within --n-gibbs {args.n_gibbs}: "
                         "it must not exceed it.")
    if name == "RBM":
        return model.sample(args.n_samples, args.n_gibbs, args.seed, mean=not args.binary)
    if name == "GenerativeDBN":
        y = None
        if label is not None:
            if not hasattr(model, "classes_"):
                raise CommandError(f"{args.model} was trained without labels: --label does "
                                   "not apply.")
            classes = model.classes_
            try:
                y = (np.asarray([label]).astype(classes.dtype)[0]
                     if classes.dtype.kind in "iuf" else label)
            except ValueError:
                y = label
            if y not in classes.tolist():
                raise UsageError(f"--label {label}: not a class of this model (classes: "
                                 f"{' '.join(str(c) for c in model.classes_)}).")
        return model.sample(args.n_samples, y=y, n_gibbs=args.n_gibbs,
                            random_state=args.seed, binary=args.binary, label_warmup=warmup)
    return model.sample(args.n_samples, args.n_gibbs, args.seed)


def run_sample(args) -> int:
    from deepbelief.plotting import plot_images

    model = _load_model(args.model, args.device)
    shape = _image_shape(args.image_shape, model.n_features_in_)
    samples = _draw_samples(model, args)
    if args.npy:
        np.save(args.npy, samples)
    path = plot_images(samples, args.output, image_shape=shape, n_cols=args.n_cols,
                       title=f"{len(samples)} samples after {args.n_gibbs} Gibbs steps")
    print(path)
    return EXIT_OK


def _mask(kind: str, fraction: float, shape: tuple[int, int], n: int, seed: int) -> np.ndarray:
    """True where a pixel is shown to the model."""
    height, width = shape
    rows, cols = np.mgrid[0:height, 0:width]
    hidden_rows = round(height * fraction)
    hidden_cols = round(width * fraction)
    if kind == "bottom":
        known = rows < height - hidden_rows
    elif kind == "top":
        known = rows >= hidden_rows
    elif kind == "left":
        known = cols >= hidden_cols
    elif kind == "right":
        known = cols < width - hidden_cols
    else:
        rng = np.random.default_rng(seed)
        return rng.random((n, height * width)) >= fraction
    return np.broadcast_to(known.ravel(), (n, height * width))


def run_complete(args) -> int:
    from deepbelief.plotting import plot_completions

    model = _load_model(args.model, args.device)
    _require(model, args.model, "complete", ("RBM", "GenerativeDBN"),
             " (image completion clamps the visible units of a generative model)")
    shape = _image_shape(args.image_shape, model.n_features_in_)
    data = _data_from_args(args, default_split="test", n_features=model.n_features_in_)
    X = data.X[: args.n_images]
    mask = _mask(args.mask, args.fraction, shape, len(X), args.seed)
    filled = model.complete(X, mask, n_iter=args.n_iter, random_state=args.seed)
    path = plot_completions(X, mask, filled, args.output, image_shape=shape,
                            n_cols=args.n_cols,
                            title=f"{args.mask} {args.fraction:.0%} hidden, {args.n_iter} "
                                  "Gibbs steps")
    print(path)
    return EXIT_OK


def run_plot(args) -> int:
    from deepbelief import plotting

    what = args.what
    output = args.output or f"{what}.png"
    if what == "curves":
        source = Path(args.model)
        if source.suffix.lower() in (".json", ".csv"):
            if not source.is_file():
                raise CommandError(f"history file not found: {source}")
            history = read_history(source)
        else:
            history = _load_model(args.model).history_
        print(plotting.plot_learning_curves(history, output, title=args.title))
        return EXIT_OK
    model = _load_model(args.model, args.device)
    name = type(model).__name__
    args.n = args.n or {"filters": 100, "samples": 30, "reconstructions": 20,
                        "predictions": 10}.get(what)
    shape = None
    if what in ("filters", "samples", "reconstructions", "predictions"):
        shape = _image_shape(args.image_shape, model.n_features_in_)
    if what == "filters":
        path = plotting.plot_filters(model, output, image_shape=shape, n_units=args.n,
                                     n_cols=args.n_cols, title=args.title or
                                     "receptive fields of the first hidden layer")
    elif what == "samples":
        args.n_samples = args.n
        samples = _draw_samples(model, args)
        path = plotting.plot_images(samples, output, image_shape=shape, n_cols=args.n_cols,
                                    title=args.title or f"samples ({args.n_gibbs} Gibbs steps)")
    else:
        want = what in ("predictions", "embedding")
        data = _data_from_args(args, default_split="test", n_features=model.n_features_in_,
                               want_labels=want and name in CLASSIFIERS)
        if what == "reconstructions":
            X = data.X[: args.n]
            recon = model.reconstruct(X) if hasattr(model, "reconstruct") \
                else _stack_reconstruct(model, X)
            path = plotting.plot_reconstructions(X, recon, output, image_shape=shape,
                                                 n_cols=args.n_cols or 10, title=args.title)
        elif what == "predictions":
            _require(model, args.model, "plot predictions", CLASSIFIERS)
            if data.y is None:
                raise CommandError(f"{data.name} has no labels to compare the predictions "
                                   "with.")
            X = data.X[: args.n]
            path = plotting.plot_predictions(X, data.y[: args.n], model.predict(X), output,
                                             image_shape=shape, n_cols=args.n_cols or 5)
        else:  # embedding
            X = data.X[: args.n_points]
            y = None if data.y is None else data.y[: args.n_points]
            path = plotting.plot_embedding(_features(model, X), y, output,
                                           method=args.method, random_state=args.seed,
                                           title=args.title or f"{name} features of "
                                                               f"{data.name}")
    print(path)
    return EXIT_OK


# -- inspect -----------------------------------------------------------------------------------
def _history_summary(history) -> dict[str, Any]:
    if isinstance(history, dict):
        out: dict[str, Any] = {"pretrain_epochs": [len(h) for h in history.get("pretrain", [])]}
        if history.get("updown"):
            out["updown_epochs"] = len(history["updown"])
            out["final"] = {k: v for k, v in history["updown"][-1].items()
                            if k not in ("epoch", "time")}
        if "finetune" in history:
            out["finetune_epochs"] = len(history["finetune"])
            if history["finetune"]:
                last = history["finetune"][-1]
                out["final"] = {k: v for k, v in last.items() if k not in ("epoch", "time")}
        return out
    return {"epochs": len(history),
            "final": {k: v for k, v in (history[-1] if history else {}).items()
                      if k not in ("epoch", "time")}}


def run_inspect(args) -> int:
    from deepbelief.io.modelfile import describe

    header = describe(args.model)
    model = _load_model(args.model, "cpu")
    params = {k: v for k, v in model.get_params().items() if k != "callbacks"}
    info: dict[str, Any] = {
        "file": args.model,
        "model_type": header["model_type"],
        "format_version": header["format_version"],
        "library_version": header["library_version"],
        "architecture": _architecture(model),
        "n_parameters": _n_parameters(model),
        "n_features_in": int(model.n_features_in_),
    }
    if hasattr(model, "classes_"):
        info["classes"] = [c.item() if hasattr(c, "item") else c for c in model.classes_]
    if hasattr(model, "n_outputs_"):
        info["n_outputs"] = int(model.n_outputs_)
    info["params"] = {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}
    info["history"] = _history_summary(model.history_)
    info["tensors"] = {k: v["shape"] for k, v in header["tensors"].items()}
    if args.json:
        print(json.dumps(info, indent=1, default=str))
        return EXIT_OK
    print(f"{info['file']}: {info['model_type']} (deepbelief model file, format "
          f"{info['format_version']}, written by deepbelief {info['library_version']})")
    print(f"  layers: {info['architecture']}")
    print(f"  parameters: {info['n_parameters']:,}")
    print(f"  input: {info['n_features_in']} features")
    if "classes" in info:
        print(f"  classes: {' '.join(str(c) for c in info['classes'])}")
    print("  training settings:")
    for key, value in info["params"].items():
        print(f"    {key} = {value!r}")
    summary = info["history"]
    print("  history: " + ", ".join(
        f"{k.replace('_', ' ')} {_format_value(v) if not isinstance(v, dict) else ''}".strip()
        for k, v in summary.items() if k != "final"))
    for key, value in summary.get("final", {}).items():
        print(f"    last {key.replace('_', ' ')}: {_format_value(value)}")
    return EXIT_OK


# -- demo --------------------------------------------------------------------------------------
def run_demo(args) -> int:
    from deepbelief.demo import main as demo_main

    return demo_main(args.seed, args.output, args.device)
