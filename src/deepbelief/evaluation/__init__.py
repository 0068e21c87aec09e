"""Evaluation of RBMs and DBNs: exact and AIS estimates of the partition function
(:mod:`~deepbelief.evaluation.partition`), log-likelihoods and the DBN bound
(:mod:`~deepbelief.evaluation.likelihood`), conservative log-likelihoods by reverse annealing
(:mod:`~deepbelief.evaluation.reverse_ais`), and the pseudo-likelihood, reconstruction error
and free-energy gap monitors (:mod:`~deepbelief.evaluation.monitors`), and the quality of
samples: mode coverage, kernel MMD and adversarial accuracy
(:mod:`~deepbelief.evaluation.sample_quality`)."""

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
from deepbelief.evaluation.reverse_ais import RAISEResult, raise_log_likelihood
from deepbelief.evaluation.sample_quality import (
    AdversarialAccuracy,
    ClassCoverage,
    KernelMMD,
    adversarial_accuracy,
    class_coverage,
    histogram_entropy,
    kernel_mmd,
    median_bandwidth,
)

__all__ = [
    "AISResult",
    "AdversarialAccuracy",
    "ClassCoverage",
    "KernelMMD",
    "RAISEResult",
    "adversarial_accuracy",
    "ais_log_partition",
    "class_coverage",
    "dbn_log_likelihood_bound",
    "default_betas",
    "exact_log_partition",
    "free_energy_gap",
    "histogram_entropy",
    "kernel_mmd",
    "log_likelihood",
    "median_bandwidth",
    "pseudo_likelihood",
    "raise_log_likelihood",
    "reconstruction_error",
]
