"""Layers made of blocks of several unit types, e.g. the top RBM's visible layer of Hinton
et al. (2006): the penultimate layer's Bernoulli units joined with softmax label units."""

from __future__ import annotations

import math

import torch

from deepbelief.core.units import UnitType, unit_type

__all__ = ["Joined"]


class Joined(UnitType):
    """A layer made of consecutive blocks of other unit types, e.g. the top RBM's visible
    layer of Hinton et al. (2006): 500 Bernoulli units joined with 10 softmax label units::

        Joined([(Bernoulli(), 500), (Softmax(), 10)])

    Every method applies each block's unit type to its slice of the last dimension.
    """

    name = "joined"

    def __init__(self, blocks) -> None:
        self.blocks = [(unit_type(u), int(n)) for u, n in blocks]
        if not self.blocks or any(n < 1 for _, n in self.blocks):
            raise ValueError("Joined needs at least one block, each with >= 1 unit.")
        self.size = sum(n for _, n in self.blocks)

    def _check_size(self, n_units: int) -> None:
        if n_units != self.size:
            raise ValueError(f"expected {self.size} units, got {n_units}.")

    def _split(self, x: torch.Tensor):
        self._check_size(x.shape[-1])
        return zip((u for u, _ in self.blocks),
                   torch.split(x, [n for _, n in self.blocks], dim=-1), strict=True)

    def mean(self, field):
        return torch.cat([u.mean(f) for u, f in self._split(field)], dim=-1)

    def sample(self, field, generator):
        return torch.cat([u.sample(f, generator) for u, f in self._split(field)], dim=-1)

    def mean_and_sample(self, field, generator):
        pairs = [u.mean_and_sample(f, generator) for u, f in self._split(field)]
        return torch.cat([m for m, _ in pairs], -1), torch.cat([s for _, s in pairs], -1)

    def base_energy(self, x):
        return sum(u.base_energy(part) for u, part in self._split(x))

    def log_partition(self, field):
        return sum(u.log_partition(f) for u, f in self._split(field))

    def check_domain(self, x, *, tolerance: float = 0.0):
        for u, part in self._split(x):
            message = u.check_domain(part, tolerance=tolerance)
            if message:
                return message
        return None

    def clip(self, x):
        parts = [(part, u.clip(part)) for u, part in self._split(x)]
        return x if all(a is b for a, b in parts) else torch.cat([b for _, b in parts], -1)

    @property
    def binary(self) -> bool:
        return all(u.binary for u, _ in self.blocks)

    @property
    def exact(self) -> bool:
        return all(u.exact for u, _ in self.blocks)

    @property
    def activation(self) -> str:
        kinds = {u.activation for u, _ in self.blocks}
        return kinds.pop() if len(kinds) == 1 else "identity"

    def bias_for_mean(self, mean):
        return torch.cat([u.bias_for_mean(m) for u, m in self._split(mean)], dim=-1)

    def log_conditional(self, x, field):
        return sum(u.log_conditional(part, f)
                   for (u, part), (_, f) in zip(self._split(x), self._split(field), strict=True))

    def random_start(self, shape, generator, *, device=None, dtype=torch.float32):
        *lead, n = shape
        self._check_size(n)
        return torch.cat([u.random_start((*lead, k), generator, device=device, dtype=dtype)
                          for u, k in self.blocks], dim=-1)

    def n_states(self, n_units: int) -> float:
        return math.prod(u.n_states(k) for u, k in self.blocks)

    def states(self, index, n_units, dtype):
        if not math.isfinite(self.n_states(n_units)):
            return super().states(index, n_units, dtype)
        self._check_size(n_units)
        parts = []
        for u, k in self.blocks:  # mixed radix: the first block varies fastest
            radix = int(u.n_states(k))
            parts.append(u.states(index % radix, k, dtype))
            index = index // radix
        return torch.cat(parts, dim=-1)

    def parts(self, n_units: int) -> list[tuple[UnitType, int]]:
        return list(self.blocks)

    @property
    def spec(self):
        return [[u.name, n] for u, n in self.blocks]

    def __repr__(self) -> str:
        return f"Joined({[(u, n) for u, n in self.blocks]!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Joined) and self.blocks == other.blocks

    def __hash__(self) -> int:
        return hash(tuple((type(u), n) for u, n in self.blocks))
