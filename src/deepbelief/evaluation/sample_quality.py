"""How good are a model's samples: mode coverage and two-sample statistics against real data.

A likelihood says little about whether samples drawn from a model look like the data and
cover all of it: an RBM whose Gibbs chains "fall into a few modes" draws good digits of
three classes only. Three measures make that a number:

:func:`class_coverage`
    The samples judged by a classifier (any object with ``predict``, e.g. a
    :class:`~deepbelief.DBNClassifier` or a scikit-learn model trained on the real data):
    the histogram of the predicted classes and its entropy as a fraction of
    ``log n_classes`` (1: every class equally often; 0: a single class).
:func:`kernel_mmd`
    The unbiased estimate of the squared maximum mean discrepancy between the samples and
    real data (Gretton et al., 2012) under a Gaussian kernel whose width is the median
    heuristic (stated in the result): about 0 when the two come from one distribution.
:func:`adversarial_accuracy`
    The nearest-neighbour adversarial accuracy AATS (Yale et al., 2020), as the ``rbms``
    package computes it: how often a point's nearest neighbour among real and generated
    points (itself excluded) lies in its own set. About 0.5 when the sets cannot be told
    apart, 1 when they are disjoint, below 0.5 when the samples copy the real points.

Every function accepts NumPy arrays or tensors, computes in float64 on the device of the
given tensors (the CPU for arrays) in chunks of rows (memory grows with the chunk, not
with the square of the sample size), and never touches a global random state.

References
----------
A. Gretton, K. M. Borgwardt, M. J. Rasch, B. Schölkopf and A. Smola, "A kernel two-sample
test", Journal of Machine Learning Research 13:723-773, 2012.
A. Yale, S. Dash, R. Dutta, I. Guyon, A. Pavao and K. P. Bennett, "Generation and
evaluation of privacy preserving synthetic health data", Neurocomputing 416:244-255, 2020.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

__all__ = [
    "AdversarialAccuracy",
    "ClassCoverage",
    "KernelMMD",
    "adversarial_accuracy",
    "class_coverage",
    "histogram_entropy",
    "kernel_mmd",
    "median_bandwidth",
]

#: Rows whose distances to a whole set are computed at once.
_CHUNK = 1024
#: Most rows of the pooled sample whose pairwise distances give the median heuristic.
_MEDIAN_ROWS = 2000


def _matrix(X, name: str, device: torch.device | None = None) -> torch.Tensor:
    """``X`` as a float64 matrix (n, d) on ``device`` (a tensor's own device by default)."""
    if isinstance(X, torch.Tensor):
        t = X.detach().to(device or X.device, torch.float64)
    else:
        t = torch.as_tensor(np.asarray(X, dtype=np.float64), device=device)
    if t.ndim != 2 or t.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty 2-D array (n_samples, n_features), got "
                         f"shape {tuple(t.shape)}.")
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} contains NaN or infinite values.")
    return t


def _pair(X, Y) -> tuple[torch.Tensor, torch.Tensor]:
    X = _matrix(X, "X")
    Y = _matrix(Y, "Y", X.device)
    if X.shape[1] != Y.shape[1]:
        raise ValueError(f"X has {X.shape[1]} features and Y {Y.shape[1]}: compare samples "
                         "and data of the same shape.")
    return X, Y


# -- mode coverage ------------------------------------------------------------------------------
def histogram_entropy(counts, *, normalise: bool = True) -> float:
    """The entropy of a histogram, in nats or as a fraction of its maximum.

    Parameters
    ----------
    counts : array-like of shape (n_classes,)
        Non-negative counts (or weights) per class, not all zero.
    normalise : bool, default True
        Divide by ``log n_classes``, the entropy of the uniform histogram: 1 means every
        class equally often, 0 a single class (0 for one class).

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``counts`` is empty, negative somewhere, or all zero.

    Examples
    --------
    >>> histogram_entropy([5, 5, 5, 5])
    1.0
    >>> histogram_entropy([20, 0, 0, 0])
    0.0
    >>> round(histogram_entropy([1, 1], normalise=False), 4)  # log 2
    0.6931
    """
    p = np.asarray(counts, dtype=np.float64).ravel()
    if p.size == 0 or (p < 0).any() or p.sum() <= 0:
        raise ValueError(f"counts must be non-negative and not all zero, got {p.tolist()!r}.")
    p = p / p.sum()
    entropy = float(-(p[p > 0] * np.log(p[p > 0])).sum())
    if not normalise:
        return entropy
    return entropy / math.log(p.size) if p.size > 1 else 0.0


