"""Property-based tests (hypothesis) over shapes, dtypes, unit types and odd values."""

import itertools
import json

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from deepbelief import RBM, DBNClassifier, ModelFileError
from deepbelief.core.rbm import RBMModule
from deepbelief.core.units import DOMAIN_TOLERANCE, unit_type
from deepbelief.io.modelfile import load_file, save_file

torch.set_num_threads(1)
FAST = settings(max_examples=25, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])

unit_names = st.sampled_from(["bernoulli", "gaussian", "relu"])


@FAST
@given(name=unit_names, scale=st.sampled_from([1e-3, 1.0, 1e2, 1e4]), seed=st.integers(0, 99),
       dtype=st.sampled_from([torch.float32, torch.float64]))
def test_unit_functions_stay_finite_and_in_domain(name, scale, seed, dtype):
    g = torch.Generator().manual_seed(seed)
    field = (torch.randn((7, 5), generator=g) * scale).to(dtype)
    unit = unit_type(name)
    mean, sample = unit.mean_and_sample(field, g)
    assert mean.dtype == sample.dtype == dtype
    assert torch.isfinite(mean).all() and torch.isfinite(sample).all()
    assert torch.isfinite(unit.log_partition(field)).all()
    assert unit.check_domain(sample) is None
    if name == "bernoulli":
        assert ((mean >= 0) & (mean <= 1)).all()
        assert set(sample.unique().tolist()) <= {0.0, 1.0}


@FAST
@given(n_v=st.integers(1, 5), n_h=st.integers(1, 4), visible=st.sampled_from(["bernoulli",
       "gaussian"]), scale=st.sampled_from([0.01, 1.0, 5.0]), seed=st.integers(0, 999))
def test_free_energy_is_minus_log_sum_over_hidden_states(n_v, n_h, visible, scale, seed):
    g = torch.Generator().manual_seed(seed)
    rbm = RBMModule(n_v, n_h, visible, "bernoulli", dtype=torch.float64)
    with torch.no_grad():
        for p in rbm.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64) * scale)
    v = torch.randn((3, n_v), generator=g, dtype=torch.float64)
    if visible == "bernoulli":
        v = (v > 0).double()
    states = torch.tensor(list(itertools.product([0.0, 1.0], repeat=n_h)), dtype=torch.float64)
    energies = torch.stack([rbm.energy(v, h.expand(3, n_h)) for h in states], dim=1)
    brute = -torch.logsumexp(-energies, dim=1)
    torch.testing.assert_close(rbm.free_energy(v), brute, rtol=1e-9, atol=1e-9)


@FAST
@given(n=st.integers(2, 40), d=st.integers(1, 12),
       dtype=st.sampled_from([np.float32, np.float64, np.int64, np.uint8]), seed=st.integers(0, 99))
def test_rbm_fits_any_valid_shape_and_dtype(n, d, dtype, seed):
    rng = np.random.default_rng(seed)
    X = (rng.random((n, d)) < 0.5).astype(dtype)
    model = RBM(n_components=3, n_iter=1, batch_size=7, random_state=seed, device="cpu").fit(X)
    out = model.transform(X)
    assert out.shape == (n, 3) and np.isfinite(out).all()
    assert model.n_features_in_ == d


@FAST
@given(X=arrays(np.float64, st.tuples(st.integers(2, 20), st.integers(1, 6)),
                elements=st.floats(-1e6, 1e6, allow_nan=False)),
       where=st.integers(0, 10_000), bad=st.sampled_from([np.nan, np.inf, -np.inf]))
def test_non_finite_values_are_always_rejected_clearly(X, where, bad):
    X = X.copy()
    X.flat[where % X.size] = bad
    with pytest.raises(ValueError, match=r"NaN|infinity"):
        RBM(n_components=2, n_iter=1, visible_units="gaussian", device="cpu").fit(X)


@FAST
@given(X=arrays(np.float64, st.tuples(st.integers(2, 20), st.integers(1, 6)),
                elements=st.floats(-1e3, 1e3, allow_nan=False)))
def test_bernoulli_units_reject_any_value_outside_the_unit_interval(X):
    # float rounding within DOMAIN_TOLERANCE of [0, 1] is clipped, not refused
    assume(X.min() < -DOMAIN_TOLERANCE or X.max() > 1 + DOMAIN_TOLERANCE)
    y = np.arange(len(X)) % 2
    with pytest.raises(ValueError, match=r"\[0, 1\].*[Rr]escale"):
        DBNClassifier((3,), visible_units="bernoulli", pretrain_epochs=1, max_iter=1,
                      device="cpu").fit(X, y)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**53, 2**53) | st.text(max_size=8)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=10,
)


@FAST
@given(config=st.dictionaries(st.text(max_size=6), json_values, max_size=4),
       shapes=st.lists(st.lists(st.integers(0, 4), max_size=3), max_size=4),
       seed=st.integers(0, 99))
def test_model_files_round_trip_exactly(tmp_path_factory, config, shapes, seed):
    g = torch.Generator().manual_seed(seed)
    tensors = {f"t{i}": torch.randn(shape, generator=g) for i, shape in enumerate(shapes)}
    path = tmp_path_factory.mktemp("rt") / "m.safetensors"
    save_file(path, model_type="Demo", config=config, tensors=tensors)
    header, loaded = load_file(path)
    assert header["config"] == json.loads(json.dumps(config))
    assert loaded.keys() == tensors.keys()
    assert all(torch.equal(loaded[k], tensors[k]) for k in tensors)


@FAST
@given(position=st.floats(0, 1, exclude_max=True), flip=st.integers(1, 255))
def test_any_single_byte_change_is_rejected_as_a_model_file_error(tmp_path_factory, position,
                                                                   flip):
    path = tmp_path_factory.mktemp("flip") / "m.safetensors"
    save_file(path, model_type="Demo", config={"a": [1, 2.5, "x"]},
              tensors={"W": torch.arange(12.0).reshape(3, 4)})
    data = bytearray(path.read_bytes())
    index = int(position * len(data))
    data[index] ^= flip
    path.write_bytes(bytes(data))
    try:
        load_file(path)
    except ModelFileError:
        return
    # The only change that can still load is one inside JSON whitespace padding.
    assert data[index] ^ flip == ord(" "), f"byte {index} changed and the file still loaded"
