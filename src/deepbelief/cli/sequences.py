"""``deepbelief train --kind sequence``, ``deepbelief generate`` and ``deepbelief fill-in``:
conditional RBMs of sequences (:class:`~deepbelief.SequenceCRBM`) on the command line."""

from __future__ import annotations

import logging
import sys
import time
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from deepbelief.cli.errors import EXIT_OK, CommandError, UsageError
from deepbelief.cli.io import prepare_outputs, write_history
from deepbelief.cli.models import architecture, load_model, n_parameters, require
from deepbelief.cli.sequence_data import (
    SequenceData,
    load_sequence_data,
    recorded_sequence_data,
    sequence_record,
)
from deepbelief.estimators import SequenceCRBM

__all__ = ["fit_and_save", "run_fill_in", "run_generate", "train_sequence"]

log = logging.getLogger("deepbelief")

_OUTPUTS = (".npz", ".npy", ".bvh")
#: How ``fill-in --method`` fills in, in its summary line.
_HOW = {"offline": "from the whole sequence", "online": "frame by frame"}


def fit_and_save(args, cls, params: dict, history: Path | None, data: tuple,
                 metadata: dict) -> tuple[Any, float, bool]:
    """Fit ``cls(**params)`` on ``data`` (the arguments of ``fit``) with ``train``'s progress
    and checkpoint options, save it with ``metadata`` and its history; returns the model,
    the seconds of training and whether it resumed a checkpoint."""
    from deepbelief.cli.checkpoints import fit_resumable
    from deepbelief.cli.train import _progress_callbacks
    from deepbelief.training.loop import warm_up_optimizers

    model = cls(**params, callbacks=_progress_callbacks(args))
    log.info("training %s", cls.__name__)
    warm_up_optimizers()  # torch's one-time optimizer import is not training time
    start = time.perf_counter()
    first, *rest = data
    resumed = fit_resumable(model, first, rest[0] if rest else None,
                            checkpoint=args.checkpoint, every=args.checkpoint_every,
                            resume=args.resume)
    seconds = time.perf_counter() - start
    model.set_params(callbacks=None)  # the progress bar is not part of the model
    model.save(Path(args.output), metadata=metadata)
    if history is not None:  # one list of epochs per layer, as the pictures read it
        layered = isinstance(model.history_[0], list) if model.history_ else False
        write_history(SimpleNamespace(history_={"pretrain": model.history_} if layered
                                      else model.history_), history)
    return model, seconds, resumed


def print_training(model, data_line: str, args, seconds: float, resumed: bool,
                   history: Path | None, results: list[str]) -> None:
    """``train``'s summary: the model, its data, each layer's epochs, ``results``, files."""
    from deepbelief.cli.train import _phase_line

    out = sys.stdout
    print(f"deepbelief train: {type(model).__name__} {architecture(model)}, "
          f"{n_parameters(model):,} parameters", file=out)
    print(f"  data: {data_line}", file=out)
    layers = model.history_ if isinstance(model, SequenceCRBM) else [model.history_]
    for i, records in enumerate(layers):
        print(f"  layer {i + 1}: {_phase_line(records, 'reconstruction_error')}", file=out)
    for line in results:
        print(f"  {line}", file=out)
    when = "time of this call" if resumed else "total time"
    print(f"  {when}: {seconds:.2f} s", file=out)
    print(f"  model: {args.output}", file=out)
    if history is not None:
        print(f"  history: {history}", file=out)


