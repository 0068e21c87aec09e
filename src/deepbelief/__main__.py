"""Command line: ``deepbelief demo`` (also ``python -m deepbelief demo``)."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="deepbelief", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="train the reference DBN on the bundled digits")
    demo.add_argument("--seed", type=int, default=0, help="random_state of the model")
    demo.add_argument("--output", default="out", help="folder for the PNG (default: out)")
    demo.add_argument("--device", default="cpu", help="cpu, cuda or auto (default: cpu)")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from .demo import main as demo_main

        return demo_main(args.seed, args.output, args.device)
    return 2  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":
    sys.exit(main())
