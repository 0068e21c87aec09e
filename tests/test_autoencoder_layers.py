"""Autoencoder layers as a building block of the DBNs (issue 14, item 2): the layer, its
layer-wise objective (plain and denoising), its spec in greedy stacks, and the
estimators' ``layer_type``."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from deepbelief import DBNClassifier, DBNRegressor, DBNTransformer, DivergenceError, GenerativeDBN
from deepbelief.cli import main
from deepbelief.core.autoencoder import AutoencoderLayer
from deepbelief.core.layers import Layer, layers_state, read_layers
from deepbelief.core.network import FeedForwardDBN
from deepbelief.core.stack import down_pass, up_pass
from deepbelief.datasets import load_digits
from deepbelief.estimators import load
from deepbelief.learning.autoencoding import AutoencoderObjective, corrupt
from deepbelief.training.autoencoder_spec import AutoencoderConfig
from deepbelief.training.greedy import RBMConfig, pretrain_stack

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits()
    return X[:300], y[:300]


def _layer(visible="bernoulli", hidden="bernoulli", tied=True, dtype=torch.float32):
    layer = AutoencoderLayer(7, 4, visible, hidden, tied=tied, dtype=dtype)
    layer.reset_parameters(torch.Generator().manual_seed(0))
    if not tied:  # make the decoder differ from the encoder
        with torch.no_grad():
            layer.decoder_weight_untied.mul_(-0.5)
    with torch.no_grad():
        layer.hidden_bias.uniform_(-0.5, 0.5, generator=torch.Generator().manual_seed(1))
        layer.visible_bias.uniform_(-0.5, 0.5, generator=torch.Generator().manual_seed(2))
    return layer


def _inputs(visible: str) -> torch.Tensor:
    g = torch.Generator().manual_seed(3)
    if visible == "bernoulli":
        return torch.rand(9, 7, generator=g, dtype=torch.float64)
    return torch.randn(9, 7, generator=g, dtype=torch.float64)


def _loss_by_hand(params: dict, x_in: torch.Tensor, target: torch.Tensor, visible: str,
                  hidden: str) -> torch.Tensor:
    """The mean reconstruction loss written out from the formulas."""
    acts = {"bernoulli": torch.sigmoid, "relu": torch.relu, "gaussian": lambda f: f}
    h = acts[hidden](x_in @ params["weight"] + params["hidden_bias"])
    decoder = params.get("decoder_weight_untied", params["weight"])
    field = h @ decoder.T + params["visible_bias"]
    if visible == "bernoulli":
        p = torch.sigmoid(field)
        per_row = -(target * torch.log(p) + (1 - target) * torch.log(1 - p)).sum(1)
    else:
        per_row = ((acts[visible](field) - target) ** 2).sum(1)
    return per_row.mean()


@pytest.mark.parametrize("tied", [True, False])
@pytest.mark.parametrize(("visible", "hidden", "corruption"), [
    ("bernoulli", "bernoulli", None), ("bernoulli", "relu", "masking"),
    ("gaussian", "bernoulli", "gaussian"), ("gaussian", "gaussian", None)])
def test_objective_gradients_are_those_of_the_reconstruction_loss(tied, visible, hidden,
                                                                   corruption):
    """Gradients written by the objective equal autograd's of the loss written by hand,
    which gradcheck confirms against finite differences (float64)."""
    layer = _layer(visible, hidden, tied, torch.float64)
    x = _inputs(visible)
    objective = AutoencoderObjective(layer, corruption, 0.3 if corruption else 0.0)
    loss = objective.gradients_((x,), torch.Generator().manual_seed(4))
    x_in = corrupt(x, corruption, 0.3, torch.Generator().manual_seed(4))
    if corruption:
        assert not torch.equal(x_in, x)
    names = [n for n, _ in layer.named_parameters()]
    params = {n: p.detach().clone().requires_grad_() for n, p in layer.named_parameters()}

    def by_hand(*values):
        return _loss_by_hand(dict(zip(names, values, strict=True)), x_in, x, visible, hidden)

    assert torch.autograd.gradcheck(by_hand, tuple(params.values()))
    expected = by_hand(*params.values())
    torch.testing.assert_close(loss, expected.detach())
    grads = torch.autograd.grad(expected, tuple(params.values()))
    for name, grad in zip(names, grads, strict=True):
        torch.testing.assert_close(dict(layer.named_parameters())[name].grad, grad)
    assert ("decoder_weight_untied" in names) == (not tied)


@pytest.mark.parametrize("hidden", ["bernoulli", "relu", "gaussian"])
def test_the_unrolled_layer_computes_the_code(hidden):
    layer = _layer("bernoulli", hidden, tied=False)
    x = torch.rand(5, 7, generator=torch.Generator().manual_seed(0))
    weight, bias = layer.unrolled()
    linear = nn.Linear(7, 4)
    with torch.no_grad():
        linear.weight.copy_(weight)
        linear.bias.copy_(bias)
    activation = {"sigmoid": torch.sigmoid, "relu": torch.relu, "identity": lambda f: f}
    with torch.no_grad():
        torch.testing.assert_close(activation[layer.activation](linear(x)),
                                   layer.hidden_mean(x))
        net = FeedForwardDBN.from_rbms([layer], 3)
        torch.testing.assert_close(net.features(x), layer.hidden_mean(x))
    assert isinstance(layer, Layer) and layer.kind == "autoencoder"


def test_masking_and_gaussian_noise_have_their_statistics_and_repeat():
    x = torch.ones(400, 250)
    masked = corrupt(x, "masking", 0.3, torch.Generator().manual_seed(0))
    rate = float((masked == 0).float().mean())  # 100 000 draws: standard error 0.0015
    assert abs(rate - 0.3) < 0.006
    assert set(masked.unique().tolist()) == {0.0, 1.0}
    noisy = corrupt(x, "gaussian", 0.2, torch.Generator().manual_seed(0))
    noise = noisy - x
    assert abs(float(noise.std()) - 0.2) < 0.002 and abs(float(noise.mean())) < 0.002
    # From the generator alone: the same seed gives the same noise, another seed other noise.
    assert torch.equal(masked, corrupt(x, "masking", 0.3, torch.Generator().manual_seed(0)))
    assert not torch.equal(masked, corrupt(x, "masking", 0.3, torch.Generator().manual_seed(1)))
    # No corruption draws nothing.
    g = torch.Generator().manual_seed(0)
    state = g.get_state()
    assert corrupt(x, None, 0.0, g) is x and corrupt(x, "masking", 0.0, g) is x
    assert torch.equal(g.get_state(), state)


@pytest.mark.parametrize(("corruption", "level", "message"), [
    ("dropout", 0.1, "corruption must be None, 'masking' or 'gaussian'"),
    ("masking", 1.0, r"corruption_level must be in \[0, 1\)"),
    ("gaussian", -0.1, "corruption_level must be >= 0")])
def test_invalid_corruption_is_refused(corruption, level, message):
    with pytest.raises(ValueError, match=message):
        AutoencoderConfig(4, corruption=corruption, corruption_level=level)
    with pytest.raises(ValueError, match=message):
        DBNTransformer((4,), layer_type="denoising", corruption_level=level,
                       corruption=corruption)._rbm_configs()


def test_pretrain_stack_trains_autoencoder_layers_with_sgd_and_adam():
    data = (torch.rand(200, 12, generator=torch.Generator().manual_seed(0)) < 0.3).float()
    configs = [AutoencoderConfig(8, epochs=6, learning_rate=0.1, tied=False),
               AutoencoderConfig(6, hidden_units="relu", optimizer="adam", epochs=6,
                                 corruption="gaussian", corruption_level=0.1),
               RBMConfig(3, epochs=2)]
    layers, histories = pretrain_stack(data, configs, torch.Generator().manual_seed(1))
    assert [layer.kind for layer in layers] == ["autoencoder", "autoencoder", "rbm"]
    assert configs[1].learning_rate == 0.001 and configs[1].label == "DAE"
    assert layers[1].visible.name == "bernoulli" and layers[2].visible.name == "relu"
    for history in histories[:2]:
        assert history[-1]["loss"] < history[0]["loss"]
        assert history[-1]["reconstruction_error"] < history[0]["reconstruction_error"]
    # The passes go through every kind; the unrolled network computes the up pass.
    x = data[:4]
    with torch.no_grad():
        torch.testing.assert_close(FeedForwardDBN.from_rbms(layers, 2).features(x),
                                   up_pass(layers, x))
    h = up_pass(layers, x)
    expected = layers[0].visible_mean(layers[1].visible_mean(layers[2].visible_mean(h)))
    torch.testing.assert_close(down_pass(layers, h), expected)
    # Saved and rebuilt: the same layers.
    configs_saved, tensors = layers_state(layers)
    rebuilt = read_layers({"layers": configs_saved}, tensors)
    assert [type(r) for r in rebuilt] == [type(layer) for layer in layers]
    assert not rebuilt[0].tied and rebuilt[1].tied
    torch.testing.assert_close(up_pass(rebuilt, data), up_pass(layers, data))


def test_a_dead_autoencoder_layer_stops_training_and_the_advice_works():
    """Too large a learning rate kills a rectified layer; a tenth of it, as the error
    says, trains."""
    X = torch.as_tensor(load_digits()[0][:500])
    with pytest.raises(DivergenceError, match=r"layer 1 \(AE\) diverged .* dead.*a tenth"):
        pretrain_stack(X, [AutoencoderConfig(64, hidden_units="relu", epochs=3,
                                             learning_rate=1.0)],
                       torch.Generator().manual_seed(0))
    _, histories = pretrain_stack(X, [AutoencoderConfig(64, hidden_units="relu", epochs=3,
                                                        learning_rate=0.1)],
                                  torch.Generator().manual_seed(0))
    assert len(histories[0]) == 3
    objective = AutoencoderObjective(_layer())
    assert objective.failure((X[:, :7],)) is None
    with torch.no_grad():
        objective.module.hidden_bias.fill_(-1e6)
    assert "dead" in objective.failure((X[:, :7],))
    assert objective.failure((torch.ones(5, 7),)) is None  # constant inputs: no verdict


def test_layer_types_mix_per_layer_in_a_classifier(digits):
    X, y = digits
    clf = DBNClassifier((24, 16, 12), layer_type=("denoising", "rbm", "autoencoder"),
                        hidden_units="bernoulli", tied_weights=False, corruption="gaussian",
                        corruption_level=0.1,
                        pretrain_epochs=2, max_iter=20, learning_rate_init=0.01, random_state=0,
                        device="cpu").fit(X, y)
    assert [r.kind for r in clf.rbms_] == ["autoencoder", "rbm", "autoencoder"]
    specs = clf._rbm_configs()
    assert [s.label for s in specs] == ["DAE", "RBM", "AE"]
    assert specs[0].corruption == "gaussian" and specs[2].corruption is None
    assert not clf.rbms_[0].tied and clf.rbms_[1].visible.name == "bernoulli"
    # 'auto' rates: the autoencoder's for its layers, the RBM's for the RBM.
    assert [s.learning_rate for s in specs] == [0.01, 0.1, 0.01]
    assert all("reconstruction_error" in h[-1] for h in clf.history_["pretrain"])
    with pytest.raises(ValueError, match="layer_type has 2 entries but hidden_layer_sizes"):
        DBNClassifier((8, 8, 8), layer_type=("rbm", "denoising")).fit(X, y)
    with pytest.raises(ValueError, match="layer_type must hold 'rbm' or 'autoencoder' or "
                                         "'denoising'"):
        DBNClassifier((8, 8), layer_type=("rbm", "pca")).fit(X, y)


def test_autoencoder_layers_classify_digits_within_a_point_of_rbms():
    """The digits demo (its split and settings, seed 0) with plain and denoising
    autoencoder layers in place of RBMs, on the same budget: each within one point of
    the RBMs' test accuracy (five seeds: BENCHMARKS.md)."""
    from sklearn.model_selection import train_test_split

    from deepbelief.demo import DEMO_PARAMS

    X, y = load_digits()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
    scores = {}
    for layer_type in ("rbm", "autoencoder", "denoising"):
        clf = DBNClassifier(**DEMO_PARAMS, layer_type=layer_type, random_state=0,
                            device="cpu").fit(X_train, y_train)
        assert {r.kind for r in clf.rbms_} == {"rbm" if layer_type == "rbm" else "autoencoder"}
        scores[layer_type] = clf.score(X_test, y_test)
    assert scores["rbm"] > 0.98
    assert scores["autoencoder"] >= scores["rbm"] - 0.01
    assert scores["denoising"] >= scores["rbm"] - 0.01


