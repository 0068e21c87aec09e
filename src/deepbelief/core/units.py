"""Unit types for Boltzmann machine layers.

Every layer of an RBM is a vector of units of one type. We write the joint energy of an
exponential-family harmonium as

    E(v, h) = phi_v(v) - a·v + phi_h(h) - b·h - vᵀ W h

so that a unit type is fully described by its *base energy* ``phi(x)`` (a sum over units)
and its *log-partition* ``A(f) = log ∫ exp(-phi(x) + f x) dx`` for a total input ``f``.
Conditional means and samples follow from the same two functions. Keeping this interface
narrow (``mean``, ``sample``, ``base_energy``, ``log_partition``, ``check_domain``) means
every unit type works with every layer, sampler and estimator.

What callers would otherwise learn by testing a unit's class, they ask the unit: the bias
whose mean equals a data mean (:meth:`UnitType.bias_for_mean`), a random state to start a
chain from (:meth:`UnitType.random_start`), whether its states can be enumerated and which
they are (:meth:`UnitType.n_states`, :meth:`UnitType.states`), ``log p(x | f)``
(:meth:`UnitType.log_conditional`), whether every unit is an independent 0/1 unit
(:attr:`UnitType.binary`) and whether :meth:`UnitType.sample` draws exactly from the
distribution that :meth:`UnitType.log_partition` normalises (:attr:`UnitType.exact`).

All tensors have shape ``(batch, n_units)``; functions are element-wise except
:class:`Softmax`, whose units form one one-of-K group.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = [
    "Bernoulli",
    "Gaussian",
    "Joined",
    "ReLU",
    "Softmax",
    "UnitType",
    "unit_type",
]

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
#: How far from the edge of the domain :meth:`UnitType.bias_for_mean` clips a mean.
_CLIP = 1e-3


class UnitType:
    """Base class of a unit type.

    Subclasses implement ``mean``, ``sample``, ``base_energy``, ``log_partition`` and
    ``bias_for_mean``; the other methods have defaults that hold for every unit type.
    """

    name: str = ""
    #: The activation used when the layer becomes part of a feed-forward network.
    activation: str = "identity"
    #: Every unit is an independent {0, 1} unit with ``p(x=1 | f) = sigmoid(f)``.
    binary: bool = False
    #: :meth:`sample` draws exactly from ``exp(-phi(x) + f·x - A(f))`` (False where the
    #: sampler is an approximation, as for NReLU units).
    exact: bool = True

    def mean(self, field: torch.Tensor) -> torch.Tensor:
        """``E[x | f]`` for total input ``field``."""
        raise NotImplementedError

    def sample(self, field: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """A sample of ``x | f``."""
        raise NotImplementedError

    def mean_and_sample(
        self, field: torch.Tensor, generator: torch.Generator | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Both ``E[x | f]`` and a sample; unit types override it to share work."""
        return self.mean(field), self.sample(field, generator)

    def base_energy(self, x: torch.Tensor) -> torch.Tensor:
        """``phi(x)`` summed over units: shape ``(batch,)``."""
        raise NotImplementedError

    def log_partition(self, field: torch.Tensor) -> torch.Tensor:
        """``A(f)`` summed over units: shape ``(batch,)``."""
        raise NotImplementedError

    def check_domain(self, x: torch.Tensor) -> str | None:
        """Return a message if ``x`` lies outside the unit's states, else ``None``."""
        return None

    def bias_for_mean(self, mean: torch.Tensor) -> torch.Tensor:
        """The bias (field) whose conditional mean is ``mean`` (..., n_units), e.g. the
        visible bias that makes an untrained RBM's visible means equal the data's means
        (Hinton's practical guide, §8). Means at the edge of the domain are clipped to
        ``1e-3`` from it."""
        raise NotImplementedError

    def log_conditional(self, x: torch.Tensor, field: torch.Tensor) -> torch.Tensor:
        """``log p(x | f) = -phi(x) + f·x - A(f)`` summed over units: shape ``(batch,)``.

        A density for real-valued units, a probability for discrete ones.
        """
        return -self.base_energy(x) + (field * x).sum(-1) - self.log_partition(field)

    def random_start(self, shape: tuple[int, ...], generator: torch.Generator | None, *,
                     device: torch.device | str | None = None,
                     dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Random states of shape ``shape`` to start a Gibbs chain from: uniform noise on
        [0, 1) by default (real-valued units), fair coins for binary units."""
        return torch.rand(shape, generator=generator, device=device, dtype=dtype)

    def n_states(self, n_units: int) -> float:
        """How many joint states ``n_units`` units have: ``math.inf`` unless discrete."""
        return math.inf

    def states(self, index: torch.Tensor, n_units: int, dtype: torch.dtype) -> torch.Tensor:
        """The joint states numbered ``index`` (int64, shape (m,)) of ``n_units`` units, as
        a (m, n_units) tensor; numbering runs from 0 to ``n_states(n_units) - 1``.

        Raises
        ------
        ValueError
            If the states cannot be enumerated (``n_states`` is infinite).
        """
        raise ValueError(f"the states of {self!r} units cannot be enumerated.")

    def parts(self, n_units: int) -> list[tuple[UnitType, int]]:
        """The layer's blocks of one unit type each, as ``(unit type, size)`` pairs."""
        return [(self, n_units)]

    @property
    def spec(self):
        """A JSON-able description that :func:`unit_type` rebuilds this unit type from."""
        return self.name

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other)

    def __hash__(self) -> int:
        return hash(type(self))


