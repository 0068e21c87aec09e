"""Generation: sampling inputs and completing partially observed inputs, for the RBM
(:class:`RBMGenerationMixin`) and the generative DBN, with sampling of given classes
(:class:`GenerationMixin`; Hinton, Osindero & Teh, 2006)."""

from __future__ import annotations

from functools import partial
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from deepbelief.core.tempering import (
    DEFAULT_TEMPERATURES,
    ParallelTempering,
    inverse_temperatures,
)
from deepbelief.core.units import unit_type
from deepbelief.estimators._base import make_generator, to_numpy


def check_count(name: str, value, low: int = 0) -> int:
    """``value`` as an int, after checking it is an integer ``>= low``."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < low:
        what = "a non-negative integer" if low == 0 else f"an integer >= {low}"
        raise ValueError(f"{name} must be {what}, got {value!r}.")
    return int(value)


def check_method(method: str, diagnostics: bool) -> None:
    """Check ``sample``'s ``method`` ('gibbs' or 'pt') and ``diagnostics`` (PT only)."""
    if method not in ("gibbs", "pt"):
        raise ValueError(f"method must be 'gibbs' or 'pt' (parallel tempering), got "
                         f"{method!r}.")
    if diagnostics and method != "pt":
        raise ValueError("diagnostics=True reports parallel tempering's swap rates and round "
                         "trips: pass method='pt' with it.")


def tempered_chains(rbm, random_start, n_samples: int, n_steps: int, generator,
                    temperatures, swap_target: float | None) -> ParallelTempering:
    """``n_steps`` steps of parallel tempering of ``rbm`` (:mod:`deepbelief.core.tempering`)
    from noise: ``random_start(shape)`` for every replica of ``n_samples`` systems. With
    ``swap_target`` the ladder adapts during the first half of the steps (burn-in) and is
    fixed for the second."""
    m = inverse_temperatures(temperatures).numel()
    start = random_start((m * n_samples, rbm.n_visible)).view(m, n_samples, rbm.n_visible)
    sampler = ParallelTempering(start, temperatures, swap_target=swap_target)
    for step in range(n_steps):
        if step == n_steps // 2:
            sampler.freeze_()
        sampler.step_(rbm, generator)
    return sampler


