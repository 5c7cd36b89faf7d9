"""``eager demo``: the bundled programs replayed at a realistic speed, serial vs eager."""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import shutil
import sys
import tempfile
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from .._result import RunResult
from ..demo import DATA_DIR, PROGRAMS
from ..sources._base import Source
from ..sources._replay import ReplaySource
from ._checks import dumps
from ._live import Live
from ._render import LEGEND, faster_by, print_errors, print_results
from .run import add_run_options, check_run_args, run_modes, write_files

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add the ``demo`` subcommand."""
    p = sub.add_parser(
        "demo",
        help="run the bundled programs serially and eagerly, side by side",
        description="Replay each bundled data-analysis program as a model would stream it, "
        "run it serially and eagerly on fresh warm sessions, and show the time saved. "
        "Offline, no API key.",
    )
    p.add_argument(
        "--program",
        action="append",
        choices=[p.name for p in PROGRAMS],
        help="run only this program (repeatable)",
    )
    p.add_argument(
        "--verbose", "-v", action="store_true", help="per-program tables, timelines and output"
    )
    add_run_options(p, mode_help="both (default): eager, then serial for comparison")
    p.set_defaults(handler=main, tps=100.0, ttft=0.3, mode="both", sandbox_default=False)


async def _run_all(
    args: argparse.Namespace, console: Console | None, live: Live | None
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    chosen = [p for p in PROGRAMS if not args.program or p.name in args.program]
    workdir = tempfile.mkdtemp(prefix="eager-demo-")
    try:
        for f in DATA_DIR.iterdir():
            shutil.copy(f, workdir)
        args.cwd = args.cwd or workdir
        for prog in chosen:
            missing = [m for m in prog.requires if importlib.util.find_spec(m) is None]
            if missing:
                out[prog.name] = {
                    "skipped": f"needs {', '.join(missing)}: pip install 'eager[demo]'"
                }
                if console:
                    console.print(f"[yellow]skip {prog.name}: {out[prog.name]['skipped']}[/]")
                continue
            text = prog.text

            def make_source(text: str = text) -> Source:
                return ReplaySource(
                    text,
                    tps=args.tps,
                    ttft_s=args.ttft,
                    jitter=args.jitter,
                    seed=args.seed,
                    format="code",
                )

            if console:
                console.print(f"[bold]{prog.name}[/]: {prog.description}")
            if live is not None and args.verbose:
                live.headed = False
            results = await run_modes(args, make_source, live=live, program=text)
            out[prog.name] = results
            if console and args.verbose:
                print_results(console, results, title=f"{prog.name} at {args.tps:g} tok/s")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return out


def _outcome(r: RunResult, other: RunResult | None = None) -> str:
    if r.error is not None:
        outcome = f"{r.error.ename} at line {r.error.lineno}"
        m = r.metrics
        if r.interrupted and (m.tokens_total is None or m.tokens_generated < m.tokens_total):
            of = f"/{m.tokens_total}" if m.tokens_total is not None else ""
            outcome += f", stopped at {m.tokens_generated}{of} tokens"
        return outcome
    if other is not None and other.stdout != r.stdout:
        return "ok, OUTPUT DIFFERS"
    return "ok"


def _summary(all_results: dict[str, Any], tps: float) -> Table:
    table = Table(
        title=f"eager demo: replay at {tps:g} tok/s, serial vs eager, end-to-end (E2EL)",
        title_justify="left",
    )
    for col in ("program", "serial", "eager", "faster by", "NEL hidden", "outcome"):
        table.add_column(col, justify="left" if col in ("program", "outcome") else "right")
    for name, results in all_results.items():
        if not isinstance(results, dict) or "serial" not in results or "eager" not in results:
            reason = results.get("skipped", "") if isinstance(results, dict) else ""
            table.add_row(name, "", "", "", "", f"skipped: {reason}")
            continue
        s: RunResult = results["serial"]
        e: RunResult = results["eager"]
        hidden = 1 - e.metrics.nel_s / s.metrics.nel_s if s.metrics.nel_s > 0 else 0.0
        table.add_row(
            name,
            f"{s.metrics.e2el_s:.2f} s",
            f"{e.metrics.e2el_s:.2f} s",
            faster_by(s.metrics.e2el_s, e.metrics.e2el_s),
            f"{max(0.0, hidden):.0%}",
            _outcome(e, s),
        )
    return table


def _one_mode(all_results: dict[str, Any], mode: str, tps: float) -> Table:
    """The timings of one mode (``--mode eager`` or ``serial``)."""
    table = Table(title=f"eager demo: {mode} only, replay at {tps:g} tok/s", title_justify="left")
    for col in ("program", "E2EL", "generation", "NEL", "batches", "outcome"):
        table.add_column(col, justify="left" if col in ("program", "outcome") else "right")
    for name, results in all_results.items():
        r = results.get(mode) if isinstance(results, dict) else None
        if not isinstance(r, RunResult):
            reason = results.get("skipped", "") if isinstance(results, dict) else ""
            table.add_row(name, "", "", "", "", f"skipped: {reason}")
            continue
        m = r.metrics
        table.add_row(
            name,
            f"{m.e2el_s:.2f} s",
            f"{m.gen_s:.2f} s",
            f"{m.nel_s:.2f} s",
            str(m.batches),
            _outcome(r),
        )
    return table


def main(args: argparse.Namespace) -> int:
    """Handler of ``eager demo``."""
    check_run_args(args)
    quiet = args.json or args.quiet
    console = None if quiet else Console(highlight=False)
    live = Live(args, shown="eager" if args.verbose and not quiet else None)
    if not args.verbose:
        live.headed = True
    try:
        all_results = asyncio.run(_run_all(args, console, live))
    except KeyboardInterrupt:
        live.interrupted()
        raise
    runs = {
        f"{name} {mode}": r
        for name, results in all_results.items()
        if isinstance(results, dict)
        for mode, r in results.items()
        if isinstance(r, RunResult)
    }
    written = write_files(args, runs) if runs else []
    if args.json:
        record = {
            name: ({m: r.to_dict() for m, r in res.items()} if "skipped" not in res else res)
            for name, res in all_results.items()
        }
        sys.stdout.write(dumps(record) + "\n")
        _say_written(written)
        return 0
    console = console or Console(highlight=False)
    if args.mode == "both":
        console.print(_summary(all_results, args.tps))
    else:
        console.print(_one_mode(all_results, args.mode, args.tps))
    if not args.verbose:
        for name, results in all_results.items():
            failed = isinstance(results, dict) and any(
                isinstance(r, RunResult) and r.error is not None for r in results.values()
            )
            if failed:
                console.print(Text(f"{name}: ", style="bold"), end="")
                print_errors(console, results, full=False)
    console.print(
        Text(
            "Serial waits for the whole program, then runs it; eager runs each complete "
            "statement while the rest streams. Sessions are warm in both modes (start-up "
            "apart). Failing programs are part of the demo: generation stops at the error.",
            style="dim",
        )
    )
    console.print(Text(LEGEND, style="dim"))
    _say_written(written)
    return 0


def _say_written(written: list[tuple[str, str]]) -> None:
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    for kind, path in written:
        err.print(Text(f"eager: wrote the {kind} to {path}", style="dim"))
