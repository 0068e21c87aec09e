"""Samples of an MNIST RBM drawn from noise: plain Gibbs chains against parallel tempering.

A trained RBM's Gibbs chains started from noise "fall into a few modes": most samples are a
few digit classes. Parallel tempering (``RBM.sample(method='pt')``; Swendsen & Wang 1986,
Desjardins et al. 2010) runs replicas of every chain at lower inverse temperatures that
swap states with it and carry it between modes. Both samplers here draw the same number of
samples, with the same number of steps, from the same model in the same run; a classifier
trained on binarised MNIST judges every (binary) sample, and the histogram of its classes
and the entropy of that histogram as a fraction of log 10 (1: every digit equally often)
measure the modes covered (:func:`deepbelief.evaluation.sample_quality.class_coverage`).
The kernel MMD to test images (:func:`~deepbelief.evaluation.sample_quality.kernel_mmd`)
and the mean free energy of the samples (lower: more probable under the model) are
printed beside. PT's swap rates per neighbouring pair of temperatures and its round trips
are its mixing diagnostics. A PT step costs one Gibbs step per temperature.

PT samples the model's own distribution, which Gibbs chains from noise do not reach: where
the model puts most of its mass in a few modes (a spurious mode PCD's chains never
visited, so training never pushed it down), PT's histogram is the narrower one. So the
models are trained twice, by PCD-1 and by PT-PCD (``method='pt'``, whose negative chains
are PT's), and each is sampled both ways.

The RBMs: 784-500 on stochastically binarised MNIST (lr ``--learning-rate``, default 0.05,
linearly to 0, momentum 0.5 -> 0.9, weight decay 2e-4, batch 100), or a model file given
with ``--model`` (a saved ``RBM``; ``--save-model PREFIX`` writes PREFIX-pcd.safetensors,
...). The judge: a ``DBNClassifier`` (``--judge`` loads it from, or saves it to, a file).

    python benchmarks/pt_sampling.py [--quick] [--epochs 20] [--learning-rate 0.05]
        [--train pcd pt] [--samples 1000] [--steps 1000] [--temperatures 10]
        [--swap-target 0.3] [--model FILE] [--save-model PREFIX] [--judge FILE] [--json FILE]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from _common import (  # $DEEPBELIEF_DATA, else ../shared/data
    load_mnist,
    machine_info,
    parse_args,
    print_machine_info,
    print_table,
    quick_banner,
    write_json,
)

from deepbelief import RBM, DBNClassifier, load
from deepbelief.evaluation.sample_quality import class_coverage, kernel_mmd


def _options(parser) -> None:
    parser.add_argument("--epochs", type=int, default=20, help="RBM training epochs")
    parser.add_argument("--learning-rate", type=float, default=0.05,
                        help="RBM learning rate at the start, falling linearly to 0 (0.05)")
    parser.add_argument("--train", nargs="+", choices=["pcd", "pt"], default=["pcd", "pt"],
                        help="the learning rules of the models trained")
    parser.add_argument("--samples", type=int, default=1000, help="samples per sampler")
    parser.add_argument("--steps", type=int, default=1000,
                        help="Gibbs steps per chain (PT steps: one per temperature each)")
    parser.add_argument("--temperatures", type=int, default=10, help="PT replicas per chain")
    parser.add_argument("--swap-target", type=float, default=None,
                        help="adapt the PT ladder to this swap rate during burn-in")
    parser.add_argument("--model", default=None, help="load the RBM from this file")
    parser.add_argument("--save-model", default=None,
                        help="save the trained RBMs as PREFIX-<rule>.safetensors")
    parser.add_argument("--judge", default=None,
                        help="load the judging classifier from this file (or save it there)")


def _binarise(X: np.ndarray, seed: int) -> np.ndarray:
    return (np.random.default_rng(seed).random(X.shape) < X).astype(np.float32)


def _models(args, X: np.ndarray) -> dict:
    """The models to sample, by name."""
    if args.model:
        print(f"RBM loaded from {args.model}")
        return {"loaded": load(args.model, device=args.device)}
    models = {}
    for rule in args.train:
        start = time.perf_counter()
        models[rule] = RBM(500, method=rule, temperatures=args.temperatures, batch_size=100,
                           n_iter=args.epochs, learning_rate=args.learning_rate,
                           learning_rate_schedule="linear", momentum="classic",
                           weight_decay=2e-4, random_state=0, device=args.device).fit(X)
        print(f"RBM 784-500 by {rule.upper()}{'-PCD' if rule == 'pt' else '-1'}: "
              f"{args.epochs} epochs on {len(X)} images, {time.perf_counter() - start:.0f} s")
        if args.save_model:
            models[rule].save(f"{args.save_model}-{rule}.safetensors")
    return models


def _judge(args, X: np.ndarray, y: np.ndarray, X_test, y_test):
    start = time.perf_counter()
    if args.judge and Path(args.judge).exists():
        judge, how = load(args.judge, device=args.device), f"loaded from {args.judge}"
    else:
        judge = DBNClassifier((500,), pretrain_epochs=0, max_iter=3 if args.quick else 20,
                              batch_size=100, solver="sgd", learning_rate_init=0.1,
                              random_state=0, device=args.device).fit(X, y)
        how = "trained"
        if args.judge:
            judge.save(args.judge)
    accuracy = float((judge.predict(X_test) == y_test).mean())
    print(f"judge: DBNClassifier (500,) ({how}, {time.perf_counter() - start:.0f} s), test "
          f"accuracy {accuracy:.4f}")
    return judge, accuracy


def _judged(args, model, method: str, judge, reference: np.ndarray) -> dict:
    """Samples of ``model`` by ``method`` ('gibbs' or 'pt'), judged; their figures."""
    options = {} if method == "gibbs" else {
        "temperatures": args.temperatures, "swap_target": args.swap_target,
        "diagnostics": True}
    start = time.perf_counter()
    drawn = model.sample(args.samples, n_gibbs=args.steps, random_state=0, method=method,
                         **options)
    seconds = time.perf_counter() - start
    samples, info = drawn if method == "pt" else (drawn, {})
    coverage = class_coverage(judge, samples)
    row = {"coverage": coverage.coverage, "n_covered": coverage.n_covered,
           "counts": coverage.counts.tolist(), "mmd2": kernel_mmd(samples, reference).mmd2,
           "free_energy": float(model.free_energy(samples).mean()), "seconds": seconds}
    if info:
        row.update(betas=info["betas"].tolist(), swap_rates=info["swap_rates"].tolist(),
                   round_trips=info["round_trips"])
    return row


def main() -> int:
    args = parse_args(__doc__.splitlines()[0], _options)
    machine = print_machine_info(machine_info())
    X, y = load_mnist("train", 5000 if args.quick else None)
    X_test, y_test = load_mnist("test", 1000 if args.quick else None)
    if args.quick:  # about a minute on 2 cores
        args.epochs, args.samples, args.steps = 1, min(args.samples, 100), min(args.steps, 100)
    X, X_test = _binarise(X, 0), _binarise(X_test, 1)  # the samples are binary too
    models = _models(args, X)
    judge, accuracy = _judge(args, X, y, X_test, y_test)
    reference = X_test[:1000]

    rows, results = [], {"judge_accuracy": accuracy, "samples": args.samples,
                         "steps": args.steps}
    for name, model in models.items():
        for method in ("gibbs", "pt"):
            key, row = f"{name}/{method}", _judged(args, model, method, judge, reference)
            results[key] = row
            rows.append([name, method, f"{row['coverage']:.3f}", row["n_covered"],
                         " ".join(f"{c}" for c in row["counts"]), f"{row['mmd2']:.4f}",
                         f"{row['free_energy']:.2f}", f"{row['seconds']:.0f}"])
            if method == "pt":
                print(f"{name} model, PT: ladder {np.round(row['betas'], 3).tolist()}, swap "
                      f"rates {np.round(row['swap_rates'], 2).tolist()}, round trips "
                      f"{row['round_trips']} ({row['round_trips'] / args.samples:.2f} per "
                      "chain)")
    print_table(f"{args.samples} samples from noise, {args.steps} steps, judged classes "
                f"(PT: {args.temperatures} temperatures)",
                ["model", "sampler", "entropy/log10", "classes", "histogram 0..9", "MMD^2",
                 "mean F(v)", "s"], rows)
    quick_banner(args)
    write_json(args.json, "pt_sampling", args, machine, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
