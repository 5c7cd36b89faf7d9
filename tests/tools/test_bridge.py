"""Programmatic tool calling: session code calls host tools over the session's own channel.

Real sessions (the REPL, sandboxed or not), real streams (``ReplaySource``): eager runs give
what serial runs give, acting tools run only once the program is complete, a failing tool
stops the model at its line, speculative calls are counted and never change a result.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from eager import (
    Backend,
    Codec,
    FakeBackend,
    GenerationEnded,
    JupyterBackend,
    ReplaySource,
    ReplBackend,
    RunResult,
    SandboxPolicy,
    SpeculationStarted,
    Tool,
    ToolCalled,
    run,
    tool,
)


class World:
    """Host tools with a log of what ran when (host monotonic time)."""

    def __init__(self, latency_s: float = 0.05) -> None:
        self.latency_s = latency_s
        self.log: list[tuple[str, tuple[object, ...], float]] = []

    def tools(self) -> list[Tool]:
        world = self

        @tool(read_only=True)
        async def search(query: str, limit: int = 3) -> list[str]:
            """Search the web; the URLs of the best pages."""
            world.log.append(("search", (query, limit), time.monotonic()))
            await asyncio.sleep(world.latency_s)
            return [f"https://example.org/{query}/{i}" for i in range(limit)]

        @tool(read_only=True)
        def fetch(url: str) -> str:
            """The text of a page."""
            world.log.append(("fetch", (url,), time.monotonic()))
            time.sleep(world.latency_s)
            if "missing" in url:
                raise KeyError(f"no page at {url}")
            return f"<{url}>"

        @tool
        def send(to: str, body: str) -> str:
            """Send a message (acts)."""
            world.log.append(("send", (to, body), time.monotonic()))
            return f"sent to {to}"

        return [search, fetch, send]


PROGRAM = """\
hits = search("cats")
print(len(hits), hits[0])
pages = [fetch(hits[0]), fetch(hits[1]),
         fetch(hits[2])]
