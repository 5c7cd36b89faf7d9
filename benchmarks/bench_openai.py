"""OpenAI-compatible streaming: client cost per event, loopback throughput, cancel latency, pacing.

Run: ``.venv/bin/python benchmarks/bench_openai.py``. Prints numbers, asserts nothing.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time

import httpx

from eager import Answer, OpenAISDKSource, OpenAISource, ReplayServer, tokenize
from eager.sources._sse import SSEDecoder, content_chunk, encode_event, parse_chunk

CODE = "".join(f"value_{i} = compute({i}, scale=2.5)\nprint(value_{i})\n" for i in range(400))


def bench_parse() -> None:
    tokens = tokenize(CODE)
    wire = b"".join(encode_event(content_chunk("id", "m", 0, t)) for t in tokens)
    t = time.perf_counter()
    decoder = SSEDecoder()
    n = 0
    for i in range(0, len(wire), 1400):  # about one TCP segment per read
        for event in decoder.feed(wire[i : i + 1400]):
            parse_chunk(event.data)
            n += 1
    dt = time.perf_counter() - t
    print(f"SSE decode + chunk parse, in memory: {dt / n * 1e6:.1f} µs/event ({n} events)")


async def bench_stream() -> None:
    answers = {"code": Answer("code", CODE, "code")}
    n = len(tokenize(CODE))
    async with ReplayServer(answers, tps=1e9, ttft_s=0.0) as srv:
        for label in ("OpenAISource (httpx)", "OpenAISDKSource (async openai SDK)"):
            times = []
            for _ in range(5):
                t = time.perf_counter()
                if label.startswith("OpenAISource"):
                    src = OpenAISource(base_url=srv.base_url, model="code", prompt="p")
                    got = [d async for d in src]
                else:
                    import openai

                    async with openai.AsyncOpenAI(
                        base_url=srv.base_url,
                        api_key="x",
                        http_client=httpx.AsyncClient(trust_env=False),
                    ) as client:
                        stream = await client.chat.completions.create(
                            model="code", messages=[{"role": "user", "content": "p"}], stream=True
                        )
                        got = [d async for d in OpenAISDKSource(stream)]
                times.append(time.perf_counter() - t)
                assert "".join(got) == CODE
            best = min(times)
            print(
                f"{label}, unthrottled server and client in one process: {n} tokens in "
                f"{best * 1e3:.0f} ms = {best / n * 1e6:.0f} µs/token (best of 5)"
            )


async def bench_cancel() -> None:
    answers = {"code": Answer("code", CODE, "code")}
    lat = []
    async with ReplayServer(answers, tps=200, ttft_s=0.0) as srv:
        for k in range(10):
            src = OpenAISource(base_url=srv.base_url, model="code", prompt="p")
            n = 0
            async for _ in src:
                n += 1
                if n == 20:
                    t = time.perf_counter()
                    await src.aclose()
            await srv.wait_records(k + 1)
            lat.append(time.perf_counter() - t)
            assert srv.records[-1]["disconnected"]
        sent = [r["tokens_sent"] for r in srv.records]
    print(
        f"cancel → server logged the disconnect: median {statistics.median(lat) * 1e3:.1f} ms, "
        f"max {max(lat) * 1e3:.1f} ms; tokens sent {min(sent)}..{max(sent)} of "
        f"{srv.records[0]['tokens_total']} (cancelled after 20)"
    )


async def bench_pacing() -> None:
    answers = {"code": Answer("code", CODE[:1200], "code")}
    for tps in (50.0, 200.0):
        async with ReplayServer(answers, tps=tps, ttft_s=0.2) as srv:
            src = OpenAISource(base_url=srv.base_url, model="code", prompt="p")
            t0 = time.perf_counter()
            stamps = [time.perf_counter() - t0 async for _ in src]
            ideal_last = 0.2 + (len(stamps) - 1) / tps
            print(
                f"pacing at {tps:g} tok/s, ttft 0.2 s: first token {stamps[0] * 1e3:.0f} ms, last "
                f"{stamps[-1]:.3f} s (schedule {ideal_last:.3f} s), {len(stamps)} tokens"
            )


def main() -> None:
    bench_parse()
    asyncio.run(bench_stream())
    asyncio.run(bench_cancel())
    asyncio.run(bench_pacing())
    print(json.dumps({"tokens_in_answer": len(tokenize(CODE))}))


if __name__ == "__main__":
    main()
