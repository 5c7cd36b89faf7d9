"""``eager chat`` against ``eager serve`` replaying a multi-turn recording, as subprocesses."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from ._serve import Served, eager

TAIL = "".join(f"w{i} = {i} * 2\n" for i in range(40))
TURNS = [
    {
        "text": "Read it.\n```python\nrows = open('data.csv').read().split()\n"
        "print(len(rows), 'rows')\ntotal = sum(int(r) for r in rows[1:])\nprint(total / missing)\n"
        f"{TAIL}```\n"
    },
    {"text": "Divide by the count.\n```python\nprint(total / (len(rows) - 1))\n```\n"},
    {"text": "Final Answer: 2.0"},
]


@pytest.fixture
def served(tmp_path: Path, serve: Callable[..., Served]) -> str:
    recordings = tmp_path / "task.jsonl"
    recordings.write_text(json.dumps({"id": "mean", "turns": TURNS}) + "\n")
    return serve(str(recordings), "--tps", "300", "--ttft", "0").url


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "in" / "data.csv"
    path.parent.mkdir()
    path.write_text("value\n1\n2\n3\n")
    return path


@pytest.mark.parametrize("protocol", ["chat", "responses", "anthropic"])
@pytest.mark.parametrize("code", ["fence", "tool"])
def test_chat_json_cuts_the_failing_turn_and_ends_with_the_answer(
    served: str, data: Path, protocol: str, code: str
) -> None:
    done = eager(
        "chat",
        "--protocol",
        protocol,
        "--code",
        code,
        "Mean of the values?",
        "--base-url",
        served,
        "--model",
        "mean",
        "--file",
        str(data),
        "--json",
    )
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["answer"] == "2.0" and record["stop"] == "answer"
    first, second = record["turns"][:2]
    assert first["interrupted"] and "NameError" in first["error"]
    assert "3 rows" in first["observations"][0] or "4 rows" in first["observations"][0]
    assert second["observations"] == ["2.0\n"]  # notebook display: the printed text
    assert record["tokens_generated"] < sum(t["tokens_total"] or 0 for t in record["turns"]) + 5


def test_chat_shows_turns_runs_the_interruption_and_a_timing_table(served: str, data: Path) -> None:
    done = eager("chat", "Mean?", "--base-url", served, "--model", "mean", "--file", str(data))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for expected in (
        "turn 1",
        "turn 3",
        "▶ lines 1-",
        "NameError",
        "generation stopped",
        "answer",
        "2.0",
        "serial-equivalent",
        "actual",
    ):
        assert expected in out, (expected, out)


def test_chat_without_an_endpoint_is_one_clear_line() -> None:
    done = eager("chat", "anything")
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "--base-url" in done.stderr


def test_chat_with_a_missing_data_file_is_one_clear_line(served: str) -> None:
    done = eager("chat", "q", "--base-url", served, "--model", "mean", "--file", "/nonexistent.csv")
    assert done.returncode == 2 and "no such file" in done.stderr


def test_chat_shows_the_answer_once_and_no_run_for_a_comment(
    tmp_path: Path, serve: Callable[..., Served]
) -> None:
    turns = [
        {"text": "Compute.\n```python\nx = 2\nprint('x is', x)\n# that is all\n```\n"},
        {"text": "The value is known.\nFinal Answer: 2"},
    ]
    recordings = tmp_path / "short.jsonl"
    recordings.write_text(json.dumps({"id": "short", "turns": turns}) + "\n")
    url = serve(str(recordings), "--tps", "300", "--ttft", "0").url
    done = eager("chat", "What is x?", "--base-url", url, "--model", "short", "--no-sandbox")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "x is 2" in out
    runs = [line for line in out.splitlines() if "▶" in line]
    assert runs and not any("line 3" in line or "lines 3" in line for line in runs), runs
    assert "Final Answer" not in out and out.count("The value is known.") == 1
    lines = out.splitlines()
    rule = next(i for i, line in enumerate(lines) if " answer " in line and "─" in line)
    assert lines[rule + 1] == "2"  # the answer, once, under its rule
    assert "-0%" not in out and "+" not in out.split("faster by")[-1]


def test_chat_quiet_prints_only_the_answer(served: str, data: Path) -> None:
    done = eager(
        "chat", "Mean?", "--base-url", served, "--model", "mean", "--file", str(data), "--quiet"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "2.0\n"
