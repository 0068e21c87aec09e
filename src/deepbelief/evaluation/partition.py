"""The partition function ``Z`` of an RBM: exact by enumeration, or estimated by Annealed
Importance Sampling.

``log p(v) = -F(v) - log Z``; the free energy ``F`` is cheap but ``Z`` is a sum over
exponentially many states:

* :func:`exact_log_partition` -- enumerate every state of the smaller discrete layer (up to
  2^25 states) and sum the other layer out analytically;
* :func:`ais_log_partition` -- Annealed Importance Sampling (Neal, 2001) with the
  base-rate model and annealing scheme of Salakhutdinov & Murray (2008), for models of any
  size, with the ``log(Ẑ ± 3σ̂)`` error bars reported in that paper.

The energy convention is the one of :mod:`deepbelief.core.units`::

    E(v, h) = phi_v(v) - a·v + phi_h(h) - b·h - vᵀ W h

with ``phi(x) = x²/2`` for (unit-variance) Gaussian units, so ``log Z`` of a Gaussian layer
includes its ``½ log 2π`` terms but no other constant.

References
----------
.. [1] R. Salakhutdinov and I. Murray, "On the quantitative analysis of deep belief
   networks", Proc. ICML 2008.
.. [2] R. M. Neal, "Annealed importance sampling", Statistics and Computing 11:125-139,
   2001.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
import torch

from deepbelief.core.rbm import RBMModule
from deepbelief.core.sharding import (
    RowShard,
    active_shard,
    gather_rows,
    row_shard,
    split_rows,
    uniform,
    world,
)
from deepbelief.evaluation._common import (
    Array,
    RandomState,
    RBMLike,
    _as_input,
    _float64_copy,
    _make_generator,
    _param_device_dtype,
    _wide_device,
    as_rbm,
)

__all__ = ["AISResult", "ais_log_partition", "default_betas", "exact_log_partition"]

#: Most states :func:`exact_log_partition` agrees to enumerate: 2^25 ≈ 3.4e7.
MAX_EXACT_UNITS = 25


# -- exact partition function ------------------------------------------------------------------
@torch.no_grad()
def exact_log_partition(
    rbm: RBMLike,
    chunk_size: int = 65536,
    *,
    layer: Literal["visible", "hidden"] | None = None,
) -> float:
    """Exact ``log Z`` by enumerating every state of one discrete layer.

    ``Z = sum_h exp(-F(h))`` (or ``sum_v exp(-F(v))``): the other layer is summed or
    integrated out analytically by its unit type's log-partition, so a Gaussian (or any
    other) layer may face a small Bernoulli (or softmax) one. All work is in float64, in
    chunks of ``chunk_size`` states combined with a log-sum-exp (Salakhutdinov & Murray,
    2008, use the same enumeration for their 20- and 25-hidden-unit RBMs).

    Parameters
    ----------
    rbm : RBMModule or fitted RBM estimator
        The model (an estimator's ``rbm_``); at least one layer must have discrete units
        (Bernoulli, softmax, or blocks of them), whose states
        :meth:`~deepbelief.core.units.UnitType.states` lists.
    chunk_size : int, default 65536
        States evaluated at once (memory is ``chunk_size × n_other_units`` floats).
    layer : {'visible', 'hidden'} or None, default None
        The layer to enumerate; None picks the discrete layer with fewer states.

    Returns
    -------
    float
        ``log Z``.

    Raises
    ------
    ValueError
        If the enumerated layer's states cannot be enumerated or number more than 2^25.

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
    rbm = as_rbm(rbm, "exact_log_partition")
    if int(chunk_size) < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}.")
    units = {"visible": rbm.visible, "hidden": rbm.hidden}
    counts = {"visible": rbm.visible.n_states(rbm.n_visible),
              "hidden": rbm.hidden.n_states(rbm.n_hidden)}
    discrete = [name for name in ("visible", "hidden") if math.isfinite(counts[name])]
    if layer is None:
        if not discrete:
            raise ValueError(
                "exact_log_partition enumerates the states of a Bernoulli layer (or another "
                f"discrete one), but this RBM has visible={rbm.visible!r} and "
                f"hidden={rbm.hidden!r}; use ais_log_partition instead."
            )
        layer = min(discrete, key=lambda name: counts[name])
    elif layer not in units:
        raise ValueError(f"layer must be 'visible', 'hidden' or None, got {layer!r}.")
    elif layer not in discrete:
        raise ValueError(
            "exact_log_partition can only enumerate a Bernoulli layer (or another discrete "
            f"one), but the {layer} layer has {units[layer]!r} units."
        )
    total = int(counts[layer])
    if total > 1 << MAX_EXACT_UNITS:
        raise ValueError(
            f"exact_log_partition would enumerate {total:.3g} states of the {layer} layer; it "
            f"enumerates at most 2^{MAX_EXACT_UNITS}. Use ais_log_partition for this model."
        )
    model = _float64_copy(rbm)
    device = model.weight.device
    n = model.n_visible if layer == "visible" else model.n_hidden
    neg_free_energy = model.free_energy if layer == "visible" else model.free_energy_hidden
    parts = []
    chunk = int(chunk_size)
    for start in range(0, total, chunk):
        index = torch.arange(start, min(start + chunk, total), device=device)
        states = units[layer].states(index, n, torch.float64)
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
    log_weights : numpy.ndarray of shape (n_runs,)
        The log importance weights ``log w`` (float64).
    n_betas : int
        The number of inverse temperatures, both ends included.
    """

    log_z: float
    log_z_low: float
    log_z_high: float
    log_z_base: float
    log_weights: np.ndarray
    n_betas: int

    @property
    def n_runs(self) -> int:
        """The number of annealing runs (importance weights)."""
        return int(self.log_weights.size)


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
    return rbm.visible.bias_for_mean(mean).to(device=device, dtype=dtype)


@torch.no_grad()
def ais_log_partition(
    rbm: RBMLike,
    n_runs: int = 100,
    betas: Sequence[float] | np.ndarray | torch.Tensor | None = None,
    base: Literal["data", "uniform"] = "data",
    data: Array | None = None,
    random_state: RandomState = None,
    *,
    distributed: bool | None = None,
) -> AISResult:
    """Estimate ``log Z`` by Annealed Importance Sampling (Neal, 2001).

    Follows Salakhutdinov & Murray (2008). The base-rate model ``A`` is an RBM of the same
    shape with zero weights and zero hidden biases whose visible biases ``a_A`` match the
    data (:meth:`~deepbelief.core.units.UnitType.bias_for_mean` of the data mean:
    ``log p/(1-p)`` of the clipped visible marginals for Bernoulli units, the data mean for
    Gaussian units); zero when ``base='uniform'`` or no ``data`` is given. Its
    ``log Z_A = A_v(a_A) + n_hidden · log 2`` is analytic. The intermediate distributions are

        p*_β(v) = exp(-phi_v(v) + ((1-β) a_A + β a)·v) · prod_j (1 + exp(β (b_j + v W_j)))

    (``β = 0``: the base model, ``β = 1``: ``exp(-F(v))`` of the RBM), and the transition
    at ``β`` is one Gibbs sweep of that RBM with scaled parameters: ``h ~ σ(β (b + v W))``,
    then ``v`` from the visible units with field ``(1-β) a_A + β (a + W h)``. All runs
    advance together as an ``(n_runs, n_visible)`` batch.

    Parameters
    ----------
    rbm : RBMModule or fitted RBM estimator
        The model (an estimator's ``rbm_``); Bernoulli hidden units, and visible units
        whose sampler is exact (any but NReLU: Bernoulli, Gaussian, softmax or blocks of
        them).
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
    distributed : bool or None, default None
        Split the runs across the processes of the initialised ``torch.distributed``
        group (None: when one of several processes is initialised). Each process advances
        its block of runs, drawing its rows of the random numbers of all the runs
        (:mod:`deepbelief.core.sharding`), and the log weights are gathered with
        ``all_gather``: every process returns the result one process would, to float
        rounding. Every process must then call it, with the same arguments and seed;
        pass False to run every run here (e.g. on rank 0 alone).

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
    rbm = as_rbm(rbm, "ais_log_partition")
    if not rbm.hidden.binary or not rbm.visible.exact:
        raise ValueError(
            "ais_log_partition needs Bernoulli hidden units and visible units it can sample "
            "exactly (Bernoulli, Gaussian, softmax); this RBM has "
            f"visible={rbm.visible!r}, hidden={rbm.hidden!r}."
        )
    if isinstance(n_runs, bool) or not isinstance(n_runs, numbers.Integral) or n_runs < 1:
        raise ValueError(f"n_runs must be a positive integer, got {n_runs!r}.")
    n_runs = int(n_runs)
    beta_list = _check_betas(betas)
    device, dtype = _param_device_dtype(rbm)
    generator = _make_generator(random_state, device)
    rank, size = world() if distributed is not False else (0, 1)
    lo, hi = split_rows(n_runs, rank, size)
    shard = RowShard(lo, hi, n_runs) if size > 1 else None
    total, n_runs = n_runs, hi - lo  # the runs of this process

    a_base = _base_visible_bias(rbm, base, data, device, dtype)
    log_z_base = _base_log_partition(rbm, a_base)
    with row_shard(shard):
        log_w = annealing_runs(rbm, a_base, beta_list, generator, n_runs=n_runs)
    log_w = gather_rows(log_w, total) if shard is not None else log_w
    log_w = log_w.cpu()
    log_mean, log_low, log_high = _log_mean_and_bounds(log_w)
    return AISResult(
        log_z=log_z_base + log_mean,
        log_z_low=log_z_base + log_low,
        log_z_high=log_z_base + log_high,
        log_z_base=log_z_base,
        log_weights=log_w.numpy(),
        n_betas=len(beta_list),
    )


def _base_log_partition(rbm: RBMModule, a_base: torch.Tensor) -> float:
    """``log Z_A = A_v(a_A) + n_hidden log 2`` of the base-rate model of visible biases
    ``a_A`` (zero weights and hidden biases: its hidden units are fair coins)."""
    a_base64 = a_base.detach().to("cpu", torch.float64).unsqueeze(0)
    return float(rbm.visible.log_partition(a_base64)[0]) + rbm.n_hidden * math.log(2.0)


def annealing_runs(rbm: RBMModule, a_base: torch.Tensor, betas: list[float],
                   generator: torch.Generator, *, n_runs: int | None = None,
                   start: torch.Tensor | None = None) -> torch.Tensor:
    """The log weights of annealing runs along ``betas``, float64 of shape (n_runs,).

    Each run starts from ``start`` (n_runs, n_visible; in the RBM's dtype and on its
    device), or from a sample of the base-rate model of visible biases ``a_base`` when
    ``start`` is None, and sums ``log p*_{β_k}(v) - log p*_{β_{k-1}}(v)`` over ``k``, the
    state moving by one Gibbs sweep at ``β_k`` after each term (none after the last).
    ``p*_β`` is the intermediate distribution of :func:`ais_log_partition` (``β = 0``: the
    base-rate model; ``β = 1``: the RBM). From 0 up to 1 it is AIS; from 1 down to 0 the
    reverse annealing of :func:`~deepbelief.evaluation.reverse_ais.raise_log_likelihood`,
    whose sum is minus the log ratio of the forward steps (the increments hold for either
    sign of ``β_k - β_{k-1}``).
    """
    device, dtype = a_base.device, a_base.dtype
    n_runs = int(start.shape[0] if start is not None else n_runs)
    W = rbm.weight.detach()
    a = rbm.visible_bias.detach()
    b = rbm.hidden_bias.detach()
    n_v, n_h = W.shape

    # One product v @ [W | a - a_A] gives the hidden input and the visible-bias term.
    W_aug = torch.cat([W, (a - a_base).unsqueeze(1)], dim=1)
    b_aug = torch.cat([b, b.new_zeros(1)])
    W_t = W.t().contiguous()
    a_diff = a - a_base

    # Preallocated buffers for the hidden side; the visible sample is the unit type's own.
    c_aug = torch.empty(n_runs, n_h + 1, device=device, dtype=dtype)
    prob = torch.empty(n_runs, n_h, device=device, dtype=dtype)
    tmp = torch.empty(n_runs, n_h, device=device, dtype=dtype)
    h = torch.empty(n_runs, n_h, device=device, dtype=dtype)
    inc = torch.empty(n_runs, device=device, dtype=dtype)
    v_field = torch.empty(n_runs, n_v, device=device, dtype=dtype)
    v_bias = torch.empty(n_v, device=device, dtype=dtype)
    log_w = torch.zeros(n_runs, device=device, dtype=torch.float64)
    _anneal(rbm, W_aug, b_aug, W_t, a_base, a_diff, betas, generator, log_w,
            (c_aug, prob, tmp, h, inc, v_field, v_bias), start)
    return log_w


def _anneal(rbm, W_aug, b_aug, W_t, a_base, a_diff, beta_list, generator, log_w,
            buffers, start=None) -> None:
    """The annealing runs of :func:`annealing_runs`: ``log_w`` accumulates the log
    weights of its rows (runs), in place; ``buffers`` are the preallocated work tensors."""
    c_aug, prob, tmp, h, inc, v_field, v_bias = buffers
    n_runs, n_h = prob.shape
    n_v = v_field.shape[1]
    c, bias_term = c_aug[:, :n_h], c_aug[:, n_h]
    shard = active_shard()
    # v_1 ~ p_0, the base-rate model (independent visible units), unless given.
    v = (rbm.visible.sample(a_base.expand(n_runs, n_v).contiguous(), generator)
         if start is None else start)

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
        tmp.log1p_()  # softplus(β_{k-1} c) - softplus(β_k c), either sign of d_beta
        torch.sum(tmp, dim=1, out=inc)
        log_w.add_(bias_term, alpha=d_beta)
        log_w.sub_(inc)
        if k == last:
            break
        # v_{k+1} ~ T_k(v_k, .): h ~ σ(β_k c), v | h with field (1-β_k) a_A + β_k (a + W h).
        if shard is None:
            torch.rand(n_runs, n_h, generator=generator, device=tmp.device, dtype=tmp.dtype,
                       out=tmp)
        else:  # this process's rows of the draw of every run
            tmp.copy_(uniform((n_runs, n_h), generator, tmp.device, tmp.dtype))
        torch.lt(tmp, prob, out=h)
        torch.add(a_base, a_diff, alpha=beta, out=v_bias)
        torch.addmm(v_bias, h, W_t, alpha=beta, out=v_field)
        v = rbm.visible.sample(v_field, generator)


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
