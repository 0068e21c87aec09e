"""Small datasets for examples, tests and benchmarks.

:mod:`.loaders` loads the digits, MNIST and Fashion-MNIST; :mod:`.idx` reads and writes
the IDX files of the MNIST-style data sets and checks their SHA-256.
"""

from deepbelief.datasets.idx import (
    ChecksumError,
    IDXFormatError,
    content_sha256,
    read_idx,
    verify_sha256,
    write_idx,
)
from deepbelief.datasets.loaders import (
    DATA_ENV_VAR,
    FASHION_MNIST_MIRRORS,
    FASHION_MNIST_SHA256,
    MNIST_MIRRORS,
    MNIST_SHA256,
    load_digits,
    load_fashion_mnist,
    load_mnist,
)

__all__ = [
    "DATA_ENV_VAR",
    "FASHION_MNIST_MIRRORS",
    "FASHION_MNIST_SHA256",
    "MNIST_MIRRORS",
    "MNIST_SHA256",
    "ChecksumError",
    "IDXFormatError",
    "content_sha256",
    "load_digits",
    "load_fashion_mnist",
    "load_mnist",
    "read_idx",
    "verify_sha256",
    "write_idx",
]
