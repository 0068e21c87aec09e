"""Potts (categorical) units: ``n_variables`` variables of ``q`` states each, every variable
a one-hot block of ``q`` indicator units.

A layer of ``n_variables * q`` units; block ``i`` holds columns ``i*q .. i*q + q - 1``, one
per state of variable ``i``. The energy of :mod:`deepbelief.core.units` with ``phi = 0`` on
one-hot blocks makes each variable, given the other layer, a softmax over its block::

    p(v_i = s | f) = exp(f_{i,s}) / sum_t exp(f_{i,t}),     A(f) = sum_i logsumexp_s f_{i,s}

This is the visible layer of the RBMs fitted to protein families and other categorical
sequences (Tubiana, Cocco & Monasson, eLife 2019); with ``q = 2`` it is a Bernoulli layer
written twice (``v_i = 1`` as the block ``[0, 1]``). :class:`~deepbelief.core.units.Softmax`
is the one-block case; :class:`Potts` does every block at once (a reshape, no loop), which a
:class:`~deepbelief.core.joined.Joined` layer of ``n_variables`` softmax blocks would do one
block at a time.

Data come as one-hot blocks: :func:`one_hot` turns a table of integer codes in ``[0, q)``
into them and :func:`codes` turns one-hot blocks (or per-state probabilities) back into codes;
``sklearn.preprocessing.OneHotEncoder(categories=[range(q)] * n_variables)`` encodes the
same columns in the same order.

References
----------
J. Tubiana, S. Cocco and R. Monasson, "Learning protein constitutive motifs from sequence
data", eLife 8:e39397, 2019.
"""

from __future__ import annotations

import numbers

import numpy as np
import torch

from deepbelief.core.sharding import uniform
from deepbelief.core.units import _CLIP, UnitType

__all__ = ["Potts", "codes", "one_hot"]

#: How far from 1 a block's sum may lie and still count as one-hot (float rounding).
_SUM_TOLERANCE = 1e-4


def _check_q(q) -> int:
    if isinstance(q, bool) or not isinstance(q, numbers.Integral) or q < 2:
        raise ValueError(f"Potts units need an integer number of states q >= 2, got {q!r}.")
    return int(q)


