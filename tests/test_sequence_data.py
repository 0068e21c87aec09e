"""Tests for the sequence data: bouncing balls, synthetic gaits, joint-angle codes, BVH files
and sequence files (every BVH file is written by the test)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from deepbelief.datasets import (
    GAIT_CHANNELS,
    bouncing_balls,
    downsample,
    load_bvh,
    load_sequences,
    save_bvh,
    synthetic_gaits,
    upsample_bicubic,
)
from deepbelief.datasets.angles import angle_names, decode_angles, encode_angles
from deepbelief.datasets.bouncing import _collide, _trajectories

TAIT_BRYAN_ORDERS = ["XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX"]


# -- bouncing balls ----------------------------------------------------------------------------


def test_bouncing_balls_shape_dtype_and_range():
    videos = bouncing_balls(3, 12, size=20, n_balls=2, random_state=0)
    assert videos.shape == (3, 12, 400)
    assert videos.dtype == np.float32
    assert videos.min() >= 0.0 and videos.max() <= 1.0
    assert videos.max() > 0.99  # the ball centres are drawn at full intensity


def test_bouncing_balls_same_seed_same_videos_other_seed_other_videos():
    first = bouncing_balls(2, 15, random_state=7)
    np.testing.assert_array_equal(first, bouncing_balls(2, 15, random_state=7))
    assert not np.array_equal(first, bouncing_balls(2, 15, random_state=8))


def test_bouncing_balls_pixel_mass_is_conserved_over_frames():
    """Balls neither fade nor grow: the ink per frame stays within 2 % over 200 frames, and
    is proportional to the number of balls."""
    videos, counts = bouncing_balls(
        12, 200, n_balls=(1, 2, 3), random_state=1, return_counts=True
    )
    mass = videos.sum(axis=-1)
    relative_spread = (mass.max(axis=1) - mass.min(axis=1)) / mass.mean(axis=1)
    assert relative_spread.max() < 0.02
    per_ball = mass.mean(axis=1) / counts
    np.testing.assert_allclose(per_ball, per_ball[0], rtol=0.01)


def test_bouncing_balls_move_and_stay_inside_the_box():
    active = np.ones((5, 3), dtype=bool)
    track = _trajectories(active, 300, 0.12, 0.04, np.random.default_rng(0))
    # centres never go further past a wall than one frame's step
    assert track.min() > 0.12 - 0.04 and track.max() < 1 - 0.12 + 0.04
    step = np.linalg.norm(np.diff(track, axis=1), axis=-1)
    # collisions share out the energy, but no ball can hold more than all of it
    assert step.max() <= np.sqrt(3) * 0.04 + 1e-9
    assert np.median(step) > 0.03  # balls keep moving


def test_ball_collisions_are_elastic():
    """Touching balls that approach each other keep the total momentum and energy, and
    stop approaching."""
    rng = np.random.default_rng(0)
    position = np.array([[[0.45, 0.5], [0.55, 0.5]]]) + rng.normal(scale=0.01, size=(200, 2, 2))
    velocity = rng.normal(size=(200, 2, 2)) * 0.03
    before = velocity.copy()
    _collide(position, velocity, np.ones((200, 2), dtype=bool), radius=0.12)
    np.testing.assert_allclose(velocity.sum(axis=1), before.sum(axis=1), atol=1e-15)
    np.testing.assert_allclose((velocity**2).sum(axis=(1, 2)), (before**2).sum(axis=(1, 2)))
    normal = position[:, 0] - position[:, 1]
    closing = np.sum((velocity[:, 0] - velocity[:, 1]) * normal, axis=-1)
    assert (closing >= -1e-15).all()
    assert not np.allclose(velocity, before)  # some pairs did collide


def test_bouncing_balls_collisions_keep_balls_apart():
    active = np.ones((20, 3), dtype=bool)
    track = _trajectories(active, 200, 0.12, 0.04, np.random.default_rng(3))
    gaps = [
        np.linalg.norm(track[:, :, i] - track[:, :, j], axis=-1)
        for i in range(3)
        for j in range(i)
    ]
    # two balls may overlap by at most about one frame's step before they bounce apart
    assert min(gap.min() for gap in gaps) > 2 * 0.12 - 2 * 0.04


def test_bouncing_balls_counts_are_drawn_from_the_choices():
    videos, counts = bouncing_balls(30, 2, size=12, n_balls=(1, 3), random_state=0,
                                    return_counts=True)
    assert set(counts.tolist()) == {1, 3}
    assert len(counts) == len(videos)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_balls": 0}, "at least 1"),
        ({"n_balls": 2.5}, "sequence of ints"),
        ({"radius": 0.6}, "radius"),
        ({"speed": 0.2}, "speed"),
        ({"size": 0}, "size"),
        ({"n_balls": 12, "radius": 0.3}, "fewer balls or a smaller radius"),
    ],
)
def test_bouncing_balls_bad_arguments_say_what_is_wrong(kwargs, message):
    with pytest.raises(ValueError, match=message):
        bouncing_balls(2, 5, **kwargs, random_state=0)


# -- synthetic gaits ---------------------------------------------------------------------------


def test_synthetic_gaits_shapes_labels_and_lengths():
    sequences, styles = synthetic_gaits(9, n_frames=(40, 60), random_state=0)
    assert len(sequences) == 9 and styles.shape == (9,)
    assert sorted(set(styles.tolist())) == ["run", "walk"]
    assert (styles == "walk").sum() == 5  # 'both' balances the styles
    assert all(s.shape[1] == len(GAIT_CHANNELS) for s in sequences)
    assert all(40 <= len(s) <= 60 for s in sequences)
    assert len({len(s) for s in sequences}) > 1


def test_synthetic_gaits_are_reproducible_with_a_seed():
    first, styles = synthetic_gaits(3, 50, random_state=4)
    second, styles_again = synthetic_gaits(3, 50, random_state=4)
    np.testing.assert_array_equal(np.stack(first), np.stack(second))
    np.testing.assert_array_equal(styles, styles_again)
    other, _ = synthetic_gaits(3, 50, random_state=5)
    assert not np.array_equal(np.stack(first), np.stack(other))


def _stride_frames(sequence: np.ndarray) -> float:
    """The dominant period (frames) of the right hip's swing."""
    signal = sequence[:, GAIT_CHANNELS.index("right_hip")]
    power = np.abs(np.fft.rfft(signal - signal.mean())) ** 2
    frequency = np.fft.rfftfreq(len(signal))[np.argmax(power)]
    return 1.0 / frequency


