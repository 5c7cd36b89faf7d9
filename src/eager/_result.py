"""What a run returns: the program, its output, its error, batches, decisions, events, metrics."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

from ._chunker import Chunk
from ._events import Event

__all__ = [
    "ERROR_KINDS",
    "Batch",
    "ErrorKind",
    "ExecError",
    "ExecResult",
    "GateDecision",
    "Metrics",
    "Mode",
    "RichOutput",
    "RunResult",
]

#: What an :class:`ExecError` stands for: ``"runtime"`` the program raised; ``"syntax"`` a
#: genuine syntax error (found by the chunker or the backend); ``"timeout"`` the execution was
#: stopped after its ``timeout_s``; ``"crash"`` the session died (or could not be used);
#: ``"source"`` the model's stream failed; ``"extraction"`` its output was malformed.
ErrorKind = Literal["runtime", "syntax", "timeout", "crash", "source", "extraction"]
#: The values of :data:`ErrorKind`.
ERROR_KINDS: tuple[ErrorKind, ...] = get_args(ErrorKind)

#: ``"eager"`` runs chunks while the program streams; ``"serial"`` runs it whole at the end.
Mode = Literal["eager", "serial"]


@dataclass(frozen=True, slots=True)
class ExecError:
    """An error raised by the user's program (data, not an exception of Eager).

    ``lineno`` is a line of the *whole program* (chunks are compiled at their offset), so
    eager and serial execution report the same line. ``statement_line`` is the line of the
    program's top-level statement that was running when the error was raised (where a chunk
    or batch failed; it differs from ``lineno`` when the error comes from inside a function).
    ``kind`` is one of :data:`ErrorKind`.
    """

    ename: str
    evalue: str
    traceback: str = ""
    lineno: int | None = None
    kind: ErrorKind = "runtime"
    statement_line: int | None = None

    def to_dict(self) -> dict[str, object]:
        """The JSON form used by the CLI: ``{"ename", "evalue", "lineno", ...}``."""
        return {
            "ename": self.ename,
            "evalue": self.evalue,
            "lineno": self.lineno,
            "kind": self.kind,
            "statement_line": self.statement_line,
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


@dataclass(frozen=True, slots=True)
class GateDecision:
    """The gate's verdict on one chunk: ``"run"``, ``"defer"`` (def/class) or ``"seal"``."""

    index: int
    decision: Literal["run", "defer", "seal"]
    reason: str


@dataclass(frozen=True, slots=True)
class Batch:
    """One backend invocation: consecutive chunks sent together, and when.

    ``ready_s`` is when its last chunk was closed (or released by the gate); ``dispatched_s``
    and ``finished_s`` bound the invocation. Times are seconds since t0.
    """

    index: int
    chunks: tuple[int, ...]
    first_line: int
    code: str
    ready_s: float
    dispatched_s: float
    finished_s: float
    ok: bool


@dataclass(frozen=True, slots=True)
class Metrics:
    """The metrics of DESIGN.md §3, in seconds since t0 (``None`` when not reached)."""

    ttft_s: float | None
    gen_s: float
    e2el_s: float
    nel_s: float
    exec_s: float
    chunks: int
    batches: int
    tokens_generated: int
    tokens_total: int | None
    startup_s: float | None = None
    #: Seconds the session spent importing ``run(prefetch=...)`` modules (None: no prefetch).
    prefetch_s: float | None = None


@dataclass(frozen=True, slots=True)
class RunResult:
    """The outcome of :func:`eager.run`.

    ``code`` is the program as generated (up to the cancellation when interrupted);
    ``interrupted`` is True when generation was cancelled because the program failed;
    ``failed_chunk`` is the index of the chunk that raised (or held the syntax error).
    """

    mode: Mode
    code: str
    stdout: str
    stderr: str
    error: ExecError | None
    interrupted: bool
    failed_chunk: int | None
    chunks: tuple[Chunk, ...]
    batches: tuple[Batch, ...]
    decisions: tuple[GateDecision, ...]
    events: tuple[Event, ...]
    metrics: Metrics
    outputs: tuple[RichOutput, ...] = field(default_factory=tuple)
    truncated: bool = False
    #: Why the model stopped, as its protocol named it (None: the source did not say).
    stop_reason: str | None = None
    #: The model's refusal (``""`` when the protocol gives none), None when it did not refuse.
    refusal: str | None = None

    @property
    def ok(self) -> bool:
        """True when the program ran to the end without error."""
        return self.error is None

    @property
    def stop_note(self) -> str | None:
        """One line when the model stopped for a token limit or refused (else None)."""
        from .sources._base import stop_note

        return stop_note(self.stop_reason, self.refusal)

    def to_dict(self) -> dict[str, object]:
        """The JSON record of the CLI (``eager run --json``)."""
        m = self.metrics
        return {
            "mode": self.mode,
            "ttft_s": m.ttft_s,
            "gen_s": m.gen_s,
            "e2el_s": m.e2el_s,
            "nel_s": m.nel_s,
            "exec_s": m.exec_s,
            "startup_s": m.startup_s,
            "prefetch_s": m.prefetch_s,
            "chunks": m.chunks,
            "batches": m.batches,
            "tokens_generated": m.tokens_generated,
            "tokens_total": m.tokens_total,
            "stdout": self.stdout,
            "stderr": self.stderr,
            "error": None if self.error is None else self.error.to_dict(),
            "interrupted": self.interrupted,
            "failed_chunk": self.failed_chunk,
            "code": self.code,
            "truncated": self.truncated,
            "outputs": [o.path or next(iter(o.data), "") for o in self.outputs],
            "gate": [
                {"chunk": d.index, "decision": d.decision, "reason": d.reason}
                for d in self.decisions
            ],
            "batch_chunks": [list(b.chunks) for b in self.batches],
            "stop_reason": self.stop_reason,
            "refusal": self.refusal,
        }
