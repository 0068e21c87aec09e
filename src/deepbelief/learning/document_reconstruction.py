"""The fine-tuning objective of a deep document autoencoder: the words' cross-entropy.

Salakhutdinov & Hinton (2009) fine-tune the unrolled semantic-hashing network by
backpropagating the cross-entropy between a document's word distribution ``v / D`` and the
softmax reconstruction ``p``: ``-Σ_k (v_k / D) log p_k``, the mean log-loss of the
document's words, averaged over the documents of a mini-batch (documents without words
count for nothing).

References
----------
R. Salakhutdinov and G. E. Hinton, "Semantic hashing", International Journal of
Approximate Reasoning 50(7), 969-978, 2009.
"""

from __future__ import annotations

import torch
from torch import nn

from deepbelief.learning.reconstruction import ReconstructionObjective
from deepbelief.learning.supervised import SupervisedObjective

__all__ = ["DocumentReconstructionObjective", "word_cross_entropy"]


def word_cross_entropy(logits: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """``-Σ_k (v_k / D) log softmax(logits)_k`` per document: shape (batch,).

    Examples
    --------
    >>> float(word_cross_entropy(torch.zeros(1, 4), torch.tensor([[2.0, 0.0, 1.0, 1.0]])))
    1.386294...
    """
    lengths = counts.sum(-1).clamp_min(1.0)
    return -(counts * torch.log_softmax(logits, -1)).sum(-1) / lengths


class DocumentReconstructionObjective(ReconstructionObjective):
    """Backpropagation of the words' cross-entropy through a document autoencoder, for
    :func:`deepbelief.training.loop.fit_epochs`; batches are ``(counts,)``.

    Parameters
    ----------
    network : DocumentAutoencoder
        With a softmax output (:class:`~deepbelief.core.semantic_hashing.DocumentAutoencoder`).
    weight_decay, baseline, advice :
        As for :class:`~deepbelief.learning.reconstruction.ReconstructionObjective`
        (``baseline``: the cross-entropy of the word frequencies, a failed fit's).

    Raises
    ------
    ValueError
        If the network's output is not a softmax.
    """

    def __init__(self, network: nn.Module, *, weight_decay: float = 0.0,
                 baseline: float = 0.0, advice: str | None = None) -> None:
        if network.output_activation != "softmax":
            raise ValueError("the words' cross-entropy needs a softmax reconstruction (a "
                             "replicated softmax at the bottom of the stack), not "
                             f"{network.output_activation!r} outputs.")
        SupervisedObjective.__init__(self, network, None, baseline=baseline, advice=advice)
        self.kind = "word_cross_entropy"
        self.weight_decay = float(weight_decay)

    def _batch_loss(self, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        x, net = batch[0], self.module
        loss = word_cross_entropy(net.decode_field(net.encode(x)), x).mean()
        if self.weight_decay:  # the L2 penalty of ReconstructionObjective, on the weights
            penalty = sum((p * p).sum() for p in net.parameters() if p.dim() > 1)
            loss = loss + 0.5 * self.weight_decay * penalty
        return loss

    @torch.no_grad()
    def monitor(self, data: tuple[torch.Tensor, ...], generator) -> dict[str, torch.Tensor]:
        """``word_cross_entropy`` of the monitored documents (without code noise) and
        ``binary_codes``: the fraction of their code values within 0.1 of 0 or 1."""
        x, net = data[0], self.module
        codes = net.encode(x)
        binary = ((codes < 0.1) | (codes > 0.9)).to(x.dtype).mean()
        return {"word_cross_entropy": word_cross_entropy(net.decode_field(codes), x).mean(),
                "binary_codes": binary}
