"""The agent against the real replay server on loopback, turn by turn, in each protocol."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from eager import ReplBackend
from eager.agent import PROTOCOLS, Agent, AgentConfig, EndpointModel, ToolResult, UserMessage
from eager.server import Answer, Recording, ReplayServer

TAIL = "".join(f"w{i} = {i} * 2\n" for i in range(40))
FAILING = (
    f"Load.\n```python\nx = 21\nprint('x is', x)\ny = x / 0\n{TAIL}print('never')\n```\nDone.\n"
)
FIX = "Fix.\n```python\ny = x * 2\nprint(y)\n```\n"
ANSWER = "I now know the final answer.\nFinal Answer: 42"
TURNS = (FAILING, FIX, ANSWER)
LONG = f"Compute.\n```python\nseven = 7\nprint(seven)\n{TAIL}```\n"


@pytest.fixture
async def server() -> AsyncIterator[ReplayServer]:
    recording = Recording("task", tuple(Answer("task", t, "chat") for t in TURNS))
    long = Recording("long", tuple(Answer("long", t, "chat") for t in (LONG, "Final Answer: 7")))
    async with ReplayServer({"task": recording, "long": long}, tps=400, ttft_s=0.0) as srv:
        yield srv


@pytest.fixture
async def repl() -> AsyncIterator[ReplBackend]:
    async with ReplBackend() as backend:
        yield backend


def _base_url(server: ReplayServer, protocol: str) -> str:
    return server.root_url if protocol == "anthropic" else server.base_url


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("code", ["fence", "tool"])
async def test_a_served_conversation_is_cut_at_its_failing_turn_and_repaired(
    server: ReplayServer, repl: ReplBackend, protocol: str, code: str
) -> None:
    model = EndpointModel(
        base_url=_base_url(server, protocol),
        model="task",
        protocol=protocol,
        code=code,  # type: ignore[arg-type]
    )
    result = await Agent(model=model, backend=repl).run("What is 2x?")
    assert (result.answer, result.stop, result.error) == ("42", "answer", None)
    first = result.turns[0]
    assert first.interrupted and "ZeroDivisionError" in (first.error or "")
    assert result.turns[1].runs[0].stdout == "42\n"
    records = await server.wait_records(3)
    assert records[0]["disconnected"] and records[0]["tokens_sent"] < records[0]["tokens_total"]
    assert [r["turn"] for r in records] == [1, 2, 3]
    if code == "tool":
        (call,) = first.message.tool_calls
        assert json.loads(call.arguments) == {"code": "x = 21\nprint('x is', x)\ny = x / 0\n"}
        assert isinstance(result.messages[2], ToolResult)
    else:
        assert first.message.text.endswith("y = x / 0\n```")


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_serial_and_eager_agents_see_the_same_observations_and_eager_generates_less(
    server: ReplayServer, repl: ReplBackend, protocol: str
) -> None:
    seen = {}
    for mode in ("serial", "eager"):
        await repl.reset()
        model = EndpointModel(
            base_url=_base_url(server, protocol),
            model="task",
            protocol=protocol,  # type: ignore[arg-type]
        )
        config = AgentConfig(mode=mode)  # type: ignore[arg-type]
        seen[mode] = await Agent(model=model, backend=repl, config=config).run("q")
    serial, eager = seen["serial"], seen["eager"]
    assert serial.answer == eager.answer == "42"
    observations = {
        mode: [m.text for m in r.messages[1:] if isinstance(m, UserMessage)]
        for mode, r in seen.items()
    }
    assert observations["serial"] == observations["eager"]
    assert not serial.turns[0].interrupted and eager.turns[0].interrupted
    assert eager.tokens_generated < serial.tokens_generated
    records = await server.wait_records(6)
    assert records[0]["tokens_sent"] == records[0]["tokens_total"]  # serial: the whole turn
    assert records[3]["disconnected"]  # eager: cut at the error


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("code", ["fence", "tool"])
async def test_a_turn_cut_by_the_token_limit_goes_back_valid(
    server: ReplayServer, repl: ReplBackend, protocol: str, code: str
) -> None:
    model = EndpointModel(
        base_url=_base_url(server, protocol),
        model="long@length=40",
        protocol=protocol,  # type: ignore[arg-type]
        code=code,  # type: ignore[arg-type]
    )
    result = await Agent(model=model, backend=repl).run("q")
    assert result.answer == "7"
    first = result.turns[0]
    assert first.said.stop_reason in ("length", "max_tokens", "max_output_tokens", "incomplete")
    assert first.message.cut and first.runs[0].stdout.startswith("7\n")
    if code == "tool":
        (call,) = first.message.tool_calls
        assert json.loads(call.arguments)["code"].startswith("seven = 7\nprint(seven)\n")
    else:
        assert first.message.text.endswith("\n```") and first.message.text.count("```") == 2
