"""The data of the commands on a :class:`~deepbelief.ConditionalRBM` (``predict``,
``evaluate``, ``transform``, ``plot``): its inputs, and the true outputs where the data holds
them.

A super-resolution model (``train --kind superres``) reads images at its low resolution
(inputs only) or at the high one, which the command downsamples as ``train`` did and keeps
as the truth. Every command reads them the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deepbelief.cli.errors import CommandError
from deepbelief.cli.io import Data, data_from_args

__all__ = ["ConditionalData", "conditional_data", "conditional_features"]


@dataclass
class ConditionalData:
    """A ConditionalRBM's inputs (``context``), their true outputs (``truth``: the
    high-resolution images a super-resolution model's inputs were made from; None when
    the data holds inputs only), the model's ``factor`` (None: not a super-resolution
    model) and the data read (its name and labels)."""

    context: np.ndarray
    truth: np.ndarray | None
    factor: int | None
    data: Data


def conditional_data(args, model, *, default_split: str = "test") -> ConditionalData:
    """The data of a command (``--data``, or what the model file records) for ``model``.

    Raises
    ------
    CommandError
        The data has neither the model's input size nor (a super-resolution model) that of
        the images it was trained to estimate.
    """
    from deepbelief.io.modelfile import describe

    record = (describe(args.model)["config"].get("metadata") or {}).get("superres") or {}
    factor = record.get("factor")
    data = data_from_args(args, default_split=default_split)
    width, n_inputs = data.X.shape[1], model.n_features_in_
    if width == n_inputs:  # inputs only: no truth
        return ConditionalData(data.X, None, factor, data)
    if factor and width == n_inputs * factor**2:
        from deepbelief.datasets import downsample

        return ConditionalData(downsample(data.X, factor).astype(np.float32), data.X, factor,
                               data)
    raise CommandError(f"{data.name} has {width} features per sample; the model takes "
                       f"{n_inputs}" + (f" (or images {factor}x as large, which it downsamples)"
                                        if factor else "") + ".")


def conditional_features(model, pairs: ConditionalData) -> np.ndarray:
    """The hidden means of each (output, input) pair: with the true outputs where the data
    holds them, else with the model's estimates (``ConditionalRBM.hidden_features``)."""
    return model.hidden_features(pairs.context, pairs.truth)
