"""Tests for deepbelief.datasets (no test touches the network)."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import struct
import urllib.error
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from deepbelief.datasets import (
    FASHION_MNIST_SHA256,
    MNIST_SHA256,
    ChecksumError,
    IDXFormatError,
    content_sha256,
    load_digits,
    load_fashion_mnist,
    load_mnist,
    read_idx,
    verify_sha256,
    write_idx,
)
from deepbelief.datasets import loaders as datasets

MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def _shared_data_root() -> Path:
    """``$DEEPBELIEF_DATA``, else ``<repo>/../shared/data``."""
    env = os.environ.get("DEEPBELIEF_DATA", "").strip()
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1].parent / "shared" / "data"


_SHARED = _shared_data_root()
needs_mnist = pytest.mark.skipif(
    not (_SHARED / "mnist").is_dir(), reason=f"MNIST not found under {_SHARED}"
)
needs_fashion = pytest.mark.skipif(
    not (_SHARED / "fashion-mnist").is_dir(), reason=f"Fashion-MNIST not found under {_SHARED}"
)


@pytest.fixture
def data_root() -> Path:
    """Folder holding ``mnist/`` and ``fashion-mnist/`` (see ``_shared_data_root``)."""
    return _shared_data_root()


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any download attempt fail loudly instead of reaching the network."""

    def forbidden(url: str, *args: object, **kwargs: object) -> None:
        raise AssertionError(f"test tried to access the network: {url}")

    monkeypatch.setattr(datasets, "_urlopen", forbidden)


# --------------------------------------------------------------------------- helpers


def _idx_header(code: int, shape: tuple[int, ...]) -> bytes:
    return struct.pack(f">HBB{len(shape)}I", 0, code, len(shape), *shape)


def _write_bytes(path: Path, data: bytes, *, compress: bool = False) -> Path:
    path.write_bytes(gzip.compress(data, mtime=0) if compress else data)
    return path


