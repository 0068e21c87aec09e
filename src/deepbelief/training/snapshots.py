"""What the module of a training phase looks like after an epoch, as tensors for loggers
(:class:`~deepbelief.training.tensorboard.TensorBoard`): its parameters, the hidden
activations of some training rows, the first layer's filters, and samples (RBMs, generative
DBNs) or reconstructions (autoencoders) drawn from those rows.

Every function reads the module as the loop hands it over (``context.module``,
``context.objective``): a layer being pretrained (:class:`~deepbelief.core.layers.Layer`),
the unrolled network of fine-tuning (:class:`~deepbelief.core.network.FeedForwardDBN`,
:class:`~deepbelief.core.deep_autoencoder.DeepAutoencoder`), or the layers of up-down
fine-tuning (an objective with a ``stack``). None of them changes the module, its training
mode, or draws from the training run's random stream: samples use their own generator.

Examples
--------
>>> import torch
>>> from deepbelief.core.rbm import RBMModule
>>> rbm = RBMModule(16, 3)
>>> rbm.reset_parameters(torch.Generator().manual_seed(0))
>>> x = torch.rand(5, 16, generator=torch.Generator().manual_seed(1))
>>> {name: tuple(a.shape) for name, a in hidden_activations(rbm, (x,)).items()}
{'hidden': (5, 3)}
>>> tuple(first_layer_filters(rbm).shape), tuple(as_images(first_layer_filters(rbm)).shape)
((3, 16), (3, 1, 4, 4))
>>> kind, v = generated(rbm, (x,), steps=2, seed=0)
>>> kind, tuple(v.shape)
('samples', (5, 16))
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from deepbelief.core.deep_autoencoder import Affine
from deepbelief.core.network import Dropout
from deepbelief.training.sources import as_source

__all__ = ["as_images", "first_layer_filters", "generated", "hidden_activations",
           "image_shape_of", "parameters", "training_rows"]


def training_rows(data, n: int) -> tuple[torch.Tensor, ...]:
    """The first ``n`` rows of a phase's data (``context.data``: tensors or a batch source),
    as a tuple of dense tensors: ``(x,)``, ``(x, y)`` or ``(visible, context)``."""
    return tuple(as_source(data).head(n))


def _context_of(module, rows: Sequence[torch.Tensor]) -> dict:
    """``{'context': c}`` for a conditional RBM (its data: ``(visible, context)``), else {}."""
    return {"context": rows[1]} if getattr(module, "n_context", 0) and len(rows) > 1 else {}


def _is_layer(module) -> bool:
    return hasattr(module, "hidden_mean") and hasattr(module, "unrolled")


def _stack(objective):
    """The generative stack of up-down fine-tuning, or None for other objectives."""
    stack = getattr(objective, "stack", None)
    return stack if hasattr(stack, "recognition") else None


def parameters(module: nn.Module, objective=None) -> dict[str, torch.Tensor]:
    """The module's parameters by name, detached: a layer's ``'weight'``, ``'hidden_bias'``,
    ...; a network's ``'body.0.weight'``, ...; up-down's ``'recognition1.weight'``,
    ``'generative1.weight'``, ..., ``'top.weight'`` (``objective.stack``'s layers)."""
    stack = _stack(objective)
    if stack is None:
        return {name: p.detach() for name, p in module.named_parameters()}
    parts = [*((f"recognition{i + 1}", m) for i, m in enumerate(stack.recognition)),
             *((f"generative{i + 1}", m) for i, m in enumerate(stack.lower)), ("top", stack.top)]
    return {f"{part}.{name}": p.detach() for part, m in parts for name, p in m.named_parameters()}


@torch.no_grad()
def _forward_activations(module: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """The outputs of every activation of a network (its leaf modules without parameters,
    dropout excepted) on ``x``, by module name, in evaluation mode (no dropout drawn); the
    modules' training flags are put back as they were."""
    outputs: dict[str, torch.Tensor] = {}
    handles = []
    for name, child in module.named_modules():
        leaf = name and next(child.children(), None) is None
        if (not leaf or next(child.parameters(recurse=False), None) is not None
                or isinstance(child, (Dropout, nn.modules.dropout._DropoutNd))):
            continue
        handles.append(child.register_forward_hook(
            lambda _m, _inputs, out, name=name: outputs.__setitem__(name, out.detach())))
    modes = [(m, m.training) for m in module.modules()]
    try:
        module.eval()
        module(x)
    finally:
        for handle in handles:
            handle.remove()
        for m, mode in modes:
            m.training = mode
    return outputs


@torch.no_grad()
def hidden_activations(module: nn.Module, rows: Sequence[torch.Tensor],
                       objective=None) -> dict[str, torch.Tensor]:
    """Hidden activations of ``rows`` (from :func:`training_rows`) by name.

    A layer being pretrained: ``{'hidden': E[h | v]}`` of shape (n, n_hidden). Up-down
    fine-tuning (``objective.stack``): the recognition layers' means, ``'layer1'``,
    ``'layer2'``, ... A network with a ``forward`` (fine-tuning): the output of each of its
    activation modules, by module name (``'body.1'``, ``'encoder.1'``, ...). Anything
    else: {}.
    """
    x = rows[0]
    stack = _stack(objective)
    if stack is not None:
        out = {}
        for i, layer in enumerate(stack.recognition):
            x = layer.hidden_mean(x)
            out[f"layer{i + 1}"] = x
        return out
    if _is_layer(module):
        return {"hidden": module.hidden_mean(x, **_context_of(module, rows))}
    if isinstance(module, nn.Module) and type(module).forward is not nn.Module.forward:
        return _forward_activations(module, x)
    return {}


def first_layer_filters(module: nn.Module) -> torch.Tensor | None:
    """The weights of the module's bottom layer, one row per unit: (n_units, n_inputs).

    A layer: its ``unrolled()`` weight; a network: its first ``nn.Linear`` or
    :class:`~deepbelief.core.deep_autoencoder.Affine` (in registration order, the encoder's
    and the body's come first); up-down: the bottom recognition layer. None if it has none.
    """
    for child in module.modules():
        if _is_layer(child):
            return child.unrolled()[0].detach()
        if isinstance(child, nn.Linear):
            return child.weight.detach()
        if isinstance(child, Affine):
            return child.weight.detach().t()
    return None


@torch.no_grad()
def generated(module: nn.Module, rows: Sequence[torch.Tensor], objective=None, *,
              steps: int = 10, seed: int = 0) -> tuple[str, torch.Tensor] | None:
    """Samples or reconstructions of ``rows``, in the input space: ``(kind, (n, n_inputs))``.

    * An RBM: ``'samples'``, the visible means after ``steps`` steps of Gibbs sampling
      started at the rows (given their context, for a conditional RBM).
    * Up-down fine-tuning: ``'samples'``, the rows passed up the recognition layers,
      ``steps`` Gibbs steps in the top RBM, then down the generative layers.
    * Another layer (an autoencoder layer): ``'reconstructions'``, the down pass of its up pass.
    * A deep autoencoder (it has ``encode`` and ``decode``): ``'reconstructions'``.
    * Anything else (a classifier's network): None.

    The draws come from a generator seeded with ``seed``, never from the training run's.
    """
    x = rows[0]

    def generator() -> torch.Generator:
        return torch.Generator(device=x.device).manual_seed(seed)

    stack = _stack(objective)
    if stack is not None:
        h_mean, _, _ = stack.gibbs_top(stack.up_pass(x), n_steps=steps, generator=generator())
        return "samples", stack.down_pass(h_mean)
    if _is_layer(module) and hasattr(module, "sample_hidden"):
        draw, context = generator(), _context_of(module, rows)
        v = mean = x
        for _ in range(steps):
            _, h = module.sample_hidden(v, draw, **context)
            mean, v = module.sample_visible(h, draw, **context)
        return "samples", mean
    if _is_layer(module):
        return "reconstructions", module.visible_mean(module.hidden_mean(x))
    if hasattr(module, "encode") and hasattr(module, "decode"):
        return "reconstructions", module.decode(module.encode(x))
    return None


def image_shape_of(n_inputs: int, shape: Sequence[int] | None) -> tuple[int, int] | None:
    """The (height, width) of inputs of width ``n_inputs``: ``shape`` when it fits, else a
    square when ``n_inputs`` is one (64: 8 x 8, 784: 28 x 28), else None."""
    if shape is not None:
        return tuple(shape) if math.prod(shape) == n_inputs else None
    side = math.isqrt(n_inputs)
    return (side, side) if side > 1 and side * side == n_inputs else None


def as_images(rows: torch.Tensor, shape: Sequence[int] | None = None) -> torch.Tensor | None:
    """Rows of pixels as grey images (n, 1, height, width) in [0, 1], for ``add_images``.

    Rows within [0, 1] (probabilities) are kept as they are; others (weights, real-valued
    data) are scaled to [0, 1] one image at a time. ``shape``: (height, width), or None for
    square images; None is returned when the rows are not images of that shape.
    """
    hw = image_shape_of(rows.shape[1], shape)
    if hw is None:
        return None
    images = rows.detach().float().reshape(len(rows), 1, *hw)
    if images.numel() and (images.min() < 0 or images.max() > 1):
        low = images.amin(dim=(1, 2, 3), keepdim=True)
        span = images.amax(dim=(1, 2, 3), keepdim=True) - low
        images = (images - low) / span.clamp_min(torch.finfo(images.dtype).tiny)
    return images.cpu()
