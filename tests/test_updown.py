"""Up-down fine-tuning (contrastive wake-sleep) of the generative DBN.

Each phase's update is the gradient of a directed layer's log-likelihood: checked against
autograd on tiny float64 models. Then the objective as a whole (which parameters it moves)
and the estimator (untied weights, the growing CD-k, saving, reproducibility).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepbelief import GenerativeDBN, load
from deepbelief.core.generative import GenerativeStack, joined_with_labels
from deepbelief.core.rbm import RBMModule
from deepbelief.learning.updown import UpDownObjective, _directed_down_grad_, _directed_up_grad_

torch.set_num_threads(1)
F64 = torch.float64


def _random(module: torch.nn.Module, seed: int) -> torch.nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype))
            p.grad = torch.zeros_like(p)
    return module


def _stack(n_classes: int = 3, seed: int = 0) -> GenerativeStack:
    """6 -> 5 -> 4 (+labels) -> 7, float64, random weights."""
    top_visible = joined_with_labels("bernoulli", 4, n_classes) if n_classes else "bernoulli"
    rbms = [RBMModule(6, 5, dtype=F64), RBMModule(5, 4, dtype=F64),
            RBMModule(4 + n_classes, 7, top_visible, dtype=F64)]
    for i, rbm in enumerate(rbms):
        _random(rbm, seed + i)
    return GenerativeStack(rbms)


def _bernoulli_log_lik(x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    return -torch.nn.functional.binary_cross_entropy_with_logits(
        logits, x, reduction="none").sum(1).mean()


def test_generative_update_is_the_gradient_of_the_top_down_log_likelihood():
    layer = _random(RBMModule(6, 5, dtype=F64), 1)
    g = torch.Generator().manual_seed(2)
    below = torch.rand(8, 6, generator=g, dtype=F64)  # grey values act as probabilities
    above = (torch.rand(8, 5, generator=g, dtype=F64) < 0.5).to(F64)
    W, a = layer.weight.detach().clone().requires_grad_(), layer.visible_bias.detach().clone()
    a.requires_grad_()
    grad_w, grad_a = torch.autograd.grad(-_bernoulli_log_lik(below, a + above @ W.t()), (W, a))
    _directed_down_grad_(layer, below, above)
    torch.testing.assert_close(layer.weight.grad, grad_w)
    torch.testing.assert_close(layer.visible_bias.grad, grad_a)
    assert not layer.hidden_bias.grad.any()


def test_recognition_update_is_the_gradient_of_the_bottom_up_log_likelihood():
    layer = _random(RBMModule(6, 5, dtype=F64), 3)
    g = torch.Generator().manual_seed(4)
    below = torch.rand(8, 6, generator=g, dtype=F64)
    above = (torch.rand(8, 5, generator=g, dtype=F64) < 0.5).to(F64)
    W, b = layer.weight.detach().clone().requires_grad_(), layer.hidden_bias.detach().clone()
    b.requires_grad_()
    grad_w, grad_b = torch.autograd.grad(-_bernoulli_log_lik(above, b + below @ W), (W, b))
    _directed_up_grad_(layer, below, above)
    torch.testing.assert_close(layer.weight.grad, grad_w)
    torch.testing.assert_close(layer.hidden_bias.grad, grad_b)
    assert not layer.visible_bias.grad.any()


def test_untied_stack_copies_the_recognition_weights():
    stack = _stack()
    untied = stack.untied()
    assert stack.tied and not untied.tied
    assert untied.lower[0] is stack.lower[0] and untied.top is stack.top
    x = torch.rand(3, 6, generator=torch.Generator().manual_seed(0), dtype=F64)
    torch.testing.assert_close(untied.up_pass(x), stack.up_pass(x))
    with torch.no_grad():
        untied.recognition[0].weight.add_(1.0)
    assert not torch.allclose(untied.up_pass(x), stack.up_pass(x))  # the up pass moved
    h = torch.ones(3, 4, dtype=F64)
    torch.testing.assert_close(untied.down_pass(h), stack.down_pass(h))  # the down pass not
    with pytest.raises(ValueError, match="recognition layers must have the shapes"):
        GenerativeStack([*stack.lower, stack.top], stack.lower[:1])


def test_objective_needs_untied_weights():
    with pytest.raises(ValueError, match="untied"):
        UpDownObjective(_stack())


@pytest.mark.parametrize(("n_classes", "k"), [(3, 1), (3, 4), (0, 2)])
def test_one_step_moves_each_direction_with_its_own_phase(n_classes, k):
    stack = _stack(n_classes).untied()
    objective = UpDownObjective(stack, k=k)
    g = torch.Generator().manual_seed(5)
    x = torch.rand(32, 6, generator=g, dtype=F64)
    batch = (x,) if not n_classes else (
        x, torch.nn.functional.one_hot(torch.arange(32) % n_classes, n_classes).to(F64))
    objective.gradients_(batch, g)
    for gen, rec in zip(stack.lower, stack.recognition, strict=True):
        assert gen.weight.grad.abs().sum() > 0 and gen.visible_bias.grad.abs().sum() > 0
        assert not gen.hidden_bias.grad.any()  # unused by the down pass
        assert rec.weight.grad.abs().sum() > 0 and rec.hidden_bias.grad.abs().sum() > 0
        assert not rec.visible_bias.grad.any()  # unused by the up pass
    top = stack.top
    assert top.weight.grad.abs().sum() > 0
    # top-level CD: visible-bias gradient = negative mean - positive mean of the joined layer
    if n_classes:  # the label block of the positive phase is the one-hot targets
        labels_pos = batch[1].mean(0)
        neg_minus_pos = top.visible_bias.grad[4:]
        assert torch.all(neg_minus_pos + labels_pos >= -1e-12)  # negative means are >= 0
        torch.testing.assert_close(neg_minus_pos.sum(), torch.zeros((), dtype=F64))


def test_one_step_changes_nothing_at_a_zero_learning_rate_and_is_repeatable():
    def run(seed):
        stack = _stack(3).untied()
        objective = UpDownObjective(stack, k=2)
        x = torch.rand(16, 6, generator=torch.Generator().manual_seed(1), dtype=F64)
        y = torch.nn.functional.one_hot(torch.arange(16) % 3, 3).to(F64)
        objective.gradients_((x, y), torch.Generator().manual_seed(seed))
        return [p.grad.clone() for p in objective.module.parameters()]

    a, b, c = run(0), run(0), run(1)
    assert all(torch.equal(p, q) for p, q in zip(a, b, strict=True))
    assert not all(torch.equal(p, q) for p, q in zip(a, c, strict=True))


# -- the estimator ---------------------------------------------------------------------------
SETTINGS = {"hidden_layer_sizes": (64, 64, 128), "pretrain_epochs": 15, "device": "cpu",
            "random_state": 0, "updown_epochs": 6, "updown_k": (1, 2, 3)}


@pytest.fixture(scope="module")
def finetuned(digits_split):
    X_train, _, y_train, _ = digits_split
    return GenerativeDBN(**SETTINGS).fit(X_train, y_train)


def test_updown_unties_the_weights_and_grows_k(finetuned, digits_split):
    X_train, X_test, y_train, y_test = digits_split
    assert finetuned.recognition_ is not None and len(finetuned.recognition_) == 2
    for rec, gen in zip(finetuned.recognition_, finetuned.rbms_[:-1], strict=True):
        assert rec is not gen and not torch.equal(rec.weight, gen.weight)
    records = finetuned.history_["updown"]
    assert [r["k"] for r in records] == [1, 1, 2, 2, 3, 3]
    assert all(np.isfinite(r["reconstruction_error"]) and 0 <= r["training_error"] <= 1
               for r in records)
    assert finetuned.updown_time_ > 0
    greedy = GenerativeDBN(**{**SETTINGS, "updown_epochs": 0}).fit(X_train, y_train)
    assert greedy.recognition_ is None and greedy.history_["updown"] == []
    # greedy training is the same in both (same seed); fine-tuning keeps the classifier good
    for a, b in zip(greedy.history_["pretrain"], finetuned.history_["pretrain"], strict=True):
        assert [r["reconstruction_error"] for r in a] == [r["reconstruction_error"] for r in b]
    assert finetuned.score(X_test, y_test) >= greedy.score(X_test, y_test) - 0.03


def test_updown_model_saves_loads_and_repeats(finetuned, digits_split, tmp_path):
    X_train, X_test, y_train, _ = digits_split
    finetuned.save(tmp_path / "gen.safetensors")
    loaded = load(tmp_path / "gen.safetensors")
    assert loaded.recognition_ is not None
    np.testing.assert_array_equal(loaded.predict_proba(X_test), finetuned.predict_proba(X_test))
    np.testing.assert_array_equal(loaded.sample(5, y=1, n_gibbs=5, random_state=0),
                                  finetuned.sample(5, y=1, n_gibbs=5, random_state=0))
    again = GenerativeDBN(**SETTINGS).fit(X_train, y_train)
    for p, q in zip(again.recognition_, finetuned.recognition_, strict=True):
        assert torch.equal(p.weight, q.weight)


def test_updown_without_labels_and_callbacks_see_the_phase(digits_split):
    X_train = digits_split[0][:300]
    seen = []
    gen = GenerativeDBN((32, 32), pretrain_epochs=2, updown_epochs=2, updown_k=2,
                        callbacks=[lambda epoch, record: seen.append(sorted(record))],
                        random_state=0, device="cpu").fit(X_train)
    assert gen.recognition_ is not None and "training_error" not in gen.history_["updown"][0]
    assert len(seen) == 2 + 2 + 2  # two layers of pretraining, then up-down
    assert "k" in seen[-1] and gen.sample(3, n_gibbs=3, random_state=0).shape == (3, 64)


@pytest.mark.parametrize("bad", [0, (), (2, 0), 1.5, (True,)])
def test_bad_updown_k_is_refused(bad, digits_split):
    X_train, _, y_train, _ = digits_split
    with pytest.raises(ValueError, match="updown_k"):
        GenerativeDBN((16, 16), pretrain_epochs=1, updown_epochs=2, updown_k=bad,
                      device="cpu").fit(X_train[:50], y_train[:50])


def test_persistent_top_level_chains_carry_on_between_batches():
    stack = _stack(3).untied()
    objective = UpDownObjective(stack, k=1, persistent=True)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(8, 6, generator=g, dtype=F64)
    y = torch.nn.functional.one_hot(torch.arange(8) % 3, 3).to(F64)
    objective.gradients_((x, y), g)
    first = objective.chains.clone()
    assert first.shape == (8, 7)
    assert torch.equal(first[:, 4:].sum(1), torch.ones(8, dtype=F64))  # one-hot labels
    state = objective.state_dict()
    objective.gradients_((x, y), g)
    assert not torch.equal(objective.chains, first)
    # a restored objective continues from the saved chains
    again = UpDownObjective(stack, k=1, persistent=True)
    again.load_state_dict(state)
    assert torch.equal(again.chains, first)
    cd = UpDownObjective(stack, k=1)
    cd.gradients_((x, y), g)
    assert cd.chains is None
