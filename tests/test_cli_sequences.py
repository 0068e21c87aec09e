"""The command line of sequence models and super-resolution, end to end through
:func:`deepbelief.cli.main` on small generated data: ``train --kind sequence`` and
``--kind superres``, ``generate``, ``fill-in`` and ``predict``, and their usage errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from deepbelief import ConditionalRBM, SequenceCRBM, load
from deepbelief.cli import main
from deepbelief.datasets import load_bvh, synthetic_gaits
from deepbelief.io.modelfile import describe

torch.set_num_threads(1)

SMALL = ["--epochs", "2", "--device", "cpu", "-q"]


def cli(capsys, *argv) -> tuple[int, str, str]:
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cli_sequences")


@pytest.fixture(scope="module")
def balls_model(folder) -> Path:
    path = folder / "balls.safetensors"
    status = main(["train", "--kind", "sequence", "--data", "bouncing-balls", "--n-sequences",
                   "6", "--n-frames", "20", "--layers", "16", "--order", "2", *SMALL,
                   "-o", str(path)])
    assert status == 0
    return path


@pytest.fixture(scope="module")
def gaits_file(folder) -> Path:
    sequences, _ = synthetic_gaits(4, (30, 40), random_state=0)
    path = folder / "gaits.npz"
    np.savez(path, *sequences)
    return path


@pytest.fixture(scope="module")
def gaits_model(folder, gaits_file) -> Path:
    path = folder / "gaits.safetensors"
    assert main(["train", "--kind", "sequence", "--data", str(gaits_file), "--layers", "12",
                 "12", "--order", "2", "1", *SMALL, "-o", str(path)]) == 0
    return path


# One hip joint under the root; the root's channels are as most files write them.
_BVH = """HIERARCHY
ROOT Hips
{{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT LeftHip
  {{
    OFFSET 1 -1 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    End Site
    {{
      OFFSET 0 -4 0
    }}
  }}
}}
MOTION
Frames: {n}
Frame Time: 0.04
{motion}
"""


@pytest.fixture(scope="module")
def mocap(folder) -> Path:
    """A folder of three small BVH files of a swinging leg."""
    root = folder / "mocap"
    root.mkdir()
    t = np.arange(40)
    for k in range(3):
        swing = 30 * np.sin(t / 4 + k)
        rows = np.column_stack([t * 0.1, np.full(40, 90.0), np.zeros(40), swing / 3,
                                np.zeros(40), np.zeros(40), swing, swing / 2, np.zeros(40)])
        motion = "\n".join(" ".join(f"{v:.4f}" for v in row) for row in rows)
        (root / f"walk{k}.bvh").write_text(_BVH.format(n=len(t), motion=motion))
    return root


def test_train_sequence_on_bouncing_balls_records_its_data(balls_model, capsys):
    model = load(balls_model)
    assert isinstance(model, SequenceCRBM)
    assert model.visible_units == "bernoulli"  # frames in [0, 1]
    assert model.n_features_in_ == 900 and model.orders_ == [2]
    record = describe(balls_model)["config"]["metadata"]["data"]
    assert record["source"] == "bouncing-balls" and record["n_sequences"] == 6
    assert record["n_samples"] == 120
    history = json.loads(balls_model.with_suffix(".history.json").read_text())
    assert len(history["pretrain"]) == 1 and len(history["pretrain"][0]) == 2


def test_train_sequence_prints_the_one_step_error_and_the_copy_baseline(folder, capsys,
                                                                        gaits_file):
    status, out, _ = cli(capsys, "train", "--kind", "sequence", "--data", gaits_file,
                         "--layers", "8", "--epochs", "1", "--device", "cpu",
                         "-o", folder / "one.safetensors")
    assert status == 0
    assert "SequenceCRBM 12 (gaussian) -> 8 (bernoulli), order 3" in out
    assert "4 sequences" in out and "one-step prediction error per frame" in out
    assert "copying the last frame" in out


def test_generate_writes_frames_a_gif_and_a_strip(balls_model, folder, capsys):
    out_file = folder / "gen.npz"
    gif = folder / "gen.gif"
    status, out, _ = cli(capsys, "generate", balls_model, "--steps", "12", "--n-gibbs", "3",
                         "-o", out_file, "--gif", gif, "--picture", folder / "gen.png")
    assert status == 0
    generated = np.load(out_file)["generated"]
    assert generated.shape == (12, 900)
    assert Image.open(gif).n_frames == 2 + 12  # the seed (order 2) and the generated frames
    assert (folder / "gen.png").is_file()
    assert "pixel mass per frame" in out


def test_generate_is_reproducible_with_a_seed(balls_model, folder, capsys):
    runs = []
    for name in ("a.npy", "b.npy"):
        assert cli(capsys, "generate", balls_model, "--steps", "4", "--n-gibbs", "2",
                   "--seed", "3", "-o", folder / name)[0] == 0
        runs.append(np.load(folder / name))
    np.testing.assert_array_equal(*runs)


def test_generate_from_a_seed_file(gaits_model, gaits_file, folder, capsys):
    seed = folder / "seed.npy"
    np.save(seed, np.load(gaits_file)["arr_1"][:5])
    status, out, _ = cli(capsys, "generate", gaits_model, "--seed-frames", seed, "--steps",
                         "7", "-o", folder / "cont.npy", "--picture", folder / "cont.png")
    assert status == 0
    assert np.load(folder / "cont.npy").shape == (7, 12)
    assert "seed of 3 frames" in out  # the receptive field of orders 2 + 1


def test_fill_in_estimates_missing_channels_better_than_their_means(gaits_model, gaits_file,
                                                                     folder, capsys):
    status, out, _ = cli(capsys, "fill-in", gaits_model, "--data", gaits_file,
                         "--mask-channels", "2-3", "--n-gibbs", "5", "-o",
                         folder / "filled.npz", "--picture", folder / "filled.png")
    assert status == 0
    filled = np.load(folder / "filled.npz")
    original = np.load(gaits_file)
    assert len(filled.files) == 4
    first, given = filled["sequence_0"], original["arr_0"]
    np.testing.assert_array_equal(first[:, [0, 1, 4]], given[:, [0, 1, 4]])  # observed kept
    assert not np.allclose(first[:, 2:4], given[:, 2:4])
    assert "channels 2-3 missing" in out and "training means" in out


@pytest.fixture(scope="module")
def mocap_model(mocap, folder) -> Path:
    path = folder / "mocap.safetensors"
    assert main(["train", "--kind", "sequence", "--data", str(mocap), "--layers", "8",
                 *SMALL, "-o", str(path)]) == 0
    return path


def test_bvh_folder_to_generated_bvh(mocap_model, folder, capsys):
    status, _, _ = cli(capsys, "generate", mocap_model, "--steps", "6", "--n-gibbs", "2",
                       "-o", folder / "walk.bvh")
    assert status == 0
    written = load_bvh(folder / "walk.bvh", angles="degrees")
    assert written.frames.shape == (6, 9) and written.joints == ("Hips", "LeftHip")
    assert written.frame_time == pytest.approx(0.04)


def test_train_superres_and_predict_against_bicubic(folder, capsys):
    model_path = folder / "sr.safetensors"
    status, out, _ = cli(capsys, "train", "--kind", "superres", "--data", "digits",
                         "--limit", "300", "--factor", "2", "--layers", "32", "--epochs", "3",
                         "--device", "cpu", "-o", model_path)
    assert status == 0
    assert "4x4 -> 8x8" in out and "bicubic MSE" in out
    model = load(model_path)
    assert isinstance(model, ConditionalRBM) and model.n_features_in_ == 16
    status, _, err = cli(capsys, "predict", model_path, "--limit", "12", "-o",
                         folder / "sr.npy", "--picture", folder / "sr.png")
    assert status == 0
    assert np.load(folder / "sr.npy").shape == (12, 64)
    assert "bicubic MSE" in err and (folder / "sr.png").is_file()
    low = folder / "low.npy"  # inputs already at the low resolution
    np.save(low, np.random.default_rng(0).uniform(size=(3, 16)))
    status, out, _ = cli(capsys, "predict", model_path, "--data", low)
    assert status == 0 and len(out.splitlines()) == 4  # header and three rows of CSV


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["train", "--kind", "sequence", "--data", "digits"], "holds images, not sequences"),
        (["train", "--kind", "sequence", "--data", "gaits", "--pretrain-epochs", "3"],
         "use --epochs"),
        (["train", "--kind", "sequence", "--data", "gaits", "--scale", "standard"],
         "--scale does not apply"),
        (["train", "--kind", "classifier", "--order", "2"], "--order does not apply"),
        (["train", "--kind", "rbm", "--factor", "2"], "--factor applies only to --kind superres"),
        (["train", "--kind", "sequence", "--data", "gaits", "--angles", "sincos"],
         "--angles applies to a folder of BVH files"),
        (["train", "--kind", "superres", "--data", "digits", "--scale", "minmax"],
         "--scale does not apply"),
        (["fill-in", "m.st", "--mask-channels", "3-1"], "low <= high"),
        (["generate", "m.st", "-o", "out.csv"], "write .npz, .npy or .bvh"),
        (["generate", "m.st", "--seed-frames", "a.npy", "--from-data"], "not allowed with"),
        (["generate", "m.st", "--gif", "balls.png"], "ends in .gif"),
        (["fill-in", "m.st", "--mask-channels", "2", "--method", "backwards"], "invalid choice"),
    ],
)
def test_usage_errors_in_the_commands_words(capsys, argv, fragment):
    status, _, err = cli(capsys, *argv)
    assert status == 2
    assert fragment in err and "Traceback" not in err


def test_errors_about_models_and_data_exit_with_one_line(balls_model, gaits_model, folder,
                                                         capsys):
    status, _, err = cli(capsys, "fill-in", balls_model, "--mask-channels", "900")
    assert status == 1 and "have 900 channels (0 to 899)" in err
    status, _, err = cli(capsys, "generate", balls_model, "-o", folder / "x.bvh")
    assert status == 1 and "not trained on BVH files" in err and "--like" in err
    status, _, err = cli(capsys, "generate", gaits_model, "--gif", folder / "x.gif")
    assert status == 1 and "square images" in err
    status, _, err = cli(capsys, "predict", balls_model, "--picture", folder / "p.png")
    assert status == 2 and "--picture applies to super-resolution" in err
    status, _, err = cli(capsys, "generate", balls_model, "--sequence", "99")
    assert status == 1 and "has 6 sequences" in err


def test_a_bvh_model_reads_numpy_sequences_without_an_angles_complaint(mocap_model, folder,
                                                                      capsys):
    """A model trained on BVH files, given a .npz of the same channels: --angles was never
    given, so no error may be about it."""
    frames = load(mocap_model).generate(np.zeros((3, 9)), 8, n_gibbs=2, random_state=0)
    np.savez(folder / "walks9.npz", np.vstack([np.zeros((3, 9)), frames]))
    status, out, err = cli(capsys, "generate", mocap_model, "--from-data",
                           folder / "walks9.npz", "--steps", "3", "--n-gibbs", "2", "-o",
                           folder / "again.npz")
    assert status == 0, err
    status, out, err = cli(capsys, "fill-in", mocap_model, "--data", folder / "walks9.npz",
                           "--mask-channels", "6-8", "--n-gibbs", "2", "-o",
                           folder / "again_filled.npz")
    assert status == 0, err
    assert "1 sequence of" in out


def test_frames_of_another_width_are_refused_in_the_commands_words(gaits_model, folder,
                                                                   capsys):
    """Data or a seed whose frames are not the model's width: one line naming both widths
    and the option to change, not a mask or feature-count error from inside."""
    np.savez(folder / "wide.npz", np.zeros((20, 13)))
    status, _, err = cli(capsys, "fill-in", gaits_model, "--data", folder / "wide.npz",
                         "--mask-channels", "2", "-o", folder / "w.npz")
    assert status == 1
    assert "frames of 13 channels, but the model's frames have 12" in err and "--data" in err
    status, _, err = cli(capsys, "generate", gaits_model, "--seed-frames",
                         folder / "wide.npz", "-o", folder / "w2.npz")
    assert status == 1 and "have 12: give --seed-frames" in err


def test_fill_in_scores_only_the_values_the_data_holds(gaits_model, gaits_file, folder,
                                                       capsys):
    """Missing channels stored as NaN: the error is over the known values, never nan; with
    none known the command says there is nothing to compare with."""
    sequences = [np.load(gaits_file)[k].copy() for k in ("arr_0", "arr_1")]
    sequences[0][:10, 2] = np.nan
    np.savez(folder / "holes.npz", *sequences)
    status, out, err = cli(capsys, "fill-in", gaits_model, "--data", folder / "holes.npz",
                           "--mask-channels", "2", "--n-gibbs", "2", "-o", folder / "h.npz")
    assert status == 0, err
    assert "nan" not in out and f"the {len(sequences[0]) + len(sequences[1]) - 10} values" in out
    assert np.isfinite(np.load(folder / "h.npz")["sequence_0"]).all()
    for sequence in sequences:
        sequence[:, 2] = np.nan
    np.savez(folder / "unknown.npz", *sequences)
    status, out, _ = cli(capsys, "fill-in", gaits_model, "--data", folder / "unknown.npz",
                         "--mask-channels", "2", "--n-gibbs", "2", "-o", folder / "u.npz")
    assert status == 0 and "no values of these channels to compare" in out


def test_fill_in_nan_in_an_unnamed_channel_says_to_name_it(gaits_model, gaits_file, folder,
                                                           capsys):
    """NaN outside --mask-channels: the error names the channel and the frame, and adding
    the channel to --mask-channels, as it says, works."""
    sequence = np.load(gaits_file)["arr_0"].copy()
    sequence[4, 5] = np.nan
    np.savez(folder / "hole5.npz", sequence)
    status, _, err = cli(capsys, "fill-in", gaits_model, "--data", folder / "hole5.npz",
                         "--mask-channels", "2", "-o", folder / "x.npz")
    assert status == 1
    assert "channels 5 (first in frame 4)" in err and "add them to --mask-channels" in err
    status, _, err = cli(capsys, "fill-in", gaits_model, "--data", folder / "hole5.npz",
                         "--mask-channels", "2,5", "--n-gibbs", "2", "-o", folder / "x.npz")
    assert status == 0, err
    assert np.isfinite(np.load(folder / "x.npz")["sequence_0"]).all()


@pytest.mark.filterwarnings("ignore::deepbelief.exceptions.SequenceRangeWarning")  # 2 epochs
def test_fill_in_method_chooses_offline_or_online(gaits_model, gaits_file, folder, capsys):
    """--method reaches SequenceCRBM.fill_in: each output is the estimator's own for that
    method, and the summary says which was used."""
    model = load(gaits_model)
    sequence = np.load(gaits_file)["arr_0"]
    mask = np.isin(np.arange(12), [2, 3])
    for method, words in (("offline", "from the whole sequence"), ("online", "frame by frame")):
        status, out, err = cli(capsys, "fill-in", gaits_model, "--data", gaits_file, "--limit",
                               "1", "--mask-channels", "2-3", "--n-gibbs", "3", "--method",
                               method, "-o", folder / f"{method}.npz")
        assert status == 0, err
        assert words in out
        expected = model.fill_in(sequence, mask, n_gibbs=3, random_state=0, method=method)
        np.testing.assert_allclose(np.load(folder / f"{method}.npz")["sequence_0"], expected)


def test_predict_of_a_superres_model_says_once_where_it_wrote_a_csv(folder, capsys):
    """``wrote FILE`` came twice for a CSV: once from the table writer, once more after."""
    model_path = folder / "sr_csv.safetensors"
    assert main(["train", "--kind", "superres", "--data", "digits", "--limit", "60",
                 "--layers", "8", "--epochs", "1", "--device", "cpu", "-q", "-o",
                 str(model_path)]) == 0
    capsys.readouterr()
    status, _, err = cli(capsys, "predict", model_path, "--limit", "5", "-o",
                         folder / "sr.csv")
    assert status == 0 and err.count("wrote") == 1
    assert len((folder / "sr.csv").read_text().splitlines()) == 6


def test_fill_in_tells_bounded_values_once_for_all_sequences(gaits_model, gaits_file, folder,
                                                             capsys, monkeypatch):
    """The model warns per sequence when it bounds filled-in values; over many sequences the
    command said the same thing once per sequence. Now one line counts them."""
    import warnings

    from deepbelief.exceptions import SequenceRangeWarning

    def bounding_fill_in(self, sequence, mask, **kwargs):
        warnings.warn("3 filled-in values were bounded", SequenceRangeWarning, stacklevel=2)
        warnings.warn("something else", UserWarning, stacklevel=2)
        return np.where(mask, 0.0, sequence)

    monkeypatch.setattr(SequenceCRBM, "fill_in", bounding_fill_in)
    status, _, err = cli(capsys, "fill-in", gaits_model, "--data", gaits_file,
                         "--mask-channels", "2", "-o", folder / "bounded.npz")
    assert status == 0
    lines = [line for line in err.splitlines() if "warning:" in line]
    assert sum("bounded" in line for line in lines) == 1
    assert "4 of 4 sequences" in err and "the first: 3 filled-in values" in err
    assert "something else" in err  # other warnings pass as they are


# -- the other commands on sequence and super-resolution models (issue 16's field report) --
@pytest.fixture(scope="module")
def superres_model(folder) -> Path:
    path = folder / "sr_small.safetensors"
    assert main(["train", "--kind", "superres", "--data", "digits", "--limit", "60",
                 "--layers", "8", "--epochs", "1", "--device", "cpu", "-q", "-o",
                 str(path)]) == 0
    return path


def test_inspect_shows_a_sequence_models_layers_orders_and_history(gaits_model, capsys):
    """inspect failed on a SequenceCRBM's history (one list of epochs per layer)."""
    status, out, err = cli(capsys, "inspect", gaits_model)
    assert status == 0, err
    assert "layers: 12 (gaussian) -> 12 (bernoulli) -> 12 (bernoulli), orders 2, 1" in out
    assert "each frame given the 3 frames before it" in out
    assert "history: layer epochs [2, 2]" in out and "last reconstruction error" in out
    status, out, _ = cli(capsys, "inspect", gaits_model, "--json")
    info = json.loads(out)
    assert status == 0 and info["orders"] == [2, 1] and info["receptive_field"] == 3
    assert info["history"]["layer_epochs"] == [2, 2]


