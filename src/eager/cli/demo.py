"""``eager demo``: the bundled programs replayed at a realistic speed, serial vs eager."""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import shutil
import sys
import tempfile
from typing import Any

from rich.console import Console
from rich.table import Table

from .._result import RunResult
from ..demo import DATA_DIR, PROGRAMS
from ..sources._base import Source
from ..sources._replay import ReplaySource
from ._render import error_text, print_results, saving
from .run import add_run_options, run_modes

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
    add_run_options(p)
    p.set_defaults(handler=main, tps=100.0, ttft=0.3, sandbox_default=False)


async def _run_all(args: argparse.Namespace, console: Console | None) -> dict[str, Any]:
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
                console.print(f"[bold]{prog.name}[/]: {prog.description} …", end="")
            results = await run_modes(args, make_source)
            out[prog.name] = results
            if console:
                console.print(" done")
                if args.verbose:
                    shown = results.get("eager") or next(iter(results.values()))
                    console.out(shown.stdout, end="")
                    print_results(console, results, title=f"{prog.name} at {args.tps:g} tok/s")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return out


def _summary(all_results: dict[str, Any], tps: float) -> Table:
    table = Table(
        title=f"eager demo: replay at {tps:g} tok/s, serial vs eager (E2EL, NEL hidden)",
        title_justify="left",
    )
    for col in ("program", "serial", "eager", "saved", "hidden", "outcome"):
        table.add_column(col, justify="left" if col in ("program", "outcome") else "right")
    for name, results in all_results.items():
        if not isinstance(results, dict) or "serial" not in results or "eager" not in results:
            reason = results.get("skipped", "") if isinstance(results, dict) else ""
            table.add_row(name, "", "", "", "", f"skipped: {reason}")
            continue
        s: RunResult = results["serial"]
        e: RunResult = results["eager"]
        hidden = 1 - e.metrics.nel_s / s.metrics.nel_s if s.metrics.nel_s > 0 else 0.0
        if e.error is not None:
            outcome = f"{e.error.ename} L{e.error.lineno}"
            if e.interrupted:
                outcome += f", stop {e.metrics.tokens_generated}/{e.metrics.tokens_total} tok"
        else:
            outcome = "ok" if s.stdout == e.stdout else "ok, STDOUT DIFFERS"
        table.add_row(
            name,
            f"{s.metrics.e2el_s:.2f} s",
            f"{e.metrics.e2el_s:.2f} s",
            saving(s.metrics.e2el_s, e.metrics.e2el_s),
            f"{hidden:.0%}",
            outcome,
        )
    return table


def main(args: argparse.Namespace) -> int:
    """Handler of ``eager demo``."""
    console = None if args.json else Console(highlight=False)
    all_results = asyncio.run(_run_all(args, console))
    if args.json:
        record = {
            name: ({m: r.to_dict() for m, r in res.items()} if "skipped" not in res else res)
            for name, res in all_results.items()
        }
        sys.stdout.write(json.dumps(record) + "\n")
        return 0
    assert console is not None
    if args.mode == "both":
        console.print(_summary(all_results, args.tps))
    for name, results in all_results.items():
        eager = results.get("eager") if isinstance(results, dict) else None
        if isinstance(eager, RunResult) and eager.error is not None:
            console.print(
                f"[bold]{name}[/] (eager): ", error_text(eager, full=args.verbose), end=""
            )
    console.print(
        "[dim]Serial waits for the whole program, then runs it; eager runs each complete "
        "statement while the rest streams. Sessions are warm in both modes (start-up apart).[/]"
    )
    return 0
