"""Training on data larger than memory (issue 15, item 2): a memmap fit keeps the process's
peak resident memory bounded and gives the in-memory fit's model; greedy stacking maps the
data up lazily or through a cache file; ``partial_fit`` and the command line read files
memory-mapped.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from deepbelief import RBM, DBNClassifier, DBNTransformer
from deepbelief.cli import main
from deepbelief.cli.io import load_data
from deepbelief.core.rbm import RBMModule
from deepbelief.estimators._large_checks import check_large_X
from deepbelief.training.checkpoint import data_digest
from deepbelief.training.file_rows import FileRows
from deepbelief.training.greedy import RBMConfig, pretrain_stack
from deepbelief.training.lazy_stack import UpPassSource, stack_cache, stacked_input
from deepbelief.training.sources import ArraySource

# A file of 64000 x 784 float32 values (200 MB); the fits may add at most this much to the
# peak resident memory of the process (the imports and a warm-up fit come before).
ROWS, COLUMNS, BUDGET_MB = 64_000, 784, 120

_CHILD = textwrap.dedent("""
    import json, sys
    import numpy as np, torch
    from deepbelief import RBM, DBNTransformer
    path, mode, out = sys.argv[1:4]
    torch.set_num_threads(1)
    RBM(n_components=2, n_iter=1, device="cpu").fit(np.eye(4))  # torch's one-time costs
    def status(key):  # KiB
        return int(dict(line.split(":", 1) for line in open("/proc/self/status"))[key].split()[0])
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # the peak RSS (VmHWM) restarts from the RSS now, forgetting the imports'
    before = status("VmRSS")
    X = np.load(path, mmap_mode="r") if mode == "memmap" else np.load(path)
    kw = dict(batch_size=500, random_state=0, device="cpu")
    rbm = RBM(n_components=16, n_iter=1, **kw).fit(X)
    dbn = DBNTransformer((16, 8), pretrain_epochs=2, **kw).fit(X)  # layer 2: a cache file
    peak = status("VmHWM")
    np.savez(out, rbm=rbm.rbm_.weight.detach().numpy(), **{f"dbn{i}": r.weight.detach().numpy()
                                                 for i, r in enumerate(dbn.rbms_)})
    print(json.dumps({"added_mb": (peak - before) / 1024}))
