"""Batch sources: exact batches and draws, memory-mapped and sparse data gathered one batch at a
time, the loop's use of sources, and as_source."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import sparse
from torch import nn

from deepbelief.core.network import FeedForwardDBN
from deepbelief.core.rbm import RBMModule
from deepbelief.learning.contrastive import RBMObjective, make_rule
from deepbelief.learning.supervised import SupervisedObjective
from deepbelief.training.loop import fit_epochs, make_optimizer
from deepbelief.training.sources import (
    ArraySource,
    BatchSource,
    SparseSource,
    TensorSource,
    as_source,
)

torch.set_num_threads(1)

N, D = 10, 3
X = np.arange(N * D, dtype=np.float64).reshape(N, D) / (N * D)  # row i starts with i / N
Y = np.arange(N) % 3


def _sources(tmp_path) -> dict[str, BatchSource]:
    """The same (X, y) behind every kind of source."""
    np.save(tmp_path / "x.npy", X)
    np.save(tmp_path / "y.npy", Y)
    return {
        "tensor": TensorSource(torch.tensor(X, dtype=torch.float32), torch.tensor(Y)),
        "array": ArraySource(X, Y),
        "npy": ArraySource.from_npy(tmp_path / "x.npy", tmp_path / "y.npy"),
        "sparse": SparseSource(sparse.csr_matrix(X), Y),
    }


KINDS = ["tensor", "array", "npy", "sparse"]


def _epoch(source, batch_size=3, seed=4):
    return list(source.batches(batch_size, torch.Generator().manual_seed(seed)))


# -- the batches of one epoch ---------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_batches_are_the_seeded_permutation_in_order(kind, tmp_path):
    source = _sources(tmp_path)[kind]
    order = torch.randperm(N, generator=torch.Generator().manual_seed(4))
    x, y = torch.tensor(X, dtype=torch.float32), torch.tensor(Y)
    batches = _epoch(source)
    assert [b[0].shape[0] for b in batches] == [3, 3, 3, 1]  # the last batch is ragged
    for lo, (bx, by) in zip(range(0, N, 3), batches, strict=True):
        index = order[lo : lo + 3]
        assert bx.dtype == torch.float32 and by.dtype == torch.int64
        assert bx.device == source.device == torch.device("cpu")
        assert torch.equal(bx, x[index]) and torch.equal(by, y[index])


@pytest.mark.parametrize("kind", KINDS)
def test_every_row_once_per_epoch_and_a_new_order_each_epoch(kind, tmp_path):
    source = _sources(tmp_path)[kind]
    generator = torch.Generator().manual_seed(0)
    epochs = []
    for _ in range(3):
        batches = list(source.batches(4, generator))
        rows = torch.cat([b[0][:, 0] for b in batches]) * N  # row i starts with i / N
        assert sorted(round(r) for r in rows.tolist()) == list(range(N))
        labels = torch.cat([b[1] for b in batches])
        assert torch.equal(labels, torch.tensor(Y)[rows.round().long()])  # rows stay aligned
        epochs.append(rows)
    assert not torch.equal(epochs[0], epochs[1]) and not torch.equal(epochs[1], epochs[2])


@pytest.mark.parametrize("kind", KINDS)
def test_one_draw_per_epoch_taken_before_the_first_batch(kind, tmp_path):
    # The objective shares the generator: the source must draw exactly one permutation, and
    # before it hands out the first batch.
    source = _sources(tmp_path)[kind]
    generator = torch.Generator().manual_seed(7)
    expected = torch.Generator().manual_seed(7)
    torch.randperm(N, generator=expected)
    batches = source.batches(3, generator)
    next(batches)
    assert torch.equal(generator.get_state(), expected.get_state())
    list(batches)
    assert torch.equal(generator.get_state(), expected.get_state())


@pytest.mark.parametrize("kind", KINDS)
def test_head_is_the_leading_rows(kind, tmp_path):
    source = _sources(tmp_path)[kind]
    assert source.n_samples == N
    x, y = source.head(4)
    assert torch.equal(x, torch.tensor(X[:4], dtype=torch.float32))
    assert torch.equal(y, torch.tensor(Y[:4]))
    assert source.head(100)[0].shape == (N, D)


# -- gathered one batch at a time --------------------------------------------------------------


class _SpyArray:
    """An array that records which rows each read asks for."""

    def __init__(self, array):
        self.array, self.reads = array, []
        self.shape, self.dtype = array.shape, array.dtype

    def __getitem__(self, key):
        self.reads.append(np.arange(self.shape[0])[key])
        return self.array[key]


def test_array_source_reads_only_each_batchs_rows_in_increasing_order():
    spy = _SpyArray(X)
    source = ArraySource(spy)
    batches = _epoch(source, batch_size=4)
    assert [len(r) for r in spy.reads] == [4, 4, 2]
    assert all(np.all(np.diff(r) > 0) for r in spy.reads)  # sorted for the page cache
    for rows, (bx,) in zip(spy.reads, batches, strict=True):
        assert sorted(rows.tolist()) == sorted(round(v) for v in (bx[:, 0] * N).tolist())


def test_npy_files_stay_memory_mapped_through_training(tmp_path):
    data = np.tile(np.eye(2, 8, dtype=np.float32), (16, 1))
    np.save(tmp_path / "x.npy", data)
    source = ArraySource.from_npy(tmp_path / "x.npy")
    assert isinstance(source.arrays[0], np.memmap) and source.arrays[0].mode == "r"
    weights = [_train_rbm(s) for s in (source, (torch.from_numpy(data),))]
    assert isinstance(source.arrays[0], np.memmap)  # never replaced by a loaded copy
    assert torch.equal(weights[0], weights[1])


def test_memmap_batches_equal_the_in_memory_ones(tmp_path):
    mm = np.memmap(tmp_path / "x.dat", dtype=np.float32, mode="w+", shape=X.shape)
    mm[:] = X
    mm.flush()
    source = ArraySource(np.memmap(tmp_path / "x.dat", dtype=np.float32, mode="r",
                                   shape=X.shape))
    for (a,), (b,) in zip(_epoch(source), _epoch(ArraySource(X)), strict=True):
        assert torch.equal(a, b)


def test_sparse_source_densifies_one_batch_at_a_time(monkeypatch):
    densified = []
    toarray = sparse.csr_matrix.toarray

    def spy(self, *args, **kwargs):
        densified.append(self.shape[0])
        return toarray(self, *args, **kwargs)

    monkeypatch.setattr(sparse.csr_matrix, "toarray", spy)
    source = SparseSource(sparse.coo_matrix(X))  # any format; kept as CSR
    assert source.arrays[0].format == "csr"
    batches = _epoch(source, batch_size=4)
    assert densified == [4, 4, 2]
    dense = _epoch(TensorSource(torch.tensor(X, dtype=torch.float32)), batch_size=4)
    for (a,), (b,) in zip(batches, dense, strict=True):
        assert torch.equal(a, b)


# -- training through a source ---------------------------------------------------------------


def _train_rbm(data, seed=3):
    rbm = RBMModule(8, 4)
    rbm.reset_parameters(torch.Generator().manual_seed(0))
    fit_epochs(RBMObjective(rbm, make_rule("pcd")), data, make_optimizer(rbm, "sgd", 0.1, 0.5),
               epochs=3, batch_size=5, generator=torch.Generator().manual_seed(seed))
    return rbm.weight.detach().clone()


def test_training_through_any_source_gives_identical_rbm_weights():
    data = np.tile(np.eye(2, 8), (16, 1))  # float64 rows of two binary patterns, 32 samples
    reference = _train_rbm((torch.tensor(data, dtype=torch.float32),))
    assert torch.equal(_train_rbm(ArraySource(data)), reference)
    assert torch.equal(_train_rbm(SparseSource(sparse.csr_matrix(data))), reference)
    assert not torch.equal(_train_rbm(ArraySource(data), seed=4), reference)


def test_supervised_training_through_sources_gives_identical_weights():
    rng = np.random.default_rng(0)
    x, y = rng.random((23, 5)), rng.integers(0, 3, 23)

    def train(data):
        net = FeedForwardDBN([5, 4], ["sigmoid"], 3, dropout=0.2, device="cpu")
        init = torch.Generator().manual_seed(0)
        with torch.no_grad():
            for p in net.parameters():
                p.copy_(0.1 * torch.randn(p.shape, generator=init))
        state = fit_epochs(SupervisedObjective(net, nn.CrossEntropyLoss()), data,
                           make_optimizer(net, "sgd", 0.5, 0.9), epochs=3, batch_size=4,
                           generator=torch.Generator().manual_seed(1))
        return [p.detach().clone() for p in net.parameters()], state.history

    reference, history = train((torch.tensor(x, dtype=torch.float32), torch.tensor(y)))
    for source in (ArraySource(x, y), SparseSource(sparse.csr_matrix(x), y)):
        weights, other = train(source)
        assert all(torch.equal(a, b) for a, b in zip(weights, reference, strict=True))
        assert [r["loss"] for r in other] == [r["loss"] for r in history]


def test_loop_monitors_the_head_and_shows_callbacks_the_data():
    class Objective:
        module = nn.Linear(2, 1)

        def gradients_(self, batch, generator):
            for p in self.module.parameters():
                p.grad = torch.zeros_like(p)

        def monitor(self, data, generator):
            self.monitored = data
            return {"n": torch.tensor(float(data[0].shape[0]))}

    class Seen:
        def on_train_begin(self, context):
            self.data = context.data

        def on_epoch_end(self, context):
            return False

    x = np.arange(20.0).reshape(10, 2)
    for data in ((torch.tensor(x),), ArraySource(x)):
        objective, seen = Objective(), Seen()
        state = fit_epochs(objective, data, torch.optim.SGD(objective.module.parameters(), 0.1),
                           epochs=1, batch_size=4, generator=None, monitor_size=3,
                           callbacks=[seen])
        assert state.history[0]["n"] == 3.0
        assert torch.equal(objective.monitored[0], torch.tensor(x[:3], dtype=torch.float32))
        if isinstance(data, ArraySource):
            assert seen.data is data
        else:  # tensors: the tuple of tensors callbacks have always seen
            assert isinstance(seen.data, tuple) and seen.data[0] is data[0]


def test_loop_accepts_any_object_following_the_protocol():
    class Constant:
        """Two fixed batches per epoch; no shuffling."""

        n_samples, device = 4, torch.device("cpu")

        def batches(self, batch_size, generator):
            yield from ((torch.ones(2, 2),), (torch.ones(2, 2),))

        def head(self, n):
            return (torch.ones(min(n, 4), 2),)

    class Objective:
        module = nn.Linear(2, 1)
        calls = 0

        def gradients_(self, batch, generator):
            Objective.calls += 1
            for p in self.module.parameters():
                p.grad = torch.ones_like(p)
            return torch.tensor(2.0)

    assert isinstance(Constant(), BatchSource)
    objective = Objective()
    state = fit_epochs(objective, Constant(), torch.optim.SGD(objective.module.parameters(), 0.1),
                       epochs=3, batch_size=99, generator=None)
    assert Objective.calls == 6 and [r["loss"] for r in state.history] == [2.0] * 3


# -- construction and as_source --------------------------------------------------------------


def test_as_source_wraps_tensors_and_passes_sources_through():
    x, y = torch.zeros(4, 2), torch.arange(4)
    for data in ((x, y), [x, y]):
        source = as_source(data)
        assert isinstance(source, TensorSource)
        assert source.tensors[0] is x and source.tensors[1] is y  # no copy
    assert as_source((x,), device="cpu").tensors[0] is x
    array = ArraySource(np.zeros((4, 2)))
    assert as_source(array) is array and as_source(array, device="cpu") is array
    with pytest.raises(ValueError, match="on cpu, but training runs on meta"):
        as_source(array, device="meta")


@pytest.mark.parametrize(("data", "hint"), [
    (np.zeros((3, 2)), "wrap NumPy arrays and memmaps in ArraySource"),
    (sparse.csr_matrix(np.eye(2)), "scipy.sparse matrices in SparseSource"),
    (torch.zeros(3, 2), r"wrap a single tensor in a tuple: \(X,\)"),
    ((), "ArraySource"),
    ((np.zeros(3),), "not tuple"),
    (None, "not NoneType"),
])
def test_as_source_type_error_says_what_is_accepted(data, hint):
    with pytest.raises(TypeError, match=r"tuple or list of torch tensors .*BatchSource") as info:
        as_source(data)
    assert info.match(hint)


def test_sources_check_their_arrays():
    with pytest.raises(ValueError, match=r"same number of rows; got \[3, 2\]"):
        TensorSource(torch.zeros(3, 1), torch.zeros(2))
    with pytest.raises(ValueError, match=r"same number of rows; got \[3, 2\]"):
        ArraySource(np.zeros((3, 1)), np.zeros(2))
    with pytest.raises(ValueError, match="at least one array"):
        ArraySource()
    with pytest.raises(TypeError, match="dtype <U1"):
        ArraySource(np.array(["a", "b"]))
    with pytest.raises(TypeError, match="SparseSource"):
        ArraySource(sparse.csr_matrix(np.eye(2)))
    with pytest.raises(TypeError, match="SparseSource"):
        SparseSource(sparse.csr_matrix(np.eye(2)), sparse.csr_matrix(np.eye(2)))
    with pytest.raises(TypeError, match="use ArraySource"):
        SparseSource(np.eye(2))


def test_boolean_and_integer_arrays_become_float32_and_int64():
    source = ArraySource(np.eye(3, dtype=bool), np.arange(3, dtype=np.uint8))
    x, y = source.head(3)
    assert x.dtype == torch.float32 and torch.equal(x, torch.eye(3))
    assert y.dtype == torch.int64 and y.tolist() == [0, 1, 2]


def test_loop_rejects_other_data_with_the_accepted_kinds():
    objective = RBMObjective(RBMModule(2, 1), make_rule("cd"))
    with pytest.raises(TypeError, match="wrap NumPy arrays and memmaps in ArraySource"):
        fit_epochs(objective, np.zeros((4, 2)), make_optimizer(objective.module, "sgd", 0.1),
                   epochs=1, batch_size=2, generator=None)
