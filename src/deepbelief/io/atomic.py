"""Atomic file writes: a reader sees the old file or the new one, never a partial file.

Used for model files (:mod:`deepbelief.io.modelfile`), checkpoints and downloaded or
written data sets (:mod:`deepbelief.datasets`).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

__all__ = ["atomic_write"]


def _file_mode(path: Path) -> int:
    """Permission bits for a new file: those of the file replaced, or 0o666 less umask."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        # os.umask can only be read by setting it; 0o077 is the safe value to hold briefly.
        mask = os.umask(0o077)
        os.umask(mask)
        return 0o666 & ~mask


def _sync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable where the platform allows it."""
    if hasattr(os, "O_DIRECTORY"):
        with contextlib.suppress(OSError):
            fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


def atomic_write(
    path: str | os.PathLike[str], data: bytes | Callable[[BinaryIO], None]
) -> Path:
    """Write a file atomically.

    The content goes in full to a temporary file in the target folder, is flushed to disk,
    and the temporary file is then renamed over ``path`` (:func:`os.replace`), so an
    interrupted write leaves any previous file untouched and no temporary file behind. The
    new file keeps the permission bits of the file it replaces (a new file gets ``0o666``
    less the umask, as :func:`open` would give it).

    Parameters
    ----------
    path : str or path-like
        The file to write. Its folder must exist.
    data : bytes or callable
        The bytes to write, or a function that writes them to the open binary temporary
        file it receives (e.g. through :class:`gzip.GzipFile`).

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    FileNotFoundError
        If the folder of ``path`` does not exist (the message names it and says to create
        it).
    OSError
        If the file cannot be written; any previous file at ``path`` is then intact.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> atomic_write(folder / "a.txt", b"old").read_bytes()
    b'old'
    >>> atomic_write(folder / "a.txt", lambda handle: handle.write(b"new")).read_bytes()
    b'new'
    >>> sorted(p.name for p in folder.iterdir())
    ['a.txt']
    """
    path = Path(path)
    if not path.parent.is_dir():  # else the error would name the temporary file
        raise FileNotFoundError(
            f"cannot write {path}: the folder {path.parent} does not exist"
            + (" (it is a file)" if path.parent.exists() else "")
            + "; create it first (pathlib.Path(folder).mkdir(parents=True)) or write "
            "elsewhere.")
    tmp = tempfile.NamedTemporaryFile(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False
    )
    try:
        with tmp:
            if callable(data):
                data(tmp)
            else:
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
    _sync_folder(path.parent)
    return path
