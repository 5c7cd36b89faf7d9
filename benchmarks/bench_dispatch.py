"""Fixed costs between a token and its dispatch: detection delay and dispatch lag.

Usage: ``python benchmarks/bench_dispatch.py [--runs 20] [--pace-ms 2] [--burst 1]
[--backends fake,repl] [--prefetch-runs 3] [--ttft-ms 500]``

A paced source streams a short data-science cell (imports of preloaded modules, assignments,
a loop, a function and its call) in ~4-character deltas, slowly enough that the backend is idle
when each chunk closes. For every chunk it reports

* **detection delay**: from the arrival of the delta that completed the chunk (the source's
  own clock, just before it hands the delta over) to ``ChunkClosed``;
* **dispatch lag**: from ``ChunkClosed`` to the ``BatchDispatched`` that sent it, when the
  backend was idle (the previous batch had finished before the chunk closed);
* **token to dispatch**: the sum (the issue's target: under 0.2 ms with an idle backend).

Percentiles in microseconds; the machine and its load are printed with them. A second table
times a pandas cell on fresh REPL sessions after a slow first token, with and without
``run(prefetch=("pandas",))``, in both modes. Asserts nothing.
To compare two versions side by side, run it with ``PYTHONPATH`` pointing at each checkout,
alternating, in one session (the machine is shared and noisy: compare ratios, not absolutes).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import time
from collections.abc import AsyncIterator

import eager
from eager import (
    Backend,
    BatchDispatched,
    BatchFinished,
    ChunkClosed,
    FakeBackend,
    FirstToken,
    ReplBackend,
    Source,
    run,
)

PROGRAM = """\
import json
import math
import statistics

values = [math.sqrt(i) for i in range(200)]
mean = statistics.fmean(values)
spread = max(values) - min(values)
for i in range(3):
    print(i, round(values[i], 3))

def describe(xs):
    return {"n": len(xs), "mean": statistics.fmean(xs)}

summary = describe(values)
text = json.dumps(summary)
if summary["n"] > 100:
    print("big", text[:20])
print(mean, spread)
"""


class PacedSource(Source):
    """Yields ``deltas`` in bursts of ``burst`` every ``pace_s`` s, noting when each went."""

    def __init__(
        self, deltas: list[str], pace_s: float, burst: int = 1, first_s: float = 0.0
    ) -> None:
        super().__init__()
        self.burst = burst
        self.first_s = first_s
        self.deltas = deltas
        self.pace_s = pace_s
        self.format = "code"
        self.tokens_total = len(deltas)
        self.sent: list[float] = []

    async def stream(self) -> AsyncIterator[str]:
        await asyncio.sleep(self.first_s)  # time to first token
        for i, delta in enumerate(self.deltas):
            if i % self.burst == 0:  # a network read brings ``burst`` deltas at once
                await asyncio.sleep(self.pace_s)
            self.sent.append(time.monotonic())
            self.tokens_generated += 1
            yield delta


def _deltas(text: str, size: int = 4) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


async def one_run(
    backend: Backend, pace_s: float, burst: int = 1
) -> tuple[list[float], list[float]]:
    """Detection delays and idle dispatch lags (seconds) of one run."""
    source = PacedSource(_deltas(PROGRAM), pace_s, burst)
    result = await run(source, backend)
    if result.error is not None:
        raise RuntimeError(f"the benchmark program failed: {result.error}")
    events = result.events
    first = next(e for e in events if isinstance(e, FirstToken))
    t0 = source.sent[0] - first.t  # the run's t0 on the monotonic clock
    closed = {e.index: e for e in events if isinstance(e, ChunkClosed)}
    detection = [t0 + e.t - source.sent[e.tokens - 1] for e in closed.values()]
    lags: list[float] = []
    busy_until = 0.0
    for e in events:
        if isinstance(e, BatchFinished):
            busy_until = e.t
        elif isinstance(e, BatchDispatched):
            ready = max(closed[i].t for i in e.chunks)
            if ready >= busy_until:  # the backend was idle when the last chunk closed
                lags.append(e.t - ready)
    return detection, lags


def _row(name: str, what: str, samples: list[float]) -> str:
    us = sorted(s * 1e6 for s in samples)

    def pct(q: float) -> float:
        return us[min(len(us) - 1, int(q * len(us)))]

    return (
        f"| {name} | {what} | {len(us)} | {statistics.median(us):.0f} | {pct(0.9):.0f} "
        f"| {pct(0.99):.0f} | {statistics.fmean(us):.0f} |"
    )


async def bench(name: str, runs: int, pace_s: float, burst: int) -> list[str]:
    backend: Backend = FakeBackend() if name == "fake" else ReplBackend()
    detection: list[float] = []
    lags: list[float] = []
    totals: list[float] = []
    async with backend:
        if name == "repl":  # warm sandboxes keep the stack imported
            await backend.execute("import json, math, statistics")
        await one_run(backend, pace_s, burst)  # warm-up
        for _ in range(runs):
            d, lag = await one_run(backend, pace_s, burst)
            detection += d
            lags += lag
            totals.append(statistics.median(d) + (statistics.median(lag) if lag else 0.0))
    return [
        _row(name, "detection delay (token → ChunkClosed)", detection),
        _row(name, "dispatch lag (ChunkClosed → BatchDispatched, idle)", lags),
        _row(name, "token → dispatch (median per run)", totals),
    ]


PREFETCH_PROGRAM = """\
import pandas as pd

