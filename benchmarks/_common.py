"""Shared helpers of the benchmark scripts: machine description, timing, data, CLI, output.

The scripts import this module as ``_common`` (they are run as ``python benchmarks/x.py``,
which puts this folder on ``sys.path``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_ENV_VAR = "DEEPBELIEF_DATA"
#: Where this checkout keeps MNIST when ``$DEEPBELIEF_DATA`` is unset.
FALLBACK_DATA_ROOT = REPO_ROOT.parent / "shared" / "data"

Row = Sequence[Any]


# --------------------------------------------------------------------------- machine


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _parallel_summary() -> dict[str, str]:
    """The thread-count lines of ``torch.__config__.parallel_info()``."""
    wanted = (
        "at::get_num_threads",
        "at::get_num_interop_threads",
        "omp_get_max_threads",
        "mkl_get_max_threads",
        "ATen parallel backend",
        "OMP_NUM_THREADS",
        "MKL_NUM_THREADS",
    )
    out: dict[str, str] = {}
    for line in torch.__config__.parallel_info().splitlines():
        line = line.strip()
        for key in wanted:
            if line.startswith(key):
                out[key] = line.split(":", 1)[1].strip() if ":" in line else line
    return out


def _torch_build() -> dict[str, str]:
    """BLAS / LAPACK / CPU-capability lines of ``torch.__config__.show()``."""
    out: dict[str, str] = {}
    for line in torch.__config__.show().splitlines():
        line = line.strip().lstrip("- ")
        if "Math Kernel Library" in line or "OpenBLAS" in line:
            out["blas_library"] = line
        elif line.startswith("CPU capability usage"):
            out["cpu_capability"] = line.split(":", 1)[1].strip()
        elif line.startswith("Build settings:"):
            for item in line[len("Build settings:") :].split(", "):
                key, _, value = item.strip().partition("=")
                if key in ("BLAS_INFO", "LAPACK_INFO", "USE_MKL", "USE_MKLDNN", "USE_OPENMP"):
                    out[key] = value.strip()
    return out


def _numpy_blas() -> list[str]:
    """BLAS libraries loaded by numpy / scipy (used by scikit-learn), via threadpoolctl."""
    try:
        import sklearn.neural_network  # noqa: F401  (loads scipy's BLAS too)
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    return [
        f"{p.get('internal_api')} {p.get('version')} ({p.get('user_api')}, "
        f"{p.get('num_threads')} threads)"
        for p in threadpool_info()
    ]


def machine_info() -> dict[str, Any]:
    """What the figures depend on: CPU, threads, BLAS, library versions, GPU."""
    import sklearn

    import deepbelief

    info: dict[str, Any] = {
        "cpu_model": _cpu_model(),
        "logical_cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "parallel_info": _parallel_summary(),
        "torch_build": _torch_build(),
        "mkl_available": torch.backends.mkl.is_available(),
        "mkldnn_available": torch.backends.mkldnn.is_available(),
        "numpy": np.__version__,
        "numpy_blas": _numpy_blas(),
        "sklearn": sklearn.__version__,
        "deepbelief": deepbelief.__version__,
        "cuda_available": torch.cuda.is_available(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
        info["cuda"] = torch.version.cuda
        info["cudnn"] = torch.backends.cudnn.version()
    return info


def print_machine_info(info: dict[str, Any] | None = None) -> dict[str, Any]:
    info = machine_info() if info is None else info
    par = info["parallel_info"]
    build = info["torch_build"]
    rows: list[Row] = [
        ("CPU", info["cpu_model"]),
        ("logical cores (usable)", f"{info['logical_cores']} ({info['usable_cores']})"),
        ("load average 1/5/15 min", " ".join(str(x) for x in info["load_average"])),
        ("platform", info["platform"]),
        ("python", info["python"]),
        ("torch", info["torch"]),
        ("torch threads (interop)", f"{info['torch_threads']} ({info['torch_interop_threads']})"),
        (
            "OpenMP / MKL threads",
            f"omp_get_max_threads={par.get('omp_get_max_threads', '?')}, "
            f"mkl_get_max_threads={par.get('mkl_get_max_threads', '?')}, "
            f"backend={par.get('ATen parallel backend', '?')}",
        ),
        (
            "OMP_NUM_THREADS / MKL_NUM_THREADS",
            f"{par.get('OMP_NUM_THREADS', '?')} / {par.get('MKL_NUM_THREADS', '?')}",
        ),
        (
            "torch BLAS / LAPACK",
            f"{build.get('BLAS_INFO', '?')} / {build.get('LAPACK_INFO', '?')} "
            f"(mkl available: {info['mkl_available']}, "
            f"mkldnn available: {info['mkldnn_available']})",
        ),
        ("torch BLAS library", build.get("blas_library", "?")),
        ("CPU capability", build.get("cpu_capability", "?")),
        ("numpy", info["numpy"]),
        ("numpy/scipy BLAS", "; ".join(info["numpy_blas"]) or "?"),
        ("scikit-learn", info["sklearn"]),
        ("deepbelief", info["deepbelief"]),
        ("GPU", info.get("gpu", "none (CUDA not available)")),
    ]
    if "cuda" in info:
        rows.append(("CUDA / cuDNN", f"{info['cuda']} / {info['cudnn']}"))
    print_table("Machine", ("item", "value"), rows)
    return info


# --------------------------------------------------------------------------- timing


def synchronize(device: str | torch.device | None) -> None:
    if device is not None and torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


@dataclass
class Timing:
    seconds: float = float("nan")


@contextmanager
def timer(device: str | torch.device | None = None) -> Iterator[Timing]:
    """Wall-clock time of the block; on CUDA, synchronizes before and after."""
    timing = Timing()
    synchronize(device)
    start = time.perf_counter()
    try:
        yield timing
    finally:
        synchronize(device)
        timing.seconds = time.perf_counter() - start


def warm_up() -> float:
    """Pay torch's one-time costs before anything is timed; returns the seconds spent.

    The first ``torch.optim`` optimizer of a process imports ``torch._dynamo`` (about a
    second), which would otherwise land in the first timed fit.
    """
    start = time.perf_counter()
    torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    return time.perf_counter() - start


def matmul_peak_gflops(
    device: str | torch.device = "cpu", n: int = 2048, repeats: int = 5, rounds: int = 3
) -> float:
    """Measured float32 ``torch.mm`` GFLOP/s of an ``n x n`` by ``n x n`` product.

    Best of ``rounds`` rounds of ``repeats`` products each (at least 50 on CUDA), after a
    warm-up, with the current torch thread count. On CUDA this is true float32 unless
    ``torch.backends.cuda.matmul.allow_tf32`` was turned on.
    """
    if torch.device(device).type == "cuda":
        repeats = max(repeats, 50)  # a product takes well under a millisecond there
    generator = torch.Generator(device=device).manual_seed(0)
    a = torch.rand((n, n), generator=generator, device=device)
    b = torch.rand((n, n), generator=generator, device=device)
    out = torch.empty((n, n), device=device)
    for _ in range(2):
        torch.mm(a, b, out=out)
    best = float("inf")
    for _ in range(rounds):
        with timer(device) as t:
            for _ in range(repeats):
                torch.mm(a, b, out=out)
        best = min(best, t.seconds / repeats)
    return 2.0 * n**3 / best / 1e9


# --------------------------------------------------------------------------- FLOPs


def cd1_flops(n_samples: int, n_visible: int, n_hidden: int) -> float:
    """FLOPs of one CD-1 epoch: per batch of B, five B x V x H matmuls (v->h, h->v,
    v'->h', and the two products of the weight gradient) of 2*B*V*H each; the batches
    sum to n_samples. Elementwise work, sampling and the per-epoch monitor are not counted.
    """
    return 5 * 2.0 * n_samples * n_visible * n_hidden


# --------------------------------------------------------------------------- memory


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far (``ru_maxrss``), MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes vs KiB


def reset_peak_rss() -> bool:
    """Reset the peak-RSS high-water mark (Linux ``/proc/self/clear_refs``), so that
    :func:`peak_rss_mib` then reports the peak of what follows; False if unsupported."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
    except OSError:
        return False
    return True


