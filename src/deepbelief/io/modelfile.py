"""The deepbelief model file format: versioned, checksummed, and free of pickle.

A deepbelief model file is one `safetensors <https://github.com/huggingface/safetensors>`_
file. It holds nothing that can run code: tensors are raw little-endian numbers, and
everything else is JSON. Loading never calls :mod:`pickle`, :func:`torch.load`,
:func:`eval` or :func:`exec`, so a model file from an untrusted source cannot take over the
loading process (it can, of course, still hold a model that predicts badly).

Layout
------
The file is a plain safetensors file::

    bytes 0..7        N, the length of the JSON header, as a little-endian uint64
    bytes 8..8+N      the JSON header (UTF-8; it may end in padding spaces)
    bytes 8+N..end    the tensor data, tensors packed back to back

The JSON header maps every tensor name to
``{"dtype": "F32", "shape": [3, 4], "data_offsets": [begin, end]}``, the offsets counted
from the start of the tensor data, and has one more key, ``"__metadata__"``, a mapping from
strings to strings. The readers here require ``2 <= N < 100 MB``, a header starting with
``{``, tensors that tile the tensor data exactly (no gap, no overlap) and tensor data whose
length is exactly the largest end offset, so a truncated file is always detected.

deepbelief metadata
-------------------
``__metadata__`` holds one key, ``"deepbelief"``, whose value is itself a JSON document::

    {
      "format": "deepbelief-model",
      "format_version": 1,
      "library_version": "0.1.0",
      "model_type": "DBNClassifier",
      "config": {...},
      "tensors": {"name": {"shape": [3, 4], "dtype": "float32"}, ...},
      "payload_sha256": "<64 lowercase hex digits>",
      "metadata_sha256": "<64 lowercase hex digits>"
    }

``format``
    Always ``"deepbelief-model"``.
``format_version``
    An integer, currently :data:`FORMAT_VERSION` (1). A reader refuses files with a version
    newer than its own and tells the user to upgrade deepbelief. Readers keep loading every
    older version.
``library_version``
    The deepbelief version that wrote the file (informative only).
``model_type``
    The name of the model class, e.g. ``"DBNClassifier"``.
``config``
    A JSON object with whatever the model needs besides its tensors (hyper-parameters,
    class labels, ...). Strict JSON: no NaN or infinity.
``tensors``
    For each tensor, its shape and its dtype as the PyTorch dtype name without the
    ``torch.`` prefix (``"float32"``, ``"int64"``, ``"bool"``, ...). It must agree exactly
    with the safetensors header.
``payload_sha256``
    The SHA-256 of the tensors, as defined in :func:`payload_sha256`: their names,
    dtypes, shapes and values.
``metadata_sha256``
    The SHA-256 of every other field of this document, as defined in
    :func:`metadata_sha256` (canonical JSON), so an edited ``model_type`` or ``config`` is
    detected as well as an edited tensor.

The two checksums detect modified or corrupted files; they guard against accidents, not
against an attacker, who can recompute them.

Writing is atomic: the file is written in full to a temporary file in the target folder,
flushed to disk, and then renamed over the target, so an interrupted save leaves any
previous file untouched.

Examples
--------
>>> import tempfile, pathlib, torch
>>> folder = tempfile.TemporaryDirectory()
>>> path = save_file(pathlib.Path(folder.name) / "model.safetensors", model_type="Demo",
...                  config={"n_hidden": 3}, tensors={"W": torch.ones(2, 3)})
>>> header, tensors = load_file(path, expected_type="Demo")
>>> header["format_version"], header["config"], tensors["W"].shape
(1, {'n_hidden': 3}, torch.Size([2, 3]))
>>> describe(path)["tensors"]
{'W': {'shape': [2, 3], 'dtype': 'float32'}}
>>> folder.cleanup()
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import struct
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.torch
import torch

from deepbelief._version import __version__
from deepbelief.exceptions import ModelFileError

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "METADATA_KEY",
    "describe",
    "load_file",
    "metadata_sha256",
    "payload_sha256",
    "save_file",
]

FORMAT_NAME = "deepbelief-model"
"""The value of the ``format`` field."""

FORMAT_VERSION = 1
"""The newest format version this deepbelief reads and the one it writes."""

METADATA_KEY = "deepbelief"
"""The key of the safetensors ``__metadata__`` entry that holds the deepbelief document."""

MAX_HEADER_BYTES = 100_000_000
"""Largest JSON header accepted (the safetensors limit)."""

_PICKLE_MESSAGE = (
    "this is a pickle/PyTorch checkpoint, not a deepbelief model file; deepbelief never "
    "unpickles files. Load it with the tool that wrote it (only if you trust its source) "
    "and save the model again with deepbelief's save()"
)

# safetensors dtype code -> (PyTorch dtype name, bytes per element)
_SAFETENSORS_DTYPES: dict[str, tuple[str, int]] = {
    "BOOL": ("bool", 1),
    "U8": ("uint8", 1),
    "I8": ("int8", 1),
    "U16": ("uint16", 2),
    "I16": ("int16", 2),
    "F16": ("float16", 2),
    "BF16": ("bfloat16", 2),
    "U32": ("uint32", 4),
    "I32": ("int32", 4),
    "F32": ("float32", 4),
    "C64": ("complex64", 8),
    "U64": ("uint64", 8),
    "I64": ("int64", 8),
    "F64": ("float64", 8),
    "F8_E4M3": ("float8_e4m3fn", 1),
    "F8_E4M3FNUZ": ("float8_e4m3fnuz", 1),
    "F8_E5M2": ("float8_e5m2", 1),
    "F8_E5M2FNUZ": ("float8_e5m2fnuz", 1),
}
_HEADER_KEYS = (
    "format",
    "format_version",
    "library_version",
    "model_type",
    "config",
    "tensors",
    "payload_sha256",
    "metadata_sha256",
)
_U64 = struct.Struct("<Q")


# --------------------------------------------------------------------------------------
# Checksum
# --------------------------------------------------------------------------------------


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _le_bytes(tensor: torch.Tensor) -> memoryview:
    """The raw bytes of a CPU tensor, C order, little-endian."""
    flat = tensor.detach().cpu().contiguous().reshape(-1)
    raw = flat.view(torch.uint8).numpy()
    itemsize = flat.element_size()
    if sys.byteorder == "big" and itemsize > 1 and not flat.is_complex():
        raw = np.ascontiguousarray(raw.reshape(-1, itemsize)[:, ::-1]).reshape(-1)
    elif sys.byteorder == "big" and flat.is_complex():
        half = itemsize // 2
        raw = np.ascontiguousarray(raw.reshape(-1, 2, half)[:, :, ::-1]).reshape(-1)
    return memoryview(raw).cast("B")


def metadata_sha256(document: Mapping[str, Any]) -> str:
    """The checksum stored as ``metadata_sha256``, in lowercase hex.

    SHA-256 of the UTF-8 canonical JSON (sorted keys, no spaces, no ASCII escaping) of the
    document without its ``metadata_sha256`` field.

    >>> metadata_sha256({"a": 1, "metadata_sha256": "ignored"}) == metadata_sha256({"a": 1})
    True
    """
    body = {k: v for k, v in document.items() if k != "metadata_sha256"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def payload_sha256(tensors: Mapping[str, torch.Tensor]) -> str:
    """The checksum stored as ``payload_sha256``, in lowercase hex.

    The SHA-256 is fed, for each tensor in order of name (Python string order, which is
    Unicode code point order and the order of the names' UTF-8 bytes), with:

    1. the name as UTF-8, preceded by its length in bytes;
    2. the dtype name (``"float32"``, ``"int64"``, ``"bool"``, ...) as ASCII, preceded by
       its length in bytes;
    3. the number of dimensions, followed by each dimension;
    4. the size of the data in bytes, followed by the data: the elements in C (row-major)
       order, each in little-endian byte order (``bool`` as one byte, 0 or 1).

    Every length, count and dimension is written as a little-endian unsigned 64-bit
    integer, so no two different sets of tensors feed the same bytes.

    Parameters
    ----------
    tensors : mapping of str to torch.Tensor
        The tensors; any device and memory layout.

    Returns
    -------
    str
        64 lowercase hexadecimal digits.

    Examples
    --------
    >>> import torch
    >>> payload_sha256({}) == hashlib.sha256(b"").hexdigest()
    True
    >>> len(payload_sha256({"W": torch.zeros(2, 3)}))
    64
    """
    digest = hashlib.sha256()
    for name in sorted(tensors):
        tensor = tensors[name]
        name_bytes = name.encode("utf-8")
        dtype_bytes = _dtype_name(tensor.dtype).encode("ascii")
        digest.update(_U64.pack(len(name_bytes)))
        digest.update(name_bytes)
        digest.update(_U64.pack(len(dtype_bytes)))
        digest.update(dtype_bytes)
        digest.update(_U64.pack(tensor.dim()))
        for size in tensor.shape:
            digest.update(_U64.pack(size))
        data = _le_bytes(tensor)
        digest.update(_U64.pack(data.nbytes))
        digest.update(data)
    return digest.hexdigest()


# --------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------


def _library_version() -> str:
    return __version__


def _where(keys: Iterable[str | int]) -> str:
    return "config" + "".join(f"[{key!r}]" for key in keys)


def _json_value(value: Any, keys: tuple[str | int, ...]) -> Any:
    """``value`` as plain JSON types, or TypeError/ValueError naming where it sits."""
    if value is None or isinstance(value, (bool, np.bool_)):
        return None if value is None else bool(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(
                f"{_where(keys)} is {number!r}; JSON cannot hold NaN or infinity. "
                "Store it as None or as a string instead."
            )
        return number
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            raise TypeError(
                f"{_where(keys)} is a numpy array of dtype {value.dtype}, which cannot be "
                "stored in the JSON config; only bool, integer and float arrays can."
            )
        return [_json_value(item, (*keys, i)) for i, item in enumerate(value.tolist())]
    if isinstance(value, Mapping):
        result = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(
                    f"{_where(keys)} has the key {key!r} of type {type(key).__name__}; "
                    "config keys must be strings."
                )
            result[str(key)] = _json_value(item, (*keys, key))
        return result
    if isinstance(value, (list, tuple)):
        return [_json_value(item, (*keys, i)) for i, item in enumerate(value)]
    raise TypeError(
        f"{_where(keys)} is an object of type {type(value).__module__}."
        f"{type(value).__qualname__}, which cannot be stored in the JSON config (allowed: "
        "None, bool, int, float, str, list, tuple, dict with str keys, numpy scalars and "
        "numeric numpy arrays)."
    )


def _encode_config(config: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(config, Mapping):
        raise TypeError(f"config must be a dict, got {type(config).__name__}.")
    return _json_value(config, ())


def _as_cpu_tensor(name: str, value: torch.Tensor | np.ndarray) -> torch.Tensor:
    if isinstance(value, np.ndarray):
        array = np.ascontiguousarray(value)
        if not array.dtype.isnative:
            array = array.astype(array.dtype.newbyteorder("="))
        if not array.flags.writeable:
            array = array.copy()
        try:
            value = torch.from_numpy(array)
        except TypeError as exc:
            raise TypeError(
                f"tensor {name!r}: numpy arrays of dtype {array.dtype} cannot be saved."
            ) from exc
    if not isinstance(value, torch.Tensor):
        raise TypeError(
            f"tensor {name!r} is a {type(value).__name__}; expected a torch.Tensor or a "
            "numpy array."
        )
    if value.layout != torch.strided:
        raise TypeError(
            f"tensor {name!r} has layout {value.layout}; only dense tensors can be saved."
        )
    # A fresh copy: never shares memory with another tensor, which safetensors refuses.
    return value.detach().to("cpu").contiguous().clone()


def _file_mode(path: Path) -> int:
    """Permission bits for a new file: those of the file replaced, or 0o666 less umask."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        # os.umask can only be read by setting it; 0o077 is the safe value to hold briefly.
        mask = os.umask(0o077)
        os.umask(mask)
        return 0o666 & ~mask


def _write_atomic(path: Path, data: bytes) -> None:
    folder = path.parent
    tmp = tempfile.NamedTemporaryFile(
        dir=folder, prefix=f".{path.name}.", suffix=".tmp", delete=False
    )
    try:
        with tmp:
            tmp.write(data)
            tmp.flush()
            os.fsync(tmp.fileno())
        with contextlib.suppress(OSError, NotImplementedError):
            os.chmod(tmp.name, _file_mode(path))
        os.replace(tmp.name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp.name)
        raise
    # Make the rename itself durable where the platform allows it.
    if hasattr(os, "O_DIRECTORY"):
        with contextlib.suppress(OSError):
            fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


def save_file(
    path: str | os.PathLike[str],
    *,
    model_type: str,
    config: Mapping[str, Any],
    tensors: Mapping[str, torch.Tensor | np.ndarray],
) -> Path:
    """Write a model file, atomically.

    Parameters
    ----------
    path : str or path-like
        Where to write; an existing file there is replaced only once the new file is
        complete on disk. The folder must exist.
    model_type : str
        The model class name, e.g. ``"DBNClassifier"``.
    config : dict
        JSON-serialisable settings. Tuples become lists, numpy scalars become Python
        numbers and numeric numpy arrays become (nested) lists; keys must be strings.
    tensors : dict of str to torch.Tensor or numpy.ndarray
        The model's arrays, on any device; they are copied to the CPU. Numpy arrays are
        converted with :func:`torch.from_numpy`.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    TypeError
        If ``config`` holds something JSON cannot represent (the message names the key;
        nothing is ever pickled or turned into its ``repr``), or a tensor is not a dense
        tensor or numeric array.
    ValueError
        If ``config`` holds NaN or infinity, ``model_type`` is empty, or a tensor name is
        empty or reserved.
    OSError
        If the file cannot be written; any previous file at ``path`` is then intact.
    """
    path = Path(path)
    if not isinstance(model_type, str):
        raise TypeError(f"model_type must be a str, got {type(model_type).__name__}.")
    if not model_type:
        raise ValueError("model_type must not be empty.")
    if not isinstance(tensors, Mapping):
        raise TypeError(f"tensors must be a dict, got {type(tensors).__name__}.")
    json_config = _encode_config(config)

    cpu_tensors: dict[str, torch.Tensor] = {}
    for name, value in tensors.items():
        if not isinstance(name, str):
            raise TypeError(f"tensor names must be strings, got {name!r}.")
        if not name or name == "__metadata__":
            raise ValueError(f"{name!r} cannot be used as a tensor name.")
        cpu_tensors[name] = _as_cpu_tensor(name, value)

    document = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "library_version": _library_version(),
        "model_type": model_type,
        "config": json_config,
        "tensors": {
            name: {"shape": list(t.shape), "dtype": _dtype_name(t.dtype)}
            for name, t in sorted(cpu_tensors.items())
        },
        "payload_sha256": payload_sha256(cpu_tensors),
    }
    document["metadata_sha256"] = metadata_sha256(document)
    metadata = {METADATA_KEY: json.dumps(document, ensure_ascii=False, allow_nan=False)}
    data = safetensors.torch.save(cpu_tensors, metadata=metadata)
    _write_atomic(path, data)
    return path


