"""The unrolled fine-tuning network: equivalence with the RBM stack, seeded dropout, no
global RNG use, and the supervised objective."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from deepbelief.core.coins import bernoulli_mask
from deepbelief.core.network import Dropout, FeedForwardDBN
from deepbelief.core.rbm import RBMModule
from deepbelief.core.stack import up_pass
from deepbelief.learning.supervised import SupervisedObjective

torch.set_num_threads(1)


def _stack(hidden_types=("bernoulli", "relu", "gaussian"), sizes=(7, 5, 4, 3), seed=0):
    g = torch.Generator().manual_seed(seed)
    rbms = []
    visible = "bernoulli"
    for n_in, n_out, hidden in zip(sizes[:-1], sizes[1:], hidden_types, strict=True):
        rbm = RBMModule(n_in, n_out, visible, hidden)
        with torch.no_grad():
            for p in rbm.parameters():
                p.copy_(torch.randn(p.shape, generator=g))
        rbms.append(rbm)
        visible = hidden
    return rbms


def _inputs(n=64, d=7, seed=1):
    return torch.rand(n, d, generator=torch.Generator().manual_seed(seed))


# -- equivalence with the RBM stack -----------------------------------------------------------


@pytest.mark.parametrize("hidden_types", [("bernoulli", "bernoulli", "bernoulli"),
                                          ("relu", "relu", "relu"),
                                          ("bernoulli", "relu", "gaussian")])
def test_hidden_activations_equal_the_stack_bottom_up_pass(hidden_types):
    rbms = _stack(hidden_types)
    net = FeedForwardDBN.from_rbms(rbms, 2, generator=torch.Generator().manual_seed(0))
    x = _inputs()
    with torch.no_grad():
        got = net.features(x)
    # Same mathematics; only the matmul's memory layout (Wᵀ stored contiguously) differs,
    # so the results agree to float32 rounding.
    torch.testing.assert_close(got, up_pass(rbms, x), rtol=1e-6, atol=1e-6)
    # layer by layer too
    linears = [m for m in net.body if isinstance(m, nn.Linear)]
    for linear, rbm in zip(linears, rbms, strict=True):
        assert torch.equal(linear.weight, rbm.weight.t())
        assert torch.equal(linear.bias, rbm.hidden_bias)
    acts = [type(m).__name__ for m in net.body if not isinstance(m, nn.Linear)]
    names = {"bernoulli": "Sigmoid", "relu": "ReLU", "gaussian": "Identity"}
    assert acts == [names[h] for h in hidden_types]


def test_forward_is_the_head_on_top_of_the_features():
    rbms = _stack()
    net = FeedForwardDBN.from_rbms(rbms, 3, generator=torch.Generator().manual_seed(0))
    x = _inputs()
    head = net.head[-1]
    with torch.no_grad():
        torch.testing.assert_close(net(x), up_pass(rbms, x) @ head.weight.t(),
                                   rtol=1e-5, atol=1e-6)
    assert torch.equal(head.bias, torch.zeros(3))
    expect = torch.randn((3, 3), generator=torch.Generator().manual_seed(0)) * 0.01
    assert torch.equal(head.weight, expect)


def test_transform_stack_chunks_and_empty_input():
    rbms = _stack()
    x = _inputs(n=50)
    torch.testing.assert_close(up_pass(rbms, x, batch_size=7),
                               up_pass(rbms, x), rtol=1e-6, atol=1e-7)
    h = x
    with torch.no_grad():
        for rbm in rbms:
            h = rbm.hidden.mean(h @ rbm.weight + rbm.hidden_bias)
    torch.testing.assert_close(up_pass(rbms, x), h, rtol=1e-6, atol=1e-6)
    assert up_pass(rbms, x[:0]).shape == (0, 3)


# -- global RNG -------------------------------------------------------------------------------


def test_building_the_network_does_not_touch_the_global_rng():
    rbms = _stack()
    torch.manual_seed(1234)
    before = torch.get_rng_state()
    net = FeedForwardDBN.from_rbms(rbms, 4, dropout=0.5, generator=torch.Generator())
    FeedForwardDBN([3, 8, 2], ["sigmoid", "relu"], 5, dropout=0.2)
    net.set_generator(torch.Generator().manual_seed(0))
    net.train()
    net(_inputs())
    assert torch.equal(before, torch.get_rng_state())


def test_from_rbms_head_is_reproducible_from_the_generator():
    rbms = _stack()
    a = FeedForwardDBN.from_rbms(rbms, 2, generator=torch.Generator().manual_seed(3))
    b = FeedForwardDBN.from_rbms(rbms, 2, generator=torch.Generator().manual_seed(3))
    c = FeedForwardDBN.from_rbms(rbms, 2, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a.head[-1].weight, b.head[-1].weight)
    assert not torch.equal(a.head[-1].weight, c.head[-1].weight)


def test_dropout_layers_sit_above_the_first_linear_layer_and_before_the_head():
    net = FeedForwardDBN([6, 5, 4], ["sigmoid", "relu"], 2, dropout=0.3)
    kinds = [type(m).__name__ for m in net.body]
    assert kinds == ["Linear", "Sigmoid", "Dropout", "Linear", "ReLU"]
    assert isinstance(net.head[0], Dropout) and net.head[0].p == 0.3
    assert not any(isinstance(m, Dropout)
                   for m in FeedForwardDBN([6, 5, 4], ["sigmoid", "relu"], 2).modules())


def test_input_dropout_drops_pixels_in_training_only_and_keeps_the_weight_names():
    """input_dropout masks the input units (Srivastava et al. 2014) outside ``body``, so a
    model saved without it loads into a network with it."""
    rbms = _stack()
    plain = FeedForwardDBN.from_rbms(rbms, 2, generator=torch.Generator().manual_seed(0))
    net = FeedForwardDBN([7, 5, 4, 3], [r.activation for r in rbms], 2, input_dropout=0.5,
                         device="cpu")
    assert list(net.state_dict()) == list(plain.state_dict())
    net.load_state_dict(plain.state_dict())
    assert isinstance(net.input_dropout, Dropout) and net.input_dropout.p == 0.5
    x = torch.ones(3, 7)
    net.set_generator(torch.Generator().manual_seed(0))
    net.train()
    dropped = net.input_dropout(x)
    assert set(dropped.unique().tolist()) == {0.0, 2.0}
    net.eval()
    assert torch.equal(net(x), plain.eval()(x))


# -- dropout ----------------------------------------------------------------------------------


def test_dropout_mask_comes_from_the_generator():
    drop = Dropout(0.4).train()
    x = torch.ones(8, 50)
    drop.generator = torch.Generator().manual_seed(0)
    a = drop(x)
    drop.generator = torch.Generator().manual_seed(0)
    b = drop(x)
    drop.generator = torch.Generator().manual_seed(1)
    c = drop(x)
    assert torch.equal(a, b) and not torch.equal(a, c)
    # the mask is exactly the generator's coins that keep a unit with probability 1 - p
    keep = bernoulli_mask(x.shape, 0.6, torch.Generator().manual_seed(0))
    assert torch.equal(a, keep / 0.6)


def test_dropout_is_the_identity_in_eval_mode_or_with_p_zero():
    x = torch.randn(4, 5, generator=torch.Generator().manual_seed(0))
    drop = Dropout(0.5).eval()
    drop.generator = torch.Generator().manual_seed(0)
    assert drop(x) is x
    assert Dropout(0.0).train()(x) is x


def test_dropout_keeps_the_expectation():
    p, n = 0.3, 400_000
    drop = Dropout(p).train()
    drop.generator = torch.Generator().manual_seed(5)
    x = torch.full((n,), 2.0, dtype=torch.float64)
    y = drop(x)
    assert y.dtype == torch.float64
    assert y.unique().tolist() == pytest.approx([0.0, 2.0 / (1 - p)])
    sd = 2.0 * math.sqrt(p / (1 - p))  # of one output element
    assert abs(float(y.mean()) - 2.0) < 5 * sd / math.sqrt(n)
    assert abs(float((y == 0).double().mean()) - p) < 5 * math.sqrt(p * (1 - p) / n)


def test_dropout_pickles_without_its_generator():
    import pickle

    drop = Dropout(0.2)
    drop.generator = torch.Generator().manual_seed(0)
    clone = pickle.loads(pickle.dumps(drop))
    assert clone.generator is None and clone.p == 0.2
    assert drop.generator is not None


# -- supervised objective ---------------------------------------------------------------------


def test_supervised_objective_returns_detached_loss_and_sets_grads():
    rbms = _stack()
    net = FeedForwardDBN.from_rbms(rbms, 3, generator=torch.Generator().manual_seed(0))
    x = _inputs(n=16)
    y = torch.arange(16) % 3
    objective = SupervisedObjective(net, nn.CrossEntropyLoss())
    for p in net.parameters():
        p.grad = torch.full_like(p, 123.0)  # stale gradients must be discarded
    loss = objective.gradients_((x, y), torch.Generator().manual_seed(0))
    assert not loss.requires_grad and loss.grad_fn is None and loss.dim() == 0
    got = [p.grad.clone() for p in net.parameters()]
    # reference by hand
    for p in net.parameters():
        p.grad = None
    ref = nn.functional.cross_entropy(net(x), y)
    ref.backward()
    torch.testing.assert_close(loss, ref.detach())
    for g, p in zip(got, net.parameters(), strict=True):
        torch.testing.assert_close(g, p.grad)
        assert float(g.abs().max()) > 0
    assert not net.training
    assert all(m.generator is None for m in net.modules() if isinstance(m, Dropout))


def test_supervised_objective_dropout_is_seeded_by_the_loop_generator():
    rbms = _stack()
    net = FeedForwardDBN.from_rbms(rbms, 1, dropout=0.5, generator=torch.Generator().manual_seed(0))
    x = _inputs(n=32)
    y = torch.randn(32, 1, generator=torch.Generator().manual_seed(9))
    objective = SupervisedObjective(net, nn.MSELoss())
    losses = [objective.gradients_((x, y), torch.Generator().manual_seed(s)) for s in (1, 1, 2)]
    assert torch.equal(losses[0], losses[1]) and not torch.equal(losses[0], losses[2])
    with torch.no_grad():
        eval_loss = nn.functional.mse_loss(net(x), y)  # eval mode: no dropout
    assert not torch.equal(losses[0], eval_loss)
