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


# -- titles, phases, colour scales and sizes (issue 20, items 9 and 13) ----------------------
def png_title(path) -> str:
    from PIL import Image

    with Image.open(path) as image:
        return image.text.get("Title", "")


@pytest.fixture
def figures(monkeypatch):
    """The figures the plotting functions save, in order."""
    from deepbelief.plotting import charts, images, mosaic

    saved, save = [], mosaic.save_figure

    def keep(fig, path):
        saved.append(fig)
        return save(fig, path)

    for module in (charts, images, mosaic):
        monkeypatch.setattr(module, "save_figure", keep)
    return saved


def test_every_picture_has_a_title_by_default(rbm, classifier, tmp_path):
    """Some pictures had no title: now each has one (also in the PNG's Title text)."""
    originals = X[500:504]
    mask = np.arange(64) < 32
    paths = [
        plot_images(X[:4], tmp_path / "a.png"),
        plot_filters(rbm, tmp_path / "b.png"),
        plot_reconstructions(originals, rbm.reconstruct(originals), tmp_path / "c.png"),
        plot_completions(originals, mask, rbm.complete(originals, mask, n_iter=2),
                         tmp_path / "d.png"),
        plot_class_samples(X[:6], Y[:6], tmp_path / "e.png"),
        plot_predictions(X[:4], Y[:4], Y[:4], tmp_path / "f.png"),
        plot_learning_curves(classifier, tmp_path / "g.png"),
        plot_embedding(X[:50], Y[:50], tmp_path / "h.png"),
    ]
    titles = [png_title(p) for p in paths]
    assert all(titles), titles
    assert titles[3] == "completions of 4 images (50% hidden)"
    assert titles[5] == "predictions: 4 of 4 right (red: wrong)"
    assert png_title(plot_images(X[:4], tmp_path / "t.png", title="mine")) == "mine"
    assert png_title(plot_images(X[:4], tmp_path / "u.png", title="")) == ""


def test_class_conditional_samples_name_their_classes(tmp_path):
    """Titles of class-conditional samples omitted the class."""
    one = plot_class_samples(X[Y == 3][:5], Y[Y == 3][:5], tmp_path / "three.png")
    assert png_title(one) == "samples of class 3"
    some = plot_class_samples(X[:30], Y[:30], tmp_path / "some.png")
    assert png_title(some) == "samples of classes 0, 1, 2, 3, 4, 5, 6, 7, 8, 9"


def test_learning_curves_show_the_up_down_phase_of_a_generative_dbn(tmp_path, figures):
    """`plot curves` drew one panel for a generative DBN whose history has up-down records."""
    history = {"pretrain": [[{"epoch": 1, "reconstruction_error": 3.0},
                             {"epoch": 2, "reconstruction_error": 2.0}],
                            [{"epoch": 1, "reconstruction_error": 1.5}]],
               "updown": [{"epoch": e, "reconstruction_error": 1.0 / e} for e in (1, 2, 3)]}
    path = plot_learning_curves(history, tmp_path / "curves.png")
    panels = [ax.get_title() for ax in figures[-1].axes if ax.get_title()]
    assert panels == ["pretraining: reconstruction error",
                      "up-down fine-tuning: reconstruction error"]
    assert png_title(path) == "training history: pretraining, up-down fine-tuning"


def test_regression_targets_are_drawn_on_a_colour_scale_with_a_colorbar(tmp_path, figures):
    """The regressor's embedding coloured points by a target without saying which colour
    means what."""
    target = np.linspace(-1.0, 2.0, 60)
    assert_picture(plot_embedding(X[:60], target, tmp_path / "reg.png"), 400, 300)
    fig = figures[-1]
    assert len(fig.axes) == 2 and fig.axes[1].get_ylabel() == "target"  # the colorbar
    plot_embedding(X[:60], Y[:60], tmp_path / "cls.png")
    assert len(figures[-1].axes) == 1  # classes: a legend, no colorbar


def test_completion_pictures_are_large_enough_to_read(rbm, tmp_path):
    """Completion pictures were small (about 550 pixels wide for 10 digits)."""
    originals = X[500:510]
    mask = np.arange(64) < 32
    pixels = assert_picture(plot_completions(originals, mask, rbm.complete(originals, mask,
                                                                           n_iter=2),
                                             tmp_path / "c.png"), 700, 200)
    assert pixels.shape[1] >= 700


@pytest.mark.parametrize("suffix", [".json", ".csv"])
def test_cli_plot_curves_draws_the_up_down_phase_from_a_history_file(tmp_path, suffix):
    """`deepbelief plot curves` of a generative DBN's history (JSON or CSV) showed only
    pretraining."""
    import json
    import subprocess
    from types import SimpleNamespace

    from deepbelief.cli.io import write_history

    history = {"pretrain": [[{"epoch": 1, "reconstruction_error": 3.0, "time": 0.1}]],
               "updown": [{"epoch": e, "reconstruction_error": 1.0 / e, "time": 0.1}
                          for e in range(1, 11)]}
    source = tmp_path / f"gen.history{suffix}"
    write_history(SimpleNamespace(history_=history), source)
    if suffix == ".json":
        assert json.loads(source.read_text())["updown"][-1]["epoch"] == 10
    out = tmp_path / "curves.png"
    result = subprocess.run([sys.executable, "-m", "deepbelief", "plot", "curves", str(source),
                             "-o", str(out)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert png_title(out) == "training history: pretraining, up-down fine-tuning"
