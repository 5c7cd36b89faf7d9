"""Programmatic tool calling: how much tool time eager execution and speculation hide.

Usage: ``python benchmarks/bench_tools.py [--rates 20,50,100,200] [--backend repl|sandbox]
[--seed 0] [--roundtrip-n 2000]``

Programs written for this benchmark (below) call host tools: chains (search -> fetch ->
summarise), fan-outs, lookups with literal arguments, computation between calls, and an acting
tool at the end. Each call's latency is drawn from a log-uniform distribution over
[50 ms, 2 s] seeded by the call itself, so serial and eager runs wait the same for the same
call. Each program is streamed at each rate (``ReplaySource``, code format) and run three
ways on a fresh session: **serial** (run after generation), **eager** (statements while they
stream) and **eager + speculation** (read-only calls whose arguments are final start before
their statement is complete). Reported per rate: E2EL of each, the saving against serial,
the share of read-only tool time hidden (1 - tool time waited after generation ended, eager
over serial), speculative calls started / hits / misses, and whether an acting tool ever ran
before generation ended (it must not). Then the bridge's round trip (a no-op read-only tool
called in a loop) per backend. Prints markdown; asserts nothing about time.

For comparison (their own workloads, not ours): PASTE reports -48.5% task time (arXiv
2603.18897); Pysolate about 0.28 s of extra overlap on live streams.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import math
import platform
import statistics
import subprocess
import time
from dataclasses import dataclass

from eager import (
    Backend,
    GenerationEnded,
    JupyterBackend,
    ReplaySource,
    ReplBackend,
    RunResult,
    SandboxPolicy,
    Tool,
    ToolCalled,
    run,
    tool,
)

LOW_S, HIGH_S = 0.05, 2.0

PROGRAMS: dict[str, str] = {
    "chain": """\
# find a paper, read it, summarise it
hits = search("eager execution of LLM code", limit=3)
print("found", len(hits))
page = fetch(hits[0])
words = page.split()
print("read", len(words), "words")
summary = summarize(page, style="short")
print(summary)
""",
    "fan-out": """\
hits = search("streaming interpreters", limit=4)
pages = {
    "first": fetch(hits[0]),
    "second": fetch(hits[1]),
    "third": fetch(hits[2]),
    "fourth": fetch(hits[3]),
}
sizes = {name: len(text) for name, text in pages.items()}
print(sorted(sizes.items()))
""",
    "lookups": """\
cities = ["Paris", "Tokyo", "Lima"]
report = {
    "Paris": weather("Paris"),
    "Tokyo": weather("Tokyo"),
    "Lima": weather("Lima"),
}
warmest = max(report, key=lambda c: report[c]["temp"])
print("warmest:", warmest, report[warmest])
rate = exchange_rate("EUR", "JPY")
print(f"1 EUR = {rate:.2f} JPY")
""",
    "compute-between": """\
import math
primes = [n for n in range(2, 20000) if all(n % d for d in range(2, int(math.isqrt(n)) + 1))]
print(len(primes))
facts = lookup("prime numbers")
print(facts[:40])
total = sum(p * p for p in primes[:1000])
more = lookup("sum of squares")
print(total, more[:40])
""",
    "acting-at-end": """\
hits = search("quarterly report", limit=2)
first = fetch(hits[0])
second = fetch(hits[1])
digest = summarize(first + " " + second, style="bullet")
print(digest)
receipt = send_email("team@example.org", "Digest", digest)
print(receipt)
""",
    "loop-not-speculable": """\
urls = [f"https://example.org/page/{i}" for i in range(3)]
texts = []
for url in urls:
    texts.append(fetch(url))
