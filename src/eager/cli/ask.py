"""``eager ask``: ask a model for a program and run it eagerly while it streams."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

from rich.console import Console
from rich.rule import Rule
from rich.syntax import Syntax

from .._result import RunResult
from .._run import run
from ..sources._base import Source
from ._backends import add_backend_options, make_backend
from ._endpoint import add_endpoint_options, make_endpoint_source
from ._render import error_text, shown_output
from .run import add_display_option

__all__ = ["SYSTEM_PROMPT", "register"]

#: What the model is told (``--system`` replaces it).
SYSTEM_PROMPT = (
    "You write Python programs. Answer with ONE complete, self-contained Python program in a "
    "single ```python code block; a sentence before it is fine, nothing after it. The program "
    "runs as a script while you write it, statement by statement: print the results, do not "
    "read input, and keep any functions you define before the code that uses them."
)
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
        "asking for one Python program, "
        "run the answer eagerly while it streams, and show the text, the output and the "
        "timing. On an error: the partial program and the error (--repair N asks again).",
    )
    p.add_argument("task", help="what the program should do")
    p.add_argument("--mode", choices=["eager", "serial"], default="eager")
    add_display_option(p, default="notebook")
    p.add_argument("--on-error", choices=["interrupt", "defer"], default="interrupt")
    p.add_argument("--gate", default="default", help="gate policy (default, paper, off)")
    p.add_argument("--timeout", type=float, default=None, help="per-invocation timeout, s")
    p.add_argument(
        "--repair",
        type=int,
        default=0,
        metavar="N",
        help="on an error, send it back and ask for a fixed program, up to N times",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object per attempt")
    add_endpoint_options(p, prompt=False)
    add_backend_options(p)
    p.set_defaults(handler=main)


class _Tee(Source):
    """Passes a source through, showing each delta as it arrives."""

    def __init__(self, inner: Source, show: Callable[[str], None]) -> None:
        super().__init__()
        self.inner = inner
        self.show = show
        self.format = inner.format
        self.tool_argument = inner.tool_argument
        self.text: list[str] = []

    async def stream(self) -> AsyncIterator[str]:
        try:
            async for delta in self.inner:
                self.text.append(delta)
                self.show(delta)
                self.tokens_generated = self.inner.tokens_generated
                self.tokens_total = self.inner.tokens_total
                yield delta
        finally:
            self.tokens_generated = self.inner.tokens_generated
            self.tokens_total = self.inner.tokens_total

    async def aclose(self) -> None:
        self.cancelled = True
        await self.inner.aclose()


async def _ask(
    args: argparse.Namespace, console: Console
) -> list[tuple[str, RunResult, str | None]]:
    system = args.system or SYSTEM_PROMPT
    messages: list[dict[str, str]] = [
        {"role": "system", "content": system},
        {"role": "user", "content": args.task},
    ]
    attempts: list[tuple[str, RunResult, str | None]] = []
    backend = make_backend(args)
    async with backend:
        for attempt in range(args.repair + 1):
            if attempt:
                await backend.reset()
            source = _Tee(
                make_endpoint_source(args, messages=messages),
                (lambda d: None) if args.json else (lambda d: console.out(d, end="")),
            )
            if not args.json:
                console.print(Rule(f"{args.model}" + (f" (repair {attempt})" if attempt else "")))
            result = await run(
                source,
                backend,
                mode=args.mode,
                on_error=args.on_error,
                gate=args.gate,
                extract=args.text_format,
                timeout_s=args.timeout,
                display=args.display,
            )
            answer = "".join(source.text)
            turn = source.inner.turn
            attempts.append((answer, result, turn.stop_reason if turn is not None else None))
            if not args.json:
                _show(console, result)
                _show_stop(console, source.inner)
            if result.ok or attempt == args.repair:
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


def _show(console: Console, result: RunResult) -> None:
    console.out("")
    console.print(Rule("output", style="dim"))
    text = shown_output(result)
    if text:
        console.out(text, end="" if text.endswith("\n") else "\n")
    if result.stderr:
        Console(stderr=True, highlight=False).out(result.stderr, end="")
    m = result.metrics
    ttft = "-" if m.ttft_s is None else f"{m.ttft_s:.2f} s"
    console.print(
        f"[dim]TTFT {ttft} · generation {m.gen_s:.2f} s · end to end {m.e2el_s:.2f} s · "
        f"execution {m.exec_s:.2f} s, {m.nel_s:.2f} s not hidden · {m.chunks} chunks in "
        f"{m.batches} batches · {m.tokens_generated} tokens[/]"
    )
    if result.error is None:
        return
    console.print(Rule("partial program" if result.interrupted else "program", style="red"))
    lines = {result.error.lineno} if result.error.lineno else set()
    console.print(Syntax(result.code or "\n", "python", line_numbers=True, highlight_lines=lines))
    console.print(error_text(result), end="")
    console.print("[yellow]retry with --repair N to send the error back to the model[/]")


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
    console = Console(highlight=False)
    attempts = asyncio.run(_ask(args, console))
    if args.json:
        for answer, result, stop in attempts:
            record = {**result.to_dict(), "answer": answer, "stop_reason": stop}
            sys.stdout.write(json.dumps(record) + "\n")
    return 0 if attempts[-1][1].ok else 1
