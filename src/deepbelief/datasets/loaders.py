"""The data set loaders: scikit-learn's digits, MNIST and Fashion-MNIST.

* :func:`load_digits` -- scikit-learn's 8x8 digits, scaled into ``[0, 1]``;
* :func:`load_mnist` and :func:`load_fashion_mnist` -- the 28x28 MNIST and
  Fashion-MNIST images, read from local IDX files (optionally downloaded once
  into a cache folder and verified by SHA-256) with
  :func:`~deepbelief.datasets.idx.read_idx`.

Where the data lives
--------------------
The MNIST-style loaders look for the four standard files
(``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``,
``t10k-images-idx3-ubyte.gz``, ``t10k-labels-idx1-ubyte.gz``; gzipped or not)
in, by order of preference:

1. the ``root`` argument (or its ``mnist`` / ``fashion-mnist`` subfolder);
2. ``$DEEPBELIEF_DATA/mnist`` or ``$DEEPBELIEF_DATA/fashion-mnist``, or
   ``$DEEPBELIEF_DATA`` itself when it directly holds the files;
3. with ``download=True``, ``cache_dir`` (default
   ``~/.cache/deepbelief/<name>``), downloading the missing files there.

The SHA-256 constants below are those of the *decompressed* IDX files, so they
do not depend on how a mirror compressed them.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from deepbelief.datasets.idx import (
    ChecksumError,
    IDXFormatError,
    PathLike,
    read_idx,
    verify_sha256,
)
from deepbelief.io.atomic import atomic_write

__all__ = [
    "DATA_ENV_VAR",
    "FASHION_MNIST_MIRRORS",
    "FASHION_MNIST_SHA256",
    "MNIST_MIRRORS",
    "MNIST_SHA256",
    "load_digits",
    "load_fashion_mnist",
    "load_mnist",
]

#: Environment variable naming the folder that holds ``mnist/`` and ``fashion-mnist/``.
DATA_ENV_VAR = "DEEPBELIEF_DATA"

#: Base URLs tried in order by ``load_mnist(download=True)``.
MNIST_MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

#: Base URLs tried in order by ``load_fashion_mnist(download=True)``.
FASHION_MNIST_MIRRORS: tuple[str, ...] = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
)

#: SHA-256 of the decompressed MNIST IDX files (raw MD5s agree with the originals).
MNIST_SHA256: Mapping[str, str] = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

#: SHA-256 of the decompressed Fashion-MNIST IDX files.
FASHION_MNIST_SHA256: Mapping[str, str] = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}

_DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
_DOWNLOAD_TIMEOUT_S = 60.0

# --------------------------------------------------------------------------- loaders


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """Load scikit-learn's 8x8 handwritten digits, scaled into ``[0, 1]``.

    Returns
    -------
    X : numpy.ndarray of shape (1797, 64), dtype float32
        Pixel intensities divided by 16, in ``[0, 1]``.
    y : numpy.ndarray of shape (1797,), dtype int64
        Digit labels 0-9.

    Examples
    --------
    >>> X, y = load_digits()
    >>> X.shape, X.dtype, y.dtype
    ((1797, 64), dtype('float32'), dtype('int64'))
    """
    from sklearn.datasets import load_digits as _sk_load_digits

    data, target = _sk_load_digits(return_X_y=True)
    X = np.asarray(data, dtype=np.float32) / np.float32(16.0)
    return X, np.asarray(target, dtype=np.int64)


@dataclass(frozen=True)
class _DatasetInfo:
    name: str  # sub-folder of DEEPBELIEF_DATA and of the cache
    title: str
    mirrors: Sequence[str]
    sha256: Mapping[str, str]


_DATASETS: dict[str, _DatasetInfo] = {
    "mnist": _DatasetInfo("mnist", "MNIST", MNIST_MIRRORS, MNIST_SHA256),
    "fashion-mnist": _DatasetInfo(
        "fashion-mnist", "Fashion-MNIST", FASHION_MNIST_MIRRORS, FASHION_MNIST_SHA256
    ),
}

#: Indirection so that tests can replace the network access (they never download).
_urlopen: Callable[..., Any] = urllib.request.urlopen


def _file_stems(kind: str) -> tuple[str, str]:
    if kind not in ("train", "test"):
        raise ValueError(f"kind must be 'train' or 'test', got {kind!r}")
    prefix = "train" if kind == "train" else "t10k"
    return f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"


def _find_file(folder: Path, stem: str) -> Path | None:
    """Return the first existing variant of ``stem`` in ``folder`` (gzipped or plain)."""
    dotted = stem.replace("-idx", ".idx")  # e.g. train-images.idx3-ubyte
    for name in (f"{stem}.gz", stem, f"{dotted}.gz", dotted):
        candidate = folder / name
        if candidate.is_file():
            return candidate
    return None


def _candidate_folders(info: _DatasetInfo, root: PathLike | None) -> list[Path]:
    if root is not None:
        base = Path(root).expanduser()
        return [base, base / info.name]
    env = os.environ.get(DATA_ENV_VAR, "").strip()
    if env:
        base = Path(env).expanduser()
        return [base / info.name, base]
    return []


def _default_cache_dir(info: _DatasetInfo) -> Path:
    return Path("~/.cache/deepbelief").expanduser() / info.name


def _download(info: _DatasetInfo, stem: str, folder: Path) -> Path:
    """Download ``stem`` into ``folder`` from the first working mirror, verified."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{stem}.gz"
    errors: list[str] = []
    for mirror in info.mirrors:
        url = mirror.rstrip("/") + f"/{stem}.gz"
        try:
            with _urlopen(url, timeout=_DOWNLOAD_TIMEOUT_S) as response:
                data = response.read()
            verify_sha256(data, info.sha256[stem], name=url)
        except (urllib.error.URLError, OSError, ChecksumError) as exc:
            errors.append(f"  {url}: {exc}")
            continue
        atomic_write(target, data)
        return target
    raise OSError(
        f"could not download {info.title} file {stem}.gz into {folder}; tried:\n"
        + "\n".join(errors)
        + f"\nDownload the files yourself and set {DATA_ENV_VAR} or pass root=."
    )


