"""One output pipe of the REPL child, cut into per-invocation segments at a sentinel, capped."""

from __future__ import annotations

import asyncio
import collections

from .._report import Captured, OutputCap

# OutputStream is internal to the REPL backend (not exported by the package).
__all__ = ["OutputStream"]


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
        self._current = OutputCap(cap_bytes)
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
            self._current.add(memoryview(buf)[start:found])
            self._done.append(self._current.freeze())
            self._current = OutputCap(self._cap)
            start = found + len(sentinel)
        # Only the last occurrence of the first byte can start a sentinel (it occurs once in it).
        tail = buf.rfind(sentinel[:1], max(start, len(buf) - len(sentinel) + 1))
        if tail >= 0 and sentinel.startswith(buf[tail:]):
            self._current.add(memoryview(buf)[start:tail])
            self._pending = buf[tail:]
        else:
            self._current.add(memoryview(buf)[start:])
            self._pending = b""
        self._changed.set()

    def feed_eof(self) -> None:
        """The pipe closed: what is pending belongs to the current segment."""
        if self._pending:
            self._current.add(self._pending)
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
            current.add(self._pending)
            self._pending = b""
        self._current = OutputCap(self._cap)
        if not parts:
            return current.freeze()
        merged = OutputCap(self._cap)
        for part in (*parts, current.freeze()):
            merged.add_captured(part)
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
                async with asyncio.timeout(remaining):
                    await self._changed.wait()
            except TimeoutError:
                return None

    async def wait_eof(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for the end of the pipe; whether it came."""

        async def eof() -> None:
            while not self.eof:
                self._changed.clear()
                await self._changed.wait()

        try:
            async with asyncio.timeout(timeout_s):
                await eof()
        except TimeoutError:
            return False
        return True
