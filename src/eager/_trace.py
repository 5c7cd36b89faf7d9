"""Timelines of runs: a Chrome/Perfetto trace JSON and a Gantt PNG, read from a run's events."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._errors import MissingExtraError, UsageError
from ._events import (
    ChunkClosed,
    FirstToken,
    GateDecided,
    GenerationEnded,
    RunFinished,
    SpeculationStarted,
    ToolCalled,
)
from ._result import RunResult

__all__ = ["MAX_PLOT_RUNS", "trace_events", "write_plot", "write_trace"]

#: Tracks (thread ids) of every run in the trace.
_TRACKS = {1: "generation", 2: "chunks", 3: "batches", 4: "executions", 5: "tool calls"}
#: Runs drawn in one Gantt chart at most (the first ones, in the mapping's order).
MAX_PLOT_RUNS = 12


def _us(t: float) -> float:
    return round(t * 1e6, 3)


def _span(pid: int, tid: int, name: str, start: float, end: float, **args: Any) -> dict[str, Any]:
    return {
        "ph": "X",
        "pid": pid,
        "tid": tid,
        "name": name,
        "ts": _us(start),
        "dur": _us(max(0.0, end - start)),
        "args": args,
    }


def _instant(pid: int, tid: int, name: str, t: float, **args: Any) -> dict[str, Any]:
    return {"ph": "i", "s": "t", "pid": pid, "tid": tid, "name": name, "ts": _us(t), "args": args}


def trace_events(label: str, result: RunResult, *, pid: int = 1) -> list[dict[str, Any]]:
    """The Chrome trace events of one run, as process ``pid`` named ``label``."""
    out: list[dict[str, Any]] = [
        {"ph": "M", "pid": pid, "name": "process_name", "args": {"name": label}},
        {"ph": "M", "pid": pid, "name": "process_sort_index", "args": {"sort_index": pid}},
    ]
    for tid, name in _TRACKS.items():
        out.append(
            {"ph": "M", "pid": pid, "tid": tid, "name": "thread_name", "args": {"name": name}}
        )
    first = next((e.t for e in result.events if isinstance(e, FirstToken)), None)
    gen_end = next((e for e in result.events if isinstance(e, GenerationEnded)), None)
    end = next((e.t for e in result.events if isinstance(e, RunFinished)), result.metrics.e2el_s)
    if first is not None:
        out.append(_span(pid, 1, "waiting for the first token", 0.0, first))
    if gen_end is not None:
        name = "generation (cancelled)" if gen_end.cancelled else "generation"
        out.append(_span(pid, 1, name, first or 0.0, gen_end.t, tokens=gen_end.tokens))
    previous = first or 0.0
    for ev in result.events:
        if isinstance(ev, ChunkClosed):
            name = f"chunk {ev.index} (lines {ev.start_line}-{ev.end_line})"
            out.append(_span(pid, 2, name, previous, ev.t, tokens=ev.tokens, chars=ev.chars))
            previous = ev.t
        elif isinstance(ev, GateDecided) and ev.decision != "run":
            out.append(_instant(pid, 2, f"{ev.decision} chunk {ev.index}", ev.t, reason=ev.reason))
    for b in result.batches:
        chunks = ",".join(map(str, b.chunks))
        out.append(
            _span(pid, 3, f"batch {b.index} waits", b.ready_s, b.dispatched_s, chunks=chunks)
        )
        out.append(
            _span(
                pid,
                4,
                f"batch {b.index} [{chunks}]" + ("" if b.ok else " error"),
                b.dispatched_s,
                b.finished_s,
                ok=b.ok,
                first_line=b.first_line,
            )
        )
    for ev in result.events:
        if isinstance(ev, ToolCalled):
            how = " (speculated)" if ev.speculated else ""
            name = f"{ev.name}{how}" + ("" if ev.ok else " error")
            out.append(_span(pid, 5, name, ev.t, ev.t + ev.waited_s, ok=ev.ok))
        elif isinstance(ev, SpeculationStarted):
            out.append(_instant(pid, 5, f"speculate {ev.name}", ev.t))
    if result.error is not None:
        err = result.error
        out.append(
            _instant(pid, 4, f"{err.ename}: {err.evalue}"[:200], end, chunk=result.failed_chunk)
        )
    out.append(_instant(pid, 1, "run finished", end, e2el_s=result.metrics.e2el_s))
    return out


def write_trace(path: str | Path, results: Mapping[str, RunResult]) -> Path:
    """Write a Chrome/Perfetto trace of ``results`` (one process per label); return the path.

    Open it in https://ui.perfetto.dev or ``chrome://tracing``.
    """
    events: list[dict[str, Any]] = []
    for pid, (label, result) in enumerate(results.items(), start=1):
        events.extend(trace_events(label, result, pid=pid))
    target = Path(path)
    try:
        target.write_text(json.dumps({"traceEvents": events, "displayTimeUnit": "ms"}))
    except OSError as exc:
        raise UsageError(f"cannot write the trace to {target}: {exc.strerror}") from exc
    return target


def write_plot(path: str | Path, results: Mapping[str, RunResult]) -> Path:
    """Write a Gantt PNG of ``results`` (generation and executions per run); return the path.

    Needs matplotlib (``pip install 'eager[plot]'``); draws the first :data:`MAX_PLOT_RUNS`.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise MissingExtraError("matplotlib", "plot") from exc
    runs = list(results.items())[:MAX_PLOT_RUNS]
    if not runs:
        raise UsageError("nothing to plot: no runs")
    fig, ax = plt.subplots(figsize=(10, 1.0 + 0.9 * len(runs)))
    labels: list[str] = []
    horizon = 0.0
    for row, (label, result) in enumerate(reversed(runs)):
        y = row * 3
        m = result.metrics
        first = m.ttft_s or 0.0
        ax.broken_barh([(0.0, first)], (y + 1.6, 0.8), facecolors="#dddddd")
        ax.broken_barh([(first, max(0.0, m.gen_s - first))], (y + 1.6, 0.8), facecolors="#7fa7d9")
        bars = [(b.dispatched_s, max(b.finished_s - b.dispatched_s, 1e-4)) for b in result.batches]
        colors = ["#5cb85c" if b.ok else "#d9534f" for b in result.batches]
        ax.broken_barh(bars, (y + 0.6, 0.8), facecolors=colors, edgecolors="black", linewidth=0.3)
        if m.nel_s > 0:
            ax.broken_barh([(m.gen_s, m.nel_s)], (y + 0.2, 0.3), facecolors="#f0ad4e")
        waits = [
            (e.t, max(e.waited_s, 1e-4), e.speculated)
            for e in result.events
            if isinstance(e, ToolCalled)
        ]
        if waits:  # the session waiting for host tools (purple; light: a speculative hit)
            ax.broken_barh(
                [(t, w) for t, w, _ in waits],
                (y + 2.45, 0.3),
                facecolors=["#c9b3e6" if s else "#8e6cc7" for _, _, s in waits],
            )
        starts = [e.t for e in result.events if isinstance(e, SpeculationStarted)]
        if starts:
            ax.plot(starts, [y + 2.6] * len(starts), "v", color="#8e6cc7", markersize=3)
        ax.plot([m.e2el_s, m.e2el_s], [y + 0.2, y + 2.6], color="black", linewidth=1)
        labels.append(f"{label}\ne2el {m.e2el_s:.2f}s nel {m.nel_s:.2f}s")
        horizon = max(horizon, m.e2el_s)
    ax.set_yticks([r * 3 + 1.4 for r in range(len(runs))], labels, fontsize=7)
    ax.set_xlim(0, horizon * 1.05 or 1.0)
    ax.set_xlabel(
        "seconds since the request (blue: generation, green/red: executions, orange: NEL, "
        "purple: waiting for tools, ▼ speculative call started)"
    )
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    target = Path(path)
    try:
        fig.savefig(target, dpi=120)
    except OSError as exc:
        raise UsageError(f"cannot write the plot to {target}: {exc.strerror}") from exc
    finally:
        plt.close(fig)
    return target
