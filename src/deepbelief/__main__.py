"""``python -m deepbelief``: the command line of :mod:`deepbelief.cli`."""

from __future__ import annotations

import sys

from deepbelief.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
