"""Every kind of training data larger than memory round-trips through every estimator's
``fit`` (issue 15, item 2): memmaps, .npy paths, HDF5 datasets and files, DataLoaders and
lists of batches, sparse matrices; and bad input is refused with advice that works.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from scipy import sparse
from torch.utils.data import DataLoader, TensorDataset

from deepbelief import (
    RBM,
    DBNAutoencoder,
    DBNClassifier,
    DBNRegressor,
    DBNTransformer,
    GenerativeDBN,
)

KW = dict(batch_size=25, random_state=0, device="cpu")
ESTIMATORS = {
    "RBM": lambda: RBM(6, n_iter=2, **KW),
    "DBNTransformer": lambda: DBNTransformer((6, 4), pretrain_epochs=2, **KW),
    "DBNClassifier": lambda: DBNClassifier((6, 4), pretrain_epochs=2, max_iter=2, **KW),
    "DBNClassifier-early": lambda: DBNClassifier((6, 4), pretrain_epochs=2, max_iter=2,
                                                 early_stopping=True, **KW),
    "DBNRegressor": lambda: DBNRegressor((6, 4), pretrain_epochs=2, max_iter=2, **KW),
    "GenerativeDBN": lambda: GenerativeDBN((6, 4), pretrain_epochs=2, updown_epochs=1, **KW),
    "DBNAutoencoder": lambda: DBNAutoencoder((6, 4), pretrain_epochs=2, max_iter=2, **KW),
}
SUPERVISED = ("DBNClassifier", "DBNClassifier-early", "DBNRegressor")

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _weights(model) -> list[torch.Tensor]:
    layers = getattr(model, "rbms_", None) or [model.rbm_]
    out = [layer.weight for layer in layers]
    if hasattr(model, "network_"):
        out += [p.detach() for p in model.network_.parameters()]
    return out


def _same(a, b) -> bool:
    return all(torch.equal(x, y) for x, y in zip(_weights(a), _weights(b), strict=True))


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inputs")
    X = (np.random.default_rng(0).random((300, 12)) < 0.35).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    np.save(folder / "x.npy", X)
    return folder, X, y


def _targets(name: str, y: np.ndarray):
    return (y.astype(np.float64),) if name == "DBNRegressor" else (y,) if (
        name in SUPERVISED) else ()


def _hdf5(folder, X, *extra):
    h5py = pytest.importorskip("h5py")
    path = folder / f"x{len(extra)}.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("X", data=X, chunks=(64, X.shape[1]))
        for i, array in enumerate(extra):
            f.create_dataset(f"extra{i}", data=array)
    return path


@pytest.mark.parametrize("name", ESTIMATORS)
@pytest.mark.parametrize("kind", ["memmap", "npy path", "hdf5 dataset", "hdf5 path"])
def test_files_train_the_model_that_the_loaded_array_trains(data, name, kind):
    """A memmap, a .npy path, an HDF5 dataset and an HDF5 path give every estimator the
    weights of the in-memory fit, bit for bit (binary data: exact means)."""
    folder, X, y = data
    if kind == "memmap":
        source = np.load(folder / "x.npy", mmap_mode="r")
    elif kind == "npy path":
        source = str(folder / "x.npy")
    elif kind == "hdf5 path":
        source = _hdf5(folder, X)
    else:
        import h5py

        source = h5py.File(_hdf5(folder, X), "r")["X"]
    expected = ESTIMATORS[name]().fit(X, *_targets(name, y))
    got = ESTIMATORS[name]().fit(source, *_targets(name, y))
    assert _same(expected, got)
    assert got.n_features_in_ == 12 and not hasattr(got, "feature_names_in_")


def test_a_generative_dbn_with_labels_and_real_valued_data_stay_within_float32_rounding(data):
    """Where the layer's starting mean is summed in float64 (the labelled top RBM; data
    standardised by DBNAutoencoder), a file's fit matches the in-memory one to 1e-5."""
    folder, X, y = data
    pairs = [(ESTIMATORS["GenerativeDBN"](), X, np.load(folder / "x.npy", mmap_mode="r"), y)]
    real = np.random.default_rng(1).normal(2.0, 3.0, size=(300, 12)).astype(np.float32)
    np.save(folder / "real.npy", real)
    pairs.append((ESTIMATORS["DBNAutoencoder"](), real, str(folder / "real.npy"), None))
    for model, array, file, labels in pairs:
        extra = () if labels is None else (labels,)
        expected = type(model)(**model.get_params()).fit(array, *extra)
        got = model.fit(file, *extra)
        for a, b in zip(_weights(expected), _weights(got), strict=True):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", ESTIMATORS)
