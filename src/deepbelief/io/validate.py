"""The validating reader of model files: every structural and metadata check.

A file is checked before anything in it is used: the safetensors length prefix (with a
specific message for pickles and :func:`torch.save` archives, which are never unpickled),
the JSON header and the tensor offsets (so truncation is caught), and the deepbelief
metadata document (format name and version, field types, metadata checksum, declared
tensors). The payload checksum is checked by :func:`deepbelief.io.modelfile.load_file`,
which reads the tensors.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from deepbelief._version import __version__
from deepbelief.exceptions import ModelFileError
from deepbelief.io.format import (
    FORMAT_NAME,
    FORMAT_VERSION,
    HEADER_KEYS,
    MAX_HEADER_BYTES,
    METADATA_KEY,
    SAFETENSORS_DTYPES,
    metadata_sha256,
)

__all__ = [
    "HEAD_BYTES",
    "check_prefix",
    "check_type",
    "fail",
    "parse_document",
    "parse_safetensors_header",
]

_U64 = struct.Struct("<Q")

#: How many leading bytes the readers pass to :func:`check_prefix`.
HEAD_BYTES = 512

_PICKLE_MESSAGE = (
    "this is a pickle/PyTorch checkpoint, not a deepbelief model file; deepbelief never "
    "unpickles files. Load it with the tool that wrote it (only if you trust its source) "
    "and save the model again with deepbelief's save()"
)


def fail(path: Path, problem: str) -> ModelFileError:
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


#: Signatures of binary formats people give by mistake, and what each is.
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"\x93NUMPY", "a NumPy .npy array"),
    (b"\x1f\x8b", "a gzip-compressed file"),
    (b"\x89HDF", "an HDF5 file (e.g. a Keras model)"),
)


def _text_kind(head: bytes) -> str | None:
    """What a file that starts with ``head`` looks like when it is text: 'JSON text'
    (e.g. a training history), 'CSV text' (with its delimiter) or 'text'; None when it is
    not text."""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:  # a multi-byte character cut at the end is text
        if exc.start < len(head) - 3:
            return None
        text = head[: exc.start].decode("utf-8")
    text = text.lstrip("\ufeff")
    if not text.strip() or any(ord(c) < 32 and c not in "\t\r\n" for c in text):
        return None
    stripped = text.lstrip()
    if stripped[:1] in ("{", "["):
        return "JSON text, e.g. a training history"
    lines = [line for line in stripped.splitlines()[:5] if line.strip()]
    for delimiter, name in ((",", "comma"), (";", "semicolon"), ("\t", "tab")):
        if lines and all(delimiter in line for line in lines):
            return f"CSV text, {name}-separated"
    return "text"


def _foreign_format(path: Path, head: bytes, last: bytes) -> ModelFileError | None:
    """A specific error when the file is a pickle, a zip archive, an image, a NumPy array,
    CSV or JSON text, ...; else None."""
    what = next((what for magic, what in _MAGIC if head.startswith(magic)), None)
    if head.startswith(b"PK"):  # a zip archive: its first member's name is at byte 30
        if head[30 : 30 + int.from_bytes(head[26:28], "little")].endswith(b".npy"):
            what = "a NumPy .npz archive"
        else:
            return fail(path, f"{_PICKLE_MESSAGE} (it is a zip archive, the torch.save "
                              "format).")
    # Text pickles (protocol 0) end with STOP "."; CSV or JSON text rarely does.
    if what is None and (last == b"." or _text_kind(head) is None) and _looks_like_pickle(
            head, last):
        return fail(path, _PICKLE_MESSAGE + ".")
    what = what or _text_kind(head)
    if what is None:
        return None
    return ModelFileError(f"{path} is not a deepbelief model file (it looks like {what}).")


def check_prefix(path: Path, size: int, head: bytes, last: bytes) -> int:
    """Validate the 8-byte length prefix; returns the header length N.

    ``head`` holds the first bytes (at least 9, all of a shorter file; up to
    :data:`HEAD_BYTES` help tell what a foreign file is) and ``last`` the last one. A file
    whose prefix is implausible for safetensors is checked for being a zip archive
    (``torch.save``), a pickle, an image, a NumPy array, CSV or JSON text, to explain what
    it is; a plausible prefix is never taken for any of them, whatever its first bytes.
    """
    if size < 8:
        if last == b"." or head.startswith(b"PK"):
            foreign = _foreign_format(path, head, last)
            if foreign is not None:
                raise foreign
        raise fail(
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
        raise fail(
            path,
            "not a deepbelief model file (not a safetensors file): its first 8 bytes "
            f"give a header length of {length}, which is not valid.",
        )
    if length > size - 8:
        raise fail(
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


def parse_safetensors_header(
    path: Path, header_bytes: bytes, payload_size: int
) -> tuple[dict[str, str], dict[str, tuple[str, list[int]]]]:
    """Validate the safetensors JSON header against the payload size.

    Returns the ``__metadata__`` mapping and, per tensor, (dtype name, shape).
    """
    try:
        text = header_bytes.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise fail(path, f"corrupted file: the header is not valid UTF-8 ({exc}).") from None
    try:
        header = _parse_json(text)
    except ValueError as exc:
        raise fail(path, f"corrupted file: the header is not valid JSON ({exc}).") from None
    if not isinstance(header, dict):
        raise fail(path, "corrupted file: the header is not a JSON object.")

    metadata = header.pop("__metadata__", None)
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise fail(path, "corrupted file: '__metadata__' is not a mapping of strings.")

    tensors: dict[str, tuple[str, list[int]]] = {}
    spans: list[tuple[int, int, str]] = []
    for name, info in header.items():
        where = f"tensor {name!r}"
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            raise fail(path, f"corrupted file: the header entry of {where} is malformed.")
        code, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
        if not isinstance(code, str) or code not in SAFETENSORS_DTYPES:
            raise fail(path, f"{where} has the unsupported dtype {code!r}.")
        if not isinstance(shape, list) or not all(_is_int(s) and s >= 0 for s in shape):
            raise fail(path, f"corrupted file: {where} has the invalid shape {shape!r}.")
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(_is_int(o) for o in offsets)
            or not 0 <= offsets[0] <= offsets[1]
        ):
            raise fail(path, f"corrupted file: {where} has invalid data_offsets {offsets!r}.")
        begin, end = offsets
        if end > payload_size:
            raise fail(
                path,
                f"file is truncated: the data of {where} ends at byte {end} of the tensor "
                f"data, but only {payload_size} bytes of tensor data are present.",
            )
        dtype_name, itemsize = SAFETENSORS_DTYPES[code]
        if end - begin != math.prod(shape) * itemsize:
            raise fail(
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
            raise fail(
                path,
                f"corrupted file: the data of tensor {name!r} starts at byte {begin}, "
                f"expected {position} (tensor data must be packed without gaps or overlap).",
            )
        position = end
    if position != payload_size:
        raise fail(
            path,
            f"corrupted file: the header accounts for {position} bytes of tensor data "
            f"but the file holds {payload_size}.",
        )
    return metadata, tensors


def parse_document(
    path: Path, metadata: dict[str, str], actual: dict[str, tuple[str, list[int]]]
) -> dict[str, Any]:
    """Validate the deepbelief metadata document; returns it as a dict."""
    if METADATA_KEY not in metadata:
        raise fail(
            path,
            "not a deepbelief model file: it is a safetensors file without deepbelief "
            f"metadata (no {METADATA_KEY!r} entry in '__metadata__'). Only files written "
            "by deepbelief can be loaded.",
        )
    try:
        document = _parse_json(metadata[METADATA_KEY])
    except ValueError as exc:
        raise fail(
            path, f"corrupted file: the deepbelief metadata is not valid JSON ({exc})."
        ) from None
    if not isinstance(document, dict):
        raise fail(path, "corrupted file: the deepbelief metadata is not a JSON object.")
    if document.get("format") != FORMAT_NAME:
        raise fail(
            path,
            f"not a deepbelief model file: its format is {document.get('format')!r}, "
            f"expected {FORMAT_NAME!r}.",
        )

    version = document.get("format_version")
    if not _is_int(version) or version < 1:
        raise fail(
            path,
            f"corrupted file: format_version {version!r} cannot be understood (expected a "
            f"positive integer).",
        )
    if version > FORMAT_VERSION:
        raise fail(
            path,
            f"the file uses format version {version}, newer than this deepbelief "
            f"({__version__}) supports (format version {FORMAT_VERSION}); it was "
            f"written by deepbelief {document.get('library_version')!r}. Upgrade "
            "deepbelief to load it.",
        )

    missing = [key for key in HEADER_KEYS if key not in document]
    if missing:
        raise fail(path, f"corrupted file: the deepbelief metadata lacks {missing}.")
    for key, kind in (
        ("library_version", str),
        ("model_type", str),
        ("config", dict),
        ("tensors", dict),
        ("payload_sha256", str),
        ("metadata_sha256", str),
    ):
        if not isinstance(document[key], kind):
            raise fail(
                path,
                f"corrupted file: the deepbelief metadata field {key!r} should be a "
                f"{kind.__name__}, got {type(document[key]).__name__}.",
            )
    if not document["model_type"]:
        raise fail(path, "corrupted file: model_type is empty.")
    for key in ("payload_sha256", "metadata_sha256"):
        digest = document[key]
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise fail(path, f"corrupted file: {key} {digest!r} is not a SHA-256 digest.")
    if metadata_sha256(document) != document["metadata_sha256"]:
        raise fail(
            path,
            "the file was modified or corrupted: the checksum of its metadata "
            "(metadata_sha256: model type, settings, declared tensors) does not match.",
        )

    declared = document["tensors"]
    if set(declared) != set(actual):
        extra = sorted(set(declared) - set(actual))
        absent = sorted(set(actual) - set(declared))
        raise fail(
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
            raise fail(
                path,
                f"the file was modified or corrupted: tensor {name!r} is declared as "
                f"{info!r} but stored with shape {shape} and dtype {dtype_name}.",
            )
    return document


def check_type(path: Path, model_type: str, expected: str | Sequence[str] | None) -> None:
    if expected is None:
        return
    allowed = [expected] if isinstance(expected, str) else list(expected)
    if not all(isinstance(name, str) for name in allowed):
        raise TypeError("expected_type must be a str, a sequence of str, or None.")
    if model_type not in allowed and model_type.startswith("checkpoint:") and not any(
            name.startswith("checkpoint:") for name in allowed):
        raise fail(path, f"it is a training checkpoint of a {model_type[11:]}, not a model: "
                   "finish the run from it (fit(..., checkpoint=path, resume=True), or "
                   "'deepbelief train ... --checkpoint PATH --resume'), which writes the model.")
    if model_type not in allowed:
        wanted = repr(allowed[0]) if len(allowed) == 1 else f"one of {allowed}"
        raise fail(
            path, f"the file holds a model of type {model_type!r}, but {wanted} was expected."
        )

