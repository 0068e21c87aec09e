"""The model file format: round trips, and rejection of every kind of bad file."""

from __future__ import annotations

import json
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import torch

from deepbelief import RBM, load
from deepbelief.exceptions import ModelFileError
from deepbelief.io import modelfile as serialization
from deepbelief.io.atomic import atomic_write
from deepbelief.io.modelfile import (
    FORMAT_VERSION,
    describe,
    load_file,
    metadata_sha256,
    save_file,
)

PICKLE_PHRASE = "deepbelief never unpickles files"
_REAL_PICKLE_LOADS = pickle.loads


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------


def _tensors() -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return {
        "W": torch.randn(3, 4, generator=gen),
        "b": torch.randn(4, generator=gen, dtype=torch.float64),
        "counts": torch.arange(-5, 7, dtype=torch.int64).reshape(2, 6),
        "mask": torch.tensor([True, False, True]),
        "scalar": torch.tensor(2.5),
        "empty": torch.zeros(0, 3),
        "half": torch.linspace(-1, 1, 5).to(torch.bfloat16),
        "small": torch.tensor([1, 255, 7], dtype=torch.uint8),
    }


def _save(path: Path, **kwargs) -> Path:
    kwargs.setdefault("model_type", "DBNClassifier")
    kwargs.setdefault("config", {"n_hidden": [8, 4], "lr": 0.1})
    kwargs.setdefault("tensors", _tensors())
    return save_file(path, **kwargs)


def _split(path: Path) -> tuple[dict, bytes]:
    """The safetensors JSON header and the tensor data of a file."""
    data = path.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8 : 8 + length]), data[8 + length :]


def _join(path: Path, header: dict, payload: bytes) -> None:
    text = json.dumps(header, ensure_ascii=False).encode("utf-8")
    path.write_bytes(struct.pack("<Q", len(text)) + text + payload)


def _edit_document(path: Path, edit, *, rehash: bool = False) -> None:
    """Apply ``edit`` to the deepbelief metadata document of a file, keeping it valid JSON.

    ``rehash=True`` also recomputes ``metadata_sha256``, as a deliberate tamperer would, to
    reach the checks behind the metadata checksum.
    """
    header, payload = _split(path)
    document = json.loads(header["__metadata__"]["deepbelief"])
    edit(document, header)
    if rehash:
        document["metadata_sha256"] = metadata_sha256(document)
    header["__metadata__"]["deepbelief"] = json.dumps(document)
    _join(path, header, payload)


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return _save(tmp_path / "model.safetensors")


def _forbidden(*args, **kwargs):
    raise AssertionError("the loader tried to unpickle or torch.load a file")


@pytest.fixture
def no_unpickling(monkeypatch):
    """Make every unpickling entry point fail loudly while a test runs."""
    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, _forbidden)
    monkeypatch.setattr(torch, "load", _forbidden)


