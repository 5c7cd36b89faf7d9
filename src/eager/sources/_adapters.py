"""Adapters for streams Eager does not read itself: a push source and an iterator source.

Frameworks and RL rollout loops that receive tokens from their own engine hand them over
with these; cancellation (the run hit an error and wants generation to stop) is reported back.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable

from .._errors import EagerError, StreamError, UsageError
from .._extract import Format
from ._base import Source
from ._pump import PumpSource, bounded

__all__ = ["IteratorSource", "PushSource"]

#: A cancel callback: plain or async, called once when the consumer cancels generation.
CancelCallback = Callable[[], Awaitable[None] | None]

_END = object()


class PushSource(Source):
    """A source the caller pushes deltas into: :meth:`feed`, then :meth:`end` or :meth:`fail`.

    When the consumer (``eager.run``) cancels generation, for example because a chunk failed,
    :attr:`cancel_requested` is set, ``on_cancel`` is called once, and :meth:`feed` returns
    False from then on: stop your engine. :attr:`drained` is set whenever the consumer waits
    for a delta and none is queued (everything fed so far has been read). Use it from the
    event loop's thread (from another thread: ``loop.call_soon_threadsafe(source.feed, d)``)::

        source = PushSource(format="code", on_cancel=engine.abort)
        run_task = asyncio.create_task(eager.run(source, backend))
        async for token in engine.generate(prompt):
            if not source.feed(token):
                break  # the run stopped generation
        source.end()
        result = await run_task
    """

    def __init__(
        self,
        *,
        format: Format = "auto",
        tool_argument: str = "code",
        total: int | None = None,
        on_cancel: CancelCallback | None = None,
    ) -> None:
        """``total``: the answer's length in tokens, when known (for progress)."""
        super().__init__()
        self.format = format
        self.tool_argument = tool_argument
        self.tokens_total = total
        self.on_cancel = on_cancel
        #: Set once the consumer cancelled generation.
        self.cancel_requested = asyncio.Event()
        #: Set while the consumer waits for a delta and none is queued.
        self.drained = asyncio.Event()
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._closed = False
        self._iterated = False

    def feed(self, *deltas: str) -> bool:
        """Queue deltas (in order); False when generation was cancelled (they are dropped)."""
        if self._closed:
            raise UsageError("feed() after end() or fail()")
        if self.cancelled:
            return False
        for delta in deltas:
            if not isinstance(delta, str):
                raise UsageError(f"a delta must be a str, not {type(delta).__name__}")
        self.drained.clear()
        for delta in deltas:
            self._queue.put_nowait(delta)
        return True

    def end(self) -> None:
        """The stream ended normally (idempotent)."""
        if not self._closed:
            self._closed = True
            self.drained.clear()
            self._queue.put_nowait(_END)

    def fail(self, exc: BaseException) -> None:
        """The stream broke: the consumer gets ``exc`` (a :class:`~eager.SourceError`, ideally)."""
        if not self._closed:
            self._closed = True
            self.drained.clear()
            self._queue.put_nowait(exc)

    async def stream(self) -> AsyncIterator[str]:
        if self._iterated:
            raise UsageError("a source can be iterated only once")
        self._iterated = True
        while not self.cancelled:
            if self._queue.empty():
                self.drained.set()
            item = await self._queue.get()
            if item is _END or self.cancelled:
                return
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, str)
            self.tokens_generated += 1
            yield item

    async def aclose(self) -> None:
        """Cancel generation: set :attr:`cancel_requested`, call ``on_cancel`` once."""
        if self.cancelled:
            return
        self.cancelled = True
        self.cancel_requested.set()
        self._queue.put_nowait(_END)  # wakes a consumer waiting for a delta
        await _call(self.on_cancel)


class IteratorSource(PumpSource):
    """A source over any async iterable of text deltas, with an optional cancel callback.

    The iterable is read in a producer task; :meth:`aclose` cancels that task (an async
    generator is closed, so its ``finally`` runs) and then calls ``on_cancel`` (plain or
    async) once, to stop the engine behind it. A foreign exception from the iterable becomes
    a :class:`~eager.StreamError` (cause chained) after the deltas before it::

        async def tokens():
            async for out in engine.generate(prompt):
                yield out.text

        result = await eager.run(IteratorSource(tokens(), on_cancel=engine.abort), backend)
    """

    def __init__(
        self,
        iterable: AsyncIterable[str],
        *,
        on_cancel: CancelCallback | None = None,
        format: Format = "auto",
        tool_argument: str = "code",
        total: int | None = None,
    ) -> None:
        super().__init__()
        if not hasattr(iterable, "__aiter__"):
            raise UsageError(
                f"expected an async iterable of str, got {type(iterable).__name__} "
                "(wrap a sync iterator in an async generator)"
            )
        self._iterable = iterable
        self.on_cancel = on_cancel
        self.format = format
        self.tool_argument = tool_argument
        self.tokens_total = total
        self._cancel_called = False

    async def _pump(self) -> None:
        iterator = aiter(self._iterable)
        try:
            async for delta in iterator:
                if not isinstance(delta, str):
                    raise StreamError(f"the iterator yielded a {type(delta).__name__}, not a str")
                if delta:
                    self._emit(delta)
        except EagerError:
            raise
        except Exception as exc:
            raise StreamError(
                f"the iterator failed after {self.tokens_generated} deltas: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        finally:
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                await asyncio.shield(bounded(aclose()))
        if self.tokens_total is None:
            self.tokens_total = self.tokens_generated

    async def aclose(self) -> None:
        """Stop generation: close the iterator, then call ``on_cancel`` once."""
        await super().aclose()
        if not self._cancel_called:
            self._cancel_called = True
            await _call(self.on_cancel)


async def _call(callback: CancelCallback | None) -> None:
    if callback is None:
        return
    result = callback()
    if inspect.isawaitable(result):
        await result
