"""Cheap training monitors of an RBM that need no partition function: the exact
pseudo-log-likelihood, the reconstruction error and the free-energy gap.

Every function works on the device and in the dtype of the RBM's parameters, accepts
numpy arrays or tensors, and returns Python floats or a float64 NumPy array.

References
----------
G. E. Hinton, "A practical guide to training restricted Boltzmann machines", UTML TR
2010-003, 2010. J. Besag, "Statistical analysis of non-lattice data", The Statistician 24,
1975.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from deepbelief.core.rbm import RBMModule
from deepbelief.evaluation._common import Array, RBMLike, _as_input, _numpy64, as_rbm

__all__ = ["free_energy_gap", "pseudo_likelihood", "reconstruction_error"]

#: Upper bound on the elements of one (samples, features, hidden) block in
#: :func:`pseudo_likelihood` (2^22 float32 = 16 MiB per temporary).
_PL_BLOCK_ELEMENTS = 1 << 22
#: Rows per batch for the simple per-sample monitors.
_BATCH_ROWS = 8192


def _check_binary_visible(rbm: RBMModule, X: torch.Tensor, what: str) -> None:
    if not rbm.visible.binary:
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
def pseudo_likelihood(rbm: RBMLike, X: Array, *, per_feature: bool = False) -> np.ndarray:
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
    rbm : RBMModule or fitted RBM estimator
        With Bernoulli visible units (any hidden unit type); an estimator's ``rbm_``.
    X : array-like of shape (n_samples, n_visible)
        Binary data (or data in [0, 1], see above).
    per_feature : bool, default False
        Divide by ``n_visible``.

    Returns
    -------
    numpy.ndarray of shape (n_samples,)
        Values ``<= 0``, computed in the RBM's dtype on its device, returned as float64.

    Examples
    --------
    With zero parameters each bit is a fair coin given the others: ``PL = n log(1/2)``.

    >>> from deepbelief.core.rbm import RBMModule
    >>> pseudo_likelihood(RBMModule(4, 2), np.eye(2, 4, dtype=np.float32)).round(4)
    array([-2.7726, -2.7726])
    """
    rbm = as_rbm(rbm, "pseudo_likelihood")
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
    return _numpy64(out / d if per_feature else out)


@torch.no_grad()
def reconstruction_error(rbm: RBMLike, X: Array) -> float:
    """Mean over samples of ``||v - E[v | h = E[h | v]]||²`` (summed over features).

    A mean-field reconstruction ``v → E[h|v] → E[v|h]``; cheap and useful to see learning
    progress, but not a measure of the model's likelihood (Hinton, 2010, §5). ``rbm`` is
    an :class:`RBMModule` or a fitted RBM estimator (its ``rbm_``).
    """
    rbm = as_rbm(rbm, "reconstruction_error")
    X = _as_input(X, rbm, in_domain=False)  # a forward pass: defined for any input
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
def free_energy_gap(rbm: RBMLike, X_train: Array, X_valid: Array) -> float:
    """``mean F(X_valid) - mean F(X_train)``: the overfitting monitor of Hinton (2010, §6).

    ``log p(v) = -F(v) - log Z`` with the same ``Z`` for both sets, so the gap is the
    difference of the sets' mean log-likelihoods without needing ``Z``: it stays near zero
    while the model generalises and grows positive when it starts to overfit the training
    set. Use a training subset of the same size as the validation set. ``rbm`` is an
    :class:`RBMModule` or a fitted RBM estimator (its ``rbm_``).
    """
    rbm = as_rbm(rbm, "free_energy_gap")
    X_train = _as_input(X_train, rbm, "X_train")
    X_valid = _as_input(X_valid, rbm, "X_valid")
    return _mean_free_energy(rbm, X_valid) - _mean_free_energy(rbm, X_train)
