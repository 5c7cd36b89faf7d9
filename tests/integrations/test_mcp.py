"""MCP tools as Eager tools, against a real MCP server the tests start (stdio and HTTP)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mcp")

import pytest_asyncio
import uvicorn

import eager
from eager import MissingExtraError, UsageError
from eager._tools import Tool, as_tools
from eager.integrations.mcp import McpToolError, McpToolset

from ._mcp_server import make_server

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(60)]

SERVER = str(Path(__file__).with_name("_mcp_server.py"))
#: The headers of every HTTP request the HTTP server received.
SEEN_HEADERS: list[dict[str, str]] = []
NAMES = ("search", "send", "sent", "fail", "weather", "item_count", "slow", "pid")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def http_url() -> AsyncIterator[str]:
    """A streamable HTTP MCP server on a loopback ephemeral port, for the module."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    app = make_server().streamable_http_app()

    async def recording(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            SEEN_HEADERS.append({k.decode(): v.decode() for k, v in scope["headers"]})
        await app(scope, receive, send)

    config = uvicorn.Config(recording, log_level="error", ws="none", lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        assert not task.done(), "uvicorn did not start"
        await asyncio.sleep(0.01)  # uvicorn has no started event to wait on
    yield f"http://127.0.0.1:{port}/mcp"
    server.should_exit = True
    await asyncio.wait_for(task, 10)
    sock.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=["stdio", "http"])
async def toolset(request: pytest.FixtureRequest, http_url: str) -> AsyncIterator[McpToolset]:
    """The test server's tools, over stdio (a subprocess) or streamable HTTP."""
    if request.param == "stdio":
        ts = McpToolset.stdio(sys.executable, [SERVER])
    else:
        ts = McpToolset.http(http_url)
    async with ts:
        yield ts


def by_name(ts: McpToolset) -> dict[str, Tool]:
    return {t.name: t for t in ts.tools}


async def test_the_servers_tools_are_listed_as_eager_tools(toolset: McpToolset) -> None:
    tools = by_name(toolset)
    assert sorted(tools) == sorted(NAMES)
    assert all(isinstance(t, Tool) for t in tools.values())
    assert str(tools["search"].signature) == "(query: str, limit: int = 3) -> list[str]"
    assert str(tools["send"].signature) == "(to: str, body: str) -> str"
    # a required argument after an optional one is keyword-only; the name became an identifier
    assert str(tools["item_count"].signature) == "(start: int = 0, *, end: int) -> int"
    assert tools["weather"].signature.return_annotation is dict
    assert tools["search"].description == "Search the index; at most ``limit`` hits."
    assert "def search(query: str, limit: int = 3) -> list[str]:" in (
        tools["search"].python_signature()
    )
    # readOnlyHint true: read-only; false or absent: the tool acts
    read_only = {n for n, t in tools.items() if t.read_only}
    assert read_only == {"search", "sent", "weather", "item_count", "slow", "pid"}
    assert as_tools(toolset.tools) == toolset.tools  # unique names, ready for run(tools=...)
    json.dumps([t.spec() for t in toolset.tools])  # what a session's stubs are made of


async def test_calls_return_json_values(toolset: McpToolset) -> None:
    tools = by_name(toolset)
    assert await tools["search"].call(["tea"], {}) == ["tea 0", "tea 1", "tea 2"]
    assert await tools["search"].call([], {"query": "tea", "limit": 1}) == ["tea 0"]
    assert await tools["weather"].call(["Oslo"], {}) == {"city": "Oslo", "celsius": 21.5}
    assert await tools["send"].call(["ann", "hello"], {}) == "sent 5 characters to ann"
    assert await tools["item_count"].call([2], {"end": 7}) == 5  # sent as "item-count"
    assert await tools["item_count"](end=3) == 3  # a tool is its function too


async def test_calls_run_concurrently_on_one_session(toolset: McpToolset) -> None:
    tools = by_name(toolset)
    slow = asyncio.create_task(tools["slow"].call([1.5], {}))
    hits = await asyncio.gather(*(tools["search"].call([str(i)], {"limit": 1}) for i in range(5)))
    assert hits == [[f"{i} 0"] for i in range(5)]
    assert not slow.done()  # a slow call holds no other call back
    assert await slow == "done"


async def test_a_tool_called_on_another_event_loop_says_so(toolset: McpToolset) -> None:
    call = by_name(toolset)["pid"].call
    with pytest.raises(UsageError, match="event loop that started"):
        await asyncio.to_thread(asyncio.run, call([], {}))


async def test_a_failing_tool_raises_the_servers_message(toolset: McpToolset) -> None:
    with pytest.raises(McpToolError, match="cannot comply: no reason") as caught:
        await by_name(toolset)["fail"].call(["no reason"], {})
    assert caught.value.tool == "fail"
    # the session stays usable
    assert await by_name(toolset)["search"].call(["x"], {"limit": 1}) == ["x 0"]


async def test_arguments_that_do_not_fit_raise_type_error_before_any_call(
    toolset: McpToolset,
) -> None:
    tools = by_name(toolset)
    before = await tools["sent"].call([], {})
    with pytest.raises(TypeError, match="cc"):
        await tools["send"].call(["ann"], {"body": "hi", "cc": "bob"})
    with pytest.raises(TypeError, match="body"):
        await tools["send"].call(["ann"], {})
    with pytest.raises(TypeError):
        await tools["item_count"].call([1, 2], {})  # end is keyword-only
    assert await tools["sent"].call([], {}) == before  # the server saw no send


async def test_a_call_past_its_timeout_raises_and_the_session_goes_on(http_url: str) -> None:
    async with McpToolset.http(http_url, timeout_s=0.2) as toolset:
        tools = by_name(toolset)
        with pytest.raises(TimeoutError):
            await tools["slow"].call([30], {})
        assert await tools["search"].call(["a"], {"limit": 1}) == ["a 0"]


async def test_closing_stops_the_stdio_server_and_later_calls_fail_clearly() -> None:
    toolset = McpToolset.stdio(sys.executable, [SERVER], env={"EAGER_MCP_TEST": "1"})
    async with toolset:
        pid_tool = by_name(toolset)["pid"]
        pid = await pid_tool.call([], {})
        assert pid != os.getpid()
        os.kill(pid, 0)  # alive
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # stopped and reaped: no leaked process
    with pytest.raises(eager.McpServerError, match="not connected"):
        await pid_tool.call([], {})
    await toolset.close()  # idempotent
    with pytest.raises(UsageError, match="not started"):
        McpToolset.stdio(sys.executable, [SERVER]).tools  # noqa: B018


async def test_a_server_that_cannot_start_raises_mcp_server_error() -> None:
    dies = McpToolset.stdio(sys.executable, ["-c", "import sys; sys.exit(3)"])
    with pytest.raises(eager.McpServerError, match="MCP server"):
        await dies.start()
    missing = McpToolset.stdio("/nonexistent/eager-mcp-server")
    with pytest.raises(eager.McpServerError):
        await missing.start()


async def test_an_unreachable_http_server_raises_mcp_server_error() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens on it now
    unreachable = McpToolset(
        McpToolset.http(f"http://127.0.0.1:{port}/mcp").server, start_timeout_s=10
    )
    with pytest.raises(eager.McpServerError, match=str(port)):
        await unreachable.start()


async def test_tools_of_two_servers_get_a_prefix(http_url: str) -> None:
    async with McpToolset.http(http_url, prefix="web_") as toolset:
        tools = by_name(toolset)
        assert sorted(tools) == sorted(f"web_{n}" for n in NAMES)
        assert await tools["web_search"].call(["a"], {"limit": 1}) == ["a 0"]


async def test_http_headers_reach_the_server(http_url: str) -> None:
    async with McpToolset.http(http_url, headers={"Authorization": "Bearer t0ken"}) as toolset:
        SEEN_HEADERS.clear()
        assert await by_name(toolset)["sent"].call([], {}) >= 0
    assert any(h.get("authorization") == "Bearer t0ken" for h in SEEN_HEADERS)


async def test_without_the_extra_the_error_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mcp", None)  # `import mcp` raises ImportError
    with pytest.raises(MissingExtraError, match=r"eager\[mcp\]"):
        await McpToolset.stdio(sys.executable, [SERVER]).start()


async def test_an_mcp_servers_tools_run_from_a_sandboxed_session_through_the_bridge() -> None:
    """The real server's tools, called by code in a (sandboxed) session while it streams."""
    import shutil

    from eager import ReplaySource, ReplBackend, SandboxPolicy, run

    program = (
        "hits = search('tea', limit=2)\n"
        "print(hits)\n"
        "w = weather('Oslo')\n"
        "print(w['celsius'])\n"
        "print(send('bob', 'hello'))\n"
        "try:\n    fail('no')\nexcept Exception as e:\n    print(type(e).__name__, e)\n"
    )
    sandbox = SandboxPolicy() if shutil.which("bwrap") else None
    async with McpToolset.stdio(sys.executable, [SERVER]) as ts:
        for mode in ("serial", "eager"):
            async with ReplBackend(sandbox=sandbox) as session:
                source = ReplaySource(program, tps=300, format="code")
                result = await run(source, session, mode=mode, tools=ts.tools)  # type: ignore[arg-type]
            assert result.error is None, result.error
            lines = result.stdout.splitlines()
            assert lines[:3] == ["['tea 0', 'tea 1']", "21.5", "sent 5 characters to bob"]
            assert "cannot comply: no" in lines[3]
            if mode == "eager":  # send acts: its statement waited for the whole program
                seal = [d for d in result.decisions if d.decision == "seal"]
                assert seal and "send" in seal[0].reason
