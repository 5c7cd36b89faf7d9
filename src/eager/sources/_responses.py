"""A source for OpenAI Responses endpoints (``POST {base}/responses``, streaming, over httpx)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import httpx

from .._errors import UsageError
from .._extract import Format
from ._delta import Delta
from ._http import HTTPSource, join_url
from ._openai import CODE_TOOL_DESCRIPTION, code_schema
from ._responses_events import decode_responses_event
from ._sse import SSEEvent

__all__ = ["OpenAIResponsesSource"]


class OpenAIResponsesSource(HTTPSource):
    """Streams ``POST {base_url}/responses`` (``stream: true``) over server-sent events.

    ``input`` is the Responses input (a string, or the list of input items: messages,
    ``function_call`` and ``function_call_output`` items, ...; else ``prompt``), ``system``
    its ``instructions``, ``tools`` the request's tools, ``max_tokens`` its
    ``max_output_tokens``. With ``format="tool"`` the source yields the arguments of the call
    to ``tool_name``: by default the request declares that tool and forces it, as a
    ``function`` tool whose JSON arguments hold the code in ``tool_argument``
    (``tool_type="function"``), or as a ``custom`` tool whose free-form input *is* the code
    (``tool_type="custom"``: the source's ``format`` is then ``"code"``, no JSON). Any other
    format yields the output text. The stream must end with ``response.completed``,
    ``response.incomplete`` (its reason, e.g. ``max_output_tokens``, is the stop reason) or
    ``response.failed`` (a :class:`~eager.StreamError` keeping what came before). Retries,
    timeouts, errors and cancellation as in the chat source (:class:`~eager.OpenAISource`).
    """

    END_EVENT = "response.completed"
    KEY_HINT = "check the API key (api_key=, eager --api-key, or EAGER_API_KEY / OPENAI_API_KEY)"

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        prompt: str | None = None,
        system: str | None = None,
        input: str | Sequence[Mapping[str, Any]] | None = None,
        tools: Sequence[Mapping[str, Any]] | None = None,
        api_key: str | None = None,
        format: Format = "auto",
        tool_name: str | None = "python",
        tool_argument: str = "code",
        tool_type: Literal["function", "custom"] = "function",
        max_tokens: int | None = None,
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
        if input is None:
            if prompt is None:
                raise UsageError("give prompt= or input=")
            input = prompt
        if tool_type not in ("function", "custom"):
            raise UsageError(f"tool_type must be 'function' or 'custom', not {tool_type!r}")
        all_headers = dict(headers or {})
        if api_key:
            all_headers["Authorization"] = f"Bearer {api_key}"
        use_tool = format == "tool"
        super().__init__(
            url=join_url(base_url, "/responses"),
            model=model,
            headers=all_headers,
            format="code" if use_tool and tool_type == "custom" else format,
            tool=use_tool,
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
        self.tool_type = tool_type
        body: dict[str, Any] = {
            "model": model,
            "input": input if isinstance(input, str) else [dict(i) for i in input],
            "stream": True,
        }
        if system:
            body["instructions"] = system
        if max_tokens is not None:
            body["max_output_tokens"] = max_tokens
        if temperature is not None:
            body["temperature"] = temperature
        extra = extra_body or {}
        if tools is not None:
            body["tools"] = [dict(t) for t in tools]
        elif use_tool and "tools" not in extra:
            name = tool_name or "python"
            body["tools"] = [_tool_spec(name, tool_argument, tool_type)]
            body["tool_choice"] = {"type": tool_type, "name": name}
        body.update(extra)
        self.body = {k: v for k, v in body.items() if v is not None}

    def _decode(self, event: SSEEvent) -> Delta | None:
        return decode_responses_event(event)


def _tool_spec(name: str, argument: str, kind: str) -> dict[str, Any]:
    if kind == "custom":
        return {"type": "custom", "name": name, "description": CODE_TOOL_DESCRIPTION}
    return {
        "type": "function",
        "name": name,
        "description": CODE_TOOL_DESCRIPTION,
        "parameters": code_schema(argument),
    }
