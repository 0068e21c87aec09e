"""The generative DBN (Hinton, Osindero & Teh, 2006): exact checks on tiny models, then the
``GenerativeDBN`` estimator on the digits.

The tiny models are small enough to enumerate every visible state of the top RBM
(penultimate block ⊕ one-hot label), so Gibbs sampling and generative classification are
compared with exact distributions.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError

import deepbelief
from deepbelief import GenerativeDBN, load
from deepbelief.core.generative import (
    GenerativeStack,
    joined_with_labels,
    reset_joined_visible_bias_,
)
from deepbelief.core.rbm import RBMModule
from deepbelief.core.units import Joined, Softmax
from deepbelief.exceptions import DataRangeWarning

torch.set_num_threads(1)

N_VISIBLE, N_PEN, N_CLASSES, N_TOP = 4, 4, 3, 3


def _tiny_stack(seed: int = 0, scale: float = 1.0) -> GenerativeStack:
    """visible 4 -> penultimate 4 (+3 labels) -> top hidden 3, float64, random weights."""
    g = torch.Generator().manual_seed(seed)
    rbms = [
        RBMModule(N_VISIBLE, N_PEN, dtype=torch.float64),
        RBMModule(N_PEN + N_CLASSES, N_TOP, joined_with_labels("bernoulli", N_PEN, N_CLASSES),
                  dtype=torch.float64),
    ]
    with torch.no_grad():
        for rbm in rbms:
            for p in rbm.parameters():
                p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64) * scale)
    return GenerativeStack(rbms)


def _all_penultimate() -> torch.Tensor:
    """Every binary penultimate state: (16, 4)."""
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=N_PEN)), dtype=torch.float64)


def _exact_joint(stack: GenerativeStack) -> torch.Tensor:
    """p(h, label) of the top RBM by enumeration: (16, 3), rows in ``_all_penultimate`` order."""
    h = _all_penultimate()
    eye = torch.eye(N_CLASSES, dtype=torch.float64)
    v = torch.cat([h.repeat_interleave(N_CLASSES, 0), eye.repeat(len(h), 1)], dim=1)
    with torch.no_grad():
        log_p = -stack.top.free_energy(v)
    return torch.softmax(log_p, 0).view(len(h), N_CLASSES)


def _state_index(h: torch.Tensor) -> torch.Tensor:
    """The row of ``_all_penultimate`` of each binary state."""
    powers = 2 ** torch.arange(N_PEN - 1, -1, -1, dtype=torch.float64)
    return (h @ powers).long()


def _tv(p: torch.Tensor, q: torch.Tensor) -> float:
    return 0.5 * float((p - q).abs().sum())


def _gibbs_histogram(stack, labels, *, clamp_labels, n_chains=4000, burn_in=30, snapshots=10,
                     seed=1) -> torch.Tensor:
    """Empirical p(h, label) over ``snapshots`` states, every 3 steps, of ``n_chains``."""
    g = torch.Generator().manual_seed(seed)
    h = (torch.rand((n_chains, N_PEN), generator=g, dtype=torch.float64) < 0.5).double()
    _, h, labels = stack.gibbs_top(h, labels, burn_in, g, clamp_labels=clamp_labels)
    counts = torch.zeros(2**N_PEN * N_CLASSES, dtype=torch.float64)
    for _ in range(snapshots):
        _, h, labels = stack.gibbs_top(h, labels, 3, g, clamp_labels=clamp_labels)
        index = _state_index(h) * N_CLASSES + labels.argmax(1)
        counts += torch.bincount(index, minlength=len(counts)).double()
    return (counts / counts.sum()).view(2**N_PEN, N_CLASSES)


# -- the mathematics on tiny models --------------------------------------------------------------
def test_up_and_down_pass_shapes():
    stack = _tiny_stack()
    x = torch.rand(5, N_VISIBLE, dtype=torch.float64)
    h = stack.up_pass(x)
    assert h.shape == (5, N_PEN)
    assert stack.down_pass(h).shape == (5, N_VISIBLE)
    sampled = stack.down_pass(h, torch.Generator().manual_seed(0))
    assert sampled.shape == (5, N_VISIBLE) and bool(((sampled >= 0) & (sampled <= 1)).all())
    assert stack.label_free_energies(h).shape == (5, N_CLASSES)
    assert (stack.n_penultimate, stack.n_classes) == (N_PEN, N_CLASSES)


def test_single_rbm_stack_joins_the_inputs_with_the_labels():
    rbm = RBMModule(N_PEN + N_CLASSES, N_TOP, joined_with_labels("bernoulli", N_PEN, N_CLASSES))
    stack = GenerativeStack([rbm])
    x = torch.rand(2, N_PEN)
    assert torch.equal(stack.up_pass(x), x) and torch.equal(stack.down_pass(x), x)


def test_label_free_energies_match_the_free_energy_of_each_joined_vector():
    stack = _tiny_stack(seed=3)
    h = torch.rand(7, N_PEN, dtype=torch.float64)
    with torch.no_grad():
        exact = torch.stack([
            stack.top.free_energy(torch.cat([h, torch.eye(N_CLASSES, dtype=torch.float64)[k]
                                             .expand(len(h), -1)], dim=1))
            for k in range(N_CLASSES)
        ], dim=1)
    torch.testing.assert_close(stack.label_free_energies(h), exact)
    torch.testing.assert_close(stack.label_proba(h), torch.softmax(-exact, 1))


def test_gibbs_with_clamped_labels_converges_to_the_exact_conditional():
    stack = _tiny_stack()
    joint = _exact_joint(stack)
    for k in range(N_CLASSES):
        labels = torch.eye(N_CLASSES, dtype=torch.float64)[k].expand(4000, -1).clone()
        empirical = _gibbs_histogram(stack, labels, clamp_labels=True)
        assert torch.equal(empirical[:, [j for j in range(N_CLASSES) if j != k]].sum(),
                           torch.tensor(0.0, dtype=torch.float64))  # the labels stayed put
        exact = joint[:, k] / joint[:, k].sum()
        assert _tv(empirical[:, k], exact) < 0.02


def test_free_gibbs_converges_to_the_exact_joint_distribution():
    stack = _tiny_stack(seed=2)
    empirical = _gibbs_histogram(stack, None, clamp_labels=False)
    assert _tv(empirical.flatten(), _exact_joint(stack).flatten()) < 0.03


def test_gibbs_with_clamped_penultimate_samples_labels_by_free_energy():
    stack = _tiny_stack(seed=4)
    h = _all_penultimate()[[3, 12]].repeat_interleave(4000, 0)
    _, kept, labels = stack.gibbs_top(h, None, 1, torch.Generator().manual_seed(0),
                                      clamp_penultimate=True)
    assert torch.equal(kept, h)
    for rows in (slice(0, 4000), slice(4000, 8000)):
        with torch.no_grad():
            exact = stack.label_proba(h[rows][:1])[0]
        assert _tv(labels[rows].mean(0), exact) < 0.03


def test_label_scale_samples_the_rbm_with_scaled_label_weights():
    stack = _tiny_stack(seed=5)
    scaled = _tiny_stack(seed=5)
    with torch.no_grad():
        scaled.top.weight[N_PEN:] *= 4.0
    h = (torch.rand((50, N_PEN), generator=torch.Generator().manual_seed(0)) < 0.5).double()
    labels = torch.eye(N_CLASSES, dtype=torch.float64)[torch.arange(50) % N_CLASSES]
    out = stack.gibbs_top(h, labels, 7, torch.Generator().manual_seed(1), clamp_labels=True,
                          label_scale=4.0)
    same = scaled.gibbs_top(h, labels, 7, torch.Generator().manual_seed(1), clamp_labels=True)
    for a, b in zip(out, same, strict=True):
        torch.testing.assert_close(a, b)
    assert torch.equal(out[2], labels)  # the clamped labels come back unscaled
    plain = stack.gibbs_top(h, labels, 7, torch.Generator().manual_seed(1), clamp_labels=True)
    assert not torch.equal(plain[1], out[1])
    with pytest.raises(ValueError, match="clamp"):
        stack.gibbs_top(h, labels, 1, label_scale=2.0)


def test_label_warmup_changes_the_start_not_the_stationary_distribution():
    """Warm-up steps under scaled label weights, then plain steps: the chains still
    converge to the model's exact class-conditional distribution."""
    stack = _tiny_stack(seed=5, scale=2.0)
    joint = _exact_joint(stack)
    k, n = 1, 4000
    labels = torch.eye(N_CLASSES, dtype=torch.float64)[k].expand(n, -1).clone()
    g = torch.Generator().manual_seed(2)
    h = (torch.rand((n, N_PEN), generator=g, dtype=torch.float64) < 0.5).double()
    _, warm, _ = stack.gibbs_top(h, labels, 30, g, clamp_labels=True, label_scale=4.0)
    warm_hist = torch.bincount(_state_index(warm), minlength=2**N_PEN).double() / n
    exact = joint[:, k] / joint[:, k].sum()
    scaled = _tiny_stack(seed=5, scale=2.0)
    with torch.no_grad():
        scaled.top.weight[N_PEN:] *= 4.0
    exact_scaled = _exact_joint(scaled)[:, k] / _exact_joint(scaled)[:, k].sum()
    assert _tv(exact_scaled, exact) > 0.3  # (0.52) the warm-up samples another distribution
    assert _tv(warm_hist, exact_scaled) < 0.03
    counts = torch.zeros(2**N_PEN, dtype=torch.float64)
    _, h, _ = stack.gibbs_top(warm, labels, 30, g, clamp_labels=True)
    for _ in range(10):
        _, h, _ = stack.gibbs_top(h, labels, 3, g, clamp_labels=True)
        counts += torch.bincount(_state_index(h), minlength=2**N_PEN).double()
    assert _tv(counts / counts.sum(), exact) < 0.02  # ...and the plain steps forget it


