"""End to end: ``eager.run`` on streams from the real replay server, eager against serial."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from eager import Answer, OpenAISource, ReplayServer, ReplBackend, run

PROGRAM = (
    "import math\n"
    "squares = [i * i for i in range(10)]\n"
    "print(sum(squares))\n"
    "def hyp(a, b):\n"
    "    return math.hypot(a, b)\n"
    "print(hyp(3, 4))\n"
    "for i in range(3):\n"
    "    print('row', i)\n"
    "print({'k': [1, 2]})\n"
)
CHAT = f"Here is the program.\n\n```python\n{PROGRAM}```\n\nIt prints a few lines.\n"
LINES = [f"v{i} = {i} + 1\nprint(v{i})\n" for i in range(60)]
# A NameError a third of the way into a 120-line program.
FAILING = "".join(LINES[:10]) + "print(undefined_name)\n" + "".join(LINES[10:])
FAIL_LINE = 21
EXPECTED = "285\n5.0\nrow 0\nrow 1\nrow 2\n{'k': [1, 2]}\n"


@pytest.fixture
async def server() -> AsyncIterator[ReplayServer]:
    answers = {
        "chat": Answer("chat", CHAT, "chat"),
        "code": Answer("code", PROGRAM, "code"),
        "failing": Answer("failing", FAILING, "code"),
    }
    async with ReplayServer(answers, tps=200, ttft_s=0.0) as srv:
        yield srv


async def run_from(srv: ReplayServer, model: str, mode: str, **kw: Any) -> Any:
    source = OpenAISource(base_url=srv.base_url, model=model, prompt="p", **kw)
    async with ReplBackend() as backend:
        return await run(source, backend, mode=mode)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("model", "fmt"), [("chat", "auto"), ("code", "auto"), ("chat", "tool"), ("code", "tool")]
)
async def test_streams_run_eagerly_with_the_same_output_as_serial(
    server: ReplayServer, model: str, fmt: str
) -> None:
    serial = await run_from(server, model, "serial", format=fmt)
    eager = await run_from(server, model, "eager", format=fmt)
    assert serial.ok and eager.ok, (serial.error, eager.error)
    assert serial.stdout == eager.stdout == EXPECTED
    assert eager.code == PROGRAM and eager.metrics.chunks > 3


async def test_a_failing_program_stops_generation_on_the_server(server: ReplayServer) -> None:
    result = await run_from(server, "failing", "eager")
    assert result.error is not None and result.error.ename == "NameError"
    assert result.error.lineno == FAIL_LINE and result.interrupted
    assert result.stdout == "".join(f"{i + 1}\n" for i in range(10))
    (record,) = await server.wait_records(1)
    assert record["disconnected"] is True
    assert record["tokens_sent"] < record["tokens_total"] // 2


async def test_a_stream_broken_after_tokens_keeps_what_ran(server: ReplayServer) -> None:
    result = await run_from(server, "code@drop=40", "eager")
    assert result.error is not None and result.error.kind == "source"
    assert "broke after 40 tokens" in result.error.evalue
    assert result.stdout.startswith("285\n")  # the statements before the break ran
