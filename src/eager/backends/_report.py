"""What every backend reports alike: capped output, the worker's error report, the timeout error."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .._result import ExecError, ExecResult, LogItem, RichOutput, StreamText

__all__ = [
    "MAX_OUTPUT_BYTES",
    "STATE_KEPT",
    "TRUNCATION_MARKER",
    "Captured",
    "OutputCap",
    "clean_text",
    "error_from_report",
    "exec_result",
    "output_record",
    "rich_output",
    "segmented_result",
    "timeout_error",
]

#: Appended to a stream whose output went over the cap (``kept`` and ``dropped`` are bytes).
TRUNCATION_MARKER = (
    "\n[eager: output truncated after {kept} bytes; {dropped} more bytes discarded]\n"
)

#: Default cap of each output stream per invocation, for every backend.
MAX_OUTPUT_BYTES = 1_000_000

#: How a timeout ended when the interrupt stopped the code (the usual case).
STATE_KEPT = "was interrupted; the session's state is kept"


def clean_text(text: str) -> str:
    """Lone surrogates (from a JSON transport, say) become visible escapes, never errors."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


@dataclass(frozen=True, slots=True)
class Captured:
    """What one stream received during one invocation: the kept bytes and the total count."""

    data: bytes
    total: int

    @property
    def truncated(self) -> bool:
        """True when bytes were discarded over the cap."""
        return self.total > len(self.data)

    def text(self) -> str:
        """The output decoded as UTF-8 (bad bytes replaced), with the marker when truncated."""
        text = self.data.decode("utf-8", errors="replace")
        if self.truncated:
            kept = len(self.data)
            text += TRUNCATION_MARKER.format(kept=kept, dropped=self.total - kept)
        return text


class OutputCap:
    """One output stream of one invocation: keeps at most ``cap`` bytes (None: all), counts all.

    The one output capper of every backend: the REPL feeds it pipe bytes, the kernels and the
    fake feed it text (encoded as the REPL's child encodes it, lone surrogates as ``\\udcxx``).
    """

    __slots__ = ("cap", "data", "total")

    def __init__(self, cap: int | None) -> None:
        self.cap = cap
        self.data = bytearray()
        self.total = 0

    def add(self, data: bytes | bytearray | memoryview) -> None:
        """Take bytes: kept up to the cap, counted always."""
        if self.cap is None:
            self.data += data
        elif len(self.data) < self.cap:
            self.data += data[: self.cap - len(self.data)]
        self.total += len(data)

    def add_text(self, text: str) -> None:
        """Take text, encoded as UTF-8 with lone surrogates as escapes (the REPL's encoding)."""
        self.add(text.encode("utf-8", "backslashreplace"))

    def add_captured(self, captured: Captured) -> None:
        """Take another segment: its kept bytes, and its dropped ones counted."""
        self.add(captured.data)
        self.total += captured.total - len(captured.data)

    def freeze(self) -> Captured:
        """What was received so far."""
        return Captured(bytes(self.data), self.total)


def exec_result(
    stdout: Captured,
    stderr: Captured,
    error: ExecError | None,
    duration_s: float,
    outputs: tuple[RichOutput, ...] = (),
) -> ExecResult:
    """The :class:`ExecResult` of an invocation's captured streams (truncation marked)."""
    return ExecResult(
        stdout=stdout.text(),
        stderr=stderr.text(),
        error=error,
        outputs=outputs,
        duration_s=duration_s,
        truncated=stdout.truncated or stderr.truncated,
    )


#: A stand-in in a session's output records: where the invocation's error showed.
ERROR_MARK = ExecError("", "")


def output_record(record: Mapping[str, Any]) -> RichOutput | ExecError:
    """What a session's output record stands for: a rich output, or :data:`ERROR_MARK` for
    the record marking where the error showed."""
    if record.get("output_type") == "error":
        return ERROR_MARK
    return rich_output(record)


def rich_output(record: Mapping[str, Any]) -> RichOutput:
    """The :class:`RichOutput` of an output record (``output_type``, ``data``, ...)."""
    data = record.get("data")
    metadata = record.get("metadata")
    count = record.get("execution_count")
    kind: Literal["display_data", "execute_result"] = (
        "execute_result" if record.get("output_type") == "execute_result" else "display_data"
    )
    return RichOutput(
        data={str(k): clean_text(str(v)) for k, v in (data or {}).items()}
        if isinstance(data, dict)
        else {},
        output_type=kind,
        execution_count=count if isinstance(count, int) and kind == "execute_result" else None,
        metadata=dict(metadata) if isinstance(metadata, dict) else {},
    )


def segmented_result(
    segments: Sequence[tuple[Captured, Captured, RichOutput | ExecError | None]],
    error: ExecError | None,
    duration_s: float,
    *,
    cap: int | None,
) -> ExecResult:
    """An invocation whose output came in pieces: the text printed before each rich output
    (stdout, stderr, the output; the last piece has none), kept in order in ``log``. A piece
    may end with the invocation's error instead (the session marks where it showed): it
    takes the place of that marker."""
    out, err = OutputCap(cap), OutputCap(cap)
    log: list[LogItem] = []
    outputs: list[RichOutput] = []
    for seg_out, seg_err, rich in segments:
        out.add_captured(seg_out)
        err.add_captured(seg_err)
        log.append(StreamText("stdout", seg_out.text()))
        log.append(StreamText("stderr", seg_err.text()))
        if isinstance(rich, ExecError):
            if error is not None:
                log.append(error)
        elif rich is not None:
            log.append(rich)
            outputs.append(rich)
    stdout, stderr = out.freeze(), err.freeze()
    return ExecResult(
        stdout=stdout.text(),
        stderr=stderr.text(),
        error=error,
        outputs=tuple(outputs),
        duration_s=duration_s,
        truncated=stdout.truncated or stderr.truncated,
        log=tuple(i for i in log if not isinstance(i, StreamText) or i.text),
    )


def error_from_report(raw: dict[str, object]) -> ExecError:
    """The :class:`ExecError` of the worker's error report (``Interpreter`` in the worker)."""
    lineno = raw.get("lineno")
    statement = raw.get("statement_line")
    kind = raw.get("kind")
    return ExecError(
        clean_text(str(raw.get("ename", "Error"))),
        clean_text(str(raw.get("evalue", ""))),
        clean_text(str(raw.get("traceback", ""))),
        lineno if isinstance(lineno, int) else None,
        kind="syntax" if kind == "syntax" else "runtime",
        statement_line=statement if isinstance(statement, int) else None,
    )


def timeout_error(
    limit_s: float, ending: str = STATE_KEPT, *, where: ExecError | None
) -> ExecError:
    """The error of an execution stopped after ``limit_s`` seconds, for every backend.

    ``ending`` says what became of the session (:data:`STATE_KEPT`, or that it was killed and
    restarted); ``where`` is the interrupted code's error, if any, whose traceback and lines
    say where the code stopped.
    """
    return ExecError(
        "TimeoutError",
        f"execution timed out after {limit_s:g} s and {ending}",
        where.traceback if where is not None else "",
        where.lineno if where is not None else None,
        kind="timeout",
        statement_line=where.statement_line if where is not None else None,
    )
