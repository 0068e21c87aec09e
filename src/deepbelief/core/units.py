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

A unit type also owns its domain: the interval its values lie in (:attr:`UnitType.bounds`),
whether data lies there (:meth:`UnitType.check_domain`, which forgives float rounding up to
:data:`DOMAIN_TOLERANCE` when asked), how to put data there (:meth:`UnitType.clip`), what
to tell a user whose data does not (:attr:`UnitType.rescale_advice`) and, for units of a
fixed scale, whether the data's per-feature scale suits them (:meth:`UnitType.check_scale`).

All tensors have shape ``(batch, n_units)``; functions are element-wise except
:class:`Softmax`, whose units form one one-of-K group.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from deepbelief.core.coins import flip_coins
from deepbelief.core.sharding import categorical, normal

__all__ = [
    "DOMAIN_TOLERANCE",
    "Bernoulli",
    "Gaussian",
    "ReLU",
    "Softmax",
    "UnitType",
    "unit_type",
]

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
#: How far from the edge of the domain :meth:`UnitType.bias_for_mean` clips a mean.
_CLIP = 1e-3
#: How far outside a unit's range a value may lie and still count as in it, to be clipped
#: onto its edge: float rounding, not data. ``MinMaxScaler`` returns maxima of
#: ``1.0000000000000002`` on float64 data, and on float32 data whose offset is a thousand
#: times its spread, values up to 3e-5 outside [0, 1] (measured, see the tests).
DOMAIN_TOLERANCE = 1e-4


def exact_number(value: torch.Tensor) -> str:
    """A 0-d tensor's value at full precision (the shortest text that reads back as the
    same number of its dtype): ``1.0000000000000002``, not ``1``."""
    return str(value.detach().cpu().numpy()[()])


