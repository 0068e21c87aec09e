"""Error messages in the command line's words: the library's parameter names
(``resume=False``, ``max_iter=``, ``visible_units='gaussian'``, ``root=``) become the
options of the command that ran (``without --resume``, ``--epochs``, ``--visible-units
gaussian``, ``--data-dir``).

The table from parameter to option is read from the command's parser (which options it
has) and, for ``train``, from the option-to-parameter table of :mod:`deepbelief.cli.train`
for the ``--kind`` given. This module imports neither torch nor scikit-learn: a usage
error is translated at once.
"""

from __future__ import annotations

import argparse
import re
import sys

__all__ = ["cli_words", "option_names"]

#: Parameters of ``fit``, the data loaders and every estimator -> the option's ``dest``.
_COMMON = {"checkpoint": "checkpoint", "checkpoint_every": "checkpoint_every",
           "resume": "resume", "root": "data_dir", "random_state": "seed", "device": "device"}

#: ``name=value`` (value quoted, alternatives joined by 'or', <placeholder>, or a word),
#: or ``name=`` alone; ``'name' parameter`` (scikit-learn's parameter checks).
_ASSIGNMENT = re.compile(
    r"(?<![\w-])(?P<name>[a-z_][a-z0-9_]*)=(?P<value>'[^']*'(?: or '[^']*')*|\"[^\"]*\""
    r"|<\w+>|[^\s,;)'\"]*[^\s,;)'\".])?")
_TURN_OFF = re.compile(r"\b(?:pass|use|set) (?P<name>[a-z_][a-z0-9_]*)=False\b")
_PARAMETER = re.compile(r"'(?P<name>[a-z_][a-z0-9_]*)' parameter")
_CODE_WORD = re.compile(r"(?<![\w'=-])(?P<name>[a-z]+(?:_[a-z0-9]+)+)(?![\w'=])")
#: scikit-learn's words for random_state's other values, which --seed cannot take.
_RANDOM_STATE = re.compile(r", an instance of 'numpy\.random\.mtrand\.RandomState' or None")
#: The library's scaling advice (core.units), for commands that scale with --scale.
_MIN_MAX = re.compile(r"e\.g\. with sklearn\.preprocessing\.MinMaxScaler \([^)]*\) or "
                      r"X / 255 for 8-bit pixels")
_STANDARDIZED = re.compile(r" on standardized data\.")


def _flags(parser: argparse.ArgumentParser) -> dict[str, str]:
    """``dest`` -> the long option string, for the options of ``parser``."""
    return {a.dest: next((o for o in a.option_strings if o.startswith("--")),
                         a.option_strings[0])
            for a in parser._actions if a.option_strings}


def option_names(args: argparse.Namespace) -> dict[str, str]:
    """The table from parameter name to option of the command ``args`` ran: its options
    by name (``n_iter`` -> ``--n-iter``), the common parameters (``root`` ->
    ``--data-dir``, ``random_state`` -> ``--seed``), and for ``train`` every estimator
    parameter an option sets for its ``--kind`` (``max_iter`` -> ``--epochs``)."""
    parser = args.commands[args.command]
    flags = _flags(parser)
    dests = {dest: dest for dest in flags}  # --n-iter sets n_iter, --binary binary, ...
    dests.update(_COMMON)
    train = sys.modules.get("deepbelief.cli.train")  # imported only when 'train' ran
    if args.command == "train" and train is not None:
        groups = train._groups(args.kind)
        for dest, targets in train._TRAIN_PARAMS.items():
            target = next((targets[g] for g in groups if g in targets), None)
            if target is not None:
                dests[target] = dest
    return {name: flags[dest] for name, dest in dests.items() if dest in flags}


def _estimator_params(args: argparse.Namespace) -> set[str]:
    models = sys.modules.get("deepbelief.cli.models")
    if args.command != "train" or models is None or args.kind not in models.KINDS:
        return set()
    return set(models.KINDS[args.kind]().get_params())


def cli_words(message: str, args: argparse.Namespace | None) -> str:
    """``message`` with the library's parameter names replaced by the options of the
    command ``args`` ran (unchanged without ``args``).

    ``pass resume=False`` -> ``run without --resume``; ``max_iter=5`` -> ``--epochs 5``;
    ``visible_units='gaussian'`` -> ``--visible-units gaussian``; ``checkpoint=`` ->
    ``--checkpoint``; a parameter no option sets -> ``--set name=value``.

    Examples
    --------
    >>> from deepbelief.cli.parser import build_parser
    >>> args = build_parser().parse_args(["evaluate", "model.safetensors"])
    >>> cli_words("use device='cpu' or 'auto', or pass resume=False", args)
    'use --device cpu or auto, or pass resume=False'
    >>> cli_words("pass resume=False to start again", build_parser().parse_args(["train"]))
    'run without --resume to start again'
    """
    if args is None or getattr(args, "commands", None) is None:
        return message
    table = option_names(args)
    for name, _ in getattr(args, "set", None) or []:  # given as --set NAME=VALUE: say so
        table[name] = f"--set {name}"
    others = _estimator_params(args)
    if "scale" in table:
        message = _MIN_MAX.sub("e.g. with --scale minmax", message)
        message = _STANDARDIZED.sub(" on standardized data (--scale standard).", message)
    message = _TURN_OFF.sub(lambda m: f"run without {table[m['name']]}" if m["name"] in table
                            else m[0], message)

    def assignment(match: re.Match) -> str:
        name, value = match["name"], match["value"]
        if name not in table:
            return f"--set {name}={value}" if name in others and value else match[0]
        if table[name].startswith("--set ") and value:
            return f"{table[name]}={value}"
        if value is None or value == "True":
            return table[name]
        if value == "False":
            return f"without {table[name]}"
        if value.startswith("<"):
            return f"{table[name]} {value[1:-1].upper()}"
        return f"{table[name]} {value.replace(chr(39), '').replace(chr(34), '')}"

    message = _ASSIGNMENT.sub(assignment, message)
    message = _PARAMETER.sub(lambda m: f"{table[m['name']]} option" if m["name"] in table
                             else m[0], message)
    def code_word(match: re.Match) -> str:
        if match.string[:match.start()].endswith("--set "):  # already in the CLI's words
            return match[0]
        return table.get(match["name"], match[0])

    message = _CODE_WORD.sub(code_word, message)
    return _RANDOM_STATE.sub("", message)  # --seed takes an integer only
