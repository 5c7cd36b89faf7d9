"""The streaming response of the replay server: events sent on schedule, the client watched.

An ASGI app for one request: it sends the encoder's events at the plan's due times, acts out
the request's after-N-tokens fault, and stops at once when the client disconnects (the log
record then says ``disconnected``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from ._faults import Fault
from ._schedule import TokenPlan
from ._wire import Encoder

__all__ = ["EventStream", "wait_disconnect"]

Body = Callable[..., Awaitable[None]]


class EventStream:
    """The streaming response: sends the plan on schedule, stops when the client leaves."""

    media_type = "text/event-stream"

    def __init__(
        self,
        plan: TokenPlan,
        encoder: Encoder,
        fault: Fault,
        record: dict[str, Any],
        finish: Callable[[], None],
    ) -> None:
        self.plan = plan
        self.encoder = encoder
        self.fault = fault
        self.record = record
        self.finish = finish

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        record = self.record
        record.update(tokens_sent=0, disconnected=False)
        try:
            if self.fault.stall_headers:
                await wait_disconnect(receive)
                record["disconnected"] = True
                return
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"text/event-stream; charset=utf-8"),
                        (b"cache-control", b"no-cache"),
                        (b"x-accel-buffering", b"no"),
                        (b"x-eager-tokens-total", str(len(self.plan.tokens)).encode()),
                    ],
                }
            )
            produce = asyncio.create_task(self._produce(send))
            listen = asyncio.create_task(wait_disconnect(receive))
            try:
                await asyncio.wait({produce, listen}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (produce, listen):
                    task.cancel()
                await asyncio.gather(produce, listen, return_exceptions=True)
            if produce.cancelled():
                record["disconnected"] = True
            elif produce.exception() is not None:
                record["error"] = repr(produce.exception())
        finally:
            self.finish()

    async def _produce(self, send: Any) -> None:
        """Send the events (returning without ending the body makes uvicorn cut the line)."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        enc = self.encoder

        async def body(data: bytes, *, more: bool = True) -> None:
            await send({"type": "http.response.body", "body": data, "more_body": more})

        head = enc.head()
        n_tokens = len(self.plan.tokens)
        faults = self.fault.schedule(n_tokens)  # once, not per token
        for i in range(n_tokens + 1):
            if (name := faults.get(i)) is not None:
                if name == "no_done" and head:
                    await body(head)  # a clean stream, only its last event missing
                return await self._misbehave(name, body)
            if i == n_tokens:
                break
            delay = start + self.plan.due_s[i] - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if head:
                await body(head)
                head = b""
            await body(enc.token(i))
            self.record["tokens_sent"] = i + 1
        if head:
            await body(head)
        await body(enc.tail(), more=False)

    async def _misbehave(self, name: str, body: Body) -> None:
        self.record["fault"] = name.replace("_", "-")
        if name == "drop":
            return  # the body never ends: the connection is cut
        if name == "stall":
            await asyncio.Event().wait()  # until the client leaves (the task is cancelled)
        elif name == "bad_json":
            await body(self.encoder.bad_json())
        elif name == "error_event":
            await body(self.encoder.error_event("injected server error"))
        elif name == "no_done":
            await body(self.encoder.tail(done=False))
        await body(b"", more=False)


async def wait_disconnect(receive: Any) -> None:
    """Return when the client has gone."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
