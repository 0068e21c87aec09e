"""Exact Bernoulli draws from one random byte per unit: the CPU sampler of binary units.

Sampling binary units is ``u < p`` with one uniform ``u`` per unit. On the CPU, torch's
generator (Mersenne Twister) is serial and spends one 32-bit draw, about 2 ns here, on
each uniform: a 128 × 784 draw costs a third of a 128 × 784 × 500 matrix product, the
largest cost of a PCD step after its products. :func:`flip_coins` draws the same
distribution from one random *byte* per unit, made eight at a time from 64-bit draws:

- with ``k = floor(256 p)`` and ``f = 256 p - k``, the unit is on when its byte ``b`` is
  below ``k``, off when above, and, when ``b == k`` (one unit in 256), on with
  probability ``f``. So ``P(on) = k / 256 + f / 256 = p``: exact, to ``2**-32`` for
  float32 ``p`` (``torch.rand(p.shape) < p`` is exact to ``2**-24``). (``p = 1`` takes
  ``k = 255, f = 1``; ``p`` is clipped to [0, 1] first.)
- The uniforms of the ties are not drawn from the generator (how many there are depends
  on ``p``): they are a counter-based hash (SplitMix64; Steele, Lea & Flood, "Fast
  splittable pseudorandom number generators", OOPSLA 2014) of a 64-bit key drawn with the
  bytes and of the unit's index in the draw.

So every call advances the generator by the same amount whatever ``p`` holds, and the
draw of a unit depends only on the generator's state, the unit's index and its own
``p``. Inside :func:`deepbelief.core.sharding.row_shard` the bytes of the global batch
are drawn and the ties hashed at their global indices: each process gets exactly its
rows of the one-process draw. On other devices (whose generators are parallel) the draw
is the plain ``uniform < p``.

The byte sampler's cost is a dozen small tensor operations whatever the size (100-150 µs
on 2 vCPUs), so draws of fewer than :data:`BYTE_SAMPLER_MIN` units (of the global batch)
are also the plain ``uniform < p`` (and masks ``torch.rand(shape) >= 1 - p``, the draws
of deepbelief before the byte sampler): the small batches of small data sets keep their
speed and their streams. On machine A (2 threads of an AMD EPYC) a 128 × 784 draw takes
128 µs against 236 µs for ``(torch.rand(p.shape) < p).float()``, 100 × 2000 257 µs
against 459 µs; the two cost the same near 32,768 units on machine D (BENCHMARKS.md,
"RBM throughput").
"""

from __future__ import annotations

import math

import numpy as np
import torch

from deepbelief.core.sharding import RowShard, global_shape, uniform

__all__ = ["BYTE_SAMPLER_MIN", "bernoulli_mask", "flip_coins", "hashed_uniform", "splitmix64"]

#: Draws of fewer units than this (in the global batch) compare uniforms: below it the
#: byte sampler's fixed cost exceeds ``torch.rand``'s per-unit one (crossover measured at
#: 32,000-40,000 units on 2 vCPUs of an AMD EPYC).
BYTE_SAMPLER_MIN = 2**15

# SplitMix64's constants. The few tie indices are hashed in numpy, whose unsigned 64-bit
# arithmetic wraps and shifts logically, at a third of the cost of a dozen tiny torch ops.
_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def _splitmix64(key: int, index: np.ndarray) -> np.ndarray:
    z = (index.astype(np.uint64) + np.uint64(1)) * _GAMMA + np.uint64(key % 2**64)
    z ^= z >> np.uint64(30)
    z *= _MIX1
    z ^= z >> np.uint64(27)
    z *= _MIX2
    z ^= z >> np.uint64(31)
    return z


def splitmix64(key: int, index: torch.Tensor) -> torch.Tensor:
    """SplitMix64's output number ``index + 1`` of the stream seeded with ``key``.

    Parameters
    ----------
    key : int
        The stream's seed (taken modulo 2**64).
    index : torch.Tensor
        Non-negative int64 counters on the CPU, any shape.

    Returns
    -------
    torch.Tensor
        int64 of ``index``'s shape: 64 well-mixed bits each (the unsigned value, read as a
        signed one).

    References
    ----------
    G. L. Steele, D. Lea and C. H. Flood, "Fast splittable pseudorandom number
    generators", OOPSLA 2014.

    Examples
    --------
    >>> hex(splitmix64(0, torch.tensor([0])).item() % 2**64)  # the reference's first output
    '0xe220a8397b1dcdaf'
    """
    return torch.from_numpy(_splitmix64(key, index.numpy()).view(np.int64))


