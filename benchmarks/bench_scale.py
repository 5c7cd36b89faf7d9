"""Many concurrent eager runs in one process: latency, parent CPU, memory, delays (issue 13).

Usage::

    python benchmarks/bench_scale.py [--sizes 1,16,64,256,512] [--tps 50] [--pool] [--ray]
                                     [--profile N] [--gate off] [--loop-probe] [--json out/scale.json]

For each size N: N concurrent ``eager.run`` calls of the same light program (~350 characters,
streamed by a ``ReplaySource`` at ``--tps``), each on its own REPL session started before the
runs (own: one ``ReplBackend`` per run, started up front; ``--pool``: also through a warm
``SessionPool`` of N sessions, checkout included). Prints, per N: median and p99 e2el and their
ratio to the median of a single run, the parent's CPU time per streamed token during the runs
(``time.process_time``: this process only, all its threads, no children), the same for bare
loops reading the same N replays (what the event loop and the source cost without Eager), their
difference (Eager's own CPU per token), the parent CPU with session start and close included, the parent's CPU seconds per wall second
during the runs (near the share of a core the machine gives it: saturation), the sessions' CPU
per run (children: what the executions and their wake-ups cost), RSS per session (children), the p50/p99 detection delay (a chunk
closed minus the due time of its last token), the p50/p99 dispatch lag (a batch sent minus
when it could have been), the event loop's p99 lag, outputs that differ from the single run,
and file descriptors / child processes left after. ``--pool`` adds pool checkout times.
``--ray`` adds the per-invocation round trip through a Ray actor next to a local session
(starts a local Ray instance, ~5 s). ``--profile N`` prints the parent's top functions at size
N. Asserts nothing about time; the machine and its load are printed with the numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import platform
import pstats
import resource
import statistics
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import asdict, dataclass
from typing import Any

from eager import (
    Backend,
    ChunkClosed,
    PoolConfig,
    ReplaySource,
    ReplBackend,
    RunResult,
    SessionPool,
    run,
)

#: A light data-handling program of ~350 characters (no heavy imports).
PROGRAM = """\
import math
values = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3]
total = sum(values)
print("total", total)
def mean(xs):
    return sum(xs) / len(xs)
m = mean(values)
print("mean", round(m, 3))
squares = [v * v for v in values]
print("max square", max(squares))
std = math.sqrt(sum((v - m) ** 2 for v in values) / len(values))
print("std", round(std, 3))
words = "the quick brown fox jumps".split()
print(len(words), words[-1])
"""

#: Sessions started at once while preparing a size (a burst of forks slows everything).
START_CONCURRENCY = 16
#: Period of the event-loop lag probe, seconds.
PROBE_S = 0.01


def _children() -> set[int]:
    pids: set[int] = set()
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/children") as f:
                pids.update(int(p) for p in f.read().split())
        except FileNotFoundError:
            pass
    return pids


def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except FileNotFoundError:
        pass
    return 0


def _cpu_s(pids: set[int]) -> float:
    """User + system CPU seconds the processes ``pids`` used so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _delays(result: RunResult, schedule: list[float]) -> tuple[list[float], list[float]]:
    """Detection delays of the run's chunks and dispatch lags of its batches, seconds."""
    detect = [
        e.t - schedule[e.tokens - 1]
        for e in result.events
        if isinstance(e, ChunkClosed) and 0 < e.tokens <= len(schedule)
    ]
    lags, prev = [], 0.0
    for b in result.batches:
        lags.append(max(0.0, b.dispatched_s - max(b.ready_s, prev)))
        prev = b.finished_s
    return detect, lags


