"""The protocols' request reading (pure, table-driven) and every fault in every protocol (over
real HTTP on loopback, raw httpx)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from eager import Answer, ReplayServer, UsageError, tokenize
from eager.server._anthropic import AnthropicWire
from eager.server._chat import ChatWire
from eager.server._faults import parse_faults
from eager.server._responses import ResponsesWire
from eager.server._wire import ToolForm
from eager.sources._sse import SSEDecoder

CHAT, RESPONSES, ANTHROPIC = ChatWire(), ResponsesWire(), AnthropicWire()
A = {"role": "assistant", "content": "a"}
U = {"role": "user", "content": "u"}
T = {"role": "tool", "tool_call_id": "c", "content": "ok"}
FC = {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"}
FCO = {"type": "function_call_output", "call_id": "c", "output": "ok"}


@pytest.mark.parametrize(
    ("wire", "body", "turns"),
    [
        (CHAT, {"messages": [U]}, 0),
        (CHAT, {"messages": [U, A, U, A, U]}, 2),
        (CHAT, {"messages": [U, A, T, A, U]}, 2),  # a tool result between: two turns
        (CHAT, {"messages": [U, A, A, U]}, 1),  # consecutive assistant messages: one turn
        (CHAT, {}, 0),
        (RESPONSES, {"input": "just text"}, 0),
        (RESPONSES, {"input": [U, A, FC, FCO, FC, FCO, U]}, 2),
        (RESPONSES, {"input": [U, {"type": "custom_tool_call", "call_id": "c", "input": "x"}]}, 1),
        (RESPONSES, {"input": [U, {"type": "message", "role": "assistant", "content": []}, U]}, 1),
        (ANTHROPIC, {"messages": [U, A, U]}, 1),
        (ANTHROPIC, {"messages": [U, A, U, A, U, A, U]}, 3),
    ],
)
def test_assistant_turns_in_a_history(wire: Any, body: dict[str, Any], turns: int) -> None:
    assert wire.history_turns(body) == turns


SCHEMA = {"type": "object", "properties": {"src": {"type": "string"}}, "required": ["src"]}


@pytest.mark.parametrize(
    ("wire", "body", "tool"),
    [
        (CHAT, {}, None),
        (CHAT, {"tools": [{"type": "function", "function": {"name": "run"}}]}, ToolForm("run")),
        (
            CHAT,
            {"tools": [{"type": "function", "function": {"name": "r", "parameters": SCHEMA}}]},
            ToolForm("r", "src"),
        ),
        (RESPONSES, {"tools": [{"type": "web_search"}]}, None),
        (
            RESPONSES,
            {"tools": [{"type": "function", "name": "f", "parameters": SCHEMA}]},
            ToolForm("f", "src"),
        ),
        (RESPONSES, {"tools": [{"type": "custom", "name": "py"}]}, ToolForm("py", None)),
        (ANTHROPIC, {"tools": [{"name": "t", "input_schema": SCHEMA}]}, ToolForm("t", "src")),
        (ANTHROPIC, {"tools": [{"type": "bash_20250124", "name": "bash"}]}, None),
    ],
)
def test_the_declared_code_tool(wire: Any, body: dict[str, Any], tool: ToolForm | None) -> None:
    assert wire.declared_tool(body) == tool


@pytest.mark.parametrize(
    ("spec", "n_tokens", "due"),
    [
        ("drop=3", 10, {3: "drop"}),
        ("drop=30", 10, {10: "drop"}),  # beyond the end: at the end
        ("no-done", 10, {10: "no_done"}),
        ("stall=0", 10, {0: "stall"}),
        ("status=500", 10, {}),
    ],
)
def test_when_a_fault_acts(spec: str, n_tokens: int, due: dict[int, str]) -> None:
    fault = parse_faults(spec)
    got = {i: name for i in range(n_tokens + 1) if (name := fault.due(i, n_tokens)) is not None}
    assert got == due


def test_length_and_stop_reason_faults_parse() -> None:
    fault = parse_faults("length=3,stop-reason=refusal")
    assert (fault.length, fault.stop_reason, fault.due(3, 10)) == (3, "refusal", None)
    with pytest.raises(UsageError, match="stop-reason needs a value"):
        parse_faults("stop-reason=")


# --- every fault, every protocol ----------------------------------------------------------------

TEXT = "print('hello')\nfor i in range(3):\n    print(i * i)\n"
N = len(tokenize(TEXT))
PATHS = {"chat": "/v1/chat/completions", "responses": "/v1/responses", "anthropic": "/v1/messages"}
LAST = {"chat": "[DONE]", "responses": "response.completed", "anthropic": "message_stop"}


@pytest.fixture
async def client() -> AsyncIterator[tuple[ReplayServer, httpx.AsyncClient]]:
    async with (
        ReplayServer({"m": Answer("m", TEXT, "code")}, tps=5000, ttft_s=0.0) as srv,
        httpx.AsyncClient(base_url=srv.root_url, trust_env=False, timeout=10) as c,
    ):
        yield srv, c


def _body(protocol: str, model: str) -> dict[str, Any]:
    if protocol == "responses":
        return {"model": model, "input": "x", "stream": True}
    return {"model": model, "messages": [U], "stream": True, "max_tokens": 9}


def _kind(protocol: str, data: str) -> str:
    """The event's kind: its ``type`` (chat: ``chunk``, ``[DONE]`` or ``error``), or ``bad``."""
    if data == "[DONE]":
        return data
    try:
        obj = json.loads(data)
    except ValueError:
        return "bad"
    if protocol == "chat":
        return "error" if "error" in obj else "chunk"
    return str(obj["type"])


