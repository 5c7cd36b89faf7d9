"""``eager bench --tables`` through the command line: the sandboxed column, warm cells, settings."""

from __future__ import annotations

import json
import re
import shutil
import statistics
from pathlib import Path

import pytest

from eager.bench.workloads import default_data_dir, load_workload
from eager.cli import main
from eager.cli.bench import GPT4O_MINI_TPS, GPT4O_MINI_TTFT_S, SETTINGS
from eager.sources._replay import tokenize

needs_data = pytest.mark.skipif(default_data_dir() is None, reason="no ../shared/data")
needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap not installed")


def _row(text: str, prefix: str) -> list[str]:
    line = next(line for line in text.splitlines() if line.startswith(prefix))
    return [c.strip() for c in line.strip("|").split("|")]


@needs_data
@needs_bwrap
def test_the_sandboxed_repl_column_runs_tablellm_without_set_up_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["bench", "--tables", "--workload", "dabench-tablellm", "--backend", "repl-sandbox"]
    argv += ["--limit", "2", "--tps", "200", "--settings", "ideal", "--variants", "recorded"]
    argv += ["--json", str(tmp_path / "t.json")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    runs = json.loads((tmp_path / "t.json").read_text())["runs"]
    assert runs and all(r["skip"] is None and r["setup_error"] is None for r in runs)
    assert all(r["checked"] is None or r["failing"] for r in runs)
    cells = _row(out, "| dabench-tablellm | repl-sandbox (Docker) | 200 |")
    assert (cells[7], cells[9]) == ("93.9%", "17.4%")  # the paper's Docker NEL and E2EL
    assert cells[12] == "0"  # set-up errors
    assert "* **DSBench**:" in out and "* **PandasPlotBench**:" in out
    assert "Set-up errors" not in out


@needs_data
@needs_bwrap
def test_sandboxing_the_grid_lets_sessions_read_their_tables(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["bench", "--workload", "dabench-tablellm", "--backend", "repl", "--sandbox"]
    argv += ["--limit", "1", "--tps", "500", "--variants", "recorded"]
    argv += ["--json", str(tmp_path / "t.json")]
    assert main(argv) == 0
    capsys.readouterr()
    (run,) = json.loads((tmp_path / "t.json").read_text())["runs"]
    assert run["ok"] and run["setup_error"] is None


@needs_data
def test_warm_gpt4o_mini_cells_report_the_residual_over_the_bound(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["bench", "--tables", "--backend", "repl", "--limit", "1", "--settings", "preloaded"]
    argv += ["--variants", "recorded", "--json", str(tmp_path / "t.json")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "setting `preloaded`: TTFT 0 s, token-gap jitter 0, 200 tok/s" in out
    cells = _row(out, "| dabench-gpt4o-mini | repl (Local) | 200 |")
    assert re.fullmatch(r"\d+\.\d\d / \d+\.\d\d ms", cells[11])
    assert cells[10] != "–"  # the efficiency, or the residual where the saving is small
    runs = json.loads((tmp_path / "t.json").read_text())["runs"]
    assert {tuple(r["preload"]) for r in runs} == {("auto",)}
    assert all(r["serial"]["tokens_total"] < 200 for r in runs)  # code only, not the prose


@needs_data
def test_the_gpt4o_mini_timing_gives_about_3_4_s_of_generation_per_recorded_answer() -> None:
    answers = [a for t in load_workload("dabench-gpt4o-mini") for a in t.answers]
    mean_tokens = statistics.fmean(len(tokenize(a)) for a in answers)
    generation_s = GPT4O_MINI_TTFT_S + mean_tokens / GPT4O_MINI_TPS
    assert generation_s == pytest.approx(3.999 - 0.607, rel=0.05)  # the paper's Table 2
    setting = SETTINGS["gpt-4o-mini"]
    assert (setting.tps, setting.stream, setting.model_row) == ((GPT4O_MINI_TPS,), "answer", True)


def test_a_workload_no_chosen_setting_runs_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["bench", "--tables", "--workload", "dabench-tablellm", "--settings", "gpt-4o-mini"]
    assert main(argv) == 2
    assert "no setting runs any of these workloads" in capsys.readouterr().err
