"""What a run returns: the program, its output, its error, batches, decisions, events, metrics."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from ._chunker import Chunk
from ._events import Event

__all__ = [
    "DISPLAYS",
    "ERROR_KINDS",
    "Batch",
    "Display",
    "ErrorKind",
    "ExecError",
    "ExecResult",
    "GateDecision",
    "LogItem",
    "Metrics",
    "Mode",
    "RichOutput",
    "RunResult",
    "StreamText",
    "log_to_dicts",
    "merge_log",
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

#: What a run shows: ``"script"`` only what the program prints (``python prog.py``);
#: ``"notebook"`` what IPython shows for each cell (the last expression's value, figures,
#: ``display()``, ``!cmd`` and ``%magic``), cell by cell.
Display = Literal["notebook", "script"]
#: The values of :data:`Display`.
DISPLAYS: tuple[Display, ...] = get_args(Display)


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
            "output_type": "error",
            "ename": self.ename,
            "evalue": self.evalue,
            "lineno": self.lineno,
            "kind": self.kind,
            "statement_line": self.statement_line,
            "traceback": self.traceback,
        }


@dataclass(frozen=True, slots=True)
class RichOutput:
    """One rich output: a MIME bundle, as a notebook's ``display_data`` or ``execute_result``.

    ``data`` maps MIME type to its payload (text, or base64 for binary types such as
    ``image/png``); ``text/plain`` is always there when IPython formatted it. ``output_type``
    is ``"execute_result"`` for the value a cell displays (its last expression, with the
    cell's ``execution_count``) and ``"display_data"`` for ``display()`` calls and figures.
    ``path`` is where the backend saved the main payload (an image, HTML), when it did.
    """

    data: dict[str, str]
    path: str | None = None
    output_type: Literal["display_data", "execute_result"] = "display_data"
    execution_count: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """The ``text/plain`` form ("" when there is none)."""
        return self.data.get("text/plain", "")

    @property
    def images(self) -> dict[str, str]:
        """The image payloads of the bundle, by MIME type (base64, or SVG text)."""
        return {k: v for k, v in self.data.items() if k.startswith("image/")}

    def to_dict(self) -> dict[str, object]:
        """The JSON form (nbformat's output shape, plus ``path``)."""
        out: dict[str, object] = {
            "output_type": self.output_type,
            "data": dict(self.data),
            "metadata": dict(self.metadata),
        }
        if self.output_type == "execute_result":
            out["execution_count"] = self.execution_count
        if self.path is not None:
            out["path"] = self.path
        return out


@dataclass(frozen=True, slots=True)
class StreamText:
    """Text a program printed: ``name`` is ``"stdout"`` or ``"stderr"``."""

    name: Literal["stdout", "stderr"]
    text: str

    def to_dict(self) -> dict[str, object]:
        """The JSON form (nbformat's ``stream`` output)."""
        return {"output_type": "stream", "name": self.name, "text": self.text}


#: One entry of a run's ordered output log (a notebook's output list): printed text, a rich
#: output, or the error that ended the run.
LogItem = StreamText | RichOutput | ExecError


def merge_log(items: Iterable[LogItem]) -> tuple[LogItem, ...]:
    """``items`` with adjacent text of the same stream joined and empty text dropped."""
    merged: list[LogItem] = []
    for item in items:
        if isinstance(item, StreamText):
            if not item.text:
                continue
            last = merged[-1] if merged else None
            if isinstance(last, StreamText) and last.name == item.name:
                merged[-1] = StreamText(item.name, last.text + item.text)
                continue
        merged.append(item)
    return tuple(merged)


def log_to_dicts(log: Iterable[LogItem]) -> list[dict[str, object]]:
    """The JSON form of an output log."""
    return [item.to_dict() for item in log]


@dataclass(frozen=True, slots=True)
class ExecResult:
    """What one invocation of a backend returned.

    ``log`` holds the invocation's printed text and rich outputs in the order they appeared
    (the error is not in it); a backend that cannot order them leaves it empty and the
    runtime falls back to stdout, stderr, then outputs.
    """

    stdout: str = ""
    stderr: str = ""
    error: ExecError | None = None
    outputs: tuple[RichOutput, ...] = field(default_factory=tuple)
    duration_s: float = 0.0
    truncated: bool = False
    log: tuple[LogItem, ...] = field(default_factory=tuple)

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
    #: Host tool calls the program made, and the tools' own seconds (speculative ones too).
    tool_calls: int = 0
    tool_s: float = 0.0
    #: Speculative tool calls started, taken by the program (hits), never taken (misses),
    #: and the seconds of tool time they ran before the program asked (hidden).
    spec_started: int = 0
    spec_hits: int = 0
    spec_misses: int = 0
    spec_hidden_s: float = 0.0


@dataclass(frozen=True, slots=True)
class RunResult:
    """The outcome of :func:`eager.run`.

    ``code`` is the program as generated (up to the cancellation when interrupted);
    ``interrupted`` is True when generation was cancelled because the program failed;
    ``failed_chunk`` is the index of the chunk that raised (or held the syntax error).
    ``outputs`` holds the rich outputs only (displayed values and figures included) in the
    order they appeared; ``log`` is the ordered list of everything shown, printed text and
    rich outputs interleaved as a notebook's output list, ending with the error, if any.
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
    log: tuple[LogItem, ...] = field(default_factory=tuple)
    display: Display = "script"
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
            "tool_calls": m.tool_calls,
            "tool_s": m.tool_s,
            "speculation": {
                "started": m.spec_started,
                "hits": m.spec_hits,
                "misses": m.spec_misses,
                "hidden_s": m.spec_hidden_s,
            },
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
            "display": self.display,
            "outputs": [o.to_dict() for o in self.outputs],
            "log": log_to_dicts(self.log),
            "gate": [
                {"chunk": d.index, "decision": d.decision, "reason": d.reason}
                for d in self.decisions
            ],
            "batch_chunks": [list(b.chunks) for b in self.batches],
            "stop_reason": self.stop_reason,
            "refusal": self.refusal,
        }
