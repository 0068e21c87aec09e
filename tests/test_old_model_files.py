"""Model files written by deepbelief 0.1.0 (before the package was laid out by role) still
load and give the same outputs.

The files in tests/data/v0.1.0 were written by commit 2d50a2c's code (library version
0.1.0) with ``random_state=0`` on the CPU, with ``expected.json`` holding that code's
``predict`` (or ``transform``) of the first five digits.
"""

import json
from pathlib import Path

import numpy as np
import pytest

from deepbelief import load
from deepbelief.datasets import load_digits
from deepbelief.io.modelfile import describe

FOLDER = Path(__file__).parent / "data" / "v0.1.0"
EXPECTED = json.loads((FOLDER / "expected.json").read_text())


@pytest.mark.parametrize("name", sorted(EXPECTED["outputs"]))
def test_a_0_1_0_model_file_loads_and_gives_the_same_outputs(name):
    path = FOLDER / f"{name}.safetensors"
    assert describe(path)["library_version"] == "0.1.0"
    model = load(path, device="cpu")
    probe = load_digits()[0][:5]
    got = model.predict(probe) if hasattr(model, "predict") else model.transform(probe)
    np.testing.assert_allclose(np.asarray(got, dtype=float), EXPECTED["outputs"][name],
                               rtol=1e-5, atol=1e-6)
