"""Sources over the streams of the ``openai`` SDK: chat completions and Responses (sync or async)."""

from __future__ import annotations

from typing import Any, Literal

from .._extract import Format
from ._delta import Delta
from ._responses_events import parse_responses_object
from ._sdk import SDKSource
from ._sse import parse_chunk_object

__all__ = ["OpenAIResponsesSDKSource", "OpenAISDKSource"]


class OpenAISDKSource(SDKSource):
    """Wraps a chat-completion stream of the ``openai`` SDK (``stream=True``) as a Source.

    ``stream`` is an ``openai.AsyncStream`` (iterated in a task) or an ``openai.Stream``
    (iterated in a thread). :meth:`aclose` closes the SDK stream, hence its connection. SDK
    errors are mapped to :class:`~eager.EndpointError`, :class:`~eager.StreamError` and
    :class:`~eager.SourceTimeoutError`. ``format`` and ``tool_name`` as in
    :class:`OpenAISource`. Needs the ``openai`` extra.
    """

    SDK = "openai"

    def _decode(self, event: dict[str, Any]) -> Delta | None:
        return parse_chunk_object(event)


class OpenAIResponsesSDKSource(SDKSource):
    """Wraps a Responses stream of the ``openai`` SDK as a Source.

    ``stream`` is what ``client.responses.create(..., stream=True)`` returns, or the stream a
    ``client.responses.stream(...)`` manager enters (sync: iterated in a thread; async: in a
    task). :meth:`aclose` closes it, hence its connection. With ``format="tool"`` the source
    yields the argument deltas of the call to ``tool_name`` (any tool when None): JSON for a
    ``function`` tool; for a ``custom`` tool (``tool_type="custom"``) the free-form input is
    the code and the source's ``format`` is ``"code"``. The stream must end with
    ``response.completed`` / ``incomplete`` / ``failed``. Needs the ``openai`` extra.
    """

    SDK = "openai"
    END_EVENT = "response.completed"

    def __init__(
        self,
        stream: Any,
        *,
        format: Format = "auto",
        tool_name: str | None = None,
        tool_argument: str = "code",
        tool_type: Literal["function", "custom"] = "function",
    ) -> None:
        super().__init__(stream, format=format, tool_name=tool_name, tool_argument=tool_argument)
        if format == "tool" and tool_type == "custom":
            self.format = "code"  # a custom tool's free-form input is the code itself

    def _decode(self, event: dict[str, Any]) -> Delta | None:
        return parse_responses_object(event)
