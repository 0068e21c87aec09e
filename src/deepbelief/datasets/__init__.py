"""Small datasets for examples, tests and benchmarks."""

from deepbelief.datasets._datasets import (
    DATA_ENV_VAR,
    FASHION_MNIST_MIRRORS,
    FASHION_MNIST_SHA256,
    MNIST_MIRRORS,
    MNIST_SHA256,
    ChecksumError,
    IDXFormatError,
    content_sha256,
    load_digits,
    load_fashion_mnist,
    load_mnist,
    read_idx,
    verify_sha256,
    write_idx,
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
