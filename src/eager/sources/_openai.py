"""A source for OpenAI-compatible chat-completions endpoints (over httpx and SSE)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Unpack

from .._extract import Format
from ._delta import Delta
from ._http import (
    HTTPOptions,
    HTTPSource,
    bearer_headers,
    join_url,
    prompt_messages,
    request_body,
)
from ._sse import SSEEvent, decode_chat_event

__all__ = ["CODE_TOOL_DESCRIPTION", "OpenAISource", "code_schema"]

#: The description of the default code tool every protocol source declares.
CODE_TOOL_DESCRIPTION = "Run a Python program in a persistent session; returns its output."


class OpenAISource(HTTPSource):
    """Streams ``POST {base_url}/chat/completions`` (``stream: true``) over server-sent events.

    ``messages`` is the chat history (else ``prompt``), after a ``system`` message when given;
    ``tools`` the request's tools (default with ``format="tool"``: one ``tool_name`` function
    whose ``tool_argument`` holds the code, and a ``tool_choice`` forcing it). ``format="tool"`` yields the JSON
    arguments of the tool call named ``tool_name``; any other format yields the content.
    Retries, timeouts, errors and cancellation as in :class:`~eager.HTTPSource` (see there; its
    keywords ``connect_timeout_s``, ``first_token_timeout_s``, ``token_timeout_s``, ``retries``,
    ``backoff_s``, ``max_backoff_s``, ``max_retry_after_s`` and ``http_client`` are taken here
    with its defaults); the stream must end with ``[DONE]`` when ``require_done``. ``extra_body``
    entries set to None remove a default field (e.g. ``{"stream_options": None}``).
    """

    END_EVENT = "[DONE]"
    KEY_HINT = "check the API key (api_key=, eager --api-key, or EAGER_API_KEY / OPENAI_API_KEY)"

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        prompt: str | None = None,
        system: str | None = None,
        messages: Sequence[Mapping[str, Any]] | None = None,
        tools: Sequence[Mapping[str, Any]] | None = None,
        api_key: str | None = None,
        format: Format = "auto",
        tool_name: str | None = "python",
        tool_argument: str = "code",
        max_tokens: int | None = None,
        temperature: float | None = None,
        headers: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        require_done: bool = True,
        **options: Unpack[HTTPOptions],
    ) -> None:
        messages = prompt_messages(prompt, messages)
        if system:
            messages = [{"role": "system", "content": system}, *messages]
        super().__init__(
            url=join_url(base_url, "/chat/completions"),
            model=model,
            headers=bearer_headers(api_key, headers),
            format=format,
            tool=format == "tool",
            tool_name=tool_name,
            tool_argument=tool_argument,
            require_end=require_done,
            **options,
        )
        self.require_done = require_done
        self.body = self._body(messages, tools, max_tokens, temperature, extra_body)

    def _decode(self, event: SSEEvent) -> Delta | None:
        return decode_chat_event(event)

    def _body(
        self,
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]] | None,
        max_tokens: int | None,
        temperature: float | None,
        extra: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [dict(m) for m in messages],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        if temperature is not None:
            body["temperature"] = temperature
        code_tool = None
        if self.format == "tool":
            name = self.tool_name or "python"
            choice = {"type": "function", "function": {"name": name}}
            code_tool = (_tool_spec(name, self.tool_argument), choice)
        return request_body(body, tools=tools, extra=extra, code_tool=code_tool)


def code_schema(argument: str) -> dict[str, Any]:
    """The JSON schema of a code tool's arguments: one string ``argument``."""
    return {
        "type": "object",
        "properties": {argument: {"type": "string", "description": "Python code"}},
        "required": [argument],
    }


def _tool_spec(name: str, argument: str) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": CODE_TOOL_DESCRIPTION,
            "parameters": code_schema(argument),
        },
    }
