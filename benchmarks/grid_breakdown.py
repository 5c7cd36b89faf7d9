"""Where the time goes in an ``eager bench --json`` file: bounds, lags, detection delays.

Usage: python benchmarks/grid_breakdown.py BENCH.json
Prints, per (tps, variant), how much NEL the model says no eager run could hide (the lower
bound), what we measured, the dispatch lag and detection delays. Asserts nothing.
"""

from __future__ import annotations

import json
import statistics
import sys


def main(path: str) -> None:
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    runs = [r for r in doc["runs"] if r.get("skip") is None]
    keys = sorted({(r["workload"], r["backend"], r["tps"], r["variant"]) for r in runs})
    for key in keys:
        group = [r for r in runs if (r["workload"], r["backend"], r["tps"], r["variant"]) == key]
        ok = [r for r in group if r["ok"]]
        print(f"== {key[0]} {key[1]} {key[2]:g} tok/s {key[3]}: {len(group)} runs, {len(ok)} ok")
        if ok:
            s_nel = sum(r["serial"]["nel_s"] for r in ok)
            e_nel = sum(r["eager"]["nel_s"] for r in ok)
            bound = sum(max(0.0, r["lower_bound_s"] - r["eager"]["gen_s"]) for r in ok)
            print(f"  serial NEL {s_nel:.2f} s, eager NEL {e_nel:.2f} s, bound {bound:.2f} s")
            if s_nel > 0:
                print(
                    f"  NEL hidden {1 - e_nel / s_nel:.1%}; best possible {1 - bound / s_nel:.1%}"
                )
            lag = [r["prediction"]["dispatch_lag_s"] for r in ok]
            gap = [r["prediction"]["gap_s"] for r in ok]
            print(
                f"  dispatch lag: total {sum(lag) * 1e3:.1f} ms, median per run "
                f"{statistics.median(lag) * 1e3:.3f} ms; model gap median "
                f"{statistics.median(gap) * 1e3:.3f} ms, max {max(gap) * 1e3:.1f} ms"
            )
            delays = [r["detect_delay_s"]["median"] for r in ok if r.get("detect_delay_s")]
            delays = [d for d in delays if d is not None]
            if delays:
                print(
                    f"  detection delay (median of run medians) {statistics.median(delays) * 1e3:.2f} ms"
                )
            durations = [b["finished"] - b["dispatched"] for r in ok for b in r.get("batch_s", [])]
            if durations:
                print(
                    f"  shortest batch (≈ per-invocation overhead s) {min(durations) * 1e3:.3f} ms"
                )
            exposed = sorted(ok, key=lambda r: -r["eager"]["nel_s"])[:3]
            for r in exposed:
                print(
                    f"  most exposed: task {r['task']} cell {r['cell']}: serial NEL "
                    f"{r['serial']['nel_s']:.3f} s, eager NEL {r['eager']['nel_s']:.3f} s, "
                    f"batches {r['batches'][:4]}"
                )
        failing = [r for r in group if r["failing"]]
        if failing:
            fs = sum(r["serial"]["e2el_s"] for r in failing)
            fe = sum(r["eager"]["e2el_s"] for r in failing)
            share = [
                r["eager"]["tokens_generated"] / r["serial"]["tokens_generated"]
                for r in failing
                if r["serial"]["tokens_generated"]
            ]
            print(
                f"  failing: {len(failing)} runs, E2EL {fs:.2f} s serial vs {fe:.2f} s eager "
                f"({1 - fe / fs:.1%} sooner); tokens generated before the stop: median "
                f"{statistics.median(share):.0%} of the answer"
            )


if __name__ == "__main__":
    main(sys.argv[1])
