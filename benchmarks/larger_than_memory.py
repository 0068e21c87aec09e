"""Training from a memory-mapped file against training from the loaded array.

Writes a file of binary 784-pixel rows (MNIST images tiled with random pixel flips, or
synthetic prototypes when MNIST is absent), then fits an RBM and a 2-layer DBNTransformer in
fresh processes: from the array loaded in memory, and from the file memory-mapped (the DBN
both with its second layer's input cached in a temporary file, the CPU default, and mapped
up lazily batch by batch). Prints each fit's time, the peak resident memory it added (the
kernel's VmHWM, reset after the imports), and whether its weights equal the in-memory fit's.

    python benchmarks/larger_than_memory.py [--quick] [--rows N] [--hidden H]
        [--epochs E] [--dir FOLDER] [--threads T] [--json PATH]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import (
    load_mnist,
    parse_args,
    print_machine_info,
    print_table,
    quick_banner,
    write_json,
)

FULL = {"rows": 120_000, "hidden": 256, "epochs": 2}
QUICK = {"rows": 10_000, "hidden": 16, "epochs": 2}
BATCH_SIZE = 128
N_VISIBLE = 784
RUNS = [("RBM", "memory"), ("RBM", "memmap"), ("DBN", "memory"), ("DBN", "memmap"),
        ("DBN", "memmap-lazy")]


def _extra(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rows", type=int, default=None, help="rows of the file")
    parser.add_argument("--hidden", type=int, default=None,
                        help="hidden units of the RBM and the DBN's first layer (its second "
                        "has half)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs of every layer")
    parser.add_argument("--dir", default=None, help="folder of the data file (default: a "
                        "temporary folder, deleted afterwards)")
    parser.add_argument("--worker", nargs=3, metavar=("FILE", "MODEL", "DATA"),
                        help=argparse.SUPPRESS)


def _status_kib(key: str) -> int:
    with open("/proc/self/status", encoding="ascii") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith(key + ":"))


def _work(path: str, model: str, data: str, hidden: int, epochs: int) -> None:
    """One fit in this (fresh) process; prints its figures as JSON."""
    import torch

    from deepbelief import RBM, DBNTransformer
    from deepbelief.training.lazy_stack import stack_cache

    RBM(n_components=2, n_iter=1, device="cpu").fit(np.eye(4))  # torch's one-time costs
    with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
        fh.write("5")  # VmHWM restarts from the RSS now
    before = _status_kib("VmRSS")
    start = time.perf_counter()
    X = np.load(path) if data == "memory" else np.load(path, mmap_mode="r")
    kw = dict(batch_size=BATCH_SIZE, random_state=0, device="cpu")
    with stack_cache("lazy" if data == "memmap-lazy" else "auto"):
        if model == "RBM":
            fitted = RBM(hidden, n_iter=epochs, **kw).fit(X)
            weights = [fitted.rbm_.weight]
        else:
            fitted = DBNTransformer((hidden, hidden // 2), pretrain_epochs=epochs, **kw).fit(X)
            weights = [r.weight for r in fitted.rbms_]
    seconds = time.perf_counter() - start
    digest = hashlib.sha256(b"".join(w.detach().numpy().tobytes() for w in weights))
    print(json.dumps({"seconds": seconds, "added_mib": (_status_kib("VmHWM") - before) / 1024,
                      "weights": digest.hexdigest(), "threads": torch.get_num_threads()}))


def _write_file(path: Path, rows: int) -> str:
    """``rows`` binary images written chunk by chunk; returns where they come from."""
    try:
        images, _ = load_mnist("train", None)
        base, source = (images > 0.5).astype(np.float32), "MNIST (binarised, tiled)"
    except SystemExit:
        rng = np.random.default_rng(0)
        base = (rng.random((10, N_VISIBLE)) < 0.2).astype(np.float32)
        source = "synthetic prototypes"
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(rows, N_VISIBLE))
    rng = np.random.default_rng(1)
    for lo in range(0, rows, 10_000):
        n = min(10_000, rows - lo)
        picked = base[rng.integers(0, len(base), n)]
        out[lo : lo + n] = np.abs(picked - (rng.random(picked.shape) < 0.02))
    out.flush()
    del out
    return source


def _run(path: Path, model: str, data: str, args, size: dict) -> dict:
    command = [sys.executable, __file__, "--worker", str(path), model, data,
               "--hidden", str(size["hidden"]), "--epochs", str(size["epochs"])]
    if args.threads:
        command += ["--threads", str(args.threads)]
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072"}  # freed blocks go back at once
    done = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    args = parse_args(__doc__.splitlines()[0], _extra)
    size = dict(QUICK if args.quick else FULL)
    size.update({k: getattr(args, k) for k in size if getattr(args, k) is not None})
    if args.worker:
        _work(*args.worker, size["hidden"], size["epochs"])
        return 0
    if not sys.platform.startswith("linux"):
        raise SystemExit("this benchmark reads /proc/self (Linux).")
    machine = print_machine_info()
    quick_banner(args)
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        path = Path(folder) / "rows.npy"
        source = _write_file(path, size["rows"])
        file_mib = path.stat().st_size / 2**20
        print(f"\nfile: {size['rows']} rows x {N_VISIBLE} float32 ({file_mib:.0f} MiB) of "
              f"{source}; RBM {N_VISIBLE}-{size['hidden']}, DBN {N_VISIBLE}-{size['hidden']}-"
              f"{size['hidden'] // 2}, {size['epochs']} epochs per layer, batch {BATCH_SIZE}")
        results = {(model, data): _run(path, model, data, args, size) for model, data in RUNS}
    rows = []
    for (model, data), figures in results.items():
        same = figures["weights"] == results[(model, "memory")]["weights"]
        rows.append((model, data, figures["seconds"], figures["added_mib"],
                     "yes" if same else "no (float32 rounding)"))
    print_table("fit time and peak memory added, fresh process each",
                ("model", "data", "fit s", "peak RSS added MiB", "weights = in-memory"), rows)
    write_json(args.json, "larger_than_memory", args, machine, {
        "file_mib": file_mib, "source": source, **size,
        "runs": [{"model": m, "data": d, **f} for (m, d), f in results.items()]})
    return 0


if __name__ == "__main__":
    sys.exit(main())