# --------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------


def _fail(path: Path, problem: str) -> ModelFileError:
    return ModelFileError(f"{path}: {problem}")


def _looks_like_pickle(head: bytes, last: bytes) -> bool:
    """Whether a file that is not a valid safetensors file is a pickle stream."""
    if not head:
        return False
    if head[0] == 0x80:  # PROTO opcode: pickle protocol 2 and newer, legacy torch.save
        return True
    # Protocols 0 and 1 start with an opcode such as MARK "(", EMPTY_DICT "}",
    # EMPTY_LIST "]", EMPTY_TUPLE ")" or GLOBAL "c", and a pickle ends with STOP ".".
    if head[:1] in (b"(", b"}", b"]", b")", b"c"):
        return True
    return head[:1] in b"NIJKLFSVXGUTM" and last == b"."


def _foreign_format(path: Path, head: bytes, last: bytes) -> ModelFileError | None:
    """A specific error when the file is a zip archive or a pickle, else None."""
    if head.startswith(b"PK"):
        return _fail(path, f"{_PICKLE_MESSAGE} (it is a zip archive, the torch.save format).")
    if _looks_like_pickle(head, last):
        return _fail(path, _PICKLE_MESSAGE + ".")
    return None


def _check_prefix(path: Path, size: int, head: bytes, last: bytes) -> int:
    """Validate the 8-byte length prefix; returns the header length N.

    ``head`` holds the first 9 bytes (fewer for a shorter file) and ``last`` the last one.
    A file whose prefix is implausible for safetensors is checked for being a zip archive
    (``torch.save``) or a pickle, to explain what it is; a plausible prefix is never taken
    for either, whatever its first bytes.
    """
    if size < 8:
        if last == b"." or head.startswith(b"PK"):
            foreign = _foreign_format(path, head, last)
            if foreign is not None:
                raise foreign
        raise _fail(
            path,
            f"file is truncated or not a deepbelief model file: it has only {size} bytes, "
            "but a model file starts with an 8-byte header length.",
        )
    (length,) = _U64.unpack(head[:8])
    plausible = 2 <= length < MAX_HEADER_BYTES and (size == 8 or head[8:9] == b"{")
    if not plausible:
        foreign = _foreign_format(path, head, last)
        if foreign is not None:
            raise foreign
        raise _fail(
            path,
            "not a deepbelief model file (not a safetensors file): its first 8 bytes "
            f"give a header length of {length}, which is not valid.",
        )
    if length > size - 8:
        raise _fail(
            path,
            f"file is truncated: its header should be {length} bytes long but only "
            f"{size - 8} bytes follow the length prefix.",
        )
    return length


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _parse_json(text: str) -> Any:
    def reject_constant(name: str) -> Any:
        raise ValueError(f"{name} is not valid JSON")

    return json.loads(text, object_pairs_hook=_unique_keys, parse_constant=reject_constant)


