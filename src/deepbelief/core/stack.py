"""Passes through a stack of layers: bottom-up (recognition) and top-down (generation).

A stack is a sequence of layers, bottom first, each offering ``hidden_mean`` (up),
``visible_mean`` and ``sample_visible`` (down), as every
:class:`~deepbelief.core.layers.Layer` (e.g. :class:`~deepbelief.core.rbm.RBMModule`)
does. Every estimator, the CLI and the generative DBN use these two functions.

The bottom-up pass, and any function of the rows of the data (:func:`map_rows`), also read
a SciPy sparse matrix: one chunk of rows at a time is made dense (:func:`row_chunks`), so
the whole matrix is never densified.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch
from scipy import sparse

__all__ = ["down_pass", "map_rows", "row_chunks", "up_pass"]

#: At most this many values in one dense chunk of a sparse matrix (64 MB of float32).
CHUNK_VALUES = 2**24


def row_chunks(x, batch_size: int | None = None,
               device: torch.device | str | None = None) -> Iterator[torch.Tensor]:
    """The rows of ``x`` in consecutive chunks, as tensors.

    Parameters
    ----------
    x : tensor of shape (n, m), or scipy.sparse matrix
        A tensor is sliced (views, no copy). A sparse matrix (read in CSR form) is made
        dense one chunk at a time, as float32 on ``device``; a chunk holds at most
        ``batch_size`` rows and :data:`CHUNK_VALUES` values (at least one row).
    batch_size : int or None
        Rows per chunk; None: a tensor in one chunk.
    device : torch.device or str, optional
        Where the chunks of a sparse matrix go (default: the CPU).

    Yields
    ------
    tensor of shape (rows, m): at least one chunk, of zero rows when ``x`` has none.

    Examples
    --------
    >>> from scipy import sparse
    >>> X = sparse.csr_matrix(np.eye(5, dtype=np.float32))
    >>> [tuple(c.shape) for c in row_chunks(X, batch_size=2)]
    [(2, 5), (2, 5), (1, 5)]
    """
    n, m = x.shape
    if sparse.issparse(x):
        x = x.tocsr()
        step = max(1, min(n if batch_size is None else batch_size, CHUNK_VALUES // max(m, 1)))
        for lo in range(0, max(n, 1), step):
            dense = np.asarray(x[lo : lo + step].toarray(), dtype=np.float32)
            yield torch.from_numpy(dense).to(device or "cpu")
        return
    step = n if batch_size is None else batch_size
    for lo in range(0, max(n, 1), max(step, 1)):
        yield x[lo : lo + step]


def map_rows(fn: Callable[[torch.Tensor], torch.Tensor], x, batch_size: int | None = None,
             device: torch.device | str | None = None) -> torch.Tensor:
    """``fn`` applied to the rows of ``x`` chunk by chunk (:func:`row_chunks`), the results
    concatenated: for a tensor and ``batch_size=None``, ``fn(x)`` itself.

    ``fn`` must act on each row independently (e.g. a layer's ``hidden_mean``).

    Examples
    --------
    >>> from scipy import sparse
    >>> X = sparse.csr_matrix(np.eye(3, dtype=np.float32))
    >>> map_rows(lambda v: v.sum(1), X, batch_size=2)
    tensor([1., 1., 1.])
    """
    outs = [fn(chunk) for chunk in row_chunks(x, batch_size, device)]
    return outs[0] if len(outs) == 1 else torch.cat(outs)


def _device(layer) -> torch.device:
    return next(iter(layer.state_dict().values())).device


@torch.no_grad()
def up_pass(layers: Sequence, x, batch_size: int = 8192) -> torch.Tensor:
    """Deterministic bottom-up pass ``E[h_L | ... E[h_1 | x]]``, in chunks of ``batch_size``.

    Parameters
    ----------
    layers : sequence of layers, bottom first
    x : tensor of shape (n, n_visible of the bottom layer), or scipy.sparse matrix
        A sparse matrix is read chunk by chunk onto the bottom layer's device
        (:func:`row_chunks`).

    Returns
    -------
    tensor of shape (n, n_hidden of the top layer); ``x`` itself for an empty stack.

    Examples
    --------
    >>> import torch
    >>> from deepbelief.core.rbm import RBMModule
    >>> up_pass([RBMModule(6, 4), RBMModule(4, 3)], torch.ones(5, 6)).shape
    torch.Size([5, 3])
    """
    if not layers:
        return x

    def through(h: torch.Tensor) -> torch.Tensor:
        for layer in layers:
            h = layer.hidden_mean(h)
        return h

    return map_rows(through, x, batch_size, _device(layers[0]))


@torch.no_grad()
def down_pass(layers: Sequence, h: torch.Tensor,
              generator: torch.Generator | None = None) -> torch.Tensor:
    """Top-down pass through ``layers`` (bottom first) from the top layer's hidden states
    ``h`` (n, n_hidden of the top layer) to the means of the data layer (n, n_visible of the
    bottom layer).

    Each layer's visible conditional is a directed generative layer. With a ``generator``
    the layers between are sampled (an ancestral pass); without, means are propagated.

    Examples
    --------
    >>> import torch
    >>> from deepbelief.core.rbm import RBMModule
    >>> down_pass([RBMModule(6, 4), RBMModule(4, 3)], torch.ones(5, 3)).shape
    torch.Size([5, 6])
    """
    for i, layer in enumerate(reversed(layers)):
        if generator is None or i == len(layers) - 1:
            h = layer.visible_mean(h)
        else:
            h = layer.sample_visible(h, generator)[1]
    return h