def test_plot_curves_of_a_sequence_model_draws_a_line_per_layer(gaits_model, folder, capsys):
    """plot curves failed on a SequenceCRBM's history; it draws it as its history file."""
    from deepbelief.plotting.charts import _series

    status, _, err = cli(capsys, "plot", "curves", gaits_model, "-o", folder / "c.png")
    assert status == 0, err
    assert (folder / "c.png").is_file()
    lines = _series(load(gaits_model))["pretraining: reconstruction error"]
    assert [label for label, _, _ in lines] == ["layer 1", "layer 2"]
    history = json.loads(Path(str(gaits_model).replace(".safetensors", ".history.json"))
                         .read_text())
    assert _series(history) == _series(load(gaits_model))


def test_transform_of_a_superres_model_writes_its_hidden_features(superres_model, folder,
                                                                  capsys):
    """transform failed on a ConditionalRBM: the features of images at the high resolution
    (downsampled, as predict does) or of low-resolution input alone."""
    from deepbelief.cli.io import load_data
    from deepbelief.datasets import downsample

    model = load(superres_model)
    status, _, err = cli(capsys, "transform", superres_model, "--limit", "5", "-o",
                         folder / "f.npy")
    assert status == 0, err
    X = load_data("digits", split="test", limit=5).X
    np.testing.assert_allclose(np.load(folder / "f.npy"),
                               model.hidden_features(downsample(X, 2), X), rtol=1e-5)
    np.save(folder / "low5.npy", downsample(X, 2))
    status, _, err = cli(capsys, "transform", superres_model, "--data", folder / "low5.npy",
                         "-o", folder / "f_low.npy")
    assert status == 0, err
    np.testing.assert_allclose(np.load(folder / "f_low.npy"),
                               model.hidden_features(downsample(X, 2)), rtol=1e-5)


