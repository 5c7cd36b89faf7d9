"""``eager run``: replay a program (or stream it from an endpoint) and run it eagerly/serially."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from .._errors import UsageError
from .._extract import FORMATS, Format
from .._gate import Gate
from .._policy import POLICIES, Policy
from .._result import Mode, RunResult
from .._run import run
from ..sources._base import Source
from ..sources._replay import ReplaySource
from ._backends import add_backend_options, make_backend
from ._endpoint import add_endpoint_options
from ._render import print_results

__all__ = ["add_run_options", "gate_from_args", "program_format", "read_program", "register"]


def register(sub: Any) -> None:
    """Add the ``run`` subcommand."""
    p = sub.add_parser(
        "run",
        help="replay a program as a model would stream it, and run it",
        description="Replay PROGRAM at a token rate (or stream from --base-url) and run it "
        "eagerly, serially, or both side by side.",
    )
    p.add_argument("program", nargs="?", help="a .py file (bare code) or a chat answer (.md/.txt)")
    add_run_options(p)
    add_endpoint_options(p, format=False)
    p.set_defaults(handler=main)


def add_run_options(p: argparse.ArgumentParser) -> None:
    """Options shared by ``run`` and ``demo``."""
    p.add_argument("--tps", type=float, default=50.0, help="replay tokens per second (default 50)")
    p.add_argument("--ttft", type=float, default=0.0, help="replay time to first token, s")
    p.add_argument("--jitter", type=float, default=0.0, help="relative jitter of token gaps")
    p.add_argument("--seed", type=int, default=0, help="seed of the replay jitter")
    p.add_argument("--mode", choices=["eager", "serial", "both"], default="both")
    p.add_argument("--on-error", choices=["interrupt", "defer"], default="interrupt")
    p.add_argument(
        "--gate",
        default="default",
        help=f"gate policy: {', '.join(sorted(POLICIES))} (off: run every chunk at once)",
    )
    p.add_argument(
        "--gate-unsafe",
        action="append",
        default=[],
        metavar="PATTERN",
        help="also seal on this dotted name (fnmatch, e.g. 'mylib.upload*')",
    )
    p.add_argument(
        "--gate-safe",
        action="append",
        default=[],
        metavar="PATTERN",
        help="never seal on this dotted name",
    )
    p.add_argument("--timeout", type=float, default=None, help="per-invocation timeout, s")
    p.add_argument(
        "--prefetch",
        action="append",
        default=[],
        metavar="MODULES",
        help="import these modules (comma-separated) in the session while waiting for the "
        "first token; failures are ignored",
    )
    p.add_argument(
        "--format",
        dest="text_format",
        choices=FORMATS,
        default=None,
        help="how the text holds code (default: by file type)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--trace", metavar="PATH", help="write a Chrome/Perfetto trace")
    p.add_argument("--plot", metavar="PATH", help="write a Gantt PNG of the runs")
    add_backend_options(p)


def gate_from_args(args: argparse.Namespace) -> Policy:
    """The gate policy chosen by ``--gate``, ``--gate-unsafe`` and ``--gate-safe``."""
    policy = Gate(args.gate).policy
    if args.gate_unsafe or args.gate_safe:
        policy = policy.extend(unsafe=args.gate_unsafe, safe=args.gate_safe)
    return policy


def read_program(path: str) -> str:
    """The text of a program file, or a clear usage error."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"no such file: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None


def program_format(args: argparse.Namespace) -> Format:
    """``--format``, else by the file's type: a ``.py`` file is bare code, anything else auto."""
    fmt: Format = args.text_format or ("code" if args.program.endswith(".py") else "auto")
    return fmt


def modes_of(args: argparse.Namespace) -> list[Mode]:
    """The modes to run, serial first (the reference)."""
    return ["serial", "eager"] if args.mode == "both" else [args.mode]


async def run_modes(args: argparse.Namespace, make_source: Any) -> dict[str, RunResult]:
    """Run each mode on a fresh, warmed session of the chosen backend."""
    policy = gate_from_args(args)
    results: dict[str, RunResult] = {}
    for mode in modes_of(args):
        backend = make_backend(args)
        async with backend:
            source: Source = make_source()
            results[mode] = await run(
                source,
                backend,
                mode=mode,
                on_error=args.on_error,
                gate=policy,
                extract=args.text_format,
                timeout_s=args.timeout,
                prefetch=prefetch_of(args),
            )
    return results


def prefetch_of(args: argparse.Namespace) -> tuple[str, ...]:
    """The modules named by ``--prefetch`` (repeated or comma-separated)."""
    names = (n.strip() for arg in getattr(args, "prefetch", ()) for n in arg.split(","))
    return tuple(n for n in names if n)


def emit(args: argparse.Namespace, results: dict[str, RunResult], *, title: str | None) -> int:
    """Print results (JSON or rich), write trace/plot, and return the exit status."""
    if args.trace or args.plot:
        from .._trace import write_plot, write_trace

        if args.trace:
            write_trace(args.trace, results)
        if args.plot:
            write_plot(args.plot, results)
    if args.json:
        records = {mode: r.to_dict() for mode, r in results.items()}
        obj = records if len(records) > 1 else next(iter(records.values()))
        sys.stdout.write(json.dumps(obj) + "\n")
    else:
        console = Console(highlight=False)
        shown = results.get("eager") or next(iter(results.values()))
        if shown.stdout:
            console.out(shown.stdout, end="" if shown.stdout.endswith("\n") else "\n")
        if shown.stderr:
            Console(stderr=True, highlight=False).out(shown.stderr, end="")
        both = "serial" in results and "eager" in results
        if both and results["serial"].stdout != results["eager"].stdout:
            console.print("[yellow]note: serial and eager stdout differ[/]")
        print_results(console, results, title=title)
        if shown.stop_note:  # the model stopped for a limit, or refused: say so in one line
            console.print(f"[yellow]{shown.stop_note}[/]")
    return 1 if any(r.error is not None for r in results.values()) else 0


def main(args: argparse.Namespace) -> int:
    """Handler of ``eager run``."""
    # Code from a model endpoint runs sandboxed unless --no-sandbox; a local file's replay not.
    args.sandbox_default = bool(getattr(args, "base_url", None))
    if getattr(args, "base_url", None):
        from ._endpoint import make_endpoint_source

        def make_source() -> Source:
            source: Source = make_endpoint_source(args)
            return source

        title = f"{args.model} at {args.base_url}"
    else:
        if not args.program:
            raise UsageError(
                "give a PROGRAM file, or --base-url and --model to stream from a model"
            )
        text = read_program(args.program)
        fmt = program_format(args)
        args.text_format = fmt

        def make_source() -> Source:
            return ReplaySource(
                text, tps=args.tps, ttft_s=args.ttft, jitter=args.jitter, seed=args.seed, format=fmt
            )

        title = f"{args.program} at {args.tps:g} tok/s"
    results = asyncio.run(run_modes(args, make_source))
    return emit(args, results, title=title)
