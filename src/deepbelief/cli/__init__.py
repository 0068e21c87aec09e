"""The ``deepbelief`` command: argument parsing (:mod:`.main`), the commands
(:mod:`.commands`) and their files (:mod:`.io`)."""

from deepbelief.cli.io import CommandError, UsageError, load_data
from deepbelief.cli.main import build_parser, main

__all__ = ["CommandError", "UsageError", "build_parser", "load_data", "main"]
