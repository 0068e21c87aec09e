"""The rows of :class:`~deepbelief.estimators.DBNAutoencoder`'s training data, as its
fine-tuning loop takes them (its input scaling is
:mod:`deepbelief.estimators._input_scaling`'s, shared by every estimator)."""

from __future__ import annotations

import torch

from deepbelief.estimators._input import as_tensor
from deepbelief.estimators._large_input import subset
from deepbelief.training.lazy_stack import host_source
from deepbelief.training.sources import SparseSource

__all__ = ["rows"]


def rows(data, index: torch.Tensor | None = None, *, dense: bool = False):
    """The rows ``index`` (None: all) of the training data (a tensor, or a
    :class:`~deepbelief.training.sources.SparseSource`) as ``fit_epochs`` takes them:
    ``(x,)``, or a ``SparseSource`` of those rows (``dense``: a tensor, e.g. a validation
    set)."""
    if host_source(data):  # a file: a source of those rows (_large_input.py)
        return data if index is None else subset(data, index, dense=dense)
    if not isinstance(data, SparseSource):
        return (data,) if index is None else (data[index],)
    matrix = data.arrays[0] if index is None else data.arrays[0][index.cpu().numpy()]
    if dense:
        return (as_tensor(matrix, data.device),)
    return data if index is None else SparseSource(matrix, device=data.device)
