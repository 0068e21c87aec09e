"""Passes through a stack of layers: bottom-up (recognition) and top-down (generation).

A stack is a sequence of layers, bottom first, each offering ``hidden_mean`` (up),
``visible_mean`` and ``sample_visible`` (down), as every
:class:`~deepbelief.core.layers.Layer` (e.g. :class:`~deepbelief.core.rbm.RBMModule`)
does. Every estimator, the CLI and the generative DBN use these two functions.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = ["down_pass", "up_pass"]


@torch.no_grad()
def up_pass(layers: Sequence, x: torch.Tensor, batch_size: int = 8192) -> torch.Tensor:
    """Deterministic bottom-up pass ``E[h_L | ... E[h_1 | x]]``, in chunks of ``batch_size``.

    Parameters
    ----------
    layers : sequence of layers, bottom first
    x : tensor of shape (n, n_visible of the bottom layer)

    Returns
    -------
    tensor of shape (n, n_hidden of the top layer); ``x`` itself for an empty stack.

    Examples
    --------
    >>> import torch
    >>> from deepbelief.core.rbm import RBMModule
    >>> up_pass([RBMModule(6, 4), RBMModule(4, 3)], torch.ones(5, 6)).shape
    torch.Size([5, 3])
    """
    if not layers:
        return x
    outs = []
    for lo in range(0, x.shape[0], batch_size):
        h = x[lo : lo + batch_size]
        for layer in layers:
            h = layer.hidden_mean(h)
        outs.append(h)
    if not outs:
        return x.new_zeros((0, layers[-1].n_hidden))
    return torch.cat(outs)


@torch.no_grad()
def down_pass(layers: Sequence, h: torch.Tensor,
              generator: torch.Generator | None = None) -> torch.Tensor:
    """Top-down pass through ``layers`` (bottom first) from the top layer's hidden states
    ``h`` (n, n_hidden of the top layer) to the means of the data layer (n, n_visible of the
    bottom layer).

    Each layer's visible conditional is a directed generative layer. With a ``generator``
    the layers between are sampled (an ancestral pass); without, means are propagated.

    Examples
    --------
    >>> import torch
    >>> from deepbelief.core.rbm import RBMModule
    >>> down_pass([RBMModule(6, 4), RBMModule(4, 3)], torch.ones(5, 3)).shape
    torch.Size([5, 6])
    """
    for i, layer in enumerate(reversed(layers)):
        if generator is None or i == len(layers) - 1:
            h = layer.visible_mean(h)
        else:
            h = layer.sample_visible(h, generator)[1]
    return h
