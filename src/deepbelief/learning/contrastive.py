"""Learning rules for RBMs: contrastive divergence (CD-k) and persistent CD (PCD).

The two rules differ only in where the negative Gibbs chain starts (the data's hidden
sample for CD, persistent fantasy particles for PCD), so they share one signature::

    negative_phase(rbm, v_pos, h_pos_sample, generator, context=None) -> (v_neg, h_neg_mean)

For a conditional RBM (``RBMModule(n_context=c)``) the batch is ``(v, context)`` and the
negative chain runs given the same context rows as the data.

:class:`RBMObjective` turns a rule into gradients written to ``.grad`` of the RBM's
parameters, so that any ``torch.optim`` optimizer takes the step.

References
----------
Hinton (2002), Training products of experts by minimizing contrastive divergence.
Tieleman (2008), Training restricted Boltzmann machines using approximations to the
likelihood gradient.
Hinton (2010), A practical guide to training restricted Boltzmann machines.
"""

from __future__ import annotations

import torch

from deepbelief.core.coins import flip_coins
from deepbelief.core.rbm import RBMModule
from deepbelief.core.tempering import DEFAULT_TEMPERATURES
from deepbelief.learning.centering import Centering, make_centering
from deepbelief.learning.tempering import ParallelTemperingPCD

__all__ = ["ContrastiveDivergence", "PersistentContrastiveDivergence", "RBMObjective", "make_rule"]


def _clone(t: torch.Tensor | None) -> torch.Tensor | None:
    return None if t is None else t.clone()


class ContrastiveDivergence:
    """CD-k: the negative chain starts at the hidden sample of the data.

    Parameters
    ----------
    k : int, default 1
        Gibbs steps.
    sample_visible : bool, default False
        Use a sample rather than the mean of the last visible reconstruction; the mean
        reduces sampling noise (Hinton's practical guide, §3.2).
    """

    persistent = False

    def __init__(self, k: int = 1, sample_visible: bool = False) -> None:
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}.")
        self.k = k
        self.sample_visible = sample_visible

    def needs_data_sample(self, rbm: RBMModule) -> bool:
        """Whether the next update uses the data's hidden sample (CD-k always does)."""
        return True

    def negative_phase(self, rbm: RBMModule, v_pos, h_pos_sample, generator, context=None):
        h = h_pos_sample
        for step in range(self.k):
            last = step == self.k - 1
            field = rbm.visible_field(h, context)
            if last and not self.sample_visible:
                v = rbm.visible.mean(field)
            else:
                v = rbm.visible.sample(field, generator)
            if last:  # the final hidden sample would be unused: draw none
                return v, rbm.hidden_mean(v, context)
            _, h = rbm.sample_hidden(v, generator, context=context)
        raise AssertionError("unreachable: k >= 1")

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