def test_default_layer_type_changes_nothing(digits):
    """``layer_type='rbm'`` (the default) trains RBMs only, as before the parameter."""
    X, y = digits
    params = {"hidden_layer_sizes": (16,), "pretrain_epochs": 2, "max_iter": 3,
              "learning_rate_init": 0.01, "random_state": 0, "device": "cpu"}
    a = DBNClassifier(**params).fit(X, y)
    b = DBNClassifier(**params, layer_type="rbm", corruption="gaussian",
                      corruption_level=0.5, tied_weights=False).fit(X, y)
    assert [r.kind for r in a.rbms_] == ["rbm"]
    for (name, p), q in zip(a.rbms_[0].state_dict().items(), b.rbms_[0].state_dict().values(),
                            strict=True):
        assert torch.equal(p, q), name


@pytest.mark.parametrize("cls", [DBNClassifier, DBNRegressor, DBNTransformer])
def test_save_load_with_autoencoder_layers(cls, digits, tmp_path):
    X, y = digits
    model = cls((16, 8), layer_type=("denoising", "autoencoder"), tied_weights=False,
                pretrain_epochs=2, random_state=0, device="cpu",
                **({} if cls is DBNTransformer else {"max_iter": 2}))
    model.fit(X, y.astype(float) if cls is DBNRegressor else y)
    loaded = load(model.save(tmp_path / "m.safetensors"))
    assert loaded.layer_type == ("denoising", "autoencoder") and not loaded.tied_weights
    assert [type(r) for r in loaded.rbms_] == [AutoencoderLayer, AutoencoderLayer]
    for a, b in zip(model.rbms_, loaded.rbms_, strict=True):
        for (name, p), q in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
            assert torch.equal(p, q), name
    method = "transform" if cls is DBNTransformer else "predict"
    assert np.array_equal(getattr(model, method)(X), getattr(loaded, method)(X))


