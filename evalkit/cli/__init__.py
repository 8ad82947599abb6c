"""The ``evalkit`` command: a thin layer that parses, calls one library function, renders.

User mistakes (``EvalkitError``) print one line and exit with code 2; bugs keep their
traceback. Each group of commands lives in its own module with a ``register`` function.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from evalkit.cli import (
    assist,
    codebook,
    coding,
    daily,
    exchange,
    privacy,
    project,
    safety,
)
from evalkit.cli.common import FORMATS, render
from evalkit.errors import EvalkitError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="evalkit",
        description="Local, private qualitative analysis for CBPR evaluations.",
        epilog="example:\n  evalkit init myproject && evalkit ingest interviews/ "
        "--project myproject --kind interview",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    project.register(subparsers)
    codebook.register(subparsers)
    coding.register(subparsers)
    assist.register(subparsers)
    assist.register_analysis(subparsers)
    assist.register_report(subparsers)
    privacy.register(subparsers)
    exchange.register(subparsers)
    safety.register(subparsers)
    daily.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (2 for a user error)."""
    args = build_parser().parse_args(argv)
    try:
        args.handler(args)
    except EvalkitError as error:
        print(f"evalkit: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # `evalkit excerpts ... | head` closes the pipe early; that is not an error.
        sys.stderr.close()
    return getattr(args, "exit_code", 0)


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["FORMATS", "build_parser", "main", "render"]
