"""An RBM above another one, started as the lower RBM's transpose (Hinton, Osindero & Teh, 2006).

A DBN's lower RBM with weights ``W`` (n_visible, n_hidden), visible biases ``b`` and hidden
biases ``c`` implies a prior over its hidden units: with Bernoulli visible units,

    log p(h) = c·h + sum_i softplus(b_i + W_i·h) - log Z.

An RBM above it whose *hidden* units are the lower RBM's visible units, with weights ``Wᵀ``,
hidden biases ``b`` and visible biases ``c``, has exactly this marginal over its visible
units ``h``: the two-layer DBN then equals the lower RBM, and its variational lower bound on
``log p(v)`` (the factorial posterior of the lower RBM, which is exact here) equals the lower
RBM's log-likelihood. Greedy training of the upper RBM from this start raises the bound
(Hinton et al., 2006, §4), where training from random weights starts far below it.

When the upper RBM has fewer hidden units than the lower RBM has visible units, it keeps the
visible units whose softplus term varies least linearly with ``h`` over the data's hidden
states (those carry the prior's shape) and folds each of the others into the visible biases
as its least-squares linear fit in ``h``: ``softplus(x_i) ≈ a_i + s_i x_i`` with
``x_i = b_i + W_i·h``, so ``c += s_i W_i`` (the constant goes into log Z). With more hidden
units, the extra units keep their (small, random) initial weights, which breaks their
symmetry and leaves the start close to, not exactly, the lower RBM's prior.
"""

from __future__ import annotations

import torch

from deepbelief.core.rbm import RBMModule

__all__ = ["softplus_residuals", "transposed_start"]


