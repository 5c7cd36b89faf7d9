"""The token-source interface, and an in-memory scripted source for tests and users."""

from __future__ import annotations

import abc
import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .._errors import StreamError
from .._extract import Format

__all__ = ["LIMIT_STOPS", "ScriptedSource", "Source", "ToolCall", "Turn", "TurnBlock", "stop_note"]


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One tool call of a model's answer, as received (protocol-neutral).

    ``arguments`` is the raw text streamed for it: JSON for a function tool, free text for a
    custom tool (``kind="custom"``, OpenAI Responses); cut short when the stream was.
    """

    id: str
    name: str
    arguments: str
    kind: Literal["function", "custom"] = "function"


@dataclass(frozen=True, slots=True)
class TurnBlock:
    """A part of the answer that is neither text, reasoning nor a client tool call, kept as received.

    ``type`` is the protocol's own name: an Anthropic content block (``"server_tool_use"``,
    ``"web_search_tool_result"``, ``"code_execution_tool_result"``, ``"redacted_thinking"``,
    ``"compaction"``, a type newer than Eager), an OpenAI Responses output item
    (``"web_search_call"``, ``"code_interpreter_call"``, ``"mcp_call"``, ...), or the type of
    an event Eager does not know (then ``index`` is None). ``data`` is the block as the
    stream built it: the start, the later fields merged in; a server tool's streamed input is
    parsed into ``data["input"]`` as the SDKs do (the raw text stays in ``data["partial_json"]``
    when it is not complete JSON). These never become code or a client tool call.
    """

    type: str
    index: int | None
    data: Mapping[str, Any]


#: Stop reasons that mean the model hit a token limit (chat, Anthropic, Responses names).
LIMIT_STOPS = frozenset(
    {"length", "max_tokens", "max_output_tokens", "model_context_window_exceeded"}
)
#: Stop reasons that mean the provider filtered or refused the answer.
REFUSAL_STOPS = frozenset({"refusal", "content_filter"})


def stop_note(stop_reason: str | None, refusal: str | None) -> str | None:
    """One line saying that the model stopped for a limit or refused (None: it ended normally)."""
    if refusal is not None or stop_reason in REFUSAL_STOPS:
        said = " ".join((refusal or "").split())
        reason = "refused" if stop_reason != "content_filter" else "was stopped by a content filter"
        return f"the model {reason} ({stop_reason})" + (f": {said[:200]}" if said else "")
    if stop_reason in LIMIT_STOPS:
        return f"the model stopped at its token limit ({stop_reason}): the answer is cut short"
    return None


@dataclass(frozen=True, slots=True)
class Turn:
    """What the model said in one streamed answer (protocol-neutral), so far.

    ``text`` is the answer's text content (prose and fences); ``tool_calls`` in the order the
    model made them; ``stop_reason`` as the protocol named it (``"stop"``, ``"end_turn"``,
    ``"tool_calls"``, ``"tool_use"``, ``"length"``, ``"max_tokens"``, ``"refusal"``, ...; None
    when the stream did not say, e.g. when it was cancelled); ``usage`` token counts as the
    protocol reported them (``input_tokens``/``output_tokens`` names normalised).

    ``refusal`` is the refusal the model gave (chat ``delta.refusal``, Responses
    ``response.refusal.delta``; ``""`` for an Anthropic ``refusal`` stop, which has no text),
    None when it did not refuse; a refusal makes an ordinary end's ``stop_reason``
    ``"refusal"``. ``reasoning`` is the reasoning (thinking) text streamed, in any shape the
    provider sent it. ``blocks`` are the other parts of the answer, kept for the caller
    (:class:`TurnBlock`: server tools and their results, redacted thinking, compaction, types
    Eager does not know).
    """

    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    stop_reason: str | None = None
    usage: Mapping[str, int] | None = None
    refusal: str | None = None
    reasoning: str = ""
    blocks: tuple[TurnBlock, ...] = ()


class Source(abc.ABC):
    """A cancellable, single-use stream of text deltas from a model.

    Iterate it once (``async for delta in source``); call :meth:`aclose` to stop generation
    (an HTTP source closes its connection, so the server sees the disconnect). One delta is one
    token where the source knows tokens.
    """

    #: How the text holds code (see :data:`Format`).
    format: Format = "auto"
    #: For ``format="tool"``: the name of the JSON argument that holds the code.
    tool_argument: str = "code"

    def __init__(self) -> None:
        self.tokens_generated = 0
        self.tokens_total: int | None = None
        self.cancelled = False

    @property
    def turn(self) -> Turn | None:
        """What the model said so far (model protocol sources); None where unknown."""
        return None

    def __aiter__(self) -> AsyncIterator[str]:
        return self.stream()

    @abc.abstractmethod
    def stream(self) -> AsyncIterator[str]:
        """Yield the deltas; count them in ``tokens_generated``."""

    async def aclose(self) -> None:
        """Stop generation (idempotent). Subclasses close their connection here."""
        self.cancelled = True


class ScriptedSource(Source):
    """Yields given deltas, optionally waiting ``delay_s`` before each (a fake model)."""

    def __init__(
        self,
        deltas: Sequence[str],
        *,
        delay_s: float | Sequence[float] = 0.0,
        format: Format = "auto",
        tool_argument: str = "code",
        fail_after: int | None = None,
    ) -> None:
        """``fail_after=n`` raises :class:`~eager.StreamError` after ``n`` deltas (a broken stream)."""
        super().__init__()
        self.deltas = list(deltas)
        self.delays = (
            [float(delay_s)] * len(self.deltas)
            if isinstance(delay_s, int | float)
            else [float(d) for d in delay_s]
        )
        self.format = format
        self.tool_argument = tool_argument
        self.fail_after = fail_after
        self.tokens_total = len(self.deltas)

    async def stream(self) -> AsyncIterator[str]:
        for i, delta in enumerate(self.deltas):
            if self.cancelled:
                return
            if self.fail_after is not None and i >= self.fail_after:
                raise StreamError(f"scripted stream broke after {i} deltas")
            delay = self.delays[i] if i < len(self.delays) else 0.0
            await asyncio.sleep(delay)  # <= 0: one turn of the loop
            self.tokens_generated += 1
            yield delta
