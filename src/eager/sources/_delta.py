"""The protocol-neutral delta every wire decoder yields, and the selector that reads them.

Each protocol module (``_sse`` for chat completions, ``_responses_events`` for OpenAI
Responses, ``_anthropic_events`` for Anthropic Messages) turns its events into :class:`Delta`
values; :class:`DeltaSelector` picks the text of a source out of them (the content, or the
arguments of one tool call) and keeps what the model said as a :class:`~eager.Turn`. Pure: no
I/O, no asyncio.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .._errors import ExtractionError
from ._base import LIMIT_STOPS, ToolCall, Turn, TurnBlock

# Internal: used by the sources and the replay server, not exported from the package.
__all__ = ["MAX_BLOCKS", "Delta", "DeltaSelector", "PartDelta", "ToolCallDelta", "Usage"]

#: Most blocks (server tools, unknown events, ...) a turn keeps; later ones are counted only.
MAX_BLOCKS = 256
#: Stop reasons of an ordinary end, which a refusal replaces.
_ORDINARY_STOPS = frozenset({"stop", "end_turn", "completed"})

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
    #: ``arguments`` are the call's whole arguments as the protocol restates them at its end
    #: (Responses ``output_item.done``): taken only when none were streamed.
    whole: bool = False


@dataclass(frozen=True, slots=True)
class PartDelta:
    """A piece of a block the client does not act on (:class:`~eager.TurnBlock`).

    On its first piece ``type`` names it and ``data`` is the block as started; later pieces
    of the same ``index`` carry fields to merge (``data``) or streamed input JSON (``json``).
    ``index`` None: a whole unknown event, kept as it came.
    """

    index: int | None
    type: str = ""
    data: Mapping[str, Any] | None = None
    json: str = ""
    #: True when ``data`` is the block's final state (replaces, not merges).
    final: bool = False


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
    refusal: str = ""
    parts: tuple[PartDelta, ...] = field(default_factory=tuple)
    #: The protocol said the model refused (Anthropic's ``refusal`` stop), text or not.
    refused: bool = False

    @property
    def alive(self) -> bool:
        """The model produced something (text, reasoning, a tool, a refusal, a block)."""
        return bool(self.content or self.reasoning or self.tool_calls or self.refusal or self.parts)


@dataclass(slots=True)
class _Part:
    type: str
    index: int | None
    data: dict[str, Any]
    json: list[str]

    def block(self) -> TurnBlock:
        data = dict(self.data)
        if self.json:
            raw = "".join(self.json)
            try:
                data["input"] = json.loads(raw)
            except ValueError:
                data["partial_json"] = raw
        return TurnBlock(self.type, self.index, data)


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
        self.reasoning: list[str] = []
        self.refusal: list[str] | None = None
        self.finish_reason: str | None = None
        self.usage: Usage | None = None
        #: True once any content, reasoning or tool call arrived (no retry after that).
        self.started = False
        #: True when the last piece received belongs to a tool call (a cut there is inside it).
        self.in_tool_call = False
        self._calls: dict[int, _Call] = {}
        self._tool_index: int | None = None
        self._last_call: int | None = None
        self._parts: dict[int, _Part] = {}  # by block index
        self._events: list[_Part] = []  # unknown events, in order
        #: Blocks and events past :data:`MAX_BLOCKS`, not kept.
        self.dropped_blocks = 0

    def take(self, delta: Delta) -> str:
        """The text this delta adds to the source (maybe empty)."""
        if delta.usage is not None:
            self.usage = delta.usage if self.usage is None else self.usage.merged(delta.usage)
        if delta.finish_reason is not None:
            self.finish_reason = delta.finish_reason
        if delta.alive:
            self.started = True
            self.in_tool_call = False
        if delta.content:
            self.content.append(delta.content)
        if delta.reasoning:
            self.reasoning.append(delta.reasoning)
        if delta.refusal or delta.refused:
            if self.refusal is None:
                self.refusal = []
            self.refusal.append(delta.refusal)
        for part in delta.parts:
            self._take_part(part)
        out = []
        for piece in delta.tool_calls:
            if piece.index in self._parts:  # the input of a server tool: not ours to run
                self._parts[piece.index].json.append(piece.arguments)
                continue
            self.in_tool_call = not delta.content
            self._last_call = piece.index
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
                if piece.whole and call.arguments:
                    continue  # streamed already: the restatement adds nothing
            if piece.arguments:
                call.arguments.append(piece.arguments)
                if piece.index == self._tool_index:
                    out.append(piece.arguments)
        if not self.tool:
            return delta.content
        return "".join(out)

    def _take_part(self, part: PartDelta) -> None:
        if part.index is None:
            if len(self._parts) + len(self._events) >= MAX_BLOCKS:
                self.dropped_blocks += 1
                return
            self._events.append(_Part(part.type, None, dict(part.data or {}), []))
            return
        kept = self._parts.get(part.index)
        if kept is None:
            if not part.type:
                return  # more of a block we do not keep (a text block's newer delta type)
            if len(self._parts) + len(self._events) >= MAX_BLOCKS:
                self.dropped_blocks += 1
                return
            kept = self._parts[part.index] = _Part(part.type, part.index, {}, [])
        if part.data is not None:
            if part.final:
                kept.data = dict(part.data)
                kept.json.clear()
            else:
                kept.data.update(part.data)
        if part.json:
            kept.json.append(part.json)

    @property
    def refused(self) -> bool:
        """True once the model refused (a refusal text, or the protocol's refusal stop)."""
        return self.refusal is not None

    def stop_reason(self) -> str | None:
        """The stop reason as the protocol gave it; ``"refusal"`` for an ordinary end of a
        refused answer."""
        reason = self.finish_reason
        if self.refusal is not None and reason in _ORDINARY_STOPS:
            return "refusal"
        return reason

    def turn(self) -> Turn:
        """What the model said so far (partial until the stream ended)."""
        parts = sorted(self._parts.values(), key=lambda p: p.index or 0)
        return Turn(
            text="".join(self.content),
            tool_calls=tuple(
                ToolCall(id=c.id, name=c.name, arguments="".join(c.arguments), kind=c.kind)
                for _, c in sorted(self._calls.items())
            ),
            stop_reason=self.stop_reason(),
            usage=self.usage.as_dict() if self.usage is not None else None,
            refusal=None if self.refusal is None else "".join(self.refusal),
            reasoning="".join(self.reasoning),
            blocks=tuple(p.block() for p in (*parts, *self._events)),
        )

    def check_end(self) -> None:
        """At the end of a tool-format stream: the tool must have been called."""
        if self.tool and self._tool_index is None:
            called = ", ".join(sorted({c.name for c in self._calls.values()})) or "no tool"
            said = "".join(self.content).strip()
            if self.refusal is not None:
                refusal = " ".join("".join(self.refusal).split())
                raise ExtractionError(
                    f"the model refused and did not call the tool {self.tool_name or '(any)'!r}"
                    f" (stop reason {self.stop_reason()!r}){': ' + refusal[:300] if refusal else ''}"
                )
            if self.finish_reason in LIMIT_STOPS:
                raise ExtractionError(
                    f"the model hit its token limit ({self.finish_reason}) before it called the "
                    f"tool {self.tool_name or '(any)'!r}"
                )
            raise ExtractionError(
                f"the model did not call the tool {self.tool_name or '(any)'!r} (it called "
                f"{called}){'; it said: ' + said[:300] if said else ''}"
            )

    def where(self) -> str:
        """Where the stream is, for an error message: inside which tool call, if any."""
        if not self.in_tool_call or self._last_call not in self._calls:
            return ""
        call = self._calls[self._last_call]
        return f" inside tool call {call.name or '?'!r} ({call.id or 'no id'})"
