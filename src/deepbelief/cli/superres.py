"""``deepbelief train --kind superres`` and ``deepbelief predict`` of its models: a
:class:`~deepbelief.ConditionalRBM` of images given their low-resolution version.

``train`` builds (low-resolution, image) pairs from an image data set: the context is the
image with ``--factor x --factor`` blocks of pixels averaged
(:func:`deepbelief.datasets.downsample`). ``predict`` takes images of the high resolution
(it downsamples them and compares its estimates with them and with bicubic upsampling) or
of the low one (it only estimates).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np

from deepbelief.cli.errors import EXIT_OK, CommandError, UsageError
from deepbelief.cli.io import data_from_args, load_data, prepare_outputs, write_table
from deepbelief.cli.provenance import training_record
from deepbelief.cli.sequences import fit_and_save, print_training
from deepbelief.datasets import downsample, upsample_bicubic

__all__ = ["run_predict", "train_superres"]

log = logging.getLogger("deepbelief")

#: ``--factor`` when not given.
DEFAULT_FACTOR = 2


def _square(n_pixels: int, what: str) -> int:
    side = math.isqrt(n_pixels)
    if side * side != n_pixels:
        raise CommandError(f"{what} has {n_pixels} pixels per image, not a square image; "
                           "super-resolution needs square images.")
    return side


def _scores(truth: np.ndarray, estimate: np.ndarray) -> str:
    """``MSE 0.0123, PSNR 19.1 dB`` per pixel, for images in [0, 1]."""
    mse = float(np.mean((truth - estimate) ** 2))
    return f"MSE {mse:.4g}, PSNR {10 * math.log10(1 / mse) if mse > 0 else math.inf:.2f} dB"


def train_superres(args, cls, params: dict, history: Path | None) -> int:
    """``train --kind superres``: a ConditionalRBM of ``--data``'s images given their
    low-resolution versions."""
    if args.scale != "none":
        raise UsageError("--scale does not apply to --kind superres (the model standardises "
                         "its low-resolution input itself).", "deepbelief train")
    if args.free_energy_gap is not None:
        raise UsageError("--free-energy-gap does not apply to --kind superres.",
                         "deepbelief train")
    factor = args.factor or DEFAULT_FACTOR
    data = data_from_args(args, default_split="train")
    side = _square(data.X.shape[1], data.name)
    if side % factor:
        raise CommandError(f"--factor {factor} does not divide the {side}x{side} images of "
                           f"{data.name}.")
    context = downsample(data.X, factor).astype(np.float32)
    metadata = {**training_record(args, data),
                "superres": {"factor": factor, "image_shape": [side, side]}}
    model, seconds, resumed = fit_and_save(args, cls, params, history, (context, data.X),
                                           metadata)
    results = [f"train: {_comparison(model, context, data.X, factor)}"]
    if args.data in ("digits", "mnist", "fashion-mnist") and (args.split or "train") == "train":
        test = load_data(args.data, split="test", data_dir=args.data_dir, limit=args.limit)
        results.append(f"test: {_comparison(model, downsample(test.X, factor), test.X, factor)}")
    low = side // factor
    print_training(model, f"{data.name}, {len(data.X)} images, {low}x{low} -> {side}x{side}",
                   args, seconds, resumed, history, results)
    return EXIT_OK


def _comparison(model, context: np.ndarray, truth: np.ndarray, factor: int) -> str:
    estimate = model.predict(context)
    bicubic = upsample_bicubic(context, factor)
    return f"model {_scores(truth, estimate)}; bicubic {_scores(truth, bicubic)}"


def _model_type(path: str) -> str | None:
    from deepbelief.exceptions import ModelFileError
    from deepbelief.io.modelfile import describe

    try:
        return describe(path)["model_type"]
    except (OSError, ModelFileError):
        return None  # inference's predict says what is wrong with the file


def run_predict(args) -> int:
    """``deepbelief predict``: a super-resolution model's images, else inference's predict."""
    if _model_type(args.model) != "ConditionalRBM":
        if args.picture is not None:
            raise UsageError("--picture applies to super-resolution models (train --kind "
                             "superres).", "deepbelief predict")
        from deepbelief.cli.inference import run_predict as predict

        return predict(args)
    from deepbelief.cli.conditional_data import conditional_data  # as evaluate reads them
    from deepbelief.cli.models import load_model

    if args.proba:
        raise UsageError("--proba needs a classifier.", "deepbelief predict")
    output = Path(args.output) if args.output not in (None, "-") else None
    prepare_outputs("deepbelief predict", {"-o": output, "--picture": args.picture})
    model = load_model(args.model, args.device)
    pairs = conditional_data(args, model)
    context, truth, factor = pairs.context, pairs.truth, pairs.factor
    predicted = np.asarray(model.predict(context))
    _write_predictions(output, predicted)
    if truth is not None and factor:
        log.info("model %s", _scores(truth, predicted))
        log.info("bicubic %s", _scores(truth, upsample_bicubic(context, factor)))
    if args.picture:
        _draw(args.picture, context, predicted, truth, factor)
    return EXIT_OK


def _write_predictions(output: Path | None, predicted: np.ndarray) -> None:
    suffix = output.suffix.lower() if output is not None else ""
    if suffix == ".npy":
        np.save(output, predicted)
    elif suffix == ".npz":
        np.savez(output, X=predicted)
    else:  # CSV, to the file or stdout (write_table says where it wrote)
        write_table(None if output is None else str(output),
                    [f"prediction_{i}" for i in range(predicted.shape[1])],
                    [[f"{v:.6g}" for v in row] for row in predicted])
        return
    log.info("wrote %s", output)


def _draw(path: str, context, predicted, truth, factor: int | None, n: int = 10) -> None:
    from deepbelief.plotting import plot_superresolution

    rows = {"conditional RBM": predicted[:n]}
    if factor:
        rows = {"bicubic": upsample_bicubic(context[:n], factor), **rows}
    plot_superresolution(context[:n], rows, None if truth is None else truth[:n], path)