@dataclass(frozen=True, eq=False)
class ClassCoverage:
    """The classes a classifier sees in a set of samples (:func:`class_coverage`).

    Attributes
    ----------
    classes : ndarray of shape (n_classes,)
        Every class the classifier knows, in its order.
    counts : ndarray of shape (n_classes,)
        Samples predicted as each class.
    entropy : float
        Entropy of the histogram, in nats.
    coverage : float
        ``entropy / log n_classes``: 1 when the classes are equally frequent, 0 for one.
    n_covered : int
        Classes predicted at least once.
    """

    classes: np.ndarray
    counts: np.ndarray
    entropy: float
    coverage: float
    n_covered: int


def class_coverage(classifier, samples, *, classes=None) -> ClassCoverage:
    """Judge samples by a classifier: the histogram of their predicted classes and its
    entropy (mode coverage).

    Parameters
    ----------
    classifier : object with ``predict``
        Trained on real data, e.g. a :class:`~deepbelief.DBNClassifier` or any scikit-learn
        classifier; ``predict(samples)`` must return one label per sample.
    samples : array-like of shape (n_samples, n_features)
        What the classifier's ``predict`` takes (e.g. images drawn from a model).
    classes : array-like or None, default None
        The classes to count (in this order); None takes ``classifier.classes_``.

    Returns
    -------
    ClassCoverage

    Raises
    ------
    TypeError
        If ``classifier`` has no ``predict``.
    ValueError
        If ``classes`` is None and the classifier has no ``classes_`` (pass ``classes``), or
        a prediction is not one of ``classes``.

    Examples
    --------
    >>> import numpy as np
    >>> class Sign:  # any object with predict
    ...     classes_ = np.array([0, 1])
    ...     def predict(self, X):
    ...         return (np.asarray(X)[:, 0] > 0).astype(int)
    >>> result = class_coverage(Sign(), [[1.0], [2.0], [-1.0], [-3.0]])
    >>> result.counts.tolist(), result.coverage, result.n_covered
    ([2, 2], 1.0, 2)
    """
    if not callable(getattr(classifier, "predict", None)):
        raise TypeError(f"classifier must have a predict method, got {type(classifier).__name__}.")
    if classes is None:
        classes = getattr(classifier, "classes_", None)
        if classes is None:
            raise ValueError(f"{type(classifier).__name__} has no classes_: pass "
                             "classes=[...] (every class the samples may be judged as).")
    classes = np.asarray(classes).ravel()
    predicted = np.asarray(classifier.predict(samples)).ravel()
    index = {c: i for i, c in enumerate(classes.tolist())}
    unknown = sorted({p for p in predicted.tolist() if p not in index}, key=repr)
    if unknown:
        raise ValueError(f"the classifier predicted {unknown!r}, which are not among classes="
                         f"{classes.tolist()!r}: pass every class it may predict.")
    counts = np.bincount([index[p] for p in predicted.tolist()], minlength=len(classes))
    return ClassCoverage(classes=classes, counts=counts,
                         entropy=histogram_entropy(counts, normalise=False),
                         coverage=histogram_entropy(counts),
                         n_covered=int((counts > 0).sum()))


