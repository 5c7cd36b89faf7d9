"""The host's end of the tool channel: runs the session's tool calls, and speculative ones.

A backend hands each call its session makes (``name``, JSON ``args`` and ``kwargs``) to
:meth:`ToolBridge.handle` and sends back what it returns (``{"value": ...}`` or ``{"error":
{"type", "message"}}``). :meth:`ToolBridge.speculate` starts a read-only call before its
statement is complete (the runtime found it, final, in the unfinished statement); the real
call with the same tool and equal arguments takes its result (a *hit*: a raised error is
raised again), each result at most once; a speculation never taken is a *miss*. Results are
JSON text, so every use decodes a fresh copy: speculation changes when a tool runs, never what
the program computes.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._tools import Tool, as_tools

__all__ = ["DEFAULT_MAX_SPECULATIVE", "ToolBridge", "ToolCallRecord", "ToolStats"]

#: Speculative calls running at once, per bridge (per run).
DEFAULT_MAX_SPECULATIVE = 4


@dataclass(frozen=True, slots=True)
class ToolCallRecord:
    """One call the session made: when (host monotonic seconds), how long, and how it went.

    ``speculated``: its result came from a speculative call (a hit); ``waited_s`` is how long
    the session waited for it (less than ``duration_s`` of the tool when speculation hid it).
    """

    name: str
    started: float
    waited_s: float
    ok: bool
    speculated: bool


@dataclass(slots=True)
class ToolStats:
    """Counters of one bridge: calls, and speculative calls started, taken and wasted."""

    calls: int = 0
    tool_s: float = 0.0
    spec_started: int = 0
    spec_hits: int = 0
    spec_misses: int = 0
    #: Seconds of tool time that ran before the session asked for it (hits only).
    spec_hidden_s: float = 0.0


@dataclass(slots=True)
class _Speculation:
    task: asyncio.Task[dict[str, Any]]
    started: float
    finished: float | None = None
    taken: bool = False


@dataclass
class ToolBridge:
    """Runs the tool calls of one session (see the module doc).

    ``tools``: :class:`~eager.Tool` s or plain callables (a plain callable acts).
    ``max_speculative`` bounds the speculative calls running at once. ``on_record`` receives
    every finished call (the runtime turns them into events).
    """

    tools: Sequence[Tool | Callable[..., Any]] = ()
    max_speculative: int = DEFAULT_MAX_SPECULATIVE
    on_record: Callable[[ToolCallRecord], None] | None = None
    #: Called when a speculative call finished (new values to build on).
    on_result: Callable[[], None] | None = None
    stats: ToolStats = field(default_factory=ToolStats)

    def __post_init__(self) -> None:
        self.by_name: dict[str, Tool] = {t.name: t for t in as_tools(self.tools)}
        self._speculations: dict[str, _Speculation] = {}
        self._running = 0
        #: JSON results seen, by call (tools without a codec): what speculation may build on.
        self._values: dict[str, Any] = {}

    @property
    def specs(self) -> list[dict[str, Any]]:
        """What the session needs to make its stubs."""
        return [t.spec() for t in self.by_name.values()]

    @functools.cached_property
    def specs_key(self) -> str:
        """The specs as one string (computed once): a session holding stubs of these specs
        needs no new ones."""
        return json.dumps(self.specs, sort_keys=True)

    def names(self, *, read_only: bool) -> list[str]:
        """The names of the read-only (or the acting) tools."""
        return [n for n, t in self.by_name.items() if t.read_only == read_only]

    def key(self, name: str, args: Iterable[Any], kwargs: dict[str, Any]) -> str | None:
        """The identity of a call: the tool and its bound arguments as JSON (None: unfit)."""
        tool = self.by_name.get(name)
        if tool is None:
            return None
        try:
            bound = tool.signature.bind(*args, **kwargs)
            return json.dumps([name, list(bound.args), bound.kwargs], sort_keys=True)
        except (TypeError, ValueError):
            return None

    async def handle(self, name: str, args: list[Any], kwargs: dict[str, Any]) -> dict[str, Any]:
        """The session called tool ``name``: its reply (a value or an error), never raising."""
        started = time.monotonic()
        key = self.key(name, args, kwargs)
        spec = self._speculations.get(key) if key is not None else None
        if spec is not None and not spec.taken:
            spec.taken = True
            reply = await asyncio.shield(spec.task)
            done = spec.finished if spec.finished is not None else time.monotonic()
            self.stats.spec_hits += 1
            self.stats.spec_hidden_s += max(0.0, min(done, started) - spec.started)
            self._record(name, started, "error" not in reply, speculated=True)
            return reply
        reply = await self._call(name, args, kwargs)
        if key is not None and "value" in reply and self.by_name[name].codec is None:
            self._values[key] = reply["value"]
        self._record(name, started, "error" not in reply, speculated=False)
        return reply

    def result_of(self, name: str, args: Iterable[Any], kwargs: dict[str, Any]) -> tuple[bool, Any]:
        """``(True, value)`` when a finished call (real or speculative) of ``name`` with these
        arguments returned a JSON value, else ``(False, None)``."""
        key = self.key(name, args, kwargs)
        if key is None:
            return False, None
        if key in self._values:
            return True, self._values[key]
        spec = self._speculations.get(key)
        if spec is None or not spec.task.done() or spec.task.cancelled():
            return False, None
        reply = spec.task.result()
        tool = self.by_name.get(name)
        if "value" in reply and tool is not None and tool.codec is None:
            return True, reply["value"]
        return False, None

    def speculate(self, name: str, args: list[Any], kwargs: dict[str, Any]) -> bool:
        """Start a read-only call whose arguments are final; False when it is not started
        (not a read-only tool, unfit arguments, already started, or too many running)."""
        tool = self.by_name.get(name)
        if tool is None or not tool.read_only:
            return False
        key = self.key(name, args, kwargs)
        if key is None or key in self._speculations:
            return False
        if self._running >= self.max_speculative:
            return False
        self._running += 1
        spec = _Speculation(
            asyncio.create_task(self._call(name, list(args), dict(kwargs))), time.monotonic()
        )

        def done(_: object) -> None:
            spec.finished = time.monotonic()
            self._running -= 1
            if self.on_result is not None:
                self.on_result()

        spec.task.add_done_callback(done)
        self._speculations[key] = spec
        self.stats.spec_started += 1
        return True

    def handle_blocking(self, name: str, args: list[Any], kwargs: dict[str, Any]) -> dict[str, Any]:
        """:meth:`handle` for a session running in this process's event loop thread (the fake
        backend): the tool runs in a worker thread with an event loop of its own; no
        speculative result is used."""
        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            reply = pool.submit(asyncio.run, self._call(name, args, kwargs)).result()
        self._record(name, started, "error" not in reply, speculated=False)
        return reply

    async def aclose(self) -> None:
        """End of the run: cancel speculative calls never taken and count them as misses."""
        for spec in self._speculations.values():
            if not spec.taken:
                self.stats.spec_misses += 1
                spec.task.cancel()
        pending = [s.task for s in self._speculations.values()]
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        self._speculations.clear()

    async def _call(self, name: str, args: list[Any], kwargs: dict[str, Any]) -> dict[str, Any]:
        tool = self.by_name.get(name)
        if tool is None:
            return {"error": {"type": "NameError", "message": f"no tool named {name!r}"}}
        started = time.monotonic()
        try:
            value = await tool.call(args, kwargs)
        except asyncio.CancelledError:
            raise
        except TimeoutError:
            message = f"the tool {name} did not answer within {tool.timeout_s:g} s"
            return {"error": {"type": "TimeoutError", "message": message}}
        except Exception as exc:
            return {"error": {"type": type(exc).__name__, "message": str(exc)}}
        finally:
            self.stats.tool_s += time.monotonic() - started
        return {"value": value}

    def _record(self, name: str, started: float, ok: bool, *, speculated: bool) -> None:
        self.stats.calls += 1
        record = ToolCallRecord(name, started, time.monotonic() - started, ok, speculated)
        if self.on_record is not None:
            self.on_record(record)
