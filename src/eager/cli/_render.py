"""Terminal rendering of run results: the comparison table, a compact timeline, errors, notes.

Savings are shown as positive "faster by" figures (``(serial - eager) / serial``; negative
when eager was slower), with :data:`LEGEND` saying what E2EL, NEL and "hidden" mean.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from .._result import ExecError, RichOutput, RunResult, StreamText

__all__ = [
    "LEGEND",
    "compact_traceback",
    "comparison_table",
    "error_text",
    "faster_by",
    "print_errors",
    "print_results",
    "rich_line",
    "shown_output",
    "timeline",
]


def shown_output(result: RunResult) -> str:
    """What the run showed on its standard output: the printed text and, in notebook display,
    each displayed value's text (rich types named) in order, as a notebook shows them."""
    if result.display != "notebook":
        return result.stdout
    parts: list[str] = []
    for item in result.log:
        if isinstance(item, StreamText) and item.name == "stdout":
            parts.append(item.text)
        elif isinstance(item, RichOutput):
            if parts and not parts[-1].endswith("\n"):
                parts.append("\n")
            parts.append(rich_line(item) + "\n")
    return "".join(parts)


def rich_line(output: RichOutput) -> str:
    """A rich output as text: its ``text/plain``, then the richer kinds it holds (and where
    the main one was saved)."""
    text = output.text
    kinds = [k for k in output.data if k != "text/plain"]
    if not kinds:
        return text
    where = f" saved to {output.path}" if output.path else ""
    label = f"[{', '.join(kinds)}{where}]"
    return f"{text}\n{label}" if text else label


_WIDTH = 56
#: Lines of a traceback shown at most (its head and tail).
MAX_TRACEBACK_LINES = 14
#: What the figures mean, in one line under every comparison.
LEGEND = (
    "E2EL: end-to-end latency, request sent to program done · NEL: execution left after "
    "generation ended (not overlapped) · hidden: share of serial's NEL eager ran during "
    "generation · faster by: (serial - eager) / serial"
)


def _fmt(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.3f} s"


def faster_by(serial: float, eager: float) -> str:
    """How much faster eager was than serial, ``28%`` (``-5%``: slower; ``-`` when unknown)."""
    if serial <= 0:
        return "-"
    share = round((serial - eager) / serial * 100)
    return f"{share}%" if share != 0 else "0%"


def comparison_table(results: dict[str, RunResult], *, title: str | None = None) -> Table:
    """One column per mode, one row per metric, and how much faster eager was when both ran."""
    both = "serial" in results and "eager" in results
    table = Table(title=title, title_justify="left")
    table.add_column("metric")
    for mode in results:
        table.add_column(mode, justify="right")
    if both:
        table.add_column("eager faster by", justify="right")
    rows: list[tuple[str, list[float | None], str]] = [
        ("time to first token (TTFT)", [r.metrics.ttft_s for r in results.values()], ""),
        ("generation", [r.metrics.gen_s for r in results.values()], "faster"),
        ("execution (sum)", [r.metrics.exec_s for r in results.values()], ""),
        ("exec after generation (NEL)", [r.metrics.nel_s for r in results.values()], "hidden"),
        ("end-to-end (E2EL)", [r.metrics.e2el_s for r in results.values()], "faster"),
    ]
    modes = list(results)
    for name, values, compare in rows:
        cells = [_fmt(v) for v in values]
        if both:
            v_s, v_e = values[modes.index("serial")], values[modes.index("eager")]
            cell = ""
            if v_s is not None and v_e is not None and compare == "faster":
                cell = faster_by(v_s, v_e)
            elif v_s is not None and v_e is not None and compare == "hidden" and v_s > 0:
                cell = f"{max(0.0, 1 - v_e / v_s):.0%} hidden"
            cells.append(cell)
        table.add_row(name, *cells)
    table.add_row(
        "chunks / batches",
        *[f"{r.metrics.chunks} / {r.metrics.batches}" for r in results.values()],
        *([""] if both else []),
    )
    table.add_row(
        "tokens generated",
        *[
            f"{r.metrics.tokens_generated}"
            + (f" / {r.metrics.tokens_total}" if r.metrics.tokens_total is not None else "")
            for r in results.values()
        ],
        *([""] if both else []),
    )
    table.add_row(
        "session start-up (apart)",
        *[_fmt(r.metrics.startup_s) for r in results.values()],
        *([""] if both else []),
    )
    return table