def _uniform(field: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.rand(field.shape, generator=generator, device=field.device, dtype=field.dtype)


def _normal(field: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.randn(field.shape, generator=generator, device=field.device, dtype=field.dtype)


class Bernoulli(UnitType):
    """Binary units in {0, 1}: ``p(x=1 | f) = sigmoid(f)``, ``A(f) = softplus(f)``."""

    name = "bernoulli"
    activation = "sigmoid"
    binary = True

    def mean(self, field: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(field)

    def sample(self, field: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        return self.mean_and_sample(field, generator)[1]

    def mean_and_sample(self, field, generator):
        p = torch.sigmoid(field)  # one sigmoid for both: this sits in the training hot loop
        return p, (_uniform(field, generator) < p).to(field.dtype)

    def base_energy(self, x: torch.Tensor) -> torch.Tensor:
        return x.new_zeros(x.shape[:-1])

    def log_partition(self, field: torch.Tensor) -> torch.Tensor:
        return F.softplus(field).sum(-1)

    def bias_for_mean(self, mean: torch.Tensor) -> torch.Tensor:
        p = mean.clamp(_CLIP, 1 - _CLIP)
        return torch.log(p) - torch.log1p(-p)

    def log_conditional(self, x: torch.Tensor, field: torch.Tensor) -> torch.Tensor:
        return (x * F.logsigmoid(field) + (1 - x) * F.logsigmoid(-field)).sum(-1)

    def random_start(self, shape, generator, *, device=None, dtype=torch.float32):
        return (super().random_start(shape, generator, device=device, dtype=dtype) < 0.5).to(dtype)

    def n_states(self, n_units: int) -> float:
        return 2**n_units

    def states(self, index: torch.Tensor, n_units: int, dtype: torch.dtype) -> torch.Tensor:
        shifts = torch.arange(n_units, device=index.device, dtype=torch.int64)
        return ((index.unsqueeze(1) >> shifts) & 1).to(dtype)  # bit j = unit j

    def check_domain(self, x: torch.Tensor) -> str | None:
        lo, hi = float(x.min()), float(x.max())
        if lo < 0.0 or hi > 1.0:
            return (
                f"Bernoulli units take values in [0, 1], but the data range is [{lo:g}, {hi:g}]. "
                "Rescale it (e.g. X / X.max(), or sklearn.preprocessing.MinMaxScaler), or use "
                "Gaussian visible units (visible_units='gaussian') on standardized data."
            )
        return None


class Gaussian(UnitType):
    """Real-valued units of unit variance: ``x | f ~ N(f, 1)``, ``phi(x) = x²/2``.

    Meant for visible data standardized to zero mean and unit variance per feature.
    """

    name = "gaussian"
    activation = "identity"

    def mean(self, field: torch.Tensor) -> torch.Tensor:
        return field

    def sample(self, field: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        return field + _normal(field, generator)

    def base_energy(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * (x * x).sum(-1)

    def log_partition(self, field: torch.Tensor) -> torch.Tensor:
        return (0.5 * field * field + _HALF_LOG_2PI).sum(-1)

    def bias_for_mean(self, mean: torch.Tensor) -> torch.Tensor:
        return mean

    def log_conditional(self, x: torch.Tensor, field: torch.Tensor) -> torch.Tensor:
        return (-0.5 * (x - field) ** 2 - _HALF_LOG_2PI).sum(-1)


class ReLU(UnitType):
    """Noisy rectified linear units (NReLU; Nair & Hinton, 2010).

    An NReLU unit stands for infinitely many binary copies with shared weights and
    offsets ``-0.5, -1.5, -2.5, ...``. Its log-partition is the exact "stepped sigmoid"
    sum ``A(f) = sum_{i>=1} softplus(f - i + 0.5)`` (with ``phi(n) = n²/2`` for ``n`` copies
    on); the mean and the sampler are the paper's approximations ``max(0, f)`` and
    ``max(0, f + N(0, sigmoid(f)))``.
    """

    name = "relu"
    activation = "relu"
    exact = False
    _TERMS = 24  # terms beyond this distance from the kink are < exp(-24)

    def mean(self, field: torch.Tensor) -> torch.Tensor:
        return torch.relu(field)

    def sample(self, field: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        noise = _normal(field, generator) * torch.sigmoid(field).sqrt()
        return torch.relu(field + noise)

    def base_energy(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * (x * x).sum(-1)

    def log_partition(self, field: torch.Tensor) -> torch.Tensor:
        # With m = #{i : f - i + 0.5 > 0}, softplus(t) = t + softplus(-t) turns the m
        # positive terms into the closed form m f - m²/2; the rest decay geometrically.
        m = torch.clamp(torch.floor(field + 0.5), min=0.0)
        k = torch.arange(self._TERMS, device=field.device, dtype=field.dtype)
        f, mm = field.unsqueeze(-1), m.unsqueeze(-1)
        below = F.softplus(-(f - (mm - k) + 0.5)) * (mm - k >= 1)  # i = m, m-1, ...
        above = F.softplus(f - (mm + 1 + k) + 0.5)  # i = m+1, m+2, ...
        total = m * field - 0.5 * m * m + below.sum(-1) + above.sum(-1)
        return total.sum(-1)

    def bias_for_mean(self, mean: torch.Tensor) -> torch.Tensor:
        return mean  # max(0, f) = mean for mean >= 0

    def check_domain(self, x: torch.Tensor) -> str | None:
        if float(x.min()) < 0.0:
            return "rectified linear units take values >= 0, but the data has negative values."
        return None


class Softmax(UnitType):
    """One group of one-of-K units (e.g. class labels): ``p(x=e_k | f) = softmax(f)_k``."""

    name = "softmax"
    activation = "softmax"

    def mean(self, field: torch.Tensor) -> torch.Tensor:
        return torch.softmax(field, dim=-1)

    def sample(self, field: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        index = torch.multinomial(torch.softmax(field, -1), 1, generator=generator)
        return torch.zeros_like(field).scatter_(-1, index, 1.0)

    def base_energy(self, x: torch.Tensor) -> torch.Tensor:
        return x.new_zeros(x.shape[:-1])

    def log_partition(self, field: torch.Tensor) -> torch.Tensor:
        return torch.logsumexp(field, dim=-1)

    def bias_for_mean(self, mean: torch.Tensor) -> torch.Tensor:
        return torch.log(mean.clamp_min(_CLIP))  # softmax(log p) = p when p sums to 1

    def random_start(self, shape, generator, *, device=None, dtype=torch.float32):
        return self.sample(torch.zeros(shape, device=device, dtype=dtype), generator)

    def n_states(self, n_units: int) -> float:
        return n_units

    def states(self, index: torch.Tensor, n_units: int, dtype: torch.dtype) -> torch.Tensor:
        return F.one_hot(index, n_units).to(dtype)

    def check_domain(self, x: torch.Tensor) -> str | None:
        if float(x.min()) < 0.0 or not torch.allclose(x.sum(-1), x.new_ones(())):
            return "softmax units take one-hot (or probability) vectors whose rows sum to 1."
        return None


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

    def check_domain(self, x):
        for u, part in self._split(x):
            message = u.check_domain(part)
            if message:
                return message
        return None

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


_REGISTRY: dict[str, type[UnitType]] = {
    cls.name: cls for cls in (Bernoulli, Gaussian, ReLU, Softmax)
}


def unit_type(spec: str | list | UnitType) -> UnitType:
    """Return the unit type named by ``spec`` ('bernoulli', 'gaussian', 'relu', 'softmax'),
    or the :class:`Joined` type of a list of ``[name, size]`` blocks (the form of
    :attr:`UnitType.spec`).

    >>> unit_type("bernoulli")
    Bernoulli()
    >>> unit_type([["bernoulli", 2], ["softmax", 3]]).spec
    [['bernoulli', 2], ['softmax', 3]]
    """
    if isinstance(spec, UnitType):
        return spec
    if isinstance(spec, list | tuple):
        return Joined([(unit_type(name), int(n)) for name, n in spec])
    try:
        return _REGISTRY[str(spec).lower()]()
    except KeyError:
        raise ValueError(
            f"Unknown unit type {spec!r}; choose one of {sorted(_REGISTRY)}."
        ) from None
