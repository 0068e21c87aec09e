"""Training checkpoints: any nested training state, saved atomically without pickle.

A training state is a tree of dicts, lists and tuples whose leaves are tensors, numpy
arrays, numbers, strings, booleans or None: model weights, ``optimizer.state_dict()``,
persistent chains, ``torch.Generator.get_state()``, the loop position and history. It is
stored in the model file format of :mod:`deepbelief.io.modelfile` (safetensors + JSON,
checksummed, written atomically), with model type ``"checkpoint:<kind>"``, so a crash
during a save never destroys the previous checkpoint, and loading executes nothing.

The estimators' ``fit(..., checkpoint=path, resume=True)`` build on this with
:class:`TrainingCheckpoint` (what a file holds, and the checks before resuming) and
:class:`CheckpointCallback` (the saves during a phase); see ``docs/checkpoints.md``.

>>> import tempfile, pathlib, torch
>>> folder = tempfile.TemporaryDirectory()
>>> path = pathlib.Path(folder.name) / "run.ckpt"
>>> state = {"epoch": 3, "weights": [torch.ones(2)], "opt": {0: {"lr": 0.1}}}
>>> _ = save_checkpoint(path, state, kind="demo")
>>> loaded = load_checkpoint(path, kind="demo")
>>> loaded["epoch"], loaded["opt"], torch.equal(loaded["weights"][0], torch.ones(2))
(3, {0: {'lr': 0.1}}, True)
>>> folder.cleanup()
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import math
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deepbelief.exceptions import ModelFileError
from deepbelief.io import modelfile as serialization
from deepbelief.training.distributed import synchronise
from deepbelief.training.hooks import Callback, PhaseCallbacks
from deepbelief.training.loop import TrainingContext

__all__ = [
    "CheckpointCallback",
    "TrainingCheckpoint",
    "callback_states",
    "data_digest",
    "epoch_end_state",
    "flatten_state",
    "load_callback_states",
    "load_checkpoint",
    "remaining_epochs",
    "save_checkpoint",
    "unflatten_state",
]

#: The layout of an estimator's training checkpoint (see :class:`TrainingCheckpoint`).
LAYOUT_VERSION = 2

#: Which deepbelief versions wrote the earlier layouts.
_LAYOUT_WRITERS = {1: "deepbelief 0.1.0"}

_TAG = "__deepbelief__"


def flatten_state(state: Any) -> tuple[Any, dict[str, torch.Tensor]]:
    """Split a state tree into a JSON-able tree and a flat ``{name: tensor}`` dict.

    Tensors (and numpy arrays) are replaced by references; dicts with non-string keys,
    tuples and non-finite floats are tagged so that :func:`unflatten_state` restores them
    exactly.
    """
    tensors: dict[str, torch.Tensor] = {}

    def walk(node: Any) -> Any:
        if isinstance(node, torch.Tensor):
            name = f"t{len(tensors)}"
            tensors[name] = node.detach().cpu().contiguous()
            return {_TAG: "tensor", "name": name}
        if isinstance(node, np.ndarray):
            name = f"t{len(tensors)}"
            tensors[name] = torch.from_numpy(np.ascontiguousarray(node))
            return {_TAG: "ndarray", "name": name}
        if isinstance(node, dict):
            if all(isinstance(k, str) and k != _TAG for k in node):
                return {k: walk(v) for k, v in node.items()}
            return {_TAG: "dict", "items": [[walk(k), walk(v)] for k, v in node.items()]}
        if isinstance(node, tuple):
            return {_TAG: "tuple", "items": [walk(v) for v in node]}
        if isinstance(node, list):
            return [walk(v) for v in node]
        if isinstance(node, (bool, np.bool_)):
            return bool(node)
        if isinstance(node, (int, np.integer)):
            return int(node)
        if isinstance(node, (float, np.floating)):
            value = float(node)
            return value if math.isfinite(value) else {_TAG: "float", "repr": repr(value)}
        if node is None or isinstance(node, str):
            return node
        raise TypeError(f"cannot checkpoint a {type(node).__name__} ({node!r:.80}).")

    return walk(state), tensors


def unflatten_state(tree: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Inverse of :func:`flatten_state`."""

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(v) for v in node]
        if not isinstance(node, dict):
            return node
        tag = node.get(_TAG)
        if tag is None:
            return {k: walk(v) for k, v in node.items()}
        if tag == "tensor":
            return tensors[node["name"]]
        if tag == "ndarray":
            return tensors[node["name"]].numpy()
        if tag == "dict":
            return {walk(k): walk(v) for k, v in node["items"]}
        if tag == "tuple":
            return tuple(walk(v) for v in node["items"])
        if tag == "float":
            return float(node["repr"])
        raise ModelFileError(f"unknown entry {tag!r} in a checkpoint.")

    return walk(tree)


