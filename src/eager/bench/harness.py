"""The replay grid: each task in serial and eager mode back to back, on fresh warmed sessions.

A *job* is one task under one setting (backend, tokens/s, repeat, variant). It runs the task
twice, once per mode, each on a new session that is started and set up before the first request
(warm), with identical token timing (same text, rate, TTFT and jitter seed); which mode goes
first alternates from job to job. The ``injected`` variant misspells a name in one seeded cell
(see :mod:`eager.bench.inject`) and stops the task after it: the failure path.

Every task is first run once serially on a plain REPL (:func:`precheck`), untimed; an answer
that ran clean there but fails in the measured setting (a sandbox that cannot see the table, a
kernel without the library) is a *set-up error*: recorded with its error, never counted as a
failing run.

Sessions come from a :data:`BackendFactory` the caller passes in (the CLI maps backend names
to classes); nothing here reads the environment.
"""

from __future__ import annotations

import dataclasses
import os
import random
import statistics
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .._errors import EagerError
from .._events import ChunkClosed
from .._extract import Format
from .._result import Display, Mode, RunResult
from ..backends._base import Backend
from ..latency import predict_from_result
from ..sources._replay import ReplaySource
from .inject import Injection, inject_error
from .task import Skip, Task, imported_modules, missing_libraries

__all__ = [
    "BackendFactory",
    "Job",
    "JobOutcome",
    "Stream",
    "Variant",
    "detection_delays",
    "make_jobs",
    "precheck",
    "run_job",
    "run_label",
    "setup_error",
]

#: ``"recorded"`` replays the answers as recorded; ``"injected"`` adds one seeded error.
Variant = Literal["recorded", "injected"]

#: What a replay streams of each answer: all of it, or only its code.
Stream = Literal["answer", "code"]

#: Bound on the untimed set-up code of a session, in seconds.
SETUP_TIMEOUT_S = 120.0
#: Bound on a gold program's serial pre-check, in seconds.
PRECHECK_TIMEOUT_S = 120.0


def run_label(workload: str, task: object, cell: int, backend: str, tps: float) -> str:
    """The key of a run pair in ``JobOutcome.results`` (``… serial`` / ``… eager``)."""
    return f"{workload}/{task}#{cell} {backend} {tps:g}tps"


@dataclass(frozen=True, slots=True)
class Job:
    """One task under one setting; picklable so that a Ray worker can run it."""

    task: Task
    backend: str
    backend_options: dict[str, Any]
    tps: float
    ttft_s: float
    jitter: float
    seed: int
    repeat: int
    variant: Variant
    serial_first: bool
    timeout_s: float | None = 60.0
    #: Modules imported when the session is set up (untimed, both modes); ``("auto",)``: the
    #: task's own imports.
    preload: tuple[str, ...] = ()
    #: ``"answer"`` streams the model's whole answer (prose and fences); ``"code"`` only its
    #: code, as the paper's replays of stored code do.
    stream: Stream = "answer"
    #: Let the session import the task's modules while it waits for the first token (both
    #: modes), through ``run(..., prefetch=...)``.
    prefetch: bool = False
    #: A label of the timing setting (e.g. ``"ideal"``, ``"realistic"``), kept in the records.
    setting: str = ""
    #: What a cell shows (``run(display=...)``): whole-program workloads are scripts.
    display: Display = "script"

    @property
    def format(self) -> Format:
        """How the streamed text holds code."""
        return "code" if self.stream == "code" else self.task.format


@dataclass(slots=True)
class JobOutcome:
    """The run records of a job (one per answer), or why it was skipped."""

    job: Job
    records: list[dict[str, Any]] = field(default_factory=list)
    skip: str | None = None
    #: label -> result, for traces and plots (not sent back from Ray workers).
    results: dict[str, RunResult] = field(default_factory=dict)


def make_jobs(
    tasks: list[Task],
    *,
    backends: list[str],
    tps: list[float],
    ttft_s: float,
    repeat: int,
    variants: list[Variant],
    jitter: float = 0.0,
    seed: int = 0,
    backend_options: dict[str, Any] | None = None,
    timeout_s: float | None = 60.0,
    preload: tuple[str, ...] = (),
    stream: Stream = "answer",
    prefetch: bool = False,
    setting: str = "",
    display: Display = "script",
) -> list[Job]:
    """Every (task, backend, tps, repeat, variant), serial-first alternating."""
    jobs: list[Job] = []
    for variant in variants:
        for backend in backends:
            for rate in tps:
                for r in range(repeat):
                    for task in tasks:
                        jobs.append(
                            Job(
                                task=task,
                                backend=backend,
                                backend_options=dict(backend_options or {}),
                                tps=rate,
                                ttft_s=ttft_s,
                                jitter=jitter,
                                seed=seed + r,
                                repeat=r,
                                variant=variant,
                                serial_first=len(jobs) % 2 == 0,
                                timeout_s=timeout_s,
                                preload=preload,
                                stream=stream,
                                prefetch=prefetch,
                                setting=setting,
                                display=display,
                            )
                        )
    return jobs


