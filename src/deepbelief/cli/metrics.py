"""What ``deepbelief evaluate`` (and ``train``'s summary) reports for a model on data.

Classifiers: accuracy, error rate and log-loss; regressors: R², MSE, MAE; RBMs: the
reconstruction error, pseudo-log-likelihood, free energy and the log-likelihood (log Z
exact for a small binary layer, else by AIS); sequence models: the one-step prediction
error and that of copying the last frame; super-resolution models: MSE and PSNR against
the truth and bicubic upsampling's; other models: the reconstruction error.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import numpy as np

from deepbelief.cli.conditional_data import ConditionalData
from deepbelief.cli.io import CommandError, Data
from deepbelief.cli.models import CLASSIFIERS, reconstruct
from deepbelief.estimators import RBM, DBNRegressor, GenerativeDBN
from deepbelief.estimators._input_scaling import InputScaling

log = logging.getLogger("deepbelief")


def history_units(model) -> str:
    """The units of the errors and losses in ``model.history_``: 'standardised' when the
    model standardises its input inside (``visible_units='auto'`` on data outside [0, 1]:
    it trains on standardised data), else 'data' (those of ``evaluate`` and ``score``)."""
    return "standardised" if getattr(model, "input_mean_", None) is not None else "data"


#: What ``train`` and ``inspect`` say of the units of a history in standardised units.
STANDARDISED_HISTORY = "standardised, as the model trains (it standardises its input inside)"


def reconstruction_error(model, X: np.ndarray) -> float:
    """Mean over samples of the summed squared error of the up-down mean-field pass."""
    return float(((X - reconstruct(model, X)) ** 2).sum(1).mean())


def rbm_log_likelihood(model, X: np.ndarray, args) -> dict[str, Any]:
    """Mean log p(v) of an RBM: exact enumeration when small, AIS otherwise, with the
    conservative reverse-AIS estimate beside it (:func:`conservative_log_likelihood`); in
    the data's units when the model standardises its input (the Jacobian added)."""
    import torch

    from deepbelief.evaluation import ais_log_partition, exact_log_partition, log_likelihood

    rbm, scaling = model.rbm_, InputScaling.of(model)
    X = scaling.apply(X)  # what the model reads
    binary = [n for n, layer in ((rbm.n_visible, rbm.visible), (rbm.n_hidden, rbm.hidden))
              if layer.binary]
    method = args.log_likelihood
    if method == "auto":
        method = "exact" if binary and min(binary) <= args.exact_max_units else "ais"
    out: dict[str, Any] = {}
    if method == "exact":
        start = time.perf_counter()
        log_z = exact_log_partition(rbm)
        out["log_z_method"] = "exact"
    else:
        if not rbm.hidden.binary:
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
    if method == "ais" and args.raise_samples:
        out.update(conservative_log_likelihood(rbm, X, log_z, betas, args))
    for key in ("log_likelihood", "raise_log_likelihood", "ais_log_likelihood_same_samples"):
        if key in out:  # a density of the standardised rows -> of the data's rows
            out[key] += scaling.log_jacobian
    return out


def conservative_log_likelihood(rbm, X: np.ndarray, log_z: float, betas, args) -> dict[str, Any]:
    """RAISE (reverse AIS, which errs low) on the first ``--raise-samples`` rows, beside the
    AIS log-likelihood (which errs high) of the same rows; nothing for data that are not
    states of the visible units (grey levels for Bernoulli units)."""
    from deepbelief.evaluation import log_likelihood, raise_log_likelihood

    rows = X[: args.raise_samples]
    if math.isfinite(rbm.visible.n_states(rbm.n_visible)) and not np.isin(rows, (0, 1)).all():
        log.info("no conservative (reverse AIS) log-likelihood: it scores states of the "
                 "visible units, and the data are not binary; binarise them to get it.")
        return {}
    start = time.perf_counter()
    result = raise_log_likelihood(rbm, rows, n_runs=args.raise_runs, betas=betas, data=X,
                                  random_state=args.seed)
    out: dict[str, Any] = {
        "raise_method": f"reverse ais ({len(rows)} samples x {result.n_runs} runs, "
                        f"{result.n_betas} betas)",
        "raise_log_likelihood": result.mean}
    if len(rows) < len(X):
        out["ais_log_likelihood_same_samples"] = float(log_likelihood(rbm, rows, log_z).mean())
    out["raise_seconds"] = time.perf_counter() - start
    return out