class Potts(UnitType):
    """Categorical units: ``n_units / q`` variables, each a one-hot block of ``q`` units.

    Parameters
    ----------
    q : int
        States per variable (>= 2). The layer's size must be a multiple of ``q``.

    Notes
    -----
    The spec (saved in model files, and accepted by
    :func:`~deepbelief.core.units.unit_type`) is ``["potts", q]``.

    Examples
    --------
    >>> unit = Potts(3)
    >>> field = torch.tensor([[0.0, 0.0, 0.0, 5.0, 0.0, 0.0]])  # two variables
    >>> unit.mean(field).round(decimals=3)
    tensor([[0.3330, 0.3330, 0.3330, 0.9870, 0.0070, 0.0070]])
    >>> unit.n_states(6), unit.spec
    (9, ['potts', 3])
    """

    name = "potts"
    #: No network activation: the up and down passes of a one-hot block are softmaxes per
    #: block, which :mod:`deepbelief.core.network` does not build.
    activation = "potts"
    bounds = (0.0, 1.0)
    plural = "Potts units"
    elementwise = False

    def __init__(self, q: int) -> None:
        self.q = _check_q(q)

    @property
    def rescale_advice(self) -> str:
        q = self.q
        return (f"Give each categorical variable as {q} one-hot columns (state s of a variable "
                f"is 1 in its column s): deepbelief.core.potts.one_hot(codes, {q}) encodes a "
                f"table of integer codes in [0, {q}), and so does sklearn.preprocessing."
                f"OneHotEncoder(categories=[range({q})] * n_variables).")

    def n_variables(self, n_units: int) -> int:
        """The number of variables (blocks) of a layer of ``n_units`` units.

        Raises
        ------
        ValueError
            If ``n_units`` is not a multiple of ``q``.
        """
        if n_units % self.q:
            raise ValueError(f"a layer of Potts units with q={self.q} has a multiple of "
                             f"{self.q} units (one block per variable), got {n_units}.")
        return n_units // self.q

    def _blocks(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` (..., n_variables * q) viewed as (..., n_variables, q)."""
        return x.unflatten(-1, (self.n_variables(x.shape[-1]), self.q))

    def mean(self, field: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self._blocks(field), dim=-1).flatten(-2)

    def sample(self, field: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        return self.mean_and_sample(field, generator)[1]

    def mean_and_sample(self, field, generator):
        probs = torch.softmax(self._blocks(field), dim=-1)  # (batch, n_variables, q)
        # Inverse CDF of one uniform per variable, drawn per row of the batch (so that each
        # process of a sharded batch draws its own rows; deepbelief.core.sharding).
        u = uniform((*probs.shape[:-1], 1), generator, probs.device, probs.dtype)
        index = (probs.cumsum(-1) < u).sum(-1, keepdim=True).clamp_max(self.q - 1)
        sample = torch.zeros_like(probs).scatter_(-1, index, 1.0)
        return probs.flatten(-2), sample.flatten(-2)

    def base_energy(self, x: torch.Tensor) -> torch.Tensor:
        return x.new_zeros(x.shape[:-1])

    def log_partition(self, field: torch.Tensor) -> torch.Tensor:
        return torch.logsumexp(self._blocks(field), dim=-1).sum(-1)

    def bias_for_mean(self, mean: torch.Tensor) -> torch.Tensor:
        """Per-variable log-frequencies ``log p_{i,s}`` (clipped at ``1e-3``): the bias of
        the base-rate model of AIS, whose softmax per block returns the data's marginals."""
        blocks = self._blocks(mean).clamp_min(_CLIP)
        return torch.log(blocks / blocks.sum(-1, keepdim=True)).flatten(-2)

    def log_conditional(self, x: torch.Tensor, field: torch.Tensor) -> torch.Tensor:
        log_p = torch.log_softmax(self._blocks(field), dim=-1)
        return (self._blocks(x) * log_p).sum((-2, -1))

    def random_start(self, shape, generator, *, device=None, dtype=torch.float32):
        return self.sample(torch.zeros(shape, device=device, dtype=dtype), generator)

    def n_states(self, n_units: int) -> float:
        return self.q ** self.n_variables(n_units)

    def states(self, index: torch.Tensor, n_units: int, dtype: torch.dtype) -> torch.Tensor:
        """Mixed radix ``q``: variable 0 varies fastest (as the bits of Bernoulli units)."""
        n = self.n_variables(n_units)
        powers = self.q ** torch.arange(n, device=index.device, dtype=torch.int64)
        digits = (index.unsqueeze(1) // powers) % self.q  # (m, n_variables)
        return torch.nn.functional.one_hot(digits, self.q).to(dtype).flatten(-2)

    def check_domain(self, x: torch.Tensor, *, tolerance: float = 0.0) -> str | None:
        """A message unless every block of ``x`` is one-hot (or a probability vector: values
        in [0, 1] summing to 1, up to ``tolerance`` and float rounding), else None.

        Examples
        --------
        >>> Potts(3).check_domain(torch.tensor([[0.0, 1.0, 0.0]])) is None
        True
        >>> print(Potts(3).check_domain(torch.tensor([[2.0, 0.0, 1.0]])))
        ... # doctest: +NORMALIZE_WHITESPACE
        Potts units (q=3) take one-hot blocks of 3 columns per variable (or probabilities
        summing to 1 per block), but the data holds values up to 2.0 (an integer-coded
        table?)
        """
        n_units = x.shape[-1]
        if n_units % self.q:
            return (f"Potts units (q={self.q}) take one-hot blocks of {self.q} columns per "
                    f"variable, but the data has {n_units} columns, not a multiple of "
                    f"{self.q} (an integer-coded table of {n_units} variables?)")
        if not x.numel():
            return None
        lo, hi = float(x.min()), float(x.max())
        what = (f"Potts units (q={self.q}) take one-hot blocks of {self.q} columns per "
                f"variable (or probabilities summing to 1 per block), but the data holds ")
        if hi > 1 + tolerance:
            hint = " (an integer-coded table?)" if float(x.round().sub(x).abs().max()) == 0 else ""
            return f"{what}values up to {hi}{hint}"
        if lo < -tolerance:
            return f"{what}values down to {lo}"
        sums = self._blocks(x).sum(-1)
        worst = (sums - 1).abs().max()
        if float(worst) > max(tolerance, _SUM_TOLERANCE):
            row, variable = np.unravel_index(int((sums - 1).abs().argmax()), tuple(sums.shape))
            return (f"{what}a block summing to {float(sums[row, variable]):g} (row {row}, "
                    f"variable {variable})")
        return None

    @property
    def spec(self):
        return [self.name, self.q]

    def __repr__(self) -> str:
        return f"Potts(q={self.q})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Potts) and other.q == self.q

    def __hash__(self) -> int:
        return hash((Potts, self.q))


def one_hot(codes: np.ndarray, q: int, dtype=np.float32) -> np.ndarray:
    """One-hot blocks of a table of integer codes: the data of Potts units.

    Parameters
    ----------
    codes : array-like of int, shape (n_samples, n_variables)
        States in ``[0, q)``.
    q : int
        States per variable.
    dtype : numpy dtype, default float32

    Returns
    -------
    ndarray of shape (n_samples, n_variables * q)
        Column ``i*q + s`` is 1 where variable ``i`` is in state ``s``.

    Raises
    ------
    ValueError
        If ``codes`` is not a 2-D table of integers in ``[0, q)``.

    Examples
    --------
    >>> one_hot([[0, 2], [1, 0]], 3)
    array([[1., 0., 0., 0., 0., 1.],
           [0., 1., 0., 1., 0., 0.]], dtype=float32)
    """
    q = _check_q(q)
    table = np.asarray(codes)
    if table.ndim != 2:
        raise ValueError(f"codes must be a 2-D table (n_samples, n_variables), got shape "
                         f"{table.shape}.")
    if table.size and (table.dtype.kind not in "iuf" or not np.all(table == np.round(table))):
        raise ValueError(f"codes must hold integers in [0, {q}), got dtype {table.dtype}.")
    if table.size and (table.min() < 0 or table.max() >= q):
        raise ValueError(f"codes must hold integers in [0, {q}), but they range from "
                         f"{table.min()} to {table.max()}; pass q={int(table.max()) + 1} or "
                         "more to encode them all.")
    out = np.zeros((*table.shape, q), dtype=dtype)
    np.put_along_axis(out, table.astype(np.int64)[..., None], 1, axis=-1)
    return out.reshape(table.shape[0], -1)


def codes(X, q: int) -> np.ndarray:
    """Integer codes of one-hot blocks: the most probable state of each variable.

    The inverse of :func:`one_hot`; for per-state probabilities (e.g. a model's
    ``reconstruct`` or ``sample(mean=True)``) the state of highest probability.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_variables * q)
    q : int

    Returns
    -------
    ndarray of int64, shape (n_samples, n_variables)

    Examples
    --------
    >>> codes(one_hot([[0, 2], [1, 0]], 3), 3)
    array([[0, 2],
           [1, 0]])
    """
    q = _check_q(q)
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] % q:
        raise ValueError(f"X must be a 2-D array of one-hot blocks of {q} columns, got shape "
                         f"{X.shape}.")
    return X.reshape(X.shape[0], -1, q).argmax(-1).astype(np.int64)
