"""``deepbelief train --config FILE``: a TOML settings file, read as command-line options.

A config file holds long options of ``deepbelief train`` (``layers = [256, 256]``,
``hidden-units = "relu"``, ...), optionally under a ``[train]`` table, and a ``[params]``
table of estimator parameters (passed as ``--set NAME=VALUE``). Options given on the
command line take precedence.
"""

from __future__ import annotations

import argparse
import json
import tomllib

from deepbelief.cli.io import CommandError, UsageError

__all__ = ["config_tokens"]


def config_tokens(path: str, parser: argparse.ArgumentParser) -> tuple[list[str], frozenset]:
    """A TOML config file as command-line tokens (command-line options given after them
    take precedence), and the names in its ``[params]`` table (so that an error about one
    names the file, not a ``--set`` the user never typed)."""
    try:
        with open(path, "rb") as handle:
            config = tomllib.load(handle)
    except FileNotFoundError:
        raise CommandError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path} is not valid TOML: {exc}", "deepbelief train") from None
    config = dict(config.get("train", config))
    params = config.pop("params", {})
    options = {a.dest: a for a in parser._actions if a.option_strings}
    tokens: list[str] = []
    for key, value in config.items():
        dest = key.replace("-", "_")
        action = options.get(dest)
        if action is None or dest in ("help", "config", "set"):
            raise UsageError(f"{path}: unknown setting {key!r}; the settings are the long "
                             "options of 'deepbelief train', and [params] holds estimator "
                             "parameters.", "deepbelief train")
        flag = next(o for o in action.option_strings if o.startswith("--"))
        if isinstance(value, bool):
            if isinstance(action, argparse.BooleanOptionalAction):
                tokens.append(flag if value else f"--no-{flag[2:]}")
            elif value:
                tokens.append(flag)
            continue
        values = value if isinstance(value, list) else [value]
        tokens += [flag, *(str(v) for v in values)]
    if not isinstance(params, dict):
        raise UsageError(f"{path}: [params] must be a table of estimator parameters.",
                         "deepbelief train")
    for key, value in params.items():
        tokens += ["--set", f"{key}={json.dumps(value)}"]
    return tokens, frozenset(params)
