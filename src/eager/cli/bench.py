"""``eager bench``: the replay grid (serial vs eager on recorded model answers) with a summary."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .._errors import UsageError
from .._result import RunResult
from ._backends import BACKENDS, add_backend_options

__all__ = ["register"]

#: Runs written to a ``--trace`` file at most (the first ones); a full grid would be huge.
MAX_TRACE_RUNS = 400
#: Serial/eager pairs drawn by ``--plot``: those with the most serial execution.
PLOT_PAIRS = 3
_SHARED = ("help", "backend", "cwd")  # the harness sets cwd: one working directory per task


def register(sub: Any) -> None:
    """Add the ``bench`` subcommand."""
    from ..bench.workloads import WORKLOADS

    p = sub.add_parser(
        "bench",
        help="replay recorded model answers, serial vs eager, and summarize",
        description="The replay grid: every task of a workload in serial and eager mode, back "
        "to back on fresh warmed sessions with identical token timing.",
    )
    p.add_argument(
        "--workload",
        default="dabench-gpt4o-mini",
        help=f"comma-separated: {', '.join(WORKLOADS)} (default dabench-gpt4o-mini)",
    )
    p.add_argument(
        "--data", type=Path, default=None, help="data directory (default ../shared/data)"
    )
    p.add_argument("--tps", default="20,50,100,200", help="token rates (default 20,50,100,200)")
    p.add_argument("--backend", default="repl", help=f"comma-separated: {', '.join(BACKENDS)}")
    p.add_argument("--ttft", type=float, default=0.0, help="time to first token, s (default 0)")
    p.add_argument("--jitter", type=float, default=0.0, help="relative jitter of token gaps")
    p.add_argument("--seed", type=int, default=0, help="seed of jitter and error injection")
    p.add_argument("--repeat", type=int, default=1, help="repetitions of the grid (default 1)")
    p.add_argument("--limit", type=int, default=None, help="first N tasks of each workload")
    p.add_argument(
        "--variants",
        default="recorded,injected",
        help="recorded (answers as recorded) and/or injected (one seeded error per task)",
    )
    p.add_argument("--timeout", type=float, default=60.0, help="per-invocation timeout, s")
    p.add_argument(
        "--stream",
        choices=["answer", "code"],
        default="answer",
        help="replay each whole answer (prose and fences, default) or only its code",
    )
    p.add_argument(
        "--preload",
        default="",
        help="modules to import while setting up each session (untimed, both modes): "
        "comma-separated, or 'auto' for each task's own imports (default: none)",
    )
    p.add_argument("--engine", choices=["local", "ray"], default="local")
    p.add_argument("--address", default=None, help="Ray cluster address (--engine ray)")
    p.add_argument("--json", type=Path, default=None, help="write {runs, summary} to this file")
    p.add_argument("--trace", type=Path, default=None, help="write a Chrome/Perfetto trace")
    p.add_argument("--plot", type=Path, default=None, help="write a Gantt PNG (serial vs eager)")
    # The backends' own options (everything add_backend_options defines but --backend).
    parent = argparse.ArgumentParser(add_help=False)
    add_backend_options(parent)
    for action in parent._actions:
        if action.dest not in _SHARED:
            p._add_action(action)
    p.set_defaults(handler=main, backend_option_names=_option_names(parent))


def _option_names(parent: argparse.ArgumentParser) -> list[str]:
    return [a.dest for a in parent._actions if a.dest not in _SHARED]


def _list(text: str, name: str) -> list[str]:
    items = [x.strip() for x in text.split(",") if x.strip()]
    if not items:
        raise UsageError(f"--{name}: no values")
    return items


def _rates(text: str) -> list[float]:
    try:
        rates = [float(x) for x in _list(text, "tps")]
    except ValueError as exc:
        raise UsageError(f"--tps: expected numbers, got {text!r}") from exc
    if any(r <= 0 for r in rates):
        raise UsageError("--tps: rates must be positive")
    return rates


def _preload(text: str) -> tuple[str, ...]:
    names = tuple(x.strip() for x in text.split(",") if x.strip())
    if names == ("auto",):
        return names
    for name in names:
        if not all(part.isidentifier() for part in name.split(".")):
            raise UsageError(f"--preload: {name!r} is not a module name")
    return names


def main(args: argparse.Namespace) -> int:
    """Handler of ``eager bench``."""
    from ..bench.harness import JobOutcome, Variant, make_jobs, run_job
    from ..bench.summary import markdown_table, summarize
    from ..bench.workloads import load_workload

    backends = _list(args.backend, "backend")
    for b in backends:
        if b not in BACKENDS:
            raise UsageError(f"unknown backend {b!r}; choose from {', '.join(sorted(BACKENDS))}")
    variants = _list(args.variants, "variants")
    for v in variants:
        if v not in ("recorded", "injected"):
            raise UsageError(f"unknown variant {v!r}: recorded or injected")
    if args.repeat < 1 or (args.limit is not None and args.limit < 1):
        raise UsageError("--repeat and --limit must be at least 1")
    rates = _rates(args.tps)
    tasks = []
    for w in _list(args.workload, "workload"):
        tasks += load_workload(w, data_dir=args.data, limit=args.limit)
    if args.sandbox is None:  # replays of stored programs: unsandboxed unless --sandbox
        args.sandbox = False
    options = {k: getattr(args, k) for k in args.backend_option_names}
    jobs = make_jobs(
        tasks,
        backends=backends,
        tps=rates,
        ttft_s=args.ttft,
        repeat=args.repeat,
        variants=[cast(Variant, v) for v in variants],
        jitter=args.jitter,
        seed=args.seed,
        backend_options=options,
        timeout_s=args.timeout,
        preload=_preload(args.preload),
        stream=args.stream,
    )
    console = Console(stderr=True)
    records: list[dict[str, Any]] = []
    results: dict[str, RunResult] = {}

    def outcomes() -> Iterator[JobOutcome]:
        if args.engine == "ray":
            from ..bench.engine_ray import run_jobs_ray

            yield from run_jobs_ray(jobs, address=args.address)
        else:
            for job in jobs:
                yield asyncio.run(run_job(job))

    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        bar = progress.add_task("bench", total=len(jobs))
        for outcome in outcomes():
            job = outcome.job
            if outcome.skip is not None:
                records.append(
                    {
                        "workload": job.task.workload,
                        "task": job.task.task_id,
                        "backend": job.backend,
                        "tps": job.tps,
                        "variant": job.variant,
                        "repeat": job.repeat,
                        "skip": outcome.skip,
                    }
                )
            records.extend(outcome.records)
            for label, result in outcome.results.items():
                if len(results) < MAX_TRACE_RUNS or args.plot:
                    results[label] = result
            progress.update(
                bar,
                advance=1,
                description=f"{job.task.workload} {job.backend} {job.tps:g} tok/s {job.variant}",
            )
    summary = summarize(records)
    if args.json:
        try:
            args.json.write_text(json.dumps({"runs": records, "summary": summary}, indent=1))
        except OSError as exc:
            raise UsageError(f"cannot write {args.json}: {exc.strerror}") from exc
    _timelines(args, records, results, console)
    print(markdown_table(summary))
    return 0


def _timelines(
    args: argparse.Namespace,
    records: list[dict[str, Any]],
    results: dict[str, RunResult],
    console: Console,
) -> None:
    from ..bench.harness import run_label

    if not (args.trace or args.plot):
        return
    if not results:
        console.print("no timelines: runs on Ray workers keep their events", style="yellow")
        return
    from .._trace import write_plot, write_trace

    if args.trace:
        write_trace(args.trace, dict(list(results.items())[:MAX_TRACE_RUNS]))
        console.print(f"trace: {args.trace}")
    if args.plot:
        ranked = sorted(
            (r for r in records if r.get("skip") is None and r["ok"]),
            key=lambda r: r["serial"]["exec_s"],
            reverse=True,
        )
        chosen: dict[str, RunResult] = {}
        for r in ranked[:PLOT_PAIRS]:
            tag = run_label(r["workload"], r["task"], r["cell"], r["backend"], r["tps"])
            for mode in ("serial", "eager"):
                if f"{tag} {mode}" in results:
                    chosen[f"{tag} {mode}"] = results[f"{tag} {mode}"]
        write_plot(args.plot, chosen or dict(list(results.items())[:2]))
        console.print(f"plot: {args.plot}")
    sys.stdout.flush()