def test_joined_visible_bias_starts_at_the_data_means():
    rbm = RBMModule(N_PEN + N_CLASSES, N_TOP, joined_with_labels("bernoulli", N_PEN, N_CLASSES))
    mean = torch.tensor([0.2, 0.5, 0.7, 0.9, 0.1, 0.3, 0.6])
    reset_joined_visible_bias_(rbm, mean)
    torch.testing.assert_close(rbm.visible_mean(torch.zeros(1, N_TOP))[0], mean)


# -- the estimator -----------------------------------------------------------------------------
SETTINGS = {"hidden_layer_sizes": (64, 64, 128), "pretrain_epochs": 15, "device": "cpu",
            "random_state": 0}


@pytest.fixture(scope="module")
def fitted(digits_split):
    X_train, _, y_train, _ = digits_split
    return GenerativeDBN(**SETTINGS).fit(X_train, y_train)


def test_generative_classification_of_the_digits(fitted, digits_split):
    _, X_test, _, y_test = digits_split
    # 0.925-0.944 over seeds 0-3 (0.933 with seed 0)
    assert fitted.score(X_test, y_test) >= 0.88
    assert list(fitted.classes_) == list(range(10))
    assert fitted.rbms_[-1].visible == Joined([("bernoulli", 64), (Softmax(), 10)])
    assert len(fitted.history_["pretrain"]) == 3


