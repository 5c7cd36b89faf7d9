"""MCP tools as Eager tools: the tools of one MCP server, over one session kept open.

An :class:`McpToolset` connects to an MCP server over stdio (a subprocess) or streamable HTTP
with the official ``mcp`` SDK (``pip install 'eager[mcp]'``), lists its tools and makes each an
:class:`eager.Tool` that any session code can call, like a host function::

    from eager.integrations.mcp import McpToolset

    async with McpToolset.stdio("python", ["my_server.py"]) as toolset:
        result = await eager.run(source, backend, tools=toolset.tools)

Each tool gets a Python name (the server's, made an identifier, collisions resolved; the call
uses the server's own), a signature from its ``inputSchema`` (with annotations, so the model
sees ``def search(query: str, limit: int = 3) -> list[str]``), its description, ``read_only``
from ``annotations.readOnlyHint`` (absent or false: the tool acts) and a timeout. A call sends
``tools/call`` on the toolset's session and returns a JSON value: the structured content when
there is one, else the text (several content items: a list). A result flagged ``isError``
raises :class:`McpToolError` with the server's message. The toolset, and its tools, belong to
the event loop that started it.

The schema and result mappings are pure functions on the protocol's JSON, in ``_mcp_json.py``
(:func:`signature_from_schema`, :func:`tool_names`, :func:`result_value`), so they do not depend
on the SDK's version; this module moves data between them and the SDK's session.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._errors import McpServerError, MissingExtraError, UsageError
from .._tools import DEFAULT_TOOL_TIMEOUT_S, Tool
from ..backends._base import CLOSE_TIMEOUT_S, AsyncResource
from ._mcp_json import (
    McpToolError,
    describe,
    is_wrapped,
    result_value,
    signature_from_schema,
    tool_names,
)

__all__ = [
    "START_TIMEOUT_S",
    "HttpServer",
    "McpToolError",
    "McpToolset",
    "StdioServer",
    "result_value",
    "signature_from_schema",
    "tool_names",
]

#: Bound on starting a server, initialising the session and listing its tools, in seconds.
START_TIMEOUT_S = 30.0
#: Most pages of ``tools/list`` read (a server that pages for ever is a broken one).
_MAX_PAGES = 100
#: JSON-RPC error code the SDK uses for a connection that closed under a request.
_CONNECTION_CLOSED = -32000


def _mcp() -> Any:
    try:
        import mcp
    except ImportError as exc:
        raise MissingExtraError("mcp", "mcp") from exc
    return mcp


# --- the servers -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class StdioServer:
    """An MCP server run as a subprocess, speaking on its stdin and stdout.

    ``env`` is added to the SDK's default environment (``PATH``, ``HOME``, ...; not the whole
    of this process's); ``cwd`` is its working directory (None: this process's).
    """

    command: str
    args: tuple[str, ...] = ()
    env: Mapping[str, str] | None = None
    cwd: str | Path | None = None

    def __str__(self) -> str:
        return f"MCP server {' '.join((self.command, *self.args))!r}"

    @contextlib.asynccontextmanager
    async def connect(self) -> AsyncIterator[tuple[Any, Any]]:
        """The SDK's stream pair to the running server; leaving stops it."""
        _mcp()
        from mcp.client.stdio import StdioServerParameters, stdio_client

        params = StdioServerParameters(
            command=self.command,
            args=list(self.args),
            env=dict(self.env) if self.env is not None else None,
            cwd=self.cwd,
        )
        async with stdio_client(params) as streams:
            yield streams[0], streams[1]


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpServer:
    """An MCP server at a streamable HTTP endpoint (``http://host:port/mcp``)."""

    url: str
    headers: Mapping[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"MCP server at {self.url}"

    @contextlib.asynccontextmanager
    async def connect(self) -> AsyncIterator[tuple[Any, Any]]:
        """The SDK's stream pair to the endpoint; leaving ends the HTTP session."""
        _mcp()
        try:  # the SDK's current client: headers go on an HTTP client it creates for us
            from mcp.client.streamable_http import streamable_http_client
            from mcp.shared._httpx_utils import create_mcp_http_client
        except ImportError:  # mcp < 1.24: the older spelling takes the headers itself
            from mcp.client.streamable_http import (  # type: ignore[attr-defined, unused-ignore]
                streamablehttp_client,
            )

            async with streamablehttp_client(self.url, headers=dict(self.headers)) as streams:
                yield streams[0], streams[1]
            return
        async with (
            create_mcp_http_client(headers=dict(self.headers)) as client,
            streamable_http_client(self.url, http_client=client) as streams,
        ):
            yield streams[0], streams[1]


# --- the toolset -------------------------------------------------------------------------------


class McpToolset(AsyncResource):
    """The tools of one MCP server, over one session open from :meth:`start` to :meth:`close`.

    ``server``: a :class:`StdioServer` or :class:`HttpServer` (or use :meth:`stdio` and
    :meth:`http`). ``prefix`` goes before every tool's name (tools of two servers in one run);
    ``timeout_s`` bounds each call (None: no bound); ``start_timeout_s`` bounds the start.
    The session runs in a task of its own, so the toolset may be closed from any task; close
    is shielded and bounded by ``CLOSE_TIMEOUT_S`` (a stdio server is then stopped).
    """

    SHIELD_CLOSE = True

    def __init__(
        self,
        server: StdioServer | HttpServer,
        *,
        prefix: str = "",
        timeout_s: float | None = DEFAULT_TOOL_TIMEOUT_S,
        start_timeout_s: float = START_TIMEOUT_S,
    ) -> None:
        if not isinstance(server, StdioServer | HttpServer):
            raise UsageError(f"server must be a StdioServer or HttpServer, not {server!r}")
        if timeout_s is not None and not timeout_s > 0:
            raise UsageError(f"timeout_s must be positive or None, not {timeout_s!r}")
        if not start_timeout_s > 0:
            raise UsageError(f"start_timeout_s must be positive, not {start_timeout_s!r}")
        self.server = server
        self.prefix = prefix
        self.timeout_s = timeout_s
        self.start_timeout_s = start_timeout_s
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._session: Any = None
        self._tools: tuple[Tool, ...] | None = None
        self._ended: str = ""
        self._loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def stdio(
        cls,
        command: str,
        args: Sequence[str] = (),
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | Path | None = None,
        prefix: str = "",
        timeout_s: float | None = DEFAULT_TOOL_TIMEOUT_S,
    ) -> McpToolset:
        """The tools of a server that ``command args`` starts (stdio transport)."""
        server = StdioServer(command=command, args=tuple(args), env=env, cwd=cwd)
        return cls(server, prefix=prefix, timeout_s=timeout_s)

    @classmethod
    def http(
        cls,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        prefix: str = "",
        timeout_s: float | None = DEFAULT_TOOL_TIMEOUT_S,
    ) -> McpToolset:
        """The tools of a server at a streamable HTTP endpoint."""
        server = HttpServer(url=url, headers=dict(headers or {}))
        return cls(server, prefix=prefix, timeout_s=timeout_s)

    def __repr__(self) -> str:
        state = "open" if self._session is not None else "closed"
        return f"McpToolset({self.server}, {state})"

    @property
    def tools(self) -> tuple[Tool, ...]:
        """The server's tools as listed at start (raises :class:`~eager.UsageError` before)."""
        if self._tools is None:
            raise UsageError("the toolset is not started: use 'async with' or await start()")
        return self._tools

    async def start(self) -> None:
        """Start the server or connect to it, and list its tools (idempotent).

        Raises :class:`~eager.McpServerError` when the server cannot be started or reached, or
        does not answer within ``start_timeout_s``; :class:`~eager.MissingExtraError` without
        the ``mcp`` extra.
        """
        if self._task is not None and not self._task.done():
            return
        _mcp()
        self._stop = asyncio.Event()
        self._ended = ""
        self._loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._serve(ready), name=f"eager-mcp {self.server}")
        try:
            await asyncio.wait_for(asyncio.shield(ready), self.start_timeout_s)
        except TimeoutError:
            ready.cancel()
            await self.close()
            raise McpServerError(
                f"{self.server} did not answer within {self.start_timeout_s:g} s"
            ) from None
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """End the session (a stdio server is stopped); idempotent, bounded, never raises."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stop.set()
        _, pending = await asyncio.wait({task}, timeout=CLOSE_TIMEOUT_S)
        if pending:  # the SDK's own shutdown is bounded; this is the bound on ours
            task.cancel()
            await asyncio.wait({task}, timeout=CLOSE_TIMEOUT_S)
        self._session = None

    async def _serve(self, ready: asyncio.Future[None]) -> None:
        """Own the session: open it, list the tools, hold it until close (the task's life)."""
        from mcp import ClientSession

        try:
            async with (
                self.server.connect() as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                listed = await _list_tools(session)
                if any(t.get("outputSchema") for t in listed):
                    await asyncio.to_thread(_warm_output_validation)
                self._tools = self._make_tools(listed)
                self._session = session
                if not ready.done():
                    ready.set_result(None)
                await self._stop.wait()
        except Exception as exc:  # the SDK's task groups raise ExceptionGroups: name the cause
            self._ended = _reason(exc)
            if not ready.done():
                ready.set_exception(
                    McpServerError(f"cannot connect to {self.server}: {self._ended}")
                )
        finally:
            self._session = None
            if not ready.done():
                ready.cancel()

    def _make_tools(self, listed: Sequence[Mapping[str, Any]]) -> tuple[Tool, ...]:
        names = tool_names([self.prefix + str(t["name"]) for t in listed])
        return tuple(self._make_tool(t, name) for t, name in zip(listed, names, strict=True))

    def _make_tool(self, spec: Mapping[str, Any], name: str) -> Tool:
        remote = str(spec["name"])
        schema = spec.get("inputSchema") or {}
        output = spec.get("outputSchema")
        signature, wire = signature_from_schema(schema, output_schema=output)
        wrapped = is_wrapped(output)

        async def call(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(*args, **kwargs)  # defaults stay the server's to apply
            arguments = {wire[k]: v for k, v in bound.arguments.items()}
            return result_value(remote, await self._call(remote, arguments), wrapped=wrapped)

        call.__name__ = call.__qualname__ = name
        annotations = spec.get("annotations") or {}
        return Tool(
            call,
            name=name,
            description=describe(spec, wire),
            signature=signature,
            read_only=annotations.get("readOnlyHint") is True,
            timeout_s=self.timeout_s,
        )

    async def _call(self, remote: str, arguments: dict[str, Any]) -> dict[str, Any]:
        session = self._session
        if session is None:
            why = f" ({self._ended})" if self._ended else ""
            raise McpServerError(f"{self.server} is not connected{why}")
        if asyncio.get_running_loop() is not self._loop:
            raise UsageError("an MCP tool is called on the event loop that started its toolset")
        try:
            result = await session.call_tool(remote, arguments)
        except Exception as exc:
            error = getattr(exc, "error", None)  # the SDK's MCPError / McpError: a JSON-RPC error
            code = getattr(error, "code", None)
            if error is not None and code != _CONNECTION_CLOSED:
                raise McpToolError(remote, str(getattr(error, "message", exc))) from exc
            raise McpServerError(f"{self.server} failed during {remote!r}: {_reason(exc)}") from exc
        return _dump(result)


async def _list_tools(session: Any) -> list[dict[str, Any]]:
    """Every page of ``tools/list`` as protocol JSON."""
    from mcp import types

    listed: list[dict[str, Any]] = []
    page = await session.list_tools()
    for _ in range(_MAX_PAGES):
        listed.extend(_dump(t) for t in page.tools)
        cursor = _dump(page).get("nextCursor")
        if not cursor:
            break
        page = await session.list_tools(params=types.PaginatedRequestParams(cursor=cursor))
    return listed


def _warm_output_validation() -> None:
    """Import what the SDK validates structured results with, now rather than in a first call.

    The SDK imports ``jsonschema`` lazily, at the first call of a tool that declares an output
    schema; that import can take seconds, a latency best paid at start than inside a program.
    """
    with contextlib.suppress(ImportError):
        importlib.import_module("jsonschema.validators")


def _dump(model: Any) -> dict[str, Any]:
    """A protocol object as its JSON on the wire (camelCase keys in every SDK version)."""
    dumped: dict[str, Any] = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    return dumped


def _reason(exc: BaseException) -> str:
    """The innermost cause of an error, in one line (the first leaf of an exception group)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text != type(exc).__name__ else text
