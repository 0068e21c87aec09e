"""Sequence files: several ``(n_frames, n_channels)`` arrays from one ``.npz``/``.npy`` file
or a folder of BVH files, as sequence models take them."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from deepbelief.datasets.angles import AngleCode
from deepbelief.datasets.bvh import load_bvh

__all__ = ["load_sequences"]


def _split(name: str, array: np.ndarray) -> list[np.ndarray]:
    """One 2-D array is one sequence; a 3-D array holds one sequence per entry of axis 0."""
    if array.ndim == 2:
        return [array]
    if array.ndim == 3:
        return list(array)
    raise ValueError(
        f"{name} has shape {array.shape}; a sequence file holds 2-D arrays (n_frames, "
        "n_channels), one per sequence, or one 3-D array (n_sequences, n_frames, n_channels)"
    )


def _from_numpy(path: Path) -> list[np.ndarray]:
    if path.suffix.lower() == ".bvh":
        raise ValueError(f"{path} is one BVH file; sequences are read from a folder of them: "
                         "put it in a folder of its own and give the folder (or read it with "
                         "load_bvh)")
    try:
        data = np.load(path, allow_pickle=False)
    except (ValueError, OSError, zipfile.BadZipFile) as error:
        # NumPy reads files without its header as pickles, which we never unpickle: its
        # advice to allow pickles would not help
        why = "" if "allow_pickle" in str(error) else f": {error}"
        raise ValueError(f"{path} is not a NumPy .npz/.npy file we can read{why}; sequences "
                         "come from .npz/.npy files or a folder of BVH files") from error
    if isinstance(data, np.lib.npyio.NpzFile):
        with data:
            named = list(data.items())
    else:
        named = [(path.name, data)]
    if not named:
        raise ValueError(f"{path} holds no arrays")
    sequences = []
    for name, array in named:
        sequences.extend(_split(f"{path.name}[{name!r}]", array))
    return sequences


def load_sequences(path: str | Path, angles: AngleCode = "expmap") -> list[np.ndarray]:
    """Read sequences from a NumPy file or a folder of BVH files.

    Parameters
    ----------
    path : str or Path
        * a ``.npz`` file: every 2-D array in it is one sequence (in the order saved; arrays
          may differ in length), every 3-D array ``(n_sequences, n_frames, n_channels)``
          several;
        * a ``.npy`` file holding one such 2-D or 3-D array;
        * a folder: each ``.bvh`` file in it (sorted by name) is one sequence, read by
          :func:`~deepbelief.datasets.load_bvh`.
    angles : {'expmap', 'sincos', 'degrees'}, default 'expmap'
        The rotation code of BVH files (ignored for NumPy files).

    Returns
    -------
    list of ndarray of shape (n_frames_i, n_channels)
        All with the same number of channels; floating-point data keep their precision,
        other numbers become float64.

    Raises
    ------
    FileNotFoundError
        If the path does not exist.
    ValueError
        If the file holds no sequence, an array of the wrong dimension, non-numeric data
        or sequences with different numbers of channels; or the folder holds no ``.bvh``
        file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np
    >>> from deepbelief.datasets import load_sequences
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "walks.npz"
    >>> np.savez(path, first=np.zeros((30, 4)), second=np.ones((25, 4)))
    >>> [s.shape for s in load_sequences(path)]
    [(30, 4), (25, 4)]
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no sequence file or folder at {path}")
    if path.is_dir():
        files = sorted(path.glob("*.bvh"))
        if not files:
            raise ValueError(f"the folder {path} holds no .bvh file")
        sequences = [load_bvh(file, angles=angles).frames for file in files]
    else:
        sequences = _from_numpy(path)
    for sequence in sequences:
        if not np.issubdtype(sequence.dtype, np.number) or np.issubdtype(
            sequence.dtype, np.complexfloating
        ):
            raise ValueError(f"{path} holds {sequence.dtype} data; sequences must be real numbers")
    widths = sorted({sequence.shape[1] for sequence in sequences})
    if len(widths) > 1:
        raise ValueError(
            f"the sequences in {path} have different numbers of channels {widths}; "
            "a sequence model needs the same channels in every frame"
        )
    return [
        sequence if np.issubdtype(sequence.dtype, np.floating) else sequence.astype(np.float64)
        for sequence in sequences
    ]
