"""Sequences with ``SequenceCRBM``: bouncing-balls video, motion fill-in, recognition.

(a) Bouncing balls (``deepbelief.datasets.bouncing_balls``, the data of Sutskever & Hinton,
    2007): the one-step next-frame squared error on held-out videos (summed over pixels,
    averaged over frames) of the conditional RBM (Taylor, Hinton & Roweis, 2007; one and two
    layers) against copying the last frame and ridge regression from the same past frames
    (its penalty chosen on a validation split of the training videos); then 100-frame
    continuations generated from held-out seeds, with the mean pixel mass and the mean
    frame-to-frame change over time (the balls must neither fade nor freeze).
(b) Motion (``deepbelief.datasets.synthetic_gaits``: synthetic joint angles, two styles):
    one leg's three channels removed for half of each held-out sequence, and both knees
    removed in every frame, filled in by ``fill_in`` (offline, the default, and online),
    against the training mean, linear interpolation in time, ridge regression from the past
    frames (online, frame by frame) and ridge regression from the past frames and the
    frame's observed channels; then a generated continuation of 200 frames (does the gait
    keep its amplitude?).
(c) Recognition: which videos hold 1, 2 or 3 balls, and which two balls move at speed 0.04
    or 0.05 (a dynamics task: raw pixel statistics barely tell them apart): logistic
    regression on CRBM features pooled over time (``transform(pool=...)``: per feature the
    mean and standard deviation, and with 'mean_std_change' also the mean absolute change
    from frame to frame) against the same classifier on the raw frames pooled the same
    way; the penalty C of each is chosen by 5-fold cross-validation on the training videos.

    python benchmarks/sequences.py [--quick] [--threads N] [--gallery docs/gallery]
        [--device cpu|cuda] [--json out.json]
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from _common import parse_args, print_machine_info, print_table, quick_banner, timer, write_json
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from deepbelief import SequenceCRBM
from deepbelief.core.temporal import lagged_pairs
from deepbelief.datasets import GAIT_CHANNELS, bouncing_balls, synthetic_gaits
from deepbelief.estimators._pooling import pool_over_time
from deepbelief.exceptions import DataRangeWarning

#: Problem sizes and model settings; --quick uses the second.
SETTINGS: dict[str, dict[str, Any]] = {
    "full": {
        "size": 30, "videos": (150, 20), "frames": 100, "balls_hidden": 300,
        "balls_two_layers": (300, 150), "balls_epochs": 80,
        "gaits": (40, 10), "gait_frames": 200, "gait_hidden": 100, "gait_epochs": 50,
        "recognition": (150, 150), "recognition_frames": 40, "recognition_hidden": 200,
        "recognition_epochs": 30,
    },
    "quick": {
        "size": 16, "videos": (40, 8), "frames": 50, "balls_hidden": 100,
        "balls_two_layers": (100, 50), "balls_epochs": 20,
        "gaits": (16, 4), "gait_frames": 150, "gait_hidden": 50, "gait_epochs": 40,
        "recognition": (100, 100), "recognition_frames": 30, "recognition_hidden": 100,
        "recognition_epochs": 15,
    },
}
ORDER = 3
RIDGE_ALPHAS = (0.1, 1.0, 10.0, 100.0)
GENERATED_FRAMES = 100
#: One-step errors are compared on the frames from here on (the two-layer model's first).
EVAL_FROM = 2 * ORDER
LEG = ("right_hip", "right_knee", "right_ankle")
KNEES = ("right_knee", "left_knee")


# -- baselines ------------------------------------------------------------------------------------
def ar_pairs(sequences, order: int) -> tuple[np.ndarray, np.ndarray]:
    """(past frames, frame) pairs as numpy arrays: the CRBM's own pairs."""
    frames, context = lagged_pairs([torch.as_tensor(np.asarray(s, np.float64))
                                    for s in sequences], order)
    return context.numpy(), frames.numpy()


