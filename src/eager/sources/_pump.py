"""A source whose deltas come from a background producer: one task owns the connection.

The producer (an HTTP stream, an SDK stream) runs in its own task and hands deltas over through
a queue; :meth:`PumpSource.aclose` cancels that task, so the connection is always closed by the
task that uses it, whichever task asked for the cancellation.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import AsyncIterator
from typing import Any

from .._errors import StreamError, UsageError
from ._base import Source, Turn
from ._delta import Delta, DeltaSelector

# PumpSource is the internal base of the protocol and adapter sources (not exported).
__all__ = ["CLOSE_TIMEOUT_S", "bounded"]

#: Longest wait for a producer to close its connection after a cancellation.
CLOSE_TIMEOUT_S = 5.0

_END = object()


class PumpSource(Source):
    """Base of sources fed by a producer task; subclasses implement :meth:`_pump`.

    Protocol sources read protocol-neutral deltas through ``self._selector`` and call
    :meth:`_finish` when the stream ended.
    """

    _selector: DeltaSelector | None = None

    @property
    def content(self) -> str:
        """The content (prose) received so far, also in ``format="tool"``."""
        return "".join(self._selector.content) if self._selector is not None else ""

    @property
    def finish_reason(self) -> str | None:
        """The stop reason the server gave (as the protocol names it), None before the end."""
        return self._selector.finish_reason if self._selector is not None else None

    @property
    def turn(self) -> Turn | None:
        """What the model said so far: text, tool calls, stop reason, usage (also partial)."""
        return self._selector.turn() if self._selector is not None else None

    def _finish(self) -> None:
        """Token counts from the usage when there was one; check the stream's end."""
        selector = self._selector
        usage = selector.usage if selector is not None else None
        if usage is not None and usage.output_tokens is not None:
            self.tokens_generated = usage.output_tokens
            self.tokens_total = usage.output_tokens
        elif self.tokens_total is None:
            self.tokens_total = self.tokens_generated
        if selector is not None:
            selector.check_end()

    def __init__(self) -> None:
        super().__init__()
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._iterated = False

    @abc.abstractmethod
    async def _pump(self) -> None:
        """Produce the stream with :meth:`_emit` until it ends; raise an EagerError on failure.

        Runs in its own task and is cancelled by :meth:`aclose`: close connections in
        ``finally``.
        """

    def _emit(self, text: str) -> None:
        self.tokens_generated += 1
        self._queue.put_nowait(text)

    def _accept(self, selector: DeltaSelector, delta: Delta) -> str:
        """Take one protocol delta: emit its text and return it; a reported error is a
        StreamError (the selector keeps what came before)."""
        text = selector.take(delta)
        if delta.error is not None:
            raise StreamError(
                f"the server reported an error in the stream after {self.tokens_generated} "
                f"tokens: {delta.error}"
            )
        if text:
            self._emit(text)
        return text

    async def stream(self) -> AsyncIterator[str]:
        if self._iterated:
            raise UsageError("a source can be iterated only once")
        self._iterated = True
        if self.cancelled:
            return
        self._task = asyncio.create_task(self._run(), name=f"eager-{type(self).__name__}")
        try:
            while True:
                item = await self._queue.get()
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                assert isinstance(item, str)
                yield item
        finally:
            await self._stop()

    async def _run(self) -> None:
        try:
            await self._pump()
        except asyncio.CancelledError:
            self._queue.put_nowait(_END)
            raise
        except Exception as exc:
            self._queue.put_nowait(_END if self.cancelled else exc)
        else:
            self._queue.put_nowait(_END)

    async def aclose(self) -> None:
        """Stop generation: cancel the producer, which closes its connection (bounded wait)."""
        self.cancelled = True
        await self._stop()
        self._queue.put_nowait(_END)

    async def _stop(self) -> None:
        task = self._task
        if task is None or task.done():
            return
        task.cancel()
        await asyncio.wait({task}, timeout=CLOSE_TIMEOUT_S)


async def bounded(aw: Any) -> None:
    """Await a clean-up coroutine, at most :data:`CLOSE_TIMEOUT_S`; its errors do not matter."""
    try:
        async with asyncio.timeout(CLOSE_TIMEOUT_S):
            await aw
    except Exception:  # TimeoutError included
        pass