def test_gait_styles_differ_in_period_and_knee_amplitude():
    walks, _ = synthetic_gaits(6, 320, style="walk", noise=0.0, random_state=0)
    runs, _ = synthetic_gaits(6, 320, style="run", noise=0.0, random_state=0)
    walk_period = np.median([_stride_frames(s) for s in walks])
    run_period = np.median([_stride_frames(s) for s in runs])
    assert 28 < walk_period < 37 and 17 < run_period < 23
    knee = GAIT_CHANNELS.index("right_knee")
    walk_knee = np.mean([np.ptp(s[:, knee]) for s in walks])
    run_knee = np.mean([np.ptp(s[:, knee]) for s in runs])
    assert run_knee > 1.5 * walk_knee


def test_gait_left_side_is_half_a_stride_behind_the_right():
    (walk,), _ = synthetic_gaits(1, 320, style="walk", noise=0.0, random_state=2)
    right = np.fft.rfft(walk[:, GAIT_CHANNELS.index("right_hip")])
    left = np.fft.rfft(walk[:, GAIT_CHANNELS.index("left_hip")])
    stride = np.argmax(np.abs(right[1:])) + 1  # the stride frequency
    lag = np.angle(right[stride] / left[stride])
    assert abs(abs(lag) - np.pi) < 0.15


def test_gait_noise_is_the_requested_size():
    clean, _ = synthetic_gaits(2, 200, style="walk", noise=0.0, random_state=3)
    noisy, _ = synthetic_gaits(2, 200, style="walk", noise=0.1, random_state=3)
    # same seed, same draws before the noise: the difference is the noise alone
    residual = np.concatenate(noisy) - np.concatenate(clean)
    assert 0.09 < residual.std() < 0.11


