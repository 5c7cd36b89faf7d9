"""``eager chat``: a code agent on a question, live in the terminal, with a per-turn timing table.

The model (``--base-url``, ``--model``, ``--protocol``) answers in turns; each turn's code runs
while it streams in one session whose folder holds copies of the ``--file`` data files. The
terminal shows each turn live (the model's text, each batch of statements as it runs, its
output, interruptions and repairs) and ends with the answer and a table per turn: the
serial-equivalent time (the whole answer's generation plus execution) against the actual time.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from .._gate import Gate
from .._policy import POLICIES
from .._result import RichOutput
from ..agent import (
    Agent,
    AgentConfig,
    AgentEvent,
    AgentResult,
    CodeFinished,
    CodeStarted,
    EndpointModel,
    ModelDelta,
    ObservationBudget,
    TurnEnded,
    TurnStarted,
    system_prompt,
)
from ._backends import add_backend_options, make_backend, sandbox_wanted, session_folder
from ._checks import dumps, positive_float, positive_int
from ._endpoint import (
    _extra_body,
    _headers,
    add_endpoint_options,
    api_key_of,
    check_endpoint_args,
    system_text,
)
from ._live import Output, Status, TextLines, first_statement_line, has_statements
from ._render import LEGEND, cancelled_note, faster_by
from .run import add_display_option

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add the ``chat`` subcommand."""
    p = sub.add_parser(
        "chat",
        help="a code agent: model turns over one session, each run while it streams",
        description="Ask QUESTION to a model endpoint as a code agent: each answer's code runs "
        "while it streams, in one persistent session whose folder holds copies of the --file "
        "data; its output goes back to the model until it answers without code, calls "
        "final_answer(value), or --max-turns is reached. A failing statement stops the turn "
        "at once and the model repairs from the code up to the error (--repair partial) or "
        "sees the whole program (--repair full).",
    )
    p.add_argument("question", help="the task for the agent")
    p.add_argument(
        "--file",
        action="append",
        default=[],
        metavar="PATH",
        help="a data file copied into the session's folder (repeatable); the system prompt "
        "names it",
    )
    p.add_argument(
        "--code",
        choices=["fence", "tool"],
        default="fence",
        help="how the model writes code: markdown fences (default) or a code tool",
    )
    p.add_argument(
        "--max-turns", type=positive_int, default=10, help="most model turns (default 10)"
    )
    p.add_argument("--repair", choices=["partial", "full"], default="partial")
    p.add_argument("--mode", choices=["eager", "serial"], default="eager")
    add_display_option(p, default="notebook")
    p.add_argument("--gate", default="default", help=f"gate policy: {', '.join(sorted(POLICIES))}")
    p.add_argument(
        "--timeout",
        type=positive_float,
        default=60.0,
        help="per-invocation timeout, s (default %(default)g)",
    )
    p.add_argument(
        "--max-output-chars",
        type=positive_int,
        default=ObservationBudget().max_chars,
        metavar="N",
        help="characters of stdout/stderr/traceback the model sees (head and tail kept)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object, no live view")
    p.add_argument(
        "--outputs-dir",
        metavar="DIR",
        help="folder for the images the code shows, saved per turn (default: outputs/ in --cwd, "
        "else a new temporary folder, kept; created at the first image)",
    )
    p.add_argument(
        "--quiet",
        "-q",
        action="store_true",
        help="for scripts: print only the answer (errors on stderr), no live view",
    )
    add_endpoint_options(p, prompt=False, format=False)
    add_backend_options(p)
    # Code from a model endpoint runs in the sandbox unless --no-sandbox (see sandbox_wanted).
    p.set_defaults(sandbox_default=True)
    p.set_defaults(handler=main)


def _model(args: argparse.Namespace) -> EndpointModel:
    check_endpoint_args(args, required=True)
    options: dict[str, Any] = {
        "api_key": api_key_of(args),
        "max_tokens": args.max_tokens,
        "temperature": args.temperature,
        "headers": _headers(args.header),
        "connect_timeout_s": args.connect_timeout,
        "first_token_timeout_s": args.first_token_timeout,
        "token_timeout_s": args.token_timeout,
        "retries": args.retries,
    }
    options = {k: v for k, v in options.items() if v is not None}
    extra = _extra_body(args.extra_body)
    if extra:
        options["extra_body"] = extra
    return EndpointModel(
        base_url=args.base_url,
        model=args.model,
        protocol=args.protocol,
        code=args.code,
        tool_name=args.tool_name,
        tool_argument=args.tool_argument,
        source_options=options,
    )


def chat_system(args: argparse.Namespace) -> str | None:
    """The system prompt ``chat`` sends: the default (how code runs, what is shown, the
    ``--file`` names, how to finish) or ``--system``, and ``--system-append``."""
    default = system_prompt(
        code=args.code,
        display="script" if getattr(args, "display", None) == "script" else "notebook",
        files=args.file,
        protocol=args.protocol,
        tool_name=args.tool_name,
        tool_argument=args.tool_argument,
        network=False if sandbox_wanted(args) else None,
    )
    return system_text(args, default, args.file)