def train_sequence(args, cls, params: dict, history: Path | None) -> int:
    """``train --kind sequence``: a SequenceCRBM fitted on the sequences of ``--data``."""
    if args.scale != "none":
        raise UsageError("--scale does not apply to --kind sequence (the model standardises "
                         "Gaussian channels itself).", "deepbelief train")
    for option in ("split", "label_column", "free_energy_gap"):
        if getattr(args, option) is not None:
            raise UsageError(f"--{option.replace('_', '-')} does not apply to --kind "
                             "sequence.", "deepbelief train")
    if args.data in ("digits", "mnist", "fashion-mnist"):
        raise UsageError(f"--data {args.data} holds images, not sequences: give --data a "
                         ".npz/.npy file of sequences, a folder of BVH files, bouncing-balls "
                         "or gaits.", "deepbelief train")
    data = load_sequence_data(args.data, angles=args.angles, n_sequences=args.n_sequences,
                              n_frames=args.n_frames, seed=args.seed or 0, limit=args.limit)
    if args.visible_units is None and all(s.min() >= 0 and s.max() <= 1
                                          for s in data.sequences):
        params["visible_units"] = "bernoulli"
        log.info("frames in [0, 1]: Bernoulli visible units (--visible-units gaussian "
                 "standardises them instead)")
    model, seconds, resumed = fit_and_save(args, cls, params, history, (data.sequences,),
                                           sequence_record(data))
    error = -model.score(data.sequences)
    copy = np.mean(np.concatenate([((s[model.receptive_field_:] - s[model.receptive_field_ - 1:
                                                                    -1]) ** 2).sum(1)
                                   for s in data.sequences]))
    width = data.sequences[0].shape[1]
    print_training(model, f"{data.name}, {len(data.sequences)} sequences, {data.n_frames} "
                   f"frames x {width} channels", args, seconds, resumed, history,
                   [f"one-step prediction error per frame: {error:.4g} (copying the last "
                    f"frame: {copy:.4g})"])
    return EXIT_OK


def _model_and_record(args) -> tuple[SequenceCRBM, dict]:
    from deepbelief.io.modelfile import describe

    model = load_model(args.model, args.device)
    require(model, args.model, args.command, (SequenceCRBM,))
    return model, describe(args.model)["config"].get("metadata") or {}


def _data(args, source: str | None, record: dict, limit: int | None = None) -> SequenceData:
    """``--data``/``--from-data SOURCE`` if given, else the model's recorded data."""
    if source:  # BVH files are read with the rotation code the model was trained on
        angles = (record.get("sequence") or {}).get("angles") if Path(source).is_dir() else None
        return load_sequence_data(source, limit=limit, angles=angles)
    return recorded_sequence_data(record, args.model, limit=limit)


def _check_channels(model: SequenceCRBM, width: int, where: str, option: str) -> None:
    """Refuse frames whose width is not the model's, naming the option that chose them."""
    if width != model.n_features_in_:
        raise CommandError(f"{where} has frames of {width} channels, but the model's frames "
                           f"have {model.n_features_in_}: give {option} frames of the kind the "
                           "model was trained on.")


def _seed_frames(args, model, record: dict) -> tuple[np.ndarray, np.ndarray | None, str]:
    """The seed, the true frames that follow it (None for a --seed-frames file) and where
    it comes from."""
    from deepbelief.datasets import load_bvh, load_sequences

    if args.seed_frames is not None:
        path = Path(args.seed_frames)
        if path.suffix.lower() == ".bvh":
            angles = (record.get("sequence") or {}).get("angles") or "expmap"
            frames = load_bvh(path, angles=angles).frames
        else:
            frames = load_sequences(path)[0]
        sequence, where, future = frames, str(path), None
    else:
        data = _data(args, args.from_data, record)
        if not -len(data.sequences) <= args.sequence < len(data.sequences):
            raise CommandError(f"--sequence {args.sequence}: {data.name} has "
                               f"{len(data.sequences)} sequences.")
        sequence = data.sequences[args.sequence]
        where = f"sequence {args.sequence} of {data.name}"
        future = sequence
    length = args.seed_length or model.receptive_field_
    if len(sequence) < length:
        raise CommandError(f"{where} has {len(sequence)} frames, fewer than the seed's "
                           f"{length} (--seed-length).")
    _check_channels(model, sequence.shape[1], where,
                    "--seed-frames" if args.seed_frames is not None else "--from-data")
    seed = sequence[:length]
    return seed, None if future is None else future[length:length + args.steps], where


def _skeleton(args, record: dict) -> str | None:
    """The BVH file whose skeleton ``-o FILE.bvh`` is written with (None for other files)."""
    if Path(args.output).suffix.lower() != ".bvh":
        return None
    like = args.like or (record.get("sequence") or {}).get("skeleton")
    if like is None:
        raise CommandError(f"{args.model} was not trained on BVH files: give the skeleton to "
                           "write with --like FILE.bvh, or write .npz.")
    return like