class LoopProbe:
    """Measures how late the event loop wakes a sleeper (what every run's tokens feel)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _probe(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + PROBE_S
            await asyncio.sleep(PROBE_S)
            self.lags.append(loop.time() - due)

    async def __aenter__(self) -> LoopProbe:
        if self.enabled:
            self._task = asyncio.create_task(self._probe())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is None:
            return
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


@dataclass
class Row:
    """One line of the table."""

    mode: str
    n: int
    e2el_p50_s: float
    e2el_p99_s: float
    ratio_p50: float
    ratio_p99: float
    cpu_us_per_token: float
    cpu_us_per_token_all: float
    cpu_us_per_token_stream: float
    cpu_share: float
    child_cpu_ms_per_run: float
    rss_mb_per_session: float
    detect_p50_ms: float
    detect_p99_ms: float
    lag_p50_ms: float
    lag_p99_ms: float
    loop_lag_p99_ms: float
    differ: int
    checkout_p50_ms: float
    checkout_p99_ms: float
    fds_left: int
    children_left: int


async def _bounded(n: int, make: Callable[[], Any]) -> list[Any]:
    sem = asyncio.Semaphore(START_CONCURRENCY)

    async def one() -> Any:
        async with sem:
            return await make()

    return list(await asyncio.gather(*(one() for _ in range(n))))


async def _measure(
    mode: str,
    n: int,
    tps: float,
    baseline: float | None,
    expected: str | None,
    profile: bool,
    gate: str,
    probe_loop: bool,
) -> tuple[Row, list[RunResult]]:
    fds0, kids0 = len(os.listdir("/proc/self/fd")), _children()
    tokens = ReplaySource(PROGRAM, tps=tps).tokens_total
    checkouts: list[float] = []
    cpu_all0 = time.process_time()
    pool: SessionPool | None = None
    backends: list[Backend] = []
    if mode == "pool":
        pool = SessionPool(
            ReplBackend, config=PoolConfig(size=n, max_concurrent_starts=START_CONCURRENCY)
        )
        await pool.start()
    else:

        async def make() -> Backend:
            backend = ReplBackend()
            await backend.start()
            return backend

        backends = await _bounded(n, make)

    async def one(i: int) -> RunResult:
        source = ReplaySource(PROGRAM, tps=tps)
        if pool is None:
            return await run(source, backends[i], gate=gate)
        t = time.perf_counter()
        lease: AbstractAsyncContextManager[Backend] = pool.session()
        backend = await lease.__aenter__()
        checkouts.append(time.perf_counter() - t)
        try:
            return await run(source, backend, gate=gate)
        finally:
            await lease.__aexit__(None, None, None)

    kids_ready = _children() - kids0
    child_cpu0 = _cpu_s(kids_ready)
    profiler = cProfile.Profile(time.process_time) if profile else None  # CPU, not wall
    async with LoopProbe(probe_loop) as probe:
        cpu0, wall0 = time.process_time(), time.perf_counter()
        if profiler is not None:
            profiler.enable()
        results = await asyncio.gather(*(one(i) for i in range(n)))
        if profiler is not None:
            profiler.disable()
        cpu_runs = time.process_time() - cpu0
        wall_runs = time.perf_counter() - wall0
    kids = _children() - kids0
    child_cpu = _cpu_s(kids) - child_cpu0
    rss = sum(_rss_bytes(pid) for pid in kids) / max(1, len(kids))
    if pool is not None:
        await pool.close()
    else:
        await asyncio.gather(*(b.close() for b in backends))
    cpu_all = time.process_time() - cpu_all0
    if profiler is not None:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
        print(out.getvalue())
    e2el = [r.metrics.e2el_s for r in results]
    schedule = ReplaySource(PROGRAM, tps=tps).schedule
    detect: list[float] = []
    lags: list[float] = []
    for r in results:
        d, lag = _delays(r, schedule)
        detect += d
        lags += lag
    p50 = statistics.median(e2el)
    stream_cpu = await _stream_only(n, tps)
    base = baseline if baseline is not None else p50
    row = Row(
        mode=mode,
        n=n,
        e2el_p50_s=p50,
        e2el_p99_s=_pct(e2el, 0.99),
        ratio_p50=p50 / base,
        ratio_p99=_pct(e2el, 0.99) / base,
        cpu_us_per_token=cpu_runs / (n * tokens) * 1e6,
        cpu_us_per_token_all=cpu_all / (n * tokens) * 1e6,
        cpu_us_per_token_stream=stream_cpu / (n * tokens) * 1e6,
        cpu_share=cpu_runs / wall_runs,
        child_cpu_ms_per_run=child_cpu / n * 1e3,
        rss_mb_per_session=rss / 2**20,
        detect_p50_ms=_pct(detect, 0.5) * 1e3,
        detect_p99_ms=_pct(detect, 0.99) * 1e3,
        lag_p50_ms=_pct(lags, 0.5) * 1e3,
        lag_p99_ms=_pct(lags, 0.99) * 1e3,
        loop_lag_p99_ms=_pct(probe.lags, 0.99) * 1e3,
        differ=sum(r.stdout != (expected or results[0].stdout) or not r.ok for r in results),
        checkout_p50_ms=_pct(checkouts, 0.5) * 1e3 if checkouts else float("nan"),
        checkout_p99_ms=_pct(checkouts, 0.99) * 1e3 if checkouts else float("nan"),
        fds_left=len(os.listdir("/proc/self/fd")) - fds0,
        children_left=len(_children() - kids0),
    )
    return row, results


async def _stream_only(n: int, tps: float) -> float:
    """Parent CPU seconds of the same N replays read by bare loops (no Eager work at all)."""

    async def one() -> None:
        async for _ in ReplaySource(PROGRAM, tps=tps).stream():
            pass

    cpu0 = time.process_time()
    await asyncio.gather(*(one() for _ in range(n)))
    return time.process_time() - cpu0


async def _round_trips(backend: Backend, n: int) -> tuple[float, float, float]:
    for _ in range(20):
        await backend.execute("pass")
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        await backend.execute("x = 1")
        samples.append(time.perf_counter() - t)
    return statistics.mean(samples) * 1e3, _pct(samples, 0.5) * 1e3, _pct(samples, 0.99) * 1e3


async def _ray_overhead(n: int) -> None:
    import ray

    from eager import RayBackend

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        print("\n| session | start s | mean ms | p50 ms | p99 ms |")
        print("| --- | --- | --- | --- | --- |")
        for label, backend in (("local REPL", ReplBackend()), ("Ray actor", RayBackend())):
            t = time.perf_counter()
            async with backend:
                start = time.perf_counter() - t
                mean, p50, p99 = await _round_trips(backend, n)
            print(f"| {label} | {start:.2f} | {mean:.3f} | {p50:.3f} | {p99:.3f} |")
    finally:
        ray.shutdown()


def _print(rows: list[Row]) -> None:
    head = (
        "| mode | N | e2el p50 s | p99 s | p50/1 | p99/1 | CPU µs/token: runs | "
        "bare stream | Eager's own | with start+close | parent CPU/wall | child CPU ms/run | RSS MB/session | detect p50/p99 ms | dispatch lag p50/p99 ms | "
        "loop lag p99 ms | differ | checkout p50/p99 ms | fds/children left |"
    )
    print(head)
    print("|" + " --- |" * (head.count("|") - 1))
    for r in rows:
        print(
            f"| {r.mode} | {r.n} | {r.e2el_p50_s:.3f} | {r.e2el_p99_s:.3f} | {r.ratio_p50:.3f} | "
            f"{r.ratio_p99:.3f} | {r.cpu_us_per_token:.1f} | {r.cpu_us_per_token_stream:.1f} | "
            f"{r.cpu_us_per_token - r.cpu_us_per_token_stream:.1f} | "
            f"{r.cpu_us_per_token_all:.1f} | {r.cpu_share:.2f} | "
            f"{r.child_cpu_ms_per_run:.1f} | "
            f"{r.rss_mb_per_session:.1f} | {r.detect_p50_ms:.2f} / {r.detect_p99_ms:.2f} | "
            f"{r.lag_p50_ms:.2f} / {r.lag_p99_ms:.2f} | {r.loop_lag_p99_ms:.2f} | {r.differ} | "
            f"{r.checkout_p50_ms:.3f} / {r.checkout_p99_ms:.3f} | {r.fds_left} / "
            f"{r.children_left} |"
        )


async def _main(args: argparse.Namespace) -> list[Row]:
    sizes = [int(s) for s in args.sizes.split(",")]
    modes = ["own", "pool"] if args.pool else ["own"]
    rows: list[Row] = []
    single, _ = await _measure("own", 1, args.tps, None, None, False, args.gate, args.loop_probe)
    baseline = single.e2el_p50_s
    expected: str | None = None
    async with ReplBackend() as backend:
        expected = (await run(ReplaySource(PROGRAM, tps=10_000), backend)).stdout
    for mode in modes:
        for n in sizes:
            row, _ = await _measure(
                mode, n, args.tps, baseline, expected, n == args.profile, args.gate, args.loop_probe
            )
            rows.append(row)
            _print([row])
    print()
    _print(rows)
    if args.ray:
        await _ray_overhead(args.ray_n)
    return rows


def _raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1,16,64,256,512")
    parser.add_argument("--tps", type=float, default=50.0)
    parser.add_argument("--pool", action="store_true", help="also through a warm SessionPool")
    parser.add_argument("--ray", action="store_true", help="round trip through a Ray actor")
    parser.add_argument("--ray-n", type=int, default=300, help="invocations per Ray sample")
    parser.add_argument("--profile", type=int, default=0, help="cProfile the parent at size N")
    parser.add_argument("--gate", default="default", help="gate policy of the runs (off: none)")
    parser.add_argument(
        "--loop-probe",
        action="store_true",
        help="measure the event loop's lag (a 10 ms ticker: it costs parent CPU itself)",
    )
    parser.add_argument("--json", default=None, help="write the rows as JSON to this path")
    args = parser.parse_args()
    _raise_fd_limit()
    print(
        f"# bench_scale: {platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}, "
        f"program {len(PROGRAM)} chars / {ReplaySource(PROGRAM).tokens_total} tokens at "
        f"{args.tps:g} tok/s, fd limit {resource.getrlimit(resource.RLIMIT_NOFILE)[0]}"
    )
    rows = asyncio.run(_main(args))
    print(f"# load after: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")
    if args.json:
        os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
        with open(args.json, "w") as f:
            json.dump([asdict(r) for r in rows], f, indent=1)


if __name__ == "__main__":
    main()