def softplus_residuals(lower: RBMModule, hidden_states: torch.Tensor
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """How each visible unit's term of the lower RBM's prior over ``h`` departs from linear.

    Parameters
    ----------
    lower : RBMModule
        With Bernoulli visible units.
    hidden_states : tensor of shape (n_samples, lower.n_hidden)
        States of the hidden units, e.g. sampled from their posterior given training data.

    Returns
    -------
    residual : tensor of shape (lower.n_visible,)
        The variance of ``softplus(b_i + W_i·h)`` over ``hidden_states`` left after its
        least-squares linear fit in ``b_i + W_i·h`` (0: the term is linear there).
    slope : tensor of shape (lower.n_visible,)
        That fit's slope ``s_i``.
    """
    w = lower.weight.detach().double()
    x = lower.visible_bias.detach().double() + hidden_states.double() @ w.T
    s = torch.nn.functional.softplus(x)
    xc, sc = x - x.mean(0), s - s.mean(0)
    var = (xc * xc).mean(0)
    slope = torch.where(var > 0, (xc * sc).mean(0) / var.clamp_min(1e-300),
                        torch.sigmoid(x.mean(0)))
    residual = ((sc * sc).mean(0) - slope * (xc * sc).mean(0)).clamp_min(0.0)
    return residual, slope


@torch.no_grad()
def transposed_start(lower: RBMModule, upper: RBMModule,
                     hidden_states: torch.Tensor | None = None) -> RBMModule:
    """Set ``upper``'s parameters so that its marginal over its visible units is ``lower``'s
    prior over its hidden units: exactly when ``upper.n_hidden == lower.n_visible``; with
    more hidden units, the extra ones keep their small random initial weights (to break the
    symmetry between them), so the match is close but not exact; with fewer, as closely as
    the kept units allow (the module's docstring says which are kept).

    Parameters
    ----------
    lower : RBMModule
        The trained RBM below, with Bernoulli visible and hidden units.
    upper : RBMModule
        The RBM above, freshly initialised, with Bernoulli hidden units; its first
        ``lower.n_hidden`` visible units are ``lower``'s hidden units (any after them, e.g.
        label units, keep their biases and get zero weights).
    hidden_states : tensor of shape (n_samples, lower.n_hidden), optional
        Hidden states of ``lower`` given training data (binary samples, or their
        probabilities). Needed only when ``upper.n_hidden < lower.n_visible``, to choose which
        visible units to keep and to fit the others' linear terms.

    Returns
    -------
    RBMModule
        ``upper``, changed in place.

    Raises
    ------
    ValueError
        If the unit types or sizes do not fit together, either RBM is conditional
        (``n_context > 0``), ``upper`` is ``lower``, or ``hidden_states`` is missing, empty,
        not finite or of the wrong width when it is needed.

    References
    ----------
    Hinton, G. E., Osindero, S. & Teh, Y.-W. (2006). A fast learning algorithm for deep
    belief nets. Neural Computation 18(7), 1527–1554 (§4: the layer above starts from the
    transposed weights, so greedy training improves a variational bound).

    Examples
    --------
    >>> lower, upper = RBMModule(6, 4), RBMModule(4, 6)
    >>> _ = torch.nn.init.normal_(lower.weight)
    >>> _ = transposed_start(lower, upper)
    >>> bool(torch.equal(upper.weight, lower.weight.T))
    True
    """
    if upper is lower:
        raise ValueError("a transposed start needs two RBMs; got the same one twice.")
    if lower.n_context or upper.n_context:
        raise ValueError("a transposed start is for plain RBMs; a conditional RBM (n_context "
                         "> 0) has no single prior over its hidden units to copy.")
    if lower.visible.name != "bernoulli" or lower.hidden.name != "bernoulli":
        raise ValueError("a transposed start needs a lower RBM with Bernoulli visible and hidden "
                         f"units, got {lower.visible.name!r} and {lower.hidden.name!r}.")
    if upper.hidden.name != "bernoulli":
        raise ValueError("a transposed start needs Bernoulli hidden units in the upper RBM "
                         f"(they stand for the lower RBM's visible units), got "
                         f"{upper.hidden.name!r}.")
    n_h, n_v = lower.n_hidden, lower.n_visible
    if upper.n_visible < n_h:
        raise ValueError(f"the upper RBM has {upper.n_visible} visible units, fewer than the "
                         f"lower RBM's {n_h} hidden units.")
    first, size = upper.visible.parts(upper.n_visible)[0]
    if first.name != "bernoulli" or size < n_h:
        raise ValueError(f"the upper RBM's first {n_h} visible units stand for the lower RBM's "
                         "Bernoulli hidden units and must be Bernoulli themselves, got "
                         f"{upper.visible.name!r}.")
    w = lower.weight.detach().to(upper.weight)
    b = lower.visible_bias.detach().to(upper.weight)
    c = lower.hidden_bias.detach().to(upper.weight)
    upper.weight[n_h:].zero_()
    upper.visible_bias[:n_h] = c
    if upper.n_hidden >= n_v:
        upper.weight[:n_h, :n_v] = w.T
        upper.hidden_bias[:n_v] = b
        return upper
    if hidden_states is None or hidden_states.ndim != 2 or hidden_states.shape[1] != n_h:
        raise ValueError(f"an upper RBM with fewer hidden units ({upper.n_hidden}) than the "
                         f"lower RBM's visible units ({n_v}) needs hidden_states of shape "
                         f"(n_samples, {n_h}) to choose the units it keeps.")
    hidden_states = hidden_states.to(lower.weight.device)
    if len(hidden_states) == 0 or not bool(torch.isfinite(hidden_states).all()):
        raise ValueError("hidden_states must hold at least one row of finite values (states "
                         "of the lower RBM's hidden units given training data).")
    residual, slope = softplus_residuals(lower, hidden_states)
    keep = torch.argsort(residual, descending=True, stable=True)[:upper.n_hidden]
    folded = torch.ones(n_v, dtype=torch.bool, device=keep.device)
    folded[keep] = False
    upper.weight[:n_h] = w[keep].T
    upper.hidden_bias.copy_(b[keep])
    upper.visible_bias[:n_h] += (slope[folded].to(w) @ w[folded])
    return upper
