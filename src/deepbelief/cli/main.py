"""The ``deepbelief`` command line (also ``python -m deepbelief``).

::

    deepbelief train --data digits -o model.safetensors   # fit, save, print a summary
    deepbelief evaluate model.safetensors --data digits   # accuracy / error / likelihood
    deepbelief predict model.safetensors --data X.csv     # predictions as CSV
    deepbelief transform model.safetensors --data X.npy -o features.npy
    deepbelief sample rbm.safetensors -o samples.png      # images drawn from the model
    deepbelief complete rbm.safetensors --data digits -o completions.png
    deepbelief inspect model.safetensors                  # what the file holds
    deepbelief inspect run.ckpt                           # where a checkpoint's run stands
    deepbelief plot filters model.safetensors -o filters.png
    deepbelief export model.safetensors -o model.onnx     # the network, for use elsewhere
    deepbelief demo                                       # the reference example

Every command has ``--help``. Exit status: 0 on success, 2 for a usage error (a bad option
or value, an option that does not apply), 1 when the command fails (a missing or invalid
file, data that does not fit the model, a model of the wrong type); the error is one line
on stderr, starting with ``deepbelief COMMAND: error:`` and naming options, not the
library's parameters, without traceback unless ``--traceback`` is given. Every output path
is checked (its folder created) before any work starts. Ctrl-C exits with status 130 and
a line saying what was saved (``train --checkpoint``: the epoch and phase, and to rerun
with ``--resume``). Messages go through
:mod:`logging` (logger ``deepbelief``) to stderr; results go to stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import sys
import traceback
import warnings
from collections.abc import Sequence
from functools import partial

from deepbelief.cli.config import config_tokens
from deepbelief.cli.document_jobs import is_document_job
from deepbelief.cli.io import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    CommandError,
    UsageError,
    load_data,
    one_line,
)
from deepbelief.cli.messages import cli_words
from deepbelief.cli.parser import build_parser

__all__ = ["CommandError", "UsageError", "build_parser", "load_data", "main"]

log = logging.getLogger("deepbelief")


def _logging_handler(args) -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    level = logging.WARNING if args.quiet else (
        logging.DEBUG if args.verbose > 1 else logging.INFO)
    handler.setLevel(level)
    log.addHandler(handler)
    log.setLevel(level)
    return handler


def _user_errors() -> tuple[type[BaseException], ...]:
    # imported here: deepbelief.exceptions imports scikit-learn (slow for --help)
    from deepbelief.exceptions import DivergenceError, ModelFileError

    return (CommandError, OSError, ValueError, ModelFileError, DivergenceError, RuntimeError,
            MemoryError)


def _parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """``parser.parse_args``, with an unknown option reported by its command's parser (so
    the error starts with 'deepbelief COMMAND:')."""
    args, extra = parser.parse_known_args(argv)
    if extra:
        args.commands[args.command].error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def _prog(args) -> str:
    """``deepbelief COMMAND``, the start of every message of a command."""
    return f"deepbelief {args.command}" if args is not None else "deepbelief"


def _show_warning(args, message, category, filename, lineno, file=None, line=None) -> None:
    """A library warning as one line in the command's words: ``deepbelief predict:
    warning: ...`` (Python shows the file and line of code, meaningless on a command line)."""
    if not args.quiet:
        print(f"{_prog(args)}: warning: {cli_words(one_line(message), args)}",
              file=sys.stderr)


def _join_torchrun(args, stack: contextlib.ExitStack) -> None:
    """Under ``torchrun``, join its process group until the command ends (gloo, or NCCL for
    ``--device cuda``); the processes other than rank 0 print nothing but errors and write
    no history file (nor model file: ``save`` writes on rank 0 only)."""
    if "WORLD_SIZE" not in os.environ:  # not launched by torchrun: import nothing more
        return
    from deepbelief.training.distributed import launched_by_torchrun, torchrun_group

    if not launched_by_torchrun():
        return
    if stack.enter_context(torchrun_group(getattr(args, "device", "cpu"))) != 0:
        args.quiet, args.no_history = True, True
        devnull = stack.enter_context(open(os.devnull, "w", encoding="utf-8"))
        stack.enter_context(contextlib.redirect_stdout(devnull))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0, 1 or 2)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = None
    handler = None
    previous_level = log.level
    stack = contextlib.ExitStack()
    try:
        args = _parse(parser, argv)
        if args.command == "train" and args.config:
            at = argv.index("train") + 1
            tokens, file_params = config_tokens(args.config, args.commands["train"])
            args = _parse(parser, [*argv[:at], *tokens, *argv[at:]])
            args.config_params = file_params
        _join_torchrun(args, stack)
        handler = _logging_handler(args)
        stack.enter_context(warnings.catch_warnings())
        warnings.showwarning = partial(_show_warning, args)
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        if is_document_job(args):  # word counts: deepbelief.cli.documents
            from deepbelief.cli.documents import run_documents

            return run_documents(args)
        return args.run(args)
    except SystemExit as exc:  # --help, --version
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    except UsageError as exc:
        prog = exc.prog if exc.prog != "deepbelief" or args is None else _prog(args)
        print(f"{prog}: error: {cli_words(one_line(exc), args)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt as exc:  # the message says what was saved (cli.checkpoints)
        print(f"{_prog(args)}: interrupted" + (f": {exc}" if str(exc) else ""),
              file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. 'deepbelief predict ... | head'
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:
        prog = _prog(args)
        if args is not None and getattr(args, "traceback", False):
            traceback.print_exc()
        elif not isinstance(exc, _user_errors()):  # a bug: say so, with the traceback
            traceback.print_exc()
            print(f"{prog}: internal error (please report it): {one_line(exc)}",
                  file=sys.stderr)
            return EXIT_FAILURE
        print(f"{prog}: error: {cli_words(one_line(exc), args)}", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        stack.close()  # the warnings' display as it was
        if handler is not None:
            log.removeHandler(handler)
            log.setLevel(previous_level)
        if isinstance(sys.stdout, io.TextIOBase):
            try:
                sys.stdout.flush()
            except (BrokenPipeError, ValueError):
                pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
