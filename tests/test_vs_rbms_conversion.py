"""benchmarks/vs_rbms.py: models of the ``rbms`` package read into deepbelief.

The benchmark scores rbms' trained RBMs with deepbelief's AIS, so the copy of the
parameters must keep the model: the same energies, free energies and partition function in
both libraries. ``rbms`` is a dev-only dependency (benchmarks/requirements-vs-rbms.txt):
the tests that need it are skipped when it is not installed.
"""

from __future__ import annotations

import importlib.util
import itertools
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from deepbelief.core.rbm import RBMModule
from deepbelief.evaluation import exact_log_partition

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
# rbms compiles its kernels with torch.jit.script, which torch 2.13 deprecates
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")


@pytest.fixture(scope="module")
def vs_rbms():
    """The benchmark script as a module (it imports its neighbours as the scripts do)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(BENCHMARKS))
        spec = importlib.util.spec_from_file_location("vs_rbms", BENCHMARKS / "vs_rbms.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return module


@pytest.fixture
def bbrbm():
    """A random rbms Bernoulli-Bernoulli RBM, 7 visible x 4 hidden units, weights of
    order 1 (the shapes differ so that a transposed copy cannot pass)."""
    pytest.importorskip("rbms")
    from rbms.bernoulli_bernoulli.classes import BBRBM

    g = torch.Generator().manual_seed(0)
    return BBRBM(weight_matrix=torch.randn(7, 4, generator=g),
                 vbias=torch.randn(7, generator=g), hbias=torch.randn(4, generator=g))


def _states(n: int) -> torch.Tensor:
    return torch.tensor(list(itertools.product((0.0, 1.0), repeat=n)))


def test_rbms_model_has_the_same_free_energy_of_every_visible_state(vs_rbms, bbrbm):
    rbm = vs_rbms.to_deepbelief(bbrbm)
    v = _states(7)
    torch.testing.assert_close(rbm.free_energy(v), bbrbm.compute_energy_visibles(v),
                               rtol=0, atol=1e-5)


def test_rbms_model_has_the_same_energy_and_sign_of_every_joint_state(vs_rbms, bbrbm):
    """Joint energies, not only free energies: the sign and the roles of the biases."""
    rbm = vs_rbms.to_deepbelief(bbrbm)
    pairs = [(v, h) for v in _states(7) for h in _states(4)]
    v = torch.stack([p[0] for p in pairs])
    h = torch.stack([p[1] for p in pairs])
    torch.testing.assert_close(rbm.energy(v, h), bbrbm.compute_energy(v, h),
                               rtol=0, atol=1e-5)


def test_rbms_exact_log_partition_agrees_with_deepbelief_after_the_copy(vs_rbms, bbrbm):
    from rbms.partition_function.exact import compute_partition_function

    rbm = vs_rbms.to_deepbelief(bbrbm)
    assert exact_log_partition(rbm) == pytest.approx(
        compute_partition_function(bbrbm, _states(4)), abs=1e-4)


def test_potts_model_of_rbms_is_refused_by_the_bernoulli_copy(vs_rbms):
    """Only Bernoulli-Bernoulli models can be read; a Potts model is not silently misread."""
    with pytest.raises(TypeError, match="BBRBM"):
        vs_rbms.to_deepbelief(SimpleNamespace(name="PBRBM"))


def test_rbms_training_loop_makes_one_update_when_the_budget_is_already_spent(vs_rbms):
    """A budget shorter than the set-up still trains one update, and counts it."""
    pytest.importorskip("rbms")
    g = torch.Generator().manual_seed(1)
    grey = torch.rand(40, 6, generator=g)
    fixed = torch.bernoulli(grey, generator=g)
    args = SimpleNamespace(seed=0, binarisation="fixed", n_hidden=3, rbms_chains=8,
                           rbms_batch_size=10, rbms_learning_rate=0.01)
    rbm, stats = vs_rbms.train_rbms(grey, fixed, args, gibbs_steps=2, budget_s=0.0)
    assert isinstance(rbm, RBMModule)
    assert (rbm.n_visible, rbm.n_hidden) == (6, 3)
    assert stats["updates"] == 1 and stats["epochs"] == pytest.approx(10 / 40)


def test_missing_rbms_names_the_install_command(vs_rbms, monkeypatch):
    """Without rbms the benchmark stops with the pip command of its requirements file."""
    for name in ["rbms", *(m for m in sys.modules if m.startswith("rbms."))]:
        monkeypatch.setitem(sys.modules, name, None)  # importing it now raises ImportError
    with pytest.raises(SystemExit, match=r"pip install -c .*constraints\.txt -r .*"
                                         r"requirements-vs-rbms\.txt") as raised:
        vs_rbms.require_rbms()
    command = str(raised.value).split("\n")[-1].split()
    for path in (command[-3], command[-1]):  # the constraints and the requirements files
        assert Path(path).is_file(), path
    assert "rbms==" in (BENCHMARKS / "requirements-vs-rbms.txt").read_text()
