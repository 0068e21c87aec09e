"""What a layer of a greedy stack must offer, and how layers are saved and rebuilt.

A *layer* maps ``n_visible`` inputs to ``n_hidden`` outputs. To be stacked, passed through
(:mod:`deepbelief.core.stack`), unrolled into a feed-forward network
(:class:`deepbelief.core.network.FeedForwardDBN`) and saved, it offers the
:class:`Layer` protocol. :class:`~deepbelief.core.rbm.RBMModule` is one; autoencoder
layers or conditional RBMs are others, and adding one touches no training code: register
a builder with :func:`register_layer` and give :func:`deepbelief.training.greedy.pretrain_stack`
a layer spec that builds and trains it.

Saving is ``(config, tensors)``: a JSON-able config (the layer's :meth:`Layer.layer_config`,
naming its ``kind``) and its ``state_dict``. :func:`build_layer` rebuilds a layer from
them; :func:`layers_state` and :func:`read_layers` do so for a whole stack, and
:func:`read_layers` also reads the stacks of RBMs written before layers had kinds
(config ``rbm_units``, tensors ``rbm.{i}.weight`` and so on).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol, runtime_checkable

import torch

from deepbelief.core.rbm import RBMModule

__all__ = [
    "Layer",
    "build_layer",
    "layers_state",
    "read_layers",
    "register_layer",
]


@runtime_checkable
class Layer(Protocol):
    """A layer of a greedy stack, bottom-up from ``n_visible`` inputs to ``n_hidden``.

    Attributes
    ----------
    kind : str
        The name its builder is registered under (:func:`register_layer`).
    n_visible, n_hidden : int
    activation : str
        The activation of its outputs when unrolled: 'sigmoid', 'relu' or 'identity'.
    """

    kind: str

    @property
    def n_visible(self) -> int: ...

    @property
    def n_hidden(self) -> int: ...

    @property
    def activation(self) -> str: ...

    def hidden_mean(self, v: torch.Tensor) -> torch.Tensor:
        """The up pass: (batch, n_visible) to (batch, n_hidden)."""

    def visible_mean(self, h: torch.Tensor) -> torch.Tensor:
        """The down pass's means: (batch, n_hidden) to (batch, n_visible)."""

    def sample_visible(self, h: torch.Tensor, generator: torch.Generator | None = None):
        """``(mean, sample)`` of the down pass, each (batch, n_visible)."""

    def unrolled(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The weight (n_hidden, n_visible) and bias (n_hidden,) of the ``nn.Linear`` that,
        followed by ``activation``, computes ``hidden_mean``."""

    def layer_config(self) -> dict:
        """A JSON-able config holding ``"kind"`` and what the builder needs."""

    def state_dict(self) -> Mapping[str, torch.Tensor]: ...


#: A builder: ``(config, tensors, device) -> layer`` with the tensors of its state_dict.
Builder = Callable[[dict, Mapping[str, torch.Tensor], "torch.device | str | None"], Layer]

_BUILDERS: dict[str, Builder] = {}


def register_layer(kind: str, builder: Builder) -> None:
    """Let :func:`build_layer` rebuild layers whose config names ``kind``.

    Registering a kind again replaces its builder.
    """
    _BUILDERS[kind] = builder


def build_layer(config: Mapping, tensors: Mapping[str, torch.Tensor],
                device: torch.device | str | None = None) -> Layer:
    """Rebuild a layer from its :meth:`Layer.layer_config` and ``state_dict`` on ``device``.

    Raises
    ------
    ValueError
        If no builder is registered for ``config["kind"]``.

    Examples
    --------
    >>> rbm = RBMModule(4, 3, "gaussian")
    >>> copy = build_layer(rbm.layer_config(), rbm.state_dict())
    >>> copy.visible, copy.n_hidden
    (Gaussian(), 3)
    """
    kind = config.get("kind")
    if kind not in _BUILDERS:
        raise ValueError(f"unknown layer kind {kind!r}; registered: {sorted(_BUILDERS)}.")
    return _BUILDERS[kind](dict(config), tensors, device)


def _build_rbm(config: dict, tensors: Mapping[str, torch.Tensor], device) -> RBMModule:
    rbm = RBMModule(config["n_visible"], config["n_hidden"], config["visible"],
                    config["hidden"], n_context=config.get("n_context", 0), device=device)
    rbm.load_state_dict(dict(tensors))
    return rbm


register_layer(RBMModule.kind, _build_rbm)


def _prefixed(tensors: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}


def layers_state(layers: Sequence[Layer], prefix: str = "layer") -> tuple[list[dict], dict]:
    """The configs (one per layer, bottom first) and the tensors of a stack, the tensors
    named ``f"{prefix}.{i}.{name}"``; :func:`read_layers` reads them back from a config
    holding the configs under ``"layers"``."""
    configs = [layer.layer_config() for layer in layers]
    tensors = {f"{prefix}.{i}.{k}": v for i, layer in enumerate(layers)
               for k, v in layer.state_dict().items()}
    return configs, tensors


def read_layers(config: Mapping, tensors: Mapping[str, torch.Tensor],
                device: torch.device | str | None = None, *, prefix: str = "layer",
                legacy_prefix: str = "rbm", count: int | None = None) -> list[Layer]:
    """Rebuild a stack saved by :func:`layers_state` (``config["layers"]``, tensors under
    ``prefix``) or, from model files written before layers had kinds, a stack of RBMs
    (``config["rbm_units"] = [[visible, hidden], ...]``, tensors under ``legacy_prefix``).

    ``count`` rebuilds only the lowest ``count`` layers (e.g. a generative DBN's
    recognition copies, saved under their own prefix for all layers but the top).

    Raises
    ------
    ValueError
        If ``config`` holds neither ``"layers"`` nor ``"rbm_units"``.

    Examples
    --------
    >>> rbms = [RBMModule(5, 4), RBMModule(4, 2, hidden="relu")]
    >>> old_config = {"rbm_units": [["bernoulli", "bernoulli"], ["bernoulli", "relu"]]}
    >>> old_tensors = {f"rbm.{i}.{k}": v for i, r in enumerate(rbms)
    ...                for k, v in r.state_dict().items()}
    >>> [layer.hidden for layer in read_layers(old_config, old_tensors)]
    [Bernoulli(), ReLU()]
    >>> configs, tensors = layers_state(rbms)
    >>> [layer.n_hidden for layer in read_layers({"layers": configs}, tensors)]
    [4, 2]
    """
    if "layers" in config:
        configs, base = list(config["layers"])[:count], prefix
    elif "rbm_units" in config:
        base = legacy_prefix
        configs = []
        for i, (visible, hidden) in enumerate(list(config["rbm_units"])[:count]):
            n_visible, n_hidden = tensors[f"{base}.{i}.weight"].shape
            configs.append({"kind": RBMModule.kind, "n_visible": n_visible,
                            "n_hidden": n_hidden, "visible": visible, "hidden": hidden})
    else:
        raise ValueError("the model config holds no layers ('layers' or 'rbm_units').")
    return [build_layer(c, _prefixed(tensors, f"{base}.{i}."), device)
            for i, c in enumerate(configs)]
