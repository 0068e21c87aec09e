"""Training of single layers and greedy layer-wise pretraining of a stack.

A *layer spec* (:class:`LayerSpec`) says how to build one layer of the stack from the data
below it and how to train it; :class:`RBMConfig` is the RBM's. :class:`LayerTrainer` binds
a layer, its objective and its optimizer so training can continue across calls
(``partial_fit``, checkpoints). :func:`pretrain_stack` reuses it for every layer: each
trained layer's hidden means become the next layer's data (Hinton, Osindero & Teh, 2006).
A new layer kind (an autoencoder layer, a conditional RBM) needs only its spec and its
:class:`~deepbelief.core.layers.Layer`; nothing here changes.

The data of a layer is a tensor on the device, or (for the first layer of a stack trained
on a SciPy sparse matrix) a :class:`~deepbelief.training.sources.SparseSource`, which hands
out mini-batches densified one at a time: :func:`data_layout`, :func:`data_mean` and
:func:`data_rows` read both, and the layers above train on the (dense) up-pass. Data larger
than memory (a memory-mapped file, an HDF5 dataset, a stream of batches) comes as a
host-side source, and the layers above read it mapped up batch by batch or from a cache
file (:mod:`deepbelief.training.lazy_stack`), never whole.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np
import torch

from deepbelief.core.layers import Layer
from deepbelief.core.rbm import RBMModule
from deepbelief.core.stack import CHUNK_VALUES
from deepbelief.core.tempering import DEFAULT_TEMPERATURES
from deepbelief.core.warm_start import transposed_start
from deepbelief.learning.contrastive import RBMObjective, make_rule
from deepbelief.training.distributed import (
    data_parallel,
    load_objective_state,
    objective_state,
)
from deepbelief.training.lazy_stack import host_mean, host_source, stacked_input
from deepbelief.training.loop import (
    EpochSchedule,
    LoopState,
    fit_epochs,
    learning_rate_schedule,
    make_optimizer,
    momentum_schedule,
)
from deepbelief.training.resampled import ResampledSource
from deepbelief.training.sources import BatchSource, SparseSource, as_source

__all__ = [
    "LayerSpec",
    "LayerTrainer",
    "RBMConfig",
    "auto_learning_rate",
    "data_layout",
    "data_mean",
    "data_rows",
    "monitor_rows",
    "pretrain_stack",
    "start_above",
    "with_centering",
]

#: Rows monitored after each epoch (``fit_epochs(monitor_size=...)``).
_MONITOR_ROWS = 2048

#: The ``'auto'`` learning rates (Hinton 2010, §13.2): a binary layer, and one with
#: real-valued (Gaussian or rectified linear) units on either side.
AUTO_BINARY_RATE, AUTO_REAL_RATE = 0.1, 0.01


def auto_learning_rate(visible_units: Any, hidden_units: Any) -> float:
    """The ``'auto'`` learning rate of an RBM layer, from its unit types.

    0.1 when both sides are Bernoulli (scikit-learn's ``BernoulliRBM`` default); 0.01 when
    either side is Gaussian or rectified linear, whose unbounded values make the CD
    gradient one or two orders of magnitude larger (Hinton, 2010, "A Practical Guide to
    Training Restricted Boltzmann Machines", §13.2).

    Parameters
    ----------
    visible_units, hidden_units : str or UnitType
        The unit types of the layer's two sides ('bernoulli', 'gaussian', 'relu', ...).

    Returns
    -------
    float

    Examples
    --------
    >>> auto_learning_rate("bernoulli", "bernoulli"), auto_learning_rate("gaussian", "bernoulli")
    (0.1, 0.01)
    """
    binary = all(getattr(unit, "name", unit) == "bernoulli"
                 for unit in (visible_units, hidden_units))
    return AUTO_BINARY_RATE if binary else AUTO_REAL_RATE


def data_layout(data: torch.Tensor | SparseSource) -> tuple[int, torch.device, torch.dtype]:
    """``(n_features, device, dtype)`` of a layer's data: a tensor (n, n_features), a tuple
    whose first tensor is that, or a :class:`SparseSource` (whose batches are float32
    tensors on its device)."""
    if isinstance(data, tuple):
        data = data[0]
    if isinstance(data, SparseSource):
        return data.arrays[0].shape[1], data.device, torch.float32
    if host_source(data):  # a file or stream read in pieces (training/lazy_stack.py)
        return data.n_features, data.device, torch.float32
    return data.shape[1], data.device, data.dtype


def data_mean(data: torch.Tensor | SparseSource) -> torch.Tensor:
    """The per-feature mean of a layer's data, shape (n_features,), on its device (of the
    first tensor of a tuple such as a conditional RBM's ``(visible, context)``).

    For a :class:`SparseSource` the column sums of the sparse matrix (exact in float64)
    are divided by the number of rows in float32, as ``torch.mean`` of the dense data
    divides its float32 sums: equal to the dense mean whenever the float32 sums are exact
    (e.g. counts or binary data), and within float32 rounding otherwise.

    >>> import numpy as np
    >>> from scipy import sparse
    >>> X = np.array([[0.0, 1.0], [1.0, 1.0], [0.0, 1.0]], dtype=np.float32)
    >>> data_mean(SparseSource(sparse.csr_matrix(X))).equal(torch.from_numpy(X).mean(0))
    True
    """
    if isinstance(data, tuple):
        data = data[0]
    if host_source(data):
        return host_mean(data)
    if not isinstance(data, SparseSource):
        return data.mean(0)
    matrix = data.arrays[0]
    sums = np.asarray(matrix.sum(axis=0, dtype=np.float64)).ravel().astype(np.float32)
    return torch.from_numpy(sums).to(data.device) / matrix.shape[0]


def data_rows(data: torch.Tensor | SparseSource):
    """What :func:`~deepbelief.core.stack.up_pass` reads: the tensor, or the sparse matrix
    of a :class:`SparseSource`."""
    return data.arrays[0] if isinstance(data, SparseSource) else data


def monitor_rows(data) -> int:
    """Rows to monitor after each epoch (``fit_epochs(monitor_size=...)``): 2048, fewer
    for a :class:`SparseSource` of a wide matrix (at most a dense chunk's values)."""
    if isinstance(data, tuple):
        data = data[0]
    if not isinstance(data, SparseSource) and not host_source(data):
        return _MONITOR_ROWS
    return max(1, min(_MONITOR_ROWS, CHUNK_VALUES // max(data_layout(data)[0], 1)))


class LayerSpec(Protocol):
    """How to build and train one layer of a greedy stack.

    Attributes
    ----------
    n_hidden : int
        The layer's output size.
    hidden_units : str or UnitType
        The unit type of its outputs, which the layer above takes as its input type.
    label : str
        Short name in progress and log messages ('RBM').
    epochs, batch_size, learning_rate, momentum, weight_decay, learning_rate_schedule,
    optimizer :
        The training settings of :func:`deepbelief.training.loop.fit_epochs`,
        :func:`~deepbelief.training.loop.make_optimizer` and the schedules.
    """

    n_hidden: int
    hidden_units: Any
    label: str
    epochs: int
    batch_size: int
    learning_rate: float
    momentum: float | str
    weight_decay: float
    learning_rate_schedule: str
    optimizer: str | Callable

    def stacked_on(self, below: LayerSpec) -> LayerSpec:
        """This spec as the layer above ``below`` (e.g. taking its output unit type)."""

    def new_layer(self, data: torch.Tensor, generator: torch.Generator | None) -> Layer:
        """An initialised layer for ``data`` (n, n_visible), on its device and dtype
        (``data`` may be a :class:`SparseSource`: read it with :func:`data_layout` and
        :func:`data_mean`)."""

    def empty_layer(self, n_visible: int, device: torch.device, dtype: torch.dtype) -> Layer:
        """A layer to load a saved state into."""

    def objective(self, layer: Layer):
        """The objective :func:`~deepbelief.training.loop.fit_epochs` trains ``layer`` with."""


@dataclass(frozen=True)
class RBMConfig:
    """Settings for training one RBM layer (see the estimators for their meaning); the
    RBM's :class:`LayerSpec`.

    ``n_context > 0`` makes it a conditional RBM (Taylor, Hinton & Roweis, 2007): the layer
    is an ``RBMModule(n_context=...)`` whose context weights start at zero, trained on
    ``(visible, context)`` tuples of aligned tensors.

    ``init='transpose'`` starts an RBM above another one as that RBM's transpose
    (:func:`start_above`); ``'random'``, and any RBM at the bottom of a stack, starts from
    small random weights.
    """

    n_hidden: int
    visible_units: str = "bernoulli"
    hidden_units: str = "bernoulli"
    epochs: int = 10
    learning_rate: float = 0.1
    batch_size: int = 32
    method: str = "cd"
    k: int = 1
    momentum: float | str = "classic"
    weight_decay: float = 2e-4
    learning_rate_schedule: str = "constant"
    optimizer: str | Callable = "sgd"
    sparsity_target: float | None = None
    sparsity_cost: float = 0.0
    sample_inputs: bool = False
    n_context: int = 0
    centering: bool | float = False
    temperatures: int | tuple[float, ...] = DEFAULT_TEMPERATURES  # method='pt' only
    init: str = "random"  # or 'transpose': above an RBM, start as its transpose

    label = "RBM"

    def stacked_on(self, below: LayerSpec) -> RBMConfig:
        """This config with the visible units of the layer below's output type."""
        return replace(self, visible_units=below.hidden_units)

    def new_layer(self, data: torch.Tensor, generator: torch.Generator | None) -> RBMModule:
        return new_rbm(data_layout(data)[0], self, data, generator)

    def empty_layer(self, n_visible: int, device: torch.device,
                    dtype: torch.dtype) -> RBMModule:
        return RBMModule(n_visible, self.n_hidden, self.visible_units, self.hidden_units,
                         n_context=self.n_context, device=device, dtype=dtype)

    def objective(self, layer: RBMModule) -> RBMObjective:
        return RBMObjective(
            layer, make_rule(self.method, self.k, self.temperatures),
            sparsity_target=self.sparsity_target, sparsity_cost=self.sparsity_cost,
            sample_inputs=self.sample_inputs, centering=self.centering,
        )


def with_centering(configs: list, centering: bool | float) -> list:
    """``configs`` with ``centering`` (see :class:`~deepbelief.learning.centering.Centering`)
    set on their :class:`RBMConfig` entries; other layer kinds (autoencoder layers) as they
    are. The DBN estimators' ``pretrain_centering`` goes through here."""
    return [replace(c, centering=centering) if isinstance(c, RBMConfig) else c
            for c in configs]


class LayerTrainer:
    """Trains one layer with :func:`fit_epochs` as its :class:`LayerSpec` says; keeps state
    between calls.

    Parameters
    ----------
    layer : Layer (an ``nn.Module``)
    config : LayerSpec
    generator : torch.Generator or None
    """

    def __init__(self, layer: Layer, config: LayerSpec, generator: torch.Generator | None):
        self.layer = layer
        self.config = config
        self.generator = generator
        self.objective = config.objective(layer)
        momentum = momentum_schedule(config.momentum)
        self.optimizer = make_optimizer(
            layer, config.optimizer, config.learning_rate, momentum(0), config.weight_decay
        )
        self.schedule = EpochSchedule(
            learning_rate_schedule(config.learning_rate, config.learning_rate_schedule,
                                   config.epochs),
            momentum,
        )
        self.state = LoopState()

    def state_dict(self) -> dict:
        """Everything besides the layer's weights that training depends on: optimizer,
        the objective's state (an RBM's persistent chains and sparsity statistics), random
        stream and loop position."""
        return {
            "optimizer": self.optimizer.state_dict(),
            "objective": objective_state(self.objective),  # every process's chains
            "generator": self.generator.get_state() if self.generator is not None else None,
            "epoch": self.state.epoch,
            "history": list(self.state.history),
        }

    def load_state_dict(self, state: dict) -> None:
        """Continue from :meth:`state_dict` (e.g. read from a checkpoint on the CPU: the
        objective's tensors move to the layer's device)."""
        self.optimizer.load_state_dict(state["optimizer"])
        device = next(iter(self.layer.state_dict().values())).device
        load_objective_state(self.objective, _to_device(state["objective"], device))
        if state["generator"] is not None:
            self.generator.set_state(state["generator"])
        self.state = LoopState(epoch=state["epoch"], history=list(state["history"]))

    def run(
        self, data: torch.Tensor, epochs: int | None = None, *, callbacks: Sequence = (),
        progress=None, name: str | None = None, sample_weight: torch.Tensor | None = None,
    ) -> LoopState:
        """Train for ``epochs`` (default: the configured number) more epochs on ``data``
        (a tensor, a tuple of aligned tensors such as a conditional RBM's ``(visible,
        context)``, or a :class:`SparseSource`); data-parallel in a process group
        (:func:`~deepbelief.training.distributed.data_parallel`). With ``sample_weight``
        (one weight per row), each epoch draws its rows in proportion to the weights
        (:class:`~deepbelief.training.resampled.ResampledSource`)."""
        rows = data if isinstance(data, (BatchSource, tuple)) else (data,)
        if sample_weight is not None:
            rows = ResampledSource(as_source(rows), sample_weight)
        with data_parallel(self.objective, rows, self.config.batch_size,
                           self.generator) as (objective, rows):
            return fit_epochs(
                objective, rows,
                self.optimizer, epochs=self.config.epochs if epochs is None else epochs,
                batch_size=self.config.batch_size, generator=self.generator,
                schedule=self.schedule, callbacks=callbacks, state=self.state,
                name=self.config.label if name is None else name, progress=progress,
                monitor_size=monitor_rows(data),
            )


def _to_device(tree, device: torch.device):
    """The tensors of a tree of dicts and lists on ``device`` (the rest as it is)."""
    if isinstance(tree, torch.Tensor):
        return tree.to(device)
    if isinstance(tree, dict):
        return {k: _to_device(v, device) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_to_device(v, device) for v in tree]
    return tree


def new_rbm(n_visible: int, config: RBMConfig, data: torch.Tensor,
            generator: torch.Generator | None) -> RBMModule:
    """An initialised RBM for ``data`` (device and dtype follow ``data``; a tensor, a
    :class:`SparseSource`, or a conditional RBM's ``(visible, context)`` tuple)."""
    _, device, dtype = data_layout(data)
    rbm = RBMModule(n_visible, config.n_hidden, config.visible_units, config.hidden_units,
                    n_context=config.n_context, device=device, dtype=dtype)
    rbm.reset_parameters(generator, data_mean=data_mean(data))
    return rbm


#: Rows of the data whose hidden states choose what a smaller transposed start keeps.
START_ROWS = 10_000


def start_above(config: LayerSpec, layer: Layer, below: Layer, data,
                generator: torch.Generator | None) -> None:
    """Start ``layer`` (freshly built for ``data``, the up-pass through ``below``) as its
    spec's ``init`` says: ``'transpose'`` makes an RBM the transpose of the RBM below
    (:func:`~deepbelief.core.warm_start.transposed_start`, with hidden states drawn from
    the first :data:`START_ROWS` rows of ``data``); anything else leaves it as built."""
    if getattr(config, "init", "random") != "transpose":
        return
    if not (isinstance(layer, RBMModule) and isinstance(below, RBMModule)):
        raise ValueError("init='transpose' starts an RBM from the RBM below it; here the "
                         f"layers are {type(below).__name__} and {type(layer).__name__}.")
    if isinstance(data, torch.Tensor):
        data = (data,)
    means = as_source(data).head(START_ROWS)[0][:, :below.n_hidden]
    states = torch.rand(means.shape, generator=generator, device=means.device,
                        dtype=means.dtype) < means
    transposed_start(below, layer, states.to(means.dtype))


def pretrain_stack(
    data: torch.Tensor,
    configs: Sequence[LayerSpec],
    generator: torch.Generator | None,
    *,
    callbacks: Sequence = (),
    progress_factory: Callable | None = None,
    trained: Sequence[Layer] = (),
    histories: Sequence[list[dict]] = (),
    resume: dict | None = None,
    on_layer_end: Callable[[list[Layer], list[list[dict]], LayerTrainer], None] | None = None,
    sample_weight: torch.Tensor | None = None,
) -> tuple[list[Layer], list[list[dict]]]:
    """Greedy layer-wise training of a stack of layers on ``data`` (n_samples, n_features).

    ``data`` may also be a :class:`SparseSource` over a sparse matrix: the first layer
    trains on its mini-batches, the layers above on the up-pass, read chunk by chunk.
    ``configs`` holds one :class:`LayerSpec` per layer, bottom first (:class:`RBMConfig`
    for RBMs; kinds may be mixed). Every spec above the first is read as stacked on the one
    below (:meth:`LayerSpec.stacked_on`: an RBM's visible unit type becomes the hidden type
    of the layer below). Returns the layers (bottom first) and one epoch history per layer.

    Training may continue a stack in progress (e.g. from a checkpoint): ``trained`` are
    the layers already trained, bottom first, with their ``histories``; training goes on
    with layer ``len(trained)``, on ``data`` passed up through them. ``resume`` is that
    layer's interrupted state: its weights (``"module"``), the keys of
    :meth:`LayerTrainer.state_dict` and ``"stopped"`` (a callback had stopped it), as
    :func:`deepbelief.training.checkpoint.epoch_end_state` saves them. ``on_layer_end(layers,
    histories, trainer)`` is called after each layer trained here, with that layer's
    :class:`LayerTrainer` (its optimizer and objective, to continue training later).
    ``sample_weight`` (one non-negative weight per row of ``data``, on its device) makes
    every layer's epochs draw their rows in proportion to the weights
    (:class:`~deepbelief.training.resampled.ResampledSource`); the layers' initial biases
    still come from the unweighted data mean.

    Examples
    --------
    >>> data = (torch.rand(40, 6, generator=torch.Generator().manual_seed(0)) < 0.5).float()
    >>> configs = [RBMConfig(4, epochs=1), RBMConfig(2, epochs=2)]
    >>> layers, histories = pretrain_stack(data, configs, torch.Generator().manual_seed(0))
    >>> [(layer.n_visible, layer.n_hidden) for layer in layers], len(histories[1])
    ([(6, 4), (4, 2)], 2)
    """
    layers: list[Layer] = list(trained)
    histories = [list(h) for h in histories]
    if len(histories) != len(layers):
        raise ValueError(f"{len(layers)} trained layers but {len(histories)} histories.")
    x = data
    if len(layers) < len(configs):
        for layer in layers:  # the same passes as below, so the data is bit-identical
            x = stacked_input(x, [layer])
    for i in range(len(layers), len(configs)):
        config = configs[i] if i == 0 else configs[i].stacked_on(configs[i - 1])
        epochs = None
        if resume is not None and i == len(trained):
            layer = config.empty_layer(*data_layout(x))
            layer.load_state_dict(resume["module"])
            trainer = LayerTrainer(layer, config, generator)
            trainer.load_state_dict(resume)
            epochs = 0 if resume.get("stopped") else max(config.epochs - trainer.state.epoch, 0)
        else:
            layer = config.new_layer(x, generator)
            if layers:
                start_above(config, layer, layers[-1], x, generator)
            trainer = LayerTrainer(layer, config, generator)
        progress = progress_factory(i, config) if progress_factory else None
        try:
            state = trainer.run(x, epochs, callbacks=callbacks, progress=progress,
                                name=f"layer {i + 1} ({config.label})",
                                sample_weight=sample_weight)
        finally:
            if progress is not None:
                progress.close()
        layers.append(layer)
        histories.append(state.history)
        if on_layer_end is not None:
            on_layer_end(layers, histories, trainer)
        if i + 1 < len(configs):  # a tensor, or a lazy or cached source (lazy_stack.py)
            x = stacked_input(x, [layer], configs[i + 1].epochs)
    return layers, histories
