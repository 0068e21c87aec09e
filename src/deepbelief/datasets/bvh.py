"""Motion capture from BVH files: joint angles per frame for sequence models, and back.

BVH (Biovision hierarchy) files hold a skeleton (joints, offsets, each joint's rotation
channels) and one line of channel values per frame. :func:`load_bvh` reads one with the
``pybvh`` package (an optional dependency: ``pip install deepbelief[motion]``) and returns a
:class:`MotionCapture`: the root position as it is, then each joint's rotation coded for
learning (exponential maps as in Taylor, Hinton & Roweis, NIPS 2007; or sin/cos pairs; or
the degrees of the file). :func:`save_bvh` writes frames in that layout (a model's
generated motion) back to a BVH file with the skeleton of a loaded one.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from deepbelief.datasets.angles import (
    ANGLE_CODES,
    AngleCode,
    angle_names,
    decode_angles,
    encode_angles,
)
from deepbelief.io.atomic import atomic_write

__all__ = ["MotionCapture", "load_bvh", "save_bvh"]

_INSTALL_ADVICE = "pip install 'deepbelief[motion]'"


def _pybvh():
    """The ``pybvh`` module, or an ImportError that says how to install it."""
    try:
        import pybvh
    except ImportError as error:
        raise ImportError(
            f"reading and writing BVH files needs the pybvh package: {_INSTALL_ADVICE}"
        ) from error
    return pybvh


@dataclass(frozen=True)
class MotionCapture:
    """Frames of one BVH file in the layout of :func:`load_bvh`.

    Attributes
    ----------
    frames : ndarray of shape (n_frames, 3 + n_joints * k), float64
        The root position (file units, as stored) then each joint's coded rotation
        (``k`` = 3 for 'expmap' and 'degrees', 6 for 'sincos').
    channels : tuple of str
        One name per column of ``frames`` (e.g. ``'Hips_Xposition'``,
        ``'LeftKnee_expmap_x'``).
    frame_time : float
        Seconds per frame.
    angles : str
        The rotation code of ``frames``.
    joints : tuple of str
        The joints, in file order.
    orders : tuple of str
        Each joint's rotation channel order (e.g. ``'ZXY'``).
    skeleton : pybvh.Bvh
        The parsed file, which :func:`save_bvh` takes as the skeleton to write.
    """

    frames: np.ndarray
    channels: tuple[str, ...]
    frame_time: float
    angles: str
    joints: tuple[str, ...]
    orders: tuple[str, ...]
    skeleton: Any = field(repr=False)

    @property
    def root_position(self) -> np.ndarray:
        """The root position per frame, shape (n_frames, 3)."""
        return self.frames[:, :3]

    def columns(self, *joints: str) -> np.ndarray:
        """Indices of the columns of ``frames`` that belong to the joints named.

        Raises
        ------
        KeyError
            If a joint is not in the skeleton (the message lists those that are).
        """
        unknown = [joint for joint in joints if joint not in self.joints]
        if unknown:
            raise KeyError(f"no joint {unknown} in this skeleton; its joints: {list(self.joints)}")
        width = ANGLE_CODES[self.angles]
        index = []
        for joint in joints:
            start = 3 + width * self.joints.index(joint)
            index.extend(range(start, start + width))
        return np.asarray(index, dtype=np.intp)


def load_bvh(path: str | Path, angles: AngleCode = "expmap") -> MotionCapture:
    """Read a BVH file as frames of joint angles.

    The root's position is kept as it is in the file; each joint's Euler angles (in its own
    channel order) become exponential maps (rotation vectors, made continuous over time),
    sin/cos pairs, or stay degrees. The file is parsed by the ``pybvh`` package, which
    needs the root to have 3 position and 3 rotation channels and every other joint 3
    rotation channels.

    Parameters
    ----------
    path : str or Path
        A ``.bvh`` file.
    angles : {'expmap', 'sincos', 'degrees'}, default 'expmap'
        How rotations are coded (see :func:`~deepbelief.datasets.angles.encode_angles`).

    Returns
    -------
    MotionCapture
        ``frames`` of shape (n_frames, 3 + n_joints * k), channel names, frame time, joints,
        their Euler orders and the parsed skeleton.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If the file is not a BVH file pybvh can read (the message says why), or ``angles``
        is unknown.
    ImportError
        If pybvh is not installed (``pip install 'deepbelief[motion]'``).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from deepbelief.datasets import load_bvh
    >>> text = '''HIERARCHY
    ... ROOT Hips
    ... {
    ...   OFFSET 0 0 0
    ...   CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
    ...   End Site
    ...   {
    ...     OFFSET 0 10 0
    ...   }
    ... }
    ... MOTION
    ... Frames: 2
    ... Frame Time: 0.04
    ... 0 90 0 0 0 0
    ... 1 90 0 90 0 0
    ... '''
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "one.bvh"
    >>> _ = path.write_text(text)
    >>> motion = load_bvh(path)
    >>> motion.frames.round(4)
    array([[ 0.    , 90.    ,  0.    ,  0.    ,  0.    ,  0.    ],
           [ 1.    , 90.    ,  0.    ,  0.    ,  0.    ,  1.5708]])
    >>> motion.channels[-1], motion.frame_time
    ('Hips_expmap_z', 0.04)
    """
    if angles not in ANGLE_CODES:
        raise ValueError(f"angles must be one of {sorted(ANGLE_CODES)}, got {angles!r}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no BVH file at {path}")
    pybvh = _pybvh()
    try:
        skeleton = pybvh.read_bvh_file(path, world_up="+y")
    except (ValueError, IndexError, TypeError) as error:
        raise ValueError(f"{path} is not a BVH file we can read: {error}") from error
    joints, orders = tuple(skeleton.joint_names), tuple(skeleton.euler_orders)
    root_names = [f"{joints[0]}_{axis}position" for axis in skeleton.root.pos_channels]
    coded = encode_angles(np.asarray(skeleton.joint_angles), orders, angles)
    return MotionCapture(
        frames=np.column_stack([np.asarray(skeleton.root_pos, dtype=np.float64), coded]),
        channels=tuple(root_names + angle_names(joints, orders, angles)),
        frame_time=float(skeleton.frame_time),
        angles=angles,
        joints=joints,
        orders=orders,
        skeleton=skeleton,
    )


def save_bvh(
    path: str | Path,
    frames,
    like: MotionCapture | str | Path,
    *,
    angles: AngleCode | None = None,
    frame_time: float | None = None,
) -> Path:
    """Write frames in :func:`load_bvh`'s layout as a BVH file with a known skeleton.

    Parameters
    ----------
    path : str or Path
        The ``.bvh`` file to write (atomically; its folder must exist).
    frames : array-like of shape (n_frames, 3 + n_joints * k)
        Root position then coded joint rotations, e.g. a model's generated motion.
    like : MotionCapture, str or Path
        The skeleton: a loaded file, or the path of a BVH file to load.
    angles : {'expmap', 'sincos', 'degrees'}, optional
        The code of ``frames``; default: that of ``like`` ('expmap' when ``like`` is a path).
    frame_time : float, optional
        Seconds per frame; default: that of ``like``.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        If ``frames`` has the wrong number of columns for the skeleton and code, or holds
        values that are not finite, or ``path`` does not end in ``.bvh``.

    Examples
    --------
    Write a file's motion backwards:

    >>> import tempfile, pathlib
    >>> from deepbelief.datasets import load_bvh, save_bvh
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "in.bvh").write_text(
    ...     "HIERARCHY\\nROOT Hips\\n{\\nOFFSET 0 0 0\\n"
    ...     "CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation\\n"
    ...     "End Site\\n{\\nOFFSET 0 10 0\\n}\\n}\\n"
    ...     "MOTION\\nFrames: 2\\nFrame Time: 0.04\\n0 90 0 0 0 0\\n1 90 0 90 0 0\\n")
    >>> motion = load_bvh(folder / "in.bvh")
    >>> out = save_bvh(folder / "out.bvh", motion.frames[::-1], like=motion)
    >>> load_bvh(out, angles="degrees").frames
    array([[ 1., 90.,  0., 90.,  0.,  0.],
           [ 0., 90.,  0.,  0.,  0.,  0.]])
    """
    path = Path(path)
    if path.suffix != ".bvh":
        raise ValueError(f"a BVH file name ends in .bvh, got {path.name!r}")
    if not isinstance(like, MotionCapture):
        like = load_bvh(like, angles=angles or "expmap")
    code = like.angles if angles is None else angles
    frames = np.asarray(frames, dtype=np.float64)
    width = 3 + ANGLE_CODES.get(code, 0) * len(like.joints)
    if frames.ndim != 2 or frames.shape[1] != width:
        raise ValueError(
            f"frames for this skeleton ({len(like.joints)} joints, angles={code!r}) must "
            f"have shape (n_frames, {width}), got {frames.shape}"
        )
    if not np.isfinite(frames).all():
        raise ValueError("frames hold NaN or infinite values; a BVH file needs finite ones")
    skeleton = like.skeleton.copy()
    skeleton.root_pos = frames[:, :3]
    skeleton.joint_angles = decode_angles(frames[:, 3:], like.orders, code)
    skeleton.frame_time = like.frame_time if frame_time is None else float(frame_time)
    with tempfile.TemporaryDirectory() as folder:
        written = Path(folder) / path.name
        _pybvh().write_bvh_file(skeleton, written)
        return atomic_write(path, written.read_bytes())
