"""The package's import layering, and the size of its modules.

Every module under src/deepbelief is read with :mod:`ast` (every import, including those
inside functions; relative imports resolved) and each import is mapped to the layer it
reaches. A module may import its own layer and the layers :data:`ALLOWED` lists for it,
nothing else of ours -- so the model file module cannot import the package face, and
plotting cannot import an estimator. Run this file with Python to print the findings.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "deepbelief"

_BASE = {"_version", "exceptions"}
_BELOW_ESTIMATORS = {
    *_BASE, "core", "learning", "io", "training", "evaluation", "datasets", "plotting",
}
_EVERYTHING = {*_BELOW_ESTIMATORS, "estimators", "compat", "demo", "callbacks", "cli",
               "__main__", "__init__"}

#: layer -> the other layers its modules may import. A layer is a sub-package or a top-level
#: module of deepbelief; ``__init__`` is the package face (``import deepbelief``).
ALLOWED: dict[str, set[str]] = {
    "_version": set(),
    "exceptions": set(),
    "core": {"_version", "exceptions"},
    "learning": {"core", "exceptions"},
    "io": {"_version", "exceptions"},
    "training": {"core", "learning", "io", "_version", "exceptions"},
    "evaluation": {"core", "exceptions"},
    # io: the one atomic file write (io/atomic.py), shared with the model files.
    "datasets": {"exceptions", "io"},
    "plotting": set(),
    "estimators": _BELOW_ESTIMATORS,
    "compat": {*_BELOW_ESTIMATORS, "estimators"},
    "demo": {*_BELOW_ESTIMATORS, "estimators"},
    "callbacks": {*_BELOW_ESTIMATORS, "estimators"},
    "cli": _EVERYTHING - {"cli"},
    "__main__": _EVERYTHING - {"__main__"},
    "__init__": _EVERYTHING - {"__init__"},
}

MAX_LINES = 500
#: Modules allowed to stay longer than MAX_LINES (path under src/deepbelief -> reason).
TOO_LONG_ALLOWED: dict[str, str] = {}


# --------------------------------------------------------------------------------------
# the checker
# --------------------------------------------------------------------------------------


def read_sources(root: Path = SRC) -> dict[str, tuple[str, bool]]:
    """``{module name: (source, is_package)}`` of every module under ``root/deepbelief``."""
    sources = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        is_package = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if is_package else parts)
        sources[name] = (path.read_text(encoding="utf-8"), is_package)
    return sources


def imported_modules(name: str, source: str, is_package: bool, known: set[str]) -> set[str]:
    """The absolute names of the modules that ``source`` (module ``name``) imports.

    ``from X import y`` imports ``X.y`` when that is a module in ``known``, else ``X``.
    Relative imports are resolved against the module's package.
    """
    package = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join([*base_parts, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.add(full if full in known else base)
    return found


def layer_of(module: str) -> str | None:
    """The layer of a module of ours, or None for a module of another distribution."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    return parts[1] if len(parts) > 1 else "__init__"


def layering_violations(sources: dict[str, tuple[str, bool]]) -> list[str]:
    """One line per import that crosses the layering, e.g.
    ``deepbelief.io.modelfile (io) imports deepbelief (__init__)``."""
    known = set(sources)
    problems = []
    for name, (source, is_package) in sorted(sources.items()):
        layer = layer_of(name)
        if layer not in ALLOWED:
            problems.append(f"{name}: layer {layer!r} is not in the layering table")
            continue
        for target in sorted(imported_modules(name, source, is_package, known)):
            other = layer_of(target)
            if other is None or other == layer:
                continue
            if other not in ALLOWED[layer]:
                problems.append(f"{name} ({layer}) imports {target} ({other})")
    return problems


def long_modules(root: Path = SRC, limit: int = MAX_LINES) -> dict[str, int]:
    """``{path under src/deepbelief: number of lines}`` of the modules over ``limit``."""
    lengths = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        n_lines = len(path.read_text(encoding="utf-8").splitlines())
        if n_lines > limit:
            lengths[path.relative_to(root / PACKAGE).as_posix()] = n_lines
    return lengths


