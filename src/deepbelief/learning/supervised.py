"""Supervised objectives: backpropagation of a ``torch.nn`` loss through a network."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["SupervisedObjective"]


class SupervisedObjective:
    """Backpropagation objective for :func:`deepbelief.training.loop.fit_epochs`.

    ``loss`` is a ``torch.nn`` loss (cross-entropy for classification, MSE for
    regression); returns the detached batch loss so the loop can average it per epoch.
    """

    def __init__(self, network: nn.Module, loss: nn.Module) -> None:
        self.module = network
        self.loss = loss

    def gradients_(self, batch: tuple[torch.Tensor, ...], generator) -> torch.Tensor:
        x, y = batch
        net = self.module
        net.train()
        net.set_generator(generator)
        for p in net.parameters():
            p.grad = None
        loss = self.loss(net(x), y)
        loss.backward()
        net.set_generator(None)
        net.eval()
        return loss.detach()
