"""The ``eager`` command line: one module per subcommand, each with ``register(subparsers)``.

Exit status, the same with and without ``--json``: 0 the program ran without error; 1 the
program raised (a syntax error included) or a model's answer held no code; 2 a usage error (a bad
flag or argument, checked before anything starts: :class:`~eager.UsageError`); 3 any other Eager
error (endpoint, source, backend, missing extra); 130 interrupted (Ctrl-C). Each error is one
line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from .._errors import EagerError, EndpointError, ProgramSyntaxError, UsageError

__all__ = [
    "EXIT_EAGER_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_PROGRAM_FAILED",
    "EXIT_USAGE",
    "main",
]

#: The program ran without error.
EXIT_OK = 0
#: The program raised (its error is printed as the run's result), or there was no code.
EXIT_PROGRAM_FAILED = 1
#: A bad flag or argument (:class:`~eager.UsageError`).
EXIT_USAGE = 2
#: Any other Eager error: endpoint, source, backend, a missing optional extra.
EXIT_EAGER_ERROR = 3
#: Stopped by Ctrl-C.
EXIT_INTERRUPTED = 130
#: Longest error line printed (a message may carry a whole log).
_MAX_LINE_CHARS = 2000

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
    """Entry point of the ``eager`` console script; returns the exit status (see above)."""
    try:
        args = build_parser().parse_args(argv)
        status: int = args.handler(args)
        return status
    except UsageError as exc:
        _say(f"eager: error: {exc}")
        return EXIT_USAGE
    except ProgramSyntaxError as exc:
        _say(f"eager: {type(exc).__name__}: {exc}")
        return EXIT_PROGRAM_FAILED
    except EagerError as exc:
        _say(f"eager: {type(exc).__name__}: {_cli_message(exc)}")
        return EXIT_EAGER_ERROR
    except KeyboardInterrupt:
        _say("eager: interrupted")
        return EXIT_INTERRUPTED


#: What to check after an HTTP 401, in the command line's words.
_KEY_HINT = (
    "check the API key: --api-key, else $EAGER_API_KEY, else $OPENAI_API_KEY "
    "($ANTHROPIC_API_KEY with --protocol anthropic)"
)


def _cli_message(exc: EagerError) -> str:
    """The error's message, with the library's hint of a 401 said in command-line terms."""
    message = str(exc)
    if isinstance(exc, EndpointError) and exc.status == 401:
        cut = message.find(" (check the API key")
        if cut >= 0:
            message = message[:cut]
        return f"{message}; {_KEY_HINT}"
    return message


def _say(message: str) -> None:
    # One line, whatever the message holds (a start error may carry a process's log).
    line = " | ".join(part.strip() for part in message.strip().splitlines() if part.strip())
    if len(line) > _MAX_LINE_CHARS:
        line = line[: _MAX_LINE_CHARS - 3] + "..."
    print(line, file=sys.stderr)
