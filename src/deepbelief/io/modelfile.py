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
      "library_version": "0.2.0",
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

import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.torch
import torch

from deepbelief._version import __version__
from deepbelief.io.atomic import atomic_write
from deepbelief.io.format import (
    FORMAT_NAME,
    FORMAT_VERSION,
    METADATA_KEY,
    dtype_name,
    metadata_sha256,
    payload_sha256,
)
from deepbelief.io.validate import (
    HEAD_BYTES,
    check_prefix,
    check_type,
    fail,
    parse_document,
    parse_safetensors_header,
)

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


# --------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------


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

    Notes
    -----
    In a ``torch.distributed`` process group, only rank 0 writes: every process checks
    what it is given (and raises alike), the others then return ``path`` at once.
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
        "library_version": __version__,
        "model_type": model_type,
        "config": json_config,
        "tensors": {
            name: {"shape": list(t.shape), "dtype": dtype_name(t.dtype)}
            for name, t in sorted(cpu_tensors.items())
        },
        "payload_sha256": payload_sha256(cpu_tensors),
    }
    document["metadata_sha256"] = metadata_sha256(document)
    metadata = {METADATA_KEY: json.dumps(document, ensure_ascii=False, allow_nan=False)}
    data = safetensors.torch.save(cpu_tensors, metadata=metadata)
    if _writes_here():
        atomic_write(path, data)
    return path


def _writes_here() -> bool:
    """Whether this process writes files: rank 0 of an initialised ``torch.distributed``
    process group, or a process outside one (data-parallel training, where every process
    holds the same model)."""
    dist = torch.distributed
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


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
        head = handle.read(HEAD_BYTES)
        last = head[-1:]
        if size > len(head):
            handle.seek(-1, os.SEEK_END)
            last = handle.read(1)
        length = check_prefix(path, size, head, last)
        handle.seek(8)
        header_bytes = handle.read(length)
    if len(header_bytes) != length:
        raise fail(path, "file is truncated: the header ends early.")
    metadata, actual = parse_safetensors_header(path, header_bytes, size - 8 - length)
    return parse_document(path, metadata, actual)


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
    length = check_prefix(path, size, data[:HEAD_BYTES], data[-1:])
    metadata, actual = parse_safetensors_header(path, data[8 : 8 + length], size - 8 - length)
    document = parse_document(path, metadata, actual)
    check_type(path, document["model_type"], expected_type)

    try:
        tensors = safetensors.torch.load(data)
    except Exception as exc:  # the structure was checked; this is a safety net
        raise fail(path, f"corrupted file: safetensors cannot read it ({exc}).") from exc
    del data
    for name, tensor in tensors.items():
        if actual.get(name) != (dtype_name(tensor.dtype), list(tensor.shape)):
            raise fail(path, f"corrupted file: tensor {name!r} does not match the header.")
    if payload_sha256(tensors) != document["payload_sha256"]:
        raise fail(
            path,
            "the file was modified or corrupted: the checksum of its tensors "
            "(payload_sha256) does not match.",
        )
    return document, dict(sorted(tensors.items()))

