"""How a session pool is sized, bounded and recycled, and what its counters say."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .._errors import UsageError

__all__ = ["PoolConfig", "PoolStats", "ReturnPolicy"]

#: What happens to a session given back to the pool: ``"fresh"`` closes it and starts a new
#: process in the background; ``"reset"`` empties its namespace in place (``Backend.reset``:
#: fast, imported modules stay loaded); ``"keep"`` leaves its state as it is and, for a checkout
#: with a ``key``, keeps the session for that key (the next ``session(key=...)`` gets it back).
ReturnPolicy = Literal["fresh", "reset", "keep"]


@dataclass(frozen=True, kw_only=True)
class PoolConfig:
    """How a :class:`SessionPool` sizes, bounds and recycles its sessions.

    ``size``: warm sessions kept idle ahead of demand (started by ``start``, topped up in the
    background). ``max_sessions``: bound on sessions alive at once, idle, in use, kept for a
    key or being prepared (None: ``size``). ``max_waiters``: bound on checkouts waiting for a
    session; one more fails at once with :class:`~eager.PoolExhaustedError`.
    ``wait_timeout_s``: longest wait for a session (None: until one is free; 0: never wait for a
    session in use, only for one that can start now, at most ``start_timeout_s``).
    ``on_return``: the :data:`ReturnPolicy`. ``preload``: code run in every new session right
    after its start (imports, say), before it is offered; an error there is a failed start.
    ``start_timeout_s`` bounds each start (preload included); ``max_concurrent_starts`` bounds
    starts in flight (a burst of processes would slow every running session).

    Sessions kept for a key (``on_return="keep"``) are evicted, least recently used first, when
    they were not checked out for ``kept_idle_s`` (None: no time limit), when keeping one more
    would pass ``max_kept`` (None: no cap but ``max_sessions``), and when a checkout finds the
    pool at ``max_sessions`` with nothing idle: an evicted session is reset and serves anyone,
    and the next checkout with its key starts afresh (state lost). ``SessionPool.stats()``
    counts them (``evicted``).
    """

    size: int = 4
    max_sessions: int | None = None
    max_waiters: int = 1024
    wait_timeout_s: float | None = 60.0
    on_return: ReturnPolicy = "reset"
    preload: str = ""
    start_timeout_s: float = 60.0
    max_concurrent_starts: int = 8
    kept_idle_s: float | None = 3600.0
    max_kept: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 0:
            raise UsageError(f"size must be an int >= 0, not {self.size!r}")
        if self.max_sessions is not None and not (
            isinstance(self.max_sessions, int) and self.max_sessions >= max(self.size, 1)
        ):
            raise UsageError(
                f"max_sessions must be None or >= max(size, 1), not {self.max_sessions!r}"
            )
        if not isinstance(self.max_waiters, int) or self.max_waiters < 0:
            raise UsageError(f"max_waiters must be an int >= 0, not {self.max_waiters!r}")
        if self.wait_timeout_s is not None and not self.wait_timeout_s >= 0:
            raise UsageError(f"wait_timeout_s must be >= 0 or None, not {self.wait_timeout_s!r}")
        if self.on_return not in ("fresh", "reset", "keep"):
            raise UsageError(
                f"on_return must be 'fresh', 'reset' or 'keep', not {self.on_return!r}"
            )
        if not isinstance(self.preload, str):
            raise UsageError("preload must be a str of Python code")
        if not self.start_timeout_s > 0:
            raise UsageError(f"start_timeout_s must be positive, not {self.start_timeout_s!r}")
        if self.max_concurrent_starts < 1:
            raise UsageError("max_concurrent_starts must be >= 1")
        if self.kept_idle_s is not None and not self.kept_idle_s > 0:
            raise UsageError(f"kept_idle_s must be positive or None, not {self.kept_idle_s!r}")
        if self.max_kept is not None and (
            isinstance(self.max_kept, bool)
            or not isinstance(self.max_kept, int)
            or self.max_kept < 1
        ):
            raise UsageError(f"max_kept must be an int >= 1 or None, not {self.max_kept!r}")

    @property
    def limit(self) -> int:
        """The bound on sessions alive at once."""
        return self.max_sessions if self.max_sessions is not None else max(self.size, 1)


@dataclass(frozen=True, slots=True)
class PoolStats:
    """A snapshot of a pool's counters (:meth:`SessionPool.stats`)."""

    #: Sessions checked out now.
    in_use: int
    #: Warm sessions ready for a checkout.
    idle: int
    #: Sessions kept for a conversation key, not checked out.
    kept: int
    #: Sessions starting (preload included), resetting or closing for a replacement.
    preparing: int
    #: Checkouts waiting for a session.
    waiting: int
    #: Sessions started successfully since the pool started.
    started: int
    #: Sessions thrown away because they crashed, timed out, were closed or left in error.
    replaced: int
    #: Starts that failed (start error, start timeout, preload error).
    failed_starts: int
    #: Checkouts served.
    checkouts: int
    #: Kept sessions evicted (idle too long, over ``max_kept``, or room needed).
    evicted: int = 0
    #: Sessions found dead (killed while idle) at a checkout or by the pool's periodic sweep,
    #: replaced before they ran anything.
    found_dead: int = 0
