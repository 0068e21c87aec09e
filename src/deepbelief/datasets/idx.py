"""The IDX file format of MNIST-style data sets, and checksums of their content.

* :func:`read_idx` and :func:`write_idx` -- a strict reader and an atomic writer of IDX
  files, plain or gzip-compressed;
* :func:`content_sha256` and :func:`verify_sha256` -- SHA-256 of a file's *decompressed*
  content, so a digest does not depend on how a mirror compressed the file.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import struct
import zlib
from typing import Any, BinaryIO

import numpy as np

from deepbelief.io.atomic import atomic_write

__all__ = [
    "ChecksumError",
    "IDXFormatError",
    "content_sha256",
    "read_idx",
    "verify_sha256",
    "write_idx",
]

PathLike = str | os.PathLike[str]

_GZIP_MAGIC = b"\x1f\x8b"
_MAX_NDIM = 8


class IDXFormatError(ValueError):
    """An IDX file is malformed, truncated, or holds unexpected content."""


class ChecksumError(ValueError):
    """Downloaded or cached data does not have the expected SHA-256 digest."""


# --------------------------------------------------------------------------- IDX format

# type code -> (big-endian dtype as stored, human-readable name)
_IDX_TYPES: dict[int, tuple[np.dtype[Any], str]] = {
    0x08: (np.dtype(">u1"), "uint8"),
    0x09: (np.dtype(">i1"), "int8"),
    0x0B: (np.dtype(">i2"), "int16"),
    0x0C: (np.dtype(">i4"), "int32"),
    0x0D: (np.dtype(">f4"), "float32"),
    0x0E: (np.dtype(">f8"), "float64"),
}
_IDX_CODES: dict[str, int] = {name: code for code, (_, name) in _IDX_TYPES.items()}
_KNOWN_TYPES = ", ".join(f"0x{code:02X} {name}" for code, (_, name) in _IDX_TYPES.items())


def _read_bytes(path: PathLike) -> bytes:
    """Return the decompressed content of ``path`` (gzip detected by magic bytes)."""
    name = os.fspath(path)
    try:
        with open(name, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{name}: no such file. Check the path; for the MNIST-style loaders set the "
            "DEEPBELIEF_DATA environment variable or pass root= (or download=True)."
        ) from None
    if raw[:2] != _GZIP_MAGIC:
        return raw
    try:
        return gzip.decompress(raw)
    except EOFError as exc:
        raise IDXFormatError(
            f"{name}: the gzip stream is truncated ({exc}); the file is incomplete or "
            "corrupt — download it again"
        ) from exc
    except (OSError, zlib.error) as exc:
        raise IDXFormatError(
            f"{name}: the gzip stream is corrupt ({exc}) — download it again"
        ) from exc


def _parse_idx(data: bytes, name: str) -> np.ndarray:
    """Parse decompressed IDX ``data``; ``name`` is used in error messages."""
    if len(data) < 4:
        raise IDXFormatError(
            f"{name}: only {len(data)} bytes, too short for the 4-byte IDX magic number; "
            "the file is truncated or not an IDX file"
        )
    zero, code, ndim = struct.unpack_from(">HBB", data, 0)
    if zero != 0:
        hint = ""
        if data[:1] in (b"<", b"{"):
            hint = " (it looks like an HTML/JSON page, e.g. a failed download)"
        raise IDXFormatError(
            f"{name}: bad magic number 0x{data[:4].hex().upper()}: the first two bytes of an "
            f"IDX file must be zero; this is not an IDX file{hint}"
        )
    if code not in _IDX_TYPES:
        raise IDXFormatError(
            f"{name}: unknown IDX type code 0x{code:02X} (known: {_KNOWN_TYPES}); "
            "the file is corrupt or not an IDX file"
        )
    if not 1 <= ndim <= _MAX_NDIM:
        raise IDXFormatError(
            f"{name}: invalid number of dimensions {ndim} in the IDX header "
            f"(expected 1 to {_MAX_NDIM}); the file is corrupt or not an IDX file"
        )
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise IDXFormatError(
            f"{name}: the IDX header declares {ndim} dimensions ({header_len} header bytes) "
            f"but the file has only {len(data)} bytes; the file is truncated — download it again"
        )
    shape = struct.unpack_from(f">{ndim}I", data, 4)
    dtype, type_name = _IDX_TYPES[code]
    count = math.prod(shape)
    expected = count * dtype.itemsize
    actual = len(data) - header_len
    if actual != expected:
        declared = f"{'x'.join(map(str, shape))} {type_name} ({expected} bytes)"
        if actual < expected:
            problem = "the file is truncated or corrupt — download it again"
        else:
            problem = (
                f"{actual - expected} unexpected trailing bytes; the file is corrupt "
                "— download it again"
            )
        raise IDXFormatError(
            f"{name}: payload has {actual} bytes but the header declares {declared}; {problem}"
        )
    array = np.frombuffer(data, dtype=dtype, count=count, offset=header_len)
    # Copy into a writable array in native byte order.
    return array.astype(dtype.newbyteorder("="), copy=True).reshape(shape)


def read_idx(path: PathLike) -> np.ndarray:
    """Read an array from an IDX file, plain or gzip-compressed.

    Parameters
    ----------
    path : str or os.PathLike
        File to read. Gzip compression is detected from the content (magic bytes
        ``1f 8b``), not from the file name.

    Returns
    -------
    numpy.ndarray
        Writable array in native byte order, with the shape and element type
        declared by the header (uint8, int8, int16, int32, float32 or float64).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    IDXFormatError
        (a :class:`ValueError`) if the gzip stream is truncated or corrupt, the
        magic number or type code is invalid, the number of dimensions is not in
        1..8, or the payload is shorter or longer than the header declares.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "example-idx2-short.gz")
    ...     write_idx(path, np.arange(6, dtype=np.int16).reshape(2, 3))
    ...     read_idx(path)
    array([[0, 1, 2],
           [3, 4, 5]], dtype=int16)
    """
    return _parse_idx(_read_bytes(path), os.fspath(path))


def _idx_bytes(array: np.ndarray) -> bytes:
    """Serialise ``array`` to IDX bytes (uncompressed)."""
    array = np.asarray(array)
    type_name = array.dtype.name
    if type_name not in _IDX_CODES or array.dtype.kind not in "uif":
        raise TypeError(
            f"cannot store dtype {array.dtype} in IDX; supported: "
            f"{', '.join(_IDX_CODES)} (convert with array.astype(...))"
        )
    if not 1 <= array.ndim <= _MAX_NDIM:
        raise ValueError(f"IDX arrays must have 1 to {_MAX_NDIM} dimensions, got {array.ndim}")
    if any(size >= 2**32 for size in array.shape):
        raise ValueError(f"IDX dimension sizes must be below 2**32, got shape {array.shape}")
    code = _IDX_CODES[type_name]
    header = struct.pack(f">HBB{array.ndim}I", 0, code, array.ndim, *array.shape)
    payload = np.ascontiguousarray(array, dtype=_IDX_TYPES[code][0])
    return header + payload.tobytes()

def write_idx(path: PathLike, array: np.ndarray) -> None:
    """Write ``array`` to ``path`` in the IDX format, atomically.

    The data go to a temporary file in the same directory, which then replaces
    ``path`` with :func:`os.replace`, so readers never see a partial file.

    Parameters
    ----------
    path : str or os.PathLike
        Destination. The file is gzip-compressed when the name ends with ``.gz``.
    array : numpy.ndarray
        Array with 1 to 8 dimensions and dtype uint8, int8, int16, int32,
        float32 or float64. It is stored in C order, big-endian.

    Raises
    ------
    TypeError
        If the dtype cannot be represented in IDX.
    ValueError
        If the number of dimensions or a dimension size is out of range.
    """
    data = _idx_bytes(array)
    if os.fspath(path).endswith(".gz"):

        def write_gzip(fh: BinaryIO) -> None:
            # mtime=0 and no file name make the output reproducible.
            with gzip.GzipFile(filename="", mode="wb", fileobj=fh, compresslevel=6, mtime=0) as gz:
                gz.write(data)

        atomic_write(path, write_gzip)
    else:
        atomic_write(path, data)


# --------------------------------------------------------------------------- checksums


def content_sha256(data: bytes) -> str:
    """Return the hex SHA-256 of ``data``, decompressed first if it is gzipped.

    Hashing the decompressed content makes the digest independent of how a
    file was compressed.

    Parameters
    ----------
    data : bytes
        File content, plain or gzip (detected by the magic bytes ``1f 8b``).

    Returns
    -------
    str
        Lower-case hexadecimal SHA-256 digest.

    Raises
    ------
    IDXFormatError
        If ``data`` is a truncated or corrupt gzip stream.
    """
    if data[:2] == _GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (EOFError, OSError, zlib.error) as exc:
            raise IDXFormatError(f"the gzip stream is truncated or corrupt ({exc})") from exc
    return hashlib.sha256(data).hexdigest()


def verify_sha256(data: bytes, expected: str, *, name: str = "data") -> None:
    """Check that the (decompressed) content of ``data`` has SHA-256 ``expected``.

    Parameters
    ----------
    data : bytes
        File content, plain or gzipped.
    expected : str
        Expected hexadecimal SHA-256 of the decompressed content.
    name : str, default="data"
        Name used in the error message (file name or URL).

    Raises
    ------
    ChecksumError
        (a :class:`ValueError`) if the digest differs, or if ``data`` is a
        truncated or corrupt gzip stream.

    Examples
    --------
    >>> digest = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    >>> verify_sha256(b"abc", digest)  # SHA-256 of b"abc": accepted
    >>> try:
    ...     verify_sha256(b"abd", digest)
    ... except ChecksumError as exc:
    ...     print(str(exc)[:25])
    data: SHA-256 mismatch (e
    """
    try:
        actual = content_sha256(data)
    except IDXFormatError as exc:
        raise ChecksumError(f"{name}: {exc}; cannot verify it — download it again") from exc
    if actual != expected.lower():
        raise ChecksumError(
            f"{name}: SHA-256 mismatch (expected {expected.lower()}, got {actual}); "
            "the data are corrupt or not the expected file — download it again"
        )
