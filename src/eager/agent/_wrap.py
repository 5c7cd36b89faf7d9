"""Two see-through wrappers a turn runs through: a recording source and an observed backend.

:class:`RecordingSource` keeps the deltas it passed on and reports each one; it rebuilds what
the model said when the wrapped source cannot (:attr:`turn`). :class:`ObservedBackend` reports
each invocation before and after it runs. Neither owns what it wraps.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from .._bridge import ToolBridge
from .._result import ExecResult
from ..backends._base import Backend, CellStep
from ..sources._base import Source, ToolCall, Turn

# Internal to the agent loop (not exported): they only see through what they wrap.
__all__: list[str] = []


class RecordingSource(Source):
    """Passes ``inner``'s deltas on, keeping them, and calls ``on_delta`` with each."""

    def __init__(
        self,
        inner: Source,
        *,
        on_delta: Callable[[str], None] | None = None,
        tool_name: str = "python",
        call_id: str = "call_0",
    ) -> None:
        self.inner = inner
        super().__init__()
        self.format = inner.format
        self.tool_argument = inner.tool_argument
        self.deltas: list[str] = []
        self._on_delta = on_delta
        self._tool_name = tool_name
        self._call_id = call_id

    # Counts are the wrapped source's (the run reads them after the stream).
    @property
    def tokens_generated(self) -> int:
        return self.inner.tokens_generated

    @tokens_generated.setter
    def tokens_generated(self, value: int) -> None:
        pass

    @property
    def tokens_total(self) -> int | None:
        return self.inner.tokens_total

    @tokens_total.setter
    def tokens_total(self, value: int | None) -> None:
        pass

    @property
    def turn(self) -> Turn:
        """What the model said so far: the wrapped source's turn, else rebuilt from deltas."""
        inner = self.inner.turn
        if inner is not None:
            return inner
        text = "".join(self.deltas)
        if self.format != "tool":
            return Turn(text=text)
        prose = getattr(self.inner, "content", "")
        prose = prose if isinstance(prose, str) else ""
        if not self.deltas:
            return Turn(text=prose)
        return Turn(text=prose, tool_calls=(ToolCall(self._call_id, self._tool_name, text),))

    async def stream(self) -> AsyncIterator[str]:
        async for delta in self.inner:
            self.deltas.append(delta)
            if self._on_delta is not None:
                self._on_delta(delta)
            yield delta

    async def aclose(self) -> None:
        """Stop the wrapped source's generation."""
        self.cancelled = True
        await self.inner.aclose()


class ObservedBackend(Backend):
    """Runs everything on ``inner``, calling ``on_start(code, first_line)`` / ``on_end(result)``."""

    def __init__(
        self,
        inner: Backend,
        *,
        on_start: Callable[[str, int], None],
        on_end: Callable[[ExecResult], None],
    ) -> None:
        self.inner = inner
        self.name = inner.name
        self._on_start = on_start
        self._on_end = on_end

    @property
    def bridge(self) -> ToolBridge | None:
        """The wrapped session's tool bridge."""
        return self.inner.bridge

    def bind_tools(self, bridge: ToolBridge | None) -> ToolBridge | None:
        """Bind tools to the wrapped session."""
        return self.inner.bind_tools(bridge)

    @property
    def startup_s(self) -> float | None:
        return self.inner.startup_s

    @startup_s.setter
    def startup_s(self, value: float | None) -> None:
        pass

    async def _start(self) -> None:
        await self.inner.start()

    async def _execute(
        self,
        code: str,
        *,
        first_line: int,
        timeout_s: float | None,
        cell: CellStep | None = None,
    ) -> ExecResult:
        self._on_start(code, first_line)
        result = await self.inner.execute(
            code, first_line=first_line, timeout_s=timeout_s, cell=cell
        )
        self._on_end(result)
        return result

    async def _close(self) -> None:
        """The wrapped backend belongs to the caller: nothing to close here."""

    async def interrupt(self) -> None:
        await self.inner.interrupt()

    async def reset(self) -> None:
        await self.inner.reset()
