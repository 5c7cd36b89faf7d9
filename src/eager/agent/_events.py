"""Typed, timestamped events of an agent run, for live displays (``t``: seconds since start).

The per-turn pipeline events (chunks, batches, gate decisions) stay in each turn's
:class:`~eager.RunResult`; these add what a live view needs while a turn streams.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .._result import ExecResult

if TYPE_CHECKING:
    from ._records import AgentTurn

__all__ = [
    "AgentEvent",
    "CodeFinished",
    "CodeStarted",
    "ModelDelta",
    "TurnEnded",
    "TurnStarted",
]


@dataclass(frozen=True, slots=True)
class AgentEvent:
    """Base of the agent's events."""

    t: float


@dataclass(frozen=True, slots=True)
class TurnStarted(AgentEvent):
    """Turn ``index`` (from 0) was requested from the model."""

    index: int


@dataclass(frozen=True, slots=True)
class ModelDelta(AgentEvent):
    """A delta of the model's stream (text; the JSON arguments of a code tool call)."""

    index: int
    text: str


@dataclass(frozen=True, slots=True)
class CodeStarted(AgentEvent):
    """Statements of turn ``index`` went to the session (``first_line`` of its program)."""

    index: int
    code: str
    first_line: int


@dataclass(frozen=True, slots=True)
class CodeFinished(AgentEvent):
    """Those statements finished with ``result``."""

    index: int
    result: ExecResult


@dataclass(frozen=True, slots=True)
class TurnEnded(AgentEvent):
    """Turn ``turn.index`` ended: its runs, observation and repair are in ``turn``."""

    turn: AgentTurn
