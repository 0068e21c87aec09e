"""The hand-off to PyTorch: a fitted estimator's forward pass as a plain ``nn.Module``.

:func:`to_torch` is every estimator's ``to_torch()`` method (``SaveLoadMixin.to_torch``): the
input stage (clipping to the visible units' range, or the standardisation of
``visible_units='auto'``) joined to what the estimator's ``_torch_parts()`` says its
forward pass is, built from standard layers by :mod:`deepbelief.core.plain`. An estimator
without ``_torch_parts`` raises a ``NotImplementedError`` that names what to use instead
(:func:`unsupported`).
"""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import check_is_fitted
from torch import nn

from deepbelief.core.plain import Stage, affine_stage, clip_stage, plain_sequential
from deepbelief.core.units import unit_type

__all__ = ["SUPPORTED", "input_stage", "to_torch", "unsupported"]

#: Why no feed-forward network computes what these estimators compute, and what to use
#: instead (looked up by class name along the class's MRO).
_UNSUPPORTED = {
    "GenerativeDBN": (
        "it classifies by the top RBM's free energy of each label",
        "train a DBNClassifier for a network to use in PyTorch (its to_torch() gives the "
        "fine-tuned network), or keep this model's predict in deepbelief (save() and "
        "deepbelief.load)"),
    "ConditionalRBM": (
        "its predict iterates between the outputs and the hidden units given the context "
        "(mean field or Gibbs sampling)",
        "keep its predict in deepbelief (save() and deepbelief.load), or train a "
        "DBNRegressor on (X, y) for a network to use in PyTorch"),
    "SequenceCRBM": (
        "its features of a frame depend on the frames before it (conditional RBMs over "
        "time), not on one input row",
        "keep it in deepbelief (save() and deepbelief.load), or train a DBNTransformer on "
        "windows of consecutive frames for a network to use in PyTorch"),
}

#: The estimators ``to_torch()`` supports, for messages.
SUPPORTED = ("DBNClassifier", "DBNRegressor", "DBNTransformer", "RBM", "DBNAutoencoder")


def unsupported(estimator) -> tuple[str, str] | None:
    """None when :func:`to_torch` can hand ``estimator`` (an estimator or its class) over,
    else why not and what to use instead, as two phrases."""
    cls = estimator if isinstance(estimator, type) else type(estimator)
    if callable(getattr(cls, "_torch_parts", None)):
        return None
    return next((_UNSUPPORTED[c.__name__] for c in cls.__mro__ if c.__name__ in _UNSUPPORTED),
                ("it has no feed-forward pass", f"use one of {', '.join(SUPPORTED)}"))


def input_stage(estimator) -> Stage:
    """What the estimator does to its input before the first layer: the standardisation
    ``(x - input_mean_) / input_scale_`` where it standardises (``visible_units='auto'`` on
    real-valued data), else clipping to its visible units' range (``[0, 1]`` for Bernoulli
    units; nothing for Gaussian ones)."""
    mean = getattr(estimator, "input_mean_", None)
    if mean is not None:
        scale = np.asarray(estimator.input_scale_, dtype=np.float64)
        return affine_stage("standardize", 1.0 / scale, -np.asarray(mean) / scale)
    units = getattr(estimator, "visible_units_", None) or estimator.visible_units
    return clip_stage(unit_type(units).bounds)


def to_torch(self) -> nn.Sequential:
    """The fitted model's forward pass as a plain PyTorch module, for your own code.

    An ``nn.Sequential`` of named standard layers (no deepbelief class inside: it
    pickles, runs under ``torch.export`` and exports to ONNX where deepbelief is not
    installed) that maps the raw input, a float32 tensor of shape (batch,
    n_features_in_), to what the estimator computes:

    - ``DBNClassifier``: the class probabilities of ``predict_proba``, columns in
      ``classes_`` order. The last layer is ``nn.Softmax(dim=1)``: ``module[:-1]``
      gives the logits, which ``nn.CrossEntropyLoss`` takes for further training.
    - ``DBNRegressor``: ``predict`` (the standardised targets mapped back, stage
      ``unstandardize``); shape (batch,) for one target, else (batch, n_outputs_).
    - ``DBNTransformer`` and ``RBM``: ``transform``, the top hidden layer's means.
    - ``DBNAutoencoder``: ``transform``, the codes of the fine-tuned encoder.

    The input goes first through what the estimator does to it: clipping to the
    visible units' range (stage ``clip``, ``nn.Hardtanh``: [0, 1] for Bernoulli units)
    or, where the estimator standardises real-valued data (``visible_units='auto'``),
    ``(x - mean) / scale`` (stage ``standardize``, frozen). Then come ``linear1``,
    ``sigmoid1`` (or ``relu1``), ``linear2``, ... The module holds copies of the
    weights, on the CPU, in float32, in evaluation mode: a later fit of the
    estimator does not change it; ``.to(device)`` moves it. Dropout, used only while
    fine-tuning, is left out. ``GenerativeDBN``, ``ConditionalRBM`` and
    ``SequenceCRBM`` compute no feed-forward pass and raise ``NotImplementedError``,
    naming what to use instead.

    Returns
    -------
    torch.nn.Sequential

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If the estimator is not fitted.
    NotImplementedError
        For the estimators above that no feed-forward network computes.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from deepbelief import DBNClassifier
    >>> from deepbelief.datasets import load_digits
    >>> X, y = load_digits()
    >>> clf = DBNClassifier((32,), pretrain_epochs=1, max_iter=3, random_state=0,
    ...                     device="cpu").fit(X[:300], y[:300])
    >>> net = clf.to_torch()
    >>> [name for name, _ in net.named_children()]
    ['clip', 'linear1', 'relu1', 'linear2', 'softmax']
    >>> proba = net(torch.as_tensor(X[:5], dtype=torch.float32))
    >>> np.allclose(proba.detach().numpy(), clf.predict_proba(X[:5]), atol=1e-5)
    True
    """
    why = unsupported(self)
    if why is not None:
        raise NotImplementedError(
            f"{type(self).__name__} has no network to hand to PyTorch: {why[0]}, which "
            f"no feed-forward network computes. to_torch() exports {', '.join(SUPPORTED[:-1])} "
            f"and {SUPPORTED[-1]}; {why[1]}.")
    check_is_fitted(self)
    return plain_sequential(input_stage(self), self._torch_parts())

