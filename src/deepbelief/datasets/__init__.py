"""Small datasets for examples, tests and benchmarks.

:mod:`.loaders` loads the digits, MNIST and Fashion-MNIST; :mod:`.idx` reads and writes
the IDX files of the MNIST-style data sets and checks their SHA-256.
Sequences: :mod:`.bouncing` makes videos of bouncing balls, :mod:`.gaits` synthetic gaits,
:mod:`.bvh` reads and writes motion capture (joint angles coded by :mod:`.angles`) and
:mod:`.sequences` reads sequence files. Super-resolution: :mod:`.resolution` downsamples
images and upsamples them bicubically. Documents: :mod:`.documents` gives word counts
(synthetic LDA corpora, folders of .txt files, the Lee corpus, 20 Newsgroups).
"""

from deepbelief.datasets.bouncing import bouncing_balls
from deepbelief.datasets.bvh import MotionCapture, load_bvh, save_bvh
from deepbelief.datasets.documents import (
    Corpus,
    load_20newsgroups,
    load_lee_corpus,
    load_text_folder,
    synthetic_corpus,
)
from deepbelief.datasets.gaits import GAIT_CHANNELS, synthetic_gaits
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
from deepbelief.datasets.resolution import downsample, upsample_bicubic
from deepbelief.datasets.sequences import load_sequences

__all__ = [
    "DATA_ENV_VAR",
    "FASHION_MNIST_MIRRORS",
    "FASHION_MNIST_SHA256",
    "GAIT_CHANNELS",
    "MNIST_MIRRORS",
    "MNIST_SHA256",
    "ChecksumError",
    "Corpus",
    "IDXFormatError",
    "MotionCapture",
    "bouncing_balls",
    "content_sha256",
    "downsample",
    "load_20newsgroups",
    "load_bvh",
    "load_digits",
    "load_fashion_mnist",
    "load_lee_corpus",
    "load_mnist",
    "load_sequences",
    "load_text_folder",
    "read_idx",
    "save_bvh",
    "synthetic_corpus",
    "synthetic_gaits",
    "upsample_bicubic",
    "verify_sha256",
    "write_idx",
]