def _tokens(protocol: str, datas: list[str]) -> str:
    out = []
    for d in datas:
        if _kind(protocol, d) in ("bad", "[DONE]", "error"):
            continue
        obj = json.loads(d)
        if protocol == "chat" and obj["choices"]:
            out.append(obj["choices"][0]["delta"].get("content") or "")
        elif obj.get("type") == "response.output_text.delta":
            out.append(obj["delta"])
        elif obj.get("type") == "content_block_delta":
            out.append(obj["delta"]["text"])
    return "".join(out)


async def _read(c: httpx.AsyncClient, protocol: str, model: str) -> tuple[list[str], str | None]:
    decoder, datas, broke = SSEDecoder(), [], None
    try:
        async with c.stream("POST", PATHS[protocol], json=_body(protocol, model)) as r:
            assert r.status_code == 200
            async for raw in r.aiter_bytes():
                datas.extend(e.data for e in decoder.feed(raw))
    except httpx.RemoteProtocolError as exc:
        broke = type(exc).__name__
    return datas, broke


@pytest.mark.parametrize("protocol", list(PATHS))
async def test_every_stream_fault_in_every_protocol(
    client: tuple[ReplayServer, httpx.AsyncClient], protocol: str
) -> None:
    srv, c = client
    clean, _ = await _read(c, protocol, "m")
    assert _tokens(protocol, clean) == TEXT and _kind(protocol, clean[-1]) == LAST[protocol]

    datas, _ = await _read(c, protocol, "m@bad-json=3")
    assert _kind(protocol, datas[-1]) == "bad"
    assert _tokens(protocol, datas) == "".join(tokenize(TEXT)[:3])

    datas, _ = await _read(c, protocol, "m@error-event=2")
    assert _kind(protocol, datas[-1]) == "error"
    assert _tokens(protocol, datas) == "".join(tokenize(TEXT)[:2])

    datas, _ = await _read(c, protocol, "m@no-done")
    assert _tokens(protocol, datas) == TEXT
    assert LAST[protocol] not in {_kind(protocol, d) for d in datas}

    datas, broke = await _read(c, protocol, "m@drop=4")
    assert broke == "RemoteProtocolError"
    assert _tokens(protocol, datas) == "".join(tokenize(TEXT)[:4])

    r = await c.post(PATHS[protocol], json=_body(protocol, "m@non-sse"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")

    records = await srv.wait_records(6)
    assert [r.get("fault") for r in records] == [
        None,
        "bad-json",
        "error-event",
        "no-done",
        "drop",
        "non-sse",
    ]
    assert {r["protocol"] for r in records} == {protocol}


@pytest.mark.parametrize("protocol", list(PATHS))
async def test_a_stalled_stream_is_a_disconnect_when_the_client_gives_up(
    client: tuple[ReplayServer, httpx.AsyncClient], protocol: str
) -> None:
    srv, c = client
    for fault in ("stall=2", "stall-headers"):
        with pytest.raises(httpx.ReadTimeout):
            async with c.stream(
                "POST", PATHS[protocol], json=_body(protocol, f"m@{fault}"), timeout=0.3
            ) as r:
                async for _ in r.aiter_bytes():
                    pass
    records = await srv.wait_records(2)
    assert [r["disconnected"] for r in records] == [True, True]
    assert [r["tokens_sent"] for r in records] == [2, 0]
