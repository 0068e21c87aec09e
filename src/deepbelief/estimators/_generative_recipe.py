"""The default recipe of :class:`~deepbelief.GenerativeDBN` on data sets of any size: how
many epochs ``pretrain_epochs='auto'`` trains, and how ``visible_units='auto'`` scales
real-valued data.

Why (measured on scikit-learn's 300 blobs, iris, digits and MNIST; BENCHMARKS.md,
"Default recipe on small data"):

Updates, not epochs
    CD learning moves a weight by about the learning rate times a covariance per
    parameter update, from small initial weights, so what a layer learns depends on the
    number of updates. Ten epochs at 32 rows a batch are 18,750 updates per layer on
    60,000 MNIST images but 450 on the 1,437 training digits of scikit-learn's digits and
    100 on 300 rows: there the top RBM has hardly begun to tie the labels to the features
    below (digits: 0.83 test accuracy after 10 epochs, 0.92 after 20; seeds 0-2).
    ``'auto'`` trains as many epochs as make :data:`AUTO_UPDATES` updates per layer,
    within :data:`AUTO_MIN_EPOCHS` (data of 100 mini-batches or more, MNIST among them:
    as before) and :data:`AUTO_MAX_EPOCHS` (so that a tiny table is not trained for
    hundreds of epochs).
Gaussian noise below the data's spread
    Gaussian visible units of unit variance on data standardised to unit variance leave
    the hidden units nothing to explain: the model's variance is 1 (the noise) plus what
    the hidden units add, so a maximum-likelihood fit keeps the hidden units' weights near
    0 unless features are strongly correlated (pixels are; two or four measurements, as in
    the blobs or iris, are not). Their hidden units then vary by about 1 % across the data,
    the layers above see near-constant inputs and every row gets the same label, however
    long it trains. Standardising to a standard deviation of :data:`GAUSSIAN_SPREAD`
    instead (noise of a third of each feature's spread) leaves the hidden units 8/9 of
    the variance to model. With both rules the blobs are classified (0.91-0.94 training
    accuracy, one class before), iris 0.81 (0.20 before), MNIST given as 0-255 pixels
    0.869 (0.851 before, a 10,000-image subset).
"""

from __future__ import annotations

import copy
import math

from deepbelief.estimators._input_scaling import InputScaling

__all__ = [
    "AUTO_MAX_EPOCHS",
    "AUTO_MIN_EPOCHS",
    "AUTO_UPDATES",
    "GAUSSIAN_SPREAD",
    "auto_epochs",
    "check_transposed_start",
    "spread",
    "with_epochs",
]

#: Parameter updates per layer that ``pretrain_epochs='auto'`` trains at least.
AUTO_UPDATES = 1000
#: The epochs of ``'auto'`` on data of ``AUTO_UPDATES / AUTO_MIN_EPOCHS`` mini-batches or
#: more (10 on MNIST), and the most it trains on smaller data.
AUTO_MIN_EPOCHS, AUTO_MAX_EPOCHS = 10, 20
#: The standard deviation of the input under ``visible_units='auto'`` on real-valued data.
GAUSSIAN_SPREAD = 3.0


def auto_epochs(n_rows: int | None, batch_size: int) -> int:
    """The epochs of ``pretrain_epochs='auto'`` for ``n_rows`` training rows.

    ``ceil(AUTO_UPDATES / batches per epoch)``, within ``[AUTO_MIN_EPOCHS,
    AUTO_MAX_EPOCHS]``; None (no data yet, e.g. checking the parameters) gives
    ``AUTO_MIN_EPOCHS``.

    Examples
    --------
    >>> auto_epochs(60_000, 32), auto_epochs(1_437, 32), auto_epochs(300, 32)
    (10, 20, 20)
    """
    if n_rows is None:
        return AUTO_MIN_EPOCHS
    batches = max(1, math.ceil(n_rows / batch_size))
    return min(AUTO_MAX_EPOCHS, max(AUTO_MIN_EPOCHS, math.ceil(AUTO_UPDATES / batches)))


def with_epochs(estimator, n_rows: int | None):
    """``estimator`` itself, or a shallow copy whose ``pretrain_epochs='auto'`` is the
    number of epochs for ``n_rows`` rows (what the layer specs are built from).

    Examples
    --------
    >>> from deepbelief import GenerativeDBN
    >>> with_epochs(GenerativeDBN(), 300).pretrain_epochs, GenerativeDBN().pretrain_epochs
    (20, 'auto')
    """
    if not (isinstance(estimator.pretrain_epochs, str) and estimator.pretrain_epochs == "auto"):
        return estimator
    resolved = copy.copy(estimator)
    resolved.pretrain_epochs = auto_epochs(n_rows, estimator.batch_size)
    return resolved


def spread(scaling: InputScaling) -> InputScaling:
    """``scaling`` with standardised data spread to a standard deviation of
    :data:`GAUSSIAN_SPREAD` (unchanged when it does not standardise).

    Examples
    --------
    >>> import numpy as np
    >>> scaling = spread(InputScaling.fit(np.array([[0.0], [2.0]]), "auto"))
    >>> scaling.apply(np.array([[0.0], [2.0]])).ravel().tolist()
    [-3.0, 3.0]
    """
    if not scaling.standardises:
        return scaling
    return InputScaling(scaling.visible_units, scaling.mean, scaling.scale / GAUSSIAN_SPREAD)


def check_transposed_start(estimator, visible_units: str, n_layers: int) -> None:
    """Refuse ``pretrain_init='transpose'`` before training when the first RBM's visible
    units are not Bernoulli (the transposed start models a Bernoulli layer's prior;
    :mod:`deepbelief.core.warm_start`)."""
    if estimator.pretrain_init != "transpose" or n_layers < 2 or visible_units == "bernoulli":
        return
    if estimator.visible_units == "auto":
        advice = (" ('auto' picked Gaussian units: the data lies outside [0, 1]). Scale X "
                  "into [0, 1] (e.g. sklearn.preprocessing.MinMaxScaler(clip=True)), or use "
                  "pretrain_init='random'.")
    else:
        advice = (". On X in [0, 1] use visible_units='bernoulli' (or 'auto'), or use "
                  "pretrain_init='random'.")
    raise ValueError(
        "pretrain_init='transpose' starts each RBM as the transpose of a Bernoulli RBM "
        f"below it, but the input units are {visible_units!r}{advice}")