def _parse_safetensors_header(
    path: Path, header_bytes: bytes, payload_size: int
) -> tuple[dict[str, str], dict[str, tuple[str, list[int]]]]:
    """Validate the safetensors JSON header against the payload size.

    Returns the ``__metadata__`` mapping and, per tensor, (dtype name, shape).
    """
    try:
        text = header_bytes.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _fail(path, f"corrupted file: the header is not valid UTF-8 ({exc}).") from None
    try:
        header = _parse_json(text)
    except ValueError as exc:
        raise _fail(path, f"corrupted file: the header is not valid JSON ({exc}).") from None
    if not isinstance(header, dict):
        raise _fail(path, "corrupted file: the header is not a JSON object.")

    metadata = header.pop("__metadata__", None)
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise _fail(path, "corrupted file: '__metadata__' is not a mapping of strings.")

    tensors: dict[str, tuple[str, list[int]]] = {}
    spans: list[tuple[int, int, str]] = []
    for name, info in header.items():
        where = f"tensor {name!r}"
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            raise _fail(path, f"corrupted file: the header entry of {where} is malformed.")
        code, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
        if not isinstance(code, str) or code not in _SAFETENSORS_DTYPES:
            raise _fail(path, f"{where} has the unsupported dtype {code!r}.")
        if not isinstance(shape, list) or not all(_is_int(s) and s >= 0 for s in shape):
            raise _fail(path, f"corrupted file: {where} has the invalid shape {shape!r}.")
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(_is_int(o) for o in offsets)
            or not 0 <= offsets[0] <= offsets[1]
        ):
            raise _fail(path, f"corrupted file: {where} has invalid data_offsets {offsets!r}.")
        begin, end = offsets
        if end > payload_size:
            raise _fail(
                path,
                f"file is truncated: the data of {where} ends at byte {end} of the tensor "
                f"data, but only {payload_size} bytes of tensor data are present.",
            )
        dtype_name, itemsize = _SAFETENSORS_DTYPES[code]
        if end - begin != math.prod(shape) * itemsize:
            raise _fail(
                path,
                f"corrupted file: {where} has shape {shape} and dtype {dtype_name}, which "
                f"takes {math.prod(shape) * itemsize} bytes, but its data_offsets span "
                f"{end - begin} bytes.",
            )
        tensors[name] = (dtype_name, shape)
        spans.append((begin, end, name))

    position = 0
    for begin, end, name in sorted(spans):
        if begin != position:
            raise _fail(
                path,
                f"corrupted file: the data of tensor {name!r} starts at byte {begin}, "
                f"expected {position} (tensor data must be packed without gaps or overlap).",
            )
        position = end
    if position != payload_size:
        raise _fail(
            path,
            f"corrupted file: the header accounts for {position} bytes of tensor data "
            f"but the file holds {payload_size}.",
        )
    return metadata, tensors


