"""The autoencoder layer: the DBN's other building block (Bengio et al., 2007).

An autoencoder layer encodes its input ``x`` (batch, n_visible) into a code and decodes
the code back::

    h  = act_h(x W + b)          encoder, W of shape (n_visible, n_hidden)
    x̂  = act_v(h W_dᵀ + a)       decoder, W_d = W when tied, else its own weights

The activations are the means of the layer's unit types (:mod:`deepbelief.core.units`):
sigmoid for Bernoulli, ReLU for rectified linear, the identity for Gaussian units. The
visible unit type also gives the reconstruction loss, the negative log-likelihood of the
input under the decoder's conditional: the cross-entropy for Bernoulli (binary) inputs,
the squared error (twice the Gaussian's, up to a constant) for real-valued inputs.

The layer follows the RBM's conventions (``weight``, ``visible_bias``, ``hidden_bias``,
the ``visible`` and ``hidden`` unit types), so a stack may mix both kinds: it satisfies
:class:`deepbelief.core.layers.Layer` (``kind = 'autoencoder'``) and model files rebuild it.
Training is elsewhere (:class:`deepbelief.learning.autoencoding.AutoencoderObjective`).

References
----------
Y. Bengio, P. Lamblin, D. Popovici and H. Larochelle, "Greedy layer-wise training of deep
networks", NIPS 2007 (autoencoders as the building block of a deep network).
P. Vincent, H. Larochelle, Y. Bengio and P.-A. Manzagol, "Extracting and composing robust
features with denoising autoencoders", ICML 2008.
X. Glorot and Y. Bengio, "Understanding the difficulty of training deep feedforward neural
networks", AISTATS 2010 (the initial weights).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from deepbelief.core.layers import register_layer
from deepbelief.core.rbm import RBMModule
from deepbelief.core.units import UnitType, unit_type

__all__ = ["UNIT_TYPES", "AutoencoderLayer"]

#: The unit types an autoencoder layer takes on either side.
UNIT_TYPES = ("bernoulli", "gaussian", "relu")


def _checked(spec: str | UnitType, side: str) -> UnitType:
    unit = unit_type(spec)
    if unit.spec not in UNIT_TYPES:
        raise ValueError(f"an autoencoder layer's {side} units must be one of {UNIT_TYPES}, "
                         f"got {unit.spec!r}.")
    return unit


class AutoencoderLayer(nn.Module):
    """A one-hidden-layer autoencoder, tied (``W_d = W``) or untied.

    Parameters
    ----------
    n_visible, n_hidden : int
        Input and code sizes.
    visible, hidden : {'bernoulli', 'gaussian', 'relu'} or UnitType, default 'bernoulli'
        Unit types of the input (the decoder's output and loss) and of the code.
    tied : bool, default True
        Decode with the encoder's weights; False gives the decoder its own.
    device, dtype :
        Where the parameters live; float32 by default.

    Attributes
    ----------
    weight : Parameter of shape (n_visible, n_hidden)
        The encoder's weights ``W`` (the RBM's convention).
    hidden_bias : Parameter of shape (n_hidden,)
        ``b``.
    visible_bias : Parameter of shape (n_visible,)
        ``a``, the decoder's bias.
    decoder_weight_untied : Parameter of shape (n_visible, n_hidden), only if not ``tied``
        ``W_d``.

    Raises
    ------
    ValueError
        If a unit type is not one of :data:`UNIT_TYPES`.

    Examples
    --------
    >>> layer = AutoencoderLayer(6, 3, tied=False)
    >>> layer.reset_parameters(torch.Generator().manual_seed(0))
    >>> x = torch.rand(4, 6, generator=torch.Generator().manual_seed(1))
    >>> layer.hidden_mean(x).shape, layer.visible_mean(layer.hidden_mean(x)).shape
    (torch.Size([4, 3]), torch.Size([4, 6]))
    >>> layer.reconstruction_loss(x, x).shape
    torch.Size([4])
    """

    kind = "autoencoder"

    def __init__(
        self,
        n_visible: int,
        n_hidden: int,
        visible: str | UnitType = "bernoulli",
        hidden: str | UnitType = "bernoulli",
        *,
        tied: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        self.visible = _checked(visible, "visible")
        self.hidden = _checked(hidden, "hidden")
        self.tied = bool(tied)
        kw = {"device": device, "dtype": dtype}
        self.weight = nn.Parameter(torch.zeros(n_visible, n_hidden, **kw))
        self.visible_bias = nn.Parameter(torch.zeros(n_visible, **kw))
        self.hidden_bias = nn.Parameter(torch.zeros(n_hidden, **kw))
        if not self.tied:
            self.decoder_weight_untied = nn.Parameter(torch.zeros(n_visible, n_hidden, **kw))

    # The RBM's names and shapes (weight, hidden_bias, hidden), hence the RBM's code for the
    # sizes and the up pass's unrolled linear layer and activation (the layer protocol).
    n_visible = RBMModule.n_visible
    n_hidden = RBMModule.n_hidden
    activation = RBMModule.activation
    unrolled = RBMModule.unrolled

    @property
    def decoder_weight(self) -> torch.Tensor:
        """``W_d`` (n_visible, n_hidden): the encoder's ``W`` when tied."""
        return self.weight if self.tied else self.decoder_weight_untied

    @torch.no_grad()
    def reset_parameters(self, generator: torch.Generator | None = None,
                         data_mean: torch.Tensor | None = None) -> None:
        """Glorot-uniform weights ``U(-r, r)``, ``r = g sqrt(6 / (n_visible + n_hidden))``
        with ``g = 4`` for sigmoid codes and 1 otherwise (Glorot & Bengio, 2010), drawn
        from ``generator``; an untied decoder starts as a copy of the encoder, so tied and
        untied layers start as the same function. Zero hidden biases; visible biases where
        the decoder's output at a zero code equals ``data_mean``
        (:meth:`~deepbelief.core.units.UnitType.bias_for_mean`), else zero."""
        gain = 4.0 if self.hidden.activation == "sigmoid" else 1.0
        bound = gain * math.sqrt(6.0 / (self.n_visible + self.n_hidden))
        u = torch.rand(self.weight.shape, generator=generator, device=self.weight.device,
                       dtype=self.weight.dtype)
        self.weight.copy_((2.0 * u - 1.0) * bound)
        if not self.tied:
            self.decoder_weight_untied.copy_(self.weight)
        self.hidden_bias.zero_()
        self.visible_bias.zero_()
        if data_mean is not None:
            self.visible_bias.copy_(self.visible.bias_for_mean(data_mean))

    # -- encoder and decoder -----------------------------------------------------------------
    def hidden_mean(self, v: torch.Tensor) -> torch.Tensor:
        """The code ``act_h(v W + b)``: (batch, n_hidden)."""
        return self.hidden.mean(torch.addmm(self.hidden_bias, v, self.weight))

    def visible_field(self, h: torch.Tensor) -> torch.Tensor:
        """The decoder's total input ``h W_dᵀ + a``: (batch, n_visible)."""
        return torch.addmm(self.visible_bias, h, self.decoder_weight.t())

    def visible_mean(self, h: torch.Tensor) -> torch.Tensor:
        """The reconstruction ``act_v(h W_dᵀ + a)``: (batch, n_visible)."""
        return self.visible.mean(self.visible_field(h))

    def sample_visible(self, h: torch.Tensor, generator: torch.Generator | None = None):
        """``(mean, sample)`` of the decoder's conditional (the visible unit type's, whose
        negative log-likelihood is the loss), each (batch, n_visible)."""
        return self.visible.mean_and_sample(self.visible_field(h), generator)

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        """The encoder: :meth:`hidden_mean`."""
        return self.hidden_mean(v)

    def reconstruction_loss(self, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The loss of reconstructing ``target`` from the input ``x`` (a corrupted copy of
        it, for a denoising autoencoder), summed over features: shape (batch,).

        Cross-entropy ``-Σ t log x̂ + (1 - t) log(1 - x̂)`` for binary visible units (from
        the logits, stable), else the squared error ``Σ (x̂ - t)²``.
        """
        field = self.visible_field(self.hidden_mean(x))
        if self.visible.binary:
            return F.binary_cross_entropy_with_logits(field, target, reduction="none").sum(-1)
        return ((self.visible.mean(field) - target) ** 2).sum(-1)

    # -- the layer protocol (deepbelief.core.layers) ----------------------------------------
    def layer_config(self) -> dict:
        """What :func:`deepbelief.core.layers.build_layer` needs besides the tensors."""
        return {"kind": self.kind, "n_visible": self.n_visible, "n_hidden": self.n_hidden,
                "visible": self.visible.spec, "hidden": self.hidden.spec, "tied": self.tied}

    def extra_repr(self) -> str:
        return (f"n_visible={self.n_visible}, n_hidden={self.n_hidden}, "
                f"visible={self.visible!r}, hidden={self.hidden!r}, tied={self.tied}")


def _build(config: dict, tensors: Mapping[str, torch.Tensor], device) -> AutoencoderLayer:
    layer = AutoencoderLayer(config["n_visible"], config["n_hidden"], config["visible"],
                             config["hidden"], tied=config["tied"], device=device)
    layer.load_state_dict(dict(tensors))
    return layer


register_layer(AutoencoderLayer.kind, _build)
