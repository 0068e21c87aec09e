"""Restricted Boltzmann Machine mathematics: energies, conditionals and Gibbs sampling.

No training happens here; learning rules (:mod:`deepbelief.learning.contrastive`) and the training
loop (:mod:`deepbelief.training.loop`) use these functions, and so do the estimators.
"""

from __future__ import annotations

import torch
from torch import nn

from deepbelief.core.units import Bernoulli, Gaussian, ReLU, UnitType, unit_type

__all__ = ["RBMModule"]


class RBMModule(nn.Module):
    """An RBM with pluggable visible and hidden unit types.

    Energy (see :mod:`deepbelief.core.units`)::

        E(v, h) = phi_v(v) - a·v + phi_h(h) - b·h - vᵀ W h

    Parameters
    ----------
    n_visible, n_hidden : int
        Layer sizes.
    visible, hidden : str or UnitType, default 'bernoulli'
        Unit types of the two layers.
    device, dtype :
        Where the parameters live; float32 by default.

    Attributes
    ----------
    weight : Parameter of shape (n_visible, n_hidden)
    visible_bias : Parameter of shape (n_visible,)
    hidden_bias : Parameter of shape (n_hidden,)

    Examples
    --------
    >>> import torch
    >>> rbm = RBMModule(6, 4)
    >>> rbm.free_energy(torch.ones(2, 6)).shape
    torch.Size([2])
    """

    def __init__(
        self,
        n_visible: int,
        n_hidden: int,
        visible: str | UnitType = "bernoulli",
        hidden: str | UnitType = "bernoulli",
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        self.visible = unit_type(visible)
        self.hidden = unit_type(hidden)
        kw = {"device": device, "dtype": dtype}
        self.weight = nn.Parameter(torch.zeros(n_visible, n_hidden, **kw))
        self.visible_bias = nn.Parameter(torch.zeros(n_visible, **kw))
        self.hidden_bias = nn.Parameter(torch.zeros(n_hidden, **kw))

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
        """Small Gaussian weights and zero hidden biases. Given the data's mean, visible
        biases start where the visible means equal it: ``log(p / (1 - p))`` for Bernoulli
        units (Hinton's practical guide, §8), the mean itself for Gaussian and ReLU units."""
        w = torch.randn(self.weight.shape, generator=generator, device=self.weight.device,
                        dtype=self.weight.dtype)
        self.weight.copy_(w * std)
        self.hidden_bias.zero_()
        self.visible_bias.zero_()
        if data_mean is None:
            return
        if isinstance(self.visible, Bernoulli):
            p = data_mean.clamp(1e-3, 1 - 1e-3)
            self.visible_bias.copy_(torch.log(p) - torch.log1p(-p))
        elif isinstance(self.visible, (Gaussian, ReLU)):
            self.visible_bias.copy_(data_mean)

    # -- conditionals ------------------------------------------------------------------
    def hidden_field(self, v: torch.Tensor) -> torch.Tensor:
        """Total input to the hidden units, ``b + v W``: (batch, n_hidden)."""
        return torch.addmm(self.hidden_bias, v, self.weight)

    def visible_field(self, h: torch.Tensor) -> torch.Tensor:
        """Total input to the visible units, ``a + h Wᵀ``: (batch, n_visible)."""
        return torch.addmm(self.visible_bias, h, self.weight.t())

    def hidden_mean(self, v: torch.Tensor) -> torch.Tensor:
        return self.hidden.mean(self.hidden_field(v))

    def visible_mean(self, h: torch.Tensor) -> torch.Tensor:
        return self.visible.mean(self.visible_field(h))

    def sample_hidden(self, v: torch.Tensor, generator: torch.Generator | None = None):
        """Return ``(mean, sample)`` of ``h | v``."""
        return self.hidden.mean_and_sample(self.hidden_field(v), generator)

    def sample_visible(self, h: torch.Tensor, generator: torch.Generator | None = None):
        """Return ``(mean, sample)`` of ``v | h``."""
        return self.visible.mean_and_sample(self.visible_field(h), generator)

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        """Deterministic up-pass: ``E[h | v]``."""
        return self.hidden_mean(v)

    # -- energies ------------------------------------------------------------------------
    def energy(self, v: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """``E(v, h)`` per sample: (batch,)."""
        interaction = ((v @ self.weight) * h).sum(-1)
        return (
            self.visible.base_energy(v) - v @ self.visible_bias
            + self.hidden.base_energy(h) - h @ self.hidden_bias
            - interaction
        )

    def free_energy(self, v: torch.Tensor) -> torch.Tensor:
        """``F(v) = -log sum_h exp(-E(v, h))`` per sample: (batch,)."""
        return (
            self.visible.base_energy(v) - v @ self.visible_bias
            - self.hidden.log_partition(self.hidden_field(v))
        )

    def free_energy_hidden(self, h: torch.Tensor) -> torch.Tensor:
        """``F(h) = -log sum_v exp(-E(v, h))`` per sample: (batch,)."""
        return (
            self.hidden.base_energy(h) - h @ self.hidden_bias
            - self.visible.log_partition(self.visible_field(h))
        )

    # -- sampling --------------------------------------------------------------------------
    @torch.no_grad()
    def gibbs(
        self, v: torch.Tensor, n_steps: int = 1, generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Run ``n_steps`` of block Gibbs sampling ``v -> h -> v``; return the last ``v`` sample."""
        for _ in range(n_steps):
            _, h = self.sample_hidden(v, generator)
            _, v = self.sample_visible(h, generator)
        return v

    def extra_repr(self) -> str:
        return (
            f"n_visible={self.n_visible}, n_hidden={self.n_hidden}, "
            f"visible={self.visible!r}, hidden={self.hidden!r}"
        )
