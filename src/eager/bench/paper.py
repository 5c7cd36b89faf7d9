"""The paper's figures to compare with (arXiv 2604.00491 v1, Tables 1 and 2), and the mapping.

Table 1 (NEL hidden / E2EL saving, %, mock streams at a fixed rate) is quoted in full; our
backends map to its environments: the REPL to *Local* (a script on the host), the sandboxed REPL
(:data:`~eager.bench.sandbox.SANDBOXED_REPL`) to *Docker*, Jupyter and the gateway to *OI* (Open
Interpreter's Jupyter kernel). Table 2's GPT-4o-mini DABench row (real streams under Docker, ms)
is what the recorded gpt-4o-mini answers compare with. Cells with no counterpart print ``n/a``.
"""

from __future__ import annotations

__all__ = [
    "FAILING_HEADLINE",
    "NOT_REPRODUCIBLE",
    "PAPER_ENVIRONMENTS",
    "TABLE1",
    "TABLE2_GPT4O_MINI_DABENCH",
    "paper_benchmark",
    "paper_cell",
    "paper_e2el",
    "paper_environment",
    "paper_nel",
]

#: Table 1: (benchmark, environment) -> tokens/s -> (NEL hidden %, E2EL saving %).
TABLE1: dict[tuple[str, str], dict[float, tuple[float, float]]] = {
    ("DABench", "Docker"): {20: (94.3, 2.1), 50: (94.3, 5.1), 100: (94.4, 9.6), 200: (93.9, 17.4)},
    ("DSBench", "Docker"): {20: (96.7, 1.1), 50: (96.1, 2.7), 100: (95.0, 5.1), 200: (91.7, 9.3)},
    ("PandasPlotBench", "Docker"): {
        20: (88.9, 6.1),
        50: (88.4, 13.7),
        100: (88.0, 23.4),
        200: (83.4, 34.9),
    },
    ("GitChameleon", "Docker"): {
        20: (100.0, 4.2),
        50: (100.0, 8.4),
        100: (97.3, 12.9),
        200: (87.9, 20.7),
    },
    ("DABench", "Local"): {20: (93.8, 2.2), 50: (93.9, 5.3), 100: (94.0, 10.3), 200: (91.6, 18.0)},
    ("DSBench", "Local"): {20: (96.2, 1.1), 50: (95.5, 2.8), 100: (94.5, 5.4), 200: (90.2, 10.2)},
    ("PandasPlotBench", "Local"): {
        20: (88.9, 6.3),
        50: (88.2, 14.2),
        100: (87.8, 24.5),
        200: (81.1, 35.3),
    },
    ("GitChameleon", "Local"): {
        20: (100.0, 5.9),
        50: (99.3, 10.6),
        100: (93.1, 17.5),
        200: (77.2, 25.0),
    },
    ("DABench", "OI"): {20: (94.3, 3.2), 50: (94.4, 7.8), 100: (94.3, 14.6), 200: (90.6, 23.9)},
    ("DSBench", "OI"): {20: (95.9, 1.9), 50: (95.3, 4.4), 100: (94.7, 8.3), 200: (92.0, 15.0)},
    ("PandasPlotBench", "OI"): {
        20: (85.3, 6.5),
        50: (82.8, 14.5),
        100: (81.6, 24.3),
        200: (73.3, 34.0),
    },
    ("GitChameleon", "OI"): {
        20: (100.0, 12.2),
        50: (97.4, 23.6),
        100: (92.3, 36.2),
        200: (86.8, 49.1),
    },
}

#: Table 2, GPT-4o-mini on DABench (Docker): per run kind, (serial, eager) in ms; None: no NEL
#: (generation was cut).
TABLE2_GPT4O_MINI_DABENCH: dict[str, dict[str, tuple[float, float | None]]] = {
    "error-free": {"nel_ms": (607, 1), "e2el_ms": (3999, 3393)},
    "failing": {"nel_ms": (660, 0), "e2el_ms": (4991, 1829)},
}

#: The paper's benchmarks we cannot replay here, and why.
NOT_REPRODUCIBLE: dict[str, str] = {
    "DSBench": "its task data (questions, Excel and CSV files) is not in ../shared/data: the "
    "GitHub repository holds only gold answers and gpt-3.5 outputs; the data is a separate "
    "download (Hugging Face / Google Drive), and the paper's DeepSeek-V3.2 solutions are not "
    "public",
    "PandasPlotBench": "its gold code is not public in plain form (a Hugging Face parquet "
    "file only; no copy on GitHub holds the gold code), so nothing was staged",
}

#: The paper's failing-run headline (v1 abstract), for tables without a per-cell figure.
FAILING_HEADLINE = "up to 55% sooner"

_BENCHMARKS = {
    "dabench-tablellm": "DABench",
    "dabench-tablegpt2": "DABench",
    "gitchameleon": "GitChameleon",
}
#: Our backend -> the paper's environment it stands for.
PAPER_ENVIRONMENTS = {"repl": "Local", "repl-sandbox": "Docker", "jupyter": "OI", "gateway": "OI"}


def paper_benchmark(workload: str) -> str | None:
    """The paper's Table 1 benchmark a workload reproduces (None: none; ``gitchameleon-tests``
    appends the tests, which the paper's replays do not)."""
    return _BENCHMARKS.get(workload)


def paper_environment(backend: str) -> str | None:
    """The paper's environment a backend stands for (None: none)."""
    return PAPER_ENVIRONMENTS.get(backend)


def paper_cell(workload: str, backend: str, tps: float) -> tuple[float, float] | None:
    """The paper's (NEL hidden %, E2EL saving %) for the same benchmark, environment and rate."""
    bench, env = paper_benchmark(workload), paper_environment(backend)
    if bench is None or env is None:
        return None
    return TABLE1.get((bench, env), {}).get(tps)


def paper_nel(workload: str, backend: str, tps: float) -> str:
    """The paper's NEL hidden for the same cell, or ``n/a``."""
    cell = paper_cell(workload, backend, tps)
    return "n/a" if cell is None else f"{cell[0]:.1f}%"


def paper_e2el(workload: str, backend: str, tps: float) -> str:
    """The paper's E2EL saving for the same cell, or ``n/a``."""
    cell = paper_cell(workload, backend, tps)
    return "n/a" if cell is None else f"{cell[1]:.1f}%"