df = pd.DataFrame({"a": range(100), "b": range(100)})
print(df["a"].sum(), df.shape)
"""


async def prefetch_rows(runs: int, ttft_s: float, pace_s: float) -> list[str]:
    """E2EL of a pandas cell on fresh REPL sessions, with and without prefetch, both modes."""
    rows = []
    for mode in ("serial", "eager"):
        for prefetch in ((), ("pandas",)):
            e2el, exec_s, pre = [], [], []
            for _ in range(runs):
                async with ReplBackend() as backend:
                    source = PacedSource(_deltas(PREFETCH_PROGRAM), pace_s, first_s=ttft_s)
                    result = await run(source, backend, mode=mode, prefetch=prefetch)  # type: ignore[arg-type]
                if result.error is not None:
                    raise RuntimeError(f"the prefetch program failed: {result.error}")
                e2el.append(result.metrics.e2el_s)
                exec_s.append(result.metrics.exec_s)
                pre.append(result.metrics.prefetch_s or 0.0)
            rows.append(
                f"| {mode} | {'pandas' if prefetch else '-'} | {runs} "
                f"| {statistics.median(e2el) * 1e3:.0f} | {statistics.median(exec_s) * 1e3:.0f} "
                f"| {statistics.median(pre) * 1e3:.0f} |"
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--pace-ms", type=float, default=2.0, help="time between deltas")
    parser.add_argument("--backends", default="fake,repl")
    parser.add_argument(
        "--burst", type=int, default=1, help="deltas per read (SSE: several events per packet)"
    )
    parser.add_argument(
        "--prefetch-runs", type=int, default=3, help="runs per prefetch variant (0: skip)"
    )
    parser.add_argument("--ttft-ms", type=float, default=500.0, help="prefetch variant's TTFT")
    args = parser.parse_args()
    load = os.getloadavg()
    print(
        f"eager from {os.path.dirname(eager.__file__)}; {platform.python_implementation()} "
        f"{platform.python_version()}; {os.cpu_count()} cores; load average "
        f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f}; pace {args.pace_ms} ms per read of {args.burst} ~4-char deltas; "
        f"{args.runs} runs"
    )
    print()
    print("| backend | what | n | p50 µs | p90 µs | p99 µs | mean µs |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name in args.backends.split(","):
        for row in asyncio.run(bench(name, args.runs, args.pace_ms / 1e3, args.burst)):
            print(row)
    if args.prefetch_runs:
        print()
        print(
            f"Prefetch (fresh REPL session per run, TTFT {args.ttft_ms:.0f} ms, then "
            f"{args.pace_ms} ms per delta): medians"
        )
        print()
        print("| mode | prefetch | runs | e2el ms | exec ms | prefetch ms |")
        print("| --- | --- | --- | --- | --- | --- |")
        rows = asyncio.run(
            prefetch_rows(args.prefetch_runs, args.ttft_ms / 1e3, args.pace_ms / 1e3)
        )
        for row in rows:
            print(row)


if __name__ == "__main__":
    main()