def timeline(result: RunResult, *, scale_s: float | None = None) -> Text:
    """A one-line-per-track Gantt: generation, then the backend's invocations."""
    end = scale_s or max(result.metrics.e2el_s, 1e-9)

    def col(t: float) -> int:
        return min(_WIDTH - 1, max(0, int(t / end * (_WIDTH - 1))))

    gen = [" "] * _WIDTH
    for i in range(col(result.metrics.ttft_s or 0.0), col(result.metrics.gen_s) + 1):
        gen[i] = "━"
    run = [" "] * _WIDTH
    for b in result.batches:
        for i in range(col(b.dispatched_s), col(b.finished_s) + 1):
            run[i] = "█" if b.ok else "✗"
    text = Text()
    text.append(f"{result.mode:>6} gen  ", style="bold")
    text.append("".join(gen), style="cyan")
    text.append(f" {result.metrics.gen_s:.2f} s\n")
    text.append(f"{'':>6} exec ", style="bold")
    text.append("".join(run), style="green" if result.ok else "red")
    text.append(f" {result.metrics.e2el_s:.2f} s")
    return text


def compact_traceback(traceback: str, max_lines: int = MAX_TRACEBACK_LINES) -> str:
    """``traceback`` cut to its head and tail lines (the cut counted), trailing blanks dropped."""
    lines = traceback.rstrip().splitlines()
    if len(lines) <= max_lines:
        return "\n".join(lines)
    head = max_lines // 3
    tail = max_lines - head
    cut = len(lines) - head - tail
    return "\n".join(
        [*lines[:head], f"  [... {cut} lines of the traceback cut ...]", *lines[-tail:]]
    )


def cancelled_note(result: RunResult) -> str | None:
    """``generation stopped after 78 of 175 tokens`` when the error cut the stream, else None.

    Nothing is said of a stream that was not cut (every token had arrived).
    """
    if not result.interrupted:
        return None
    m = result.metrics
    if m.tokens_total is not None and m.tokens_generated >= m.tokens_total:
        return None
    of = f" of {m.tokens_total}" if m.tokens_total is not None else ""
    return f"generation stopped at the error after {m.tokens_generated}{of} tokens"


def _heading(err: ExecError) -> str:
    where = f" at line {err.lineno}" if err.lineno is not None else ""
    return f"{err.ename}: {err.evalue}{where}"


def error_text(result: RunResult, *, full: bool = True) -> Text:
    """The program's error as the agent would see it, with where it happened.

    ``full=False`` keeps only the program's own line of the traceback; a long traceback is cut
    to its head and tail (:func:`compact_traceback`).
    """
    err = result.error
    text = Text()
    if err is None:
        return text
    text.append(_heading(err) + "\n", style="bold red")
    tb = err.traceback.strip("\n").rstrip()
    if tb and full and tb.strip() != f"{err.evalue} (line {err.lineno})":
        text.append(compact_traceback(tb) + "\n", style="red")
    elif err.lineno is not None and 0 < err.lineno <= result.code.count("\n") + 1:
        source = result.code.splitlines()[err.lineno - 1].strip()
        text.append(f"  line {err.lineno}: {source}\n", style="red")
    note = cancelled_note(result)
    if note:
        text.append(note + "\n", style="yellow")
    return text


def _same_error(a: ExecError, b: ExecError) -> bool:
    return (a.ename, a.evalue, a.lineno) == (b.ename, b.evalue, b.lineno)


def print_errors(console: Console, results: dict[str, RunResult], *, full: bool = True) -> None:
    """Each mode's error, once: when both modes failed alike, one report for both."""
    failed = [r for r in results.values() if r.error is not None]
    groups: list[list[RunResult]] = []
    for r in failed:
        assert r.error is not None
        group = next(
            (g for g in groups if g[0].error is not None and _same_error(g[0].error, r.error)),
            None,
        )
        if group is None:
            groups.append([r])
        else:
            group.append(r)
    for group in groups:
        # The fuller report (serial's traceback of a syntax error names the caret) goes first.
        shown = max(group, key=lambda r: len(r.error.traceback) if r.error else 0)
        label = " and ".join(r.mode for r in group)
        console.print(Text(f"error ({label}):", style="bold"), error_text(shown, full=full), end="")
        for r in group:
            note = cancelled_note(r)
            if r is not shown and note:
                console.print(Text(f"({r.mode}) {note}", style="yellow"))


def stdout_note(results: dict[str, RunResult]) -> str | None:
    """Why serial's and eager's output differ, when they do (None when they agree)."""
    s, e = results.get("serial"), results.get("eager")
    if s is None or e is None or shown_output(s) == shown_output(e):
        return None
    if s.error is not None and s.error.kind == "syntax":
        return (
            "note: the output differs because eager ran the statements before the syntax "
            "error while they streamed; serial runs nothing of a program that does not compile"
        )
    return "note: serial and eager printed different output (see --json for both)"


def print_results(
    console: Console,
    results: dict[str, RunResult],
    *,
    title: str | None = None,
    notes: Sequence[str] = (),
) -> None:
    """Table, timelines, errors (once), notes and the legend of one program's runs."""
    console.print(comparison_table(results, title=title))
    scale = max(r.metrics.e2el_s for r in results.values())
    for r in results.values():
        console.print(timeline(r, scale_s=scale))
    print_errors(console, results)
    for note in notes:
        console.print(Text(note, style="yellow"))
    console.print(Text(LEGEND, style="dim"))
