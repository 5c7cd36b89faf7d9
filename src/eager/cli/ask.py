"""``eager ask``: ask a model for a program and run it eagerly while it streams."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from rich.console import Console
from rich.rule import Rule
from rich.syntax import Syntax
from rich.text import Text

from .._gate import Gate
from .._result import RunResult
from .._run import run
from ..agent._prompt import DisplayMode, program_prompt
from ..sources._base import Source
from ._backends import add_backend_options, make_backend, sandbox_wanted, session_folder
from ._checks import dumps, non_negative_int, positive_float
from ._endpoint import add_endpoint_options, check_endpoint_args, make_endpoint_source, system_text
from ._live import LiveRun, Output, Status, TextLines
from ._render import LEGEND, compact_traceback, error_text
from .run import add_display_option

__all__ = ["REPAIR_PROMPT", "ask_system", "register"]

#: The follow-up message of a repair round.
REPAIR_PROMPT = (
    "Running your program stopped with this error:\n\n{error}\n\nThe program as far as it "
    "was written:\n\n```python\n{code}```\n\nWrite the whole corrected program in one "
    "```python block."
)


def register(sub: Any) -> None:
    """Add the ``ask`` subcommand."""
    p = sub.add_parser(
        "ask",
        help="ask a model for a Python program and run it while it streams",
        description="Send TASK to a model endpoint (--protocol chat, responses or anthropic) "
        "asking for one Python program, run the answer eagerly while it streams, and show the "
        "text, each statement's output as it runs, and the timing. On an error: the partial "
        "program and the error (--repair N asks again).",
    )
    p.add_argument("task", help="what the program should do")
    p.add_argument("--mode", choices=["eager", "serial"], default="eager")
    add_display_option(p, default="notebook")
    p.add_argument("--on-error", choices=["interrupt", "defer"], default="interrupt")
    p.add_argument("--gate", default="default", help="gate policy (default, paper, off)")
    p.add_argument("--timeout", type=positive_float, default=None, help="per-invocation timeout, s")
    p.add_argument(
        "--repair",
        type=non_negative_int,
        default=0,
        metavar="N",
        help="on an error, send it back and ask for a fixed program, up to N times",
    )
    p.add_argument(
        "--file",
        action="append",
        default=[],
        metavar="PATH",
        help="a data file copied into the session's folder (repeatable); the system prompt "
        "names it",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object per attempt")
    p.add_argument(
        "--quiet",
        "-q",
        action="store_true",
        help="for scripts: only the program's output (errors on stderr), no model text or "
        "status line",
    )
    add_endpoint_options(p, prompt=False)
    add_backend_options(p)
    p.set_defaults(handler=main)


def ask_system(args: argparse.Namespace) -> str | None:
    """The system prompt ``ask`` sends: the default (one program, how it runs, the ``--file``
    names) or ``--system``, and ``--system-append``."""
    display: DisplayMode = "script" if getattr(args, "display", None) == "script" else "notebook"
    network = False if sandbox_wanted(args) else None
    default = program_prompt(display=display, files=args.file, network=network)
    return system_text(args, default, args.file)


async def _ask(
    args: argparse.Namespace, output: Output | None, views: list[LiveRun]
) -> list[tuple[str, RunResult, str | None]]:
    system = ask_system(args)
    messages: list[dict[str, str]] = [{"role": "system", "content": system}] if system else []
    messages.append({"role": "user", "content": args.task})
    attempts: list[tuple[str, RunResult, str | None]] = []
    backend = make_backend(args)
    status = output.status if output is not None and output.status else Status(enabled=False)
    quiet = output is None or args.quiet
    async with status, backend:
        for attempt in range(args.repair + 1):
            if attempt:
                await backend.reset()
            text = TextLines(
                (lambda line: None)
                if quiet or output is None
                else (lambda line: output.label(line, style="dim"))
            )
            view = LiveRun(
                output or Output(Console(quiet=True), Console(quiet=True)),
                status,
                mode=args.mode,
                show=output is not None,
                label_lines=not quiet,
                indent="" if quiet else "    ",
                on_delta=text.feed,
            )
            views.append(view)
            inner = make_endpoint_source(args, messages=messages)
            if output is not None and not quiet:
                label = f"{args.model}" + (f" (repair {attempt})" if attempt else "")
                output.console.print(Rule(label))
            watched = view.source(inner)
            result = await run(
                watched,
                backend,
                mode=args.mode,
                on_error=args.on_error,
                gate=args.gate,
                extract=args.text_format,
                timeout_s=args.timeout,
                on_batch=view.on_batch,
                display=args.display,
            )
            text.flush()
            answer = "".join(watched.deltas)
            turn = inner.turn
            attempts.append((answer, result, turn.stop_reason if turn is not None else None))
            if output is not None:
                _show(output, result, inner, quiet=quiet, last=attempt == args.repair)
            if result.ok or attempt == args.repair or not result.code.strip():
                break
            messages += [
                {"role": "assistant", "content": answer},
                {
                    "role": "user",
                    "content": REPAIR_PROMPT.format(
                        error=error_text(result).plain.strip(), code=result.code
                    ),
                },
            ]
    return attempts


def _show(
    output: Output, result: RunResult, source: Source, *, quiet: bool, last: bool = True
) -> None:
    console = output.console
    if quiet:
        if result.error is not None:
            tb = result.error.traceback.strip() or f"{result.error.ename}: {result.error.evalue}"
            output.errors.print(Text(compact_traceback(tb)))
        if not result.code.strip():
            output.errors.print(Text(NO_CODE))
        return
    output.status.clear() if output.status else None
    if not result.code.strip():
        console.print(Text(NO_CODE, style="bold red"))
        return
    m = result.metrics
    ttft = "-" if m.ttft_s is None else f"{m.ttft_s:.2f} s"
    console.print(
        Text(
            f"TTFT {ttft} · generation {m.gen_s:.2f} s · end to end (E2EL) {m.e2el_s:.2f} s · "
            f"execution {m.exec_s:.2f} s, {m.nel_s:.2f} s of it after generation (NEL) · "
            f"{m.chunks} chunks in {m.batches} batches · {m.tokens_generated} tokens",
            style="dim",
        )
    )
    _show_stop(console, source)
    if result.error is None:
        return
    console.print(Rule("partial program" if result.interrupted else "program", style="red"))
    lines = {result.error.lineno} if result.error.lineno else set()
    console.print(Syntax(result.code or "\n", "python", line_numbers=True, highlight_lines=lines))
    console.print(error_text(result), end="")
    if last:
        console.print(
            Text("retry with --repair N to send the error back to the model", style="yellow")
        )


#: Said when an answer held no code.
NO_CODE = "no code: the model's answer held no Python code, so nothing ran"


#: Stop reasons of an answer that ended as the model meant it to.
NORMAL_STOPS = frozenset({"stop", "end_turn", "tool_calls", "tool_use", "completed"})


def _show_stop(console: Console, source: Source) -> None:
    """Say why the model stopped when it was not its own choice (a limit, a refusal, ...)."""
    turn = source.turn
    reason = turn.stop_reason if turn is not None else None
    if reason is not None and reason not in NORMAL_STOPS:
        console.print(f"[yellow]the model stopped: {reason}[/]")


def main(args: argparse.Namespace) -> int:
    """Handler of ``eager ask``."""
    check_endpoint_args(args, required=True)
    Gate(args.gate)  # a bad policy name is a usage error before anything starts
    make_backend(args)  # and so is a backend that cannot be made so
    _, temp = session_folder(args, always=False)
    output = None
    if not args.json:
        status = Status(enabled=not args.quiet)
        output = Output(Console(highlight=False), Console(stderr=True, highlight=False), status)
    views: list[LiveRun] = []
    try:
        attempts = asyncio.run(_ask(args, output, views))
    except KeyboardInterrupt:
        if output is not None and views:
            if output.status:
                output.status.clear()
            output.errors.print(Text(views[-1].summary(), style="yellow"))
        raise
    finally:
        if temp is not None:
            temp.cleanup()
    if args.json:
        for answer, result, stop in attempts:
            record = {**result.to_dict(), "answer": answer, "stop_reason": stop}
            sys.stdout.write(dumps(record) + "\n")
        if not attempts[-1][1].code.strip():
            Console(stderr=True, highlight=False).print(Text(NO_CODE))
    elif not args.quiet:
        Console(highlight=False).print(Text(LEGEND, style="dim"))
    last = attempts[-1][1]
    return 0 if last.ok and last.code.strip() else 1
