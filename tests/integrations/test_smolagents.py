"""A stock smolagents ``CodeAgent`` on the replay server: Eager's executor against its own."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

pytest.importorskip("smolagents")

from smolagents import CodeAgent, OpenAIServerModel, tool

from eager.integrations.smolagents import EagerExecutor, EagerModel
from eager.server import Answer, Recording, ReplayServer

TAIL = "".join(f"w{i} = {i} * 2\n" for i in range(60))
TURNS = (
    "Thought: compute x, then the ratio.\n<code>\nx = 21\nprint('x is', x)\n"
    f"y = x / 0\n{TAIL}print('never')\n</code>",
    "Thought: division by zero; double x instead.\n<code>\nprint('doubling')\n"
    "final_answer(x * 2)\n</code>",
)
GOOD = (
    "Thought: sum the squares.\n<code>\nsquares = [i * i for i in range(5)]\n"
    "print(squares)\ntotal = sum(squares)\n</code>",
    "Thought: done.\n<code>\nfinal_answer(total)\n</code>",
)

TOOLS = (
    "Thought: use the tool.\n<code>\nproduct = multiply(6, 7)\nprint('product', product)\n</code>",
    "Thought: answer.\n<code>\nfinal_answer(product)\n</code>",
)


def _markdown(turn: str) -> str:
    return turn.replace("<code>\n", "```python\n").replace("</code>", "```\n")


@tool
def multiply(a: int, b: int) -> int:
    """Multiply two numbers.

    Args:
        a: the first factor
        b: the second factor
    """
    return a * b


@pytest.fixture
async def server() -> AsyncIterator[ReplayServer]:
    recordings = {
        name: Recording(name, tuple(Answer(name, t, "chat") for t in turns))
        for name, turns in (
            ("failing", TURNS),
            ("failing-md", tuple(_markdown(t) for t in TURNS)),
            ("good", GOOD),
            ("tools", TOOLS),
        )
    }
    async with ReplayServer(recordings, tps=400, ttft_s=0.0) as srv:
        yield srv


def _agent(server: ReplayServer, name: str, *, eager: bool) -> tuple[CodeAgent, Any]:
    model = OpenAIServerModel(model_id=name, api_base=server.base_url, api_key="test")
    tags = "markdown" if name.endswith("-md") else None
    options: dict[str, Any] = {"stream_outputs": True, "verbosity_level": 0}
    if not eager:
        return CodeAgent(tools=[multiply], model=model, code_block_tags=tags, **options), None
    executor = EagerExecutor()  # the agent's tags are read from its stop sequences
    agent = CodeAgent(
        tools=[multiply],
        model=EagerModel(model, executor),
        executor=executor,
        code_block_tags=tags,
        **options,
    )
    return agent, executor


@pytest.mark.parametrize(
    ("name", "expected"), [("failing", 42), ("failing-md", 42), ("good", 30), ("tools", 42)]
)
async def test_a_stock_code_agent_reaches_the_same_answer_with_the_eager_executor(
    server: ReplayServer, name: str, expected: int
) -> None:
    answers = {}
    for eager in (False, True):
        agent, _ = _agent(server, name, eager=eager)
        try:
            answers[eager] = await asyncio.to_thread(agent.run, "task", max_steps=4)
        finally:
            agent.cleanup()
    assert answers[False] == answers[True] == expected


@pytest.mark.parametrize("name", ["failing", "failing-md"])
async def test_a_failing_step_stops_the_model_early_and_memory_keeps_the_partial_code(
    server: ReplayServer, name: str
) -> None:
    agent, executor = _agent(server, name, eager=True)
    try:
        answer = await asyncio.to_thread(agent.run, "task", max_steps=4)
    finally:
        agent.cleanup()
    assert answer == 42
    records = await server.wait_records(2)
    first = records[0]
    assert first["disconnected"] and first["tokens_sent"] < first["tokens_total"] // 2
    step = agent.memory.steps[1]
    assert "y = x / 0" in step.model_output and "w59" not in step.model_output
    assert step.model_output.rstrip().endswith("</code>" if name == "failing" else "```")
    assert "ZeroDivisionError" in str(step.error) and "x is 21" in step.observations
    assert executor.runs[0].interrupted and executor.runs[1].ok is False
    logs = agent.memory.steps[2].observations
    assert "doubling" in logs