def _parse_document(
    path: Path, metadata: dict[str, str], actual: dict[str, tuple[str, list[int]]]
) -> dict[str, Any]:
    """Validate the deepbelief metadata document; returns it as a dict."""
    if METADATA_KEY not in metadata:
        raise _fail(
            path,
            "not a deepbelief model file: it is a safetensors file without deepbelief "
            f"metadata (no {METADATA_KEY!r} entry in '__metadata__'). Only files written "
            "by deepbelief can be loaded.",
        )
    try:
        document = _parse_json(metadata[METADATA_KEY])
    except ValueError as exc:
        raise _fail(
            path, f"corrupted file: the deepbelief metadata is not valid JSON ({exc})."
        ) from None
    if not isinstance(document, dict):
        raise _fail(path, "corrupted file: the deepbelief metadata is not a JSON object.")
    if document.get("format") != FORMAT_NAME:
        raise _fail(
            path,
            f"not a deepbelief model file: its format is {document.get('format')!r}, "
            f"expected {FORMAT_NAME!r}.",
        )

    version = document.get("format_version")
    if not _is_int(version) or version < 1:
        raise _fail(
            path,
            f"corrupted file: format_version {version!r} cannot be understood (expected a "
            f"positive integer).",
        )
    if version > FORMAT_VERSION:
        raise _fail(
            path,
            f"the file uses format version {version}, newer than this deepbelief "
            f"({_library_version()}) supports (format version {FORMAT_VERSION}); it was "
            f"written by deepbelief {document.get('library_version')!r}. Upgrade "
            "deepbelief to load it.",
        )

    missing = [key for key in _HEADER_KEYS if key not in document]
    if missing:
        raise _fail(path, f"corrupted file: the deepbelief metadata lacks {missing}.")
    for key, kind in (
        ("library_version", str),
        ("model_type", str),
        ("config", dict),
        ("tensors", dict),
        ("payload_sha256", str),
        ("metadata_sha256", str),
    ):
        if not isinstance(document[key], kind):
            raise _fail(
                path,
                f"corrupted file: the deepbelief metadata field {key!r} should be a "
                f"{kind.__name__}, got {type(document[key]).__name__}.",
            )
    if not document["model_type"]:
        raise _fail(path, "corrupted file: model_type is empty.")
    for key in ("payload_sha256", "metadata_sha256"):
        digest = document[key]
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise _fail(path, f"corrupted file: {key} {digest!r} is not a SHA-256 digest.")
    if metadata_sha256(document) != document["metadata_sha256"]:
        raise _fail(
            path,
            "the file was modified or corrupted: the checksum of its metadata "
            "(metadata_sha256: model type, settings, declared tensors) does not match.",
        )

    declared = document["tensors"]
    if set(declared) != set(actual):
        extra = sorted(set(declared) - set(actual))
        absent = sorted(set(actual) - set(declared))
        raise _fail(
            path,
            "the file was modified or corrupted: the declared tensors do not match the "
            f"stored ones (declared but not stored: {extra}; stored but not declared: "
            f"{absent}).",
        )
    for name, (dtype_name, shape) in actual.items():
        info = declared[name]
        valid = (
            isinstance(info, dict)
            and isinstance(info.get("shape"), list)
            and all(_is_int(s) for s in info["shape"])
        )
        if not valid or info != {"shape": shape, "dtype": dtype_name}:
            raise _fail(
                path,
                f"the file was modified or corrupted: tensor {name!r} is declared as "
                f"{info!r} but stored with shape {shape} and dtype {dtype_name}.",
            )
    return document


