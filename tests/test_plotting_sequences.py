"""Pictures of sequences: frame strips, joint-angle curves, animated GIFs and the
super-resolution grid write real files whose content matches what they were given."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from matplotlib.image import imread
from PIL import Image

from deepbelief.datasets import GAIT_CHANNELS, bouncing_balls, synthetic_gaits
from deepbelief.plotting import (
    plot_frame_strips,
    plot_joint_angles,
    plot_superresolution,
    save_gif,
)
from deepbelief.plotting.sequences import _upsampled

VIDEOS = bouncing_balls(3, 24, size=16, n_balls=2, random_state=0)
(WALK, RUN), _ = synthetic_gaits(2, 80, random_state=0)


def png_title(path) -> str:
    return Image.open(path).text.get("Title", "")


def ink_rows(path) -> int:
    """Rows of the picture with dark pixels (drawn content, not title or padding)."""
    grey = imread(path)[..., :3].mean(axis=2)
    return int((grey < 0.5).any(axis=1).sum())


def test_frame_strips_draw_one_row_per_sequence(tmp_path):
    one = plot_frame_strips({"real": VIDEOS[0]}, tmp_path / "one.png", every=2)
    three = plot_frame_strips(VIDEOS, tmp_path / "three.png", every=2)
    assert one.is_file() and three.is_file()
    assert ink_rows(three) > 2 * ink_rows(one)
    assert png_title(one) == "frames 0 to 22, every 2"


def test_frame_strips_of_different_lengths_and_a_frame_limit(tmp_path):
    path = plot_frame_strips({"real": VIDEOS[0], "generated": VIDEOS[1][:5]},
                             tmp_path / "s.png", max_frames=8, title="")
    assert png_title(path) == ""
    wide = imread(plot_frame_strips({"a": VIDEOS[0]}, tmp_path / "w.png", max_frames=20))
    narrow = imread(plot_frame_strips({"a": VIDEOS[0]}, tmp_path / "n.png", max_frames=5))
    # the image region grows with the frames drawn (both are drawn at one zoom)
    assert (imread(path).shape[1] <= wide.shape[1]) and narrow.shape[1] < wide.shape[1]


def test_frame_strips_reject_bad_input(tmp_path):
    with pytest.raises(ValueError, match="different widths"):
        plot_frame_strips({"a": VIDEOS[0], "b": VIDEOS[0][:, :100]}, tmp_path / "x.png")
    with pytest.raises(ValueError, match="positive"):
        plot_frame_strips(VIDEOS, tmp_path / "x.png", every=0)
    with pytest.raises(ValueError, match="not square"):
        plot_frame_strips({"a": np.zeros((3, 10))}, tmp_path / "x.png")
    with pytest.raises(ValueError, match="empty"):
        plot_frame_strips({}, tmp_path / "x.png")


def test_joint_angles_draw_real_and_generated_channels(tmp_path):
    path = plot_joint_angles({"real": WALK, "generated": RUN[:40]}, tmp_path / "a.png",
                             channels=[0, 1, 2, 3], channel_names=GAIT_CHANNELS,
                             starts={"generated": 40}, frame_time=1 / 30, n_cols=2,
                             title="walk")
    pixels = imread(path)
    assert png_title(path) == "walk"
    assert pixels.shape[0] > 300 and pixels.shape[1] > 500  # two rows of two panels
    # the default: the first six channels, three per row
    assert imread(plot_joint_angles(WALK, tmp_path / "b.png")).shape[1] > pixels.shape[1]


def test_joint_angles_reject_bad_channels_names_and_starts(tmp_path):
    with pytest.raises(ValueError, match=r"channels must lie in \[0, 12\)"):
        plot_joint_angles(WALK, tmp_path / "x.png", channels=[12])
    with pytest.raises(ValueError, match="3 names for 12 channels"):
        plot_joint_angles(WALK, tmp_path / "x.png", channel_names=["a", "b", "c"])
    with pytest.raises(ValueError, match="starts names"):
        plot_joint_angles({"real": WALK}, tmp_path / "x.png", starts={"fake": 3})


def test_gif_has_one_frame_per_video_frame_at_the_requested_rate(tmp_path):
    path = save_gif(VIDEOS[0], tmp_path / "sub" / "video.gif", fps=8)
    gif = Image.open(path)
    assert gif.format == "GIF" and gif.n_frames == 24
    assert gif.info["duration"] == pytest.approx(1000 / 8, abs=10)  # GIF counts 1/100 s
    gif.seek(0)
    first = np.asarray(gif.convert("L"), dtype=float)
    gif.seek(12)
    later = np.asarray(gif.convert("L"), dtype=float)
    assert np.abs(first - later).mean() > 1  # the balls moved
    assert first.shape == (18 * 4, 18 * 4)  # zoom 4, a padding pixel on each side


def test_gif_of_several_videos_side_by_side(tmp_path):
    path = save_gif({"real": VIDEOS[0], "generated": VIDEOS[1][:10]}, tmp_path / "two.gif")
    gif = Image.open(path)
    assert gif.n_frames == 24  # the longer video; the shorter holds its last frame
    single = Image.open(save_gif(VIDEOS[0], tmp_path / "one.gif"))
    assert gif.size[0] > 1.8 * single.size[0]


def test_gif_rejects_bad_settings(tmp_path):
    with pytest.raises(ValueError, match="fps"):
        save_gif(VIDEOS[0], tmp_path / "x.gif", fps=0)
    with pytest.raises(ValueError, match="non-empty"):
        save_gif(np.zeros((0, 256)), tmp_path / "x.gif")


def test_superresolution_grid_titles_each_estimate_with_its_error(tmp_path):
    rng = np.random.default_rng(0)
    truth = rng.uniform(0.2, 0.8, size=(6, 64))
    low = truth.reshape(6, 4, 2, 4, 2).mean(axis=(2, 4)).reshape(6, 16)
    path = plot_superresolution(low, {"off by 0.1": truth + 0.1, "exact": truth}, truth,
                                tmp_path / "sr.png", n_cols=3)
    assert png_title(path) == ("off by 0.1: MSE 0.0100, PSNR 20.0 dB; "
                               "exact: MSE 0.0000, PSNR inf dB")
    assert ink_rows(path) > 0


def test_upsampling_for_display_repeats_each_pixel():
    low = np.array([[1.0, 2.0, 3.0, 4.0]])
    np.testing.assert_array_equal(
        _upsampled(low, (2, 2), (4, 4)).reshape(4, 4),
        [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]])


def test_superresolution_grid_rejects_mismatched_arrays(tmp_path):
    truth = np.zeros((4, 64))
    with pytest.raises(ValueError, match="must match"):
        plot_superresolution(np.zeros((4, 16)), {"m": np.zeros((4, 63))}, truth,
                             tmp_path / "x.png", image_shape=(8, 8))
    with pytest.raises(ValueError, match="evenly"):
        plot_superresolution(np.zeros((4, 9)), {"m": truth}, truth, tmp_path / "x.png")
    with pytest.raises(ValueError, match="3 images, the estimates 4"):
        plot_superresolution(np.zeros((3, 16)), {"m": truth}, truth, tmp_path / "x.png")
    with pytest.raises(ValueError, match="empty"):
        plot_superresolution(np.zeros((4, 16)), {}, truth, tmp_path / "x.png")


def test_sequence_pictures_are_made_without_pyplot(tmp_path):
    had_pyplot = "matplotlib.pyplot" in sys.modules
    plot_frame_strips(VIDEOS, tmp_path / "a.png")
    plot_joint_angles(WALK, tmp_path / "b.png")
    save_gif(VIDEOS[0][:3], tmp_path / "c.gif")
    if not had_pyplot:
        assert "matplotlib.pyplot" not in sys.modules
