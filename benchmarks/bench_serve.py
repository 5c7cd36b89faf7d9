"""Replay server, three protocols: encoding cost per event, and loopback streaming through the
official SDKs (server and client in one process and event loop, unpaced: tps = 1e9).

Run: ``.venv/bin/python benchmarks/bench_serve.py``. Prints numbers, asserts nothing.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time

import anthropic
import httpx
import openai

from eager import Answer, ReplayServer, tokenize
from eager.server._app import WIRES
from eager.server._wire import Reply, ToolForm

CODE = "".join(f"value_{i} = compute({i}, scale=2.5)\nprint(value_{i})\n" for i in range(400))
TOKENS = tuple(tokenize(CODE))
ROUNDS = 5


def bench_encode() -> None:
    for name, wire in WIRES.items():
        for tool in (None, ToolForm("python")):
            enc = wire.encoder(Reply("m", TOKENS, tool), {})
            t = time.perf_counter()
            size = len(enc.head()) + sum(len(enc.token(i)) for i in range(len(TOKENS)))
            size += len(enc.tail())
            dt = time.perf_counter() - t
            form = "tool" if tool else "text"
            print(
                f"encode {name:9} {form}: {dt / len(TOKENS) * 1e6:5.1f} µs/token, "
                f"{size / len(TOKENS):5.0f} bytes/token"
            )


async def bench_sdks() -> None:
    async with ReplayServer({"code": Answer("code", CODE, "code")}, tps=1e9, ttft_s=0.0) as srv:
        o = openai.AsyncOpenAI(
            base_url=srv.base_url, api_key="x", http_client=httpx.AsyncClient(trust_env=False)
        )
        a = anthropic.AsyncAnthropic(
            base_url=srv.root_url,
            api_key="x",
            http_client=anthropic.DefaultAsyncHttpxClient(trust_env=False),
        )
        user = [{"role": "user", "content": "x"}]

        async def chat() -> str:
            s = await o.chat.completions.create(model="code", messages=user, stream=True)  # type: ignore[call-overload]
            return "".join([c.choices[0].delta.content or "" async for c in s if c.choices])

        async def responses() -> str:
            s = await o.responses.create(model="code", input="x", stream=True)
            return "".join([e.delta async for e in s if e.type == "response.output_text.delta"])

        async def messages() -> str:
            async with a.messages.stream(model="code", max_tokens=9, messages=user) as s:  # type: ignore[arg-type]
                return "".join([t async for t in s.text_stream])

        for label, fn in (
            ("openai chat", chat),
            ("openai responses", responses),
            ("anthropic messages", messages),
        ):
            times = []
            for _ in range(ROUNDS):
                t = time.perf_counter()
                assert await fn() == CODE
                times.append(time.perf_counter() - t)
            best = min(times)
            print(
                f"{label:18} SDK stream of {len(TOKENS)} tokens: best {best * 1e3:.0f} ms, "
                f"median {statistics.median(times) * 1e3:.0f} ms ({best / len(TOKENS) * 1e6:.0f} µs/event)"
            )
        await o.close()
        await a.close()


if __name__ == "__main__":
    print(f"machine: {os.cpu_count()} cores (shared), one process for server and client")
    bench_encode()
    asyncio.run(bench_sdks())
