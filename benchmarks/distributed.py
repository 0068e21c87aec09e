"""RBM pretraining on 1 process and on N processes (torch.distributed, gloo, CPU).

CD-1 on 10,000 MNIST images (784 -> 500 hidden, global batch 128; synthetic binary images
when MNIST is absent), each setting in fresh processes: one process with every thread, then
``--processes`` processes started by torchrun with the threads shared out (with 2 cores: 2
threads in one process against 1 thread in each of 2). Prints the epoch time, the speed-up
and the communication share (seconds inside the step's all-reduce / seconds of the epoch),
and the per-step model: bytes all-reduced against FLOPs.

    python benchmarks/distributed.py [--quick] [--processes N] [--threads CORES] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from contextlib import nullcontext
from pathlib import Path

import numpy as np
from _common import (
    cd1_flops,
    load_mnist,
    parse_args,
    print_machine_info,
    print_table,
    quick_banner,
    write_json,
)

FULL = {"n_samples": 10_000, "n_hidden": 500, "epochs": 3}
QUICK = {"n_samples": 1_000, "n_hidden": 64, "epochs": 2}
BATCH_SIZE = 128
N_VISIBLE = 784


def _extra(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--processes", type=int, default=2,
                        help="processes of the data-parallel run (default: 2)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs per run")
    parser.add_argument("--worker", metavar="OUT", default=None, help=argparse.SUPPRESS)


def _data(n: int) -> tuple[np.ndarray, str]:
    """``n`` MNIST training images, or synthetic binary ones of the same shape."""
    try:
        X, _ = load_mnist("train", n)
        return X, "MNIST"
    except SystemExit:
        rng = np.random.default_rng(0)
        prototypes = rng.random((10, N_VISIBLE)) < 0.2
        flips = rng.random((n, N_VISIBLE)) < 0.05
        return (prototypes[rng.integers(0, 10, n)] ^ flips).astype(np.float32), "synthetic"


def _work(out: str, size: dict, epochs: int) -> None:
    """One process of a run (under torchrun, or alone): fit, then write its figures."""
    import torch

    import deepbelief
    from deepbelief.training.allreduce import COMMUNICATION
    from deepbelief.training.distributed import rank, torchrun_group, world_size

    threads = int(os.environ.get("OMP_NUM_THREADS", "1"))
    torch.set_num_threads(threads)
    X, source = _data(size["n_samples"])
    with torchrun_group("cpu") if "WORLD_SIZE" in os.environ else nullcontext():
        deepbelief.RBM(n_components=8, n_iter=1, batch_size=BATCH_SIZE, method="cd",
                       random_state=0).fit(X[:256])  # warm: first optimizer, first all-reduce
        COMMUNICATION.reset()
        model = deepbelief.RBM(n_components=size["n_hidden"], n_iter=epochs,
                               batch_size=BATCH_SIZE, method="cd", learning_rate=0.05,
                               random_state=0, device="cpu").fit(X)
        times = [r["time"] for r in model.history_]
        figures = {"rank": rank(), "processes": world_size(), "threads": threads,
                   "data": source, "epoch_times": times,
                   "allreduce_seconds": COMMUNICATION.seconds,
                   "allreduce_calls": COMMUNICATION.calls,
                   "allreduce_bytes": COMMUNICATION.bytes,
                   "reconstruction_error": model.history_[-1]["reconstruction_error"]}
        Path(f"{out}.rank{rank()}.json").write_text(json.dumps(figures), encoding="utf-8")


def _run(processes: int, threads: int, size: dict, epochs: int, args) -> list[dict]:
    """Start one setting in fresh processes; the figures of each of its processes."""
    folder = tempfile.mkdtemp(prefix="deepbelief-distributed-")
    out = os.path.join(folder, "figures")
    worker = [__file__, "--worker", out, "--epochs", str(epochs)] + (
        ["--quick"] if args.quick else [])
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    if processes == 1:
        command = [sys.executable, *worker]
    else:
        command = [sys.executable, "-m", "torch.distributed.run",
                   f"--nproc_per_node={processes}", "--rdzv-backend=c10d",
                   "--rdzv-endpoint=localhost:0", *worker]
    subprocess.run(command, env=env, check=True)
    return [json.loads(Path(f"{out}.rank{r}.json").read_text(encoding="utf-8"))
            for r in range(processes)]


def _summary(ranks: list[dict], single_epoch: float | None) -> dict:
    """Epoch time (median after the first epoch when there are several), speed-up over one
    process, communication share (mean over the processes)."""
    times = ranks[0]["epoch_times"]
    epoch = statistics.median(times[1:] if len(times) > 1 else times)
    total = sum(times)
    share = statistics.mean(r["allreduce_seconds"] / sum(r["epoch_times"]) for r in ranks)
    calls = ranks[0]["allreduce_calls"]
    return {"processes": ranks[0]["processes"], "threads_per_process": ranks[0]["threads"],
            "epoch_s": epoch, "speedup": (single_epoch / epoch) if single_epoch else 1.0,
            "allreduce_s_per_epoch": ranks[0]["allreduce_seconds"] / len(times),
            "communication_share": share if calls else 0.0,
            "mib_per_step": ranks[0]["allreduce_bytes"] / max(calls, 1) / 2**20,
            "steps": calls, "train_s": total, "data": ranks[0]["data"],
            "reconstruction_error": ranks[0]["reconstruction_error"]}


def main() -> int:
    args = parse_args(__doc__.splitlines()[0], _extra)
    size = QUICK if args.quick else FULL
    epochs = args.epochs or size["epochs"]
    if args.worker:
        _work(args.worker, size, epochs)
        return 0
    if args.processes < 2:
        raise SystemExit("--processes must be >= 2 (the comparison is with 1 process)")
    machine = print_machine_info()
    quick_banner(args)
    cores = args.threads or len(os.sched_getaffinity(0))
    per_process = max(cores // args.processes, 1)
    print(f"\nthreads: 1 process x {cores} threads (torch.set_num_threads({cores})) against "
          f"{args.processes} processes x {per_process} thread(s) each "
          f"(torch.set_num_threads({per_process}) per rank); {cores} cores in all")
    one = _summary(_run(1, cores, size, epochs, args), None)
    many = _summary(_run(args.processes, per_process, size, epochs, args), one["epoch_s"])
    n, h = size["n_samples"], size["n_hidden"]
    step_flops = cd1_flops(BATCH_SIZE, N_VISIBLE, h)
    step_bytes = 4 * (N_VISIBLE * h + N_VISIBLE + h)
    rows = [[r["processes"], r["threads_per_process"], r["epoch_s"], r["speedup"],
             r["allreduce_s_per_epoch"], f"{100 * r['communication_share']:.1f} %",
             r["mib_per_step"], r["steps"]] for r in (one, many)]
    print_table(f"CD-1 epoch, {n:,} {one['data']} images, 784 -> {h}, global batch "
                f"{BATCH_SIZE}, {epochs} epochs (median epoch after the first)",
                ["processes", "threads each", "epoch s", "speed-up", "all-reduce s/epoch",
                 "communication", "MiB/step", "all-reduces"], rows)
    print(f"\nper step: {step_flops / 1e6:,.0f} MFLOP of matrix products (split across the "
          f"processes) against {step_bytes / 2**20:.2f} MiB all-reduced "
          f"({step_flops / step_bytes:,.0f} FLOP per byte); reconstruction error "
          f"{one['reconstruction_error']:.3f} (1 process), {many['reconstruction_error']:.3f} "
          f"({args.processes})")
    write_json(args.json, "distributed", args, machine,
               {"one_process": one, "processes": many, "step_flops": step_flops,
                "step_bytes": step_bytes, "batch_size": BATCH_SIZE, "n_samples": n,
                "n_hidden": h, "epochs": epochs})
    return 0


if __name__ == "__main__":
    sys.exit(main())