def _missing_data_message(info: _DatasetInfo, kind: str, searched: list[Path]) -> str:
    images, labels = _file_stems(kind)
    if searched:
        where = "looked in: " + ", ".join(str(p) for p in searched)
    else:
        where = f"no root= was given and {DATA_ENV_VAR} is not set"
    lines = [
        f"{info.title} {kind} data not found ({images}[.gz] and {labels}[.gz]); {where}.",
        "Either pass root='/path/to/folder/with/the/files', or set the environment variable "
        f"{DATA_ENV_VAR} to a folder holding a '{info.name}/' subfolder (or the files "
        "themselves), or use download=True to fetch them into cache_dir "
        f"(default {_default_cache_dir(info)}).",
    ]
    if info.name == "fashion-mnist":
        lines.append(
            "On Debian/Ubuntu, the package 'dataset-fashion-mnist' installs the files in "
            f"{_DEBIAN_FASHION_MNIST} (then pass root='{_DEBIAN_FASHION_MNIST}')"
            + (" — it is installed on this machine." if _DEBIAN_FASHION_MNIST.is_dir() else ".")
        )
    return "\n".join(lines)


def _load_mnist_like(
    info: _DatasetInfo,
    root: PathLike | None,
    kind: str,
    download: bool,
    cache_dir: PathLike | None,
) -> tuple[np.ndarray, np.ndarray]:
    stems = _file_stems(kind)
    searched = _candidate_folders(info, root)
    paths: tuple[Path, Path] | None = None
    for folder in searched:
        images, labels = (_find_file(folder, stem) for stem in stems)
        if images is not None and labels is not None:
            paths = (images, labels)
            break
    if paths is None and download:
        cache = Path(cache_dir).expanduser() if cache_dir is not None else _default_cache_dir(info)
        found = [_find_file(cache, stem) for stem in stems]
        images, labels = (
            path if path is not None else _download(info, stem, cache)
            for path, stem in zip(found, stems, strict=True)
        )
        paths = (images, labels)
    if paths is None:
        raise FileNotFoundError(_missing_data_message(info, kind, searched))

    images_path, labels_path = paths
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.dtype != np.uint8 or images.ndim != 3:
        raise IDXFormatError(
            f"{images_path}: expected a 3-d uint8 image array, got "
            f"{'x'.join(map(str, images.shape))} {images.dtype}"
        )
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise IDXFormatError(
            f"{labels_path}: expected a 1-d uint8 label array, got "
            f"{'x'.join(map(str, labels.shape))} {labels.dtype}"
        )
    if images.shape[0] != labels.shape[0]:
        raise IDXFormatError(
            f"{images_path} holds {images.shape[0]} images but {labels_path} holds "
            f"{labels.shape[0]} labels; the files do not belong together"
        )
    X = images.reshape(images.shape[0], -1).astype(np.float32)
    X /= np.float32(255.0)
    return X, labels.astype(np.int64)


