"""Rows of a memory-mapped array read with ``os.preadv``, without mapping the file's pages.

Indexing a ``numpy.memmap`` maps the file's pages into the process, and the kernel maps
more than the rows asked for (a whole large folio of the page cache, up to megabytes, for
each scattered row on file systems such as ext4 today): a mini-batch of a thousand random
rows can add hundreds of megabytes to the resident memory, however few bytes it reads.
:class:`FileRows` reads the same rows through the page cache with ``preadv`` straight into
the batch's own buffer, so the process holds only what it asked for.
"""

from __future__ import annotations

import mmap
import os
import weakref
from typing import Any

import numpy as np

__all__ = ["FileRows"]


def _root(array: Any) -> np.memmap | None:
    """The ``np.memmap`` that mapped the file (its ``base`` is the ``mmap`` itself), found
    through ``array``'s bases; None if ``array`` is not mapped from a file."""
    while array is not None:
        if isinstance(array, np.memmap) and isinstance(array.base, mmap.mmap):
            return array
        array = getattr(array, "base", None)
    return None


class FileRows:
    """Reads rows of a 2-D memory-mapped array (or of a view of one whose rows are
    contiguous) with ``os.preadv``.

    Use :meth:`of`, which returns None where this does not apply (no ``preadv`` on the
    platform, not a file mapping, rows not contiguous in the file): read such arrays by
    indexing them.

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "x.npy")
    >>> np.save(path, np.arange(12, dtype=np.float32).reshape(4, 3))
    >>> X = np.load(path, mmap_mode="r")
    >>> rows = FileRows.of(X[1:])
    >>> rows.read(np.array([0, 2])).tolist(), rows.read(slice(1, 2)).tolist()
    ([[3.0, 4.0, 5.0], [9.0, 10.0, 11.0]], [[6.0, 7.0, 8.0]])
    """

    def __init__(self, array: np.ndarray, path: str, start: int) -> None:
        self.shape, self.dtype = array.shape, array.dtype
        self.stride, self.row_bytes = array.strides[0], array.shape[1] * array.itemsize
        self.start = start  # where row 0 lies in the file
        self.fd = os.open(path, os.O_RDONLY)
        weakref.finalize(self, os.close, self.fd)

    @classmethod
    def of(cls, array: Any) -> FileRows | None:
        """A reader of ``array``'s rows, or None where rows must be read by indexing."""
        root = _root(array)
        if (root is None or not hasattr(os, "preadv") or getattr(root, "filename", None) is None
                or np.ndim(array) != 2 or array.strides[1] != array.itemsize
                or array.strides[0] < array.shape[1] * array.itemsize):
            return None
        start = int(root.offset) + (array.ctypes.data - root.ctypes.data)
        try:
            return cls(array, root.filename, start)
        except OSError:  # the file is gone (deleted while mapped): index the mapping
            return None

    def __copy__(self) -> FileRows:  # one open file per reader: copies share it
        return self

    def __deepcopy__(self, memo: dict) -> FileRows:
        return self

    def _fill(self, view: memoryview, position: int) -> None:
        done = 0
        while done < len(view):
            n = os.preadv(self.fd, [view[done:]], position + done)
            if n <= 0:
                raise OSError(f"the file ended before the rows it should hold (at byte "
                              f"{position + done}); was it truncated?")
            done += n

    def read(self, index: np.ndarray | slice) -> np.ndarray:
        """The rows ``index`` (increasing integers, or a slice with step 1) as a new array."""
        if isinstance(index, slice):
            lo, hi, _ = index.indices(self.shape[0])
            rows = range(lo, max(lo, hi))
        else:
            rows = index
        out = np.empty((len(rows), self.shape[1]), dtype=self.dtype)
        flat = memoryview(out.reshape(-1).view(np.uint8))
        if isinstance(index, slice) and self.stride == self.row_bytes and len(rows):
            self._fill(flat, self.start + rows[0] * self.stride)  # one read
            return out
        for i, row in enumerate(rows):
            self._fill(flat[i * self.row_bytes : (i + 1) * self.row_bytes],
                       self.start + int(row) * self.stride)
        return out