def _write_frames(path: Path, frames: np.ndarray, like: str | None, record: dict) -> None:
    from deepbelief.datasets import save_bvh

    if path.suffix.lower() == ".npy":
        np.save(path, frames)
    elif path.suffix.lower() == ".npz":
        np.savez(path, generated=frames)
    else:
        motion = record.get("sequence") or {}
        try:
            save_bvh(path, frames, like=like, angles=motion.get("angles") or "expmap",
                     frame_time=motion.get("frame_time"))
        except ImportError as exc:
            raise CommandError(str(exc)) from None


def _is_video(frames: np.ndarray) -> bool:
    """Whether frames are square images (pixels in [0, 1]), not channels like joint angles."""
    side = int(np.sqrt(frames.shape[1]))
    return side * side == frames.shape[1] and side > 2 and frames.min() >= 0 and frames.max() <= 1


def run_generate(args) -> int:
    """``deepbelief generate``: continue a seed with a SequenceCRBM's frames."""
    output = Path(args.output)
    if output.suffix.lower() not in _OUTPUTS:
        raise UsageError(f"-o {output}: write .npz, .npy or .bvh.", "deepbelief generate")
    if args.like is not None and output.suffix.lower() != ".bvh":
        raise UsageError("--like applies to -o FILE.bvh.", "deepbelief generate")
    if args.gif is not None and Path(args.gif).suffix.lower() != ".gif":
        raise UsageError(f"--gif {args.gif}: an animated GIF's name ends in .gif.",
                         "deepbelief generate")
    prepare_outputs("deepbelief generate", {"-o": output, "--gif": args.gif,
                                            "--picture": args.picture})
    model, record = _model_and_record(args)
    like = _skeleton(args, record)
    seed, future, where = _seed_frames(args, model, record)
    if args.gif and not _is_video(seed):
        raise CommandError(f"--gif draws frames that are square images of pixels in [0, 1]; "
                           f"these frames have {seed.shape[1]} channels (use --picture).")
    generated = model.generate(seed, args.steps, n_gibbs=args.n_gibbs, random_state=args.seed)
    _write_frames(output, generated, like, record)
    whole = np.concatenate([seed, generated])
    if args.gif:
        from deepbelief.plotting import save_gif

        save_gif(whole, args.gif, fps=args.fps)
    if args.picture:
        _draw_generated(args.picture, seed, generated, future, record)
    print(f"deepbelief generate: {len(generated)} frames after a seed of {len(seed)} frames "
          f"({where}), {args.n_gibbs} Gibbs sweeps per frame")
    if _is_video(seed):
        mass = generated.sum(axis=1)
        tenth = max(1, len(mass) // 10)
        print(f"  pixel mass per frame: {seed.sum(axis=1).mean():.4g} in the seed, "
              f"{mass[:tenth].mean():.4g} in the first tenth, {mass[-tenth:].mean():.4g} in "
              "the last tenth")
    for path in (output, args.gif, args.picture):
        if path:
            print(f"  wrote {path}")
    return EXIT_OK


def _draw_generated(path: str, seed, generated, future, record: dict) -> None:
    from deepbelief.plotting import plot_frame_strips, plot_joint_angles

    whole = np.concatenate([seed, generated])
    rows = {"generated": whole} if future is None else {
        "real": np.concatenate([seed, future]), "generated": whole}
    if _is_video(seed):
        plot_frame_strips(rows, path, every=max(1, len(whole) // 20),
                          title=f"seed: {len(seed)} frames, then {len(generated)} generated")
    else:
        plot_joint_angles(rows, path, channel_names=(record.get("sequence") or {}).get(
            "channels"), title=f"seed: the first {len(seed)} frames")


def run_fill_in(args) -> int:
    """``deepbelief fill-in``: estimate missing channels of sequences (``--method``)."""
    output = Path(args.output)
    if output.suffix.lower() != ".npz":
        raise UsageError(f"-o {output}: write a .npz file (one array per sequence).",
                         "deepbelief fill-in")
    prepare_outputs("deepbelief fill-in", {"-o": output, "--picture": args.picture})
    model, record = _model_and_record(args)
    data = _data(args, args.data, record, limit=args.limit)
    width = model.n_features_in_
    _check_channels(model, data.sequences[0].shape[1], data.name, "--data")
    bad = [c for c in args.mask_channels if c >= width]
    if bad:
        raise CommandError(f"--mask-channels {bad}: the model's frames have {width} channels "
                           f"(0 to {width - 1}).")
    mask = np.zeros(width, dtype=bool)
    mask[args.mask_channels] = True
    _check_observed(data, mask)
    filled = _fill_all(model, data.sequences, mask, args)
    np.savez(output, **{f"sequence_{i}": f for i, f in enumerate(filled)})
    if args.picture:
        from deepbelief.plotting import plot_joint_angles

        names = (record.get("sequence") or {}).get("channels")
        index = np.flatnonzero(mask)
        plot_joint_angles({"true": data.sequences[0][:, index], "filled in": filled[0][:, index]},
                          args.picture, channels=range(min(6, len(index))),
                          channel_names=None if names is None else [names[i] for i in index],
                          title="missing channels of the first sequence")
    n = len(filled)
    print(f"deepbelief fill-in: {n} sequence{'s' if n != 1 else ''} of {data.name}, channels "
          f"{_ranges(args.mask_channels)} missing in every frame, filled in {_HOW[args.method]}")
    print(f"  {_fill_in_error(model, data.sequences, filled, mask)}")
    for path in (output, args.picture):
        if path:
            print(f"  wrote {path}")
    return EXIT_OK


def _fill_all(model: SequenceCRBM, sequences: list, mask: np.ndarray, args) -> list:
    """Every sequence filled in; values bounded to the training range, which the model
    warns of per sequence, are told once for all of them (other warnings pass as they are)."""
    from deepbelief.exceptions import SequenceRangeWarning

    filled, bounded = [], []
    for sequence in sequences:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            filled.append(model.fill_in(sequence, mask, n_gibbs=args.n_gibbs,
                                        random_state=args.seed, method=args.method))
        for warning in caught:
            if issubclass(warning.category, SequenceRangeWarning):
                bounded.append(warning.message)
            else:
                warnings.warn_explicit(warning.message, warning.category, warning.filename,
                                       warning.lineno)
    if bounded:
        warnings.warn(f"{len(bounded)} of {len(sequences)} sequences had filled-in values "
                      f"bounded to their channel's range; the first: {bounded[0]}",
                      SequenceRangeWarning, stacklevel=2)
    return filled


def _check_observed(data: SequenceData, mask: np.ndarray) -> None:
    """Refuse NaN or infinite values in the channels that ``--mask-channels`` leaves out."""
    for i, sequence in enumerate(data.sequences):
        frames, channels = np.nonzero(~np.isfinite(sequence) & ~mask)
        if len(channels):
            raise CommandError(
                f"sequence {i} of {data.name} holds NaN or infinite values in channels "
                f"{_ranges(sorted(set(channels.tolist())))} (first in frame {frames[0]}), "
                "which --mask-channels does not name: add them to --mask-channels (they are "
                "then filled in), or give data whose other channels are complete.")


def _fill_in_error(model: SequenceCRBM, sequences: list, filled: list, mask) -> str:
    """The error of the filled-in values against the data's own (where it holds them) and
    that of the channels' training means."""
    truth = np.concatenate([s[:, mask] for s in sequences])
    known = np.isfinite(truth)
    if not known.any():
        return "the data holds no values of these channels to compare the estimates with"
    estimate = np.concatenate([f[:, mask] for f in filled])
    means = np.broadcast_to(model.mean_[mask], truth.shape)
    rmse = float(np.sqrt(np.mean((estimate[known] - truth[known]) ** 2)))
    baseline = float(np.sqrt(np.mean((means[known] - truth[known]) ** 2)))
    where = "" if known.all() else f" (the {int(known.sum())} values the data holds)"
    return (f"root mean squared error of the filled-in values{where}: {rmse:.4g} (the "
            f"channels' training means: {baseline:.4g})")


def _ranges(channels: list[int]) -> str:
    """``[3, 4, 5, 9]`` -> ``'3-5,9'``."""
    runs: list[list[int]] = []
    for channel in channels:
        if runs and runs[-1][1] == channel - 1:
            runs[-1][1] = channel
        else:
            runs.append([channel, channel])
    return ",".join(f"{a}-{b}" if b > a else str(a) for a, b in runs)
