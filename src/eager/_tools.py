"""Tools: host callables that the session's code calls (programmatic tool calling).

A :class:`Tool` lives in the host; the session holds a stub of the same name and signature
that calls it over the session's own channel (see ``backends/_interpreter.py``'s
``install_tools``). Arguments travel as JSON, results as JSON (or through the tool's
:class:`Codec`); nothing from the session is ever unpickled here. A tool says whether it only
reads (``read_only=True``: its statement runs as soon as it is complete, and a call whose
arguments are already final may start before it, see ``_speculate.py``) or acts (the default:
its statement seals, as other effects do).
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, overload

from ._errors import UsageError

__all__ = ["DEFAULT_TOOL_TIMEOUT_S", "Codec", "Tool", "as_tools", "tool"]

#: How long a tool call may take unless the tool says otherwise (s).
DEFAULT_TOOL_TIMEOUT_S = 60.0


@dataclass(frozen=True, slots=True)
class Codec:
    """How a tool's result travels when it is no JSON value.

    ``encode`` turns the host's result into a JSON value; ``decode`` is the Python source of
    an expression, evaluated in the session, that turns that JSON value back into the value
    (``"lambda v: __import__('pandas').DataFrame(v)"``). Each call decodes a fresh copy.
    """

    encode: Callable[[Any], Any]
    decode: str


class Tool:
    """A host callable that code in the session may call (sync or async).

    ``name`` (default: the function's), ``description`` (default: its docstring) and
    ``signature`` (default: its own) are what the session's stub and the model see.
    ``read_only``: the tool only reads (a search, a lookup); False (the default) means it acts
    (sends, writes, pays), and a statement calling it runs only once the program is complete.
    ``timeout_s`` bounds one call (None: no bound). Calling a :class:`Tool` in the host calls
    the function.
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        read_only: bool = False,
        description: str | None = None,
        timeout_s: float | None = DEFAULT_TOOL_TIMEOUT_S,
        codec: Codec | None = None,
        signature: inspect.Signature | None = None,
    ) -> None:
        if not callable(fn):
            raise UsageError(f"a tool needs a callable, not {type(fn).__name__}")
        self.fn = fn
        self.name: str = name or str(getattr(fn, "__name__", ""))
        if not self.name.isidentifier() or self.name.startswith("_"):
            raise UsageError(f"a tool's name must be a public identifier, not {self.name!r}")
        if timeout_s is not None and not timeout_s > 0:
            raise UsageError(f"timeout_s must be positive or None, not {timeout_s!r}")
        self.read_only = bool(read_only)
        self.description = inspect.cleandoc(description or inspect.getdoc(fn) or "")
        self.timeout_s = timeout_s
        self.codec = codec
        self.signature = signature or _signature_of(fn)
        self._is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
            getattr(fn, "__call__", None)  # noqa: B004 (an object with an async __call__)
        )

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        kind = "read-only" if self.read_only else "acting"
        return f"Tool({self.name}{self.signature}, {kind})"

    async def call(self, args: list[Any], kwargs: dict[str, Any]) -> Any:
        """Run the tool with JSON arguments from the session; its JSON result (encoded).

        Raises what the tool raises, TypeError for arguments that do not fit its signature,
        TimeoutError past ``timeout_s``. A sync function runs in a worker thread, so the
        event loop (and generation) goes on meanwhile.
        """
        self.signature.bind(*args, **kwargs)  # TypeError, as a Python call would raise
        async with asyncio.timeout(self.timeout_s):  # no task per call (cheaper than wait_for)
            if self._is_async:
                value = await self.fn(*args, **kwargs)
            else:
                value = await asyncio.to_thread(self.fn, *args, **kwargs)
            if inspect.isawaitable(value):  # a sync function returning an awaitable
                value = await value
        if self.codec is not None:
            value = self.codec.encode(value)
        json.dumps(value)  # TypeError: not a JSON value (say what the codec must be)
        return value

    def spec(self) -> dict[str, Any]:
        """What the session needs to make the stub: name, parameters, doc, decoder."""
        params = []
        for p in self.signature.parameters.values():
            entry: dict[str, Any] = {"name": p.name, "kind": int(p.kind)}
            if p.default is not inspect.Parameter.empty:
                try:
                    json.dumps(p.default)
                    entry["default"] = p.default
                except (TypeError, ValueError):
                    entry["default_repr"] = repr(p.default)
            params.append(entry)
        return {
            "name": self.name,
            "params": params,
            "doc": self.description,
            "read_only": self.read_only,
            "decode": self.codec.decode if self.codec is not None else None,
        }

    def python_signature(self) -> str:
        """The tool as the model should see it: ``def name(args) -> ret:`` and its doc."""
        doc = self.description.replace('"""', r"\"\"\"")
        head = f"def {self.name}{self.signature}:"
        kind = (
            "read-only" if self.read_only else "acts on the world: runs once the code is complete"
        )
        body = f'    """{doc}\n\n    ({kind})\n    """' if doc else f'    """({kind})"""'
        return f"{head}\n{body}"


def _signature_of(fn: Callable[..., Any]) -> inspect.Signature:
    try:
        return inspect.signature(fn, eval_str=True)  # `from __future__ import annotations`
    except (NameError, SyntaxError, TypeError):
        pass
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError):
        return inspect.Signature(
            [
                inspect.Parameter("args", inspect.Parameter.VAR_POSITIONAL),
                inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD),
            ]
        )


@overload
def tool(fn: Callable[..., Any], /) -> Tool: ...


@overload
def tool(
    *,
    read_only: bool = False,
    name: str | None = None,
    timeout_s: float | None = DEFAULT_TOOL_TIMEOUT_S,
    codec: Codec | None = None,
) -> Callable[[Callable[..., Any]], Tool]: ...


def tool(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    read_only: bool = False,
    name: str | None = None,
    timeout_s: float | None = DEFAULT_TOOL_TIMEOUT_S,
    codec: Codec | None = None,
) -> Tool | Callable[[Callable[..., Any]], Tool]:
    """Make a :class:`Tool` of a function: ``@tool`` or ``@tool(read_only=True)``."""

    def make(f: Callable[..., Any]) -> Tool:
        return Tool(f, name=name, read_only=read_only, timeout_s=timeout_s, codec=codec)

    return make(fn) if fn is not None else make


def as_tools(items: Iterable[Tool | Callable[..., Any]] | None) -> tuple[Tool, ...]:
    """Tools from tools or plain callables (a plain callable acts); names must be unique."""
    tools = tuple(t if isinstance(t, Tool) else Tool(t) for t in (items or ()))
    names = [t.name for t in tools]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise UsageError(f"two tools share a name: {', '.join(twice)}")
    return tools
