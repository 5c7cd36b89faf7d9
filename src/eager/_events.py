"""Typed, timestamped events: the one record of a run that metrics, traces and the model read.

Every ``t`` is seconds on the monotonic clock since the request was sent (t0).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "BatchDispatched",
    "BatchFinished",
    "ChunkClosed",
    "Event",
    "FirstToken",
    "GateDecided",
    "GenerationEnded",
    "Prefetched",
    "RequestSent",
    "RunFinished",
    "SpeculationStarted",
    "ToolCalled",
]


@dataclass(frozen=True, slots=True)
class Event:
    """Base of all events."""

    t: float


@dataclass(frozen=True, slots=True)
class RequestSent(Event):
    """The request left (t == 0)."""


@dataclass(frozen=True, slots=True)
class FirstToken(Event):
    """The first delta arrived."""


@dataclass(frozen=True, slots=True)
class ChunkClosed(Event):
    """The chunker emitted chunk ``index``; ``tokens`` deltas had arrived by then."""

    index: int
    start_line: int
    end_line: int
    tokens: int
    chars: int


@dataclass(frozen=True, slots=True)
class GateDecided(Event):
    """The gate classified chunk ``index`` as ``decision`` (run / defer / seal) for ``reason``."""

    index: int
    decision: str
    reason: str


@dataclass(frozen=True, slots=True)
class GenerationEnded(Event):
    """The last delta arrived, or generation was cancelled (``cancelled``)."""

    tokens: int
    cancelled: bool


@dataclass(frozen=True, slots=True)
class Prefetched(Event):
    """The session imported ``modules`` while waiting for the first token, in ``duration_s``.

    ``ok`` is False when the prefetch cell itself could not run (a failed import is ignored).
    Not a batch: its time is never part of the program's execution time.
    """

    modules: tuple[str, ...]
    duration_s: float
    ok: bool


@dataclass(frozen=True, slots=True)
class BatchDispatched(Event):
    """Batch ``index`` (chunks ``chunks``) was sent to the backend."""

    index: int
    chunks: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class BatchFinished(Event):
    """Batch ``index`` returned after ``duration_s`` (``ok`` False when it raised)."""

    index: int
    duration_s: float
    ok: bool


@dataclass(frozen=True, slots=True)
class RunFinished(Event):
    """The run is over: the last execution finished or the error was reported."""


@dataclass(frozen=True, slots=True)
class ToolCalled(Event):
    """The session's call of a host tool returned (``t``: when it was made); ``waited_s``:
    how long the session waited; ``speculated``: the result came from a speculative call."""

    name: str
    waited_s: float
    ok: bool
    speculated: bool


@dataclass(frozen=True, slots=True)
class SpeculationStarted(Event):
    """A read-only tool call found final in code not run yet was started in the host."""

    name: str
