"""Inference in a conditional RBM: the visible vector given the context.

A conditional RBM (``RBMModule(n_context=c)``; Taylor, Hinton & Roweis, 2007) models
``p(v | c)``; these functions estimate ``E[v | c]`` or draw from ``p(v | c)`` by running the
model's conditionals at a fixed context. Every chain starts at :func:`autoregressive_start`,
the visible mean with every hidden unit off, ``E[v | h = 0, c]``: the part of the model that
maps the context to the visible units directly (the autoregressive weights ``A``).

Optionally some visible units are *clamped* to known values (``known``, a boolean mask, and
``values``): they are reset after every visible update, so the chain fills in the others
(missing channels of a frame, for example).

No training happens here; the estimators use these functions.
"""

from __future__ import annotations

import torch

from deepbelief.core.rbm import RBMModule

__all__ = ["autoregressive_start", "gibbs_mean", "gibbs_sample", "mean_field"]


def _clamp(v: torch.Tensor, known: torch.Tensor | None, values: torch.Tensor | None):
    return v if known is None else torch.where(known, values, v)


@torch.no_grad()
def autoregressive_start(rbm: RBMModule, context: torch.Tensor, *,
                         known: torch.Tensor | None = None,
                         values: torch.Tensor | None = None) -> torch.Tensor:
    """``E[v | h = 0, c]``, shape (batch, n_visible): the visible mean that the context
    gives through the visible biases alone (``a + c A``), with ``known`` units clamped."""
    h = context.new_zeros(context.shape[0], rbm.n_hidden)
    return _clamp(rbm.visible_mean(h, context), known, values)


@torch.no_grad()
def mean_field(rbm: RBMModule, context: torch.Tensor, n_steps: int, *,
               known: torch.Tensor | None = None,
               values: torch.Tensor | None = None) -> torch.Tensor:
    """Deterministic estimate of ``E[v | c]``: ``n_steps`` mean-field iterations
    ``v <- E[v | E[h | v, c], c]`` from :func:`autoregressive_start`.

    Parameters
    ----------
    rbm : RBMModule with ``n_context > 0``
    context : tensor of shape (batch, n_context)
    n_steps : int
        Iterations (0: the start itself).
    known, values : bool tensor and tensor of shape (batch, n_visible), optional
        Visible units clamped to ``values`` where ``known``.

    Returns
    -------
    tensor of shape (batch, n_visible)

    Examples
    --------
    >>> rbm = RBMModule(3, 2, n_context=4)
    >>> mean_field(rbm, torch.zeros(5, 4), 3).shape
    torch.Size([5, 3])
    """
    v = autoregressive_start(rbm, context, known=known, values=values)
    for _ in range(n_steps):
        v = _clamp(rbm.visible_mean(rbm.hidden_mean(v, context), context), known, values)
    return v


def _chain(rbm: RBMModule, context: torch.Tensor, n_steps: int, generator, known, values):
    """Yield ``(mean, sample)`` of the visible units after each of ``n_steps`` block Gibbs
    sweeps ``v -> h -> v`` at ``context``, from :func:`autoregressive_start`."""
    v = autoregressive_start(rbm, context, known=known, values=values)
    for _ in range(n_steps):
        _, h = rbm.sample_hidden(v, generator, context=context)
        mean, v = rbm.sample_visible(h, generator, context=context)
        v = _clamp(v, known, values)
        yield _clamp(mean, known, values), v


@torch.no_grad()
def gibbs_mean(rbm: RBMModule, context: torch.Tensor, n_steps: int,
               generator: torch.Generator | None, *, burn_in: int | None = None,
               known: torch.Tensor | None = None,
               values: torch.Tensor | None = None) -> torch.Tensor:
    """Monte Carlo estimate of ``E[v | c]``: the visible means ``E[v | h, c]`` averaged over
    the Gibbs sweeps after ``burn_in`` (default: the first half of the ``n_steps``).

    With ``n_steps = 0`` it is :func:`autoregressive_start`. Arguments as in
    :func:`mean_field`; ``generator`` seeds the sampling.

    Examples
    --------
    >>> rbm = RBMModule(3, 2, n_context=4)
    >>> g = torch.Generator().manual_seed(0)
    >>> gibbs_mean(rbm, torch.zeros(5, 4), 10, g).shape
    torch.Size([5, 3])
    """
    burn_in = n_steps // 2 if burn_in is None else burn_in
    if not 0 <= burn_in <= max(n_steps - 1, 0):
        raise ValueError(f"burn_in must lie in [0, n_steps - 1] (n_steps={n_steps}), got "
                         f"{burn_in}.")
    total, count = None, 0
    for step, (mean, _) in enumerate(_chain(rbm, context, n_steps, generator, known, values)):
        if step >= burn_in:
            total = mean if total is None else total + mean
            count += 1
    if total is None:
        return autoregressive_start(rbm, context, known=known, values=values)
    return total / count


@torch.no_grad()
def gibbs_sample(rbm: RBMModule, context: torch.Tensor, n_steps: int,
                 generator: torch.Generator | None, *, known: torch.Tensor | None = None,
                 values: torch.Tensor | None = None) -> torch.Tensor:
    """A draw from (approximately, after ``n_steps >= 1`` sweeps) ``p(v | c)``: the last
    visible sample of the chain. Arguments as in :func:`gibbs_mean`.

    Examples
    --------
    >>> rbm = RBMModule(3, 2, n_context=4)
    >>> v = gibbs_sample(rbm, torch.zeros(5, 4), 2, torch.Generator().manual_seed(0))
    >>> bool(((v == 0) | (v == 1)).all())
    True
    """
    if n_steps < 1:
        raise ValueError(f"a sample needs at least one Gibbs sweep, got n_steps={n_steps}.")
    *_, (_, v) = _chain(rbm, context, n_steps, generator, known, values)
    return v