def load_mnist(
    root: PathLike | None = None,
    *,
    kind: Literal["train", "test"] = "train",
    download: bool = False,
    cache_dir: PathLike | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Load MNIST handwritten digits from local IDX files.

    Parameters
    ----------
    root : str or os.PathLike, optional
        Folder holding ``{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]``
        (or a ``mnist/`` subfolder holding them). Defaults to
        ``$DEEPBELIEF_DATA/mnist``, or ``$DEEPBELIEF_DATA`` itself when it
        holds the files directly.
    kind : {"train", "test"}, default="train"
        Which split to load (60000 or 10000 images).
    download : bool, default=False
        If the files are not found, download them into ``cache_dir`` from
        :data:`MNIST_MIRRORS` and verify their SHA-256 (:data:`MNIST_SHA256`).
    cache_dir : str or os.PathLike, optional
        Download folder; default ``~/.cache/deepbelief/mnist``.

    Returns
    -------
    X : numpy.ndarray of shape (n, 784), dtype float32
        Pixel intensities divided by 255, in ``[0, 1]``.
    y : numpy.ndarray of shape (n,), dtype int64
        Digit labels 0-9.

    Raises
    ------
    FileNotFoundError
        If the files cannot be found (and ``download`` is false).
    IDXFormatError
        If a file is corrupt, or the image and label counts differ.
    OSError
        If a download fails on every mirror.
    """
    return _load_mnist_like(_DATASETS["mnist"], root, kind, download, cache_dir)


def load_fashion_mnist(
    root: PathLike | None = None,
    *,
    kind: Literal["train", "test"] = "train",
    download: bool = False,
    cache_dir: PathLike | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Load Fashion-MNIST (Zalando article images) from local IDX files.

    Same files, shapes and conventions as :func:`load_mnist`; the default root
    is ``$DEEPBELIEF_DATA/fashion-mnist``. The Debian package
    ``dataset-fashion-mnist`` installs the files in
    ``/usr/share/datasets/fashion-mnist``.

    Parameters
    ----------
    root : str or os.PathLike, optional
        Folder holding the four IDX files (or a ``fashion-mnist/`` subfolder).
    kind : {"train", "test"}, default="train"
        Which split to load (60000 or 10000 images).
    download : bool, default=False
        If the files are not found, download them into ``cache_dir`` from
        :data:`FASHION_MNIST_MIRRORS` and verify their SHA-256
        (:data:`FASHION_MNIST_SHA256`).
    cache_dir : str or os.PathLike, optional
        Download folder; default ``~/.cache/deepbelief/fashion-mnist``.

    Returns
    -------
    X : numpy.ndarray of shape (n, 784), dtype float32
        Pixel intensities divided by 255, in ``[0, 1]``.
    y : numpy.ndarray of shape (n,), dtype int64
        Class labels 0-9 (T-shirt/top, Trouser, Pullover, Dress, Coat, Sandal,
        Shirt, Sneaker, Bag, Ankle boot).

    Raises
    ------
    FileNotFoundError
        If the files cannot be found (and ``download`` is false).
    IDXFormatError
        If a file is corrupt, or the image and label counts differ.
    OSError
        If a download fails on every mirror.
    """
    return _load_mnist_like(_DATASETS["fashion-mnist"], root, kind, download, cache_dir)
