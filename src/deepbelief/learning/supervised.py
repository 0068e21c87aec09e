"""Supervised objectives: backpropagation of a ``torch.nn`` loss through a network."""

from __future__ import annotations

import copy

import torch
from torch import nn

__all__ = ["DIVERGENCE_FACTOR", "SupervisedObjective", "weighted_mean"]

#: An epoch whose mean loss is more than this many times the reference loss (the larger of
#: the first mini-batch's loss and ``baseline``) has diverged. Healthy fits stay within 3.0
#: times (the largest, Adam at 0.1 on the digits; the demo's settings 0.32, the defaults
#: 0.86; also iris, wine, breast cancer, diabetes, Friedman #1); SGD at 10 on the digits
#: or MNIST reaches 40 to 140, and at 10^4 over 10^4, with every prediction one class.
DIVERGENCE_FACTOR = 10.0


class SupervisedObjective:
    """Backpropagation objective for :func:`deepbelief.training.loop.fit_epochs`.

    Each mini-batch writes the gradients of ``loss`` (cross-entropy for classification,
    MSE for regression) by backpropagation (Rumelhart, Hinton & Williams 1986) and returns
    the detached batch loss, which the loop averages per epoch.

    A batch ``(x, y, sample_weight)`` (a third tensor, shape ``(batch,)``) is weighted as
    scikit-learn's MLP weights it: the batch loss is the weighted mean of the rows' losses,
    ``Σ w_i l_i / Σ w_i`` (:func:`weighted_mean`), so that a row of weight 2 counts as the
    row twice in the same batch; a batch ``(x, y)`` is the plain mean, as before.

    Parameters
    ----------
    network : torch.nn.Module
        The network, with ``set_generator(generator)`` for its dropout draws
        (:class:`~deepbelief.core.network.FeedForwardDBN`).
    loss : torch.nn.Module
        ``loss(network(x), y)`` is the batch loss, a scalar tensor.
    baseline : float, default 0.0
        The loss of a constant prediction (``log(n_classes)`` for cross-entropy, 1 for the
        MSE of standardized targets): with the first mini-batch's loss, the reference of
        :meth:`failure`.
    advice : str or None, default None
        What to try when training diverges, in the caller's terms (e.g. its parameter
        names); the loop appends it to its :class:`~deepbelief.exceptions.DivergenceError`.

    Examples
    --------
    >>> import torch
    >>> from deepbelief.learning.supervised import SupervisedObjective
    >>> class Net(torch.nn.Linear):
    ...     def set_generator(self, generator):
    ...         pass
    >>> objective = SupervisedObjective(Net(3, 2), torch.nn.CrossEntropyLoss(), baseline=0.69)
    >>> x, y = torch.zeros(4, 3), torch.tensor([0, 1, 0, 1])
    >>> float(objective.gradients_((x, y), None)) > 0
    True
    >>> objective.failure((x, y)) is None
    True
    >>> w = torch.tensor([2.0, 1.0, 0.0, 1.0])  # row 0 twice, row 2 left out
    >>> twice = (torch.cat([x[:1], x[:2], x[3:]]), torch.tensor([0, 0, 1, 1]))
    >>> bool(torch.isclose(objective.evaluate_((x, y, w), None), objective.evaluate_(twice, None)))
    True
    """

    def __init__(self, network: nn.Module, loss: nn.Module, *, baseline: float = 0.0,
                 advice: str | None = None) -> None:
        self.module = network
        self.loss = loss
        self.baseline = float(baseline)
        self.advice = advice
        self._row_loss = _unreduced(loss)  # the rows' losses, for weighted batches
        self._first: torch.Tensor | None = None  # the loss of the first mini-batch
        self._epoch_sum: torch.Tensor | None = None  # sum of this epoch's sample losses
        self._epoch_count = 0
        self._parameters: list[nn.Parameter] = []
        self._mode_modules: list[nn.Module] | None = None

    def gradients_(self, batch: tuple[torch.Tensor, ...], generator) -> torch.Tensor:
        """Write the gradients of the batch loss (:meth:`evaluate_`) and count the batch in
        the epoch's statistics (:meth:`failure`); returns the detached batch loss."""
        loss = self.evaluate_(batch, generator)
        if self._first is None:
            self._first = loss
        total = loss * batch[0].shape[0]
        self._epoch_sum = total if self._epoch_sum is None else self._epoch_sum + total
        self._epoch_count += batch[0].shape[0]
        return loss

    def evaluate_(self, batch: tuple[torch.Tensor, ...], generator) -> torch.Tensor:
        """Write the gradients of the batch loss at the current weights into ``.grad`` and
        return the detached loss, without counting the batch (the loop re-evaluates so
        for L-BFGS's line search)."""
        net = self.module
        if not self._parameters:  # made once (the module tree does not change)
            self._parameters = list(net.parameters())
            self._mode_modules = _plain_modules(net)
        _set_training(net, self._mode_modules, True)
        net.set_generator(generator)
        for p in self._parameters:
            p.grad = None
        loss = self._batch_loss(batch)
        loss.backward()
        net.set_generator(None)
        _set_training(net, self._mode_modules, False)
        return loss.detach()

    def _batch_loss(self, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """The loss of one batch ``(x, y)``, or ``(x, y, sample_weight)`` (the weighted mean
        of the rows' losses), with its autograd graph."""
        x, y, *weight = batch
        if not weight:
            return self.loss(self.module(x), y)
        if self._row_loss is None:
            raise TypeError(f"{type(self.loss).__name__} has no reduction='none': weighted "
                            "batches need a torch.nn loss that gives the rows' losses.")
        losses = self._row_loss(self.module(x), y)
        return weighted_mean(losses.reshape(losses.shape[0], -1).mean(1), weight[0])

    def failure(self, data: tuple[torch.Tensor, ...]) -> str | None:
        """Describe a fine-tuning run whose loss blew up, else ``None``; called by the loop
        after each epoch (it starts the next epoch's mean loss).

        Weights that grow without becoming infinite give predictions that are all of one
        class (or one value) and a loss far above where training started. The epoch has
        diverged when its mean loss is more than :data:`DIVERGENCE_FACTOR` times the
        reference: the larger of the first mini-batch's loss (before any step) and
        ``baseline``. ``data`` (the loop's monitoring rows) is not used.
        """
        if not self._epoch_count:
            return None
        mean = float(self._epoch_sum) / self._epoch_count
        self._epoch_sum, self._epoch_count = None, 0
        reference = max(float(self._first), self.baseline)
        if mean <= DIVERGENCE_FACTOR * reference:
            return None
        return (f"the mean loss of the epoch, {mean:.4g}, is over {DIVERGENCE_FACTOR:g} times "
                f"{reference:.4g} (the larger of the loss at the start and that of a constant "
                "prediction), though the weights are finite")


def _plain_modules(net: nn.Module) -> list[nn.Module] | None:
    """``net``'s modules when none overrides ``train``, else None (see :func:`_set_training`)."""
    modules = list(net.modules())
    return None if any(type(m).train is not nn.Module.train for m in modules) else modules


def _set_training(net: nn.Module, modules: list[nn.Module] | None, flag: bool) -> None:
    """``net.train(flag)``; with ``modules`` (:func:`_plain_modules`) it sets their
    ``training`` flags directly instead of walking the module tree, which, twice per
    mini-batch, cost about a tenth of a fine-tuning epoch of the digits' network at batch 32."""
    if modules is None:
        net.train(flag)
        return
    for m in modules:
        m.__dict__["training"] = flag  # what nn.Module.train sets


def _unreduced(loss: nn.Module | None) -> nn.Module | None:
    """A copy of a ``torch.nn`` loss that gives each row's loss (``reduction='none'``);
    None for a loss without a ``reduction``."""
    if getattr(loss, "reduction", None) is None:
        return None
    row_loss = copy.copy(loss)
    row_loss.reduction = "none"
    return row_loss


def weighted_mean(values: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``Σ w_i v_i / Σ w_i`` over the rows, as ``numpy.average(values, weights=weight)``
    (scikit-learn's MLP losses); 0 for a batch whose weights are all 0 (nothing to learn
    from it, where NumPy would divide by zero).

    Parameters
    ----------
    values, weight : torch.Tensor of shape (n,)
        The rows' values and their non-negative weights.

    Returns
    -------
    torch.Tensor
        A scalar, differentiable in ``values``.

    Examples
    --------
    >>> weighted_mean(torch.tensor([1.0, 4.0]), torch.tensor([3.0, 1.0]))
    tensor(1.7500)
    >>> weighted_mean(torch.tensor([1.0, 4.0]), torch.zeros(2))
    tensor(0.)
    """
    weight = weight.to(values.dtype)
    return (values * weight).sum() / weight.sum().clamp_min(torch.finfo(values.dtype).tiny)
