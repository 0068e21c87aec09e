"""The fine-tuning objective of a deep autoencoder: the reconstruction loss, by backpropagation.

Hinton & Salakhutdinov (2006) fine-tune the unrolled autoencoder by backpropagating the
cross-entropy between the data (pixel intensities in [0, 1]) and its reconstruction
through the decoder and the encoder; for real-valued data the squared error. Both are
summed over the features and averaged over the rows of a mini-batch.

References
----------
G. E. Hinton and R. R. Salakhutdinov, "Reducing the dimensionality of data with neural
networks", Science 313 (5786), 504-507, 2006.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from deepbelief.learning.supervised import SupervisedObjective

__all__ = ["LOSSES", "ReconstructionObjective", "constant_loss", "reconstruction_loss"]

#: The reconstruction losses: the cross-entropy of [0, 1] data and sigmoid outputs, and
#: the squared error.
LOSSES = ("cross_entropy", "squared_error")


def _check_loss(loss: str, output_activation: str) -> None:
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}.")
    if loss == "cross_entropy" and output_activation != "sigmoid":
        raise ValueError("the cross-entropy loss needs sigmoid outputs (Bernoulli visible "
                         f"units, data in [0, 1]), not {output_activation!r} ones; use "
                         "'squared_error'.")


def reconstruction_loss(field: torch.Tensor, target: torch.Tensor, loss: str,
                        output: nn.Module | None = None) -> torch.Tensor:
    """The mean over rows of the loss summed over features: a 0-d tensor.

    Parameters
    ----------
    field : tensor of shape (batch, n_features)
        The reconstruction before its output activation (logits for sigmoid outputs).
    target : tensor of shape (batch, n_features)
        The data.
    loss : {'cross_entropy', 'squared_error'}
        ``-Σ t log σ(f) + (1 - t) log(1 - σ(f))``, computed from the logits without
        overflow; or ``Σ (output(f) - t)²``.
    output : nn.Module, optional
        The output activation, for the squared error (default: the identity).

    Examples
    --------
    >>> f, t = torch.zeros(2, 3), torch.full((2, 3), 0.5)
    >>> float(reconstruction_loss(f, t, "cross_entropy"))  # 3 log 2
    2.079441...
    >>> float(reconstruction_loss(f, t, "squared_error", nn.Sigmoid()))
    0.0
    """
    if loss == "cross_entropy":
        per_value = F.binary_cross_entropy_with_logits(field, target, reduction="none")
    else:
        per_value = ((field if output is None else output(field)) - target) ** 2
    return per_value.sum(-1).mean()


@torch.no_grad()
def constant_loss(x: torch.Tensor, loss: str) -> float:
    """The loss of reconstructing every row of ``x`` as the mean row: the best loss of a
    failed fit, one that gives the same output for every input.

    Examples
    --------
    >>> float(constant_loss(torch.tensor([[0.0, 1.0], [1.0, 1.0]]), "squared_error"))
    0.25
    """
    mean = x.mean(0, keepdim=True).expand_as(x)
    if loss == "cross_entropy":
        logit = torch.logit(mean.clamp(1e-6, 1 - 1e-6))
        return float(reconstruction_loss(logit, x, loss))
    return float(reconstruction_loss(mean, x, loss))


class ReconstructionObjective(SupervisedObjective):
    """Backpropagation of a reconstruction loss through a deep autoencoder, for
    :func:`deepbelief.training.loop.fit_epochs`.

    The batches are ``(x,)``, the rows to reconstruct. Each writes the gradients of the
    batch loss (:func:`reconstruction_loss`, plus the L2 penalty) and returns the loss
    detached; :meth:`evaluate_` re-evaluates them for L-BFGS. What is reported after each
    epoch, the divergence check and its advice are :class:`SupervisedObjective`'s.

    Parameters
    ----------
    network : DeepAutoencoder
        With ``encode``, ``decode_field``, ``output`` and ``output_activation``
        (:class:`~deepbelief.core.deep_autoencoder.DeepAutoencoder`).
    loss : {'cross_entropy', 'squared_error'}, default 'cross_entropy'
        The cross-entropy needs sigmoid outputs (data in [0, 1]).
    weight_decay : float, default 0.0
        L2 penalty ``weight_decay / 2 · Σ ‖W‖²`` on the weight matrices, part of the loss
        (so that L-BFGS, which has no weight decay of its own, sees it too).
    baseline : float, default 0.0
        The loss of a failed fit (:func:`constant_loss` of the training data): with the
        first mini-batch's loss, the reference of :meth:`failure`.
    advice : str or None, default None
        What to try when training diverges.

    Raises
    ------
    ValueError
        For an unknown ``loss``, or the cross-entropy with outputs that are not sigmoid.

    Examples
    --------
    >>> from deepbelief.core.rbm import RBMModule
    >>> from deepbelief.core.deep_autoencoder import DeepAutoencoder
    >>> rbm = RBMModule(6, 3)
    >>> rbm.reset_parameters(torch.Generator().manual_seed(0))
    >>> objective = ReconstructionObjective(DeepAutoencoder.from_layers([rbm]))
    >>> x = (torch.rand(8, 6, generator=torch.Generator().manual_seed(1)) < 0.5).float()
    >>> float(objective.gradients_((x,), None)) > 0, rbm.weight.grad is None
    (True, True)
    >>> sorted(objective.monitor((x,), None))
    ['reconstruction_error']
    """

    def __init__(self, network: nn.Module, loss: str = "cross_entropy", *,
                 weight_decay: float = 0.0, baseline: float = 0.0,
                 advice: str | None = None) -> None:
        _check_loss(loss, network.output_activation)
        super().__init__(network, None, baseline=baseline, advice=advice)
        self.kind = loss
        self.weight_decay = float(weight_decay)

    def _batch_loss(self, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        x, net = batch[0], self.module
        loss = reconstruction_loss(net.decode_field(net.encode(x)), x, self.kind, net.output)
        if self.weight_decay:
            penalty = sum((p * p).sum() for p in net.parameters() if p.dim() > 1)
            loss = loss + 0.5 * self.weight_decay * penalty
        return loss

    @torch.no_grad()
    def monitor(self, data: tuple[torch.Tensor, ...], generator) -> dict[str, torch.Tensor]:
        """``reconstruction_error``: the squared error summed over features, averaged over
        the monitored rows (whatever the training loss)."""
        x = data[0]
        return {"reconstruction_error": ((self.module(x) - x) ** 2).sum(-1).mean()}