def test_transformer_decodes_through_autoencoder_layers_and_samples_only_from_an_rbm(digits):
    X, _ = digits
    dbn = DBNTransformer((16, 8), layer_type="autoencoder", pretrain_epochs=2,
                         random_state=0, device="cpu").fit(X)
    ae1, ae2 = dbn.rbms_
    x = torch.as_tensor(X[:5], dtype=torch.float32)
    with torch.no_grad():
        expected = ae1.visible_mean(ae2.visible_mean(ae2.hidden_mean(ae1.hidden_mean(x))))
    np.testing.assert_allclose(dbn.reconstruct(X[:5]), expected.numpy(), rtol=1e-6)
    np.testing.assert_allclose(dbn.inverse_transform(dbn.transform(X[:5])), expected.numpy(),
                               rtol=1e-6)
    with pytest.raises(ValueError, match=r"top layer is an autoencoder layer .*layer_type="
                                         r"\('denoising', 'rbm'\)"):
        dbn.sample(2)
    advised = DBNTransformer((16, 8), layer_type=("denoising", "rbm"), pretrain_epochs=2,
                             random_state=0, device="cpu").fit(X)
    assert advised.sample(2, n_gibbs=5, random_state=0).shape == (2, 64)
    # partial_fit continues autoencoder layers too.
    dbn.partial_fit(X)
    assert [len(h) for h in dbn.history_["pretrain"]] == [3, 3]