def test_gaits_with_more_channels_than_named_ones():
    sequences, _ = synthetic_gaits(2, 30, n_channels=30, random_state=0)
    assert sequences[0].shape == (30, 30)
    assert np.all(sequences[0].std(axis=0) > 0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"style": "hop"}, "style"),
        ({"n_channels": 0}, "n_channels"),
        ({"noise": -1.0}, "noise"),
        ({"n_frames": (10, 5)}, "n_frames"),
    ],
)
def test_synthetic_gaits_bad_arguments_say_what_is_wrong(kwargs, message):
    with pytest.raises(ValueError, match=message):
        synthetic_gaits(2, **kwargs)


# -- joint-angle codes -------------------------------------------------------------------------


def _canonical_euler(rng, n_frames: int, n_joints: int) -> np.ndarray:
    """Euler angles in the range scipy returns: first/last in (-pi, pi), middle in
    (-pi/2, pi/2), so that decoding returns the very same triple."""
    angles = rng.uniform(-np.pi * 0.95, np.pi * 0.95, size=(n_frames, n_joints, 3))
    angles[..., 1] /= 2
    return angles


@pytest.mark.parametrize("code", ["expmap", "sincos", "degrees"])
def test_euler_to_code_and_back_returns_the_angles(code):
    rng = np.random.default_rng(0)
    angles = _canonical_euler(rng, 7, len(TAIT_BRYAN_ORDERS))
    features = encode_angles(angles, TAIT_BRYAN_ORDERS, code)
    assert features.shape[1] == len(angle_names(["j"] * 6, TAIT_BRYAN_ORDERS, code))
    np.testing.assert_allclose(decode_angles(features, TAIT_BRYAN_ORDERS, code), angles,
                               atol=1e-9)


def test_expmap_follows_the_channel_order_of_each_joint():
    """'ZXY' means the rotation Rz @ Rx @ Ry (rotations about the moving axes)."""
    z, x, y = 0.3, -0.4, 1.1
    matrix = (Rotation.from_rotvec([0, 0, z]) * Rotation.from_rotvec([x, 0, 0])
              * Rotation.from_rotvec([0, y, 0]))
    expmap = encode_angles(np.array([[[z, x, y]]]), ["ZXY"], "expmap")[0]
    np.testing.assert_allclose(expmap, matrix.as_rotvec(), atol=1e-12)
    swapped = encode_angles(np.array([[[z, x, y]]]), ["ZYX"], "expmap")[0]
    assert not np.allclose(swapped, expmap)


def test_expmap_stays_continuous_when_a_joint_turns_past_half_a_turn():
    turn = np.deg2rad(np.arange(0, 400, 10.0))  # a joint spinning about z past 180 degrees
    angles = np.zeros((len(turn), 1, 3))
    angles[:, 0, 0] = np.angle(np.exp(1j * turn))  # as a file stores it: wrapped to +-180
    expmap = encode_angles(angles, ["ZXY"], "expmap")
    np.testing.assert_allclose(expmap[:, 2], turn, atol=1e-9)
    np.testing.assert_allclose(decode_angles(expmap, ["ZXY"], "expmap"), angles, atol=1e-9)


def test_angle_codes_reject_bad_orders_codes_and_shapes():
    with pytest.raises(ValueError, match="X, Y and Z"):
        encode_angles(np.zeros((1, 1, 3)), ["XXY"], "expmap")
    with pytest.raises(ValueError, match="angles must be one of"):
        encode_angles(np.zeros((1, 1, 3)), ["XYZ"], "quaternion")
    with pytest.raises(ValueError, match=r"shape \(n_frames, 6\)"):
        decode_angles(np.zeros((2, 5)), ["XYZ"], "sincos")


# -- BVH files ---------------------------------------------------------------------------------

