"""The deep document autoencoder of semantic hashing (Salakhutdinov & Hinton, 2009).

A stack pretrained on word counts (a replicated softmax at the bottom, binary RBMs above)
is unrolled as every deep autoencoder is
(:class:`~deepbelief.core.deep_autoencoder.DeepAutoencoder`), with two differences:

* the reconstruction is a softmax over the vocabulary (the replicated softmax's visible
  units; the fine-tuning loss compares it with the document's word distribution);
* during fine-tuning, Gaussian noise of standard deviation ``code_noise`` is added to the
  input of the code layer's sigmoid, so that only codes far from 0.5 survive it: the codes
  become nearly binary, and thresholding them at 0.5 loses little.

References
----------
R. Salakhutdinov and G. E. Hinton, "Semantic hashing", International Journal of
Approximate Reasoning 50(7), 969-978, 2009.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from deepbelief.core.deep_autoencoder import DeepAutoencoder
from deepbelief.core.layers import Layer
from deepbelief.core.sharding import normal

__all__ = ["DocumentAutoencoder"]


class DocumentAutoencoder(DeepAutoencoder):
    """A deep autoencoder of documents whose code layer is pushed to binary values.

    Parameters
    ----------
    layer_sizes, activations, visible_activations, device :
        As for :class:`~deepbelief.core.deep_autoencoder.DeepAutoencoder`; an output
        activation 'softmax' (a replicated softmax at the bottom) makes the
        reconstruction a distribution over the words.
    code_noise : float, default 4.0
        Standard deviation of the Gaussian noise added to the code layer's input in
        training mode (the paper's variance 16); 0 adds none.

    Examples
    --------
    >>> from deepbelief.core.replicated_softmax import ReplicatedSoftmaxModule
    >>> from deepbelief.core.rbm import RBMModule
    >>> layers = [ReplicatedSoftmaxModule(10, 6), RBMModule(6, 4)]
    >>> net = DocumentAutoencoder.from_layers(layers)
    >>> x = torch.ones(2, 10)
    >>> net(x).sum(1)  # word distributions
    tensor([1.0000, 1.0000], grad_fn=<SumBackward1>)
    >>> torch.equal(net.encode(x), layers[1].hidden_mean(layers[0].hidden_mean(x)))
    True
    """

    def __init__(self, layer_sizes: Sequence[int], activations: Sequence[str],
                 visible_activations: Sequence[str], *, code_noise: float = 4.0,
                 device: torch.device | str | None = None) -> None:
        output = visible_activations[0]
        softmax = output == "softmax"
        super().__init__(layer_sizes, activations,
                         ["identity" if softmax else output, *visible_activations[1:]],
                         device=device)
        if softmax:
            self.output_activation = "softmax"
            self.output = nn.Softmax(dim=-1)
        if not code_noise >= 0:
            raise ValueError(f"code_noise must be >= 0, got {code_noise!r}.")
        self.code_noise = float(code_noise)
        self.generator: torch.Generator | None = None

    @classmethod
    def from_layers(cls, layers: Sequence[Layer], code_noise: float = 4.0
                    ) -> DocumentAutoencoder:
        """Unroll trained layers (bottom first), as
        :meth:`DeepAutoencoder.from_layers`, with ``code_noise``; in evaluation mode (no
        noise) until a fine-tuning step puts it in training mode."""
        net = super().from_layers(layers)
        net.code_noise = float(code_noise)
        return net.eval()

    def set_generator(self, generator: torch.Generator | None) -> None:
        """Draw the code noise from ``generator`` (the training loop's; None after)."""
        self.generator = generator

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The codes: (batch, n_inputs) to (batch, n_code); in training mode, with noise
        added before the code layer's activation."""
        if not (self.training and self.code_noise > 0):
            return self.encoder(x)
        field = self.encoder[:-1](x)
        noise = normal(tuple(field.shape), self.generator, field.device, field.dtype)
        return self.encoder[-1](field + self.code_noise * noise)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "generator": None}  # generators belong to the training run
