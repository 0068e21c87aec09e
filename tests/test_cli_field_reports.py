"""Field reports on the command line (issue 20, items 1, 2, 6, 7 and 10): nothing a run
writes is lost to a bad output path, checkpoints never replace a model, errors speak the
command line's words, an interrupt and a resume say where training stands, and files of
the wrong kind are named for what they are.

Most cases call :func:`deepbelief.cli.main` in this process; the Ctrl-C case sends a real
SIGINT to a ``python -m deepbelief`` subprocess.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import deepbelief.cli.inference
import deepbelief.cli.pictures
import deepbelief.cli.train
from deepbelief import RBM, DBNClassifier, load
from deepbelief.cli import load_data, main
from deepbelief.cli.messages import cli_words
from deepbelief.cli.parser import build_parser
from deepbelief.datasets import load_digits
from deepbelief.exceptions import ModelFileError
from deepbelief.io.modelfile import describe, load_file
from deepbelief.training.callbacks import Callback

torch.set_num_threads(1)

#: A tiny, fast ``train`` run (two hidden layers, so that pretraining has layers 1 and 2).
TINY = ["--layers", "8", "8", "--pretrain-epochs", "2", "--epochs", "2", "--limit", "300",
        "--device", "cpu"]


def error_line(capsys, status: int, expected: int) -> str:
    """The one error line on stderr (after checking the exit status)."""
    err = capsys.readouterr().err
    assert status == expected, err
    lines = [line for line in err.splitlines() if "error:" in line or "interrupted" in line]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A tiny classifier and a tiny RBM, saved, in a folder of their own."""
    folder = tmp_path_factory.mktemp("models")
    X, y = load_digits()
    DBNClassifier((8,), pretrain_epochs=1, max_iter=1, device="cpu").fit(X[:200], y[:200]) \
        .save(folder / "clf.safetensors")
    RBM(8, n_iter=1, device="cpu").fit(X[:200]).save(folder / "rbm.safetensors")
    return folder


@pytest.fixture
def no_work(monkeypatch):
    """Make every command's first piece of work fail the test: an error raised after this
    fixture proves that the command stopped before loading data or a model."""

    def forbidden(*args, **kwargs):
        raise AssertionError("work started before the outputs were checked")

    for module in (deepbelief.cli.train, deepbelief.cli.inference, deepbelief.cli.pictures):
        for name in ("data_from_args", "load_model"):
            if hasattr(module, name):
                monkeypatch.setattr(module, name, forbidden)


# -- item 1: every output path is checked (its folder created) before any work -------------
def test_train_into_missing_folders_creates_them_and_saves_everything(tmp_path, capsys):
    """-o and --checkpoint in folders that do not exist yet: created, nothing lost."""
    model = tmp_path / "nodir" / "sub" / "model.safetensors"
    ckpt = tmp_path / "ckpts" / "run.ckpt"
    status = main(["train", *TINY, "-q", "-o", str(model), "--checkpoint", str(ckpt)])
    assert status == 0, capsys.readouterr().err
    assert load(model).n_features_in_ == 64
    assert model.with_suffix(".history.json").is_file() and ckpt.is_file()


def _every_output(tmp_path: Path, models: Path, bad: str) -> list[list[str]]:
    """One command line per output option of every command, that option set to ``bad``."""
    clf, rbm = str(models / "clf.safetensors"), str(models / "rbm.safetensors")
    good = str(tmp_path / "fine.safetensors")
    return [
        ["train", "-o", bad],
        ["train", "-o", good, "--history", bad],
        ["train", "-o", good, "--checkpoint", bad],
        ["predict", clf, "-o", bad],
        ["transform", clf, "-o", bad],
        ["sample", rbm, "-o", bad],
        ["sample", rbm, "--npy", bad],
        ["complete", rbm, "-o", bad],
        ["plot", "filters", clf, "-o", bad],
        ["plot", "curves", clf, "-o", bad],
    ]


@pytest.mark.parametrize("where", ["folder", "under a file", "unwritable"])
def test_a_bad_output_path_is_one_line_before_any_work(where, tmp_path, models, no_work,
                                                       capsys):
    """A folder given as the file, a path under a file, a folder that cannot be created:
    every command says so in one line before it loads data or a model."""
    (tmp_path / "adir").mkdir()
    (tmp_path / "afile").write_text("x")
    bad = {"folder": str(tmp_path / "adir"), "under a file": str(tmp_path / "afile" / "o.x"),
           "unwritable": "/proc/deepbelief-cannot-be-here/o.x"}[where]
    expected = {"folder": "is a folder", "under a file": "is a file, not a folder",
                "unwritable": "cannot create the folder"}[where]
    for argv in _every_output(tmp_path, models, bad):
        line = error_line(capsys, main(argv), 1)
        assert line.startswith(f"deepbelief {argv[0]}: error: ") and expected in line, argv


