"""Up-down fine-tuning of a generative DBN: contrastive wake-sleep.

Hinton, Osindero & Teh (2006), section 5 and appendix B. After greedy training the lower
RBMs' weights serve both directions; up-down fine-tuning unties them
(:meth:`deepbelief.core.generative.GenerativeStack.untied`) and improves each direction with the
other's samples:

* **wake (up) phase**: sample every layer bottom-up with the *recognition* weights, then
  move the *generative* weights so that each layer predicts the one below it
  (``ΔG_i ∝ (s_i - p_i)ᵀ s_{i+1}``, ``p_i`` the top-down mean given ``s_{i+1}``);
* **top level**: contrastive divergence (CD-k) in the top RBM, started from the wake
  sample of the penultimate layer joined with the labels (the negative chain samples the
  labels too, so the associative memory learns the joint distribution);
* **sleep (down) phase**: from the top-level chain's penultimate sample, sample every layer
  top-down with the generative weights, then move the *recognition* weights so that each
  layer predicts the one above it (``ΔR_i ∝ s_iᵀ (s_{i+1} - q_{i+1})``).

Every update is a log-likelihood gradient of a directed (sigmoid belief net) layer, written
to ``.grad`` as its negative, so any ``torch.optim`` optimizer steps and
:func:`deepbelief.training.loop.fit_epochs` (the one training loop) drives it. Bernoulli lower
layers only (the bottom layer also takes grey values in [0, 1] as probabilities).
"""

from __future__ import annotations

import torch

from deepbelief.core.generative import GenerativeStack
from deepbelief.core.rbm import RBMModule

__all__ = ["RECONSTRUCTION_GROWTH", "UpDownObjective"]

#: Up-down training has diverged when the reconstruction error of the monitoring rows is more
#: than this many times the larger of that of the first mini-batch before any step and the
#: data's total variance (the error of reconstructing every input as the mean). Healthy runs
#: on the digits (learning rates 0.01 to 0.3, CD and PCD) stay within 1.06 times the first;
#: learning rates of 1 to 10^4 give 2.6 to 7 times the variance and classify at chance.
RECONSTRUCTION_GROWTH = 2.0
#: Tested on the digits: 0.3 trains as well as the default 0.01 where 1 diverges.
DEFAULT_ADVICE = ("Try a smaller up-down learning rate (GenerativeDBN's updown_learning_rate: "
                  "0.3 or less; the default is 0.01).")


def _zero_grads(module: torch.nn.Module) -> None:
    """Fresh zero gradients: the lower RBMs still hold their last pretraining gradients."""
    for p in module.parameters():
        p.grad = torch.zeros_like(p)


@torch.no_grad()
def _directed_down_grad_(layer: RBMModule, below: torch.Tensor, above: torch.Tensor) -> None:
    """Generative step for ``p(below | above)``: into ``weight`` and ``visible_bias``."""
    error = below - layer.visible_mean(above)
    layer.weight.grad.addmm_(error.t(), above, beta=0.0, alpha=-1.0 / below.shape[0])
    torch.neg(error.mean(0), out=layer.visible_bias.grad)


@torch.no_grad()
def _directed_up_grad_(layer: RBMModule, below: torch.Tensor, above: torch.Tensor) -> None:
    """Recognition step for ``q(above | below)``: into ``weight`` and ``hidden_bias``."""
    error = above - layer.hidden_mean(below)
    layer.weight.grad.addmm_(below.t(), error, beta=0.0, alpha=-1.0 / below.shape[0])
    torch.neg(error.mean(0), out=layer.hidden_bias.grad)


