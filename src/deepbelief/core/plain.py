"""Plain PyTorch networks: the core's feed-forward passes built from standard ``torch.nn``
layers only.

What the estimators' ``to_torch()`` and ``deepbelief export`` hand over is an
``nn.Sequential`` of named standard layers (``nn.Linear``, ``nn.Sigmoid``, ``nn.ReLU``,
``nn.Hardtanh``, ``nn.Conv1d``, ``nn.Softmax``, ...) holding copies of the weights, on the
CPU, in float32. It pickles, runs under ``torch.export`` and exports to ONNX where
deepbelief is not installed, and a later fit of the estimator does not change it.

A network is assembled from *stages*, lists of ``(name, module)`` pairs joined by
:func:`plain_sequential`:

- :func:`clip_stage`: input clipped to the visible units' range (``nn.Hardtanh``), as the
  estimators clip the input of ``transform`` and ``predict``;
- :func:`affine_stage`: ``x * scale + offset`` per feature, a frozen 1x1 convolution with
  one group per feature (standardised input, or standardised regression targets mapped
  back); no standard layer computes it with one weight per feature in training mode too;
- :func:`dense_stages`: fully connected layers (:class:`Dense`) and their activations, from
  a stack of layers (:func:`layer_dense`, the up pass) or from a core network's modules
  (:func:`network_dense`: a :class:`~deepbelief.core.network.FeedForwardDBN`, the encoder of
  a :class:`~deepbelief.core.deep_autoencoder.DeepAutoencoder`).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import nn

from deepbelief.core.deep_autoencoder import Affine
from deepbelief.core.layers import Layer
from deepbelief.core.network import _ACTIVATIONS, Dropout

__all__ = ["Dense", "Stage", "affine_stage", "clip_stage", "dense_stages", "layer_dense",
           "network_dense", "plain_sequential"]

#: A stage: named modules, in the order the data goes through them.
Stage = list[tuple[str, nn.Module]]

_ACTIVATION_NAMES = {module: name for name, module in _ACTIVATIONS.items()}


@dataclass(frozen=True)
class Dense:
    """One fully connected layer, ``activation(x weightᵀ + bias)``.

    Attributes
    ----------
    weight : tensor of shape (n_out, n_in)
        As ``nn.Linear`` keeps it.
    bias : tensor of shape (n_out,)
    activation : {'sigmoid', 'relu', 'identity'}
    """

    weight: torch.Tensor
    bias: torch.Tensor
    activation: str = "identity"


def layer_dense(layers: Sequence[Layer]) -> list[Dense]:
    """The up pass of a stack of layers (bottom first) as :class:`Dense` layers: each
    layer's unrolled weight and bias (``Wᵀ`` and ``b`` for an RBM) and the activation of
    its hidden units, so that the layers compute the stack's hidden means.

    Examples
    --------
    >>> from deepbelief.core.rbm import RBMModule
    >>> [(tuple(d.weight.shape), d.activation)
    ...  for d in layer_dense([RBMModule(6, 4), RBMModule(4, 2, hidden="relu")])]
    [((4, 6), 'sigmoid'), ((2, 4), 'relu')]
    """
    return [Dense(*layer.unrolled(), layer.activation) for layer in layers]


def network_dense(network: nn.Module) -> list[Dense]:
    """The fully connected layers of a core network, in the order of its modules:
    ``nn.Linear`` or :class:`~deepbelief.core.deep_autoencoder.Affine` layers, each with
    the activation module that follows it (none: the identity). Dropout, the identity once
    training is over, is left out.

    Raises
    ------
    TypeError
        If the network holds another kind of module.

    Examples
    --------
    >>> from deepbelief.core.network import FeedForwardDBN
    >>> net = FeedForwardDBN([6, 4, 3], ["sigmoid", "relu"], 2, dropout=0.5)
    >>> [(tuple(d.weight.shape), d.activation) for d in network_dense(net)]
    [((4, 6), 'sigmoid'), ((3, 4), 'relu'), ((2, 3), 'identity')]
    """
    dense: list[Dense] = []
    for module in network.modules():
        if isinstance(module, nn.Linear):
            dense.append(Dense(module.weight, module.bias))
        elif isinstance(module, Affine):
            dense.append(Dense(module.weight.t(), module.bias))
        elif type(module) in _ACTIVATION_NAMES and dense:
            dense[-1] = replace(dense[-1], activation=_ACTIVATION_NAMES[type(module)])
        elif isinstance(module, Dropout) or next(module.children(), None) is not None:
            continue  # dropout, or a container whose modules come next
        else:
            raise TypeError(f"cannot copy a {type(module).__name__} module into a plain "
                            "network: only linear layers, their activations "
                            f"({', '.join(sorted(_ACTIVATIONS))}) and dropout are known.")
    return dense


def _copy(tensor: torch.Tensor | np.ndarray) -> torch.Tensor:
    """A float32 CPU copy, detached (never a view of the model's own tensor)."""
    return torch.as_tensor(tensor).detach().to("cpu", torch.float32).clone()


def dense_stages(dense: Sequence[Dense]) -> Stage:
    """``nn.Linear`` layers named ``linear1``, ``linear2``, ... each followed by its
    activation (``sigmoid1``, ``relu2``, ...; none for the identity), with copies of the
    weights.

    Raises
    ------
    ValueError
        If an activation is not one of 'sigmoid', 'relu', 'identity'.

    Examples
    --------
    >>> d = Dense(torch.ones(2, 3), torch.zeros(2), "sigmoid")
    >>> [name for name, _ in dense_stages([d, Dense(torch.ones(1, 2), torch.zeros(1))])]
    ['linear1', 'sigmoid1', 'linear2']
    """
    stage: Stage = []
    for i, layer in enumerate(dense, 1):
        if layer.activation not in _ACTIVATIONS:
            raise ValueError(f"cannot copy units of activation {layer.activation!r} into a "
                             f"plain network; it knows {', '.join(sorted(_ACTIVATIONS))}.")
        n_out, n_in = layer.weight.shape
        linear = nn.Linear(n_in, n_out)
        with torch.no_grad():
            linear.weight.copy_(_copy(layer.weight))
            linear.bias.copy_(_copy(layer.bias))
        stage.append((f"linear{i}", linear))
        if layer.activation != "identity":
            stage.append((f"{layer.activation}{i}", _ACTIVATIONS[layer.activation]()))
    return stage


def clip_stage(bounds: tuple[float, float], name: str = "clip") -> Stage:
    """``[(name, nn.Hardtanh(low, high))]`` for units of range ``bounds``; nothing for
    units that take every real value.

    Examples
    --------
    >>> clip_stage((0.0, 1.0)), clip_stage((-math.inf, math.inf))
    ([('clip', Hardtanh(min_val=0.0, max_val=1.0))], [])
    """
    low, high = (float(b) for b in bounds)
    if math.isinf(low) and math.isinf(high):
        return []
    return [(name, nn.Hardtanh(low, high))]


def affine_stage(name: str, scale, offset) -> Stage:
    """``[(name, module)]``: ``x * scale + offset`` per feature, on input of shape
    (batch, n_features).

    The module is ``nn.Unflatten``, a 1x1 ``nn.Conv1d`` with one group per feature
    (its weight ``scale``, its bias ``offset``), and ``nn.Flatten``: one number per feature,
    the same in training and evaluation mode (``nn.BatchNorm1d`` would standardise each
    batch by its own statistics in training mode). Its parameters are frozen
    (``requires_grad=False``): further training in PyTorch leaves it alone.

    Parameters
    ----------
    name : str
    scale, offset : array-like of shape (n_features,)

    Examples
    --------
    >>> [(_, standardize)] = affine_stage("standardize", [0.5, 2.0], [-1.0, 0.0])
    >>> standardize(torch.tensor([[2.0, 3.0]]))
    tensor([[0., 6.]])
    """
    scale, offset = _copy(np.asarray(scale)), _copy(np.asarray(offset))
    n = scale.numel()
    conv = nn.Conv1d(n, n, kernel_size=1, groups=n)
    with torch.no_grad():
        conv.weight.copy_(scale.reshape(n, 1, 1))
        conv.bias.copy_(offset.reshape(n))
    conv.requires_grad_(False)
    return [(name, nn.Sequential(nn.Unflatten(1, (n, 1)), conv, nn.Flatten(1)))]


def plain_sequential(*stages: Iterable[tuple[str, nn.Module]]) -> nn.Sequential:
    """The stages joined into one ``nn.Sequential`` of named modules, in evaluation mode.

    Raises
    ------
    ValueError
        If two modules have the same name.

    Examples
    --------
    >>> from deepbelief.core.rbm import RBMModule
    >>> net = plain_sequential(clip_stage((0.0, 1.0)),
    ...                        dense_stages(layer_dense([RBMModule(6, 4)])))
    >>> net
    Sequential(
      (clip): Hardtanh(min_val=0.0, max_val=1.0)
      (linear1): Linear(in_features=6, out_features=4, bias=True)
      (sigmoid1): Sigmoid()
    )
    """
    named = [pair for stage in stages for pair in stage]
    modules = OrderedDict(named)
    if len(modules) < len(named):
        raise ValueError(f"the stages repeat a name: {[name for name, _ in named]}.")
    return nn.Sequential(modules).eval()
