"""Parallel tempering (replica exchange) for an RBM: chains at several temperatures that
swap states, so that the chain of the model itself crosses between its modes.

The tempered models
    Replica ``k`` samples the RBM at inverse temperature ``beta_k``, with
    ``1 = beta_0 > beta_1 > ... > beta_{M-1} >= 0``. Tempering scales the *linear* part of
    the energy (the weights and the biases) and leaves the unit types' base energies
    ``phi`` alone (:mod:`deepbelief.core.units`)::

        E_beta(v, h) = phi_v(v) + phi_h(h) - a0·v + beta · D(v, h),
        D(v, h)      = -(a - a0)·v - b·h - vᵀ W h,

    where ``a0`` is the visible bias of a base-rate model (zero by default: the uniform
    distribution over binary states). This is the family of annealed importance sampling
    (Salakhutdinov & Murray, 2008): ``beta = 0`` is the base-rate model, whose units are
    independent, and every ``beta`` is an RBM of the same unit types whose fields are
    ``hidden: beta (b + vᵀ W)``, ``visible: a0 + beta (a - a0 + W h)``. For Bernoulli units
    (``phi = 0``) and ``a0 = 0`` it is the plain tempering ``exp(-beta E)``. Leaving
    ``phi`` unscaled keeps every tempered model proper: Gaussian visible units stay of unit
    variance, with means scaled by ``beta``.
One step
    One Gibbs sweep ``h ~ p_beta(h | v)``, ``v ~ p_beta(v | h)`` of every replica (all
    temperatures in one batched matrix product), then an exchange between neighbouring
    temperatures: pairs ``(k, k+1)`` with ``k`` even on even steps and odd on odd steps
    (the even/odd alternation; the pairs of one step are disjoint), each swapping the
    joint states ``(v, h)`` of its two replicas with the Metropolis probability
    ``min(1, exp((beta_k - beta_{k+1}) (D_k - D_{k+1})))`` (:func:`swap_probability`).
    Each operation leaves the product of the tempered distributions invariant, so the
    ``beta = 1`` replica samples the model.
Chains
    The sampler holds ``n`` independent tempering systems (rows), each of ``M`` replicas:
    its state is ``v`` of shape (M, n, n_visible), ``v[0]`` the model's chains. Every row
    decides its swaps on its own.
The ladder
    Given as a list of inverse temperatures, or as a count (a geometric ladder from 1 down
    to :data:`LOWEST_BETA`; :func:`inverse_temperatures`). With ``swap_target`` it is
    adapted while sampling (Robbins-Monro on the log gaps): every attempted pair's log gap
    ``s_k = log(log beta_k - log beta_{k+1})`` moves by ``adapt_rate · (p_k - swap_target)``,
    where ``p_k`` is the pair's mean swap probability at that step; a pair that swaps more
    often than the target moves apart, one that swaps less often moves together.
    ``beta_0 = 1`` stays fixed and every ``beta`` stays > 0. An adapted ladder is not a
    fixed-temperature sampler: adapt during burn-in, or accept the small bias of an
    adaptation that never stops (as PT-PCD training does, whose model moves anyway).
Diagnostics
    Per neighbouring pair, the swaps attempted and accepted (:meth:`ParallelTempering.swap_rates`);
    round trips of replicas between the extremes (:meth:`ParallelTempering.round_trips`):
    a replica that has been at ``beta_0`` completes a round trip when it comes back to
    ``beta_0`` after reaching ``beta_{M-1}``.
Graph-safe
    :meth:`ParallelTempering.step_` makes every decision on the device (no ``.item()``, no
    host synchronisation) and updates its tensors in place, so that a CUDA graph can record
    it (:mod:`deepbelief.training.graphs`).

References
----------
R. H. Swendsen and J.-S. Wang, "Replica Monte Carlo simulation of spin glasses", Phys. Rev.
Lett. 57, 1986. D. J. Earl and M. W. Deem, "Parallel tempering: theory, applications, and
new perspectives", Phys. Chem. Chem. Phys. 7, 2005. G. Desjardins, A. Courville, Y. Bengio,
P. Vincent and O. Delalleau, "Tempered Markov chain Monte Carlo for training of restricted
Boltzmann machines", AISTATS 2010. K. Cho, T. Raiko and A. Ilin, "Parallel tempering is
efficient for learning restricted Boltzmann machines", IJCNN 2010. R. Salakhutdinov and I.
Murray, "On the quantitative analysis of deep belief networks", ICML 2008.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np
import torch

from deepbelief.core.rbm import RBMModule
from deepbelief.core.sharding import uniform

__all__ = [
    "DEFAULT_TEMPERATURES",
    "LOWEST_BETA",
    "ParallelTempering",
    "inverse_temperatures",
    "scaled_energy",
    "swap_probability",
    "tempered_sweep",
]

#: Replicas of a ladder given by default (a count).
DEFAULT_TEMPERATURES = 10
#: The lowest inverse temperature of a geometric ladder given as a count. Energy differences
#: grow with the number of units, and the gaps of a ladder must shrink with them for the
#: replicas to swap: for a 784-500 MNIST RBM (PCD-1, 10 epochs), 10 temperatures from 1 to
#: 0.5 swapped at rates of 0.24-0.47 per pair, 10 from 1 to 0.05 at 0-0.01. Small models
#: may go hotter.
LOWEST_BETA = 0.5
#: Bounds of the adapted log gaps: gaps of ``log beta`` within [e^-12, e^4].
_LOG_GAP_RANGE = (-12.0, 4.0)

# Round-trip labels of a replica: not yet at beta_0; left beta_0; reached beta_{M-1} since.
_FRESH, _DOWN, _UP = 0, 1, 2


def inverse_temperatures(temperatures: int | Sequence[float] = DEFAULT_TEMPERATURES, *,
                         lowest: float = LOWEST_BETA) -> torch.Tensor:
    """The ladder ``1 = beta_0 > ... > beta_{M-1} >= 0`` as a float64 tensor of shape (M,).

    Parameters
    ----------
    temperatures : int or sequence of float, default :data:`DEFAULT_TEMPERATURES`
        A count ``M >= 1``: the geometric ladder ``beta_k = lowest ** (k / (M - 1))``
        (``[1.0]`` for ``M = 1``); or the inverse temperatures themselves.
    lowest : float, default :data:`LOWEST_BETA`
        The last ``beta`` of a geometric ladder, in (0, 1).

    Raises
    ------
    ValueError
        A count below 1, a ladder that does not start at 1, is not strictly decreasing, or
        goes below 0; a ``lowest`` outside (0, 1).

    Examples
    --------
    >>> inverse_temperatures(3, lowest=0.25).tolist()
    [1.0, 0.5, 0.25]
    >>> inverse_temperatures([1.0, 0.5, 0.0]).tolist()
    [1.0, 0.5, 0.0]
    """
    if isinstance(temperatures, numbers.Integral) and not isinstance(temperatures, bool):
        if temperatures < 1:
            raise ValueError(f"temperatures must be a count >= 1 or a list of inverse "
                             f"temperatures, got {temperatures!r}.")
        if not 0.0 < lowest < 1.0:
            raise ValueError(f"lowest must lie in (0, 1), got {lowest!r}.")
        steps = torch.arange(temperatures, dtype=torch.float64) / max(temperatures - 1, 1)
        return lowest ** steps
    try:
        betas = torch.as_tensor(np.asarray(temperatures, dtype=np.float64))
    except (TypeError, ValueError):
        betas = None
    if betas is None or betas.ndim != 1 or betas.numel() == 0:
        raise ValueError(f"temperatures must be a count >= 1 or a list of inverse "
                         f"temperatures, got {temperatures!r}.")
    if (betas[0] != 1.0 or bool((betas[1:] >= betas[:-1]).any()) or betas[-1] < 0
            or not bool(torch.isfinite(betas).all())):
        raise ValueError("inverse temperatures must start at 1 (the model) and decrease "
                         f"strictly to a value >= 0, e.g. [1.0, 0.7, 0.4]; got "
                         f"{betas.tolist()}.")
    return betas


def swap_probability(beta_i, beta_j, energy_i, energy_j) -> torch.Tensor:
    """Metropolis probability of exchanging the states of replicas at ``beta_i`` and
    ``beta_j``: ``min(1, exp((beta_i - beta_j) (E_i - E_j)))`` with ``E`` the energies
    that tempering scales (:func:`scaled_energy`). Broadcasts; tensors in, tensor out.

    Examples
    --------
    >>> swap_probability(torch.tensor(1.0), torch.tensor(0.5), torch.tensor(-2.0),
    ...                  torch.tensor(0.0))
    tensor(0.3679)
    """
    log_ratio = (beta_i - beta_j) * (energy_i - energy_j)
    return torch.exp(torch.clamp(log_ratio, max=0.0))


def scaled_energy(rbm: RBMModule, v: torch.Tensor, h: torch.Tensor,
                  base_bias: torch.Tensor | None = None) -> torch.Tensor:
    """``D(v, h) = -(a - a0)·v - b·h - vᵀ W h``: the part of the energy that tempering
    scales (module docstring), shape ``v.shape[:-1]``.

    ``v`` (..., n_visible) and ``h`` (..., n_hidden); ``base_bias`` is ``a0`` (None: 0).
    """
    a = rbm.visible_bias if base_bias is None else rbm.visible_bias - base_bias
    interaction = (torch.matmul(v, rbm.weight) * h).sum(-1)
    return -(torch.matmul(v, a) + torch.matmul(h, rbm.hidden_bias) + interaction)


def tempered_sweep(rbm: RBMModule, v: torch.Tensor, betas: torch.Tensor,
                   generator: torch.Generator | None,
                   base_bias: torch.Tensor | None = None
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """One Gibbs sweep of every replica at its temperature.

    Parameters
    ----------
    rbm : RBMModule
        A plain RBM (no context).
    v : tensor of shape (M, n, n_visible)
        The replicas' visible states, ``v[k]`` at ``betas[k]``.
    betas : tensor of shape (M,)
    generator : torch.Generator or None
    base_bias : tensor of shape (n_visible,) or None
        ``a0``, the base-rate model's visible bias (None: 0).

    Returns
    -------
    (v, h) : the new visible samples (M, n, n_visible) and the hidden samples (M, n,
    n_hidden) they were drawn from: each replica's joint state.
    """
    m, n, d = v.shape
    scale = betas.to(v.dtype).view(m, 1, 1)
    h_field = (torch.matmul(v, rbm.weight) + rbm.hidden_bias) * scale
    _, h = rbm.hidden.mean_and_sample(h_field.view(m * n, -1), generator)
    h = h.view(m, n, -1)
    a = rbm.visible_bias if base_bias is None else rbm.visible_bias - base_bias
    v_field = (torch.matmul(h, rbm.weight.t()) + a) * scale
    if base_bias is not None:
        v_field = v_field + base_bias
    return rbm.visible.sample(v_field.view(m * n, d), generator).view(m, n, d), h


class ParallelTempering:
    """The replicas of ``n`` parallel-tempering systems of an RBM, and their diagnostics.

    Parameters
    ----------
    start : tensor of shape (n, n_visible) or (M, n, n_visible)
        Where the chains start: the same rows at every temperature, or one state each.
    temperatures : int or sequence of float, default :data:`DEFAULT_TEMPERATURES`
        The ladder (:func:`inverse_temperatures`); M is its length.
    swap_target : float or None, default None
        Adapt the ladder towards this swap probability per neighbouring pair (in (0, 1));
        None keeps it fixed.
    adapt_rate : float, default 0.05
        The step of the adaptation on the log gaps.
    base_bias : tensor of shape (n_visible,) or None
        ``a0``: the visible bias of the base-rate model at ``beta = 0`` (None: 0).

    Attributes
    ----------
    v : tensor of shape (M, n, n_visible)
        The replicas' visible states; ``v[0]`` samples the model.
    betas : tensor of shape (M,)
        The ladder (adapted in place with ``swap_target``).
    attempts, accepted : int64 tensors of shape (M - 1,)
        Swaps attempted and accepted per neighbouring pair.
    trips : int64 tensor of shape ()
        Round trips completed (all rows together).
    steps : int64 tensor of shape ()
        Steps taken.

    Raises
    ------
    ValueError
        A ``swap_target`` outside (0, 1), an adapted ladder with fewer than two
        temperatures or reaching ``beta = 0``, or a ``start`` of the wrong shape.

    Examples
    --------
    >>> import torch
    >>> from deepbelief.core.rbm import RBMModule
    >>> rbm = RBMModule(6, 4)
    >>> g = torch.Generator().manual_seed(0)
    >>> pt = ParallelTempering(torch.zeros(5, 6), temperatures=4)
    >>> for _ in range(20):
    ...     pt.step_(rbm, g)
    >>> pt.v.shape, pt.swap_rates().shape, int(pt.steps)
    (torch.Size([4, 5, 6]), (3,), 20)
    """

    def __init__(self, start: torch.Tensor,
                 temperatures: int | Sequence[float] = DEFAULT_TEMPERATURES, *,
                 swap_target: float | None = None, adapt_rate: float = 0.05,
                 base_bias: torch.Tensor | None = None) -> None:
        betas = inverse_temperatures(temperatures)
        m = betas.numel()
        if swap_target is not None:
            if not 0.0 < swap_target < 1.0:
                raise ValueError(f"swap_target must lie in (0, 1), got {swap_target!r}.")
            if m < 2 or betas[-1] <= 0:
                raise ValueError("an adapted ladder needs at least two temperatures, all "
                                 "above 0: give a count, or a list whose last value is > 0.")
        if start.ndim == 2:
            start = start.unsqueeze(0).expand(m, *start.shape)
        if start.ndim != 3 or start.shape[0] != m:
            raise ValueError(f"start must have shape (n, n_visible) or ({m}, n, n_visible), "
                             f"got {tuple(start.shape)}.")
        device, n = start.device, start.shape[1]
        long = {"device": device, "dtype": torch.long}
        self.v = start.clone().contiguous()
        self.betas = betas.to(device=device, dtype=start.dtype)
        self.swap_target = swap_target
        self.adapt_rate = float(adapt_rate)
        self.base_bias = None if base_bias is None else base_bias.to(device, start.dtype)
        self.log_gaps = (torch.log(-torch.diff(torch.log(self.betas))) if swap_target
                         else None)
        self.attempts = torch.zeros(m - 1, **long)
        self.accepted = torch.zeros(m - 1, **long)
        self.trips = torch.zeros((), **long)
        self.steps = torch.zeros((), **long)
        self.labels = torch.full((m, n), _FRESH, **long)
        self.labels[0] = _DOWN
        self._pairs = torch.arange(max(m - 1, 0), **long)
        self._slots = torch.arange(m, **long).view(m, 1)

    @property
    def n_temperatures(self) -> int:
        return self.v.shape[0]

    # -- one step (graph-safe: in place, no host synchronisation) ----------------------------
    @torch.no_grad()
    def step_(self, rbm: RBMModule, generator: torch.Generator | None) -> None:
        """One sweep of every replica, then one round of swaps (module docstring)."""
        v, h = tempered_sweep(rbm, self.v, self.betas, generator, self.base_bias)
        m = self.n_temperatures
        if m > 1:
            energy = scaled_energy(rbm, v, h, self.base_bias)  # (M, n)
            p = swap_probability(self.betas[:-1, None], self.betas[1:, None],
                                 energy[:-1], energy[1:])
            draw = uniform(tuple(p.shape), generator, p.device, p.dtype)
            active = (self._pairs % 2) == (self.steps % 2)  # this step's disjoint pairs
            accept = (draw < p) & active[:, None]
            self.attempts.add_(active.long() * p.shape[1])
            if self.log_gaps is not None:
                self._adapt_(p.mean(1), active)
            self.exchange_(accept, v)
        else:
            self.v.copy_(v)
        self.steps.add_(1)

    def freeze_(self) -> None:
        """Stop adapting the ladder (keep the current one): sample at fixed temperatures
        from here on."""
        self.log_gaps = None

    def _adapt_(self, p: torch.Tensor, active: torch.Tensor) -> None:
        """Move the attempted pairs' log gaps towards the target swap probability and
        rebuild ``betas`` from them (module docstring)."""
        self.log_gaps.add_(active.to(p.dtype) * (p - self.swap_target) * self.adapt_rate)
        self.log_gaps.clamp_(*_LOG_GAP_RANGE)
        self.betas[1:].copy_(torch.exp(-torch.cumsum(torch.exp(self.log_gaps), 0)))

    def _source(self, accept: torch.Tensor) -> torch.Tensor:
        """Where each slot's new state comes from: (M, n) slot indices."""
        up = torch.nn.functional.pad(accept, (0, 0, 0, 1)).long()    # slot k takes k + 1
        down = torch.nn.functional.pad(accept, (0, 0, 1, 0)).long()  # slot k takes k - 1
        return self._slots + up - down

    def exchange_(self, accept: torch.Tensor, v: torch.Tensor | None = None) -> None:
        """Swap the states of the accepted pairs, in place, and count.

        Parameters
        ----------
        accept : bool tensor of shape (M - 1, n)
            ``accept[k, r]``: row ``r`` swaps the replicas at ``beta_k`` and
            ``beta_{k+1}``. No two neighbouring pairs of a row may both be True.
        v : tensor of shape (M, n, n_visible) or None
            The states to exchange (those of this step's sweep); None: the current ones.
        """
        source = self._source(accept)
        v = self.v if v is None else v
        self.v.copy_(v.gather(0, source.unsqueeze(-1).expand_as(v)))
        self.labels.copy_(self.labels.gather(0, source))
        self.accepted.add_(accept.long().sum(1))
        self._count_round_trips_()

    def _count_round_trips_(self) -> None:
        top, bottom = self.labels[0], self.labels[-1]
        self.trips.add_((top == _UP).long().sum())
        top.fill_(_DOWN)
        bottom.copy_(torch.where(bottom == _DOWN, _UP, bottom))

    # -- diagnostics (read on the host) ------------------------------------------------------
    def swap_rates(self) -> np.ndarray:
        """Accepted / attempted swaps per neighbouring pair, shape (M - 1,), in [0, 1]
        (NaN for a pair not attempted yet)."""
        attempts = self.attempts.double().cpu().numpy()
        accepted = self.accepted.double().cpu().numpy()
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(attempts > 0, accepted / np.maximum(attempts, 1), math.nan)

    def round_trips(self) -> int:
        """Round trips completed between ``beta_0`` and ``beta_{M-1}``, all rows together."""
        return int(self.trips)

    def diagnostics(self) -> dict:
        """``betas``, ``swap_rates``, ``round_trips`` and ``steps``, as host values."""
        return {"betas": self.betas.double().cpu().numpy(), "swap_rates": self.swap_rates(),
                "round_trips": self.round_trips(), "steps": int(self.steps)}

    # -- checkpoints -------------------------------------------------------------------------
    _STATE = ("v", "betas", "log_gaps", "attempts", "accepted", "trips", "steps", "labels")

    def state_dict(self) -> dict:
        """Clones of every tensor of the state (chains, ladder, counters)."""
        return {name: None if getattr(self, name) is None else getattr(self, name).clone()
                for name in self._STATE}

    def load_state_dict(self, state: dict) -> None:
        """Continue from :meth:`state_dict` (copied in place; the shapes must match)."""
        for name in self._STATE:
            mine, saved = getattr(self, name), state.get(name)
            if (mine is None) != (saved is None):
                raise ValueError(f"the saved sampler state {'lacks' if saved is None else 'has'}"
                                 f" {name!r}: it was written with another swap_target setting.")
            if mine is not None:
                if mine.shape != saved.shape:
                    raise ValueError(f"the saved {name} has shape {tuple(saved.shape)}, this "
                                     f"sampler's {tuple(mine.shape)}.")
                mine.copy_(saved)
