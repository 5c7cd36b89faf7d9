"""What the model sees after its code ran: the observation of a run, text and images (pure).

**Notebook display** (``RunResult.display == "notebook"``): the observation is what a notebook
shows under the cell, in order, as text: printed text (stdout and stderr as they came), the
``text/plain`` of each displayed value (the cell's value and ``display()`` outputs alike), then
the error's traceback, joined by newlines (as code interpreters such as InfiAgent's DA-Agent
render a Jupyter cell). Each text is cut to :attr:`ObservationBudget.max_chars`. An image
(``image/png``, ``image/jpeg``, ...) is named in place (``[image 1: image/png, 23.1 kB, saved to
PATH]``) and goes to the model as an image part (:class:`~eager.agent.ImagePart`), within the
budget's image bounds; one it leaves out is named with why.

**Script display**: ``stdout:`` and ``stderr:`` each cut to :attr:`ObservationBudget.max_chars`
(head and tail kept, the cut marked ``[... N characters cut ...]``), the rich outputs named
(MIME type, saved path, a short text form; images sent as in notebook display), the error with
lines of the program (the code of this turn, its blocks or calls joined).

Both end with one sentence for what the error means for the session: stopped by the timeout,
the session crashed (state lost), or statements held back by the gate (a seal) that never ran
because the program did not complete. An interruption adds nothing here: the history's repaired
turn ends at the failing statement, so eager and serial agents get the same observation for the
same execution.
"""

from __future__ import annotations

from dataclasses import dataclass

from .._errors import UsageError
from .._result import ExecError, RichOutput, RunResult, StreamText
from ._history import ImagePart, format_bytes

__all__ = [
    "IMAGE_TYPES",
    "Observation",
    "ObservationBudget",
    "cut_middle",
    "describe_error",
    "observation",
    "observe",
]

#: Image types a model takes as an image part, in order of preference within one bundle
#: (SVG and other types are named only).
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")

#: The marker left where text was cut (``{n}``: characters removed).
CUT_MARKER = "\n[... {n} characters cut ...]\n"


@dataclass(frozen=True, slots=True, kw_only=True)
class ObservationBudget:
    """How much of a run's output goes back to the model.

    ``max_chars``: characters kept of each of stdout, stderr and the traceback (head and tail,
    ``head_fraction`` of it from the head; in notebook display also of each displayed value's
    text); ``max_outputs``: rich outputs shown (the rest counted); ``max_output_text_chars``:
    characters of each rich output's text form named in script display. Images: at most
    ``max_images`` per observation, each at most ``max_image_bytes`` (decoded) and all together
    at most ``max_total_image_bytes``; an image over a bound is named, not sent.
    """

    max_chars: int = 4000
    head_fraction: float = 0.6
    max_outputs: int = 10
    max_output_text_chars: int = 500
    max_images: int = 4
    max_image_bytes: int = 2_000_000
    max_total_image_bytes: int = 5_000_000

    def __post_init__(self) -> None:
        if self.max_chars < 1:
            raise UsageError(f"max_chars must be >= 1, not {self.max_chars!r}")
        if not 0.0 <= self.head_fraction <= 1.0:
            raise UsageError(f"head_fraction must be in [0, 1], not {self.head_fraction!r}")
        for name in ("max_images", "max_image_bytes", "max_total_image_bytes"):
            if getattr(self, name) < 0:
                raise UsageError(f"{name} must be >= 0, not {getattr(self, name)!r}")


@dataclass(frozen=True, slots=True)
class Observation:
    """What the model sees of one run: ``text``, then ``images`` (each named in the text)."""

    text: str
    images: tuple[ImagePart, ...] = ()


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
    """The observation text of one run (see the module doc); images are named in it."""
    return observation(result, budget).text


def observation(result: RunResult, budget: ObservationBudget | None = None) -> Observation:
    """The observation of one run: its text and the images sent with it (module doc)."""
    b = budget or ObservationBudget()
    images = _Images(b)
    if result.display == "notebook":
        parts = _notebook_parts(result, b, images)
    else:
        parts = _script_parts(result, b, images)
    error = result.error
    if error is not None:
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
    return Observation("\n".join(parts), tuple(images.kept))


