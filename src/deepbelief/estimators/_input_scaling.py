"""The input side of every estimator with a ``visible_units`` parameter: which visible
units ``'auto'`` picks, and the standardisation of real-valued data inside the estimator.

``visible_units='auto'`` (the default) gives Bernoulli units when every value of the
training data lies in [0, 1] (up to float rounding, which is clipped as for explicit
``'bernoulli'``), else Gaussian units on the data standardised per feature with the mean
and standard deviation of the training data (:class:`InputScaling`). The network then
sees ``(X - input_mean_) / input_scale_`` in every method, and what it returns in the
input's space (reconstructions, samples, completions) is mapped back to the data's units.
:func:`check_input` is the one place where an estimator validates its input and finds
its scaling: fitted on the training data (``first``) or read from the fitted attributes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from deepbelief.core.units import DOMAIN_TOLERANCE, unit_type
from deepbelief.estimators._input import NO_Y, as_tensor, check_X, sparse_matrix
from deepbelief.estimators._large_checks import _RowCheck
from deepbelief.estimators._large_input import LargeInput

__all__ = ["InputScaling", "check_input", "in_unit_interval", "resolved_units"]

def in_unit_interval(X) -> bool:
    """Whether every value of ``X`` (dense, a sparse matrix's stored values, or a
    :class:`~deepbelief.estimators._large_input.LargeInput`'s extremes) lies in [0, 1], up
    to float rounding (:data:`~deepbelief.core.units.DOMAIN_TOLERANCE`, which the Bernoulli
    units clip).

    Examples
    --------
    >>> in_unit_interval(np.array([[0.0, 1.00001]])), in_unit_interval(np.array([[-0.5]]))
    (True, False)
    """
    values = X.data if sparse_matrix(X) else X
    if values.size == 0:
        return True
    sample = torch.from_numpy(np.array([values.min(), values.max()], dtype=np.float64))
    return unit_type("bernoulli").check_domain(sample, tolerance=DOMAIN_TOLERANCE) is None


def _clipped_to_unit_interval(X):
    """Validated data that :func:`in_unit_interval` accepted, its rounding outside [0, 1]
    clipped as explicit Bernoulli units clip it (``X`` itself when nothing lies outside;
    a stream's batches are checked and clipped as they are read)."""
    if isinstance(X, LargeInput):
        if X.stream:
            return replace(X, bounds=(0.0, 1.0),
                           check=_RowCheck(unit_type("bernoulli"), X.dtype, stream=True))
        return X if X.min() >= 0 and X.max() <= 1 else replace(X, bounds=(0.0, 1.0))
    values = X.data if sparse_matrix(X) else X
    if not values.size or (values.min() >= 0 and values.max() <= 1):
        return X
    if sparse_matrix(X):
        X = X.copy()
        X.data = np.clip(X.data, 0.0, 1.0)
        return X
    return np.clip(X, 0.0, 1.0)


@dataclass
class InputScaling:
    """The visible units of an estimator, and the standardisation of its input.

    Attributes
    ----------
    visible_units : str or tuple
        The unit type of the input layer ('auto' resolved: 'bernoulli' or 'gaussian').
    mean, scale : ndarray of shape (n_features,) or None
        With ``visible_units='auto'`` on data outside [0, 1]: the network sees
        ``(X - mean) / scale`` (``scale`` is the standard deviation, 1 for a constant
        feature), and its outputs in the input's space are mapped back.

    Examples
    --------
    >>> X = np.array([[0.0, 10.0], [2.0, 30.0]])
    >>> scaling = InputScaling.fit(X, "auto")
    >>> scaling.visible_units, scaling.apply(X).tolist()
    ('gaussian', [[-1.0, -1.0], [1.0, 1.0]])
    >>> scaling.invert(scaling.apply(X)).tolist()
    [[0.0, 10.0], [2.0, 30.0]]
    >>> InputScaling.fit(X / 30, "auto").visible_units
    'bernoulli'
    """

    visible_units: str | tuple
    mean: np.ndarray | None = None
    scale: np.ndarray | None = None

    @classmethod
    def fit(cls, X, visible_units: str | tuple) -> InputScaling:
        """The scaling of the validated training data ``X`` for the parameter
        ``visible_units``: 'auto' is Bernoulli units when every value lies in [0, 1], else
        Gaussian units on standardised data; any other value is kept as it is.

        Raises
        ------
        ValueError
            For 'auto' and a sparse ``X`` with values outside [0, 1] (centring it would
            make it dense).
        """
        if not (isinstance(visible_units, str) and visible_units == "auto"):
            return cls(visible_units)
        if in_unit_interval(X):
            return cls("bernoulli")
        if sparse_matrix(X):
            raise ValueError(
                "visible_units='auto' standardises data that lies outside [0, 1], which "
                "would make this sparse matrix dense. Scale it into [0, 1] first (e.g. "
                "sklearn.preprocessing.MaxAbsScaler for non-negative data; for word counts, "
                "CountVectorizer(binary=True)), or pass a dense array.")
        if type(X) is np.ndarray:  # in memory: the float32 values the model computes with
            X = X.astype(np.float32, copy=False)
        mean = X.mean(0, dtype=np.float64)
        std = X.std(0, dtype=np.float64)
        return cls("gaussian", mean, np.where(std > 0, std, 1.0))

    @classmethod
    def of(cls, estimator) -> InputScaling:
        """The scaling of a fitted ``estimator`` (its ``visible_units_``, ``input_mean_``
        and ``input_scale_``; the parameter for a model fitted before they were kept)."""
        units = getattr(estimator, "visible_units_", None)
        if units is None:
            return cls(estimator.visible_units)
        return cls(units, getattr(estimator, "input_mean_", None),
                   getattr(estimator, "input_scale_", None))

    @property
    def standardises(self) -> bool:
        return self.mean is not None

    @property
    def checked_units(self) -> str | tuple | None:
        """The unit type whose range a forward pass's input is checked against (None for
        standardised input: Gaussian units take any value)."""
        return None if self.standardises else self.visible_units

    def apply(self, X):
        """What the network sees: ``X`` itself, or standardised as float32 (a sparse
        ``X`` densified; a :class:`LargeInput` standardised one batch at a time)."""
        if not self.standardises:
            return X
        if isinstance(X, LargeInput):  # standardised one batch at a time, as it is read
            return X.with_transform(self._standardised)
        if sparse_matrix(X):
            X = X.toarray()
        return self._standardised(X)

    def _standardised(self, X: np.ndarray) -> np.ndarray:
        # from the float32 values, as the statistics (fit): a float64 array and a list of
        # the same numbers (validated to float32) give the same network input
        return ((np.asarray(X, dtype=np.float32) - self.mean) / self.scale).astype(np.float32)

    def invert(self, out: np.ndarray) -> np.ndarray:
        """The network's values in the input's space (reconstructions, samples) in the
        data's units, keeping their dtype (bool samples of Bernoulli units included)."""
        if not self.standardises:
            return out
        return (out * self.scale + self.mean).astype(out.dtype, copy=False)

    def restore(self, out: np.ndarray, X, mask) -> np.ndarray:
        """``out`` (network values) in the data's units with the entries where ``mask``
        is True set exactly to those of the validated ``X`` (a completion's known
        entries, which the round trip through the standardisation would perturb)."""
        if not self.standardises:
            return out
        out = self.invert(out)
        known = np.broadcast_to(np.asarray(mask, dtype=bool), out.shape)
        dense = X.toarray() if sparse_matrix(X) else np.asarray(X)
        out[known] = dense[known]
        return out

    @property
    def log_jacobian(self) -> float:
        """``log |d(standardised) / d(data)|`` of one row: ``-sum(log scale)`` (0 without
        standardisation). A log-density of the standardised row plus this is the
        log-density of the row in the data's units."""
        return 0.0 if not self.standardises else -float(np.log(self.scale).sum())

    def scale_tensor(self, device: torch.device) -> torch.Tensor | None:
        """``scale`` as a float32 tensor on ``device`` (None without standardisation)."""
        return None if not self.standardises else as_tensor(self.scale[None], device)[0]

    def set_attributes(self, estimator) -> None:
        """``visible_units_``, ``input_mean_`` and ``input_scale_``."""
        estimator.visible_units_ = self.visible_units
        estimator.input_mean_, estimator.input_scale_ = self.mean, self.scale

    def state(self) -> dict:
        """As JSON data, for model files."""
        def plain(a):
            return None if a is None else a.tolist()
        units = self.visible_units
        return {"visible_units_": list(units) if isinstance(units, tuple) else units,
                "input_mean": plain(self.mean), "input_scale": plain(self.scale)}

    @classmethod
    def from_state(cls, state: dict, default: str | tuple) -> InputScaling:
        """The inverse of :meth:`state`; ``default`` (the parameter ``visible_units``) for a
        file written before the scaling was kept."""
        def array(a):
            return None if a is None else np.asarray(a, dtype=np.float64)
        units = state.get("visible_units_", default)
        return cls(tuple(units) if isinstance(units, list) else units,
                   array(state.get("input_mean")), array(state.get("input_scale")))


def resolved_units(estimator) -> str | tuple:
    """The input units of ``estimator``: ``visible_units_`` once fitted, else the
    parameter, 'auto' read as the 'bernoulli' it picks on data in [0, 1] (for checks of the
    other parameters before any data is seen)."""
    units = getattr(estimator, "visible_units_", None) or estimator.visible_units
    return "bernoulli" if isinstance(units, str) and units == "auto" else units


def check_input(estimator, X, *, first: bool, usage: str = "fit", y=NO_Y, **kwargs):
    """Validate ``X`` (and ``y``) for ``estimator`` and find its input scaling.

    ``first``: a new model (``fit``, the first ``partial_fit``): ``n_features_in_`` is set
    and the scaling fitted on ``X`` for the parameter ``visible_units`` (with 'auto', ``X``
    is validated without a range check, then clipped where float rounding puts it outside
    [0, 1] when Bernoulli units are picked: as explicit Bernoulli units clip it). Else
    ``X`` is checked against the fitted model and its scaling (:meth:`InputScaling.of`):
    against the visible units' range as ``usage`` says, unless the model standardises.

    Returns
    -------
    checked : what :func:`~deepbelief.estimators._input.check_X` returns
        ``X``, or ``(X, y)`` when ``y`` is given; ``X`` in the data's units (the network's
        input is ``scaling.apply(X)``).
    scaling : InputScaling

    Raises
    ------
    ValueError
        What :func:`~deepbelief.estimators._input.check_X` raises, and for 'auto' a sparse
        ``X`` outside [0, 1] (:meth:`InputScaling.fit`).
    """
    if not first:
        scaling = InputScaling.of(estimator)
        return check_X(estimator, X, reset=False, units=scaling.checked_units, usage=usage,
                       y=y, **kwargs), scaling
    param = estimator.visible_units
    auto = isinstance(param, str) and param == "auto"
    checked = check_X(estimator, X, reset=True, units=None if auto else param, y=y,
                      usage=usage, **kwargs)
    X = checked if y is NO_Y else checked[0]
    scaling = InputScaling.fit(X, param)
    if auto and not scaling.standardises:
        X = _clipped_to_unit_interval(X)
        checked = X if y is NO_Y else (X, checked[1])
    return checked, scaling