class _Live:
    """Prints an agent's events as they come, with a status line while the model writes.

    The model's text is shown a line at a time; a turn's prose waits until its first code
    fence (a turn without code is the answer, shown once at the end). Batches that are only
    comments are not shown as runs.
    """

    def __init__(self, output: Output, status: Status, *, code: str) -> None:
        self.output = output
        self.status = status
        self.show_deltas = code == "fence"
        self.text = TextLines(self._line)
        self.waiting: list[str] = []  # a turn's prose before its first fence
        self.fenced = False
        self.turn = 0
        self.tokens = 0
        self.ran: list[tuple[int, int]] = []

    def _line(self, line: str) -> None:
        if not self.fenced and not line.lstrip().startswith(("```", "~~~")):
            self.waiting.append(line)
            return
        if not self.fenced:
            self.fenced = True
            for held in self.waiting:
                self.output.label(held, style="dim")
            self.waiting = []
        self.output.label(line, style="dim")

    def _status(self, doing: str) -> None:
        self.status.update(f"turn {self.turn}: {doing}")

    def __call__(self, event: AgentEvent) -> None:
        out = self.output
        if isinstance(event, TurnStarted):
            self.turn, self.tokens, self.fenced, self.waiting = event.index + 1, 0, False, []
            self.text = TextLines(self._line)
            out.console.rule(f"turn {self.turn}", style="blue")
            self._status("waiting for the model")
        elif isinstance(event, ModelDelta):
            self.tokens += 1
            self._status(f"the model is writing · {self.tokens} tokens")
            if self.show_deltas:
                self.text.feed(event.text)
        elif isinstance(event, CodeStarted):
            if has_statements(event.code):
                last = event.first_line + event.code.rstrip("\n").count("\n")
                head = first_statement_line(event.code)
                out.label(f"  ▶ lines {event.first_line}-{last}: {head[:70]}", style="cyan")
                self.ran.append((self.turn, last))
        elif isinstance(event, CodeFinished):
            r = event.result
            out.result(r, indent="    ", styled=True)
            if r.error is not None and r.error.ename != "FinalAnswer":
                line = f" at line {r.error.lineno}" if r.error.lineno else ""
                out.label(f"  ✗ {r.error.ename}{line}: {r.error.evalue}", style="bold red")
        elif isinstance(event, TurnEnded):
            t = event.turn
            if t.runs or not self.show_deltas:
                self.text.flush()
                for held in self.waiting:
                    out.label(held, style="dim")
            else:  # the answer turn: the prose before the answer, the answer comes at the end
                self.text = TextLines(lambda line: None)
                prose = _prose_before_answer(t.said.text)
                if prose:
                    out.label(prose, style="dim")
            self.waiting = []
            note = cancelled_note(t.runs[0]) if t.runs and t.interrupted else None
            if note:
                out.label(f"  ⏹ {note}; the model repairs from the code up to it", style="yellow")

    def summary(self) -> str:
        """What happened before a Ctrl-C, in one line."""
        ran = f", code ran in {len(self.ran)} batches" if self.ran else ", no code ran"
        return f"interrupted in turn {self.turn}{ran} (its output is above)"


_FINAL_MARKER = re.compile(r"final answer\s*:", re.IGNORECASE)


def _prose_before_answer(text: str) -> str:
    """The text of an answer turn before its ``Final Answer:`` marker ("" without one: the
    whole text is the answer)."""
    marks = list(_FINAL_MARKER.finditer(text))
    return text[: marks[-1].start()].strip() if marks else ""


def timing_table(result: AgentResult) -> Table:
    """One row per turn: tokens, serial-equivalent time, actual time, and how much faster."""
    table = Table(title="per turn", title_justify="left")
    for name in ("turn", "code", "tokens", "serial-equivalent", "actual", "faster by"):
        table.add_column(name, justify="left" if name in ("turn", "code") else "right")
    total_serial = total_actual = 0.0
    for t in result.turns:
        total = f" / {t.tokens_total}" if t.tokens_total is not None else ""
        tokens = f"{t.tokens_generated}{total}"
        status = (
            "no code"
            if not t.runs
            else ("cut at error" if t.interrupted else ("error" if t.error else "ok"))
        )
        total_serial += t.serial_s
        total_actual += t.actual_s
        table.add_row(
            str(t.index + 1),
            status,
            tokens,
            f"{t.serial_s:.2f} s" if t.runs else "",
            f"{t.actual_s:.2f} s",
            faster_by(t.serial_s, t.actual_s) if t.runs else "",
        )
    table.add_row(
        "all",
        "",
        str(result.tokens_generated),
        f"{total_serial:.2f} s",
        f"{total_actual:.2f} s",
        faster_by(total_serial, total_actual) if any(t.runs for t in result.turns) else "",
        style="bold",
    )
    return table


