"""The byte sampler of binary units (deepbelief.core.coins): exact rule, exact
probabilities, a generator advanced independently of the data, shards equal to the
one-process draw."""

import numpy as np
import pytest
import torch
from scipy import stats

from deepbelief.core.coins import (
    BYTE_SAMPLER_MIN,
    _coins_from_bytes,
    _mask_from_bytes,
    bernoulli_mask,
    flip_coins,
    hashed_uniform,
    splitmix64,
)
from deepbelief.core.sharding import RowShard, row_shard
from deepbelief.core.units import Bernoulli


def test_splitmix64_matches_the_reference_stream():
    # SplitMix64 seeded with 0 (Steele, Lea & Flood's reference code), outputs 1 to 3.
    out = [v % 2**64 for v in splitmix64(0, torch.arange(3)).tolist()]
    assert out == [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F]


@pytest.mark.parametrize("dtype, bits", [(torch.float32, 24), (torch.float64, 53)])
def test_hashed_uniforms_are_uniform_on_their_grid(dtype, bits):
    u = hashed_uniform(-12345, torch.arange(200_000), dtype)
    assert u.dtype == dtype and float(u.min()) >= 0.0 and float(u.max()) < 1.0
    grid = u.double() * 2.0**bits
    assert torch.equal(grid, grid.floor())
    assert stats.kstest(u.double().numpy(), "uniform").pvalue > 1e-4
    # consecutive counters are not correlated
    assert abs(np.corrcoef(u[:-1].double().numpy(), u[1:].double().numpy())[0, 1]) < 0.01


P_VALUES = torch.tensor([0.0, 1.0, 0.5, 1 / 256, 255 / 256, 1e-7, 1 - 1e-7, 0.3, 0.7071,
                         0.123456789, 2.5, -0.5])


def test_rule_for_every_byte_gives_probability_p_exactly():
    """Enumerate the 256 bytes for each p: the unit is on for the k = floor(256 p) bytes
    below k, off above, and at b == k on exactly when the tie's uniform is below the
    fraction; so P(on) = (k + P(u < f)) / 256, with P(u < f) = ceil(f 2^24) / 2^24."""
    p = P_VALUES.repeat(256, 1)
    byte = torch.arange(256, dtype=torch.uint8)[:, None].expand_as(p).contiguous()
    on = _coins_from_bytes(p, byte, key=99, offset=0)
    for j, pj in enumerate(P_VALUES.tolist()):
        scaled = min(max(pj, 0.0), 1.0) * 256
        k = int(np.floor(scaled))
        col = on[:, j]
        assert col[:k].eq(1).all() and col[k + 1:].eq(0).all()
        if k < 256:
            u = float(hashed_uniform(99, torch.tensor([k * len(P_VALUES) + j]), torch.float32))
            frac = float(torch.tensor(pj, dtype=torch.float32) * 256 - k) if 0 <= pj <= 1 else 0
            assert bool(col[k]) == (u < frac)
        # the probability this rule gives, summed over the uniform tie's 2**24 values
        frac = float(np.float32(pj) * np.float32(256)) - k if 0 <= pj <= 1 else 0.0
        exact = (k + np.ceil(frac * 2**24) / 2**24) / 256
        assert exact == pytest.approx(min(max(float(np.float32(pj)), 0.0), 1.0), abs=2**-32)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_frequencies_match_p(dtype):
    g = torch.Generator().manual_seed(0)
    p = torch.tensor([0.0, 1.0, 0.5, 1 / 256, 0.3, 0.999, 1e-3, 0.5 + 1 / 512], dtype=dtype)
    n = 400_000
    x = flip_coins(p.repeat(n, 1), g)
    assert x.dtype == dtype and set(x.unique().tolist()) <= {0.0, 1.0}
    freq = x.mean(0).double()
    sd = (p.double() * (1 - p.double()) / n).sqrt()
    assert ((freq - p.double()).abs() <= 5 * sd + 1e-12).all(), (freq, p)


def test_units_with_p_at_one_tie_value_are_on_at_rate_p():
    """All mass at one byte: p = (k + f) / 256 with f = 0.25, so only ties decide the
    remainder; with k = 0 the unit is on only through ties (rate 1/1024)."""
    g = torch.Generator().manual_seed(1)
    p = torch.full((2_000_000,), 0.25 / 256)
    x = flip_coins(p, g)
    assert stats.binomtest(int(x.sum()), p.numel(), 0.25 / 256).pvalue > 1e-4


def test_nan_and_out_of_range_probabilities():
    for rows in (1000, BYTE_SAMPLER_MIN):  # uniforms, then bytes
        x = flip_coins(torch.tensor([[float("nan"), -1.0, 2.0]]).repeat(rows, 1),
                       torch.Generator().manual_seed(0))
        assert x[:, 0].eq(0).all() and x[:, 1].eq(0).all() and x[:, 2].eq(1).all()


@pytest.mark.parametrize("rows", [37, 3001])
def test_generator_advances_the_same_whatever_p_holds(rows):
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    flip_coins(torch.zeros(rows, 11), g1)
    flip_coins(torch.rand(rows, 11, generator=torch.Generator().manual_seed(2)), g2)
    assert torch.equal(g1.get_state(), g2.get_state())