# --------------------------------------------------------------------------------------
# the tests
# --------------------------------------------------------------------------------------


def test_every_layer_is_known_and_the_table_is_closed():
    assert set(ALLOWED) == _EVERYTHING
    for layer, allowed in ALLOWED.items():
        assert allowed <= _EVERYTHING, layer
        assert layer not in allowed, layer


def test_the_package_respects_its_layering():
    sources = read_sources()
    assert "deepbelief.io.modelfile" in sources and "deepbelief.cli" in sources
    assert layering_violations(sources) == []


@pytest.mark.parametrize(
    ("bad_import", "target", "reached"),
    [
        ("import deepbelief", "deepbelief", "__init__"),
        ("from deepbelief import __version__", "deepbelief", "__init__"),
        ("from deepbelief.estimators import RBM", "deepbelief.estimators", "estimators"),
        ("from .. import estimators", "deepbelief.estimators", "estimators"),
        ("from ..core.rbm import RBMModule", "deepbelief.core.rbm", "core"),
        ("import deepbelief.training.loop as loop", "deepbelief.training.loop", "training"),
    ],
)
def test_a_higher_import_in_the_model_file_module_is_reported(bad_import, target, reached):
    """The bug this check was written for: io/modelfile.py imported the package face to
    read the version. An import inside a function counts too."""
    sources = read_sources()
    before = layering_violations(sources)
    source, is_package = sources["deepbelief.io.modelfile"]
    inside_a_function = f"\n\ndef _version():\n    {bad_import}\n"
    sources["deepbelief.io.modelfile"] = (source + inside_a_function, is_package)
    new = [line for line in layering_violations(sources) if line not in before]
    assert new == [f"deepbelief.io.modelfile (io) imports {target} ({reached})"]


def test_allowed_and_foreign_imports_are_not_reported():
    sources = read_sources()
    before = layering_violations(sources)
    source, is_package = sources["deepbelief.io.modelfile"]
    extra = ("\nfrom deepbelief.exceptions import ModelFileError\nfrom . import atomic\n"
             "import deepbelief._version\nimport numpy.linalg\n")
    sources["deepbelief.io.modelfile"] = (source + extra, is_package)
    assert layering_violations(sources) == before


def test_relative_imports_resolve_against_the_package():
    known = {"deepbelief", "deepbelief.io", "deepbelief.io.atomic", "deepbelief.core",
             "deepbelief.core.rbm"}
    source = "from . import atomic\nfrom .atomic import atomic_write\nfrom ..core import rbm\n"
    assert imported_modules("deepbelief.io.modelfile", source, False, known) == {
        "deepbelief.io.atomic", "deepbelief.core.rbm"}
    # in a package's __init__, "." is the package itself
    assert imported_modules("deepbelief.io", "from . import atomic\n", True, known) == {
        "deepbelief.io.atomic"}


def test_an_unknown_layer_is_reported():
    sources = {"deepbelief.newthing.mod": ("import numpy\n", False)}
    assert layering_violations(sources) == [
        "deepbelief.newthing.mod: layer 'newthing' is not in the layering table"
    ]


def test_no_module_is_longer_than_the_limit():
    too_long = long_modules()
    unexpected = {path: n for path, n in too_long.items() if path not in TOO_LONG_ALLOWED}
    assert unexpected == {}, f"modules over {MAX_LINES} lines: split them by idea"
    stale = sorted(set(TOO_LONG_ALLOWED) - set(too_long))
    assert stale == [], "these modules are short now: remove them from TOO_LONG_ALLOWED"


def test_the_length_check_finds_a_long_module(tmp_path: Path):
    (tmp_path / PACKAGE / "core").mkdir(parents=True)
    (tmp_path / PACKAGE / "core" / "big.py").write_text("x = 1\n" * 501)
    (tmp_path / PACKAGE / "core" / "small.py").write_text("x = 1\n" * 500)
    assert long_modules(tmp_path) == {"core/big.py": 501}


if __name__ == "__main__":  # pragma: no cover
    for line in layering_violations(read_sources()) or ["layering: no violation"]:
        print(line)
    for path, n_lines in long_modules().items():
        print(f"{path}: {n_lines} lines (> {MAX_LINES})")
