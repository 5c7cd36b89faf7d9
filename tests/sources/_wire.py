"""A small real HTTP server on loopback that plays recorded event streams of any protocol.

Raw ASGI under uvicorn: each path answers with its next :class:`Reply` (an event sequence in
the official shapes below, an HTTP error, a stall that waits for the client to leave, or a
connection cut). Requests are recorded; a client leaving during a stall sets
``disconnected`` (the server sees the disconnect). Also the official event builders of the
OpenAI Responses and Anthropic Messages streams used by the tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from eager.sources._sse import encode_event

Event = tuple[str | None, Any]


@dataclass
class Reply:
    """One answer: ``events`` (SSE name, data), or ``status`` with a JSON ``body``."""

    events: Sequence[Event] = ()
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    #: After this many events, send nothing more and wait until the client leaves.
    stall_after: int | None = None
    #: After the events, drop the connection without ending the response.
    cut: bool = False
    content_type: str = "text/event-stream"


class WireServer:
    """``async with WireServer({"/v1/messages": Reply(...)}) as srv``: serves on ``srv.url``."""

    def __init__(self, replies: dict[str, Reply | list[Reply]]) -> None:
        self.replies = {k: v if isinstance(v, list) else [v] for k, v in replies.items()}
        self.requests: list[dict[str, Any]] = []
        self.disconnected = asyncio.Event()
        self.stalled = asyncio.Event()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.setblocking(False)
        self.port = self._sock.getsockname()[1]
        self._server: Any = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (no path)."""
        return f"http://127.0.0.1:{self.port}"

    def _next(self, path: str) -> Reply:
        queue = self.replies.get(path)
        if not queue:
            return Reply(status=404, body={"error": {"message": f"no route {path}"}})
        return queue.pop(0) if len(queue) > 1 else queue[0]

    async def app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.requests.append(
            {"path": scope["path"], "headers": headers, "json": json.loads(raw or b"null")}
        )
        reply = self._next(scope["path"])
        extra = [(k.encode(), v.encode()) for k, v in reply.headers.items()]
        if reply.status != 200:
            body = json.dumps(reply.body).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": reply.status,
                    "headers": [(b"content-type", b"application/json"), *extra],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        ctype = reply.content_type.encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", ctype), *extra],
            }
        )
        for i, (name, data) in enumerate(reply.events):
            if reply.stall_after is not None and i >= reply.stall_after:
                break
            await send(
                {
                    "type": "http.response.body",
                    "body": encode_event(data, event=name),
                    "more_body": True,
                }
            )
        if reply.stall_after is not None:
            self.stalled.set()
            while (await receive())["type"] != "http.disconnect":
                pass
            self.disconnected.set()
            return
        if reply.cut:
            raise ConnectionResetError("cut on purpose")  # uvicorn drops the connection
        await send({"type": "http.response.body", "body": b""})

    async def __aenter__(self) -> WireServer:
        config = uvicorn.Config(
            self.app, interface="asgi3", log_level="critical", lifespan="off", ws="none"
        )
        server = uvicorn.Server(config)
        server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign]
        self._server = server
        self._task = asyncio.create_task(server.serve(sockets=[self._sock]))
        async with asyncio.timeout(10):
            while not server.started:
                if self._task.done():
                    await self._task
                    raise RuntimeError("the wire server stopped during start-up")
                await asyncio.sleep(0.005)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None and self._task is not None
        self._server.should_exit = True
        done, _ = await asyncio.wait({self._task}, timeout=5)
        if not done:
            self._task.cancel()
        self._sock.close()


# --- official event sequences ------------------------------------------------------------------


def _response(status: str, output: list[Any], **more: Any) -> dict[str, Any]:
    return {
        "id": "resp_1",
        "object": "response",
        "created_at": 0,
        "model": "m",
        "status": status,
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "error": None,
        "incomplete_details": None,
        "usage": {
            "input_tokens": 7,
            "output_tokens": 11,
            "total_tokens": 18,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": 0},
        },
        **more,
    }


