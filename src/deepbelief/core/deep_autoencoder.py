"""The deep autoencoder: a pretrained stack unrolled into an encoder and a mirrored decoder.

Hinton & Salakhutdinov (2006) pretrain a stack of RBMs, then *unroll* it: the encoder is
the stack's bottom-up pass (each layer's weights ``W`` and hidden biases ``b``, followed by
its hidden units' activation), the decoder its top-down pass (the same weights transposed
and the layers' visible biases ``a``, followed by each layer's visible activation: sigmoid
for Bernoulli units, the identity for Gaussian ones). The two halves start as copies and
are *untied*: fine-tuning by backpropagation changes each on its own.

Any stacked layer that follows the RBM's conventions unrolls so
(:class:`~deepbelief.core.rbm.RBMModule`, :class:`~deepbelief.core.autoencoder.AutoencoderLayer`):
see :func:`unrolled_decoder`. Before fine-tuning, :meth:`DeepAutoencoder.encode` is exactly
:func:`~deepbelief.core.stack.up_pass` and :meth:`DeepAutoencoder.decode` exactly
:func:`~deepbelief.core.stack.down_pass` (means): every product is computed as the
layers compute it.

References
----------
G. E. Hinton and R. R. Salakhutdinov, "Reducing the dimensionality of data with neural
networks", Science 313 (5786), 504-507, 2006.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from torch import nn

from deepbelief.core.layers import Layer
from deepbelief.core.network import _ACTIVATIONS

__all__ = ["Affine", "DeepAutoencoder", "unrolled_decoder"]


class Affine(nn.Module):
    """``x W + b`` with ``weight`` W of shape (n_in, n_out): the layers' own convention.

    ``nn.Linear`` keeps ``Wᵀ``, and its product can round differently from the layers'
    ``torch.addmm(b, x, W)``; this module computes that very product, so the unrolled
    encoder reproduces the up pass bit for bit.
    """

    def __init__(self, n_in: int, n_out: int, *, device=None, dtype=torch.float32) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(n_in, n_out, device=device, dtype=dtype))
        self.bias = nn.Parameter(torch.zeros(n_out, device=device, dtype=dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.addmm(self.bias, x, self.weight)

    def extra_repr(self) -> str:
        return f"n_in={self.weight.shape[0]}, n_out={self.weight.shape[1]}"


def unrolled_decoder(layer: Layer) -> tuple[torch.Tensor, torch.Tensor, str]:
    """The top-down half of a layer: ``(weight, bias, activation)`` of
    ``act(h weightᵀ + bias)``, the layer's ``visible_mean``.

    ``weight`` (n_visible, n_hidden) is the layer's ``decoder_weight`` when it has one (an
    untied autoencoder layer), else its ``weight``; ``bias`` is its ``visible_bias`` and
    ``activation`` that of its ``visible`` unit type (the RBM's conventions).

    Raises
    ------
    TypeError
        If the layer lacks those attributes.

    Examples
    --------
    >>> from deepbelief.core.rbm import RBMModule
    >>> weight, bias, activation = unrolled_decoder(RBMModule(6, 4, "gaussian"))
    >>> tuple(weight.shape), tuple(bias.shape), activation
    ((6, 4), (6,), 'identity')
    """
    try:
        weight = getattr(layer, "decoder_weight", None)
        weight = layer.weight if weight is None else weight
        return weight, layer.visible_bias, layer.visible.activation
    except AttributeError as exc:
        raise TypeError(f"a {type(layer).__name__} layer cannot be unrolled into a decoder: "
                        "it needs weight (or decoder_weight), visible_bias and visible "
                        f"(a unit type), as an RBM has ({exc}).") from exc


def _activation(name: str) -> nn.Module:
    if name not in _ACTIVATIONS:
        raise ValueError(f"cannot unroll units of activation {name!r}; use units whose "
                         f"activation is one of {sorted(_ACTIVATIONS)}.")
    return _ACTIVATIONS[name]()


class DeepAutoencoder(nn.Module):
    """An encoder and a mirrored decoder over ``layer_sizes`` (Hinton & Salakhutdinov, 2006).

    Parameters
    ----------
    layer_sizes : sequence of int
        ``[n_inputs, n_hidden_1, ..., n_code]``.
    activations : sequence of str
        The encoder's activation after each layer ('sigmoid', 'relu' or 'identity'), bottom
        first: the hidden units' of each layer.
    visible_activations : sequence of str
        The decoder's activation back to each layer's inputs, bottom first (the visible
        units' of each layer): ``visible_activations[0]`` gives the reconstruction.
    device :
        Where the parameters live.

    Attributes
    ----------
    encoder : nn.Sequential
        :class:`Affine` (weights of shape (n_in, n_out)) and activation pairs, bottom up.
    decoder : nn.Sequential
        ``nn.Linear`` and activation pairs, top down, without the output activation.
    output : nn.Module
        The activation of the reconstruction.
    output_activation : str
        Its name: 'sigmoid' for Bernoulli inputs (the cross-entropy loss takes the logits,
        :meth:`decode_field`), 'identity' for Gaussian ones.

    Raises
    ------
    ValueError
        If the sizes and activations do not match, or an activation is unknown.

    Examples
    --------
    >>> import torch
    >>> from deepbelief.core.rbm import RBMModule
    >>> from deepbelief.core.stack import down_pass, up_pass
    >>> rbms = [RBMModule(6, 4), RBMModule(4, 2, hidden="gaussian")]
    >>> for rbm in rbms:
    ...     rbm.reset_parameters(torch.Generator().manual_seed(0), std=0.5)
    >>> net = DeepAutoencoder.from_layers(rbms)
    >>> x = torch.rand(3, 6, generator=torch.Generator().manual_seed(1))
    >>> code = net.encode(x)
    >>> torch.equal(code, up_pass(rbms, x)), torch.equal(net.decode(code), down_pass(rbms, code))
    (True, True)
    >>> net(x).shape
    torch.Size([3, 6])
    """

    def __init__(self, layer_sizes: Sequence[int], activations: Sequence[str],
                 visible_activations: Sequence[str], *,
                 device: torch.device | str | None = None) -> None:
        super().__init__()
        sizes = [int(n) for n in layer_sizes]
        if len(sizes) < 2 or not len(activations) == len(visible_activations) == len(sizes) - 1:
            raise ValueError(f"{len(sizes)} layer sizes need {len(sizes) - 1} activations of "
                             f"each kind, got {len(activations)} and "
                             f"{len(visible_activations)}.")
        pairs = list(itertools.pairwise(sizes))
        encoder: list[nn.Module] = []
        for (n_in, n_out), name in zip(pairs, activations, strict=True):
            encoder += [Affine(n_in, n_out, device=device), _activation(name)]
        decoder: list[nn.Module] = []
        for i in reversed(range(len(pairs))):
            n_in, n_out = pairs[i]
            if decoder:
                decoder.append(_activation(visible_activations[i + 1]))
            decoder.append(nn.utils.skip_init(nn.Linear, n_out, n_in, device=device))
        self.encoder = nn.Sequential(*encoder)
        self.decoder = nn.Sequential(*decoder)
        self.output_activation = visible_activations[0]
        self.output = _activation(self.output_activation)

    @classmethod
    def from_layers(cls, layers: Sequence[Layer]) -> DeepAutoencoder:
        """Unroll trained layers (bottom first): copies of their weights, so fine-tuning
        leaves the layers as they are; nothing random is drawn.

        Raises
        ------
        ValueError
            If ``layers`` is empty or does not stack (a layer's ``n_visible`` differs
            from the ``n_hidden`` of the one below).
        TypeError
            If a layer cannot be unrolled (:func:`unrolled_decoder`).
        """
        if not layers:
            raise ValueError("a deep autoencoder needs at least one layer.")
        for below, above in itertools.pairwise(layers):
            if above.n_visible != below.n_hidden:
                raise ValueError(f"the layers do not stack: {below.n_hidden} outputs under "
                                 f"{above.n_visible} inputs.")
        decoders = [unrolled_decoder(layer) for layer in layers]
        weight = decoders[0][0]
        net = cls([layers[0].n_visible] + [layer.n_hidden for layer in layers],
                  [layer.activation for layer in layers], [d[2] for d in decoders],
                  device=weight.device)
        with torch.no_grad():
            encoders = [m for m in net.encoder if isinstance(m, Affine)]
            for affine, layer in zip(encoders, layers, strict=True):
                weight_t, bias = layer.unrolled()
                affine.weight.copy_(weight_t.t())
                affine.bias.copy_(bias)
            linears = [m for m in net.decoder if isinstance(m, nn.Linear)]
            for linear, (weight, bias, _) in zip(linears, reversed(decoders), strict=True):
                linear.weight.copy_(weight)
                linear.bias.copy_(bias)
        return net

    @property
    def n_code(self) -> int:
        """Units of the code layer."""
        return self.decoder[0].in_features

    def set_generator(self, generator: torch.Generator | None) -> None:
        """Nothing is drawn in the forward pass (the fine-tuning objective's protocol)."""

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The codes: (batch, n_inputs) to (batch, n_code)."""
        return self.encoder(x)

    def decode_field(self, code: torch.Tensor) -> torch.Tensor:
        """The reconstruction before its activation (the logits of Bernoulli inputs):
        (batch, n_code) to (batch, n_inputs)."""
        return self.decoder(code)

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        """The reconstructions (means) from codes: (batch, n_code) to (batch, n_inputs)."""
        return self.output(self.decode_field(code))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The reconstructions of ``x``: ``decode(encode(x))``."""
        return self.decode(self.encode(x))
