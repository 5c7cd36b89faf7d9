"""Per-invocation round trip (the latency model's ``s``) and start-up time of each backend.

Usage: ``python benchmarks/bench_backends.py [--n 1000] [--backends repl,fake,...]``

For every backend named in ``eager.cli._backends.BACKENDS`` that can start here (plus the
in-memory ``fake``): start-up time (``start()`` until ready), then the mean / p50 / p99 wall time
of ``execute("pass")`` and ``execute("x = 1")`` after a warm-up. Prints a markdown table;
asserts nothing about time.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import subprocess
import time

from eager import Backend, FakeBackend
from eager.cli._backends import BACKENDS, add_backend_options

WARMUP = 50
SLOW_BACKEND_N = 300  # fewer invocations for backends slower than ~1 ms


def _factory(name: str) -> Backend:
    if name == "fake":
        return FakeBackend()
    parser = argparse.ArgumentParser()
    add_backend_options(parser)
    args = parser.parse_args(["--backend", name])
    return BACKENDS[name](args)


def _stats(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return statistics.fmean(samples) * 1e3, statistics.median(samples) * 1e3, p99 * 1e3


async def _measure(backend: Backend, code: str, n: int) -> list[float]:
    for _ in range(WARMUP):
        await backend.execute(code)
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        result = await backend.execute(code)
        samples.append(time.perf_counter() - t0)
        if result.error is not None:
            raise RuntimeError(f"{code!r} failed: {result.error}")
    return samples


async def bench(name: str, n: int) -> list[str]:
    """Table rows for one backend (or one row saying why it was skipped)."""
    try:
        backend = _factory(name)
        t0 = time.perf_counter()
        await backend.start()
        startup_s = time.perf_counter() - t0
    except Exception as exc:
        return [f"| {name} | skipped: {type(exc).__name__}: {exc} | | | |"]
    rows = []
    try:
        probe = await _measure(backend, "pass", 20)
        count = n if statistics.median(probe) < 1e-3 else min(n, SLOW_BACKEND_N)
        for code in ("pass", "x = 1"):
            mean, p50, p99 = _stats(await _measure(backend, code, count))
            rows.append(f"| {name} | `{code}` ×{count} | {mean:.3f} | {p50:.3f} | {p99:.3f} |")
        rows.append(f"| {name} | start-up | {startup_s * 1e3:.1f} | | |")
    finally:
        await backend.close()
    return rows


def machine() -> str:
    """One line naming the machine, the interpreter and the date."""
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        info = dict(
            (k.strip(), v.strip())
            for k, _, v in (line.partition(":") for line in lscpu.splitlines())
        )
        cpu = f"{info.get('Model name', '?')}, {info.get('CPU(s)', '?')} CPUs"
    except OSError:
        cpu = platform.processor() or "?"
    return f"{cpu}; {platform.python_implementation()} {platform.python_version()}; {time.strftime('%Y-%m-%d')}"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="invocations per measurement")
    parser.add_argument(
        "--backends", default=",".join([*BACKENDS, "fake"]), help="comma-separated names"
    )
    args = parser.parse_args()
    print(f"Machine: {machine()}\n")
    print("| backend | what | mean ms | p50 ms | p99 ms |")
    print("| --- | --- | --- | --- | --- |")
    for name in args.backends.split(","):
        for row in await bench(name.strip(), args.n):
            print(row, flush=True)


if __name__ == "__main__":
    asyncio.run(main())
