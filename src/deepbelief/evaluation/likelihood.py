"""Log-likelihoods given ``log Z``: of an RBM, exact (:func:`log_likelihood`), and of a DBN,
a variational lower bound (:func:`dbn_log_likelihood_bound`).

Every function works on the device of the model's parameters in float64, accepts numpy
arrays or tensors, never touches a global random state, and returns a float64 NumPy array
(one value per sample, on the host).

References
----------
R. Salakhutdinov and I. Murray, "On the quantitative analysis of deep belief networks",
Proc. ICML 2008.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch

from deepbelief.evaluation._common import (
    Array,
    DBNLike,
    RandomState,
    RBMLike,
    _as_input,
    _float64_copy,
    _make_generator,
    _numpy64,
    as_rbm,
    as_rbms,
)
from deepbelief.evaluation.partition import AISResult

__all__ = ["dbn_log_likelihood_bound", "log_likelihood"]


@torch.no_grad()
def log_likelihood(rbm: RBMLike, X: Array, log_z: float | AISResult) -> np.ndarray:
    """Per-sample log-probability ``log p(v) = -F(v) - log Z``.

    Parameters
    ----------
    rbm : RBMModule or fitted RBM estimator
        The model (an estimator's ``rbm_``).
    X : array-like of shape (n_samples, n_visible)
    log_z : float or AISResult
        ``log Z`` from :func:`exact_log_partition` or :func:`ais_log_partition`. With an AIS
        estimate the result is itself an estimate (Salakhutdinov & Murray, 2008): since
        ``log Ẑ`` tends to underestimate ``log Z``, it tends to overestimate ``log p``.

    Returns
    -------
    numpy.ndarray of shape (n_samples,)
        In float64 (computed in float64 on the RBM's device, the CPU for MPS). For Gaussian
        visible units it is a log-density.

    Examples
    --------
    With zero parameters every visible state is equally likely, ``p(v) = 2^-n_visible``:

    >>> import math
    >>> from deepbelief.core.rbm import RBMModule
    >>> from deepbelief.evaluation import exact_log_partition
    >>> rbm = RBMModule(3, 2)
    >>> ll = log_likelihood(rbm, np.zeros((2, 3), np.float32), exact_log_partition(rbm))
    >>> ll.dtype, bool(np.allclose(ll, -3 * math.log(2)))
    (dtype('float64'), True)
    """
    rbm = as_rbm(rbm, "log_likelihood")
    if isinstance(log_z, AISResult):
        log_z = log_z.log_z
    model = _float64_copy(rbm)
    X = _as_input(X, rbm, device=model.weight.device, dtype=torch.float64)
    return _numpy64(-model.free_energy(X) - float(log_z))


def _bernoulli_entropy(p: torch.Tensor) -> torch.Tensor:
    """Entropy of a factorial Bernoulli distribution with means ``p``: (batch,)."""
    return -(torch.xlogy(p, p) + torch.xlogy(1 - p, 1 - p)).sum(-1)


@torch.no_grad()
def dbn_log_likelihood_bound(
    rbms: DBNLike, X: Array, log_z_top: float | AISResult, *, n_samples: int = 10,
    random_state: RandomState = None,
) -> np.ndarray:
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
    rbms : sequence of RBMModule or of fitted RBM estimators (bottom first), a fitted
        :class:`~deepbelief.DBNTransformer` (its ``rbms_``), or one RBM
        Hidden units of every layer below the top must be Bernoulli; the visible units of
        those layers any with an exact conditional (Bernoulli, Gaussian, softmax; not NReLU).
    X : array-like of shape (n_samples, n_visible)
    log_z_top : float or AISResult
        ``log Z`` of the top RBM (:func:`ais_log_partition` or :func:`exact_log_partition`).
    n_samples : int, default 10
        Bottom-up samples per data point.
    random_state : int, generator or None

    Returns
    -------
    numpy.ndarray of shape (n_samples,)
        In float64.
    """
    rbms = as_rbms(rbms, "dbn_log_likelihood_bound")
    if isinstance(log_z_top, AISResult):
        log_z_top = log_z_top.log_z
    if n_samples < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples}.")
    models = [_float64_copy(r) for r in rbms]
    for lower, upper in itertools.pairwise(models):
        if not lower.hidden.binary or lower.n_hidden != upper.n_visible:
            raise ValueError("the bound needs Bernoulli hidden units below the top RBM, each "
                             "layer's hidden size equal to the next layer's visible size.")
    for lower in models[:-1]:
        if not lower.visible.exact:
            raise ValueError("the bound needs visible units with an exact conditional below "
                             f"the top RBM (not {lower.visible!r}).")
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
        total += lower.visible.log_conditional(h, lower.visible_field(h_up))
        h = h_up
    total -= models[-1].free_energy(h) + float(log_z_top)
    return _numpy64(total.view(-1, n_samples).mean(1))
