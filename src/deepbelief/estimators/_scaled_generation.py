"""Sampling and completion in the data's units.

The generation mixins of :mod:`deepbelief.estimators._generation` work in the units the
network sees. Under ``visible_units='auto'``'s standardisation
(:mod:`deepbelief.estimators._input_scaling`) those are standardised units: the classes
here map what ``sample`` and ``complete`` return back to the data's units, and keep a
completion's known entries exactly as given. Without standardisation they change nothing.
"""

from __future__ import annotations

from functools import wraps

import numpy as np

from deepbelief.estimators._generation import GenerationMixin, RBMGenerationMixin
from deepbelief.estimators._input_scaling import InputScaling, check_input

__all__ = ["ScaledGeneration", "ScaledRBMGeneration", "in_data_units"]


def _to_data_units(estimator, drawn):
    """``drawn`` (an array, or a tuple of arrays and e.g. a dict of diagnostics) with its
    arrays mapped back to the data's units."""
    scaling = InputScaling.of(estimator)
    if isinstance(drawn, tuple):
        return tuple(scaling.invert(a) if isinstance(a, np.ndarray) else a for a in drawn)
    return scaling.invert(drawn)


def in_data_units(mixin: type) -> type:
    """``mixin`` (a generation mixin with ``sample`` and ``complete``) with both methods'
    outputs in the data's units."""

    class Scaled(mixin):
        @wraps(mixin.sample)
        def sample(self, *args, **kwargs):
            return _to_data_units(self, mixin.sample(self, *args, **kwargs))

        @wraps(mixin.complete)
        def complete(self, X, mask, n_iter: int = 100, random_state=None) -> np.ndarray:
            filled = mixin.complete(self, X, mask, n_iter, random_state)
            scaling = InputScaling.of(self)
            if not scaling.standardises:
                return filled
            X, _ = check_input(self, X, first=False, usage="forward", sparse=True)
            return scaling.restore(filled, X, mask)

    Scaled.__name__ = Scaled.__qualname__ = f"Scaled{mixin.__name__}"
    return Scaled


#: ``RBM``'s ``sample`` and ``complete``, in the data's units.
ScaledRBMGeneration = in_data_units(RBMGenerationMixin)
#: ``GenerativeDBN``'s ``sample`` and ``complete``, in the data's units.
ScaledGeneration = in_data_units(GenerationMixin)
