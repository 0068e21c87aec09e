"""Evaluation of RBMs and DBNs: exact and AIS estimates of the partition function,
log-likelihoods, pseudo-likelihood, reconstruction error and the free-energy gap."""

from deepbelief.evaluation._evaluation import (
    AISResult,
    ais_log_partition,
    dbn_log_likelihood_bound,
    default_betas,
    exact_log_partition,
    free_energy_gap,
    log_likelihood,
    pseudo_likelihood,
    reconstruction_error,
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
