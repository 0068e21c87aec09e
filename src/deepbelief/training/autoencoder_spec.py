"""The layer spec of an autoencoder layer: how :func:`~deepbelief.training.greedy.pretrain_stack`
builds and trains one (plain or denoising), beside or instead of RBMs.

:class:`AutoencoderConfig` satisfies :class:`~deepbelief.training.greedy.LayerSpec`, so a
stack may mix RBMs and autoencoder layers freely: each layer trains greedily on the codes
of the layer below through the same loop (Bengio et al., 2007; Vincent et al., 2010).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

import torch

from deepbelief.core.autoencoder import AutoencoderLayer
from deepbelief.learning.autoencoding import AutoencoderObjective, check_corruption
from deepbelief.training.greedy import LayerSpec, data_layout, data_mean

__all__ = [
    "AUTO_RATES",
    "LAYER_TYPES",
    "AutoencoderConfig",
    "auto_autoencoder_rate",
    "with_layer_types",
]

#: The ``'auto'`` learning rate of an autoencoder layer per optimizer (its loss is summed
#: over features): measured over 10 epochs, batch 32, with sigmoid and rectified codes, on
#: the digits (64-256-256) and 10 000 MNIST images (784-500-500). SGD with the classic
#: momentum: 0.05 diverged with rectified codes on the digits and nearly so on MNIST; 0.01
#: gave the lowest reconstruction error of rectified layers and of the second sigmoid layer
#: on MNIST. Adam: 0.001, its usual default, never diverged and was best or near the best
#: on the second layers. Figures: BENCHMARKS.md, "Autoencoder layers in the DBN".
AUTO_RATES = {"sgd": 0.01, "adam": 0.001}


def auto_autoencoder_rate(optimizer: str | Callable) -> float:
    """The ``'auto'`` learning rate of an autoencoder layer trained with ``optimizer``.

    Raises
    ------
    ValueError
        For a callable optimizer (give the rate), or an unknown name.

    Examples
    --------
    >>> auto_autoencoder_rate("sgd"), auto_autoencoder_rate("adam")
    (0.01, 0.001)
    """
    if callable(optimizer) or optimizer not in AUTO_RATES:
        raise ValueError(f"learning_rate='auto' is defined for the optimizers "
                         f"{sorted(AUTO_RATES)}, not {optimizer!r}: give a number.")
    return AUTO_RATES[optimizer]


@dataclass(frozen=True)
class AutoencoderConfig:
    """Settings for training one autoencoder layer; its :class:`LayerSpec`.

    Parameters
    ----------
    n_hidden : int
        Code size.
    visible_units, hidden_units : {'bernoulli', 'gaussian', 'relu'}, default 'bernoulli'
        Unit types of the input (in a stack: the output type of the layer below) and of the
        code. Bernoulli inputs are reconstructed with the cross-entropy, others with the
        squared error (:meth:`~deepbelief.core.autoencoder.AutoencoderLayer.reconstruction_loss`).
    tied : bool, default True
        Decode with the encoder's weights transposed.
    corruption : {'masking', 'gaussian'} or None, default None
        None: a plain autoencoder; otherwise a denoising one
        (:func:`deepbelief.learning.autoencoding.corrupt`).
    corruption_level : float, default 0.0
        Masking probability, or the Gaussian noise's standard deviation.
    epochs, batch_size, momentum, weight_decay, learning_rate_schedule, optimizer :
        As for :class:`~deepbelief.training.greedy.RBMConfig` (``optimizer`` 'sgd',
        'adam' or a callable).
    learning_rate : float or 'auto', default 'auto'
        'auto' is :data:`AUTO_RATES` of the optimizer, resolved on construction.

    Raises
    ------
    ValueError
        For an invalid corruption, or ``'auto'`` with a callable optimizer.

    Examples
    --------
    >>> from deepbelief.training.greedy import RBMConfig, pretrain_stack
    >>> data = (torch.rand(64, 8, generator=torch.Generator().manual_seed(0)) < 0.5).float()
    >>> configs = [AutoencoderConfig(6, corruption="masking", corruption_level=0.25,
    ...                              epochs=2), RBMConfig(3, epochs=1)]
    >>> layers, histories = pretrain_stack(data, configs, torch.Generator().manual_seed(0))
    >>> [layer.kind for layer in layers], configs[0].label, configs[0].learning_rate
    (['autoencoder', 'rbm'], 'DAE', 0.01)
    """

    n_hidden: int
    visible_units: Any = "bernoulli"
    hidden_units: Any = "bernoulli"
    tied: bool = True
    corruption: str | None = None
    corruption_level: float = 0.0
    epochs: int = 10
    learning_rate: float | str = "auto"
    batch_size: int = 32
    momentum: float | str = "classic"
    weight_decay: float = 2e-4
    learning_rate_schedule: str = "constant"
    optimizer: str | Callable = "sgd"

    def __post_init__(self) -> None:
        check_corruption(self.corruption, self.corruption_level)
        if isinstance(self.learning_rate, str) and self.learning_rate == "auto":
            object.__setattr__(self, "learning_rate", auto_autoencoder_rate(self.optimizer))

    @property
    def label(self) -> str:
        """'DAE' for a denoising layer, else 'AE'."""
        return "DAE" if self.corruption is not None and self.corruption_level > 0 else "AE"

    @classmethod
    def like(cls, spec: LayerSpec, **settings) -> AutoencoderConfig:
        """An autoencoder layer with the training settings of another layer's spec (e.g.
        an :class:`~deepbelief.training.greedy.RBMConfig`): its size, unit types, epochs,
        batch size, learning rate, momentum, weight decay, schedule and optimizer, then
        ``settings`` (``tied``, ``corruption``, ...).

        >>> from deepbelief.training.greedy import RBMConfig
        >>> AutoencoderConfig.like(RBMConfig(5, epochs=3), corruption="gaussian",
        ...                        corruption_level=0.1).epochs
        3
        """
        shared = {f.name: getattr(spec, f.name) for f in fields(cls) if hasattr(spec, f.name)}
        return cls(**{**shared, **settings})

    def stacked_on(self, below: LayerSpec) -> AutoencoderConfig:
        """This config with the visible units of the layer below's output type."""
        return replace(self, visible_units=below.hidden_units)

    def new_layer(self, data, generator: torch.Generator | None) -> AutoencoderLayer:
        """An initialised layer for ``data`` (a tensor or a sparse source), on its device
        and dtype (:meth:`AutoencoderLayer.reset_parameters`)."""
        n_visible, device, dtype = data_layout(data)
        layer = self.empty_layer(n_visible, device, dtype)
        layer.reset_parameters(generator, data_mean=data_mean(data))
        return layer

    def empty_layer(self, n_visible: int, device: torch.device,
                    dtype: torch.dtype) -> AutoencoderLayer:
        return AutoencoderLayer(n_visible, self.n_hidden, self.visible_units,
                                self.hidden_units, tied=self.tied, device=device, dtype=dtype)

    def objective(self, layer: AutoencoderLayer) -> AutoencoderObjective:
        return AutoencoderObjective(layer, self.corruption, self.corruption_level)


