"""What :class:`~deepbelief.estimators.DBNAutoencoder` says about its parameters: the
error of a loss its input units cannot take, the advice when fine-tuning diverges, and the
warning for a code that defeats the purpose (no smaller than the input). Its layer options
are checked in :mod:`deepbelief.estimators._layer_options`."""

from __future__ import annotations

import warnings

__all__ = ["divergence_advice", "loss_error", "warn_no_compression"]


def loss_error(visible_units: str, resolved: str) -> ValueError:
    """The error of ``loss='cross_entropy'`` when the input units are not Bernoulli:
    ``visible_units`` is the parameter, ``resolved`` the units it gave ('gaussian').

    Examples
    --------
    >>> print(loss_error("gaussian", "gaussian"))  # doctest: +ELLIPSIS
    loss='cross_entropy' needs Bernoulli visible units (data in [0, 1]), but \
visible_units='gaussian' was given: drop visible_units='gaussian' ...
    """
    if visible_units == "gaussian":
        why = ("visible_units='gaussian' was given: drop visible_units='gaussian' (the "
               "default visible_units='auto' takes Bernoulli units for data in [0, 1])")
    else:
        why = (f"visible_units={visible_units!r} gave {resolved!r} units, as X has values "
               "outside [0, 1]: scale X into [0, 1] (e.g. sklearn.preprocessing.MinMaxScaler)")
    return ValueError("loss='cross_entropy' needs Bernoulli visible units (data in [0, 1]), "
                      f"but {why}, or use loss='squared_error' or 'auto'.")


def divergence_advice(solver, learning_rate: float, adam_rate: float) -> str:
    """What to change when fine-tuning with ``solver`` at ``learning_rate`` diverges: a
    tenth of the rate, or Adam at its 'auto' rate ``adam_rate`` (for another solver).

    Examples
    --------
    >>> divergence_advice("sgd", 0.5, 1e-3)
    "Fine-tuning ran solver='sgd' at learning_rate_init=0.5: try a smaller \
learning_rate_init, e.g. 0.05, or solver='adam' with learning_rate_init=0.001."
    """
    name = repr(solver) if isinstance(solver, str) else (
        f"{getattr(solver, '__name__', type(solver).__name__)} (a callable)")
    advice = (f"Fine-tuning ran solver={name} at learning_rate_init={learning_rate:g}: try a "
              f"smaller learning_rate_init, e.g. {learning_rate / 10:g}")
    if solver != "adam":
        advice += f", or solver='adam' with learning_rate_init={adam_rate:g}"
    return advice + "."


def warn_no_compression(code_size: int, n_features: int) -> None:
    """Warn (UserWarning) when the code has at least as many units as the input has
    features: the autoencoder then does not compress (it can learn to copy)."""
    if code_size >= n_features:
        warnings.warn(f"the code has {code_size} units for {n_features} input features: it "
                      "does not compress the data (an autoencoder reduces dimension when the "
                      "last of hidden_layer_sizes is smaller than the number of features).",
                      UserWarning, stacklevel=3)
