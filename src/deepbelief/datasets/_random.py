"""The random generator of the synthetic data sets."""

from __future__ import annotations

import numpy as np


def as_rng(random_state) -> np.random.Generator:
    """A NumPy generator from ``None``, an int seed or a generator (returned as it is)."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is not None and not isinstance(random_state, (int, np.integer)):
        raise TypeError(
            f"random_state must be None, an int or a numpy Generator, got {random_state!r}"
        )
    return np.random.default_rng(random_state)
