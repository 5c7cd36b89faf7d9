"""``eager chat``: a code agent on a question, live in the terminal, with a per-turn timing table.

The model (``--base-url``, ``--model``, ``--protocol``) answers in turns; each turn's code runs
while it streams in one session whose folder holds copies of the ``--file`` data files. The
terminal shows each turn live (the model's text, each batch of statements as it runs, its
output, interruptions and repairs) and ends with the answer and a table per turn: the
serial-equivalent time (the whole answer's generation plus execution) against the actual time.
Images the code shows (figures) are saved per turn in ``--outputs-dir`` (default: ``outputs``
in ``--cwd``, else a new temporary folder that is kept) and their paths printed; ``--json``
carries each turn's rich outputs (``path``: the saved image).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from .._errors import UsageError
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
    cut_middle,
)
from ._backends import add_backend_options, make_backend
from ._endpoint import _extra_body, _headers, add_endpoint_options, api_key_of
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
        help="a data file copied into the session's folder (repeatable)",
    )
    p.add_argument(
        "--code",
        choices=["fence", "tool"],
        default="fence",
        help="how the model writes code: markdown fences (default) or a code tool",
    )
    p.add_argument("--max-turns", type=int, default=10, help="most model turns (default 10)")
    p.add_argument("--repair", choices=["partial", "full"], default="partial")
    p.add_argument("--mode", choices=["eager", "serial"], default="eager")
    add_display_option(p, default="notebook")
    p.add_argument("--gate", default="default", help=f"gate policy: {', '.join(sorted(POLICIES))}")
    p.add_argument("--timeout", type=float, default=60.0, help="per-invocation timeout, s")
    p.add_argument(
        "--max-output-chars",
        type=int,
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
    add_endpoint_options(p, prompt=False, format=False)
    add_backend_options(p)
    # Code from a model endpoint runs in the sandbox unless --no-sandbox (see sandbox_wanted).
    p.set_defaults(sandbox_default=True)
    p.set_defaults(handler=main)


def _model(args: argparse.Namespace) -> EndpointModel:
    if not args.base_url:
        raise UsageError("--base-url is required (e.g. http://127.0.0.1:8000/v1)")
    if not args.model:
        raise UsageError("--model is required with --base-url")
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


def _session_folder(
    args: argparse.Namespace,
) -> tuple[Path, tempfile.TemporaryDirectory[str] | None]:
    """The session's folder (``--cwd``, else a fresh temporary one) with the data files in it."""
    temp = None
    if args.cwd:
        folder = Path(args.cwd)
        folder.mkdir(parents=True, exist_ok=True)
    else:
        temp = tempfile.TemporaryDirectory(prefix="eager-chat-")
        folder = Path(temp.name)
    for name in args.file:
        src = Path(name)
        if not src.is_file():
            raise UsageError(f"--file {name}: no such file")
        shutil.copy2(src, folder / src.name)
    args.cwd = str(folder)
    return folder, temp


