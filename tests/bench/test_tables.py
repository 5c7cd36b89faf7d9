"""The table renderers on hand-made run records: medians, spreads, paper cells, skips."""

from __future__ import annotations

from typing import Any

from eager.bench.paper import paper_nel
from eager.bench.tables import failing_stats, render_tables, table2


def _run(
    workload: str, *, serial: float, eager: float, made: int, total: int, variant: str
) -> dict[str, Any]:
    return {
        "workload": workload,
        "backend": "repl",
        "tps": 50.0,
        "variant": variant,
        "setting": "ideal",
        "skip": None,
        "ok": False,
        "failing": True,
        "serial": {"e2el_s": serial, "nel_s": serial / 2},
        "eager": {"e2el_s": eager, "nel_s": 0.0, "tokens_generated": made, "tokens_total": total},
        "prediction": {"model_error": 0.0, "gap_s": 0.0},
        "lower_bound_s": eager,
        "injection": {"position": 0.3} if variant == "injected" else None,
    }


def test_failing_runs_give_per_run_medians_and_quartiles_per_error_source() -> None:
    runs = [
        _run("a", serial=1.0, eager=0.5, made=50, total=100, variant="recorded"),
        _run("b", serial=2.0, eager=0.5, made=20, total=100, variant="recorded"),
        _run("a", serial=1.0, eager=0.9, made=90, total=100, variant="recorded"),
        _run("a", serial=4.0, eager=1.0, made=40, total=100, variant="injected"),
    ]
    natural, injected = failing_stats(runs)
    assert (natural["source"], natural["runs"], injected["source"]) == ("natural", 3, "injected")
    assert sorted(round(x, 3) for x in natural["e2el_saved"]) == [0.1, 0.5, 0.75]
    assert natural["pooled_e2el_saving"] == 1 - 1.9 / 4.0
    assert injected["error_position_median"] == 0.3
    text = table2([natural, injected])
    assert "| repl | 50 | natural | 3 | **50.0% [30–62%]** | 52.5% | 50.0% [30–65%] |" in text
    assert "| repl | 50 | injected | 1 | **75.0%** |" in text


def test_paper_cells_are_quoted_only_where_the_paper_gives_them() -> None:
    assert paper_nel("dabench-tablellm", "repl", 200) == "91.6%"
    assert paper_nel("dabench-tablegpt2", "repl", 20) == "93.8%"
    assert paper_nel("dabench-tablellm", "jupyter", 200) == "90.6%"
    assert paper_nel("gitchameleon", "repl-sandbox", 50) == "100.0%"
    assert paper_nel("dabench-gpt4o-mini", "repl", 50) == "n/a"  # agent cells: Table 2's row
    assert paper_nel("dabench-tablellm", "repl", 70) == "n/a"


def test_skip_reasons_are_listed_under_the_tables() -> None:
    skipped = {"workload": "w", "backend": "repl", "tps": 50.0, "variant": "injected"}
    skipped |= {"setting": "ideal", "skip": "no statement to inject an error into"}
    text = render_tables([skipped], loader_skips={"w": {"missing libraries: torch": 3}})
    assert "* w, not run: 3 × missing libraries: torch" in text
    assert "* w repl 50 tok/s injected (`ideal`): 1 × no statement to inject an error into" in text
