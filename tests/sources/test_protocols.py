"""The three protocol sources over real HTTP: a loopback server plays official event streams."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from eager import (
    AnthropicSource,
    EndpointError,
    HTTPSource,
    OpenAIResponsesSource,
    OpenAISource,
    SourceError,
    StreamError,
)

from ._wire import (
    Event,
    Reply,
    WireServer,
    anthropic_events,
    chat_events,
    drain,
    json_pieces,
    responses_events,
)

CODE = "".join(f"x{i} = {i} * 2\nprint(x{i})\n" for i in range(8))
ARGS = json_pieces({"code": CODE}, 6)
TEXT = ["Here", " it", " is:\n", "```python\n", "x = 1\n", "```\n"]
FAST = {"retries": 0, "backoff_s": 0.0}


@dataclass(frozen=True)
class Protocol:
    """One protocol under test: its path, source factory and stream builders."""

    name: str
    path: str
    make: Callable[..., HTTPSource]
    events: Callable[..., list[Event]]
    end_event: str
    cut_tail: int  # events after the last tool delta (drop them: a stream cut inside the call)


def _chat(url: str, **kw: Any) -> HTTPSource:
    return OpenAISource(base_url=url + "/v1", model="m", prompt="write it", **kw)


def _responses(url: str, **kw: Any) -> HTTPSource:
    return OpenAIResponsesSource(base_url=url + "/v1", model="m", prompt="write it", **kw)


def _anthropic(url: str, **kw: Any) -> HTTPSource:
    return AnthropicSource(base_url=url, model="m", prompt="write it", **kw)


PROTOCOLS = [
    Protocol("chat", "/v1/chat/completions", _chat, chat_events, "[DONE]", 3),
    Protocol("responses", "/v1/responses", _responses, responses_events, "response.completed", 3),
    Protocol("anthropic", "/v1/messages", _anthropic, anthropic_events, "message_stop", 3),
]


@pytest.fixture(params=PROTOCOLS, ids=lambda p: p.name)
def proto(request: pytest.FixtureRequest) -> Protocol:
    return request.param  # type: ignore[no-any-return]


async def test_a_text_answer_streams_delta_by_delta_with_turn_and_usage(proto: Protocol) -> None:
    async with WireServer({proto.path: Reply(proto.events(text=TEXT))}) as srv:
        src = proto.make(srv.url)
        got, error = await drain(src)
    assert error is None and got == TEXT
    turn = src.turn
    assert turn is not None and turn.text == "".join(TEXT) and turn.tool_calls == ()
    assert turn.usage is not None and turn.usage["output_tokens"] == 11
    assert src.tokens_generated == src.tokens_total == 11
    assert src.finish_reason == turn.stop_reason is not None


async def test_a_code_tool_call_streams_its_json_arguments(proto: Protocol) -> None:
    events = proto.events(text=["Running it."], call=ARGS)
    async with WireServer({proto.path: Reply(events)}) as srv:
        src = proto.make(srv.url, format="tool")
        got, error = await drain(src)
    assert error is None and got == ARGS and src.format == "tool"
    assert src.turn is not None
    (call,) = src.turn.tool_calls
    assert call.name == "python" and call.id and json.loads(call.arguments) == {"code": CODE}
    assert src.content == "Running it."


async def test_a_stream_that_ends_inside_the_tool_call_is_a_clear_error_keeping_it(
    proto: Protocol,
) -> None:
    events = proto.events(call=ARGS)[: -proto.cut_tail]
    async with WireServer({proto.path: Reply(events)}) as srv:
        src = proto.make(srv.url, format="tool")
        got, error = await drain(src)
    assert isinstance(error, StreamError)
    assert f"without {proto.end_event}" in str(error) and "inside tool call 'python'" in str(error)
    assert got == ARGS  # nothing computed is lost
    assert src.turn is not None and src.turn.tool_calls[0].arguments == "".join(ARGS)


async def test_a_malformed_event_after_tokens_is_a_stream_error_keeping_them(
    proto: Protocol,
) -> None:
    events = proto.events(text=TEXT)
    bad = (events[0][0], "{not json")
    events = [*events[:-3], bad, *events[-3:]]
    async with WireServer({proto.path: Reply(events)}) as srv:
        got, error = await drain(proto.make(srv.url))
    assert isinstance(error, StreamError) and "malformed event JSON" in str(error)
    assert got == TEXT


async def test_a_cut_connection_after_tokens_is_not_retried(proto: Protocol) -> None:
    events = proto.events(text=TEXT)[:-3]
    async with WireServer({proto.path: Reply(events, cut=True)}) as srv:
        src = proto.make(srv.url, retries=3, backoff_s=0.0)
        got, error = await drain(src)
    assert isinstance(error, StreamError) and "broke after" in str(error)
    assert got == TEXT and src.attempts == 1 and len(srv.requests) == 1


@pytest.mark.parametrize("status", [429, 503, 529])
async def test_overload_before_the_first_token_is_retried(proto: Protocol, status: int) -> None:
    busy = Reply(status=status, body={"error": {"message": "busy"}}, headers={"retry-after": "0"})
    async with WireServer({proto.path: [busy, Reply(proto.events(text=TEXT))]}) as srv:
        src = proto.make(srv.url, retries=2, backoff_s=0.0)
        got, error = await drain(src)
    assert error is None and got == TEXT and src.attempts == 2


@pytest.mark.parametrize(
    ("status", "words"), [(401, "API key"), (403, "not allowed"), (404, "model name")]
)
async def test_http_errors_are_endpoint_errors_with_a_hint(
    proto: Protocol, status: int, words: str
) -> None:
    body = {"type": "error", "error": {"type": "x_error", "message": "nope"}}
    async with WireServer({proto.path: Reply(status=status, body=body)}) as srv:
        src = proto.make(srv.url, retries=3)
        got, error = await drain(src)
    assert isinstance(error, EndpointError) and error.status == status
    assert "nope" in str(error) and words in str(error) and src.attempts == 1 and got == []


async def test_aclose_closes_the_connection_and_the_server_sees_it(proto: Protocol) -> None:
    events = proto.events(text=TEXT)
    async with WireServer({proto.path: Reply(events, stall_after=len(events) - 4)}) as srv:
        src = proto.make(srv.url)
        stream = src.stream()
        first = await anext(stream)
        await asyncio.wait_for(srv.stalled.wait(), 10)
        await src.aclose()
        await asyncio.wait_for(srv.disconnected.wait(), 10)
        await stream.aclose()
    assert first == TEXT[0] and src.cancelled
    assert src.turn is not None and src.turn.text.startswith(TEXT[0])
    assert src.turn.stop_reason is None  # cancelled: the stream did not say


async def test_cancelling_the_reading_task_closes_the_connection(proto: Protocol) -> None:
    events = proto.events(text=TEXT)
    async with WireServer({proto.path: Reply(events, stall_after=len(events) - 4)}) as srv:
        src = proto.make(srv.url)
        got: list[str] = []

        async def read() -> None:
            async for delta in src:
                got.append(delta)

        task = asyncio.create_task(read())
        await asyncio.wait_for(srv.stalled.wait(), 10)
        task.cancel()
        await asyncio.wait_for(srv.disconnected.wait(), 10)
        with pytest.raises(asyncio.CancelledError):
            await task


# --- protocol specifics ------------------------------------------------------------------------


async def test_responses_request_headers_and_body() -> None:
    async with WireServer({"/v1/responses": Reply(responses_events(call=ARGS))}) as srv:
        src = OpenAIResponsesSource(
            base_url=srv.url + "/v1/",
            model="gpt-x",
            input=[{"role": "user", "content": "hi"}],
            system="be brief",
            api_key="sk-1",
            format="tool",
            max_tokens=50,
        )
        await drain(src)
    (req,) = srv.requests
    assert req["headers"]["authorization"] == "Bearer sk-1"
    body = req["json"]
    assert (
        body["stream"] is True and body["model"] == "gpt-x" and body["instructions"] == "be brief"
    )
    assert body["input"] == [{"role": "user", "content": "hi"}] and body["max_output_tokens"] == 50
    assert body["tools"][0]["type"] == "function" and body["tools"][0]["name"] == "python"
    assert body["tool_choice"] == {"type": "function", "name": "python"}


async def test_responses_custom_tool_input_is_bare_code() -> None:
    pieces = [CODE[i : i + 7] for i in range(0, len(CODE), 7)]
    events = responses_events(call=pieces, kind="custom")
    async with WireServer({"/v1/responses": Reply(events)}) as srv:
        src = _responses(srv.url, format="tool", tool_type="custom")
        got, error = await drain(src)
    assert error is None and "".join(got) == CODE and src.format == "code"
    assert srv.requests[0]["json"]["tools"][0]["type"] == "custom"
    assert src.turn is not None and src.turn.tool_calls[0].kind == "custom"


async def test_responses_incomplete_is_reported_not_raised() -> None:
    events = responses_events(text=TEXT, end="incomplete")
    async with WireServer({"/v1/responses": Reply(events)}) as srv:
        src = _responses(srv.url)
        got, error = await drain(src)
    assert error is None and got == TEXT and src.finish_reason == "max_output_tokens"


@pytest.mark.parametrize(("end", "words"), [("failed", "the model broke down"), ("error", "slow")])
async def test_responses_failed_and_error_events_keep_the_text(end: str, words: str) -> None:
    events = responses_events(text=TEXT, end=end)
    async with WireServer({"/v1/responses": Reply(events)}) as srv:
        src = _responses(srv.url)
        got, error = await drain(src)
    assert isinstance(error, StreamError) and words in str(error) and got == TEXT
    assert src.turn is not None and src.turn.text == "".join(TEXT)


async def test_anthropic_request_headers_and_body() -> None:
    async with WireServer({"/v1/messages": Reply(anthropic_events(call=ARGS))}) as srv:
        src = AnthropicSource(
            base_url=srv.url + "/v1",  # an API root with /v1 works too
            model="claude-x",
            messages=[{"role": "user", "content": "hi"}],
            system="be brief",
            api_key="sk-ant",
            format="tool",
        )
        await drain(src)
    (req,) = srv.requests
    headers = req["headers"]
    assert headers["x-api-key"] == "sk-ant" and headers["anthropic-version"] == "2023-06-01"
    assert headers["content-type"] == "application/json" and "authorization" not in headers
    body = req["json"]
    assert body["max_tokens"] == 4096 and body["system"] == "be brief" and body["stream"] is True
    assert body["tools"][0]["input_schema"]["required"] == ["code"]
    assert body["tool_choice"] == {"type": "tool", "name": "python"}


@pytest.mark.parametrize("reason", ["max_tokens", "refusal", "pause_turn", "brand_new_reason"])
async def test_anthropic_stop_reasons_are_reported(reason: str) -> None:
    events = anthropic_events(text=TEXT, stop_reason=reason)
    async with WireServer({"/v1/messages": Reply(events)}) as srv:
        src = _anthropic(srv.url)
        got, error = await drain(src)
    assert error is None and got == TEXT
    assert src.finish_reason == reason and src.turn is not None and src.turn.stop_reason == reason


async def test_anthropic_error_event_mid_stream_keeps_the_text() -> None:
    events = anthropic_events(text=TEXT)[:-2]
    events.append(
        ("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    )
    async with WireServer({"/v1/messages": Reply(events)}) as srv:
        src = _anthropic(srv.url, **FAST)
        got, error = await drain(src)
    assert isinstance(error, StreamError) and "overloaded_error: Overloaded" in str(error)
    assert got == TEXT


async def test_an_unreachable_endpoint_is_a_clear_source_error(proto: Protocol) -> None:
    async with WireServer({}) as srv:
        url = srv.url
    src = proto.make(url, **FAST)
    got, error = await drain(src)
    assert isinstance(error, SourceError) and "cannot reach" in str(error) and got == []


async def test_chat_system_and_history_and_tools_reach_the_request() -> None:
    tools = [{"type": "function", "function": {"name": "python", "parameters": {}}}]
    async with WireServer({"/v1/chat/completions": Reply(chat_events(call=ARGS))}) as srv:
        src = OpenAISource(
            base_url=srv.url + "/v1",
            model="m",
            system="be brief",
            messages=[{"role": "user", "content": "hi"}],
            tools=tools,
            format="tool",
        )
        got, error = await drain(src)
    assert error is None and got == ARGS
    body = srv.requests[0]["json"]
    assert body["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hi"},
    ]
    assert body["tools"] == tools and "tool_choice" not in body
    assert src.turn is not None and src.turn.tool_calls[0].id == "call_1"
    assert src.turn.stop_reason == "tool_calls"
