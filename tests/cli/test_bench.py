"""``eager bench`` and ``eager model`` through the command line, with the REPL backend."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eager.bench.workloads import default_data_dir
from eager.cli import main

needs_data = pytest.mark.skipif(default_data_dir() is None, reason="no ../shared/data")

RUN_FIELDS = {
    "serial",
    "eager",
    "prediction",
    "gen_bound_s",
    "exec_bound_s",
    "chunks",
    "batches",
    "gate",
    "error",
    "skip",
}
SUMMARY_FIELDS = {
    "workload",
    "backend",
    "tps",
    "runs",
    "skipped",
    "nel_saving",
    "e2el_saving",
    "efficiency",
    "regressions",
    "model_error",
}


@needs_data
def test_a_tiny_grid_writes_runs_summary_trace_and_plot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bench.json"
    status = main(
        [
            "bench",
            "--workload",
            "dabench-gpt4o-mini",
            "--limit",
            "1",
            "--tps",
            "200",
            "--json",
            str(out),
            "--trace",
            str(tmp_path / "t.json"),
            "--plot",
            str(tmp_path / "p.png"),
        ]
    )
    assert status == 0
    doc = json.loads(out.read_text())
    runs = [r for r in doc["runs"] if r["skip"] is None]
    assert {r["variant"] for r in runs} == {"recorded", "injected"}
    assert len([r for r in runs if r["variant"] == "recorded"]) == 2  # task 0 has two cells
    for r in runs:
        assert set(r) >= RUN_FIELDS
        assert r["eager"]["e2el_s"] > 0 and r["serial"]["e2el_s"] > 0
    injected = [r for r in runs if r["variant"] == "injected"]
    assert all(r["injection"] is not None for r in injected)
    assert {s["variant"] for s in doc["summary"]} == {"recorded", "injected"}
    for s in doc["summary"]:
        assert set(s) >= SUMMARY_FIELDS and s["tps"] == 200
    assert json.loads((tmp_path / "t.json").read_text())["traceEvents"]
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"
    table = capsys.readouterr().out
    assert "| dabench-gpt4o-mini | repl | 200 |" in table and "paper" in table


@pytest.mark.parametrize(
    "argv",
    [
        ["bench", "--tps", "0"],
        ["bench", "--backend", "nope"],
        ["bench", "--workload", "nope"],
        ["bench", "--variants", "odd"],
        ["model", "--exec", "a,b", "--tokens", "10"],
        ["model", "--tokens", "10"],
    ],
)
def test_bad_options_end_in_one_line_and_status_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("eager: error:") and err.count("\n") == 1


def test_model_predicts_and_explains(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["model", "--tokens", "300", "--tps", "50", "--exec", "0.6,0.01,0.01"]) == 0
    out = capsys.readouterr().out
    assert "generation-dominated" in out and "Eager saves" in out


def test_model_json_has_bounds_and_regime(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["model", "--chunk-tokens", "5,5", "--tps", "100", "--exec", "1,1", "--json"]
    assert main(argv) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["regime"] == "execution-dominated"
    assert doc["gen_bound_s"] <= doc["eager_s"] <= doc["upper_bound_s"]


def test_model_calibrates_a_program_in_a_real_repl(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    program = tmp_path / "p.py"
    program.write_text("x = sum(range(1000))\ny = x * 2\nprint(y)\n")
    assert main(["model", "--program", str(program), "--calibrate", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["chunks"] == 3 and doc["overhead_s"] > 0


@needs_data
def test_tables_render_both_tables_for_a_tiny_repl_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    md = tmp_path / "tables.md"
    argv = ["bench", "--tables", "--workload", "dabench-tablellm", "--backend", "repl"]
    argv += ["--limit", "2", "--tps", "2000", "--settings", "ideal", "--markdown", str(md)]
    argv += ["--json", str(tmp_path / "t.json")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out == md.read_text()
    assert "### Table 1, whole programs (setting `ideal`: TTFT 0 s" in out
    assert "### Table 2, failing runs" in out
    row = next(line for line in out.splitlines() if line.startswith("| dabench-tablellm | repl"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[2] == "2000" and cells[3] == "2" and cells[7] == "n/a"  # no paper cell at 2000
    assert "load average" in out and "--limit 2" in out
    doc = json.loads((tmp_path / "t.json").read_text())
    runs = [r for r in doc["runs"] if r["skip"] is None]
    assert {r["setting"] for r in runs} == {"ideal"}
    assert all(r["serial"]["tokens_total"] > 0 for r in runs)
    injected = [r for r in runs if r["variant"] == "injected"]
    assert injected and all(r["failing"] and r["injection"]["position"] > 0 for r in injected)
    table2 = next(line for line in out.splitlines() if line.startswith("| repl | 2000 | injected"))
    assert f"| {len(injected)} |" in table2


def test_an_unknown_setting_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--tables", "--settings", "fast"]) == 2
    assert "unknown setting 'fast'" in capsys.readouterr().err
