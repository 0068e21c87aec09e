"""Sequences through a stack of conditional RBMs: (frame, past frames) pairs, recognition
over time, one-step prediction and frame-by-frame generation.

A *temporal stack* is a list of :class:`~deepbelief.core.rbm.RBMModule` built with a
context (``n_context = order * n_visible``) and one *order* per layer (Taylor, Hinton &
Roweis, NIPS 2007, "Modeling human motion using binary latent variables"). Layer 0 models
frame ``v_t`` given the ``order`` frames before it; layer ``l > 0`` models the hidden means of
layer ``l - 1`` at time ``t`` given their own past (the paper's two-layer model, §4). The
context of a frame is its past, most recent first::

    context(t) = [x_{t-1}, x_{t-2}, ..., x_{t-order}]      (order * n values)

so the first frame a layer sees is ``t = order`` of its input; a stack's top layer first
sees frame ``sum(orders)`` of the data, its *receptive field* (:func:`receptive_field`).
No pair ever joins the end of one sequence with the start of another.

Generation and filling in (:func:`run_frames`) go frame by frame, as Taylor et al. do:
the context is the last frames (generated or observed), the chain starts at the previous
frame, ``n_gibbs`` sweeps alternate a binary hidden sample with the visible *means* (the
noise of sampled Gaussian visibles would swamp the motion), and the frame is the visible
mean after the last sweep. A sweep of a two-layer stack goes up through the lower layer's
hidden means, takes one Gibbs step in the top layer, and comes back down through the lower
layer with that layer's own context (Hinton's "stacking temporal RBMs"). Observed
channels are clamped after every sweep, so missing ones are filled in online. To
*estimate* a frame rather than draw one (one-step prediction, :func:`predict_frames`, and
filling in), the sweeps may be mean-field ones or their Gibbs average (:data:`MODES`).
Filling in from the whole sequence, the frames after a missing value included, is
:mod:`deepbelief.core.sequence_fill`.

Examples
--------
>>> x = torch.arange(10.0).reshape(5, 2)        # one sequence: 5 frames of 2 channels
>>> frames, context = lagged_pairs([x], order=2)
>>> frames[0].tolist(), context[0].tolist()     # frame 2 given frames 1, then 0
([4.0, 5.0], [2.0, 3.0, 0.0, 1.0])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from deepbelief.core.rbm import RBMModule

__all__ = [
    "MODES",
    "PREDICTIONS",
    "lagged_pairs",
    "past_context",
    "predict_frames",
    "receptive_field",
    "recognise",
    "run_frames",
    "sweep",
]


def receptive_field(orders: Sequence[int]) -> int:
    """Frames of past the top layer of a stack needs: ``sum(orders)``.

    >>> receptive_field([3, 2])
    5
    """
    return int(sum(orders))


def past_context(frames: torch.Tensor, order: int) -> torch.Tensor:
    """The context of the frame after ``frames``: its last ``order`` rows, most recent
    first, flattened.

    Parameters
    ----------
    frames : tensor of shape (T, n) with ``T >= order``
    order : int

    Returns
    -------
    tensor of shape (order * n,)

    >>> past_context(torch.tensor([[0.0], [1.0], [2.0]]), 2).tolist()
    [2.0, 1.0]
    """
    return frames[frames.shape[0] - order:].flip(0).reshape(-1)


def lagged_pairs(sequences: Sequence[torch.Tensor],
                 order: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Every (frame, past frames) pair of a list of sequences, never across two of them.

    Parameters
    ----------
    sequences : sequence of tensors of shape (T_i, n)
        Sequences with fewer than ``order + 1`` frames give no pair.
    order : int
        Past frames per context (>= 1).

    Returns
    -------
    frames : tensor of shape (N, n)
        ``x_t`` for ``t = order .. T_i - 1`` of each sequence in turn;
        ``N = sum(max(T_i - order, 0))``.
    context : tensor of shape (N, order * n)
        ``[x_{t-1}, ..., x_{t-order}]`` of the same frames.
    """
    frames, contexts = [], []
    for seq in sequences:
        if seq.shape[0] <= order:
            continue
        windows = seq.unfold(0, order + 1, 1)  # (T - order, n, order + 1), time last
        frames.append(windows[..., -1])
        contexts.append(windows[..., :-1].flip(-1).transpose(1, 2).reshape(
            windows.shape[0], -1))
    if not frames:
        n = sequences[0].shape[1] if len(sequences) else 0
        empty = sequences[0] if len(sequences) else torch.zeros(0, 0)
        return empty.new_zeros(0, n), empty.new_zeros(0, order * n)
    return torch.cat(frames), torch.cat(contexts)