""")


def _binary(rows: int, columns: int, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random((rows, columns)) < 0.3).astype(np.float32)


@pytest.fixture(scope="module")
def big_file(tmp_path_factory):
    """A 200 MB .npy file of binary rows, written chunk by chunk."""
    path = tmp_path_factory.mktemp("big") / "x.npy"
    X = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(ROWS, COLUMNS))
    for lo in range(0, ROWS, 8000):
        X[lo : lo + 8000] = _binary(8000, COLUMNS, seed=lo)
    X.flush()
    del X
    return path


def _fit_in_child(path, mode: str, out) -> float:
    """The MB a child's fits add to its peak RSS. glibc's malloc is told to map every block
    of 128 KiB or more on its own (its default threshold grows with the blocks freed, and the
    heap then keeps freed memory by chance: ~100 MB that vary from run to run), so that the
    measure counts what the fit holds."""
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072"}
    done = subprocess.run([sys.executable, "-c", _CHILD, str(path), mode, str(out)],
                          capture_output=True, text=True, timeout=300, check=False, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])["added_mb"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/self: Linux")
def test_memmap_fit_of_a_file_larger_than_the_budget_stays_within_it(big_file, tmp_path):
    """An RBM and a 2-layer DBN trained from a 200 MB memmap add less than 120 MB to the
    peak RSS, and their weights are bit-identical to the in-memory fits'; the same fits on
    the loaded array add more than the file's size (so the measure can fail).

    The peak is the kernel's VmHWM, reset after the imports (``/proc/self/clear_refs``):
    ``ru_maxrss`` cannot be reset, and importing torch while the page cache is cold (just
    after the 200 MB were written) peaks higher than the fit."""
    size_mb = big_file.stat().st_size / 2**20
    assert size_mb > BUDGET_MB
    added_memmap = _fit_in_child(big_file, "memmap", tmp_path / "memmap.npz")
    added_memory = _fit_in_child(big_file, "memory", tmp_path / "memory.npz")
    assert added_memmap < BUDGET_MB, f"the memmap fit added {added_memmap:.0f} MB"
    assert added_memory > size_mb, f"the in-memory fit added only {added_memory:.0f} MB"
    memmap, memory = np.load(tmp_path / "memmap.npz"), np.load(tmp_path / "memory.npz")
    for name in ("rbm", "dbn0", "dbn1"):
        np.testing.assert_array_equal(memmap[name], memory[name], err_msg=name)


def _layers(data, configs, seed=0):
    layers, _ = pretrain_stack(data, configs, torch.Generator().manual_seed(seed))
    return [layer.weight for layer in layers]


@pytest.fixture
def npy(tmp_path):
    """A .npy file of 600 binary rows and its in-memory copy."""
    X = _binary(600, 20)
    np.save(tmp_path / "x.npy", X)
    return np.load(tmp_path / "x.npy", mmap_mode="r"), X


CONFIGS = [RBMConfig(8, epochs=2, batch_size=32), RBMConfig(6, epochs=3, batch_size=32),
           RBMConfig(4, epochs=2, batch_size=32)]


def test_cached_stacking_is_bit_identical_to_in_memory_stacking(npy):
    """Three layers stacked on a memmap through cache files equal the in-memory stack."""
    memmap, X = npy
    expected = _layers(torch.from_numpy(X), CONFIGS)
    with stack_cache("memmap"):
        got = _layers(ArraySource(memmap), CONFIGS)
    for a, b in zip(expected, got, strict=True):
        assert torch.equal(a, b)


def test_lazy_stacking_maps_batches_up_and_stays_within_float32_rounding(npy):
    """Lazy stacking never writes a file; the layers above the first start from a mean
    summed in float64, so they match the in-memory stack to 1e-4, not bit for bit."""
    memmap, X = npy
    expected = _layers(torch.from_numpy(X), CONFIGS)
    with stack_cache("lazy"):
        got = _layers(ArraySource(memmap), CONFIGS)
    assert torch.equal(expected[0], got[0])  # the first layer reads the file itself
    for a, b in zip(expected[1:], got[1:], strict=True):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=0)


def test_the_automatic_rule_caches_on_the_cpu_when_the_layer_above_trains_long(npy):
    """'auto': a cache file for two epochs or more on the CPU, a lazy up-pass for one; the
    lazy source composes the layers below rather than nesting sources."""
    memmap, _ = npy
    source, rbm = ArraySource(memmap), RBMModule(20, 5)
    assert type(stacked_input(source, [rbm], epochs=2)).__name__ == "ArraySource"
    lazy = stacked_input(source, [rbm], epochs=1)
    assert isinstance(lazy, UpPassSource)
    upper = stacked_input(lazy, [RBMModule(5, 3)], epochs=1)
    assert upper.source is source and len(upper.layers) == 2
    with pytest.raises(ValueError, match="mode must be one of"):
        with stack_cache("disk"):
            pass
    with pytest.raises(ValueError, match="create it first"):
        with stack_cache("memmap", directory=str(npy[0].filename) + ".missing"):
            pass


def test_stack_cache_files_go_to_the_chosen_folder_and_are_deleted(npy, tmp_path):
    """Cache files land in stack_cache's folder and disappear with the fitted stack."""
    memmap, _ = npy
    folder = tmp_path / "cache"
    folder.mkdir()
    seen = []
    with stack_cache("memmap", directory=folder):
        cached = stacked_input(ArraySource(memmap), [RBMModule(20, 5)], epochs=2)
        seen = list(folder.iterdir())
    assert [p.name.startswith("deepbelief-stack-") for p in seen] == [True]
    del cached
    import gc

    gc.collect()
    assert not list(folder.iterdir())