def test_evaluate_a_sequence_model_reports_its_one_step_error(balls_model, gaits_model,
                                                              gaits_file, capsys):
    """evaluate said a generated training set 'no longer exists' or asked for an array X;
    it scores one-step prediction on the recorded or given sequences."""
    status, out, err = cli(capsys, "evaluate", balls_model, "--json")
    assert status == 0, err
    metrics = json.loads(out)
    from deepbelief.datasets import bouncing_balls

    videos = list(bouncing_balls(6, 20, random_state=0))
    assert metrics["n_sequences"] == 6 and metrics["n_predicted_frames"] == 6 * 18
    assert metrics["one_step_error"] == pytest.approx(-load(balls_model).score(videos))
    assert metrics["copy_last_frame_error"] > 0
    status, out, err = cli(capsys, "evaluate", gaits_model, "--data", gaits_file)
    assert status == 0, err
    assert "one step error:" in out and "copy last frame error:" in out
    status, _, err = cli(capsys, "evaluate", gaits_model, "--data", gaits_file, "--split",
                         "test")
    assert status == 2 and "--split does not apply to sequence models" in err


def test_transform_of_a_sequence_model_writes_features_per_frame(gaits_model, gaits_file,
                                                                 folder, capsys):
    """transform of a SequenceCRBM: each sequence's features from frame receptive_field_
    on (.npz: one array per sequence; CSV: sequence and frame columns)."""
    model = load(gaits_model)
    sequences = [np.load(gaits_file)[f"arr_{i}"] for i in range(4)]
    expected = model.transform(sequences)
    status, _, err = cli(capsys, "transform", gaits_model, "--data", gaits_file, "-o",
                         folder / "feat.npz")
    assert status == 0, err
    written = np.load(folder / "feat.npz")
    for i, features in enumerate(expected):
        np.testing.assert_allclose(written[f"sequence_{i}"], features)
    status, out, _ = cli(capsys, "transform", gaits_model, "--data", gaits_file, "--limit", "1")
    rows = out.splitlines()
    assert status == 0 and rows[0].startswith("sequence,frame,feature_0,")
    assert rows[1].startswith("0,3,") and len(rows) == 1 + len(expected[0])
    status, _, err = cli(capsys, "transform", gaits_model, "--data", gaits_file, "-o",
                         folder / "feat.npy")  # sequences of 30 to 40 frames
    assert status == 1 and "write .npz" in err
    np.savez(folder / "short.npz", sequences[0][:3])  # no frame with 3 frames of past
    status, _, err = cli(capsys, "transform", gaits_model, "--data", folder / "short.npz")
    assert status == 1 and "has 3 frames; the model needs at least 4" in err


