"""The Replicated Softmax model of word counts (Salakhutdinov & Hinton, NIPS 2009).

A document of ``D`` words over a vocabulary of ``K`` words is ``D`` one-of-``K`` softmax
units that share one weight matrix; the model sees only their sum, the count vector ``v``
(``v_k`` = occurrences of word ``k``, ``Σ_k v_k = D``). With binary hidden units ``h``::

    E(V, h) = -a·v - D b·h - vᵀ W h

for one ordered sequence ``V`` of the document's words: the hidden biases are scaled by
the document length. Everything follows from that energy:

* ``p(h_j = 1 | v) = σ(D b_j + v·W_j)``;
* ``v | h``: ``D`` independent draws of one word from ``softmax(a + W h)`` (a multinomial);
* ``F(v) = -a·v - Σ_j softplus(D b_j + v·W_j)``;
* ``Z_D = Σ_h exp(D b·h) (Σ_k exp(a_k + W_k·h))^D``: one partition function per length.

Probabilities are those of the ordered word sequence, ``log p(V) = -F(v) - log Z_D``, as
in the paper and as the perplexities of LDA are computed; the probability of the count
vector adds the multinomial coefficient ``log D! - Σ_k log v_k!``.

Why a layer of its own and not only a unit type: a unit type (:mod:`deepbelief.core.units`)
maps a field to means and samples, but here the *hidden* field depends on ``D`` (the
hidden biases are scaled by it) and the visible sampler needs ``D`` too, which a field
does not carry. So the model is :class:`ReplicatedSoftmaxModule`, a layer
(``kind = 'replicated_softmax'``), and the visible units *at a given length* are a unit
type, :class:`ReplicatedSoftmax`. Because ``v·1 = D``, the scaled bias is a weight tied
across the vocabulary, ``D b = v (1 bᵀ)``: the up pass is the linear map
``v (W + 1 bᵀ)`` with no bias, which is how the layer unrolls into a feed-forward
network, and a model at length ``D`` is an ordinary :class:`~deepbelief.core.rbm.RBMModule`
(:meth:`ReplicatedSoftmaxModule.at_length`) that the exact and AIS partition functions of
:mod:`deepbelief.evaluation.partition` take as they are.

References
----------
R. Salakhutdinov and G. E. Hinton, "Replicated Softmax: an Undirected Topic Model",
NIPS 2009.
"""

from __future__ import annotations

import torch
from torch import nn

from deepbelief.core.layers import register_layer
from deepbelief.core.rbm import RBMModule
from deepbelief.core.sharding import uniform
from deepbelief.core.units import Bernoulli, UnitType

__all__ = ["ReplicatedSoftmax", "ReplicatedSoftmaxModule", "document_lengths",
           "multinomial_counts"]

Lengths = int | float | torch.Tensor


def document_lengths(v: torch.Tensor) -> torch.Tensor:
    """``D``, the number of words of each count vector: ``v.sum(-1)``, shape (batch,)."""
    return v.sum(-1)


def multinomial_counts(probs: torch.Tensor, lengths: torch.Tensor,
                       generator: torch.Generator | None) -> torch.Tensor:
    """Counts of ``lengths[i]`` independent draws from the word distribution ``probs[i]``.

    One uniform number per word (``(batch, max D)`` of them, on the device), placed in the
    cumulative distribution; positions past a row's length are drawn and dropped, so a
    batch costs ``batch × max(D)`` draws.

    Parameters
    ----------
    probs : tensor of shape (batch, K)
        Rows of probabilities (each sums to 1 up to rounding).
    lengths : tensor of shape (batch,)
        Non-negative numbers of words (of any dtype; fractional ones are rounded).
    generator : torch.Generator or None

    Returns
    -------
    tensor of shape (batch, K), ``probs``' dtype, rows summing to ``lengths``.

    Examples
    --------
    >>> p = torch.tensor([[0.0, 1.0, 0.0], [0.5, 0.0, 0.5]])
    >>> counts = multinomial_counts(p, torch.tensor([3, 4]), torch.Generator().manual_seed(0))
    >>> counts[0].tolist(), float(counts[1].sum()), float(counts[1, 1])
    ([0.0, 3.0, 0.0], 4.0, 0.0)
    """
    counts = torch.zeros_like(probs)
    n_words = int(lengths.max().round()) if lengths.numel() else 0
    if n_words == 0:
        return counts
    cdf = probs.cumsum(-1)
    draws = uniform((probs.shape[0], n_words), generator, probs.device, probs.dtype)
    index = torch.searchsorted(cdf, draws * cdf[:, -1:], right=True)
    index.clamp_(max=probs.shape[-1] - 1)
    position = torch.arange(n_words, device=probs.device)
    kept = (position < lengths.to(probs.device).round().unsqueeze(-1)).to(probs.dtype)
    return counts.scatter_add_(-1, index, kept)