def test_demo_output_folder_is_checked_before_training(tmp_path, capsys, monkeypatch):
    """demo --output naming a file: refused before the demo trains."""
    import deepbelief.demo

    monkeypatch.setattr(deepbelief.demo, "main", lambda *a: pytest.fail("trained"))
    (tmp_path / "afile").write_text("x")
    line = error_line(capsys, main(["demo", "--output", str(tmp_path / "afile")]), 1)
    assert "is a file, not a folder" in line


# -- item 2: a checkpoint never replaces a model ----------------------------------------------
@pytest.mark.parametrize("resume", [False, True])
def test_checkpoint_over_a_trained_model_is_refused_before_training(resume, tmp_path, models,
                                                                    no_work, capsys):
    """--checkpoint naming a trained model: refused before any data is loaded, the model
    left as it was, and no advice to delete it."""
    target = tmp_path / "model.safetensors"
    target.write_bytes((models / "clf.safetensors").read_bytes())
    before = target.read_bytes()
    argv = ["train", "-o", str(tmp_path / "new.safetensors"), "--checkpoint", str(target)]
    line = error_line(capsys, main(argv + ["--resume"] * resume), 1)
    assert f"--checkpoint {target} is a trained DBNClassifier model" in line
    assert "Give --checkpoint another path" in line
    assert "delet" not in line.lower() and "checkpoint=" not in line
    assert target.read_bytes() == before


def test_output_and_checkpoint_naming_one_file_are_refused(tmp_path, no_work, capsys):
    """-o and --checkpoint the same file: the model would replace the checkpoint."""
    path = str(tmp_path / "run.ckpt")
    line = error_line(capsys, main(["train", "-o", path, "--checkpoint", path]), 2)
    assert "-o and --checkpoint both name" in line and "--checkpoint another file" in line


# -- item 6: the command line's words ---------------------------------------------------------
#: (command line, library message, what the command line says instead)
_TRANSLATIONS = [
    (["train"], "Or pass resume=False to train from the start.",
     "Or run without --resume to train from the start."),
    (["train"], "max_iter=1 in the checkpoint, 2 now", "--epochs 1 in the checkpoint, 2 now"),
    (["train", "--kind", "rbm"], "n_iter=3.", "--epochs 3."),
    (["train"], "use visible_units='gaussian' on standardized data",
     "use --visible-units gaussian on standardized data"),
    (["evaluate", "m"], "use device='cpu' or 'auto'.", "use --device cpu or auto."),
    (["train"], "set DEEPBELIEF_DATA or pass root=.", "set DEEPBELIEF_DATA or pass --data-dir."),
    (["train"], "set validation_fraction between 0.1 and 0.3",
     "set --validation-fraction between 0.1 and 0.3"),
    (["train"], "pretrain_momentum=0.5 differs", "--set pretrain_momentum=0.5 differs"),
    (["train"], "checkpoint=<path> is needed", "--checkpoint PATH is needed"),
    (["train"], "early_stopping=True holds out validation_fraction=0.1",
     "--early-stopping holds out --validation-fraction 0.1"),
    (["sample", "m"], "use binary=False (means)", "run without --binary (means)"),
    (["train"], "The 'max_iter' parameter of DBNClassifier must be",
     "The --epochs option of DBNClassifier must be"),
    (None, "pass resume=False", "pass resume=False"),
]


@pytest.mark.parametrize(("argv", "message", "expected"), _TRANSLATIONS)
def test_parameter_names_are_translated_to_option_names(argv, message, expected):
    """The library's parameter names become the options of the command that ran."""
    args = None if argv is None else build_parser().parse_args(argv)
    assert cli_words(message, args) == expected


def test_resuming_with_other_settings_speaks_of_options(tmp_path, capsys):
    """A resume with another --epochs: the error names --epochs and 'without --resume',
    not max_iter= and resume=False."""
    ckpt, out = str(tmp_path / "run.ckpt"), str(tmp_path / "m.safetensors")
    assert main(["train", *TINY, "-q", "-o", out, "--checkpoint", ckpt]) == 0
    capsys.readouterr()
    argv = ["train", *TINY[:-4], "--epochs", "3", *TINY[-4:], "-q", "-o", out,
            "--checkpoint", ckpt, "--resume"]
    line = error_line(capsys, main(argv), 1)
    assert "--epochs 2 in the checkpoint, 3 now" in line and "without --resume" in line
    assert "max_iter" not in line and "resume=False" not in line


