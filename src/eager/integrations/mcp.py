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

The schema and result mappings are pure functions (:func:`signature_from_schema`,
:func:`tool_names`, :func:`result_value`) working on the protocol's JSON, so they do not depend
on the SDK's version.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import functools
import importlib
import inspect
import keyword
import operator
import re
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .._errors import McpServerError, MissingExtraError, UsageError
from .._tools import DEFAULT_TOOL_TIMEOUT_S, Tool
from ..backends._base import CLOSE_TIMEOUT_S, AsyncResource

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
#: Depth bound on following ``$ref`` in a schema (a recursive model stops at ``dict``).
_MAX_REF_DEPTH = 8

_JSON_TYPES: dict[str, Any] = {
    "string": str,
    "integer": int,
    "number": float,
    "boolean": bool,
    "null": None,
    "object": dict,
    "array": list,
}
_EMPTY = inspect.Parameter.empty
_POSITIONAL = inspect.Parameter.POSITIONAL_OR_KEYWORD


def _mcp() -> Any:
    try:
        import mcp
    except ImportError as exc:
        raise MissingExtraError("mcp", "mcp") from exc
    return mcp


class McpToolError(Exception):
    """An MCP tool's call failed; the message is the server's (``tool``: the server's name)."""

    def __init__(self, tool: str, message: str) -> None:
        super().__init__(message)
        self.tool = tool
        self.message = message


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
        wrapped = _is_wrapped(output)

        async def call(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(*args, **kwargs)  # defaults stay the server's to apply
            arguments = {wire[k]: v for k, v in bound.arguments.items()}
            return result_value(remote, await self._call(remote, arguments), wrapped=wrapped)

        call.__name__ = call.__qualname__ = name
        annotations = spec.get("annotations") or {}
        return Tool(
            call,
            name=name,
            description=_description(spec, wire),
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


# --- pure mappings -----------------------------------------------------------------------------


def tool_names(names: Iterable[str]) -> list[str]:
    """Python names for tools, in order: public identifiers, unique, no keyword or builtin.

    ``"get-weather"`` becomes ``get_weather``, ``"2fa"`` ``tool_2fa``, ``"list"`` ``list_``;
    names that are already fit keep them before a sanitised one may, and a collision gets
    ``_2``, ``_3``, ...
    """
    names = list(names)
    wanted = [_identifier(n, public=True) for n in names]
    fit = [w == n for w, n in zip(wanted, names, strict=True)]
    out: list[str | None] = [None] * len(names)
    taken: set[str] = set()
    for first in (True, False):  # names already fit go first, so they stay as the server has them
        for i, w in enumerate(wanted):
            if fit[i] == first:
                out[i] = _unique(w, taken)
    return [n for n in out if n is not None]


def signature_from_schema(
    schema: Mapping[str, Any],
    *,
    output_schema: Mapping[str, Any] | None = None,
) -> tuple[inspect.Signature, dict[str, str]]:
    """A Python signature for a tool's JSON ``inputSchema``, and its parameters' wire names.

    Properties keep the schema's order. A required one has no default; an optional one has its
    schema ``default``, else None (an argument not passed is not sent, so the server applies
    its own default). A required property after an optional one, and every one after it,
    is keyword-only, which keeps the order valid. Names are made identifiers (``from`` ->
    ``from_``); the dict maps each parameter name to the property it sends. Annotations come
    from the JSON types; the return annotation from ``output_schema`` (unwrapped as
    :func:`result_value` unwraps it).
    """
    props = schema.get("properties") or {}
    required = set(schema.get("required") or ())
    keys = [str(k) for k in props]
    wire: dict[str, str] = {}
    params: list[inspect.Parameter] = []
    taken: set[str] = set()
    keyword_only = seen_optional = False
    for key in keys:
        prop = props[key] if isinstance(props[key], Mapping) else {}
        name = _unique(_identifier(key, public=False), taken)
        wire[name] = key
        if key in required:
            default: Any = _EMPTY
            keyword_only = keyword_only or seen_optional
        else:
            default = prop.get("default")
            seen_optional = True
        params.append(
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY if keyword_only else _POSITIONAL,
                default=default,
                annotation=_annotation(prop, schema),
            )
        )
    returns: Any = _EMPTY
    if output_schema:
        inner = output_schema
        if _is_wrapped(output_schema):
            inner = output_schema["properties"]["result"]
        returns = _annotation(inner, output_schema)
    return inspect.Signature(params, return_annotation=returns), wire


def result_value(tool: str, result: Mapping[str, Any], *, wrapped: bool = False) -> Any:
    """The JSON value of a ``tools/call`` result (protocol JSON), or :class:`McpToolError`.

    ``structuredContent`` when present (``wrapped``: the SDK's ``{"result": value}`` for a
    tool returning no object, unwrapped); else the content: a text item is its string, an
    image or audio item ``{"type", "mimeType", "data"}``, any other item its JSON; one item is
    the value, several a list, none None.
    """
    content = [_content_value(item) for item in result.get("content") or ()]
    if result.get("isError"):
        texts = [c for c in content if isinstance(c, str)]
        raise McpToolError(tool, "\n".join(texts) or f"the MCP tool {tool!r} failed")
    structured = result.get("structuredContent")
    if structured is not None:
        if wrapped and isinstance(structured, dict) and set(structured) == {"result"}:
            return structured["result"]
        return structured
    if not content:
        return None
    return content[0] if len(content) == 1 else content


def _content_value(item: Mapping[str, Any]) -> Any:
    kind = item.get("type")
    if kind == "text":
        return item.get("text", "")
    if "data" in item:
        return {"type": kind, "mimeType": item.get("mimeType"), "data": item["data"]}
    return dict(item)


def _is_wrapped(output_schema: Mapping[str, Any] | None) -> bool:
    """Whether a tool's output is the SDK's wrapper ``{"result": value}`` (its exact shape).

    The SDK's servers wrap a return value that is no object in a model titled
    ``<function>Output`` with the one required property ``result``.
    """
    if not output_schema:
        return False
    props = output_schema.get("properties") or {}
    return (
        set(props) == {"result"}
        and list(output_schema.get("required") or ()) == ["result"]
        and str(output_schema.get("title", "")).endswith("Output")
    )


def _description(spec: Mapping[str, Any], wire: Mapping[str, str]) -> str:
    """The tool's description, then its parameters' descriptions (Google style ``Args:``)."""
    text = str(spec.get("description") or spec.get("title") or "").strip()
    props = (spec.get("inputSchema") or {}).get("properties") or {}
    args = []
    for name, key in wire.items():
        prop = props.get(key)
        about = prop.get("description") if isinstance(prop, Mapping) else None
        if about:
            args.append(f"    {name}: {' '.join(str(about).split())}")
    if args:
        text = "\n\n".join(p for p in (text, "Args:\n" + "\n".join(args)) if p)
    return text


def _identifier(name: str, *, public: bool) -> str:
    """``name`` made a valid (``public``: not starting with ``_``, no builtin) identifier."""
    ident = re.sub(r"\W", "_", name, flags=re.ASCII)
    if public:
        ident = ident.lstrip("_")
    if not ident:
        ident = "tool" if public else "arg"
    if ident[0].isdigit():
        ident = ("tool_" if public else "arg_") + ident
    if keyword.iskeyword(ident) or (public and hasattr(builtins, ident)):
        ident += "_"
    return ident


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name}_{n}"
    taken.add(candidate)
    return candidate