def _interval(lo: float, hi: float) -> str:
    def edge(v: float) -> str:
        return f"{v:g}".replace("inf", "∞")
    return f"[{edge(lo)}, {edge(hi)}]" if math.isfinite(hi) else f"[{edge(lo)}, ∞)"


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

    #: The closed interval every unit's value lies in: (-inf, inf) for real-valued units.
    bounds: tuple[float, float] = (-math.inf, math.inf)
    #: What a user whose data lies outside :attr:`bounds` can do (one or two sentences).
    rescale_advice: str = ""
    #: The unit models data of a fixed scale per feature (unit variance for Gaussian
    #: units): callers should ask :meth:`check_scale` about the data's per-feature moments.
    scale_sensitive: bool = False
    #: What messages call the units.
    plural: str = "units"
    #: :meth:`check_domain` reads each value alone (False: it reads whole rows, e.g. the
    #: one-hot blocks of softmax and Potts units).
    elementwise: bool = True

    def check_domain(self, x: torch.Tensor, *, tolerance: float = 0.0) -> str | None:
        """Return a message if a value of ``x`` lies more than ``tolerance`` outside the
        unit's states (:attr:`bounds`), else ``None``.

        The message names the states and the data's extreme values at full precision.
        Values within ``tolerance`` of the bounds pass: :meth:`clip` puts them on the edge.

        Examples
        --------
        >>> x = torch.tensor([[0.0, 1.0000000000000002]], dtype=torch.float64)
        >>> Bernoulli().check_domain(x)
        'Bernoulli units take values in [0, 1], but the data ranges from 0.0 to 1.0000000000000002'
        >>> Bernoulli().check_domain(x, tolerance=DOMAIN_TOLERANCE) is None
        True
        """
        lo, hi = self.bounds
        if not x.numel() or (not math.isfinite(lo) and not math.isfinite(hi)):
            return None
        x_min, x_max = x.min(), x.max()
        if float(x_min) >= lo - tolerance and float(x_max) <= hi + tolerance:
            return None
        return (f"{self.plural} take values in {_interval(lo, hi)}, but the data ranges from "
                f"{exact_number(x_min)} to {exact_number(x_max)}")

    def clip(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` clipped to :attr:`bounds`; ``x`` itself when no value lies outside them.

        >>> Bernoulli().clip(torch.tensor([[-1e-9, 0.5, 1.5]]))
        tensor([[0.0000, 0.5000, 1.0000]])
        """
        lo, hi = self.bounds
        lo = lo if math.isfinite(lo) else None
        hi = hi if math.isfinite(hi) else None
        if not x.numel() or ((lo is None or float(x.min()) >= lo)
                             and (hi is None or float(x.max()) <= hi)):
            return x
        return x.clamp(lo, hi)

    def check_scale(self, mean: torch.Tensor, std: torch.Tensor, n_samples: int) -> str | None:
        """A message when data of per-feature ``mean`` and ``std`` (shape (n_features,),
        over ``n_samples`` rows) is far from the scale the unit models, else None (always
        None unless :attr:`scale_sensitive`)."""
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


# The draws of every unit type, one per value of the field (binary units:
# deepbelief.core.coins); in data-parallel training
# (deepbelief.core.sharding.row_shard) those of this process's rows of the global batch.
def _normal(field: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return normal(field.shape, generator, field.device, field.dtype)


class Bernoulli(UnitType):
    """Binary units in {0, 1}: ``p(x=1 | f) = sigmoid(f)``, ``A(f) = softplus(f)``."""

    name = "bernoulli"
    activation = "sigmoid"
    binary = True
    bounds = (0.0, 1.0)
    plural = "Bernoulli units"
    rescale_advice = (
        "Rescale it to [0, 1], e.g. with sklearn.preprocessing.MinMaxScaler (clip=True when "
        "the scaler was fitted on other data) or X / 255 for 8-bit pixels; or use Gaussian "
        "visible units (visible_units='gaussian') on standardized data."
    )

    def mean(self, field: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(field)

    def sample(self, field: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        return self.mean_and_sample(field, generator)[1]

    def mean_and_sample(self, field, generator):
        p = torch.sigmoid(field)  # one sigmoid for both: this sits in the training hot loop
        return p, flip_coins(p, generator)  # exact, from a random byte per unit on the CPU

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



class Gaussian(UnitType):
    """Real-valued units of unit variance: ``x | f ~ N(f, 1)``, ``phi(x) = x²/2``.

    Meant for visible data standardized to zero mean and unit variance per feature.
    """

    name = "gaussian"
    activation = "identity"
    plural = "Gaussian units"
    scale_sensitive = True
    #: The root mean square of standardized data is 1; outside this range training fails
    #: or degrades (DBNClassifier on digits, DBNRegressor on diabetes: tests/
    #: test_field_reports_input.py). Pooled over features, so that a small sample of
    #: standardized data, whose per-feature moments spread widely, stays inside.
    scale_range = (0.1, 10.0)

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

    def check_scale(self, mean: torch.Tensor, std: torch.Tensor, n_samples: int) -> str | None:
        """A message when the data's root mean square (over all values: ``sqrt(mean(mean²
        + std²))`` of the features) lies outside :attr:`scale_range`.

        Below the range only with at least 10 values: the mean square of ``k`` standard
        normal values falls below 0.01 with a probability below ``(k/200)^(k/2)``.

        Examples
        --------
        >>> g = Gaussian()
        >>> g.check_scale(torch.zeros(3), torch.ones(3), 100) is None
        True
        >>> print(g.check_scale(torch.tensor([0.0, 880.0]), torch.tensor([1.0, 570.0]), 100))
        ... # doctest: +ELLIPSIS
        Gaussian units model ... root mean square is 741.4 (feature 1: mean 880, ...)
        """
        rms = float((mean.double() ** 2 + std.double() ** 2).mean().sqrt())
        lo, hi = self.scale_range
        if rms <= hi and (rms >= lo or n_samples * mean.numel() < 10):
            return None
        worst = int((mean.abs() + std).argmax()) if rms > hi else int(std.argmax())
        return (f"{self.plural} model data of unit variance per feature, but the data's root "
                f"mean square is {rms:.4g} (feature {worst}: mean {float(mean[worst]):.4g}, "
                f"standard deviation {float(std[worst]):.4g})")


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
    bounds = (0.0, math.inf)
    rescale_advice = (
        "Shift it to non-negative values (e.g. with sklearn.preprocessing.MinMaxScaler), or "
        "use Gaussian visible units (visible_units='gaussian') on standardized data."
    )
    plural = "rectified linear units"
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



class Softmax(UnitType):
    """One group of one-of-K units (e.g. class labels): ``p(x=e_k | f) = softmax(f)_k``."""

    name = "softmax"
    activation = "softmax"
    bounds = (0.0, 1.0)
    plural = "softmax units"
    elementwise = False

    def mean(self, field: torch.Tensor) -> torch.Tensor:
        return torch.softmax(field, dim=-1)

    def sample(self, field: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        index = categorical(torch.softmax(field, -1), generator)
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

    def check_domain(self, x: torch.Tensor, *, tolerance: float = 0.0) -> str | None:
        if float(x.min()) < -tolerance or not torch.allclose(x.sum(-1), x.new_ones(())):
            return "softmax units take one-hot (or probability) vectors whose rows sum to 1"
        return None


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

    A unit type with a parameter is a ``(name, parameter)`` pair: ``("potts", q)`` for
    :class:`~deepbelief.core.potts.Potts` units of ``q`` states per variable.

    >>> unit_type(("potts", 4))
    Potts(q=4)
    """
    if isinstance(spec, UnitType):
        return spec
    if isinstance(spec, list | tuple) and len(spec) == 2 and isinstance(spec[0], str):
        return _parametrised(*spec)
    if isinstance(spec, list | tuple):
        from deepbelief.core.joined import Joined  # built on this module

        return Joined([(unit_type(name), int(n)) for name, n in spec])
    if str(spec).lower() == "replicated_softmax":  # word counts, a layer of their own
        from deepbelief.core.replicated_softmax import ReplicatedSoftmax

        return ReplicatedSoftmax()
    if str(spec).lower() == "potts":
        raise ValueError("Potts units need their number of states q: give ('potts', q), e.g. "
                         "('potts', 21) for protein sequences of 20 amino acids and a gap.")
    try:
        return _REGISTRY[str(spec).lower()]()
    except KeyError:
        raise ValueError(
            f"Unknown unit type {spec!r}; choose one of {sorted(_REGISTRY)} or ('potts', q)."
        ) from None


def _parametrised(name: str, parameter) -> UnitType:
    """The unit type ``(name, parameter)``: ``('potts', q)``."""
    if name.lower() != "potts":
        raise ValueError(f"Unknown unit type {(name, parameter)!r}: only Potts units take a "
                         "parameter, as ('potts', q).")
    from deepbelief.core.potts import Potts  # built on this module

    return Potts(parameter)


def __getattr__(name: str):
    """``Joined`` lives in :mod:`deepbelief.core.joined` (built on this module); it is still
    importable from here."""
    if name == "Joined":
        from deepbelief.core.joined import Joined

        return Joined
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
