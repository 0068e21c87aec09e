"""The definition of the model file format: its constants, tensor dtypes and checksums.

The format itself is described in :mod:`deepbelief.io.modelfile`; the validating reader is
:mod:`deepbelief.io.validate`.
"""

from __future__ import annotations

import hashlib
import json
import struct
import sys
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "HEADER_KEYS",
    "MAX_HEADER_BYTES",
    "METADATA_KEY",
    "SAFETENSORS_DTYPES",
    "dtype_name",
    "metadata_sha256",
    "payload_sha256",
]

FORMAT_NAME = "deepbelief-model"
"""The value of the ``format`` field."""

FORMAT_VERSION = 1
"""The newest format version this deepbelief reads and the one it writes."""

METADATA_KEY = "deepbelief"
"""The key of the safetensors ``__metadata__`` entry that holds the deepbelief document."""

MAX_HEADER_BYTES = 100_000_000
"""Largest JSON header accepted (the safetensors limit)."""

#: safetensors dtype code -> (PyTorch dtype name, bytes per element).
SAFETENSORS_DTYPES: dict[str, tuple[str, int]] = {
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

#: The fields of the deepbelief metadata document, all required.
HEADER_KEYS = (
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


def dtype_name(dtype: torch.dtype) -> str:
    """The name of a PyTorch dtype without its ``torch.`` prefix, as the file stores it.

    >>> dtype_name(torch.float32)
    'float32'
    """
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
        dtype_bytes = dtype_name(tensor.dtype).encode("ascii")
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
