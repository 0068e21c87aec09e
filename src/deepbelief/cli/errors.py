"""The command line's errors and exit statuses (re-exported by :mod:`deepbelief.cli.io`)."""

from __future__ import annotations

__all__ = ["EXIT_FAILURE", "EXIT_OK", "EXIT_USAGE", "CommandError", "UsageError", "one_line"]

#: Exit status: success, failure (a missing or invalid file, data that does not fit the
#: model, ...), and a usage error (a bad option or value).
EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """The command line is wrong (exit status 2)."""

    def __init__(self, message: str, prog: str = "deepbelief") -> None:
        super().__init__(message)
        self.prog = prog


class CommandError(Exception):
    """The command cannot be carried out (exit status 1)."""


def one_line(exc: BaseException) -> str:
    """An exception's message on one line (a KeyError's as 'missing ...')."""
    text = " ".join(str(exc).split())
    if isinstance(exc, KeyError):
        text = f"missing {text}"
    return text or type(exc).__name__
