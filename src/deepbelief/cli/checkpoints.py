"""``deepbelief train --checkpoint``: the checks before training, what a checkpoint file
says (read from its header, without the tensors), and what an interrupted or resumed run
tells the user.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from deepbelief.exceptions import ModelFileError
from deepbelief.io.modelfile import describe

__all__ = [
    "check_checkpoint_target",
    "checkpoint_position",
    "checkpoint_state",
    "fit_resumable",
]

log = logging.getLogger("deepbelief")

_PHASES = {"finetune": "fine-tuning", "updown": "up-down fine-tuning"}


def checkpoint_state(path: str | Path) -> tuple[str, dict] | None:
    """The estimator type and the saved state of a training checkpoint, read from its
    header only (:func:`~deepbelief.io.modelfile.describe`: no tensors are read); None when
    ``path`` holds no checkpoint."""
    try:
        header = describe(path)
    except (OSError, ModelFileError):
        return None
    kind = header["model_type"]
    state = header["config"].get("state")
    if not kind.startswith("checkpoint:") or not isinstance(state, dict):
        return None
    return kind.removeprefix("checkpoint:"), state


def checkpoint_position(state: dict, estimator: str) -> str:
    """Where a checkpoint's training stands: 'after epoch 3 of pretraining layer 2', 'at
    the start of fine-tuning', 'at the end of training'."""
    stage = state.get("stage")
    if stage == "finished":
        return "at the end of training (every phase finished)"
    position = state.get("position")
    if stage != "pretrain":
        where = _PHASES.get(stage, str(stage))
    elif estimator == "RBM":
        where = "training"
    elif isinstance(position, dict) and "layer" in position:
        where = f"pretraining layer {int(position['layer']) + 1}"
    else:
        where = "pretraining the top layer"
    current = state.get("current")
    if isinstance(current, dict) and "epoch" in current:
        return f"after epoch {int(current['epoch'])} of {where}"
    return f"at the start of {where}"


def check_checkpoint_target(path: str | None, estimator: type) -> None:
    """Before any data is loaded: refuse a ``--checkpoint`` file that is not a training
    checkpoint of ``estimator`` (a trained model, any other file), as ``fit`` would."""
    if path is None:
        return
    from deepbelief.training.checkpoint import TrainingCheckpoint

    TrainingCheckpoint(path, kind=estimator.__name__, params={}, data_sha256="",
                       generator=None)


def _resume_message(path: str, estimator: str) -> str:
    saved = checkpoint_state(path)
    if saved is None:
        return f"no checkpoint at {path} yet: training starts from the beginning"
    return f"resuming from {path}: continuing {checkpoint_position(saved[1], estimator)}"


def _interrupted(path: str | None, estimator: str, since: int | None) -> str:
    """What an interrupted ``train`` says: where its checkpoint stands, or that the run is
    lost. ``since``: the checkpoint file's modification time before this run (ns)."""
    if path is None:
        return ("the run is lost (nothing was saved); give --checkpoint PATH to save the "
                "training state as it goes, and --resume to continue after an interruption")
    saved = checkpoint_state(path)
    if saved is None or os.stat(path).st_mtime_ns == since:
        return (f"no checkpoint was saved in {path} yet (one is saved after every "
                "--checkpoint-every epochs); the run is lost")
    return (f"checkpoint saved {checkpoint_position(saved[1], estimator)} in {path}; "
            "run the same command with --resume to continue")


class _LibraryResumeLine(logging.Filter):
    """Drops ``fit``'s own line on resuming: the command's line says more (where)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(("Resuming from the checkpoint",
                                               "No checkpoint at"))


def fit_resumable(model, X, y, *, checkpoint: str | None, every: int, resume: bool) -> bool:
    """``model.fit`` with the checkpoint options; says where a resumed run continues, and
    turns Ctrl-C into a :class:`KeyboardInterrupt` whose message says what was saved.
    Returns whether the run continued a checkpoint."""
    estimator = type(model).__name__
    resumed = resume and checkpoint is not None and checkpoint_state(checkpoint) is not None
    if resume:
        log.info("%s", _resume_message(checkpoint, estimator))
    since = (os.stat(checkpoint).st_mtime_ns if checkpoint is not None
             and Path(checkpoint).exists() else None)
    options = {"checkpoint": checkpoint, "checkpoint_every": every, "resume": resume}
    quiet = _LibraryResumeLine()
    log.addFilter(quiet)
    try:
        model.fit(X, **options) if y is None else model.fit(X, y, **options)
    except KeyboardInterrupt:
        raise KeyboardInterrupt(_interrupted(checkpoint, estimator, since)) from None
    finally:
        log.removeFilter(quiet)
    return resumed