def hashed_uniform(key: int, index: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Uniforms on [0, 1) from :func:`splitmix64`: its top 53 bits for float64, 24 bits for
    other float types (the resolution of ``torch.rand``), shape of ``index`` (CPU int64).

    >>> u = hashed_uniform(7, torch.arange(100_000), torch.float32)
    >>> bool(u.min() >= 0) and bool(u.max() < 1) and abs(float(u.mean()) - 0.5) < 0.01
    True
    """
    return torch.from_numpy(_hashed_uniform(key, index.numpy(), dtype == torch.float64)
                            ).to(dtype)


def _hashed_uniform(key: int, index: np.ndarray, double: bool) -> np.ndarray:
    bits = 53 if double else 24
    top = _splitmix64(key, index) >> np.uint64(64 - bits)
    real = np.float64 if double else np.float32
    return top.astype(real) * real(2.0 ** -bits)


def flip_coins(p: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Binary draws ``x ~ Bernoulli(p)``, one per element, as ``p``'s dtype.

    Parameters
    ----------
    p : torch.Tensor
        Probabilities of 1, shape ``(rows, ...)``, floating point; values outside [0, 1]
        act as clipped to it, NaN draws 0 (as ``torch.rand(p.shape) < p``).
    generator : torch.Generator or None
        Advanced by ``numel // 8 + 2`` 64-bit draws on the CPU (``numel`` of the global
        batch inside a row shard), or as by ``torch.rand`` of the global batch below
        :data:`BYTE_SAMPLER_MIN` units and on other devices: whatever ``p`` holds.

    Returns
    -------
    torch.Tensor
        0s and 1s, shape and dtype of ``p``.

    Raises
    ------
    RuntimeError
        Inside :func:`~deepbelief.core.sharding.row_shard`, when ``p`` does not have the
        shard's number of rows.

    Examples
    --------
    >>> x = flip_coins(torch.full((1000, 100), 0.3), torch.Generator().manual_seed(0))
    >>> round(float(x.mean()), 2)
    0.3
    """
    shard, full = global_shape(p.shape)
    if p.device.type != "cpu" or _few(full):
        return (uniform(p.shape, generator, p.device, p.dtype) < p).to(p.dtype)
    return _coins_from_bytes(p, *_random_bytes(full, generator, shard))


def bernoulli_mask(shape: tuple[int, ...], p: float, generator: torch.Generator | None,
                   device: torch.device | str = "cpu") -> torch.Tensor:
    """A boolean mask of ``shape`` whose elements are True with probability ``p`` each, as
    :func:`flip_coins` of a constant (e.g. the units dropout keeps); on other devices than
    the CPU and below :data:`BYTE_SAMPLER_MIN` elements, ``torch.rand(shape) >= 1 - p``
    (the mask dropout drew before the byte sampler). A plain draw of ``shape`` also inside
    :func:`~deepbelief.core.sharding.row_shard` (like ``torch.rand``: data-parallel
    training gives such draws a generator per process).

    Parameters
    ----------
    shape : tuple of int
        The mask's shape, ``(rows, ...)``.
    p : float
        The probability of True, in [0, 1].
    generator : torch.Generator or None
        Advanced as by :func:`flip_coins` of that shape.
    device : torch.device or str, default 'cpu'

    Returns
    -------
    torch.Tensor
        bool, shape ``shape``.

    Raises
    ------
    ValueError
        If ``p`` is not in [0, 1].

    Examples
    --------
    >>> keep = bernoulli_mask((1000, 100), 0.8, torch.Generator().manual_seed(0))
    >>> keep.dtype, round(float(keep.float().mean()), 2)
    (torch.bool, 0.8)
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be a probability in [0, 1], got {p!r}.")
    shape = tuple(shape)
    if torch.device(device).type != "cpu" or _few(shape):
        return torch.rand(shape, generator=generator, device=device) >= 1.0 - p
    return _mask_from_bytes(p, *_random_bytes(shape, generator))


def _few(shape: tuple[int, ...]) -> bool:
    return math.prod(shape) < BYTE_SAMPLER_MIN


def _coins_from_bytes(p: torch.Tensor, byte: torch.Tensor, key: int,
                      offset: int) -> torch.Tensor:
    """The draws for random bytes ``byte`` (uint8, ``p``'s shape), whose ties are settled
    by :func:`hashed_uniform` of ``key`` at flat index ``offset + i``."""
    scaled = (p.detach() * 256.0).clamp_(0.0, 256.0).contiguous()  # draws carry no grad
    # k = floor(256 p), but 255 where p = 1 (its tie then has f = 1: always on). Integer
    # and uint8 comparisons are several times faster here than float ones.
    k = scaled.to(torch.int16).clamp_(max=255).to(torch.uint8)
    on = byte < k
    # the few ties in numpy, on views of the tensors: a tenth of the cost of torch's
    # indexing on small batches (the per-call overhead dominates there), the same numbers
    flat_byte = byte.reshape(-1).numpy()
    ties = np.flatnonzero(flat_byte == k.view(-1).numpy())
    if ties.size:
        double = p.dtype == torch.float64
        flat_scaled = scaled.view(-1) if double else scaled.view(-1).float()
        frac = flat_scaled.numpy()[ties] - flat_byte[ties]
        on.view(-1).numpy()[ties] = _hashed_uniform(key, ties + offset, double) < frac
    return on.view(torch.uint8).to(p.dtype)  # from uint8: 5x faster than from bool


def _mask_from_bytes(p: float, byte: torch.Tensor, key: int, offset: int) -> torch.Tensor:
    """:func:`_coins_from_bytes` for one probability ``p`` (as float32), as booleans."""
    scaled = float(torch.tensor(p, dtype=torch.float32)) * 256.0
    k = min(math.floor(scaled), 255)
    on = byte < k
    if scaled > k:
        ties = np.flatnonzero(byte.reshape(-1).numpy() == k)
        if ties.size:
            on.view(-1).numpy()[ties] = (_hashed_uniform(key, ties + offset, False)
                                         < np.float32(scaled - k))
    return on


def _random_bytes(full: tuple[int, ...], generator: torch.Generator | None,
                  shard: RowShard | None = None) -> tuple[torch.Tensor, int, int]:
    """``(bytes, key of the ties' hash, flat index of the first)``: a draw of uniform bytes
    of shape ``full`` from 64-bit draws, or ``shard``'s rows of it."""
    n = math.prod(full)
    words = torch.empty(n // 8 + 2, dtype=torch.int64)
    words.random_(-2**63, None, generator=generator)  # the full 64 bits
    key = int(words[-1])
    byte = words[:-1].view(torch.uint8)[:n].view(full)
    if shard is None:
        return byte, key, 0
    return byte[shard.lo:shard.hi], key, shard.lo * (n // shard.total if shard.total else 0)
