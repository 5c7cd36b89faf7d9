"""What a real model is told: the requests ``eager chat`` / ``ask`` / ``run`` send, read on the
wire by a loopback server speaking each protocol's official stream (a model's view)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sources._wire import Reply, WireServer, anthropic_events, chat_events, responses_events

from .test_protocol import eager

ANSWER = "Final Answer: 42"
PATHS = {"chat": "/v1/chat/completions", "responses": "/v1/responses", "anthropic": "/v1/messages"}


def _reply(protocol: str, text: str) -> Reply:
    if protocol == "chat":
        return Reply(chat_events(text=[text]))
    if protocol == "responses":
        return Reply(responses_events(text=[text]))
    return Reply(anthropic_events(text=[text]))


def _base(srv: WireServer, protocol: str) -> str:
    return srv.url if protocol == "anthropic" else srv.url + "/v1"


def _system_of(protocol: str, body: dict[str, Any]) -> str | None:
    """The system prompt of a request as the protocol carries it."""
    if protocol == "chat":
        first = body["messages"][0]
        return first["content"] if first["role"] == "system" else None
    if protocol == "responses":
        return body.get("instructions")
    system = body.get("system")
    if isinstance(system, list):  # Anthropic also takes a list of text blocks
        return "".join(block["text"] for block in system)
    return system


def _user_text(protocol: str, body: dict[str, Any]) -> str:
    messages = body["input"] if protocol == "responses" else body["messages"]
    user = next(m for m in messages if m.get("role") == "user")
    content = user["content"]
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content)
    return str(content)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "sales.csv"
    path.write_text("region,amount\nnorth,10\nsouth,32\n")
    return path


@pytest.mark.parametrize("protocol", ["chat", "responses", "anthropic"])
@pytest.mark.parametrize("code", ["fence", "tool"])
async def test_chat_tells_the_model_how_its_code_runs_and_names_the_files(
    protocol: str, code: str, data: Path
) -> None:
    async with WireServer({PATHS[protocol]: _reply(protocol, ANSWER)}) as srv:
        status, out, err = await eager(
            "chat", "What is the total amount?", "--base-url", _base(srv, protocol),
            "--model", "m", "--protocol", protocol, "--code", code, "--file", str(data),
            "--no-sandbox", "--json",
        )  # fmt: skip
    assert status == 0, err
    assert json.loads(out)["answer"] == "42"
    (request,) = srv.requests
    body = request["json"]
    system = _system_of(protocol, body)
    assert system is not None, body
    assert "sales.csv" in system and "persistent" in system and "Final Answer:" in system
    assert "final_answer(value)" in system
    if code == "tool":
        assert "`python`" in system and "`code` argument" in system and body["tools"]
    else:
        assert "```python" in system and "tools" not in body
    assert _user_text(protocol, body) == "What is the total amount?"


@pytest.mark.parametrize("protocol", ["chat", "anthropic"])
async def test_chat_system_replaces_and_system_append_extends(protocol: str, data: Path) -> None:
    replies = {PATHS[protocol]: _reply(protocol, ANSWER)}
    async with WireServer(replies) as srv:
        base = ["--base-url", _base(srv, protocol), "--model", "m", "--protocol", protocol]
        common = [*base, "--file", str(data), "--no-sandbox", "--json"]
        replaced = await eager("chat", "q", *common, "--system", "You are terse.")
        extended = await eager("chat", "q", *common, "--system-append", "Answer in French.")
        both = await eager(
            "chat", "q", *common, "--system", "You are terse.", "--system-append", "Be exact."
        )
        none = await eager("chat", "q", *base, "--no-sandbox", "--json", "--system", "")
    for status, _, err in (replaced, extended, both, none):
        assert status == 0, err
    systems = [_system_of(protocol, r["json"]) for r in srv.requests]
    assert systems[0] is not None and systems[0].startswith("You are terse.")
    assert "sales.csv" in systems[0] and "persistent" not in systems[0]
    assert systems[1] is not None and "persistent" in systems[1]
    assert systems[1].rstrip().endswith("Answer in French.")
    assert systems[2] == systems[0] + "\n\nBe exact."
    assert systems[3] is None


@pytest.mark.parametrize("protocol", ["chat", "responses", "anthropic"])
async def test_ask_asks_for_one_program_and_names_the_files(protocol: str, data: Path) -> None:
    program = "```python\nimport csv\nrows = list(csv.DictReader(open('sales.csv')))\n" \
        "print(sum(int(r['amount']) for r in rows))\n```\n"  # fmt: skip
    async with WireServer({PATHS[protocol]: _reply(protocol, program)}) as srv:
        status, out, err = await eager(
            "ask", "Total amount?", "--base-url", _base(srv, protocol), "--model", "m",
            "--protocol", protocol, "--file", str(data), "--no-sandbox", "--json",
            "--system-append", "Use the csv module.",
        )  # fmt: skip
    assert status == 0, err
    assert json.loads(out)["stdout"] == "42\n"  # the file was in the session's folder
    system = _system_of(protocol, srv.requests[0]["json"])
    assert system is not None
    assert "ONE complete" in system and "sales.csv" in system
    assert system.endswith("Use the csv module.")


async def test_run_from_an_endpoint_sends_the_program_prompt_unless_system_is_given() -> None:
    program = "```python\nprint(6 * 7)\n```\n"
    async with WireServer({PATHS["chat"]: _reply("chat", program)}) as srv:
        base = ["run", "--base-url", srv.url + "/v1", "--model", "m", "--json", "--no-sandbox"]
        default = await eager(*base)
        custom = await eager(*base, "--system", "Only code.", "--prompt", "Print 42.")
    for status, out, err in (default, custom):
        assert status == 0, err
        assert json.loads(out)["stdout"] == "42\n"  # one mode: eager, the default
    first, second = (r["json"]["messages"] for r in srv.requests)
    assert first[0]["role"] == "system" and "ONE complete" in first[0]["content"]
    assert second[0] == {"role": "system", "content": "Only code."}
    assert second[1] == {"role": "user", "content": "Print 42."}
