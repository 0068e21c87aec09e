"""Restricted Boltzmann Machine mathematics: energies, conditionals and Gibbs sampling.

No training happens here; learning rules (:mod:`deepbelief.learning.contrastive`) and the training
loop (:mod:`deepbelief.training.loop`) use these functions, and so do the estimators.
"""

from __future__ import annotations

import torch
from torch import nn

from deepbelief.core.units import UnitType, unit_type

__all__ = ["RBMModule"]


class RBMModule(nn.Module):
    """An RBM with pluggable visible and hidden unit types.

    Energy (see :mod:`deepbelief.core.units`)::

        E(v, h | c) = phi_v(v) - (a + c A)·v + phi_h(h) - (b + c B)·h - vᵀ W h

    The context ``c`` (a conditional RBM's past frames or other given input) only shifts
    the biases; without context (``n_context=0``, the default) the model is a plain RBM with
    neither ``A`` nor ``B`` among its parameters. Every method taking ``context`` accepts a
    tensor of shape (batch, n_context) or None (a zero context).

    It is a layer of :mod:`deepbelief.core.layers` (``kind = 'rbm'``).

    Parameters
    ----------
    n_visible, n_hidden : int
        Layer sizes.
    visible, hidden : str or UnitType, default 'bernoulli'
        Unit types of the two layers.
    n_context : int, default 0
        Size of the context input (Taylor, Hinton & Roweis, 2007).
    device, dtype :
        Where the parameters live; float32 by default.

    Attributes
    ----------
    weight : Parameter of shape (n_visible, n_hidden)
    visible_bias : Parameter of shape (n_visible,)
    hidden_bias : Parameter of shape (n_hidden,)
    context_visible : Parameter of shape (n_context, n_visible), only if ``n_context > 0``
        ``A``: the context's dynamic visible biases.
    context_hidden : Parameter of shape (n_context, n_hidden), only if ``n_context > 0``
        ``B``: the context's dynamic hidden biases.

    References
    ----------
    G. W. Taylor, G. E. Hinton and S. Roweis, "Modeling human motion using binary latent
    variables", NIPS 2007 (the conditional RBM).

    Examples
    --------
    >>> import torch
    >>> rbm = RBMModule(6, 4)
    >>> rbm.free_energy(torch.ones(2, 6)).shape
    torch.Size([2])
    """

    kind = "rbm"

    def __init__(
        self,
        n_visible: int,
        n_hidden: int,
        visible: str | UnitType = "bernoulli",
        hidden: str | UnitType = "bernoulli",
        *,
        n_context: int = 0,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        if n_context < 0:
            raise ValueError(f"n_context must be >= 0, got {n_context}.")
        self.visible = unit_type(visible)
        self.hidden = unit_type(hidden)
        kw = {"device": device, "dtype": dtype}
        self.weight = nn.Parameter(torch.zeros(n_visible, n_hidden, **kw))
        self.visible_bias = nn.Parameter(torch.zeros(n_visible, **kw))
        self.hidden_bias = nn.Parameter(torch.zeros(n_hidden, **kw))
        self.n_context = int(n_context)
        if self.n_context:  # no parameters otherwise: plain RBMs' files stay as they were
            self.context_visible = nn.Parameter(torch.zeros(n_context, n_visible, **kw))
            self.context_hidden = nn.Parameter(torch.zeros(n_context, n_hidden, **kw))

    @property
    def n_visible(self) -> int:
        return self.weight.shape[0]

    @property
    def n_hidden(self) -> int:
        return self.weight.shape[1]

    @torch.no_grad()
    def reset_parameters(
        self, generator: torch.Generator | None = None, std: float = 0.01,
        data_mean: torch.Tensor | None = None,
    ) -> None:
        """Small Gaussian weights, zero hidden biases and zero context weights. Given the
        data's mean, visible biases start where the visible means equal it
        (:meth:`~deepbelief.core.units.UnitType.bias_for_mean`; Hinton's practical guide,
        §8), else at zero."""
        w = torch.randn(self.weight.shape, generator=generator, device=self.weight.device,
                        dtype=self.weight.dtype)
        self.weight.copy_(w * std)
        self.hidden_bias.zero_()
        self.visible_bias.zero_()
        if self.n_context:
            self.context_visible.zero_()
            self.context_hidden.zero_()
        if data_mean is not None:
            self.visible_bias.copy_(self.visible.bias_for_mean(data_mean))

    # -- the layer protocol (deepbelief.core.layers) ----------------------------------------
    @property
    def activation(self) -> str:
        """The activation of the hidden units in a feed-forward network."""
        return self.hidden.activation

    def unrolled(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(Wᵀ, b)``: the weight (n_hidden, n_visible) and bias of the up pass's
        ``nn.Linear``."""
        return self.weight.t(), self.hidden_bias

    def layer_config(self) -> dict:
        """What :func:`deepbelief.core.layers.build_layer` needs besides the tensors."""
        return {"kind": self.kind, "n_visible": self.n_visible, "n_hidden": self.n_hidden,
                "visible": self.visible.spec, "hidden": self.hidden.spec,
                "n_context": self.n_context}

    # -- conditionals ------------------------------------------------------------------
    def _check_context(self, context: torch.Tensor) -> None:
        if not self.n_context:
            raise ValueError("this RBM takes no context (it was built with n_context=0).")
        if context.shape[-1] != self.n_context:
            raise ValueError(f"expected a context of {self.n_context} values per sample, got "
                             f"shape {tuple(context.shape)}.")

    def hidden_field(self, v: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        """Total input to the hidden units, ``b + c B + v W``: (batch, n_hidden)."""
        if context is None:
            return torch.addmm(self.hidden_bias, v, self.weight)
        self._check_context(context)
        return torch.addmm(torch.addmm(self.hidden_bias, context, self.context_hidden),
                           v, self.weight)

    def visible_field(self, h: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        """Total input to the visible units, ``a + c A + h Wᵀ``: (batch, n_visible)."""
        if context is None:
            return torch.addmm(self.visible_bias, h, self.weight.t())
        self._check_context(context)
        return torch.addmm(torch.addmm(self.visible_bias, context, self.context_visible),
                           h, self.weight.t())

    def hidden_mean(self, v: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        """``E[h | v, c]``: (batch, n_hidden)."""
        return self.hidden.mean(self.hidden_field(v, context))

    def visible_mean(self, h: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        """``E[v | h, c]``: (batch, n_visible)."""
        return self.visible.mean(self.visible_field(h, context))

    def sample_hidden(self, v: torch.Tensor, generator: torch.Generator | None = None, *,
                      context: torch.Tensor | None = None):
        """Return ``(mean, sample)`` of ``h | v, c``."""
        return self.hidden.mean_and_sample(self.hidden_field(v, context), generator)

    def sample_visible(self, h: torch.Tensor, generator: torch.Generator | None = None, *,
                       context: torch.Tensor | None = None):
        """Return ``(mean, sample)`` of ``v | h, c``."""
        return self.visible.mean_and_sample(self.visible_field(h, context), generator)

    def forward(self, v: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        """Deterministic up-pass: ``E[h | v, c]``."""
        return self.hidden_mean(v, context)

    # -- energies ------------------------------------------------------------------------
    def _bias_term(self, x: torch.Tensor, bias: torch.Tensor, context: torch.Tensor | None,
                   context_weight: str) -> torch.Tensor:
        """``x·(bias + c M)`` per sample: (batch,)."""
        if context is None:
            return x @ bias
        self._check_context(context)
        return (x * torch.addmm(bias, context, getattr(self, context_weight))).sum(-1)

    def energy(self, v: torch.Tensor, h: torch.Tensor,
               context: torch.Tensor | None = None) -> torch.Tensor:
        """``E(v, h | c)`` per sample: (batch,)."""
        interaction = ((v @ self.weight) * h).sum(-1)
        return (
            self.visible.base_energy(v)
            - self._bias_term(v, self.visible_bias, context, "context_visible")
            + self.hidden.base_energy(h)
            - self._bias_term(h, self.hidden_bias, context, "context_hidden")
            - interaction
        )

    def free_energy(self, v: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        """``F(v | c) = -log sum_h exp(-E(v, h | c))`` per sample: (batch,)."""
        return (
            self.visible.base_energy(v)
            - self._bias_term(v, self.visible_bias, context, "context_visible")
            - self.hidden.log_partition(self.hidden_field(v, context))
        )

    def free_energy_hidden(self, h: torch.Tensor,
                           context: torch.Tensor | None = None) -> torch.Tensor:
        """``F(h | c) = -log sum_v exp(-E(v, h | c))`` per sample: (batch,)."""
        return (
            self.hidden.base_energy(h)
            - self._bias_term(h, self.hidden_bias, context, "context_hidden")
            - self.visible.log_partition(self.visible_field(h, context))
        )

    # -- sampling --------------------------------------------------------------------------
    @torch.no_grad()
    def gibbs(
        self, v: torch.Tensor, n_steps: int = 1, generator: torch.Generator | None = None, *,
        context: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Run ``n_steps`` of block Gibbs sampling ``v -> h -> v`` (given the context ``c``);
        return the last ``v`` sample."""
        for _ in range(n_steps):
            _, h = self.sample_hidden(v, generator, context=context)
            _, v = self.sample_visible(h, generator, context=context)
        return v

    def extra_repr(self) -> str:
        context = f", n_context={self.n_context}" if self.n_context else ""
        return (
            f"n_visible={self.n_visible}, n_hidden={self.n_hidden}, "
            f"visible={self.visible!r}, hidden={self.hidden!r}{context}"
        )
