"""The conversation of an agent, protocol-neutral, and the repair encoding of a cut turn (pure).

A conversation is a list of :data:`Message`: the task (:class:`UserMessage`), each assistant
turn (:class:`AssistantMessage`: its text and code tool calls) and each observation (a
:class:`ToolResult` answering a tool call by id, or a :class:`UserMessage` after fenced code).
An observation may carry images (:class:`ImagePart`: figures and other pictures the code
displayed), after its text. :mod:`._encode` turns it into the messages of each protocol.

Repair from partial code (the paper's "partial" protocol): when a turn failed and generation
was cut, :func:`partial_turn` keeps what was generated up to the failing statement (code the
model wrote after it, before the cancellation took effect, never ran and is dropped, so the
history does not depend on how fast the cancellation was), made valid: a cut code fence is
closed, a cut tool call's arguments are re-encoded as valid JSON holding the code so far.
Without a known failing line, an incomplete last line of code is dropped.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Literal

from .._errors import ExtractionError
from .._extract import make_extractor
from ..sources._base import ToolCall, Turn

__all__ = [
    "AssistantMessage",
    "ImagePart",
    "Message",
    "ToolResult",
    "UserMessage",
    "close_fences",
    "code_of_call",
    "cut_at_code_line",
    "partial_turn",
]

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")


@dataclass(frozen=True, slots=True)
class ImagePart:
    """An image shown to the model: ``mime`` (``image/png``, ``image/jpeg``, ...), ``data`` its
    base64 payload (as in a notebook's MIME bundle), ``path`` where the backend saved it."""

    mime: str
    data: str
    path: str | None = None

    @property
    def size_bytes(self) -> int:
        """The image's size in bytes (decoded)."""
        b64 = "".join(self.data.split())
        return max(0, len(b64) * 3 // 4 - (len(b64) - len(b64.rstrip("="))))

    @property
    def data_url(self) -> str:
        """The image as a ``data:`` URL (what OpenAI's ``image_url`` / ``input_image`` take)."""
        return f"data:{self.mime};base64,{self.b64}"

    @property
    def b64(self) -> str:
        """The base64 payload without line breaks (Anthropic's ``source.data``)."""
        return "".join(self.data.split())

    def describe(self) -> str:
        """``image/png, 23.1 kB, saved to PATH``: how the text names it."""
        where = f", saved to {self.path}" if self.path else ""
        return f"{self.mime}, {format_bytes(self.size_bytes)}{where}"

    def decoded(self) -> bytes:
        """The image's bytes (empty when the payload is not valid base64)."""
        try:
            return base64.b64decode(self.b64, validate=True)
        except (binascii.Error, ValueError):
            return b""


def format_bytes(n: int) -> str:
    """``812 B``, ``23.1 kB``, ``2.4 MB``."""
    if n < 1000:
        return f"{n} B"
    if n < 1_000_000:
        return f"{n / 1000:.1f} kB"
    return f"{n / 1_000_000:.1f} MB"


@dataclass(frozen=True, slots=True)
class UserMessage:
    """A user message: the task, or the observation of fenced code (``observation=True``),
    with the images it shows after its text."""

    text: str
    observation: bool = False
    images: tuple[ImagePart, ...] = ()


@dataclass(frozen=True, slots=True)
class AssistantMessage:
    """One assistant turn as it goes into the history: its text and its tool calls.

    ``cut`` is True when generation was interrupted and this is the repaired partial turn.
    """

    text: str
    tool_calls: tuple[ToolCall, ...] = ()
    cut: bool = False


@dataclass(frozen=True, slots=True)
class ToolResult:
    """The observation of one tool call, answering it by ``call_id``, with its images."""

    call_id: str
    name: str
    text: str
    kind: Literal["function", "custom"] = "function"
    images: tuple[ImagePart, ...] = ()


#: One entry of a conversation.
Message = UserMessage | AssistantMessage | ToolResult


def close_fences(text: str) -> str:
    """``text`` with a code fence left open at its end closed (a no-op when none is open)."""
    open_fence: str | None = None
    for line in text.split("\n"):
        m = _FENCE.match(line.rstrip("\r"))
        if m is None:
            continue
        marker, info = m.group(1), m.group(2)
        if open_fence is None:
            if not (marker[0] == "`" and "`" in info):
                open_fence = marker
        elif marker[0] == open_fence[0] and len(marker) >= len(open_fence) and not info.strip():
            open_fence = None
    if open_fence is None:
        return text
    return text + ("" if text.endswith("\n") else "\n") + open_fence


def _drop_partial_code_line(text: str) -> str:
    """Drop the last line when it is unfinished code inside an open fence."""
    if text.endswith("\n") or close_fences(text) == text:
        return text
    head, _, _ = text.rpartition("\n")
    return head + "\n" if head else ""


def code_of_call(call: ToolCall, argument: str = "code", *, cut: bool = False) -> str:
    """The code a tool call holds: its free text, or its JSON ``argument``.

    The JSON is decoded by the streaming extractor; with ``cut=True`` arguments that end early
    (even inside an escape) yield the code up to the cut. Malformed (or, without ``cut``,
    incomplete) JSON raises :class:`~eager.ExtractionError`.
    """
    if call.kind == "custom":
        return call.arguments
    extractor = make_extractor("tool", tool_argument=argument)
    code = extractor.feed(call.arguments)
    try:
        return code + extractor.close()
    except ExtractionError:
        if cut:
            return code
        raise


def cut_at_code_line(text: str, lines: int) -> str:
    """``text`` (prose and fences) up to the end of the line holding code line ``lines``."""
    extractor = make_extractor("chat")
    seen = 0
    pos = 0
    for line in text.splitlines(keepends=True):
        seen += extractor.feed(line).count("\n")
        pos += len(line)
        if seen >= lines:
            return text[:pos]
    return text


def partial_turn(
    turn: Turn,
    *,
    argument: str = "code",
    keep_calls: int | None = None,
    keep_lines: int | None = None,
) -> Turn:
    """The turn as generated up to the interruption, made valid for the history.

    ``keep_lines``: the program's lines to keep (up to the failing statement) in the text's
    code, or in the last kept call; else an unfinished last code line is dropped. The text gets
    its open fence closed; each tool call's arguments are re-encoded as JSON ``{argument: code
    so far}`` (free text for a custom tool). ``keep_calls`` keeps only the first calls (those
    that ran). A call whose JSON cannot be decoded keeps its text as code.
    """
    text = turn.text
    if text and keep_lines is not None and not turn.tool_calls:
        text = cut_at_code_line(text, keep_lines)
    text = close_fences(_drop_partial_code_line(text)) if text else ""
    calls = turn.tool_calls if keep_calls is None else turn.tool_calls[:keep_calls]
    repaired = []
    for call in calls:
        try:
            code = code_of_call(call, argument, cut=True)
        except ExtractionError:
            code = call.arguments
        if call is calls[-1] and keep_lines is not None:
            code = "".join(code.splitlines(keepends=True)[:keep_lines])
        elif code and not code.endswith("\n") and call is calls[-1]:
            head, _, _ = code.rpartition("\n")
            code = head + "\n" if head else ""
        arguments = code if call.kind == "custom" else json.dumps({argument: code})
        repaired.append(ToolCall(call.id, call.name, arguments, call.kind))
    return Turn(text=text, tool_calls=tuple(repaired), stop_reason=None, usage=turn.usage)
