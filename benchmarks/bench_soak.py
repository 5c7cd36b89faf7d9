"""Soak: agent conversations without pause through a pool against ``eager serve``, faults mixed in.

``eager serve`` runs as its own process (loopback, a free port) with a few small conversations;
``--concurrency`` workers each run agent conversations back to back for ``--duration`` seconds,
every one through ``SessionPool.session()`` (REPL sessions, reset on return). Each conversation
draws one case:

* ``clean``: code, then the answer; ``repair``: a failing statement, then a fix, then the answer;
* model faults (the server's ``@fault`` suffix): ``drop`` (the stream is cut), ``stall`` (it stops
  sending: the between-token timeout), ``429`` (refused once, then served: a retry),
  ``length`` (a token-limit stop before any code);
* session faults: ``crash`` (the code calls ``os._exit``), ``timeout`` (an endless loop past the
  execution timeout), and, all along, a killer task that SIGKILLs a random session process of
  the pool every ``--kill-every`` seconds (busy or idle: the OOM killer's way).

Every conversation must end with its answer or a clear error (``stop="error"`` with a message);
anything else (an exception out of the agent, an empty error) is counted as *foreign*. The
parent's RSS and open descriptors are sampled every ``--sample-every`` seconds; their slopes
(least squares over the second half of the run, after warm-up) are reported per hour. At the
end, after the pool and the server closed: no child process may be left.

    python benchmarks/bench_soak.py --duration 1800 --concurrency 8 --json out/soak.json
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import platform
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from eager import PoolConfig, ReplBackend, SessionPool
from eager.agent import Agent, AgentConfig, EndpointModel

CLEAN = [
    "Let me compute it.\n```python\nvalues = [3, 1, 4, 1, 5, 9, 2, 6]\n"
    "total = sum(values)\nprint('total', total)\n```\n",
    "I now know the final answer.\nFinal Answer: 31",
]
REPAIR = [
    "Computing.\n```python\nx = 21\nprint('x is', x)\ny = x / 0\nprint('never')\n```\n",
    "Dividing by zero; fixed.\n```python\ny = x * 2\nprint(y)\n```\n",
    "Final Answer: 42",
]
CRASH = [
    "Running.\n```python\nprint('last words', flush=True)\nimport os\nos._exit(3)\n```\n",
    "The session died; again.\n```python\nprint(2 + 2)\n```\n",
    "Final Answer: 4",
]
TIMEOUT = [
    "Looping.\n```python\nwhile True:\n    pass\n```\n",
    "That took too long.\n```python\nprint('quick')\n```\n",
    "Final Answer: quick",
]
RECORDINGS = {"clean": CLEAN, "repair": REPAIR, "crash": CRASH, "timeout": TIMEOUT}
#: case -> (recording, model fault suffix or "", what must happen)
CASES: dict[str, tuple[str, str, str]] = {
    "clean": ("clean", "", "answer"),
    "repair": ("repair", "", "answer"),
    "crash": ("crash", "", "answer"),
    "timeout": ("timeout", "", "answer"),
    "drop": ("clean", "@drop=6", "error"),
    "stall": ("clean", "@stall=6", "error"),
    "429": ("clean", "@status=429x1,retry-after=0", "answer"),
    "length": ("clean", "@length=3", "error"),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_kib() -> int:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def children() -> set[int]:
    """Child processes of this process (all its threads)."""
    pids: set[int] = set()
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/children", encoding="ascii") as f:
                pids.update(int(p) for p in f.read().split())
        except FileNotFoundError:
            pass
    return pids


def descendants(pid: int) -> set[int]:
    found: set[int] = set()
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/task/{p}/children", encoding="ascii") as f:
                kids = {int(k) for k in f.read().split()}
        except (FileNotFoundError, ProcessLookupError):
            continue
        found |= kids
        todo.extend(kids)
    return found


def slope_per_hour(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of (t seconds, value) in value per hour (0 for < 2 samples)."""
    if len(samples) < 2:
        return 0.0
    n = len(samples)
    mt = sum(t for t, _ in samples) / n
    mv = sum(v for _, v in samples) / n
    den = sum((t - mt) ** 2 for t, _ in samples)
    if den == 0:
        return 0.0
    return 3600 * sum((t - mt) * (v - mv) for t, v in samples) / den


