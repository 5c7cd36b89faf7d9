"""``eager run``: replay a program (or stream it from an endpoint) and run it eagerly/serially.

Everything given is checked before anything starts (exit 2, one line). The program's output
is printed as it arrives (the eager run's; the serial run, when both run, is watched on the
status line only), then the comparison, the error once, notes and the legend. ``--mode both``
runs eager first, then serial; against an endpoint the answer is generated once and replayed
for the serial run with the same timing; the serial run works in a copy of the working folder
made before anything ran (when the program may write to it).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

from .._chunker import Chunk, Chunker
from .._errors import ProgramSyntaxError, UsageError
from .._extract import FORMATS, Format, make_extractor
from .._gate import Gate
from .._policy import POLICIES, Policy
from .._prefetch import prefetch_cell
from .._result import Mode, RunResult
from .._run import run
from ..agent._prompt import DisplayMode, program_prompt
from ..sources._base import Source
from ..sources._replay import ReplaySource
from ._backends import add_backend_options, make_backend, sandbox_wanted
from ._checks import (
    check_folder,
    check_output_path,
    dumps,
    non_negative_float,
    positive_float,
)
from ._endpoint import add_endpoint_options, check_endpoint_args, system_text
from ._live import Live, Status
from ._modes import SharedStream, copy_folder
from ._render import compact_traceback, print_results, shown_output, stdout_note

__all__ = [
    "add_run_options",
    "check_run_args",
    "gate_from_args",
    "program_format",
    "read_program",
    "register",
    "run_modes",
    "write_files",
]


def register(sub: Any) -> None:
    """Add the ``run`` subcommand."""
    p = sub.add_parser(
        "run",
        help="replay a program as a model would stream it, and run it",
        description="Replay PROGRAM at a token rate (or stream from --base-url) and run it "
        "eagerly, serially, or both side by side (eager first; serial in a copy of the "
        "working folder). The program's output is printed as it arrives.",
    )
    p.add_argument("program", nargs="?", help="a .py file (bare code) or a chat answer (.md/.txt)")
    add_run_options(p)
    add_endpoint_options(p, format=False)
    p.set_defaults(handler=main)


#: ``--mode`` of ``eager run``.
RUN_MODE_HELP = (
    "both (default for a PROGRAM file): eager, then serial for comparison; eager is the "
    "default with --base-url, where both generates once and replays the same answer for the "
    "serial run"
)


def add_run_options(p: argparse.ArgumentParser, *, mode_help: str = RUN_MODE_HELP) -> None:
    """Options shared by ``run`` and ``demo`` (help texts show each command's own defaults)."""
    p.add_argument(
        "--tps",
        type=positive_float,
        default=50.0,
        help="replay tokens per second (default %(default)g)",
    )
    p.add_argument(
        "--ttft",
        type=non_negative_float,
        default=0.0,
        help="replay time to first token, s (default %(default)g)",
    )
    p.add_argument(
        "--jitter",
        type=non_negative_float,
        default=0.0,
        help="relative jitter of token gaps (default %(default)g)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the replay jitter")
    p.add_argument(
        "--mode",
        choices=["eager", "serial", "both"],
        default=None,
        help=mode_help,
    )
    p.add_argument(
        "--on-error",
        choices=["interrupt", "defer"],
        default="interrupt",
        help="interrupt (default): a failing statement stops generation; defer: generation "
        "goes on, nothing more runs",
    )
    p.add_argument(
        "--gate",
        default="default",
        help=f"gate policy: {', '.join(sorted(POLICIES))} (off: run every chunk at once)",
    )
    p.add_argument(
        "--gate-unsafe",
        action="append",
        default=[],
        metavar="PATTERN",
        help="also seal on this dotted name (fnmatch, e.g. 'mylib.upload*')",
    )
    p.add_argument(
        "--gate-safe",
        action="append",
        default=[],
        metavar="PATTERN",
        help="never seal on this dotted name",
    )
    p.add_argument("--timeout", type=positive_float, default=None, help="per-invocation timeout, s")
    p.add_argument(
        "--prefetch",
        action="append",
        default=[],
        metavar="MODULES",
        help="import these modules (comma-separated) in the session while waiting for the "
        "first token; failures are ignored",
    )
    p.add_argument(
        "--format",
        dest="text_format",
        choices=FORMATS,
        default=None,
        help="how the text holds code (default: by file type)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument(
        "--quiet",
        "-q",
        action="store_true",
        help="for scripts: only the program's output (and its error on stderr), no status "
        "line, table or notes",
    )
    p.add_argument("--trace", metavar="PATH", help="write a Chrome/Perfetto trace (JSON)")
    p.add_argument("--plot", metavar="PATH", help="write a Gantt chart of the runs (.png/.svg)")
    add_display_option(p, default="script")
    add_backend_options(p)


def add_display_option(p: argparse.ArgumentParser, *, default: str) -> None:
    """``--display notebook|script``: what a cell shows (see :func:`eager.run`)."""
    p.add_argument(
        "--display",
        choices=["notebook", "script"],
        default=default,
        help="notebook: show each cell's last expression, figures and display() as Jupyter "
        "does, and accept !cmd and %%magic; script: only what the program prints "
        f"(default {default})",
    )


def gate_from_args(args: argparse.Namespace) -> Policy:
    """The gate policy chosen by ``--gate``, ``--gate-unsafe`` and ``--gate-safe``."""
    policy = Gate(args.gate).policy
    if args.gate_unsafe or args.gate_safe:
        policy = policy.extend(unsafe=args.gate_unsafe, safe=args.gate_safe)
    return policy


def read_program(path: str) -> str:
    """The text of a program file, or a clear usage error."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise UsageError(f"{path} is a folder, not a program file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None


def program_format(args: argparse.Namespace) -> Format:
    """``--format``, else by the file's type: a ``.py`` file is bare code, anything else auto."""
    fmt: Format = args.text_format or ("code" if args.program.endswith(".py") else "auto")
    return fmt


def code_of(text: str, fmt: Format) -> str:
    """The code the runtime would take out of ``text`` (all of it, in order)."""
    extractor = make_extractor(fmt)
    return extractor.feed(text) + extractor.close()


def _chunks(code: str) -> list[Chunk]:
    chunker = Chunker()
    try:
        return [*chunker.feed(code), *chunker.close()]
    except ProgramSyntaxError as exc:
        return [c for c in exc.chunks if isinstance(c, Chunk)]


def may_write(code: str | None, policy: Policy) -> bool:
    """Whether a program may act outside its session (a chunk the gate seals); unknown
    programs (``None``: a model's answer still to come) may."""
    if code is None:
        return True
    gate = Gate(policy)
    return any(gate.classify(c).decision == "seal" for c in _chunks(code))


def modes_of(args: argparse.Namespace) -> list[Mode]:
    """The modes to run, in the order they run: eager first, serial (the reference) after."""
    return ["eager", "serial"] if args.mode == "both" else [args.mode]


def prefetch_of(args: argparse.Namespace) -> tuple[str, ...]:
    """The modules named by ``--prefetch`` (repeated or comma-separated)."""
    names = (n.strip() for arg in getattr(args, "prefetch", ()) for n in arg.split(","))
    return tuple(n for n in names if n)


def check_run_args(args: argparse.Namespace) -> Policy:
    """Check the options ``run`` and ``demo`` share before anything starts; the gate policy."""
    check_folder(args.cwd)
    check_output_path(args.trace, "--trace")
    check_output_path(args.plot, "--plot", plot=True)
    prefetch_cell(prefetch_of(args))  # a bad module name is a usage error
    policy = gate_from_args(args)
    make_backend(args)  # a backend that cannot be made so (gateway + sandbox): say it now
    return policy


async def run_modes(
    args: argparse.Namespace,
    make_source: Callable[[], Source],
    *,
    live: Live | None = None,
    program: str | None = None,
    shared: bool = False,
) -> dict[str, RunResult]:
    """Run each mode (eager first) on a fresh, warmed session of the chosen backend.

    ``program``: the code when known before the runs (a replay), else None (a model's answer,
    may write anything). ``shared``: one generation for both modes (an endpoint). The results
    come in display order: serial first.
    """
    policy = gate_from_args(args)
    modes = modes_of(args)
    folders = _folders(args, modes, program, policy)
    stream = SharedStream(make_source()) if shared and len(modes) == 2 else None
    status = live.status if live is not None else Status(enabled=False)
    results: dict[str, RunResult] = {}
    try:
        async with status:
            for mode in modes:
                view = live.run(mode) if live is not None else None
                source: Source
                if stream is None:
                    source = make_source()
                elif mode == "eager":
                    source = stream.live()
                else:
                    status.update("serial: reading the rest of the answer")
                    await stream.rest()
                    source = stream.replay()
                backend = make_backend(argparse.Namespace(**{**vars(args), "cwd": folders[mode]}))
                async with backend:
                    results[mode] = await run(
                        view.source(source) if view is not None else source,
                        backend,
                        mode=mode,
                        on_error=args.on_error,
                        gate=policy,
                        extract=args.text_format,
                        timeout_s=args.timeout,
                        prefetch=prefetch_of(args),
                        display=args.display,
                        on_batch=view.on_batch if view is not None else None,
                    )
    finally:
        if stream is not None:
            await stream.aclose()
        for folder in folders.values():
            if folder is not None and folder != args.cwd:
                shutil.rmtree(folder, ignore_errors=True)
    args.serial_folder_copied = folders.get("serial") not in (None, args.cwd)
    return {m: results[m] for m in ("serial", "eager") if m in results}


def _folders(
    args: argparse.Namespace, modes: list[Mode], program: str | None, policy: Policy
) -> dict[str, str | None]:
    """Each mode's working folder: the serial run of ``both`` gets a copy of a shared folder
    made before anything ran, when the program may write there; else ``--cwd`` for all."""
    folders: dict[str, str | None] = {m: args.cwd for m in modes}
    if len(modes) < 2 or args.backend not in ("repl", "jupyter"):
        return folders  # a remote session's folder is not ours to copy
    if args.cwd is None and sandbox_wanted(args):
        return folders  # each sandboxed session has a private, empty folder of its own
    if not may_write(program, policy):
        return folders  # the program only reads: sharing the folder is the same as copying
    folders["serial"] = copy_folder(args.cwd or os.getcwd())
    return folders


def emit(
    args: argparse.Namespace,
    results: dict[str, RunResult],
    *,
    title: str | None,
    live: Live | None = None,
    endpoint: bool = False,
) -> int:
    """Print results (JSON, quiet or rich), write trace/plot, and return the exit status."""
    no_code = all(not r.code.strip() for r in results.values())
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    written = write_files(args, results)
    if args.json:
        records = {mode: r.to_dict() for mode, r in results.items()}
        obj = records if len(records) > 1 else next(iter(records.values()))
        sys.stdout.write(dumps(obj) + "\n")
    elif args.quiet:
        shown = results.get("eager") or next(iter(results.values()))
        if live is None or live.shown is None:
            sys.stdout.write(shown_output(shown))
            sys.stderr.write(shown.stderr)
        if shown.error is not None:
            tb = shown.error.traceback.strip() or f"{shown.error.ename}: {shown.error.evalue}"
            err.print(Text(compact_traceback(tb)))
    else:
        console = Console(highlight=False)
        if live is None or live.shown is None:
            shown = results.get("eager") or next(iter(results.values()))
            text = shown_output(shown)
            if text:
                console.out(text, end="" if text.endswith("\n") else "\n")
            if shown.stderr:
                err.out(shown.stderr, end="")
        elif live.output.printed is False and not no_code:
            console.print(Text("(the program printed nothing)", style="dim"))
        notes = _notes(args, results, endpoint=endpoint)
        for note in dict.fromkeys(r.stop_note for r in results.values() if r.stop_note):
            console.print(Text(str(note), style="yellow"))  # a token limit or a refusal
        if no_code:
            console.print(Text(_no_code_message(args, endpoint), style="bold red"))
        else:
            console.rule(style="dim")
            print_results(console, results, title=title, notes=notes)
    for kind, path in written:
        err.print(Text(f"eager: wrote the {kind} to {path}", style="dim"))
    if no_code:
        if args.json or args.quiet:
            err.print(Text(_no_code_message(args, endpoint)))
        return 1
    return 1 if any(r.error is not None for r in results.values()) else 0


def _no_code_message(args: argparse.Namespace, endpoint: bool) -> str:
    if endpoint:
        return "no code: the model's answer held no Python code, so nothing ran"
    return f"no code: {args.program} holds no Python code, so nothing ran"


def _notes(args: argparse.Namespace, results: dict[str, RunResult], *, endpoint: bool) -> list[str]:
    notes = []
    differ = stdout_note(results)
    if differ:
        notes.append(differ)
    if getattr(args, "serial_folder_copied", False):
        folder = args.cwd or "the current folder"
        notes.append(
            f"note: the serial run worked in a copy of {folder} made before the runs (now "
            "removed); what the eager run wrote is in the folder"
        )
    if endpoint and len(results) == 2:
        notes.append("note: one generation, replayed with the same timing for the serial run")
    if (
        args.cwd is None
        and sandbox_wanted(args)
        and any(
            r.error is not None and r.error.ename in ("FileNotFoundError", "PermissionError")
            for r in results.values()
        )
    ):
        notes.append(
            "note: a sandboxed session works in an empty private folder; --cwd . gives it "
            "the current folder (writable)"
        )
    return notes


def write_files(args: argparse.Namespace, results: dict[str, RunResult]) -> list[tuple[str, str]]:
    written: list[tuple[str, str]] = []
    if args.trace or args.plot:
        from .._trace import write_plot, write_trace

        if args.trace:
            written.append(
                ("trace (open it in ui.perfetto.dev)", str(write_trace(args.trace, results)))
            )
        if args.plot:
            written.append(("plot", str(write_plot(args.plot, results))))
    return written


def main(args: argparse.Namespace) -> int:
    """Handler of ``eager run``."""
    endpoint = bool(getattr(args, "base_url", None))
    # Code from a model endpoint runs sandboxed unless --no-sandbox; a local file's replay not.
    args.sandbox_default = endpoint
    check_endpoint_args(args, required=False)
    if args.mode is None:
        args.mode = "eager" if endpoint else "both"
    program: str | None = None
    if endpoint:
        if args.program:
            raise UsageError("give a PROGRAM file or --base-url, not both")
        from ._endpoint import make_endpoint_source

        display: DisplayMode = (
            "notebook" if getattr(args, "display", None) == "notebook" else "script"
        )
        network = False if sandbox_wanted(args) else None
        system = system_text(args, program_prompt(display=display, network=network))

        def make_source() -> Source:
            source: Source = make_endpoint_source(args, system=system or "")
            return source

        title = f"{args.model} at {args.base_url}"
    else:
        if not args.program:
            raise UsageError(
                "give a PROGRAM file, or --base-url and --model to stream from a model"
            )
        text = read_program(args.program)
        fmt = program_format(args)
        args.text_format = fmt
        program = code_of(text, fmt)
        if not program.strip():
            hint = " (a chat answer needs a ```python block)" if fmt != "code" else ""
            raise UsageError(f"{args.program} holds no Python code{hint}")

        def make_source() -> Source:
            return ReplaySource(
                text, tps=args.tps, ttft_s=args.ttft, jitter=args.jitter, seed=args.seed, format=fmt
            )

        title = f"{args.program} at {args.tps:g} tok/s"
    check_run_args(args)
    live = Live(args, shown="eager" if args.mode != "serial" else "serial")
    try:
        results = asyncio.run(
            run_modes(args, make_source, live=live, program=program, shared=endpoint)
        )
    except KeyboardInterrupt:
        live.interrupted()
        raise
    return emit(args, results, title=title, live=live, endpoint=endpoint)
