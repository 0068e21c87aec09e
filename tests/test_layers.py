"""The layer protocol: a layer kind defined only here (a tied linear autoencoder layer)
stacks with RBMs through pretrain_stack, the passes, the unrolled network and saving,
without any change to library training code; old model files still rebuild."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch
from torch import nn

from deepbelief.core.layers import Layer, build_layer, layers_state, read_layers, register_layer
from deepbelief.core.network import FeedForwardDBN
from deepbelief.core.rbm import RBMModule
from deepbelief.core.stack import down_pass, up_pass
from deepbelief.training.greedy import RBMConfig, pretrain_stack

torch.set_num_threads(1)


class LinearLayer(nn.Module):
    """A tied linear autoencoder layer: ``h = v W + c``, ``v ≈ h Wᵀ``."""

    kind = "test-linear"
    activation = "identity"

    def __init__(self, n_visible: int, n_hidden: int, device=None, dtype=torch.float32):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(n_visible, n_hidden, device=device, dtype=dtype))
        self.bias = nn.Parameter(torch.zeros(n_hidden, device=device, dtype=dtype))

    n_visible = property(lambda self: self.weight.shape[0])
    n_hidden = property(lambda self: self.weight.shape[1])

    def hidden_mean(self, v):
        return v @ self.weight + self.bias

    def visible_mean(self, h):
        return h @ self.weight.t()

    def sample_visible(self, h, generator=None):
        mean = self.visible_mean(h)
        return mean, mean

    def unrolled(self):
        return self.weight.t(), self.bias

    def layer_config(self):
        return {"kind": self.kind, "n_visible": self.n_visible, "n_hidden": self.n_hidden}


class ReconstructionObjective:
    """Squared reconstruction error of the tied linear layer, by autograd."""

    def __init__(self, layer: LinearLayer):
        self.module = layer

    def gradients_(self, batch, generator):
        self.module.zero_grad()
        v = batch[0]
        loss = ((self.module.visible_mean(self.module.hidden_mean(v)) - v) ** 2).sum(1).mean()
        loss.backward()
        return loss.detach()

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass


@dataclass(frozen=True)
class LinearSpec:
    n_hidden: int
    epochs: int = 30
    batch_size: int = 16
    learning_rate: float = 0.02
    momentum: float = 0.0
    weight_decay: float = 0.0
    learning_rate_schedule: str = "constant"
    optimizer: str = "sgd"
    hidden_units: str = "gaussian"
    label = "linear"

    def stacked_on(self, below):
        return self

    def new_layer(self, data, generator):
        layer = self.empty_layer(data.shape[1], data.device, data.dtype)
        with torch.no_grad():
            layer.weight.normal_(0.0, 0.1, generator=generator)
        return layer

    def empty_layer(self, n_visible, device, dtype):
        return LinearLayer(n_visible, self.n_hidden, device, dtype)

    def objective(self, layer):
        return ReconstructionObjective(layer)


def _build_linear(config, tensors, device):
    layer = LinearLayer(config["n_visible"], config["n_hidden"], device)
    layer.load_state_dict(dict(tensors))
    return layer


register_layer(LinearLayer.kind, _build_linear)

DATA = (torch.rand(96, 8, generator=torch.Generator().manual_seed(0)) < 0.4).float()


def _stack():
    configs = [LinearSpec(6), RBMConfig(5, epochs=3, batch_size=16),
               LinearSpec(3, epochs=20)]
    return configs, pretrain_stack(DATA, configs, torch.Generator().manual_seed(1))


def test_a_layer_kind_defined_here_stacks_under_and_over_an_rbm():
    _, (layers, histories) = _stack()
    assert [type(layer) for layer in layers] == [LinearLayer, RBMModule, LinearLayer]
    assert all(isinstance(layer, Layer) for layer in layers)
    rbm = layers[1]
    # The RBM's visible units are the linear layer's output type; it trained on its outputs.
    assert rbm.visible.name == "gaussian" and rbm.n_visible == 6
    assert [len(h) for h in histories] == [30, 3, 20]
    assert [h[-1]["epoch"] for h in histories] == [30, 3, 20]
    # The linear layers learned: their reconstruction loss fell.
    assert histories[0][-1]["loss"] < 0.7 * histories[0][0]["loss"]
    assert "reconstruction_error" in histories[1][-1]
    # The passes go through every kind.
    x = DATA[:5]
    expect = layers[2].hidden_mean(rbm.hidden_mean(layers[0].hidden_mean(x)))
    torch.testing.assert_close(up_pass(layers, x), expect)
    h = up_pass(layers, x)
    down = layers[0].visible_mean(rbm.visible_mean(layers[2].visible_mean(h)))
    torch.testing.assert_close(down_pass(layers, h), down)
    # Unrolled, the network's features are the up pass.
    net = FeedForwardDBN.from_rbms(layers, 2)
    with torch.no_grad():
        torch.testing.assert_close(net.features(x), expect)


def test_pretrain_stack_continues_a_mixed_stack_on_the_data_passed_up():
    configs, (layers, histories) = _stack()
    resumed, resumed_histories = pretrain_stack(
        DATA, configs, torch.Generator().manual_seed(5), trained=layers[:2],
        histories=histories[:2])
    assert resumed[:2] == layers[:2] and resumed_histories[:2] == histories[:2]
    alone, alone_histories = pretrain_stack(up_pass(layers[:2], DATA), configs[2:],
                                            torch.Generator().manual_seed(5))
    assert torch.equal(resumed[2].weight, alone[0].weight)
    assert resumed_histories[2][-1]["loss"] == alone_histories[0][-1]["loss"]


def test_stacks_of_mixed_kinds_save_and_rebuild():
    _, (layers, _) = _stack()
    configs, tensors = layers_state(layers)
    assert [c["kind"] for c in configs] == ["test-linear", "rbm", "test-linear"]
    rebuilt = read_layers({"layers": configs}, tensors)
    for old, new in zip(layers, rebuilt, strict=True):
        assert type(new) is type(old)
        for k, v in old.state_dict().items():
            assert torch.equal(new.state_dict()[k], v)
    assert rebuilt[1].visible == layers[1].visible


def test_model_files_of_rbm_stacks_written_before_layer_kinds_still_rebuild():
    g = torch.Generator().manual_seed(0)
    rbms = [RBMModule(5, 4, "gaussian"), RBMModule(4 + 3, 2, [["bernoulli", 4], ["softmax", 3]],
                                                   "relu")]
    for r in rbms:
        r.reset_parameters(g)
    config = {"rbm_units": [["gaussian", "bernoulli"], [[["bernoulli", 4], ["softmax", 3]],
                                                        "relu"]]}
    tensors = {f"rbm.{i}.{k}": v for i, r in enumerate(rbms) for k, v in r.state_dict().items()}
    tensors.update({f"recognition.0.{k}": v * 2 for k, v in rbms[0].state_dict().items()})
    rebuilt = read_layers(config, tensors)
    assert [(r.visible, r.hidden) for r in rebuilt] == [(r.visible, r.hidden) for r in rbms]
    for old, new in zip(rbms, rebuilt, strict=True):
        assert torch.equal(old.weight, new.weight) and torch.equal(old.visible_bias,
                                                                  new.visible_bias)
    recognition = read_layers(config, tensors, legacy_prefix="recognition", count=1)
    assert len(recognition) == 1 and torch.equal(recognition[0].weight, rbms[0].weight * 2)


def test_build_layer_rejects_unknown_kinds_and_configs_without_layers():
    with pytest.raises(ValueError, match="unknown layer kind 'nope'"):
        build_layer({"kind": "nope"}, {})
    with pytest.raises(ValueError, match="no layers"):
        read_layers({}, {})


def test_rbm_layer_config_round_trips_with_its_context_weights():
    rbm = RBMModule(3, 2, "gaussian", "relu", n_context=4)
    rbm.reset_parameters(torch.Generator().manual_seed(0))
    with torch.no_grad():
        rbm.context_hidden.fill_(0.5)
    copy = build_layer(rbm.layer_config(), rbm.state_dict())
    assert copy.n_context == 4 and (copy.visible, copy.hidden) == (rbm.visible, rbm.hidden)
    assert torch.equal(copy.context_hidden, rbm.context_hidden)
    assert copy.activation == "relu"
    weight, bias = copy.unrolled()
    assert torch.equal(weight, rbm.weight.t()) and torch.equal(bias, rbm.hidden_bias)
