"""The backend interface: a persistent execution session that runs code in order."""

from __future__ import annotations

import abc
import asyncio
from dataclasses import dataclass
from types import TracebackType
from typing import ClassVar, Self

from .._bridge import ToolBridge
from .._errors import BackendError, UsageError
from .._result import ExecResult

__all__ = [
    "CLOSE_TIMEOUT_S",
    "RESTART_GRACE_S",
    "AsyncResource",
    "Backend",
    "CellStep",
    "check_execute_args",
]

#: Default wait for a session to answer an interrupt before it is restarted, in seconds.
RESTART_GRACE_S = 2.0
#: Bound on closing a session and what it holds (a process, a kernel, a channel), in seconds;
#: past it, what is left is killed. Every backend's ``close`` is bounded by it.
CLOSE_TIMEOUT_S = 10.0


def check_execute_args(code: object, first_line: object, timeout_s: object = None) -> None:
    """Raise :class:`~eager.UsageError` unless ``code`` is a str, ``first_line`` an int >= 1
    and ``timeout_s`` None or a positive number."""
    if not isinstance(code, str):
        raise UsageError(f"code must be a str, not {type(code).__name__}")
    if isinstance(first_line, bool) or not isinstance(first_line, int) or first_line < 1:
        raise UsageError(f"first_line must be an int >= 1, not {first_line!r}")
    if timeout_s is not None and (
        isinstance(timeout_s, bool) or not isinstance(timeout_s, int | float) or not timeout_s > 0
    ):
        raise UsageError(f"timeout_s must be positive or None, not {timeout_s!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class CellStep:
    """Where an invocation stands in a notebook cell (``display="notebook"``).

    A cell runs as one or more invocations (its chunks and batches) and is shown as IPython
    shows it run whole: ``begin`` opens it (the execution count advances, ``pre_run_cell``
    fires, the per-request hooks are held back); each invocation keeps the value of a last
    bare expression; ``end`` closes it after the invocation's code ran: the held value is
    displayed (unless ``source``, the whole cell as it ran, ends with ``;``), ``_``/``Out``
    advance, figures are flushed, ``post_run_cell`` fires. ``failed``: the cell ended with an
    error found outside the session (a syntax error), so nothing is displayed. A backend
    closes a cell by itself when its code raises.
    """

    begin: bool = False
    end: bool = False
    source: str = ""
    failed: bool = False


class AsyncResource(abc.ABC):
    """Something started and closed, and an async context manager doing both.

    ``SHIELD_CLOSE``: the context manager's exit shields :meth:`close` from the caller's
    cancellation (a close that must finish, e.g. a pool's).
    """

    SHIELD_CLOSE: ClassVar[bool] = False

    @abc.abstractmethod
    async def start(self) -> None:
        """Start (idempotent)."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release everything (idempotent, bounded)."""

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.SHIELD_CLOSE:
            await asyncio.shield(self.close())
        else:
            await self.close()


class Backend(AsyncResource):
    """A persistent session that runs code, in order, keeping its state between invocations.

    Lifecycle lives here: ``start`` before the first ``execute``, ``close`` at the end; the
    class is an async context manager doing both. ``execute`` never raises for errors of the
    user's program (they come back as :class:`ExecError`); it raises :class:`~eager.BackendError`
    only when the session itself cannot be used. A timeout or a crash is reported as an
    ``ExecError`` of kind ``"timeout"`` / ``"crash"`` and the backend makes itself usable again
    (interrupt, else restart) before returning.

    Implementations override the hooks ``_start``, ``_execute``, ``_close`` (and ``interrupt``,
    ``reset``); the public ``start``, ``execute`` and ``close`` here check arguments and the
    closed state once for every backend. ``execute`` after ``close`` raises
    :class:`~eager.BackendError` until ``start`` is called again.
    """

    #: Short name shown in tables and JSON (``"repl"``, ``"jupyter"``, ``"gateway"``, ``"fake"``).
    name: str = "backend"
    #: Seconds the last start (or restart) of the session took; None before the first start.
    startup_s: float | None = None
    _closed: bool = False

    @property
    def closed(self) -> bool:
        """True after :meth:`close`, until :meth:`start` is called again."""
        return self._closed

    @property
    def alive(self) -> bool:
        """False once the session is known to be gone without asking it: closed, or (where the
        backend can tell at no cost) its process died while idle. A pool never hands out a
        session that is not alive: it starts a fresh, warmed one instead. True here; backends
        that own a process override it."""
        return not self._closed

    async def start(self) -> None:
        """Start the session (idempotent); raises :class:`~eager.BackendStartError`."""
        self._closed = False
        await self._start()

    async def execute(
        self,
        code: str,
        *,
        first_line: int = 1,
        timeout_s: float | None = None,
        cell: CellStep | None = None,
    ) -> ExecResult:
        """Run ``code`` whose first line is line ``first_line`` of the program.

        Line numbers in errors and tracebacks refer to the whole program. ``timeout_s`` bounds
        this invocation (None: the backend's default). ``cell``: the invocation is part of a
        notebook cell (see :class:`CellStep`); None runs it as a script runs it.
        """
        check_execute_args(code, first_line, timeout_s)
        if cell is not None and not isinstance(cell, CellStep):
            raise UsageError(f"cell must be a CellStep or None, not {type(cell).__name__}")
        if self._closed:
            raise BackendError(f"the {self.name} backend is closed; call start() to open it again")
        if cell is None:  # backends written before notebook cells take no ``cell``
            return await self._execute(code, first_line=first_line, timeout_s=timeout_s)
        return await self._execute(code, first_line=first_line, timeout_s=timeout_s, cell=cell)

    async def close(self) -> None:
        """Stop the session and release its resources (idempotent)."""
        self._closed = True
        await self._close()

    @abc.abstractmethod
    async def _start(self) -> None:
        """Start the session (idempotent)."""

    @abc.abstractmethod
    async def _execute(
        self,
        code: str,
        *,
        first_line: int,
        timeout_s: float | None,
        cell: CellStep | None = None,
    ) -> ExecResult:
        """Run checked arguments (see :meth:`execute`)."""

    @abc.abstractmethod
    async def _close(self) -> None:
        """Stop the session and release its resources (idempotent, bounded, never raises)."""

    #: Whether the session's code can call host tools (see :meth:`bind_tools`).
    supports_tools: ClassVar[bool] = False
    _bridge: ToolBridge | None = None

    @property
    def bridge(self) -> ToolBridge | None:
        """Where the session's tool calls go (None: no tools)."""
        return self._bridge

    def bind_tools(self, bridge: ToolBridge | None) -> ToolBridge | None:
        """Route the session's tool calls to ``bridge`` (its tools appear in the session as
        functions before the next execution); returns the bridge bound before. None unbinds
        (the stubs stay, and answer that no tools are bound)."""
        if bridge is not None and not self.supports_tools:
            raise UsageError(f"the {self.name} backend cannot call host tools")
        previous, self._bridge = self._bridge, bridge
        return previous

    @abc.abstractmethod
    async def interrupt(self) -> None:
        """Interrupt the running execution, keeping the session's state."""

    @abc.abstractmethod
    async def reset(self) -> None:
        """Give the session a fresh namespace (a restart where that is the only way)."""
