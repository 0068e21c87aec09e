"""Checkpoint state trees: exact round trips, atomic writes, verified loads."""

import numpy as np
import pytest
import torch

from deepbelief import ModelFileError
from deepbelief.core.rbm import RBMModule
from deepbelief.learning.contrastive import PersistentContrastiveDivergence, RBMObjective
from deepbelief.training.checkpoint import (
    flatten_state,
    load_checkpoint,
    save_checkpoint,
    unflatten_state,
)
from deepbelief.training.loop import fit_epochs, make_optimizer

torch.set_num_threads(1)


def _assert_same(a, b):
    assert type(a) is type(b), (a, b)
    if isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and torch.equal(a, b)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            _assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _assert_same(x, y)
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b)
    else:
        assert a == b


def test_nested_state_round_trips_exactly(tmp_path):
    state = {
        "epoch": 7, "phase": "pretrain", "done": False, "nothing": None,
        "floats": [0.5, float("inf"), float("-inf"), float("nan")],
        "pair": (1, "a"), "by_index": {0: {"step": torch.tensor(3.0)}, 1: {}},
        "generator": torch.Generator().manual_seed(5).get_state(),
        "array": np.arange(6, dtype=np.int32).reshape(2, 3),
        "tensors": [torch.randn(3, 2), torch.zeros(0), torch.ones(2, dtype=torch.bool)],
    }
    path = save_checkpoint(tmp_path / "c.ckpt", state, kind="demo")
    _assert_same(load_checkpoint(path, kind="demo"), state)
    tree, tensors = flatten_state(state)
    _assert_same(unflatten_state(tree, tensors), state)


def test_unsupported_objects_are_refused():
    with pytest.raises(TypeError, match="cannot checkpoint a object"):
        flatten_state({"x": object()})


def test_wrong_kind_and_tampering_are_rejected(tmp_path):
    path = save_checkpoint(tmp_path / "c.ckpt", {"w": torch.ones(4)}, kind="rbm")
    with pytest.raises(ModelFileError, match="checkpoint:dbn"):
        load_checkpoint(path, kind="dbn")
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="modified or corrupted"):
        load_checkpoint(path, kind="rbm")


def test_a_failed_save_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "c.ckpt", {"epoch": 1}, kind="demo")

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("os.replace", crash)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, {"epoch": 2}, kind="demo")
    assert load_checkpoint(path, kind="demo") == {"epoch": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.ckpt"]


def test_training_resumed_from_a_checkpoint_matches_an_uninterrupted_run(tmp_path):
    """Weights, optimizer, persistent chains and the random stream are all that PCD
    training depends on: restoring them continues bit for bit."""
    data = (torch.rand((200, 12), generator=torch.Generator().manual_seed(0)) < 0.4).float()

    def setup():
        rbm = RBMModule(12, 5)
        rbm.reset_parameters(torch.Generator().manual_seed(1), data_mean=data.mean(0))
        objective = RBMObjective(rbm, PersistentContrastiveDivergence(2), sparsity_target=0.1,
                                 sparsity_cost=0.01)
        optimizer = make_optimizer(rbm, "sgd", 0.05, momentum=0.5, weight_decay=1e-3)
        return rbm, objective, optimizer, torch.Generator().manual_seed(2)

    def run(parts, epochs):
        _, objective, optimizer, generator = parts
        fit_epochs(objective, (data,), optimizer, epochs=epochs, batch_size=32,
                   generator=generator)

    straight = setup()
    run(straight, 6)

    first = setup()
    run(first, 3)
    rbm, objective, optimizer, generator = first
    save_checkpoint(tmp_path / "c.ckpt", {
        "rbm": rbm.state_dict(), "objective": objective.state_dict(),
        "optimizer": optimizer.state_dict(), "generator": generator.get_state(),
    }, kind="test")

    resumed = setup()  # a fresh process would build the same objects, then load
    state = load_checkpoint(tmp_path / "c.ckpt", kind="test")
    resumed[0].load_state_dict(state["rbm"])
    resumed[1].load_state_dict(state["objective"])
    resumed[2].load_state_dict(state["optimizer"])
    resumed[3].set_state(state["generator"])
    run(resumed, 3)
    for a, b in zip(straight[0].parameters(), resumed[0].parameters(), strict=True):
        assert torch.equal(a, b)
