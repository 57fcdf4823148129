"""The `posewarper` command line. Each subcommand lives in its own module of this package
and exposes `register(subparsers)`, which adds its parser with `set_defaults(run=...)`."""
from __future__ import annotations

import argparse
import importlib
import sys

from ..errors import PoseWarperError

# Subcommand modules, in the order `posewarper --help` lists them.
COMMAND_MODULES = [
    "info",
    "import_",
    "export",
    "convert",
    "derive_clip",
    "check",
    "train",
    "adapt",
    "fill",
    "refine",
    "bench",
    "bench_suggest",
    "bench_store",
    "bench_export",
    "bench_video",
    "bench_deform",
    "bench_effort",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="posewarper",
        description="Annotate human pose in video: label keyframes, auto-fill the frames between.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except PoseWarperError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cancelled", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
