"""The options of autoencoder layers (``layer_type``, ``corruption``, ``corruption_level``,
``tied_weights``; :mod:`deepbelief.training.autoencoder_spec`): a warning where the
estimator's ``layer_type`` makes some of them do nothing, and their refusal by the
generative DBN, whose layers must be RBMs."""

from __future__ import annotations

import inspect
from numbers import Integral

from deepbelief.estimators._input import _warn

__all__ = ["LAYER_OPTIONS", "RBMLayersOnly", "warn_unused_layer_options"]

#: The parameters of the autoencoder layers of a DBN.
LAYER_OPTIONS = ("layer_type", "corruption", "corruption_level", "tied_weights")


class RBMLayersOnly:
    """A mixin for estimators whose layers are all RBMs (:class:`~deepbelief.GenerativeDBN`:
    its sampling and up-down fine-tuning need them): given an autoencoder layer's option
    (:data:`LAYER_OPTIONS`), the constructor raises a TypeError that says so and names the
    estimators that have autoencoder layers, instead of Python's bare "unexpected keyword
    argument".

    Examples
    --------
    >>> from deepbelief import GenerativeDBN
    >>> GenerativeDBN(layer_type="denoising")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    TypeError: GenerativeDBN has no parameter 'layer_type': autoencoder layers are not ...
    """

    def __new__(cls, *args, **kwargs):
        given = [name for name in LAYER_OPTIONS if name in kwargs]
        if given:
            raise TypeError(
                f"{cls.__name__} has no parameter {given[0]!r}: autoencoder layers are not "
                "available in the generative model, whose sampling and up-down fine-tuning "
                "need an RBM in every layer. For autoencoder or denoising layers use "
                "DBNClassifier, DBNRegressor or DBNTransformer with layer_type='denoising' "
                "(or 'autoencoder'), or DBNAutoencoder; keep GenerativeDBN for RBMs.")
        return super().__new__(cls)


def _defaults(estimator) -> dict:
    return {name: p.default for name, p in
            inspect.signature(type(estimator).__init__).parameters.items()}


def warn_unused_layer_options(estimator) -> None:
    """Warn (UserWarning) when ``corruption``/``corruption_level`` differ from their
    defaults but no layer is 'denoising', or ``tied_weights`` does but every layer is an
    RBM: ``layer_type`` makes them do nothing. ``layer_type`` must have been checked.

    Examples
    --------
    >>> import warnings
    >>> from deepbelief import DBNAutoencoder
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn_unused_layer_options(DBNAutoencoder(corruption_level=0.5))
    >>> print(caught[0].message)  # doctest: +ELLIPSIS
    corruption_level=0.5 (only 'denoising' layers corrupt their input): ignored, as ...
    """
    sizes = estimator.hidden_layer_sizes
    n = 1 if isinstance(sizes, Integral) else len(sizes)
    given = estimator.layer_type
    types = list(given) if isinstance(given, (list, tuple)) else [given] * n
    defaults = _defaults(estimator)

    def changed(*names: str) -> list[str]:
        return [f"{name}={getattr(estimator, name)!r}" for name in names
                if getattr(estimator, name) != defaults.get(name)]

    notes, advice = [], "'denoising' or 'autoencoder'"
    if "denoising" not in types and (unused := changed("corruption", "corruption_level")):
        notes.append(f"{' and '.join(unused)} (only 'denoising' layers corrupt their input)")
        advice = "'denoising'"  # the one layer type that applies every option
    if set(types) == {"rbm"} and (unused := changed("tied_weights")):
        notes.append(f"{unused[0]} (only autoencoder layers, 'autoencoder' or 'denoising', "
                     "have weights to tie)")
    if notes:
        _warn(UserWarning(f"{'; '.join(notes)}: ignored, as layer_type={given!r} has no "
                          f"such layer. Give layer_type={advice} (for every layer, or one per "
                          "layer) for them to apply, or leave them out."))
