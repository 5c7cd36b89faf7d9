"""CellSyntax cost per delta: a 300-line notebook cell fed in 4-character pieces.

Usage: python benchmarks/bench_ipysyntax.py [--lines 300] [--piece 4] [--repeat 5]
Prints numbers; asserts nothing about time. Three cells: plain Python (the common case), the
same with an IPython line (``!``/``%``/``?``) every 10 lines, and a ``%%time`` cell (whole-cell
mode: everything waits for ``end()``). For scale, one ``TransformerManager().transform_cell`` of
the whole cell (what a serial notebook does once per cell) is timed too.
"""

from __future__ import annotations

import argparse
import statistics
import time

from eager._ipysyntax import CellSyntax, transform_cell

_BLOCK = '''import pandas as pd
df_{i} = pd.read_csv("data_{i}.csv")  # load
mean_{i} = df_{i}["price"].mean()
print(f"mean {{mean_{i}:.2f}} over {{len(df_{i})}} rows!")
if mean_{i} != 0:
    ratio = df_{i}["price"] / mean_{i}
    print("%.1f%% above" % (100 * (ratio > 1).mean()))
summary = {{
    "rows": len(df_{i}),
    "cols": list(df_{i}.columns),
}}
def top_{i}(frame, n=3):
    """The n largest prices (what?)."""
    return frame.nlargest(n, "price")
top_{i}(df_{i})
'''  # 15 lines

_MAGICS = ["!ls -la\n", "%matplotlib inline\n", "files = !ls *.csv\n", "x = %time f()\n", "df?\n"]


def plain(lines: int) -> str:
    out: list[str] = []
    i = 0
    while sum(s.count("\n") for s in out) < lines:
        out.append(_BLOCK.format(i=i))
        i += 1
    return "".join(out)


def with_magics(lines: int) -> str:
    out = []
    for k, line in enumerate(plain(lines).splitlines(keepends=True)):
        out.append(line)
        if k % 10 == 9 and not line.startswith((" ", "def", "summary", "if")):
            out.append(_MAGICS[k % len(_MAGICS)])
    return "".join(out)


def measure(cell: str, piece: int, repeat: int) -> tuple[list[float], float]:
    """Per-piece feed costs (s) of the fastest run, and its end() cost."""
    best: tuple[list[float], float] | None = None
    clock = time.perf_counter
    for _ in range(repeat):
        cs = CellSyntax()
        costs = []
        for i in range(0, len(cell), piece):
            t = clock()
            cs.feed(cell[i : i + piece])
            costs.append(clock() - t)
        t = clock()
        cs.end()
        end = clock() - t
        if best is None or sum(costs) < sum(best[0]):
            best = (costs, end)
    assert best is not None
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=300)
    parser.add_argument("--piece", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    CellSyntax()  # import IPython once, outside the timings
    cells = {
        "plain Python": plain(args.lines),
        "IPython line every 10": with_magics(args.lines),
        "%%time (whole-cell)": "%%time\n" + plain(args.lines),
    }
    print("| cell | lines | pieces | µs/piece mean | p99 | max | end() ms | transform_cell ms |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, cell in cells.items():
        costs, end = measure(cell, args.piece, args.repeat)
        t = time.perf_counter()
        transform_cell(cell)
        whole = time.perf_counter() - t
        us = sorted(c * 1e6 for c in costs)
        p99 = us[int(0.99 * (len(us) - 1))]
        print(
            f"| {name} | {cell.count(chr(10))} | {len(costs)} | {statistics.fmean(us):.2f} "
            f"| {p99:.1f} | {us[-1]:.0f} | {end * 1e3:.2f} | {whole * 1e3:.1f} |"
        )


if __name__ == "__main__":
    main()
