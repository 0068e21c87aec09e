"""Centred gradients for RBMs: offsets subtracted from the units inside the energy.

A centred RBM (Melchior, Fischer & Wiskott, 2016) writes the energy with offsets ``mu``
(visible) and ``lambda`` (hidden) subtracted from the states::

    E_c(v, h) = phi_v(v) + phi_h(h) - (v - mu)ᵀ W (h - lambda) - (v - mu)ᵀ a_c - (h - lambda)ᵀ b_c

Expanding it gives an ordinary RBM with the same ``W`` and the biases
``a = a_c - W lambda``, ``b = b_c - Wᵀ mu`` (:func:`uncentred_biases`), up to a constant:
for every choice of offsets the *distribution* is that of an ordinary RBM. What centring
changes is the gradient step. Ascending the log-likelihood in the centred parameters
``(W, a_c, b_c)`` with the offsets held fixed, and mapping the step back, is the
*centred gradient* in the ordinary parameters (the paper's eqs. for ``∇W``, ``∇b``,
``∇c``)::

    ΔW = <(v - mu)(h - lambda)ᵀ>_data - <(v - mu)(h - lambda)ᵀ>_model
    Δa = <v>_data - <v>_model - ΔW lambda
    Δb = <h>_data - <h>_model - ΔWᵀ mu

With ``mu`` and ``lambda`` near the units' means, the Hessian is better conditioned and
learning neither depends on how the data are coded (0/1 or flipped) nor stalls on
large biases; the paper reports higher likelihoods for centred RBMs and DBMs than for
ordinary ones, and the ``rbms`` package trains centred RBMs by default.

How it is done here
    The model keeps its ordinary parameters ``(W, a, b)``: centring only rewrites their
    ``.grad`` (:func:`centre_gradients_`), after a learning rule has written the ordinary
    statistics. Any rule works (CD-k, PCD-k, tempered chains): :class:`Centering` reads the
    statistics, not the rule. The paper's re-adjustment of the centred biases when the
    offsets move (:func:`readjust_biases`), which keeps the model's distribution
    unchanged, is then implicit: the ordinary parameters do not change when the offsets
    do. So a trained model is an ordinary RBM: free energies, sampling, AIS and the model
    file format are as without centring.
The offsets
    Start at the first mini-batch's means and then follow an exponential running average
    with the sliding factor ``nu`` (``offset <- (1 - nu) offset + nu mean``; the paper's
    ``dd^s_b`` variant with ``nu = 0.01``; ``nu = 1`` uses each mini-batch's own means, as
    ``rbms`` does). ``offsets='data'`` averages the data's means (``<v>_data`` and
    ``E[h | v_data]``), ``'average'`` the mean of the data's and the model's (the paper's
    ``aa`` variant). They are updated in place (a CUDA graph replays into the tensors it
    recorded) and checkpointed with the learning rule's state.
Optimizers
    The optimizer's momentum and weight decay act on the ordinary parameters: exactly the
    centred step for plain SGD, a close approximation with momentum (the offsets move
    slowly).

References
----------
J. Melchior, A. Fischer and L. Wiskott, "How to center deep Boltzmann machines", Journal of
Machine Learning Research 17(99):1-61, 2016.
G. Montavon and K.-R. Müller, "Deep Boltzmann machines and the centering trick", Neural
Networks: Tricks of the Trade, 2nd ed., 2012.
"""

from __future__ import annotations

import numbers

import numpy as np
import torch

from deepbelief.core.rbm import RBMModule

__all__ = [
    "DEFAULT_SLIDING",
    "Centering",
    "centre_gradients_",
    "centred_biases",
    "centred_energy",
    "make_centering",
    "readjust_biases",
    "uncentred_biases",
]

#: The sliding factor of the offsets' running average when centring is switched on with
#: ``True`` (Melchior et al., 2016, use 0.01 for their best variant).
DEFAULT_SLIDING = 0.01

_OFFSETS = ("data", "average")


