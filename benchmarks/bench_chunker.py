"""Chunker cost per delta, linearity (300 vs 3,000 lines) and lag over the standard library.

Usage: python benchmarks/bench_chunker.py [--files N] (default 200 stdlib files; 0 = all).
Prints numbers; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import ast
import random
import statistics
import sysconfig
import time
import warnings
from pathlib import Path

from eager import Chunker

_BLOCK = '''import math
data = [i * 0.5 for i in range({i})]
total_{i} = sum(data)


def stats_{i}(xs, *, scale=1.0):
    """Mean and spread."""
    mean = sum(xs) / len(xs)
    var = sum((x - mean) ** 2 for x in xs) / len(xs)
    return mean * scale, math.sqrt(var)


if total_{i} > 10:
    print(stats_{i}(data))
else:
    print("small")
'''  # 16 lines


def program(lines: int) -> str:
    return "".join(_BLOCK.format(i=i) for i in range(lines // 16 + 1))


def deltas(text: str, rng: random.Random) -> list[str]:
    out, i = [], 0
    while i < len(text):
        k = rng.randint(1, 12)
        out.append(text[i : i + k])
        i += k
    return out


def run(text: str, rng: random.Random) -> tuple[list[float], list[tuple[int, int]]]:
    """Per-delta costs (s) and (chunk end, characters received when emitted)."""
    c = Chunker()
    costs: list[float] = []
    emitted: list[tuple[int, int]] = []
    got = 0
    clock = time.perf_counter
    for d in deltas(text, rng):
        got += len(d)
        t = clock()
        chunks = c.feed(d)
        costs.append(clock() - t)
        emitted += [(ch.end, got) for ch in chunks]
    emitted += [(ch.end, got) for ch in c.close()]
    return costs, emitted


def lags(text: str, emitted: list[tuple[int, int]]) -> list[int]:
    """Characters received after each top-level statement's last token before its chunk."""
    line_starts = [0]
    for line in text.split("\n"):
        line_starts.append(line_starts[-1] + len(line) + 1)
    out = []
    k = 0
    lines = text.split("\n")
    for st in ast.parse(text).body:
        assert st.end_lineno is not None and st.end_col_offset is not None
        line = lines[st.end_lineno - 1]
        end = line_starts[st.end_lineno - 1] + len(line.encode()[: st.end_col_offset].decode())
        while emitted[k][0] < end:
            k += 1
        out.append(emitted[k][1] - end)
    return out


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=200)
    args = parser.parse_args()
    rng = random.Random(0)
    print("synthetic program, random 1-12 char deltas:")
    totals = {}
    for n in (300, 3000):
        text = program(n)
        best = None
        for _ in range(5):
            costs, _em = run(text, rng)
            if best is None or sum(costs) < sum(best):
                best = costs
        assert best is not None
        totals[n] = sum(best)
        print(
            f"  {n:5d} lines: {len(best)} deltas, mean {statistics.mean(best) * 1e6:.2f} us, "
            f"p99 {pct(best, 0.99) * 1e6:.2f} us, total {sum(best) * 1e3:.1f} ms"
        )
    print(f"  ratio total(3000)/total(300) = {totals[3000] / totals[300]:.1f}")

    root = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(p for p in root.rglob("*.py") if "site-packages" not in p.parts)
    if args.files:
        files = rng.sample(files, min(args.files, len(files)))
    all_costs: list[float] = []
    all_lags: list[int] = []
    n_files = 0
    for path in files:
        try:
            text = path.read_bytes().decode("utf-8")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ast.parse(text)
        except (UnicodeDecodeError, SyntaxError, ValueError):
            continue
        n_files += 1
        costs, emitted = run(text, rng)
        all_costs += costs
        if "\r" not in text and "\f" not in text and "\ufeff" not in text:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                all_lags += lags(text, emitted)
    print(f"standard library, {n_files} files, {len(all_costs)} deltas of 1-12 chars:")
    print(
        f"  cost per delta: mean {statistics.mean(all_costs) * 1e6:.2f} us, "
        f"median {statistics.median(all_costs) * 1e6:.2f} us, p99 {pct(all_costs, 0.99) * 1e6:.1f} us"
    )
    print(
        f"  lag after a statement's last token ({len(all_lags)} statements): median "
        f"{statistics.median(all_lags)}, mean {statistics.mean(all_lags):.1f}, "
        f"p90 {pct(all_lags, 0.9)}, p99 {pct(all_lags, 0.99)} chars"
    )


if __name__ == "__main__":
    main()
