"""Joint angles for learning: Euler angles to exponential maps or sin/cos pairs, and back.

Motion-capture files give each joint's rotation as three Euler angles in a channel order of
its own (``Zrotation Xrotation Yrotation``: the rotation ``Rz @ Rx @ Ry``). Euler angles
wrap around at ±180 degrees and have singularities, so Taylor, Hinton & Roweis (NIPS 2007)
converted them to exponential maps (rotation vectors: axis times angle, Grassia 1998);
sin/cos pairs are the other common choice. :func:`encode_angles` converts ``(n_frames,
n_joints, 3)`` Euler angles to one of these codes and :func:`decode_angles` inverts it.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Literal

import numpy as np
from scipy.spatial.transform import Rotation

__all__ = ["ANGLE_CODES", "angle_names", "decode_angles", "encode_angles"]

#: The codes :func:`encode_angles` offers, with the number of values per joint.
ANGLE_CODES: dict[str, int] = {"expmap": 3, "sincos": 6, "degrees": 3}

AngleCode = Literal["expmap", "sincos", "degrees"]


def _check(code: str, orders: Sequence[str]) -> None:
    if code not in ANGLE_CODES:
        raise ValueError(f"angles must be one of {sorted(ANGLE_CODES)}, got {code!r}")
    for order in orders:
        if sorted(order) != ["X", "Y", "Z"]:
            raise ValueError(f"an Euler order names X, Y and Z once each, got {order!r}")


def _unwrap_rotvecs(rotvecs: np.ndarray) -> np.ndarray:
    """Pick, frame after frame, the rotation vector of each rotation nearest the previous one.

    ``v`` and ``v (1 - 2 pi / |v|)`` are the same rotation; scipy returns the one with angle
    at most pi, which jumps when a joint turns past 180 degrees. The nearest equivalent keeps
    each channel continuous over time. ``rotvecs``: (n_frames, n_joints, 3), changed in place.
    """
    for t in range(1, len(rotvecs)):
        v, previous = rotvecs[t], rotvecs[t - 1]
        norm = np.linalg.norm(v, axis=-1, keepdims=True)
        # at no rotation the axis is undefined: keep the previous frame's
        reference = np.where(norm > 1e-9, v, previous)
        axis = reference / np.maximum(np.linalg.norm(reference, axis=-1, keepdims=True), 1e-12)
        # the equivalent angles are norm + 2 pi k; take k nearest the previous projection
        k = np.round((np.sum(previous * axis, axis=-1, keepdims=True) - norm) / (2 * np.pi))
        rotvecs[t] = axis * (norm + 2 * np.pi * k)
    return rotvecs


def encode_angles(angles: np.ndarray, orders: Sequence[str], code: AngleCode) -> np.ndarray:
    """Euler angles (radians) to the features of one code, joint after joint.

    Parameters
    ----------
    angles : ndarray of shape (n_frames, n_joints, 3)
        Euler angles in radians, in each joint's channel order.
    orders : sequence of str
        Each joint's channel order, e.g. ``'ZXY'`` (intrinsic rotations, as BVH files mean).
    code : {'expmap', 'sincos', 'degrees'}
        'expmap': the rotation vector (3 values per joint; continuous over frames);
        'sincos': sine and cosine of each angle (6); 'degrees': the angles in degrees (3).

    Returns
    -------
    ndarray of shape (n_frames, n_joints * ANGLE_CODES[code])

    Raises
    ------
    ValueError
        If the code or an order is unknown, or the shapes disagree.

    Examples
    --------
    >>> import numpy as np
    >>> angles = np.deg2rad([[[90.0, 0.0, 0.0]]])      # one frame, one joint, Z first
    >>> encode_angles(angles, ["ZXY"], "expmap").round(4)   # a quarter turn about z
    array([[0.    , 0.    , 1.5708]])
    >>> decode_angles(encode_angles(angles, ["ZXY"], "sincos"), ["ZXY"], "sincos")[0, 0]
    array([1.57079633, 0.        , 0.        ])
    """
    _check(code, orders)
    angles = np.asarray(angles, dtype=np.float64)
    if angles.ndim != 3 or angles.shape[1:] != (len(orders), 3):
        raise ValueError(
            f"angles must have shape (n_frames, {len(orders)}, 3), got {angles.shape}"
        )
    if code == "degrees":
        return np.rad2deg(angles).reshape(len(angles), -1)
    if code == "sincos":
        return np.stack([np.sin(angles), np.cos(angles)], axis=-1).reshape(len(angles), -1)
    rotvecs = np.empty_like(angles)
    for j, order in enumerate(orders):
        rotvecs[:, j] = Rotation.from_euler(order.upper(), angles[:, j]).as_rotvec()
    return _unwrap_rotvecs(rotvecs).reshape(len(angles), -1)


def decode_angles(features: np.ndarray, orders: Sequence[str], code: AngleCode) -> np.ndarray:
    """The inverse of :func:`encode_angles`: features to Euler angles in radians.

    Parameters
    ----------
    features : ndarray of shape (n_frames, n_joints * ANGLE_CODES[code])
    orders : sequence of str
        Each joint's channel order, as given to :func:`encode_angles`.
    code : {'expmap', 'sincos', 'degrees'}

    Returns
    -------
    ndarray of shape (n_frames, n_joints, 3)
        Euler angles in radians. From 'expmap' the first and last angle of each joint lie in
        [-pi, pi] and the middle one in [-pi/2, pi/2] (the same rotation as any other
        triple); 'sincos' pairs need not be normalised (``arctan2`` reads their direction).

    Raises
    ------
    ValueError
        If the code or an order is unknown, or the number of columns is wrong.
    """
    _check(code, orders)
    features = np.asarray(features, dtype=np.float64)
    width = ANGLE_CODES[code] * len(orders)
    if features.ndim != 2 or features.shape[1] != width:
        raise ValueError(
            f"{code} features of {len(orders)} joints must have shape (n_frames, {width}), "
            f"got {features.shape}"
        )
    n_frames = len(features)
    if code == "degrees":
        return np.deg2rad(features).reshape(n_frames, -1, 3)
    if code == "sincos":
        pairs = features.reshape(n_frames, -1, 3, 2)
        return np.arctan2(pairs[..., 0], pairs[..., 1])
    rotvecs = features.reshape(n_frames, -1, 3)
    angles = np.empty_like(rotvecs)
    with warnings.catch_warnings():
        # at gimbal lock scipy picks one of the equivalent triples and says so; any is right
        warnings.filterwarnings("ignore", message="Gimbal lock", category=UserWarning)
        for j, order in enumerate(orders):
            angles[:, j] = Rotation.from_rotvec(rotvecs[:, j]).as_euler(order.upper())
    return angles


def angle_names(joints: Sequence[str], orders: Sequence[str], code: AngleCode) -> list[str]:
    """Column names of :func:`encode_angles`'s features, e.g. ``'Hips_Zrotation_sin'``.

    Examples
    --------
    >>> angle_names(["Hips"], ["ZXY"], "expmap")
    ['Hips_expmap_x', 'Hips_expmap_y', 'Hips_expmap_z']
    """
    _check(code, orders)
    names = []
    for joint, order in zip(joints, orders, strict=True):
        if code == "expmap":
            names += [f"{joint}_expmap_{axis}" for axis in "xyz"]
        elif code == "degrees":
            names += [f"{joint}_{axis}rotation" for axis in order]
        else:
            names += [f"{joint}_{axis}rotation_{f}" for axis in order for f in ("sin", "cos")]
    return names
