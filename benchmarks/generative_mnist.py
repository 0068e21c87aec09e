"""Generative DBN on MNIST (Hinton, Osindero & Teh 2006): classification, samples, completion.

Trains ``GenerativeDBN((500, 500, 2000))`` greedily (labels joined to the top RBM's visible
layer), optionally followed by up-down fine-tuning, and reports: the generative
classification test error after greedy training and after every up-down epoch; the
fraction of class-conditional samples (100 per class) that a separately trained
``DBNClassifier`` (the judge) assigns to the requested class; and the judge's accuracy on
test digits whose bottom half was hidden and then completed by the model, next to two
baselines (hidden half filled with the training mean; left at zero).

    python benchmarks/generative_mnist.py [--quick] [--epochs 30] [--batch-size 20]
        [--updown-epochs 20] [--label-warmup 200] [--gallery docs/gallery] [--threads N]
        [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from _common import load_mnist  # $DEEPBELIEF_DATA, else ../shared/data

from deepbelief import DBNClassifier, GenerativeDBN, load
from deepbelief.callbacks import Callback


class TestError(Callback):
    """Generative classification test error before up-down and after each of its epochs."""

    def __init__(self, X_test: np.ndarray, y_test: np.ndarray) -> None:
        self.x = torch.as_tensor(X_test)
        self.y = torch.as_tensor(y_test.astype(np.int64))
        self.errors: list[float] = []

    def _error(self, context) -> float:
        stack = context.objective.stack
        x, y = self.x.to(stack.top.weight.device), self.y.to(stack.top.weight.device)
        with torch.no_grad():
            wrong = stack.label_free_energies(stack.up_pass(x)).argmin(1) != y
        return float(wrong.float().mean())

    def on_train_begin(self, context) -> None:
        if context.phase == "updown":
            self.errors.append(self._error(context))

    def on_epoch_end(self, context) -> None:
        if context.phase == "updown":
            self.errors.append(self._error(context))
            context.record["test_error"] = self.errors[-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3,000 images, tiny layers")
    parser.add_argument("--epochs", type=int, default=30, help="CD-1 epochs per lower layer")
    parser.add_argument("--batch-size", type=int, default=20,
                        help="mini-batch of greedy training (default: 20; the paper: 10)")
    parser.add_argument("--learning-rate", type=float, default=0.05,
                        help="the lower RBMs' learning rate (default: 0.05)")
    parser.add_argument("--top-method", choices=("cd", "pcd"), default="cd",
                        help="the top RBM's learning rule (default: cd)")
    parser.add_argument("--top-epochs", type=int, default=30)
    parser.add_argument("--top-learning-rate", type=float, default=0.05)
    parser.add_argument("--schedule", choices=("constant", "linear"), default="linear",
                        help="learning-rate schedule of every RBM (default: linear decay to 0)")
    parser.add_argument("--updown-epochs", type=int, default=20)
    parser.add_argument("--updown-learning-rate", type=float, default=0.01)
    parser.add_argument("--updown-batch-size", type=int, default=100,
                        help="up-down mini-batch = persistent top-level chains (default: 100)")
    parser.add_argument("--updown-k", type=int, nargs="+", default=[3, 10, 10, 10],
                        help="top-level CD-k of up-down over equal parts of the epochs "
                             "(default: 3 10 10 10; the paper grew it 3, 6, 10)")
    parser.add_argument("--updown-method", choices=("cd", "pcd"), default="pcd",
                        help="top-level chains of up-down: restarted (cd, the paper) or "
                             "persistent (pcd, default)")
    parser.add_argument("--save", default=None, help="save the trained GenerativeDBN here")
    parser.add_argument("--n-gibbs", type=int, default=1000,
                        help="Gibbs steps per class-conditional sample (the paper: 1000)")
    parser.add_argument("--label-warmup", type=int, default=200,
                        help="of those, steps with the label weights x10 (GenerativeDBN.sample)"
                             "; the samples are judged with and without (default: 200)")
    parser.add_argument("--n-complete", type=int, default=2000, help="test images to complete")
    parser.add_argument("--complete-iter", type=int, default=100)
    parser.add_argument("--judge", default=None,
                        help="a saved judge DBNClassifier to reuse (trained and saved here "
                             "when the file does not exist)")
    parser.add_argument("--gallery", default=None,
                        help="write the sample grid and completions as PNG into this folder")
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    X, y = load_mnist("train")
    X_test, y_test = load_mnist("test")
    layers, clf_layers, per_class = (500, 500, 2000), (500, 500), 100
    if args.quick:
        X, y, X_test, y_test = X[:3000], y[:3000], X_test[:500], y_test[:500]
        layers, clf_layers, per_class = (64, 64, 128), (64,), 10
        args.epochs, args.top_epochs, args.n_complete, args.n_gibbs = 1, 1, 200, 50
        args.updown_epochs, args.label_warmup = min(args.updown_epochs, 1), 10
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}; "
          f"{len(X)} train / {len(X_test)} test images")
    result: dict = {"args": vars(args)}

    monitor = TestError(X_test, y_test)
    start = time.perf_counter()
    gen = GenerativeDBN(layers, pretrain_epochs=(args.epochs, args.epochs, args.top_epochs),
                        pretrain_learning_rate=(args.learning_rate, args.learning_rate,
                                                args.top_learning_rate),
                        pretrain_method=("cd", "cd", args.top_method),
                        pretrain_learning_rate_schedule=args.schedule,
                        batch_size=args.batch_size,
                        updown_epochs=args.updown_epochs,
                        updown_learning_rate=args.updown_learning_rate,
                        updown_k=tuple(args.updown_k),
                        updown_batch_size=args.updown_batch_size,
                        updown_method=args.updown_method, callbacks=[monitor],
                        random_state=0, device=args.device).fit(X, y)
    fit_s = time.perf_counter() - start
    monitor = gen.callbacks_[0]  # fit works on copies of the callbacks
    if args.save:
        gen.set_params(callbacks=None).save(args.save)
    error = 1.0 - float((gen.predict(X_test) == y_test).mean())
    greedy_error = monitor.errors[0] if monitor.errors else error
    decay = " decaying linearly to 0" if args.schedule == "linear" else ""
    print(f"GenerativeDBN 784-{'-'.join(map(str, layers[:-1]))}+10-{layers[-1]}, batch "
          f"{args.batch_size}, {args.epochs} CD-1 epochs per lower layer (lr "
          f"{args.learning_rate}{decay}), top RBM {args.top_method.upper()}-1 "
          f"{args.top_epochs} epochs (lr {args.top_learning_rate}{decay}): "
          f"{gen.pretrain_time_:.1f} s; generative classification test error "
          f"{100 * greedy_error:.2f} %")
    if args.updown_epochs:
        curve = " ".join(f"{100 * e:.2f}" for e in monitor.errors[1:])
        print(f"up-down fine-tuning, {args.updown_epochs} epochs (lr "
              f"{args.updown_learning_rate}, batch {args.updown_batch_size}, "
              f"{args.updown_method} top-level chains, CD-k "
              f"{[r['k'] for r in gen.history_['updown']]}): "
              f"{gen.updown_time_:.1f} s; test error after each epoch (%): {curve}; final "
              f"{100 * error:.2f} %")
    result.update(fit_s=fit_s, pretrain_s=gen.pretrain_time_, updown_s=gen.updown_time_,
                  greedy_test_error=greedy_error, test_error=error,
                  updown_test_errors=monitor.errors[1:])

    start = time.perf_counter()
    if args.judge and Path(args.judge).exists():
        judge = load(args.judge, device=args.device)
        how = f"loaded from {args.judge}"
    else:
        judge = DBNClassifier(clf_layers, pretrain_epochs=5, max_iter=20, batch_size=100,
                              solver="sgd", learning_rate_init=0.1, dropout=0.2,
                              random_state=0, device=args.device).fit(X, y)
        how = "trained"
        if args.judge:
            judge.save(args.judge)
    judge_accuracy = float((judge.predict(X_test) == y_test).mean())
    print(f"judge DBNClassifier {clf_layers} ({how}, {time.perf_counter() - start:.1f} s): "
          f"test accuracy {judge_accuracy:.4f}")
    result["judge_accuracy"] = judge_accuracy

    wanted = np.repeat(np.arange(10), per_class)
    args.label_warmup = min(args.label_warmup, args.n_gibbs)
    for warmup in sorted({0, args.label_warmup}):
        start = time.perf_counter()
        samples = gen.sample(len(wanted), y=wanted, n_gibbs=args.n_gibbs, random_state=0,
                             label_warmup=warmup)
        agree = float((judge.predict(samples) == wanted).mean())
        per = [float((judge.predict(samples[wanted == c]) == c).mean()) for c in range(10)]
        how = (f"the first {warmup} with label weights x10, label_warmup={warmup}" if warmup
               else "from random states, the paper's way")
        print(f"class-conditional samples: {len(wanted)} ({args.n_gibbs} Gibbs steps, {how}; "
              f"{time.perf_counter() - start:.1f} s); classified as the requested class: "
              f"{100 * agree:.1f} % (per class: {' '.join(f'{100 * p:.0f}' for p in per)})")
        key = f"_warmup{warmup}" if warmup else ""
        result.update({f"conditional_agreement{key}": agree,
                       f"conditional_per_class{key}": per})

    images, labels = X_test[: args.n_complete], y_test[: args.n_complete]
    mask = np.zeros(784, dtype=bool)
    mask[: 14 * 28] = True  # the top half is known
    start = time.perf_counter()
    completed = gen.complete(images, mask, n_iter=args.complete_iter, random_state=0)
    complete_s = time.perf_counter() - start
    mean_fill = np.where(mask, images, X.mean(0)).astype(np.float32)
    zero_fill = np.where(mask, images, 0.0).astype(np.float32)
    for name, data in [("completed by the model", completed), ("training-mean fill", mean_fill),
                       ("zero fill", zero_fill)]:
        accuracy = float((judge.predict(data) == labels).mean())
        result[f"completion_{name.split()[0]}"] = accuracy
        print(f"  bottom half hidden, {name}: judge accuracy {accuracy:.4f}")
    print(f"  (completion of {len(images)} images, {args.complete_iter} iterations: "
          f"{complete_s:.1f} s)")

    if args.gallery:
        from deepbelief.plotting import plot_class_samples, plot_completions

        folder = Path(args.gallery)
        pick = np.concatenate([np.flatnonzero(wanted == c)[:10] for c in range(10)])
        steps = (f"{args.n_gibbs} Gibbs steps, label_warmup={args.label_warmup}"
                 if args.label_warmup else f"{args.n_gibbs} Gibbs steps")
        plot_class_samples(samples[pick], wanted[pick], folder / "generative_mnist_samples.png",
                           title=f"GenerativeDBN samples by class ({steps})")
        plot_completions(images[:10], mask, completed[:10],
                         folder / "generative_mnist_completions.png",
                         title="bottom half completed by the GenerativeDBN")
        print(f"wrote {folder}/generative_mnist_samples.png, generative_mnist_completions.png")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
