"""Contrastive divergence for the Replicated Softmax (Salakhutdinov & Hinton, NIPS 2009).

The rules are those of :mod:`deepbelief.learning.contrastive`, with the document lengths
carried along: a negative document has the length of the chain it came from (the data's
under CD-k, the persistent chain's under PCD-k), its words are drawn from the softmax
(:meth:`~deepbelief.core.replicated_softmax.ReplicatedSoftmaxModule.sample_visible`), and
the hidden biases' gradient is weighted by the lengths, ``<D h>_data - <D h>_model``,
because the energy holds ``D b·h``.

References
----------
R. Salakhutdinov and G. E. Hinton, "Replicated Softmax: an Undirected Topic Model",
NIPS 2009. T. Tieleman, "Training restricted Boltzmann machines using approximations to
the likelihood gradient", ICML 2008.
"""

from __future__ import annotations

import torch

from deepbelief.core.replicated_softmax import ReplicatedSoftmaxModule, document_lengths

__all__ = ["ReplicatedSoftmaxObjective"]


def _clone(t: torch.Tensor | None) -> torch.Tensor | None:
    return None if t is None else t.clone()


class ReplicatedSoftmaxObjective:
    """Maximum-likelihood gradient of a replicated softmax, estimated by CD-k or PCD-k.

    Writes ``-(<v h>_data - <v h>_model)`` and the bias terms into ``.grad`` so that an
    optimizer minimising the negative log-likelihood takes the step (the objective protocol
    of :func:`~deepbelief.training.loop.fit_epochs`). The batches are ``(counts,)``.

    Parameters
    ----------
    module : ReplicatedSoftmaxModule
    method : {'cd', 'pcd'}, default 'cd'
        CD-k starts the negative chain at the data's hidden sample, and its last
        reconstruction is the expected counts ``D softmax(a + W h)`` (less noise than a
        sample; Hinton's practical guide, §3.2). PCD-k keeps persistent chains (one per
        row of the first batch, each with that document's length) and samples all the way.
    k : int, default 1
        Gibbs steps per update.

    Raises
    ------
    ValueError
        For another method, or ``k < 1``.

    Examples
    --------
    >>> rsm = ReplicatedSoftmaxModule(5, 3)
    >>> rsm.reset_parameters(torch.Generator().manual_seed(0))
    >>> objective = ReplicatedSoftmaxObjective(rsm)
    >>> v = torch.tensor([[3.0, 0.0, 1.0, 0.0, 0.0], [0.0, 2.0, 0.0, 0.0, 5.0]])
    >>> objective.gradients_((v,), torch.Generator().manual_seed(1))
    >>> float(rsm.visible_bias.grad.sum().abs()) < 1e-5  # the negative data keep their lengths
    True
    """

    def __init__(self, module: ReplicatedSoftmaxModule, method: str = "cd", k: int = 1) -> None:
        if method not in ("cd", "pcd"):
            raise ValueError(f"Unknown learning method {method!r}; use 'cd' or 'pcd'.")
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}.")
        self.module = module
        self.method = method
        self.k = k
        self.chains: torch.Tensor | None = None

    @property
    def persistent(self) -> bool:
        """PCD: the objective keeps chains (checkpoints save them)."""
        return self.method == "pcd"

    def _negative(self, v_pos: torch.Tensor, h_pos_sample: torch.Tensor, generator):
        """The negative documents (batch, K) and their hidden means."""
        rsm = self.module
        if self.method == "pcd":
            if self.chains is None:
                self.chains = v_pos.clone()
            v = rsm.gibbs(self.chains, self.k, generator)
            self.chains.copy_(v)
            return v, rsm.hidden_mean(v)
        lengths, h = document_lengths(v_pos), h_pos_sample
        for _ in range(self.k - 1):
            _, v = rsm.sample_visible(h, generator, lengths)
            _, h = rsm.sample_hidden(v, generator)
        v = rsm.visible_mean(h, lengths)
        return v, rsm.hidden_mean(v)

    @torch.no_grad()
    def gradients_(self, batch: tuple[torch.Tensor, ...], generator) -> None:
        """One CD/PCD step's gradients into the module's ``.grad``."""
        rsm = self.module
        if rsm.weight.grad is None:
            for p in rsm.parameters():
                p.grad = torch.zeros_like(p)
        v_pos = batch[0]
        h_pos, h_pos_sample = rsm.sample_hidden(v_pos, generator)
        v_neg, h_neg = self._negative(v_pos, h_pos_sample, generator)
        n_pos, n_neg = v_pos.shape[0], v_neg.shape[0]
        rsm.weight.grad.addmm_(v_neg.t(), h_neg, beta=0.0, alpha=1.0 / n_neg)
        rsm.weight.grad.addmm_(v_pos.t(), h_pos, alpha=-1.0 / n_pos)
        torch.sub(v_neg.mean(0), v_pos.mean(0), out=rsm.visible_bias.grad)
        torch.sub(document_lengths(v_neg) @ h_neg / n_neg,
                  document_lengths(v_pos) @ h_pos / n_pos, out=rsm.hidden_bias.grad)

    @torch.no_grad()
    def monitor(self, data: tuple[torch.Tensor, ...], generator) -> dict[str, torch.Tensor]:
        """``reconstruction_error``: squared error of the expected counts of
        ``v -> E[h] -> D softmax``; ``reconstruction_perplexity``: ``exp`` of minus the
        mean log-probability of a word under its document's reconstruction."""
        v, rsm = data[0], self.module
        field = rsm.visible_field(rsm.hidden_mean(v))
        lengths = document_lengths(v)
        recon = torch.softmax(field, -1) * lengths.unsqueeze(-1)
        log_p = (v * torch.log_softmax(field, -1)).sum()
        return {"reconstruction_error": ((v - recon) ** 2).sum(-1).mean(),
                "reconstruction_perplexity": torch.exp(-log_p / lengths.sum().clamp_min(1))}

    @torch.no_grad()
    def failure(self, data: tuple[torch.Tensor, ...]) -> str | None:
        """A message when every hidden unit gives the same output for different documents
        (a dead layer), else None."""
        v = data[0]
        if v.shape[0] < 2 or float(v.var(0, unbiased=False).amax()) == 0.0:
            return None
        if float(self.module.hidden_mean(v).var(0, unbiased=False).amax()) > 0.0:
            return None
        return ("every hidden unit gives the same output for every document (the largest "
                f"weight is {float(self.module.weight.abs().max()):.3g}): the layer is dead")

    #: What a DivergenceError suggests.
    advice = ("Try a smaller learning_rate (word counts make large gradients for long "
              "documents), or momentum=0.")

    def state_dict(self) -> dict:
        """The persistent chains (cloned), if any."""
        return {"chains": _clone(self.chains)}

    def load_state_dict(self, state: dict) -> None:
        self.chains = _clone(state.get("chains"))
