"""The official openai (Responses) and anthropic SDKs, pointed at a loopback server, as sources."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from eager import (
    AnthropicSDKSource,
    EndpointError,
    OpenAIResponsesSDKSource,
    StreamError,
    UsageError,
)

from ._wire import (
    Reply,
    WireServer,
    anthropic_events,
    drain,
    json_pieces,
    openai_client,
    responses_events,
)

CODE = "".join(f"y{i} = {i}\nprint(y{i})\n" for i in range(6))
ARGS = json_pieces({"code": CODE}, 5)
TEXT = ["Sure", ",", " here", ":\n", "```python\nx = 1\n```\n"]
PY_TOOL = {"type": "function", "name": "python", "parameters": {"type": "object"}}


def anthropic_client(srv: WireServer, *, sync: bool = False) -> Any:
    import anthropic

    cls = anthropic.Anthropic if sync else anthropic.AsyncAnthropic
    return cls(base_url=srv.url, api_key="k", max_retries=0)


ANTHROPIC_ARGS: dict[str, Any] = {
    "model": "m",
    "max_tokens": 100,
    "messages": [{"role": "user", "content": "write it"}],
}


# --- openai Responses --------------------------------------------------------------------------


async def test_an_async_responses_stream_of_the_sdk_is_a_source() -> None:
    async with (
        WireServer({"/v1/responses": Reply(responses_events(text=TEXT))}) as srv,
        openai_client(srv.url + "/v1") as client,
    ):
        stream = await client.responses.create(model="m", input="write it", stream=True)
        src = OpenAIResponsesSDKSource(stream)
        got, error = await drain(src)
    assert error is None and got == TEXT
    assert src.turn is not None and src.turn.stop_reason == "completed"
    assert src.tokens_generated == 11  # from the usage of response.completed


async def test_the_responses_stream_manager_of_the_sdk_is_a_source() -> None:
    events = responses_events(text=["Running."], call=ARGS)
    async with (
        WireServer({"/v1/responses": Reply(events)}) as srv,
        openai_client(srv.url + "/v1") as client,
        client.responses.stream(model="m", input="x", tools=[PY_TOOL]) as stream,
    ):
        src = OpenAIResponsesSDKSource(stream, format="tool", tool_name="python")
        got, error = await drain(src)
    assert error is None and json.loads("".join(got)) == {"code": CODE}
    assert src.turn is not None and src.turn.tool_calls[0].id == "call_1"


async def test_a_sync_responses_custom_tool_stream_is_read_in_a_thread() -> None:
    pieces = [CODE[i : i + 4] for i in range(0, len(CODE), 4)]
    events = responses_events(call=pieces, kind="custom")
    async with WireServer({"/v1/responses": Reply(events)}) as srv:
        with openai_client(srv.url + "/v1", sync=True) as client:
            stream = await asyncio.to_thread(
                client.responses.create, model="m", input="x", stream=True
            )
            src = OpenAIResponsesSDKSource(stream, format="tool", tool_type="custom")
            got, error = await drain(src)
    assert error is None and "".join(got) == CODE and src.format == "code"


async def test_a_failed_response_through_the_sdk_keeps_the_text() -> None:
    events = responses_events(text=TEXT, end="failed")
    async with (
        WireServer({"/v1/responses": Reply(events)}) as srv,
        openai_client(srv.url + "/v1") as client,
    ):
        stream = await client.responses.create(model="m", input="x", stream=True)
        got, error = await drain(OpenAIResponsesSDKSource(stream))
    assert isinstance(error, StreamError) and "broke down" in str(error) and got == TEXT


# --- anthropic ---------------------------------------------------------------------------------


async def test_an_async_anthropic_raw_stream_is_a_source() -> None:
    events = anthropic_events(text=TEXT, stop_reason="max_tokens")
    async with WireServer({"/v1/messages": Reply(events)}) as srv, anthropic_client(srv) as client:
        stream = await client.messages.create(**ANTHROPIC_ARGS, stream=True)
        src = AnthropicSDKSource(stream)
        got, error = await drain(src)
    assert error is None and got == TEXT and src.finish_reason == "max_tokens"
    headers = srv.requests[0]["headers"]
    assert headers["anthropic-version"]  # SDK 2.x sends a newer date than 2023-06-01
    # SDK 2.x sends the key as a bearer token; AnthropicSource sends x-api-key (the API's own).
    assert headers.get("x-api-key") == "k" or headers.get("authorization") == "Bearer k"


async def test_the_anthropic_message_stream_helper_is_a_source() -> None:
    events = anthropic_events(text=["Running."], call=ARGS)
    async with (
        WireServer({"/v1/messages": Reply(events)}) as srv,
        anthropic_client(srv) as client,
        client.messages.stream(**ANTHROPIC_ARGS) as stream,
    ):
        src = AnthropicSDKSource(stream, format="tool", tool_name="python")
        got, error = await drain(src)
    assert error is None and got == ARGS  # the derived input_json events are not doubled
    assert src.turn is not None and src.turn.text == "Running."
    assert src.turn.tool_calls[0].name == "python" and src.turn.stop_reason == "tool_use"


async def test_a_sync_anthropic_stream_is_read_in_a_thread() -> None:
    async with WireServer({"/v1/messages": Reply(anthropic_events(call=ARGS))}) as srv:
        with anthropic_client(srv, sync=True) as client:
            stream = await asyncio.to_thread(client.messages.create, **ANTHROPIC_ARGS, stream=True)
            src = AnthropicSDKSource(stream, format="tool")
            got, error = await drain(src)
    assert error is None and json.loads("".join(got)) == {"code": CODE}


async def test_an_anthropic_stream_cut_inside_the_tool_call_is_a_clear_error() -> None:
    events = anthropic_events(call=ARGS)[:-3]
    async with WireServer({"/v1/messages": Reply(events)}) as srv, anthropic_client(srv) as client:
        stream = await client.messages.create(**ANTHROPIC_ARGS, stream=True)
        got, error = await drain(AnthropicSDKSource(stream, format="tool"))
    assert isinstance(error, StreamError) and "inside tool call 'python'" in str(error)
    assert got == ARGS


async def test_anthropic_sdk_http_errors_are_endpoint_errors() -> None:
    body = {"type": "error", "error": {"type": "authentication_error", "message": "bad key"}}
    async with (
        WireServer({"/v1/messages": Reply(status=401, body=body)}) as srv,
        anthropic_client(srv) as client,
    ):
        src = AnthropicSDKSource(_lazy(client.messages.create(**ANTHROPIC_ARGS, stream=True)))
        _, error = await drain(src)
    assert isinstance(error, EndpointError) and error.status == 401 and "bad key" in str(error)


async def _lazy(request: Any) -> Any:
    """The SDK raises HTTP errors when the request is made: make it inside the stream."""
    stream = await request
    async for event in stream:
        yield event


# --- cancellation closes the connection, for both SDKs, sync and async --------------------------


@pytest.mark.parametrize("sync", [False, True], ids=["async", "sync"])
@pytest.mark.parametrize("sdk", ["openai", "anthropic"])
async def test_closing_an_sdk_source_closes_the_connection(sdk: str, sync: bool) -> None:
    if sdk == "openai":
        path, events = "/v1/responses", responses_events(text=TEXT)
    else:
        path, events = "/v1/messages", anthropic_events(text=TEXT)
    async with WireServer({path: Reply(events, stall_after=len(events) - 4)}) as srv:
        client = (
            openai_client(srv.url + "/v1", sync=sync)
            if sdk == "openai"
            else anthropic_client(srv, sync=sync)
        )
        if sdk == "openai":
            call: Any = client.responses.create
            kwargs: dict[str, Any] = {"model": "m", "input": "x", "stream": True}
        else:
            call, kwargs = client.messages.create, {**ANTHROPIC_ARGS, "stream": True}
        stream = await (asyncio.to_thread(call, **kwargs) if sync else call(**kwargs))
        src = OpenAIResponsesSDKSource(stream) if sdk == "openai" else AnthropicSDKSource(stream)
        it = src.stream()
        assert await anext(it) == TEXT[0]
        await asyncio.wait_for(srv.stalled.wait(), 10)
        await src.aclose()
        await asyncio.wait_for(srv.disconnected.wait(), 10)
        await it.aclose()
        if sync:
            client.close()
        else:
            await client.close()
    assert src.turn is not None and src.turn.text.startswith(TEXT[0])


def test_the_sdk_adapters_reject_what_is_not_a_stream() -> None:
    for cls in (OpenAIResponsesSDKSource, AnthropicSDKSource):
        with pytest.raises(UsageError, match="Stream"):
            cls(42)