def test_dataloaders_and_lists_of_batches_train_every_estimator(data, name):
    """A DataLoader of (x, y) batches and a list of x batches both train; supervised
    estimators take their labels from the DataLoader's batches (y=None); the same batches
    in the same order give the same model."""
    _, X, y = data
    loader = DataLoader(TensorDataset(torch.from_numpy(X), torch.from_numpy(y)),
                        batch_size=64, shuffle=False)
    targets = (None,) if name in SUPERVISED else ()
    if name == "DBNRegressor":
        loader = [(xb, yb.double()) for xb, yb in loader]
    model = ESTIMATORS[name]().fit(loader, *targets)
    assert model.n_features_in_ == 12
    if name.startswith("DBNClassifier"):
        np.testing.assert_array_equal(model.classes_, [0, 1])
    batches = [X[i : i + 64] for i in range(0, 300, 64)]
    again = [(xb, yb) for xb, yb in loader] if name in SUPERVISED else batches
    assert _same(model, ESTIMATORS[name]().fit(again, *targets))


def test_sparse_matrices_still_train_as_before(data):
    """scipy sparse input keeps its own path (densified one mini-batch at a time)."""
    _, X, _ = data
    for make in (ESTIMATORS["RBM"], ESTIMATORS["DBNTransformer"]):
        assert _same(make().fit(X), make().fit(sparse.csr_matrix(X)))


def test_a_generator_is_refused_and_the_advised_list_trains(data):
    """A one-shot generator: a TypeError that advises list(...); the list then fits."""
    _, X, _ = data
    with pytest.raises(TypeError, match=r"one-shot iterator.*list\(batches\)"):
        RBM(4, **KW).fit(X[i : i + 50] for i in range(0, 300, 50))
    RBM(4, **KW).fit(list(X[i : i + 50] for i in range(0, 300, 50)))


def test_values_outside_the_units_range_are_refused_and_the_advised_rescaling_works(data):
    """8-bit pixels in a file: the error names the rows and advises a MinMaxScaler fitted
    with partial_fit, written chunk by chunk to open_memmap; doing that trains."""
    folder, X, _ = data
    raw = np.lib.format.open_memmap(folder / "raw.npy", mode="w+", dtype=np.uint8,
                                    shape=X.shape)
    raw[:] = (X * 200).astype(np.uint8)
    raw.flush()
    with pytest.raises(ValueError, match=r"(?s)rows 0, 1, 2, 3, 4 and \d+ more.*"
                       r"MinMaxScaler.*partial_fit.*"
                                         r"open_memmap"):
        RBM(4, visible_units="bernoulli", **KW).fit(str(folder / "raw.npy"))
    from sklearn.preprocessing import MinMaxScaler

    source = np.load(folder / "raw.npy", mmap_mode="r")
    scaler = MinMaxScaler()
    for lo in range(0, len(source), 100):
        scaler.partial_fit(source[lo : lo + 100])
    out = np.lib.format.open_memmap(folder / "scaled.npy", mode="w+", dtype="float32",
                                    shape=source.shape)
    for lo in range(0, len(source), 100):
        out[lo : lo + 100] = scaler.transform(source[lo : lo + 100])
    out.flush()
    assert RBM(4, **KW).fit(str(folder / "scaled.npy")).n_features_in_ == 12


def test_values_within_float_rounding_outside_the_range_are_clipped_as_in_memory(data):
    """1 + 1e-7 in a file is clipped batch by batch, as check_X clips it in memory."""
    folder, X, _ = data
    nudged = X.copy()
    nudged[nudged == 1] = np.float32(1 + 1e-7)
    np.save(folder / "nudged.npy", nudged)
    expected = RBM(4, **KW).fit(nudged)
    assert _same(expected, RBM(4, **KW).fit(np.load(folder / "nudged.npy", mmap_mode="r")))


def test_nan_in_a_file_is_refused_with_its_row_and_column(data):
    """NaN: the row and column of the first one, and what to do."""
    folder, X, _ = data
    bad = X.copy()
    bad[123, 4] = np.nan
    np.save(folder / "nan.npy", bad)
    with pytest.raises(ValueError, match=r"NaN or infinity \(the first in row 123, column 4\)"
                                         r".*nan_to_num"):
        DBNTransformer((4,), **KW).fit(str(folder / "nan.npy"))


def test_paths_that_are_not_npy_or_hdf5_are_refused_with_how_to_convert(data, tmp_path):
    """A .csv path: advice to numpy.save it, which then trains; a missing file: said so."""
    _, X, _ = data
    np.savetxt(tmp_path / "x.csv", X, delimiter=",")
    with pytest.raises(ValueError, match=r"numpy\.save\('data\.npy', X\)"):
        RBM(4, **KW).fit(str(tmp_path / "x.csv"))
    np.save(tmp_path / "data.npy", np.loadtxt(tmp_path / "x.csv", delimiter=","))
    RBM(4, **KW).fit(str(tmp_path / "data.npy"))
    with pytest.raises(FileNotFoundError, match="no such file"):
        RBM(4, **KW).fit(str(tmp_path / "missing.npy"))