def peak_label(reset: bool) -> str:
    return "peak RSS since the fit began, MiB" if reset else "peak RSS since start, MiB"


def current_rss_mib() -> float:
    """Current resident set size (``VmRSS`` of /proc/self/status), MiB; NaN if unknown."""
    try:
        with open("/proc/self/status", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 2**10
    except OSError:
        pass
    return float("nan")


# --------------------------------------------------------------------------- data


def data_root() -> Path:
    """``$DEEPBELIEF_DATA`` when set, else ``<repo>/../shared/data``."""
    env = os.environ.get(DATA_ENV_VAR, "").strip()
    return Path(env).expanduser() if env else FALLBACK_DATA_ROOT


def load_mnist(kind: str = "train", n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """MNIST from :func:`data_root` (float32 in [0, 1], int64 labels); first ``n`` samples."""
    from deepbelief.datasets import load_mnist as _load

    try:
        X, y = _load(data_root(), kind=kind)
    except FileNotFoundError as exc:
        raise SystemExit(
            f"MNIST not found under {data_root()}; set {DATA_ENV_VAR} to a folder with an "
            f"'mnist/' subfolder.\n{exc}"
        ) from exc
    if n is not None:
        X, y = X[:n].copy(), y[:n].copy()  # copies: let the full arrays be freed
    return X, y


# --------------------------------------------------------------------------- CLI


def parse_args(
    description: str,
    extra: Callable[[argparse.ArgumentParser], None] | None = None,
    argv: Sequence[str] | None = None,
) -> argparse.Namespace:
    """Common options; ``extra`` may add script-specific ones.

    Applies ``--threads`` at once (torch intra-op threads, and the BLAS/OpenMP pools
    of numpy and scikit-learn through threadpoolctl), and checks that ``--device`` exists.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny problem (a few hundred samples, 1 epoch, small layers): a smoke test, "
        "not a measurement",
    )
    parser.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch (and numpy BLAS) threads; default: leave torch's default",
    )
    parser.add_argument("--json", metavar="PATH", default=None, help="also write figures as JSON")
    if extra is not None:
        extra(parser)
    args = parser.parse_args(argv)
    if args.threads is not None:
        if args.threads < 1:
            parser.error("--threads must be >= 1")
        torch.set_num_threads(args.threads)
        try:
            import sklearn.neural_network  # noqa: F401  (load the BLAS pools to limit)
            from threadpoolctl import threadpool_limits

            threadpool_limits(limits=args.threads)
        except ImportError:
            pass
    try:
        device = torch.device(args.device)
    except (RuntimeError, TypeError) as exc:
        parser.error(f"invalid --device {args.device!r}: {exc}")
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error(f"--device {args.device} requested but CUDA is not available")
    return args


# --------------------------------------------------------------------------- output


def fmt(value: Any, digits: int = 4) -> str:
    if isinstance(value, float):
        if value != value:  # NaN
            return "-"
        return f"{value:.{digits}g}" if abs(value) < 1e6 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10_000:
        return f"{value:,}"
    return str(value)


def print_table(title: str, header: Row, rows: Sequence[Row]) -> None:
    """A plain left-aligned text table."""
    cells = [[str(h) for h in header]] + [[fmt(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    line = "  ".join("-" * w for w in widths)
    print(f"\n== {title} ==")
    print("  ".join(c.ljust(w) for c, w in zip(cells[0], widths, strict=True)).rstrip())
    print(line)
    for row in cells[1:]:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    sys.stdout.flush()


def quick_banner(args: argparse.Namespace) -> None:
    if args.quick:
        print("\n[--quick] tiny problem: these figures are a smoke test, not a measurement.")


def write_json(
    path: str | None, name: str, args: argparse.Namespace, machine: dict, results: dict
) -> None:
    if not path:
        return
    payload = {"benchmark": name, "args": vars(args), "machine": machine, "results": results}
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"\nwrote {target}")