# The root declares rotations before positions and each joint has its own order.
_HIERARCHY = """HIERARCHY
ROOT Hips
{
  OFFSET 0.0 0.0 0.0
  CHANNELS 6 Zrotation Xrotation Yrotation Xposition Yposition Zposition
  JOINT LeftKnee
  {
    OFFSET 1.0 -4.0 0.0
    CHANNELS 3 Xrotation Yrotation Zrotation
    End Site
    {
      OFFSET 0.0 -4.0 0.0
    }
  }
  JOINT RightKnee
  {
    OFFSET -1.0 -4.0 0.0
    CHANNELS 3 Yrotation Zrotation Xrotation
    End Site
    {
      OFFSET 0.0 -4.0 0.0
    }
  }
}
"""
_ORDERS = ("ZXY", "XYZ", "YZX")


def _write_bvh(path: Path, root: np.ndarray, degrees: np.ndarray, frame_time=0.0333333):
    """A BVH file of the skeleton above: root (n, 3) positions, degrees (n, 3 joints, 3)
    Euler angles in each joint's channel order (the root's rotations written first)."""
    rows = np.column_stack([degrees[:, 0], root, degrees[:, 1:].reshape(len(root), -1)])
    motion = "\n".join(" ".join(f"{v:.6f}" for v in row) for row in rows)
    path.write_text(f"{_HIERARCHY}MOTION\nFrames: {len(root)}\nFrame Time: {frame_time}\n"
                    f"{motion}\n")
    return path


@pytest.fixture
def small_bvh(tmp_path):
    rng = np.random.default_rng(0)
    root = rng.normal(size=(6, 3)) * 10
    degrees = np.rad2deg(_canonical_euler(rng, 6, 3))
    return _write_bvh(tmp_path / "walk.bvh", root, degrees), root, degrees


def test_load_bvh_in_degrees_keeps_the_file_values(small_bvh):
    path, root, degrees = small_bvh
    motion = load_bvh(path, angles="degrees")
    assert motion.joints == ("Hips", "LeftKnee", "RightKnee")
    assert motion.orders == _ORDERS
    np.testing.assert_allclose(motion.root_position, root, atol=1e-6)
    np.testing.assert_allclose(motion.frames[:, 3:], degrees.reshape(6, -1), atol=1e-6)
    assert motion.channels[:4] == ("Hips_Xposition", "Hips_Yposition", "Hips_Zposition",
                                   "Hips_Zrotation")
    assert motion.channels[6:9] == ("LeftKnee_Xrotation", "LeftKnee_Yrotation",
                                    "LeftKnee_Zrotation")
    assert motion.frame_time == pytest.approx(1 / 30)


@pytest.mark.parametrize("code", ["expmap", "sincos"])
def test_bvh_round_trip_euler_to_code_to_euler(small_bvh, tmp_path, code):
    """Euler (file) -> expmap or sin/cos -> Euler (written file) returns the file's angles."""
    path, root, degrees = small_bvh
    motion = load_bvh(path, angles=code)
    assert motion.frames.shape == (6, 3 + 3 * (3 if code == "expmap" else 6))
    out = save_bvh(tmp_path / "again.bvh", motion.frames, like=motion)
    again = load_bvh(out, angles="degrees")
    np.testing.assert_allclose(again.root_position, root, atol=1e-5)
    np.testing.assert_allclose(again.frames[:, 3:], degrees.reshape(6, -1), atol=1e-5)
    assert again.orders == _ORDERS


def test_save_bvh_takes_the_skeleton_from_a_path_and_new_frames(small_bvh, tmp_path):
    path, _, _ = small_bvh
    generated = np.zeros((4, 12))
    generated[:, 0] = np.arange(4)  # the root walks along x, every joint at rest
    out = save_bvh(tmp_path / "generated.bvh", generated, like=path, frame_time=0.01)
    again = load_bvh(out)
    np.testing.assert_allclose(again.frames, generated, atol=1e-6)
    assert again.frame_time == pytest.approx(0.01)


def test_motion_capture_columns_name_a_joint(small_bvh):
    motion = load_bvh(small_bvh[0], angles="sincos")
    index = motion.columns("RightKnee")
    assert [motion.channels[i] for i in index][:2] == ["RightKnee_Yrotation_sin",
                                                       "RightKnee_Yrotation_cos"]
    with pytest.raises(KeyError, match="LeftKnee"):
        motion.columns("Elbow")


