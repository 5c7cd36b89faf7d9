"""The official openai and anthropic SDKs pointed at the replay server, over real HTTP on loopback.

Every event and whole body is also validated against the SDKs' own pydantic types (which the
SDKs themselves only construct, without validation), so the shapes are the official ones.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import httpx
import openai
import pytest
from anthropic.types import Message, RawMessageStreamEvent
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import BaseModel, TypeAdapter

from eager import Answer, ReplayServer, tokenize

CODE = "import math\nprint(math.pi)\nfor i in range(3):\n    print(i)\n"
CHAT = f"Sure, here:\n\n```python\n{CODE}```\nThat prints pi, then 0 to 2. Ünïcode ✓.\n"
ANSWERS = {"chat": Answer("chat", CHAT, "chat"), "code": Answer("code", CODE, "code")}
KEY = "s3cret"
FUNCTION = {
    "type": "function",
    "name": "exec",
    "parameters": {
        "type": "object",
        "properties": {"src": {"type": "string"}},
        "required": ["src"],
    },
}
CUSTOM = {"type": "custom", "name": "python", "description": "runs Python"}
ANTHROPIC_TOOL = {
    "name": "run_python",
    "description": "runs Python",
    "input_schema": {"type": "object", "properties": {"code": {"type": "string"}}},
}
RESPONSE_EVENT: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)
MESSAGE_EVENT: TypeAdapter[Any] = TypeAdapter(RawMessageStreamEvent)


def exact(adapter: TypeAdapter[Any] | type[BaseModel], obj: BaseModel) -> None:
    """``obj`` (as the SDK parsed it) validates as the SDK's type, and every field it carries,
    at every depth, is one the type declares (the SDK models accept unknown fields silently)."""
    data = obj.model_dump(exclude_unset=True)
    model = (
        adapter.validate_python(data)
        if isinstance(adapter, TypeAdapter)
        else adapter.model_validate(data)
    )
    _no_extra(model)


def _no_extra(value: object) -> None:
    if isinstance(value, BaseModel):
        assert not value.model_extra, f"{type(value).__name__}: unknown fields {value.model_extra}"
        for name in type(value).model_fields:
            _no_extra(getattr(value, name))
    elif isinstance(value, list | tuple):
        for item in value:
            _no_extra(item)


@pytest.fixture
async def server() -> AsyncIterator[ReplayServer]:
    async with ReplayServer(ANSWERS, tps=4000, ttft_s=0.0, token=KEY) as srv:
        yield srv


#: Every SDK client a test makes, closed after it.
_OPEN: list[openai.AsyncOpenAI | anthropic.AsyncAnthropic] = []


@pytest.fixture(autouse=True)
async def _close_clients() -> AsyncIterator[None]:
    yield
    while _OPEN:
        await _OPEN.pop().close()


def oai(srv: ReplayServer, api_key: str = KEY, **kw: Any) -> openai.AsyncOpenAI:
    http = httpx.AsyncClient(trust_env=False)
    client = openai.AsyncOpenAI(base_url=srv.base_url, api_key=api_key, http_client=http, **kw)
    _OPEN.append(client)
    return client


def ant(srv: ReplayServer, api_key: str = KEY, **kw: Any) -> anthropic.AsyncAnthropic:
    http = anthropic.DefaultAsyncHttpxClient(trust_env=False)  # the SDK's own httpx (httpx2)
    client = anthropic.AsyncAnthropic(
        base_url=srv.root_url, api_key=api_key, http_client=http, **kw
    )
    _OPEN.append(client)
    return client


USER = [{"role": "user", "content": "print pi"}]


# --- Chat Completions ---------------------------------------------------------------------------


async def test_chat_streams_the_answer_exactly_through_the_async_sdk(server: ReplayServer) -> None:
    client = oai(server)
    stream = await client.chat.completions.create(
        model="chat", messages=USER, stream=True, stream_options={"include_usage": True}
    )
    chunks = [c async for c in stream]
    for c in chunks:
        exact(ChatCompletionChunk, c)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == CHAT
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == len(tokenize(CHAT))
    whole = await client.chat.completions.create(model="chat", messages=USER)
    exact(ChatCompletion, whole)
    assert whole.choices[0].message.content == CHAT


def test_chat_streams_the_answer_exactly_through_the_sync_sdk() -> None:
    async def main() -> None:
        async with ReplayServer(ANSWERS, tps=4000, ttft_s=0.0, token=KEY) as srv:
            await asyncio.to_thread(sync_chat, srv.base_url)

    def sync_chat(url: str) -> None:
        with openai.OpenAI(
            base_url=url, api_key=KEY, http_client=httpx.Client(trust_env=False)
        ) as client:
            stream = client.chat.completions.create(
                model="chat",
                messages=USER,
                stream=True,
                tools=[
                    {
                        "type": "function",
                        "function": {k: FUNCTION[k] for k in ("name", "parameters")},
                    }
                ],
            )
            calls = [c.choices[0].delta.tool_calls for c in stream if c.choices]
            args = "".join(tc[0].function.arguments or "" for tc in calls if tc and tc[0].function)
            assert json.loads(args) == {"src": CODE}

    asyncio.run(main())


# --- Responses ----------------------------------------------------------------------------------


async def test_responses_stream_the_answer_exactly_with_the_official_event_shapes(
    server: ReplayServer,
) -> None:
    client = oai(server)
    stream = await client.responses.create(model="chat", input="print pi", stream=True)
    events = [e async for e in stream]
    for e in events:
        exact(RESPONSE_EVENT, e)
    types = [e.type for e in events]
    assert types[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert types[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert "".join(deltas) == CHAT and len(deltas) == len(tokenize(CHAT))
    final = events[-1]
    assert final.type == "response.completed"
    assert final.response.output_text == CHAT
    assert final.response.usage is not None
    assert final.response.usage.output_tokens == len(deltas)


async def test_the_responses_helper_and_the_whole_response_give_the_answer(
    server: ReplayServer,
) -> None:
    client = oai(server)
    async with client.responses.stream(model="chat", input="print pi") as stream:
        text = "".join([e.delta async for e in stream if e.type == "response.output_text.delta"])
        final = await stream.get_final_response()
    assert text == final.output_text == CHAT
    whole = await client.responses.create(model="chat", input="print pi")
    exact(Response, whole)
    assert whole.output_text == CHAT and whole.status == "completed"


async def test_a_responses_function_tool_gets_a_call_whose_json_arguments_stream(
    server: ReplayServer,
) -> None:
    client = oai(server)
    stream = await client.responses.create(
        model="chat",
        input="print pi",
        tools=[FUNCTION],
        stream=True,
    )
    events = [e async for e in stream]
    for e in events:
        exact(RESPONSE_EVENT, e)
    deltas = [e.delta for e in events if e.type == "response.function_call_arguments.delta"]
    assert json.loads("".join(deltas)) == {"src": CODE}  # the chat answer's fenced code
    (added,) = [e for e in events if e.type == "response.output_item.added"]
    assert added.item.type == "function_call" and added.item.name == "exec"
    final = events[-1]
    assert final.type == "response.completed"
    (item,) = final.response.output
    assert item.type == "function_call" and json.loads(item.arguments) == {"src": CODE}


async def test_a_responses_custom_tool_gets_the_raw_code(server: ReplayServer) -> None:
    client = oai(server)
    stream = await client.responses.create(
        model="chat",
        input="print pi",
        tools=[CUSTOM],
        stream=True,
    )
    events = [e async for e in stream]
    for e in events:
        exact(RESPONSE_EVENT, e)
    deltas = [e.delta for e in events if e.type == "response.custom_tool_call_input.delta"]
    assert "".join(deltas) == CODE
    (done,) = [e for e in events if e.type == "response.custom_tool_call_input.done"]
    assert done.input == CODE
    whole = await client.responses.create(
        model="chat",
        input="print pi",
        tools=[CUSTOM],
    )
    (item,) = whole.output
    assert item.type == "custom_tool_call" and item.input == CODE and item.name == "python"


def test_responses_stream_through_the_sync_sdk() -> None:
    async def main() -> None:
        async with ReplayServer(ANSWERS, tps=4000, ttft_s=0.0) as srv:
            await asyncio.to_thread(sync_responses, srv.base_url)

    def sync_responses(url: str) -> None:
        with (
            openai.OpenAI(
                base_url=url, api_key="x", http_client=httpx.Client(trust_env=False)
            ) as c,
            c.responses.stream(model="code", input="x") as stream,
        ):
            text = "".join(e.delta for e in stream if e.type == "response.output_text.delta")
            assert text == stream.get_final_response().output_text == CODE

    asyncio.run(main())


# --- Anthropic Messages -------------------------------------------------------------------------


async def test_anthropic_streams_the_answer_exactly_with_the_official_event_shapes(
    server: ReplayServer,
) -> None:
    client = ant(server)
    async with client.messages.stream(model="chat", max_tokens=1024, messages=USER) as stream:
        text = "".join([t async for t in stream.text_stream])
        final = await stream.get_final_message()
    assert text == CHAT
    assert final.content[0].type == "text" and final.content[0].text == CHAT
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == len(tokenize(CHAT))
    raw = await client.messages.create(model="chat", max_tokens=1024, messages=USER, stream=True)
    events = [e async for e in raw]
    for e in events:
        exact(MESSAGE_EVENT, e)
    types = [e.type for e in events]
    assert types[:2] == ["message_start", "content_block_start"]
    assert types[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    whole = await client.messages.create(model="chat", max_tokens=1024, messages=USER)
    exact(Message, whole)
    assert whole.content[0].type == "text" and whole.content[0].text == CHAT


async def test_an_anthropic_tool_gets_a_tool_use_whose_json_input_streams(
    server: ReplayServer,
) -> None:
    client = ant(server)
    async with client.messages.stream(
        model="chat",
        max_tokens=1024,
        messages=USER,
        tools=[ANTHROPIC_TOOL],
    ) as stream:
        pieces = [
            e.delta.partial_json
            async for e in stream
            if e.type == "content_block_delta" and e.delta.type == "input_json_delta"
        ]
        final = await stream.get_final_message()
    assert json.loads("".join(pieces)) == {"code": CODE}
    (block,) = final.content
    assert block.type == "tool_use" and block.name == "run_python" and block.input == {"code": CODE}
    assert final.stop_reason == "tool_use"


def test_anthropic_streams_through_the_sync_sdk() -> None:
    async def main() -> None:
        async with ReplayServer(ANSWERS, tps=4000, ttft_s=0.0, token=KEY) as srv:
            await asyncio.to_thread(sync_messages, srv.root_url)

    def sync_messages(url: str) -> None:
        http = anthropic.DefaultHttpxClient(trust_env=False)
        with anthropic.Anthropic(base_url=url, api_key=KEY, http_client=http) as c:
            kw: Any = {"model": "code", "max_tokens": 100, "messages": USER}
            with c.messages.stream(**kw) as stream:
                assert "".join(stream.text_stream) == CODE

    asyncio.run(main())


async def test_a_wrong_key_is_a_401_in_each_protocols_shape(server: ReplayServer) -> None:
    with pytest.raises(openai.AuthenticationError):
        await oai(server, api_key="wrong", max_retries=0).responses.create(model="chat", input="x")
    bad = ant(server, api_key="wrong", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as info:
        await bad.messages.create(model="chat", max_tokens=10, messages=USER)
    assert info.value.body["error"]["type"] == "authentication_error"
    assert "x-api-key" in info.value.message


# --- disconnects and faults, every protocol -----------------------------------------------------


async def test_a_stream_closed_early_is_a_disconnect_in_the_log_for_every_protocol() -> None:
    async with ReplayServer(ANSWERS, tps=100, ttft_s=0.0) as srv:
        o = oai(srv)
        chat = await o.chat.completions.create(model="chat", messages=USER, stream=True)
        async for _ in chat:
            break
        await chat.close()
        resp = await o.responses.create(model="chat", input="x", stream=True)
        async for e in resp:
            if e.type == "response.output_text.delta":
                break
        await resp.close()
        async with ant(srv).messages.stream(model="chat", max_tokens=10, messages=USER) as ms:
            async for _ in ms.text_stream:
                break
        records = await srv.wait_records(3)
    assert [r["protocol"] for r in records] == ["chat", "responses", "anthropic"]
    for r in records:
        assert r["disconnected"] is True, r
        assert 0 < r["tokens_sent"] < r["tokens_total"], r


async def test_injected_statuses_are_retried_by_both_sdks(server: ReplayServer) -> None:
    whole = await oai(server, max_retries=2).responses.create(
        model="code@status=429x1,retry-after=0", input="x"
    )
    assert whole.output_text == CODE
    msg = await ant(server, max_retries=2).messages.create(
        model="code@status=529x1,retry-after=0",
        max_tokens=10,
        messages=USER,
    )
    assert msg.content[0].type == "text" and msg.content[0].text == CODE
    records = await server.wait_records(4)
    assert [(r["protocol"], r["status"]) for r in records] == [
        ("responses", 429),
        ("responses", 200),
        ("anthropic", 529),
        ("anthropic", 200),
    ]


async def test_an_error_event_reaches_the_anthropic_sdk_as_an_error(server: ReplayServer) -> None:
    client = ant(server, max_retries=0)
    got: list[str] = []
    with pytest.raises(anthropic.APIStatusError, match="injected server error"):
        async with client.messages.stream(
            model="chat@error-event=5",
            max_tokens=10,
            messages=USER,
        ) as stream:
            async for text in stream.text_stream:
                got.append(text)
    assert "".join(got) == "".join(tokenize(CHAT)[:5])


async def test_an_error_event_reaches_the_responses_sdk_as_an_error_event(
    server: ReplayServer,
) -> None:
    stream = await oai(server).responses.create(model="chat@error-event=5", input="x", stream=True)
    events = [e async for e in stream]
    assert events[-1].type == "error" and events[-1].message == "injected server error"
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert len(deltas) == 5


async def test_a_length_fault_ends_each_protocol_with_its_token_limit_stop(
    server: ReplayServer,
) -> None:
    head = "".join(tokenize(CHAT)[:5])
    chat = await oai(server).chat.completions.create(
        model="chat@length=5", messages=USER, stream=True
    )
    chunks = [c async for c in chat]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == head
    assert chunks[-1].choices[0].finish_reason == "length"
    resp = await oai(server).responses.create(model="chat@length=5", input="x", stream=True)
    events = [e async for e in resp]
    for e in events:
        exact(RESPONSE_EVENT, e)
    final = events[-1]
    assert final.type == "response.incomplete"
    assert final.response.status == "incomplete"
    assert final.response.incomplete_details is not None
    assert final.response.incomplete_details.reason == "max_output_tokens"
    assert final.response.output_text == head
    async with ant(server).messages.stream(
        model="chat@length=5", max_tokens=4096, messages=USER
    ) as stream:
        assert "".join([t async for t in stream.text_stream]) == head
        message = await stream.get_final_message()
    assert message.stop_reason == "max_tokens"


async def test_a_stop_reason_fault_reports_that_reason_verbatim(server: ReplayServer) -> None:
    whole = await ant(server).messages.create(
        model="code@stop-reason=refusal", max_tokens=10, messages=USER
    )
    assert whole.stop_reason == "refusal" and whole.content[0].type == "text"
    chat = await oai(server).chat.completions.create(
        model="code@stop-reason=something_new", messages=USER
    )
    assert chat.choices[0].finish_reason == "something_new"  # unknown: sent as it is
