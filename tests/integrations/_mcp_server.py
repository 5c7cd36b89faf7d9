"""A small MCP server for the tests (the official SDK's server): ``python _mcp_server.py`` serves
it on stdio; :func:`make_server` builds a fresh one for streamable HTTP."""

from __future__ import annotations

import os
from typing import Any, TypedDict

import anyio

try:  # mcp >= 2
    from mcp.server.mcpserver import MCPServer as Server
    from mcp.server.mcpserver.exceptions import ToolError
except ImportError:  # mcp 1.x
    from mcp.server.fastmcp import FastMCP as Server  # type: ignore[no-redef]
    from mcp.server.fastmcp.exceptions import ToolError  # type: ignore[no-redef]
from mcp.types import ToolAnnotations

READ_ONLY = ToolAnnotations(readOnlyHint=True)
ACTING = ToolAnnotations(readOnlyHint=False)


class Weather(TypedDict):
    city: str
    celsius: float


def make_server() -> Any:
    """A fresh server (an HTTP app's session manager runs once per server)."""
    server = Server("eager-test", log_level="ERROR")
    outbox: list[str] = []

    @server.tool(annotations=READ_ONLY)
    def search(query: str, limit: int = 3) -> list[str]:
        """Search the index; at most ``limit`` hits."""
        return [f"{query} {i}" for i in range(limit)]

    @server.tool(annotations=ACTING)
    def send(to: str, body: str) -> str:
        """Send a message."""
        outbox.append(to)
        return f"sent {len(body)} characters to {to}"

    @server.tool(annotations=READ_ONLY)
    def sent() -> int:
        """How many messages were sent."""
        return len(outbox)

    @server.tool()
    def fail(reason: str) -> str:
        """Always fails."""
        raise ToolError(f"cannot comply: {reason}")

    @server.tool(annotations=READ_ONLY)
    def weather(city: str) -> Weather:
        """Today's weather in a city."""
        return {"city": city, "celsius": 21.5}

    @server.tool(name="item-count", annotations=READ_ONLY)
    def item_count(start: int = 0, *, end: int) -> int:
        """How many items lie between start and end."""
        return end - start

    @server.tool(annotations=READ_ONLY)
    async def slow(seconds: float) -> str:
        """Answers after a while."""
        await anyio.sleep(seconds)
        return "done"

    @server.tool(annotations=READ_ONLY)
    def pid() -> int:
        """The server's process id."""
        return os.getpid()

    return server


if __name__ == "__main__":
    make_server().run("stdio")
