"""The layer spec of a Replicated Softmax: how :func:`~deepbelief.training.greedy.pretrain_stack`
(or one :class:`~deepbelief.training.plan.LayerPhase`) builds and trains one on word counts.

:class:`ReplicatedSoftmaxConfig` satisfies :class:`~deepbelief.training.greedy.LayerSpec`:
it is the bottom layer of a stack whose input is a document-term count matrix (dense, or a
:class:`~deepbelief.training.sources.SparseSource` densified one mini-batch at a time), with
binary hidden units that the layers above read as Bernoulli data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from deepbelief.core.replicated_softmax import ReplicatedSoftmaxModule
from deepbelief.learning.replicated_softmax import ReplicatedSoftmaxObjective
from deepbelief.training.distributed import is_distributed
from deepbelief.training.greedy import LayerSpec, data_layout, data_mean

__all__ = ["ReplicatedSoftmaxConfig"]


@dataclass(frozen=True)
class ReplicatedSoftmaxConfig:
    """Settings for training one replicated softmax layer; its :class:`LayerSpec`.

    Parameters
    ----------
    n_hidden : int
        Binary hidden units.
    epochs, learning_rate, batch_size, momentum, weight_decay, learning_rate_schedule,
    optimizer :
        As for :class:`~deepbelief.training.greedy.RBMConfig`.
    method : {'cd', 'pcd'}, default 'cd'
    k : int, default 1

    Examples
    --------
    >>> from deepbelief.training.greedy import RBMConfig, pretrain_stack
    >>> g = torch.Generator().manual_seed(0)
    >>> counts = torch.poisson(torch.full((40, 12), 0.8), generator=g)
    >>> configs = [ReplicatedSoftmaxConfig(6, epochs=2, learning_rate=0.01), RBMConfig(3)]
    >>> layers, _ = pretrain_stack(counts, configs, g)
    >>> [layer.kind for layer in layers], configs[1].stacked_on(configs[0]).visible_units
    (['replicated_softmax', 'rbm'], 'bernoulli')
    """

    n_hidden: int
    epochs: int = 10
    learning_rate: float = 0.01
    batch_size: int = 32
    method: str = "cd"
    k: int = 1
    momentum: float | str = 0.9
    weight_decay: float = 0.0
    learning_rate_schedule: str = "constant"
    optimizer: str | Callable = "sgd"

    label = "RSM"
    visible_units = "replicated_softmax"
    hidden_units = "bernoulli"

    def stacked_on(self, below: LayerSpec) -> ReplicatedSoftmaxConfig:
        """A replicated softmax reads word counts: it is only ever the bottom layer.

        Raises
        ------
        ValueError
            Always.
        """
        raise ValueError("a replicated softmax layer reads word counts: it can only be the "
                         "bottom layer of a stack.")

    def new_layer(self, data, generator: torch.Generator | None) -> ReplicatedSoftmaxModule:
        """An initialised layer for ``data`` (counts, a tensor or a sparse source): small
        random weights, visible biases at the log word frequencies."""
        n_visible, device, dtype = data_layout(data)
        layer = self.empty_layer(n_visible, device, dtype)
        layer.reset_parameters(generator, data_mean=data_mean(data))
        return layer

    def empty_layer(self, n_visible: int, device: torch.device,
                    dtype: torch.dtype) -> ReplicatedSoftmaxModule:
        return ReplicatedSoftmaxModule(n_visible, self.n_hidden, device=device, dtype=dtype)

    def objective(self, layer: ReplicatedSoftmaxModule) -> ReplicatedSoftmaxObjective:
        if is_distributed():  # each process would draw words for its own longest document
            raise NotImplementedError(
                "A replicated-softmax layer does not train data-parallel yet: run this fit "
                "in one process (without torchrun), on a GPU for speed.")
        return ReplicatedSoftmaxObjective(layer, self.method, self.k)
