"""``eager chunk``: show how a program is cut into chunks and what the gate decides."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

from .._chunker import Chunk, Chunker
from .._errors import ProgramSyntaxError
from .._extract import FORMATS, Format, make_extractor
from .._gate import Gate
from .._policy import POLICIES
from .._result import GateDecision
from .._scheduler import Scheduler
from ..sources._replay import tokenize
from .run import program_format, read_program

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add the ``chunk`` subcommand."""
    p = sub.add_parser(
        "chunk",
        help="show how a program is cut into chunks and what the gate decides",
        description="Stream PROGRAM token by token through extraction, chunker and gate, "
        "and list the chunks with the gate's decision.",
    )
    p.add_argument("program", help="a .py file (bare code) or a chat answer (.md/.txt)")
    p.add_argument("--gate", default="default", help=f"policy: {', '.join(sorted(POLICIES))}")
    p.add_argument("--format", dest="text_format", choices=FORMATS)
    p.add_argument("--json", action="store_true", help="print JSON lines, one per chunk")
    p.set_defaults(handler=main)


def cut(text: str, fmt: Format, gate: Gate) -> tuple[list[tuple[Chunk, GateDecision]], str | None]:
    """Chunks and decisions of ``text`` streamed in tokens, and the syntax error if any.

    Decisions are the runtime's (the scheduler's): after a sealed chunk every later chunk is
    held too (decision ``seal``, reason ``after the seal at chunk N``).
    """
    extractor = make_extractor(fmt)
    chunker = Chunker()
    sched = Scheduler(mode="eager")
    out: list[tuple[Chunk, GateDecision]] = []
    error: str | None = None

    def take(chunks: list[Chunk] | tuple[object, ...]) -> None:
        for c in chunks:
            if isinstance(c, Chunk):
                decision = sched.admit(c, 0.0, gate.classify)
                out.append((c, decision or gate.classify(c)))

    try:
        for token in tokenize(text):
            take(chunker.feed(extractor.feed(token)))
        take(chunker.feed(extractor.close()))
        take(chunker.close())
    except ProgramSyntaxError as exc:
        take(exc.chunks)
        error = str(exc)
    return out, error


def shown_decision(decision: GateDecision) -> str:
    """``held`` for a chunk after a seal (it waits for the program's end), else the decision."""
    if decision.decision == "seal" and decision.reason.startswith("after the seal"):
        return "held"
    return decision.decision


def main(args: argparse.Namespace) -> int:
    """Handler of ``eager chunk``."""
    text = read_program(args.program)
    fmt = program_format(args)
    chunks, error = cut(text, fmt, Gate(args.gate))
    if args.json:
        for c, d in chunks:
            record = {
                "index": c.index,
                "start_line": c.start_line,
                "end_line": c.end_line,
                "decision": d.decision,
                "held": shown_decision(d) == "held",
                "reason": d.reason,
                "code": c.code,
            }
            sys.stdout.write(json.dumps(record) + "\n")
        if error:
            sys.stdout.write(json.dumps({"syntax_error": error}) + "\n")
            _say_error(error)
        return 1 if error else 0
    table = Table(title=f"{args.program}: {len(chunks)} chunks", title_justify="left")
    for name in ("#", "lines", "gate", "reason", "code"):
        table.add_column(name, overflow="fold" if name == "code" else "ellipsis")
    style = {"run": "green", "defer": "cyan", "seal": "yellow", "held": "yellow"}
    for c, d in chunks:
        first = c.code.strip().splitlines()[0] if c.code.strip() else ""
        more = " …" if c.code.strip().count("\n") else ""
        shown = shown_decision(d)
        table.add_row(
            str(c.index),
            f"{c.start_line}-{c.end_line}",
            f"[{style[shown]}]{shown}[/]",
            d.reason,
            first[:60] + more,
        )
    console = Console(highlight=False)
    console.print(table)
    console.print(
        "[dim]run: runs as soon as it is complete · defer: a definition, runs with the next "
        "chunk that does work · seal: acts outside the session, runs only once the whole "
        "program is generated and compiles · held: after a seal, waits likewise[/]"
    )
    if error:
        _say_error(error)
    return 1 if error else 0


def _say_error(error: str) -> None:
    """The syntax error, one line on stderr (the same with and without ``--json``)."""
    line = " ".join(error.split())
    Console(stderr=True, highlight=False).print(f"[bold red]syntax error: {line}[/]")
