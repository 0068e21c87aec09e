"""``sample_weight`` in :meth:`deepbelief.GenerativeDBN.fit`, as the supervised estimators
read it (:mod:`deepbelief.estimators._sample_weight`): rows of weight 0 removed first,
equal weights no weights, and every phase's epochs drawing their rows in proportion to
the weights (:class:`~deepbelief.training.resampled.ResampledSource`): the lower RBMs
(``StackPhase``), the top RBM (:class:`WeightedLayerPhase`) and up-down fine-tuning
(:func:`weighted_rows`). The top RBM's visible biases, the labels' prior included, start
from the weighted mean of its data (:func:`weighted_mean`): the labels' prior of a model
fitted with integer weights and of one fitted on the rows repeated is the same.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import BaseEstimator

from deepbelief.core.generative import reset_joined_visible_bias_
from deepbelief.core.rbm import RBMModule
from deepbelief.estimators._sample_weight import fit_weights
from deepbelief.training.greedy import RBMConfig, data_mean, start_above
from deepbelief.training.plan import LayerPhase
from deepbelief.training.resampled import ResampledSource
from deepbelief.training.sources import SparseSource, as_source

__all__ = ["WeightedLayerPhase", "generative_weights", "start_top_rbm", "weighted_mean",
           "weighted_rows"]


def generative_weights(estimator, X, y, sample_weight) -> tuple:
    """``(X, y, weight)`` as :func:`~deepbelief.estimators._sample_weight.fit_weights`
    gives them; without labels (``y`` None) the same rules apply with no classes to check
    (``y`` stays None).

    Raises
    ------
    ValueError
        What ``fit_weights`` raises (bad weights, one class of positive weight).

    Examples
    --------
    >>> X, y, weight = generative_weights(None, np.eye(3), None, [0, 1, 2])
    >>> X.shape, y, weight.tolist()
    ((2, 3), None, [1.0, 2.0])
    """
    if y is not None or sample_weight is None:
        return fit_weights(estimator, X, y, sample_weight)
    # A plain estimator: not a classifier, no class_weight, so no classes are checked.
    X, _, weight = fit_weights(BaseEstimator(), X, np.zeros(X.shape[0]), sample_weight)
    return X, None, weight


def weighted_mean(data, weight: torch.Tensor | None) -> torch.Tensor:
    """The per-feature mean of a layer's data weighted by ``weight`` (one per row), shape
    (n_features,): summed in float64, rounded once to float32. Without weights, or for
    data read from a file in pieces, :func:`~deepbelief.training.greedy.data_mean`
    (unweighted, as the layers below start from).

    Examples
    --------
    >>> weighted_mean(torch.tensor([[0.0], [1.0]]), torch.tensor([1.0, 3.0]))
    tensor([0.7500])
    """
    if weight is None or not isinstance(data, (torch.Tensor, SparseSource)):
        return data_mean(data)
    w = weight.double()
    if isinstance(data, SparseSource):
        sums = data.arrays[0].T @ w.cpu().numpy()
        sums = torch.as_tensor(np.asarray(sums).ravel(), device=w.device)
    else:
        sums = w @ data.double()
    return (sums / w.sum()).to(device=data.device, dtype=torch.float32)


class _ResampledRows(ResampledSource):
    """A :class:`ResampledSource` that tells the width of its rows, as the loop's monitor
    asks of a source read in pieces."""

    @property
    def n_features(self) -> int:
        return self.head(1)[0].shape[1]


def weighted_rows(data, weight: torch.Tensor | None):
    """Up-down fine-tuning's data (a tuple of tensors or a batch source) with each epoch's
    rows drawn in proportion to ``weight`` (unchanged without weights).

    Examples
    --------
    >>> rows = weighted_rows((torch.arange(3.0).reshape(3, 1),), torch.tensor([0.0, 0.0, 1.0]))
    >>> [b[0].ravel().tolist() for b in rows.batches(3, torch.Generator().manual_seed(0))]
    [[2.0, 2.0, 2.0]]
    """
    return data if weight is None else _ResampledRows(as_source(data), weight)


class WeightedLayerPhase(LayerPhase):
    """A :class:`~deepbelief.training.plan.LayerPhase` whose epochs draw their rows in
    proportion to ``sample_weight`` (one non-negative weight per row of the data; None:
    a permutation of the rows, as the plain phase).

    The weights go to every trainer the phase holds, a fresh one or one rebuilt from a
    checkpoint: each ``trainer.run`` is given ``sample_weight``.

    Parameters
    ----------
    *args, **kwargs
        Those of :class:`~deepbelief.training.plan.LayerPhase`.
    sample_weight : torch.Tensor of shape (n_samples,) or None
        On the data's device.

    Examples
    --------
    >>> from deepbelief.training.greedy import RBMConfig
    >>> from deepbelief.training.plan import FitPlan
    >>> x = torch.rand(8, 3, generator=torch.Generator().manual_seed(0))
    >>> phase = WeightedLayerPhase("pretrain", "RBM", RBMConfig(2, epochs=1, batch_size=4), x,
    ...                            sample_weight=torch.tensor([1.0] * 4 + [0.0] * 4))
    >>> FitPlan([phase], generator=torch.Generator().manual_seed(0)).run()
    >>> phase.trainer.state.epoch
    1
    """

    def __init__(self, *args, sample_weight: torch.Tensor | None = None, **kwargs) -> None:
        self.sample_weight = sample_weight
        super().__init__(*args, **kwargs)

    @property
    def trainer(self):
        return self._trainer

    @trainer.setter
    def trainer(self, trainer) -> None:
        if trainer is not None and self.sample_weight is not None:
            run, weight = trainer.run, self.sample_weight
            trainer.run = lambda *args, **kwargs: run(*args, sample_weight=weight, **kwargs)
        self._trainer = trainer


def start_top_rbm(rbm: RBMModule, data, *, config: RBMConfig, below, generator: torch.Generator,
                  weight: torch.Tensor | None, labels: bool) -> None:
    """The top RBM's start (a :class:`~deepbelief.training.plan.LayerPhase`'s ``init``):
    with labels or weights, its visible biases, the labels' prior included, from the
    (weighted) mean of its data; then, with ``config.init='transpose'``, the transpose of
    the RBM below (``below()``: the lower RBMs, bottom first;
    :func:`~deepbelief.training.greedy.start_above`)."""
    if labels:
        reset_joined_visible_bias_(rbm, weighted_mean(data, weight))
    lower = below()
    if lower:
        start_above(config, rbm, lower[-1], data, generator)