def save_checkpoint(path: str | os.PathLike[str], state: Any, *, kind: str) -> Path:
    """Write ``state`` to ``path`` atomically (the previous file survives a crash)."""
    tree, tensors = flatten_state(state)
    return serialization.save_file(path, model_type=f"checkpoint:{kind}",
                                   config={"state": tree}, tensors=tensors)


def load_checkpoint(path: str | os.PathLike[str], *, kind: str) -> Any:
    """Read and verify a checkpoint written by :func:`save_checkpoint` for ``kind``."""
    header, tensors = serialization.load_file(path, expected_type=f"checkpoint:{kind}")
    try:
        return unflatten_state(header["config"]["state"], tensors)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: corrupted checkpoint ({exc}).") from exc


# -- estimators' training checkpoints -------------------------------------------------------
def data_digest(*arrays: np.ndarray, extra: Any = None) -> str:
    """SHA-256 of the arrays' dtypes, shapes and bytes, and of ``extra`` (JSON data).

    A checkpoint records the digest of the data it was trained on, so that a run resumed on
    other data is refused. Object arrays have no stable bytes: pass them in ``extra``.
    """
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        if array.dtype.kind == "O":
            raise TypeError("data_digest: give object arrays as extra (their bytes are "
                            "addresses, not values).")
        digest.update(json.dumps([array.dtype.str, list(array.shape)]).encode())
        digest.update(array.reshape(-1).view(np.uint8))
    digest.update(json.dumps(extra, sort_keys=True, default=repr).encode())
    return digest.hexdigest()


def callback_states(callbacks: Iterable) -> list:
    """``state_dict()`` of every callback that has one (None for the others), by position."""
    states: list = []
    for callback in callbacks:
        method = getattr(callback, "state_dict", None)
        if callable(method) and callable(getattr(callback, "load_state_dict", None)):
            states.append({"type": type(callback).__qualname__, "state": method()})
        else:
            states.append(None)
    return states


def load_callback_states(callbacks: Iterable, states: Iterable) -> None:
    """Inverse of :func:`callback_states`: a saved state goes back to the callback at the
    same position when it is of the same type (other callbacks start afresh)."""
    for callback, saved in zip(callbacks, states, strict=False):
        if saved is not None and type(callback).__qualname__ == saved["type"]:
            callback.load_state_dict(saved["state"])


def epoch_end_state(context: TrainingContext, *, stopped: bool, callbacks: Iterable = ()
                    ) -> dict:
    """The state of a training loop after an epoch (in ``on_epoch_end``).

    ``module`` (weights), ``optimizer``, ``objective`` (e.g. persistent chains, sparsity
    statistics), ``generator``, ``epoch`` (epochs done), ``history``, ``stopped`` (a
    callback asked the loop to stop) and ``callbacks`` (their states): the keys of
    :meth:`deepbelief.training.greedy.LayerTrainer.state_dict` and a few more.
    """
    objective, generator = context.objective, context.generator
    return {
        "module": context.module.state_dict(),
        "optimizer": context.optimizer.state_dict(),
        "objective": objective.state_dict() if hasattr(objective, "state_dict") else {},
        "generator": None if generator is None else generator.get_state(),
        "epoch": context.epoch + 1,
        "history": list(context.history),
        "stopped": bool(stopped),
        "callbacks": callback_states(callbacks),
    }


def _a(name: str) -> str:
    """``name`` with its article as read aloud: 'an RBM', 'a DBNClassifier'."""
    return f"{'an' if name[:1] in 'AEFHILMNORSX' else 'a'} {name}"


