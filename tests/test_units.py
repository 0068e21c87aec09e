"""Unit types against exact answers: log-partitions by enumeration or quadrature, means as
derivatives of the log-partition, samplers against their means, numerical stability."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from deepbelief.core.units import (
    DOMAIN_TOLERANCE,
    Bernoulli,
    Gaussian,
    Joined,
    ReLU,
    Softmax,
    UnitType,
    unit_type,
)

torch.set_num_threads(1)

F64 = torch.float64


def _binary_states(n: int) -> torch.Tensor:
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=n)), dtype=F64)


def _fields(seed: int, shape: tuple[int, ...], scale: float = 2.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g, dtype=F64) * scale


def _log_sum_over_states(field: torch.Tensor, unit: UnitType, states: torch.Tensor) -> torch.Tensor:
    """log sum_x exp(-phi(x) + f·x) over the given discrete states, one value per field row."""
    out = []
    for f in field:
        terms = [float(-unit.base_energy(x[None])[0] + f @ x) for x in states]
        m = max(terms)
        out.append(m + math.log(sum(math.exp(t - m) for t in terms)))
    return torch.tensor(out, dtype=F64)


# -- base energies -------------------------------------------------------------------------


def test_base_energies_by_hand():
    x = torch.tensor([[0.0, 1.0, 1.0], [1.0, 0.0, 0.0]], dtype=F64)
    torch.testing.assert_close(Bernoulli().base_energy(x), torch.zeros(2, dtype=F64))
    torch.testing.assert_close(Softmax().base_energy(x), torch.zeros(2, dtype=F64))
    r = torch.tensor([[0.5, -2.0, 3.0], [1.0, 0.0, 4.0]], dtype=F64)
    expect = torch.tensor([0.5 * (0.25 + 4 + 9), 0.5 * (1 + 16)], dtype=F64)
    torch.testing.assert_close(Gaussian().base_energy(r), expect)
    torch.testing.assert_close(ReLU().base_energy(r.abs()), expect)


# -- log-partition: brute force ---------------------------------------------------------------


def test_bernoulli_log_partition_is_log_sum_over_all_binary_vectors():
    field = _fields(0, (5, 4))
    brute = _log_sum_over_states(field, Bernoulli(), _binary_states(4))
    torch.testing.assert_close(Bernoulli().log_partition(field), brute, rtol=1e-12, atol=1e-12)


def test_softmax_log_partition_is_log_sum_over_one_hot_states():
    field = _fields(1, (6, 5), scale=3.0)
    brute = _log_sum_over_states(field, Softmax(), torch.eye(5, dtype=F64))
    torch.testing.assert_close(Softmax().log_partition(field), brute, rtol=1e-12, atol=1e-12)


def test_gaussian_log_partition_is_log_integral_by_quadrature():
    unit = Gaussian()
    field = torch.tensor([[-3.0, 0.0, 0.7], [2.5, -0.4, 1.3]], dtype=F64)
    x = torch.linspace(-40.0, 40.0, 80_001, dtype=F64)
    phi = unit.base_energy(x[:, None])  # phi(x) for each grid point, one unit
    brute = torch.zeros(field.shape[0], dtype=F64)
    for row in range(field.shape[0]):
        for f in field[row]:
            log_integrand = -phi + f * x
            m = log_integrand.max()
            brute[row] += m + torch.log(torch.trapezoid(torch.exp(log_integrand - m), x))
    torch.testing.assert_close(unit.log_partition(field), brute, rtol=1e-10, atol=1e-10)


RELU_FIELDS = [-30.0, 0.0, 0.3, 0.5, 1.0, 7.5, 50.0, 300.0]


@pytest.mark.parametrize("f", RELU_FIELDS)
def test_relu_log_partition_is_the_stepped_sigmoid_sum(f):
    i = torch.arange(1, 2001, dtype=F64)
    direct = F.softplus(f - i + 0.5).sum()
    got = ReLU().log_partition(torch.tensor([[f]], dtype=F64))[0]
    assert got.dtype == F64
    assert abs(float(got) - float(direct)) <= 1e-6 * abs(float(direct))


def test_relu_log_partition_sums_over_units_and_batch_rows():
    field = torch.tensor([RELU_FIELDS, RELU_FIELDS[::-1]], dtype=F64)
    i = torch.arange(1, 2001, dtype=F64)
    direct = F.softplus(field[..., None] - i + 0.5).sum((-1, -2))
    torch.testing.assert_close(ReLU().log_partition(field), direct, rtol=1e-9, atol=0.0)


def test_relu_log_partition_derivative_is_sum_of_sigmoids():
    # dA/df = sum_i sigmoid(f - i + 0.5): the closed form must not break the gradient.
    field = torch.tensor([[-3.0, 0.0, 0.49, 0.51, 2.2, 40.0]], dtype=F64, requires_grad=True)
    (grad,) = torch.autograd.grad(ReLU().log_partition(field).sum(), field)
    i = torch.arange(1, 2001, dtype=F64)
    expect = torch.sigmoid(field.detach()[..., None] - i + 0.5).sum(-1)
    torch.testing.assert_close(grad, expect, rtol=1e-9, atol=1e-9)


# -- mean = dA/df ------------------------------------------------------------------------------


@pytest.mark.parametrize("unit", [Bernoulli(), Gaussian(), Softmax()], ids=repr)
def test_mean_is_gradient_of_log_partition(unit):
    field = _fields(2, (4, 5), scale=3.0).requires_grad_(True)
    (grad,) = torch.autograd.grad(unit.log_partition(field).sum(), field)
    torch.testing.assert_close(unit.mean(field.detach()), grad, rtol=1e-12, atol=1e-12)


# -- samplers ------------------------------------------------------------------------------------


@pytest.mark.parametrize("unit", [Bernoulli(), Gaussian(), Softmax()], ids=repr)
def test_sample_mean_matches_mean(unit):
    n = 200_000
    field = torch.tensor([[-1.5, 0.0, 0.4, 2.0]], dtype=F64).expand(n, 4)
    g = torch.Generator().manual_seed(123)
    x = unit.sample(field, g)
    assert x.shape == field.shape and x.dtype == F64
    mu = unit.mean(field[:1])[0]
    var = torch.ones_like(mu) if isinstance(unit, Gaussian) else mu * (1 - mu)
    tol = 5.0 * (var / n).sqrt()  # five standard errors per coordinate: fixed seed, not flaky
    assert ((x.mean(0) - mu).abs() <= tol).all(), (x.mean(0), mu, tol)
    if isinstance(unit, Gaussian):
        torch.testing.assert_close(x.var(0), torch.ones(4, dtype=F64), atol=0.02, rtol=0)
    else:
        assert set(x.unique().tolist()) <= {0.0, 1.0}
    if isinstance(unit, Softmax):
        assert (x.sum(-1) == 1).all()


@pytest.mark.parametrize("unit", [Bernoulli(), Gaussian(), ReLU(), Softmax()], ids=repr)
def test_sample_uses_the_generator(unit):
    field = _fields(3, (64, 6))
    a = unit.sample(field, torch.Generator().manual_seed(5))
    b = unit.sample(field, torch.Generator().manual_seed(5))
    c = unit.sample(field, torch.Generator().manual_seed(6))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_relu_samples_are_nonnegative_and_follow_the_nrelu_noise():
    n = 200_000
    f = 1.3
    x = ReLU().sample(torch.full((n, 1), f, dtype=F64), torch.Generator().manual_seed(0))
    assert (x >= 0).all()
    # max(0, f + N(0, sigmoid(f))): mean = f Phi(f/s) + s phi(f/s) with s = sqrt(sigmoid(f)).
    s = math.sqrt(1 / (1 + math.exp(-f)))
    z = f / s
    expect = f * 0.5 * (1 + math.erf(z / math.sqrt(2))) + s * math.exp(-z * z / 2) / math.sqrt(
        2 * math.pi
    )
    assert abs(float(x.mean()) - expect) < 5 * s / math.sqrt(n)


# -- numerical stability -------------------------------------------------------------------------


@pytest.mark.parametrize("unit", [Bernoulli(), Gaussian(), ReLU(), Softmax()], ids=repr)
def test_extreme_fields_stay_finite_in_float32(unit):
    field = torch.tensor([[1e4, -1e4, 0.0, 1e4], [-1e4, -1e4, -1e4, -1e4]])
    g = torch.Generator().manual_seed(0)
    for out in (unit.mean(field), unit.sample(field, g), unit.log_partition(field)):
        assert out.dtype == torch.float32
        assert torch.isfinite(out).all(), (unit, out)


def test_extreme_field_values_are_right():
    big = torch.tensor([[1e4, -1e4]])
    assert Bernoulli().mean(big).tolist() == [[1.0, 0.0]]
    assert float(Bernoulli().log_partition(big)[0]) == pytest.approx(1e4, rel=1e-6)
    assert float(Softmax().log_partition(big)[0]) == pytest.approx(1e4, rel=1e-6)
    assert Softmax().mean(big).tolist() == [[1.0, 0.0]]
    # ReLU: m = 10000 copies on, A ≈ m f - m²/2 = 5e7.
    assert float(ReLU().log_partition(big)[0]) == pytest.approx(5e7, rel=1e-6)


# -- registry and domains --------------------------------------------------------------------------


def test_unit_type_registry():
    assert unit_type("bernoulli") == Bernoulli()
    assert unit_type("GAUSSIAN") == Gaussian()
    assert isinstance(unit_type("relu"), ReLU)
    assert isinstance(unit_type("softmax"), Softmax)
    instance = Softmax()
    assert unit_type(instance) is instance
    assert Bernoulli() != Gaussian()
    assert hash(Bernoulli()) == hash(Bernoulli())


def test_unit_type_rejects_unknown_names():
    with pytest.raises(ValueError, match="nope") as info:
        unit_type("nope")
    assert "bernoulli" in str(info.value)


def test_bernoulli_domain_message_names_the_extremes_and_the_advice_rescaling():
    unit = Bernoulli()
    assert unit.check_domain(torch.tensor([[0.0, 1.0], [0.25, 0.75]])) is None
    message = unit.check_domain(torch.tensor([[-0.5, 1.0], [0.2, 2.0]]))
    assert message == ("Bernoulli units take values in [0, 1], but the data ranges from -0.5 "
                       "to 2.0")
    assert "MinMaxScaler" in unit.rescale_advice and "rescale" in unit.rescale_advice.lower()


def test_domain_extremes_are_printed_at_full_precision():
    """Rounding of a scaler shows as 1.0000000000000002, never as a rounded 1."""
    x = torch.tensor([[0.0, 1.0 + 2**-52]], dtype=F64)
    assert "to 1.0000000000000002" in Bernoulli().check_domain(x)
    x32 = torch.tensor([[-(2.0**-30), 1.0]])
    assert "from -9.313226e-10 to 1.0" in Bernoulli().check_domain(x32)


@pytest.mark.parametrize("unit", [Bernoulli(), ReLU()])
def test_domain_tolerance_forgives_rounding_and_clip_puts_values_on_the_edge(unit):
    lo = unit.bounds[0]
    x = torch.tensor([[lo - 1e-9, lo + 0.5, 1.0 + 1e-9]], dtype=F64)
    if unit.binary:
        assert unit.check_domain(x) is not None
    assert unit.check_domain(x, tolerance=DOMAIN_TOLERANCE) is None
    clipped = unit.clip(x)
    assert clipped[0, 0] == lo and unit.check_domain(clipped) is None
    assert clipped[0, 1] == x[0, 1]
    far = torch.tensor([[lo - 10 * DOMAIN_TOLERANCE, 0.5]], dtype=F64)
    assert unit.check_domain(far, tolerance=DOMAIN_TOLERANCE) is not None


def test_clip_returns_the_tensor_itself_when_nothing_is_outside():
    x = torch.tensor([[0.0, 0.5, 1.0]])
    assert Bernoulli().clip(x) is x
    wide = x * 1e6 - 5
    assert Gaussian().clip(wide) is wide and Gaussian().bounds == (-math.inf, math.inf)
    joined = Joined([(Bernoulli(), 2), (Gaussian(), 1)])
    assert joined.clip(x) is x
    assert joined.clip(torch.tensor([[2.0, -1.0, 7.0]])).tolist() == [[1.0, 0.0, 7.0]]


def test_only_gaussian_units_check_the_scale():
    mean, std = torch.full((4,), 100.0), torch.full((4,), 50.0)
    assert Gaussian().scale_sensitive and Gaussian().check_scale(mean, std, 50) is not None
    for unit in (Bernoulli(), ReLU(), Softmax()):
        assert not unit.scale_sensitive and unit.check_scale(mean, std, 50) is None


def test_softmax_domain():
    unit = Softmax()
    assert unit.check_domain(torch.eye(4, dtype=F64)) is None
    assert unit.check_domain(torch.eye(4)) is None
    probs = torch.softmax(_fields(4, (3, 4)), -1)
    assert unit.check_domain(probs) is None
    assert "one-hot" in unit.check_domain(2 * torch.eye(3, dtype=F64))
    assert unit.check_domain(torch.tensor([[1.5, -0.5]], dtype=F64)) is not None


def test_relu_and_gaussian_domains():
    assert ReLU().check_domain(torch.tensor([[0.0, 3.0]])) is None
    assert "take values in [0, ∞)" in ReLU().check_domain(torch.tensor([[0.0, -3.0]]))
    assert Gaussian().check_domain(torch.tensor([[-1e3, 1e3]])) is None


# -- joined layers (e.g. pixels' hidden features + softmax labels) ---------------------------


def test_joined_units_act_blockwise_and_match_the_exact_partition():
    from deepbelief.core.rbm import RBMModule
    from deepbelief.core.units import Bernoulli, Joined, Softmax

    joined = Joined([(Bernoulli(), 3), (Softmax(), 4)])
    g = torch.Generator().manual_seed(0)
    field = torch.randn((5, 7), generator=g, dtype=torch.float64)
    torch.testing.assert_close(joined.mean(field)[:, :3], torch.sigmoid(field[:, :3]))
    torch.testing.assert_close(joined.mean(field)[:, 3:], torch.softmax(field[:, 3:], -1))
    mean, sample = joined.mean_and_sample(field, g)
    torch.testing.assert_close(mean, joined.mean(field))
    assert set(sample[:, :3].unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(sample[:, 3:].sum(-1), torch.ones(5, dtype=torch.float64))
    assert joined.check_domain(sample) is None
    assert "one-hot" in joined.check_domain(torch.zeros((1, 7), dtype=torch.float64))
    # log-partition over all 2^3 * 4 states of the joined layer, by brute force
    states = torch.tensor([[*bits, *(k == j for j in range(4))]
                           for bits in itertools.product([0, 1], repeat=3) for k in range(4)],
                          dtype=torch.float64)
    brute = torch.logsumexp(field @ states.T, dim=1)
    torch.testing.assert_close(joined.log_partition(field), brute)
    # and as the visible layer of an RBM: free energy over the hidden side is consistent
    rbm = RBMModule(7, 2, joined, "bernoulli", dtype=torch.float64)
    with torch.no_grad():
        rbm.weight.copy_(torch.randn((7, 2), generator=g, dtype=torch.float64))
    h = torch.tensor([[0.0, 1.0]], dtype=torch.float64)
    energies = torch.stack([rbm.energy(s[None], h) for s in states])
    torch.testing.assert_close(rbm.free_energy_hidden(h), -torch.logsumexp(-energies, 0))
    with pytest.raises(ValueError, match="expected 7 units"):
        joined.mean(torch.zeros(1, 6))


# -- what callers ask a unit type ------------------------------------------------------------
JOINED = Joined([(Bernoulli(), 2), (Softmax(), 3)])


def test_bias_for_mean_by_hand_and_clipped():
    p = torch.tensor([[0.5, 0.75, 0.0, 1.0]], dtype=F64)
    clip = math.log(1e-3 / (1 - 1e-3))
    torch.testing.assert_close(Bernoulli().bias_for_mean(p),
                               torch.tensor([[0.0, math.log(3.0), clip, -clip]], dtype=F64))
    torch.testing.assert_close(Softmax().bias_for_mean(torch.tensor([0.25, 0.75, 0.0], dtype=F64)),
                               torch.tensor([math.log(0.25), math.log(0.75), math.log(1e-3)],
                                            dtype=F64))
    x = torch.tensor([0.5, -2.0], dtype=F64)
    assert torch.equal(Gaussian().bias_for_mean(x), x)


@pytest.mark.parametrize("unit, mean", [
    (Bernoulli(), [0.2, 0.5, 0.9]), (Gaussian(), [-1.5, 0.0, 2.0]), (ReLU(), [0.5, 1.0, 3.0]),
    (Softmax(), [0.2, 0.3, 0.5]), (JOINED, [0.1, 0.6, 0.2, 0.3, 0.5]),
])
def test_the_bias_for_a_mean_gives_that_mean(unit, mean):
    mean = torch.tensor([mean], dtype=F64)
    torch.testing.assert_close(unit.mean(unit.bias_for_mean(mean)), mean)


@pytest.mark.parametrize("unit, n", [(Bernoulli(), 3), (Softmax(), 4), (JOINED, 5)])
def test_log_conditional_is_a_normalised_log_probability(unit, n):
    states = unit.states(torch.arange(int(unit.n_states(n))), n, F64)
    field = _fields(3, (1, n))
    log_p = unit.log_conditional(states, field.expand(len(states), n))
    torch.testing.assert_close(log_p, -unit.base_energy(states) + states @ field[0]
                               - unit.log_partition(field))
    assert float(torch.logsumexp(log_p, 0)) == pytest.approx(0.0, abs=1e-12)


def test_log_conditional_by_hand():
    x = torch.tensor([[1.0, 0.0]], dtype=F64)
    f = torch.tensor([[0.3, -1.2]], dtype=F64)
    expect = math.log(torch.sigmoid(f[0, 0]).item()) + math.log(1 - torch.sigmoid(f[0, 1]).item())
    assert float(Bernoulli().log_conditional(x, f)[0]) == pytest.approx(expect, abs=1e-14)
    normal = torch.distributions.Normal(f, 1.0).log_prob(x).sum(-1)
    torch.testing.assert_close(Gaussian().log_conditional(x, f), normal)
    # The overrides agree with the exponential-family default they replace.
    for unit in (Bernoulli(), Gaussian()):
        torch.testing.assert_close(unit.log_conditional(x, f), UnitType.log_conditional(unit, x, f))


def test_random_starts_come_from_the_generator():
    def g():
        return torch.Generator().manual_seed(7)

    uniform = torch.rand((4, 3), generator=g())
    assert torch.equal(Gaussian().random_start((4, 3), g()), uniform)
    assert torch.equal(ReLU().random_start((4, 3), g()), uniform)
    assert torch.equal(Bernoulli().random_start((4, 3), g()), (uniform < 0.5).float())
    one_hot = Softmax().random_start((50, 3), g(), dtype=F64)
    assert one_hot.dtype == F64 and torch.equal(one_hot.sum(1), torch.ones(50, dtype=F64))
    assert set(one_hot.argmax(1).tolist()) == {0, 1, 2}
    joined = JOINED.random_start((6, 5), g())
    assert set(joined[:, :2].unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(joined[:, 2:].sum(1), torch.ones(6))


def test_states_enumerate_every_state_once():
    bits = Bernoulli().states(torch.arange(8), 3, F64)
    assert torch.equal(bits, _binary_states(3).flip(1))  # bit j is unit j
    assert Bernoulli().n_states(3) == 8 and Softmax().n_states(4) == 4
    assert torch.equal(Softmax().states(torch.arange(4), 4, F64), torch.eye(4, dtype=F64))
    assert JOINED.n_states(5) == 4 * 3
    joined = JOINED.states(torch.arange(12), 5, F64)
    assert len({tuple(row.tolist()) for row in joined}) == 12
    assert JOINED.check_domain(joined) is None
    for unit in (Gaussian(), ReLU(), Joined([(Bernoulli(), 1), (Gaussian(), 1)])):
        assert unit.n_states(2) == math.inf
        with pytest.raises(ValueError, match="cannot be enumerated"):
            unit.states(torch.arange(2), 2, F64)


def test_flags_specs_and_parts():
    assert [u.binary for u in (Bernoulli(), Gaussian(), ReLU(), Softmax())] == [
        True, False, False, False]
    assert [u.exact for u in (Bernoulli(), Gaussian(), ReLU(), Softmax())] == [
        True, True, False, True]
    assert Joined([(Bernoulli(), 2), (Bernoulli(), 1)]).binary and not JOINED.binary
    assert not Joined([(ReLU(), 2), (Softmax(), 1)]).exact and JOINED.exact
    for unit in (Bernoulli(), Gaussian(), ReLU(), Softmax(), JOINED):
        assert unit_type(unit.spec) == unit
    assert Gaussian().parts(4) == [(Gaussian(), 4)]
    assert JOINED.parts(5) == [(Bernoulli(), 2), (Softmax(), 3)]
