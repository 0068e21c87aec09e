"""The layer-wise objective of an autoencoder layer, plain or denoising.

Each mini-batch writes, by backpropagation (autograd), the gradient of the mean
reconstruction loss of :class:`~deepbelief.core.autoencoder.AutoencoderLayer` (summed over
features, averaged over rows). A *denoising* autoencoder (Vincent et al., 2008) encodes a
corrupted copy of each input and is scored on reconstructing the clean one:

* ``'masking'``: each input value is set to 0 with probability ``corruption_level``;
* ``'gaussian'``: ``N(0, corruption_level²)`` noise is added to each value.

The noise is drawn from the training loop's generator, so runs repeat exactly.

References
----------
P. Vincent, H. Larochelle, Y. Bengio and P.-A. Manzagol, "Extracting and composing robust
features with denoising autoencoders", ICML 2008.
P. Vincent, H. Larochelle, I. Lajoie, Y. Bengio and P.-A. Manzagol, "Stacked denoising
autoencoders: learning useful representations in a deep network with a local denoising
criterion", JMLR 11, 2010.
"""

from __future__ import annotations

import torch

from deepbelief.core.autoencoder import AutoencoderLayer

__all__ = ["ADVICE", "CORRUPTIONS", "AutoencoderObjective", "check_corruption", "corrupt"]

#: The kinds of corruption of a denoising autoencoder.
CORRUPTIONS = ("masking", "gaussian")

#: What to try when an autoencoder layer's training diverges.
ADVICE = ("Try a smaller learning rate for the autoencoder layer (the estimators' "
          "pretrain_learning_rate), e.g. a tenth of it; standardise real-valued data used "
          "with Gaussian visible units.")


def corrupt(x: torch.Tensor, corruption: str | None, level: float,
            generator: torch.Generator | None) -> torch.Tensor:
    """A corrupted copy of ``x`` (batch, n_features); ``x`` itself when ``corruption`` is
    None or ``level`` is 0 (no draw then).

    Parameters
    ----------
    corruption : {'masking', 'gaussian'} or None
        Masking sets each value to 0 with probability ``level`` (one uniform draw per
        value); Gaussian adds ``level`` times a standard normal draw to each value.
    level : float
        The masking probability, in [0, 1), or the noise's standard deviation, >= 0.

    Raises
    ------
    ValueError
        For another ``corruption`` or a ``level`` outside its range.

    Examples
    --------
    >>> x = torch.ones(2, 4)
    >>> corrupt(x, "masking", 0.5, torch.Generator().manual_seed(0))
    tensor([[0., 0., 1., 1.],
            [0., 0., 0., 1.]])
    """
    check_corruption(corruption, level)
    if corruption is None or level == 0:
        return x
    if corruption == "masking":
        keep = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype) >= level
        return x * keep
    noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return x + noise * level


def check_corruption(corruption: str | None, level: float) -> None:
    """Raise ValueError unless ``corruption`` and ``level`` are a valid pair (see
    :func:`corrupt`)."""
    if corruption is not None and corruption not in CORRUPTIONS:
        raise ValueError(f"corruption must be None, 'masking' or 'gaussian', got "
                         f"{corruption!r}.")
    top = 1.0 if corruption == "masking" else float("inf")
    if not 0.0 <= level < top:
        what = "in [0, 1) (a masking probability)" if corruption == "masking" else ">= 0"
        raise ValueError(f"corruption_level must be {what}, got {level!r}.")


class AutoencoderObjective:
    """Mean reconstruction loss of an autoencoder layer, by autograd, for
    :func:`deepbelief.training.loop.fit_epochs`.

    Parameters
    ----------
    layer : AutoencoderLayer
    corruption : {'masking', 'gaussian'} or None, default None
        None trains a plain autoencoder; otherwise a denoising one (see :func:`corrupt`).
    corruption_level : float, default 0.0
    advice : str, optional
        What the loop's :class:`~deepbelief.exceptions.DivergenceError` suggests.

    Raises
    ------
    ValueError
        For an invalid corruption (see :func:`corrupt`).

    Examples
    --------
    >>> layer = AutoencoderLayer(6, 3)
    >>> layer.reset_parameters(torch.Generator().manual_seed(0))
    >>> objective = AutoencoderObjective(layer, "masking", 0.25)
    >>> x = (torch.rand(8, 6, generator=torch.Generator().manual_seed(1)) < 0.5).float()
    >>> loss = objective.gradients_((x,), torch.Generator().manual_seed(2))
    >>> loss.ndim, layer.weight.grad.shape
    (0, torch.Size([6, 3]))
    >>> sorted(objective.monitor((x,), None))
    ['reconstruction_error']
    """

    def __init__(self, layer: AutoencoderLayer, corruption: str | None = None,
                 corruption_level: float = 0.0, advice: str = ADVICE) -> None:
        check_corruption(corruption, corruption_level)
        self.module = layer
        self.corruption = corruption
        self.corruption_level = float(corruption_level)
        self.advice = advice

    def gradients_(self, batch: tuple[torch.Tensor, ...], generator) -> torch.Tensor:
        """Write the gradient of the batch's mean loss into ``.grad``; return the loss
        (detached, a 0-d tensor)."""
        x = batch[0]
        layer = self.module
        for p in layer.parameters():
            p.grad = None
        noisy = corrupt(x, self.corruption, self.corruption_level, generator)
        with torch.enable_grad():
            loss = layer.reconstruction_loss(noisy, x).mean()
            loss.backward()
        return loss.detach()

    @torch.no_grad()
    def monitor(self, data: tuple[torch.Tensor, ...], generator) -> dict[str, torch.Tensor]:
        """Mean squared reconstruction error of the clean inputs ``v -> h -> v̂`` (summed
        over features; the key the RBM's objective uses)."""
        v = data[0]
        recon = self.module.visible_mean(self.module.hidden_mean(v))
        return {"reconstruction_error": ((v - recon) ** 2).sum(-1).mean()}

    @torch.no_grad()
    def failure(self, data: tuple[torch.Tensor, ...]) -> str | None:
        """Describe a dead layer (every code the same while the inputs differ), else None."""
        v = data[0]
        if v.shape[0] < 2 or float(v.var(0, unbiased=False).amax()) == 0.0:
            return None
        h = self.module.hidden_mean(v)
        if float(h.var(0, unbiased=False).amax()) > 0.0:
            return None
        return ("every code unit gives the same output for every input (the largest encoder "
                f"weight is {float(self.module.weight.abs().max()):.3g}): the layer is dead")

    def state_dict(self) -> dict:
        """Nothing to keep: the noise comes from the loop's generator."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass
