"""``deepbelief train --kind documents``, ``transform``, ``evaluate`` and the document
pictures, on a folder of .txt files and on a .npz file of counts."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse

from deepbelief import ReplicatedSoftmaxRBM, SemanticHashing, load
from deepbelief.cli.main import main


@pytest.fixture()
def folder(tmp_path):
    texts = {"space": "stars planets orbit rocket launch moon", "water": "rivers lakes rain flood"}
    for label, words in texts.items():
        (tmp_path / "txt" / label).mkdir(parents=True)
        for i in range(5):
            (tmp_path / "txt" / label / f"{i}.txt").write_text(f"{words} {words.split()[i % 4]}")
    return tmp_path


def test_train_transform_evaluate_and_plot_a_topic_model(folder, capsys):
    model = folder / "rsm.safetensors"
    assert main(["train", "--kind", "documents", "--data", str(folder / "txt"), "--layers",
                 "3", "--epochs", "3", "--device", "cpu", "-o", str(model), "-q",
                 "--no-history"]) == 0
    assert isinstance(load(model), ReplicatedSoftmaxRBM)
    features = folder / "f.npy"
    assert main(["transform", str(model), "--data", str(folder / "txt"), "-o",
                 str(features)]) == 0
    assert np.load(features).shape == (10, 3)
    capsys.readouterr()
    assert main(["evaluate", str(model), "--data", str(folder / "txt")]) == 0
    assert "perplexity per word" in capsys.readouterr().out
    for picture in ("topics", "document-map"):
        out = folder / f"{picture}.png"
        assert main(["plot", picture, str(model), "--data", str(folder / "txt"), "-o",
                     str(out)]) == 0
        assert out.stat().st_size > 0


def test_several_layers_train_semantic_hashing_from_counts_npz(tmp_path, capsys):
    counts = sparse.random(60, 30, density=0.2, format="csr", random_state=0,
                           data_rvs=lambda n: np.ones(n)) * 2
    sparse.save_npz(tmp_path / "counts.npz", counts)
    model = tmp_path / "hash.safetensors"
    assert main(["train", "--kind", "documents", "--data", str(tmp_path / "counts.npz"),
                 "--layers", "8", "4", "--epochs", "2", "--pretrain-epochs", "2",
                 "--device", "cpu", "-o", str(model), "-q", "--no-history"]) == 0
    assert isinstance(load(model), SemanticHashing)
    codes = tmp_path / "codes.npy"
    assert main(["transform", str(model), "--data", str(tmp_path / "counts.npz"), "-o",
                 str(codes)]) == 0
    assert np.load(codes).dtype == np.uint8
    capsys.readouterr()
    assert main(["plot", "topics", str(model)]) == 1
    assert "ReplicatedSoftmaxRBM" in capsys.readouterr().err


def test_counts_of_another_vocabulary_are_refused(tmp_path, folder, capsys):
    model = folder / "rsm.safetensors"
    main(["train", "--kind", "documents", "--data", str(folder / "txt"), "--layers", "2",
          "--epochs", "1", "--device", "cpu", "-o", str(model), "-q", "--no-history"])
    np.savez(tmp_path / "other.npz", X=np.ones((3, 4)))
    capsys.readouterr()
    assert main(["evaluate", str(model), "--data", str(tmp_path / "other.npz")]) == 1
    assert "vocabulary" in capsys.readouterr().err
