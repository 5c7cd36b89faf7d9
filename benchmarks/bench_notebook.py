"""What notebook display costs: per-invocation overhead, the cell's end, figures per cell.

Usage: ``python benchmarks/bench_notebook.py [--n 2000] [--backends repl,jupyter]``

For each backend, side by side in one run (interleaved, so machine noise hits both alike):

* ``script``: ``execute("x = 1")``, as a script runs a chunk;
* ``notebook step``: the same chunk as a middle step of an open notebook cell (the value of
  a last expression held, hooks held back): the overhead notebook display adds to every
  invocation is the difference of the medians;
* ``notebook cell``: a whole one-statement cell ending in a value (``begin`` + ``end``: the
  count, the display hook, ``execute_result``), for scale.

Then a figure built over three statements, streamed eagerly in notebook display: how many
images came back (one per cell is right) and how long the cell's end (rendering) took.
Prints a markdown table; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import subprocess
import time

from eager import Backend, CellStep, JupyterBackend, ReplBackend, ScriptedSource, run

WARMUP = 100


def _machine() -> str:
    cpu = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    return f"{platform.node()}: {cpu} cores, Python {platform.python_version()}"


async def _overheads(backend: Backend, n: int) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {"script": [], "notebook step": [], "notebook cell": []}
    await backend.execute("", cell=CellStep())  # the session's shell, made once
    await backend.execute("y = 0\n", cell=CellStep(begin=True))  # a cell left open
    for i in range(WARMUP + n):
        for name in samples:
            if name == "script":
                code, cell = "x = 1\n", None
            elif name == "notebook step":
                code, cell = "x = 1\n", CellStep()
            else:
                code, cell = "x\n", CellStep(begin=True, end=True, source="x\n")
            t0 = time.perf_counter()
            result = await backend.execute(code, cell=cell)
            elapsed = time.perf_counter() - t0
            if result.error is not None:
                raise RuntimeError(f"{name}: {result.error}")
            if i >= WARMUP:
                samples[name].append(elapsed)
        if i % 50 == 0:  # keep a cell open for the middle steps
            await backend.execute("y = 0\n", cell=CellStep(begin=True))
    return samples


async def _figure(backend: Backend) -> tuple[int, float]:
    code = (
        "```python\nimport matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\n"
        "plt.title('t')\nplt.xlabel('x')\n```\n"
    )
    deltas = [code[i : i + 4] for i in range(0, len(code), 4)]
    result = await run(
        ScriptedSource(deltas, delay_s=0.01), backend, display="notebook", extract="chat"
    )
    images = sum(1 for o in result.outputs if "image/png" in o.data)
    last = result.batches[-1]
    return images, last.finished_s - last.dispatched_s


async def main(backends: list[str], n: int) -> None:
    print(f"machine: {_machine()}; {n} invocations per kind after {WARMUP} warm-up\n")
    print("| backend | kind | median ms | p90 ms | added vs script (median) µs |")
    print("|---|---|---:|---:|---:|")
    figures = []
    for name in backends:
        backend: Backend = ReplBackend() if name == "repl" else JupyterBackend()
        async with backend:
            samples = await _overheads(backend, n)
            base = statistics.median(samples["script"])
            for kind, values in samples.items():
                ordered = sorted(values)
                med = statistics.median(values)
                p90 = ordered[int(0.9 * (len(ordered) - 1))]
                added = "" if kind == "script" else f"{(med - base) * 1e6:+.1f}"
                print(f"| {name} | {kind} | {med * 1e3:.3f} | {p90 * 1e3:.3f} | {added} |")
        backend = ReplBackend() if name == "repl" else JupyterBackend()
        async with backend:
            figures.append((name, *await _figure(backend)))
    print("\n| backend | images for one figure built over 3 statements | the run's last step, ms |")
    print("|---|---:|---:|")
    for name, images, render in figures:
        print(f"| {name} | {images} | {render * 1e3:.1f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--backends", default="repl,jupyter")
    args = parser.parse_args()
    asyncio.run(main(args.backends.split(","), args.n))
