"""The backend interface: a persistent execution session, and what one execution returns."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

__all__ = [
    "RESTART_GRACE_S",
    "Backend",
    "ExecError",
    "ExecResult",
    "RichOutput",
    "check_execute_args",
]

#: Default wait for a session to answer an interrupt before it is restarted, in seconds.
RESTART_GRACE_S = 2.0


@dataclass(frozen=True, slots=True)
class ExecError:
    """An error raised by the user's program (data, not an exception of Eager).

    ``lineno`` is a line of the *whole program* (chunks are compiled at their offset), so
    eager and serial execution report the same line. ``kind`` tells runtime errors from
    ``"syntax"`` (the chunker found a genuine syntax error), ``"timeout"`` (the execution was
    stopped after ``timeout_s``) and ``"crash"`` (the session died).
    """

    ename: str
    evalue: str
    traceback: str = ""
    lineno: int | None = None
    kind: str = "runtime"

    def to_dict(self) -> dict[str, object]:
        """The JSON form used by the CLI: ``{"ename", "evalue", "lineno", ...}``."""
        return {
            "ename": self.ename,
            "evalue": self.evalue,
            "lineno": self.lineno,
            "kind": self.kind,
            "traceback": self.traceback,
        }


@dataclass(frozen=True, slots=True)
class RichOutput:
    """One rich output (a ``display_data`` / ``execute_result`` MIME bundle).

    ``data`` maps MIME type to its payload (text, or base64 for binary types); ``path`` is
    where the backend saved the main payload (an image, HTML), when it did.
    """

    data: dict[str, str]
    path: str | None = None


@dataclass(frozen=True, slots=True)
class ExecResult:
    """What one invocation of a backend returned."""

    stdout: str = ""
    stderr: str = ""
    error: ExecError | None = None
    outputs: tuple[RichOutput, ...] = field(default_factory=tuple)
    duration_s: float = 0.0
    truncated: bool = False

    @property
    def ok(self) -> bool:
        """True when the code ran to the end without raising."""
        return self.error is None


def check_execute_args(code: object, first_line: object) -> None:
    """Raise :class:`~eager.UsageError` unless ``code`` is a str and ``first_line`` an int >= 1."""
    from ._errors import UsageError

    if not isinstance(code, str):
        raise UsageError(f"code must be a str, not {type(code).__name__}")
    if isinstance(first_line, bool) or not isinstance(first_line, int) or first_line < 1:
        raise UsageError(f"first_line must be an int >= 1, not {first_line!r}")


class Backend(abc.ABC):
    """A persistent session that runs code, in order, keeping its state between invocations.

    Lifecycle lives here: ``start`` before the first ``execute``, ``close`` at the end; the
    class is an async context manager doing both. ``execute`` never raises for errors of the
    user's program (they come back as :class:`ExecError`); it raises :class:`~eager.BackendError`
    only when the session itself cannot be used. A timeout or a crash is reported as an
    ``ExecError`` of kind ``"timeout"`` / ``"crash"`` and the backend makes itself usable again
    (interrupt, else restart) before returning.
    """

    #: Short name shown in tables and JSON (``"repl"``, ``"jupyter"``, ``"gateway"``, ``"fake"``).
    name: str = "backend"

    @abc.abstractmethod
    async def start(self) -> None:
        """Start the session (idempotent)."""

    @abc.abstractmethod
    async def execute(
        self, code: str, *, first_line: int = 1, timeout_s: float | None = None
    ) -> ExecResult:
        """Run ``code`` whose first line is line ``first_line`` of the program.

        Line numbers in errors and tracebacks refer to the whole program. ``timeout_s`` bounds
        this invocation (None: the backend's default).
        """

    @abc.abstractmethod
    async def interrupt(self) -> None:
        """Interrupt the running execution, keeping the session's state."""

    @abc.abstractmethod
    async def reset(self) -> None:
        """Give the session a fresh namespace (a restart where that is the only way)."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Stop the session and release its resources (idempotent)."""

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
