"""A source over a chat-completion stream of the ``openai`` SDK (sync or async)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Any

import httpx

from .._errors import (
    EagerError,
    EndpointError,
    MissingExtraError,
    SourceTimeoutError,
    StreamError,
    UsageError,
)
from .._extract import Format
from ._http import bounded
from ._pump import CLOSE_TIMEOUT_S, DeltaSelector, PumpSource
from ._sse import parse_chunk_object

__all__ = ["OpenAISDKSource"]


class OpenAISDKSource(PumpSource):
    """Wraps a chat-completion stream of the ``openai`` SDK (``stream=True``) as a Source.

    ``stream`` is an ``openai.AsyncStream`` (iterated in a task) or an ``openai.Stream``
    (iterated in a thread). :meth:`aclose` closes the SDK stream, hence its connection. SDK
    errors are mapped to :class:`~eager.EndpointError`, :class:`~eager.StreamError` and
    :class:`~eager.SourceTimeoutError`. ``format`` and ``tool_name`` as in
    :class:`OpenAISource`. Needs the ``openai`` extra.
    """

    def __init__(
        self,
        stream: Any,
        *,
        format: Format = "auto",
        tool_name: str | None = None,
        tool_argument: str = "code",
    ) -> None:
        super().__init__()
        try:
            import openai  # noqa: F401
        except ImportError as exc:
            raise MissingExtraError("openai", "openai") from exc
        if not (hasattr(stream, "__aiter__") or hasattr(stream, "__iter__")):
            raise UsageError(f"expected an openai Stream or AsyncStream, got {type(stream)!r}")
        self._sdk_stream = stream
        self.format = format
        self.tool_name = tool_name
        self.tool_argument = tool_argument
        self._selector = self._sel = DeltaSelector(tool=format == "tool", tool_name=tool_name)

    def _take(self, chunk: Any) -> None:
        dump = getattr(chunk, "model_dump", None)
        text = self._sel.take(parse_chunk_object(dump() if dump else chunk))
        if text:
            self._emit(text)

    async def _pump(self) -> None:
        stream = self._sdk_stream
        try:
            if hasattr(stream, "__aiter__"):
                try:
                    async for chunk in stream:
                        self._take(chunk)
                finally:
                    await asyncio.shield(bounded(_maybe_await(stream.close())))
            else:
                await self._pump_sync(stream)
        except EagerError:
            raise
        except Exception as exc:
            raise _map_sdk_error(exc) from exc
        self._finish()

    async def _pump_sync(self, stream: Any) -> None:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[BaseException | None] = loop.create_future()
        stop = threading.Event()

        def settle(result: BaseException | None) -> None:
            if not done.done():
                done.set_result(result)

        def work() -> None:
            result: BaseException | None = None
            try:
                for chunk in stream:
                    if stop.is_set():
                        break
                    loop.call_soon_threadsafe(self._take_safely, chunk, stop)
            except BaseException as exc:
                result = exc
            finally:
                try:
                    stream.close()
                finally:
                    loop.call_soon_threadsafe(settle, result)

        thread = threading.Thread(target=work, name="eager-openai-sdk", daemon=True)
        thread.start()
        try:
            result = await done
        except asyncio.CancelledError:
            stop.set()
            # The reader may be blocked in a socket read: close from here too, then wait.
            closer = threading.Thread(target=_close_quietly, args=(stream,), daemon=True)
            closer.start()
            await asyncio.shield(asyncio.wait({done}, timeout=CLOSE_TIMEOUT_S))
            raise
        if self._sync_error is not None:
            raise self._sync_error
        if result is not None and not stop.is_set():
            raise result

    _sync_error: EagerError | None = None

    def _take_safely(self, chunk: Any, stop: threading.Event) -> None:
        if stop.is_set():
            return
        try:
            self._take(chunk)
        except EagerError as exc:
            self._sync_error = exc
            stop.set()


def _close_quietly(stream: Any) -> None:
    with contextlib.suppress(Exception):
        stream.close()


async def _maybe_await(value: Any) -> None:
    if asyncio.iscoroutine(value) or isinstance(value, asyncio.Future):
        await value


def _map_sdk_error(exc: Exception) -> EagerError:
    import openai

    if isinstance(exc, openai.APITimeoutError):
        return SourceTimeoutError(f"the openai SDK timed out: {exc}")
    if isinstance(exc, openai.APIStatusError):
        return EndpointError(
            f"the endpoint answered HTTP {exc.status_code}: {exc.message}",
            status=exc.status_code,
            body=exc.response.text if exc.response is not None else "",
        )
    if isinstance(exc, openai.APIConnectionError | httpx.TransportError):
        return StreamError(f"the stream broke: {exc}")
    if isinstance(exc, openai.APIError):
        return StreamError(f"the server reported an error in the stream: {exc.message}")
    return StreamError(f"the openai SDK stream failed: {type(exc).__name__}: {exc}")