#: Makes a fresh, unstarted session for a job, working in the given directory.
BackendFactory = Callable[[Job, str], Backend]


def _plan(job: Job) -> tuple[list[str], Injection | None, int | None]:
    """The answers to stream, and the injection (cell index) for the injected variant."""
    answers = job.task.codes() if job.stream == "code" else list(job.task.answers)
    if job.variant == "recorded":
        return answers, None, None
    rng = random.Random(f"{job.task.workload}/{job.task.task_id}/{job.seed}")
    cells = list(range(len(answers)))
    rng.shuffle(cells)
    for cell in cells:
        done = inject_error(answers[cell], job.format, rng)
        if done is not None:
            answers[cell] = done[0]
            return answers[: cell + 1], done[1], cell
    return [], None, None


async def _session(
    job: Job, mode: Mode, answers: list[str], make: BackendFactory
) -> tuple[list[tuple[RunResult, ReplaySource]], str | None]:
    """Run the answers in order on one fresh, warmed session (in its own working directory)."""
    from .._run import run

    with tempfile.TemporaryDirectory(prefix="eager-bench-") as workdir:
        _link_files(job.task, workdir)
        backend = make(job, workdir)
        try:
            async with backend:
                setup = _setup_code(job.task, workdir) + _preload_code(job)
                done = await backend.execute(setup, timeout_s=SETUP_TIMEOUT_S)
                if done.error is not None:
                    return [], f"setup failed: {done.error.ename}: {done.error.evalue}"[:300]
                results: list[tuple[RunResult, ReplaySource]] = []
                extra: dict[str, Any] = {}
                if job.prefetch:
                    extra["prefetch"] = tuple(sorted(imported_modules(job.task)))
                for i, answer in enumerate(answers):
                    source = ReplaySource(
                        answer,
                        tps=job.tps,
                        ttft_s=job.ttft_s,
                        jitter=job.jitter,
                        seed=job.seed * 1000 + i,
                        format=job.format,
                    )
                    result = await run(
                        source,
                        backend,
                        mode=mode,
                        on_error="interrupt",
                        timeout_s=job.timeout_s,
                        display=job.display,
                        **extra,
                    )
                    results.append((result, source))
                return results, None
        except EagerError as exc:
            return [], f"{type(exc).__name__}: {exc}"[:300]


def _link_files(task: Task, workdir: str) -> None:
    """The task's files, linked into its working directory under their names."""
    for name, target in task.files.items():
        os.symlink(os.path.abspath(target), Path(workdir) / name)


def _setup_code(task: Task, workdir: str) -> str:
    """The untimed set-up of a session: into the task's working directory, then its own."""
    return f"import os as _os\n_os.chdir({workdir!r})\ndel _os\n" + task.setup


def _preload_code(job: Job) -> str:
    names = sorted(imported_modules(job.task)) if job.preload == ("auto",) else job.preload
    lines = [f"try:\n    import {n}\nexcept ImportError:\n    pass\n" for n in names]
    return "".join(lines)


def detection_delays(result: RunResult, source: ReplaySource) -> list[float]:
    """Per chunk: when it closed minus when the token that closed it was due (seconds).

    The stream starts right after t0, so this includes the (tiny) start-up of the stream.
    """
    out = []
    for ev in result.events:
        if isinstance(ev, ChunkClosed) and 0 < ev.tokens <= len(source.schedule):
            out.append(max(0.0, ev.t - source.schedule[ev.tokens - 1]))
    return out


def _slim(result: RunResult) -> dict[str, Any]:
    d = result.to_dict()
    for key in ("code", "stdout", "stderr", "outputs"):
        d.pop(key, None)
    error = d.get("error")
    if isinstance(error, dict):
        error.pop("traceback", None)
    return d


def setup_error(
    task: Task, cell: int, serial: RunResult, injection: Injection | None = None
) -> str | None:
    """Why a measured run of answer ``cell`` is a set-up error, or None.

    It is one when the answer ran clean in the serial pre-check (``task.checked``) but its
    measured serial run failed, other than with the injected ``NameError``.
    """
    if cell >= len(task.checked) or task.checked[cell] is not None or serial.error is None:
        return None
    error = serial.error
    if injection is not None and error.ename == "NameError" and injection.misspelt in error.evalue:
        return None
    return f"{error.ename}: {error.evalue}"[:200]


