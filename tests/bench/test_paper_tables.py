"""The paper's figures beside ours: every Table 1 cell with a counterpart, residuals, Table 2's row."""

from __future__ import annotations

import re
from typing import Any

import pytest

from eager.bench.paper import (
    NOT_REPRODUCIBLE,
    TABLE1,
    paper_cell,
    paper_e2el,
    paper_nel,
)
from eager.bench.summary import NOISE_ABS_S, markdown_table, summarize
from eager.bench.tables import render_tables, table1, table2_model
from eager.bench.workloads import default_data_dir

DATA = default_data_dir()
PAPER_MD = None if DATA is None else DATA.parent / "PAPER.md"
_COLUMNS = ("DABench", "DSBench", "PandasPlotBench", "GitChameleon")


@pytest.mark.skipif(PAPER_MD is None or not PAPER_MD.is_file(), reason="no ../shared/PAPER.md")
def test_table1_is_the_papers_table_cell_for_cell() -> None:
    assert PAPER_MD is not None
    text = PAPER_MD.read_text().split("## Table 1", 1)[1].split("## Table 2", 1)[0]
    seen = 0
    for env, tps, *cells in re.findall(r"^\| (\w+) \| (\d+) \|(.*)\|$", text, re.M):
        values = [c.strip() for c in "|".join(cells).split("|")]
        for bench, cell in zip(_COLUMNS, values, strict=True):
            nel, e2el = (float(x) for x in cell.split(" / "))
            assert TABLE1[(bench, env)][float(tps)] == (nel, e2el)
            seen += 1
    assert seen == 48 == sum(len(v) for v in TABLE1.values())


@pytest.mark.parametrize(
    ("backend", "env"),
    [("repl", "Local"), ("repl-sandbox", "Docker"), ("jupyter", "OI"), ("gateway", "OI")],
)
@pytest.mark.parametrize(
    ("workload", "bench"), [("dabench-tablellm", "DABench"), ("gitchameleon", "GitChameleon")]
)
@pytest.mark.parametrize("tps", [20, 50, 100, 200])
def test_every_cell_with_a_counterpart_has_the_papers_nel_and_e2el(
    backend: str, env: str, workload: str, bench: str, tps: int
) -> None:
    nel, e2el = TABLE1[(bench, env)][tps]
    assert paper_cell(workload, backend, tps) == (nel, e2el)
    assert (paper_nel(workload, backend, tps), paper_e2el(workload, backend, tps)) == (
        f"{nel:.1f}%",
        f"{e2el:.1f}%",
    )


def test_cells_without_a_counterpart_read_na_and_the_missing_benchmarks_say_why() -> None:
    assert paper_nel("gitchameleon-tests", "repl", 50) == "n/a"  # the paper replays no test
    assert paper_e2el("bigcodebench", "repl", 50) == "n/a"
    assert paper_nel("dabench-tablellm", "ray", 50) == "n/a"
    assert paper_nel("dabench-tablellm", "repl", 70) == "n/a"
    assert set(NOT_REPRODUCIBLE) == {"DSBench", "PandasPlotBench"}
    text = render_tables([])
    for name, why in NOT_REPRODUCIBLE.items():
        assert f"* **{name}**: {why}." in text


def _run(
    *,
    backend: str = "repl",
    serial: float,
    eager: float,
    bound: float,
    ok: bool = True,
    failing: bool = False,
    setup: str | None = None,
    variant: str = "recorded",
    nel: tuple[float, float] = (0.5, 0.001),
    gen: float = 3.0,
) -> dict[str, Any]:
    return {
        "workload": "dabench-tablellm",
        "backend": backend,
        "tps": 200.0,
        "variant": variant,
        "setting": "",
        "skip": None,
        "ok": ok,
        "failing": failing,
        "setup_error": setup,
        "serial": {"e2el_s": serial, "nel_s": nel[0], "gen_s": gen},
        "eager": {"e2el_s": eager, "nel_s": nel[1], "tokens_generated": 1, "tokens_total": 1},
        "prediction": {"model_error": 0.0, "gap_s": 0.0},
        "lower_bound_s": bound,
        "injection": None,
    }