class PersistentContrastiveDivergence:
    """PCD-k: persistent fantasy particles carried across mini-batches.

    The chains (``n_chains`` of them, the batch size by default) start from the first
    mini-batch and are advanced ``k`` full Gibbs steps per update.

    Each chain keeps its visible state (``chains``) and the hidden sample drawn from it at
    the end of the previous update (``hidden``), as scikit-learn's ``BernoulliRBM`` keeps
    ``h_samples_``. An update then draws ``v ~ p(v | h)`` and ``h ~ p(h | v)`` and needs the
    hidden means of the new ``v`` for the gradient anyway: PCD-k costs what CD-k costs, two
    matrix products per Gibbs step and no third to resample the hidden units of the stored
    visible state. The chains follow the same Gibbs chain as ever (with the parameters
    frozen, the same Markov kernel; under learning the hidden half-step is drawn with the
    parameters of the update before rather than after it, as in scikit-learn). The first
    update's hidden state is the data's hidden sample (when given), so it is exactly a CD-k
    update, and chains given without a hidden state (set by hand, or from a checkpoint
    written before the hidden state was kept) draw one from their visible state once.

    Given a context (a conditional RBM), chain ``i`` runs given row ``i`` of the batch's
    context: there are as many chains as rows in the batch (``n_chains`` must be None), and
    a smaller last batch advances only its first chains. The context changes from batch to
    batch, so the hidden state is redrawn from the visible state at every update.

    References
    ----------
    Tieleman (2008), Training restricted Boltzmann machines using approximations to the
    likelihood gradient.
    """

    persistent = True

    def __init__(self, k: int = 1, n_chains: int | None = None) -> None:
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}.")
        self.k = k
        self.n_chains = n_chains
        self.chains: torch.Tensor | None = None
        self.hidden: torch.Tensor | None = None
        self._hidden_of: torch.Tensor | None = None  # the chains ``hidden`` was drawn from

    def needs_data_sample(self, rbm: RBMModule) -> bool:
        """Whether the next update uses the data's hidden sample: only the first, whose
        chains start at the data (later ones start from the chains' own hidden state, so
        the objective need not draw it, as scikit-learn's PCD does not)."""
        return self.chains is None or self.chains.shape[1] != rbm.n_visible

    def negative_phase(self, rbm: RBMModule, v_pos, h_pos_sample, generator, context=None):
        if context is not None and self.n_chains is not None:
            raise ValueError("PCD given a context runs one chain per row of the batch: "
                             "leave n_chains=None.")
        if self.chains is None or self.chains.shape[1] != rbm.n_visible:
            n = self.n_chains or v_pos.shape[0]
            reps = -(-n // v_pos.shape[0])
            self.chains = v_pos.repeat(reps, 1)[:n].clone()
            self._keep_hidden(None if h_pos_sample is None
                              else h_pos_sample.repeat(reps, 1)[:n].clone())
        if context is not None:
            return self._conditional_phase(rbm, v_pos, generator, context)
        if not self._hidden_current(rbm):
            self._keep_hidden(rbm.sample_hidden(self.chains, generator)[1])
        h = self.hidden
        for _ in range(self.k):
            _, v = rbm.sample_visible(h, generator)
            h_mean, h = rbm.sample_hidden(v, generator)
        # in place: a CUDA graph replays into the same tensors
        self.chains.copy_(v)
        self.hidden.copy_(h)
        return v, h_mean

    def _keep_hidden(self, hidden: torch.Tensor | None) -> None:
        self.hidden, self._hidden_of = hidden, (None if hidden is None else self.chains)

    def _hidden_current(self, rbm: RBMModule) -> bool:
        """Whether ``hidden`` was drawn from the current ``chains`` for this RBM's shape."""
        return (self.hidden is not None and self._hidden_of is self.chains
                and self.hidden.shape == (self.chains.shape[0], rbm.n_hidden))

    def _conditional_phase(self, rbm: RBMModule, v_pos, generator, context):
        """The chains of a conditional RBM: the hidden state is redrawn given this batch's
        context rows, and a batch with more rows than chains adds its own rows."""
        self._keep_hidden(None)
        if self.chains.shape[0] < v_pos.shape[0]:
            self.chains = torch.cat([self.chains, v_pos[self.chains.shape[0]:]])
        rows = v_pos.shape[0]
        v = self.chains[:rows]
        for _ in range(self.k):
            _, h = rbm.sample_hidden(v, generator, context=context)
            _, v = rbm.sample_visible(h, generator, context=context)
        if rows == self.chains.shape[0]:
            self.chains.copy_(v)
        else:
            self.chains = torch.cat([v, self.chains[rows:]])
        return v, rbm.hidden_mean(v, context)

    def state_dict(self) -> dict:
        hidden = self.hidden if self._hidden_of is self.chains else None  # not a stale one
        return {"chains": _clone(self.chains), "hidden": _clone(hidden)}

    def load_state_dict(self, state: dict) -> None:
        self.chains = _clone(state.get("chains"))
        hidden = state.get("hidden")
        fits = (self.chains is not None and hidden is not None
                and hidden.shape[0] == self.chains.shape[0])
        self._keep_hidden(_clone(hidden) if fits else None)


def make_rule(method: str, k: int = 1, temperatures=DEFAULT_TEMPERATURES):
    """Build a rule from its name: ``'cd'``, ``'pcd'`` or ``'pt'`` (PT-PCD,
    :class:`~deepbelief.learning.tempering.ParallelTemperingPCD`, whose ladder is
    ``temperatures``: a count or the inverse temperatures; ignored by the others)."""
    if method == "cd":
        return ContrastiveDivergence(k)
    if method == "pcd":
        return PersistentContrastiveDivergence(k)
    if method == "pt":
        return ParallelTemperingPCD(k, temperatures)
    raise ValueError(f"Unknown learning method {method!r}; use 'cd', 'pcd' or 'pt'.")


def _context(rbm: RBMModule, batch: tuple[torch.Tensor, ...]) -> torch.Tensor | None:
    """The batch's context for a conditional RBM (its second tensor), else None."""
    if not getattr(rbm, "n_context", 0):
        return None
    if len(batch) < 2:
        raise ValueError(f"this RBM takes a context of {rbm.n_context} values per sample: "
                         "train it on (visible, context) batches.")
    return batch[1]


class RBMObjective:
    """Maximum-likelihood gradient of an RBM, estimated by a learning rule.

    Writes ``-(<v h>_data - <v h>_model)`` (and the bias terms) into ``.grad`` so that an
    optimizer minimising the negative log-likelihood takes the step. An optional sparsity
    penalty pushes the running mean hidden activation ``q`` towards ``sparsity_target``
    (Hinton's practical guide, §11). With ``sample_inputs`` the data are read as Bernoulli
    probabilities and every mini-batch trains on a fresh binary sample of them ("dynamic
    binarisation"): the model is fitted to the distribution of binarised data rather than
    to one fixed binarisation, which overfits less. With ``centering`` (True, a sliding
    factor in (0, 1], or a :class:`~deepbelief.learning.centering.Centering`) the gradient
    is the centred one of Melchior, Fischer & Wiskott (2016), for any rule; the offsets are
    kept in ``centering`` and checkpointed with the rule's state.
    """

    def __init__(
        self,
        rbm: RBMModule,
        rule,
        sparsity_target: float | None = None,
        sparsity_cost: float = 0.0,
        sparsity_decay: float = 0.9,
        sample_inputs: bool = False,
        centering: bool | float | Centering | None = None,
    ) -> None:
        self.module = rbm
        self.centering = make_centering(centering)
        self.sample_inputs = sample_inputs
        self.rule = rule
        self.sparsity_target = sparsity_target
        self.sparsity_cost = sparsity_cost
        self.sparsity_decay = sparsity_decay
        self._q: torch.Tensor | None = None

    @property
    def graph_safe(self) -> bool:
        """Whether a step can be recorded into a CUDA graph
        (:mod:`deepbelief.training.graphs`): every update of the objective's state is in
        place and ``gradients_`` returns nothing. Plain RBMs (no context) under CD-k or
        PCD-k or PT-PCD."""
        return (not getattr(self.module, "n_context", 0)
                and isinstance(self.rule, (ContrastiveDivergence,
                                           PersistentContrastiveDivergence,
                                           ParallelTemperingPCD)))

    @torch.no_grad()
    def gradients_(self, batch: tuple[torch.Tensor, ...], generator) -> None:
        rbm = self.module
        if rbm.weight.grad is None:  # first step, or after unpickling (grads don't travel)
            for p in rbm.parameters():
                p.grad = torch.zeros_like(p)
        v_pos = batch[0]
        context = _context(rbm, batch)
        if self.sample_inputs:
            v_pos = flip_coins(v_pos, generator)
        if getattr(self.rule, "needs_data_sample", lambda _: True)(rbm):
            h_pos, h_pos_sample = rbm.sample_hidden(v_pos, generator, context=context)
        else:  # the rule starts its chains elsewhere: no draw
            h_pos, h_pos_sample = rbm.hidden_mean(v_pos, context), None
        if context is None:
            v_neg, h_neg = self.rule.negative_phase(rbm, v_pos, h_pos_sample, generator)
        else:
            v_neg, h_neg = self.rule.negative_phase(rbm, v_pos, h_pos_sample, generator,
                                                    context=context)
        n_pos, n_neg = v_pos.shape[0], v_neg.shape[0]
        # Two in-place matmuls into the preallocated gradient: no temporaries.
        rbm.weight.grad.addmm_(v_neg.t(), h_neg, beta=0.0, alpha=1.0 / n_neg)
        rbm.weight.grad.addmm_(v_pos.t(), h_pos, alpha=-1.0 / n_pos)
        torch.sub(v_neg.mean(0), v_pos.mean(0), out=rbm.visible_bias.grad)
        h_pos_mean = h_pos.mean(0)
        torch.sub(h_neg.mean(0), h_pos_mean, out=rbm.hidden_bias.grad)
        if context is not None:  # the model's statistics are taken at the data's contexts
            scale = 1.0 / n_pos
            rbm.context_visible.grad.addmm_(context.t(), v_neg - v_pos, beta=0.0, alpha=scale)
            rbm.context_hidden.grad.addmm_(context.t(), h_neg - h_pos, beta=0.0, alpha=scale)
        if self.sparsity_target is not None and self.sparsity_cost > 0:
            if self._q is None:
                self._q = h_pos_mean.clone()
            # in place (same roundings as q * d + h * (1 - d)): graph-safe
            self._q.mul_(self.sparsity_decay).add_(h_pos_mean * (1 - self.sparsity_decay))
            penalty = (self._q - self.sparsity_target) * self.sparsity_cost
            rbm.hidden_bias.grad.add_(penalty)
            rbm.weight.grad.addr_(v_pos.mean(0), penalty)
        if self.centering is not None:
            self.centering.apply_(rbm, v_pos, h_pos, v_neg, h_neg)

    @torch.no_grad()
    def monitor(self, data: tuple[torch.Tensor, ...], generator) -> dict[str, torch.Tensor]:
        """Mean squared reconstruction error of ``v -> E[h] -> E[v]`` on ``data``."""
        v, context = data[0], _context(self.module, data)
        recon = self.module.visible_mean(self.module.hidden_mean(v, context), context)
        return {"reconstruction_error": ((v - recon) ** 2).sum(-1).mean()}

    @torch.no_grad()
    def failure(self, data: tuple[torch.Tensor, ...]) -> str | None:
        """Describe a layer that has stopped carrying information, else ``None``.

        A layer whose hidden means are the same for every input (while the inputs differ)
        is dead: typically its weights blew up and every unit saturated. Nothing trained
        on top of it can learn, so training must stop rather than return such a model.
        """
        v = data[0]
        if v.shape[0] < 2 or float(v.var(0, unbiased=False).amax()) == 0.0:
            return None
        h = self.module.hidden_mean(v, _context(self.module, data))
        if float(h.var(0, unbiased=False).amax()) > 0.0:
            return None
        return (
            "every hidden unit gives the same output for every input (the largest weight "
            f"is {float(self.module.weight.abs().max()):.3g}): the layer is dead"
        )

    def state_dict(self) -> dict:
        """A snapshot (cloned tensors) of the rule's chains, the sparsity running mean and
        (when centring) the offsets."""
        state = {"rule": self.rule.state_dict(), "q": _clone(self._q)}
        if self.centering is not None:
            state["centering"] = self.centering.state_dict()
        return state

    def load_state_dict(self, state: dict) -> None:
        self.rule.load_state_dict(state.get("rule", {}))
        self._q = _clone(state.get("q"))
        if self.centering is not None:
            self.centering.load_state_dict(state.get("centering", {}))