def test_sample_and_pictures_of_sequence_models_name_the_command_to_use(
        gaits_model, balls_model, folder, capsys):
    """sample and plot asked a 12-channel sequence model for --image-shape; they name the
    sequence command that does the job instead."""
    status, _, err = cli(capsys, "sample", gaits_model, "-o", folder / "s.png")
    assert status == 1 and "'deepbelief generate'" in err and "--image-shape" not in err
    status, _, err = cli(capsys, "plot", "samples", balls_model, "-o", folder / "s.png")
    assert status == 1 and "'deepbelief generate'" in err
    status, _, err = cli(capsys, "plot", "filters", gaits_model, "-o", folder / "f.png")
    assert status == 2 and "not images" in err and "'deepbelief generate" in err
    status, _, err = cli(capsys, "plot", "reconstructions", gaits_model, "-o", folder / "r.png")
    assert status == 1 and "'deepbelief generate" in err and "--picture" in err
    status, _, err = cli(capsys, "complete", gaits_model)
    assert status == 1 and "'deepbelief fill-in'" in err
    status, _, err = cli(capsys, "predict", gaits_model)
    assert status == 1 and "'deepbelief generate'" in err
    status, _, err = cli(capsys, "plot", "filters", balls_model, "-o", folder / "bf.png")
    assert status == 0, err
    assert (folder / "bf.png").is_file()  # frames of 16x16 pixels
    status, _, err = cli(capsys, "plot", "embedding", balls_model, "-o", folder / "be.png")
    assert status == 0, err
    assert (folder / "be.png").is_file()


