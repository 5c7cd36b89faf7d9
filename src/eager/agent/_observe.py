"""What the model sees after its code ran: the observation text of a run (pure).

The observation is what a good code interpreter returns: ``stdout:`` and ``stderr:`` each cut
to :attr:`ObservationBudget.max_chars` (head and tail kept, the cut marked ``[... N characters
cut ...]``), the rich outputs named (MIME type, saved path, a short text form), the error with
lines of the program (the code of this turn, its blocks or calls joined), and one sentence
for what the error means for the session: stopped by the timeout, the session crashed (state
lost), or statements held back by the gate (a seal) that never ran because the program did not
complete. An interruption adds nothing here: the history's repaired turn ends at the failing
statement, so eager and serial agents get the same observation for the same execution.
"""

from __future__ import annotations

from dataclasses import dataclass

from .._errors import UsageError
from .._result import ExecError, RunResult

__all__ = ["ObservationBudget", "cut_middle", "describe_error", "observe"]

#: The marker left where text was cut (``{n}``: characters removed).
CUT_MARKER = "\n[... {n} characters cut ...]\n"


@dataclass(frozen=True, slots=True, kw_only=True)
class ObservationBudget:
    """How much of a run's output goes back to the model.

    ``max_chars``: characters kept of each of stdout, stderr and the traceback (head and tail,
    ``head_fraction`` of it from the head); ``max_outputs``: rich outputs named (the rest
    counted); ``max_output_text_chars``: characters of each rich output's text form shown.
    """

    max_chars: int = 4000
    head_fraction: float = 0.6
    max_outputs: int = 10
    max_output_text_chars: int = 500

    def __post_init__(self) -> None:
        if self.max_chars < 1:
            raise UsageError(f"max_chars must be >= 1, not {self.max_chars!r}")
        if not 0.0 <= self.head_fraction <= 1.0:
            raise UsageError(f"head_fraction must be in [0, 1], not {self.head_fraction!r}")


def cut_middle(text: str, max_chars: int, head_fraction: float = 0.6) -> str:
    """``text`` when it fits in ``max_chars``, else its head and tail around a cut marker."""
    if len(text) <= max_chars:
        return text
    head = int(max_chars * head_fraction)
    tail = max_chars - head
    cut = len(text) - head - tail
    return text[:head] + CUT_MARKER.format(n=cut) + (text[-tail:] if tail else "")


def describe_error(error: ExecError) -> str:
    """One line naming the error and the program line it stopped at."""
    line = error.lineno if error.lineno is not None else error.statement_line
    where = f" at line {line}" if line is not None else ""
    value = f": {error.evalue}" if error.evalue else ""
    return f"{error.ename}{where}{value}"


_KIND_NOTES = {
    "timeout": "The execution was stopped by the time limit; the session was interrupted "
    "(its variables are kept unless the message above says it was restarted).",
    "crash": "The Python session crashed and was restarted: all variables, imports and "
    "definitions are lost; redo the ones you need.",
    "syntax": "The code has a syntax error; nothing from that statement on ran.",
    "extraction": "The code could not be read from your answer (malformed tool-call "
    "arguments); nothing of it ran.",
    "source": "The model's stream broke before the answer ended.",
}


def observe(result: RunResult, budget: ObservationBudget | None = None) -> str:
    """The observation of one run (see the module doc)."""
    b = budget or ObservationBudget()
    parts: list[str] = []
    if result.stdout:
        parts.append("stdout:\n" + cut_middle(result.stdout, b.max_chars, b.head_fraction))
    if result.stderr:
        parts.append("stderr:\n" + cut_middle(result.stderr, b.max_chars, b.head_fraction))
    for i, out in enumerate(result.outputs[: b.max_outputs], 1):
        kinds = ", ".join(k for k in out.data if k != "text/plain") or "text/plain"
        label = f"output {i}: {kinds}" + (f" saved to {out.path}" if out.path else "")
        text = out.data.get("text/plain", "")
        if text:
            label += "\n" + cut_middle(text, b.max_output_text_chars, b.head_fraction)
        parts.append(label)
    if len(result.outputs) > b.max_outputs:
        parts.append(f"({len(result.outputs) - b.max_outputs} more outputs not shown)")
    error = result.error
    if error is not None:
        text = "error: " + describe_error(error)
        if error.traceback.strip():
            text += "\n" + cut_middle(error.traceback.rstrip("\n"), b.max_chars, b.head_fraction)
        parts.append(text)
        note = _KIND_NOTES.get(error.kind)
        if note:
            parts.append(note)
    held = _never_ran(result)
    if held:
        parts.append(
            f"Not run: lines {held[0]}-{held[1]} (held back by the gate until the program was "
            "complete, because they act outside the session)."
        )
    if not parts:
        parts.append("(no output)" if result.code.strip() else "(no code)")
    return "\n".join(parts)


def _never_ran(result: RunResult) -> tuple[int, int] | None:
    """Lines of sealed chunks that never ran (the program did not complete)."""
    sealed = {d.index for d in result.decisions if d.decision == "seal"}
    ran = {i for batch in result.batches for i in batch.chunks}
    held = [c for c in result.chunks if c.index in sealed and c.index not in ran]
    if not held or result.mode == "serial":
        return None
    return held[0].start_line, held[-1].end_line