print(sum(len(p) for p in pages))
receipt = send("me", pages[0])
print(receipt)
"""


def backends() -> list[str]:
    kinds = ["repl", "fake", "jupyter"]
    if shutil.which("bwrap"):
        kinds.append("sandbox")
    return kinds


@pytest.fixture(params=backends())
async def session(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    backend: Backend
    if request.param == "repl":
        backend = ReplBackend()
    elif request.param == "sandbox":
        backend = ReplBackend(sandbox=SandboxPolicy())
    elif request.param == "jupyter":
        backend = JupyterBackend()
    else:
        backend = FakeBackend()
    async with backend:
        yield backend


async def _run(backend: Backend, world: World, mode: str, speculate: bool = True) -> RunResult:
    await backend.reset()
    source = ReplaySource(PROGRAM, tps=200, format="code")
    return await run(source, backend, mode=mode, tools=world.tools(), speculate=speculate)  # type: ignore[arg-type]


async def test_eager_with_tools_gives_what_serial_gives(session: Backend) -> None:
    serial = await _run(session, World(), "serial")
    eager = await _run(session, World(), "eager")
    assert serial.error is None and eager.error is None
    assert eager.stdout == serial.stdout
    assert "sent to me" in eager.stdout
    assert eager.metrics.tool_calls == serial.metrics.tool_calls == 5


async def test_an_acting_tool_runs_only_once_the_program_is_complete(session: Backend) -> None:
    world = World()
    result = await _run(session, world, "eager")
    gen_end = next(e.t for e in result.events if isinstance(e, GenerationEnded))
    sends = [e for e in result.events if isinstance(e, ToolCalled) and e.name == "send"]
    assert len(sends) == 1 and sends[0].t >= gen_end
    seal = [d for d in result.decisions if d.decision == "seal"]
    assert seal and "send" in seal[0].reason


async def test_a_failing_tool_raises_at_its_line_and_stops_the_model(session: Backend) -> None:
    world = World()
    program = 'page = fetch("https://example.org/missing")\nprint("never")\n' + "x = 1\n" * 200
    source = ReplaySource(program, tps=200, format="code")
    result = await run(source, session, tools=world.tools())
    assert result.error is not None
    assert result.error.ename == "KeyError" and "missing" in result.error.evalue
    assert result.error.lineno == 1 and result.failed_chunk == 0
    assert result.interrupted and result.metrics.tokens_generated < (
        result.metrics.tokens_total or 0
    )
    assert 'fetch("https://example.org/missing")' in result.error.traceback
    assert "never" not in result.stdout


async def test_speculative_calls_start_before_their_statement_and_are_taken() -> None:
    world = World(latency_s=0.3)
    async with ReplBackend() as backend:
        spec = await _run(backend, world, "eager", speculate=True)
        plain = await _run(backend, World(latency_s=0.3), "eager", speculate=False)
    m = spec.metrics
    assert spec.stdout == plain.stdout
    assert m.spec_started >= 3 and m.spec_hits >= 3 and m.spec_hidden_s > 0
    assert m.spec_hits + m.spec_misses == m.spec_started
    assert any(isinstance(e, SpeculationStarted) for e in spec.events)
    # each speculated fetch ran once: the session's call took its result
    assert [name for name, _, _ in world.log].count("fetch") == 3


async def test_a_speculation_with_other_arguments_is_a_miss_not_a_wrong_value() -> None:
    calls: list[str] = []

    @tool(read_only=True)
    def lookup(key: str) -> str:
        """A lookup."""
        calls.append(key)
        return key.upper()

    # `key` is "a" when the statement is written, "b" when it runs
    program = 'key = "a"\nkey = key.replace("a", "b")\nvalue = lookup(key)\nprint(value)\n'
    async with ReplBackend() as backend:
        result = await run(ReplaySource(program, tps=100, format="code"), backend, tools=[lookup])
    assert result.stdout == "B\n"
    assert result.metrics.spec_hits == 0


async def test_tool_errors_arguments_timeouts_and_codecs_inside_the_session() -> None:
    @tool(read_only=True, timeout_s=0.2)
    async def slow() -> int:
        """Too slow."""
        await asyncio.sleep(5)
        return 1

    @tool(read_only=True, codec=Codec(encode=sorted, decode="lambda v: set(v)"))
    def tags() -> set[str]:
        """A set, through a codec."""
        return {"b", "a"}

    @tool(read_only=True)
    def echo(value: object) -> object:
        """Echo."""
        return value

    program = (
        "try:\n    slow()\nexcept TimeoutError as e:\n    print('timeout', 'did not answer' in str(e))\n"
        "print(type(tags()).__name__, sorted(tags()))\n"
        "try:\n    echo(object())\nexcept TypeError as e:\n    print('args', 'JSON' in str(e))\n"
        "try:\n    echo(1, 2)\nexcept TypeError as e:\n    print('arity')\n"
        "print(echo({'k': [1, 2.5, None]}))\n"
        "import inspect\nprint(inspect.signature(echo), echo.__doc__)\n"
    )
    async with ReplBackend() as backend:
        result = await run(
            ReplaySource(program, tps=500, format="code"), backend, tools=[slow, tags, echo]
        )
    assert result.error is None, result.error
    assert result.stdout.splitlines() == [
        "timeout True",
        "set ['a', 'b']",
        "args True",
        "arity",
        "{'k': [1, 2.5, None]}",
        "(value) Echo.",
    ]


async def test_the_gate_knows_tools_through_aliases_and_helper_functions() -> None:
    world = World()
    program = (
        "notify = send\n"
        "def report(text):\n    return notify('me', text)\n"
        "hits = search('x')\n"
        "report(hits[0])\n"
    )
    async with ReplBackend() as backend:
        result = await run(
            ReplaySource(program, tps=200, format="code"), backend, tools=world.tools()
        )
    decisions = [d.decision for d in result.decisions]
    assert decisions[0] == "seal"  # the alias seals; everything after waits
    assert result.error is None
    assert [n for n, _, _ in world.log] == ["search", "send"]


async def test_a_pools_sessions_call_its_tools() -> None:
    from eager import PoolConfig, SessionPool

    world = World()
    async with SessionPool(ReplBackend, config=PoolConfig(size=2), tools=world.tools()) as pool:
        for _ in range(3):
            async with pool.session() as session:
                source = ReplaySource(PROGRAM, tps=500, format="code")
                result = await run(source, session)
                assert result.error is None and "sent to me" in result.stdout
    assert [n for n, _, _ in world.log].count("send") == 3


async def test_tool_calls_and_speculations_show_in_the_trace_and_the_gantt(tmp_path: Path) -> None:
    import json

    from eager._trace import write_plot, write_trace

    async with ReplBackend() as backend:
        result = await _run(backend, World(latency_s=0.1), "eager")
    trace = json.loads(write_trace(tmp_path / "t.json", {"eager": result}).read_text())
    names = [e.get("name", "") for e in trace["traceEvents"] if e.get("tid") == 5]
    assert any(n.startswith("fetch (speculated)") for n in names)
    assert any(n.startswith("speculate ") for n in names)
    assert any(n.startswith("send") for n in names)
    assert write_plot(tmp_path / "g.png", {"eager": result}).stat().st_size > 1000
