"""The generative Deep Belief Net of Hinton, Osindero & Teh (2006).

A greedy stack of RBMs whose *top* RBM is an undirected associative memory over the
penultimate layer joined with one-of-K label units, e.g. 784-500-500+10-2000::

    top RBM:    visible = Joined([(Bernoulli(), 500), (Softmax(), 10)]),  hidden 2000
    below it:   directed (top-down) generative weights, 500 -> 500 -> 784

The lower RBMs' weights serve both ways: bottom-up as recognition weights (``up_pass``)
and top-down as generative weights (``down_pass``). Without labels the top RBM is a plain
RBM over the penultimate layer (``n_classes == 0``).

What the model does:

* **sampling**: alternating Gibbs sampling in the top RBM (:meth:`GenerativeStack.gibbs_top`,
  labels optionally clamped), then one top-down pass to the data;
* **generative classification**: ``p(label = k | h) ∝ exp(-F_top(h ⊕ e_k))`` with ``F_top``
  the top RBM's free energy, exact over the labels (:meth:`label_free_energies`);
* **completion**: clamp the known inputs and iterate up-pass, top-level Gibbs and
  down-pass (done by the estimator, :class:`deepbelief.GenerativeDBN`).

After greedy training both directions share the lower RBMs' weights. Up-down fine-tuning
(:mod:`deepbelief.learning.updown`) *unties* them: :meth:`GenerativeStack.untied` gives the up pass
its own copies (the recognition weights), while the originals stay the directed
generative weights of the down pass.

References
----------
Hinton, Osindero & Teh (2006), A fast learning algorithm for deep belief nets.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch

from deepbelief.core.rbm import RBMModule
from deepbelief.core.stack import down_pass, up_pass
from deepbelief.core.units import Joined, Softmax, UnitType

__all__ = ["GenerativeStack", "joined_with_labels", "reset_joined_visible_bias_"]


def joined_with_labels(lower: UnitType | str, n_lower: int, n_classes: int) -> Joined:
    """The top RBM's visible unit type: ``n_lower`` units of ``lower`` then ``n_classes``
    softmax label units."""
    return Joined([(lower, n_lower), (Softmax(), n_classes)])


@torch.no_grad()
def reset_joined_visible_bias_(rbm: RBMModule, data_mean: torch.Tensor) -> None:
    """Set the visible biases of ``rbm`` so that the visible means equal ``data_mean``
    (n_visible,), block by block for :class:`Joined` units: ``log(p / (1 - p))`` on
    Bernoulli blocks, ``log p`` on softmax blocks, the mean itself on other blocks
    (:meth:`~deepbelief.core.units.UnitType.bias_for_mean`, as
    :meth:`RBMModule.reset_parameters` does given the data's mean)."""
    rbm.visible_bias.copy_(rbm.visible.bias_for_mean(data_mean))


class GenerativeStack:
    """A list of RBMs (bottom first) read as a generative DBN.

    Parameters
    ----------
    rbms : sequence of RBMModule
        The lower RBMs, then the top RBM. With labels, the top RBM's visible units are
        ``Joined([(unit, n_penultimate), (Softmax(), n_classes)])`` (the labels last);
        otherwise the top RBM's visible layer is the penultimate layer itself.
    recognition : sequence of RBMModule or None
        Separate bottom-up (recognition) copies of the lower RBMs, as left by up-down
        fine-tuning: the up pass uses their weights and hidden biases, the down pass the
        lower RBMs' weights and visible biases. None (greedy model): both passes use the
        lower RBMs (tied weights).

    Attributes
    ----------
    lower : list of RBMModule
        The directed generative layers, bottom first (empty for a single-RBM model).
    recognition : list of RBMModule
        The layers of the up pass: ``lower`` itself when the weights are tied.
    tied : bool
    top : RBMModule
    n_penultimate : int
        Units of the penultimate layer (the top RBM's non-label visible units).
    n_classes : int
        Label units (0 without labels).

    Examples
    --------
    >>> import torch
    >>> from deepbelief.core.rbm import RBMModule
    >>> rbms = [RBMModule(6, 4), RBMModule(4 + 3, 5, joined_with_labels("bernoulli", 4, 3))]
    >>> stack = GenerativeStack(rbms)
    >>> stack.label_free_energies(stack.up_pass(torch.ones(2, 6))).shape
    torch.Size([2, 3])
    """

    def __init__(self, rbms: Sequence[RBMModule],
                 recognition: Sequence[RBMModule] | None = None) -> None:
        if not rbms:
            raise ValueError("a generative DBN needs at least one RBM.")
        self.lower = list(rbms[:-1])
        self.top = rbms[-1]
        self.recognition = self.lower if recognition is None else list(recognition)
        if [r.weight.shape for r in self.recognition] != [g.weight.shape for g in self.lower]:
            raise ValueError("the recognition layers must have the shapes of the lower RBMs: "
                             f"{[tuple(r.weight.shape) for r in self.recognition]} vs "
                             f"{[tuple(g.weight.shape) for g in self.lower]}.")
        parts = self.top.visible.parts(self.top.n_visible)
        if len(parts) == 2 and parts[1][0] == Softmax():
            self.n_penultimate, self.n_classes = parts[0][1], parts[1][1]
        else:
            self.n_penultimate, self.n_classes = self.top.n_visible, 0
        below = self.lower[-1].n_hidden if self.lower else None
        if below is not None and below != self.n_penultimate:
            raise ValueError(f"the top RBM expects {self.n_penultimate} penultimate units but "
                             f"the layer below has {below}.")

    @property
    def tied(self) -> bool:
        return all(r is g for r, g in zip(self.recognition, self.lower, strict=True))

    def untied(self) -> GenerativeStack:
        """A new stack whose up pass has its own copies of the lower RBMs (recognition
        weights) while this stack's lower RBMs and top RBM are shared as the generative part.
        Already untied stacks copy their recognition layers."""
        recognition = [copy.deepcopy(r) for r in self.recognition]
        return GenerativeStack([*self.lower, self.top], recognition)

    @property
    def penultimate_units(self) -> UnitType:
        """The unit type of the penultimate layer (the top RBM's non-label block)."""
        visible = self.top.visible
        return visible.parts(self.top.n_visible)[0][0] if self.n_classes else visible

    # -- passes ------------------------------------------------------------------------------
    @torch.no_grad()
    def up_pass(self, x: torch.Tensor) -> torch.Tensor:
        """Deterministic bottom-up pass through the recognition layers: (n, n_features) to
        the penultimate layer's means (n, n_penultimate)."""
        return up_pass(self.recognition, x) if self.recognition else x

    @torch.no_grad()
    def down_pass(self, h: torch.Tensor,
                  generator: torch.Generator | None = None) -> torch.Tensor:
        """Top-down pass through the directed generative weights: penultimate states
        (n, n_penultimate) to the means of the data layer (n, n_features).

        With a ``generator``, every layer between is sampled (the directed model's
        ancestral pass); without, means are propagated (a deterministic pass). The data
        layer's means are returned either way.
        """
        return down_pass(self.lower, h, generator)

    # -- the top level -------------------------------------------------------------------------
    def _labels_needed(self) -> None:
        if not self.n_classes:
            raise ValueError("this model has no label units (it was trained without labels).")

    def label_free_energies(self, h: torch.Tensor) -> torch.Tensor:
        """``F_top(h ⊕ e_k)`` for every label ``k``: shape (n, n_classes), exact.

        ``p(label = k | h) = softmax(-F)_k``. Vectorised: the hidden field
        ``b + h W_h`` is computed once and each label adds its row of ``W_label``.
        """
        self._labels_needed()
        top, n_pen = self.top, self.n_penultimate
        w_h, w_l = top.weight[:n_pen], top.weight[n_pen:]
        a_h, a_l = top.visible_bias[:n_pen], top.visible_bias[n_pen:]
        (pen_units, _), (label_units, _) = top.visible.parts(top.n_visible)
        eye = torch.eye(self.n_classes, device=h.device, dtype=h.dtype)
        field = (top.hidden_bias + h @ w_h).unsqueeze(1) + w_l.unsqueeze(0)  # (n, K, H)
        per_label = label_units.base_energy(eye) - a_l  # (K,)
        per_sample = pen_units.base_energy(h) - h @ a_h  # (n,)
        return per_sample.unsqueeze(1) + per_label - top.hidden.log_partition(field)

    def label_proba(self, h: torch.Tensor) -> torch.Tensor:
        """``p(label | h)``, shape (n, n_classes)."""
        return torch.softmax(-self.label_free_energies(h), dim=1)

    @torch.no_grad()
    def gibbs_top(
        self,
        h: torch.Tensor,
        labels: torch.Tensor | None = None,
        n_steps: int = 1,
        generator: torch.Generator | None = None,
        *,
        clamp_labels: bool = False,
        clamp_penultimate: bool = False,
        label_scale: float = 1.0,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Alternating Gibbs sampling ``v -> h_top -> v`` in the top RBM.

        Parameters
        ----------
        h : tensor of shape (n, n_penultimate)
            Start of the penultimate block (states or means).
        labels : tensor of shape (n, n_classes) or None
            Start of the label block (one-hot or probabilities); None starts the labels
            at a sample of ``p(label | h)`` (exact, so with ``clamp_penultimate`` the chain
            starts in its stationary distribution). Ignored without label units.
        n_steps : int
            Full Gibbs steps.
        clamp_labels, clamp_penultimate : bool
            Keep that block at its start value (sampling the other block given it).
        label_scale : float, default 1.0
            Multiplies the clamped labels' weights in the hidden conditional: the chain
            then samples an RBM whose labels pull ``label_scale`` times harder (1: the
            model itself). Needs ``clamp_labels``; used to start class-conditional chains
            inside the requested class before sampling the model (see
            :meth:`deepbelief.GenerativeDBN.sample`).

        Returns
        -------
        (h_mean, h_sample, labels) : the penultimate block's conditional mean and sample
        after the last step (shape (n, n_penultimate)), and the last label sample (n,
        n_classes; None without label units). Clamped blocks are returned as given.
        """
        top, n_pen = self.top, self.n_penultimate
        if label_scale != 1.0 and not (clamp_labels and self.n_classes):
            raise ValueError("label_scale != 1 needs clamped labels (clamp_labels=True).")
        if self.n_classes:
            if labels is None:
                if clamp_labels:
                    raise ValueError("clamp_labels=True needs labels.")
                labels = Softmax().sample(-self.label_free_energies(h), generator)
            v = torch.cat([h, labels], dim=1)
        else:
            v = h
        h_mean = h
        for _ in range(n_steps):
            if label_scale != 1.0:  # v W = h W_pen + labels W_label: scale the labels' term
                v = torch.cat([v[:, :n_pen], labels * label_scale], dim=1)
            _, hid = top.sample_hidden(v, generator)
            mean, v = top.sample_visible(hid, generator)
            if clamp_penultimate:
                v[:, :n_pen] = h
                mean = torch.cat([h, mean[:, n_pen:]], dim=1)
            if clamp_labels:
                v[:, n_pen:] = labels
            h_mean = mean[:, :n_pen]
        out_labels = v[:, n_pen:] if self.n_classes else None
        return h_mean, v[:, :n_pen], out_labels
