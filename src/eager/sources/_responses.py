"""A source for OpenAI Responses endpoints (``POST {base}/responses``, streaming, over httpx)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, Unpack

from .._errors import UsageError
from .._extract import Format
from ._delta import Delta
from ._http import HTTPOptions, HTTPSource, bearer_headers, join_url, request_body
from ._openai import CODE_TOOL_DESCRIPTION, OpenAISource, code_schema
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
    KEY_HINT = OpenAISource.KEY_HINT  # the same key, the same variables

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
        require_end: bool = True,
        **options: Unpack[HTTPOptions],
    ) -> None:
        if input is None:
            if prompt is None:
                raise UsageError("give prompt= or input=")
            input = prompt
        if tool_type not in ("function", "custom"):
            raise UsageError(f"tool_type must be 'function' or 'custom', not {tool_type!r}")
        use_tool = format == "tool"
        super().__init__(
            url=join_url(base_url, "/responses"),
            model=model,
            headers=bearer_headers(api_key, headers),
            format="code" if use_tool and tool_type == "custom" else format,
            tool=use_tool,
            tool_name=tool_name,
            tool_argument=tool_argument,
            require_end=require_end,
            **options,
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
        code_tool = None
        if use_tool:
            name = tool_name or "python"
            choice = {"type": tool_type, "name": name}
            code_tool = (_tool_spec(name, tool_argument, tool_type), choice)
        self.body = request_body(body, tools=tools, extra=extra_body, code_tool=code_tool)

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
