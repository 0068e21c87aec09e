"""Pictures: every plotting function writes a real, non-blank PNG of sensible size, without
pyplot; and the model methods that make pictures (sampling, completion, reconstruction)."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from matplotlib.image import imread

from deepbelief import RBM, DBNClassifier, DBNTransformer
from deepbelief.datasets import load_digits
from deepbelief.plotting import (
    plot_class_samples,
    plot_completions,
    plot_embedding,
    plot_filters,
    plot_images,
    plot_learning_curves,
    plot_predictions,
    plot_reconstructions,
    tile_images,
)

torch.set_num_threads(1)

X, Y = load_digits()
SMALL = {"device": "cpu", "random_state": 0}


@pytest.fixture(scope="module")
def rbm():
    return RBM(n_components=16, n_iter=3, learning_rate=0.05, **SMALL).fit(X[:500])


@pytest.fixture(scope="module")
def classifier():
    return DBNClassifier((16, 8), pretrain_epochs=2, max_iter=5, **SMALL).fit(X[:500], Y[:500])


def assert_picture(path, min_width=200, min_height=100):
    """A PNG of at least the given size (pixels), under 100 KB, that is not blank."""
    assert path.suffix == ".png" and path.is_file()
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size < 100_000
    pixels = imread(path)[..., :3]
    height, width = pixels.shape[:2]
    assert width >= min_width and height >= min_height, (width, height)
    grey = pixels.mean(axis=2)
    assert grey.std() > 0.05  # not one flat colour
    assert (grey < 0.5).mean() > 0.005  # some dark ink on the white background
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 8  # more than a few colours
    return pixels


def test_filters_of_an_rbm_and_of_a_dbn(rbm, classifier, tmp_path):
    pixels = assert_picture(plot_filters(rbm, tmp_path / "rbm.png"), 300, 300)
    assert_picture(plot_filters(classifier, tmp_path / "dbn.png", n_units=8, title=None), 100,
                   50)
    assert_picture(plot_filters(rbm.components_[:4], tmp_path / "array.png", n_cols=4), 200, 50)
    assert pixels.shape[0] > pixels.shape[1] * 0.8  # 16 tiles: a square grid


def test_images_reconstructions_and_completions(rbm, tmp_path):
    assert_picture(plot_images(rbm.sample(20, n_gibbs=50, random_state=0, mean=True),
                               tmp_path / "samples.png", n_cols=10, title="samples"))
    originals = X[500:512]
    assert_picture(plot_reconstructions(originals, rbm.reconstruct(originals),
                                        tmp_path / "recon.png"), 300, 150)
    mask = np.arange(64) < 40
    filled = rbm.complete(originals, mask, n_iter=20, random_state=0)
    pixels = assert_picture(plot_completions(originals, mask, filled, tmp_path / "c.png",
                                             n_cols=6), 200, 200)
    blue = (pixels[..., 2] > pixels[..., 0] + 0.15)
    assert blue.mean() > 0.02  # the hidden pixels are drawn in blue


def test_predictions_keep_the_demo_signature(classifier, tmp_path):
    images, labels = X[-10:], Y[-10:]
    path = plot_predictions(images, labels, classifier.predict(images), tmp_path / "p.png")
    assert_picture(path, 300, 200)
    with pytest.raises(ValueError, match="image_shape"):
        plot_predictions(images[:, :60], labels, labels, tmp_path / "bad.png")
    assert_picture(plot_predictions(images[:, :60], labels, labels, tmp_path / "ok.png",
                                    image_shape=(6, 10)), 200, 100)


def test_learning_curves_from_a_model_a_dict_or_a_list(classifier, rbm, tmp_path):
    assert_picture(plot_learning_curves(classifier, tmp_path / "dbn.png"), 500, 200)
    assert_picture(plot_learning_curves(rbm.history_, tmp_path / "rbm.png"), 300, 200)
    with pytest.raises(ValueError, match="no per-epoch metrics"):
        plot_learning_curves([], tmp_path / "empty.png")
    with pytest.raises(ValueError, match="history"):
        plot_learning_curves(3, tmp_path / "bad.png")


def test_embedding_of_features(classifier, tmp_path):
    features = classifier.network_.features(torch.as_tensor(X[:400])).detach().numpy()
    assert_picture(plot_embedding(features, Y[:400], tmp_path / "pca.png", title="t"), 400, 300)
    assert_picture(plot_embedding(features[:, :2], None, tmp_path / "two.png"), 400, 300)
    with pytest.raises(ValueError, match="method"):
        plot_embedding(features, Y[:400], tmp_path / "x.png", method="umap")


def test_pictures_are_made_without_pyplot_and_create_folders(rbm, tmp_path):
    had_pyplot = "matplotlib.pyplot" in sys.modules
    path = plot_filters(rbm, tmp_path / "new" / "folder" / "f.png")
    assert path.is_file()
    if not had_pyplot:
        assert "matplotlib.pyplot" not in sys.modules


def test_tile_images_layout():
    mosaic = tile_images(np.arange(8.0).reshape(2, 4), n_cols=2, pad=1, pad_value=-1)
    assert mosaic.shape == (4, 7)
    np.testing.assert_array_equal(mosaic[1:3, 1:3], [[0, 1], [2, 3]])
    np.testing.assert_array_equal(mosaic[1:3, 4:6], [[4, 5], [6, 7]])
    with pytest.raises(ValueError, match="2-D"):
        tile_images(np.zeros((0, 4)))


# -- the model methods behind the pictures -----------------------------------------------------


def test_rbm_sample_means_and_completion(rbm):
    means = rbm.sample(5, n_gibbs=10, random_state=1, mean=True)
    binary = rbm.sample(5, n_gibbs=10, random_state=1)
    assert means.shape == binary.shape == (5, 64)
    assert set(np.unique(binary)) <= {0.0, 1.0} and 0 < means.min() and means.max() < 1
    np.testing.assert_array_equal(rbm.sample(5, 10, random_state=1, mean=True), means)
    mask = np.zeros((3, 64), dtype=bool)
    mask[:, :20] = True
    filled = rbm.complete(X[:3], mask, n_iter=5, random_state=0)
    np.testing.assert_array_equal(filled[:, :20], X[:3, :20])
    assert filled.dtype == np.float32 and np.all((filled >= 0) & (filled <= 1))
    assert rbm.complete(X[:3].astype(np.float64), mask, n_iter=0).dtype == np.float64
    with pytest.raises(ValueError, match="boolean"):
        rbm.complete(X[:3], mask.astype(int))
    with pytest.raises(ValueError, match="shape"):
        rbm.complete(X[:3], mask[:, :10])


def test_dbn_transformer_samples_and_reconstructs():
    dbn = DBNTransformer((24, 8), pretrain_epochs=2, **SMALL).fit(X)
    samples = dbn.sample(4, n_gibbs=20, random_state=0)
    assert samples.shape == (4, 64) and np.all((samples > 0) & (samples < 1))
    np.testing.assert_array_equal(dbn.sample(4, n_gibbs=20, random_state=0), samples)
    recon = dbn.reconstruct(X[:6])
    assert recon.shape == (6, 64)
    assert np.mean((recon - X[:6]) ** 2) < np.mean((X[:6] - X[:6].mean()) ** 2) * 2
    with pytest.raises(ValueError, match="n_gibbs"):
        dbn.sample(2, n_gibbs=-1)


def test_class_samples_one_row_per_class(tmp_path):
    labels = Y[:40]
    pixels = assert_picture(plot_class_samples(X[:40], labels, tmp_path / "c.png",
                                               title="by class"))
    taller = assert_picture(plot_class_samples(X[:40], labels % 5, tmp_path / "d.png"))
    assert pixels.shape[0] > taller.shape[0] * 1.5  # 10 rows against 5 (of longer rows)
    with pytest.raises(ValueError, match="one class per sample"):
        plot_class_samples(X[:4], [0, 1], tmp_path / "e.png")
