"""Terminal rendering of run results: the comparison table, a compact timeline, errors."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from .._result import RichOutput, RunResult, StreamText

__all__ = [
    "comparison_table",
    "error_text",
    "print_results",
    "saving",
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
            text = item.text
            rich = [m for m in item.data if m != "text/plain"]
            if rich:
                where = f" saved to {item.path}" if item.path else ""
                text += f"\n[{', '.join(rich)}{where}]" if text else f"[{', '.join(rich)}{where}]"
            if parts and not parts[-1].endswith("\n"):
                parts.append("\n")
            parts.append(text + "\n")
    return "".join(parts)


_WIDTH = 56


def _fmt(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.3f} s"


def saving(serial: float, eager: float) -> str:
    """``-37%``-style relative change from serial to eager."""
    if serial <= 0:
        return "-"
    return f"{(eager - serial) / serial:+.0%}"


def comparison_table(results: dict[str, RunResult], *, title: str | None = None) -> Table:
    """One column per mode, one row per metric, and the change when both modes ran."""
    both = "serial" in results and "eager" in results
    table = Table(title=title, title_justify="left")
    table.add_column("metric")
    for mode in results:
        table.add_column(mode, justify="right")
    if both:
        table.add_column("eager vs serial", justify="right")
    rows: list[tuple[str, list[float | None], bool]] = [
        ("TTFT", [r.metrics.ttft_s for r in results.values()], False),
        ("generation", [r.metrics.gen_s for r in results.values()], True),
        ("execution (sum)", [r.metrics.exec_s for r in results.values()], False),
        ("non-overlapped exec (NEL)", [r.metrics.nel_s for r in results.values()], True),
        ("end-to-end (E2EL)", [r.metrics.e2el_s for r in results.values()], True),
    ]
    modes = list(results)
    for name, values, compare in rows:
        cells = [_fmt(v) for v in values]
        if both:
            v_s, v_e = values[modes.index("serial")], values[modes.index("eager")]
            ok = compare and v_s is not None and v_e is not None
            cells.append(saving(v_s, v_e) if ok and v_s is not None and v_e is not None else "")
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


def error_text(result: RunResult, *, full: bool = True) -> Text:
    """The program's error as the agent would see it, with where it happened.

    ``full=False`` keeps only the program's own line of the traceback.
    """
    err = result.error
    text = Text()
    if err is None:
        return text
    where = f" at line {err.lineno}" if err.lineno is not None else ""
    chunk = f" (chunk {result.failed_chunk})" if result.failed_chunk is not None else ""
    text.append(f"{err.ename}: {err.evalue}{where}{chunk}\n", style="bold red")
    if err.traceback and full:
        text.append(err.traceback.rstrip() + "\n", style="red")
    elif err.lineno is not None and 0 < err.lineno <= result.code.count("\n") + 1:
        source = result.code.splitlines()[err.lineno - 1].strip()
        text.append(f"  line {err.lineno}: {source}\n", style="red")
    if result.interrupted:
        total = result.metrics.tokens_total
        of = f" of {total}" if total is not None else ""
        text.append(
            f"generation cancelled after {result.metrics.tokens_generated}{of} tokens\n",
            style="yellow",
        )
    return text


def print_results(
    console: Console, results: dict[str, RunResult], *, title: str | None = None
) -> None:
    """Table, timelines and errors of one program's runs."""
    console.print(comparison_table(results, title=title))
    scale = max(r.metrics.e2el_s for r in results.values())
    for r in results.values():
        console.print(timeline(r, scale_s=scale))
    for r in results.values():
        if r.error is not None:
            console.print(Text(f"[{r.mode}] ", style="bold"), error_text(r), end="")
