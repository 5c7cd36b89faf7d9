"""A source for Anthropic Messages endpoints (``POST {base}/v1/messages``, streaming, over httpx)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from .._errors import UsageError
from .._extract import Format
from ._anthropic_events import ANTHROPIC_VERSION, decode_anthropic_event
from ._delta import Delta
from ._http import HTTPSource
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
        connect_timeout_s: float = 10.0,
        first_token_timeout_s: float = 120.0,
        token_timeout_s: float = 60.0,
        retries: int = 3,
        backoff_s: float = 0.5,
        max_backoff_s: float = 8.0,
        max_retry_after_s: float = 60.0,
        require_end: bool = True,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        if messages is None:
            if prompt is None:
                raise UsageError("give prompt= or messages=")
            messages = [{"role": "user", "content": prompt}]
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
            connect_timeout_s=connect_timeout_s,
            first_token_timeout_s=first_token_timeout_s,
            token_timeout_s=token_timeout_s,
            retries=retries,
            backoff_s=backoff_s,
            max_backoff_s=max_backoff_s,
            max_retry_after_s=max_retry_after_s,
            require_end=require_end,
            http_client=http_client,
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
        extra = extra_body or {}
        if tools is not None:
            body["tools"] = [dict(t) for t in tools]
        elif format == "tool" and "tools" not in extra:
            name = tool_name or "python"
            body["tools"] = [
                {
                    "name": name,
                    "description": CODE_TOOL_DESCRIPTION,
                    "input_schema": code_schema(tool_argument),
                }
            ]
            body["tool_choice"] = {"type": "tool", "name": name}
        body.update(extra)
        self.body = {k: v for k, v in body.items() if v is not None}

    def _decode(self, event: SSEEvent) -> Delta | None:
        return decode_anthropic_event(event)


def messages_url(base_url: str) -> str:
    """The Messages endpoint under an API root, with or without its ``/v1``."""
    base = base_url.rstrip("/")
    if base.endswith("/v1/messages"):
        return base
    return base + ("/messages" if base.endswith("/v1") else "/v1/messages")
