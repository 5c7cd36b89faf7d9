"""``eager serve``, ``eager run --base-url`` and ``eager ask`` as subprocesses, on loopback."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from ._serve import Served, eager

LINES = [f"v{i} = {i} * 3\nprint('value', v{i})\n" for i in range(30)]
# A NameError a third of the way into a 61-line program.
FAILING = "".join(LINES[:10]) + "print(not_defined_anywhere)\n" + "".join(LINES[10:])
FAIL_LINE = 21
GOOD = 'import math\nfor i in range(3):\n    print(i, math.sqrt(i * i))\nprint("end")\n'
CHAT = f"Here it is:\n\n```python\n{GOOD}```\n"


@pytest.fixture
def served(tmp_path: Path, serve: Callable[..., Served]) -> Served:
    (tmp_path / "failing.py").write_text(FAILING)
    (tmp_path / "good.md").write_text(CHAT)
    files = (str(tmp_path / "failing.py"), str(tmp_path / "good.md"))
    return serve(*files, "--tps", "150", "--ttft", "0")


def test_a_failing_program_is_interrupted_and_the_server_sees_the_disconnect(
    served: Served,
) -> None:
    done = eager("run", "--base-url", served.url, "--model", "failing", "--mode", "eager", "--json")
    assert done.returncode == 1, done.stderr
    result = json.loads(done.stdout)
    assert result["error"]["ename"] == "NameError"
    assert result["error"]["lineno"] == FAIL_LINE
    assert "not_defined_anywhere" in result["error"]["evalue"]
    assert result["interrupted"] is True
    (record,) = served.records()
    assert record["model"] == "failing" and record["disconnected"] is True
    assert record["tokens_sent"] < record["tokens_total"] // 2


def test_a_chat_answer_runs_in_both_modes_with_the_same_output(served: Served) -> None:
    done = eager("run", "--base-url", served.url, "--model", "good", "--mode", "both", "--json")
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    assert results["eager"]["stdout"] == results["serial"]["stdout"] == "0 0.0\n1 1.0\n2 2.0\nend\n"
    records = served.records()
    assert [r["disconnected"] for r in records] == [False]  # one generation for both modes


def test_an_unknown_model_is_one_clear_line(served: Served) -> None:
    done = eager("run", "--base-url", served.url, "--model", "nope", "--mode", "eager")
    assert done.returncode == 3  # an endpoint error: not the user's flags, not the program
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "404" in done.stderr and "available: failing, good" in done.stderr
    assert "Traceback" not in done.stderr


def test_ask_shows_text_output_and_timing(served: Served) -> None:
    done = eager("ask", "--base-url", served.url, "--model", "good", "print some roots")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Here it is:" in out
    # Each statement's output under the statement, labelled with its lines.
    # (notebook display holds a line until it ends: the loop may run with the next line)
    assert out.index("for i in range(3)") < out.index("▶ lines 2-") < out.index("    2 2.0\n")
    assert out.index('print("end")') < out.index("    end\n")
    assert "end to end" in out


def test_ask_on_an_error_shows_the_partial_program_and_the_error(served: Served) -> None:
    done = eager(
        "ask", "--base-url", served.url, "--model", "failing", "anything", "--format", "code"
    )
    assert done.returncode == 1, done.stderr
    assert "partial program" in done.stdout
    assert "NameError" in done.stdout and f"line {FAIL_LINE}" in done.stdout
    assert "--repair" in done.stdout


def test_serve_rejects_a_missing_file_clearly(tmp_path: Path) -> None:
    done = eager("serve", str(tmp_path / "nope.py"), "--port", "0")
    assert done.returncode == 2 and "no such file" in done.stderr


DATA = Path(__file__).parent.parent / "data"


def test_serve_converts_trajectories_to_the_recording_format(tmp_path: Path) -> None:
    out = tmp_path / "recordings.jsonl"
    done = eager(
        "serve",
        "--trajectories",
        str(DATA / "dabench_gpt4o_mini_trajectories.json"),
        "--trajectory-prefix",
        "dabench-",
        "--write-recordings",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    assert "wrote 3 recordings" in done.stderr
    assert out.read_text() == (DATA / "dabench_gpt4o_mini_recordings.jsonl").read_text()


def test_serve_without_anything_to_serve_is_one_clear_line() -> None:
    done = eager("serve", "--port", "0")
    assert done.returncode == 2 and "nothing to serve" in done.stderr
    assert "Traceback" not in done.stderr


def test_served_trajectories_answer_turn_by_turn_to_the_right_key_only(
    serve: Callable[..., Served],
) -> None:
    import httpx

    served = serve(
        "--trajectories",
        str(DATA / "dabench_gpt4o_mini_trajectories.json"),
        *("--tps", "20000", "--ttft", "0", "--token", "k3y"),
    )
    match = re.search(r"listening on (http://127\.0\.0\.1:\d+)/v1 \(3 recordings", served.line)
    assert match, served.line
    root = match.group(1)
    with httpx.Client(base_url=root, trust_env=False, timeout=30) as c:
        body = {"model": "71", "max_tokens": 50, "messages": [{"role": "user", "content": "q"}]}
        denied = c.post("/v1/messages", json=body, headers={"x-api-key": "wrong"})
        first = c.post("/v1/messages", json=body, headers={"x-api-key": "k3y"})
        body["messages"] += [
            {"role": "assistant", "content": first.json()["content"][0]["text"]},
            {"role": "user", "content": "STDOUT: ..."},
        ]
        second = c.post("/v1/messages", json=body, headers={"authorization": "Bearer k3y"})
        body["messages"] += [
            {"role": "assistant", "content": "done"},
            {"role": "user", "content": "more?"},
        ]
        past = c.post("/v1/messages", json=body, headers={"x-api-key": "k3y"})
    assert denied.status_code == 401
    assert denied.json()["error"]["type"] == "authentication_error"
    raw = json.loads((DATA / "dabench_gpt4o_mini_trajectories.json").read_text())
    (item,) = [r for r in raw if r["id"] == 71]
    first_text = first.json()["content"][0]["text"]
    assert (
        "```python" in first_text and first_text.split("```python")[0].strip() in item["response"]
    )
    assert second.json()["content"][0]["text"].strip() in item["response"]
    assert past.status_code == 400 and "already holds 2" in past.json()["error"]["message"]
    records = served.records()
    assert [(r["protocol"], r["turn"], r["status"]) for r in records] == [
        ("anthropic", None, 401),
        ("anthropic", 1, 200),
        ("anthropic", 2, 200),
        ("anthropic", 3, 400),
    ]


def test_both_modes_from_an_endpoint_share_one_answer_read_to_its_end(served: Served) -> None:
    done = eager("run", "--base-url", served.url, "--model", "failing", "--mode", "both", "--json")
    assert done.returncode == 1, done.stderr
    results = json.loads(done.stdout)
    eager_r, serial_r = results["eager"], results["serial"]
    assert eager_r["interrupted"] and eager_r["tokens_generated"] < serial_r["tokens_generated"]
    # The serial run replays the whole answer, also the part eager never needed.
    assert serial_r["code"] == FAILING and serial_r["tokens_generated"] == serial_r["tokens_total"]
    for r in (eager_r, serial_r):
        assert r["error"]["ename"] == "NameError" and r["error"]["lineno"] == FAIL_LINE
    assert eager_r["stdout"] == serial_r["stdout"]
    (record,) = served.records()  # one generation, read to its end
    assert record["disconnected"] is False and record["tokens_sent"] == record["tokens_total"]