def test_an_hdf5_file_needs_h5py_and_names_the_pip_command(data, monkeypatch):
    """Without h5py, an HDF5 path raises an ImportError with the pip command."""
    folder, X, _ = data
    path = _hdf5(folder, X)
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError, match=r"pip install 'deepbelief\[hdf5\]'"):
        RBM(4, **KW).fit(str(path))


def test_an_hdf5_file_of_several_datasets_asks_for_the_one_to_train_on(data):
    """Two datasets and none named X: the error lists them and shows how to pick one."""
    h5py = pytest.importorskip("h5py")
    folder, X, y = data
    path = folder / "two.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("pixels", data=X)
        f.create_dataset("labels", data=y)
    with pytest.raises(ValueError, match=r"h5py\.File\(.*\)\['name'\]"):
        RBM(4, **KW).fit(str(path))
    with h5py.File(path, "r") as f:
        assert RBM(4, **KW).fit(f["pixels"]).n_features_in_ == 12


def test_a_three_dimensional_file_is_refused_and_the_advised_reshape_trains(data):
    """Images as (n, h, w): reshape the memmap (no copy), as the error says."""
    folder, X, _ = data
    np.save(folder / "images.npy", X.reshape(300, 3, 4))
    images = np.load(folder / "images.npy", mmap_mode="r")
    with pytest.raises(ValueError, match=r"X\.reshape\(len\(X\), -1\)"):
        RBM(4, **KW).fit(images)
    RBM(4, **KW).fit(images.reshape(len(images), -1))


def test_labels_are_required_from_y_or_from_the_batches(data):
    """A classifier on batches without labels and y=None: pass y, or (x, y) batches."""
    _, X, y = data
    batches = [X[i : i + 100] for i in range(0, 300, 100)]
    with pytest.raises(ValueError, match=r"pass y, or batches of \(x, y\)"):
        DBNClassifier((4,), **KW).fit(batches, None)
    model = DBNClassifier((4,), max_iter=1, **KW).fit(batches, y)
    np.testing.assert_array_equal(model.classes_, [0, 1])


def test_partial_fit_checks_the_number_of_features_of_a_file(data, tmp_path):
    """partial_fit on a file of other width: the scikit-learn message."""
    folder, _, _ = data
    model = RBM(4, **KW).partial_fit(np.load(folder / "x.npy", mmap_mode="r"))
    np.save(tmp_path / "wide.npy", np.zeros((10, 13), dtype=np.float32))
    with pytest.raises(ValueError, match="X has 13 features, but RBM is expecting 12"):
        model.partial_fit(str(tmp_path / "wide.npy"))


def test_a_stream_whose_later_pass_goes_out_of_range_stops_training_with_the_message(data):
    """Streams are checked batch by batch as training reads them, not only once."""
    _, X, _ = data

    class Drifting:
        passes = 0

        def __iter__(self):
            Drifting.passes += 1
            scale = 1.0 if Drifting.passes == 1 else 3.0
            return iter([X[:150] * scale, X[150:] * scale])

    with pytest.raises(ValueError, match="does not fit the visible units"):
        RBM(4, visible_units="bernoulli", n_iter=2, batch_size=50, random_state=0,
            device="cpu").fit(Drifting())


@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.int64])
@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_integer_typed_files_train_like_the_float_array(data, tmp_path, name, dtype):
    """Pixels stored as uint8 (or counts as integers) in a .npy file train as features."""
    _, X, y = data
    path = tmp_path / "x_int.npy"
    np.save(path, X.astype(dtype))
    target = y if name in SUPERVISED or name == "GenerativeDBN" else None
    in_memory = ESTIMATORS[name]().fit(X, target)
    from_file = ESTIMATORS[name]().fit(np.load(path, mmap_mode="r"), target)
    for a, b in zip(_weights(in_memory), _weights(from_file), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-5)


def test_command_line_names_a_npy_file_of_python_objects(tmp_path, capsys):
    """An object-dtype .npy cannot be memory-mapped: the command says which file and how."""
    from deepbelief.cli import main

    path = tmp_path / "objects.npy"
    np.save(path, np.array([[1, "a"], [2, "b"]], dtype=object), allow_pickle=True)
    assert main(["train", "-q", "--kind", "rbm", "--data", str(path), "--layers", "4",
                 "-o", str(tmp_path / "m.safetensors")]) == 1
    err = capsys.readouterr().err
    assert "objects.npy cannot be memory-mapped" in err
    assert "numpy.save(path, X.astype('float32'))" in err