class _Gadget:
    """Unpickling this creates the folder ``marker``: proof that something unpickled it."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


# --------------------------------------------------------------------------------------
# round trips
# --------------------------------------------------------------------------------------


def test_round_trip_is_exact(model: Path):
    header, tensors = load_file(model, expected_type="DBNClassifier")
    expected = _tensors()
    assert list(tensors) == sorted(expected)
    for name, tensor in expected.items():
        loaded = tensors[name]
        assert loaded.device.type == "cpu"
        assert loaded.dtype == tensor.dtype
        assert loaded.shape == tensor.shape
        assert torch.equal(loaded, tensor), name
    assert header["format"] == "deepbelief-model"
    assert header["format_version"] == FORMAT_VERSION == 1
    assert header["model_type"] == "DBNClassifier"
    assert header["config"] == {"n_hidden": [8, 4], "lr": 0.1}
    assert header["tensors"]["counts"] == {"shape": [2, 6], "dtype": "int64"}
    assert header["tensors"]["mask"] == {"shape": [3], "dtype": "bool"}
    assert header["tensors"]["scalar"] == {"shape": [], "dtype": "float32"}
    assert header["payload_sha256"] == serialization.payload_sha256(expected)
    import deepbelief

    assert header["library_version"] == deepbelief.__version__


def test_file_is_plain_safetensors_with_one_metadata_key(model: Path):
    header, _ = _split(model)
    assert set(header["__metadata__"]) == {"deepbelief"}
    document = json.loads(header["__metadata__"]["deepbelief"])
    assert set(document) == {
        "format",
        "format_version",
        "library_version",
        "model_type",
        "config",
        "tensors",
        "payload_sha256",
        "metadata_sha256",
    }
    plain = safetensors.torch.load(model.read_bytes())
    assert torch.equal(plain["W"], _tensors()["W"])


def test_save_returns_path_and_accepts_str(tmp_path: Path):
    target = tmp_path / "m.safetensors"
    result = _save(str(target))
    assert result == target and isinstance(result, Path)
    assert load_file(str(target))[0]["model_type"] == "DBNClassifier"


def test_empty_config_and_no_tensors(tmp_path: Path):
    path = _save(tmp_path / "m.st", config={}, tensors={})
    header, tensors = load_file(path)
    assert header["config"] == {}
    assert tensors == {}


def test_unicode_config_and_names(tmp_path: Path):
    config = {"label": "Größe – 大きさ 🧠", "classes": ["café", "naïve"], "ключ": "значение"}
    tensors = {"poids_é": torch.ones(2), "w": torch.zeros(1)}
    header, loaded = load_file(_save(tmp_path / "m.st", config=config, tensors=tensors))
    assert header["config"] == config
    assert torch.equal(loaded["poids_é"], torch.ones(2))


def test_numpy_and_tuples_in_config(tmp_path: Path):
    config = {
        "n": np.int64(7),
        "rate": np.float32(0.5),
        "flag": np.bool_(True),
        "classes": np.array([0, 1, 2]),
        "grid": np.array([[0.5, 1.0], [2.0, 4.0]]),
        "sizes": (784, np.int32(500), (2, 3)),
        "name": np.str_("dbn"),
        "nested": {"inner": [np.uint8(3), None, False]},
    }
    header, _ = load_file(_save(tmp_path / "m.st", config=config))
    got = header["config"]
    assert got == {
        "n": 7,
        "rate": 0.5,
        "flag": True,
        "classes": [0, 1, 2],
        "grid": [[0.5, 1.0], [2.0, 4.0]],
        "sizes": [784, 500, [2, 3]],
        "name": "dbn",
        "nested": {"inner": [3, None, False]},
    }
    assert type(got["n"]) is int and type(got["flag"]) is bool and type(got["rate"]) is float


def test_numpy_tensors_and_odd_layouts(tmp_path: Path):
    base = np.arange(12, dtype=np.float32).reshape(3, 4)
    readonly = np.arange(3, dtype=np.int64)
    readonly.flags.writeable = False
    tensors = {
        "np": base,
        "np_t": base.T,  # not contiguous
        "np_be": np.arange(4, dtype=">i4"),  # big-endian
        "ro": readonly,
        "torch_t": torch.arange(6.0).reshape(2, 3).T,
        "view_a": torch.arange(4.0)[:2],  # shares storage with view_b
        "view_b": torch.arange(4.0)[2:],
        "grad": torch.ones(2, requires_grad=True),
    }
    _, loaded = load_file(_save(tmp_path / "m.st", tensors=tensors))
    assert torch.equal(loaded["np"], torch.from_numpy(base))
    assert torch.equal(loaded["np_t"], torch.from_numpy(np.ascontiguousarray(base.T)))
    assert loaded["np_be"].tolist() == [0, 1, 2, 3] and loaded["np_be"].dtype == torch.int32
    assert loaded["ro"].tolist() == [0, 1, 2]
    assert torch.equal(loaded["torch_t"], torch.arange(6.0).reshape(2, 3).T)
    assert loaded["view_b"].tolist() == [2.0, 3.0]
    assert not loaded["grad"].requires_grad


def test_overwrite_replaces_file(tmp_path: Path):
    path = _save(tmp_path / "m.st", tensors={"a": torch.zeros(2)})
    _save(path, tensors={"a": torch.ones(3)})
    assert torch.equal(load_file(path)[1]["a"], torch.ones(3))
    assert os.listdir(tmp_path) == ["m.st"]


def test_describe_reads_header_only(model: Path):
    document = describe(model)
    assert document == load_file(model)[0]
    # describe does not read the tensor data, so it does not see a flipped payload byte.
    data = bytearray(model.read_bytes())
    data[-1] ^= 0xFF
    model.write_bytes(bytes(data))
    assert describe(model)["model_type"] == "DBNClassifier"


def test_payload_sha256_definition():
    """The checksum is exactly the documented byte stream."""
    tensors = {"b": torch.tensor([1, 2], dtype=torch.int16), "a": torch.tensor(True)}
    q = struct.Struct("<Q").pack
    stream = (
        q(1) + b"a" + q(4) + b"bool" + q(0) + q(1) + b"\x01"
        + q(1) + b"b" + q(5) + b"int16" + q(1) + q(2) + q(4) + b"\x01\x00\x02\x00"
    )  # fmt: skip
    import hashlib

    assert serialization.payload_sha256(tensors) == hashlib.sha256(stream).hexdigest()


# --------------------------------------------------------------------------------------
# rejection
# --------------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="model file not found"):
        load_file(tmp_path / "nope.safetensors")
    with pytest.raises(FileNotFoundError, match="model file not found"):
        describe(tmp_path / "nope.safetensors")


@pytest.mark.parametrize("offset_from_end", [1, 17, 40])
def test_flipped_payload_byte(model: Path, offset_from_end: int):
    data = bytearray(model.read_bytes())
    data[-offset_from_end] ^= 0x01
    model.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="modified or corrupted") as info:
        load_file(model)
    assert str(model) in str(info.value)
    assert "payload_sha256" in str(info.value)


def test_flipped_header_byte(model: Path):
    data = bytearray(model.read_bytes())
    data[8] = ord("[")  # header no longer starts with "{"
    model.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="not a safetensors file"):
        load_file(model)


@pytest.mark.parametrize(
    ("cut", "phrase"),
    [
        (0, "only 0 bytes"),
        (1, "only 1 bytes"),
        (5, "only 5 bytes"),
        (8, "truncated"),
        (9, "truncated"),
        ("mid_header", "truncated"),
        ("end_header", "truncated"),
        ("mid_payload", "truncated"),
        ("last_byte", "truncated"),
    ],
)
def test_truncated_file(model: Path, cut, phrase: str):
    data = model.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    cuts = {
        "mid_header": 8 + length // 2,
        "end_header": 8 + length,
        "mid_payload": 8 + length + (len(data) - 8 - length) // 2,
        "last_byte": len(data) - 1,
    }
    model.write_bytes(data[: cuts.get(cut, cut)])
    with pytest.raises(ModelFileError, match=phrase) as info:
        load_file(model)
    assert str(model) in str(info.value)
    with pytest.raises(ModelFileError, match=phrase):
        describe(model)


def test_trailing_garbage(model: Path):
    model.write_bytes(model.read_bytes() + b"\x00" * 4)
    with pytest.raises(ModelFileError, match="corrupted file"):
        load_file(model)


def test_not_json_header(model: Path):
    data = bytearray(model.read_bytes())
    data[9] = 0xFF  # invalid UTF-8 just after "{"
    model.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="not valid UTF-8"):
        load_file(model)
    data[9] = ord("!")
    model.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="not valid JSON"):
        load_file(model)


def test_huge_header_length(model: Path):
    data = model.read_bytes()
    model.write_bytes(struct.pack("<Q", 200_000_000) + data[8:])
    with pytest.raises(ModelFileError, match="header length"):
        load_file(model)


def test_offsets_out_of_payload(model: Path):
    header, payload = _split(model)
    begin, end = header["W"]["data_offsets"]
    header["W"]["data_offsets"] = [begin + len(payload), end + len(payload)]
    _join(model, header, payload)
    with pytest.raises(ModelFileError, match="truncated"):
        load_file(model)


def test_overlapping_offsets(model: Path):
    header, payload = _split(model)
    header["scalar"]["data_offsets"] = [0, 4]  # on top of whatever tensor starts at 0
    _join(model, header, payload)
    with pytest.raises(ModelFileError, match="without gaps or overlap"):
        load_file(model)


def test_declared_shape_edited(model: Path, tmp_path: Path):
    def edit(document, header):
        document["tensors"]["W"]["shape"] = [4, 3]

    _edit_document(model, edit)
    with pytest.raises(ModelFileError, match=r"modified or corrupted.*metadata_sha256"):
        load_file(model)
    with pytest.raises(ModelFileError, match="modified or corrupted"):
        describe(model)
    other = _save(tmp_path / "other.st")
    _edit_document(other, edit, rehash=True)
    with pytest.raises(ModelFileError, match=r"modified or corrupted.*'W'"):
        load_file(other)


def test_stored_shape_edited(model: Path):
    """Same byte size, other shape in the safetensors header only."""
    header, payload = _split(model)
    header["W"]["shape"] = [2, 6]
    _join(model, header, payload)
    with pytest.raises(ModelFileError, match=r"modified or corrupted.*'W'"):
        load_file(model)


def test_shape_edited_consistently_is_caught_by_checksum(model: Path):
    def edit(document, header):
        document["tensors"]["W"]["shape"] = [6, 2]
        header["W"]["shape"] = [6, 2]

    _edit_document(model, edit, rehash=True)
    with pytest.raises(ModelFileError, match=r"modified or corrupted.*payload_sha256"):
        load_file(model)


def test_declared_dtype_or_names_edited(model: Path, tmp_path: Path):
    def dtype(document, header):
        document["tensors"]["counts"]["dtype"] = "float64"

    _edit_document(model, dtype, rehash=True)
    with pytest.raises(ModelFileError, match=r"modified or corrupted.*'counts'"):
        load_file(model)

    other = _save(tmp_path / "other.st")

    def drop(document, header):
        del document["tensors"]["mask"]

    _edit_document(other, drop, rehash=True)
    with pytest.raises(ModelFileError, match="stored but not declared: \\['mask'\\]"):
        load_file(other)


def test_checksum_field_edited(model: Path):
    def edit(document, header):
        document["payload_sha256"] = "0" * 64

    _edit_document(model, edit)
    with pytest.raises(ModelFileError, match="modified or corrupted"):
        load_file(model)


def test_model_type_or_config_edited_is_caught_by_metadata_checksum(model: Path, tmp_path):
    def edit(document, header):
        document["model_type"] = "RBMTransformer"

    _edit_document(model, edit)
    with pytest.raises(ModelFileError, match=r"modified or corrupted.*metadata_sha256"):
        load_file(model)
    config = _save(tmp_path / "config.st")
    _edit_document(config, lambda document, header: document["config"].update(n_hidden=99))
    with pytest.raises(ModelFileError, match=r"modified or corrupted.*metadata_sha256"):
        load_file(config)
    # Re-hashed by a deliberate tamperer: expected_type still guards the model type.
    retyped = _save(tmp_path / "retyped.st")
    _edit_document(retyped, edit, rehash=True)
    with pytest.raises(ModelFileError, match=r"'RBMTransformer'.*'DBNClassifier'"):
        load_file(retyped, expected_type="DBNClassifier")


@pytest.mark.parametrize("expected", ["RBMTransformer", ["RBMTransformer", "DBNRegressor"]])
def test_expected_type_mismatch(model: Path, expected):
    with pytest.raises(ModelFileError, match="DBNClassifier") as info:
        load_file(model, expected_type=expected)
    assert "RBMTransformer" in str(info.value)
    assert str(model) in str(info.value)


def test_expected_type_in_sequence(model: Path):
    header, _ = load_file(model, expected_type=("RBMTransformer", "DBNClassifier"))
    assert header["model_type"] == "DBNClassifier"


def test_newer_format_version(model: Path):
    def edit(document, header):
        document["format_version"] = 2

    _edit_document(model, edit)
    with pytest.raises(ModelFileError, match="Upgrade deepbelief") as info:
        load_file(model)
    assert "format version 2" in str(info.value)
    with pytest.raises(ModelFileError, match="Upgrade deepbelief"):
        describe(model)


@pytest.mark.parametrize("version", ["1", 1.0, None, 0, -1, True, [1]])
def test_unparseable_format_version(model: Path, version):
    def edit(document, header):
        document["format_version"] = version

    _edit_document(model, edit)
    with pytest.raises(ModelFileError, match="format_version"):
        load_file(model)


def test_wrong_format_name(model: Path):
    def edit(document, header):
        document["format"] = "something-else"

    _edit_document(model, edit)
    with pytest.raises(ModelFileError, match="not a deepbelief model file"):
        load_file(model)


def test_metadata_document_not_json(model: Path):
    header, payload = _split(model)
    header["__metadata__"]["deepbelief"] = "{not json"
    _join(model, header, payload)
    with pytest.raises(ModelFileError, match="metadata is not valid JSON"):
        load_file(model)


def test_plain_safetensors_file_without_metadata(tmp_path: Path):
    path = tmp_path / "plain.safetensors"
    safetensors.torch.save_file({"W": torch.ones(2, 2)}, str(path))
    with pytest.raises(ModelFileError, match="without deepbelief metadata") as info:
        load_file(path)
    assert str(path) in str(info.value)
    safetensors.torch.save_file({"W": torch.ones(2)}, str(path), metadata={"other": "x"})
    with pytest.raises(ModelFileError, match="without deepbelief metadata"):
        load_file(path)


@pytest.mark.parametrize("protocol", [0, 1, 2, pickle.HIGHEST_PROTOCOL])
def test_pickle_file_rejected_and_never_unpickled(tmp_path: Path, protocol: int, no_unpickling):
    # The gadget works: unpickling it creates its marker (checked on another marker).
    probe = tmp_path / "probe"
    _REAL_PICKLE_LOADS(pickle.dumps(_Gadget(probe), protocol=protocol))
    assert probe.is_dir()

    marker = tmp_path / "marker"
    path = tmp_path / "model.safetensors"
    path.write_bytes(pickle.dumps({"weights": [1.0, 2.0], "evil": _Gadget(marker)}, protocol))
    for reader in (load_file, describe):
        with pytest.raises(ModelFileError, match=PICKLE_PHRASE) as info:
            reader(path)
        assert "pickle/PyTorch checkpoint, not a deepbelief model file" in str(info.value)
        assert str(path) in str(info.value)
    assert not marker.exists()


@pytest.mark.parametrize("zipfile", [True, False])
def test_torch_save_file_rejected_and_never_unpickled(tmp_path: Path, zipfile: bool, no_unpickling):
    marker = tmp_path / "marker"
    path = tmp_path / "model.pt"
    torch.save(
        {"W": torch.ones(2), "evil": _Gadget(marker)},
        path,
        _use_new_zipfile_serialization=zipfile,
    )
    assert path.read_bytes()[:2] == (b"PK" if zipfile else b"\x80\x02")
    with pytest.raises(ModelFileError, match=PICKLE_PHRASE) as info:
        load_file(path)
    assert str(path) in str(info.value)
    assert not marker.exists()


def test_loading_a_good_file_never_unpickles(model: Path, no_unpickling):
    header, tensors = load_file(model)
    assert header["model_type"] == "DBNClassifier" and "W" in tensors


def test_tiny_pickle_rejected(tmp_path: Path):
    path = tmp_path / "none.pkl"
    path.write_bytes(pickle.dumps(None))  # 4 bytes
    with pytest.raises(ModelFileError, match=PICKLE_PHRASE):
        load_file(path)


def test_random_bytes_rejected(tmp_path: Path):
    path = tmp_path / "junk.bin"
    path.write_bytes(b"\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a" * 10)
    with pytest.raises(ModelFileError, match="not a deepbelief model file"):
        load_file(path)


# --------------------------------------------------------------------------------------
# saving: atomicity and validation
# --------------------------------------------------------------------------------------


def _boom(*args, **kwargs):
    raise OSError("disk on fire")


@pytest.mark.parametrize("target", ["replace", "fsync", "serialize"])
def test_failed_save_leaves_old_file_intact(tmp_path: Path, monkeypatch, target: str):
    path = _save(tmp_path / "model.safetensors")
    before = path.read_bytes()
    if target == "serialize":
        monkeypatch.setattr(serialization.safetensors.torch, "save", _boom)
    else:
        monkeypatch.setattr(serialization.os, target, _boom)
    with pytest.raises(OSError, match="disk on fire"):
        _save(path, model_type="Other", tensors={"W": torch.zeros(5)})
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.safetensors"]
    header, tensors = load_file(path)
    assert header["model_type"] == "DBNClassifier"
    assert torch.equal(tensors["W"], _tensors()["W"])


def test_failed_write_leaves_no_temp_file_when_no_target(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(serialization.os, "replace", _boom)
    with pytest.raises(OSError):
        _save(tmp_path / "model.safetensors")
    assert os.listdir(tmp_path) == []


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_atomic_write_keeps_the_mode_of_the_file_it_replaces(tmp_path: Path):
    path = tmp_path / "model.safetensors"
    mask = os.umask(0o022)
    try:
        atomic_write(path, b"first")
        assert path.stat().st_mode & 0o777 == 0o644  # as open() would create it
        path.chmod(0o640)
        atomic_write(path, lambda handle: handle.write(b"second"))
    finally:
        os.umask(mask)
    assert path.read_bytes() == b"second"
    assert path.stat().st_mode & 0o777 == 0o640
    assert os.listdir(tmp_path) == ["model.safetensors"]


def test_interrupt_during_write_cleans_up(tmp_path: Path, monkeypatch):
    path = _save(tmp_path / "model.safetensors")
    before = path.read_bytes()

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(serialization.os, "fsync", interrupt)
    with pytest.raises(KeyboardInterrupt):
        _save(path, tensors={"W": torch.zeros(1)})
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.safetensors"]


class _Opaque:
    pass


@pytest.mark.parametrize(
    ("config", "where"),
    [
        ({"estimator": _Opaque()}, "config['estimator']"),
        ({"params": {"rng": np.random.RandomState(0)}}, "config['params']['rng']"),
        ({"layers": [1, 2, {1, 2}]}, "config['layers'][2]"),
        ({"fn": len}, "config['fn']"),
        ({"z": 1 + 2j}, "config['z']"),
        ({"objs": np.array([_Opaque()], dtype=object)}, "config['objs']"),
        ({"raw": b"bytes"}, "config['raw']"),
        ({"d": {1: "int key"}}, "config['d']"),
    ],
)
def test_unserialisable_config(tmp_path: Path, config: dict, where: str):
    path = tmp_path / "m.st"
    with pytest.raises(TypeError) as info:
        _save(path, config=config)
    assert where in str(info.value)
    assert not path.exists() and os.listdir(tmp_path) == []


def test_unserialisable_config_keeps_old_file(model: Path):
    before = model.read_bytes()
    with pytest.raises(TypeError, match="config\\['x'\\]"):
        _save(model, config={"x": object()})
    assert model.read_bytes() == before


@pytest.mark.parametrize("value", [float("nan"), float("inf"), np.float32("-inf")])
def test_non_finite_config_value(tmp_path: Path, value):
    with pytest.raises(ValueError, match="config\\['tol'\\]"):
        _save(tmp_path / "m.st", config={"tol": value})


def test_config_must_be_a_dict(tmp_path: Path):
    with pytest.raises(TypeError, match="config must be a dict"):
        _save(tmp_path / "m.st", config=[1, 2])


@pytest.mark.parametrize(
    ("tensors", "error"),
    [
        ({"W": [1.0, 2.0]}, TypeError),
        ({"W": np.array(["a", "b"], dtype=object)}, TypeError),
        ({"": torch.ones(1)}, ValueError),
        ({"__metadata__": torch.ones(1)}, ValueError),
        ({3: torch.ones(1)}, TypeError),
    ],
)
def test_bad_tensors(tmp_path: Path, tensors, error):
    with pytest.raises(error):
        _save(tmp_path / "m.st", tensors=tensors)
    assert os.listdir(tmp_path) == []


def test_bad_model_type(tmp_path: Path):
    with pytest.raises(ValueError, match="model_type"):
        _save(tmp_path / "m.st", model_type="")
    with pytest.raises(TypeError, match="model_type"):
        _save(tmp_path / "m.st", model_type=None)


@pytest.mark.parametrize("first_bytes", [b"\x80\x04", b"\x80\x02", b"(\x04", b"PK"])
def test_valid_file_whose_length_prefix_looks_like_pickle_or_zip(tmp_path: Path, first_bytes):
    """Sniffing for pickle/zip never misfires on a valid file, whatever its first bytes."""
    target = int.from_bytes(first_bytes, "little")
    path = tmp_path / "m.st"
    pad = 0
    for _ in range(10):
        _save(path, config={"pad": "x" * pad}, tensors={"W": torch.ones(2)})
        length = struct.unpack("<Q", path.read_bytes()[:8])[0]
        if length == target:
            break
        pad += target - length
    assert path.read_bytes()[:2] == first_bytes
    header, tensors = load_file(path)
    assert header["config"] == {"pad": "x" * pad}
    assert torch.equal(tensors["W"], torch.ones(2))


def test_saving_into_a_missing_folder_names_the_folder_and_the_advice_works(tmp_path):
    """Field report: the error named the hidden temporary file, not the missing folder."""
    X = np.random.default_rng(0).random((40, 6)).astype(np.float32)
    rbm = RBM(4, n_iter=1, device="cpu", random_state=0).fit(X)
    target = tmp_path / "new" / "sub" / "m.safetensors"
    with pytest.raises(FileNotFoundError, match=r"the folder .*sub does not exist; create it"):
        rbm.save(target)
    assert not (tmp_path / "new").exists()
    target.parent.mkdir(parents=True)  # the advice
    rbm.save(target)
    np.testing.assert_array_equal(load(target).transform(X), rbm.transform(X))
