"""Super-resolution and denoising of MNIST digits with a conditional RBM.

Three tasks, each a model of the 28x28 image ``y`` given a context ``X``:

* ``14x14 -> 28x28``: ``X`` is the image averaged over 2x2 blocks;
* ``7x7 -> 28x28``: ``X`` is the image averaged over 4x4 blocks;
* ``denoise``: ``X`` is the image plus Gaussian noise (standard deviation 0.5), clipped to
  [0, 1], drawn with a fixed seed.

Each task compares, on the test images, the mean squared error per pixel and the PSNR
(``10 log10(1 / MSE)``, pixels in [0, 1]) of

* ``ConditionalRBM`` (:data:`RECIPE`, with the task's learning rate from
  :data:`LEARNING_RATES`; ``predict``'s ``n_gibbs`` mean-field iterations chosen on the
  validation split from :data:`N_GIBBS`);
* bicubic upsampling (``scipy.ndimage.zoom(order=3, grid_mode=True,
  mode='grid-constant')`` of the block averages, which puts each low-resolution pixel at the
  centre of its block, clipped to [0, 1]); for denoising, a Gaussian blur of the noisy
  image (``scipy.ndimage.gaussian_filter``, its width chosen on the validation split);
* ridge regression (``sklearn.linear_model.Ridge``) from the context to the 784 pixels,
  ``alpha`` chosen on the validation split, clipped to [0, 1].

The last ``--validation`` images of the first ``--train`` training images are the
validation split; the models are trained on the rest. Nothing is chosen on the test set.

    python benchmarks/superres.py [--train 60000] [--validation 5000] [--test 10000]
        [--epochs 10] [--quick] [--threads N] [--gallery docs/gallery]

With ``--gallery DIR`` it draws ten test digits of each task beside the baselines and the
truth (``DIR/superres.png``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from _common import (
    load_mnist,
    parse_args,
    print_machine_info,
    print_table,
    quick_banner,
    timer,
    write_json,
)
from scipy import ndimage
from sklearn.linear_model import Ridge

from deepbelief import ConditionalRBM
from deepbelief.plotting.mosaic import mosaic_rgb, show_rgb

#: The conditional RBM's settings (found on validation splits, see BENCHMARKS.md); the
#: epochs come from --epochs. ``context_clip``: the block averages' border pixels are all but
#: constant in training, and a rare inked one (up to 122 standard deviations) speckled the
#: whole prediction; clipped at 5, the 14x14 task's validation MSE fell from 0.0047 to 0.0035.
RECIPE: dict[str, Any] = {"n_components": 512, "k": 3, "batch_size": 10, "context_clip": 5.0,
                          "random_state": 0}
#: The learning rate of each task: denoising (784 noisy inputs) wants a smaller step.
LEARNING_RATES = {"14x14 -> 28x28": 0.1, "7x7 -> 28x28": 0.1, "denoise": 0.01}
#: predict's mean-field iterations tried on the validation split.
N_GIBBS = (1, 2, 3, 5, 8, 12)
RIDGE_ALPHAS = (0.01, 0.1, 1.0, 10.0, 100.0, 300.0, 1000.0)
BLUR_SIGMAS = (0.5, 0.75, 1.0, 1.5)
NOISE_STD = 0.5
TASKS = ("14x14 -> 28x28", "7x7 -> 28x28", "denoise")
QUICK = {"train": 5000, "validation": 1000, "test": 2000, "epochs": 5}


def block_average(images: np.ndarray, factor: int) -> np.ndarray:
    """28x28 images (flattened) averaged over ``factor`` x ``factor`` blocks, flattened."""
    side = 28 // factor
    return images.reshape(len(images), side, factor, side, factor).mean((2, 4)).reshape(
        len(images), -1)


def bicubic(low: np.ndarray, factor: int) -> np.ndarray:
    """Bicubic upsampling of flattened square images by ``factor``, clipped to [0, 1]."""
    side = math.isqrt(low.shape[1])
    up = [ndimage.zoom(image.reshape(side, side), factor, order=3, grid_mode=True,
                       mode="grid-constant") for image in low]
    return np.clip(np.stack(up).reshape(len(low), -1), 0.0, 1.0)


def blur(noisy: np.ndarray, sigma: float) -> np.ndarray:
    return np.stack([ndimage.gaussian_filter(image.reshape(28, 28), sigma).ravel()
                     for image in noisy])


def mse(prediction: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean((prediction - truth) ** 2))


def psnr(error: float) -> float:
    return 10.0 * math.log10(1.0 / error)


def contexts(task: str, images: np.ndarray, seed: int) -> np.ndarray:
    """The context of each image for ``task`` (noise drawn from ``seed``)."""
    if task == "denoise":
        noise = np.random.default_rng(seed).normal(0.0, NOISE_STD, images.shape)
        return np.clip(images + noise, 0.0, 1.0).astype(np.float32)
    return block_average(images, 2 if task.startswith("14") else 4)


def best(options, error_of) -> tuple[Any, float]:
    """The option of least validation error, and that error."""
    errors = {option: error_of(option) for option in options}
    choice = min(errors, key=errors.get)
    return choice, errors[choice]


def classic_baseline(task: str, X_val, y_val, X_test):
    """Bicubic upsampling, or for denoising a Gaussian blur of validated width."""
    if task != "denoise":
        factor = 28 // math.isqrt(X_val.shape[1])
        return "bicubic", bicubic(X_test, factor)
    sigma, _ = best(BLUR_SIGMAS, lambda s: mse(np.clip(blur(X_val, s), 0, 1), y_val))
    return f"Gaussian blur (sigma {sigma})", np.clip(blur(X_test, sigma), 0, 1)


def run_task(task: str, y_train, y_val, y_test, epochs: int, device: str) -> dict:
    X_train, X_val, X_test = (contexts(task, y, seed) for y, seed in
                              ((y_train, 1), (y_val, 2), (y_test, 3)))
    rows = {}
    name, classic = classic_baseline(task, X_val, y_val, X_test)
    rows[name] = classic
    alpha, _ = best(RIDGE_ALPHAS, lambda a: mse(
        Ridge(alpha=a).fit(X_train, y_train).predict(X_val).clip(0, 1), y_val))
    rows[f"ridge (alpha {alpha:g})"] = Ridge(alpha=alpha).fit(X_train, y_train).predict(
        X_test).clip(0, 1)
    model = ConditionalRBM(**RECIPE, learning_rate=LEARNING_RATES[task], n_iter=epochs,
                           device=device)
    with timer(device) as t:
        model.fit(X_train, y_train)
    n_gibbs, _ = best(N_GIBBS, lambda n: mse(model.set_params(n_gibbs=n).predict(X_val), y_val))
    model.set_params(n_gibbs=n_gibbs)
    iterations = f"{n_gibbs} iteration{'s' if n_gibbs > 1 else ''}"
    rows[f"ConditionalRBM (mean field, {iterations})"] = model.predict(X_test)
    return {"context": X_test, "predictions": rows, "fit_s": t.seconds,
            "errors": {row: mse(p, y_test) for row, p in rows.items()}}


def save_gallery(folder: str, y_test: np.ndarray, results: dict, n: int = 10) -> Path:
    """Ten test digits: per task the context (drawn at 28x28), each method, then the truth."""
    groups, names = [], []
    for task, result in results.items():
        context = result["context"][:n]
        side = math.isqrt(context.shape[1])
        factor = 28 // side
        groups.append(context.reshape(n, side, 1, side, 1).repeat(factor, 2).repeat(factor, 4)
                      .reshape(n, -1))
        names.append(task.split(" ->")[0] if factor > 1 else "noisy")
        for row, prediction in result["predictions"].items():
            groups.append(prediction[:n])
            names.append(row.split(" (")[0])
    groups.append(y_test[:n])
    names.append("truth")
    rgb = mosaic_rgb(np.concatenate(groups), (28, 28), n, "gray_r", 0.0, 1.0)
    labels = [(1 + i * 29 + 13.5, name) for i, name in enumerate(names)]
    return show_rgb(rgb, Path(folder) / "superres.png",
                    "super-resolution and denoising of MNIST test digits", labels,
                    target_pixels=900)


def main() -> int:
    def options(parser) -> None:
        parser.add_argument("--train", type=int, default=60000,
                            help="training images read, validation included")
        parser.add_argument("--validation", type=int, default=5000)
        parser.add_argument("--test", type=int, default=10000)
        parser.add_argument("--epochs", type=int, default=10)
        parser.add_argument("--gallery", metavar="DIR", default=None,
                            help="write DIR/superres.png")

    args = parse_args(__doc__.splitlines()[0], options)
    if args.quick:
        for key, value in QUICK.items():
            setattr(args, key, value)
    machine = print_machine_info()
    quick_banner(args)
    images, _ = load_mnist("train", args.train)
    y_train, y_val = images[: -args.validation], images[-args.validation :]
    y_test, _ = load_mnist("test", args.test)
    print(f"\n{len(y_train)} training, {len(y_val)} validation, {len(y_test)} test images; "
          f"ConditionalRBM {RECIPE}, learning rates {LEARNING_RATES}, {args.epochs} epochs")
    results = {task: run_task(task, y_train, y_val, y_test, args.epochs, args.device)
               for task in TASKS}
    table = [(task, row, f"{error:.5f}", f"{psnr(error):.2f}")
             for task, result in results.items() for row, error in result["errors"].items()]
    print_table("Test mean squared error per pixel and PSNR (dB)" +
                (" [--quick]" if args.quick else ""), ("task", "method", "MSE", "PSNR"), table)
    print_table("ConditionalRBM fit time", ("task", "seconds"),
                [(task, result["fit_s"]) for task, result in results.items()])
    if args.gallery:
        print(f"\nwrote {save_gallery(args.gallery, y_test, results)}")
    write_json(args.json, "superres", args, machine,
               {task: {"errors": r["errors"], "fit_s": r["fit_s"]} for task, r in results.items()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