def _advised(err: str) -> list[str]:
    """The arguments of the first 'deepbelief ...' command an error message advises."""
    return err.split("'deepbelief ", 1)[1].split("'", 1)[0].split()


@pytest.mark.filterwarnings("ignore::deepbelief.exceptions.SequenceRangeWarning")  # 2 epochs
def test_the_commands_advised_for_sequence_and_superres_models_work(
        gaits_model, superres_model, folder, capsys, monkeypatch):
    """Followed as written, the command each refusal names runs."""
    monkeypatch.chdir(folder)
    for argv in (["plot", "filters", gaits_model], ["plot", "reconstructions", gaits_model],
                 ["plot", "predictions", superres_model, "--limit", "4"]):
        status, _, err = cli(capsys, *argv, "-o", folder / "refused.png")
        assert status in (1, 2)
        advice = _advised(err)
        status, _, err = cli(capsys, *advice)
        assert status == 0, (advice, err)
        assert Path(advice[advice.index("--picture") + 1]).is_file()


def test_pictures_and_samples_of_a_superres_model(superres_model, folder, capsys):
    """A superres model's filters are 8x8 images (its outputs), not its 4x4 input; its
    commands for images of other models point to predict."""
    status, _, err = cli(capsys, "plot", "filters", superres_model, "-o", folder / "sf.png")
    assert status == 0, err
    assert (folder / "sf.png").is_file()
    status, _, err = cli(capsys, "plot", "embedding", superres_model, "--limit", "40",
                         "-o", folder / "se.png")
    assert status == 0, err
    assert (folder / "se.png").is_file()
    for argv in (["sample"], ["complete"], ["plot", "reconstructions"]):
        status, _, err = cli(capsys, *argv, superres_model, "-o", folder / "x.png")
        assert status == 1 and "'deepbelief predict" in err, (argv, err)