def test_load_bvh_missing_file_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="no BVH file"):
        load_bvh(tmp_path / "absent.bvh")


@pytest.mark.parametrize(
    "text",
    [
        "this is not a motion file\n",
        _HIERARCHY + "MOTION\nFrames: 3\nFrame Time: 0.03\n" + "0 " * 12 + "\n",
        _HIERARCHY.replace("CHANNELS 3 Yrotation", "CHANNELS 2 Yrotation"),
    ],
    ids=["not-bvh", "fewer-frames-than-declared", "channel-count-mismatch"],
)
def test_load_bvh_wrong_file_gives_a_clear_error(tmp_path, text):
    path = tmp_path / "broken.bvh"
    path.write_text(text)
    with pytest.raises(ValueError, match="is not a BVH file we can read"):
        load_bvh(path)


def test_save_bvh_rejects_frames_of_the_wrong_width_or_not_finite(small_bvh, tmp_path):
    motion = load_bvh(small_bvh[0])
    with pytest.raises(ValueError, match=r"shape \(n_frames, 12\)"):
        save_bvh(tmp_path / "x.bvh", np.zeros((3, 11)), like=motion)
    with pytest.raises(ValueError, match="finite"):
        save_bvh(tmp_path / "x.bvh", np.full((3, 12), np.nan), like=motion)
    with pytest.raises(ValueError, match=r"ends in \.bvh"):
        save_bvh(tmp_path / "x.txt", motion.frames, like=motion)
    assert not (tmp_path / "x.bvh").exists()


def test_without_pybvh_the_error_says_how_to_install_it(small_bvh, monkeypatch):
    monkeypatch.setitem(sys.modules, "pybvh", None)  # import pybvh now raises ImportError
    with pytest.raises(ImportError, match=r"pip install 'deepbelief\[motion\]'"):
        load_bvh(small_bvh[0])


# -- sequence files ----------------------------------------------------------------------------


def test_load_sequences_from_npz_of_several_arrays_and_of_one_3d_array(tmp_path):
    np.savez(tmp_path / "many.npz", a=np.zeros((10, 3)), b=np.ones((7, 3), dtype=np.float32))
    sequences = load_sequences(tmp_path / "many.npz")
    assert [s.shape for s in sequences] == [(10, 3), (7, 3)]
    assert sequences[1].dtype == np.float32  # float data keep their precision
    np.save(tmp_path / "block.npy", np.arange(24).reshape(2, 4, 3))
    block = load_sequences(tmp_path / "block.npy")
    assert [s.shape for s in block] == [(4, 3), (4, 3)] and block[0].dtype == np.float64
    np.savez(tmp_path / "video.npz", bouncing_balls(3, 5, size=8, random_state=0))
    assert [s.shape for s in load_sequences(tmp_path / "video.npz")] == [(5, 64)] * 3


def test_load_sequences_from_a_folder_of_bvh_files(small_bvh, tmp_path):
    _, root, degrees = small_bvh
    _write_bvh(tmp_path / "z_second.bvh", root[:4], degrees[:4])
    sequences = load_sequences(tmp_path, angles="degrees")
    assert [s.shape for s in sequences] == [(6, 12), (4, 12)]  # walk.bvh sorts first


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda p: p / "absent.npz", FileNotFoundError, "no sequence file"),
        (lambda p: p, ValueError, "holds no .bvh file"),
        (lambda p: (np.save(p / "flat.npy", np.zeros(5)), p / "flat.npy")[1], ValueError,
         "2-D arrays"),
        (lambda p: (np.savez(p / "mixed.npz", np.zeros((4, 2)), np.zeros((4, 3))),
                    p / "mixed.npz")[1], ValueError, "different numbers of channels"),
        (lambda p: ((p / "text.npz").write_text("hello"), p / "text.npz")[1], ValueError,
         "not a NumPy"),
        (lambda p: (np.save(p / "words.npy", np.array([["a", "b"]])), p / "words.npy")[1],
         ValueError, "real numbers"),
    ],
    ids=["missing", "empty-folder", "1-d", "mixed-widths", "not-numpy", "strings"],
)
def test_load_sequences_bad_input_gives_a_clear_error(tmp_path, make, error, message):
    with pytest.raises(error, match=message):
        load_sequences(make(tmp_path))