def test_predict_proba_is_the_exact_free_energy_posterior(fitted, digits_split):
    _, X_test, _, _ = digits_split
    x = torch.from_numpy(X_test[:20])
    h = x
    with torch.no_grad():
        for rbm in fitted.rbms_[:-1]:
            h = rbm.hidden_mean(h)
        free = torch.stack([
            fitted.rbms_[-1].free_energy(torch.cat([h, torch.eye(10)[k].expand(len(h), -1)], 1))
            for k in range(10)
        ], 1).double()
    proba = fitted.predict_proba(X_test[:20])
    np.testing.assert_allclose(proba, torch.softmax(-free, 1).numpy(), atol=1e-5)
    np.testing.assert_allclose(proba.sum(1), 1.0)
    assert (fitted.predict(X_test[:20]) == proba.argmax(1)).all()
    np.testing.assert_allclose(np.exp(fitted.predict_log_proba(X_test[:20])), proba, atol=1e-12)


def test_save_and_load_give_identical_predictions(fitted, digits_split, tmp_path):
    _, X_test, _, _ = digits_split
    path = fitted.save(tmp_path / "gen.safetensors")
    same = load(path)
    assert isinstance(same, GenerativeDBN)
    assert same.rbms_[-1].visible == fitted.rbms_[-1].visible
    np.testing.assert_array_equal(same.predict_proba(X_test), fitted.predict_proba(X_test))
    np.testing.assert_array_equal(same.sample(3, y=[1, 2, 3], n_gibbs=5, random_state=0),
                                  fitted.sample(3, y=[1, 2, 3], n_gibbs=5, random_state=0))