print([len(t) for t in texts])
""",
}


def latency(name: str, args: tuple[object, ...], seed: int) -> float:
    """The call's latency: log-uniform over [LOW_S, HIGH_S], fixed by the call and seed."""
    digest = hashlib.sha256(repr((seed, name, args)).encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    return math.exp(math.log(LOW_S) + u * (math.log(HIGH_S) - math.log(LOW_S)))


@dataclass
class Tools:
    """The benchmark's tools; ``acted`` records when the acting tool ran (monotonic s)."""

    seed: int

    def __post_init__(self) -> None:
        self.acted: list[float] = []

    def all(self) -> list[Tool]:
        seed, acted = self.seed, self.acted

        @tool(read_only=True)
        async def search(query: str, limit: int = 3) -> list[str]:
            """Web search: the URLs of the best pages."""
            await asyncio.sleep(latency("search", (query, limit), seed))
            slug = hashlib.sha256(query.encode()).hexdigest()[:8]  # stable across processes
            return [f"https://example.org/{slug}/{i}" for i in range(limit)]

        @tool(read_only=True)
        async def fetch(url: str) -> str:
            """The text of the page at ``url``."""
            await asyncio.sleep(latency("fetch", (url,), seed))
            return f"text of {url} " * 20

        @tool(read_only=True)
        async def summarize(text: str, style: str = "short") -> str:
            """A summary of ``text``."""
            await asyncio.sleep(latency("summarize", (len(text), style), seed))
            return f"{style} summary of {len(text)} characters"

        @tool(read_only=True)
        async def weather(city: str) -> dict[str, float]:
            """Today's weather in ``city``."""
            await asyncio.sleep(latency("weather", (city,), seed))
            return {"temp": float(len(city) * 3), "rain": 0.1}

        @tool(read_only=True)
        async def exchange_rate(base: str, quote: str) -> float:
            """The exchange rate from ``base`` to ``quote``."""
            await asyncio.sleep(latency("exchange_rate", (base, quote), seed))
            return 161.5

        @tool(read_only=True)
        async def lookup(topic: str) -> str:
            """An encyclopaedia entry."""
            await asyncio.sleep(latency("lookup", (topic,), seed))
            return f"entry about {topic} " * 5

        @tool
        async def send_email(to: str, subject: str, body: str) -> str:
            """Send an e-mail (acts on the world)."""
            acted.append(time.monotonic())
            await asyncio.sleep(latency("send_email", (to, subject), seed))
            return f"sent to {to}"

        return [search, fetch, summarize, weather, exchange_rate, lookup, send_email]


def _exposed_tool_s(result: RunResult, read_only: set[str]) -> float:
    """Seconds the session waited for read-only tools after generation ended."""
    gen_end = next(e.t for e in result.events if isinstance(e, GenerationEnded))
    waited = 0.0
    for e in result.events:
        if isinstance(e, ToolCalled) and e.name in read_only:
            waited += max(0.0, e.t + e.waited_s - max(e.t, gen_end))
    return waited


def _backend(kind: str) -> Backend:
    if kind == "sandbox":
        return ReplBackend(sandbox=SandboxPolicy())
    if kind == "jupyter":
        return JupyterBackend()
    return ReplBackend()


async def _one(program: str, tps: float, mode: str, spec: bool, kind: str, seed: int):
    tools = Tools(seed)
    read_only = {t.name for t in tools.all() if t.read_only}
    async with _backend(kind) as backend:
        source = ReplaySource(program, tps=tps, format="code")
        t0 = time.monotonic()
        result = await run(source, backend, mode=mode, tools=tools.all(), speculate=spec)  # type: ignore[arg-type]
    if result.error is not None:
        raise RuntimeError(f"{mode}: {result.error.ename}: {result.error.evalue}")
    gen_end = next(e.t for e in result.events if isinstance(e, GenerationEnded))
    early = any(t - t0 < gen_end for t in tools.acted)
    return result, _exposed_tool_s(result, read_only), early


async def grid(rates: list[float], kind: str, seed: int) -> None:
    print(
        "| tok/s | program | E2EL serial s | eager s | eager+spec s | saving eager | saving spec | "
        "read-only tool time hidden (eager / spec) | spec started / hits / misses | acting early |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---|")
    summary: dict[float, list[tuple[float, float, float]]] = {}
    for tps in rates:
        for name, program in PROGRAMS.items():
            serial, s_exp, s_early = await _one(program, tps, "serial", False, kind, seed)
            eager, e_exp, e_early = await _one(program, tps, "eager", False, kind, seed)
            spec, p_exp, p_early = await _one(program, tps, "eager", True, kind, seed)
            assert serial.stdout == eager.stdout == spec.stdout, name
            se, ee, pe = serial.metrics.e2el_s, eager.metrics.e2el_s, spec.metrics.e2el_s
            hid_e = 1 - e_exp / s_exp if s_exp else 0.0
            hid_p = 1 - p_exp / s_exp if s_exp else 0.0
            m = spec.metrics
            early = "yes" if (s_early or e_early or p_early) else "no"
            print(
                f"| {tps:g} | {name} | {se:.2f} | {ee:.2f} | {pe:.2f} | {1 - ee / se:.0%} | "
                f"{1 - pe / se:.0%} | {hid_e:.0%} / {hid_p:.0%} | {m.spec_started} / "
                f"{m.spec_hits} / {m.spec_misses} | {early} |"
            )
            summary.setdefault(tps, []).append((1 - pe / se, hid_p, s_exp))
    print("\n| tok/s | saving (spec), median | mean | read-only tool time hidden, pooled (spec) |")
    print("|---:|---:|---:|---:|")
    for tps, rows in summary.items():
        med = statistics.median(r[0] for r in rows)
        mean = statistics.fmean(r[0] for r in rows)
        pooled = sum(r[1] * r[2] for r in rows) / sum(r[2] for r in rows)
        print(f"| {tps:g} | {med:.0%} | {mean:.0%} | {pooled:.0%} |")


async def roundtrip(kind: str, n: int, *, sync: bool) -> float:
    """Seconds per call of a no-op tool called in a loop (async: the bridge alone; sync: plus
    the worker thread a sync tool runs in)."""

    def ident(x: int) -> int:
        return x

    async def aident(x: int) -> int:
        return x

    noop = Tool(ident if sync else aident, name="noop", read_only=True)

    code = f"for i in range({n}):\n    noop(i)\n"
    async with _backend(kind) as backend:
        await run(ReplaySource("noop(0)\n", tps=1e6, format="code"), backend, tools=[noop])
        result = await run(
            ReplaySource(code, tps=1e6, format="code"), backend, tools=[noop], speculate=False
        )
    return result.metrics.exec_s / n


def _machine() -> str:
    cpu = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    with open("/proc/loadavg") as f:
        load = f.read().split()[0]
    return f"{platform.node()}: {cpu} cores, load {load}, Python {platform.python_version()}"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="20,50,100,200")
    parser.add_argument("--backend", default="repl", choices=["repl", "sandbox", "jupyter"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--roundtrip-n", type=int, default=2000)
    parser.add_argument("--skip-grid", action="store_true")
    args = parser.parse_args()
    print(
        f"machine: {_machine()}; backend {args.backend}; latencies log-uniform "
        f"[{LOW_S * 1e3:.0f} ms, {HIGH_S:.0f} s], seed {args.seed}\n"
    )
    if not args.skip_grid:
        await grid([float(r) for r in args.rates.split(",")], args.backend, args.seed)
    print("\n| backend | round trip, async no-op tool (ms) | sync no-op tool (ms) |")
    print("|---|---:|---:|")
    for kind in ("repl", "sandbox", "jupyter"):
        n = args.roundtrip_n if kind != "jupyter" else 200
        try:
            a = await roundtrip(kind, n, sync=False)
            s = await roundtrip(kind, n, sync=True)
        except Exception as exc:  # a backend that cannot start here is named, not fatal
            print(f"| {kind} | n/a ({type(exc).__name__}: {exc}) | |")
            continue
        print(f"| {kind} | {a * 1e3:.3f} | {s * 1e3:.3f} |")


if __name__ == "__main__":
    asyncio.run(main())