def responses_events(
    *,
    text: Sequence[str] = (),
    call: Sequence[str] | None = None,
    kind: str = "function",
    name: str = "python",
    end: str = "completed",
    reasoning: Sequence[str] = (),
) -> list[Event]:
    """An OpenAI Responses stream: text deltas, then a tool call's argument/input deltas."""
    seq = 0
    out: list[Event] = []

    def add(kind_: str, **data: Any) -> None:
        nonlocal seq
        out.append((kind_, {"type": kind_, "sequence_number": seq, **data}))
        seq += 1

    add("response.created", response=_response("in_progress", [], usage=None))
    index = 0
    if reasoning:
        item = {"id": "rs_1", "type": "reasoning", "summary": []}
        add("response.output_item.added", output_index=index, item=item)
        for piece in reasoning:
            add(
                "response.reasoning_summary_text.delta",
                item_id="rs_1",
                output_index=index,
                summary_index=0,
                delta=piece,
            )
        add("response.output_item.done", output_index=index, item=item)
        index += 1
    items: list[Any] = []
    if text:
        whole = "".join(text)
        msg = {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "status": "in_progress",
            "content": [],
        }
        add("response.output_item.added", output_index=index, item=msg)
        part = {"type": "output_text", "text": "", "annotations": []}
        add(
            "response.content_part.added",
            item_id="msg_1",
            output_index=index,
            content_index=0,
            part=part,
        )
        for piece in text:
            add(
                "response.output_text.delta",
                item_id="msg_1",
                output_index=index,
                content_index=0,
                delta=piece,
                logprobs=[],
            )
        add(
            "response.output_text.done",
            item_id="msg_1",
            output_index=index,
            content_index=0,
            text=whole,
            logprobs=[],
        )
        done_part = {**part, "text": whole}
        add(
            "response.content_part.done",
            item_id="msg_1",
            output_index=index,
            content_index=0,
            part=done_part,
        )
        msg = {**msg, "status": "completed", "content": [done_part]}
        add("response.output_item.done", output_index=index, item=msg)
        items.append(msg)
        index += 1
    if call is not None:
        whole = "".join(call)
        if kind == "function":
            item = {
                "id": "fc_1",
                "type": "function_call",
                "call_id": "call_1",
                "name": name,
                "arguments": "",
                "status": "in_progress",
            }
            delta_type, done_type, key = (
                "response.function_call_arguments.delta",
                "response.function_call_arguments.done",
                "arguments",
            )
        else:
            item = {
                "id": "ctc_1",
                "type": "custom_tool_call",
                "call_id": "call_1",
                "name": name,
                "input": "",
            }
            delta_type, done_type, key = (
                "response.custom_tool_call_input.delta",
                "response.custom_tool_call_input.done",
                "input",
            )
        add("response.output_item.added", output_index=index, item=item)
        for piece in call:
            add(delta_type, item_id=item["id"], output_index=index, delta=piece)
        add(done_type, item_id=item["id"], output_index=index, **{key: whole})
        item = {**item, key: whole, "status": "completed"}
        add("response.output_item.done", output_index=index, item=item)
        items.append(item)
    if end == "completed":
        add("response.completed", response=_response("completed", items))
    elif end == "incomplete":
        details = {"reason": "max_output_tokens"}
        add(
            "response.incomplete",
            response=_response("incomplete", items, incomplete_details=details),
        )
    elif end == "failed":
        error = {"code": "server_error", "message": "the model broke down"}
        add("response.failed", response=_response("failed", items, error=error))
    elif end == "error":
        add("error", code="rate_limit_exceeded", message="slow down", param=None)
    return out