class TrainingCheckpoint:
    """The checkpoint file of one ``fit``: what it holds, and the checks before resuming.

    Every save writes the whole state, atomically (:func:`save_checkpoint`, kind = the
    estimator's class name)::

        layout        LAYOUT_VERSION
        params        the estimator's parameters (JSON data), to be repeated on resume
        data_sha256   data_digest() of the training data
        **position()  where training stands, from :meth:`FitPlan.position
                      <deepbelief.training.plan.FitPlan.position>`: stage (the phase's
                      name, or 'finished'), phase (its index), done (the finished
                      phases' states), position (the phase in progress's)
        current       the loop in progress (epoch_end_state()), or None at a boundary
        generator     the random stream's state at the time of the save

    Parameters
    ----------
    path : str or path-like
        The file.
    kind : str
        The estimator's class name.
    params : dict
        JSON-able parameters; a resumed fit must give the same.
    defaults : dict, optional
        The parameters' defaults: a parameter that a checkpoint does not record (it was
        written by a version without it) is read as its default, which is how that
        version trained.
    data_sha256 : str
        :func:`data_digest` of the training data; a resumed fit must give the same.
    generator : torch.Generator or None
        The training run's random stream.
    every : int, default 1
        Save after every ``every`` epochs of a phase (see :class:`CheckpointCallback`).

    Attributes
    ----------
    position : callable
        ``position() -> dict``: where training stands, saved with every checkpoint (the
        fit plan sets it; by default nothing).
    resumed : dict or None
        The state read by :meth:`read`.

    Raises
    ------
    ValueError
        If ``path`` holds a file that is not a checkpoint of a ``kind`` (a trained model,
        another estimator's checkpoint, any other file): checkpoints never overwrite it.
    """

    def __init__(self, path: str | os.PathLike[str], *, kind: str, params: dict,
                 data_sha256: str, generator: torch.Generator | None, every: int = 1,
                 defaults: dict | None = None) -> None:
        self.path = Path(path)
        self.kind = kind
        self.params = params
        self.defaults = dict(defaults or {})
        self.data_sha256 = data_sha256
        self.generator = generator
        self.every = every
        self.position: Callable[[], dict] = dict
        self.resumed: dict | None = None
        self._check_target()

    def _check_target(self) -> None:
        """Refuse a path whose file is not a checkpoint of this estimator type: a trained
        model (or any other file) there must never be overwritten by checkpoints."""
        if not self.path.is_file():
            return
        try:
            found = serialization.describe(self.path)["model_type"]
        except (ModelFileError, OSError, KeyError):
            found = None
        if found == f"checkpoint:{self.kind}":
            return
        what = ("a file that is not a deepbelief file" if found is None
                else f"a checkpoint of {_a(found.removeprefix('checkpoint:'))}"
                if found.startswith("checkpoint:") else f"a trained {found} model")
        raise ValueError(f"checkpoint={str(self.path)!r} is {what}, not a training "
                         f"checkpoint of {_a(self.kind)}; checkpoints would overwrite it. Give "
                         "checkpoint= another path (e.g. 'run.ckpt'); the file stays as it is.")

    def _refuse(self, problem: str, error: type[Exception] = ValueError,
                advice: str = "") -> Exception:
        advice = advice or ("Give the same parameters and data to resume it, or pass "
                            "resume=False to train from the start (this checkpoint is then "
                            "overwritten).")
        return error(f"Cannot resume from the checkpoint {self.path}: {problem}. {advice}")

    def read(self) -> dict | None:
        """Load and check the file; None when there is none (training starts afresh).

        Raises
        ------
        ModelFileError
            The file is not a checkpoint of this estimator type (another estimator's, a
            model file), or it is corrupted.
        ValueError
            It was written with other parameters (they are named) or on other data.
        """
        if not self.path.exists():
            return None
        try:
            state = load_checkpoint(self.path, kind=self.kind)
        except ModelFileError as exc:
            problem = str(exc).removeprefix(f"{self.path}: ").rstrip(".")
            raise self._refuse(problem, ModelFileError, "Pass resume=False to train from the "
                               "start (this checkpoint is then overwritten).") from exc
        if not isinstance(state, dict):
            raise self._refuse("it is not a training checkpoint", ModelFileError)
        layout = state.get("layout")
        if layout != LAYOUT_VERSION:
            written = _LAYOUT_WRITERS.get(layout, "another version of deepbelief")
            raise self._refuse(
                f"it has checkpoint layout {layout!r}, written by {written}, and this version "
                f"reads layout {LAYOUT_VERSION}", ModelFileError,
                f"Finish that run with {written}, or pass resume=False to train from the "
                "start (this checkpoint is then overwritten).")
        saved = {**{k: v for k, v in self.defaults.items() if k in self.params},
                 **state.get("params", {})}
        differ = [f"{name}={saved.get(name)!r} in the checkpoint, {self.params.get(name)!r} "
                  "now" for name in sorted(set(saved) | set(self.params))
                  if saved.get(name) != self.params.get(name)]
        if differ:
            raise self._refuse("it was written with other parameters ("
                               + "; ".join(differ) + ")")
        if state.get("data_sha256") != self.data_sha256:
            raise self._refuse("it was trained on other data (the SHA-256 of X and y, "
                               "their values and shapes, does not match)")
        self.resumed = state
        return state

    def remove_stale_temporaries(self) -> list[Path]:
        """Delete the temporary files of saves that never finished (a process killed while
        writing leaves one next to the checkpoint); returns their paths."""
        removed = []
        for path in self.path.parent.glob(f".{glob.escape(self.path.name)}.*.tmp"):
            with contextlib.suppress(OSError):
                path.unlink()
                removed.append(path)
        return removed

    def save(self, current: dict | None = None) -> Path:
        """Write the header, :attr:`position`, ``current`` and the generator's state.

        In a process group, every process calls it (the state gathers their persistent
        chains), rank 0 alone writes, and all wait for the file before going on."""
        state = {
            "layout": LAYOUT_VERSION, "params": self.params, "data_sha256": self.data_sha256,
            **self.position(), "current": current,
            "generator": None if self.generator is None else self.generator.get_state(),
        }
        try:
            return save_checkpoint(self.path, state, kind=self.kind)  # rank 0 writes
        except TypeError as exc:
            raise TypeError(f"{exc} A callback's state_dict() may hold only tensors, "
                            "numbers, strings, lists and dicts.") from exc
        finally:
            synchronise()


