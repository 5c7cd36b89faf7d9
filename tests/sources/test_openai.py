"""OpenAISource and OpenAISDKSource against the real replay server on a loopback port."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest

from eager import (
    Answer,
    EndpointError,
    ExtractionError,
    OpenAISDKSource,
    OpenAISource,
    ReplayServer,
    SourceError,
    SourceTimeoutError,
    StreamError,
    UsageError,
    tokenize,
)

from ._wire import openai_client

CODE = "".join(f"x{i} = {i} * 2\nprint(x{i})\n" for i in range(30))
CHAT = f"Here you go:\n\n```python\n{CODE}```\n\nThat prints sixty numbers.\n"
ANSWERS = {
    "code": Answer("code", CODE, "code"),
    "chat": Answer("chat", CHAT, "chat"),
}
FAST = {"retries": 0, "backoff_s": 0.0}


@pytest.fixture
async def server() -> AsyncIterator[ReplayServer]:
    async with ReplayServer(ANSWERS, tps=2000, ttft_s=0.0) as srv:
        yield srv


@pytest.fixture
async def slow_server() -> AsyncIterator[ReplayServer]:
    """Slow enough that a cancelled client leaves most of the answer unsent."""
    async with ReplayServer(ANSWERS, tps=100, ttft_s=0.0) as srv:
        yield srv


def source(srv: ReplayServer, model: str = "chat", **kw: Any) -> OpenAISource:
    return OpenAISource(base_url=srv.base_url, model=model, prompt="write it", **kw)


async def collect(src: Any) -> list[str]:
    return [delta async for delta in src]


# --- streams ---------------------------------------------------------------------------------


async def test_a_chat_answer_streams_as_it_is_token_by_token(server: ReplayServer) -> None:
    src = source(server)
    deltas = await collect(src)
    assert "".join(deltas) == CHAT
    assert deltas == tokenize(CHAT)
    assert src.tokens_generated == src.tokens_total == len(deltas)  # from the usage chunk
    assert src.finish_reason == "stop"
    (record,) = await server.wait_records(1)
    assert record["disconnected"] is False and record["tokens_sent"] == record["tokens_total"]


async def test_a_tool_call_streams_its_json_arguments_in_pieces(server: ReplayServer) -> None:
    src = source(server, "code", format="tool", tool_name="python", tool_argument="code")
    deltas = await collect(src)
    assert len(deltas) > 50
    assert json.loads("".join(deltas)) == {"code": CODE}
    assert src.format == "tool" and src.tool_argument == "code"
    (record,) = await server.wait_records(1)
    assert record["format"] == "tool"


async def test_the_tool_argument_name_is_configurable(server: ReplayServer) -> None:
    src = source(server, "chat", format="tool", tool_name="run", tool_argument="source")
    assert json.loads("".join(await collect(src))) == {"source": CODE}


async def test_a_model_that_answers_in_prose_instead_of_the_tool_is_an_error() -> None:
    async with ReplayServer(ANSWERS, tps=2000, format="chat") as srv:
        src = source(srv, format="tool")
        with pytest.raises(ExtractionError, match="did not call the tool 'python'"):
            await collect(src)


async def test_without_usage_the_deltas_are_counted(server: ReplayServer) -> None:
    src = source(server, extra_body={"stream_options": None})
    assert "stream_options" not in src.body
    deltas = await collect(src)
    assert src.tokens_generated == src.tokens_total == len(deltas)


async def test_request_fields_headers_and_key_reach_the_server() -> None:
    async with ReplayServer(ANSWERS, tps=2000, token="s3cret") as srv:
        src = source(
            srv,
            "code",
            api_key="s3cret",
            max_tokens=99,
            temperature=0.0,
            headers={"X-Eager-Fault": "no-done"},
            extra_body={"seed": 1},
        )
        assert src.body["max_tokens"] == 99 and src.body["seed"] == 1
        with pytest.raises(StreamError, match="without \\[DONE\\]"):
            await collect(src)  # the header arrived: the server misbehaved as told


# --- cancellation on the wire ----------------------------------------------------------------


async def test_aclose_closes_the_connection_and_the_server_stops(slow_server: ReplayServer) -> None:
    src = source(slow_server, "code")
    got = []
    async for delta in src:
        got.append(delta)
        if len(got) == 5:
            await src.aclose()
    assert len(got) == 5 and src.cancelled
    (record,) = await slow_server.wait_records(1)
    assert record["disconnected"] is True
    assert record["tokens_sent"] < record["tokens_total"] // 4
    # The replay server tells the answer's length in a header: known although cancelled.
    assert src.tokens_generated == 5 and src.tokens_total == record["tokens_total"]


async def test_cancelling_the_reading_task_closes_the_connection(
    slow_server: ReplayServer,
) -> None:
    src = source(slow_server, "code")
    five = asyncio.Event()

    async def read() -> None:
        n = 0
        async for _ in src:
            n += 1
            if n == 5:
                five.set()

    task = asyncio.create_task(read())
    await asyncio.wait_for(five.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    (record,) = await slow_server.wait_records(1)
    assert record["disconnected"] is True
    assert record["tokens_sent"] < record["tokens_total"] // 4


async def test_aclose_from_another_task_ends_the_iteration(slow_server: ReplayServer) -> None:
    src = source(slow_server, "code")
    first = asyncio.Event()

    async def read() -> list[str]:
        out = []
        async for d in src:
            out.append(d)
            first.set()
        return out

    task = asyncio.create_task(read())
    await asyncio.wait_for(first.wait(), 10)
    await src.aclose()
    got = await asyncio.wait_for(task, 10)
    assert 1 <= len(got) < len(tokenize(CODE))
    (record,) = await slow_server.wait_records(1)
    assert record["disconnected"] is True


async def test_a_source_is_iterated_once(server: ReplayServer) -> None:
    src = source(server, "code")
    await collect(src)
    with pytest.raises(UsageError):
        await collect(src)


# --- retries before the first token ----------------------------------------------------------


async def test_429_then_ok_is_retried_honouring_retry_after(server: ReplayServer) -> None:
    src = source(server, "code@status=429x2,retry-after=0", backoff_s=30.0)
    assert "".join(await collect(src)) == CODE  # Retry-After 0 beat the 30 s backoff
    assert src.attempts == 3
    records = await server.wait_records(3)
    assert [r["status"] for r in records] == [429, 429, 200]


async def test_5xx_is_retried_then_reported_with_status_and_body(server: ReplayServer) -> None:
    src = source(server, "code@status=503", retries=2, backoff_s=0.0)
    with pytest.raises(EndpointError) as info:
        await collect(src)
    assert info.value.status == 503 and "injected HTTP 503" in info.value.body
    assert src.attempts == 3


async def test_a_retry_after_beyond_the_limit_is_not_waited_for(server: ReplayServer) -> None:
    src = source(server, "code@status=429,retry-after=3600", retries=3, max_retry_after_s=5)
    with pytest.raises(EndpointError, match="429"):
        await collect(src)
    assert src.attempts == 1


async def test_a_connection_cut_before_the_first_token_is_retried(server: ReplayServer) -> None:
    src = source(server, "code@drop=0", retries=1, backoff_s=0.0)
    with pytest.raises(StreamError, match="broke after 0 tokens"):
        await collect(src)
    assert src.attempts == 2


async def test_an_unreachable_endpoint_is_a_clear_source_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    src = OpenAISource(base_url=f"http://127.0.0.1:{port}/v1", model="m", prompt="p", **FAST)
    with pytest.raises(SourceError, match=r"cannot reach .*is the server running"):
        await collect(src)


# --- HTTP errors -----------------------------------------------------------------------------


async def test_401_says_to_check_the_api_key() -> None:
    async with ReplayServer(ANSWERS, token="right") as srv:
        for key in (None, "wrong"):
            with pytest.raises(EndpointError, match="API key") as info:
                await collect(source(srv, api_key=key, **FAST))
            assert info.value.status == 401 and "invalid_api_key" in info.value.body


async def test_403_is_not_retried(server: ReplayServer) -> None:
    src = source(server, "code@status=403", retries=3)
    with pytest.raises(EndpointError, match="403") as info:
        await collect(src)
    assert info.value.status == 403 and src.attempts == 1


async def test_404_lists_the_models_and_says_to_check_url_and_name(server: ReplayServer) -> None:
    with pytest.raises(EndpointError, match="check the base URL") as info:
        await collect(source(server, "nope", retries=3))
    assert info.value.status == 404
    assert "available: chat, code" in str(info.value)


async def test_a_wrong_base_url_path_is_a_404(server: ReplayServer) -> None:
    src = OpenAISource(base_url=server.base_url + "/v2", model="code", prompt="p")
    with pytest.raises(EndpointError) as info:
        await collect(src)
    assert info.value.status == 404


# --- broken streams --------------------------------------------------------------------------


async def test_a_non_sse_answer_is_a_stream_error(server: ReplayServer) -> None:
    with pytest.raises(StreamError, match="instead of an event stream"):
        await collect(source(server, "code@non-sse"))


async def test_a_malformed_event_is_a_stream_error_after_the_good_tokens(
    server: ReplayServer,
) -> None:
    got: list[str] = []
    with pytest.raises(StreamError, match="malformed event JSON"):
        async for d in source(server, "code@bad-json=7"):
            got.append(d)
    assert got == tokenize(CODE)[:7]


async def test_a_cut_connection_after_tokens_keeps_them_and_is_not_retried(
    server: ReplayServer,
) -> None:
    got: list[str] = []
    src = source(server, "code@drop=9", retries=3)
    with pytest.raises(StreamError, match="broke after 9 tokens"):
        async for d in src:
            got.append(d)
    assert got == tokenize(CODE)[:9] and src.attempts == 1


async def test_a_stream_without_done_is_a_stream_error(server: ReplayServer) -> None:
    got: list[str] = []
    with pytest.raises(StreamError, match="without \\[DONE\\] after 12 tokens"):
        async for d in source(server, "code@no-done=12"):
            got.append(d)
    assert len(got) == 12


async def test_an_error_event_in_the_stream_is_a_stream_error(server: ReplayServer) -> None:
    with pytest.raises(StreamError, match="injected server error"):
        await collect(source(server, "code@error-event=3"))


# --- timeouts --------------------------------------------------------------------------------


async def test_a_stall_between_tokens_times_out_and_disconnects(server: ReplayServer) -> None:
    got: list[str] = []
    src = source(server, "code@stall=4", token_timeout_s=0.2)
    with pytest.raises(SourceTimeoutError, match="between-token"):
        async for d in src:
            got.append(d)
    assert len(got) == 4
    (record,) = await server.wait_records(1)
    assert record["disconnected"] is True and record["tokens_sent"] == 4


@pytest.mark.parametrize("fault", ["stall-headers", "stall=0"])
async def test_no_first_token_in_time_is_a_timeout(server: ReplayServer, fault: str) -> None:
    src = source(server, f"code@{fault}", first_token_timeout_s=0.2, retries=3)
    with pytest.raises(SourceTimeoutError, match="first"):
        await collect(src)
    assert src.attempts == 1
    (record,) = await server.wait_records(1)
    assert record["disconnected"] is True


def test_bad_options_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="http"):
        OpenAISource(base_url="127.0.0.1:8000", model="m", prompt="p")
    with pytest.raises(UsageError, match="prompt"):
        OpenAISource(base_url="http://h/v1", model="m")
    with pytest.raises(UsageError, match="token_timeout_s"):
        OpenAISource(base_url="http://h/v1", model="m", prompt="p", token_timeout_s=0)


# --- proxies ---------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_proxy_variables_do_not_break_loopback(
    server: ReplayServer, monkeypatch: pytest.MonkeyPatch, host: str
) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    url = f"http://{host}:{server.port}/v1"
    src = OpenAISource(base_url=url, model="code", prompt="p", **FAST)
    assert "".join(await collect(src)) == CODE


# --- the openai SDK adapter ------------------------------------------------------------------


def sdk_args(srv: ReplayServer, model: str, **kw: Any) -> dict[str, Any]:
    return {
        "model": model,
        "messages": [{"role": "user", "content": "write it"}],
        "stream": True,
        "stream_options": {"include_usage": True},
        **kw,
    }


async def test_an_async_sdk_stream_is_a_source(server: ReplayServer) -> None:

    async with openai_client(server.base_url) as client:
        stream = await client.chat.completions.create(**sdk_args(server, "chat"))
        src = OpenAISDKSource(stream)
        assert "".join(await collect(src)) == CHAT
        assert src.tokens_total == len(tokenize(CHAT))


async def test_a_sync_sdk_tool_stream_is_read_in_a_thread(server: ReplayServer) -> None:

    with openai_client(server.base_url, sync=True) as client:
        tools = [
            {
                "type": "function",
                "function": {
                    "name": "python",
                    "parameters": {"type": "object", "properties": {"code": {"type": "string"}}},
                },
            }
        ]
        # The server runs in this event loop: make the blocking call from a thread.
        stream = await asyncio.to_thread(
            client.chat.completions.create, **sdk_args(server, "code", tools=tools)
        )
        src = OpenAISDKSource(stream, format="tool", tool_name="python")
        assert json.loads("".join(await collect(src))) == {"code": CODE}


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_closing_an_sdk_source_closes_the_connection(
    slow_server: ReplayServer, kind: str
) -> None:

    args = sdk_args(slow_server, "code")
    if kind == "async":
        aclient = openai_client(slow_server.base_url)
        stream: Any = await aclient.chat.completions.create(**args)
    else:
        client = openai_client(slow_server.base_url, sync=True)
        stream = await asyncio.to_thread(client.chat.completions.create, **args)
    src = OpenAISDKSource(stream)
    n = 0
    async for _ in src:
        n += 1
        if n == 5:
            await src.aclose()
    (record,) = await slow_server.wait_records(1)
    assert record["disconnected"] is True
    assert record["tokens_sent"] < record["tokens_total"] // 4
    if kind == "async":
        await aclient.close()
    else:
        client.close()


async def test_sdk_http_errors_are_endpoint_errors(server: ReplayServer) -> None:

    async with openai_client(server.base_url) as client:
        stream = await client.chat.completions.create(**sdk_args(server, "code@drop=3"))
        with pytest.raises(StreamError, match="broke"):
            await collect(OpenAISDKSource(stream))


def test_the_sdk_adapter_rejects_what_is_not_a_stream() -> None:
    with pytest.raises(UsageError, match="Stream"):
        OpenAISDKSource(42)
