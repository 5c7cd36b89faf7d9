"""Cost of the sandbox: start-up and round trip of each session, plain and sandboxed.

The REPL plain, behind a command (``/usr/bin/env``: the stdio protocol alone), in bubblewrap;
the Jupyter kernel plain and in bubblewrap (ZMQ over ipc). Prints one table, side by side in one
run (ratios to the plain session of the same kind). Run:
``python benchmarks/bench_sandbox.py [STARTS] [ROUND_TRIPS]``. Asserts nothing about time.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import platform
import statistics
import sys
import tempfile
import time

from eager import Backend, JupyterBackend, ReplBackend, SandboxPolicy

#: Each variant's reference (its plain twin) for the ratios.
BASE = {
    "repl": "repl",
    "repl behind /usr/bin/env": "repl",
    "repl sandboxed": "repl",
    "jupyter": "jupyter",
    "jupyter sandboxed": "jupyter",
}


def variants(work: str) -> dict[str, Backend]:
    made: dict[str, Backend] = {
        "repl": ReplBackend(cwd=work),
        "repl behind /usr/bin/env": ReplBackend(cwd=work, command=("/usr/bin/env",)),
        "repl sandboxed": ReplBackend(cwd=work, sandbox=SandboxPolicy()),
    }
    if importlib.util.find_spec("ipykernel") is not None:
        made["jupyter"] = JupyterBackend(cwd=work)
        made["jupyter sandboxed"] = JupyterBackend(cwd=work, sandbox=SandboxPolicy())
    return made


async def measure(starts: int, trips: int) -> dict[str, tuple[float, float, float]]:
    out: dict[str, list[list[float]]] = {}
    with tempfile.TemporaryDirectory() as work:
        # Interleaved, so that load on a shared machine hits every variant alike.
        for _ in range(starts):
            for name, backend in variants(work).items():
                t0 = time.perf_counter()
                await backend.start()  # until the session answers: start-up as a caller sees it
                startup = time.perf_counter() - t0
                async with backend:
                    await backend.execute("x = 0\n")
                    t: list[float] = []
                    for _ in range(trips):
                        t0 = time.perf_counter()
                        await backend.execute("x += 1\n")
                        t.append(time.perf_counter() - t0)
                    out.setdefault(name, []).append([startup, *t])
    result = {}
    for name, runs in out.items():
        startup = statistics.median(r[0] for r in runs)
        rts = [v for r in runs for v in r[1:]]
        result[name] = (startup, statistics.median(rts), statistics.quantiles(rts, n=10)[-1])
    return result


def main() -> None:
    starts = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    trips = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    res = asyncio.run(measure(starts, trips))
    load = os.getloadavg()
    print(
        f"# {platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} cores, load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
        f"{starts} starts x {trips} round trips each"
    )
    print(
        "| session | start-up (median) | x plain | round trip (median) | p90 | x plain |\n"
        "| --- | --- | --- | --- | --- | --- |"
    )
    for name, (s, rt, p90) in res.items():
        base_s, base_rt, _ = res[BASE[name]]
        print(
            f"| {name} | {s * 1e3:.1f} ms | {s / base_s:.2f} | {rt * 1e3:.3f} ms | "
            f"{p90 * 1e3:.3f} ms | {rt / base_rt:.2f} |"
        )


if __name__ == "__main__":
    main()