def _make_dataset(
    folder: Path, *, kind: str = "train", n: int = 12, gz: bool = True, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Write a small fake MNIST-style split into ``folder``; return (images, labels)."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    images[0, 0, 0] = 255
    images[0, 0, 1] = 0
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    prefix = "train" if kind == "train" else "t10k"
    suffix = ".gz" if gz else ""
    folder.mkdir(parents=True, exist_ok=True)
    write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", images)
    write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", labels)
    return images, labels


# --------------------------------------------------------------------------- IDX round trip


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize(
    ("dtype", "shape"),
    [
        (np.uint8, (7,)),
        (np.uint8, (5, 28, 28)),
        (np.int8, (3, 4)),
        (np.int16, (2, 3, 4)),
        (np.int32, (4, 1, 2, 3)),
        (np.float32, (6, 5)),
        (np.float64, (2, 2, 2, 2, 2, 2, 2, 2)),
        (np.float64, (0, 3)),
    ],
)
def test_round_trip(tmp_path: Path, dtype: type, shape: tuple[int, ...], suffix: str) -> None:
    rng = np.random.default_rng(42)
    info = np.iinfo(dtype) if np.issubdtype(dtype, np.integer) else None
    if info is not None:
        array = rng.integers(info.min, info.max, size=shape, endpoint=True).astype(dtype)
    else:
        array = (rng.standard_normal(shape) * 1e3).astype(dtype)
    path = tmp_path / f"array-idx{len(shape)}{suffix}"
    write_idx(path, array)
    out = read_idx(path)
    assert out.dtype == np.dtype(dtype)
    assert out.dtype.isnative
    assert out.shape == shape
    np.testing.assert_array_equal(out, array)
    assert out.flags.writeable
    # gzip is written iff the name ends in .gz; the reader detects it from the content.
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == (suffix == ".gz")


def test_round_trip_non_contiguous_and_big_endian(tmp_path: Path) -> None:
    base = np.arange(60, dtype=">i4").reshape(6, 10)
    view = base[::2, 1::3]
    write_idx(tmp_path / "v.idx", view)
    np.testing.assert_array_equal(read_idx(tmp_path / "v.idx"), view)


def test_gzip_detected_by_content_not_name(tmp_path: Path) -> None:
    array = np.arange(10, dtype=np.int16)
    write_idx(tmp_path / "a.gz", array)
    renamed = tmp_path / "plain-looking-name"
    os.replace(tmp_path / "a.gz", renamed)
    np.testing.assert_array_equal(read_idx(renamed), array)
    write_idx(tmp_path / "b", array)
    os.replace(tmp_path / "b", tmp_path / "b.gz")  # plain content, .gz name
    np.testing.assert_array_equal(read_idx(tmp_path / "b.gz"), array)


def test_write_idx_layout(tmp_path: Path) -> None:
    write_idx(tmp_path / "x", np.array([[1, 2, 3]], dtype=np.int16))
    assert (tmp_path / "x").read_bytes() == bytes.fromhex("00000B02 00000001 00000003 000100020003")


def test_write_idx_is_atomic_and_leaves_no_temp_files(tmp_path: Path) -> None:
    path = tmp_path / "a.gz"
    write_idx(path, np.zeros(3, dtype=np.uint8))
    with pytest.raises(TypeError, match="cannot store dtype int64"):
        write_idx(path, np.zeros(3, dtype=np.int64))
    # The failed write left the previous file intact and no temporary file behind.
    np.testing.assert_array_equal(read_idx(path), np.zeros(3, dtype=np.uint8))
    assert [p.name for p in tmp_path.iterdir()] == ["a.gz"]


@pytest.mark.parametrize("name", ["a.gz", "a"])
def test_write_idx_failing_mid_write_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    path = tmp_path / name
    write_idx(path, np.arange(3, dtype=np.uint8))

    def fail(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", fail)  # after the data are written, before the rename
    with pytest.raises(OSError, match="disk full"):
        write_idx(path, np.zeros(5, dtype=np.float32))
    monkeypatch.undo()
    np.testing.assert_array_equal(read_idx(path), np.arange(3, dtype=np.uint8))
    assert [p.name for p in tmp_path.iterdir()] == [name]


@pytest.mark.parametrize(
    ("array", "error", "phrase"),
    [
        (np.zeros(3, dtype=bool), TypeError, "cannot store dtype bool"),
        (np.zeros(3, dtype=np.float16), TypeError, "cannot store dtype float16"),
        (np.array(1.0), ValueError, "1 to 8 dimensions"),
        (np.zeros((1,) * 9, dtype=np.uint8), ValueError, "1 to 8 dimensions"),
    ],
)
def test_write_idx_rejects_unsupported(
    tmp_path: Path, array: np.ndarray, error: type[Exception], phrase: str
) -> None:
    with pytest.raises(error, match=phrase):
        write_idx(tmp_path / "bad", array)
    assert list(tmp_path.iterdir()) == []


@settings(max_examples=40, deadline=None)
@given(
    array=hnp.arrays(
        dtype=st.sampled_from(["u1", "i1", "<i2", ">i2", "i4", "f4", ">f8"]),
        shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=5),
    ),
    compress=st.booleans(),
)
def test_round_trip_property(
    tmp_path_factory: pytest.TempPathFactory, array: np.ndarray, compress: bool
) -> None:
    path = tmp_path_factory.mktemp("prop") / ("a.gz" if compress else "a")
    write_idx(path, array)
    out = read_idx(path)
    assert out.shape == array.shape
    assert out.dtype == array.dtype.newbyteorder("=")
    np.testing.assert_array_equal(out, array)


# --------------------------------------------------------------------------- corrupt files


GOOD_HEADER = _idx_header(0x08, (2, 3))


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize(
    ("data", "phrase"),
    [
        pytest.param(
            b"\x01\x02\x08\x01" + b"\x00\x00\x00\x01" + b"x", "bad magic number", id="bad-magic"
        ),
        pytest.param(b"<html>404 Not Found</html>", "HTML/JSON page", id="html-page"),
        pytest.param(b"\x00\x00", "too short", id="two-bytes"),
        pytest.param(b"", "too short", id="empty"),
        pytest.param(
            _idx_header(0x0A, (3,)) + b"abc", "unknown IDX type code 0x0A", id="unknown-type"
        ),
        pytest.param(
            b"\x00\x00\x08\x00" + b"payload", "invalid number of dimensions 0", id="zero-dims"
        ),
        pytest.param(
            b"\x00\x00\x08\x09" + b"\x00" * 40, "invalid number of dimensions 9", id="nine-dims"
        ),
        pytest.param(
            b"\x00\x00\x08\xff" + b"\x00" * 40, "invalid number of dimensions 255", id="255-dims"
        ),
        pytest.param(
            b"\x00\x00\x08\x03" + b"\x00\x00\x00\x02",
            "declares 3 dimensions .* only 8 bytes",
            id="short-header",
        ),
        pytest.param(
            GOOD_HEADER + b"\x00" * 5,
            "payload has 5 bytes but the header declares 2x3 uint8",
            id="short-payload",
        ),
        pytest.param(GOOD_HEADER + b"\x00" * 7, "1 unexpected trailing bytes", id="trailing-bytes"),
        pytest.param(
            _idx_header(0x0D, (4,)) + b"\x00" * 15,
            "declares 4 float32 \\(16 bytes\\)",
            id="short-float32",
        ),
    ],
)
def test_corrupt_file_errors(tmp_path: Path, data: bytes, phrase: str, compress: bool) -> None:
    path = _write_bytes(tmp_path / "corrupt-idx", data, compress=compress)
    with pytest.raises(IDXFormatError, match=phrase) as excinfo:
        read_idx(path)
    assert isinstance(excinfo.value, ValueError)
    assert str(path) in str(excinfo.value)  # the message names the file


def test_truncated_payload_message(tmp_path: Path) -> None:
    path = _write_bytes(
        tmp_path / "train-images-idx3-ubyte.gz",
        _idx_header(0x08, (60000, 28, 28)) + bytes(1000),
        compress=True,
    )
    with pytest.raises(IDXFormatError) as excinfo:
        read_idx(path)
    message = str(excinfo.value)
    assert message.startswith(f"{path}: payload has 1000 bytes")
    assert "60000x28x28 uint8 (47040000 bytes)" in message
    assert "truncated or corrupt" in message
    assert "download it again" in message


@pytest.mark.parametrize("keep", [5, 30, -8, -1])
def test_truncated_gzip(tmp_path: Path, keep: int) -> None:
    """Cutting a gzip stream (inside the deflate data or the CRC trailer) is reported."""
    compressed = gzip.compress(GOOD_HEADER + bytes(range(6)) * 50, mtime=0)
    path = _write_bytes(tmp_path / "cut.gz", compressed[:keep])
    with pytest.raises(IDXFormatError, match="gzip stream is truncated") as excinfo:
        read_idx(path)
    assert str(path) in str(excinfo.value)


def test_corrupt_gzip(tmp_path: Path) -> None:
    compressed = bytearray(gzip.compress(GOOD_HEADER + bytes(6), mtime=0))
    compressed[-6] ^= 0xFF  # damage the CRC-32
    path = _write_bytes(tmp_path / "bad-crc.gz", bytes(compressed))
    with pytest.raises(IDXFormatError, match="gzip stream is corrupt"):
        read_idx(path)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope-idx1-ubyte.gz"
    with pytest.raises(FileNotFoundError, match="no such file") as excinfo:
        read_idx(path)
    message = str(excinfo.value)
    assert str(path) in message
    assert "DEEPBELIEF_DATA" in message
    assert "root=" in message


# --------------------------------------------------------------------------- checksums


def test_verify_sha256_accepts_right_and_rejects_wrong_content() -> None:
    payload = GOOD_HEADER + bytes(range(6))
    digest = hashlib.sha256(payload).hexdigest()
    verify_sha256(payload, digest, name="x")
    verify_sha256(payload, digest.upper(), name="x")
    # Digest of the decompressed content: any recompression is accepted.
    verify_sha256(gzip.compress(payload, compresslevel=1, mtime=0), digest)
    verify_sha256(gzip.compress(payload, compresslevel=9, mtime=12345), digest)
    assert content_sha256(gzip.compress(payload)) == digest

    tampered = bytearray(payload)
    tampered[-1] ^= 1
    with pytest.raises(ChecksumError, match="some-url: SHA-256 mismatch") as excinfo:
        verify_sha256(bytes(tampered), digest, name="some-url")
    assert isinstance(excinfo.value, ValueError)
    assert digest in str(excinfo.value)
    with pytest.raises(ChecksumError, match="SHA-256 mismatch"):
        verify_sha256(gzip.compress(bytes(tampered)), digest)
    with pytest.raises(ChecksumError, match="gzip stream is truncated or corrupt"):
        verify_sha256(gzip.compress(payload)[:-4], digest)


def test_sha256_constants_are_well_formed() -> None:
    for table in (MNIST_SHA256, FASHION_MNIST_SHA256):
        assert sorted(table) == sorted(
            f"{p}-{w}"
            for p in ("train", "t10k")
            for w in ("images-idx3-ubyte", "labels-idx1-ubyte")
        )
        for digest in table.values():
            assert len(digest) == 64
            int(digest, 16)
    assert set(MNIST_SHA256.values()).isdisjoint(FASHION_MNIST_SHA256.values())


# --------------------------------------------------------------------------- load_digits


def test_load_digits() -> None:
    X, y = load_digits()
    assert X.shape == (1797, 64)
    assert X.dtype == np.float32
    assert y.shape == (1797,)
    assert y.dtype == np.int64
    assert X.min() == 0.0
    assert X.max() == 1.0
    np.testing.assert_array_equal(np.unique(y), np.arange(10))
    # Values are multiples of 1/16.
    np.testing.assert_array_equal(X * 16, np.round(X * 16))


# --------------------------------------------------------------------------- loaders (synthetic)


@pytest.mark.parametrize("loader", [load_mnist, load_fashion_mnist])
@pytest.mark.parametrize("gz", [True, False], ids=["gz", "plain"])
def test_loader_with_root(tmp_path: Path, loader, gz: bool) -> None:
    images, labels = _make_dataset(tmp_path, kind="test", n=9, gz=gz)
    X, y = loader(tmp_path, kind="test")
    assert X.shape == (9, 784)
    assert X.dtype == np.float32
    assert y.dtype == np.int64
    assert X.min() == 0.0
    assert X.max() == 1.0
    np.testing.assert_allclose(X, images.reshape(9, -1) / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(y, labels)


def test_loader_root_may_be_parent_folder(tmp_path: Path) -> None:
    _, labels = _make_dataset(tmp_path / "fashion-mnist", n=4)
    _, y = load_fashion_mnist(str(tmp_path))
    np.testing.assert_array_equal(y, labels)


def test_env_var_parent_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, mnist_labels = _make_dataset(tmp_path / "mnist", n=5, seed=1)
    _, fashion_labels = _make_dataset(tmp_path / "fashion-mnist", n=6, seed=2)
    monkeypatch.setenv("DEEPBELIEF_DATA", str(tmp_path))
    np.testing.assert_array_equal(load_mnist()[1], mnist_labels)
    np.testing.assert_array_equal(load_fashion_mnist()[1], fashion_labels)


def test_env_var_direct_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, labels = _make_dataset(tmp_path, kind="test", n=7, gz=False)
    monkeypatch.setenv("DEEPBELIEF_DATA", str(tmp_path))
    X, y = load_mnist(kind="test")
    assert X.shape == (7, 784)
    np.testing.assert_array_equal(y, labels)


def test_loader_count_mismatch(tmp_path: Path) -> None:
    _make_dataset(tmp_path, n=5)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(4, dtype=np.uint8))
    with pytest.raises(IDXFormatError, match=r"holds 5 images but .* holds 4 labels"):
        load_mnist(tmp_path)


def test_loader_rejects_wrong_array_kinds(tmp_path: Path) -> None:
    _make_dataset(tmp_path, n=3)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", np.zeros((3, 784), dtype=np.uint8))
    with pytest.raises(IDXFormatError, match="expected a 3-d uint8 image array, got 3x784"):
        load_mnist(tmp_path)


def test_loader_bad_kind(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="kind must be 'train' or 'test'"):
        load_mnist(tmp_path, kind="validation")  # type: ignore[arg-type]


def test_loader_missing_files(tmp_path: Path) -> None:
    _make_dataset(tmp_path, kind="train", n=3)  # no test split
    with pytest.raises(FileNotFoundError, match="MNIST test data not found") as excinfo:
        load_mnist(tmp_path, kind="test")
    message = str(excinfo.value)
    assert str(tmp_path) in message
    assert "t10k-images-idx3-ubyte" in message
    assert "DEEPBELIEF_DATA" in message


def test_no_root_and_no_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEEPBELIEF_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match="DEEPBELIEF_DATA is not set") as excinfo:
        load_mnist()
    message = str(excinfo.value)
    assert "root=" in message
    assert "download=True" in message
    assert "dataset-fashion-mnist" not in message

    with pytest.raises(FileNotFoundError, match="DEEPBELIEF_DATA is not set") as excinfo:
        load_fashion_mnist(kind="test")
    message = str(excinfo.value)
    assert "root=" in message
    assert "dataset-fashion-mnist" in message
    assert "/usr/share/datasets/fashion-mnist" in message


