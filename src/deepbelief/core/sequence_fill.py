"""Filling in a sequence's missing entries with all of its observed frames: the entries that
make the whole sequence most predictable by a temporal stack.

Filling in frame by frame (:func:`deepbelief.core.temporal.run_frames`, Taylor, Hinton &
Roweis, NIPS 2007) infers the missing entries of frame ``t`` from the frames before it and
the observed entries of frame ``t`` itself, then treats them as known. When the observed
channels of a frame say little about its missing ones (the hidden units of a conditional
RBM carry them; on smooth data the autoregressive weights explain almost every frame and
the hidden units stay weak), each filled-in frame is a linear prediction from the
filled-in frames before it, a recursion that can grow without bound; and the evidence of
the *later* observed frames, which the model predicts from the missing values, is never
used.

:func:`fill_sequence` uses that evidence: the missing entries ``m`` minimise the one-step prediction
error of the whole sequence,

    J(m) = sum over t >= receptive field of || x_t - f_t(x_0 .. x_{t-1}) ||^2
           + prior * || m - m_0 ||^2,

where ``f_t`` is the stack's mean-field prediction of frame ``t`` from its past
(:func:`deepbelief.core.temporal.predict_frames`), ``x`` holds the observed values and
``m``, and ``m_0`` are the starting values (e.g. the training mean). A missing value enters
``J`` as a frame to be predicted and as the past of the next frames, whose observed entries
then pull it towards the values that explain them. For a model whose hidden units are
weak, ``f_t`` is linear in the past and the first sum is twice the negative
log-likelihood of a Gaussian autoregressive model with unit variance; the second term is
a weak Gaussian prior at ``m_0`` (standard deviation 10 for :data:`PRIOR`, in the model's
units: ten training standard deviations of a standardised channel), so the minimiser is
the maximum a-posteriori fill-in, a regularised least-squares smoother. The prior matters
only where the predictions leave a direction nearly free: the saturating hidden units of
a two-layer model can otherwise let the missing channels run away along an unstable mode
of the autoregressive weights. ``J`` is minimised by L-BFGS (Liu & Nocedal, 1989) from
``m_0``.

Examples
--------
>>> from deepbelief.core.rbm import RBMModule
>>> rbm = RBMModule(2, 3, "gaussian", n_context=2)
>>> with torch.no_grad():                       # x_t = 0.9 x_{t-1}, channel by channel
...     _ = rbm.context_visible.copy_(0.9 * torch.eye(2)), rbm.weight.zero_()
>>> x = 0.9 ** torch.arange(8.0)[:, None] * torch.tensor([[1.0, 2.0]])
>>> missing = torch.zeros(8, 2, dtype=torch.bool)
>>> missing[3, 0] = True
>>> filled = fill_sequence([rbm], [1], torch.where(missing, 0.0, x), missing, 1, prior=0.0)
>>> round(float(filled[3, 0]), 4), round(float(x[3, 0]), 4)  # least squares: exact here
(0.729, 0.729)
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from deepbelief.core.rbm import RBMModule
from deepbelief.core.temporal import predict_frames, receptive_field

__all__ = ["MAX_ITERATIONS", "PRIOR", "fill_sequence", "prediction_error"]

#: Iterations of L-BFGS at most (each evaluates the one-step predictions of the sequence
#: once or a few times).
MAX_ITERATIONS = 100

#: Weight of the Gaussian prior at the starting values: a standard deviation of
#: ``1 / sqrt(PRIOR) = 10`` in the model's units. On synthetic gaits with both knees
#: missing, 1e-3 to 1e-2 stopped a two-layer model's runaway and changed the one-layer
#: errors by under 5 %; 0.1 doubled them.
PRIOR = 0.01


def prediction_error(layers: Sequence[RBMModule], orders: Sequence[int],
                     sequence: torch.Tensor, n_sweeps: int) -> torch.Tensor:
    """``J``: the squared error of the mean-field one-step predictions of ``sequence``
    (frames from the receptive field on), summed; a scalar, differentiable in ``sequence``
    where gradients are enabled.

    >>> from deepbelief.core.rbm import RBMModule
    >>> rbm = RBMModule(2, 3, "gaussian", n_context=2)
    >>> float(prediction_error([rbm], [1], torch.zeros(4, 2), 1).detach()) >= 0.0
    True
    """
    start = receptive_field(orders)
    predicted = predict_frames(layers, orders, sequence, n_sweeps, None, "mean_field")
    return ((sequence[start:] - predicted) ** 2).sum()


def fill_sequence(layers: Sequence[RBMModule], orders: Sequence[int], frames: torch.Tensor,
                  missing: torch.Tensor, n_sweeps: int, *,
                  max_iterations: int = MAX_ITERATIONS, prior: float = PRIOR) -> torch.Tensor:
    """The missing entries of ``frames`` that minimise the sequence's one-step prediction
    error ``J`` (see the module), found by L-BFGS; deterministic.

    Parameters
    ----------
    layers, orders : the temporal stack (bottom first) and its orders.
    frames : tensor of shape (T, n_visible)
        Observed values, and the starting values of the missing entries.
    missing : bool tensor of shape (T, n_visible)
        True where a value is to be filled in.
    n_sweeps : int
        Mean-field sweeps of each one-step prediction (>= 1).
    max_iterations : int, default :data:`MAX_ITERATIONS`
    prior : float, default :data:`PRIOR`
        Weight of the Gaussian prior at the starting values (0: least squares).

    Returns
    -------
    tensor of shape (T, n_visible)
        ``frames`` with its missing entries replaced (clipped to the visible units' domain,
        e.g. [0, 1] for Bernoulli units); observed entries unchanged. A sequence no longer
        than the receptive field gives ``J = 0`` and keeps its starting values.

    References
    ----------
    D. C. Liu and J. Nocedal, "On the limited memory BFGS method for large scale
    optimization", Mathematical Programming 45, 1989.
    """
    out = frames.detach().clone()
    if frames.shape[0] <= receptive_field(orders) or not bool(missing.any()):
        return out
    unit = layers[0].visible  # the free variables are fields: values stay in its domain
    initial = out[missing]
    free = unit.bias_for_mean(initial).clone().requires_grad_(True)
    optimiser = torch.optim.LBFGS([free], lr=1.0, max_iter=max_iterations,
                                  tolerance_grad=1e-6, tolerance_change=1e-10,
                                  history_size=20, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        with torch.enable_grad():
            values = unit.mean(free)
            x = out.index_put((missing,), values)
            error = prediction_error(layers, orders, x, n_sweeps)
            error = error + prior * ((values - initial) ** 2).sum()
            (free.grad,) = torch.autograd.grad(error, [free])
        return error.detach()

    optimiser.step(closure)
    with torch.no_grad():
        out[missing] = unit.mean(free.detach())
    return out
