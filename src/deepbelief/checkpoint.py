"""Training checkpoints: any nested training state, saved atomically without pickle.

A training state is a tree of dicts, lists and tuples whose leaves are tensors, numpy
arrays, numbers, strings, booleans or None: model weights, ``optimizer.state_dict()``,
persistent chains, ``torch.Generator.get_state()``, the loop position and history. It is
stored in the model file format of :mod:`deepbelief.serialization` (safetensors + JSON,
checksummed, written atomically), with model type ``"checkpoint:<kind>"``, so a crash
during a save never destroys the previous checkpoint, and loading executes nothing.

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

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import serialization
from .exceptions import ModelFileError

__all__ = ["flatten_state", "load_checkpoint", "save_checkpoint", "unflatten_state"]

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
