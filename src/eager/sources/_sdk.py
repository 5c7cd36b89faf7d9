"""The base of sources over an official SDK's stream (sync or async), cancelled by closing it.

An async stream is iterated in the producer task; a sync one in a thread whose events are
handed to the event loop. :meth:`~eager.sources._pump.PumpSource.aclose` cancels the producer,
which closes the SDK stream (hence its connection; for a sync stream from another thread too,
since the reader may be blocked in a socket read). Each event is decoded by the subclass into
a protocol-neutral :class:`~._delta.Delta`.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import socket
import threading
from typing import Any

from .._errors import (
    EagerError,
    EndpointError,
    MissingExtraError,
    SourceTimeoutError,
    StreamError,
    UsageError,
)
from .._extract import Format
from ._delta import Delta, DeltaSelector
from ._pump import CLOSE_TIMEOUT_S, PumpSource, bounded

__all__ = ["SDKSource"]


class SDKSource(PumpSource):
    """Base of the SDK wrappers: subclasses name their ``SDK`` package and :meth:`_decode`.

    ``stream`` is the SDK's async stream (iterated in a task) or sync stream (iterated in a
    thread). SDK errors are mapped to :class:`~eager.EndpointError`,
    :class:`~eager.StreamError` and :class:`~eager.SourceTimeoutError`; everything received
    before an error is kept (:attr:`turn`).
    """

    #: The SDK's package, also the name of the ``pip install 'eager[...]'`` extra.
    SDK = ""
    #: The protocol's terminal event; a stream that ends without it is a StreamError (None:
    #: the SDK consumes the terminator itself).
    END_EVENT: str | None = None
    _selector: DeltaSelector

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
            __import__(self.SDK)
        except ImportError as exc:
            raise MissingExtraError(self.SDK, self.SDK) from exc
        if not (hasattr(stream, "__aiter__") or hasattr(stream, "__iter__")):
            raise UsageError(
                f"expected a {self.SDK} SDK Stream or AsyncStream, got {type(stream)!r}"
            )
        self._sdk_stream = stream
        self.format = format
        self.tool_name = tool_name
        self.tool_argument = tool_argument
        self._selector = DeltaSelector(tool=format == "tool", tool_name=tool_name)
        self._ended = False
        self._sync_error: EagerError | None = None

    @abc.abstractmethod
    def _decode(self, event: dict[str, Any]) -> Delta | None:
        """The delta of one SDK event (its ``model_dump()``); None: nothing for us."""

    def _take(self, event: Any) -> None:
        delta = self._decode(_dump(event))
        if delta is None:
            return
        self._accept(self._selector, delta)
        if delta.done:
            self._ended = True

    async def _pump(self) -> None:
        stream = self._sdk_stream
        try:
            if hasattr(stream, "__aiter__"):
                try:
                    async for event in stream:
                        self._take(event)
                finally:
                    close = getattr(stream, "close", None) or getattr(stream, "aclose", None)
                    if close is not None:
                        await asyncio.shield(bounded(_maybe_await(close())))
            else:
                await self._pump_sync(stream)
        except EagerError:
            raise
        except Exception as exc:
            raise self._map_error(exc) from exc
        if self.END_EVENT is not None and not self._ended:
            raise StreamError(
                f"the {self.SDK} stream ended without {self.END_EVENT} after "
                f"{self.tokens_generated} tokens{self._selector.where()} (truncated answer?)"
            )
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
                for event in stream:
                    if stop.is_set():
                        break
                    loop.call_soon_threadsafe(self._take_safely, event, stop)
            except BaseException as exc:
                result = exc
            finally:
                try:
                    stream.close()
                finally:
                    loop.call_soon_threadsafe(settle, result)

        thread = threading.Thread(target=work, name=f"eager-{self.SDK}-sdk", daemon=True)
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

    def _take_safely(self, event: Any, stop: threading.Event) -> None:
        if stop.is_set():
            return
        try:
            self._take(event)
        except EagerError as exc:
            self._sync_error = exc
            stop.set()

    def _map_error(self, exc: Exception) -> EagerError:
        """An SDK exception as an Eager error (both official SDKs share these class names)."""
        sdk = __import__(self.SDK)
        if isinstance(exc, sdk.APITimeoutError):
            return SourceTimeoutError(f"the {self.SDK} SDK timed out: {exc}")
        if isinstance(exc, sdk.APIStatusError):
            response = getattr(exc, "response", None)
            return EndpointError(
                f"the endpoint answered HTTP {exc.status_code}: {exc.message}",
                status=exc.status_code,
                body=response.text if response is not None else "",
            )
        if isinstance(exc, sdk.APIConnectionError):
            return StreamError(f"the stream broke: {exc}")
        if isinstance(exc, sdk.APIError):
            return StreamError(f"the server reported an error in the stream: {exc.message}")
        return StreamError(f"the {self.SDK} SDK stream failed: {type(exc).__name__}: {exc}")


def _dump(event: Any) -> Any:
    dump = getattr(event, "model_dump", None)
    if dump is None:
        return event
    try:
        return dump(warnings=False)
    except TypeError:
        return dump()


def _close_quietly(stream: Any) -> None:
    """Close a sync SDK stream from another thread than its reader's.

    The reader may be blocked in a socket read of a server that sends nothing (a model that
    thinks): shutting the socket down wakes it and tells the server at once; then close.
    """
    with contextlib.suppress(Exception):
        response = getattr(stream, "response", None)
        network = (getattr(response, "extensions", None) or {}).get("network_stream")
        sock = network.get_extra_info("socket") if network is not None else None
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(Exception):
        stream.close()


async def _maybe_await(value: Any) -> None:
    if asyncio.iscoroutine(value) or isinstance(value, asyncio.Future):
        await value
