"""Videos of bouncing balls, the synthetic video data of Sutskever & Hinton (2007).

Sutskever & Hinton ("Learning multilevel distributed representations for high-dimensional
sequences", AISTATS 2007) and Sutskever, Hinton & Taylor ("The recurrent temporal
restricted Boltzmann machine", NIPS 2008) model videos of balls bouncing in a box, made by a
short program: balls move at constant speed, bounce elastically off the walls and off each
other, and each frame draws them as soft discs on a 30x30 grid. :func:`bouncing_balls` is
such a program, written here (seeded, vectorised over sequences); its frames are data for
sequence models and, with ``return_counts=True``, for recognising how many balls a video
shows.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from deepbelief.datasets._random import as_rng

__all__ = ["bouncing_balls"]

#: Simulation sub-steps per frame: collisions are checked this often between two frames.
_SUBSTEPS = 2
#: Tries at placing the balls without overlap before giving up.
_MAX_PLACEMENT_TRIES = 1000


def _ball_counts(n_balls, n_sequences: int, rng: np.random.Generator) -> np.ndarray:
    """The number of balls in each sequence: fixed, or drawn from the choices given."""
    choices = np.atleast_1d(np.asarray(n_balls))
    if choices.ndim != 1 or choices.size == 0 or not np.issubdtype(choices.dtype, np.integer):
        raise ValueError(f"n_balls must be an int or a sequence of ints, got {n_balls!r}")
    if (choices < 1).any():
        raise ValueError(f"n_balls must be at least 1, got {n_balls!r}")
    if choices.size == 1:
        return np.full(n_sequences, int(choices[0]))
    return rng.choice(choices, size=n_sequences)


def _place(active: np.ndarray, radius: float, rng: np.random.Generator) -> np.ndarray:
    """Start positions in the unit box, inside the walls and not overlapping, by rejection."""
    n_sequences, n_max = active.shape
    position = np.zeros((n_sequences, n_max, 2))
    todo = np.arange(n_sequences)
    for _ in range(_MAX_PLACEMENT_TRIES):
        if todo.size == 0:
            return position
        position[todo] = rng.uniform(radius, 1.0 - radius, size=(todo.size, n_max, 2))
        distance = np.linalg.norm(position[todo, :, None] - position[todo, None, :], axis=-1)
        both = active[todo, :, None] & active[todo, None, :]
        overlap = both & (distance < 2 * radius) & ~np.eye(n_max, dtype=bool)
        todo = todo[overlap.any(axis=(1, 2))]
    raise ValueError(
        f"could not place {n_max} balls of radius {radius} without overlap; "
        "use fewer balls or a smaller radius"
    )


def _collide(position: np.ndarray, velocity: np.ndarray, active: np.ndarray, radius: float):
    """Elastic collisions of equal masses, in place: walls, then each overlapping pair.

    Two balls that touch and approach each other exchange their velocity components along
    the line joining their centres (equal masses).
    """
    low, high = position < radius, position > 1.0 - radius
    velocity[low] = np.abs(velocity[low])
    velocity[high] = -np.abs(velocity[high])
    n_max = position.shape[1]
    for i in range(n_max):
        for j in range(i):
            offset = position[:, i] - position[:, j]
            distance = np.linalg.norm(offset, axis=-1, keepdims=True)
            normal = offset / np.maximum(distance, 1e-12)
            closing = np.sum((velocity[:, i] - velocity[:, j]) * normal, axis=-1, keepdims=True)
            hit = active[:, i:i + 1] & active[:, j:j + 1] & (distance < 2 * radius) & (closing < 0)
            exchange = np.where(hit, closing * normal, 0.0)
            velocity[:, i] -= exchange
            velocity[:, j] += exchange


def _trajectories(active, n_frames, radius, speed, rng) -> np.ndarray:
    """Ball centres, shape (n_sequences, n_frames, n_max, 2), in the unit box."""
    n_sequences, n_max = active.shape
    position = _place(active, radius, rng)
    angle = rng.uniform(0.0, 2 * np.pi, size=(n_sequences, n_max))
    velocity = speed * np.stack([np.cos(angle), np.sin(angle)], axis=-1)
    track = np.empty((n_sequences, n_frames, n_max, 2))
    for t in range(n_frames):
        track[:, t] = position
        for _ in range(_SUBSTEPS):
            position += velocity / _SUBSTEPS
            _collide(position, velocity, active, radius)
    return track


def _render(track: np.ndarray, active: np.ndarray, size: int, radius: float) -> np.ndarray:
    """Soft discs ``exp(-(d^2 / r^2)^4)`` at the centres, summed and clipped at 1."""
    grid = (np.arange(size) + 0.5) / size
    rows, cols = np.meshgrid(grid, grid, indexing="ij")
    n_sequences, n_frames = track.shape[:2]
    frames = np.zeros((n_sequences, n_frames, size, size), dtype=np.float32)
    for s in range(n_sequences):
        centres = track[s][:, active[s]]  # (n_frames, n_balls, 2)
        d2 = (rows - centres[..., 0, None, None]) ** 2 + (cols - centres[..., 1, None, None]) ** 2
        frames[s] = np.minimum(np.exp(-((d2 / radius**2) ** 4)).sum(axis=1), 1.0)
    return frames.reshape(n_sequences, n_frames, size * size)


def bouncing_balls(
    n_sequences: int,
    n_frames: int,
    size: int = 30,
    n_balls: int | Sequence[int] = 3,
    radius: float = 0.12,
    *,
    speed: float = 0.04,
    random_state=None,
    return_counts: bool = False,
):
    """Videos of balls bouncing in a box, as flattened frames.

    Each sequence starts the balls at random non-overlapping places with random directions at
    one speed. They move in straight lines and bounce elastically (equal masses) off the four
    walls and off each other; each frame draws every ball as a soft disc
    ``exp(-(d^2 / r^2)^4)`` (``d``: distance of a pixel centre to the ball's centre), and
    pixels where discs overlap are clipped at 1. This is the data of Sutskever & Hinton
    (AISTATS 2007) and Sutskever, Hinton & Taylor (NIPS 2008), generated by our own program.

    Parameters
    ----------
    n_sequences : int
        Number of videos.
    n_frames : int
        Frames per video.
    size : int, default 30
        Frames are ``size x size`` pixels (30: the classic data).
    n_balls : int or sequence of int, default 3
        Balls per video, or choices drawn uniformly for each video (e.g. ``(1, 2, 3)`` for a
        recognition task; see ``return_counts``).
    radius : float, default 0.12
        Ball radius as a fraction of the frame side (0.12: 3.6 pixels of 30, the classic
        1.2 in a box of side 10).
    speed : float, default 0.04
        Distance each ball moves per frame, as a fraction of the frame side.
    random_state : None, int or numpy.random.Generator
        Seed: the same seed gives the same videos.
    return_counts : bool, default False
        Also return the number of balls in each video.

    Returns
    -------
    frames : ndarray of shape (n_sequences, n_frames, size * size), float32
        Pixel intensities in [0, 1]; ``frames[s, t].reshape(size, size)`` is one frame.
    counts : ndarray of shape (n_sequences,), int
        The number of balls in each video (only with ``return_counts=True``).

    Raises
    ------
    ValueError
        If a size, count, radius or speed is out of range, or the balls do not fit in the
        frame without overlap.

    Examples
    --------
    >>> from deepbelief.datasets import bouncing_balls
    >>> videos = bouncing_balls(4, 20, random_state=0)
    >>> videos.shape, videos.dtype
    ((4, 20, 900), dtype('float32'))
    >>> videos, counts = bouncing_balls(6, 10, size=16, n_balls=(1, 2), random_state=0,
    ...                                 return_counts=True)
    >>> sorted(set(counts.tolist())) == [1, 2]
    True
    """
    for name, value in (("n_sequences", n_sequences), ("n_frames", n_frames), ("size", size)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if not 0.0 < radius < 0.5:
        raise ValueError(f"radius must lie in (0, 0.5) (a fraction of the frame), got {radius!r}")
    if not 0.0 < speed < radius:
        raise ValueError(
            f"speed must lie in (0, radius={radius}) so that balls cannot pass through each "
            f"other between two frames, got {speed!r}"
        )
    rng = as_rng(random_state)
    counts = _ball_counts(n_balls, int(n_sequences), rng)
    active = np.arange(counts.max())[None, :] < counts[:, None]
    track = _trajectories(active, int(n_frames), radius, speed, rng)
    frames = _render(track, active, int(size), radius)
    return (frames, counts) if return_counts else frames
