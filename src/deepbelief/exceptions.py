"""Exceptions raised by deepbelief."""

from __future__ import annotations

from sklearn.exceptions import NotFittedError

__all__ = ["DivergenceError", "ModelFileError", "NotFittedError"]


class DivergenceError(FloatingPointError):
    """Training produced NaN or infinite parameters or loss."""


class ModelFileError(ValueError):
    """A model file is missing, truncated, tampered with, or of an unsupported version."""
