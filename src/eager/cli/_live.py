"""The live view of the command line: output as it arrives, and a status line while it streams.

* :class:`Status`: one line on stderr, only on a terminal: a spinner, what is happening (the
  model writing, tokens so far, statements run) and the time; erased before anything else is
  printed, and at the end.
* :class:`Output`: prints what one invocation returned (printed text in order, rich outputs
  named, never the error: that is reported once at the end), optionally labelled with the
  program lines it came from; it flushes at once, also into a pipe.
* :class:`TextLines`: the model's text, shown a whole line at a time (a run's output never
  splits a line in two).
* :class:`LiveRun`: one run's live view: wraps the source (counting tokens) and is the run's
  ``on_batch`` (printing output as each batch returns); it remembers what ran, for the line a
  Ctrl-C leaves.
* :class:`Live`: the view of a ``run``/``demo`` command: one status line, one output, a
  :class:`LiveRun` per mode.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, TextIO

from rich.console import Console
from rich.text import Text

from .._result import Batch, ExecResult, RichOutput
from ..agent._wrap import RecordingSource
from ..sources._base import Source
from ._render import rich_line

__all__ = [
    "Live",
    "LiveRun",
    "Output",
    "Status",
    "TextLines",
    "first_statement_line",
    "has_statements",
]

_FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
#: Seconds between two frames of the spinner.
TICK_S = 0.1
#: Least seconds between two draws on an update (a fast stream updates per token).
MIN_DRAW_S = 0.03


class Status:
    """A one-line status on ``stream`` (stderr), drawn only when it is a terminal and enabled.

    ``async with status:`` animates it; :meth:`update` sets its text; :meth:`clear` erases it
    (call before printing anything else; the next tick draws it again).
    """

    def __init__(self, enabled: bool = True, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled and _is_terminal(self.stream)
        self.text = ""
        self._shown = False
        self._frame = 0
        self._started = time.monotonic()
        self._drawn_at = 0.0
        self._task: asyncio.Task[None] | None = None

    def update(self, text: str) -> None:
        """Show ``text`` (with the spinner and the time since the start; at most one draw per
        :data:`MIN_DRAW_S`, the spinner's next tick shows the latest)."""
        self.text = text
        if not self._shown or time.monotonic() - self._drawn_at >= MIN_DRAW_S:
            self._draw()

    def _draw(self) -> None:
        if not self.enabled or not self.text:
            return
        frame = _FRAMES[self._frame % len(_FRAMES)]
        line = f"{frame} {self.text} · {time.monotonic() - self._started:.1f} s"
        width = _width(self.stream)
        self.stream.write("\r" + line[: width - 1] + "\x1b[K")
        self.stream.flush()
        self._shown = True
        self._drawn_at = time.monotonic()

    def clear(self) -> None:
        """Erase the line (it comes back on the next tick)."""
        if self._shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._shown = False

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            self._frame += 1
            self._draw()

    async def __aenter__(self) -> Status:
        self._started = time.monotonic()
        if self.enabled:
            self._task = asyncio.create_task(self._tick())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self.text = ""
        self.clear()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _width(stream: TextIO) -> int:
    import shutil

    return max(20, shutil.get_terminal_size((80, 24)).columns)


def has_statements(code: str) -> bool:
    """False for code that is only comments and blank lines (nothing runs)."""
    try:
        return bool(ast.parse(code).body)
    except SyntaxError:
        return True


def first_statement_line(code: str) -> str:
    """The first line of ``code`` that is not blank or a comment (a label for a batch)."""
    lines = [ln.strip() for ln in code.splitlines()]
    return next((ln for ln in lines if ln and not ln.startswith("#")), "")


class Output:
    """Prints what invocations returned: stdout to ``console``, stderr to ``errors``."""

    def __init__(self, console: Console, errors: Console, status: Status | None = None) -> None:
        self.console = console
        self.errors = errors
        self.status = status
        self.printed = False

    def _write(self, text: str, *, stderr: bool = False, indent: str = "", style: str = "") -> None:
        if not text:
            return
        if self.status is not None:
            self.status.clear()
        if indent:
            text = "\n".join(indent + line for line in text.rstrip("\n").split("\n")) + "\n"
        console = self.errors if stderr else self.console
        if style:
            console.print(Text(text.rstrip("\n"), style=style), soft_wrap=True)
        else:
            console.out(text, end="", highlight=False)
        console.file.flush()
        self.printed = True

    def label(self, text: str, style: str = "dim") -> None:
        """A line of the view itself (a header, a label), not the program's."""
        if self.status is not None:
            self.status.clear()
        self.console.print(Text(text, style=style), soft_wrap=True)
        self.console.file.flush()

    def result(self, result: ExecResult, *, indent: str = "", styled: bool = False) -> None:
        """Everything ``result`` shows, in order: printed text and rich outputs (not the error)."""
        out, err = ("green", "yellow") if styled else ("", "")
        log: Any = getattr(result, "log", ())
        items: list[Any] = list(log) if log else []
        if not items:
            items = [("stdout", result.stdout), ("stderr", result.stderr), *result.outputs]
        for item in items:
            if isinstance(item, tuple):
                name, text = item
            elif isinstance(item, RichOutput):
                self._write(rich_line(item) + "\n", indent=indent, style=out or "green")
                continue
            elif hasattr(item, "name") and hasattr(item, "text"):
                name, text = item.name, item.text
            else:
                continue
            stderr = name == "stderr"
            text = text if text.endswith("\n") or not text else text + "\n"
            self._write(text, stderr=stderr, indent=indent, style=err if stderr else out)


class TextLines:
    """The model's streamed text, shown a line at a time (the unfinished line held back)."""

    def __init__(self, show: Callable[[str], None]) -> None:
        self.show = show
        self.held = ""

    def feed(self, delta: str) -> None:
        """Show the lines ``delta`` completes."""
        lines, nl, self.held = (self.held + delta).rpartition("\n")
        if nl:
            self.show(lines)

    def flush(self) -> None:
        """Show the held, unfinished line."""
        if self.held:
            held, self.held = self.held, ""
            self.show(held)


class LiveRun:
    """One run's live view: ``source(s)`` counts tokens, ``on_batch`` prints each batch's output.

    ``label_lines`` prefixes each batch's output with the program lines it came from;
    ``show`` False prints nothing (the run is watched only through the status line).
    """

    def __init__(
        self,
        output: Output,
        status: Status,
        *,
        mode: str,
        show: bool = True,
        label_lines: bool = False,
        indent: str = "",
        on_delta: Callable[[str], None] | None = None,
    ) -> None:
        self.output = output
        self.status = status
        self.mode = mode
        self.show = show
        self.label_lines = label_lines
        self.indent = indent
        self.on_delta = on_delta
        self.tokens = 0
        self.batches = 0
        self.statements = 0
        self.lines: tuple[int, int] | None = None
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self.generating = True

    def _update(self) -> None:
        doing = f"the model is writing · {self.tokens} tokens" if self.generating else "running"
        ran = f" · {self.batches} batch{'es' * (self.batches != 1)} run" if self.batches else ""
        self.status.update(f"{self.mode}: {doing}{ran}")

    def source(self, inner: Source) -> RecordingSource:
        """``inner`` seen through: each delta counted (and passed to ``on_delta``)."""

        def delta(text: str) -> None:
            self.tokens += 1
            if self.on_delta is not None:
                self.on_delta(text)
            self._update()

        wrapped = _Watched(inner, on_delta=delta, on_end=self._ended)
        return wrapped

    def _ended(self) -> None:
        self.generating = False
        self._update()

    def on_batch(self, batch: Batch, result: ExecResult) -> None:
        """Print the batch's output (the run's ``on_batch``)."""
        self.batches += 1
        first = batch.first_line
        last = first + max(0, batch.code.rstrip("\n").count("\n"))
        self.lines = (self.lines[0] if self.lines else first, last)
        self.stdout.append(result.stdout)
        self.stderr.append(result.stderr)
        self._update()
        if not self.show:
            return
        if self.label_lines and has_statements(batch.code):
            head = first_statement_line(batch.code)
            span = f"line {first}" if last == first else f"lines {first}-{last}"
            self.output.label(f"{self.indent}▶ {span}: {head[:60]}", style="cyan")
        self.output.result(result, indent=self.indent, styled=self.label_lines)

    def summary(self) -> str:
        """What ran before a Ctrl-C, in one line."""
        if self.lines is None:
            return f"{self.mode}: nothing ran yet ({self.tokens} tokens received)"
        return (
            f"{self.mode}: lines {self.lines[0]}-{self.lines[1]} ran in {self.batches} "
            f"batch{'es' * (self.batches != 1)} before the interrupt ({self.tokens} tokens "
            "received)"
        )


class _Watched(RecordingSource):
    """A recording source that also says when the stream ended."""

    def __init__(
        self,
        inner: Source,
        *,
        on_delta: Callable[[str], None],
        on_end: Callable[[], None],
    ) -> None:
        super().__init__(inner, on_delta=on_delta)
        self._on_end = on_end

    async def stream(self) -> Any:
        try:
            async for delta in super().stream():
                yield delta
        finally:
            self._on_end()


class Live:
    """The live view of one ``run``/``demo`` command: output, status line, a :class:`LiveRun`
    per mode (``shown``: the mode whose output is printed; None: none, e.g. ``--json``)."""

    def __init__(self, args: argparse.Namespace, *, shown: str | None) -> None:
        quiet = bool(getattr(args, "quiet", False)) or bool(args.json)
        self.status = Status(enabled=not quiet)
        self.output = Output(
            Console(highlight=False, soft_wrap=True),
            Console(stderr=True, highlight=False, soft_wrap=True),
            self.status,
        )
        self.shown = None if args.json else shown
        self.headed = bool(getattr(args, "quiet", False))
        self.runs: dict[str, LiveRun] = {}

    def run(self, mode: str, *, title: str = "") -> LiveRun:
        """The view of the ``mode`` run (its output printed when it is the shown mode)."""
        view = LiveRun(self.output, self.status, mode=mode, show=mode == self.shown)
        if mode == self.shown and not self.headed:
            self.output.label(f"── output of the {mode} run{title}, as it arrives ──")
            self.headed = True
        self.runs[mode] = view
        return view

    def interrupted(self) -> None:
        """After a Ctrl-C: say what ran (the output so far is above)."""
        self.status.clear()
        for view in self.runs.values():
            self.output.errors.print(Text(view.summary(), style="yellow"))