def test_class_conditional_samples(fitted):
    probs = fitted.sample(50, y=np.repeat([0, 1], 25), n_gibbs=100, random_state=0)
    assert probs.shape == (50, 64) and probs.dtype == np.float32
    assert ((probs >= 0) & (probs <= 1)).all()
    # the model recognises its own samples, and the two classes look different
    assert (fitted.predict(probs) == np.repeat([0, 1], 25)).mean() >= 0.7  # 0.92 measured
    assert np.abs(probs[:25].mean(0) - probs[25:].mean(0)).max() > 0.3
    binary = fitted.sample(5, y=7, n_gibbs=20, random_state=1, binary=True)
    assert set(np.unique(binary)) <= {0.0, 1.0}
    free = fitted.sample(4, n_gibbs=20, random_state=2)
    assert free.shape == (4, 64)
    np.testing.assert_array_equal(free, fitted.sample(4, n_gibbs=20, random_state=2))


def test_complete_keeps_the_known_pixels(fitted, digits_split):
    _, X_test, _, _ = digits_split
    X = X_test[:30]
    mask = np.zeros(64, dtype=bool)
    mask[:32] = True  # the top half of each 8x8 digit is known
    filled = fitted.complete(X, mask, n_iter=10, random_state=0)
    assert filled.shape == X.shape
    np.testing.assert_array_equal(filled[:, mask], X[:, mask])
    assert ((filled >= 0) & (filled <= 1)).all()
    # better than filling the bottom half with 0.5
    assert np.mean((filled[:, ~mask] - X[:, ~mask]) ** 2) < np.mean((0.5 - X[:, ~mask]) ** 2)


def test_complete_starts_the_unknown_entries_at_the_training_mean(fitted, digits_split,
                                                                  tmp_path):
    X_train, X_test, _, _ = digits_split
    np.testing.assert_allclose(fitted.training_mean_, X_train.mean(0), rtol=1e-5)
    mask = np.arange(64) < 32
    start = fitted.complete(X_test[:3], mask, n_iter=0)
    np.testing.assert_array_equal(start[:, mask], X_test[:3, mask])
    np.testing.assert_allclose(start[:, ~mask], np.tile(fitted.training_mean_[~mask], (3, 1)))
    same = load(fitted.save(tmp_path / "gen.safetensors"))
    np.testing.assert_array_equal(same.training_mean_, fitted.training_mean_)
    # a file written before training_mean_ was kept: the unknown entries start at 0.5
    old = load(fitted.save(tmp_path / "gen.safetensors"))
    del old.training_mean_
    old = load(old.save(tmp_path / "old.safetensors"))
    assert not hasattr(old, "training_mean_")
    np.testing.assert_array_equal(old.complete(X_test[:3], mask, n_iter=0)[:, ~mask], 0.5)


def test_unsupervised_model_samples_but_does_not_classify(digits_split):
    X_train, X_test, y_train, _ = digits_split
    gen = GenerativeDBN((32, 32), pretrain_epochs=2, device="cpu", random_state=0)
    gen.fit(X_train[:200], y_train[:200]).fit(X_train[:200])  # the refit forgets the labels
    assert not hasattr(gen, "classes_")
    assert gen.sample(2, n_gibbs=5, random_state=0).shape == (2, 64)
    assert gen.complete(X_test[:2], np.ones(64, dtype=bool), n_iter=1).shape == (2, 64)
    with pytest.raises(ValueError, match="without y"):
        gen.predict(X_test[:2])
    with pytest.raises(ValueError, match="without y"):
        gen.sample(2, y=[0, 1])