#: The estimators' ``layer_type`` values: an RBM, a plain or a denoising autoencoder layer.
LAYER_TYPES = ("rbm", "autoencoder", "denoising")


def with_layer_types(configs: Sequence[LayerSpec], layer_types: Sequence[str], *,
                     auto_rate: Sequence[bool], corruption: str, corruption_level: float,
                     tied: bool) -> list[LayerSpec]:
    """``configs`` (one RBM spec per layer) with the layers whose ``layer_type`` is
    'autoencoder' or 'denoising' turned into :class:`AutoencoderConfig` of the same
    settings (:meth:`AutoencoderConfig.like`), tied or not; denoising ones corrupt with
    ``corruption`` at ``corruption_level``. Where ``auto_rate``, their learning rate is
    the autoencoder's 'auto' (:func:`auto_autoencoder_rate`), not the RBM's.

    Raises
    ------
    ValueError
        For a ``layer_type`` not in :data:`LAYER_TYPES`, or an invalid corruption on a
        denoising layer.

    Examples
    --------
    >>> from deepbelief.training.greedy import RBMConfig
    >>> specs = with_layer_types([RBMConfig(8), RBMConfig(4)], ["denoising", "rbm"],
    ...                          auto_rate=[True, True], corruption="masking",
    ...                          corruption_level=0.25, tied=True)
    >>> [spec.label for spec in specs], specs[0].learning_rate
    (['DAE', 'RBM'], 0.01)
    """
    specs: list[LayerSpec] = []
    for config, kind, auto in zip(configs, layer_types, auto_rate, strict=True):
        if kind not in LAYER_TYPES:
            raise ValueError(f"layer_type must hold {', '.join(map(repr, LAYER_TYPES))} (one "
                             f"per hidden layer), got {kind!r}.")
        if kind == "rbm":
            specs.append(config)
            continue
        settings: dict[str, Any] = {"tied": tied}
        if auto:
            settings["learning_rate"] = "auto"
        if kind == "denoising":
            settings.update(corruption=corruption, corruption_level=corruption_level)
        specs.append(AutoencoderConfig.like(config, **settings))
    return specs