# -- kernel MMD ---------------------------------------------------------------------------------
def median_bandwidth(X, Y) -> float:
    """The median heuristic: the median Euclidean distance between distinct points of the
    pooled sample (Gretton et al., 2012), the Gaussian kernel's width in :func:`kernel_mmd`.

    At most 2,000 pooled rows, evenly spaced, enter the median.

    Parameters
    ----------
    X : array-like of shape (n, d)
    Y : array-like of shape (m, d)

    Returns
    -------
    float
        Positive (1.0 when every pooled point is the same).

    Examples
    --------
    >>> median_bandwidth([[0.0], [1.0]], [[2.0]])  # distances 1, 2, 1
    1.0
    """
    X, Y = _pair(X, Y)
    pooled = torch.cat([X, Y])
    if pooled.shape[0] > _MEDIAN_ROWS:
        rows = np.linspace(0, pooled.shape[0] - 1, _MEDIAN_ROWS).round().astype(np.int64)
        pooled = pooled[torch.as_tensor(rows, device=pooled.device)]
    n = pooled.shape[0]
    if n < 2:
        return 1.0
    i, j = torch.triu_indices(n, n, offset=1, device=pooled.device)
    distances = torch.cdist(pooled, pooled)[i, j]
    median = float(np.median(distances.cpu().numpy()))  # the mean of the middle two if even
    return median if median > 0 else 1.0


def _kernel_sum(A: torch.Tensor, B: torch.Tensor, gamma: float) -> float:
    """``sum_ij exp(-gamma ||a_i - b_j||^2)``, in chunks of rows of ``A``."""
    total = 0.0
    for start in range(0, A.shape[0], _CHUNK):
        d2 = torch.cdist(A[start:start + _CHUNK], B).square_()
        total += float(torch.exp(d2.mul_(-gamma)).sum())
    return total


@dataclass(frozen=True, eq=False)
class KernelMMD:
    """The result of :func:`kernel_mmd`.

    Attributes
    ----------
    mmd2 : float
        The unbiased estimate of the squared MMD (may be slightly negative when the two
        samples come from one distribution).
    bandwidth : float
        The Gaussian kernel's width ``sigma`` in ``exp(-||x - y||² / (2 sigma²))``.
    """

    mmd2: float
    bandwidth: float


def kernel_mmd(X, Y, *, bandwidth: float | None = None) -> KernelMMD:
    """The squared maximum mean discrepancy between two samples, unbiased, under a Gaussian
    kernel.

    ``MMD²_u = sum_{i≠j} k(x_i, x_j) / (n(n-1)) + sum_{i≠j} k(y_i, y_j) / (m(m-1))
    - 2 sum_{i,j} k(x_i, y_j) / (nm)`` with ``k(x, y) = exp(-||x - y||² / (2 sigma²))``
    (Gretton et al., 2012, eq. 3). Its expectation is 0 exactly when the two
    distributions are equal (the Gaussian kernel is characteristic).

    Parameters
    ----------
    X : array-like of shape (n, d)
        E.g. samples drawn from a model; ``n >= 2``.
    Y : array-like of shape (m, d)
        E.g. test images; ``m >= 2``.
    bandwidth : float or None, default None
        ``sigma``; None: the median heuristic (:func:`median_bandwidth`).

    Returns
    -------
    KernelMMD
        ``mmd2`` and the ``bandwidth`` used.

    Raises
    ------
    ValueError
        If a sample has fewer than 2 rows, the shapes differ, or ``bandwidth`` is not
        positive.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> same = kernel_mmd(rng.normal(size=(300, 2)), rng.normal(size=(300, 2)))
    >>> apart = kernel_mmd(rng.normal(size=(300, 2)), rng.normal(3, 1, size=(300, 2)))
    >>> abs(same.mmd2) < 0.01 < apart.mmd2
    True
    """
    X, Y = _pair(X, Y)
    n, m = X.shape[0], Y.shape[0]
    if n < 2 or m < 2:
        raise ValueError(f"kernel_mmd needs at least 2 rows in each sample, got {n} and {m}.")
    sigma = median_bandwidth(X, Y) if bandwidth is None else float(bandwidth)
    if not sigma > 0 or not math.isfinite(sigma):
        raise ValueError(f"bandwidth must be a positive number or None, got {bandwidth!r}.")
    gamma = 1.0 / (2.0 * sigma * sigma)
    xx = (_kernel_sum(X, X, gamma) - n) / (n * (n - 1))  # the diagonal: k(x, x) = 1
    yy = (_kernel_sum(Y, Y, gamma) - m) / (m * (m - 1))
    xy = _kernel_sum(X, Y, gamma) / (n * m)
    return KernelMMD(mmd2=xx + yy - 2.0 * xy, bandwidth=sigma)