def model_metrics(model, data: Data, args=None) -> dict[str, Any]:
    """What ``evaluate`` (and ``train``'s summary) reports for a model on data."""
    X, y = data.X, data.y
    out: dict[str, Any] = {"n_samples": len(X)}
    if isinstance(model, GenerativeDBN):
        out["reconstruction_error"] = reconstruction_error(model, X)
        if not hasattr(model, "classes_") or y is None:
            return out  # trained without labels, or no labels to compare with
    if isinstance(model, CLASSIFIERS):
        if y is None:
            raise CommandError(f"{data.name} has no labels; evaluating a classifier needs them.")
        from sklearn.metrics import log_loss

        y = labels_like(y, model.classes_)
        known = np.isin(y, model.classes_)
        if not known.any():  # e.g. 0/1 against a model trained on 'neg'/'pos'
            raise CommandError(
                f"none of the labels of {data.name} ({_some(np.unique(y))}) is one of the "
                f"model's classes ({_some(model.classes_)}): give data labelled as the "
                "training data was (or --label-column, if another column holds the labels).")
        proba = model.predict_proba(X)
        predicted = model.classes_[proba.argmax(1)]
        accuracy = float(np.mean(predicted == y))
        out.update(accuracy=accuracy, error_rate=1.0 - accuracy)
        if not known.all():
            log.warning("%d of the %d rows of %s have labels the model was not trained on "
                        "(%s): counted as errors; no log loss.", int((~known).sum()),
                        len(known), data.name, _some(np.unique(y[~known])))
        else:
            out["log_loss"] = float(log_loss(y, proba, labels=model.classes_))
    elif isinstance(model, DBNRegressor):
        out.update(regression_scores(model, X, y, data.name))
    else:
        out["reconstruction_error"] = reconstruction_error(model, X)
        if isinstance(model, RBM):
            if model.rbm_.visible.binary:
                out["pseudo_log_likelihood"] = float(model.score_samples(X).mean())
            out["free_energy"] = float(model.free_energy(X).mean())
            if args is not None and args.log_likelihood != "none":
                out.update(rbm_log_likelihood(model, X, args))
    return out


def _some(values, limit: int = 5) -> str:
    """``'a', 'b', ...`` : the first ``limit`` values for a message."""
    shown = ", ".join(repr(v.item() if hasattr(v, "item") else v) for v in values[:limit])
    return shown + (f", ... ({len(values)} in all)" if len(values) > limit else "")


def regression_scores(model, X: np.ndarray, y: np.ndarray | None, name: str) -> dict[str, float]:
    """R², MSE and MAE of a regressor's predictions of ``y`` from ``X`` (data ``name``)."""
    if y is None:
        raise CommandError(f"{name} has no targets; evaluating a regressor needs them.")
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    y = np.asarray(y, dtype=np.float64)
    predicted = model.predict(X)
    return {"r2": float(r2_score(y, predicted)), "mse": float(mean_squared_error(y, predicted)),
            "mae": float(mean_absolute_error(y, predicted))}


def sequence_metrics(model, sequences: list[np.ndarray]) -> dict[str, Any]:
    """A sequence model's one-step prediction error per frame (squared, summed over
    channels: ``-SequenceCRBM.score``) beside that of copying the last frame, over every
    frame from ``receptive_field_`` on."""
    first = model.receptive_field_
    copy = np.concatenate([((s[first:] - s[first - 1:-1]) ** 2).sum(1) for s in sequences])
    return {"n_sequences": len(sequences), "n_predicted_frames": len(copy),
            "one_step_error": -float(model.score(sequences)),
            "copy_last_frame_error": float(copy.mean())}


def _psnr(mse: float) -> float:
    """Peak signal-to-noise ratio in dB of images in [0, 1]."""
    return 10 * math.log10(1 / mse) if mse > 0 else math.inf


def conditional_metrics(model, pairs: ConditionalData) -> dict[str, Any]:
    """A super-resolution model's MSE and PSNR per pixel against the true images, beside
    bicubic upsampling's; a regressor's scores for other conditional RBMs.

    Raises
    ------
    CommandError
        Images at the model's low resolution only (nothing to compare with: the message
        sends them to ``predict``), or no targets.
    """
    out: dict[str, Any] = {"n_samples": len(pairs.context)}
    if pairs.factor is None:  # a ConditionalRBM of other outputs, saved from Python
        return {**out, **regression_scores(model, pairs.context, pairs.data.y,
                                           pairs.data.name)}
    if pairs.truth is None:
        raise CommandError(f"{pairs.data.name} holds images at the model's low resolution "
                           f"only, with no truth to compare the estimates with: give 'deepbelief "
                           f"evaluate' the high-resolution images ({model.n_outputs_} pixels; it "
                           "downsamples them), or use 'deepbelief predict' for the images the "
                           "model estimates from these.")
    from deepbelief.datasets import upsample_bicubic

    mse = float(np.mean((pairs.truth - model.predict(pairs.context)) ** 2))
    bicubic = float(np.mean((pairs.truth - upsample_bicubic(pairs.context, pairs.factor)) ** 2))
    return {**out, "factor": pairs.factor, "mse": mse, "psnr": _psnr(mse),
            "bicubic_mse": bicubic, "bicubic_psnr": _psnr(bicubic)}


def labels_like(y: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Labels read from a file as the classes' type (CSV digits are int, '3' is str...)."""
    if classes.dtype.kind in "iu" and y.dtype.kind == "f" and np.all(y == np.round(y)):
        return y.astype(classes.dtype)
    if classes.dtype.kind in "US" and y.dtype.kind not in "US":
        return y.astype(str)
    return y


def format_value(value) -> str:
    """A metric for people: 4 decimals, or 6 significant digits when large."""
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1e4 else f"{value:.6g}"
    return str(value)
