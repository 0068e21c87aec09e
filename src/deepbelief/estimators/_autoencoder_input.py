"""The input side of :class:`~deepbelief.estimators.DBNAutoencoder`: which visible units,
the standardisation of real-valued data, and the rows of its training data."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from deepbelief.core.units import DOMAIN_TOLERANCE, unit_type
from deepbelief.estimators._input import as_tensor, sparse_matrix
from deepbelief.estimators._large_input import LargeInput, subset
from deepbelief.training.lazy_stack import host_source
from deepbelief.training.sources import SparseSource

__all__ = ["InputScaling", "rows"]


def _in_unit_interval(X) -> bool:
    """Whether every value of ``X`` (dense, or a sparse matrix's stored values) lies in
    [0, 1], up to float rounding (which the Bernoulli units' check clips)."""
    values = X.data if sparse_matrix(X) else X
    if values.size == 0:
        return True
    bernoulli = unit_type("bernoulli")
    sample = torch.from_numpy(np.array([values.min(), values.max()], dtype=np.float64))
    return bernoulli.check_domain(sample, tolerance=DOMAIN_TOLERANCE) is None


@dataclass
class InputScaling:
    """The visible units of a deep autoencoder, and the standardisation of its input.

    Attributes
    ----------
    visible_units : {'bernoulli', 'gaussian'}
    mean, scale : ndarray of shape (n_features,) or None
        With ``visible_units='auto'`` on data outside [0, 1]: the network sees
        ``(X - mean) / scale`` (``scale`` is the standard deviation, 1 for a constant
        feature), and its outputs are mapped back.
    """

    visible_units: str
    mean: np.ndarray | None = None
    scale: np.ndarray | None = None

    @classmethod
    def fit(cls, X, visible_units: str) -> InputScaling:
        """The scaling of the validated training data ``X`` for the parameter
        ``visible_units``: 'auto' is Bernoulli units when every value lies in [0, 1], else
        Gaussian units on standardised data.

        Raises
        ------
        ValueError
            For 'auto' and a sparse ``X`` with values outside [0, 1] (centring it would
            make it dense).
        """
        if visible_units != "auto":
            return cls(visible_units)
        if _in_unit_interval(X):
            return cls("bernoulli")
        if sparse_matrix(X):
            raise ValueError(
                "visible_units='auto' standardises data that lies outside [0, 1], which "
                "would make this sparse matrix dense. Scale it into [0, 1] first (e.g. "
                "sklearn.preprocessing.MaxAbsScaler for non-negative data), or pass a "
                "dense array.")
        mean = X.mean(0, dtype=np.float64)
        std = X.std(0, dtype=np.float64)
        return cls("gaussian", mean, np.where(std > 0, std, 1.0))

    @property
    def standardises(self) -> bool:
        return self.mean is not None

    @property
    def checked_units(self) -> str | None:
        """The unit type whose range a forward pass's input is checked against (None for
        standardised input: Gaussian units take any value)."""
        return None if self.standardises else self.visible_units

    def apply(self, X):
        """What the network sees: ``X`` itself, or standardised as float32 (a sparse
        ``X`` densified)."""
        if not self.standardises:
            return X
        if isinstance(X, LargeInput):  # standardised one batch at a time, as it is read
            return X.with_transform(self._standardised)
        if sparse_matrix(X):
            X = X.toarray()
        return self._standardised(X)

    def _standardised(self, X: np.ndarray) -> np.ndarray:
        return ((X - self.mean) / self.scale).astype(np.float32)

    def invert(self, out: np.ndarray) -> np.ndarray:
        """The network's outputs in the data's units, keeping their dtype."""
        if not self.standardises:
            return out
        return (out * self.scale + self.mean).astype(out.dtype, copy=False)

    def scale_tensor(self, device: torch.device) -> torch.Tensor | None:
        """``scale`` as a float32 tensor on ``device`` (None without standardisation)."""
        return None if not self.standardises else as_tensor(self.scale[None], device)[0]

    def set_attributes(self, estimator) -> None:
        """``visible_units_``, ``input_mean_`` and ``input_scale_``."""
        estimator.visible_units_ = self.visible_units
        estimator.input_mean_, estimator.input_scale_ = self.mean, self.scale

    @classmethod
    def from_attributes(cls, estimator) -> InputScaling:
        return cls(estimator.visible_units_, estimator.input_mean_, estimator.input_scale_)

    def state(self) -> dict:
        """As JSON data, for model files."""
        def plain(a):
            return None if a is None else a.tolist()
        return {"visible_units_": self.visible_units, "input_mean": plain(self.mean),
                "input_scale": plain(self.scale)}

    @classmethod
    def from_state(cls, state: dict) -> InputScaling:
        def array(a):
            return None if a is None else np.asarray(a, dtype=np.float64)
        return cls(state["visible_units_"], array(state["input_mean"]),
                   array(state["input_scale"]))


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