# -- nearest-neighbour adversarial accuracy ----------------------------------------------------
def _nearest(A: torch.Tensor, B: torch.Tensor, p: float, exclude_self: bool) -> torch.Tensor:
    """For each row of ``A``, the distance to its nearest row of ``B`` (row ``i`` of ``B``
    left out for row ``i`` of ``A`` when ``exclude_self``): (len(A),)."""
    out = []
    for start in range(0, A.shape[0], _CHUNK):
        d = torch.cdist(A[start:start + _CHUNK], B, p=p)
        if exclude_self:
            rows = torch.arange(d.shape[0], device=d.device)
            d[rows, rows + start] = math.inf
        out.append(d.min(1).values)
    return torch.cat(out)


@dataclass(frozen=True, eq=False)
class AdversarialAccuracy:
    """The result of :func:`adversarial_accuracy`.

    Attributes
    ----------
    truth : float
        Fraction of real points whose nearest neighbour (itself excluded) is real.
    synthetic : float
        Fraction of generated points whose nearest neighbour is generated.
    aats : float
        ``(truth + synthetic) / 2``: about 0.5 when real and generated points cannot be
        told apart, 1 when they are disjoint, below 0.5 when the samples copy real points.
    n_samples : int
        Points of each set compared.
    """

    truth: float
    synthetic: float
    aats: float
    n_samples: int


def adversarial_accuracy(real, generated, *, n_samples: int | None = None,
                         metric: str = "euclidean") -> AdversarialAccuracy:
    """The nearest-neighbour adversarial accuracy AATS between real and generated points.

    With ``d_TS(i)`` the distance from real point ``i`` to the nearest generated one,
    ``d_TT(i)`` to the nearest other real one, and ``d_ST``, ``d_SS`` likewise for the
    generated points (Yale et al., 2020)::

        AA_truth = mean_i 1[d_TT(i) < d_TS(i)],  AA_syn = mean_i 1[d_SS(i) < d_ST(i)]
        AATS = (AA_truth + AA_syn) / 2

    Ties count as the other set, as in the ``rbms`` package (``compute_aats``), which
    reports ``AA_truth`` and ``AA_syn``. On discrete data (binary images) equal distances
    are common, so one distribution may score below 0.5; and nearest neighbours in many
    dimensions gather on a few "hub" points, so the figure varies from draw to draw more
    than its binomial error: compare models on the same real set, with 1,000 points or
    more.

    Parameters
    ----------
    real : array-like of shape (n, d)
        E.g. test images.
    generated : array-like of shape (m, d)
        E.g. samples of a model.
    n_samples : int or None, default None
        Compare the first ``n_samples`` rows of each (both need as many); None: the
        smaller of ``n`` and ``m``. The measure needs sets of one size.
    metric : {'euclidean', 'hamming'}, default 'euclidean'
        'hamming' counts differing entries (binary data).

    Returns
    -------
    AdversarialAccuracy

    Raises
    ------
    ValueError
        If the shapes differ, ``metric`` is unknown, or ``n_samples`` is not in
        ``[2, min(n, m)]``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> real = rng.normal(size=(400, 2))
    >>> round(adversarial_accuracy(real, rng.normal(size=(400, 2))).aats, 1)
    0.5
    >>> adversarial_accuracy(real, rng.normal(50, 1, size=(400, 2))).aats
    1.0
    """
    real, generated = _pair(real, generated)
    if metric not in ("euclidean", "hamming"):
        raise ValueError(f"metric must be 'euclidean' or 'hamming', got {metric!r}.")
    most = min(real.shape[0], generated.shape[0])
    n = most if n_samples is None else n_samples
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 2 <= n <= most:
        raise ValueError(f"n_samples must be an integer in [2, {most}] (the rows of the "
                         f"smaller set), got {n_samples!r}.")
    n = int(n)
    real, generated = real[:n], generated[:n]
    p = 0.0 if metric == "hamming" else 2.0
    truth = float((_nearest(real, real, p, True) < _nearest(real, generated, p, False))
                  .double().mean())
    synthetic = float((_nearest(generated, generated, p, True)
                       < _nearest(generated, real, p, False)).double().mean())
    return AdversarialAccuracy(truth=truth, synthetic=synthetic,
                               aats=(truth + synthetic) / 2, n_samples=n)
