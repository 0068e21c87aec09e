"""Weighted rows in greedy pretraining: each epoch's rows drawn in proportion to their weights.

A supervised fit's ``sample_weight`` says how much each row counts. Fine-tuning weights
each row's loss (:class:`~deepbelief.learning.supervised.SupervisedObjective`). The layers'
objectives in pretraining (CD-k, PCD-k, parallel tempering, centring, autoencoder layers,
replicated softmax) estimate means over the mini-batch; rather than teaching each of them a
weighted mean, pretraining draws its rows as the weights say: every epoch draws
``n_samples`` rows *with replacement*, row ``i`` with probability ``w_i / Σ w`` (as
``torch.utils.data.WeightedRandomSampler`` does). Every statistic of a mini-batch is then
an unbiased estimate of its weighted mean under any rule, and a row of weight 0 is never
seen. :class:`ResampledSource` is that draw around any batch source that can gather rows
(:class:`~deepbelief.training.sources.TensorSource`, an ``ArraySource`` or
``SparseSource``, a lazy up-pass of one).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from deepbelief.training.sources import Batch, BatchSource, TensorSource

__all__ = ["ResampledSource"]


def _gathers(source) -> bool:
    """Whether ``source`` can hand out rows at any positions (a ``TensorSource``, or
    ``take`` down to the source it maps)."""
    if isinstance(source, TensorSource):
        return True
    inner = getattr(source, "source", None)
    return callable(getattr(source, "take", None)) and (inner is None or _gathers(inner))


class ResampledSource:
    """Each epoch: ``n_samples`` rows of ``source`` drawn with replacement, in proportion to
    ``weight``, in mini-batches.

    Parameters
    ----------
    source : BatchSource
        The rows: a :class:`~deepbelief.training.sources.TensorSource`, or a source with
        ``take(index)`` (the rows at those positions, in that order).
    weight : torch.Tensor of shape (n_samples,)
        Non-negative weights, not all zero, on ``source.device``.

    Raises
    ------
    TypeError
        If ``source`` cannot gather rows (a stream read in order once per epoch).
    ValueError
        If ``weight`` does not have one value per row, or has a negative, infinite or NaN
        value, or only zeros.

    Notes
    -----
    The epoch's one random draw is ``torch.multinomial(weight, n_samples,
    replacement=True, generator=generator)`` (where a permutation draws
    ``torch.randperm``), made before the first batch as :class:`BatchSource` asks.
    ``head`` (the monitored rows) is the source's, unweighted.

    Examples
    --------
    >>> x = torch.arange(4.0).reshape(4, 1)
    >>> source = ResampledSource(TensorSource(x), torch.tensor([0.0, 1.0, 0.0, 3.0]))
    >>> generator = torch.Generator().manual_seed(0)
    >>> [b[0][:, 0].tolist() for b in source.batches(2, generator)]  # 4 rows an epoch
    [[3.0, 3.0], [3.0, 3.0]]
    >>> rows = torch.cat([b[0] for _ in range(100) for b in source.batches(2, generator)])
    >>> sorted(set(rows[:, 0].tolist())), round(float((rows == 3).float().mean()), 1)
    ([1.0, 3.0], 0.8)
    """

    def __init__(self, source: BatchSource, weight: torch.Tensor) -> None:
        if not _gathers(source):
            raise TypeError(f"{type(source).__name__} reads its rows in order, once per "
                            "epoch: weighted rows cannot be drawn from it. Give the data as an "
                            "array, a memmap or a .npy file.")
        weight = torch.as_tensor(weight, dtype=torch.float32, device=source.device)
        if weight.shape != (source.n_samples,):
            raise ValueError(f"weight has shape {tuple(weight.shape)}: give one weight per "
                             f"row, shape ({source.n_samples},).")
        if not bool(torch.isfinite(weight).all()) or bool((weight < 0).any()) or not bool(
                (weight > 0).any()):
            raise ValueError("weight must be finite and non-negative, with at least one "
                             "positive value.")
        self.source, self.weight = source, weight
        self.n_samples, self.device = source.n_samples, source.device

    def _take(self, index: torch.Tensor) -> Batch:
        if isinstance(self.source, TensorSource):
            return tuple(t.index_select(0, index) for t in self.source.tensors)
        return self.source.take(index.cpu().numpy().astype(np.int64))

    def batches(self, batch_size: int, generator: torch.Generator | None) -> Iterator[Batch]:
        """One epoch of mini-batches of rows drawn in proportion to the weights."""
        order = torch.multinomial(self.weight, self.n_samples, replacement=True,
                                  generator=generator)
        for lo in range(0, self.n_samples, batch_size):
            yield self._take(order[lo : lo + batch_size])

    def head(self, n: int) -> Batch:
        """The source's first ``n`` rows (unweighted, unshuffled)."""
        return self.source.head(n)

    def __repr__(self) -> str:
        return f"ResampledSource({self.source!r})"
