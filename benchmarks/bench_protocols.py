"""Client cost of each streaming protocol: decode per event in memory, and over loopback HTTP.

Run: ``.venv/bin/python benchmarks/bench_protocols.py``. Prints numbers, asserts nothing.
The events are the official shapes (one text delta per token) of chat completions, OpenAI
Responses and Anthropic Messages; the loopback server is a raw ASGI app under uvicorn that
sends them as fast as it can.
"""

from __future__ import annotations

import asyncio
import platform
import socket
import time
from collections.abc import Callable
from typing import Any

import uvicorn

from eager import AnthropicSource, OpenAIResponsesSource, OpenAISource, tokenize
from eager.sources._anthropic_events import decode_anthropic_event
from eager.sources._delta import DeltaSelector
from eager.sources._responses_events import decode_responses_event
from eager.sources._sse import SSEDecoder, content_chunk, decode_chat_event, encode_event

CODE = "".join(f"value_{i} = compute({i}, scale=2.5)\nprint(value_{i})\n" for i in range(400))
TOKENS = tokenize(CODE)
USAGE = {"input_tokens": 1, "output_tokens": len(TOKENS), "total_tokens": len(TOKENS) + 1}


def chat_wire() -> bytes:
    parts = [encode_event(content_chunk("c", "m", 0, t)) for t in TOKENS]
    return b"".join([*parts, encode_event("[DONE]")])


def responses_wire() -> bytes:
    def ev(kind: str, **data: Any) -> bytes:
        return encode_event({"type": kind, **data}, event=kind)

    parts = [
        ev(
            "response.output_text.delta",
            item_id="msg_1",
            output_index=0,
            content_index=0,
            delta=t,
            logprobs=[],
            sequence_number=i,
        )
        for i, t in enumerate(TOKENS)
    ]
    end = ev("response.completed", response={"status": "completed", "usage": USAGE})
    return b"".join([*parts, end])


def anthropic_wire() -> bytes:
    def ev(kind: str, **data: Any) -> bytes:
        return encode_event({"type": kind, **data}, event=kind)

    parts = [ev("content_block_start", index=0, content_block={"type": "text", "text": ""})]
    parts += [
        ev("content_block_delta", index=0, delta={"type": "text_delta", "text": t}) for t in TOKENS
    ]
    parts += [
        ev("content_block_stop", index=0),
        ev("message_delta", delta={"stop_reason": "end_turn"}, usage={"output_tokens": 1}),
        ev("message_stop"),
    ]
    return b"".join(parts)


PROTOCOLS: dict[str, tuple[Callable[[], bytes], Callable[[Any], Any], str]] = {
    "chat": (chat_wire, decode_chat_event, "/v1/chat/completions"),
    "responses": (responses_wire, decode_responses_event, "/v1/responses"),
    "anthropic": (anthropic_wire, decode_anthropic_event, "/v1/messages"),
}


def bench_decode() -> None:
    for name, (wire_of, decode, _) in PROTOCOLS.items():
        wire = wire_of()
        best = float("inf")
        for _ in range(5):
            t = time.perf_counter()
            sse, sel, n = SSEDecoder(), DeltaSelector(tool=False, tool_name=None), 0
            for i in range(0, len(wire), 1400):  # about one TCP segment per read
                for event in sse.feed(wire[i : i + 1400]):
                    delta = decode(event)
                    if delta is not None:
                        sel.take(delta)
                    n += 1
            best = min(best, time.perf_counter() - t)
        print(
            f"{name:>9}: SSE decode + event parse + selector, in memory: "
            f"{best / n * 1e6:5.1f} µs/event ({n} events, {len(wire) / n:.0f} B/event)"
        )


async def bench_loopback() -> None:
    wires = {path: wire_of() for wire_of, _, path in PROTOCOLS.values()}
    left = asyncio.Event()
    stall = {"on": False}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        while (await receive()).get("more_body"):
            pass
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream")],
            }
        )
        wire = wires[scope["path"]]
        if stall["on"]:  # one segment, then a model that thinks until the client leaves
            await send({"type": "http.response.body", "body": wire[:4096], "more_body": True})
            while (await receive())["type"] != "http.disconnect":
                pass
            left.set()
            return
        for i in range(0, len(wire), 4096):
            await send(
                {"type": "http.response.body", "body": wire[i : i + 4096], "more_body": True}
            )
        await send({"type": "http.response.body", "body": b""})

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sock.setblocking(False)
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, interface="asgi3", log_level="critical", lifespan="off")
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            raise RuntimeError("the benchmark server did not start")
        await asyncio.sleep(0.01)
    base = f"http://127.0.0.1:{port}"
    makers = {
        "chat": lambda: OpenAISource(base_url=base + "/v1", model="m", prompt="p"),
        "responses": lambda: OpenAIResponsesSource(base_url=base + "/v1", model="m", prompt="p"),
        "anthropic": lambda: AnthropicSource(base_url=base, model="m", prompt="p"),
    }
    for name, make in makers.items():
        times = []
        for _ in range(5):
            t = time.perf_counter()
            got = [d async for d in make()]
            times.append(time.perf_counter() - t)
            assert "".join(got) == CODE
        best = min(times)
        print(
            f"{name:>9}: httpx source over loopback: {best / len(TOKENS) * 1e6:5.1f} µs/token "
            f"({best * 1e3:.0f} ms for {len(TOKENS)} tokens, best of 5)"
        )
    stall["on"] = True
    for name, make in makers.items():
        gaps = []
        for _ in range(10):
            left.clear()
            src = make()
            stream = src.stream()
            await anext(stream)
            t = time.perf_counter()
            await src.aclose()
            await left.wait()
            gaps.append(time.perf_counter() - t)
            await stream.aclose()
        print(
            f"{name:>9}: aclose() -> server sees the disconnect: median "
            f"{sorted(gaps)[5] * 1e3:.2f} ms, max {max(gaps) * 1e3:.2f} ms (10 runs)"
        )
    server.should_exit = True
    await task


def main() -> None:
    print(f"{platform.processor() or platform.machine()}, {platform.python_version()}")
    bench_decode()
    asyncio.run(bench_loopback())


if __name__ == "__main__":
    main()