def test_one_bvh_file_given_for_sequences_says_to_give_its_folder(small_bvh, tmp_path):
    """A single BVH file where a sequence file is expected: the error says to put it in a
    folder, and that folder then loads."""
    path = small_bvh[0]
    with pytest.raises(ValueError, match="put it in a folder of its own"):
        load_sequences(path)
    folder = tmp_path / "one"
    folder.mkdir()
    path.rename(folder / path.name)
    assert [s.shape for s in load_sequences(folder)] == [(6, 12)]


def test_a_text_file_as_sequences_gets_no_advice_to_unpickle(tmp_path):
    """NumPy reads a file without its header as a pickle and suggests allowing pickles; we
    never unpickle, so the message says what the file should be instead."""
    (tmp_path / "notes.npy").write_text("frame 1: left knee up\n")
    with pytest.raises(ValueError, match="not a NumPy") as caught:
        load_sequences(tmp_path / "notes.npy")
    assert "pickle" not in str(caught.value) and "folder of BVH files" in str(caught.value)


# -- super-resolution pairs --------------------------------------------------------------------


def test_downsample_averages_blocks():
    images = np.arange(32, dtype=float).reshape(2, 16)
    low = downsample(images, 2)
    assert low.shape == (2, 4)
    np.testing.assert_allclose(low[0], [2.5, 4.5, 10.5, 12.5])
    assert downsample(np.ones((1, 6)), 1, image_shape=(2, 3)).shape == (1, 6)


def test_bicubic_upsampling_matches_the_cubic_convolution_kernel():
    """Away from the edges, an impulse enlarged twice gives Keys' kernel (a = -0.5) sampled
    at the new pixel centres: offsets 0.25, 0.75, 1.25 and 1.75 source pixels."""
    impulse = np.zeros((1, 64))
    impulse[0, 3 * 8 + 3] = 1.0
    up = upsample_bicubic(impulse, 2, clip=False).reshape(16, 16)

    def keys(d):
        d = abs(d)
        return 1.5 * d**3 - 2.5 * d**2 + 1 if d <= 1 else -0.5 * d**3 + 2.5 * d**2 - 4 * d + 2

    row = up[7]  # the centre row of the enlarged pixel (its first half)
    expected = [keys(1.75), keys(1.25), keys(0.75), keys(0.25), keys(0.25), keys(0.75),
                keys(1.25), keys(1.75)]
    np.testing.assert_allclose(row[3:11] / keys(0.25), expected, atol=1e-12)
    constant = upsample_bicubic(np.full((2, 16), 0.3), 4)
    np.testing.assert_allclose(constant, 0.3)
    smooth = upsample_bicubic(downsample(np.tile(np.linspace(0, 1, 8), 8)[None], 2), 2)
    assert smooth.min() >= 0.0 and smooth.max() <= 1.0  # clipped to the input's range


def test_resolution_helpers_reject_bad_factors_and_shapes():
    with pytest.raises(ValueError, match="does not divide"):
        downsample(np.zeros((1, 64)), 3)
    with pytest.raises(ValueError, match="positive int"):
        upsample_bicubic(np.zeros((1, 4)), 0)
    with pytest.raises(ValueError, match="not square"):
        downsample(np.zeros((1, 10)), 2)


# -- pictures of sequences ---------------------------------------------------------------------


def test_save_gif_refuses_a_name_that_is_not_gif(tmp_path):
    """Pillow would write a still picture under a .png name; the error names the fix."""
    from deepbelief.plotting import save_gif

    video = bouncing_balls(1, 3, size=8, random_state=0)[0]
    with pytest.raises(ValueError, match=r"ends in \.gif"):
        save_gif(video, tmp_path / "video.png")
    assert not (tmp_path / "video.png").exists()
    assert save_gif(video, tmp_path / "video.GIF").is_file()
