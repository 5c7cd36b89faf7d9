"""``eager bench``: the replay grid (serial vs eager on recorded model answers) with a summary."""

from __future__ import annotations

import argparse
import asyncio
import datetime
import functools
import os
import platform
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .._errors import UsageError
from .._result import RunResult
from ..backends._base import Backend
from ._backends import BACKENDS, add_backend_options, make_backend
from ._checks import (
    check_folder,
    check_output_path,
    dumps,
    non_negative_float,
    positive_float,
)
from .run import add_display_option

if TYPE_CHECKING:
    from ..bench.harness import Job, Stream
    from ..bench.task import Skip, Task

__all__ = [
    "GPT4O_MINI_TPS",
    "GPT4O_MINI_TTFT_S",
    "SETTINGS",
    "Setting",
    "bench_backend",
    "register",
]


#: gpt-4o-mini's timing for Table 2's model row: its first token after 0.5 s, then 64 tokens/s.
#: The recorded gpt-4o-mini DABench answers average 186 tokens (prose and code, as the replay
#: cuts them), so one answer takes 0.5 + 186 / 64 ≈ 3.4 s to generate: what the paper's Table 2
#: implies for that model on DABench (serial E2EL 3999 ms minus serial NEL 607 ms).
GPT4O_MINI_TTFT_S = 0.5
GPT4O_MINI_TPS = 64.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Setting:
    """A setting of ``--tables``: token timing, and what it runs when not the Table 1 grid."""

    ttft_s: float
    jitter: float
    prefetch: bool = False
    #: Fixed token rates (None: ``--tps``).
    tps: tuple[float, ...] | None = None
    #: The workloads it runs (None: ``--workload``, by default every whole-program workload).
    workloads: tuple[str, ...] | None = None
    #: Only the code (as the paper's replays of stored code) or the whole answer.
    stream: Stream = "code"
    #: Modules imported in each session's untimed set-up (``("auto",)``: the task's own).
    preload: tuple[str, ...] = ()
    #: Rendered as Table 2's model row (a model's timing) instead of Table 1.
    model_row: bool = False

    def describe(self) -> str:
        """One line for the table's title."""
        text = f"TTFT {self.ttft_s:g} s, token-gap jitter {self.jitter:g}"
        if self.tps is not None:
            text += ", " + "/".join(f"{t:g}" for t in self.tps) + " tok/s"
        if self.workloads is not None:
            text += f", {', '.join(self.workloads)}"
        text += ", whole answers streamed" if self.stream == "answer" else ", code streamed"
        if self.preload:
            text += ", the task's modules preloaded (warm sessions)"
        return text + (", modules prefetched during TTFT" if self.prefetch else "")


#: The settings of ``--tables``: ideal replays as the paper's, a realistic stream (an API
#: model's first token after ~0.5 s, bursty token gaps) with and without prefetching, the
#: recorded gpt-4o-mini answers at that model's timing (Table 2's model row), and its cells on
#: warm sessions with their modules preloaded at 200 tok/s, code only (the residual over the
#: bound, where little is left to hide).
SETTINGS: dict[str, Setting] = {
    "ideal": Setting(ttft_s=0.0, jitter=0.0),
    "realistic": Setting(ttft_s=0.5, jitter=0.5),
    "prefetch": Setting(ttft_s=0.5, jitter=0.5, prefetch=True),
    "gpt-4o-mini": Setting(
        ttft_s=GPT4O_MINI_TTFT_S,
        jitter=0.5,
        tps=(GPT4O_MINI_TPS,),
        workloads=("dabench-gpt4o-mini",),
        stream="answer",
        model_row=True,
    ),
    "preloaded": Setting(
        ttft_s=0.0,
        jitter=0.0,
        tps=(200.0,),
        workloads=("dabench-gpt4o-mini",),
        preload=("auto",),
    ),
}

