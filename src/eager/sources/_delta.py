"""The protocol-neutral delta every wire decoder yields, and the selector that reads them.

Each protocol module (``_sse`` for chat completions, ``_responses_events`` for OpenAI
Responses, ``_anthropic_events`` for Anthropic Messages) turns its events into :class:`Delta`
values; :class:`DeltaSelector` picks the text of a source out of them (the content, or the
arguments of one tool call) and keeps what the model said as a :class:`~eager.Turn`. Pure: no
I/O, no asyncio.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .._errors import ExtractionError
from ._base import ToolCall, Turn

# Internal: used by the sources and the replay server, not exported from the package.
__all__ = ["Delta", "DeltaSelector", "ToolCallDelta", "Usage"]

ToolKind = Literal["function", "custom"]


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A piece of one tool call: its ``index`` (position in the answer), and its ``name``,
    ``id`` and ``kind`` on its first piece (None / the default on later ones)."""

    index: int
    arguments: str = ""
    name: str | None = None
    id: str | None = None
    kind: ToolKind | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts a server reports (chat's ``prompt``/``completion`` names normalised)."""

    input_tokens: int | None
    output_tokens: int | None
    total_tokens: int | None = None

    @property
    def prompt_tokens(self) -> int | None:
        """Chat-completions name of :attr:`input_tokens`."""
        return self.input_tokens

    @property
    def completion_tokens(self) -> int | None:
        """Chat-completions name of :attr:`output_tokens`."""
        return self.output_tokens

    def merged(self, later: Usage) -> Usage:
        """These counts updated by ``later`` ones (a field ``later`` lacks is kept)."""
        inp = later.input_tokens if later.input_tokens is not None else self.input_tokens
        out = later.output_tokens if later.output_tokens is not None else self.output_tokens
        total = later.total_tokens
        if total is None and inp is not None and out is not None:
            total = inp + out
        return Usage(inp, out, total)

    def as_dict(self) -> dict[str, int]:
        """The known counts, by their normalised names."""
        items = (
            ("input_tokens", self.input_tokens),
            ("output_tokens", self.output_tokens),
            ("total_tokens", self.total_tokens),
        )
        return {k: v for k, v in items if v is not None}


@dataclass(frozen=True, slots=True)
class Delta:
    """What one event of any protocol carries.

    ``done`` marks the protocol's terminal event (``[DONE]``, ``response.completed``,
    ``message_stop``); ``error`` an error the server reported in the stream (the source
    raises :class:`~eager.StreamError` after keeping everything before it).
    """

    content: str = ""
    reasoning: str = ""
    tool_calls: tuple[ToolCallDelta, ...] = field(default_factory=tuple)
    finish_reason: str | None = None
    usage: Usage | None = None
    done: bool = False
    error: str | None = None


@dataclass(slots=True)
class _Call:
    id: str
    name: str
    kind: ToolKind
    arguments: list[str]


class DeltaSelector:
    """Picks the text of a source out of deltas, and keeps the :class:`~eager.Turn` so far.

    ``tool=True``: the arguments of the first tool call named ``tool_name`` (any name when
    None), other calls ignored; otherwise the content.
    """

    def __init__(self, *, tool: bool, tool_name: str | None) -> None:
        self.tool = tool
        self.tool_name = tool_name
        self.content: list[str] = []
        self.finish_reason: str | None = None
        self.usage: Usage | None = None
        #: True once any content, reasoning or tool call arrived (no retry after that).
        self.started = False
        #: True when the last piece received belongs to a tool call (a cut there is inside it).
        self.in_tool_call = False
        self._calls: dict[int, _Call] = {}
        self._tool_index: int | None = None

    def take(self, delta: Delta) -> str:
        """The text this delta adds to the source (maybe empty)."""
        if delta.usage is not None:
            self.usage = delta.usage if self.usage is None else self.usage.merged(delta.usage)
        if delta.finish_reason is not None:
            self.finish_reason = delta.finish_reason
        if delta.content or delta.reasoning or delta.tool_calls:
            self.started = True
            self.in_tool_call = bool(delta.tool_calls) and not delta.content
        if delta.content:
            self.content.append(delta.content)
        out = []
        for piece in delta.tool_calls:
            call = self._calls.get(piece.index)
            if call is None:
                call = _Call(
                    id=piece.id or "",
                    name=piece.name or "",
                    kind=piece.kind or "function",
                    arguments=[],
                )
                self._calls[piece.index] = call
                if self._tool_index is None and (
                    self.tool_name is None or call.name == self.tool_name
                ):
                    self._tool_index = piece.index
            else:
                call.id = call.id or piece.id or ""
                call.name = call.name or piece.name or ""
            if piece.arguments:
                call.arguments.append(piece.arguments)
                if piece.index == self._tool_index:
                    out.append(piece.arguments)
        if not self.tool:
            return delta.content
        return "".join(out)

    def turn(self) -> Turn:
        """What the model said so far (partial until the stream ended)."""
        return Turn(
            text="".join(self.content),
            tool_calls=tuple(
                ToolCall(id=c.id, name=c.name, arguments="".join(c.arguments), kind=c.kind)
                for _, c in sorted(self._calls.items())
            ),
            stop_reason=self.finish_reason,
            usage=self.usage.as_dict() if self.usage is not None else None,
        )

    def check_end(self) -> None:
        """At the end of a tool-format stream: the tool must have been called."""
        if self.tool and self._tool_index is None:
            called = ", ".join(sorted({c.name for c in self._calls.values()})) or "no tool"
            said = "".join(self.content).strip()
            raise ExtractionError(
                f"the model did not call the tool {self.tool_name or '(any)'!r} (it called "
                f"{called}){'; it said: ' + said[:300] if said else ''}"
            )

    def where(self) -> str:
        """Where the stream is, for an error message: inside which tool call, if any."""
        if not self.in_tool_call or not self._calls:
            return ""
        call = self._calls[max(self._calls)]
        return f" inside tool call {call.name or '?'!r} ({call.id or 'no id'})"