def _record(
    job: Job,
    cell: int,
    serial: RunResult,
    eager: RunResult,
    injection: Injection | None,
) -> dict[str, Any]:
    pred = predict_from_result(eager)
    spred = predict_from_result(serial)
    task = job.task
    recorded_failed = task.failed[cell] if cell < len(task.failed) else None
    s_e2el, e_e2el = serial.metrics.e2el_s, eager.metrics.e2el_s
    s_nel, e_nel = serial.metrics.nel_s, eager.metrics.nel_s
    broken = setup_error(task, cell, serial, injection)
    return {
        "workload": task.workload,
        "task": task.task_id,
        "cell": cell,
        "backend": job.backend,
        "tps": job.tps,
        "ttft_s": job.ttft_s,
        "repeat": job.repeat,
        "variant": job.variant,
        "setting": job.setting,
        "prefetch": job.prefetch,
        "order": "serial-first" if job.serial_first else "eager-first",
        "serial": _slim(serial),
        "eager": _slim(eager),
        "prediction": pred.to_dict(),
        "serial_prediction": spred.to_dict(),
        "gen_bound_s": pred.gen_bound_s,
        "exec_bound_s": pred.exec_bound_s,
        "lower_bound_s": min(pred.lower_bound_s, s_e2el),
        "chunks": eager.metrics.chunks,
        "batches": [list(b.chunks) for b in eager.batches],
        "batch_s": [
            {"ready": b.ready_s, "dispatched": b.dispatched_s, "finished": b.finished_s}
            for b in eager.batches
        ],
        "gate": [
            {"chunk": d.index, "decision": d.decision, "reason": d.reason} for d in eager.decisions
        ],
        "error": None if eager.error is None else eager.error.to_dict(),
        "serial_error": None if serial.error is None else serial.error.to_dict(),
        "ok": serial.ok and eager.ok,
        "failing": not serial.ok and broken is None,
        "setup_error": broken,
        "recorded_failed": recorded_failed,
        "checked": task.checked[cell] if cell < len(task.checked) else "unchecked",
        "injection": None if injection is None else injection.to_dict(),
        "same_stdout": serial.stdout == eager.stdout,
        "nel_saving": (1.0 - e_nel / s_nel) if s_nel > 0 else None,
        "e2el_saving": (1.0 - e_e2el / s_e2el) if s_e2el > 0 else None,
        "skip": None,
    }


async def run_job(job: Job, *, make: BackendFactory) -> JobOutcome:
    """Run one job: the task in both modes, back to back; never raises for a task's failure."""
    out = JobOutcome(job)
    missing = missing_libraries(job.task)
    if missing:
        out.skip = f"missing libraries: {', '.join(missing)}"
        return out
    answers, injection, cell = _plan(job)
    if not answers:
        out.skip = "no statement to inject an error into"
        return out
    order: list[Mode] = ["serial", "eager"] if job.serial_first else ["eager", "serial"]
    runs: dict[str, list[tuple[RunResult, ReplaySource]]] = {}
    for mode in order:
        results, skip = await _session(job, mode, answers, make)
        if skip is not None:
            out.skip = skip
            return out
        runs[mode] = results
    pairs = zip(runs["serial"], runs["eager"], strict=True)
    for i, ((serial, _), (eager, source)) in enumerate(pairs):
        if injection is not None and i != cell:
            continue  # the cells before the injected one only rebuild the session's state
        record = _record(job, i, serial, eager, injection)
        delays = detection_delays(eager, source)
        record["detect_delay_s"] = {
            "median": statistics.median(delays) if delays else None,
            "max": max(delays, default=None),
        }
        record["preload"] = list(job.preload)
        out.records.append(record)
        tag = run_label(job.task.workload, job.task.task_id, i, job.backend, job.tps)
        out.results[f"{tag} serial"] = serial
        out.results[f"{tag} eager"] = eager
    return out


async def precheck(task: Task, *, make: BackendFactory, backend: str = "repl") -> Task | Skip:
    """Run a task's answers once, serially, untimed, on a fresh session (a plain REPL).

    Returns the task with ``checked`` filled in (per answer, the error it raised or None), or,
    for a gold program (``must_pass``) that fails, a Skip with the reason: library versions
    differ from the benchmark's, so some gold programs fail their own test here; they are
    counted out with the error, never hidden. Recorded answers that fail stay in: they are the
    natural failing runs.
    """
    job = Job(
        task=task,
        backend=backend,
        backend_options={},
        tps=1.0,
        ttft_s=0.0,
        jitter=0.0,
        seed=0,
        repeat=0,
        variant="recorded",
        serial_first=True,
        timeout_s=PRECHECK_TIMEOUT_S,
    )
    codes = task.codes()
    checked: list[str | None] = []
    with tempfile.TemporaryDirectory(prefix="eager-precheck-") as workdir:
        _link_files(task, workdir)
        session = make(job, workdir)
        try:
            async with session:
                setup = _setup_code(task, workdir)
                done = await session.execute(setup, timeout_s=PRECHECK_TIMEOUT_S)
                if done.error is not None:
                    why = f"set-up fails: {done.error.ename}: {done.error.evalue}"[:200]
                    return Skip(task.workload, task.task_id, why)
                for code in codes:
                    done = await session.execute(code, timeout_s=PRECHECK_TIMEOUT_S)
                    error = done.error
                    if error is not None and task.must_pass:
                        why = f"fails under the installed libraries: {error.ename}"
                        return Skip(task.workload, task.task_id, why)
                    checked.append(
                        None if error is None else f"{error.ename}: {error.evalue}"[:200]
                    )
        except EagerError as exc:
            if task.must_pass:
                why = f"fails under the installed libraries: {type(exc).__name__}"
                return Skip(task.workload, task.task_id, why)
            crash = f"{type(exc).__name__}: {exc}"[:200]
            checked += [crash] * (len(codes) - len(checked))
    return dataclasses.replace(task, checked=tuple(checked))
