"""One output pipe of the REPL child, cut into per-invocation segments at a sentinel, capped."""

from __future__ import annotations

import asyncio
import collections
from dataclasses import dataclass

from ..._result import ExecError

# Captured and OutputStream are internal to the REPL backend (not exported by the package).
__all__ = ["MAX_OUTPUT_BYTES", "TRUNCATION_MARKER", "clean_text", "error_from_report"]

#: Appended to a stream whose output went over the cap (``kept`` and ``dropped`` are bytes).
TRUNCATION_MARKER = (
    "\n[eager: output truncated after {kept} bytes; {dropped} more bytes discarded]\n"
)

#: Default cap of each output stream per invocation, for every backend.
MAX_OUTPUT_BYTES = 1_000_000

_READ_SIZE = 1 << 16


def clean_text(text: str) -> str:
    """Lone surrogates (from a JSON transport, say) become visible escapes, never errors."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def error_from_report(raw: dict[str, object]) -> ExecError:
    """The :class:`ExecError` of the worker's error report (``Interpreter`` in the worker)."""
    lineno = raw.get("lineno")
    statement = raw.get("statement_line")
    kind = raw.get("kind")
    return ExecError(
        clean_text(str(raw.get("ename", "Error"))),
        clean_text(str(raw.get("evalue", ""))),
        clean_text(str(raw.get("traceback", ""))),
        lineno if isinstance(lineno, int) else None,
        kind="syntax" if kind == "syntax" else "runtime",
        statement_line=statement if isinstance(statement, int) else None,
    )


@dataclass(frozen=True, slots=True)
class Captured:
    """What one stream received during one invocation: the kept bytes and the total count."""

    data: bytes
    total: int

    @property
    def truncated(self) -> bool:
        """True when bytes were discarded over the cap."""
        return self.total > len(self.data)

    def text(self) -> str:
        """The output decoded as UTF-8 (bad bytes replaced), with the marker when truncated."""
        text = self.data.decode("utf-8", errors="replace")
        if self.truncated:
            kept = len(self.data)
            text += TRUNCATION_MARKER.format(kept=kept, dropped=self.total - kept)
        return text


class _Segment:
    __slots__ = ("data", "total")

    def __init__(self) -> None:
        self.data = bytearray()
        self.total = 0

    def add(self, data: bytes | bytearray | memoryview, cap: int | None) -> None:
        if cap is None:
            self.data += data
        elif len(self.data) < cap:
            self.data += data[: cap - len(self.data)]
        self.total += len(data)

    def freeze(self) -> Captured:
        return Captured(bytes(self.data), self.total)


class OutputStream:
    """Splits a byte stream at ``sentinel`` into segments of at most ``cap_bytes`` kept bytes.

    The child writes the sentinel after each invocation, so segment *n* is the output of
    invocation *n*. Over the cap, bytes are counted and discarded while reading goes on, so a
    flood never blocks the child. :meth:`feed` is synchronous and pure.
    """

    def __init__(self, sentinel: bytes, *, cap_bytes: int | None) -> None:
        if not sentinel or sentinel.count(sentinel[:1]) != 1:
            raise ValueError("the sentinel's first byte must occur once in it")
        self._sentinel = sentinel
        self._cap = cap_bytes
        self._pending = b""  # a tail that may be the start of a sentinel
        self._current = _Segment()
        self._done: collections.deque[Captured] = collections.deque()
        self._changed = asyncio.Event()
        self.eof = False

    def feed(self, data: bytes) -> None:
        """Add bytes read from the pipe."""
        buf = self._pending + data if self._pending else data
        sentinel = self._sentinel
        start = 0
        while True:
            found = buf.find(sentinel, start)
            if found < 0:
                break
            self._current.add(memoryview(buf)[start:found], self._cap)
            self._done.append(self._current.freeze())
            self._current = _Segment()
            start = found + len(sentinel)
        # Only the last occurrence of the first byte can start a sentinel (it occurs once in it).
        tail = buf.rfind(sentinel[:1], max(start, len(buf) - len(sentinel) + 1))
        if tail >= 0 and sentinel.startswith(buf[tail:]):
            self._current.add(memoryview(buf)[start:tail], self._cap)
            self._pending = buf[tail:]
        else:
            self._current.add(memoryview(buf)[start:], self._cap)
            self._pending = b""
        self._changed.set()

    def feed_eof(self) -> None:
        """The pipe closed: what is pending belongs to the current segment."""
        if self._pending:
            self._current.add(self._pending, self._cap)
            self._pending = b""
        self.eof = True
        self._changed.set()

    def pop(self) -> Captured | None:
        """The oldest complete segment, if any."""
        return self._done.popleft() if self._done else None

    def take_current(self) -> Captured:
        """Everything received that is not in a complete segment (after a crash, say)."""
        parts = list(self._done)
        self._done.clear()
        current = self._current
        if self._pending:  # a sentinel cut in two by a crash: it is output now
            current.add(self._pending, self._cap)
            self._pending = b""
        self._current = _Segment()
        if not parts:
            return current.freeze()
        merged = _Segment()
        for part in parts:
            merged.add(part.data, self._cap)
            merged.total += part.total - len(part.data)
        merged.add(current.data, self._cap)
        merged.total += current.total - len(current.data)
        return merged.freeze()

    async def next_segment(self, timeout_s: float) -> Captured | None:
        """Wait up to ``timeout_s`` for the next complete segment (None: none came, or EOF)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            segment = self.pop()
            if segment is not None or self.eof:
                return segment
            self._changed.clear()
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                return None

    async def wait_eof(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for the end of the pipe; whether it came."""

        async def eof() -> None:
            while not self.eof:
                self._changed.clear()
                await self._changed.wait()

        try:
            await asyncio.wait_for(eof(), timeout_s)
        except TimeoutError:
            return False
        return True
