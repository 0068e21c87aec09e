"""Training of single RBMs and greedy layer-wise pretraining of a stack.

:class:`RBMTrainer` binds an RBM, its learning rule and its optimizer so training can
continue across calls (``partial_fit``, checkpoints). :func:`pretrain_stack` reuses it for
every layer: each trained layer's hidden means become the next layer's data
(Hinton, Osindero & Teh, 2006).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import torch

from deepbelief.core.rbm import RBMModule
from deepbelief.core.stack import up_pass
from deepbelief.learning.contrastive import RBMObjective, make_rule
from deepbelief.training.loop import (
    EpochSchedule,
    LoopState,
    fit_epochs,
    learning_rate_schedule,
    make_optimizer,
    momentum_schedule,
)

__all__ = ["RBMConfig", "RBMTrainer", "pretrain_stack"]


@dataclass(frozen=True)
class RBMConfig:
    """Settings for training one RBM layer (see the estimators for their meaning)."""

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


class RBMTrainer:
    """Trains one :class:`RBMModule` with :func:`fit_epochs`; keeps state between calls."""

    def __init__(self, rbm: RBMModule, config: RBMConfig, generator: torch.Generator | None):
        self.rbm = rbm
        self.config = config
        self.generator = generator
        self.objective = RBMObjective(
            rbm, make_rule(config.method, config.k),
            sparsity_target=config.sparsity_target, sparsity_cost=config.sparsity_cost,
            sample_inputs=config.sample_inputs,
        )
        momentum = momentum_schedule(config.momentum)
        self.optimizer = make_optimizer(
            rbm, config.optimizer, config.learning_rate, momentum(0), config.weight_decay
        )
        self.schedule = EpochSchedule(
            learning_rate_schedule(config.learning_rate, config.learning_rate_schedule,
                                   config.epochs),
            momentum,
        )
        self.state = LoopState()

    def state_dict(self) -> dict:
        """Everything besides the RBM's weights that training depends on: optimizer,
        persistent chains, sparsity statistics, random stream and loop position."""
        return {
            "optimizer": self.optimizer.state_dict(),
            "objective": self.objective.state_dict(),
            "generator": self.generator.get_state() if self.generator is not None else None,
            "epoch": self.state.epoch,
            "history": list(self.state.history),
        }

    def load_state_dict(self, state: dict) -> None:
        """Continue from :meth:`state_dict` (e.g. read from a checkpoint on the CPU: the
        objective's tensors move to the RBM's device)."""
        self.optimizer.load_state_dict(state["optimizer"])
        self.objective.load_state_dict(_to_device(state["objective"], self.rbm.weight.device))
        if state["generator"] is not None:
            self.generator.set_state(state["generator"])
        self.state = LoopState(epoch=state["epoch"], history=list(state["history"]))

    def run(
        self, data: torch.Tensor, epochs: int | None = None, *, callbacks: Sequence = (),
        progress=None, name: str = "RBM",
    ) -> LoopState:
        """Train for ``epochs`` (default: the configured number) more epochs on ``data``."""
        return fit_epochs(
            self.objective, (data,), self.optimizer,
            epochs=self.config.epochs if epochs is None else epochs,
            batch_size=self.config.batch_size, generator=self.generator,
            schedule=self.schedule, callbacks=callbacks, state=self.state,
            name=name, progress=progress,
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
    """An initialised RBM for ``data`` (device and dtype follow ``data``)."""
    rbm = RBMModule(n_visible, config.n_hidden, config.visible_units, config.hidden_units,
                    device=data.device, dtype=data.dtype)
    rbm.reset_parameters(generator, data_mean=data.mean(0))
    return rbm


def pretrain_stack(
    data: torch.Tensor,
    configs: Sequence[RBMConfig],
    generator: torch.Generator | None,
    *,
    callbacks: Sequence = (),
    progress_factory: Callable | None = None,
    trained: Sequence[RBMModule] = (),
    histories: Sequence[list[dict]] = (),
    resume: dict | None = None,
    on_layer_end: Callable[[list[RBMModule], list[list[dict]]], None] | None = None,
) -> tuple[list[RBMModule], list[list[dict]]]:
    """Greedy layer-wise training of a stack of RBMs on ``data`` (n_samples, n_features).

    The visible unit type of every layer above the first is the hidden type of the layer
    below. Returns the RBMs (bottom first) and one epoch history per layer.

    Training may continue a stack in progress (e.g. from a checkpoint): ``trained`` are
    the layers already trained, bottom first, with their ``histories``; training goes on
    with layer ``len(trained)``, on ``data`` passed up through them. ``resume`` is that
    layer's interrupted state: its weights (``"module"``), the keys of
    :meth:`RBMTrainer.state_dict` and ``"stopped"`` (a callback had stopped it), as
    :func:`deepbelief.training.checkpoint.epoch_end_state` saves them. ``on_layer_end(rbms,
    histories)`` is called after each layer trained here.
    """
    rbms: list[RBMModule] = list(trained)
    histories = [list(h) for h in histories]
    if len(histories) != len(rbms):
        raise ValueError(f"{len(rbms)} trained layers but {len(histories)} histories.")
    x = data
    if len(rbms) < len(configs):
        for rbm in rbms:  # the same passes as below, so the data is bit-identical
            x = up_pass([rbm], x)
    for i in range(len(rbms), len(configs)):
        config = configs[i]
        if i > 0:
            config = replace(config, visible_units=configs[i - 1].hidden_units)
        epochs = None
        if resume is not None and i == len(trained):
            rbm = RBMModule(x.shape[1], config.n_hidden, config.visible_units,
                            config.hidden_units, device=x.device, dtype=x.dtype)
            rbm.load_state_dict(resume["module"])
            trainer = RBMTrainer(rbm, config, generator)
            trainer.load_state_dict(resume)
            epochs = 0 if resume.get("stopped") else max(config.epochs - trainer.state.epoch, 0)
        else:
            rbm = new_rbm(x.shape[1], config, x, generator)
            trainer = RBMTrainer(rbm, config, generator)
        progress = progress_factory(i, config) if progress_factory else None
        try:
            state = trainer.run(
                x, epochs, callbacks=callbacks, progress=progress, name=f"layer {i + 1} (RBM)"
            )
        finally:
            if progress is not None:
                progress.close()
        rbms.append(rbm)
        histories.append(state.history)
        if on_layer_end is not None:
            on_layer_end(rbms, histories)
        if i + 1 < len(configs):
            x = up_pass([rbm], x)
    return rbms, histories