def test_clear_errors(fitted, digits_split):
    X_train, X_test, y_train, _ = digits_split
    with pytest.raises(NotFittedError):
        GenerativeDBN().predict(X_test)
    with pytest.raises(NotFittedError):
        GenerativeDBN().sample(2)
    with pytest.raises(ValueError, match="features"):
        fitted.predict(X_test[:, :10])
    with pytest.warns(DataRangeWarning, match=r"\[0, 1\].*clipped"):  # a forward pass clips
        fitted.predict(X_test * 16)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        GenerativeDBN((8, 8), visible_units="bernoulli", pretrain_epochs=1,
                      device="cpu").fit(X_train * 16, y_train)
    with pytest.raises(ValueError, match="unseen"):
        fitted.sample(2, y=[0, 11])
    with pytest.raises(ValueError, match="one label per sample"):
        fitted.sample(3, y=[0, 1])
    with pytest.raises(ValueError, match="n_gibbs"):
        fitted.sample(2, n_gibbs=-1)
    with pytest.raises(ValueError, match="mask"):
        fitted.complete(X_test[:2], np.ones(64))
    with pytest.raises(ValueError, match="mask"):
        fitted.complete(X_test[:2], np.ones(10, dtype=bool))


def test_exported():
    assert deepbelief.GenerativeDBN is GenerativeDBN
    assert "GenerativeDBN" in deepbelief.__all__


def test_string_labels_and_verbose_progress(digits_split, capsys):
    X_train, X_test, y_train, _ = digits_split
    names = np.array(["zero", "one", "two"])
    keep = y_train < 3
    gen = GenerativeDBN((16, 16), pretrain_epochs=1, device="cpu", random_state=0, verbose=1)
    gen.fit(X_train[keep][:150], names[y_train[keep][:150]])
    assert set(gen.predict(X_test[:5])) <= set(names)
    assert gen.sample(2, y="two", n_gibbs=3, random_state=0).shape == (2, 64)
    with pytest.raises(ValueError, match="unseen"):
        gen.sample(1, y="three")
    assert "layer 2, epoch 1" in capsys.readouterr().err  # the top RBM


def test_sample_chains_are_the_same_draws_recorded(fitted):
    plain = fitted.sample(6, y=[0, 1, 2, 3, 4, 5], n_gibbs=12, random_state=3)
    samples, chain = fitted.sample(6, y=[0, 1, 2, 3, 4, 5], n_gibbs=12, random_state=3,
                                   chain_every=4)
    np.testing.assert_array_equal(samples, plain)
    assert chain.shape == (4, 6, 64)  # the start, then steps 4, 8 and 12
    np.testing.assert_array_equal(chain[-1], samples)
    assert not np.allclose(chain[0], chain[-1])
    with pytest.raises(ValueError, match="chain_every"):
        fitted.sample(2, n_gibbs=3, chain_every=0)


def test_label_warmup_pulls_chains_to_the_requested_class(fitted):
    wanted = np.repeat(np.arange(10), 10)
    plain = fitted.sample(100, y=wanted, n_gibbs=30, random_state=4)
    warm = fitted.sample(100, y=wanted, n_gibbs=30, random_state=4, label_warmup=20)
    assert not np.array_equal(plain, warm)
    # the model recognises more of its warm-started samples as the class asked for
    assert (fitted.predict(warm) == wanted).mean() >= (fitted.predict(plain) == wanted).mean()
    assert (fitted.predict(warm) == wanted).mean() >= 0.8
    # recorded chains are the same draws, the warm-up crossing a frame boundary
    samples, chain = fitted.sample(100, y=wanted, n_gibbs=30, random_state=4, label_warmup=20,
                                   chain_every=12)
    np.testing.assert_array_equal(samples, warm)
    assert chain.shape == (3, 100, 64)  # the start, steps 12 and 24 (30 is not a multiple)
    np.testing.assert_array_equal(
        fitted.sample(100, y=wanted, n_gibbs=30, random_state=4, label_warmup=30),
        fitted.sample(100, y=wanted, n_gibbs=30, random_state=4, label_warmup=30,
                      chain_every=7)[0])
    with pytest.raises(ValueError, match="needs y"):
        fitted.sample(2, n_gibbs=5, label_warmup=2)
    with pytest.raises(ValueError, match="exceed"):
        fitted.sample(2, y=1, n_gibbs=5, label_warmup=6)
    with pytest.raises(ValueError, match="label_warmup_scale"):
        fitted.sample(2, y=1, n_gibbs=5, label_warmup=2, label_warmup_scale=0.0)
    with pytest.raises(ValueError, match="label_warmup"):
        fitted.sample(2, y=1, n_gibbs=5, label_warmup=-1)