def test_resume_with_autoencoder_layers_gives_the_weights_of_an_uninterrupted_fit(
        digits, tmp_path):
    from deepbelief.callbacks import Callback

    class Interrupt(Callback):
        def on_epoch_end(self, context):
            if context.phase == "pretrain" and context.layer == 1 and context.epoch == 1:
                raise KeyboardInterrupt

    X, y = digits
    params = {"hidden_layer_sizes": (16, 8), "layer_type": ("denoising", "autoencoder"),
              "tied_weights": False, "pretrain_epochs": 3, "max_iter": 3,
              "random_state": 2, "device": "cpu"}
    reference = DBNClassifier(**params).fit(X, y)
    path = tmp_path / "run.ckpt"
    with pytest.raises(KeyboardInterrupt):
        DBNClassifier(**params, callbacks=[Interrupt()]).fit(X, y, checkpoint=path)
    resumed = DBNClassifier(**params).fit(X, y, checkpoint=path, resume=True)
    for a, b in zip([*reference.rbms_, reference.network_], [*resumed.rbms_, resumed.network_],
                    strict=True):
        for (name, p), q in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
            assert torch.equal(p, q), name


def test_the_generative_dbn_has_no_layer_type():
    """Sampling and up-down need RBMs: the generative DBN does not offer other layers."""
    assert "layer_type" not in GenerativeDBN().get_params()
    with pytest.raises(TypeError):
        GenerativeDBN(layer_type="autoencoder")


def test_command_line_layer_type(tmp_path, capsys):
    model = tmp_path / "m.safetensors"
    assert main(["train", "--data", "digits", "--kind", "transformer", "--layers", "16", "8",
                 "--layer-type", "denoising", "rbm", "--pretrain-epochs", "1",
                 "--set", "corruption=gaussian", "--set", "corruption_level=0.1",
                 "-o", str(model), "-q", "--no-history"]) == 0
    loaded = load(model)
    assert [r.kind for r in loaded.rbms_] == ["autoencoder", "rbm"]
    assert loaded.corruption == "gaussian" and loaded.corruption_level == 0.1
    capsys.readouterr()
    assert main(["train", "--data", "digits", "--kind", "generative", "--layer-type",
                 "denoising", "-o", str(tmp_path / "g")]) == 2
    assert "--layer-type does not apply to --kind generative" in capsys.readouterr().err
