"""Data-parallel training on torch.distributed: two CPU processes (gloo, localhost) started
by torchrun train what one process trains with the same global batch and seed.

Two torchrun launches serve every multi-process test: the command line (``deepbelief
train`` under torchrun) and this file run as a worker (``python -m torch.distributed.run
... tests/test_distributed.py worker OUT``), which fits each of :data:`CASES` in the process
group and writes what the tests compare. The single-process references are fitted here.

Tolerance: weights agree within :data:`ATOL` (absolute; the weights are of order 0.1 to
10). Each process sums the statistics of its rows and the all-reduce adds the sums, in
another order than one process's matrix product: float32 rounding of about 1e-7 per step.
The random numbers are the same (every process draws the global batch's and keeps its
rows), so no sample differs unless a probability lies within that rounding of its draw.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from deepbelief import RBM, DBNAutoencoder, DBNClassifier, DBNTransformer, GenerativeDBN, load
from deepbelief.callbacks import Callback, ProgressBar
from deepbelief.core.coins import flip_coins
from deepbelief.core.rbm import RBMModule
from deepbelief.core.sharding import (
    RowShard,
    categorical,
    gather_rows,
    normal,
    row_shard,
    split_rows,
    uniform,
)
from deepbelief.core.units import Bernoulli, Gaussian, Softmax
from deepbelief.datasets import load_digits
from deepbelief.evaluation import ais_log_partition
from deepbelief.training.distributed import (
    ShardedSource,
    data_parallel,
    is_writer,
    load_objective_state,
    objective_state,
)
from deepbelief.training.loop import warm_up_optimizers
from deepbelief.training.sources import TensorSource

#: Largest absolute difference allowed between the weights of 2 processes and of 1.
ATOL = 1e-5
_HERE = Path(__file__).resolve()
_SRC = _HERE.parents[1] / "src"


def _flat(*modules) -> np.ndarray:
    return np.concatenate([p.detach().cpu().numpy().ravel() for m in modules
                           for p in m.parameters()])


def _digits(n: int):
    X, y = load_digits()
    return X[:n], y[:n]


#: name -> fit on the digits, returning the trained weights. 403 rows make a last batch of
#: 19 (split 9/10), 385 rows one of a single row (one process trains a zero-weight row).
CASES = {
    "stack_cd": lambda: _flat(*DBNTransformer(
        (16, 8), pretrain_epochs=2, batch_size=32, random_state=0).fit(_digits(403)[0]).rbms_),
    "rbm_pcd": lambda: _flat(RBM(16, n_iter=3, batch_size=31, method="pcd", random_state=1)
                             .fit(_digits(403)[0]).rbm_),
    "rbm_sample_inputs": lambda: _flat(RBM(16, n_iter=2, batch_size=32, method="cd",
                                           sample_inputs=True, random_state=2)
                                       .fit(_digits(385)[0]).rbm_),
    "classifier_ddp": lambda: _flat(DBNClassifier(
        (16,), pretrain_epochs=1, max_iter=3, batch_size=32, learning_rate_init=0.01,
        dropout=0.0, random_state=0).fit(*_digits(385)).network_),
    "classifier_early_stopping": lambda: _flat(DBNClassifier(
        (16,), pretrain_epochs=1, max_iter=4, learning_rate_init=0.01, early_stopping=True,
        validation_fraction=0.2, n_iter_no_change=1, batch_size=32, dropout=0.0,
        random_state=0)
        .fit(*_digits(403)).network_),
    "generative_updown": lambda: _flat(*GenerativeDBN(
        (16, 8), pretrain_epochs=1, updown_epochs=2, batch_size=32, random_state=0)
        .fit(*_digits(403)).rbms_),
    "autoencoder": lambda: _flat(DBNAutoencoder(
        (16, 4), pretrain_epochs=1, max_iter=2, batch_size=32, random_state=0)
        .fit(_digits(385)[0]).network_),
    "autoencoder_lbfgs": lambda: _flat(DBNAutoencoder(
        (16, 4), pretrain_epochs=1, max_iter=2, solver="lbfgs", batch_size=100,
        random_state=0).fit(_digits(403)[0]).network_),
}

#: The run interrupted and resumed: PCD chains in both layers, a smaller last batch.
RESUMED = {"hidden_layer_sizes": (16, 8), "pretrain_epochs": 3, "pretrain_method": "pcd",
           "batch_size": 31, "random_state": 2}


def _ais_rbm() -> RBMModule:
    rbm = RBMModule(64, 12)
    rbm.reset_parameters(torch.Generator().manual_seed(5))
    with torch.no_grad():
        rbm.weight.mul_(30)  # far from the base rate: the runs' weights differ
    return rbm


def _ais(**options):
    return ais_log_partition(_ais_rbm(), n_runs=9, betas=np.linspace(0, 1, 200),
                             base="uniform", random_state=0, **options)


class Interrupt(Callback):
    """Raises KeyboardInterrupt after one epoch of one layer (on every process alike)."""

    def __init__(self, layer: int, epoch: int) -> None:
        self.layer, self.epoch = layer, epoch

    def on_epoch_end(self, context):
        if context.layer == self.layer and context.epoch == self.epoch:
            raise KeyboardInterrupt


# -- the worker (run by torchrun) -----------------------------------------------------------
def _worker(out: Path) -> None:
    """Every multi-process check of this file, in one process group."""
    warm_up_optimizers()  # torch._dynamo imported after the group's start aborts some exits
    torch.distributed.init_process_group("gloo")
    rank = torch.distributed.get_rank()
    results = {name: fit() for name, fit in CASES.items()}
    X = _digits(403)[0]
    stopped = DBNTransformer(**RESUMED, callbacks=[Interrupt(1, 1)])
    try:
        stopped.fit(X, checkpoint=out / "run.ckpt")
    except KeyboardInterrupt:
        pass
    stopped = DBNTransformer(**RESUMED).fit(X, checkpoint=out / "run.ckpt", resume=True)
    results["resumed"] = _flat(*stopped.rbms_)
    results["uninterrupted"] = _flat(*DBNTransformer(**RESUMED).fit(X).rbms_)
    results["ais_split"] = _ais().log_weights
    results["ais_whole"] = _ais(distributed=False).log_weights
    lines: list[str] = []
    # a stop that only rank 1 asks for after its first epoch: rank 0 decides for both
    lone_stop = [lambda epoch, record: rank == 1 and epoch >= 1]
    model = RBM(8, n_iter=3, batch_size=32, random_state=0,
                callbacks=[ProgressBar(bar=False, sink=lines.append, every=1), *lone_stop])
    model.fit(X).save(out / "model.safetensors")  # every process saves: rank 0 writes
    network = DBNClassifier((8,), pretrain_epochs=1, max_iter=1, random_state=0).fit(
        *_digits(64)).network_
    network(torch.zeros(2, 64)).sum().backward()  # no DDP hook is left on the network
    try:
        RBM(4, n_iter=1, batch_size=1, random_state=0).fit(X[:8])
        refused = ""
    except ValueError as exc:
        refused = str(exc)
    RBM(4, n_iter=1, batch_size=2, random_state=0).fit(X[:8])  # as the message advises
    mismatches = {}
    for case, (rows, batch, flip) in {"rows": (40 - 10 * rank, 8, False),
                                      "batch": (40, 8 + 2 * rank, False),
                                      "values": (40, 8, rank == 1)}.items():
        data = X[:rows][::-1] if flip else X[:rows]
        try:
            RBM(4, n_iter=1, batch_size=batch, random_state=0).fit(data)
            mismatches[case] = ""
        except ValueError as exc:
            mismatches[case] = str(exc)
    try:
        RBM(4, n_iter=1, batch_size=8, random_state=0).fit([X[:20], X[20:40]])
    except ValueError as exc:
        mismatches["stream"] = str(exc)
    if rank == 0:
        np.savez(out / "weights.npz", **results)
    (out / f"rank{rank}.json").write_text(json.dumps(
        {"progress_lines": len(lines), "epochs": len(model.history_), "writer": is_writer(),
         "refused": refused, "mismatches": mismatches}))
    torch.distributed.destroy_process_group()


def _torchrun(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(_SRC)}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
               "--rdzv-backend=c10d", "--rdzv-endpoint=localhost:0", *args]
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture(scope="module")
def worker(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("distributed")
    _torchrun(str(_HERE), "worker", str(out), cwd=out)
    return out


@pytest.fixture(scope="module")
def two_processes(worker) -> dict:
    with np.load(worker / "weights.npz") as saved:
        return dict(saved)


# -- two processes against one --------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(CASES))
def test_two_processes_train_what_one_process_trains(name, two_processes):
    """Each estimator (stacks, PCD, dynamic binarisation, DDP fine-tuning with and without
    a validation split, up-down with labels, the autoencoder with Adam and L-BFGS) gives
    the single-process weights, also when a process's share of the last batch is empty."""
    np.testing.assert_allclose(two_processes[name], CASES[name](), rtol=0, atol=ATOL)


