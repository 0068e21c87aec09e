"""The checkpoint arguments of an estimator's ``fit``: their checks, the parameters a
checkpoint records (as JSON data), and the opening of the checkpoint file (read back and
checked against the parameters and the data's digest with ``resume``)."""

from __future__ import annotations

import json
import logging
import numbers
import os
from pathlib import Path

import numpy as np
import torch

from deepbelief.estimators._input import sparse_matrix
from deepbelief.estimators._large_input import LargeInput
from deepbelief.training.checkpoint import TrainingCheckpoint, data_digest

__all__ = ["check_checkpoint_args", "checkpoint_params", "json_param", "open_checkpoint"]

log = logging.getLogger("deepbelief")


#: The key under which :func:`json_param` keeps a dict whose keys are not all strings,
#: as ``[key, value]`` pairs (``params_from_record`` rebuilds the dict).
DICT_ITEMS = "__dict_items__"


def json_param(name: str, value):
    """A parameter value as JSON-friendly data (the file format checks the rest)."""
    if name == "callbacks":
        return None  # code, not data: a loaded model has no callbacks
    if isinstance(value, torch.device):
        return str(value)
    if name == "random_state" and isinstance(value, np.random.RandomState):
        return None  # a fitted model's generator state is spent; None keeps the file valid
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, dict) and not all(isinstance(key, str) for key in value):
        # e.g. class_weight={0: 1.0, 1: 5.0}: JSON objects have string keys only
        return {DICT_ITEMS: [[_plain(key), item] for key, item in value.items()]}
    return value


#: Parameters that do not change the trained model: a resumed fit may give others.
_NOT_CHECKPOINTED = ("callbacks", "verbose")


#: What :func:`_plain` returns for a value JSON cannot hold.
_NOT_JSON = object()


def _plain(value):
    """A parameter as plain JSON data (tuples as lists, numpy scalars as numbers), or
    ``_NOT_JSON`` when JSON cannot hold it (e.g. a callable optimizer)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (list, tuple)):
        items = [_plain(v) for v in value]
        return _NOT_JSON if any(v is _NOT_JSON for v in items) else items
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return _NOT_JSON
    return value


def checkpoint_params(estimator) -> dict:
    """The parameters a checkpoint records, that a resumed fit must repeat: all those that
    JSON can hold, except ``verbose`` and ``callbacks``."""
    params = {}
    for name, value in estimator.get_params(deep=False).items():
        plain = _plain(json_param(name, value))
        if name not in _NOT_CHECKPOINTED and plain is not _NOT_JSON:
            params[name] = plain
    return params


def check_checkpoint_args(checkpoint, checkpoint_every, resume) -> None:
    """Check ``fit``'s ``checkpoint``, ``checkpoint_every`` and ``resume``."""
    if (isinstance(checkpoint_every, bool) or not isinstance(checkpoint_every, numbers.Integral)
            or checkpoint_every < 1):
        raise ValueError(f"checkpoint_every must be a positive integer (epochs), got "
                         f"{checkpoint_every!r}.")
    if not isinstance(resume, (bool, np.bool_)):
        raise ValueError(f"resume must be True or False, got {resume!r}.")
    if checkpoint is None:
        if resume:
            raise ValueError("resume=True needs checkpoint=<path>, the file to resume from.")
        return
    if not isinstance(checkpoint, (str, os.PathLike)):
        raise ValueError(f"checkpoint must be a path (str or os.PathLike), got {checkpoint!r}.")
    path = Path(checkpoint)
    if path.is_dir():
        raise ValueError(f"checkpoint={str(checkpoint)!r} is a folder; give a file path.")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"the folder of checkpoint={str(checkpoint)!r} does not "
                                "exist; create it first.")


def open_checkpoint(estimator, checkpoint, *, every: int, resume: bool,
                     generator: torch.Generator, X: np.ndarray, y=None
                     ) -> TrainingCheckpoint | None:
    """The checkpoint of a fit (None without ``checkpoint``), after the checks.

    With ``resume`` and an existing file, the file is read and checked against the
    estimator's parameters and the digest of ``X`` (as the float32 array training uses)
    and ``y``; ``generator`` then continues from its saved state, and the saved state is
    the checkpoint's ``resumed``. Without a file, training starts afresh.
    """
    if checkpoint is None:
        return None
    if isinstance(X, LargeInput):  # read chunk by chunk, the same digest as in memory
        return _checkpoint(estimator, checkpoint, every, resume, generator, X.digest(y))
    arrays = [np.ascontiguousarray(X, dtype=np.float32)] if not sparse_matrix(X) else [
        X.indptr.astype(np.int64), X.indices.astype(np.int64), X.data.astype(np.float32)]
    extra = None if not sparse_matrix(X) else ["csr", list(X.shape)]
    if y is not None:
        y = np.asarray(y)
        if y.dtype.kind == "O":  # labels of any type: their values, not their addresses
            extra = [extra, y.shape, y.tolist()] if extra else [y.shape, y.tolist()]
        else:
            arrays.append(y)
    return _checkpoint(estimator, checkpoint, every, resume, generator,
                       data_digest(*arrays, extra=extra))


def _checkpoint(estimator, checkpoint, every: int, resume: bool, generator: torch.Generator,
                digest: str) -> TrainingCheckpoint:
    """The checkpoint of :func:`open_checkpoint` for data of ``digest``."""
    ckpt = TrainingCheckpoint(
        checkpoint, kind=type(estimator).__name__, params=checkpoint_params(estimator),
        data_sha256=digest, generator=generator, every=every,
        defaults=checkpoint_params(type(estimator)()),
    )
    ckpt.remove_stale_temporaries()
    if resume:
        saved = ckpt.read()
        if saved is None:
            log.info("No checkpoint at %s: training starts from the beginning.", checkpoint)
        else:
            generator.set_state(saved["generator"])
            log.info("Resuming from the checkpoint %s (%s).", checkpoint, saved["stage"])
    return ckpt
