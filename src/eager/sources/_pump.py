"""A source whose deltas come from a background producer: one task owns the connection.

The producer (an HTTP stream, an SDK stream) runs in its own task and hands deltas over through
a queue; :meth:`PumpSource.aclose` cancels that task, so the connection is always closed by the
task that uses it, whichever task asked for the cancellation. Also the choice of which part of
a chat-completion stream is the text of the source (content, or the arguments of one tool call).
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import AsyncIterator

from .._errors import ExtractionError, UsageError
from .._extract import Format
from ._base import Source
from ._sse import ChatDelta, Usage

# PumpSource and DeltaSelector are internal bases of the OpenAI sources (not exported).
__all__ = ["CLOSE_TIMEOUT_S"]

#: Longest wait for a producer to close its connection after a cancellation.
CLOSE_TIMEOUT_S = 5.0

_END = object()


class DeltaSelector:
    """Picks the text of a source out of chat-completion deltas.

    ``format="tool"``: the arguments of the first tool call named ``tool_name`` (any name when
    None), other calls ignored; otherwise the content. Also keeps the content (prose, for
    display), the finish reason and the usage.
    """

    def __init__(self, *, format: Format, tool_name: str | None) -> None:
        self.format = format
        self.tool_name = tool_name
        self.content: list[str] = []
        self.finish_reason: str | None = None
        self.usage: Usage | None = None
        self.tool_names: dict[int, str] = {}
        self._tool_index: int | None = None

    def take(self, delta: ChatDelta) -> str:
        """The text this delta adds to the source (maybe empty)."""
        if delta.usage is not None:
            self.usage = delta.usage
        if delta.finish_reason is not None:
            self.finish_reason = delta.finish_reason
        if delta.content:
            self.content.append(delta.content)
        if self.format != "tool":
            return delta.content
        out = []
        for call in delta.tool_calls:
            if call.name is not None and call.index not in self.tool_names:
                self.tool_names[call.index] = call.name
                if self._tool_index is None and (
                    self.tool_name is None or call.name == self.tool_name
                ):
                    self._tool_index = call.index
            if call.index == self._tool_index and call.arguments:
                out.append(call.arguments)
        return "".join(out)

    def check_end(self) -> None:
        """At the end of a tool-format stream: the tool must have been called."""
        if self.format == "tool" and self._tool_index is None:
            called = ", ".join(sorted(set(self.tool_names.values()))) or "no tool"
            said = "".join(self.content).strip()
            raise ExtractionError(
                f"the model did not call the tool {self.tool_name or '(any)'!r} (it called "
                f"{called}){'; it said: ' + said[:300] if said else ''}"
            )


class PumpSource(Source):
    """Base of sources fed by a producer task; subclasses implement :meth:`_pump`.

    Subclasses read chat-completion chunks through ``self._selector`` and call
    :meth:`_finish` when the stream ended.
    """

    _selector: DeltaSelector

    @property
    def content(self) -> str:
        """The content (prose) received so far, also in ``format="tool"``."""
        return "".join(self._selector.content)

    def _finish(self) -> None:
        """Token counts from the usage chunk when there was one; check the stream's end."""
        usage = self._selector.usage
        if usage is not None and usage.completion_tokens is not None:
            self.tokens_generated = usage.completion_tokens
            self.tokens_total = usage.completion_tokens
        elif self.tokens_total is None:
            self.tokens_total = self.tokens_generated
        self._selector.check_end()

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