def test_distributed_run_resumes_exactly(two_processes):
    """A distributed run interrupted in its second layer and resumed from its checkpoint
    (every process reads it; the PCD chains are gathered and split again) ends with the
    weights of an uninterrupted distributed run, and of one process."""
    np.testing.assert_array_equal(two_processes["resumed"], two_processes["uninterrupted"])
    single = _flat(*DBNTransformer(**RESUMED).fit(_digits(403)[0]).rbms_)
    np.testing.assert_allclose(two_processes["resumed"], single, rtol=0, atol=ATOL)


def test_ais_split_across_processes_gives_the_single_process_estimate(two_processes):
    """AIS runs split across the processes (each draws its rows of every run's numbers,
    log weights gathered) give the log weights of all the runs on one process."""
    whole = _ais().log_weights
    np.testing.assert_allclose(two_processes["ais_split"], whole, rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(two_processes["ais_whole"], whole, rtol=1e-9, atol=1e-6)


def test_rank_zero_alone_writes_prints_and_decides(worker):
    """One model file and one checkpoint, no temporaries; progress lines on rank 0 only;
    a stop asked for by rank 1 alone is not taken (rank 0 decides for every process)."""
    files = sorted(p.name for p in worker.iterdir())
    assert files == ["model.safetensors", "rank0.json", "rank1.json", "run.ckpt",
                     "weights.npz"]
    ranks = [json.loads((worker / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["writer"] for r in ranks] == [True, False]
    assert ranks[0]["progress_lines"] == 3 and ranks[1]["progress_lines"] == 0
    assert [r["epochs"] for r in ranks] == [3, 3]


def test_batch_smaller_than_the_processes_is_refused_with_advice_that_works(worker):
    """A global mini-batch of 1 row cannot be split across 2 processes: the error says to
    give batch_size >= 2, and that fit then trains (in the worker)."""
    for rank in (0, 1):
        refused = json.loads((worker / f"rank{rank}.json").read_text())["refused"]
        assert "cannot be split across 2 processes: give batch_size >= 2" in refused


def test_processes_given_other_data_or_settings_are_refused_not_hung(worker):
    """Fewer rows, another batch size or other values on one process: every process
    raises the same clear error at the start of fit, instead of waiting at an all-reduce
    or aborting inside gloo."""
    for rank in (0, 1):
        found = json.loads((worker / f"rank{rank}.json").read_text())["mismatches"]
        assert found["rows"].startswith("Processes [1] were given other data or settings")
        assert "rows" in found["rows"] and "batch size" in found["batch"]
        assert "first rows' values" in found["values"]
        assert "same data, in the same order, and the same parameters" in found["values"]
        assert "is not split across processes: give every process the same" in \
            found["stream"]


def test_torchrun_deepbelief_train_writes_one_model_equal_to_one_process(tmp_path):
    """``torchrun --nproc_per_node=2 -m deepbelief train`` prints its summary once, writes
    one model, one history and one checkpoint, and the model is the single-process one."""
    from deepbelief.cli import main

    options = ["train", "--kind", "rbm", "--layers", "16", "--epochs", "3", "--batch-size",
               "31", "--data", "digits", "--limit", "403", "--device", "cpu",
               "--checkpoint", "run.ckpt", "-o", "model.safetensors"]
    done = _torchrun("-m", "deepbelief", *options, cwd=tmp_path)
    assert done.stdout.count("deepbelief train: RBM") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "model.history.json", "model.safetensors", "run.ckpt"]
    one = tmp_path / "one"
    one.mkdir()
    assert main([*options[:-4], "-o", str(one / "model.safetensors"), "-q"]) == 0
    np.testing.assert_allclose(_flat(load(tmp_path / "model.safetensors").rbm_),
                               _flat(load(one / "model.safetensors").rbm_), rtol=0, atol=ATOL)


# -- the pieces, in one process ---------------------------------------------------------------
def _generator() -> torch.Generator:
    return torch.Generator().manual_seed(0)


@pytest.mark.parametrize("draw", [
    lambda rows, g: uniform(rows.shape, g, rows.device, rows.dtype),
    lambda rows, g: normal(rows.shape, g, rows.device, rows.dtype),
    lambda rows, g: flip_coins(torch.sigmoid(rows), g),
    lambda rows, g: categorical(torch.softmax(rows, -1), g),
    lambda rows, g: Bernoulli().sample(rows, g),
    lambda rows, g: Gaussian().sample(rows, g),
    lambda rows, g: Softmax().sample(rows, g),
])
def test_row_shard_draws_are_rows_of_the_global_draw(draw):
    """Inside a row shard a draw gives this process's rows of the global batch's draw and
    leaves the generator where the global draw leaves it."""
    field = torch.randn(7, 5, generator=torch.Generator().manual_seed(1))
    g_whole, g_rows = _generator(), _generator()
    whole = draw(field, g_whole)
    with row_shard(RowShard(3, 7, 7)):
        rows = draw(field[3:], g_rows)
    assert torch.equal(rows, whole[3:])
    assert torch.equal(g_rows.get_state(), g_whole.get_state())


def test_draw_of_other_rows_inside_a_shard_is_refused():
    """A draw whose rows are not the shard's would put the processes' streams apart."""
    with row_shard(RowShard(0, 2, 4)), pytest.raises(RuntimeError, match="row shard of 2"):
        uniform((3, 2), _generator(), "cpu", torch.float32)


def test_split_rows_hands_out_every_row_once():
    for total in (1, 2, 5, 32, 33):
        for size in (1, 2, 3):
            blocks = [split_rows(total, r, size) for r in range(size)]
            assert [lo for lo, _ in blocks[1:]] == [hi for _, hi in blocks[:-1]]
            assert blocks[0][0] == 0 and blocks[-1][1] == total


def test_sharded_sources_of_two_ranks_make_the_global_batches():
    """Ranks 0 and 1 of 2 hand out the rows of the single-process batches between them; a
    last batch of one row goes to rank 1 and rank 0 trains on it with weight 0."""
    x = torch.arange(66.0).reshape(33, 2)
    whole = [b[0] for b in TensorSource(x).batches(8, _generator())]
    shards, weights = [], []
    for rank in (0, 1):
        source = ShardedSource(TensorSource(x), 8, rank=rank, size=2)
        batches = []
        for batch in source.batches(8, _generator()):
            batches.append(batch[0])
            weights.append(source.current[1])
        assert source.n_samples == sum(b.shape[0] for b in batches)
        shards.append(batches)
    for w, rows0, rows1 in zip(whole[:-1], *shards, strict=False):
        assert torch.equal(torch.cat([rows0, rows1]), w)
    assert torch.equal(shards[1][-1], whole[-1]) and weights[4] == 0.0 and weights[9] == 1.0
    assert ShardedSource(TensorSource(x), 8, rank=0, size=2).head(3)[0].equal(x[:3])


def test_one_process_trains_as_before():
    """Without a process group nothing is wrapped, gathered or withheld."""
    from deepbelief.learning.contrastive import RBMObjective, make_rule

    objective = RBMObjective(RBMModule(6, 3), make_rule("pcd"))
    data = (torch.zeros(8, 6),)
    with data_parallel(objective, data, 4, _generator()) as (same, rows):
        assert same is objective and rows is data
    objective.rule.chains = torch.ones(4, 6)
    state = objective_state(objective)
    assert torch.equal(state["rule"]["chains"], objective.rule.chains)
    load_objective_state(objective, {"rule": {"chains": torch.zeros(5, 6)}, "q": None})
    assert objective.rule.chains.shape == (5, 6)
    assert gather_rows(torch.ones(3, 2), 3).shape == (3, 2) and is_writer()


if __name__ == "__main__" and sys.argv[1:2] == ["worker"]:
    torch.set_num_threads(1)
    _worker(Path(sys.argv[2]))