def test_a_small_saving_shows_the_residual_over_the_bound_instead_of_a_blank() -> None:
    # 1 ms to gain per run (under the noise floor), eager 0.2 / 0.4 / 0.6 ms over its bound.
    runs = [
        _run(serial=0.101, eager=0.1 + d, bound=0.1, nel=(0.001, 0.0)) for d in (2e-4, 4e-4, 6e-4)
    ]
    (s,) = summarize(runs)
    assert NOISE_ABS_S > 0.101 - 0.1 and s["efficiency"] is None
    assert s["residual_s_median"] == pytest.approx(4e-4)
    assert s["residual_s_p90"] == pytest.approx(5.6e-4)
    row = table1([s]).splitlines()[-1]
    assert "< 5 ms to save; residual 0.40 / 0.56 ms" in row and "| 0.40 / 0.56 ms |" in row
    assert "residual 0.40 / 0.56 ms" in markdown_table([s])


def test_a_large_saving_keeps_the_efficiency_and_shows_the_residual_too() -> None:
    (s,) = summarize([_run(serial=1.0, eager=0.5 + 1e-3, bound=0.5)])
    assert s["efficiency"] == pytest.approx(0.998)
    row = table1([s]).splitlines()[-1]
    assert "| 0.998 | 1.00 / 1.00 ms |" in row
    assert "| repl (Local) | 200 |" in row and "| 91.6% |" in row and "| 18.0% |" in row


def test_set_up_errors_are_counted_apart_and_listed_never_as_failing_runs() -> None:
    broken = "FileNotFoundError: [Errno 2] No such file or directory: 'data.csv'"
    runs = [
        _run(serial=1.0, eager=0.5, bound=0.5),
        _run(serial=0.2, eager=0.1, bound=0.1, ok=False, setup=broken),
        _run(serial=0.2, eager=0.1, bound=0.1, ok=False, setup=broken),
    ]
    (s,) = summarize(runs)
    assert (s["ok_runs"], s["failing_runs"], s["setup_errors"]) == (1, 0, 2)
    assert s["failing_e2el_saving"] is None
    text = render_tables(runs)
    assert "Set-up errors (ran clean in the serial pre-check" in text
    assert f"* dabench-tablellm repl 200 tok/s recorded: 2 × {broken}" in text
    assert "### Table 2, failing runs" in text and "| repl | 200 | natural |" not in text


def test_the_model_row_gives_mean_ms_serial_to_eager_beside_the_papers_gpt4o_mini() -> None:
    runs = [
        _run(serial=3.6, eager=3.0, bound=3.0, nel=(0.6, 0.0), gen=3.0),
        _run(serial=3.4, eager=3.0, bound=3.0, nel=(0.4, 0.002), gen=3.0),
        _run(serial=4.0, eager=2.0, bound=2.0, ok=False, failing=True, nel=(0.5, 0.0)),
        _run(serial=1.0, eager=1.0, bound=1.0, ok=False, setup="FileNotFoundError: x"),
    ]
    text = table2_model(runs)
    free = next(line for line in text.splitlines() if "error-free" in line)
    assert "| repl (Local) | 200 | 2 | error-free | 3.00 s | 500 → 1 | **3500 → 3000** |" in free
    assert "| 14.3% | 607 → 1 | 3999 → 3393 |" in free
    failing = next(line for line in text.splitlines() if "| failing |" in line)
    assert "| 1 | failing |" in failing and "**4000 → 2000**" in failing
    assert "| 660 → 0 | 4991 → 1829 |" in failing
    assert "FileNotFound" not in text and text.count("\n") == 3  # header, rule, two rows
    rendered = render_tables(
        [r | {"setting": "gpt-4o-mini"} for r in runs], model_settings={"gpt-4o-mini"}
    )
    assert "### Table 2, recorded gpt-4o-mini answers at its timing" in rendered
    assert "### Table 1" not in rendered