def test_small_draws_compare_uniforms_and_large_ones_use_bytes():
    """Below BYTE_SAMPLER_MIN units a draw is torch.rand's uniform < p, the stream small
    data sets had before the byte sampler; from it on, one byte per unit."""
    for units, uniforms in ((BYTE_SAMPLER_MIN - 1, True), (BYTE_SAMPLER_MIN, False)):
        p = torch.rand(units, generator=torch.Generator().manual_seed(1)).reshape(1, -1)
        plain = (torch.rand(p.shape, generator=torch.Generator().manual_seed(2)) < p).float()
        assert torch.equal(flip_coins(p, torch.Generator().manual_seed(2)), plain) == uniforms
        keep = torch.rand(p.shape, generator=torch.Generator().manual_seed(2)) >= 1.0 - 0.8
        mask = bernoulli_mask(tuple(p.shape), 0.8, torch.Generator().manual_seed(2))
        assert torch.equal(mask, keep) == uniforms


def test_same_seed_same_draws_and_columns_independent_of_layout():
    p = torch.rand(640, 60, generator=torch.Generator().manual_seed(3))
    a = flip_coins(p, torch.Generator().manual_seed(9))
    b = flip_coins(p.t().contiguous().t(), torch.Generator().manual_seed(9))  # strided p
    assert torch.equal(a, b)
    assert not torch.equal(a, flip_coins(p, torch.Generator().manual_seed(10)))


@pytest.mark.parametrize("bounds", [[(0, 3), (3, 7)], [(0, 1), (1, 2), (2, 7)], [(0, 7)]])
@pytest.mark.parametrize("width", [300, 5000])  # uniforms, bytes (7 x 5000 >= 2**15)
def test_rows_drawn_in_shards_equal_the_one_process_draw(bounds, width):
    # p near 1/2 + 1/512 puts many units at ties, so the hashed ties are exercised too
    p = torch.full((7, width), 0.5 + 1 / 512)
    p[::2] = torch.rand(4, width, generator=torch.Generator().manual_seed(4))
    whole = flip_coins(p, torch.Generator().manual_seed(3))
    parts = []
    for lo, hi in bounds:
        g = torch.Generator().manual_seed(3)
        with row_shard(RowShard(lo, hi, 7)):
            parts.append(flip_coins(p[lo:hi], g))
        assert torch.equal(g.get_state(), _advanced(3, p))
    assert torch.equal(torch.cat(parts), whole)


def _advanced(seed, p):
    g = torch.Generator().manual_seed(seed)
    flip_coins(p, g)
    return g.get_state()


def test_shard_with_the_wrong_number_of_rows_is_refused():
    with row_shard(RowShard(0, 2, 4)), pytest.raises(RuntimeError, match="row shard"):
        flip_coins(torch.full((3, 2), 0.5), None)


def test_bernoulli_units_sample_with_coins():
    field = torch.randn(50, 20, generator=torch.Generator().manual_seed(0))
    p, x = Bernoulli().mean_and_sample(field, torch.Generator().manual_seed(1))
    assert torch.equal(p, torch.sigmoid(field))
    assert torch.equal(x, flip_coins(p, torch.Generator().manual_seed(1)))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_draws_are_uniform_comparisons():
    g = torch.Generator("cuda").manual_seed(0)
    p = torch.full((100_000,), 0.3, device="cuda")
    x = flip_coins(p, g)
    assert x.device.type == "cuda" and abs(float(x.mean()) - 0.3) < 0.01


@pytest.mark.parametrize("p", [0.0, 1.0, 0.8, 0.5, 0.9 + 1 / 512, 1 / 1024])
def test_mask_rule_for_every_byte_gives_probability_p(p):
    byte = torch.arange(256, dtype=torch.uint8).repeat(40, 1)
    mask = _mask_from_bytes(p, byte, key=3, offset=0)
    scaled = float(np.float32(p)) * 256
    k = int(np.floor(scaled))
    assert mask.dtype == torch.bool
    assert mask[:, :k].all() and not mask[:, k + 1:].any()
    if k < 256:
        ties = torch.arange(40) * 256 + k
        expect = hashed_uniform(3, ties, torch.float32) < (scaled - k)
        assert torch.equal(mask[:, k], expect)


def test_mask_frequency_equals_p_and_it_ignores_row_shards():
    keep = bernoulli_mask((2000, 500), 0.8, torch.Generator().manual_seed(0))
    assert stats.binomtest(int(keep.sum()), keep.numel(), 0.8).pvalue > 1e-4
    for shape in ((4, 100), (4, BYTE_SAMPLER_MIN)):
        plain = bernoulli_mask(shape, 0.3 + 1 / 512, torch.Generator().manual_seed(2))
        with row_shard(RowShard(2, 4, 6)):  # even a shard of another size: a plain draw
            inside = bernoulli_mask(shape, 0.3 + 1 / 512, torch.Generator().manual_seed(2))
        assert torch.equal(inside, plain)


@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan")])
def test_mask_refuses_a_probability_outside_0_1(p):
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        bernoulli_mask((2, 2), p, None)


def test_probabilities_that_require_grad_are_drawn_without_it():
    p = torch.full((BYTE_SAMPLER_MIN, 2), 0.5 + 1 / 512, dtype=torch.float64,
                   requires_grad=True)
    x = flip_coins(p, torch.Generator().manual_seed(0))
    assert not x.requires_grad and x.dtype == torch.float64
    assert torch.equal(x, flip_coins(p.detach(), torch.Generator().manual_seed(0)))
