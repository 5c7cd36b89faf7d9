"""The one place that maps backend names to factories, and the CLI options that choose one."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from .._backend import Backend

__all__ = ["BACKENDS", "add_backend_options", "make_backend"]


def _repl(args: argparse.Namespace) -> Backend:
    from .._repl import ReplBackend

    return ReplBackend(cwd=args.cwd)


#: Backend name -> factory taking the parsed CLI arguments.
BACKENDS: dict[str, Callable[[argparse.Namespace], Backend]] = {
    "repl": _repl,
}


def add_backend_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--backend`` (and the options of the backends) to a subcommand."""
    parser.add_argument(
        "--backend",
        default="repl",
        choices=sorted(BACKENDS),
        help="execution session (default: repl, a persistent Python subprocess)",
    )
    parser.add_argument("--cwd", default=None, help="working directory of the session")


def make_backend(args: argparse.Namespace) -> Backend:
    """A fresh, unstarted backend chosen by ``args.backend``."""
    return BACKENDS[args.backend](args)