def _script_parts(result: RunResult, b: ObservationBudget, images: _Images) -> list[str]:
    """``stdout:``, ``stderr:``, the rich outputs named, ``error:`` with its traceback."""
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
        image = images.take(out)
        if image:
            label += "\n" + image
        parts.append(label)
    if len(result.outputs) > b.max_outputs:
        parts.append(f"({len(result.outputs) - b.max_outputs} more outputs not shown)")
    error = result.error
    if error is not None:
        text = "error: " + describe_error(error)
        if error.traceback.strip():
            text += "\n" + cut_middle(error.traceback.rstrip("\n"), b.max_chars, b.head_fraction)
        parts.append(text)
    return parts


def _notebook_parts(result: RunResult, b: ObservationBudget, images: _Images) -> list[str]:
    """The cell's output list as text, in order (module doc)."""
    parts: list[str] = []
    shown = 0
    errors = 0
    for item in _log_of(result):
        if isinstance(item, StreamText):
            parts.append(cut_middle(item.text, b.max_chars, b.head_fraction))
        elif isinstance(item, RichOutput):
            shown += 1
            if shown > b.max_outputs:
                continue
            text = item.text
            lines = [cut_middle(text, b.max_chars, b.head_fraction)] if text else []
            image = images.take(item)
            if image:
                lines.append(image)
            elif not text:
                lines.append(f"[{', '.join(item.data) or 'empty output'}]")
            parts.append("\n".join(lines))
        else:
            errors += 1
            parts.append(_error_text(item, b))
    if shown > b.max_outputs:
        parts.append(f"({shown - b.max_outputs} more outputs not shown)")
    if result.error is not None and not errors:
        parts.append(_error_text(result.error, b))
    return parts


def _log_of(result: RunResult) -> tuple[StreamText | RichOutput | ExecError, ...]:
    """The run's output log; for a result without one: stdout, stderr, outputs, error."""
    if result.log:
        return result.log
    fallback: list[StreamText | RichOutput | ExecError] = []
    if result.stdout:
        fallback.append(StreamText("stdout", result.stdout))
    if result.stderr:
        fallback.append(StreamText("stderr", result.stderr))
    fallback.extend(result.outputs)
    return tuple(fallback)


def _error_text(error: ExecError, b: ObservationBudget) -> str:
    """The error as a notebook shows it: its traceback, after ``Name at line N: value`` when
    the traceback does not name the error (a syntax error found while streaming)."""
    traceback = error.traceback.rstrip("\n")
    if traceback.strip() and error.ename in traceback:
        return cut_middle(traceback, b.max_chars, b.head_fraction)
    head = describe_error(error)
    if traceback.strip():
        head += "\n" + cut_middle(traceback, b.max_chars, b.head_fraction)
    return head


class _Images:
    """Picks the images of an observation within the budget and names each in the text."""

    def __init__(self, budget: ObservationBudget) -> None:
        self.budget = budget
        self.kept: list[ImagePart] = []
        self.total = 0

    def take(self, out: RichOutput) -> str:
        """The line naming ``out``'s image ("" when it has none), keeping it if it fits."""
        found = out.images
        if not found:
            return ""
        mime = next((m for m in IMAGE_TYPES if m in found), None)
        if mime is None:
            kinds = ", ".join(found)
            where = f", saved to {out.path}" if out.path else ""
            return f"[{kinds}{where}: not shown (not an image type the model takes)]"
        image = ImagePart(mime, found[mime], out.path)
        b, size = self.budget, image.size_bytes
        why = None
        if len(self.kept) >= b.max_images:
            why = f"over {b.max_images} images per observation"
        elif size > b.max_image_bytes:
            why = f"over {format_bytes(b.max_image_bytes)} per image"
        elif self.total + size > b.max_total_image_bytes:
            why = f"over {format_bytes(b.max_total_image_bytes)} of images per observation"
        if why is not None:
            return f"[{image.describe()}: not shown ({why})]"
        self.kept.append(image)
        self.total += size
        return f"[image {len(self.kept)}: {image.describe()}]"


def _never_ran(result: RunResult) -> tuple[int, int] | None:
    """Lines of sealed chunks that never ran (the program did not complete)."""
    sealed = {d.index for d in result.decisions if d.decision == "seal"}
    ran = {i for batch in result.batches for i in batch.chunks}
    held = [c for c in result.chunks if c.index in sealed and c.index not in ran]
    if not held or result.mode == "serial":
        return None
    return held[0].start_line, held[-1].end_line
