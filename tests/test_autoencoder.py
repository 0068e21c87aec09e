"""The deep autoencoder (issue 14, item 1): ``DBNAutoencoder``, the unrolled
``DeepAutoencoder``, the ``ReconstructionObjective`` and L-BFGS in the training loop.

Hinton & Salakhutdinov (2006) pretrain a stack of RBMs, unroll it into an encoder and a
mirrored decoder, and fine-tune both by backpropagation. Every model here is tiny.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from scipy import sparse
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import MaxAbsScaler
from sklearn.utils._param_validation import InvalidParameterError

from deepbelief import DBNAutoencoder, DivergenceError, load
from deepbelief.callbacks import Callback
from deepbelief.core.deep_autoencoder import DeepAutoencoder, unrolled_decoder
from deepbelief.core.rbm import RBMModule
from deepbelief.core.stack import down_pass, up_pass
from deepbelief.datasets import load_digits
from deepbelief.learning.reconstruction import (
    ReconstructionObjective,
    constant_loss,
    reconstruction_loss,
)
from deepbelief.training.checkpoint import load_checkpoint
from deepbelief.training.loop import LBFGS_OPTIONS, fit_epochs, make_optimizer

SMALL = {"hidden_layer_sizes": (32, 8), "pretrain_epochs": 2, "max_iter": 5,
         "random_state": 0, "device": "cpu"}


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits()
    return X[:300], y[:300]


def _stack(hidden=("bernoulli", "gaussian"), sizes=(12, 7, 3), seed=0) -> list[RBMModule]:
    """RBMs with large random weights and biases (so that rounding would show)."""
    generator = torch.Generator().manual_seed(seed)
    rbms = []
    for (n_in, n_out), unit in zip(itertools.pairwise(sizes), hidden, strict=True):
        visible = "bernoulli" if not rbms else rbms[-1].hidden.spec
        rbm = RBMModule(n_in, n_out, visible, unit)
        with torch.no_grad():
            for p in rbm.parameters():
                p.copy_(torch.randn(p.shape, generator=generator))
        rbms.append(rbm)
    return rbms


# -- the unrolled network --------------------------------------------------------------------
@pytest.mark.parametrize("hidden", [("bernoulli", "gaussian"), ("relu", "bernoulli"),
                                    ("gaussian", "relu")])
def test_before_finetuning_encode_and_decode_are_exactly_the_stack_passes(hidden):
    rbms = _stack(hidden)
    net = DeepAutoencoder.from_layers(rbms)
    for n in (1, 5, 37, 300):
        x = torch.rand(n, 12, generator=torch.Generator().manual_seed(n))
        code = net.encode(x)
        assert torch.equal(code, up_pass(rbms, x))
        assert torch.equal(net.decode(code), down_pass(rbms, code))
        assert torch.equal(net(x), down_pass(rbms, up_pass(rbms, x)))


def test_the_decoder_starts_as_transposed_copies_and_is_untied():
    rbms = _stack()
    net = DeepAutoencoder.from_layers(rbms)
    linears = [m for m in net.decoder if isinstance(m, torch.nn.Linear)]
    for linear, rbm in zip(linears, reversed(rbms), strict=True):
        assert torch.equal(linear.weight, rbm.weight)
        assert torch.equal(linear.bias, rbm.visible_bias)
    params = list(net.parameters())
    assert len({p.data_ptr() for p in params}) == len(params) == 8  # nothing shared
    assert not any(p.data_ptr() == q.data_ptr() for p in params for r in rbms
                   for q in r.parameters())  # copies: fine-tuning leaves the RBMs alone
    assert net.output_activation == "sigmoid" and net.n_code == 3


def test_a_gaussian_bottom_layer_decodes_linearly():
    rbm = _stack(("bernoulli",), sizes=(5, 4))[0]
    gaussian = RBMModule(5, 4, "gaussian")
    gaussian.load_state_dict(rbm.state_dict())
    assert unrolled_decoder(gaussian)[2] == "identity"
    net = DeepAutoencoder.from_layers([gaussian])
    x = torch.randn(6, 5, generator=torch.Generator().manual_seed(0))
    assert torch.equal(net(x), gaussian.visible_mean(gaussian.hidden_mean(x)))


def test_layers_that_do_not_stack_or_cannot_decode_are_refused():
    with pytest.raises(ValueError, match="do not stack"):
        DeepAutoencoder.from_layers([RBMModule(6, 4), RBMModule(3, 2)])
    with pytest.raises(ValueError, match="at least one layer"):
        DeepAutoencoder.from_layers([])

    class Encoder(torch.nn.Linear):
        kind, activation = "toy", "identity"

    with pytest.raises(TypeError, match="cannot be unrolled into a decoder"):
        unrolled_decoder(Encoder(3, 2))


# -- the objective ----------------------------------------------------------------------------
def _double_net(seed=0) -> DeepAutoencoder:
    net = DeepAutoencoder.from_layers(_stack(seed=seed)).double()
    return net


@pytest.mark.parametrize("loss", ["cross_entropy", "squared_error"])
def test_objective_gradients_equal_autograd_of_the_written_out_loss(loss):
    net = _double_net()
    x = torch.rand(9, 12, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    objective = ReconstructionObjective(net, loss, weight_decay=0.3)
    value = objective.gradients_((x,), None)
    got = [p.grad.clone() for p in net.parameters()]

    params = [p.detach().clone().requires_grad_() for p in net.parameters()]
    (w1, b1, w2, b2), (d2w, d2b, d1w, d1b) = params[:4], params[4:]
    h = torch.sigmoid(x @ w1 + b1)
    code = h @ w2 + b2  # linear code units
    r = torch.sigmoid(torch.sigmoid(code @ d2w.t() + d2b) @ d1w.t() + d1b)
    if loss == "cross_entropy":
        per_row = -(x * torch.log(r) + (1 - x) * torch.log(1 - r)).sum(1)
    else:
        per_row = ((r - x) ** 2).sum(1)
    penalty = sum((w**2).sum() for w in (w1, w2, d2w, d1w))
    expected = per_row.mean() + 0.15 * penalty
    expected.backward()
    torch.testing.assert_close(value, expected.detach())
    for g, p in zip(got, params, strict=True):
        torch.testing.assert_close(g, p.grad)


@pytest.mark.parametrize("loss", ["cross_entropy", "squared_error"])
def test_reconstruction_loss_passes_gradcheck(loss):
    field = torch.randn(4, 5, dtype=torch.float64, requires_grad=True)
    target = torch.rand(4, 5, dtype=torch.float64)
    assert torch.autograd.gradcheck(
        lambda f: reconstruction_loss(f, target, loss, torch.nn.Sigmoid()), (field,))


def test_the_cross_entropy_is_finite_for_saturated_logits():
    field = torch.tensor([[200.0, -200.0]], requires_grad=True)
    loss = reconstruction_loss(field, torch.tensor([[0.0, 1.0]]), "cross_entropy")
    loss.backward()
    assert float(loss.detach()) == pytest.approx(400.0)
    assert torch.isfinite(field.grad).all()


def test_constant_loss_is_the_loss_of_the_mean_row():
    x = torch.tensor([[0.0, 1.0], [1.0, 1.0], [1.0, 0.0]])
    mean = x.mean(0)
    ce = -(x * mean.log() + (1 - x) * (1 - mean).clamp_min(1e-6).log()).sum(1).mean()
    assert constant_loss(x, "cross_entropy") == pytest.approx(float(ce), rel=1e-4)
    squared = float(((x - mean) ** 2).sum(1).mean())
    assert constant_loss(x, "squared_error") == pytest.approx(squared)


def test_the_cross_entropy_needs_sigmoid_outputs():
    net = DeepAutoencoder.from_layers([RBMModule(4, 2, "gaussian")])
    with pytest.raises(ValueError, match=r"needs sigmoid outputs.*'squared_error'"):
        ReconstructionObjective(net, "cross_entropy")
    ReconstructionObjective(net, "squared_error")  # the advice works
    with pytest.raises(ValueError, match="loss must be one of"):
        ReconstructionObjective(net, "hinge")


# -- L-BFGS in the loop ------------------------------------------------------------------------
class Counting(ReconstructionObjective):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls = {"gradients_": 0, "evaluate_": 0}

    def gradients_(self, batch, generator):
        self.calls["gradients_"] += 1
        return super().gradients_(batch, generator)

    def evaluate_(self, batch, generator):
        self.calls["evaluate_"] += 1
        return super().evaluate_(batch, generator)


def test_lbfgs_steps_with_a_closure_and_lowers_the_loss():
    """L-BFGS re-evaluates through evaluate_; each batch is counted once in the epoch."""
    torch.manual_seed(0)
    net = DeepAutoencoder.from_layers(_stack(("bernoulli", "gaussian"), seed=3))
    x = (torch.rand(64, 12, generator=torch.Generator().manual_seed(0)) < 0.3).float()
    objective = Counting(net, "cross_entropy")
    optimizer = make_optimizer(net, "lbfgs", 1.0)
    assert isinstance(optimizer, torch.optim.LBFGS)
    state = fit_epochs(objective, (x,), optimizer, epochs=4, batch_size=32,
                       generator=torch.Generator().manual_seed(0))
    losses = [r["loss"] for r in state.history]
    assert losses[-1] < 0.7 * losses[0]
    assert objective.calls["gradients_"] == 8  # one per batch
    assert objective.calls["evaluate_"] > 8  # the line searches' evaluations (and below
    assert objective.calls["evaluate_"] <= 8 * 2 * LBFGS_OPTIONS["max_iter"]  # their cap)
    assert objective.failure((x,)) is None  # the epoch's mean: 2 batches of 32 rows


def test_lbfgs_refuses_weight_decay_and_an_objective_without_a_loss():
    net = DeepAutoencoder.from_layers(_stack())
    with pytest.raises(ValueError, match="no weight decay"):
        make_optimizer(net, "lbfgs", 1.0, weight_decay=1e-4)

    class Silent:
        module = net

        def gradients_(self, batch, generator):
            return None

    with pytest.raises(TypeError, match="needs the loss"):
        fit_epochs(Silent(), (torch.rand(4, 12),), make_optimizer(net, "lbfgs", 1.0),
                   epochs=1, batch_size=4, generator=None)


# -- the estimator -----------------------------------------------------------------------------
def test_with_max_iter_0_the_model_is_the_pretrained_stack(digits):
    X, _ = digits
    ae = DBNAutoencoder(**{**SMALL, "max_iter": 0}).fit(X)
    x = torch.from_numpy(X.astype(np.float32))
    assert np.array_equal(ae.transform(X), up_pass(ae.rbms_, x).numpy())
    assert np.array_equal(ae.reconstruct(X), down_pass(ae.rbms_, up_pass(ae.rbms_, x)).numpy())
    assert [r.hidden.spec for r in ae.rbms_] == ["bernoulli", "gaussian"]  # linear codes
    assert ae.n_iter_ == 0 and ae.best_loss_ is None


@pytest.mark.parametrize("tied", [True, False])
def test_a_stack_of_autoencoder_layers_unrolls_exactly_too(digits, tied):
    """Pretraining with autoencoder layers (issue 14, item 2) instead of RBMs."""
    X, _ = digits
    ae = DBNAutoencoder(**{**SMALL, "max_iter": 0}, layer_type="autoencoder",
                        tied_weights=tied).fit(X)
    assert {r.kind for r in ae.rbms_} == {"autoencoder"}
    x = torch.from_numpy(X.astype(np.float32))
    assert np.array_equal(ae.transform(X), up_pass(ae.rbms_, x).numpy())
    assert np.array_equal(ae.reconstruct(X), down_pass(ae.rbms_, up_pass(ae.rbms_, x)).numpy())
    assert DBNAutoencoder(**{**SMALL, "max_iter": 20}, layer_type="autoencoder",
                          tied_weights=tied).fit(X).score(X) > ae.score(X)


def test_finetuning_lowers_the_reconstruction_error(digits):
    X, _ = digits
    before = DBNAutoencoder(**{**SMALL, "max_iter": 0}).fit(X).score(X)
    ae = DBNAutoencoder(**{**SMALL, "max_iter": 30}).fit(X)
    assert ae.score(X) > before + 0.5  # squared error per row, summed over 64 pixels
    records = ae.history_["finetune"]
    assert records[-1]["reconstruction_error"] < records[0]["reconstruction_error"]
    assert ae.loss_curve_[-1] < ae.loss_curve_[0]


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_each_solver_fits_and_lowers_the_loss(digits, solver):
    X, _ = digits
    base = DBNAutoencoder(**{**SMALL, "max_iter": 0}).fit(X).score(X)
    ae = DBNAutoencoder(**{**SMALL, "max_iter": 10, "solver": solver}).fit(X)
    assert ae.score(X) > base
    assert ae.loss_curve_[-1] < ae.loss_curve_[0]


def test_lbfgs_takes_large_batches_and_its_own_step_by_default():
    """'auto' fine-tuning batches and step sizes follow the solver."""
    assert DBNAutoencoder(solver="lbfgs")._batch_size() == 1000
    assert DBNAutoencoder(solver="lbfgs", finetune_batch_size=50)._batch_size() == 50
    assert DBNAutoencoder(solver="sgd", batch_size=20)._batch_size() == 20
    assert DBNAutoencoder(solver="lbfgs")._learning_rate() == 1.0
    assert DBNAutoencoder(solver="adam", learning_rate_init=0.5)._learning_rate() == 0.5


def test_the_default_loss_follows_the_data(digits):
    X, _ = digits
    ae = DBNAutoencoder(**SMALL).fit(X)
    assert (ae.visible_units_, ae.loss_, ae.input_mean_) == ("bernoulli", "cross_entropy", None)
    Z = (X - 0.3) * 5
    ae = DBNAutoencoder(**SMALL).fit(Z)
    assert (ae.visible_units_, ae.loss_) == ("gaussian", "squared_error")
    np.testing.assert_allclose(ae.input_mean_, Z.mean(0), atol=1e-6)
    assert ae.rbms_[0].visible.spec == "gaussian"
    # outputs are in the data's units
    recon = ae.reconstruct(Z)
    assert abs(recon.mean() - Z.mean()) < 0.2 * Z.std()
    assert ae.score(Z) == pytest.approx(-((recon - Z) ** 2).sum(1).mean(), rel=1e-4)
    np.testing.assert_allclose(ae.inverse_transform(ae.transform(Z)), recon, atol=1e-5)


def test_real_valued_data_with_the_cross_entropy_is_refused_with_advice_that_works(digits):
    Z = (digits[0] - 0.3) * 5
    with pytest.raises(ValueError, match="loss='squared_error'"):
        DBNAutoencoder(**SMALL, loss="cross_entropy").fit(Z)
    DBNAutoencoder(**SMALL, loss="squared_error").fit(Z)


def test_sparse_data_outside_the_unit_interval_is_refused_with_advice_that_works(digits):
    S = sparse.csr_matrix(digits[0] * 16)
    with pytest.raises(ValueError, match="MaxAbsScaler"):
        DBNAutoencoder(**SMALL).fit(S)
    ae = DBNAutoencoder(**SMALL).fit(MaxAbsScaler().fit_transform(S))
    assert ae.visible_units_ == "bernoulli"


def test_sparse_input_gives_the_model_of_dense_input(digits):
    X, _ = digits
    dense = DBNAutoencoder(**SMALL).fit(X)
    sparse_fit = DBNAutoencoder(**SMALL).fit(sparse.csr_matrix(X))
    assert np.array_equal(dense.transform(X), sparse_fit.transform(sparse.csr_matrix(X)))
    assert dense.score(X) == sparse_fit.score(sparse.csr_matrix(X))


def test_early_stopping_keeps_the_best_validation_weights(digits, tmp_path):
    X, _ = digits
    path = tmp_path / "run.ckpt"
    ae = DBNAutoencoder(**{**SMALL, "max_iter": 40, "learning_rate_init": 0.05},
                        early_stopping=True, validation_fraction=0.2, n_iter_no_change=3,
                        tol=0.0).fit(X, checkpoint=path)
    assert len(ae.validation_scores_) == ae.n_iter_ < 40  # it stopped
    best = int(np.argmax(ae.validation_scores_))
    assert best < ae.n_iter_ - 1 and ae.best_validation_score_ == ae.validation_scores_[best]
    split = load_checkpoint(path, kind="DBNAutoencoder")["done"][1]["position"]["split"]
    assert len(split["valid"]) == 60 and len(split["train"]) == 240
    valid = torch.from_numpy(X[split["valid"].numpy()])
    assert ae._validation_score(ae.network_, valid) == pytest.approx(
        ae.best_validation_score_, rel=1e-6)  # the best epoch's weights were kept
    with pytest.raises(ValueError, match="validation_fraction"):
        DBNAutoencoder(**SMALL, early_stopping=True, validation_fraction=0.01).fit(X[:20])


def test_inverse_transform_of_codes_is_the_decoder(digits):
    X, _ = digits
    ae = DBNAutoencoder(**SMALL).fit(X)
    codes = ae.transform(X[:10])
    assert codes.shape == (10, 8) and codes.dtype == np.float32
    np.testing.assert_array_equal(ae.inverse_transform(codes), ae.reconstruct(X[:10]))
    assert ae.transform(X[:10].astype(np.float64)).dtype == np.float64
    assert list(ae.get_feature_names_out())[:2] == ["dbnautoencoder0", "dbnautoencoder1"]
    with pytest.raises(ValueError, match="expects 8, one per code unit"):
        ae.inverse_transform(X[:3])
    with pytest.raises(ValueError, match="NaN or infinite"):
        ae.inverse_transform(np.full((2, 8), np.nan))


@pytest.mark.parametrize("params", [{}, {"hidden_units": ("relu", "gaussian"),
                                         "code_units": None}])
def test_code_units_set_the_code_layer(digits, params):
    ae = DBNAutoencoder(**{**SMALL, "max_iter": 0, **params}).fit(digits[0])
    assert [r.hidden.spec for r in ae.rbms_][-1] == "gaussian"
    ae = DBNAutoencoder(**{**SMALL, "max_iter": 0, "code_units": "bernoulli"}).fit(digits[0])
    assert [r.hidden.spec for r in ae.rbms_] == ["bernoulli", "bernoulli"]


def test_bad_parameters_are_refused(digits):
    X, _ = digits
    for bad in ({"code_units": "softmax"}, {"solver": "cg"}, {"loss": "l1"},
                {"learning_rate_init": 0}, {"finetune_batch_size": 0},
                {"visible_units": "relu"}):
        with pytest.raises(InvalidParameterError):
            DBNAutoencoder(**{**SMALL, **bad}).fit(X)
    with pytest.raises(ValueError, match="hidden_units has 3 entries"):
        DBNAutoencoder(**SMALL, hidden_units=("bernoulli",) * 3).fit(X)


def test_fine_tuning_that_blows_up_says_what_to_change(digits):
    X, _ = digits
    params = {**SMALL, "max_iter": 10, "solver": "sgd"}
    with pytest.raises(DivergenceError, match="smaller learning_rate_init"):
        DBNAutoencoder(**params, learning_rate_init=10.0).fit(X)
    DBNAutoencoder(**params).fit(X)  # learning_rate_init='auto' works


def test_save_and_load_give_the_same_outputs(digits, tmp_path):
    X, _ = digits
    for data in (X, (X - 0.5) * 3):
        ae = DBNAutoencoder(**SMALL, early_stopping=True).fit(data)
        path = ae.save(tmp_path / "ae.safetensors")
        loaded = load(path)
        assert isinstance(loaded, DBNAutoencoder)
        assert np.array_equal(loaded.transform(data), ae.transform(data))
        assert np.array_equal(loaded.reconstruct(data), ae.reconstruct(data))
        assert loaded.score(data) == ae.score(data)
        assert (loaded.loss_, loaded.visible_units_) == (ae.loss_, ae.visible_units_)
        assert loaded.validation_scores_ == ae.validation_scores_
        for a, b in zip(loaded.rbms_, ae.rbms_, strict=True):  # the pretrained layers too
            assert all(torch.equal(a.state_dict()[k], v) for k, v in b.state_dict().items())
        assert loaded.get_params() == ae.get_params()


class Interrupt(Callback):
    """Ctrl-C in one epoch of one phase."""

    def __init__(self, phase, epoch):
        self.phase, self.epoch = phase, epoch

    def on_epoch_end(self, context):
        if context.phase == self.phase and context.epoch == self.epoch:
            raise KeyboardInterrupt


def _same(a, b, X):
    sa, sb = a.network_.state_dict(), b.network_.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert np.array_equal(a.transform(X), b.transform(X))
    strip = [{k: v for k, v in r.items() if k != "time"} for r in a.history_["finetune"]]
    assert strip == [{k: v for k, v in r.items() if k != "time"}
                     for r in b.history_["finetune"]]


@pytest.mark.parametrize(("phase", "epoch", "params"), [
    ("pretrain", 1, {}),
    ("finetune", 2, {"early_stopping": True}),
    ("finetune", 2, {"solver": "lbfgs", "finetune_batch_size": 100}),
])
def test_a_resumed_fit_ends_with_the_weights_of_an_uninterrupted_fit(digits, tmp_path, phase,
                                                                     epoch, params):
    X, _ = digits
    params = {**SMALL, "max_iter": 5, **params}
    reference = DBNAutoencoder(**params).fit(X)
    path = tmp_path / "run.ckpt"
    with pytest.raises(KeyboardInterrupt):
        DBNAutoencoder(**params, callbacks=[Interrupt(phase, epoch)]).fit(X, checkpoint=path)
    resumed = DBNAutoencoder(**params).fit(X, checkpoint=path, resume=True)
    _same(reference, resumed, X)
    assert load_checkpoint(path, kind="DBNAutoencoder")["stage"] == "finished"


def test_clone_and_refit_repeat_the_model(digits):
    X, _ = digits
    ae = DBNAutoencoder(**SMALL).fit(X)
    _same(ae, clone(ae).fit(X), X)


def test_digits_2d_codes_separate_the_classes_better_than_pca(digits_split):
    """The issue's digits claim: 5-NN on the 2-D codes beats 2-component PCA."""
    X_train, X_test, y_train, y_test = digits_split
    ae = DBNAutoencoder((64, 32, 2), pretrain_epochs=5, max_iter=60, learning_rate_init=0.01,
                        random_state=0, device="cpu").fit(X_train)
    pca = PCA(2).fit(X_train)

    def knn(encode) -> float:
        model = KNeighborsClassifier(5).fit(encode(X_train), y_train)
        return model.score(encode(X_test), y_test)

    ours, theirs = knn(ae.transform), knn(pca.transform)
    assert ours > theirs + 0.1, (ours, theirs)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_the_deep_autoencoder_trains_on_cuda_and_loads_on_the_cpu(digits, tmp_path, solver):
    X, _ = digits
    ae = DBNAutoencoder(**{**SMALL, "device": "cuda", "solver": solver},
                        early_stopping=True).fit((X - 0.5) * 3)
    assert all(p.device.type == "cuda" for p in ae.network_.parameters())
    cpu = load(ae.save(tmp_path / "ae.safetensors"), device="cpu")
    np.testing.assert_allclose(cpu.transform((X - 0.5) * 3), ae.transform((X - 0.5) * 3),
                               atol=1e-4)
    assert cpu.score((X - 0.5) * 3) == pytest.approx(ae.score((X - 0.5) * 3), rel=1e-4)


def test_the_docstring_documents_each_parameter_once():
    doc = DBNAutoencoder.__doc__
    for name in DBNAutoencoder().get_params():
        assert doc.count(f"\n    {name} :") == 1, name
    assert "visible_units : {'auto', 'bernoulli', 'gaussian'}, default 'auto'" in doc


@pytest.mark.parametrize("method", ["transform", "reconstruct", "score"])
def test_unfitted_autoencoder_says_it_is_not_fitted(method):
    """Calling a forward method before fit raises NotFittedError, as inverse_transform does."""
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError, match="not fitted yet"):
        getattr(DBNAutoencoder(), method)(np.zeros((2, 64)))