def _annotation(schema: Any, root: Mapping[str, Any], depth: int = 0) -> Any:
    """A Python annotation for a JSON schema (``list[str]``, ``int | None``); empty if unknown."""
    if not isinstance(schema, Mapping) or depth > _MAX_REF_DEPTH:
        return _EMPTY
    ref = schema.get("$ref")
    if isinstance(ref, str):
        target = _resolve(ref, root)
        return dict if target is None else _annotation(target, root, depth + 1)
    if "enum" in schema and isinstance(schema["enum"], list) and schema["enum"]:
        values = tuple(v for v in schema["enum"] if isinstance(v, str | int | bool) or v is None)
        if len(values) == len(schema["enum"]):
            return Literal[values]
    kind = schema.get("type")
    if isinstance(kind, list):
        return _union([_annotation({**schema, "type": k}, root, depth) for k in kind])
    if kind == "array":
        item = _annotation(schema.get("items"), root, depth + 1)
        return list if item is _EMPTY else list[item]  # type: ignore[valid-type]
    if kind == "object":
        extra = _annotation(schema.get("additionalProperties"), root, depth + 1)
        return dict if extra is _EMPTY or schema.get("properties") else dict[str, extra]  # type: ignore[valid-type]
    if isinstance(kind, str) and kind in _JSON_TYPES:
        return _JSON_TYPES[kind]
    for key in ("anyOf", "oneOf"):
        members = schema.get(key)
        if isinstance(members, list) and members:
            return _union([_annotation(m, root, depth + 1) for m in members])
    return _EMPTY


def _union(members: list[Any]) -> Any:
    if not members or any(m is _EMPTY for m in members):
        return _EMPTY
    unique: list[Any] = []
    for m in members:
        if m not in unique:
            unique.append(m)
    try:
        return functools.reduce(operator.or_, unique)
    except TypeError:  # a member | cannot combine (None alone, say)
        return unique[0] if len(unique) == 1 else _EMPTY


def _resolve(ref: str, root: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """A local ``#/$defs/Name`` reference's schema, else None."""
    if not ref.startswith("#/"):
        return None
    node: Any = root
    for part in ref[2:].split("/"):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node if isinstance(node, Mapping) else None