class _Live:
    """Prints an agent's events as they come."""

    def __init__(self, console: Console, *, code: str) -> None:
        self.console = console
        self.show_deltas = code == "fence"
        self.held = ""  # the model's unfinished line: shown whole, never split by a run

    def _newline(self) -> None:
        """Show the held line (a turn's end, or before the next turn)."""
        if self.held:
            self.console.out(self.held, highlight=False, style="dim")
            self.held = ""

    def __call__(self, event: AgentEvent) -> None:
        c = self.console
        if isinstance(event, TurnStarted):
            self._newline()
            c.rule(f"turn {event.index + 1}", style="blue")
        elif isinstance(event, ModelDelta) and self.show_deltas:
            lines, _, self.held = (self.held + event.text).rpartition("\n")
            if lines or event.text.endswith("\n"):
                c.out(lines, highlight=False, style="dim")
        elif isinstance(event, CodeStarted):
            last = event.first_line + event.code.rstrip("\n").count("\n")
            head = event.code.strip().splitlines()[0] if event.code.strip() else ""
            c.print(Text(f"  ▶ lines {event.first_line}-{last}: {head[:70]}", style="cyan"))
        elif isinstance(event, CodeFinished):
            r = event.result
            for stream, style in ((r.stdout, "green"), (r.stderr, "yellow")):
                if stream:
                    c.print(Text(_indent(stream), style=style))
            for out in r.outputs:
                text = out.data.get("text/plain", "")
                rich = [k for k in out.data if k != "text/plain"]
                if rich:
                    where = f" saved to {out.path}" if out.path else ""
                    c.print(Text(f"    [{', '.join(rich)}{where}]", style="green"))
                elif text:
                    c.print(Text(_indent(cut_middle(text, 1200)), style="green"))
            if r.error is not None and r.error.ename != "FinalAnswer":
                line = f" at line {r.error.lineno}" if r.error.lineno else ""
                c.print(Text(f"  ✗ {r.error.ename}{line}: {r.error.evalue}", style="bold red"))
        elif isinstance(event, TurnEnded):
            self._newline()
            t = event.turn
            if t.interrupted:
                m = t.runs[0].metrics
                of = f" of {m.tokens_total}" if m.tokens_total else ""
                c.print(
                    Text(
                        f"  ⏹ generation stopped at the error after {m.tokens_generated}{of} "
                        "tokens; the model repairs from the code up to it",
                        style="yellow",
                    )
                )


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.rstrip("\n").split("\n"))


def timing_table(result: AgentResult) -> Table:
    """One row per turn: tokens, serial-equivalent time, actual time, and the change."""
    table = Table(title="per turn", title_justify="left")
    for name in ("turn", "code", "tokens", "serial-equivalent", "actual", "change"):
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
            f"{t.serial_s:.2f} s",
            f"{t.actual_s:.2f} s",
            _change(t.serial_s, t.actual_s),
        )
    table.add_row(
        "all",
        "",
        str(result.tokens_generated),
        f"{total_serial:.2f} s",
        f"{total_actual:.2f} s",
        _change(total_serial, total_actual),
        style="bold",
    )
    return table


def _change(serial: float, actual: float) -> str:
    return f"{(actual - serial) / serial:+.0%}" if serial > 0 else "-"


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
    console: Console | None,
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
    live = None if console is None else _Live(console, code=args.code)

    def on_event(event: AgentEvent) -> None:
        if live is not None:
            live(event)
        if images is not None:
            images(event)

    async with backend:
        agent = Agent(
            model=model, backend=backend, config=config, on_event=on_event, display=args.display
        )
        return await agent.run(args.question)


def main(args: argparse.Namespace) -> int:
    """Handler of ``eager chat``."""
    if args.max_turns < 1:
        raise UsageError(f"--max-turns must be >= 1, got {args.max_turns}")
    model = _model(args)  # a bad endpoint option fails before any session starts
    folder, temp = _session_folder(args)
    try:
        console = None if args.json else Console(highlight=False)
        outputs_dir = args.outputs_dir or (None if temp is not None else str(folder / "outputs"))
        images = _Images(outputs_dir, console)
        result = asyncio.run(_go(args, model, console, images))
    finally:
        if temp is not None:
            temp.cleanup()
    if args.json:
        record = result.to_dict()
        record["folder"] = None if temp is not None else str(folder)
        record["outputs_dir"] = None if images.folder is None else str(images.folder)
        for turn in record["turns"]:  # type: ignore[attr-defined]
            turn["outputs"] = images.outputs.get(turn["index"], [])
        sys.stdout.write(json.dumps(record) + "\n")
    else:
        assert console is not None
        console.rule("answer", style="blue")
        if result.answer is not None:
            console.print(Text(result.answer, style="bold"))
        else:
            why = result.error or f"no answer after {len(result.turns)} turns ({result.stop})"
            console.print(Text(why, style="bold red"))
        console.print(timing_table(result))
        if images.folder is not None:
            console.print(Text(f"images saved in {images.folder}"))
    return 0 if result.answer is not None else 1
