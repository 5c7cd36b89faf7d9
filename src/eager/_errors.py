"""The one exception tree of Eager.

::

    EagerError
    ├── UsageError               a bad argument or option from the caller
    ├── MissingExtraError        an optional dependency is not installed
    ├── ProgramSyntaxError       the streamed program has a genuine syntax error
    ├── ExtractionError          model output that cannot hold code (malformed tool-call JSON)
    ├── PoolExhaustedError       no pooled session free in time, or too many callers waiting
    ├── McpServerError           an MCP server could not be started or reached, or went away
    ├── BackendError             an execution session failed
    │   ├── BackendStartError    the session could not be started or reached
    │   ├── BackendCrashedError  the session died (segfault, os._exit, OOM kill, kernel death)
    │   └── BackendProtocolError the session answered something the protocol does not allow
    └── SourceError              the token source failed
        ├── EndpointError        the endpoint answered with an HTTP error (status, body)
        ├── StreamError          the stream broke, was malformed or ended without [DONE]
        └── SourceTimeoutError   connect, first-token or between-token timeout

Foreign exceptions are mapped at the boundary with the cause chained. Errors raised *by the
user's program* are not exceptions here: they are data (:class:`eager.ExecError`).
"""

from __future__ import annotations

__all__ = [
    "BackendCrashedError",
    "BackendError",
    "BackendProtocolError",
    "BackendStartError",
    "EagerError",
    "EndpointError",
    "ExtractionError",
    "McpServerError",
    "MissingExtraError",
    "PoolExhaustedError",
    "ProgramSyntaxError",
    "SourceError",
    "SourceTimeoutError",
    "StreamError",
    "UsageError",
]


class EagerError(Exception):
    """Base class of every error Eager raises."""


class UsageError(EagerError):
    """A bad argument or option from the caller."""


class MissingExtraError(EagerError):
    """An optional dependency is missing; the message names the ``pip install`` extra.

    ``hint`` replaces the default ``pip install 'eager[extra]'`` advice when a plainer one fits.
    """

    def __init__(self, package: str, extra: str, *, hint: str | None = None) -> None:
        advice = hint or f"pip install 'eager[{extra}]'"
        super().__init__(f"{package} is not installed: {advice}")
        self.package = package
        self.extra = extra


class ProgramSyntaxError(EagerError):
    """A genuine syntax error in the streamed program, at a line of the whole program.

    ``chunks`` holds the chunks completed before the error (they are valid and not lost).
    """

    def __init__(
        self,
        msg: str,
        *,
        lineno: int | None,
        offset: int | None = None,
        text: str | None = None,
        chunks: tuple[object, ...] = (),
    ) -> None:
        where = f"line {lineno}" if lineno is not None else "unknown line"
        super().__init__(f"{msg} ({where})")
        self.msg = msg
        self.lineno = lineno
        self.offset = offset
        self.text = text
        self.chunks = chunks


class ExtractionError(EagerError):
    """Model output that cannot carry code (for example malformed tool-call JSON)."""


class PoolExhaustedError(EagerError):
    """No pooled session was free within the wait timeout, or too many callers were waiting."""


class McpServerError(EagerError):
    """An MCP server could not be started or reached, or its session ended."""


class BackendError(EagerError):
    """An execution session failed."""


class BackendStartError(BackendError):
    """The session could not be started or reached."""


class BackendCrashedError(BackendError):
    """The session died: segfault, ``os._exit``, OOM kill or kernel death."""


class BackendProtocolError(BackendError):
    """The session sent something its protocol does not allow."""


class SourceError(EagerError):
    """The token source failed."""


class EndpointError(SourceError):
    """The endpoint answered with an HTTP error status."""

    def __init__(self, message: str, *, status: int, body: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class StreamError(SourceError):
    """The stream broke, was malformed, or ended without its terminator."""


class SourceTimeoutError(SourceError):
    """A connect, first-token or between-token timeout expired."""