class RBMGenerationMixin:
    """``sample`` and ``complete`` of :class:`~deepbelief.RBM` (which provides ``rbm_`` and
    ``_validated``)."""

    @torch.no_grad()
    def sample(self, n_samples: int, n_gibbs: int = 1000, random_state=None, *,
               mean: bool = False, method: str = "gibbs",
               temperatures=DEFAULT_TEMPERATURES, swap_target: float | None = None,
               diagnostics: bool = False):
        """Draw ``n_samples`` visible samples after ``n_gibbs`` Gibbs steps from noise.

        Parameters
        ----------
        n_samples : int
            Independent chains, started from uniform noise (fair coins for Bernoulli units).
        n_gibbs : int, default 1000
            Gibbs steps ``v -> h -> v`` per chain.
        random_state : int, RandomState or None, default None
            Seeds the chains (None: fresh entropy; no global RNG is used).
        mean : bool, default False
            Return the last step's means ``E[v | h]`` (grey levels, smoother pictures)
            instead of its samples.
        method : {'gibbs', 'pt'}, default 'gibbs'
            'pt': parallel tempering (:mod:`deepbelief.core.tempering`). Each sample is the
            ``beta = 1`` replica of a system of replicas at the inverse temperatures
            ``temperatures``, which take a Gibbs step each and then swap states with their
            neighbours (``n_gibbs`` such steps); the hot replicas cross between the
            model's modes, which a Gibbs chain of a trained model rarely leaves. It costs
            as many Gibbs chains as there are temperatures.
        temperatures : int or list of float, default 10
            With 'pt': a count (a geometric ladder of inverse temperatures from 1 to 0.5)
            or the inverse temperatures ``1 = beta_0 > ... >= 0``.
        swap_target : float or None, default None
            With 'pt': adapt the ladder during the first half of the steps towards this
            swap rate between neighbours (e.g. 0.3), then keep it; None: fixed.
        diagnostics : bool, default False
            With 'pt': also return a dict of the ladder (``betas``), the swap rates of
            neighbouring temperatures (``swap_rates``), the ``round_trips`` of replicas
            between the coldest and the hottest temperature, and ``steps``.

        Returns
        -------
        samples : ndarray of shape (n_samples, n_features)
        diagnostics : dict
            Only with ``diagnostics=True``.

        Examples
        --------
        >>> from deepbelief import RBM
        >>> from deepbelief.datasets import load_digits
        >>> X, _ = load_digits()
        >>> rbm = RBM(n_components=16, n_iter=2, device="cpu", random_state=0).fit(X)
        >>> rbm.sample(4, n_gibbs=10, random_state=0).shape
        (4, 64)
        >>> samples, info = rbm.sample(4, n_gibbs=10, random_state=0, method="pt",
        ...                            temperatures=[1.0, 0.5, 0.25], diagnostics=True)
        >>> samples.shape, info["swap_rates"].shape
        ((4, 64), (2,))
        """
        check_is_fitted(self, "rbm_")
        check_count("n_samples", n_samples)
        check_count("n_gibbs", n_gibbs)
        check_method(method, diagnostics)
        device = self.rbm_.weight.device
        generator = make_generator(random_state, device)
        if method == "pt":
            return self._sample_tempered(n_samples, n_gibbs, generator, mean, temperatures,
                                         swap_target, diagnostics)
        v = self.rbm_.visible.random_start((n_samples, self.rbm_.n_visible), generator,
                                           device=device)
        if not mean or n_gibbs == 0:
            return to_numpy(self.rbm_.gibbs(v, n_gibbs, generator))
        v = self.rbm_.gibbs(v, n_gibbs - 1, generator)
        _, h = self.rbm_.sample_hidden(v, generator)
        return to_numpy(self.rbm_.visible_mean(h))

    def _sample_tempered(self, n_samples, n_gibbs, generator, mean, temperatures,
                         swap_target, diagnostics):
        """``sample(method='pt')``: the last step a plain one at ``beta = 1`` for ``mean``."""
        rbm = self.rbm_
        start = partial(rbm.visible.random_start, generator=generator,
                        device=rbm.weight.device)
        steps = n_gibbs - 1 if mean and n_gibbs else n_gibbs
        sampler = tempered_chains(rbm, start, n_samples, steps, generator, temperatures,
                                  swap_target)
        v = sampler.v[0]
        if mean and n_gibbs:
            v = rbm.visible_mean(rbm.sample_hidden(v, generator)[1])
        return (to_numpy(v), sampler.diagnostics()) if diagnostics else to_numpy(v)

    @torch.no_grad()
    def complete(self, X, mask, n_iter: int = 100, random_state=None) -> np.ndarray:
        """Fill in the unknown features of ``X`` by Gibbs sampling with the known ones clamped.

        Each step samples ``h ~ p(h | v)`` and then ``v ~ p(v | h)``, and puts the known
        values back: ``v = where(mask, X, v)``. The unknown features start as noise; the
        result holds the known values and, for the unknown ones, the means ``E[v | h]`` of
        the last step.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The data; values where ``mask`` is False are ignored.
        mask : array-like of bool, shape (n_samples, n_features) or (n_features,)
            True where a value is known.
        n_iter : int, default 100
            Gibbs steps.
        random_state : int, RandomState or None, default None
            Seeds the sampling (no global RNG is used).

        Returns
        -------
        ndarray of shape (n_samples, n_features)

        Examples
        --------
        >>> import numpy as np
        >>> from deepbelief import RBM
        >>> from deepbelief.datasets import load_digits
        >>> X, _ = load_digits()
        >>> rbm = RBM(n_components=32, n_iter=5, device="cpu", random_state=0).fit(X)
        >>> top_half = np.arange(64) < 32                # the top four rows of each 8x8 digit
        >>> filled = rbm.complete(X[:3], top_half, n_iter=20, random_state=0)
        >>> bool((filled[:, :32] == X[:3, :32]).all()), filled.shape
        (True, (3, 64))
        """
        x, dtype = self._validated(X)
        check_count("n_iter", n_iter)
        known = torch.tensor(np.asarray(mask), device=x.device)  # a copy
        if known.dtype != torch.bool:
            raise ValueError(f"mask must be boolean (True where a value is known), got "
                             f"dtype {known.dtype}.")
        if known.shape not in (x.shape, x.shape[1:]):
            raise ValueError(f"mask has shape {tuple(known.shape)}; it must be "
                             f"{tuple(x.shape)} or ({x.shape[1]},).")
        known = known.expand_as(x)
        generator = make_generator(random_state, x.device)
        noise = self.rbm_.visible.random_start(x.shape, generator, device=x.device)
        v = torch.where(known, x, noise)
        v_mean = v
        for _ in range(n_iter):
            _, h = self.rbm_.sample_hidden(v, generator)
            v_mean, v_sample = self.rbm_.sample_visible(h, generator)
            v = torch.where(known, x, v_sample)
        return to_numpy(torch.where(known, x, v_mean), dtype)


