"""What every evaluation function shares: inputs checked and moved to the model's device,
float64 copies of models for accurate sums, and explicit random generators (never a global
random state)."""

from __future__ import annotations

import numbers

import numpy as np
import torch

from deepbelief.core.rbm import RBMModule

Array = np.ndarray | torch.Tensor
RandomState = int | np.random.Generator | np.random.RandomState | torch.Generator | None

def _param_device_dtype(rbm: RBMModule) -> tuple[torch.device, torch.dtype]:
    return rbm.weight.device, rbm.weight.dtype


def _wide_device(device: torch.device) -> torch.device:
    """Where float64 work can run: ``device`` itself, or the CPU for MPS (no float64)."""
    return torch.device("cpu") if device.type == "mps" else device


def _float64_copy(rbm: RBMModule) -> RBMModule:
    """A float64 copy of ``rbm`` (same unit types) for exact or accurate evaluation."""
    device = _wide_device(rbm.weight.device)
    copy = RBMModule(rbm.n_visible, rbm.n_hidden, rbm.visible, rbm.hidden,
                     n_context=rbm.n_context, device=device, dtype=torch.float64)
    copy.load_state_dict(rbm.state_dict())  # converts to float64
    return copy.requires_grad_(False)


def _as_input(
    X: Array,
    rbm: RBMModule,
    name: str = "X",
    *,
    device: torch.device | None = None,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """``X`` as a (n_samples, n_visible) tensor on the rbm's (or the given) device/dtype."""
    p_device, p_dtype = _param_device_dtype(rbm)
    X = torch.as_tensor(X).detach().to(device=device or p_device, dtype=dtype or p_dtype)
    if X.ndim != 2 or X.shape[1] != rbm.n_visible:
        raise ValueError(
            f"{name} must have shape (n_samples, {rbm.n_visible}) to match the RBM's visible "
            f"layer, got {tuple(X.shape)}."
        )
    if X.shape[0] == 0:
        raise ValueError(f"{name} has no samples.")
    if not bool(torch.isfinite(X).all()):
        raise ValueError(f"{name} contains NaN or infinite values.")
    return X


def _make_generator(random_state: RandomState, device: torch.device) -> torch.Generator:
    """A ``torch.Generator`` on ``device``: seeded from an int, drawn from a numpy generator,
    taken as is, or (None) seeded from fresh OS entropy -- never any global RNG."""
    if isinstance(random_state, torch.Generator):
        if torch.device(random_state.device).type != device.type:
            raise ValueError(
                f"random_state is a torch.Generator on {random_state.device}, but the RBM's "
                f"parameters are on {device}; pass a generator on that device or an int seed."
            )
        return random_state
    if random_state is None:
        seed = int(np.random.default_rng().integers(2**62))
    elif isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        seed = int(random_state)
    elif isinstance(random_state, np.random.Generator):
        seed = int(random_state.integers(2**62))
    elif isinstance(random_state, np.random.RandomState):
        seed = int(random_state.randint(np.iinfo(np.int32).max))
    else:
        raise ValueError(
            "random_state must be None, an int, a numpy Generator/RandomState or a "
            f"torch.Generator, got {random_state!r}."
        )
    return torch.Generator(device=device).manual_seed(seed)