def recognise(layers: Sequence[RBMModule], orders: Sequence[int],
              sequence: torch.Tensor) -> list[torch.Tensor]:
    """The representations of one sequence at every level of a stack.

    Level 0 is ``sequence`` itself; level ``l + 1`` is layer ``l``'s hidden means given
    each frame of level ``l`` and its past, from frame ``orders[l]`` of level ``l`` on
    (so level ``l`` starts at frame ``sum(orders[:l])`` of the data).

    Returns
    -------
    list of ``len(layers) + 1`` tensors of shapes (T - sum(orders[:l]), n_l)
    """
    levels = [sequence]
    for rbm, order in zip(layers, orders, strict=True):
        v, context = lagged_pairs([levels[-1]], order)
        levels.append(rbm.hidden_mean(v, context))
    return levels


def _aligned_contexts(levels: list[torch.Tensor], orders: Sequence[int]) -> list[torch.Tensor]:
    """Each layer's contexts for the frames from the receptive field on (one row each)."""
    start = receptive_field(orders)
    contexts, offset = [], 0
    for level, order in zip(levels, orders, strict=False):
        _, context = lagged_pairs([level], order)  # for data frames offset + order ..
        contexts.append(context[start - offset - order:])
        offset += order
    return contexts


def sweep(layers: Sequence[RBMModule], contexts: Sequence[torch.Tensor], v: torch.Tensor,
          generator: torch.Generator | None, *, sample: bool = True) -> torch.Tensor:
    """One Gibbs sweep of a temporal stack at fixed contexts; returns the visible means.

    Up through the lower layers' hidden means, one step ``h ~ p(h | x, c)`` in the top
    layer (a binary sample), then down: sampled states at the hidden levels, the mean at
    the data. Without ``sample``, a mean-field sweep: means everywhere, deterministic.

    Parameters
    ----------
    layers : sequence of RBMModule, bottom first
    contexts : sequence of tensors (batch, n_context_l), one per layer
    v : tensor of shape (batch, n_visible)
    generator : torch.Generator or None
    sample : bool, default True
    """
    x = v
    for rbm, context in zip(layers[:-1], contexts[:-1], strict=True):
        x = rbm.hidden_mean(x, context)
    top = layers[-1]
    h = (top.sample_hidden(x, generator, context=contexts[-1])[1] if sample
         else top.hidden_mean(x, contexts[-1]))
    for level in range(len(layers) - 1, 0, -1):
        rbm, context = layers[level], contexts[level]
        h = (rbm.sample_visible(h, generator, context=context)[1] if sample
             else rbm.visible_mean(h, context))
    return layers[0].visible_mean(h, contexts[0])


#: How a frame is inferred at its past (:func:`predict_frames`, :func:`run_frames`):
#: ``'sample'``, the visible means after the last of ``n_gibbs`` Gibbs sweeps (a draw of
#: the process, as generation makes it); ``'mean_field'``, after ``n_gibbs`` deterministic
#: mean-field sweeps; ``'gibbs'``, the visible means averaged over the last half of the
#: Gibbs sweeps (the first half is burn-in), an estimate of the expected frame.
MODES = {"sample": (True, False), "mean_field": (False, False), "gibbs": (True, True)}

#: The modes that estimate a frame (rather than draw one).
PREDICTIONS = ("mean_field", "gibbs")