class GenerationMixin:
    """``sample`` and ``complete`` of :class:`~deepbelief.GenerativeDBN` (which provides
    ``_stack``, ``_input``, ``_encode``, ``_check_labelled``, ``visible_units`` and
    ``training_mean_``)."""

    @torch.no_grad()
    def sample(self, n_samples: int, y=None, n_gibbs: int = 200, random_state=None,
               binary: bool = False, chain_every: int | None = None, label_warmup: int = 0,
               label_warmup_scale: float = 10.0, *, method: str = "gibbs",
               temperatures=DEFAULT_TEMPERATURES, swap_target: float | None = None):
        """Draw inputs from the generative model.

        ``n_gibbs`` steps of alternating Gibbs sampling in the top RBM, started from random
        binary penultimate states (the label units clamped to ``y`` when given, else
        sampled with the rest), then one top-down pass through the directed generative
        weights (Hinton, Osindero & Teh, 2006).

        Parameters
        ----------
        n_samples : int
            Independent chains.
        y : label, array-like of shape (n_samples,), or None
            Class of every sample (one label for all, or one each); needs a model fitted
            with labels. None: classes are sampled by the model.
        n_gibbs : int, default 200
            Gibbs steps in the top RBM.
        random_state : int, RandomState or None, default None
            Seeds the chains (no global RNG is used).
        binary : bool, default False
            False: the deterministic top-down pass of means, returning probabilities.
            True: an ancestral pass sampling every layer, returning binary inputs.
        chain_every : int or None, default None
            Also return the chains: the top-down pass of means every ``chain_every`` Gibbs
            steps (for animations and plots of how the samples form). The random draws
            are the same as without it.
        label_warmup : int, default 0
            With ``y``: the first ``label_warmup`` of the ``n_gibbs`` steps sample an RBM
            whose label weights are multiplied by ``label_warmup_scale``, so that chains
            started at random settle in the requested class's region; the remaining
            steps sample the model itself. A chain of any start converges to the same
            distribution, so this changes where the chains start, not what they sample.
            From random starts the clamped labels of a trained model often pull too weakly
            to leave another class's mode within a few hundred steps; on MNIST a
            ``label_warmup`` of 200 raised the samples that a separate classifier assigns
            to the requested class from 88.4 % to 95.0 % at 1,000 steps (BENCHMARKS.md).
        label_warmup_scale : float, default 10.0
            The factor on the label weights during the warm-up (> 1 pulls harder).
        method : {'gibbs', 'pt'}, default 'gibbs'
            'pt': parallel tempering in the top RBM (``temperatures`` and ``swap_target``
            as in :meth:`deepbelief.RBM.sample`); the classes are sampled with the rest
            (``y=None``) and no chain is returned (``chain_every=None``). The last of the
            ``n_gibbs`` steps is a plain Gibbs step of the model.
        temperatures, swap_target :
            With 'pt': the ladder (a count or the inverse temperatures) and the swap rate
            it adapts to during burn-in (None: fixed).

        Returns
        -------
        samples : ndarray of shape (n_samples, n_features_in_)
        chain : ndarray of shape (n_gibbs // chain_every + 1, n_samples, n_features_in_)
            Only with ``chain_every``: the images at step 0 (the random start), then every
            ``chain_every`` steps.

        Examples
        --------
        >>> from deepbelief import GenerativeDBN
        >>> from deepbelief.datasets import load_digits
        >>> X, y = load_digits()
        >>> gen = GenerativeDBN((32, 64), pretrain_epochs=2, random_state=0,
        ...                     device="cpu").fit(X[:300], y[:300])
        >>> samples, chain = gen.sample(5, y=7, n_gibbs=20, random_state=0, chain_every=5)
        >>> samples.shape, chain.shape
        ((5, 64), (5, 5, 64))
        """
        check_is_fitted(self, "rbms_")
        n_samples = check_count("n_samples", n_samples)
        n_gibbs = check_count("n_gibbs", n_gibbs)
        stack = self._stack
        device = stack.top.weight.device
        generator = make_generator(random_state, device)
        labels = None
        if y is not None:
            self._check_labelled("sample(y=...)")
            labels = self._encode(y, n_samples)
        elif stack.n_classes:  # a uniformly drawn start; the chain samples the labels
            index = torch.randint(stack.n_classes, (n_samples,), generator=generator,
                                  device=device)
            labels = torch.nn.functional.one_hot(index, stack.n_classes).float()
        if chain_every is not None:
            chain_every = check_count("chain_every", chain_every, low=1)
        label_warmup = check_count("label_warmup", label_warmup)
        if label_warmup and y is None:
            raise ValueError("label_warmup needs y: it pulls the chains towards the requested "
                             "classes (set label_warmup=0 to sample without labels given).")
        if label_warmup > n_gibbs:
            raise ValueError(f"label_warmup ({label_warmup}) counts within n_gibbs "
                             f"({n_gibbs}): it must not exceed it.")
        if not (isinstance(label_warmup_scale, Real) and np.isfinite(label_warmup_scale)
                and label_warmup_scale > 0):
            raise ValueError(f"label_warmup_scale must be a finite number > 0, got "
                             f"{label_warmup_scale!r}.")
        if binary and not unit_type(getattr(self, "visible_units_", self.visible_units)).binary:
            raise ValueError("binary=True draws binary inputs, which needs Bernoulli visible "
                             "units; with visible_units='gaussian' use binary=False (means).")
        check_method(method, False)
        if method == "pt":
            if y is not None or chain_every is not None:
                raise ValueError("method='pt' samples the classes with the rest and returns "
                                 "no chain: pass y=None and chain_every=None, or use "
                                 "method='gibbs'.")
            h_mean, h_sample = _tempered_top(stack, n_samples, n_gibbs, generator,
                                             temperatures, swap_target)
            return to_numpy(_top_down(stack, h_mean, h_sample, binary, generator))
        h = (torch.rand((n_samples, stack.n_penultimate), generator=generator,
                        device=device) < 0.5).float()
        h_mean, h_sample, chain = h, h, [stack.down_pass(h)]
        done = 0
        while done < n_gibbs:  # in pieces of chain_every steps: the same draws as in one
            steps = min(chain_every or n_gibbs, n_gibbs - done)
            warm = min(max(label_warmup - done, 0), steps)  # warm-up steps in this piece
            for piece, scale in ((warm, float(label_warmup_scale)), (steps - warm, 1.0)):
                if piece:
                    h_mean, h_sample, labels = stack.gibbs_top(
                        h_sample, labels, piece, generator, clamp_labels=y is not None,
                        label_scale=scale)
            done += steps
            if chain_every is not None and steps == chain_every:
                chain.append(stack.down_pass(h_mean))
        out = _top_down(stack, h_mean, h_sample, binary, generator)
        if chain_every is None:
            return to_numpy(out)
        return to_numpy(out), to_numpy(torch.stack(chain))

    @torch.no_grad()
    def complete(self, X, mask, n_iter: int = 100, random_state=None) -> np.ndarray:
        """Fill in the unknown entries of ``X``.

        The known entries (``mask`` True) stay clamped; the unknown start at the mean of
        the training inputs (``training_mean_``). Each iteration is an up-pass of means,
        one Gibbs step in the top RBM (the labels drawn from ``p(label | h)``), a
        down-pass of means, and re-clamping the known entries. On MNIST with the bottom
        halves hidden, starting at the training mean rather than at 0.5 raised a separate
        classifier's accuracy on the completed digits from 0.654 to 0.772 (BENCHMARKS.md).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_in_)
            Inputs in [0, 1]; the values of unknown entries are ignored.
        mask : array-like of bool, shape (n_samples, n_features_in_) or (n_features_in_,)
            True where ``X`` is known.
        n_iter : int, default 100
            Iterations; on MNIST 100 completed better than 20 (BENCHMARKS.md).
        random_state : int, RandomState or None, default None

        Returns
        -------
        ndarray of shape (n_samples, n_features_in_)
            ``X`` at the known entries (exactly), the model's probabilities elsewhere.
        """
        n_iter = check_count("n_iter", n_iter)
        x = self._input(X)
        mask = np.asarray(mask)
        if mask.dtype != bool:
            raise ValueError(f"mask must be boolean (True where X is known), got dtype "
                             f"{mask.dtype}.")
        try:
            mask = np.broadcast_to(mask, tuple(x.shape))
        except ValueError:
            raise ValueError(f"mask of shape {mask.shape} does not fit X of shape "
                             f"{tuple(x.shape)}.") from None
        known = torch.from_numpy(np.ascontiguousarray(mask)).to(x.device)
        stack = self._stack
        generator = make_generator(random_state, x.device)
        if hasattr(self, "training_mean_"):
            start = torch.as_tensor(self.training_mean_, device=x.device).expand_as(x)
        else:  # a model saved before training_mean_ was kept: the middle of the range
            units = getattr(self, "visible_units_", self.visible_units)
            start = torch.full_like(x, 0.5 if units == "bernoulli" else 0.0)
        current = torch.where(known, x, start)
        for _ in range(n_iter):
            h = stack.up_pass(current)
            h_mean, _, _ = stack.gibbs_top(h, None, 1, generator)
            current = torch.where(known, x, stack.down_pass(h_mean))
        return to_numpy(current)


