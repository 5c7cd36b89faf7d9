"""Provider streams of every protocol, as bytes, cut in random pieces: Eager's decoders read from
them what the official SDKs (``openai``, ``anthropic``) accumulate from the same bytes.

The streams are in ``streams/``: each ``NAME.sse`` states its origin in its first line (an SSE
comment, which every decoder skips); ``NAME.expected.json`` is what the turn must hold. They are
hand-built from the providers' documented event shapes (OpenAI chat completions and Responses,
DeepSeek, Mistral magistral, OpenRouter, Anthropic Messages with thinking, server tools,
redacted thinking, compaction), not captures of live responses.

Checked: the text, the client tool calls, the refusal, the stop reason, the reasoning and the
kept blocks (server tools and their results, redacted thinking, compaction, unknown types: never
code, never a client tool call), for the pure decoders under any byte split (hypothesis) and for
the real HTTP sources and SDKs under a few random splits.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import warnings
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eager import AnthropicSource, OpenAIResponsesSource, OpenAISource, Turn
from eager.sources._anthropic_events import decode_anthropic_event
from eager.sources._delta import Delta, DeltaSelector
from eager.sources._responses_events import decode_responses_event
from eager.sources._sse import SSEDecoder, SSEEvent, decode_chat_event

STREAMS = Path(__file__).parent / "streams"
NAMES = sorted(p.stem for p in STREAMS.glob("*.sse"))
DECODERS: dict[str, Callable[[SSEEvent], Delta | None]] = {
    "chat": decode_chat_event,
    "responses": decode_responses_event,
    "anthropic": decode_anthropic_event,
}


def protocol(name: str) -> str:
    return name.split("_", 1)[0]


def raw(name: str) -> bytes:
    return (STREAMS / f"{name}.sse").read_bytes()


def expected(name: str) -> dict[str, Any]:
    return dict(json.loads((STREAMS / f"{name}.expected.json").read_text("utf-8")))


def split(data: bytes, cuts: Sequence[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]


def view(turn: Turn) -> dict[str, Any]:
    """The protocol-neutral facts compared (tool arguments as JSON values)."""
    return {
        "text": turn.text,
        "stop_reason": turn.stop_reason,
        "refusal": turn.refusal,
        "reasoning": turn.reasoning,
        "tool_calls": [[c.id, c.name, json.loads(c.arguments)] for c in turn.tool_calls],
        "blocks": [[b.type, b.index] for b in turn.blocks],
    }


def expected_view(name: str) -> dict[str, Any]:
    want = expected(name)
    want["tool_calls"] = [[i, n, json.loads(a)] for i, n, a in want["tool_calls"]]
    return want


def decode(name: str, pieces: Sequence[bytes], *, tool: bool = False) -> tuple[Turn, list[str]]:
    """The pure path: SSE decoder, protocol decoder, selector; the streamed source text too."""
    decoder, selector, texts = SSEDecoder(), DeltaSelector(tool=tool, tool_name=None), []
    events: list[SSEEvent] = []
    for piece in pieces:
        events += decoder.feed(piece)
    events += decoder.close()
    for event in events:
        delta = DECODERS[protocol(name)](event)
        if delta is not None:
            texts.append(selector.take(delta))
    return selector.turn(), texts


# --- the pure decoders, any split -----------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=40, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=1 << 20), max_size=60))
def test_any_byte_split_decodes_to_the_expected_turn(name: str, cuts: list[int]) -> None:
    turn, _ = decode(name, split(raw(name), cuts))
    assert view(turn) == expected_view(name)


@pytest.mark.parametrize("name", NAMES)
def test_one_byte_pieces_decode_to_the_expected_turn(name: str) -> None:
    data = raw(name)
    turn, _ = decode(name, [data[i : i + 1] for i in range(len(data))])
    assert view(turn) == expected_view(name)


@pytest.mark.parametrize("name", [n for n in NAMES if "server_tools" in n or "compaction" in n])
def test_server_tools_and_unknown_blocks_never_become_code_or_a_tool_call(name: str) -> None:
    turn, texts = decode(name, [raw(name)], tool=True)
    assert turn.tool_calls == () and "".join(texts) == ""
    selector_text, _ = decode(name, [raw(name)])
    assert "code_execution" not in selector_text.text and "query" not in selector_text.text


def test_a_server_tools_input_is_parsed_as_the_sdk_does() -> None:
    turn, _ = decode("anthropic_server_tools", [raw("anthropic_server_tools")])
    search, result, code, _ = turn.blocks
    assert search.data["name"] == "web_search" and search.data["id"] == "srvtoolu_01W"
    assert search.data["input"] == {"query": "pandas 2.2 release notes"}
    assert result.data["tool_use_id"] == "srvtoolu_01W"
    assert code.data["input"] == {"code": "print(2 + 2)"}


def test_compaction_and_newer_blocks_keep_their_fields() -> None:
    turn, _ = decode("anthropic_compaction_and_unknown", [raw("anthropic_compaction_and_unknown")])
    compaction, future, event = turn.blocks
    assert compaction.data["content"].startswith("Summary:")
    assert compaction.data["encrypted_content"] == "Eo0CCkYIBxgC"
    assert future.data == {"type": "a_future_block", "payload": "opaque", "more": "x"}
    assert event.data["detail"] == {"k": 1}


# --- the HTTP sources and the official SDKs, from the same bytes ----------------------------


def client_for(pieces: list[bytes], http: Any = httpx) -> Any:
    """An async client of ``http`` (httpx, or the httpx2 the anthropic SDK uses) whose every
    request is answered with these pieces of an event stream."""

    class Pieces(http.AsyncByteStream):  # type: ignore[misc,name-defined]
        async def __aiter__(self) -> AsyncIterator[bytes]:
            for piece in pieces:
                await asyncio.sleep(0)
                yield piece

    def handler(request: Any) -> Any:
        return http.Response(200, headers={"content-type": "text/event-stream"}, stream=Pieces())

    return http.AsyncClient(transport=http.MockTransport(handler))


async def eager_turn(name: str, pieces: list[bytes]) -> Turn:
    kind = protocol(name)
    async with client_for(pieces) as http:
        common: dict[str, Any] = {"model": "m", "prompt": "go", "http_client": http}
        if kind == "chat":
            src: Any = OpenAISource(base_url="http://llm.test/v1", **common)
        elif kind == "responses":
            src = OpenAIResponsesSource(base_url="http://llm.test/v1", **common)
        else:
            src = AnthropicSource(base_url="http://llm.test", **common)
        async for _ in src:
            pass
    assert src.turn is not None
    return src.turn  # type: ignore[no-any-return]


async def sdk_view(name: str, pieces: list[bytes]) -> dict[str, Any]:
    kind = protocol(name)
    if kind == "chat":
        return await _chat_sdk(pieces)
    if kind == "responses":
        return await _responses_sdk(pieces)
    return await _anthropic_sdk(pieces)


async def _chat_sdk(pieces: list[bytes]) -> dict[str, Any]:
    import openai
    from openai.lib.streaming.chat import ChatCompletionStreamState

    async with client_for(pieces) as http:
        client = openai.AsyncOpenAI(base_url="http://llm.test/v1", api_key="k", http_client=http)
        stream = await client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "go"}], stream=True
        )
        state: Any = ChatCompletionStreamState()
        with warnings.catch_warnings():  # list-valued content is not in the SDK's types
            warnings.simplefilter("ignore")
            async for chunk in stream:
                state.handle_chunk(chunk)
    choice = state.current_completion_snapshot.choices[0]
    message = choice.message
    extra = message.model_extra or {}
    content = message.content
    text, reasoning = content or "", extra.get("reasoning_content") or extra.get("reasoning") or ""
    stop = choice.finish_reason
    return {
        "text": text,
        "stop_reason": "refusal" if message.refusal is not None and stop == "stop" else stop,
        "refusal": message.refusal,
        "reasoning": reasoning,
        "tool_calls": [
            [c.id, c.function.name, json.loads(c.function.arguments)]
            for c in message.tool_calls or ()
        ],
        "blocks": [],
    }


async def _responses_sdk(pieces: list[bytes]) -> dict[str, Any]:
    import openai

    async with client_for(pieces) as http:
        client = openai.AsyncOpenAI(base_url="http://llm.test/v1", api_key="k", http_client=http)
        stream = await client.responses.create(model="m", input="go", stream=True)
        final: Any = None
        async for event in stream:
            if event.type in ("response.completed", "response.incomplete", "response.failed"):
                final = event.response
    refusals = [
        c.refusal
        for item in final.output
        if item.type == "message"
        for c in item.content
        if c.type == "refusal"
    ]
    stop = final.status
    if stop == "incomplete":
        stop = final.incomplete_details.reason
    return {
        "text": final.output_text,
        "stop_reason": "refusal" if refusals and stop == "completed" else stop,
        "refusal": "".join(refusals) if refusals else None,
        "reasoning": "".join(
            s.text for item in final.output if item.type == "reasoning" for s in item.summary
        ),
        "tool_calls": [
            [i.call_id, i.name, json.loads(i.arguments)]
            for i in final.output
            if i.type == "function_call"
        ],
        "blocks": [
            [item.type, n]
            for n, item in enumerate(final.output)
            if item.type not in ("message", "reasoning", "function_call", "custom_tool_call")
        ],
    }


async def _anthropic_sdk(pieces: list[bytes]) -> dict[str, Any]:
    import anthropic
    import httpx2

    async with client_for(pieces, httpx2) as http:
        client = anthropic.AsyncAnthropic(base_url="http://llm.test", api_key="k", http_client=http)
        async with client.beta.messages.stream(
            model="m", max_tokens=100, messages=[{"role": "user", "content": "go"}]
        ) as stream:
            snapshot: Any = await stream.get_final_message()
    blocks = list(snapshot.content)
    stop = snapshot.stop_reason
    return {
        "text": "".join(b.text for b in blocks if b.type == "text"),
        "stop_reason": stop,
        "refusal": "" if stop == "refusal" else None,
        "reasoning": "".join(b.thinking for b in blocks if b.type == "thinking"),
        "tool_calls": [[b.id, b.name, b.input] for b in blocks if b.type == "tool_use"],
        "blocks": [
            [b.type, n]
            for n, b in enumerate(blocks)
            if b.type not in ("text", "thinking", "tool_use")
        ],
    }


def _without_events(v: dict[str, Any]) -> dict[str, Any]:
    """SDKs drop event types they do not know; Eager keeps them (index None)."""
    return {**v, "blocks": [b for b in v["blocks"] if b[1] is not None]}


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("seed", [0, 1, 2])
async def test_the_sources_read_what_the_official_sdk_accumulates(name: str, seed: int) -> None:
    rng = random.Random(f"{name}-{seed}")
    data = raw(name)
    pieces = split(data, [rng.randrange(len(data)) for _ in range(rng.randrange(1, 80))])
    ours = view(await eager_turn(name, pieces))
    assert ours == expected_view(name)
    if name not in NO_SDK_REFERENCE:
        assert _without_events(ours) == await sdk_view(name, pieces)


#: Streams the official SDK cannot be the reference for (the expected turn still is).
NO_SDK_REFERENCE = {
    # openai's chat accumulator concatenates strings only: list-valued content is lost
    # (Mistral's own SDK reads it); the expected JSON says what the parts hold.
    "chat_mistral_magistral_thinking",
}


# --- shapes some gateways send -------------------------------------------------------------


def _events(name: str, objs: list[dict[str, Any]]) -> bytes:
    from eager.sources._sse import encode_event

    return b"".join(encode_event(o, event=o["type"]) for o in objs)


def test_an_anthropic_tool_use_given_whole_at_its_start_is_the_call() -> None:
    start = {"type": "message_start", "message": {"usage": {"input_tokens": 1}}}
    block = {"type": "tool_use", "id": "toolu_1", "name": "python", "input": {"code": "x = 1"}}
    data = _events(
        "anthropic",
        [
            start,
            {"type": "content_block_start", "index": 0, "content_block": block},
            {"type": "content_block_stop", "index": 0},
            {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {}},
            {"type": "message_stop"},
        ],
    )
    turn, texts = decode("anthropic_x", [data], tool=True)
    assert [(c.id, json.loads(c.arguments)) for c in turn.tool_calls] == [
        ("toolu_1", {"code": "x = 1"})
    ]
    assert json.loads("".join(texts)) == {"code": "x = 1"}


def test_responses_arguments_given_only_at_the_items_end_are_the_calls() -> None:
    item = {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "python"}
    args = json.dumps({"code": "print(1)"})
    done = {**item, "arguments": args, "status": "completed"}
    response = {"status": "completed", "output": [done], "usage": None}
    objs = [
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {**item, "arguments": ""},
        },
        {"type": "response.output_item.done", "output_index": 0, "item": done},
        {"type": "response.completed", "response": response},
    ]
    turn, texts = decode("responses_x", [_events("responses", objs)], tool=True)
    assert [c.arguments for c in turn.tool_calls] == [args] and "".join(texts) == args
    # Streamed as deltas too: the restatement at the end adds nothing.
    delta = {"type": "response.function_call_arguments.delta", "output_index": 0, "delta": args}
    turn, texts = decode("responses_x", [_events("responses", [objs[0], delta, *objs[1:]])])
    assert [c.arguments for c in turn.tool_calls] == [args]
