"""``eager run`` / ``eager ask`` with ``--protocol responses|anthropic`` against a loopback server."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

import pytest
from sources._wire import Reply, WireServer, anthropic_events, json_pieces, responses_events

FAILING = "x = 1\nprint('before')\ny = 1 / 0\nprint('AFTER-FAILURE')\nz = 2\n"
LINES = FAILING.splitlines(keepends=True)
BASE_ENV = {
    k: v
    for k, v in os.environ.items()
    if k not in ("EAGER_API_KEY", "OPENAI_API_KEY", "ANTHROPIC_API_KEY")
}


async def eager(*args: str, **env: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "eager",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**BASE_ENV, "NO_COLOR": "1", "COLUMNS": "120", **env},
    )
    out, err = await asyncio.wait_for(proc.communicate(), 90)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def _events(protocol: str) -> tuple[str, list[Any], int, list[str]]:
    """Path, events, index to stall at (after the failing line), extra CLI args."""
    if protocol == "anthropic":
        text = ["Here:\n```python\n", *LINES, "```\n"]
        events = anthropic_events(text=text)
        # message_start, block start, ping, then one event per text piece
        return "/v1/messages", events, 3 + 1 + LINES.index("y = 1 / 0\n") + 1, []
    pieces = json_pieces({"code": FAILING}, 4)
    events = responses_events(call=pieces)
    n = next(i for i in range(len(pieces)) if "y = 1 / 0\\n" in "".join(pieces[: i + 1]))
    # created, item added, then one event per argument piece
    return "/v1/responses", events, 2 + n + 1, ["--format", "tool"]


@pytest.mark.parametrize("protocol", ["anthropic", "responses"])
async def test_run_interrupts_a_served_failing_program_early(protocol: str) -> None:
    path, events, stall, extra = _events(protocol)
    async with WireServer({path: Reply(events, stall_after=stall)}) as srv:
        base = srv.url + ("/v1" if protocol == "responses" else "")
        code, out, err = await eager(
            "run", "--base-url", base, "--protocol", protocol, "--model", "m",
            "--mode", "eager", "--json", *extra,
        )  # fmt: skip
        await asyncio.wait_for(srv.disconnected.wait(), 10)  # generation was stopped
    assert code == 1, err
    result = json.loads(out)
    assert result["error"]["ename"] == "ZeroDivisionError" and result["error"]["lineno"] == 3
    assert result["interrupted"] is True
    assert "before" in result["stdout"] and "AFTER-FAILURE" not in result["stdout"]


async def test_the_api_key_comes_from_each_providers_variable() -> None:
    replies = {
        "/v1/messages": Reply(anthropic_events(text=["```python\nprint(1)\n```\n"])),
        "/v1/responses": Reply(responses_events(text=["```python\nprint(2)\n```\n"])),
    }
    async with WireServer(replies) as srv:
        keys = {"OPENAI_API_KEY": "sk-openai", "ANTHROPIC_API_KEY": "sk-ant"}
        for protocol, base in (("anthropic", srv.url), ("responses", srv.url + "/v1")):
            code, _, err = await eager(
                "run", "--base-url", base, "--protocol", protocol, "--model", "m",
                "--mode", "eager", "--json", **keys,
            )  # fmt: skip
            assert code == 0, err
    anthropic_req, responses_req = srv.requests
    assert anthropic_req["headers"]["x-api-key"] == "sk-ant"
    assert "authorization" not in anthropic_req["headers"]
    assert responses_req["headers"]["authorization"] == "Bearer sk-openai"


@pytest.mark.parametrize(
    ("status", "words"), [(401, "check the API key"), (404, "check the base URL and the model")]
)
@pytest.mark.parametrize("protocol", ["anthropic", "responses"])
async def test_endpoint_errors_are_one_clear_line(protocol: str, status: int, words: str) -> None:
    path = "/v1/messages" if protocol == "anthropic" else "/v1/responses"
    body = {"type": "error", "error": {"type": "e", "message": "the server said no"}}
    async with WireServer({path: Reply(status=status, body=body)}) as srv:
        code, _, err = await eager(
            "run", "--base-url", srv.url + "/v1", "--protocol", protocol, "--model", "m",
        )  # fmt: skip
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert f"HTTP {status}" in lines[0] and words in lines[0] and "the server said no" in lines[0]
    assert code not in (0, 1)  # an Eager error, not a program's


async def test_an_unreachable_endpoint_is_one_clear_line() -> None:
    async with WireServer({}) as srv:
        url = srv.url
    code, _, err = await eager(
        "run", "--base-url", url, "--protocol", "anthropic", "--model", "m", "--retries", "0",
    )  # fmt: skip
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "cannot reach" in lines[0] and code not in (0, 1), err


async def test_ask_reports_a_stop_reason_that_was_not_the_models_choice() -> None:
    events = anthropic_events(text=["```python\nprint('hi')\n```\n"], stop_reason="max_tokens")
    async with WireServer({"/v1/messages": Reply(events)}) as srv:
        code, out, err = await eager(
            "ask", "--base-url", srv.url, "--protocol", "anthropic", "--model", "m",
            "--max-tokens", "64", "--json", "say hi",
        )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["stop_reason"] == "max_tokens"
    body = srv.requests[0]["json"]
    assert body["max_tokens"] == 64 and body["system"] and body["messages"][0]["role"] == "user"
