"""The token-source interface, and an in-memory scripted source for tests and users."""

from __future__ import annotations

import abc
import asyncio
from collections.abc import AsyncIterator, Sequence

from .._extract import Format

__all__ = ["ScriptedSource", "Source"]


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
        from .._errors import StreamError

        for i, delta in enumerate(self.deltas):
            if self.cancelled:
                return
            if self.fail_after is not None and i >= self.fail_after:
                raise StreamError(f"scripted stream broke after {i} deltas")
            delay = self.delays[i] if i < len(self.delays) else 0.0
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                await asyncio.sleep(0)
            self.tokens_generated += 1
            yield delta