# -- the reparameterisation ------------------------------------------------------------------
def centred_biases(weight: torch.Tensor, visible_bias: torch.Tensor,
                   hidden_bias: torch.Tensor, visible_offset: torch.Tensor,
                   hidden_offset: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The centred biases ``(a_c, b_c) = (a + W lambda, b + Wᵀ mu)`` of an ordinary RBM.

    Parameters
    ----------
    weight : Tensor of shape (n_visible, n_hidden)
    visible_bias : Tensor of shape (n_visible,)
    hidden_bias : Tensor of shape (n_hidden,)
    visible_offset : Tensor of shape (n_visible,)
        ``mu``.
    hidden_offset : Tensor of shape (n_hidden,)
        ``lambda``.

    Returns
    -------
    (Tensor of shape (n_visible,), Tensor of shape (n_hidden,))
        The biases with which :func:`centred_energy` equals the RBM's energy up to a
        constant.

    Examples
    --------
    >>> import torch
    >>> W = torch.tensor([[1.0, 2.0]])
    >>> a_c, b_c = centred_biases(W, torch.zeros(1), torch.zeros(2), torch.tensor([0.5]),
    ...                           torch.tensor([1.0, 0.0]))
    >>> a_c.tolist(), b_c.tolist()
    ([1.0], [0.5, 1.0])
    """
    return visible_bias + weight @ hidden_offset, hidden_bias + weight.t() @ visible_offset


def uncentred_biases(weight: torch.Tensor, visible_bias: torch.Tensor,
                     hidden_bias: torch.Tensor, visible_offset: torch.Tensor,
                     hidden_offset: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The ordinary biases ``(a, b) = (a_c - W lambda, b_c - Wᵀ mu)`` of a centred RBM: the
    inverse of :func:`centred_biases` (the paper's conversion back to a normal RBM).

    Takes and returns the same shapes as :func:`centred_biases`, with the centred biases
    ``a_c``, ``b_c`` in place of ``a``, ``b``.

    Examples
    --------
    >>> import torch
    >>> W, mu, lam = torch.randn(3, 2), torch.rand(3), torch.rand(2)
    >>> a, b = torch.randn(3), torch.randn(2)
    >>> back = uncentred_biases(W, *centred_biases(W, a, b, mu, lam), mu, lam)
    >>> torch.allclose(back[0], a) and torch.allclose(back[1], b)
    True
    """
    return visible_bias - weight @ hidden_offset, hidden_bias - weight.t() @ visible_offset


def readjust_biases(weight: torch.Tensor, visible_bias: torch.Tensor,
                    hidden_bias: torch.Tensor, old_offsets: tuple[torch.Tensor, torch.Tensor],
                    new_offsets: tuple[torch.Tensor, torch.Tensor],
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """The centred biases after the offsets move from ``old_offsets`` to ``new_offsets``,
    such that the model's distribution is unchanged (Melchior et al., 2016, Algorithm 1):
    ``a_c + W (lambda' - lambda)`` and ``b_c + Wᵀ (mu' - mu)``.

    Parameters
    ----------
    weight : Tensor of shape (n_visible, n_hidden)
    visible_bias, hidden_bias : Tensor of shape (n_visible,), (n_hidden,)
        The centred biases ``a_c``, ``b_c`` under ``old_offsets``.
    old_offsets, new_offsets : (Tensor of shape (n_visible,), Tensor of shape (n_hidden,))
        ``(mu, lambda)`` before and after.

    Returns
    -------
    (Tensor of shape (n_visible,), Tensor of shape (n_hidden,))

    Examples
    --------
    Re-adjusting, then converting back, gives the same ordinary RBM:

    >>> import torch
    >>> W, a_c, b_c = torch.randn(3, 2), torch.randn(3), torch.randn(2)
    >>> old, new = (torch.rand(3), torch.rand(2)), (torch.rand(3), torch.rand(2))
    >>> moved = readjust_biases(W, a_c, b_c, old, new)
    >>> before = uncentred_biases(W, a_c, b_c, *old)
    >>> after = uncentred_biases(W, *moved, *new)
    >>> all(torch.allclose(x, y, atol=1e-6) for x, y in zip(before, after))
    True
    """
    (mu, lam), (new_mu, new_lam) = old_offsets, new_offsets
    return (visible_bias + weight @ (new_lam - lam),
            hidden_bias + weight.t() @ (new_mu - mu))


def centred_energy(rbm: RBMModule, v: torch.Tensor, h: torch.Tensor,
                   visible_bias: torch.Tensor, hidden_bias: torch.Tensor,
                   visible_offset: torch.Tensor, hidden_offset: torch.Tensor) -> torch.Tensor:
    """``E_c(v, h)`` of a centred RBM with ``rbm``'s weights and unit types and the given
    centred biases and offsets (see the module docstring).

    Parameters
    ----------
    rbm : RBMModule
        Gives ``W`` and the unit types' base energies (its own biases are not used).
    v : Tensor of shape (batch, n_visible)
    h : Tensor of shape (batch, n_hidden)
    visible_bias, hidden_bias : Tensor of shape (n_visible,), (n_hidden,)
        The centred biases ``a_c``, ``b_c``.
    visible_offset, hidden_offset : Tensor of shape (n_visible,), (n_hidden,)
        ``mu``, ``lambda``.

    Returns
    -------
    Tensor of shape (batch,)

    Examples
    --------
    With zero offsets the centred RBM is the ordinary one:

    >>> import torch
    >>> rbm = RBMModule(3, 2)
    >>> with torch.no_grad():
    ...     _ = rbm.weight.normal_()
    >>> v, h = torch.ones(1, 3), torch.ones(1, 2)
    >>> e = centred_energy(rbm, v, h, rbm.visible_bias, rbm.hidden_bias, torch.zeros(3),
    ...                    torch.zeros(2))
    >>> torch.allclose(e, rbm.energy(v, h))
    True
    """
    v_c, h_c = v - visible_offset, h - hidden_offset
    return (rbm.visible.base_energy(v) + rbm.hidden.base_energy(h)
            - ((v_c @ rbm.weight) * h_c).sum(-1) - v_c @ visible_bias - h_c @ hidden_bias)


# -- the centred gradient ---------------------------------------------------------------------
@torch.no_grad()
def centre_gradients_(weight_grad: torch.Tensor, visible_grad: torch.Tensor,
                      hidden_grad: torch.Tensor, visible_offset: torch.Tensor,
                      hidden_offset: torch.Tensor) -> None:
    """Rewrite an RBM's ordinary gradients, in place, into the centred gradient.

    The gradients are those a learning rule writes into ``.grad`` (of the loss, so
    ``G_W = <v hᵀ>_model - <v hᵀ>_data`` and likewise for the biases); they become, in
    the ordinary parameters, the step of the centred parameterisation with offsets ``mu``,
    ``lambda`` (Melchior et al., 2016)::

        G_W <- G_W - mu G_bᵀ - G_a lambdaᵀ     (= <(v-mu)(h-lambda)ᵀ>_model - <...>_data)
        G_a <- G_a - G_W lambda
        G_b <- G_b - G_Wᵀ mu

    Parameters
    ----------
    weight_grad : Tensor of shape (n_visible, n_hidden)
    visible_grad : Tensor of shape (n_visible,)
    hidden_grad : Tensor of shape (n_hidden,)
    visible_offset, hidden_offset : Tensor of shape (n_visible,), (n_hidden,)

    Examples
    --------
    Zero offsets leave the gradient as it is:

    >>> import torch
    >>> gw, ga, gb = torch.randn(3, 2), torch.randn(3), torch.randn(2)
    >>> before = gw.clone()
    >>> centre_gradients_(gw, ga, gb, torch.zeros(3), torch.zeros(2))
    >>> torch.equal(gw, before)
    True
    """
    weight_grad.addr_(visible_offset, hidden_grad, alpha=-1.0)
    weight_grad.addr_(visible_grad, hidden_offset, alpha=-1.0)
    visible_grad.addmv_(weight_grad, hidden_offset, alpha=-1.0)
    hidden_grad.addmv_(weight_grad.t(), visible_offset, alpha=-1.0)


class Centering:
    """The offsets of a centred RBM and the centring of its gradients (Melchior et al.,
    2016), for :class:`~deepbelief.learning.contrastive.RBMObjective` under any rule.

    Parameters
    ----------
    sliding : float, default :data:`DEFAULT_SLIDING`
        ``nu`` in (0, 1]: the weight of each mini-batch's means in the offsets' running
        average (1: the mini-batch's own means).
    offsets : {'data', 'average'}, default 'data'
        The means the offsets follow: the data's, or the mean of the data's and the
        model's (negative phase's).

    Attributes
    ----------
    visible_offset : Tensor of shape (n_visible,) or None
        ``mu``; None before the first mini-batch.
    hidden_offset : Tensor of shape (n_hidden,) or None
        ``lambda``.

    Raises
    ------
    ValueError
        If ``sliding`` is not in (0, 1] or ``offsets`` is not one of the two names.

    Examples
    --------
    >>> import torch
    >>> from deepbelief.core.rbm import RBMModule
    >>> from deepbelief.learning.contrastive import ContrastiveDivergence, RBMObjective
    >>> rbm = RBMModule(4, 3)
    >>> objective = RBMObjective(rbm, ContrastiveDivergence(), centering=Centering(0.5))
    >>> objective.gradients_((torch.ones(5, 4),), torch.Generator().manual_seed(0))
    >>> objective.centering.visible_offset.tolist()
    [1.0, 1.0, 1.0, 1.0]
    """

    def __init__(self, sliding: float = DEFAULT_SLIDING, offsets: str = "data") -> None:
        if isinstance(sliding, bool) or not isinstance(sliding, numbers.Real) \
                or not 0 < sliding <= 1:
            raise ValueError(f"sliding must be a number in (0, 1], got {sliding!r}; "
                             f"{DEFAULT_SLIDING} is the paper's choice.")
        if offsets not in _OFFSETS:
            raise ValueError(f"offsets must be 'data' or 'average', got {offsets!r}.")
        self.sliding = float(sliding)
        self.offsets = offsets
        self.visible_offset: torch.Tensor | None = None
        self.hidden_offset: torch.Tensor | None = None

    def __repr__(self) -> str:
        return f"Centering(sliding={self.sliding}, offsets={self.offsets!r})"

    @torch.no_grad()
    def update_(self, v_pos: torch.Tensor, h_pos: torch.Tensor, v_neg: torch.Tensor,
                h_neg: torch.Tensor) -> None:
        """Move the offsets towards this mini-batch's means (in place after the first).

        Parameters
        ----------
        v_pos, h_pos : Tensor of shape (n, n_visible), (n, n_hidden)
            The data and its hidden means.
        v_neg, h_neg : Tensor of shape (m, n_visible), (m, n_hidden)
            The negative phase's visible states and hidden means.
        """
        v_mean, h_mean = v_pos.mean(0), h_pos.mean(0)
        if self.offsets == "average":
            v_mean = (v_mean + v_neg.mean(0)) * 0.5
            h_mean = (h_mean + h_neg.mean(0)) * 0.5
        if self.visible_offset is None or self.visible_offset.shape != v_mean.shape \
                or self.hidden_offset.shape != h_mean.shape:
            self.visible_offset, self.hidden_offset = v_mean.clone(), h_mean.clone()
            return
        self.visible_offset.lerp_(v_mean, self.sliding)
        self.hidden_offset.lerp_(h_mean, self.sliding)

    @torch.no_grad()
    def apply_(self, rbm: RBMModule, v_pos: torch.Tensor, h_pos: torch.Tensor,
               v_neg: torch.Tensor, h_neg: torch.Tensor) -> None:
        """Update the offsets from the mini-batch's statistics (:meth:`update_`), then
        centre the gradients ``rbm``'s parameters hold (:func:`centre_gradients_`).

        Context weights (a conditional RBM's) keep their gradient: the offsets shift the
        biases only by constants of the context.
        """
        self.update_(v_pos, h_pos, v_neg, h_neg)
        centre_gradients_(rbm.weight.grad, rbm.visible_bias.grad, rbm.hidden_bias.grad,
                          self.visible_offset, self.hidden_offset)

    def state_dict(self) -> dict:
        """The offsets (cloned; None before the first mini-batch)."""
        return {"visible_offset": _clone(self.visible_offset),
                "hidden_offset": _clone(self.hidden_offset)}

    def load_state_dict(self, state: dict) -> None:
        """Continue from :meth:`state_dict` (tensors copied)."""
        self.visible_offset = _clone(state.get("visible_offset"))
        self.hidden_offset = _clone(state.get("hidden_offset"))


def _clone(t: torch.Tensor | None) -> torch.Tensor | None:
    return None if t is None else t.clone()


def make_centering(centering: bool | float | Centering | None) -> Centering | None:
    """The :class:`Centering` an option asks for, or None when centring is off.

    Parameters
    ----------
    centering : bool, float, Centering or None
        False or None: off; True: on, with the sliding factor :data:`DEFAULT_SLIDING`; a
        number in (0, 1]: on, with that sliding factor; a :class:`Centering`: a fresh copy
        of its settings (offsets are state of one training run, not shared).

    Returns
    -------
    Centering or None

    Raises
    ------
    ValueError
        If a number is outside (0, 1].

    Examples
    --------
    >>> make_centering(False) is None, make_centering(True)
    (True, Centering(sliding=0.01, offsets='data'))
    >>> make_centering(1.0)
    Centering(sliding=1.0, offsets='data')
    """
    if isinstance(centering, Centering):
        return Centering(centering.sliding, centering.offsets)
    if centering is None or isinstance(centering, (bool, np.bool_)):
        return Centering() if centering else None
    return Centering(centering)
