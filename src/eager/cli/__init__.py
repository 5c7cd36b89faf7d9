"""The ``eager`` command line: one module per subcommand, each with ``register(subparsers)``.

A user's mistake ends in one clear line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from .._errors import EagerError, UsageError

__all__ = ["main"]

#: Subcommand modules of this package, in the order ``eager --help`` lists them.
SUBCOMMANDS = ("run", "chunk", "demo", "model", "bench", "serve", "ask", "chat")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (subcommands registered from their modules)."""
    parser = _Parser(prog="eager", description="Run LLM-generated Python while it streams.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in SUBCOMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``eager`` console script; returns the exit status."""
    try:
        args = build_parser().parse_args(argv)
        status: int = args.handler(args)
        return status
    except UsageError as exc:
        print(f"eager: error: {exc}", file=sys.stderr)
        return 2
    except EagerError as exc:
        print(f"eager: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("eager: interrupted", file=sys.stderr)
        return 130