def fit_ridge(sequences, order: int, target=slice(None), extra=None) -> Ridge:
    """Ridge regression of a frame (its ``target`` channels) on its past frames (and the
    frame's ``extra`` channels), the penalty chosen on the last fifth of the sequences."""
    def design(seqs):
        X, Y = ar_pairs(seqs, order)
        return (X if extra is None else np.hstack([X, Y[:, extra]])), Y[:, target]
    cut = max(1, len(sequences) * 4 // 5)
    X_fit, Y_fit = design(sequences[:cut])
    X_val, Y_val = design(sequences[cut:])
    errors = {alpha: ((Ridge(alpha).fit(X_fit, Y_fit).predict(X_val) - Y_val) ** 2).mean()
              for alpha in RIDGE_ALPHAS}
    return Ridge(min(errors, key=errors.get)).fit(*design(sequences))


def one_step_error(predictions, sequences, first: int) -> float:
    """Mean of the squared error summed over channels, over the frames from
    :data:`EVAL_FROM` on (``predictions`` start at frame ``first``)."""
    skip = EVAL_FROM - first
    return float(np.mean(np.concatenate([((p[skip:] - s[EVAL_FROM:]) ** 2).sum(1)
                                         for p, s in zip(predictions, sequences, strict=True)])))


def crbm(settings: dict, device: str, sequences, **params) -> tuple[SequenceCRBM, float]:
    """A fitted SequenceCRBM and its fit time."""
    model = SequenceCRBM(**{"order": ORDER, "random_state": 0, "device": device, **params})
    with timer(device) as t:
        model.fit(sequences)
    return model, t.seconds


# -- (a) bouncing balls ---------------------------------------------------------------------------
def balls(settings: dict, device: str, gallery: Path | None) -> dict:
    n_train, n_test = settings["videos"]
    size, frames = settings["size"], settings["frames"]
    train = bouncing_balls(n_train, frames, size=size, random_state=0)
    test = bouncing_balls(n_test, frames, size=size, random_state=1)
    rows, results = [], {}
    copy = [s[ORDER - 1:-1] for s in test]
    ridge = fit_ridge(list(train), ORDER)
    ridge_pred = [np.clip(ridge.predict(ar_pairs([s], ORDER)[0]), 0, 1) for s in test]
    rows += [("copy the last frame", one_step_error(copy, test, ORDER), "-"),
             (f"ridge AR (order {ORDER}, alpha {ridge.alpha:g})",
              one_step_error(ridge_pred, test, ORDER), "-")]
    common = {"visible_units": "bernoulli", "pretrain_epochs": settings["balls_epochs"]}
    models = {}
    for label, hidden in (("CRBM", (settings["balls_hidden"],)),
                          ("CRBM, two layers", settings["balls_two_layers"])):
        model, seconds = crbm(settings, device, train, hidden_layer_sizes=hidden, **common)
        models[label] = model
        for prediction, n_gibbs in (("mean_field", 10), ("gibbs", 100)):
            predicted = model.predict_next(list(test), prediction, n_gibbs, random_state=0)
            rows.append((f"{label} {hidden}, {prediction} ({n_gibbs} sweeps)",
                         one_step_error(predicted, test, model.receptive_field_), seconds))
    results["one_step"] = {r[0]: r[1] for r in rows}
    print_table(f"(a) bouncing balls {size}x{size}: one-step error on {n_test} held-out videos "
                f"(squared error summed over pixels, per frame from frame {EVAL_FROM} on; "
                f"{n_train} training videos of "
                f"{frames} frames)", ["model", "error", "fit s"], rows)

    model = models["CRBM"]
    seeds = min(n_test, 5)
    generated = np.stack([model.generate(test[i][:ORDER + 7], GENERATED_FRAMES, random_state=i)
                          for i in range(seeds)])
    mass = generated.sum(2).mean(0)
    change = np.abs(np.diff(generated, axis=1)).sum(2).mean(0)
    true_mass = float(test.sum(2).mean())
    true_change = float(np.abs(np.diff(test, axis=1)).sum(2).mean())
    marks = [0, 9, 24, 49, 74, 99]
    print_table(f"(a) {GENERATED_FRAMES} generated frames after 10 seed frames ({seeds} held-out "
                f"seeds, one-layer CRBM): pixel mass and change per frame (data: mass "
                f"{true_mass:.1f}, change {true_change:.1f})",
                ["frame", "mass", "mass / data", "change", "change / data"],
                [(m + 1, float(mass[m]), float(mass[m]) / true_mass,
                  float(change[m - 1]) if m else float(change[0]),
                  (float(change[m - 1]) if m else float(change[0])) / true_change)
                 for m in marks])
    results["generation"] = {"mass": mass.tolist(), "change": change.tolist(),
                             "data_mass": true_mass, "data_change": true_change}
    if gallery is not None:
        from deepbelief.plotting.sequences import plot_frame_strips, save_gif
        shown = {"real": test[0][ORDER + 7:], "generated": generated[0]}
        plot_frame_strips(shown, gallery / "bouncing_balls.png", every=5,
                          title="bouncing balls: held-out video and the CRBM's continuation")
        save_gif(shown, gallery / "bouncing_balls.gif")
    return results


# -- (b) motion fill-in ----------------------------------------------------------------------------
def interpolate(sequence: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Missing values linearly interpolated in time, channel by channel."""
    out = sequence.copy()
    t = np.arange(len(sequence))
    for c in np.flatnonzero(mask.any(0)):
        known = ~mask[:, c]
        out[~known, c] = np.interp(t[~known], t[known], sequence[known, c])
    return out


def ridge_fill(model: Ridge, sequence: np.ndarray, mask: np.ndarray, channels: list[int],
               with_observed: bool, mean: np.ndarray) -> np.ndarray:
    """Fill the missing ``channels`` frame by frame with a ridge model of the past frames (and
    of the frame's observed channels); the training mean where the past is incomplete."""
    out = np.where(mask, mean, sequence)
    other = [c for c in range(sequence.shape[1]) if c not in channels]
    for t in np.flatnonzero(mask.any(1)):
        if t < ORDER:
            continue
        past = out[t - ORDER:t][::-1].reshape(1, -1)
        x = np.hstack([past, out[t:t + 1, other]]) if with_observed else past
        predicted = model.predict(x)[0]
        out[t, channels] = predicted if with_observed else predicted[channels]
    return np.where(mask, out, sequence)


def fill_methods(train, mask: np.ndarray, channels: list[int], models: dict) -> dict:
    """The fill-in methods compared, each a function of a held-out sequence."""
    mean = np.concatenate(train).mean(0)
    other = [c for c in range(mask.shape[1]) if c not in channels]
    ridge = fit_ridge(train, ORDER)
    ridge_observed = fit_ridge(train, ORDER, target=channels, extra=other)
    methods = {"training mean": lambda s: np.where(mask, mean, s)}
    if (~mask[:, channels]).any(0).all():  # every channel observed somewhere
        methods["linear interpolation"] = lambda s: interpolate(s, mask)
    methods[f"ridge AR (order {ORDER}), online"] = (
        lambda s: ridge_fill(ridge, s, mask, channels, False, mean))
    methods[f"ridge AR (order {ORDER}) + observed channels, online"] = (
        lambda s: ridge_fill(ridge_observed, s, mask, channels, True, mean))
    for label, model in models.items():
        methods[f"{label}, fill_in"] = (
            lambda s, m=model: m.fill_in(np.where(mask, np.nan, s), mask))
        methods[f"{label}, fill_in(method='online')"] = (
            lambda s, m=model: m.fill_in(np.where(mask, np.nan, s), mask, random_state=0,
                                         method="online"))
    return methods


def motion(settings: dict, device: str, gallery: Path | None) -> dict:
    n_train, n_test = settings["gaits"]
    n_frames = settings["gait_frames"]
    train, _ = synthetic_gaits(n_train, n_frames, random_state=0)
    test, _ = synthetic_gaits(n_test, n_frames, random_state=1)
    leg = [GAIT_CHANNELS.index(name) for name in LEG]
    knees = [GAIT_CHANNELS.index(name) for name in KNEES]
    gap = slice(n_frames // 4, n_frames // 4 + n_frames // 2)
    leg_mask, knee_mask = np.zeros((2, *test[0].shape), dtype=bool)
    leg_mask[gap, leg] = True
    knee_mask[:, knees] = True
    masks = {f"{LEG} removed in frames {gap.start}-{gap.stop - 1}": (leg_mask, leg),
             f"{KNEES} removed in every frame": (knee_mask, knees)}
    times, models = {}, {}
    for label, hidden in (("CRBM", (settings["gait_hidden"],)),
                          ("CRBM, two layers", (settings["gait_hidden"],) * 2)):
        model, times[label] = crbm(settings, device, train, hidden_layer_sizes=hidden,
                                   pretrain_epochs=settings["gait_epochs"])
        models[f"{label} {hidden}"] = model
    gait_model = next(iter(models.values()))
    results = {}
    for scenario, (mask, channels) in masks.items():
        rows, results[scenario] = [], {}
        with warnings.catch_warnings(record=True) as bounded:  # online fill-in may drift
            warnings.simplefilter("always", DataRangeWarning)
            for label, fill in fill_methods(train, mask, channels, models).items():
                errors = [((fill(s) - s)[mask] ** 2).mean() for s in test]
                mse = float(np.mean(errors))
                fit_s = next((v for k, v in times.items() if label.startswith(k + " ")), "-")
                rows.append((label, mse, float(np.degrees(np.sqrt(mse))), fit_s))
                results[scenario][label] = mse
        print_table(f"(b) synthetic gaits: {scenario} of {n_test} held-out sequences and "
                    f"filled in ({n_train} training sequences of {n_frames} frames; "
                    f"{len(bounded)} warnings of values bounded to the training range)",
                    ["method", "MSE (rad^2)", "RMSE (deg)", "fit s"], rows)

    seed = test[0][:20]
    generated = gait_model.generate(seed, 200, random_state=0)
    ratio = generated[-100:].std(0) / test[0].std(0)
    print_table("(b) a 200-frame generated gait (one-layer CRBM): amplitude (std over the last "
                "100 frames) / that of the held-out sequence, per channel",
                ["channel", "ratio"], [(GAIT_CHANNELS[c], float(ratio[c]))
                                       for c in range(len(GAIT_CHANNELS))])
    results["generated_amplitude_ratio"] = ratio.tolist()
    if gallery is not None:
        from deepbelief.plotting.sequences import plot_joint_angles
        plot_joint_angles({"real": test[0], "generated": generated}, gallery / "gaits.png",
                          channel_names=GAIT_CHANNELS, starts={"generated": 20},
                          title="synthetic gait: held-out sequence and the CRBM's continuation")
    return results


# -- (c) recognition -------------------------------------------------------------------------------
POOLS = ("mean_std", "mean_std_change")
#: The classifier's penalties tried by cross-validation on the training videos.
PENALTIES = (0.001, 0.01, 0.1, 1.0, 10.0)
#: The two speeds of the dynamics task.
SPEEDS = (0.04, 0.05)


def accuracy(train_features, y, test_features, yt) -> tuple[float, float]:
    """Test accuracy of logistic regression on standardised features, with its penalty C
    chosen by 5-fold cross-validation on the training features alone; and that C."""
    search = GridSearchCV(make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000)),
                          {"logisticregression__C": PENALTIES},
                          cv=StratifiedKFold(5, shuffle=True, random_state=0))
    search.fit(train_features, y)
    return float(search.score(test_features, yt)), search.best_params_["logisticregression__C"]


def recognition(settings: dict, device: str) -> dict:
    n_train, n_test = settings["recognition"]
    frames, size = settings["recognition_frames"], settings["size"]
    tasks = {}
    X, y = bouncing_balls(n_train, frames, size=size, n_balls=(1, 2, 3), random_state=10,
                          return_counts=True)
    Xt, yt = bouncing_balls(n_test, frames, size=size, n_balls=(1, 2, 3), random_state=11,
                            return_counts=True)
    tasks["1, 2 or 3 balls"] = (X, y, Xt, yt)

    def speeds(n: int, seed: int):
        slow = bouncing_balls(n // 2, frames, size=size, n_balls=2, speed=SPEEDS[0],
                              random_state=seed)
        fast = bouncing_balls(n - n // 2, frames, size=size, n_balls=2, speed=SPEEDS[1],
                              random_state=seed + 1)
        return np.concatenate([slow, fast]), np.repeat([0, 1], [n // 2, n - n // 2])
    tasks[f"speed {SPEEDS[0]} or {SPEEDS[1]}"] = (*speeds(n_train, 20), *speeds(n_test, 30))
    rows, results = [], {}
    for task, (X, y, Xt, yt) in tasks.items():
        model, seconds = crbm(settings, device, list(X), visible_units="bernoulli",
                              hidden_layer_sizes=(settings["recognition_hidden"],),
                              pretrain_epochs=settings["recognition_epochs"])
        results[task] = {}
        for pool in POOLS:
            raw, raw_c = accuracy(pool_over_time(X, pool), y, pool_over_time(Xt, pool), yt)
            features, crbm_c = accuracy(model.transform(list(X), pool=pool), y,
                                        model.transform(list(Xt), pool=pool), yt)
            rows.append((task, pool, raw, raw_c, features, crbm_c, seconds))
            results[task][pool] = {"raw": raw, "crbm": features}
    print_table(f"(c) recognition: test accuracy of logistic regression ({n_train} training and "
                f"{n_test} test videos of {frames} frames; C chosen by 5-fold cross-validation "
                "on the training videos)",
                ["task", "pool", "raw frames", "C", "CRBM features", "C", "CRBM fit s"], rows)
    return results


def main(argv=None) -> int:
    def extra(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--gallery", default=None, metavar="DIR",
                            help="write pictures (frame strips, a GIF, joint angles) here")
    args = parse_args(__doc__.splitlines()[0], extra, argv)
    machine = print_machine_info()
    quick_banner(args)
    settings = SETTINGS["quick" if args.quick else "full"]
    gallery = None if args.gallery is None else Path(args.gallery)
    if gallery is not None:
        gallery.mkdir(parents=True, exist_ok=True)
    with timer() as total:
        results = {"balls": balls(settings, args.device, gallery),
                   "motion": motion(settings, args.device, gallery),
                   "recognition": recognition(settings, args.device)}
    print(f"\ntotal {total.seconds:.0f} s")
    write_json(args.json, "sequences", args, machine, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