class ReplicatedSoftmax(UnitType):
    """The visible units of a replicated softmax: a count vector of ``length`` words, each
    drawn from ``softmax(f)``.

    ``x | f`` is multinomial: ``E[x | f] = D softmax(f)``, ``A(f) = D log Σ_k exp(f_k)``
    and ``phi(x) = 0`` (probabilities of the ordered words; see the module's docstring).
    With ``length=1`` these are :class:`~deepbelief.core.units.Softmax` units.

    Parameters
    ----------
    length : int or tensor of shape (batch,), default 1
        ``D``: one length for every row, or one per row (a batch of documents of several
        lengths, each row at its own).

    Examples
    --------
    >>> f = torch.log(torch.tensor([[0.25, 0.75]]))
    >>> ReplicatedSoftmax(4).mean(f)
    tensor([[1., 3.]])
    >>> float(ReplicatedSoftmax(4).log_partition(f))  # 4 log(0.25 + 0.75)
    0.0
    """

    name = "replicated_softmax"
    activation = "softmax"
    bounds = (0.0, float("inf"))
    plural = "replicated softmax units (word counts)"
    rescale_advice = ("Give word counts (non-negative integers, e.g. CountVectorizer's "
                      "output), not TF-IDF weights or scaled values.")

    def __init__(self, length: Lengths = 1) -> None:
        if isinstance(length, torch.Tensor):
            if length.ndim != 1 or bool((length < 0).any()):
                raise ValueError("length must be one non-negative length per row (a 1-D "
                                 "tensor).")
        elif not float(length) >= 0:
            raise ValueError(f"length must be >= 0, got {length!r}.")
        self.length = length

    def _lengths(self, field: torch.Tensor) -> torch.Tensor:
        """``D`` as a tensor of the field's device and dtype: shape () or (batch,)."""
        return torch.as_tensor(self.length, device=field.device, dtype=field.dtype)

    def mean(self, field: torch.Tensor) -> torch.Tensor:
        lengths = self._lengths(field)
        return torch.softmax(field, -1) * (lengths.unsqueeze(-1) if lengths.ndim else lengths)

    def sample(self, field: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        return self.mean_and_sample(field, generator)[1]

    def mean_and_sample(self, field, generator):
        probs = torch.softmax(field, -1)
        lengths = self._lengths(field).expand(field.shape[:-1])
        return probs * lengths.unsqueeze(-1), multinomial_counts(probs, lengths, generator)

    def base_energy(self, x: torch.Tensor) -> torch.Tensor:
        return x.new_zeros(x.shape[:-1])

    def log_partition(self, field: torch.Tensor) -> torch.Tensor:
        return self._lengths(field) * torch.logsumexp(field, dim=-1)

    def bias_for_mean(self, mean: torch.Tensor) -> torch.Tensor:
        """``log`` of the word frequencies ``mean / Σ mean`` (whatever the length), each
        at least ``1e-3 / K``: the biases whose softmax is the data's word distribution."""
        total = mean.sum(-1, keepdim=True).clamp_min(torch.finfo(mean.dtype).tiny)
        return torch.log((mean / total).clamp_min(1e-3 / mean.shape[-1]))

    def random_start(self, shape, generator, *, device=None, dtype=torch.float32):
        return self.sample(torch.zeros(shape, device=device, dtype=dtype), generator)

    def __repr__(self) -> str:
        length = self.length
        shown = f"<{length.numel()} lengths>" if isinstance(length, torch.Tensor) else length
        return f"ReplicatedSoftmax(length={shown})"

    def __eq__(self, other: object) -> bool:
        if type(self) is not type(other):
            return False
        mine, theirs = self.length, other.length
        if isinstance(mine, torch.Tensor) or isinstance(theirs, torch.Tensor):
            return (isinstance(mine, torch.Tensor) and isinstance(theirs, torch.Tensor)
                    and torch.equal(mine.cpu(), theirs.cpu()))
        return float(mine) == float(theirs)

    def __hash__(self) -> int:
        return hash(type(self))


class ReplicatedSoftmaxModule(nn.Module):
    """A Replicated Softmax RBM: ``K`` word counts under ``n_hidden`` binary units.

    A layer of :mod:`deepbelief.core.layers` (``kind = 'replicated_softmax'``); the energy
    and conditionals are in the module's docstring. Methods of the down pass take the
    documents' ``lengths``; without them they give the distribution of one word
    (``D = 1``), which is what the layer protocol's ``visible_mean`` returns.

    Parameters
    ----------
    n_visible : int
        Vocabulary size ``K``.
    n_hidden : int
        Binary hidden units (topics features).
    device, dtype :
        Where the parameters live; float32 by default.

    Attributes
    ----------
    weight : Parameter of shape (n_visible, n_hidden)
    visible_bias : Parameter of shape (n_visible,)
    hidden_bias : Parameter of shape (n_hidden,)
        ``b``, scaled by each document's length.
    visible : ReplicatedSoftmax
        The visible unit type at length 1 (its ``name`` and ``spec`` name the layer's input).
    hidden : Bernoulli

    References
    ----------
    R. Salakhutdinov and G. E. Hinton, "Replicated Softmax: an Undirected Topic Model",
    NIPS 2009.

    Examples
    --------
    >>> rsm = ReplicatedSoftmaxModule(5, 3)
    >>> v = torch.tensor([[2.0, 0.0, 1.0, 0.0, 0.0]])
    >>> rsm.hidden_mean(v).shape, float(rsm.free_energy(v))  # zero weights: -3 log 2
    (torch.Size([1, 3]), -2.079441...)
    """

    kind = "replicated_softmax"

    def __init__(self, n_visible: int, n_hidden: int, *,
                 device: torch.device | str | None = None,
                 dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        kw = {"device": device, "dtype": dtype}
        self.weight = nn.Parameter(torch.zeros(n_visible, n_hidden, **kw))
        self.visible_bias = nn.Parameter(torch.zeros(n_visible, **kw))
        self.hidden_bias = nn.Parameter(torch.zeros(n_hidden, **kw))
        self.visible = ReplicatedSoftmax()
        self.hidden = Bernoulli()

    @property
    def n_visible(self) -> int:
        return self.weight.shape[0]

    @property
    def n_hidden(self) -> int:
        return self.weight.shape[1]

    @property
    def activation(self) -> str:
        """The hidden units' activation in a feed-forward network: 'sigmoid'."""
        return self.hidden.activation

    @torch.no_grad()
    def reset_parameters(self, generator: torch.Generator | None = None, std: float = 0.01,
                         data_mean: torch.Tensor | None = None) -> None:
        """Small Gaussian weights, zero hidden biases, and visible biases at the log word
        frequencies of ``data_mean`` (the mean count vector; zero without it)."""
        w = torch.randn(self.weight.shape, generator=generator, device=self.weight.device,
                        dtype=self.weight.dtype)
        self.weight.copy_(w * std)
        self.hidden_bias.zero_()
        self.visible_bias.zero_()
        if data_mean is not None:
            self.visible_bias.copy_(self.visible.bias_for_mean(data_mean))

    # -- the layer protocol ----------------------------------------------------------------
    def input_weight(self) -> torch.Tensor:
        """``W + 1 bᵀ`` (n_visible, n_hidden): ``v (W + 1 bᵀ) = v W + D b``."""
        return self.weight + self.hidden_bias

    def unrolled(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``((W + 1 bᵀ)ᵀ, 0)``: the up pass as a linear map without bias (the scaled
        hidden bias is a weight tied across the vocabulary)."""
        return self.input_weight().t(), torch.zeros_like(self.hidden_bias)

    def layer_config(self) -> dict:
        """What :func:`deepbelief.core.layers.build_layer` needs besides the tensors."""
        return {"kind": self.kind, "n_visible": self.n_visible, "n_hidden": self.n_hidden}

    # -- conditionals ----------------------------------------------------------------------
    def hidden_field(self, v: torch.Tensor) -> torch.Tensor:
        """``D b + v W`` for count vectors ``v`` (batch, K): (batch, n_hidden).

        Computed as the unrolled layer computes it, ``addmm(0, v, W + 1 bᵀ)``."""
        return torch.addmm(torch.zeros_like(self.hidden_bias), v, self.input_weight())

    def visible_field(self, h: torch.Tensor) -> torch.Tensor:
        """``a + h Wᵀ``, the field of every one of a document's softmax units: (batch, K)."""
        return torch.addmm(self.visible_bias, h, self.weight.t())

    def hidden_mean(self, v: torch.Tensor) -> torch.Tensor:
        """``E[h | v]``: (batch, n_hidden), the topic features."""
        return self.hidden.mean(self.hidden_field(v))

    def sample_hidden(self, v: torch.Tensor, generator: torch.Generator | None = None):
        """``(mean, sample)`` of ``h | v``."""
        return self.hidden.mean_and_sample(self.hidden_field(v), generator)

    def visible_mean(self, h: torch.Tensor, lengths: Lengths = 1) -> torch.Tensor:
        """``E[v | h] = D softmax(a + W h)``: expected counts of documents of ``lengths``
        words (default 1: the word distribution)."""
        return ReplicatedSoftmax(lengths).mean(self.visible_field(h))

    def sample_visible(self, h: torch.Tensor, generator: torch.Generator | None = None,
                       lengths: Lengths = 1):
        """``(mean, sample)`` of ``v | h``: ``lengths`` words drawn from
        ``softmax(a + W h)`` (default: one word)."""
        return ReplicatedSoftmax(lengths).mean_and_sample(self.visible_field(h), generator)

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        """Deterministic up pass: ``E[h | v]``."""
        return self.hidden_mean(v)

    # -- energies --------------------------------------------------------------------------
    def energy(self, v: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """``E(V, h)`` per document: (batch,)."""
        return -(v @ self.visible_bias) - ((v @ self.input_weight()) * h).sum(-1)

    def free_energy(self, v: torch.Tensor) -> torch.Tensor:
        """``F(v) = -log Σ_h exp(-E(V, h))`` per document: (batch,)."""
        return -(v @ self.visible_bias) - self.hidden.log_partition(self.hidden_field(v))

    def free_energy_hidden(self, h: torch.Tensor, lengths: Lengths) -> torch.Tensor:
        """``F(h) = -log Σ_V exp(-E(V, h))`` over the documents of ``lengths`` words:
        ``-D b·h - D log Σ_k exp(a_k + W_k·h)``, shape (batch,)."""
        unit = ReplicatedSoftmax(lengths)
        return (-unit._lengths(h) * (h @ self.hidden_bias)
                - unit.log_partition(self.visible_field(h)))

    # -- sampling and views ------------------------------------------------------------------
    @torch.no_grad()
    def gibbs(self, v: torch.Tensor, n_steps: int = 1,
              generator: torch.Generator | None = None) -> torch.Tensor:
        """``n_steps`` of block Gibbs sampling ``v -> h -> v``, each document keeping its
        length; returns the last ``v`` sample."""
        lengths = document_lengths(v)
        for _ in range(n_steps):
            _, h = self.sample_hidden(v, generator)
            _, v = self.sample_visible(h, generator, lengths)
        return v

    @torch.no_grad()
    def at_length(self, length: Lengths) -> RBMModule:
        """This model restricted to documents of ``length`` words, as a plain RBM.

        An :class:`~deepbelief.core.rbm.RBMModule` (copies of the parameters, float64 if
        they are) with :class:`ReplicatedSoftmax` visible units of that length and hidden
        biases ``D b``: its free energies, ``Z`` and samples are those of this model's
        documents of that length, so :func:`~deepbelief.evaluation.exact_log_partition`
        and :func:`~deepbelief.evaluation.ais_log_partition` take it as it is.

        With one length per row (a tensor), the hidden biases are zero and ``D b`` is part
        of the weights (``W + 1 bᵀ``), which holds for every length at once: a batch of
        models, one per row, sharing their parameters.

        >>> rsm = ReplicatedSoftmaxModule(4, 2)
        >>> view = rsm.at_length(3)
        >>> view.visible, tuple(view.weight.shape)
        (ReplicatedSoftmax(length=3), (4, 2))
        """
        per_row = isinstance(length, torch.Tensor)
        rbm = RBMModule(self.n_visible, self.n_hidden, ReplicatedSoftmax(length), self.hidden,
                        device=self.weight.device, dtype=self.weight.dtype)
        rbm.weight.copy_(self.input_weight() if per_row else self.weight)
        rbm.visible_bias.copy_(self.visible_bias)
        rbm.hidden_bias.copy_(0.0 * self.hidden_bias if per_row else length * self.hidden_bias)
        return rbm.requires_grad_(False)

    def extra_repr(self) -> str:
        return f"n_visible={self.n_visible}, n_hidden={self.n_hidden}"


def _build(config: dict, tensors, device) -> ReplicatedSoftmaxModule:
    layer = ReplicatedSoftmaxModule(config["n_visible"], config["n_hidden"], device=device)
    layer.load_state_dict(dict(tensors))
    return layer


register_layer(ReplicatedSoftmaxModule.kind, _build)