def test_empty_env_var_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEEPBELIEF_DATA", "")
    with pytest.raises(FileNotFoundError, match="DEEPBELIEF_DATA is not set"):
        load_mnist()


# --------------------------------------------------------------------------- download (offline)


class _FakeResponse(io.BytesIO):
    """Stands in for the object returned by urllib.request.urlopen."""


def _fake_mirror(
    monkeypatch: pytest.MonkeyPatch, files: dict[str, bytes], calls: list[str]
) -> None:
    """Serve ``files`` (by URL) instead of the network; other URLs fail like a dead mirror."""

    def fake_urlopen(url: str, timeout: float) -> _FakeResponse:
        calls.append(url)
        if url not in files:
            raise urllib.error.URLError("mirror unreachable (test)")
        return _FakeResponse(files[url])

    monkeypatch.setattr(datasets, "_urlopen", fake_urlopen)


def test_download_uses_next_mirror_verifies_and_caches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "source"
    images, labels = _make_dataset(source, kind="test", n=4, gz=False)
    contents = {p.name: p.read_bytes() for p in source.iterdir()}
    # Pretend the constants describe these small files, and use fake mirrors.
    sha = {name: hashlib.sha256(data).hexdigest() for name, data in contents.items()}
    info = datasets._DatasetInfo(
        "mnist", "MNIST", ("https://dead.invalid/", "https://ok.invalid/m/"), sha
    )
    monkeypatch.setitem(datasets._DATASETS, "mnist", info)
    served = {
        f"https://ok.invalid/m/{name}.gz": gzip.compress(data, compresslevel=1)  # recompressed
        for name, data in contents.items()
    }
    calls: list[str] = []
    _fake_mirror(monkeypatch, served, calls)
    monkeypatch.delenv("DEEPBELIEF_DATA", raising=False)

    cache = tmp_path / "cache"
    X, y = load_mnist(kind="test", download=True, cache_dir=cache)
    np.testing.assert_array_equal(y, labels)
    np.testing.assert_allclose(X, images.reshape(4, -1) / 255.0, rtol=1e-6)
    assert calls[0].startswith("https://dead.invalid/")
    assert sorted(p.name for p in cache.iterdir()) == [
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ]

    # Second call reads the cache without downloading again.
    calls.clear()
    load_mnist(kind="test", download=True, cache_dir=cache)
    assert calls == []