def test_evaluate_a_superres_model_reads_images_as_predict_does(superres_model, folder,
                                                                capsys):
    """evaluate refused the high-resolution images that predict downsamples; it now scores
    the model against the truth and bicubic upsampling, and low-resolution input (no
    truth) is sent to predict."""
    status, out, err = cli(capsys, "evaluate", superres_model, "--limit", "20", "--json")
    assert status == 0, err
    metrics = json.loads(out)
    assert metrics["n_samples"] == 20 and metrics["factor"] == 2
    from deepbelief.cli.io import load_data
    from deepbelief.datasets import downsample, upsample_bicubic

    X = load_data("digits", split="test", limit=20).X
    low = downsample(X, 2).astype(np.float32)
    mse = np.mean((load(superres_model).predict(low) - X) ** 2)
    assert metrics["mse"] == pytest.approx(mse)
    assert metrics["psnr"] == pytest.approx(10 * np.log10(1 / mse))
    assert metrics["bicubic_mse"] == pytest.approx(np.mean((upsample_bicubic(low, 2) - X) ** 2))
    np.save(folder / "low3.npy", np.zeros((3, 16)))
    status, _, err = cli(capsys, "evaluate", superres_model, "--data", folder / "low3.npy")
    assert status == 1 and "'deepbelief predict'" in err and "high-resolution" in err
    status, out, err = cli(capsys, "predict", superres_model, "--data", folder / "low3.npy")
    assert status == 0, err
    assert len(out.splitlines()) == 4  # the advice works: a header and three rows


def test_progress_lines_name_the_layer_once(folder, capsys):
    """Progress read '[SequenceCRBM layer 1] layer 1, epoch 1'."""
    status, _, err = cli(capsys, "train", "--kind", "sequence", "--data", "gaits",
                         "--n-sequences", "3", "--n-frames", "12", "--layers", "4", "4",
                         "--order", "1", "--epochs", "1", "--device", "cpu", "--no-history",
                         "-o", folder / "progress.safetensors")
    assert status == 0
    assert "[SequenceCRBM] layer 1, epoch 1" in err and "[SequenceCRBM] layer 2, epoch 1" in err
    assert "layer 1] layer 1" not in err