def serve(folder: Path, port: int, tps: float) -> subprocess.Popen[bytes]:
    lines = [
        json.dumps({"id": name, "turns": [{"text": t} for t in turns]})
        for name, turns in RECORDINGS.items()
    ]
    recordings = folder / "soak.jsonl"
    recordings.write_text("\n".join(lines) + "\n", encoding="utf-8")
    argv = [sys.executable, "-m", "eager", "serve", str(recordings), "--port", str(port)]
    argv += ["--tps", f"{tps:g}", "--ttft", "0.05"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("eager serve did not start")


async def conversation(
    pool: SessionPool, base_url: str, case: str, config: AgentConfig
) -> tuple[str, str]:
    """One conversation; (outcome, detail): outcome in answer, error, foreign."""
    recording, fault, _ = CASES[case]
    model = EndpointModel(
        base_url=base_url,
        model=recording + fault,
        source_options={
            "retries": 2,
            "backoff_s": 0.05,
            "first_token_timeout_s": 10.0,
            "token_timeout_s": 1.0,
        },
    )
    try:
        async with pool.session() as backend:
            result = await Agent(model=model, backend=backend, config=config).run("go")
    except Exception as exc:  # never expected: the agent reports errors as data
        return "foreign", f"{type(exc).__name__}: {exc}"
    if result.stop in ("answer", "final_answer") and result.answer:
        return "answer", result.answer
    if result.stop == "error" and result.error:
        return "error", result.error
    return "foreign", f"stop={result.stop} answer={result.answer!r} error={result.error!r}"


async def killer(every_s: float, rng: random.Random, kills: list[float], t0: float) -> None:
    """SIGKILL a random session process now and then (busy or idle)."""
    while True:
        await asyncio.sleep(every_s)
        me = os.getpid()
        sessions = [p for p in children() if _is_session(p, me)]
        if sessions:
            with_pid = rng.choice(sessions)
            try:
                os.kill(with_pid, signal.SIGKILL)
                kills.append(time.monotonic() - t0)
            except ProcessLookupError:
                pass


def _is_session(pid: int, me: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return False
    return b"-c" in argv and any(b"exec(r(int(r(10))))" in a for a in argv)


async def soak(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}/v1"
    config = AgentConfig(max_turns=4, timeout_s=args.exec_timeout)
    outcomes: collections.Counter[str] = collections.Counter()
    per_case: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    mismatches: list[str] = []
    foreign: list[str] = []
    samples: list[tuple[float, int, int]] = []
    kills: list[float] = []
    with tempfile.TemporaryDirectory(prefix="eager-soak-") as tmp:
        server = serve(Path(tmp), port, args.tps)
        t0 = time.monotonic()
        end = t0 + args.duration
        pool_config = PoolConfig(
            size=args.concurrency,
            max_sessions=args.concurrency + 2,
            on_return="reset",
            wait_timeout_s=60,
        )

        def factory() -> ReplBackend:
            return ReplBackend(timeout_s=args.exec_timeout, restart_grace_s=0.5)

        async def worker() -> None:
            while time.monotonic() < end:
                case = rng.choice(list(CASES))
                outcome, detail = await conversation(pool, base_url, case, config)
                outcomes[outcome] += 1
                per_case[case][outcome] += 1
                if outcome == "foreign":
                    foreign.append(f"{case}: {detail}")
                elif outcome != CASES[case][2] and case not in ("crash", "timeout"):
                    # crash/timeout recover by design; a kill may still make any case fail
                    mismatches.append(f"{case}: {outcome}: {detail[:200]}")

        async def sampler() -> None:
            while True:
                samples.append((time.monotonic() - t0, rss_kib(), open_fds()))
                await asyncio.sleep(args.sample_every)

        try:
            async with SessionPool(factory, config=pool_config) as pool:
                tasks = [asyncio.create_task(sampler())]
                if args.kill_every > 0:
                    tasks.append(asyncio.create_task(killer(args.kill_every, rng, kills, t0)))
                await asyncio.gather(*(worker() for _ in range(args.concurrency)))
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                stats = pool.stats()
            samples.append((time.monotonic() - t0, rss_kib(), open_fds()))
        finally:
            server.terminate()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        await asyncio.sleep(0.5)
        left = sorted(children())
    half = [s for s in samples if s[0] >= samples[-1][0] / 2]
    total = sum(outcomes.values())
    return {
        "duration_s": round(samples[-1][0], 1),
        "concurrency": args.concurrency,
        "tps": args.tps,
        "conversations": total,
        "per_minute": round(60 * total / max(samples[-1][0], 1e-9), 1),
        "outcomes": dict(outcomes),
        "per_case": {k: dict(v) for k, v in sorted(per_case.items())},
        "foreign": foreign[:20],
        "unexpected_outcomes": len(mismatches),
        "unexpected_examples": mismatches[:10],
        "kills": len(kills),
        "pool": {
            "started": stats.started,
            "replaced": stats.replaced,
            "found_dead": stats.found_dead,
            "failed_starts": stats.failed_starts,
            "checkouts": stats.checkouts,
        },
        "rss_kib": {
            "first": samples[0][1],
            "last": samples[-1][1],
            "max": max(s[1] for s in samples),
        },
        "rss_slope_kib_per_hour": round(slope_per_hour([(t, r) for t, r, _ in half]), 1),
        "fds": {"first": samples[0][2], "last": samples[-1][2], "max": max(s[2] for s in samples)},
        "fd_slope_per_hour": round(slope_per_hour([(t, f) for t, _, f in half]), 2),
        "children_left": left,
        "samples": len(samples),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=float, default=1800.0, help="seconds (default 1800)")
    p.add_argument("--concurrency", type=int, default=8, help="conversations at once")
    p.add_argument("--tps", type=float, default=400.0, help="served tokens per second")
    p.add_argument("--exec-timeout", type=float, default=2.0, help="per execution, s")
    p.add_argument(
        "--kill-every", type=float, default=7.0, help="kill a session every S s (0: off)"
    )
    p.add_argument("--sample-every", type=float, default=5.0, help="RSS/fd sample period, s")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", metavar="OUT", help="write the report as JSON here too")
    args = p.parse_args()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load_before = os.getloadavg()[0]
    report = asyncio.run(soak(args))
    report.update(
        started=started,
        machine=f"{os.cpu_count()} CPU {platform.machine()}, Python {platform.python_version()}",
        load_1min=[round(load_before, 1), round(os.getloadavg()[0], 1)],
    )
    text = json.dumps(report, indent=1)
    print(text)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(text + "\n", encoding="utf-8")
    ok = not report["foreign"] and not report["children_left"]
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