def _top_down(stack, h_mean, h_sample, binary: bool, generator) -> torch.Tensor:
    """The inputs of penultimate states: the pass of means, or (``binary``) an ancestral
    pass of samples ending in a binary sample."""
    if not binary:
        return stack.down_pass(h_mean)
    p = stack.down_pass(h_sample, generator)
    return (torch.rand(p.shape, generator=generator, device=p.device) < p).float()


def _tempered_top(stack, n_samples: int, n_gibbs: int, generator, temperatures,
                  swap_target) -> tuple[torch.Tensor, torch.Tensor]:
    """``(h_mean, h_sample)`` of the penultimate block after ``n_gibbs - 1`` steps of
    parallel tempering in the top RBM (its penultimate and label units) from random states,
    and one Gibbs step of the model."""
    n_pen, n_classes, device = stack.n_penultimate, stack.n_classes, stack.top.weight.device

    def start(shape: tuple[int, int]) -> torch.Tensor:
        h = (torch.rand((shape[0], n_pen), generator=generator, device=device) < 0.5).float()
        if not n_classes:
            return h
        index = torch.randint(n_classes, (shape[0],), generator=generator, device=device)
        return torch.cat([h, torch.nn.functional.one_hot(index, n_classes).float()], 1)

    sampler = tempered_chains(stack.top, start, n_samples, max(n_gibbs - 1, 0), generator,
                              temperatures, swap_target)
    v = sampler.v[0]
    if not n_gibbs:
        return v[:, :n_pen], v[:, :n_pen]
    h_mean, h_sample, _ = stack.gibbs_top(v[:, :n_pen], v[:, n_pen:] if n_classes else None,
                                          1, generator)
    return h_mean, h_sample
