"""The records of an agent run: its configuration, each turn, the result (pure data).

Also the final-answer conventions: ``final_answer(value)`` defined in the session by
:data:`FINAL_ANSWER_SETUP`, and a ``Final Answer:`` marker in a turn without code
(:func:`final_answer_of`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from .._errors import UsageError
from .._gate import Gate
from .._policy import Policy
from .._result import Mode, RunResult
from ..sources._base import Turn
from ._history import AssistantMessage, Message
from ._observe import ObservationBudget

__all__ = [
    "FINAL_ANSWER_SETUP",
    "AgentConfig",
    "AgentResult",
    "AgentTurn",
    "Repair",
    "StopReason",
    "final_answer_of",
]

#: ``"partial"``: stop at the first error, history holds the code up to it; ``"full"``: let the
#: turn finish, run nothing more, history holds the whole program.
Repair = Literal["partial", "full"]
#: Why the loop ended (see the module doc).
StopReason = Literal["answer", "final_answer", "max_turns", "error"]

#: Run in the session before the first turn (and after a crash): the final-answer convention.
FINAL_ANSWER_SETUP = '''\
class FinalAnswer(BaseException):
    """Raised by final_answer(value): the task is done and value is the answer."""


def final_answer(answer):
    """End the task with this answer."""
    raise FinalAnswer(answer)
'''
_FINAL_MARKER = re.compile(r"final answer\s*:", re.IGNORECASE)


def final_answer_of(text: str) -> str:
    """The answer of a turn without code: the text after its last ``Final Answer:`` marker, or
    the whole text, stripped."""
    matches = list(_FINAL_MARKER.finditer(text))
    return (text[matches[-1].end() :] if matches else text).strip()


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentConfig:
    """How an :class:`Agent` runs.

    ``max_turns``: model turns at most; ``repair``: see :data:`Repair`; ``mode``: ``"eager"``
    or ``"serial"`` (the baseline: run each turn's program once it is complete); ``gate``:
    gate policy of each run; ``timeout_s``: bound of each invocation; ``budget``: what the
    observation keeps; ``final_answer``: define ``final_answer()`` in the session.
    """

    max_turns: int = 10
    repair: Repair = "partial"
    mode: Mode = "eager"
    gate: Gate | Policy | str = "default"
    timeout_s: float | None = None
    budget: ObservationBudget = field(default_factory=ObservationBudget)
    final_answer: bool = True

    def __post_init__(self) -> None:
        if self.max_turns < 1:
            raise UsageError(f"max_turns must be >= 1, not {self.max_turns!r}")
        if self.repair not in ("partial", "full"):
            raise UsageError(f"repair must be 'partial' or 'full', not {self.repair!r}")
        if self.mode not in ("eager", "serial"):
            raise UsageError(f"mode must be 'eager' or 'serial', not {self.mode!r}")


@dataclass(frozen=True, slots=True)
class AgentTurn:
    """One model turn: what was said, what ran, what went back.

    ``said`` is the turn as generated (cut when ``interrupted``); ``message`` is what the history
    holds for it (repaired when cut); ``stream`` the run over the streamed answer (None when it
    could not be read); ``runs`` one :class:`~eager.RunResult` per code block set or call that
    ran (empty for an answer without code); ``observations`` the messages appended after it. ``actual_s`` is the
    turn's time from request to observation; ``serial_s`` the serial-equivalent time (the whole
    answer's generation, estimated from the token rate when cut, plus the execution time).
    """

    index: int
    said: Turn
    message: AssistantMessage
    runs: tuple[RunResult, ...]
    observations: tuple[Message, ...]
    interrupted: bool
    actual_s: float
    serial_s: float
    answer: str | None = None
    stream: RunResult | None = None

    @property
    def tokens_generated(self) -> int:
        """Tokens the model generated in this turn."""
        return 0 if self.stream is None else self.stream.metrics.tokens_generated

    @property
    def tokens_total(self) -> int | None:
        """Tokens of the whole answer, where the source knows it (cut turns: more than made)."""
        return None if self.stream is None else self.stream.metrics.tokens_total

    @property
    def error(self) -> str | None:
        """The first error of the turn's runs, as ``ename: evalue``."""
        for r in self.runs:
            if r.error is not None and r.error.ename != "FinalAnswer":
                return f"{r.error.ename}: {r.error.evalue}"
        return None


@dataclass(frozen=True, slots=True)
class AgentResult:
    """The outcome of :meth:`Agent.run`: the answer, why it stopped, every turn and message."""

    answer: str | None
    stop: StopReason
    turns: tuple[AgentTurn, ...]
    messages: tuple[Message, ...]
    elapsed_s: float
    error: str | None = None

    @property
    def tokens_generated(self) -> int:
        """Tokens the model generated over all turns."""
        return sum(t.tokens_generated for t in self.turns)

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready summary (the ``eager chat --json`` record)."""
        return {
            "answer": self.answer,
            "stop": self.stop,
            "error": self.error,
            "elapsed_s": self.elapsed_s,
            "tokens_generated": self.tokens_generated,
            "turns": [
                {
                    "index": t.index,
                    "text": t.message.text,
                    "code": [r.code for r in t.runs],
                    "interrupted": t.interrupted,
                    "error": t.error,
                    "actual_s": t.actual_s,
                    "serial_s": t.serial_s,
                    "tokens_generated": t.tokens_generated,
                    "tokens_total": t.tokens_total,
                    "observations": [getattr(o, "text", "") for o in t.observations],
                }
                for t in self.turns
            ],
        }
