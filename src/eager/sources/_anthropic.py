"""A source for Anthropic Messages endpoints (``POST {base}/v1/messages``, streaming, over httpx)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Unpack

from .._errors import UsageError
from .._extract import Format
from ._anthropic_events import ANTHROPIC_VERSION, decode_anthropic_event
from ._delta import Delta
from ._http import HTTPOptions, HTTPSource, prompt_messages, request_body
from ._openai import CODE_TOOL_DESCRIPTION, code_schema
from ._sse import SSEEvent

__all__ = ["AnthropicSource"]

#: ``max_tokens`` is required by the Messages API; this is sent when none is given.
DEFAULT_MAX_TOKENS = 4096


class AnthropicSource(HTTPSource):
    """Streams ``POST {base_url}/v1/messages`` (``stream: true``) over server-sent events.

    Sends the headers the API and its SDK use (``x-api-key``, ``anthropic-version``,
    ``content-type``). ``base_url`` is the API root (``https://api.anthropic.com``; one ending
    in ``/v1`` works too). ``messages`` is the Messages history (else ``prompt``), ``system``
    the system prompt, ``tools`` the request's tools, ``max_tokens`` the required limit
    (default :data:`DEFAULT_MAX_TOKENS`). With ``format="tool"`` the source yields the
    ``input_json_delta`` pieces of the call to ``tool_name`` (by default declared, with an
    ``input_schema`` of one string ``tool_argument``, and forced); otherwise the text. The
    ``stop_reason`` of ``message_delta`` (``end_turn``, ``tool_use``, ``max_tokens``,
    ``refusal``, ``pause_turn``, and any newer one) is :attr:`finish_reason` and
    ``turn.stop_reason``; ``ping`` events are ignored; an ``error`` event is a
    :class:`~eager.StreamError` keeping what came before; the stream must end with
    ``message_stop``. Retries, timeouts, errors and cancellation as in the chat source
    (:class:`~eager.OpenAISource`); 529 (overloaded) is retried before the first token.
    """

    END_EVENT = "message_stop"
    KEY_HINT = "check the API key (api_key=, eager --api-key, or EAGER_API_KEY / ANTHROPIC_API_KEY)"

    def __init__(
        self,
        *,
        base_url: str = "https://api.anthropic.com",
        model: str,
        prompt: str | None = None,
        system: str | None = None,
        messages: Sequence[Mapping[str, Any]] | None = None,
        tools: Sequence[Mapping[str, Any]] | None = None,
        api_key: str | None = None,
        anthropic_version: str = ANTHROPIC_VERSION,
        format: Format = "auto",
        tool_name: str | None = "python",
        tool_argument: str = "code",
        max_tokens: int = DEFAULT_MAX_TOKENS,
        temperature: float | None = None,
        headers: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        require_end: bool = True,
        **options: Unpack[HTTPOptions],
    ) -> None:
        messages = prompt_messages(prompt, messages)
        if max_tokens < 1:
            raise UsageError(f"max_tokens must be at least 1, got {max_tokens}")
        all_headers = {"anthropic-version": anthropic_version, "content-type": "application/json"}
        if api_key:
            all_headers["x-api-key"] = api_key
        all_headers.update(headers or {})
        super().__init__(
            url=messages_url(base_url),
            model=model,
            headers=all_headers,
            format=format,
            tool=format == "tool",
            tool_name=tool_name,
            tool_argument=tool_argument,
            require_end=require_end,
            **options,
        )
        body: dict[str, Any] = {
            "model": model,
            "max_tokens": max_tokens,
            "messages": [dict(m) for m in messages],
            "stream": True,
        }
        if system:
            body["system"] = system
        if temperature is not None:
            body["temperature"] = temperature
        code_tool = None
        if format == "tool":
            name = tool_name or "python"
            spec = {
                "name": name,
                "description": CODE_TOOL_DESCRIPTION,
                "input_schema": code_schema(tool_argument),
            }
            code_tool = (spec, {"type": "tool", "name": name})
        self.body = request_body(body, tools=tools, extra=extra_body, code_tool=code_tool)

    def _decode(self, event: SSEEvent) -> Delta | None:
        return decode_anthropic_event(event)


def messages_url(base_url: str) -> str:
    """The Messages endpoint under an API root, with or without its ``/v1``."""
    base = base_url.rstrip("/")
    if base.endswith("/v1/messages"):
        return base
    return base + ("/messages" if base.endswith("/v1") else "/v1/messages")
