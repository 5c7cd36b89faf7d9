"""The paper's figures to compare with (arXiv 2604.00491), and nothing we did not read there.

Only the cells quoted in issue 14 and DESIGN.md §7 are known here; every other cell of the
paper's tables prints as ``n/a`` rather than a guess.
"""

from __future__ import annotations

__all__ = [
    "E2EL_HEADLINE",
    "FAILING_HEADLINE",
    "TABLE1_NEL",
    "paper_benchmark",
    "paper_environment",
    "paper_nel",
]

#: Table 1, NEL hidden (%) by (benchmark, environment) and tokens/s.
TABLE1_NEL: dict[tuple[str, str], dict[float, float]] = {
    ("DABench", "local REPL"): {20: 93.8, 50: 93.9, 100: 94.0, 200: 91.6},
}
#: The paper's E2EL saving on replays, over all its cells (DESIGN.md §7).
E2EL_HEADLINE = "−1% at 20 tok/s up to −35% at 200 tok/s"
#: Failing runs with early interruption, real models (DESIGN.md §7).
FAILING_HEADLINE = "up to 55% sooner"

_BENCHMARKS = {
    "dabench-tablellm": "DABench",
    "dabench-tablegpt2": "DABench",
    "dabench-gpt4o-mini": "DABench",
    "gitchameleon": "GitChameleon",
}
_ENVIRONMENTS = {"repl": "local REPL", "jupyter": "Jupyter sandbox", "gateway": "Jupyter sandbox"}


def paper_benchmark(workload: str) -> str | None:
    """The paper's benchmark a workload comes from (None: not in the paper)."""
    return _BENCHMARKS.get(workload)


def paper_environment(backend: str) -> str | None:
    """The paper's environment kind nearest a backend (None: none)."""
    return _ENVIRONMENTS.get(backend)


def paper_nel(workload: str, backend: str, tps: float) -> str:
    """The paper's NEL hidden for the same benchmark, environment kind and rate, or ``n/a``."""
    bench, env = paper_benchmark(workload), paper_environment(backend)
    if bench is None or env is None:
        return "n/a"
    value = TABLE1_NEL.get((bench, env), {}).get(tps)
    return "n/a" if value is None else f"{value:.1f}%"