#: Runs written to a ``--trace`` file at most (the first ones); a full grid would be huge.
MAX_TRACE_RUNS = 400
#: Serial/eager pairs drawn by ``--plot``: those with the most serial execution.
PLOT_PAIRS = 3
#: The backends of ``--tables``: the paper's Local, Docker and OI (twice) environments.
TABLE_BACKENDS = ("repl", "repl-sandbox", "jupyter", "gateway")
_SHARED = ("help", "backend", "cwd")  # the harness sets cwd: one working directory per task


def register(sub: Any) -> None:
    """Add the ``bench`` subcommand."""
    from ..bench.sandbox import SANDBOXED_REPL
    from ..bench.workloads import WORKLOADS

    p = sub.add_parser(
        "bench",
        help="replay recorded model answers, serial vs eager, and summarize",
        description="The replay grid: every task of a workload in serial and eager mode, back "
        "to back on fresh warmed sessions with identical token timing.",
    )
    p.add_argument(
        "--workload",
        default=None,
        help=f"comma-separated: {', '.join(WORKLOADS)} (default dabench-gpt4o-mini; with "
        "--tables every whole-program workload, and the settings with their own workloads "
        "run only those of them listed here)",
    )
    p.add_argument(
        "--tables",
        action="store_true",
        help="reproduce the paper's tables, its figures beside ours: Table 1 (whole-program "
        "workloads, code streamed) on REPL, sandboxed REPL, Jupyter and gateway, Table 2's "
        "failing half, and its gpt-4o-mini row; every --settings; prints markdown",
    )
    p.add_argument(
        "--settings",
        default=",".join(SETTINGS),
        help=f"with --tables, comma-separated: {', '.join(SETTINGS)} (default all)",
    )
    p.add_argument("--markdown", type=Path, default=None, help="also write the tables here")
    p.add_argument(
        "--data", type=Path, default=None, help="data directory (default ../shared/data)"
    )
    p.add_argument("--tps", default="20,50,100,200", help="token rates (default 20,50,100,200)")
    add_display_option(p, default="script")
    p.add_argument(
        "--backend",
        default=None,
        help=f"comma-separated: {', '.join([*BACKENDS, SANDBOXED_REPL])} (default repl; with "
        f"--tables {','.join(TABLE_BACKENDS)}); {SANDBOXED_REPL}: a REPL in the bubblewrap "
        "sandbox that sees its task's files only (the paper's Docker column)",
    )
    p.add_argument(
        "--ttft", type=non_negative_float, default=0.0, help="time to first token, s (default 0)"
    )
    p.add_argument(
        "--jitter", type=non_negative_float, default=0.0, help="relative jitter of token gaps"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of jitter and error injection")
    p.add_argument("--repeat", type=int, default=1, help="repetitions of the grid (default 1)")
    p.add_argument(
        "--limit",
        type=int,
        default=None,
        help="first N runnable tasks of each workload (skipped ones are counted with reasons)",
    )
    p.add_argument(
        "--variants",
        default="recorded,injected",
        help="recorded (answers as recorded) and/or injected (one seeded error per task)",
    )
    p.add_argument(
        "--timeout",
        type=positive_float,
        default=60.0,
        help="per-invocation timeout, s (default 60)",
    )
    p.add_argument(
        "--stream",
        choices=["answer", "code"],
        default=None,
        help="replay each whole answer (prose and fences, default) or only its code (the "
        "default with --tables, as the paper replays stored code)",
    )
    p.add_argument(
        "--prefetch",
        action="store_true",
        help="let each session import the task's modules while waiting for the first token "
        "(both modes; reported apart, never in the execution time)",
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
    own = [a for a in parent._actions if a.dest not in _SHARED]
    for action in own:
        p._add_action(action)
    p.set_defaults(handler=main, backend_option_names=[a.dest for a in own])


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


def bench_backend(options: dict[str, Any], job: Job, workdir: str) -> Backend:
    """The bench's backend factory: ``job.backend`` by name, working in ``workdir``.

    ``repl-sandbox`` is a REPL in the default sandbox that also reads the task's files; with
    ``--sandbox`` the other sandboxed backends read them too. ``options`` are the parsed backend
    options; module-level so that Ray can pickle it.
    """
    from ..backends._sandbox import SandboxPolicy
    from ..bench.sandbox import SANDBOXED_REPL, task_sandbox

    if job.backend == SANDBOXED_REPL:
        from ..backends.repl._backend import ReplBackend

        return ReplBackend(cwd=workdir, sandbox=task_sandbox(job.task))
    merged = {**options, **job.backend_options, "backend": job.backend, "cwd": workdir}
    backend = make_backend(argparse.Namespace(**merged))
    policy = getattr(backend, "sandbox", None)
    if isinstance(policy, SandboxPolicy):  # not started yet: it reads the policy in start()
        setattr(backend, "sandbox", task_sandbox(job.task, policy))  # noqa: B010
    return backend


def _settings(args: argparse.Namespace) -> dict[str, Setting]:
    if not args.tables:
        one = Setting(
            ttft_s=args.ttft,
            jitter=args.jitter,
            prefetch=args.prefetch,
            stream=args.stream or "answer",
            preload=_preload(args.preload),
        )
        return {"": one}
    chosen: dict[str, Setting] = {}
    for name in _list(args.settings, "settings"):
        if name not in SETTINGS:
            raise UsageError(f"unknown setting {name!r}; choose from {', '.join(SETTINGS)}")
        chosen[name] = SETTINGS[name]
    if not chosen:
        raise UsageError("--settings: nothing left to run")
    return chosen


def _workloads(args: argparse.Namespace, setting: Setting) -> list[str]:
    """What a setting runs: its own workloads (those of them in ``--workload``), or the grid's."""
    from ..bench.workloads import WHOLE_PROGRAMS

    asked = _list(args.workload, "workload") if args.workload else None
    if setting.workloads is not None:
        return [w for w in setting.workloads if asked is None or w in asked]
    if asked is not None:
        return asked
    return list(WHOLE_PROGRAMS) if args.tables else ["dabench-gpt4o-mini"]


def _load(
    args: argparse.Namespace, names: list[str], reference: Any, console: Console
) -> tuple[dict[str, list[Task]], dict[str, dict[str, int]]]:
    """Each workload's tasks, pre-checked serially on a plain REPL, and its skip reasons."""
    from ..bench.harness import precheck
    from ..bench.workloads import load_report

    def check(task: Task) -> Task | Skip:
        return asyncio.run(precheck(task, make=reference))

    tasks: dict[str, list[Task]] = {}
    skips: dict[str, dict[str, int]] = {}
    for name in names:
        with console.status(f"loading {name} (each task runs once serially to check it)"):
            loaded = load_report(name, data_dir=args.data, limit=args.limit, check=check)
        tasks[name] = loaded.tasks
        skips[name] = loaded.reasons()
        for note, n in loaded.notes().items():
            console.print(f"{name}: {note} ({n} tasks)")
    return tasks, skips


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _header(args: argparse.Namespace, started: datetime.datetime, backends: list[str]) -> str:
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    command = f"eager bench --tables --backend {','.join(backends)} --tps {args.tps}"
    if args.workload:
        command += f" --workload {args.workload}"
    if args.limit is not None:
        command += f" --limit {args.limit}"
    command += f" --settings {args.settings} --variants {args.variants} --seed {args.seed}"
    return (
        f"`{command}`: {started:%Y-%m-%d %H:%M} UTC to "
        f"{datetime.datetime.now(datetime.UTC):%H:%M} UTC; {os.cpu_count()} CPUs "
        f"({_cpu_model()}, {platform.machine()}), Python {platform.python_version()}; "
        "load average at the end "
        f"(1/5/15 min) {load}.\n"
    )


def main(args: argparse.Namespace) -> int:
    """Handler of ``eager bench``."""
    from ..bench.harness import JobOutcome, Variant, make_jobs, run_job
    from ..bench.sandbox import SANDBOXED_REPL
    from ..bench.summary import markdown_table, summarize
    from ..bench.tables import render_tables

    started = datetime.datetime.now(datetime.UTC)
    console = Console(stderr=True)
    backend_arg = args.backend or (",".join(TABLE_BACKENDS) if args.tables else "repl")
    backends = _list(backend_arg, "backend")
    for b in backends:
        if b not in BACKENDS and b != SANDBOXED_REPL:
            known = ", ".join(sorted([*BACKENDS, SANDBOXED_REPL]))
            raise UsageError(f"unknown backend {b!r}; choose from {known}")
    variants = _list(args.variants, "variants")
    for v in variants:
        if v not in ("recorded", "injected"):
            raise UsageError(f"unknown variant {v!r}: recorded or injected")
    if args.repeat < 1 or (args.limit is not None and args.limit < 1):
        raise UsageError("--repeat and --limit must be at least 1")
    rates = _rates(args.tps)
    settings = _settings(args)
    for path, flag in (
        (args.json, "--json"),
        (args.markdown, "--markdown"),
        (args.trace, "--trace"),
    ):
        check_output_path(path, flag)
    check_output_path(args.plot, "--plot", plot=True)
    if args.data is not None:
        check_folder(str(args.data), "--data")
    cli_preload = _preload(args.preload)
    if args.sandbox is None:  # replays of stored programs: unsandboxed unless --sandbox
        args.sandbox = False
    options = {k: getattr(args, k) for k in args.backend_option_names}
    make = functools.partial(bench_backend, options)
    # The serial pre-check's reference: a plain REPL, whatever the grid measures.
    reference = functools.partial(bench_backend, {**options, "sandbox": False})
    plan = {label: _workloads(args, setting) for label, setting in settings.items()}
    names = list(dict.fromkeys(w for ws in plan.values() for w in ws))
    if not names:
        raise UsageError("--workload: no setting runs any of these workloads")
    tasks, loader_skips = _load(args, names, reference, console)
    jobs = []
    for label, setting in settings.items():
        grid = setting.workloads is None
        jobs += make_jobs(
            [t for w in plan[label] for t in tasks[w]],
            backends=backends,
            tps=list(setting.tps) if setting.tps is not None else rates,
            ttft_s=setting.ttft_s,
            repeat=args.repeat,
            variants=[cast(Variant, v) for v in variants],
            jitter=setting.jitter,
            seed=args.seed,
            backend_options={},
            timeout_s=args.timeout,
            preload=setting.preload or cli_preload,
            stream=(args.stream if grid and args.stream else setting.stream),
            prefetch=setting.prefetch,
            setting=label,
            display=args.display,
        )
    records: list[dict[str, Any]] = []
    results: dict[str, RunResult] = {}

    def outcomes() -> Iterator[JobOutcome]:
        if args.engine == "ray":
            from ..bench.engine_ray import run_jobs_ray

            yield from run_jobs_ray(jobs, make=make, address=args.address)
        else:
            for job in jobs:
                yield asyncio.run(run_job(job, make=make))

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
                        "setting": job.setting,
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
        doc = {"runs": records, "summary": summary, "skipped_tasks": loader_skips}
        _write(args.json, dumps(doc, indent=1))
    _timelines(args, records, results, console)
    if args.tables:
        text = render_tables(
            records,
            header=_header(args, started, backends),
            loader_skips=loader_skips,
            settings={k: v.describe() for k, v in settings.items()},
            model_settings={k for k, v in settings.items() if v.model_row},
        )
        if args.markdown:
            _write(args.markdown, text)
        print(text, end="")
    else:
        print(markdown_table(summary))
    return 0


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from exc


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
        console.print(f"eager: wrote the trace (open it in ui.perfetto.dev) to {args.trace}")
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
        console.print(f"eager: wrote the plot to {args.plot}")
    sys.stdout.flush()