def _frame(layers, contexts, start: torch.Tensor, n_gibbs: int, generator,
           observed: torch.Tensor | None = None, missing: torch.Tensor | None = None, *,
           mode: str = "sample") -> torch.Tensor:
    """``n_gibbs`` sweeps from ``start`` (observed values clamped after each): the frame
    as ``mode`` (a key of :data:`MODES`) says."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {tuple(MODES)}, got {mode!r}.")
    sample, average = MODES[mode]
    v, total = start, None
    for step in range(n_gibbs):
        v = sweep(layers, contexts, v, generator, sample=sample)
        if missing is not None:
            v = torch.where(missing, v, observed)
        if average and step >= n_gibbs // 2:
            total = v if total is None else total + v
    return v if total is None else total / (n_gibbs - n_gibbs // 2)


def predict_frames(layers: Sequence[RBMModule], orders: Sequence[int],
                   sequence: torch.Tensor, n_gibbs: int, generator: torch.Generator | None,
                   prediction: str = "mean_field") -> torch.Tensor:
    """One-step predictions of the frames of ``sequence`` from their true past.

    Every frame ``t`` from the receptive field on is inferred as :func:`run_frames` infers
    a frame after frames ``0 .. t-1``: contexts from the recognised past, the chain started
    at frame ``t - 1``, ``n_gibbs`` sweeps, the frame as ``prediction`` (one of
    :data:`MODES`) says. All frames are predicted at once (a batch). Called with gradients
    enabled, the mean-field predictions are differentiable in ``sequence``
    (:func:`deepbelief.core.sequence_fill.fill_sequence` minimises their error).

    Returns
    -------
    tensor of shape (T - receptive_field(orders), n_visible)
    """
    start = receptive_field(orders)
    levels = recognise(layers[:-1], orders[:-1], sequence)
    contexts = _aligned_contexts(levels, orders)
    return _frame(layers, contexts, sequence[start - 1:-1], n_gibbs, generator,
                  mode=prediction)


@torch.no_grad()
def run_frames(layers: Sequence[RBMModule], orders: Sequence[int], frames: torch.Tensor,
               missing: torch.Tensor, first: int, n_gibbs: int,
               generator: torch.Generator | None, mode: str = "sample",
               limit: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
               ) -> torch.Tensor:
    """Fill in the missing entries of ``frames`` frame by frame (generation when whole
    frames are missing).

    Each frame is inferred from the frames before it, the filled-in ones included: where
    the model's autoregressive part makes the missing channels' own past an unstable
    recursion, the filled-in values grow from frame to frame; ``limit`` can stop such
    growth (:func:`deepbelief.core.sequence_fill.fill_sequence` uses the frames after a
    missing value too).

    Parameters
    ----------
    layers, orders : the temporal stack.
    frames : tensor of shape (T, n_visible)
        Observed values; missing entries may hold anything before ``first`` that the
        caller chose (frames before ``first`` are taken as they are).
    missing : bool tensor of shape (T, n_visible)
        True where a value is to be filled in.
    first : int
        The first frame to fill (``>= receptive_field(orders)``).
    n_gibbs : int
        Gibbs sweeps per frame.
    generator : torch.Generator or None
    mode : str, default 'sample'
        How each frame is inferred (a key of :data:`MODES`): 'sample' generates.
    limit : callable, optional
        ``limit(frame, missing)`` is applied to each filled-in frame (shape (1, n_visible),
        with its missing mask) before the frame becomes the past of the next ones, e.g. to
        keep its missing entries within bounds; it must leave the observed entries as they
        are.

    Returns
    -------
    tensor of shape (T, n_visible)
        ``frames`` with every missing entry from ``first`` on filled in; observed entries
        are returned unchanged.
    """
    out = frames.clone()
    levels = [out[:first]]
    for rbm, order in zip(layers[:-1], orders[:-1], strict=True):
        v, context = lagged_pairs([levels[-1]], order)
        levels.append(rbm.hidden_mean(v, context))
    levels = [list(level) for level in levels]  # rows, to append generated ones
    for t in range(first, frames.shape[0]):
        contexts = [past_context(torch.stack(level[-order:]), order).unsqueeze(0)
                    for level, order in zip(levels, orders, strict=False)]
        observed, gaps = frames[t:t + 1], missing[t:t + 1]
        start = torch.where(gaps, out[t - 1:t], observed)
        frame = _frame(layers, contexts, start, n_gibbs, generator, observed, gaps, mode=mode)
        if limit is not None:
            frame = limit(frame, gaps)
        out[t] = frame[0]
        levels[0].append(out[t])
        for level in range(1, len(levels)):
            rbm, context = layers[level - 1], contexts[level - 1]
            levels[level].append(rbm.hidden_mean(levels[level - 1][-1].unsqueeze(0),
                                                 context)[0])
    return out