def test_every_error_line_names_its_command(models, capsys):
    """Errors raised inside a command's code start with 'deepbelief <command>: error:'."""
    argv = ["sample", str(models / "rbm.safetensors"), "--image-shape", "3x3"]
    line = error_line(capsys, main(argv), 2)
    assert line.startswith("deepbelief sample: error: --image-shape 3x3 has 9 pixels")
    line = error_line(capsys, main(["train", "--layers", "8", "--bogus"]), 2)
    assert line == ("deepbelief train: error: unrecognized arguments: --bogus (see "
                    "'deepbelief train --help')")


# -- item 7: interrupt and resume say where training stands -----------------------------------
class _CtrlC(Callback):
    """Ctrl-C at the end of the ``n``-th epoch (before that epoch's checkpoint is saved)."""

    def __init__(self, n: int) -> None:
        self.n, self.seen = n, 0

    def on_epoch_end(self, context) -> None:
        self.seen += 1
        if self.seen == self.n:
            raise KeyboardInterrupt


def _interrupt_at(monkeypatch, n: int) -> None:
    progress = deepbelief.cli.train._progress_callbacks
    monkeypatch.setattr(deepbelief.cli.train, "_progress_callbacks",
                        lambda args: [*progress(args), _CtrlC(n)])


def test_interrupt_and_resume_say_where_training_stands(tmp_path, capsys, monkeypatch):
    """Ctrl-C names the epoch and phase saved and the way to continue; the resume names
    where it continues; its summary labels this call's time apart from the phases'."""
    ckpt, out = tmp_path / "run.ckpt", str(tmp_path / "m.safetensors")
    argv = ["train", *TINY, "-o", out, "--checkpoint", str(ckpt), "--resume"]
    _interrupt_at(monkeypatch, 4)  # epochs 1-2 of layer 1, then epoch 2 of layer 2
    line = error_line(capsys, main([*argv, "-q"]), 130)
    assert line == (f"deepbelief train: interrupted: checkpoint saved after epoch 1 of "
                    f"pretraining layer 2 in {ckpt}; run the same command with --resume to "
                    "continue")
    _interrupt_at(monkeypatch, 3)  # epoch 2 of layer 2, epoch 1 of fine-tuning, then 2
    assert main(argv) == 130
    assert ("resuming from " f"{ckpt}: continuing after epoch 1 of pretraining layer 2"
            in capsys.readouterr().err)
    monkeypatch.setattr(deepbelief.cli.train, "_progress_callbacks", lambda args: [])
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "continuing after epoch 1 of fine-tuning" in captured.err
    assert "Resuming from the checkpoint" not in captured.err  # one line says it
    assert "time of this call:" in captured.out and "total time" not in captured.out
    assert "the phase times above count the whole run" in captured.out


def test_interrupt_without_checkpoint_says_the_run_is_lost(tmp_path, capsys, monkeypatch):
    """Ctrl-C without --checkpoint: the run is lost, and how to checkpoint the next one."""
    _interrupt_at(monkeypatch, 1)
    argv = ["train", *TINY, "-q", "-o", str(tmp_path / "m.safetensors")]
    line = error_line(capsys, main(argv), 130)
    assert not (tmp_path / "m.safetensors").exists()
    assert "the run is lost" in line and "--checkpoint PATH" in line and "--resume" in line