def anthropic_events(
    *,
    text: Sequence[str] = (),
    call: Sequence[str] | None = None,
    name: str = "python",
    stop_reason: str | None = None,
    thinking: Sequence[str] = (),
    end: bool = True,
) -> list[Event]:
    """An Anthropic Messages stream: text deltas, then a tool_use block's input_json deltas."""
    out: list[Event] = []

    def add(kind: str, **data: Any) -> None:
        out.append((kind, {"type": kind, **data}))

    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "m",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 7, "output_tokens": 1},
    }
    add("message_start", message=message)
    index = 0
    if thinking:
        add(
            "content_block_start",
            index=index,
            content_block={"type": "thinking", "thinking": "", "signature": ""},
        )
        for piece in thinking:
            add(
                "content_block_delta",
                index=index,
                delta={"type": "thinking_delta", "thinking": piece},
            )
        add(
            "content_block_delta",
            index=index,
            delta={"type": "signature_delta", "signature": "sig"},
        )
        add("content_block_stop", index=index)
        index += 1
    if text:
        add("content_block_start", index=index, content_block={"type": "text", "text": ""})
        add("ping")
        for piece in text:
            add("content_block_delta", index=index, delta={"type": "text_delta", "text": piece})
        add("content_block_stop", index=index)
        index += 1
    if call is not None:
        block = {"type": "tool_use", "id": "toolu_1", "name": name, "input": {}}
        add("content_block_start", index=index, content_block=block)
        for piece in call:
            add(
                "content_block_delta",
                index=index,
                delta={"type": "input_json_delta", "partial_json": piece},
            )
        add("content_block_stop", index=index)
    reason = stop_reason or ("tool_use" if call is not None else "end_turn")
    add(
        "message_delta",
        delta={"stop_reason": reason, "stop_sequence": None},
        usage={"output_tokens": 11},
    )
    if end:
        add("message_stop")
    return out


def json_pieces(obj: Any, size: int = 5) -> list[str]:
    """The JSON text of ``obj`` in pieces of ``size`` characters (escapes split anywhere)."""
    text = json.dumps(obj)
    return [text[i : i + size] for i in range(0, len(text), size)]


def chat_events(
    *, text: Sequence[str] = (), call: Sequence[str] | None = None, name: str = "python"
) -> list[Event]:
    """A chat-completions stream: content deltas, then tool call 0's argument deltas."""
    from eager.sources._sse import (
        DONE,
        content_chunk,
        final_chunk,
        tool_call_chunk,
        usage_chunk,
    )

    out: list[Event] = [
        (None, content_chunk("c", "m", 0, piece, role=i == 0)) for i, piece in enumerate(text)
    ]
    if call is not None:
        out.append((None, tool_call_chunk("c", "m", 0, "", name=name, call_id="call_1")))
        out += [(None, tool_call_chunk("c", "m", 0, piece)) for piece in call]
    out.append((None, final_chunk("c", "m", 0, "tool_calls" if call is not None else "stop")))
    out.append((None, usage_chunk("c", "m", 0, prompt_tokens=7, completion_tokens=11)))
    out.append((None, DONE))
    return out


async def drain(src: Any) -> tuple[list[str], BaseException | None]:
    """The deltas a source yields, and the SourceError that ended it (None: it ended well)."""
    from eager import SourceError

    got: list[str] = []
    try:
        async for delta in src:
            got.append(delta)
    except SourceError as exc:
        return got, exc
    return got, None


def openai_client(base_url: str, *, sync: bool = False) -> Any:
    """An ``openai`` SDK client of ``base_url`` (``.../v1``): no retries, no proxy."""
    import httpx
    import openai

    if sync:
        return openai.OpenAI(
            base_url=base_url,
            api_key="unused",
            max_retries=0,
            http_client=httpx.Client(trust_env=False),
        )
    return openai.AsyncOpenAI(
        base_url=base_url,
        api_key="unused",
        max_retries=0,
        http_client=httpx.AsyncClient(trust_env=False),
    )
