"""Shared test configuration: single-threaded torch, and the location of the data sets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

_REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True, scope="session")
def _single_thread():
    """One torch thread: concurrent test processes on few cores otherwise oversubscribe
    the CPU and slow torch down by an order of magnitude."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The folder holding ``mnist/`` and ``fashion-mnist/``: ``$DEEPBELIEF_DATA``, else
    ``<repo>/../shared/data``; tests that need it are skipped when it does not exist."""
    folder = Path(os.environ.get("DEEPBELIEF_DATA") or _REPO.parent / "shared" / "data")
    if not folder.is_dir():
        pytest.skip(f"data folder {folder} not found (set DEEPBELIEF_DATA)")
    return folder


@pytest.fixture(scope="session")
def digits_split():
    """The reference split of the digits: X/16, 80/20, random_state=0."""
    from sklearn.model_selection import train_test_split

    from deepbelief.datasets import load_digits

    X, y = load_digits()
    return train_test_split(X, y, test_size=0.2, random_state=0)
