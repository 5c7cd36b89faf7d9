"""The live view's pieces: the status line (terminal only), output in order, whole lines, labels."""

from __future__ import annotations

import asyncio
import io

from rich.console import Console

from eager import FakeBackend, ScriptedSource, run
from eager.cli._live import LiveRun, Output, Status, TextLines, has_statements


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _consoles() -> tuple[Console, io.StringIO, Console, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    return (
        Console(file=out, highlight=False, width=100, color_system=None),
        out,
        Console(file=err, highlight=False, width=100, color_system=None),
        err,
    )


def test_the_status_line_is_drawn_on_a_terminal_only_and_erased() -> None:
    tty = _Terminal()
    status = Status(stream=tty)
    status.update("eager: the model is writing · 3 tokens")
    assert "3 tokens" in tty.getvalue() and tty.getvalue().startswith("\r")
    status.clear()
    assert tty.getvalue().endswith("\r\x1b[K")
    pipe = io.StringIO()
    Status(stream=pipe).update("anything")
    assert pipe.getvalue() == ""  # a pipe gets no status line
    quiet = _Terminal()
    Status(enabled=False, stream=quiet).update("anything")
    assert quiet.getvalue() == ""


async def test_the_status_line_ticks_and_is_gone_at_the_end() -> None:
    tty = _Terminal()
    async with Status(stream=tty) as status:
        status.update("waiting")
        await asyncio.sleep(0.25)
    frames = tty.getvalue().count("waiting")
    assert frames >= 2 and tty.getvalue().endswith("\r\x1b[K")


def test_text_lines_are_shown_whole() -> None:
    shown: list[str] = []
    lines = TextLines(shown.append)
    for delta in ("Here", " it is:\n```py", "thon\nx = 1", "\n"):
        lines.feed(delta)
    assert shown == ["Here it is:", "```python", "x = 1"]
    lines.feed("tail")
    lines.flush()
    assert shown[-1] == "tail"


def test_comment_only_code_has_no_statements() -> None:
    assert not has_statements("# a note\n\n   # another\n")
    assert has_statements("x = 1  # a note\n")
    assert has_statements("def broken(:\n")  # unknown: shown


async def test_a_live_run_prints_each_batch_as_it_returns_labelled_with_its_lines() -> None:
    console, out, errors, err = _consoles()
    tty = _Terminal()
    status = Status(stream=tty)
    view = LiveRun(Output(console, errors, status), status, mode="eager", label_lines=True)
    code = "print('one')\n# only a comment\nimport sys\nprint('two', file=sys.stderr)\n"
    source = ScriptedSource(code.splitlines(keepends=True), format="code")
    async with FakeBackend() as backend:
        result = await run(view.source(source), backend, on_batch=view.on_batch, gate="off")
    assert result.ok
    text = out.getvalue()
    assert "▶ line 1: print('one')" in text and "one\n" in text
    assert "# only a comment" not in text  # a label names a statement, never a comment
    assert "two" in err.getvalue()
    assert view.tokens == 4 and view.batches == result.metrics.batches
    assert "lines 1-4 ran" in view.summary()
