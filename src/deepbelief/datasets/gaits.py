"""Synthetic gaits: periodic joint-angle sequences in two styles, for demos and tests.

These are *synthetic* data, not motion capture: each channel is a smooth periodic function
of a gait phase, shaped like a joint angle of a walking or running figure (hips swing,
knees flex twice per stride, arms swing against the legs, the left side half a stride
behind the right), with per-sequence jitter of period and amplitude and seeded Gaussian
noise. They stand in for the motion-capture data of Taylor, Hinton & Roweis (NIPS 2007)
where no BVH files are at hand (see :mod:`deepbelief.datasets.bvh` for real files).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from deepbelief.datasets._random import as_rng

__all__ = ["GAIT_CHANNELS", "synthetic_gaits"]

# One row per named channel: name, amplitude (radians) for walk and run, phase (fraction of
# a stride), harmonic (1: once per stride, 2: twice), offset (radians) for walk and run.
_JOINTS = (
    ("right_hip", 0.45, 0.80, 0.00, 1, 0.05, 0.25),
    ("left_hip", 0.45, 0.80, 0.50, 1, 0.05, 0.25),
    ("right_knee", 0.55, 1.10, 0.15, 1, 0.60, 1.10),
    ("left_knee", 0.55, 1.10, 0.65, 1, 0.60, 1.10),
    ("right_ankle", 0.20, 0.35, 0.30, 1, 0.00, 0.10),
    ("left_ankle", 0.20, 0.35, 0.80, 1, 0.00, 0.10),
    ("right_shoulder", 0.30, 0.60, 0.50, 1, 0.00, 0.10),
    ("left_shoulder", 0.30, 0.60, 0.00, 1, 0.00, 0.10),
    ("right_elbow", 0.15, 0.30, 0.60, 1, 0.30, 1.40),
    ("left_elbow", 0.15, 0.30, 0.10, 1, 0.30, 1.40),
    ("pelvis_tilt", 0.05, 0.10, 0.00, 2, 0.00, 0.00),
    ("torso_lean", 0.03, 0.08, 0.25, 2, 0.05, 0.30),
)

#: Names of the named channels, in order; more channels than these repeat them, damped.
GAIT_CHANNELS: tuple[str, ...] = tuple(row[0] for row in _JOINTS)

# Stride period in frames (at 30 frames per second) and its relative jitter per sequence.
_PERIOD = {"walk": 32.0, "run": 20.0}
_PERIOD_JITTER = 0.05
_AMPLITUDE_JITTER = 0.10
# Knee flexion lags the hip by this much more in a run than in a walk (fraction of a stride).
_RUN_KNEE_LAG = 0.10


def _channel_table(n_channels: int, style: str) -> tuple[np.ndarray, ...]:
    """Amplitude, phase, harmonic and offset of each channel for one style."""
    run = style == "run"
    rows = [_JOINTS[k % len(_JOINTS)] for k in range(n_channels)]
    repeat = np.arange(n_channels) // len(_JOINTS)
    amplitude = np.array([r[2] if run else r[1] for r in rows]) * 0.7**repeat
    phase = np.array([r[3] for r in rows]) + 0.08 * repeat
    if run:
        phase += np.array([_RUN_KNEE_LAG if "knee" in r[0] else 0.0 for r in rows])
    harmonic = np.array([r[4] for r in rows], dtype=float)
    offset = np.array([r[6] if run else r[5] for r in rows])
    return amplitude, phase, harmonic, offset


def _one_gait(n_frames: int, style: str, n_channels: int, noise: float, rng) -> np.ndarray:
    """One sequence of shape (n_frames, n_channels)."""
    amplitude, phase, harmonic, offset = _channel_table(n_channels, style)
    period = _PERIOD[style] * (1.0 + _PERIOD_JITTER * rng.standard_normal())
    amplitude = amplitude * (1.0 + _AMPLITUDE_JITTER * rng.standard_normal())
    stride = rng.uniform() + np.arange(n_frames)[:, None] / period  # gait phase in strides
    angle = 2 * np.pi * harmonic * (stride + phase)
    # a second harmonic makes the curves asymmetric, as joint angles are
    frames = offset + amplitude * (np.sin(angle) + 0.25 * np.sin(2 * angle + 0.5))
    return frames + noise * rng.standard_normal(frames.shape)


def synthetic_gaits(
    n_sequences: int,
    n_frames: int | tuple[int, int] = 120,
    style: Literal["walk", "run", "both"] = "both",
    n_channels: int = len(_JOINTS),
    noise: float = 0.02,
    random_state=None,
) -> tuple[list[np.ndarray], np.ndarray]:
    """Seeded synthetic gait sequences of joint-angle-like channels (not motion capture).

    Each channel is a periodic function of the gait phase: hips swing, knees flex and
    extend, ankles, shoulders and elbows follow with fixed phase lags, the left side half a
    stride behind the right, the pelvis and torso move twice per stride. The two styles
    differ in stride period (walk 32 frames, run 20 frames at 30 fps), amplitudes, mean
    posture (a run bends knees, elbows and torso more) and the knee's phase lag behind the
    hip. Every sequence draws its own start phase and jitters period (5 %) and amplitude
    (10 %); ``noise`` adds Gaussian noise to every value. The data are synthetic: use them
    for demos and tests of sequence models such as the conditional RBM of Taylor, Hinton &
    Roweis (NIPS 2007), and :func:`~deepbelief.datasets.load_bvh` for real motion capture.

    Parameters
    ----------
    n_sequences : int
        Number of sequences.
    n_frames : int or (int, int), default 120
        Frames per sequence, or an inclusive range ``(low, high)`` from which each
        sequence draws its length.
    style : {'walk', 'run', 'both'}, default 'both'
        'both': half the sequences of each style (one more walk when odd), in random order.
    n_channels : int, default 12
        Channels per frame. The first 12 are :data:`GAIT_CHANNELS`; further ones repeat
        them with a phase lag and damped amplitude.
    noise : float, default 0.02
        Standard deviation of the Gaussian noise, in radians.
    random_state : None, int or numpy.random.Generator
        Seed: the same seed gives the same sequences.

    Returns
    -------
    sequences : list of ndarray of shape (n_frames_i, n_channels), float64
        Joint-angle-like values in radians.
    styles : ndarray of shape (n_sequences,), str
        ``'walk'`` or ``'run'`` for each sequence.

    Raises
    ------
    ValueError
        If a count is not positive, the style is unknown or the noise is negative.

    Examples
    --------
    >>> from deepbelief.datasets import synthetic_gaits
    >>> sequences, styles = synthetic_gaits(4, n_frames=50, random_state=0)
    >>> len(sequences), sequences[0].shape, sorted(styles.tolist())
    (4, (50, 12), ['run', 'run', 'walk', 'walk'])
    """
    if style not in ("walk", "run", "both"):
        raise ValueError(f"style must be 'walk', 'run' or 'both', got {style!r}")
    if not isinstance(n_sequences, (int, np.integer)) or n_sequences < 1:
        raise ValueError(f"n_sequences must be a positive int, got {n_sequences!r}")
    if not isinstance(n_channels, (int, np.integer)) or n_channels < 1:
        raise ValueError(f"n_channels must be a positive int, got {n_channels!r}")
    if not noise >= 0:
        raise ValueError(f"noise must be >= 0, got {noise!r}")
    low, high = (n_frames, n_frames) if np.isscalar(n_frames) else tuple(n_frames)
    if not 1 <= low <= high:
        raise ValueError(
            f"n_frames must be a positive int or a range (low, high), got {n_frames!r}"
        )
    rng = as_rng(random_state)
    if style == "both":
        styles = np.array(["walk", "run"] * (n_sequences // 2 + 1))[:n_sequences]
        styles = rng.permutation(styles)
    else:
        styles = np.full(n_sequences, style)
    lengths = rng.integers(low, high + 1, size=n_sequences)
    sequences = [
        _one_gait(int(length), str(s), int(n_channels), float(noise), rng)
        for length, s in zip(lengths, styles, strict=True)
    ]
    return sequences, styles
