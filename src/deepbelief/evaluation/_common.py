"""What every evaluation function shares: the model taken from what the caller passed (a
module or a fitted estimator), inputs checked and moved to the model's device, float64 copies
of models for accurate sums, and explicit random generators (never a global random state)."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from deepbelief.core.rbm import RBMModule
from deepbelief.core.units import DOMAIN_TOLERANCE

Array = np.ndarray | torch.Tensor
RandomState = int | np.random.Generator | np.random.RandomState | torch.Generator | None
#: One RBM: an :class:`RBMModule` or a fitted estimator with ``rbm_`` (see :func:`as_rbm`).
RBMLike = Any
#: The RBMs of a DBN: a sequence, an estimator with ``rbms_``, or one RBM (see :func:`as_rbms`).
DBNLike = Any

_ONE_RBM = "an RBMModule or a fitted deepbelief.RBM (anything with a fitted rbm_)"
_A_DBN = ("the RBMs of a DBN: a sequence of RBMModule or fitted RBM estimators (bottom "
          "first), a fitted deepbelief.DBNTransformer (anything with a fitted rbms_), or one RBM")


def _refuse(model, accepted: str, caller: str, why: str = "") -> TypeError:
    named = isinstance(model, (str, numbers.Number))
    what = repr(model) if named else f"a {type(model).__name__}"
    return TypeError(f"{caller} takes {accepted}; got {what}{why}.")


def _fitted(model, attribute: str, accepted: str, caller: str):
    """``model.<attribute>``, after refusing what predicts (a fine-tuned network is not the
    RBMs it kept from pretraining) and reporting an unfitted estimator as such."""
    if callable(getattr(model, "predict", None)):
        raise _refuse(model, accepted, caller,
                      ", a model that predicts with a network trained after (or on top of) "
                      "its RBMs; to evaluate the RBMs of a fitted one, pass them: model.rbms_ "
                      "or one of them, e.g. model.rbms_[0]")
    value = getattr(model, attribute, None)
    if value is None and callable(getattr(model, "fit", None)) and not isinstance(model, type):
        check_is_fitted(model, attribute)  # sklearn's NotFittedError: "call 'fit' first"
    if value is None:
        raise _refuse(model, accepted, caller)
    return value


def _refuse_standardising(model, attribute: str, caller: str) -> None:
    """Refuse an estimator that standardises its input inside (``visible_units='auto'`` on
    data outside [0, 1]): its ``rbm_``/``rbms_`` model ``(X - input_mean_) / input_scale_``,
    so raw data read through them would give wrong numbers without a word."""
    if getattr(model, "input_mean_", None) is None or isinstance(model, RBMModule):
        return
    raise ValueError(
        f"{caller}: this {type(model).__name__} standardises its input inside (its "
        f"visible_units_ is {getattr(model, 'visible_units_', 'gaussian')!r}, chosen by "
        "visible_units='auto' for data outside [0, 1]), so its RBMs model standardised data. "
        f"Pass model.{attribute} and standardise the data yourself: "
        "(X - model.input_mean_) / model.input_scale_ (a log-likelihood in the data's units "
        "then adds -log(model.input_scale_).sum() per sample).")


def _is_rbm(layer) -> bool:
    return isinstance(layer, RBMModule) or isinstance(getattr(layer, "rbm_", None), RBMModule)


def as_rbm(model, caller: str) -> RBMModule:
    """The RBM to evaluate: ``model`` itself (an :class:`RBMModule`) or the fitted ``rbm_``
    of an estimator (duck-typed: evaluation does not import the estimators).

    Raises
    ------
    TypeError
        For anything else, e.g. a DBN (the message says to pass one of its ``rbms_``), a
        classifier or a string; the message says what is accepted.
    ValueError
        For an estimator that standardises its input inside (``visible_units='auto'`` on
        data outside [0, 1]): the message says how to pass its ``rbm_`` and standardised data.
    sklearn.exceptions.NotFittedError
        For an estimator that is not fitted yet.
    """
    if isinstance(model, RBMModule):
        return model
    if isinstance(getattr(model, "rbms_", None), (list, tuple)) and not hasattr(model, "rbm_"):
        _fitted(model, "rbms_", _ONE_RBM, caller)  # refuses a classifier first
        raise _refuse(model, _ONE_RBM, caller,
                      f", a stack of {len(model.rbms_)} RBMs: pass one of them, e.g. "
                      "model.rbms_[-1] (the top RBM)")
    rbm = _fitted(model, "rbm_", _ONE_RBM, caller)
    _refuse_standardising(model, "rbm_", caller)
    if not isinstance(rbm, RBMModule):
        raise _refuse(model, _ONE_RBM, caller, f" whose rbm_ is a {type(rbm).__name__}")
    return rbm


def as_rbms(model, caller: str) -> list[RBMModule]:
    """The layers of the DBN to evaluate, bottom first: ``model`` itself (a sequence of
    :class:`RBMModule` or of fitted RBM estimators), the fitted ``rbms_`` of an estimator,
    or one RBM (an :class:`RBMModule` or an estimator's ``rbm_``) as a one-layer DBN.

    Raises
    ------
    TypeError
        For anything else (a classifier, a string, a sequence holding other objects).
    ValueError
        For an estimator that standardises its input inside (as :func:`as_rbm`).
    sklearn.exceptions.NotFittedError
        For an estimator that is not fitted yet.
    """
    if _is_rbm(model):
        return [as_rbm(model, caller)]
    layers = model if isinstance(model, (list, tuple)) else _fitted(model, "rbms_", _A_DBN,
                                                                    caller)
    if not isinstance(model, (list, tuple)):
        _refuse_standardising(model, "rbms_", caller)
    if not isinstance(layers, (list, tuple)) or not layers or not all(map(_is_rbm, layers)):
        kinds = sorted({type(layer).__name__ for layer in layers}
                       if isinstance(layers, (list, tuple)) else {type(layers).__name__})
        raise _refuse(model, _A_DBN, caller, f" holding {', '.join(kinds) or 'no layers'}")
    return [as_rbm(layer, caller) for layer in layers]


def _param_device_dtype(rbm: RBMModule) -> tuple[torch.device, torch.dtype]:
    return rbm.weight.device, rbm.weight.dtype


def _wide_device(device: torch.device) -> torch.device:
    """Where float64 work can run: ``device`` itself, or the CPU for MPS (no float64)."""
    return torch.device("cpu") if device.type == "mps" else device


def _numpy64(values: torch.Tensor) -> np.ndarray:
    """Per-sample results at the public surface: a float64 NumPy array on the host."""
    return values.detach().to("cpu", torch.float64).numpy()


def _float64_copy(rbm: RBMModule) -> RBMModule:
    """A float64 copy of ``rbm`` (same unit types) for exact or accurate evaluation."""
    device = _wide_device(rbm.weight.device)
    copy = RBMModule(rbm.n_visible, rbm.n_hidden, rbm.visible, rbm.hidden,
                     n_context=rbm.n_context, device=device, dtype=torch.float64)
    copy.load_state_dict(rbm.state_dict())  # converts to float64
    return copy.requires_grad_(False)


def _as_input(
    X: Array,
    rbm: RBMModule,
    name: str = "X",
    *,
    device: torch.device | None = None,
    dtype: torch.dtype | None = None,
    in_domain: bool = True,
) -> torch.Tensor:
    """``X`` as a (n_samples, n_visible) tensor on the rbm's (or the given) device/dtype.

    With ``in_domain``, values outside the visible units' states (beyond float rounding) are
    refused: a likelihood is not defined there. Sparse matrices are refused with the advice
    to densify them (the evaluation functions read dense arrays).
    """
    if hasattr(X, "toarray") and hasattr(X, "nnz"):
        raise TypeError(f"{name} is a sparse matrix; the evaluation functions read dense "
                        f"arrays: pass {name}.toarray() (in parts, if it is large).")
    p_device, p_dtype = _param_device_dtype(rbm)
    if not isinstance(X, torch.Tensor):  # an array, a DataFrame, nested lists
        X = np.asarray(X)
        X = X if X.flags.writeable else X.copy()  # torch warns on read-only memory
    X = torch.as_tensor(X).detach().to(device=device or p_device, dtype=dtype or p_dtype)
    if X.ndim != 2 or X.shape[1] != rbm.n_visible:
        raise ValueError(
            f"{name} must have shape (n_samples, {rbm.n_visible}) to match the RBM's visible "
            f"layer, got {tuple(X.shape)}."
        )
    if X.shape[0] == 0:
        raise ValueError(f"{name} has no samples.")
    if not bool(torch.isfinite(X).all()):
        raise ValueError(f"{name} contains NaN or infinite values.")
    if in_domain:
        message = rbm.visible.check_domain(X, tolerance=DOMAIN_TOLERANCE)
        if message:
            raise ValueError(f"{name} does not fit the visible units: {message}; the "
                             "likelihood is not defined there. Evaluate data of the kind "
                             "the model was trained on (e.g. numpy.clip(X, 0.0, 1.0) for "
                             "Bernoulli units).")
    return X


def _make_generator(random_state: RandomState, device: torch.device) -> torch.Generator:
    """A ``torch.Generator`` on ``device``: seeded from an int, drawn from a numpy generator,
    taken as is, or (None) seeded from fresh OS entropy -- never any global RNG."""
    if isinstance(random_state, torch.Generator):
        if torch.device(random_state.device).type != device.type:
            raise ValueError(
                f"random_state is a torch.Generator on {random_state.device}, but the RBM's "
                f"parameters are on {device}; pass a generator on that device or an int seed."
            )
        return random_state
    if random_state is None:
        seed = int(np.random.default_rng().integers(2**62))
    elif isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        seed = int(random_state)
    elif isinstance(random_state, np.random.Generator):
        seed = int(random_state.integers(2**62))
    elif isinstance(random_state, np.random.RandomState):
        seed = int(random_state.randint(np.iinfo(np.int32).max))
    else:
        raise ValueError(
            "random_state must be None, an int, a numpy Generator/RandomState or a "
            f"torch.Generator, got {random_state!r}."
        )
    return torch.Generator(device=device).manual_seed(seed)
