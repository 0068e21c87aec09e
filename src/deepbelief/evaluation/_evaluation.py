"""Honest likelihood evaluation of RBMs: partition functions, log-likelihoods and proxies.

The log-probability of a visible vector under an RBM is ``log p(v) = -F(v) - log Z``; the
free energy ``F`` is cheap (:meth:`deepbelief.core.rbm.RBMModule.free_energy`) but the
partition function ``Z`` is a sum over exponentially many states. This module offers

* :func:`exact_log_partition` -- enumerate every state of the smaller binary layer (up to
  25 units) and sum the other layer out analytically;
* :func:`ais_log_partition` -- Annealed Importance Sampling (Neal, 2001) with the
  base-rate model and annealing scheme of Salakhutdinov & Murray (2008), for models of any
  size, with the ``log(Ẑ ± 3σ̂)`` error bars reported in that paper;
* :func:`log_likelihood` -- per-sample ``log p(v)`` given either estimate of ``log Z``;
* cheap training monitors that need no ``Z``: :func:`pseudo_likelihood`,
  :func:`reconstruction_error` and :func:`free_energy_gap`.

The energy convention is the one of :mod:`deepbelief.core.units`::

    E(v, h) = phi_v(v) - a·v + phi_h(h) - b·h - vᵀ W h

with ``phi(x) = x²/2`` for (unit-variance) Gaussian units, so ``log Z`` of a Gaussian layer
includes its ``½ log 2π`` terms but no other constant.

Every function works on the device of the RBM's parameters, accepts numpy arrays or tensors
(converted to the RBM's dtype and device) and never touches a global random state.

References
----------
.. [1] R. Salakhutdinov and I. Murray, "On the quantitative analysis of deep belief
   networks", Proc. ICML 2008.
.. [2] R. M. Neal, "Annealed importance sampling", Statistics and Computing 11:125-139,
   2001.
.. [3] G. E. Hinton, "A practical guide to training restricted Boltzmann machines",
   UTML TR 2010-003, 2010.
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from deepbelief.core.rbm import RBMModule
from deepbelief.core.units import Bernoulli, Gaussian

__all__ = [
    "AISResult",
    "ais_log_partition",
    "dbn_log_likelihood_bound",
    "default_betas",
    "exact_log_partition",
    "free_energy_gap",
    "log_likelihood",
    "pseudo_likelihood",
    "reconstruction_error",
]

#: Largest binary layer :func:`exact_log_partition` agrees to enumerate (2^25 ≈ 3.4e7 states).
MAX_EXACT_UNITS = 25
#: Clip of the data's visible marginals before they become base-rate biases ``log p/(1-p)``.
_BASE_RATE_CLIP = 1e-3
#: Upper bound on the elements of one (samples, features, hidden) block in
#: :func:`pseudo_likelihood` (2^22 float32 = 16 MiB per temporary).
_PL_BLOCK_ELEMENTS = 1 << 22
#: Rows per batch for the simple per-sample monitors.
_BATCH_ROWS = 8192

Array = np.ndarray | torch.Tensor
RandomState = int | np.random.Generator | np.random.RandomState | torch.Generator | None


# -- helpers ----------------------------------------------------------------------------------
def _param_device_dtype(rbm: RBMModule) -> tuple[torch.device, torch.dtype]:
    return rbm.weight.device, rbm.weight.dtype


def _wide_device(device: torch.device) -> torch.device:
    """Where float64 work can run: ``device`` itself, or the CPU for MPS (no float64)."""
    return torch.device("cpu") if device.type == "mps" else device


def _float64_copy(rbm: RBMModule) -> RBMModule:
    """A float64 copy of ``rbm`` (same unit types) for exact or accurate evaluation."""
    device = _wide_device(rbm.weight.device)
    copy = RBMModule(
        rbm.n_visible, rbm.n_hidden, rbm.visible, rbm.hidden, device=device, dtype=torch.float64
    )
    with torch.no_grad():
        copy.weight.copy_(rbm.weight.detach())
        copy.visible_bias.copy_(rbm.visible_bias.detach())
        copy.hidden_bias.copy_(rbm.hidden_bias.detach())
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


def _all_binary_states(start: int, stop: int, n: int, device, dtype) -> torch.Tensor:
    """Rows ``start..stop-1`` of the table of all ``2**n`` binary vectors (bit j = unit j)."""
    index = torch.arange(start, stop, device=device, dtype=torch.int64)
    shifts = torch.arange(n, device=device, dtype=torch.int64)
    return ((index.unsqueeze(1) >> shifts) & 1).to(dtype)


# -- exact partition function ------------------------------------------------------------------
@torch.no_grad()
def exact_log_partition(
    rbm: RBMModule,
    chunk_size: int = 65536,
    *,
    layer: Literal["visible", "hidden"] | None = None,
) -> float:
    """Exact ``log Z`` by enumerating every state of one binary layer.

    ``Z = sum_h exp(-F(h))`` (or ``sum_v exp(-F(v))``): the other layer is summed or
    integrated out analytically by its unit type's log-partition, so a Gaussian (or any
    other) layer may face a small Bernoulli one. All work is in float64, in chunks of
    ``chunk_size`` states combined with a log-sum-exp (Salakhutdinov & Murray, 2008, use the
    same enumeration for their 20- and 25-hidden-unit RBMs).

    Parameters
    ----------
    rbm : RBMModule
        The model; at least one layer must be Bernoulli.
    chunk_size : int, default 65536
        States evaluated at once (memory is ``chunk_size × n_other_units`` floats).
    layer : {'visible', 'hidden'} or None, default None
        The layer to enumerate; None picks the smaller Bernoulli layer.

    Returns
    -------
    float
        ``log Z``.

    Raises
    ------
    ValueError
        If the enumerated layer is not Bernoulli or has more than 25 units.

    References
    ----------
    R. Salakhutdinov and I. Murray, "On the quantitative analysis of deep belief networks",
    ICML 2008.

    Examples
    --------
    With zero parameters every one of the 2^(3+2) joint states has energy 0:

    >>> rbm = RBMModule(3, 2)
    >>> round(exact_log_partition(rbm), 6) == round(5 * math.log(2), 6)
    True
    """
    if int(chunk_size) < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}.")
    units = {"visible": rbm.visible, "hidden": rbm.hidden}
    sizes = {"visible": rbm.n_visible, "hidden": rbm.n_hidden}
    if layer is None:
        binary = [name for name in ("visible", "hidden") if isinstance(units[name], Bernoulli)]
        if not binary:
            raise ValueError(
                "exact_log_partition enumerates the states of a Bernoulli layer, but this RBM "
                f"has visible={rbm.visible!r} and hidden={rbm.hidden!r}; use "
                "ais_log_partition instead."
            )
        layer = min(binary, key=lambda name: sizes[name])
    elif layer not in units:
        raise ValueError(f"layer must be 'visible', 'hidden' or None, got {layer!r}.")
    elif not isinstance(units[layer], Bernoulli):
        raise ValueError(
            f"exact_log_partition can only enumerate a Bernoulli layer, but the {layer} layer "
            f"has {units[layer]!r} units."
        )
    n = sizes[layer]
    if n > MAX_EXACT_UNITS:
        raise ValueError(
            f"exact_log_partition would enumerate 2^{n} states of the {layer} layer; it "
            f"enumerates at most 2^{MAX_EXACT_UNITS}. Use ais_log_partition for this model."
        )
    model = _float64_copy(rbm)
    device = model.weight.device
    neg_free_energy = model.free_energy if layer == "visible" else model.free_energy_hidden
    parts = []
    total, chunk = 1 << n, int(chunk_size)
    for start in range(0, total, chunk):
        states = _all_binary_states(start, min(start + chunk, total), n, device, torch.float64)
        parts.append(torch.logsumexp(-neg_free_energy(states), dim=0))
    return float(torch.logsumexp(torch.stack(parts), dim=0))


# -- annealed importance sampling -------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class AISResult:
    """The result of :func:`ais_log_partition`.

    Attributes
    ----------
    log_z : float
        ``log Ẑ = log Z_base + log mean(w)``. Its exponential ``Ẑ`` is unbiased, so ``log Ẑ``
        tends to *under*-estimate ``log Z`` (Jensen) and log-likelihoods built from it tend to
        be optimistic when the annealing is too short.
    log_z_low, log_z_high : float
        ``log(Ẑ ∓ 3σ̂)`` with ``σ̂ = Z_base · std(w) / sqrt(n_runs)`` (Salakhutdinov & Murray,
        2008); ``log_z_low`` is ``-inf`` when ``Ẑ - 3σ̂ <= 0``.
    log_z_base : float
        The analytic ``log Z`` of the base-rate model the annealing starts from.
    log_weights : torch.Tensor
        The ``n_runs`` log importance weights ``log w`` (float64, on the CPU).
    n_betas : int
        The number of inverse temperatures, both ends included.
    """

    log_z: float
    log_z_low: float
    log_z_high: float
    log_z_base: float
    log_weights: torch.Tensor
    n_betas: int

    @property
    def n_runs(self) -> int:
        """The number of annealing runs (importance weights)."""
        return int(self.log_weights.numel())


@lru_cache(maxsize=1)
def _default_betas() -> np.ndarray:
    betas = np.concatenate(
        [
            np.linspace(0.0, 0.5, 500, endpoint=False),  # step 1e-3
            np.linspace(0.5, 0.9, 4000, endpoint=False),  # step 1e-4
            np.linspace(0.9, 1.0, 10001),  # step 1e-5, ends exactly at 1
        ]
    )
    betas.setflags(write=False)
    return betas


def default_betas() -> np.ndarray:
    """The inverse temperatures of Salakhutdinov & Murray (2008): 14,501 values.

    Steps of 1e-3 on [0, 0.5), 1e-4 on [0.5, 0.9) and 1e-5 on [0.9, 1]; built once and
    returned as a (read-only) float64 array.

    Examples
    --------
    >>> b = default_betas()
    >>> len(b), float(b[0]), float(b[-1])
    (14501, 0.0, 1.0)
    """
    return _default_betas()


def _check_betas(betas) -> list[float]:
    if betas is None:
        return _default_betas().tolist()
    b = np.asarray(betas.detach().cpu() if isinstance(betas, torch.Tensor) else betas, float)
    if b.ndim != 1 or b.size < 2:
        raise ValueError("betas must be a 1-D sequence of at least two inverse temperatures.")
    if not np.all(np.isfinite(b)) or b[0] != 0.0 or b[-1] != 1.0 or np.any(np.diff(b) < 0):
        raise ValueError(
            "betas must increase (weakly) from exactly 0.0 to exactly 1.0, e.g. "
            "np.linspace(0, 1, 10001)."
        )
    return b.tolist()


def _base_visible_bias(
    rbm: RBMModule, base: str, data: Array | None, device, dtype
) -> torch.Tensor:
    """Visible biases of the zero-weight base-rate model (Salakhutdinov & Murray, 2008)."""
    if base not in ("data", "uniform"):
        raise ValueError(f"base must be 'data' or 'uniform', got {base!r}.")
    if base == "uniform" or data is None:
        return torch.zeros(rbm.n_visible, device=device, dtype=dtype)
    wide = _wide_device(device)
    mean = _as_input(data, rbm, "data", device=wide, dtype=torch.float64).mean(0)
    if isinstance(rbm.visible, Gaussian):
        bias = mean  # N(mean, 1): the unit-variance Gaussian matching the data mean
    else:
        p = mean.clamp(_BASE_RATE_CLIP, 1.0 - _BASE_RATE_CLIP)
        bias = torch.log(p) - torch.log1p(-p)
    return bias.to(device=device, dtype=dtype)


@torch.no_grad()
def ais_log_partition(
    rbm: RBMModule,
    n_runs: int = 100,
    betas: Sequence[float] | np.ndarray | torch.Tensor | None = None,
    base: Literal["data", "uniform"] = "data",
    data: Array | None = None,
    random_state: RandomState = None,
) -> AISResult:
    """Estimate ``log Z`` by Annealed Importance Sampling (Neal, 2001).

    Follows Salakhutdinov & Murray (2008). The base-rate model ``A`` is an RBM of the same
    shape with zero weights and zero hidden biases whose visible biases ``a_A`` match the
    data: ``log p/(1-p)`` of the (clipped) visible marginals for Bernoulli units, the data
    mean for Gaussian units; zero when ``base='uniform'`` or no ``data`` is given. Its
    ``log Z_A = A_v(a_A) + n_hidden · log 2`` is analytic. The intermediate distributions are

        p*_β(v) = exp(-phi_v(v) + ((1-β) a_A + β a)·v) · prod_j (1 + exp(β (b_j + v W_j)))

    (``β = 0``: the base model, ``β = 1``: ``exp(-F(v))`` of the RBM), and the transition
    at ``β`` is one Gibbs sweep of that RBM with scaled parameters: ``h ~ σ(β (b + v W))``,
    then ``v`` from the visible units with field ``(1-β) a_A + β (a + W h)``. All runs
    advance together as an ``(n_runs, n_visible)`` batch.

    Parameters
    ----------
    rbm : RBMModule
        The model; Bernoulli or Gaussian visible units and Bernoulli hidden units.
    n_runs : int, default 100
        Independent annealing runs (importance weights).
    betas : sequence of float, optional
        Inverse temperatures from exactly 0 to exactly 1, non-decreasing; by default
        :func:`default_betas` (14,501 values, as in the paper).
    base : {'data', 'uniform'}, default 'data'
        Base-rate model fitted to ``data``, or with zero visible biases.
    data : array-like of shape (n_samples, n_visible), optional
        Training data for the base-rate model (ignored with ``base='uniform'``; without it
        the base model has zero visible biases).
    random_state : int, numpy Generator/RandomState, torch.Generator or None
        Seed or generator of the annealing runs (a torch.Generator must live on the RBM's
        device); None draws fresh entropy.

    Returns
    -------
    AISResult
        ``log_z`` with its ``log(Ẑ ± 3σ̂)`` interval and the log importance weights.

    Notes
    -----
    Each step costs two matrix products: ``v [W | a - a_A]`` gives both the hidden input
    ``c = b + v W`` and the visible-bias term of the weight update at ``β_k``, and the same
    ``c`` (``v`` has not changed) drives the hidden sample of the transition at ``β_k``;
    ``W h`` then gives the visible field. The samples live in the RBM's dtype (float32
    normally) but the weight increment ``softplus(β_k c) - softplus(β_{k-1} c)`` is computed
    as ``-log1p(σ(β_k c) · expm1(-Δβ c))``, free of the cancellation a float32 difference of
    two softplus values would suffer when ``Δβ = 1e-5``, and the log weights are accumulated
    in float64: a float32 running sum of ~14,500 increments of size ~1e-3 into a total of a
    few hundred would round off up to ~1.5e-5 per step (~0.2 nats in the worst case), a
    float64 one nothing measurable; the (n_runs,) float64 accumulator costs nothing. The
    remaining error, float32 rounding of ``c`` and ``v·(a - a_A)``, is relative (~1e-6) to
    the total log ratio and thus far below the Monte-Carlo error.

    The loop launches ~15 small ops per temperature; on a CPU that other busy processes
    share, OpenMP barriers can make a multi-threaded run many times slower than
    ``torch.set_num_threads(1)``.

    References
    ----------
    R. Salakhutdinov and I. Murray, "On the quantitative analysis of deep belief networks",
    ICML 2008. R. M. Neal, "Annealed importance sampling", Statistics and Computing 11, 2001.
    """
    if not isinstance(rbm.hidden, Bernoulli) or not isinstance(rbm.visible, Bernoulli | Gaussian):
        raise ValueError(
            "ais_log_partition supports Bernoulli or Gaussian visible units with Bernoulli "
            f"hidden units; this RBM has visible={rbm.visible!r}, hidden={rbm.hidden!r}."
        )
    if isinstance(n_runs, bool) or not isinstance(n_runs, numbers.Integral) or n_runs < 1:
        raise ValueError(f"n_runs must be a positive integer, got {n_runs!r}.")
    n_runs = int(n_runs)
    beta_list = _check_betas(betas)
    device, dtype = _param_device_dtype(rbm)
    generator = _make_generator(random_state, device)
    gaussian = isinstance(rbm.visible, Gaussian)

    W = rbm.weight.detach()
    a = rbm.visible_bias.detach()
    b = rbm.hidden_bias.detach()
    n_v, n_h = W.shape
    a_base = _base_visible_bias(rbm, base, data, device, dtype)
    # log Z_A = A_v(a_A) + n_hidden log 2: zero-weight, zero-bias hidden units are fair coins.
    a_base64 = a_base.detach().to("cpu", torch.float64).unsqueeze(0)
    log_z_base = float(rbm.visible.log_partition(a_base64)[0]) + n_h * math.log(2.0)

    # One product v @ [W | a - a_A] gives the hidden input and the visible-bias term.
    W_aug = torch.cat([W, (a - a_base).unsqueeze(1)], dim=1)
    b_aug = torch.cat([b, b.new_zeros(1)])
    W_t = W.t().contiguous()
    a_diff = a - a_base

    # Preallocated buffers: every op below writes into one of them.
    c_aug = torch.empty(n_runs, n_h + 1, device=device, dtype=dtype)
    c = c_aug[:, :n_h]
    bias_term = c_aug[:, n_h]
    prob = torch.empty(n_runs, n_h, device=device, dtype=dtype)
    tmp = torch.empty(n_runs, n_h, device=device, dtype=dtype)
    h = torch.empty(n_runs, n_h, device=device, dtype=dtype)
    inc = torch.empty(n_runs, device=device, dtype=dtype)
    v_field = torch.empty(n_runs, n_v, device=device, dtype=dtype)
    v_noise = torch.empty(n_runs, n_v, device=device, dtype=dtype)
    v_bias = torch.empty(n_v, device=device, dtype=dtype)
    log_w = torch.zeros(n_runs, device=device, dtype=torch.float64)

    # v_1 ~ p_0, the base-rate model (independent visible units).
    v = rbm.visible.sample(a_base.expand(n_runs, n_v).contiguous(), generator)

    last = len(beta_list) - 1
    for k in range(1, last + 1):
        beta, d_beta = beta_list[k], beta_list[k] - beta_list[k - 1]
        # log w += log p*_k(v_k) - log p*_{k-1}(v_k)
        torch.addmm(b_aug, v, W_aug, out=c_aug)
        torch.mul(c, beta, out=tmp)
        torch.sigmoid(tmp, out=prob)  # σ(β_k c): weight update and hidden sample below
        torch.mul(c, -d_beta, out=tmp)
        torch.expm1(tmp, out=tmp)
        tmp.mul_(prob)
        tmp.log1p_()  # softplus(β_{k-1} c) - softplus(β_k c)
        torch.sum(tmp, dim=1, out=inc)
        log_w.add_(bias_term, alpha=d_beta)
        log_w.sub_(inc)
        if k == last:
            break
        # v_{k+1} ~ T_k(v_k, .): h ~ σ(β_k c), v | h with field (1-β_k) a_A + β_k (a + W h).
        torch.rand(n_runs, n_h, generator=generator, device=device, dtype=dtype, out=tmp)
        torch.lt(tmp, prob, out=h)
        torch.add(a_base, a_diff, alpha=beta, out=v_bias)
        torch.addmm(v_bias, h, W_t, alpha=beta, out=v_field)
        if gaussian:
            torch.randn(n_runs, n_v, generator=generator, device=device, dtype=dtype, out=v_noise)
            torch.add(v_field, v_noise, out=v)
        else:
            v_field.sigmoid_()
            torch.rand(n_runs, n_v, generator=generator, device=device, dtype=dtype, out=v_noise)
            torch.lt(v_noise, v_field, out=v)

    log_w = log_w.cpu()
    log_mean, log_low, log_high = _log_mean_and_bounds(log_w)
    return AISResult(
        log_z=log_z_base + log_mean,
        log_z_low=log_z_base + log_low,
        log_z_high=log_z_base + log_high,
        log_z_base=log_z_base,
        log_weights=log_w,
        n_betas=len(beta_list),
    )


def _log_mean_and_bounds(log_w: torch.Tensor) -> tuple[float, float, float]:
    """``log mean(w)`` and ``log(mean(w) ∓ 3 std(w)/sqrt(n))``, computed stably from ``log w``."""
    n = log_w.numel()
    shift = float(log_w.max())
    if not math.isfinite(shift):
        raise FloatingPointError(
            f"AIS produced non-finite log importance weights (max {shift}); the model's "
            "parameters are probably not finite."
        )
    scaled = torch.exp(log_w.to(torch.float64) - shift)  # in (0, 1], the largest is 1
    mean = float(scaled.mean())
    std = float(scaled.std(correction=1)) if n > 1 else 0.0
    half_width = 3.0 * std / math.sqrt(n)
    log_mean = shift + math.log(mean)
    log_high = shift + math.log(mean + half_width)
    low = mean - half_width
    log_low = shift + math.log(low) if low > 0.0 else -math.inf
    return log_mean, log_low, log_high


# -- log-likelihood and monitors --------------------------------------------------------------
@torch.no_grad()
def log_likelihood(rbm: RBMModule, X: Array, log_z: float | AISResult) -> torch.Tensor:
    """Per-sample log-probability ``log p(v) = -F(v) - log Z``.

    Parameters
    ----------
    rbm : RBMModule
    X : array-like of shape (n_samples, n_visible)
    log_z : float or AISResult
        ``log Z`` from :func:`exact_log_partition` or :func:`ais_log_partition`. With an AIS
        estimate the result is itself an estimate (Salakhutdinov & Murray, 2008): since
        ``log Ẑ`` tends to underestimate ``log Z``, it tends to overestimate ``log p``.

    Returns
    -------
    torch.Tensor of shape (n_samples,)
        In float64, on the RBM's device (the CPU for MPS, which has no float64). For
        Gaussian visible units it is a log-density.
    """
    if isinstance(log_z, AISResult):
        log_z = log_z.log_z
    model = _float64_copy(rbm)
    X = _as_input(X, rbm, device=model.weight.device, dtype=torch.float64)
    return -model.free_energy(X) - float(log_z)


def _log_conditional(unit, x: torch.Tensor, field: torch.Tensor) -> torch.Tensor:
    """``log p(x | field)`` summed over units, for Bernoulli or unit-variance Gaussian."""
    if isinstance(unit, Bernoulli):
        return (x * F.logsigmoid(field) + (1 - x) * F.logsigmoid(-field)).sum(-1)
    if isinstance(unit, Gaussian):
        return (-0.5 * (x - field) ** 2 - 0.5 * math.log(2 * math.pi)).sum(-1)
    raise ValueError(f"the bound needs Bernoulli or Gaussian units, got {unit!r}.")


def _bernoulli_entropy(p: torch.Tensor) -> torch.Tensor:
    """Entropy of a factorial Bernoulli distribution with means ``p``: (batch,)."""
    return -(torch.xlogy(p, p) + torch.xlogy(1 - p, 1 - p)).sum(-1)


@torch.no_grad()
def dbn_log_likelihood_bound(
    rbms, X: Array, log_z_top: float | AISResult, *, n_samples: int = 10,
    random_state: RandomState = None,
) -> torch.Tensor:
    """Variational lower bound on ``log p(v)`` of a DBN, per sample (Salakhutdinov & Murray, 2008).

    The DBN's top RBM (``rbms[-1]``) is an undirected model over its two layers; the layers
    below are directed, ``p(h_l | h_{l+1})`` being the visible conditional of RBM ``l+1``.
    With the factorial bottom-up posterior ``Q(h_{l+1} | h_l)`` (the recognition pass)::

        log p(v) >= E_Q[ sum_l log p(h_l | h_{l+1}) - F_top(h_{L-1}) ] - log Z_top
                    + sum_l E_Q[ H(Q(h_{l+1} | h_l)) ]

    with ``h_0 = v``. The expectation is estimated by ``n_samples`` bottom-up samples per
    data point (the entropies are exact given the sampled parent). For one RBM this is the
    exact ``-F(v) - log Z``.

    Parameters
    ----------
    rbms : sequence of RBMModule (bottom first), or a fitted DBN estimator (``rbms_``)
        Hidden units of every layer below the top must be Bernoulli; the data's visible
        units Bernoulli or Gaussian.
    X : array-like of shape (n_samples, n_visible)
    log_z_top : float or AISResult
        ``log Z`` of the top RBM (:func:`ais_log_partition` or :func:`exact_log_partition`).
    n_samples : int, default 10
        Bottom-up samples per data point.
    random_state : int, generator or None

    Returns
    -------
    torch.Tensor of shape (n_samples,)
        In float64.
    """
    rbms = list(getattr(rbms, "rbms_", rbms))
    if isinstance(log_z_top, AISResult):
        log_z_top = log_z_top.log_z
    if n_samples < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples}.")
    models = [_float64_copy(r) for r in rbms]
    for lower, upper in itertools.pairwise(models):
        if not isinstance(lower.hidden, Bernoulli) or lower.n_hidden != upper.n_visible:
            raise ValueError("the bound needs Bernoulli hidden units below the top RBM, each "
                             "layer's hidden size equal to the next layer's visible size.")
    device = models[0].weight.device
    v = _as_input(X, rbms[0], device=device, dtype=torch.float64)
    generator = _make_generator(random_state, device)
    h = v.repeat_interleave(n_samples, dim=0)  # (n * n_samples, n_visible)
    total = torch.zeros(h.shape[0], dtype=torch.float64, device=device)
    for lower in models[:-1]:
        q = lower.hidden_mean(h)
        total += _bernoulli_entropy(q)
        h_up = (torch.rand(q.shape, generator=generator, device=device, dtype=q.dtype) < q)
        h_up = h_up.to(q.dtype)
        total += _log_conditional(lower.visible, h, lower.visible_field(h_up))
        h = h_up
    total -= models[-1].free_energy(h) + float(log_z_top)
    return total.view(-1, n_samples).mean(1)


def _check_binary_visible(rbm: RBMModule, X: torch.Tensor, what: str) -> None:
    if not isinstance(rbm.visible, Bernoulli):
        raise ValueError(
            f"{what} is defined for Bernoulli visible units, but this RBM has "
            f"visible={rbm.visible!r}."
        )
    if bool(((X < 0) | (X > 1)).any()):
        raise ValueError(
            f"{what} needs data in [0, 1] for Bernoulli visible units; rescale it first "
            "(e.g. X / X.max())."
        )


@torch.no_grad()
def pseudo_likelihood(rbm: RBMModule, X: Array, *, per_feature: bool = False) -> torch.Tensor:
    """Exact, deterministic pseudo-log-likelihood of binary data (Besag, 1975).

    ``PL(v) = sum_i log p(v_i | v_-i) = sum_i log σ(F(v ⊕ e_i) - F(v))`` over *all* features
    ``i``, where ``v ⊕ e_i`` flips bit ``i`` (``v_i -> 1 - v_i``; for data in [0, 1] that is
    not binary this is the same flip scikit-learn's BernoulliRBM scores). Flipping bit ``i``
    moves the hidden input by ``(1 - 2 v_i) W_i``, so each term costs one hidden
    log-partition; the work is blocked over samples and features so no temporary exceeds
    ~4M elements. Unlike the one-random-bit
    estimate often printed during training, this is exact and needs no random state.

    Parameters
    ----------
    rbm : RBMModule
        With Bernoulli visible units (any hidden unit type).
    X : array-like of shape (n_samples, n_visible)
        Binary data (or data in [0, 1], see above).
    per_feature : bool, default False
        Divide by ``n_visible``.

    Returns
    -------
    torch.Tensor of shape (n_samples,)
        Values ``<= 0``, in the RBM's dtype and on its device.
    """
    X = _as_input(X, rbm)
    _check_binary_visible(rbm, X, "pseudo_likelihood")
    W = rbm.weight.detach()
    a = rbm.visible_bias.detach()
    n, d = X.shape
    n_h = W.shape[1]
    rows = max(1, min(n, _PL_BLOCK_ELEMENTS // max(1, d * n_h)))
    cols = max(1, min(d, _PL_BLOCK_ELEMENTS // max(1, rows * n_h)))
    out = torch.empty(n, dtype=X.dtype, device=X.device)
    for r0 in range(0, n, rows):
        v = X[r0 : r0 + rows]
        field = rbm.hidden_field(v)  # (m, n_h)
        log_part = rbm.hidden.log_partition(field)  # (m,)
        sign = 1.0 - 2.0 * v  # +1: bit goes 0 -> 1, -1: 1 -> 0
        total = torch.zeros(v.shape[0], dtype=X.dtype, device=X.device)
        for c0 in range(0, d, cols):
            s = sign[:, c0 : c0 + cols]  # (m, k)
            flipped = field.unsqueeze(1) + s.unsqueeze(2) * W[c0 : c0 + cols].unsqueeze(0)
            # F(v ⊕ e_i) - F(v) = -a_i s_i - [A_h(c + s_i W_i) - A_h(c)]
            gap = -a[c0 : c0 + cols] * s - (rbm.hidden.log_partition(flipped) - log_part[:, None])
            total += F.logsigmoid(gap).sum(1)
        out[r0 : r0 + rows] = total
    return out / d if per_feature else out


@torch.no_grad()
def reconstruction_error(rbm: RBMModule, X: Array) -> float:
    """Mean over samples of ``||v - E[v | h = E[h | v]]||²`` (summed over features).

    A mean-field reconstruction ``v → E[h|v] → E[v|h]``; cheap and useful to see learning
    progress, but not a measure of the model's likelihood (Hinton, 2010, §5).
    """
    X = _as_input(X, rbm)
    total = 0.0
    for r0 in range(0, X.shape[0], _BATCH_ROWS):
        v = X[r0 : r0 + _BATCH_ROWS]
        recon = rbm.visible_mean(rbm.hidden_mean(v))
        total += float((v - recon).square().sum(dtype=torch.float64))
    return total / X.shape[0]


def _mean_free_energy(rbm: RBMModule, X: torch.Tensor) -> float:
    total = 0.0
    for r0 in range(0, X.shape[0], _BATCH_ROWS):
        total += float(rbm.free_energy(X[r0 : r0 + _BATCH_ROWS]).sum(dtype=torch.float64))
    return total / X.shape[0]


@torch.no_grad()
def free_energy_gap(rbm: RBMModule, X_train: Array, X_valid: Array) -> float:
    """``mean F(X_valid) - mean F(X_train)``: the overfitting monitor of Hinton (2010, §6).

    ``log p(v) = -F(v) - log Z`` with the same ``Z`` for both sets, so the gap is the
    difference of the sets' mean log-likelihoods without needing ``Z``: it stays near zero
    while the model generalises and grows positive when it starts to overfit the training
    set. Use a training subset of the same size as the validation set.
    """
    X_train = _as_input(X_train, rbm, "X_train")
    X_valid = _as_input(X_valid, rbm, "X_valid")
    return _mean_free_energy(rbm, X_valid) - _mean_free_energy(rbm, X_train)
