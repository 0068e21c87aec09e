"""Evaluation of RBMs and DBNs: exact and AIS estimates of the partition function
(:mod:`~deepbelief.evaluation.partition`), log-likelihoods and the DBN bound
(:mod:`~deepbelief.evaluation.likelihood`), and the pseudo-likelihood, reconstruction error
and free-energy gap monitors (:mod:`~deepbelief.evaluation.monitors`)."""

from deepbelief.evaluation.likelihood import dbn_log_likelihood_bound, log_likelihood
from deepbelief.evaluation.monitors import (
    free_energy_gap,
    pseudo_likelihood,
    reconstruction_error,
)
from deepbelief.evaluation.partition import (
    AISResult,
    ais_log_partition,
    default_betas,
    exact_log_partition,
)

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
