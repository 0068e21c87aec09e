"""The ``deepbelief`` command: :mod:`.main` runs it, :mod:`.parser` (with :mod:`.config`)
reads the command line, and one module per group of commands carries them out --
:mod:`.train`, :mod:`.inference` (evaluate, predict, transform), :mod:`.pictures` (sample,
complete, plot) and :mod:`.inspection` -- with :mod:`.models`, :mod:`.metrics` and the
files of :mod:`.io`.

Each command's ``run_*`` function takes the parsed arguments and returns the exit status;
errors are raised as :class:`~deepbelief.cli.io.UsageError` (exit 2) or
:class:`~deepbelief.cli.io.CommandError` and library exceptions (exit 1), which
:func:`main` turns into one line on stderr.
"""

from deepbelief.cli.io import CommandError, UsageError, load_data
from deepbelief.cli.main import main
from deepbelief.cli.parser import build_parser

__all__ = ["CommandError", "UsageError", "build_parser", "load_data", "main"]