def test_download_rejects_bad_checksum(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sha = {stem: "0" * 64 for stem in MNIST_SHA256}
    info = datasets._DatasetInfo("mnist", "MNIST", ("https://bad.invalid/",), sha)
    monkeypatch.setitem(datasets._DATASETS, "mnist", info)
    served = {
        f"https://bad.invalid/{stem}.gz": gzip.compress(_idx_header(0x08, (1,)) + b"\x07")
        for stem in sha
    }
    _fake_mirror(monkeypatch, served, [])
    monkeypatch.delenv("DEEPBELIEF_DATA", raising=False)  # CI sets it: no local copy here
    cache = tmp_path / "cache"
    with pytest.raises(OSError, match="could not download MNIST file") as excinfo:
        load_mnist(kind="train", download=True, cache_dir=cache)
    assert "SHA-256 mismatch" in str(excinfo.value)
    assert list(cache.iterdir()) == []  # nothing unverified is left in the cache


# --------------------------------------------------------------------------- real data


@needs_mnist
def test_real_mnist(data_root: Path) -> None:
    X, y = load_mnist(data_root / "mnist", kind="train")
    assert X.shape == (60000, 784)
    assert X.dtype == np.float32
    assert y.dtype == np.int64
    assert X.min() == 0.0
    assert X.max() == 1.0
    assert np.bincount(y, minlength=10).tolist() == MNIST_TRAIN_COUNTS

    X, y = load_mnist(data_root, kind="test")  # parent folder works too
    assert X.shape == (10000, 784)
    assert X.dtype == np.float32
    assert 0.0 == X.min() < X.max() == 1.0
    assert np.bincount(y, minlength=10).tolist() == MNIST_TEST_COUNTS


@needs_fashion
def test_real_fashion_mnist(data_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEEPBELIEF_DATA", str(data_root))
    X, y = load_fashion_mnist(kind="train")
    assert X.shape == (60000, 784)
    assert X.dtype == np.float32
    assert y.dtype == np.int64
    assert X.min() == 0.0
    assert X.max() == 1.0
    assert np.bincount(y, minlength=10).tolist() == [6000] * 10

    X, y = load_fashion_mnist(kind="test")
    assert X.shape == (10000, 784)
    assert np.bincount(y, minlength=10).tolist() == [1000] * 10


@pytest.mark.parametrize(
    ("folder", "table"),
    [
        pytest.param("mnist", MNIST_SHA256, marks=needs_mnist),
        pytest.param("fashion-mnist", FASHION_MNIST_SHA256, marks=needs_fashion),
    ],
)
def test_sha256_constants_match_real_files(data_root: Path, folder: str, table: dict) -> None:
    for stem, digest in table.items():
        verify_sha256((data_root / folder / f"{stem}.gz").read_bytes(), digest, name=stem)