#: File extensions of the image types saved.
_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}


class _Images:
    """Saves the images of each turn's rich outputs: ``turn{N}-{k}.{ext}`` in ``folder``
    (created at the first image; a temporary one when none was given)."""

    def __init__(self, folder: str | None, console: Console | None) -> None:
        self.folder = Path(folder) if folder else None
        self.console = console
        #: Each turn's rich outputs in JSON form (``path``: the saved image), by turn index.
        self.outputs: dict[int, list[dict[str, object]]] = {}

    def __call__(self, event: AgentEvent) -> None:
        if isinstance(event, TurnEnded):
            t = event.turn
            found = [o for r in t.runs for o in r.outputs]
            self.outputs[t.index] = [self._save(t.index, k, o) for k, o in enumerate(found, 1)]

    def _save(self, turn: int, k: int, out: RichOutput) -> dict[str, object]:
        record = out.to_dict()
        mime = next((m for m in _EXTENSIONS if m in out.data), None)
        if mime is None:
            return record
        try:
            data = base64.b64decode("".join(out.data[mime].split()), validate=True)
        except (binascii.Error, ValueError):
            return record
        if self.folder is None:
            self.folder = Path(tempfile.mkdtemp(prefix="eager-chat-outputs-"))
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"turn{turn + 1}-{k}.{_EXTENSIONS[mime]}"
        path.write_bytes(data)
        record["path"] = str(path)
        if self.console is not None:
            self.console.print(Text(f"  ▣ {mime} saved to {path}", style="green"))
        return record


async def _go(
    args: argparse.Namespace,
    model: EndpointModel,
    live: _Live | None,
    images: _Images | None = None,
) -> AgentResult:
    config = AgentConfig(
        max_turns=args.max_turns,
        repair=args.repair,
        mode=args.mode,
        gate=args.gate,
        timeout_s=args.timeout,
        budget=ObservationBudget(max_chars=args.max_output_chars),
    )
    backend = make_backend(args)
    status = live.status if live is not None else Status(enabled=False)

    def on_event(event: AgentEvent) -> None:
        if live is not None:
            live(event)
        if images is not None:
            images(event)

    async with status, backend:
        agent = Agent(
            model=model,
            backend=backend,
            config=config,
            system=chat_system(args) or "",
            on_event=on_event,
            display=args.display,
        )
        return await agent.run(args.question)


def main(args: argparse.Namespace) -> int:
    """Handler of ``eager chat``."""
    model = _model(args)  # a bad endpoint option fails before any session starts
    Gate(args.gate)  # a bad policy name too
    make_backend(args)  # and a backend that cannot be made so
    folder, temp = session_folder(args)
    quiet = args.json or args.quiet
    console = Console(highlight=False)
    live = None
    if not quiet:
        output = Output(console, Console(stderr=True, highlight=False), Status())
        assert output.status is not None
        live = _Live(output, output.status, code=args.code)
    try:
        outputs_dir = args.outputs_dir
        if outputs_dir is None and temp is None and folder is not None:
            outputs_dir = str(folder / "outputs")
        images = _Images(outputs_dir, None if quiet else console)
        result = asyncio.run(_go(args, model, live, images))
    except KeyboardInterrupt:
        if live is not None:
            live.status.clear()
            live.output.errors.print(Text(live.summary(), style="yellow"))
        raise
    finally:
        if temp is not None:
            temp.cleanup()
    if args.json:
        record = result.to_dict()
        record["folder"] = None if temp is not None else str(folder)
        record["outputs_dir"] = None if images.folder is None else str(images.folder)
        for turn in record["turns"]:  # type: ignore[attr-defined]
            turn["outputs"] = images.outputs.get(turn["index"], [])
        sys.stdout.write(dumps(record) + "\n")
    elif args.quiet:
        if result.answer is not None:
            sys.stdout.write(result.answer + "\n")
        else:
            why = result.error or f"no answer after {len(result.turns)} turns ({result.stop})"
            Console(stderr=True, highlight=False).print(Text(f"eager: {why}"))
    else:
        console.rule("answer", style="blue")
        if result.answer is not None:
            console.print(Text(result.answer, style="bold"))
        else:
            why = result.error or f"no answer after {len(result.turns)} turns ({result.stop})"
            console.print(Text(why, style="bold red"))
        console.print(timing_table(result))
        if images.folder is not None:
            console.print(Text(f"images saved in {images.folder}"))
        console.print(
            Text(
                "serial-equivalent: the whole answer's generation, then its execution; actual: "
                "this turn with its code run while it streamed · " + LEGEND.split(" · ")[-1],
                style="dim",
            )
        )
    return 0 if result.answer is not None else 1