class UpDownObjective:
    """The up-down algorithm as an objective for :func:`~deepbelief.training.loop.fit_epochs`.

    Parameters
    ----------
    stack : GenerativeStack
        An untied stack (``stack.untied()``): its recognition layers are trained by the
        sleep phase, its lower (generative) layers by the wake phase, its top RBM by CD-k.
    k : int, default 3
        Gibbs steps of the top-level contrastive divergence; may be changed between epochs
        (the paper grows it from 3 to 6 to 10).
    persistent : bool, default False
        Run the top-level negative chains on from one mini-batch to the next (PCD in the
        associative memory) instead of restarting them at the wake sample (the paper's
        CD-k). The sleep phase then starts from these chains, which are closer to samples
        of the model, and the associative memory unlearns the spurious modes that make
        CD-trained DBNs generate poorly.
    advice : str, optional
        What to try when training diverges (:meth:`failure`), in the caller's terms; the
        loop appends it to its :class:`~deepbelief.exceptions.DivergenceError`.

    Attributes
    ----------
    module : torch.nn.Module
        All trained parameters (recognition, generative and top layers) for the optimizer.

    Notes
    -----
    Batches are ``(x,)`` or, for a stack with label units, ``(x, one_hot_labels)``. Only the
    parameters each phase uses are updated: the generative copies' hidden biases and the
    recognition copies' visible biases keep zero gradients.
    """

    def __init__(self, stack: GenerativeStack, k: int = 3, persistent: bool = False,
                 advice: str = DEFAULT_ADVICE) -> None:
        if stack.tied and stack.lower:
            raise ValueError("up-down fine-tuning needs untied weights: pass stack.untied().")
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}.")
        self.stack = stack
        self.k = int(k)
        self.persistent = persistent
        self.advice = advice
        self.chains: torch.Tensor | None = None  # the top RBM's visible states (persistent)
        self._start: torch.Tensor | None = None  # reconstruction error before the first step
        self._last: torch.Tensor | None = None  # that of the last monitoring
        self.module = torch.nn.ModuleList([*stack.recognition, *stack.lower, stack.top])
        # Every step overwrites the gradients it uses; the others (the generative copies'
        # hidden biases, the recognition copies' visible biases) stay at these zeros.
        _zero_grads(self.module)

    @torch.no_grad()
    def gradients_(self, batch: tuple[torch.Tensor, ...], generator) -> None:
        stack = self.stack
        x = batch[0]
        labels = batch[1] if stack.n_classes else None
        if self._start is None:
            self._start = self._reconstruction_error(x)
        n_pen = stack.n_penultimate

        # Wake phase: binary states up the recognition weights (the data as given).
        wake = [x]
        for layer in stack.recognition:
            wake.append(layer.sample_hidden(wake[-1], generator)[1])

        # Top level: CD-k from the wake sample (labels clamped in the positive phase only).
        top = stack.top
        v_pos = wake[-1] if labels is None else torch.cat([wake[-1], labels], dim=1)
        h_pos, h = top.sample_hidden(v_pos, generator)
        if self.persistent:
            if self.chains is None or self.chains.shape != v_pos.shape:
                self.chains = v_pos.clone()
            h = top.sample_hidden(self.chains, generator)[1]
        for step in range(self.k):
            _, v_neg = top.sample_visible(h, generator)
            if step < self.k - 1:
                _, h = top.sample_hidden(v_neg, generator)
        h_neg = top.hidden_mean(v_neg)
        if self.persistent:
            self.chains = v_neg
        n = x.shape[0]
        top.weight.grad.addmm_(v_neg.t(), h_neg, beta=0.0, alpha=1.0 / n)
        top.weight.grad.addmm_(v_pos.t(), h_pos, alpha=-1.0 / n)
        torch.sub(v_neg.mean(0), v_pos.mean(0), out=top.visible_bias.grad)
        torch.sub(h_neg.mean(0), h_pos.mean(0), out=top.hidden_bias.grad)

        # Sleep phase: states down the generative weights from the chain's penultimate
        # sample; the data layer keeps its probabilities (less noise, as in the paper).
        sleep = [v_neg[:, :n_pen]]
        for i, layer in enumerate(reversed(stack.lower)):
            mean, sample = layer.sample_visible(sleep[0], generator)
            sleep.insert(0, mean if i == len(stack.lower) - 1 else sample)

        for i, (gen, rec) in enumerate(zip(stack.lower, stack.recognition, strict=True)):
            _directed_down_grad_(gen, wake[i], wake[i + 1])  # generative: predict below
            _directed_up_grad_(rec, sleep[i], sleep[i + 1])  # recognition: predict above

    @torch.no_grad()
    def monitor(self, data: tuple[torch.Tensor, ...], generator) -> dict[str, torch.Tensor]:
        """``reconstruction_error``: squared error of the deterministic up-then-down pass;
        with labels, ``training_error``: the generative classification error."""
        stack, x = self.stack, data[0]
        h = stack.up_pass(x)
        out = {"reconstruction_error": self._reconstruction_error(x, h)}
        self._last = out["reconstruction_error"]
        if stack.n_classes and len(data) > 1:
            wrong = stack.label_free_energies(h).argmin(1) != data[1].argmax(1)
            out["training_error"] = wrong.float().mean()
        return out

    def _reconstruction_error(self, x: torch.Tensor, h: torch.Tensor | None = None
                              ) -> torch.Tensor:
        """Mean squared error of the deterministic up-then-down pass (``h``: the up pass)."""
        h = self.stack.up_pass(x) if h is None else h
        return ((x - self.stack.down_pass(h)) ** 2).sum(-1).mean()

    @torch.no_grad()
    def failure(self, data: tuple[torch.Tensor, ...]) -> str | None:
        """Describe up-down training that blew up, else ``None``.

        Too large a learning rate makes the reconstruction error jump while the weights stay
        finite, and the model then classifies at chance. Training has diverged when the
        error of the last :meth:`monitor` (the loop monitors ``data`` just before) is more
        than :data:`RECONSTRUCTION_GROWTH` times the larger of the first mini-batch's error
        before any step and the total variance of ``data`` (the error of the mean).
        """
        if self._start is None or self._last is None:
            return None
        x = data[0]
        variance = float(((x - x.mean(0)) ** 2).sum(-1).mean())
        if variance == 0.0:  # constant inputs: nothing to compare with
            return None
        reference, now = max(float(self._start), variance), float(self._last)
        if now <= RECONSTRUCTION_GROWTH * reference:
            return None
        return (f"the reconstruction error grew to {now:.4g}, over {RECONSTRUCTION_GROWTH:g} "
                f"times {reference:.4g} (the larger of the error before training, "
                f"{float(self._start):.4g}, and the data's variance), though the weights are "
                "finite")

    def state_dict(self) -> dict:
        return {"k": self.k, "chains": None if self.chains is None else self.chains.clone()}

    def load_state_dict(self, state: dict) -> None:
        self.k = int(state.get("k", self.k))
        chains = state.get("chains")
        self.chains = None if chains is None else chains.clone()