def test_inspect_reads_a_checkpoint(tmp_path, capsys, monkeypatch):
    """inspect run.ckpt: estimator, where training stands, settings; --json too."""
    ckpt = tmp_path / "run.ckpt"
    _interrupt_at(monkeypatch, 2)
    main(["train", *TINY, "-q", "-o", str(tmp_path / "m.safetensors"), "--checkpoint",
          str(ckpt)])
    capsys.readouterr()
    assert main(["inspect", str(ckpt)]) == 0
    out = capsys.readouterr().out
    assert f"{ckpt}: training checkpoint of a DBNClassifier" in out
    assert "saved after epoch 1 of pretraining layer 1" in out and "max_iter = 2" in out
    assert main(["inspect", str(ckpt), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["checkpoint_of"] == "DBNClassifier" and info["stage"] == "pretrain"
    assert info["params"]["hidden_layer_sizes"] == [8, 8]


def test_ctrl_c_in_a_real_process_names_the_saved_checkpoint(tmp_path):
    """SIGINT to 'deepbelief train --checkpoint' once a checkpoint exists: exit 130 and the
    line that says where it was saved and how to continue."""
    ckpt = tmp_path / "run.ckpt"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "deepbelief", "train", "--layers", "8", "--pretrain-epochs",
         "1000", "--device", "cpu", "-q", "-o", str(tmp_path / "m.safetensors"),
         "--checkpoint", str(ckpt)], env=env, stderr=subprocess.PIPE, text=True,
        # a suite started in the background (nohup, '&') ignores SIGINT, and a child that
        # inherits SIG_IGN never turns Ctrl-C into KeyboardInterrupt: give it a terminal's
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while not ckpt.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "deepbelief train: interrupted: checkpoint saved after epoch " in err, err
    assert f"of pretraining layer 1 in {ckpt}; run the same command with --resume" in err


# -- item 10: files of the wrong kind ---------------------------------------------------------
def _wrong_files(folder: Path) -> dict[str, str]:
    """Files people give as a model by mistake -> what the error must call them."""
    X = np.zeros((3, 2))
    np.save(folder / "x.npy", X)
    np.savez(folder / "x.npz", X=X)
    (folder / "x.csv").write_text("a,b,label\n1,2,3\n4,5,6\n")
    (folder / "semi.csv").write_text("a;b;label\n1;2;3\n")
    (folder / "c.csv").write_text("class,p0\n1,0.5\n")  # starts as a text pickle could
    (folder / "h.json").write_text(json.dumps([{"epoch": 1, "loss": 0.5}]))
    (folder / "x.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    return {"x.npy": "a NumPy .npy array", "x.npz": "a NumPy .npz archive",
            "x.csv": "CSV text, comma-separated", "semi.csv": "CSV text, semicolon-separated",
            "c.csv": "CSV text, comma-separated",
            "h.json": "JSON text, e.g. a training history", "x.png": "a PNG image"}


def test_wrong_kinds_of_files_are_named_by_the_library_and_the_cli(tmp_path, capsys):
    """A CSV, PNG, history JSON, .npy or .npz given as a model: 'x.csv is not a deepbelief
    model file (it looks like CSV text ...)', not a header length."""
    for name, what in _wrong_files(tmp_path).items():
        path = tmp_path / name
        expected = f"{path} is not a deepbelief model file (it looks like {what})."
        for read in (describe, load_file, load):
            with pytest.raises(ModelFileError) as info:
                read(path)
            assert str(info.value) == expected
        line = error_line(capsys, main(["evaluate", str(path)]), 1)
        assert line == f"deepbelief evaluate: error: {expected}"


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_semicolon_and_tab_separated_tables_are_read(delimiter, tmp_path, models, capsys):
    """A CSV separated by semicolons, tabs or bars: the delimiter is detected."""
    X, y = load_digits()
    path = tmp_path / "data.csv"
    lines = [delimiter.join([*(f"p{i}" for i in range(64)), "label"])]
    lines += [delimiter.join([*(f"{v:g}" for v in row), str(label)])
              for row, label in zip(X[:40], y[:40], strict=True)]
    path.write_text("\n".join(lines) + "\n")
    data = load_data(str(path), want_labels=True)
    np.testing.assert_allclose(data.X, X[:40], atol=1e-5)
    np.testing.assert_array_equal(data.y, y[:40])
    assert main(["evaluate", str(models / "clf.safetensors"), "--data", str(path), "-q"]) == 0
    assert "accuracy" in capsys.readouterr().out


def test_library_warnings_are_one_line_in_the_commands_words(tmp_path, capsys):
    """Field report sibling: library warnings reached the command line as Python warnings,
    with a file name, a line number and a line of code."""
    from deepbelief.datasets import load_digits

    X, y = load_digits()
    model = tmp_path / "m.safetensors"
    assert main(["train", "--data", "digits", "--limit", "200", "--layers", "8",
                 "--pretrain-epochs", "1", "--epochs", "1", "-o", str(model)]) == 0
    data = tmp_path / "big.npz"
    np.savez(data, X=X[:50] * 1.5, y=y[:50])
    capsys.readouterr()
    assert main(["predict", str(model), "--data", str(data)]) == 0
    err = [line for line in capsys.readouterr().err.splitlines() if ": warning: " in line]
    assert len(err) == 1 and err[0].startswith("deepbelief predict: warning: ")
    assert "DataRangeWarning" not in err[0] and ".py:" not in err[0]
    assert main(["predict", str(model), "--data", str(data), "-q"]) == 0
    assert ": warning: " not in capsys.readouterr().err


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs /proc (Linux)")
def test_a_folder_that_refuses_new_files_is_found_before_training(tmp_path, capsys):
    """Field report sibling: os.access says yes to root everywhere; /proc takes no new
    files, whoever asks. The run must stop before training, not after it."""
    start = time.perf_counter()
    assert main(["train", "--data", "digits", "--kind", "rbm", "--layers", "8", "--epochs",
                 "30", "-o", "/proc/m.safetensors"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("deepbelief train: error: -o /proc/m.safetensors: cannot write in")
    assert time.perf_counter() - start < 5  # refused, not trained
    assert main(["predict", str(tmp_path / "none.safetensors"), "-o", "/proc/p.csv"]) == 1
    assert "cannot write in /proc" in capsys.readouterr().err


def test_a_training_checkpoint_given_as_a_model_says_how_to_finish_it(tmp_path, capsys):
    ckpt, out = tmp_path / "run.ckpt", tmp_path / "m.safetensors"
    assert main(["train", "--data", "digits", "--limit", "200", "--layers", "8",
                 "--pretrain-epochs", "1", "--epochs", "1", "--checkpoint", str(ckpt),
                 "-o", str(out)]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(ckpt)]) == 1
    err = capsys.readouterr().err
    assert "is a training checkpoint of a DBNClassifier, not a model" in err
    assert "--resume" in err


@pytest.mark.parametrize("argv, message", [
    (["train", "--data", "digits", "--label-column", "foo"],
     "--label-column applies to CSV and TSV tables, not to digits"),
    (["train", "--data", "digits", "--validation-fraction", "0.2"],
     "--validation-fraction applies only with --early-stopping"),
])
def test_options_that_do_not_apply_are_usage_errors(argv, message, capsys):
    """Field report sibling: options that could not apply were accepted without a word,
    though the README says such options are errors."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_demo_takes_dash_o_like_every_other_command(tmp_path, capsys):
    assert main(["demo", "-o", str(tmp_path / "pics")]) == 0
    assert (tmp_path / "pics" / "digits_predictions.png").is_file()


def test_predict_refuses_a_npy_path_rather_than_write_csv_under_it(tmp_path, models, capsys):
    """Field report: 'predict -o out.npy' wrote CSV text that np.load could not read."""
    out = tmp_path / "out.npy"
    line = error_line(capsys, main(["predict", str(models / "clf.safetensors"), "-o",
                                    str(out)]), 2)
    assert "not .npy" in line and ".csv" in line and not out.exists()
    assert main(["predict", str(models / "clf.safetensors"), "--limit", "5", "-o",
                 str(tmp_path / "out.csv")]) == 0  # the advice works


def test_evaluate_with_labels_that_are_not_the_models_classes(tmp_path, models, capsys, caplog):
    """Field report: labels 0/1 against a model of other classes gave 'accuracy: 0.0000'
    without a word. None known: an error naming both sets; some unknown: a warning."""
    X, y = load_digits()
    none_known, some_unknown = tmp_path / "none.npz", tmp_path / "some.npz"
    np.savez(none_known, X=X[:20], y=y[:20] + 100)
    np.savez(some_unknown, X=X[:20], y=np.where(np.arange(20) < 5, 100, y[:20]))
    clf = str(models / "clf.safetensors")
    line = error_line(capsys, main(["evaluate", clf, "--data", str(none_known)]), 1)
    assert "none of the labels" in line and "100" in line and "model's classes" in line
    with caplog.at_level(logging.WARNING, logger="deepbelief"):
        assert main(["evaluate", clf, "--data", str(some_unknown)]) == 0
    assert "5 of the 20 rows" in caplog.text and "not trained on" in caplog.text
    assert "log loss" not in capsys.readouterr().out


def test_out_of_range_data_is_told_to_use_scale_and_the_advice_works(tmp_path, capsys):
    """Field report: on the command line the advice named sklearn's MinMaxScaler."""
    rng = np.random.default_rng(0)
    data = tmp_path / "big.npz"
    np.savez(data, X=rng.random((80, 5)) * 16, y=np.arange(80) % 2)
    argv = ["train", "--data", str(data), "--visible-units", "bernoulli", "--layers", "4",
            "--epochs", "1", "--pretrain-epochs", "1", "--device", "cpu", "-q", "-o",
            str(tmp_path / "m.safetensors")]
    line = error_line(capsys, main(argv), 1)
    assert "--scale minmax" in line and "--scale standard" in line
    assert "MinMaxScaler" not in line
    assert main([*argv, "--scale", "minmax"]) == 0


def _csv(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def _table(index: bool) -> str:
    rng = np.random.default_rng(0)
    lines = [(",") * index + "a,b,c,label"]
    for i in range(60):
        a, b, c = rng.random(3)
        lines.append(f"{i}," * index + f"{a:.3f},{b:.3f},{c:.3f},{'yes' if a > 0.5 else 'no'}")
    return "\n".join(lines) + "\n"


def test_a_pandas_index_column_is_left_out_with_a_warning(tmp_path, caplog):
    """Field report: a CSV saved by pandas' to_csv (an unnamed first column 0, 1, 2, ...)
    trained on the row number as a feature."""
    indexed = _csv(tmp_path / "indexed.csv", _table(index=True))
    plain = _csv(tmp_path / "plain.csv", _table(index=False))
    common = ["--layers", "4", "--pretrain-epochs", "1", "--epochs", "1", "--device", "cpu",
              "-q", "--seed", "0"]
    with caplog.at_level(logging.WARNING, logger="deepbelief"):
        assert main(["train", "--data", indexed, *common, "-o",
                     str(tmp_path / "i.safetensors")]) == 0
    assert "counts the rows" in caplog.text and "index=False" in caplog.text
    assert main(["train", "--data", plain, *common, "-o", str(tmp_path / "p.safetensors")]) == 0
    with_index, without = load(tmp_path / "i.safetensors"), load(tmp_path / "p.safetensors")
    assert list(with_index.feature_names_in_) == ["a", "b", "c"] == list(
        without.feature_names_in_)
    X = np.loadtxt(plain, delimiter=",", skiprows=1, usecols=(0, 1, 2))
    np.testing.assert_array_equal(with_index.predict_proba(X), without.predict_proba(X))
    assert main(["predict", str(tmp_path / "i.safetensors"), "--data", indexed, "-o",
                 str(tmp_path / "out.csv")]) == 0  # the same column left out again


@pytest.mark.parametrize("cell, said", [("", "an empty cell"), ("bob", "'bob'")])
def test_a_cell_that_is_not_a_number_is_named_with_its_column_and_row(tmp_path, capsys,
                                                                     cell, said):
    text = _table(index=False).splitlines()
    fields = text[3].split(",")
    fields[1] = cell  # column 'b', data row 3
    text[3] = ",".join(fields)
    data = _csv(tmp_path / "t.csv", "\n".join(text) + "\n")
    line = error_line(capsys, main(["train", "--data", data, "--layers", "4", "--device",
                                    "cpu", "-q", "-o", str(tmp_path / "m.safetensors")]), 1)
    assert f"column 'b' holds {said} in data row 3" in line and "--label-column" in line


@pytest.mark.parametrize("argv, said, unsaid", [
    (["--set", "max_iter=abc"], "The --set max_iter option", "--epochs"),
    (["--seed", "-1"], "The --seed option of DBNClassifier must be an int in the range "
                       "[0, 4294967295]. Got -1", "RandomState"),
])
def test_bad_values_are_named_as_the_user_gave_them(argv, said, unsaid, tmp_path, capsys):
    """Field report: '--set max_iter=abc' was reported as the --epochs option, and --seed -1
    listed numpy RandomState instances, which no command line can pass."""
    line = error_line(capsys, main(["train", "--data", "digits", "--layers", "4", *argv, "-q",
                                    "-o", str(tmp_path / "m.safetensors")]), 2)
    assert said in line and unsaid not in line


def test_likelihood_options_for_a_classifier_are_said_to_be_ignored(models, caplog):
    """Field report: 'evaluate CLASSIFIER --ais-runs 5' ignored the option without a word."""
    clf = str(models / "clf.safetensors")
    with caplog.at_level(logging.WARNING, logger="deepbelief"):
        assert main(["evaluate", clf, "--limit", "20"]) == 0
        assert "to RBMs only" not in caplog.text
        assert main(["evaluate", clf, "--limit", "20", "--ais-runs", "5"]) == 0
    assert "--ais-runs applies to RBMs only: a DBNClassifier" in caplog.text
