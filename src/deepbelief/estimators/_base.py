"""What every deepbelief estimator shares: devices, random streams, input checks, saving."""

from __future__ import annotations

import logging
import numbers
import sys
from pathlib import Path

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted, validate_data

from .. import serialization
from ..units import unit_type

log = logging.getLogger("deepbelief")

_MODEL_TYPES: dict[str, type] = {}


def resolve_device(device: str | torch.device) -> torch.device:
    """``'auto'`` picks CUDA when available, else the CPU; anything else is checked."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device={device!r} is not a valid torch device ('cpu', 'cuda', "
                         "'cuda:1', 'auto').") from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was requested but CUDA is not available here; "
                         "use device='cpu' or 'auto'.")
    return resolved


def make_generator(random_state, device: torch.device) -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded from ``random_state``.

    An int seeds it directly; a ``numpy.random.RandomState`` draws a seed from itself; None
    takes fresh OS entropy (never any global RNG).
    """
    if random_state is None:
        seed = int(np.random.default_rng().integers(2**62))
    elif isinstance(random_state, numbers.Integral):
        seed = int(random_state)
    elif isinstance(random_state, np.random.RandomState):
        seed = int(random_state.randint(np.iinfo(np.int32).max))
    else:
        raise ValueError(f"random_state must be None, an int or a numpy RandomState, "
                         f"got {random_state!r}.")
    return torch.Generator(device=device).manual_seed(seed)


def per_layer(value, n_layers: int, name: str) -> list:
    """Broadcast a scalar setting to every layer, or check a per-layer sequence."""
    if isinstance(value, (list, tuple)):
        if len(value) != n_layers:
            raise ValueError(f"{name} has {len(value)} entries but there are {n_layers} "
                             "hidden layers; give one value, or one per layer.")
        return list(value)
    return [value] * n_layers


def check_X(estimator, X, *, reset: bool, units: str | None = None, y=None, **kwargs):
    """``validate_data`` as float32 (or float64 kept for the output dtype) + domain check.

    Returns the validated float32 array (and ``y`` when given).
    """
    kw = {"dtype": [np.float32, np.float64], "ensure_min_samples": 1, **kwargs}
    if y is None:
        X = validate_data(estimator, X, reset=reset, **kw)
    else:
        X, y = validate_data(estimator, X, y, reset=reset, **kw)
    X = np.ascontiguousarray(X, dtype=np.float32)
    if units is not None and X.size:
        message = unit_type(units).check_domain(torch.from_numpy(X))
        if message:
            raise ValueError(f"X does not fit the visible units: {message}")
    return X if y is None else (X, y)


def as_tensor(X: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32)).to(device)


def to_numpy(t: torch.Tensor, dtype=np.float32) -> np.ndarray:
    return t.detach().cpu().numpy().astype(dtype, copy=False)


def epoch_logger(verbose: int, prefix: str):
    """A callback printing one line per epoch when ``verbose`` (to stdout, like sklearn)."""

    def callback(epoch: int, record: dict) -> None:
        if verbose:
            parts = ", ".join(f"{k} = {v:.4g}" for k, v in record.items() if k != "epoch")
            print(f"[{prefix}] epoch {record['epoch']}, {parts}", file=sys.stdout, flush=True)

    return callback


def _json_param(value):
    if isinstance(value, tuple):
        return [_json_param(v) for v in value]
    return value


def _from_json_param(value):
    return tuple(value) if isinstance(value, list) else value


class SaveLoadMixin:
    """``save(path)`` to the safetensors + JSON format, and the registry for ``load``."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("_"):
            _MODEL_TYPES[cls.__name__] = cls

    # Subclasses provide these two, symmetrical, methods.
    def _get_state(self) -> tuple[dict, dict[str, torch.Tensor]]:
        raise NotImplementedError

    def _set_state(self, config: dict, tensors: dict[str, torch.Tensor]) -> None:
        raise NotImplementedError

    def save(self, path: str | Path) -> Path:
        """Write the fitted model to ``path`` (safetensors + JSON; never pickle).

        The write is atomic: an interrupted save leaves any previous file intact.
        """
        check_is_fitted(self)
        config, tensors = self._get_state()
        params = {k: _json_param(v) for k, v in self.get_params(deep=False).items()}
        return serialization.save_file(
            path, model_type=type(self).__name__,
            config={"params": params, "state": config}, tensors=tensors,
        )


def load(path: str | Path, device: str | torch.device | None = None):
    """Load a model saved with ``.save(path)``; returns a fitted estimator.

    The file is fully verified (format, version, checksum) before any model is built, and
    nothing in it is ever executed or unpickled. ``device`` overrides the saved device
    parameter (e.g. load a GPU-trained model on a CPU-only machine with ``device='cpu'``).
    """
    header, tensors = serialization.load_file(path, expected_type=sorted(_MODEL_TYPES))
    cls = _MODEL_TYPES[header["model_type"]]
    config = header["config"]
    params = {k: _from_json_param(v) for k, v in config["params"].items()}
    if device is not None:
        params["device"] = str(device)
    elif "cuda" in str(params.get("device")) and not torch.cuda.is_available():
        params["device"] = "cpu"  # a GPU-trained model still loads on a CPU-only machine
    estimator = cls(**params)
    estimator._set_state(config["state"], tensors)
    return estimator
