"""Document retrieval: Hamming distances and Hamming-ball search of binary codes, and the
precision of the neighbours a representation retrieves.

Semantic hashing (Salakhutdinov & Hinton, 2009) maps each document to a short binary code;
similar documents get codes a few bits apart. :class:`HammingIndex` keeps the documents of
each code in a table and answers a query by looking up every code within ``radius`` bits
of it: the work depends on the code length and the radius, not on the number of
documents. :func:`hamming_distances` ranks a whole collection instead.
:func:`precision_at` measures any of them against labels.

Codes are packed 8 bits per byte, as ``numpy.packbits`` packs them (shape (n, ⌈bits/8⌉),
``uint8``).

References
----------
R. Salakhutdinov and G. E. Hinton, "Semantic hashing", International Journal of
Approximate Reasoning 50(7), 969-978, 2009.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

__all__ = ["HammingIndex", "hamming_distances", "precision_at"]

_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def _packed(codes, name: str) -> np.ndarray:
    codes = np.asarray(codes)
    if codes.dtype != np.uint8 or codes.ndim != 2:
        raise ValueError(f"{name} must be packed codes: a 2-D uint8 array, as numpy.packbits("
                         "bits, axis=1) or SemanticHashing.transform returns.")
    return codes


def hamming_distances(queries, database) -> np.ndarray:
    """The number of differing bits between every query code and every database code.

    Parameters
    ----------
    queries : uint8 array of shape (n_queries, n_bytes)
    database : uint8 array of shape (n_documents, n_bytes)
        Packed codes of the same length.

    Returns
    -------
    numpy.ndarray of int, shape (n_queries, n_documents)

    Raises
    ------
    ValueError
        If the codes are not packed ``uint8`` arrays of the same width.

    Examples
    --------
    >>> codes = np.packbits(np.array([[0, 0, 0, 1], [1, 1, 0, 1]], dtype=bool), axis=1)
    >>> hamming_distances(codes, codes).tolist()
    [[0, 2], [2, 0]]
    """
    queries, database = _packed(queries, "queries"), _packed(database, "database")
    if queries.shape[1] != database.shape[1]:
        raise ValueError(f"the codes differ in width: {queries.shape[1]} and "
                         f"{database.shape[1]} bytes.")
    xor = np.bitwise_xor(queries[:, None, :], database[None, :, :])
    return _POPCOUNT[xor].sum(-1, dtype=np.int64)


class HammingIndex:
    """A table from binary codes to the documents that have them, for Hamming-ball search.

    Parameters
    ----------
    codes : uint8 array of shape (n_documents, n_bytes)
        Packed codes of the collection (document ``i`` has row ``i``).
    n_bits : int, optional
        The code length in bits (default: ``8 × n_bytes``; give it when the last byte is
        padded, e.g. 20-bit codes).

    Examples
    --------
    >>> bits = np.array([[0, 0, 0, 0], [1, 0, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0]], dtype=bool)
    >>> index = HammingIndex(np.packbits(bits, axis=1), n_bits=4)
    >>> index.search(np.packbits(bits[:1], axis=1)[0], radius=1).tolist()
    [0, 3, 1]
    """

    def __init__(self, codes, n_bits: int | None = None) -> None:
        codes = _packed(codes, "codes")
        self.n_bytes = codes.shape[1]
        self.n_bits = 8 * self.n_bytes if n_bits is None else int(n_bits)
        if not 0 < self.n_bits <= 8 * self.n_bytes:
            raise ValueError(f"n_bits must be in [1, {8 * self.n_bytes}], got {n_bits!r}.")
        self.table: dict[bytes, list[int]] = defaultdict(list)
        for i, row in enumerate(codes):
            self.table[row.tobytes()].append(i)
        self.table = dict(self.table)  # look-ups of absent codes add nothing
        self._mask_cache: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return sum(map(len, self.table.values()))

    def search(self, code, radius: int = 2) -> np.ndarray:
        """The documents whose codes lie within ``radius`` bits of ``code``, nearest first
        (by distance, then by index): ``Σ_{r<=radius} C(n_bits, r)`` table look-ups.

        Raises
        ------
        ValueError
            For a code of another width or a negative radius.
        """
        code = np.asarray(code, dtype=np.uint8).reshape(-1)
        if code.size != self.n_bytes or radius < 0:
            raise ValueError(f"expected one packed code of {self.n_bytes} bytes and a "
                             f"radius >= 0, got {code.size} bytes and radius {radius}.")
        found: list[int] = []
        table = self.table
        for masks in self._masks(min(radius, self.n_bits)):
            ring: list[int] = []
            for probe in np.bitwise_xor(code, masks):
                ring.extend(table.get(probe.tobytes(), ()))
            found.extend(sorted(ring))
        return np.asarray(found, dtype=np.int64)

    def _masks(self, radius: int) -> list[np.ndarray]:
        """The XOR masks of every code at distance 0, 1, ..., ``radius``: one packed
        (C(n_bits, r), n_bytes) array per distance, built once per radius."""
        cache = self._mask_cache
        for r in range(len(cache), radius + 1):
            combos = list(itertools.combinations(range(self.n_bits), r))
            flips = np.zeros((len(combos), 8 * self.n_bytes), dtype=bool)
            for row, bits in enumerate(combos):
                flips[row, list(bits)] = True
            cache[r] = np.packbits(flips, axis=1)
        return [cache[r] for r in range(radius + 1)]


def precision_at(distances: np.ndarray, labels: np.ndarray, ks: Sequence[int],
                 query_labels: np.ndarray | None = None) -> dict[int, float]:
    """Mean fraction of a query's ``k`` nearest documents that share its label.

    Parameters
    ----------
    distances : array of shape (n_queries, n_documents)
        Smaller is nearer (a Hamming distance, ``1 - cosine``, ...). Ties are broken by
        document index (a stable sort), so codes that tie at one distance do not favour
        the right label.
    labels : array of shape (n_documents,)
    ks : sequence of int
        Neighbourhood sizes (each at most ``n_documents``).
    query_labels : array of shape (n_queries,), optional
        Default: ``labels`` (the queries are the documents themselves, and each is left
        out of its own neighbours).

    Returns
    -------
    dict
        ``{k: precision}``.

    Examples
    --------
    >>> d = np.array([[0.0, 1.0, 2.0], [1.0, 0.0, 2.0], [2.0, 1.0, 0.0]])
    >>> precision_at(d, np.array([0, 0, 1]), [1])
    {1: 0.6666666666666666}
    """
    distances = np.asarray(distances, dtype=np.float64)
    labels = np.asarray(labels)
    leave_out = query_labels is None
    if leave_out:
        distances = distances.copy()
        np.fill_diagonal(distances, np.inf)
        query_labels = labels
    order = np.argsort(distances, axis=1, kind="stable")
    hits = labels[order] == np.asarray(query_labels)[:, None]
    top = distances.shape[1] - int(leave_out)
    return {int(k): float(hits[:, :k].mean()) for k in ks if 1 <= k <= top}