def test_updown_batch_size_sets_the_persistent_chains(digits_split):
    from deepbelief.callbacks import Callback

    class Chains(Callback):
        def __init__(self):
            self.shapes = []

        def on_epoch_end(self, context):
            if context.phase == "updown":
                self.shapes.append(tuple(context.objective.chains.shape))

    X_train, _, y_train, _ = digits_split
    gen = GenerativeDBN((16, 32), pretrain_epochs=1, batch_size=10, updown_epochs=2,
                        updown_batch_size=40, callbacks=[Chains()], device="cpu",
                        random_state=0).fit(X_train[:200], y_train[:200])
    assert gen.callbacks_[0].shapes == [(40, 16 + 10)] * 2  # 40 chains, not 10
    assert len(gen.history_["updown"]) == 2
    with pytest.raises(ValueError, match="updown_batch_size"):
        GenerativeDBN(updown_batch_size=0).fit(X_train[:20], y_train[:20])


def test_gaussian_visible_units_for_standardized_data(digits_split):
    X_train, X_test, y_train, y_test = digits_split
    mean, std = X_train.mean(0), X_train.std(0) + 1e-3
    Z_train, Z_test = (X_train - mean) / std, (X_test - mean) / std
    gen = GenerativeDBN((64, 128), visible_units="gaussian", pretrain_epochs=15,
                        pretrain_learning_rate=(0.01, 0.1), random_state=0,
                        device="cpu").fit(Z_train, y_train)
    assert gen.rbms_[0].visible.name == "gaussian"
    assert gen.score(Z_test, y_test) > 0.8
    assert np.isfinite(gen.sample(3, y=1, n_gibbs=5, random_state=0)).all()
    with pytest.raises(ValueError, match="binary=True draws binary inputs"):
        gen.sample(3, binary=True)
    with pytest.raises(ValueError, match="Bernoulli units take values in"):
        GenerativeDBN((8, 8), visible_units="bernoulli", pretrain_epochs=1,
                      device="cpu").fit(Z_train, y_train)


def test_per_layer_learning_rules_and_schedules(digits_split):
    X_train, _, y_train, _ = digits_split
    gen = GenerativeDBN((32, 64), pretrain_epochs=(2, 3), pretrain_learning_rate=(0.1, 0.01),
                        pretrain_method=("cd", "pcd"), k=(1, 2),
                        pretrain_learning_rate_schedule=("constant", "linear"),
                        device="cpu", random_state=0)
    configs = gen._rbm_configs()
    assert [(c.method, c.k, c.learning_rate_schedule) for c in configs] == [
        ("cd", 1, "constant"), ("pcd", 2, "linear")]
    gen.fit(X_train[:300], y_train[:300])
    assert [len(h) for h in gen.history_["pretrain"]] == [2, 3]
    for bad, message in [({"pretrain_method": ("cd", "xx")}, "pretrain_method must hold"),
                         ({"pretrain_method": ("cd",)}, "pretrain_method has 1 entries"),
                         ({"k": (1, 0)}, "k must hold integers >= 1"),
                         ({"pretrain_learning_rate_schedule": ("linear", "cosine")},
                          "pretrain_learning_rate_schedule must hold")]:
        with pytest.raises(ValueError, match=message):
            GenerativeDBN((8, 8), pretrain_epochs=1, device="cpu",
                          **bad).fit(X_train[:50], y_train[:50])


def test_reconstruct_is_the_mean_field_pass_through_the_whole_model(fitted, digits_split):
    X_test = digits_split[1][:20]
    recon = fitted.reconstruct(X_test)
    assert recon.shape == X_test.shape and recon.dtype == np.float32
    stack = fitted._stack
    x = torch.as_tensor(X_test)
    h = stack.up_pass(x)
    v = torch.cat([h, stack.label_proba(h)], dim=1)
    with torch.no_grad():
        pen = stack.top.visible_mean(stack.top.hidden_mean(v))[:, :stack.n_penultimate]
        expect = stack.down_pass(pen).numpy()
    np.testing.assert_allclose(recon, expect, rtol=1e-5, atol=1e-6)
    # most reconstructions are closer to their own input than to any other (16 of 20 here:
    # the pass through the associative memory pulls an image towards its class)
    errors = ((recon[:, None, :] - X_test[None, :, :]) ** 2).sum(-1)
    assert (errors.argmin(1) == np.arange(len(X_test))).mean() >= 0.7
