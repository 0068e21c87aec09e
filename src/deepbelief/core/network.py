"""The fine-tuning network: a pretrained stack of layers unrolled into a feed-forward model.

Each layer contributes one ``nn.Linear`` (its :meth:`~deepbelief.core.layers.Layer.unrolled`
weight and bias; ``Wᵀ`` and ``b`` for an RBM) followed by its activation (for an RBM that of
its hidden unit type: sigmoid for Bernoulli, ReLU for NReLU, identity for Gaussian), so the
network's hidden activations equal the DBN's bottom-up pass exactly.
A linear head on top gives logits (classification) or outputs (regression).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from torch import nn

from deepbelief.core.coins import bernoulli_mask
from deepbelief.core.layers import Layer

__all__ = ["Dropout", "FeedForwardDBN"]

_ACTIVATIONS = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU, "identity": nn.Identity}


class Dropout(nn.Module):
    """Inverted dropout drawing its mask from an explicit ``torch.Generator``.

    ``nn.Dropout`` uses torch's global RNG; ours takes the generator the training loop
    hands to :meth:`FeedForwardDBN.set_generator`, so runs are repeatable without global state.
    """

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p
        self.generator: torch.Generator | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        keep = bernoulli_mask(x.shape, 1.0 - self.p, self.generator, x.device)
        return x * keep / (1.0 - self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}"

    def __getstate__(self) -> dict:
        return {**self.__dict__, "generator": None}  # generators belong to the training run


def _linear(n_in: int, n_out: int, device) -> nn.Linear:
    # skip_init: weights are always overwritten, so don't consume torch's global RNG.
    return nn.utils.skip_init(nn.Linear, n_in, n_out, device=device)


class FeedForwardDBN(nn.Module):
    """Feed-forward network over ``layer_sizes`` with a linear output head.

    Parameters
    ----------
    layer_sizes : sequence of int
        ``[n_inputs, n_hidden_1, ..., n_hidden_L]``.
    activations : sequence of str
        One of 'sigmoid', 'relu', 'identity' per hidden layer.
    n_outputs : int
        Size of the head (classes for classification, targets for regression).
    dropout : float, default 0
        Dropout probability applied to the input of every linear layer above the first.
    input_dropout : float, default 0
        Dropout probability of the input units themselves (Srivastava et al. 2014 drop
        20 % of MNIST's pixels and half of the hidden units).
    """

    def __init__(
        self,
        layer_sizes: Sequence[int],
        activations: Sequence[str],
        n_outputs: int,
        dropout: float = 0.0,
        *,
        input_dropout: float = 0.0,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        # outside ``body``: the linear layers keep their state_dict names with or without it
        self.input_dropout = Dropout(input_dropout) if input_dropout > 0 else None
        layers: list[nn.Module] = []
        for i, (n_in, n_out) in enumerate(itertools.pairwise(layer_sizes)):
            if i > 0 and dropout > 0:
                layers.append(Dropout(dropout))
            layers += [_linear(n_in, n_out, device), _ACTIVATIONS[activations[i]]()]
        self.body = nn.Sequential(*layers)
        head: list[nn.Module] = [Dropout(dropout)] if dropout > 0 else []
        self.head = nn.Sequential(*head, _linear(layer_sizes[-1], n_outputs, device))

    def set_generator(self, generator: torch.Generator | None) -> None:
        """Use ``generator`` for dropout masks (``None`` after training)."""
        dropouts = self.__dict__.get("_dropouts")
        if dropouts is None:  # found once: the loop calls this twice per mini-batch
            dropouts = [m for m in self.modules() if isinstance(m, Dropout)]
            self.__dict__["_dropouts"] = dropouts
        for m in dropouts:
            m.generator = generator

    @classmethod
    def from_rbms(
        cls, rbms: Sequence[Layer], n_outputs: int, dropout: float = 0.0,
        generator: torch.Generator | None = None, *, input_dropout: float = 0.0,
    ) -> FeedForwardDBN:
        """Unroll pretrained layers (RBMs or any :class:`~deepbelief.core.layers.Layer`,
        bottom first); the head gets small random weights."""
        sizes = [rbms[0].n_visible] + [r.n_hidden for r in rbms]
        unrolled = [r.unrolled() for r in rbms]
        net = cls(sizes, [r.activation for r in rbms], n_outputs, dropout,
                  input_dropout=input_dropout, device=unrolled[0][0].device)
        with torch.no_grad():
            linears = [m for m in net.body if isinstance(m, nn.Linear)]
            for linear, (weight, bias) in zip(linears, unrolled, strict=True):
                linear.weight.copy_(weight)
                linear.bias.copy_(bias)
            head = net.head[-1]
            head.weight.copy_(torch.randn(head.weight.shape, generator=generator,
                                          device=head.weight.device) * 0.01)
            head.bias.zero_()
        return net

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Activations of the top hidden layer: (batch, n_hidden_L)."""
        return self.body(x if self.input_dropout is None else self.input_dropout(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits or regression outputs: (batch, n_outputs)."""
        return self.head(self.features(x))
