"""Run every benchmark in sequence, each in its own process; exit non-zero if any fails.

    python benchmarks/run_all.py [--quick] [--device cpu|cuda] [--threads N] [--json-dir DIR]

Each script gets the same Python interpreter and the same --quick/--device/--threads;
with --json-dir, each also writes DIR/<script>.json.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = ("rbm_throughput", "dbn_pretrain", "finetune", "digits")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny problems (smoke test)")
    parser.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    parser.add_argument("--threads", type=int, default=None, help="torch/BLAS threads")
    parser.add_argument("--json-dir", default=None, help="write DIR/<script>.json")
    parser.add_argument(
        "--only", nargs="+", choices=SCRIPTS, default=None, help="run only these scripts"
    )
    args = parser.parse_args(argv)

    common = ["--device", args.device]
    if args.quick:
        common.append("--quick")
    if args.threads is not None:
        common += ["--threads", str(args.threads)]

    outcomes: list[tuple[str, int, float]] = []
    for name in args.only or SCRIPTS:
        command = [sys.executable, str(HERE / f"{name}.py"), *common]
        if args.json_dir:
            command += ["--json", str(Path(args.json_dir) / f"{name}.json")]
        print(f"\n{'=' * 100}\n$ {' '.join(command)}\n{'=' * 100}", flush=True)
        start = time.perf_counter()
        rc = subprocess.run(command, check=False).returncode
        outcomes.append((name, rc, time.perf_counter() - start))

    print(f"\n{'=' * 100}\nSummary")
    width = max(len(name) for name, _, _ in outcomes)
    for name, rc, seconds in outcomes:
        status = "ok" if rc == 0 else f"FAILED (exit {rc})"
        print(f"  {name.ljust(width)}  {seconds:8.1f} s  {status}")
    failed = [name for name, rc, _ in outcomes if rc != 0]
    if failed:
        print(f"{len(failed)} of {len(outcomes)} benchmarks failed: {', '.join(failed)}")
        return 1
    print(f"all {len(outcomes)} benchmarks passed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