def test_partial_fit_on_a_memmap_follows_partial_fit_in_memory(npy):
    """partial_fit, one epoch of every layer per call: an RBM's exactly as in memory; a
    DBNTransformer's layers above the first read the file mapped up lazily (one epoch does
    not pay for a cache file), so they match within float32 rounding of their start."""
    memmap, X = npy
    kw = dict(batch_size=32, random_state=0, device="cpu")
    a, b = RBM(5, **kw), RBM(5, **kw)
    c, d = DBNTransformer((6, 4), **kw), DBNTransformer((6, 4), **kw)
    for _ in range(2):
        a.partial_fit(X)
        b.partial_fit(memmap)
        c.partial_fit(X)
        d.partial_fit(memmap)
    assert torch.equal(a.rbm_.weight, b.rbm_.weight)
    assert torch.equal(c.rbms_[0].weight, d.rbms_[0].weight)
    torch.testing.assert_close(c.rbms_[1].weight, d.rbms_[1].weight, atol=1e-5, rtol=0)
    assert [len(h) for h in d.history_["pretrain"]] == [2, 2]


def test_a_checkpoint_digest_of_a_file_equals_that_of_the_same_data_in_memory(npy):
    """The digest read chunk by chunk is the in-memory digest: a run checkpointed on the
    loaded array resumes from the file, and the labels count."""
    memmap, X = npy
    y = (X[:, 0] > 0).astype(np.int64)
    large, checked_y = check_large_X(DBNClassifier(), memmap, reset=True, y=y)
    assert large.digest(checked_y) == data_digest(X, checked_y)
    assert large.digest() != data_digest(X, checked_y)


def test_resume_from_a_checkpoint_of_an_in_memory_fit_with_the_memmap(npy, tmp_path):
    """A fit checkpointed on the array resumes on the memmap (same data, same digest)."""
    memmap, X = npy
    path = tmp_path / "ckpt.pt"
    kw = dict(n_iter=2, batch_size=32, random_state=0, device="cpu")
    whole = RBM(5, **kw).fit(X)
    RBM(5, **kw).fit(X, checkpoint=path)
    resumed = RBM(5, **kw).fit(memmap, checkpoint=path, resume=True)
    assert torch.equal(resumed.rbm_.weight, whole.rbm_.weight)


def test_file_rows_read_what_indexing_reads_without_mapping_pages(npy, tmp_path):
    """preadv reads the rows of a memmap and of its row views as indexing does; other
    arrays are read by indexing."""
    memmap, X = npy
    index = np.array([0, 3, 4, 99, 599])
    np.testing.assert_array_equal(FileRows.of(memmap).read(index), X[index])
    np.testing.assert_array_equal(FileRows.of(memmap[10:50]).read(slice(5, 9)), X[15:19])
    np.testing.assert_array_equal(FileRows.of(memmap[::2]).read(index[:3]), X[::2][index[:3]])
    np.testing.assert_array_equal(FileRows.of(memmap[:, 2:5]).read(index), X[index, 2:5])
    assert FileRows.of(X) is None and FileRows.of(memmap.T) is None


def test_the_command_line_memory_maps_a_npy_file_and_trains_on_it(npy, tmp_path, capsys):
    """--data file.npy is opened memory-mapped (never loaded), and train fits on it."""
    data = load_data(str(tmp_path / "x.npy"))
    assert isinstance(data.X, np.memmap)
    status = main(["train", "--kind", "rbm", "--data", str(tmp_path / "x.npy"), "--layers",
                   "5", "--epochs", "1", "--no-history", "-o", str(tmp_path / "m.st")])
    assert status == 0
    assert "600 samples x 20 features" in capsys.readouterr().out
