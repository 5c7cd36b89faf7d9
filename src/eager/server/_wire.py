"""What every wire protocol of the replay server provides: request reading and event encoding.

A :class:`Wire` reads the protocol's requests (the code tool a request declares, how many
assistant turns its history holds, whether it streams) and makes an :class:`Encoder` that turns
one :class:`Reply` into the protocol's server-sent events or its whole (non-streaming) body.
Pure: no I/O, no asyncio.
"""

from __future__ import annotations

import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Encoder",
    "Reply",
    "ToolForm",
    "Wire",
    "assistant_runs",
    "first_argument",
    "new_id",
    "now",
]


@dataclass(frozen=True, slots=True)
class ToolForm:
    """The code tool of a tool-call answer: its ``name`` and the JSON ``argument`` holding the
    code (None: a Responses custom tool, whose input is the raw code)."""

    name: str
    argument: str | None = "code"


@dataclass(frozen=True, slots=True)
class Reply:
    """What one request is answered: ``tokens`` of the content, or of a ``tool`` call's input."""

    model: str
    tokens: tuple[str, ...]
    tool: ToolForm | None = None
    #: The stop reason to report instead of the natural one (faults ``length``, ``stop-reason``).
    stop: str | None = None

    @property
    def text(self) -> str:
        """The whole content (or tool input)."""
        return "".join(self.tokens)


def new_id(prefix: str) -> str:
    """A fresh id like the APIs' (``prefix`` + 24 hex digits)."""
    return f"{prefix}{uuid.uuid4().hex[:24]}"


def now() -> int:
    """Unix time, seconds (the APIs' ``created``)."""
    return int(time.time())


def assistant_runs(items: Iterable[object], is_assistant: Callable[[dict[str, Any]], bool]) -> int:
    """Assistant turns in a history: runs of consecutive assistant items (a message and the tool
    calls it made are one turn)."""
    runs, inside = 0, False
    for item in items:
        mine = isinstance(item, dict) and is_assistant(item)
        runs += mine and not inside
        inside = mine
    return runs


class Encoder(ABC):
    """One reply in one protocol: the events of its stream, or its whole body."""

    def __init__(self, reply: Reply, *, include_usage: bool) -> None:
        self.reply = reply
        self.include_usage = include_usage

    @abstractmethod
    def head(self) -> bytes:
        """Events before the first token (may be empty)."""

    @abstractmethod
    def token(self, i: int) -> bytes:
        """The event carrying token ``i``."""

    @abstractmethod
    def tail(self, *, done: bool = True) -> bytes:
        """Events after the last token; ``done=False`` leaves out the protocol's last event."""

    @abstractmethod
    def bad_json(self) -> bytes:
        """A malformed event (fault ``bad-json``)."""

    @abstractmethod
    def error_event(self, message: str) -> bytes:
        """The protocol's in-stream error event (fault ``error-event``)."""

    @abstractmethod
    def whole(self) -> dict[str, Any]:
        """The non-streaming response body."""


class Wire(ABC):
    """One protocol: its routes, how its requests read, its error bodies and its encoder."""

    #: Protocol name in the log (``chat``, ``responses``, ``anthropic``).
    name: str
    #: Route paths (each served with and without the ``/v1`` prefix).
    path: str
    #: The stop reason of an answer cut at the token limit.
    length_stop: str

    def history_turns(self, body: dict[str, Any]) -> int:
        """How many assistant turns the request's history already holds (by default: runs of
        ``role: assistant`` entries of its ``messages``, as in Chat Completions and Messages)."""
        messages = body.get("messages")
        if not isinstance(messages, list):
            return 0
        return assistant_runs(messages, lambda m: m.get("role") == "assistant")

    @abstractmethod
    def declared_tool(self, body: dict[str, Any]) -> ToolForm | None:
        """The code tool the request declares (its first tool), or None."""

    def error_body(self, status: int, message: str, *, code: str, **extra: Any) -> dict[str, Any]:
        """The body of an error response with HTTP ``status`` (OpenAI's shape by default)."""
        return {
            "error": {"message": message, "type": "invalid_request_error", "code": code, **extra}
        }

    @abstractmethod
    def encoder(self, reply: Reply, body: dict[str, Any]) -> Encoder:
        """The encoder of ``reply`` for the request ``body``."""


def first_argument(schema: object, default: str) -> str:
    """The code argument of a JSON schema: its first required (else first) property."""
    if not isinstance(schema, dict):
        return default
    names = schema.get("required") or list(schema.get("properties") or ())
    return names[0] if names and isinstance(names[0], str) else default