class CheckpointCallback(Callback):
    """Runs a phase's callbacks and saves a checkpoint after every ``every`` epochs.

    It wraps the :class:`~deepbelief.training.callbacks.PhaseCallbacks` of an estimator's phase, so
    that each save sees the epoch as the callbacks left it (their metrics in the record,
    early stopping's counters, whether one of them stopped the phase).

    Parameters
    ----------
    checkpoint : TrainingCheckpoint
    callbacks : PhaseCallbacks
    restore : list or None
        The callbacks' saved states (``current["callbacks"]``) when the phase resumes:
        put back right after their ``on_train_begin``, in the first phase only.
    """

    def __init__(self, checkpoint: TrainingCheckpoint, callbacks: PhaseCallbacks,
                 restore: list | None = None) -> None:
        self.checkpoint = checkpoint
        self.callbacks = callbacks
        self.restore = restore

    def on_train_begin(self, context: TrainingContext) -> None:
        self.callbacks.on_train_begin(context)
        if self.restore is not None:
            load_callback_states(self.callbacks.callbacks, self.restore)
            self.restore = None

    def on_epoch_begin(self, context: TrainingContext) -> None:
        self.callbacks.on_epoch_begin(context)

    def on_epoch_end(self, context: TrainingContext) -> bool:
        stop = bool(self.callbacks.on_epoch_end(context))
        if (context.epoch + 1) % self.checkpoint.every == 0:
            self.checkpoint.save(epoch_end_state(context, stopped=stop,
                                                 callbacks=self.callbacks.callbacks))
        return stop

    def on_train_end(self, context: TrainingContext) -> None:
        self.callbacks.on_train_end(context)


def remaining_epochs(current: Mapping[str, Any], planned: int) -> int:
    """Epochs left of a phase resumed from ``current`` (none if a callback stopped it)."""
    return 0 if current.get("stopped") else max(planned - int(current["epoch"]), 0)
