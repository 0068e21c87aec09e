"""``inverse_transform``: from the features of a fitted stack back to the inputs.

The decoder is the deterministic top-down pass of means through the layers that encoded the
features (``core.stack.down_pass``): ``E[v | h]`` of the top layer, then of each layer below.
Hinton & Salakhutdinov (2006) decode a pretrained stack the same way before fine-tuning it
as an autoencoder.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from sklearn.utils.validation import check_array

from deepbelief.core.stack import down_pass
from deepbelief.estimators._base import as_tensor, output_dtype, to_numpy


def check_columns(A, n_columns: int, owner: str, method: str = "inverse_transform",
                  meaning: str = "one per hidden unit of its top layer: pass what its "
                                 "transform returns") -> np.ndarray:
    """``A`` as a finite float32 or float64 array of shape (n_samples, ``n_columns``).

    Raises
    ------
    ValueError
        If ``A`` is not 2-D, has no samples, has another number of columns (the message
        names ``owner.method`` and what the columns mean), or holds NaN or infinity.
    """
    A = check_array(A, dtype=[np.float32, np.float64], ensure_all_finite=False)
    if A.shape[1] != n_columns:
        raise ValueError(f"X has {A.shape[1]} columns, but {owner}.{method} expects "
                         f"{n_columns}, {meaning}.")
    if not np.isfinite(A).all():
        raise ValueError(f"X contains NaN or infinite values; {owner}.{method} needs finite "
                         "values.")
    return A


@torch.no_grad()
def decode(layers: Sequence, F, owner: str) -> np.ndarray:
    """The top-down pass of means from top-layer features ``F`` to the inputs.

    Parameters
    ----------
    layers : sequence of fitted layers, bottom first
    F : array-like of shape (n_samples, n_hidden of the top layer)
    owner : str
        The estimator's name, for error messages.

    Returns
    -------
    ndarray of shape (n_samples, n_visible of the bottom layer)
        float64 for float64 features, else float32.
    """
    F = check_columns(F, layers[-1].n_hidden, owner)
    h = as_tensor(F, layers[0].weight.device)
    return to_numpy(down_pass(layers, h), output_dtype(F))
