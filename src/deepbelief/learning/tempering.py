"""PT-PCD: persistent contrastive divergence whose fantasy particles are the ``beta = 1``
replicas of parallel-tempering systems (:mod:`deepbelief.core.tempering`).

PCD's chains follow the model as it learns, but a Gibbs chain of a sharply peaked model
mixes slowly between its modes, so the negative statistics come from the few modes the
chains happen to be in. Tempered replicas of the same chains (the same RBM at inverse
temperatures ``beta < 1``) move between modes easily and hand their states down the ladder
by swaps; the ``beta = 1`` replicas, which give the negative phase, then visit the modes in
proportion to their mass (Desjardins et al. 2010; Cho, Raiko & Ilin 2010).

The rule has the signature of :mod:`deepbelief.learning.contrastive`'s rules,
``negative_phase(rbm, v_pos, h_pos_sample, generator) -> (v_neg, h_neg_mean)``, keeps the
replicas of every temperature as its state (:meth:`ParallelTemperingPCD.state_dict`, so
checkpoints carry them) and updates them in place, with the swap decisions made on the
device: a step can be recorded into a CUDA graph (:mod:`deepbelief.training.graphs`).

References
----------
G. Desjardins, A. Courville, Y. Bengio, P. Vincent and O. Delalleau, "Tempered Markov chain
Monte Carlo for training of restricted Boltzmann machines", AISTATS 2010. K. Cho, T. Raiko
and A. Ilin, "Parallel tempering is efficient for learning restricted Boltzmann machines",
IJCNN 2010.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from deepbelief.core.rbm import RBMModule
from deepbelief.core.sharding import world
from deepbelief.core.tempering import (
    DEFAULT_TEMPERATURES,
    ParallelTempering,
    inverse_temperatures,
)

__all__ = ["ParallelTemperingPCD"]


class ParallelTemperingPCD:
    """PT-PCD-k: persistent chains at several temperatures that swap states.

    The ``n_chains`` tempering systems (the batch size by default) start, at every
    temperature, from the rows of the first mini-batch (as PCD's chains do). Each update
    advances them ``k`` steps of :meth:`~deepbelief.core.tempering.ParallelTempering.step_`
    (a Gibbs sweep of every replica, then swaps between neighbouring temperatures) and
    returns the ``beta = 1`` replicas as the negative particles. With one temperature it is
    PCD-k.

    Parameters
    ----------
    k : int, default 1
        Tempering steps per update.
    temperatures : int or sequence of float, default 10
        The ladder: a count (a geometric ladder of inverse temperatures from 1 to
        :data:`~deepbelief.core.tempering.LOWEST_BETA`) or the inverse temperatures
        ``1 = beta_0 > ... >= 0``.
    n_chains : int or None, default None
        Tempering systems (chains per temperature); None: the first batch's size.
    swap_target : float or None, default None
        Adapt the ladder during training towards this swap probability between
        neighbours (:class:`~deepbelief.core.tempering.ParallelTempering`); None: fixed.

    Raises
    ------
    ValueError
        ``k < 1`` or a ladder :func:`~deepbelief.core.tempering.inverse_temperatures`
        refuses; a conditional RBM's batch (a context), or data-parallel training (several
        processes), at the first update: use ``method='pcd'`` there.

    Examples
    --------
    >>> import torch
    >>> from deepbelief.core.rbm import RBMModule
    >>> from deepbelief.learning.contrastive import RBMObjective
    >>> rbm = RBMModule(6, 3)
    >>> objective = RBMObjective(rbm, ParallelTemperingPCD(temperatures=[1.0, 0.5, 0.25]))
    >>> g = torch.Generator().manual_seed(0)
    >>> objective.gradients_(((torch.rand(8, 6, generator=g) < 0.5).float(),), g)
    >>> objective.rule.sampler.v.shape  # (temperatures, chains, visible units)
    torch.Size([3, 8, 6])
    """

    def __init__(self, k: int = 1, temperatures: int | Sequence[float] = DEFAULT_TEMPERATURES,
                 n_chains: int | None = None, swap_target: float | None = None) -> None:
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}.")
        inverse_temperatures(temperatures)  # refuse a bad ladder now, not at the first step
        self.k = k
        self.temperatures = temperatures
        self.n_chains = n_chains
        self.swap_target = swap_target
        self.sampler: ParallelTempering | None = None
    # No ``persistent`` attribute: data-parallel training shards rules that have one by their
    # ``chains`` rows, and PT-PCD trains on one process (negative_phase says so).

    def _start(self, v_pos: torch.Tensor) -> ParallelTempering:
        n = self.n_chains or v_pos.shape[0]
        reps = -(-n // v_pos.shape[0])
        return ParallelTempering(v_pos.repeat(reps, 1)[:n], self.temperatures,
                                 swap_target=self.swap_target)

    def negative_phase(self, rbm: RBMModule, v_pos, h_pos_sample, generator, context=None):
        if self.sampler is None or self.sampler.v.shape[-1] != rbm.n_visible:
            if context is not None:
                raise ValueError("PT-PCD samples plain RBMs; a conditional RBM (given a "
                                 "context) trains with method='pcd' or 'cd'.")
            if world()[1] > 1:
                raise ValueError("PT-PCD trains on one process; under data-parallel "
                                 "training use method='pcd'.")
            self.sampler = self._start(v_pos)
        for _ in range(self.k):
            self.sampler.step_(rbm, generator)
        v = self.sampler.v[0]
        return v, rbm.hidden_mean(v)

    def diagnostics(self) -> dict:
        """The sampler's ladder, swap rates per neighbouring pair and round trips
        (:meth:`~deepbelief.core.tempering.ParallelTempering.diagnostics`); empty before
        the first update."""
        return {} if self.sampler is None else self.sampler.diagnostics()

    def state_dict(self) -> dict:
        return {"sampler": None if self.sampler is None else self.sampler.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        saved = state.get("sampler")
        if saved is None:
            self.sampler = None
            return
        self.sampler = ParallelTempering(saved["v"], self.temperatures,
                                         swap_target=self.swap_target)
        self.sampler.load_state_dict(saved)
