"""The same models on a CUDA device: skipped on machines without one.

Every estimator trains, predicts, saves, loads and resumes on the GPU; the mathematics
(free energies, AIS against exact enumeration) agrees with the CPU. Run them with a GPU
present: ``python -m pytest tests/test_cuda.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import deepbelief
from deepbelief import RBM, DBNClassifier, DBNRegressor, DBNTransformer, GenerativeDBN
from deepbelief.callbacks import Callback
from deepbelief.core.rbm import RBMModule
from deepbelief.datasets import load_digits
from deepbelief.evaluation import ais_log_partition, exact_log_partition, log_likelihood

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits()
    return X[:1000], y[:1000], X[1000:1400], y[1000:1400]


def _on_cuda(module: torch.nn.Module) -> bool:
    return all(p.device.type == "cuda" for p in module.parameters())


def test_classifier_trains_on_cuda_and_auto_picks_it(digits):
    X, y, X_test, y_test = digits
    clf = DBNClassifier((128, 128), pretrain_epochs=5, max_iter=30, batch_size=32,
                        random_state=0, device="auto").fit(X, y)
    assert _on_cuda(clf.network_)
    assert clf.score(X_test, y_test) > 0.85
    proba = clf.predict_proba(X_test)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-5)


def test_same_seed_gives_the_same_model_on_cuda(digits):
    X, y, _, _ = digits
    a = DBNClassifier((64,), pretrain_epochs=2, max_iter=3, random_state=1,
                      device="cuda").fit(X, y)
    b = DBNClassifier((64,), pretrain_epochs=2, max_iter=3, random_state=1,
                      device="cuda").fit(X, y)
    for p, q in zip(a.network_.parameters(), b.network_.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=1e-5)


def test_regressor_transformer_rbm_and_generative_dbn_on_cuda(digits):
    X, y, X_test, y_test = digits
    reg = DBNRegressor((64,), pretrain_epochs=2, max_iter=20, random_state=0,
                       device="cuda").fit(X, y.astype(np.float32))
    assert np.isfinite(reg.predict(X_test)).all()
    Z = DBNTransformer((64, 16), pretrain_epochs=3, random_state=0,
                       device="cuda").fit_transform(X)
    assert Z.shape == (len(X), 16) and isinstance(Z, np.ndarray)
    rbm = RBM(64, n_iter=3, random_state=0, device="cuda").fit(X)
    assert _on_cuda(rbm.rbm_) and rbm.sample(5, n_gibbs=10, random_state=0).shape == (5, 64)
    gen = GenerativeDBN((128, 256), pretrain_epochs=30, batch_size=32, random_state=0,
                        device="cuda").fit(X, y)
    assert gen.score(X_test, y_test) > 0.8
    assert gen.sample(10, y=3, n_gibbs=20, random_state=0).shape == (10, 64)
    mask = np.zeros(64, dtype=bool)
    mask[:32] = True
    done = gen.complete(X_test[:5], mask, random_state=0)
    np.testing.assert_array_equal(done[:, :32], X_test[:5, :32])


def test_cuda_model_saves_and_loads_on_either_device(digits, tmp_path):
    X, y, X_test, _ = digits
    clf = DBNClassifier((64,), pretrain_epochs=2, max_iter=5, random_state=0,
                        device="cuda").fit(X, y)
    clf.save(tmp_path / "m.safetensors")
    on_gpu = deepbelief.load(tmp_path / "m.safetensors")
    on_cpu = deepbelief.load(tmp_path / "m.safetensors", device="cpu")
    assert _on_cuda(on_gpu.network_)
    assert all(p.device.type == "cpu" for p in on_cpu.network_.parameters())
    np.testing.assert_allclose(on_cpu.predict_proba(X_test), clf.predict_proba(X_test),
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(on_gpu.predict(X_test), clf.predict(X_test))


class _Stop(Callback):
    def on_epoch_end(self, context):
        if context.phase == "finetune" and context.epoch == 2:
            raise KeyboardInterrupt


def test_interrupted_cuda_fit_resumes_to_the_same_weights(digits, tmp_path):
    X, y, _, _ = digits
    params = dict(hidden_layer_sizes=(32,), pretrain_epochs=2, max_iter=5, random_state=0,
                  device="cuda")
    full = DBNClassifier(**params).fit(X, y)
    path = tmp_path / "ckpt.safetensors"
    with pytest.raises(KeyboardInterrupt):
        DBNClassifier(**params, callbacks=[_Stop()]).fit(X, y, checkpoint=path)
    resumed = DBNClassifier(**params).fit(X, y, checkpoint=path, resume=True)
    for p, q in zip(full.network_.parameters(), resumed.network_.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=1e-5)


def test_free_energy_agrees_between_cpu_and_cuda():
    rbm = RBMModule(30, 20)
    with torch.no_grad():
        rbm.weight.normal_(0, 0.3, generator=torch.Generator().manual_seed(0))
    v = (torch.rand(50, 30, generator=torch.Generator().manual_seed(1)) < 0.5).float()
    cpu = rbm.free_energy(v)
    gpu = rbm.to("cuda").free_energy(v.cuda()).cpu()
    torch.testing.assert_close(gpu, cpu, rtol=1e-5, atol=1e-4)


def test_ais_on_cuda_matches_exact_log_partition():
    g = torch.Generator().manual_seed(3)
    rbm = RBMModule(40, 12)
    with torch.no_grad():
        rbm.weight.copy_(torch.randn(40, 12, generator=g) * 0.3)
        rbm.visible_bias.copy_(torch.randn(40, generator=g) * 0.5)
    data = (torch.rand(500, 40, generator=g) < 0.4).float()
    exact = exact_log_partition(rbm)
    ais = ais_log_partition(rbm.to("cuda"), n_runs=200, data=data, random_state=0)
    assert abs(ais.log_z - exact) < 0.05
    ll = log_likelihood(rbm, data[:10].cuda(), ais)
    assert ll.dtype == np.float64 and bool(np.isfinite(ll).all())  # computed on the GPU


@pytest.mark.parametrize("method", ["cd", "pcd"])
def test_cd_steps_are_replayed_from_cuda_graphs(digits, monkeypatch, method):
    """The graphed CD/PCD step trains the eager step's weights (same batches; on an H200
    with torch 2.11 the random numbers came from the same offsets, and the weights were
    equal bit for bit), and the schedule's change of momentum is seen."""
    import deepbelief.training.loop as loop

    X = digits[0]
    made = []
    real = loop.graphed_steps

    def spy(*args):
        made.append(real(*args))
        return made[-1]

    monkeypatch.setattr(loop, "graphed_steps", spy)
    params = dict(n_components=64, batch_size=10, n_iter=8, method=method,
                  momentum="classic", learning_rate=0.05, random_state=0, device="cuda")
    graphed = RBM(**params).fit(X)
    steps = made[0]
    assert steps is not None and steps.steps_run == 8 * 100
    # epoch 1: groups of 16 and 1 after 3 warm-up steps; epochs 2-5: 16 and 4; from epoch 6
    # (momentum 0.5 -> 0.9) recorded again: 16 and 4
    assert steps.captures == 5
    monkeypatch.setenv("DEEPBELIEF_CUDA_GRAPHS", "0")
    eager = RBM(**params).fit(X)
    assert made[-1] is None
    g_err = [h["reconstruction_error"] for h in graphed.history_]
    e_err = [h["reconstruction_error"] for h in eager.history_]
    if method == "cd":  # PCD's reconstruction error need not fall much in 8 epochs
        assert g_err[-1] < 0.6 * g_err[0]
    assert abs(g_err[-1] - e_err[-1]) < 0.05 * e_err[-1], (g_err, e_err)
    diff = (graphed.rbm_.weight - eager.rbm_.weight).abs().max().item()
    print(f"{method}: largest weight difference graphed vs eager {diff:.3g}")
    assert diff < 1e-3


def test_graphed_fit_is_repeatable_with_the_same_seed(digits):
    X = digits[0]
    params = dict(n_components=32, batch_size=10, n_iter=3, random_state=5, device="cuda")
    a, b = RBM(**params).fit(X), RBM(**params).fit(X)
    torch.testing.assert_close(a.rbm_.weight, b.rbm_.weight, rtol=0, atol=1e-5)
