"""The command line starts without importing torch or scikit-learn (issue 20, item 5):
``--help`` and usage errors answer at once, and the package face imports on first use."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "sklearn", "scipy")


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)


def _heavy_modules_after(argv: list[str]) -> tuple[int, list[str], str]:
    """Run the CLI in a fresh interpreter; its exit status, the heavy modules it imported
    and its stderr."""
    code = f"""
import contextlib, io, json, sys
from deepbelief.__main__ import main
out, err = io.StringIO(), io.StringIO()
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
    status = main({argv!r})
print(json.dumps([status, [m for m in {HEAVY!r} if m in sys.modules], err.getvalue()]))
"""
    result = _run(code)
    assert result.returncode == 0, result.stderr
    status, heavy, err = json.loads(result.stdout.splitlines()[-1])
    return status, heavy, err


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["train", "--help"],
                                  ["plot", "--help"], ["evaluate", "--help"]])
def test_help_imports_neither_torch_nor_sklearn(argv):
    """--help used to take seconds: it imported torch and scikit-learn first."""
    status, heavy, _ = _heavy_modules_after(argv)
    assert status == 0
    assert heavy == []


@pytest.mark.parametrize("argv", [["trian"], ["train", "--kind", "nope"],
                                  ["train", "--epochs", "-3"], ["evaluate"]])
def test_usage_error_answers_without_importing_torch(argv):
    """A typo in a command or an option is reported before anything heavy is imported."""
    status, heavy, err = _heavy_modules_after(argv)
    assert status == 2
    assert heavy == []
    assert err.startswith("deepbelief") and "error:" in err


def test_a_command_still_runs_and_imports_what_it_needs(tmp_path):
    """Lazy command modules: 'inspect' of a missing file imports its module and fails
    with one line and exit status 1 (not an ImportError)."""
    status, _, err = _heavy_modules_after(["inspect", str(tmp_path / "missing.st")])
    assert status == 1
    assert "missing.st" in err and "Traceback" not in err


def test_import_deepbelief_is_light_and_names_load_on_first_use():
    """`import deepbelief` does not import torch; `from deepbelief import RBM`, `dir()` and
    `__all__` still work (PEP 562)."""
    result = _run("""
import json, sys
import deepbelief
light = 'torch' not in sys.modules and 'sklearn' not in sys.modules
names = dir(deepbelief)
from deepbelief import RBM, DivergenceError, load
print(json.dumps([light, names, deepbelief.__all__, RBM.__name__, 'torch' in sys.modules,
                  DivergenceError.__name__, callable(load), deepbelief.__version__]))
""")
    assert result.returncode == 0, result.stderr
    light, names, public, rbm, torch_now, error, load_ok, version = json.loads(result.stdout)
    assert light
    assert {"RBM", "DBNClassifier", "GenerativeDBN", "load", "ModelFileError"} <= set(names)
    assert set(public) <= set(names)
    assert (rbm, torch_now, error, load_ok) == ("RBM", True, "DivergenceError", True)
    assert version


def test_unknown_attribute_of_the_package_raises_attribute_error():
    import deepbelief

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        deepbelief.nope  # noqa: B018


def test_kind_choices_match_the_kinds_train_knows():
    """The parser lists --kind without importing the estimators; it must not drift."""
    from deepbelief.cli.models import KINDS
    from deepbelief.cli.parser import KIND_CHOICES

    assert KIND_CHOICES == tuple(KINDS)


def test_first_optimizer_import_is_paid_once_by_warm_up():
    """torch's first optimizer imports torch._dynamo (about a second): warm_up_optimizers
    pays it once so that the CLI does not count it as training time."""
    result = _run("""
import json, sys
from deepbelief.training.loop import warm_up_optimizers
before = 'torch._dynamo' in sys.modules
first, second = warm_up_optimizers(), warm_up_optimizers()
print(json.dumps([before, 'torch._dynamo' in sys.modules, first, second]))
""")
    assert result.returncode == 0, result.stderr
    before, after, first, second = json.loads(result.stdout)
    assert (before, after, second) == (False, True, 0.0)
    assert first > 0.0


def test_every_public_name_of_the_package_is_lazy_or_loaded():
    import deepbelief

    assert set(deepbelief.__all__) == {*deepbelief._LAZY, "__version__"}
