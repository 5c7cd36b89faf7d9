"""The requests ``eager chat`` sends, read on the wire and checked against the official SDKs'
own request types (``openai`` chat completions, ``anthropic`` messages): what a real endpoint
built on them accepts, turn after turn (system prompt, code tool, tool results)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sources._wire import Reply, WireServer, anthropic_events, chat_events, json_pieces

from .test_protocol import eager

pydantic = pytest.importorskip("pydantic")
CODE = "print(6 * 7)\n"


def _forced(value: Any) -> Any:
    """A validated value with its lazy iterables (``Iterable[...]`` fields) walked, so that
    every item is validated too."""
    if isinstance(value, dict):
        return {k: _forced(v) for k, v in value.items()}
    if isinstance(value, list | tuple) or hasattr(value, "__next__"):
        return [_forced(v) for v in value]
    return value


def _request_type(protocol: str) -> Any:
    if protocol == "chat":
        from openai.types.chat.completion_create_params import (
            CompletionCreateParamsStreaming,
        )

        return pydantic.TypeAdapter(CompletionCreateParamsStreaming)
    from anthropic.types.message_create_params import MessageCreateParamsStreaming

    return pydantic.TypeAdapter(MessageCreateParamsStreaming)


def _replies(protocol: str, code: str) -> list[Reply]:
    fenced = [f"Let me compute.\n```python\n{CODE}```\n"]
    call = json_pieces({"code": CODE}, 6)
    if protocol == "chat":
        first = chat_events(call=call) if code == "tool" else chat_events(text=fenced)
        return [Reply(first), Reply(chat_events(text=["Final Answer: 42"]))]
    first = anthropic_events(call=call) if code == "tool" else anthropic_events(text=fenced)
    return [Reply(first), Reply(anthropic_events(text=["Final Answer: 42"]))]


@pytest.mark.parametrize("protocol", ["chat", "anthropic"])
@pytest.mark.parametrize("code", ["fence", "tool"])
async def test_every_request_of_a_conversation_is_one_the_official_sdk_types_accept(
    protocol: str, code: str
) -> None:
    path = "/v1/chat/completions" if protocol == "chat" else "/v1/messages"
    async with WireServer({path: _replies(protocol, code)}) as srv:
        base = srv.url + ("/v1" if protocol == "chat" else "")
        status, out, err = await eager(
            "chat", "What is six times seven?", "--base-url", base, "--model", "m",
            "--protocol", protocol, "--code", code, "--no-sandbox", "--json",
            "--max-tokens", "256",
        )  # fmt: skip
    assert status == 0, err
    assert json.loads(out)["answer"] == "42"
    assert len(srv.requests) == 2
    request_type = _request_type(protocol)
    for request in srv.requests:
        body = _forced(request_type.validate_python(request["json"]))
        assert body["stream"] is True and body["model"] == "m"
    second = json.dumps(srv.requests[1]["json"])
    assert "42" in second  # the observation of the first turn's code went back
