"""Serial vs eager over the test corpus, the way issue 3 is judged: ``eager run --mode both --json``.

Usage: ``python benchmarks/bench_corpus.py [TPS ...]`` (default 50 200). For each rate and each
program of ``tests/corpus`` (passing) and ``tests/corpus_failing`` (failing) it runs the CLI once
and prints: same stdout in both modes, e2el of each mode and the difference, and for failing
programs the share of tokens eager generated before it stopped. Asserts nothing about time.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROGRAMS = sorted((ROOT / "tests" / "corpus").glob("*.py"))
FAILING = sorted((ROOT / "tests" / "corpus_failing").glob("*.py"))


def run_cli(path: Path, tps: str, cwd: str) -> dict[str, dict[str, object]] | None:
    done = subprocess.run(
        [sys.executable, "-m", "eager", "run", str(path), "--mode", "both", "--json", "--tps", tps],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=600,
        check=False,
    )
    try:
        record: dict[str, dict[str, object]] = json.loads(done.stdout)
    except ValueError:
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        print(f"{path.stem:34s} no JSON (exit {done.returncode}): {tail[0]}")
        return None
    return record


def main() -> None:
    rates = sys.argv[1:] or ["50", "200"]
    for tps in rates:
        print(f"\n== {tps} tok/s ==")
        diffs, ratios, same = [], [], 0
        with tempfile.TemporaryDirectory() as cwd:
            for path in [*PROGRAMS, *FAILING]:
                rec = run_cli(path, tps, cwd)
                if rec is None:
                    continue
                s, e = rec["serial"], rec["eager"]
                s_e2el, e_e2el = float(s["e2el_s"]), float(e["e2el_s"])  # type: ignore[arg-type]
                equal = s["stdout"] == e["stdout"]
                same += equal
                line = (
                    f"{path.stem:34s} same={equal!s:5s} serial={s_e2el:6.3f}s "
                    f"eager={e_e2el:6.3f}s diff={e_e2el - s_e2el:+.3f}s"
                )
                if path in FAILING:
                    share = int(e["tokens_generated"]) / int(e["tokens_total"])  # type: ignore[call-overload]
                    ratios.append(share)
                    line += f" tokens={share:.0%}"
                else:
                    diffs.append(e_e2el - s_e2el)
                print(line, flush=True)
        print(
            f"passing programs: eager - serial e2el median {statistics.median(diffs):+.4f}s, "
            f"max {max(diffs):+.4f}s; failing: eager generated {statistics.mean(ratios):.0%} "
            f"of the tokens on average; same stdout {same}/{len(PROGRAMS) + len(FAILING)}"
        )


if __name__ == "__main__":
    main()
