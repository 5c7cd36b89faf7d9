"""Refusals and limits reach the run's result; reasoning in any shape keeps a stream alive."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from eager import ExtractionError, OpenAISource, StreamError, run
from eager.backends._fake import FakeBackend
from eager.sources._delta import DeltaSelector
from eager.sources._sse import encode_event, parse_chunk

STREAMS = Path(__file__).parent / "streams"


def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def thinking(text: str) -> dict[str, Any]:
    return chunk({"content": [{"type": "thinking", "thinking": [{"type": "text", "text": text}]}]})


def served(pieces: list[tuple[float, bytes]], *, cut: bool = False) -> httpx.AsyncClient:
    """A client whose requests get these pieces, each after its delay; ``cut``: then it breaks."""
    calls: list[int] = []

    class Body(httpx.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            for delay, piece in pieces:
                await asyncio.sleep(delay)
                yield piece
            if cut:
                raise httpx.ReadError("connection reset")

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=Body())

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    client.calls = calls  # type: ignore[attr-defined]
    return client


def test_list_valued_thinking_is_reasoning_and_starts_the_stream() -> None:
    delta = parse_chunk(json.dumps(thinking("Let me think.")))
    assert delta.reasoning == "Let me think." and delta.content == ""
    selector = DeltaSelector(tool=False, tool_name=None)
    assert selector.take(delta) == ""
    assert selector.started  # data arrived: no retry from here on


async def test_list_valued_thinking_keeps_the_first_token_deadline_alive() -> None:
    pieces = [(0.15, encode_event(thinking(f"step {i}. "))) for i in range(6)]  # 0.9 s of thought
    pieces += [
        (0.0, encode_event(chunk({"content": "x = 1\n"}, "stop"))),
        (0.0, b"data: [DONE]\n\n"),
    ]
    async with served(pieces) as http:
        src = OpenAISource(
            base_url="http://llm.test/v1",
            model="m",
            prompt="go",
            http_client=http,
            first_token_timeout_s=0.4,  # shorter than the whole thought, longer than each step
            format="code",
        )
        result = await run(src, FakeBackend())
    assert result.error is None and result.code == "x = 1\n"
    assert src.turn is not None and src.turn.reasoning.startswith("step 0. step 1.")


async def test_a_stream_that_breaks_after_reasoning_is_not_retried() -> None:
    pieces = [(0.0, encode_event(thinking("Hmm.")))]
    async with served(pieces, cut=True) as http:
        src = OpenAISource(
            base_url="http://llm.test/v1", model="m", prompt="go", http_client=http, backoff_s=0
        )
        with pytest.raises(StreamError, match="broke"):
            async for _ in src:
                pass
        assert http.calls == [1]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("name", "stop", "refusal", "note"),
    [
        ("chat_openai_refusal", "refusal", "I'm sorry, but I can't help with that.", "refused"),
        ("chat_deepseek_reasoning_length", "length", None, "token limit"),
        ("chat_openai_text", "stop", None, None),
    ],
)
async def test_the_run_result_carries_the_stop_reason_and_the_refusal(
    name: str, stop: str, refusal: str | None, note: str | None
) -> None:
    data = (STREAMS / f"{name}.sse").read_bytes()
    async with served([(0.0, data)]) as http:
        src = OpenAISource(base_url="http://llm.test/v1", model="m", prompt="go", http_client=http)
        result = await run(src, FakeBackend())
    assert result.stop_reason == stop and result.refusal == refusal
    record = result.to_dict()
    assert record["stop_reason"] == stop and record["refusal"] == refusal
    if note is None:
        assert result.stop_note is None
    else:
        assert result.stop_note is not None and note in result.stop_note
        assert "\n" not in result.stop_note


async def test_a_refusal_in_tool_format_says_the_model_refused() -> None:
    data = (STREAMS / "chat_openai_refusal.sse").read_bytes()
    async with served([(0.0, data)]) as http:
        src = OpenAISource(
            base_url="http://llm.test/v1", model="m", prompt="go", http_client=http, format="tool"
        )
        with pytest.raises(ExtractionError, match=r"refused.*can't help"):
            async for _ in src:
                pass
