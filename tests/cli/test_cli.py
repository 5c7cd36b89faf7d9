"""The ``eager`` command line, run as a user runs it: ``python -m eager ...`` in a subprocess."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from _runtime import CORPUS, CORPUS_FAILING, expected_error

#: Bound on one CLI call (each starts Python, imports rich and runs a program or two).
CLI_TIMEOUT_S = 90.0
#: The keys ``eager run --json`` promises for each mode (issue 3).
RECORD_KEYS = {
    "e2el_s",
    "nel_s",
    "gen_s",
    "ttft_s",
    "exec_s",
    "chunks",
    "batches",
    "tokens_generated",
    "tokens_total",
    "stdout",
    "error",
    "interrupted",
}


def eager(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eager", *args],
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        cwd=cwd,
        check=False,
    )


def _corpus(stem: str) -> Path:
    return next(p for p in [*CORPUS, *CORPUS_FAILING] if p.stem == stem)


def _check_record(r: dict[str, object]) -> None:
    assert r.keys() >= RECORD_KEYS
    for key in ("e2el_s", "nel_s", "gen_s", "exec_s"):
        assert isinstance(r[key], float) and r[key] >= 0.0  # type: ignore[operator]
    assert isinstance(r["chunks"], int) and isinstance(r["batches"], int)
    assert isinstance(r["stdout"], str) and isinstance(r["interrupted"], bool)
    assert r["gen_s"] <= r["e2el_s"]  # type: ignore[operator]
    assert r["nel_s"] <= r["e2el_s"]  # type: ignore[operator]


def test_run_both_json_has_one_record_per_mode_with_the_same_output() -> None:
    done = eager("run", str(_corpus("c27_late_use")), "--mode", "both", "--json", "--tps", "2000")
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert set(record) == {"serial", "eager"}
    for r in record.values():
        _check_record(r)
        assert r["error"] is None and r["interrupted"] is False
        assert r["tokens_generated"] == r["tokens_total"] > 0
    assert record["eager"]["stdout"] == record["serial"]["stdout"] != ""
    assert record["serial"]["batches"] == 1
    assert record["eager"]["chunks"] == record["serial"]["chunks"] > 1


def test_run_one_mode_json_is_a_single_record() -> None:
    done = eager("run", str(_corpus("c05_comprehensions")), "--mode", "eager", "--json",
                 "--tps", "2000", "--gate", "off")  # fmt: skip
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    _check_record(record)
    assert record["mode"] == "eager"
    assert {g["decision"] for g in record["gate"]} == {"run"}


def test_a_failing_program_exits_1_and_eager_is_interrupted_early() -> None:
    path = _corpus("f01_name_error")
    expected = expected_error(path)
    # 300 tok/s leaves ~0.5 s of stream after the failing line: ample for a 1 ms chunk.
    done = eager("run", str(path), "--mode", "both", "--json", "--tps", "300")
    assert done.returncode == 1, done.stderr
    record = json.loads(done.stdout)
    for r in record.values():
        _check_record(r)
        assert r["error"]["ename"] == expected.ename
        assert r["error"]["lineno"] == expected.lineno
        assert isinstance(r["error"]["evalue"], str)
    eager_r, serial_r = record["eager"], record["serial"]
    assert eager_r["interrupted"] is True and serial_r["interrupted"] is False
    assert eager_r["tokens_generated"] < eager_r["tokens_total"] == serial_r["tokens_generated"]
    assert eager_r["stdout"] == serial_r["stdout"]
    assert "AFTER-FAILURE" not in eager_r["stdout"]


def test_on_error_defer_generates_the_whole_program() -> None:
    path = _corpus("f04_attribute_error")
    done = eager("run", str(path), "--mode", "eager", "--json", "--tps", "2000",
                 "--on-error", "defer")  # fmt: skip
    assert done.returncode == 1, done.stderr
    r = json.loads(done.stdout)
    assert r["interrupted"] is False
    assert r["tokens_generated"] == r["tokens_total"]
    assert r["error"]["ename"] == "AttributeError"
    assert r["code"] == path.read_text(encoding="utf-8")


def test_run_without_json_prints_the_output_and_a_table() -> None:
    done = eager("run", str(_corpus("c33_state_machine")), "--tps", "2000")
    assert done.returncode == 0, done.stderr
    assert "IDLE -> RUNNING" in done.stdout
    assert "serial" in done.stdout and "eager" in done.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["run", "no/such/file.py"], "no such file"),
        (["run", "PROGRAM", "--mode", "sideways"], "--mode"),
        (["run", "PROGRAM", "--tps", "fast"], "--tps"),
        (["run", "PROGRAM", "--tps", "0"], "positive"),
        (["run", "PROGRAM", "--gate", "no-such-policy"], "no-such-policy"),
        (["run", "PROGRAM", "--no-such-flag"], "--no-such-flag"),
        (["chunk", "no/such/file.py"], "no such file"),
        (["no-such-command"], "no-such-command"),
    ],
)
def test_usage_errors_exit_2_with_one_line_and_no_traceback(args: list[str], needle: str) -> None:
    program = str(_corpus("c05_comprehensions"))
    done = eager(*[program if a == "PROGRAM" else a for a in args])
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert needle in lines[0]
    assert done.stdout == ""


def test_an_unreachable_backend_exits_3_with_one_line_and_no_traceback() -> None:
    # A port nothing listens on (bound, never listening): connections are refused at once.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
        program = str(_corpus("c05_comprehensions"))
        done = eager(
            "run", program, "--mode", "eager", "--backend", "gateway", "--gateway-url", url
        )
    assert done.returncode == 3, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    # Reached the gateway (BackendStartError), or said which extra to install.
    assert "Kernel Gateway" in lines[0] or "pip install" in lines[0], lines[0]


def test_a_failing_program_exits_1_but_a_bad_flag_exits_2() -> None:
    failing = str(_corpus("f07_syntax_error_mid_stream"))
    assert eager("run", failing, "--mode", "serial").returncode == 1
    assert eager("run", failing, "--mode", "serial", "--tps", "-1").returncode == 2


def test_chunk_shows_the_cut_and_the_gate() -> None:
    path = _corpus("c27_late_use")
    done = eager("chunk", str(path))
    assert done.returncode == 0, done.stderr
    assert "defer" in done.stdout and "run" in done.stdout
    as_json = eager("chunk", str(path), "--json")
    assert as_json.returncode == 0, as_json.stderr
    records = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert "".join(r["code"] for r in records) == path.read_text(encoding="utf-8")
    assert records[0]["decision"] == "defer"


def test_chunk_reports_a_syntax_error() -> None:
    done = eager("chunk", str(_corpus("f07_syntax_error_mid_stream")), "--json")
    assert done.returncode == 1
    last = json.loads(done.stdout.splitlines()[-1])
    assert "syntax_error" in last


def test_demo_runs_one_program() -> None:
    done = eager("demo", "--program", "word_stats", "--tps", "1000", "--ttft", "0")
    assert done.returncode == 0, done.stderr
    assert "word_stats" in done.stdout
    assert "Traceback" not in done.stderr


def test_help_lists_the_subcommands() -> None:
    done = eager("--help")
    assert done.returncode == 0
    for command in ("run", "chunk", "demo"):
        assert command in done.stdout
    run_help = eager("run", "--help")
    assert run_help.returncode == 0
    for flag in ("--tps", "--ttft", "--seed", "--mode", "--on-error", "--gate", "--json"):
        assert flag in run_help.stdout


def test_run_extracts_the_code_of_a_chat_answer(tmp_path: Path) -> None:
    answer = tmp_path / "answer.md"
    answer.write_text(
        "Sure! First the mean:\n\n```python\nimport statistics\ndata = [4, 8, 15, 16, 23, 42]\n"
        'print("mean", statistics.mean(data))\n```\n\nThen the spread:\n\n```py\n'
        'print("stdev", round(statistics.stdev(data), 3))\n```\n\nDone.\n',
        encoding="utf-8",
    )
    done = eager("run", str(answer), "--mode", "both", "--json", "--tps", "2000")
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    for r in record.values():
        assert r["stdout"] == "mean 18\nstdev 13.491\n"
        assert "Sure!" not in r["code"] and r["code"].startswith("import statistics\n")


def test_run_prefetch_imports_while_waiting_and_reports_it() -> None:
    program = str(_corpus("c05_comprehensions"))
    done = eager("run", program, "--json", "--tps", "2000", "--prefetch", "json,fractions")
    assert done.returncode == 0, done.stderr
    for r in json.loads(done.stdout).values():
        assert isinstance(r["prefetch_s"], float) and r["prefetch_s"] >= 0.0
    bad = eager("run", program, "--prefetch", "not a module")
    assert bad.returncode == 2 and "prefetch" in bad.stderr and "Traceback" not in bad.stderr
