"""The token plan of one answer: its tokens and when each is due (pure, no I/O).

Token ``i`` is due ``ttft_s + i / tps`` seconds after the request (an absolute schedule with
seeded jitter), tokens cut by :func:`eager.tokenize`, exactly as :class:`~eager.ReplaySource`
replays them.
"""

from __future__ import annotations

from dataclasses import dataclass

from .._errors import UsageError
from ..sources._replay import ReplaySource

__all__ = ["Pace", "TokenPlan", "plan_tokens"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Pace:
    """How fast the server answers: ``tps`` tokens/s after ``ttft_s``, relative ``jitter``."""

    tps: float = 50.0
    ttft_s: float = 0.1
    jitter: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.tps > 0 or self.ttft_s < 0 or self.jitter < 0:
            raise UsageError("tps must be positive; ttft and jitter must not be negative")


@dataclass(frozen=True, slots=True)
class TokenPlan:
    """The tokens of one answer and their due times (seconds after the request)."""

    tokens: tuple[str, ...]
    due_s: tuple[float, ...]


def plan_tokens(text: str, pace: Pace) -> TokenPlan:
    """The plan of ``text`` at ``pace``."""
    replay = ReplaySource(
        text, tps=pace.tps, ttft_s=pace.ttft_s, jitter=pace.jitter, seed=pace.seed
    )
    return TokenPlan(tuple(replay.tokens), tuple(replay.schedule))