def _check_type(path: Path, model_type: str, expected: str | Sequence[str] | None) -> None:
    if expected is None:
        return
    allowed = [expected] if isinstance(expected, str) else list(expected)
    if not all(isinstance(name, str) for name in allowed):
        raise TypeError("expected_type must be a str, a sequence of str, or None.")
    if model_type not in allowed:
        wanted = repr(allowed[0]) if len(allowed) == 1 else f"one of {allowed}"
        raise _fail(
            path, f"the file holds a model of type {model_type!r}, but {wanted} was expected."
        )


def _existing(path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"model file not found: {path}")
    if path.is_dir():
        raise IsADirectoryError(f"expected a model file but {path} is a folder")
    return path


def describe(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The metadata of a model file, without reading its tensors.

    The file's structure and metadata are validated (as in :func:`load_file`), but the
    tensor data is not read, so the checksum is not verified.

    Parameters
    ----------
    path : str or path-like
        The model file.

    Returns
    -------
    dict
        The deepbelief metadata document (see the module documentation).

    Raises
    ------
    FileNotFoundError
        If there is no file at ``path``.
    ModelFileError
        If the file is not a valid deepbelief model file.
    """
    path = _existing(path)
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        head = handle.read(9)
        last = head[-1:]
        if size > len(head):
            handle.seek(-1, os.SEEK_END)
            last = handle.read(1)
        length = _check_prefix(path, size, head, last)
        handle.seek(8)
        header_bytes = handle.read(length)
    if len(header_bytes) != length:
        raise _fail(path, "file is truncated: the header ends early.")
    metadata, actual = _parse_safetensors_header(path, header_bytes, size - 8 - length)
    return _parse_document(path, metadata, actual)


def load_file(
    path: str | os.PathLike[str],
    *,
    expected_type: str | Sequence[str] | None = None,
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Read and fully verify a model file.

    Every check runs before the tensors are handed back: the safetensors structure
    (length prefix, header, offsets, exact size, so truncation is caught), the deepbelief
    metadata (format name, format version, declared tensors) and the payload checksum.
    Nothing in the file is ever unpickled or executed.

    Parameters
    ----------
    path : str or path-like
        The model file.
    expected_type : str or sequence of str, optional
        The model type(s) acceptable to the caller; another type is an error.

    Returns
    -------
    header : dict
        The deepbelief metadata document (see the module documentation).
    tensors : dict of str to torch.Tensor
        The tensors, on the CPU, by name.

    Raises
    ------
    FileNotFoundError
        If there is no file at ``path``.
    ModelFileError
        If the file is not a deepbelief model file (for example a pickle or a
        :func:`torch.save` checkpoint), is truncated, modified or corrupted, has a format
        version newer than this deepbelief supports, or holds a model of another type than
        ``expected_type``. The message names the file and the problem.
    """
    path = _existing(path)
    data = path.read_bytes()
    size = len(data)
    length = _check_prefix(path, size, data[:9], data[-1:])
    metadata, actual = _parse_safetensors_header(path, data[8 : 8 + length], size - 8 - length)
    document = _parse_document(path, metadata, actual)
    _check_type(path, document["model_type"], expected_type)

    try:
        tensors = safetensors.torch.load(data)
    except Exception as exc:  # the structure was checked; this is a safety net
        raise _fail(path, f"corrupted file: safetensors cannot read it ({exc}).") from exc
    del data
    for name, tensor in tensors.items():
        if actual.get(name) != (_dtype_name(tensor.dtype), list(tensor.shape)):
            raise _fail(path, f"corrupted file: tensor {name!r} does not match the header.")
    if payload_sha256(tensors) != document["payload_sha256"]:
        raise _fail(
            path,
            "the file was modified or corrupted: the checksum of its tensors "
            "(payload_sha256) does not match.",
        )
    return document, dict(sorted(tensors.items()))
