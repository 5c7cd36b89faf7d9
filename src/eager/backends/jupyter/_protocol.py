"""The Jupyter message protocol shared by the kernel and gateway backends (no I/O but saving)."""

from __future__ import annotations

import base64
import functools
import json
import re
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from ..._result import ExecError, ExecResult, LogItem, RichOutput, StreamText, merge_log
from .._base import CellStep
from .._report import (
    MAX_OUTPUT_BYTES,
    OutputCap,
    clean_text,
    error_from_report,
    exec_result,
    rich_output,
)

__all__ = [
    "ERROR_MIME",
    "RESET_CELL",
    "Collector",
    "execute_request",
    "kernel_setup",
    "parse_error",
    "save_outputs",
    "strip_ansi",
    "wrap_code",
]

#: Protocol version we speak (Jupyter messaging 5.x).
PROTOCOL_VERSION = "5.3"


#: MIME type of the structured error the kernel-side helper publishes (JSON text).
ERROR_MIME = "application/vnd.eager.error+json"
#: How the prompt of an input request that is a tool call starts (then the call as JSON).
TOOL_PROMPT = "\x00eager-tool "

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_CELL_LINE = re.compile(r'(?:Cell In\s*\[\d*\], line (\d+))|(?:File "<program>", line (\d+))')

# Installed once per kernel process: the backends' Interpreter (so errors, line numbers,
# tracebacks and reset are exactly the REPL's) plus glue. Why not run the program as a plain
# cell: IPython strips leading blank lines (the padding that keeps program line numbers would
# vanish), displays a cell's last expression (eager batches end elsewhere than the one serial
# cell) and formats tracebacks slowly (~50 ms).
_GLUE = r"""
import sys
import json as _json
from IPython import get_ipython as _get_ipython
from IPython.display import publish_display_data as _publish

_interp = Interpreter(_get_ipython().user_ns)
_notebook = Notebook(_interp, _get_ipython(), hooks_per_request=True)
FILENAME = PROGRAM_FILENAME


def _ascii_packing(session):
    # Lone surrogates in output would otherwise leave as invalid UTF-8 (surrogateescape).
    from jupyter_client.session import json_default

    fallback = session.pack

    def pack(obj):
        try:
            return _json.dumps(
                obj, default=json_default, ensure_ascii=True, allow_nan=False
            ).encode("ascii")
        except (TypeError, ValueError):
            return fallback(obj)

    session.pack = pack


_ascii_packing(_get_ipython().kernel.session)
sys.argv = [FILENAME]  # as for a script (the kernel's own arguments are of no use to it)


def run(code, first_line):
    global _notebook_mode
    _notebook_mode = False  # a script again (a pooled kernel may serve both)
    with _no_stdin():
        error = _interp.run(code, first_line)
    _drain_fd_output()
    if error is not None:
        _publish({__ERROR_MIME__: _json.dumps(error, ensure_ascii=True)})


def tools(specs):
    # The host's tools as functions; their calls travel as input requests on the stdin
    # channel (the one channel on which a running cell may wait for the client).
    install_tools(_interp, _json.loads(specs), _call_tool)


def _call_tool(name, args, kwargs):
    request = _json.dumps({"name": name, "args": args, "kwargs": kwargs}, ensure_ascii=True)
    return _json.loads(_get_ipython().kernel.raw_input(__TOOL_PROMPT__ + request))


class _no_stdin:
    # input() in the program sees no terminal, as in the REPL (stdin is only the tools').
    def __enter__(self):
        import builtins

        self.saved = builtins.input
        builtins.input = _no_input

    def __exit__(self, *exc):
        import builtins

        builtins.input = self.saved


_DRAIN_MARK = "\x00eager-drained-%d\x00" % id(_interp)
_DRAIN_WAIT_S = 5.0


def _drain_fd_output():
    # What the program wrote to fd 1 and 2 (os.write, C code, a subprocess) reaches ipykernel's
    # OutStream through a pipe that a thread of its own reads, with no wait at the request's
    # end: under load those bytes would come after the reply, in the next invocation. Write a
    # mark through each pipe and wait until the reader has passed it on (the mark is dropped).
    import os
    import threading

    for fd, stream in ((1, sys.stdout), (2, sys.stderr)):
        if getattr(stream, "_fid", None) is None or not getattr(stream, "_should_watch", False):
            continue
        seen = threading.Event()
        write = stream.write

        def passing(text, write=write, seen=seen):
            if _DRAIN_MARK in text:
                text = text.replace(_DRAIN_MARK, "")
                seen.set()
            return write(text) if text else 0

        stream.write = passing
        try:
            os.write(fd, _DRAIN_MARK.encode())
            seen.wait(_DRAIN_WAIT_S)
        except OSError:
            pass
        finally:
            del stream.write


def _no_input(prompt=""):
    raise EOFError("EOF when reading a line")


def step(code, first_line, begin, end, source, failed):
    # One invocation of a notebook cell: display and hooks once per cell (Notebook).
    global _notebook_mode
    _notebook_mode = True
    with _no_stdin():
        _notebook.step(code, first_line, begin, end, source, failed, _report)
    _drain_fd_output()


def _report(error):
    _publish({__ERROR_MIME__: _json.dumps(error, ensure_ascii=True)})


def reset():
    _interp.reset()
    _notebook.reset()


_notebook_mode = False


def _no_inline_autoflush():
    # matplotlib-inline shows (and closes) the figures after every request; a script runs
    # as many requests where serial runs one, so only explicit show()/display() may produce
    # output. Notebook cells hold the hook back until their end instead (Notebook).
    if _notebook_mode:
        return
    mod = sys.modules.get("matplotlib_inline.backend_inline")
    if mod is not None:
        mod.show._draw_called = False
        mod.show._to_draw = []
""".replace("__ERROR_MIME__", repr(ERROR_MIME)).replace("__TOOL_PROMPT__", repr(TOOL_PROMPT))


@functools.cache
def kernel_setup() -> str:
    """The cell run once after each kernel (re)start: installs ``__eager_kernel__``."""
    from .. import _interpreter

    interpreter = Path(_interpreter.__file__).read_text(encoding="utf-8")
    # Idempotent: after a dropped websocket the kernel (and its namespace) may still be there.
    return (
        "import sys as _s, types as _t\n"
        "if '__eager_kernel__' not in _s.modules:\n"
        "    _m = _t.ModuleType('__eager_kernel__')\n"
        f"    exec({interpreter!r}, _m.__dict__)\n"
        f"    exec({_GLUE!r}, _m.__dict__)\n"
        "    _s.modules['__eager_kernel__'] = _m\n"
        "    get_ipython().events.register('post_execute', _m._no_inline_autoflush)\n"
        "    del _m\n"
        "del _s, _t\n"
    )


#: The cell that gives the program a fresh namespace (kept modules, as the REPL's reset).
RESET_CELL = "__import__('__eager_kernel__').reset()"


def wrap_code(code: str, first_line: int, cell: CellStep | None = None) -> str:
    """The request that runs ``code`` as lines ``first_line…`` of the program: script-style,
    or as a step of a notebook cell."""
    # ascii(): lone surrogates and any other character survive the JSON/UTF-8 transport.
    if cell is None:
        return f"__import__('__eager_kernel__').run({code!a}, {int(first_line)})"
    return (
        f"__import__('__eager_kernel__').step({code!a}, {int(first_line)}, {cell.begin!r}, "
        f"{cell.end!r}, {cell.source!a}, {cell.failed!r})"
    )


def _message(msg_type: str, content: dict[str, Any], *, session: str) -> dict[str, Any]:
    return {
        "header": {
            "msg_id": uuid.uuid4().hex,
            "msg_type": msg_type,
            "username": "eager",
            "session": session,
            "date": datetime.now(UTC).isoformat(),
            "version": PROTOCOL_VERSION,
        },
        "parent_header": {},
        "metadata": {},
        "content": content,
        "buffers": [],
        "channel": "shell",
    }


def tools_cell(specs: list[dict[str, Any]]) -> str:
    """The cell that gives the kernel the stubs of the host's tools."""
    return f"__import__('__eager_kernel__').tools({json.dumps(specs)!a})"


def input_reply(value: str, *, parent: dict[str, Any], session: str) -> dict[str, Any]:
    """The answer to an ``input_request`` (on the stdin channel)."""
    msg = _message("input_reply", {"value": value}, session=session)
    msg["parent_header"] = parent
    msg["channel"] = "stdin"
    return msg


def tool_call_of(msg: dict[str, Any]) -> dict[str, Any] | None:
    """The tool call an ``input_request`` carries (None: a plain input request)."""
    prompt = str((msg.get("content") or {}).get("prompt", ""))
    if not prompt.startswith(TOOL_PROMPT):
        return None
    try:
        call = json.loads(prompt[len(TOOL_PROMPT) :])
    except ValueError:
        return None
    return call if isinstance(call, dict) else None


def execute_request(cell: str, *, session: str, allow_stdin: bool = False) -> dict[str, Any]:
    """An ``execute_request`` that runs silently: no history, no execute_input, no display hook.

    ``allow_stdin``: the cell may send input requests (the tools' calls)."""
    return _message(
        "execute_request",
        {
            "code": cell,
            "silent": True,
            "store_history": False,
            "user_expressions": {},
            "allow_stdin": allow_stdin,
            "stop_on_error": True,
        },
        session=session,
    )


def strip_ansi(text: str) -> str:
    """``text`` without ANSI colour and cursor escapes."""
    return _ANSI.sub("", text)


def parse_error(content: dict[str, Any]) -> ExecError:
    """The :class:`ExecError` of an ``error`` message or an ``execute_reply`` with status error."""
    frames = [str(f) for f in content.get("traceback") or []]
    text = strip_ansi("\n".join(f.rstrip("\n") for f in frames))
    # Formatted by IPython (the helper reports program errors itself): innermost cell frame.
    found = [m.group(1) or m.group(2) for m in _CELL_LINE.finditer(text)]
    lineno = int(found[-1]) if found else None
    return ExecError(
        ename=clean_text(str(content.get("ename", "Error"))),
        evalue=clean_text(str(content.get("evalue", ""))),
        traceback=clean_text(text.rstrip("\n") + "\n") if text else "",
        lineno=lineno,
    )


@dataclass(slots=True)
class Collector:
    """Gathers the messages answering one request into an :class:`ExecResult`.

    Feed it every message from iopub and shell; it keeps those whose parent is ``msg_id``.
    Each of stdout and stderr keeps at most ``max_output_bytes`` (None: no cap), then the
    truncation marker (the one :class:`OutputCap` of every backend).
    ``kernel_lost`` is set when the kernel reported itself restarting or dead.
    """

    msg_id: str
    max_output_bytes: int | None = MAX_OUTPUT_BYTES
    stdout: OutputCap = field(init=False)
    stderr: OutputCap = field(init=False)
    bundles: list[dict[str, Any]] = field(default_factory=list)
    #: The order of what came: stream text, or the index of a bundle.
    order: list[StreamText | int] = field(default_factory=list)
    error: ExecError | None = None
    idle: bool = False
    kernel_lost: str | None = None
    #: Input requests of the request (tool calls), waiting to be answered.
    input_requests: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.stdout = OutputCap(self.max_output_bytes)
        self.stderr = OutputCap(self.max_output_bytes)

    @property
    def done(self) -> bool:
        """The request is fully answered.

        The kernel went idle for it: ipykernel sends the reply before that status and every
        error also goes out on iopub, so a late reply (read and dropped later) adds nothing.
        """
        return self.idle

    def feed(self, msg: dict[str, Any]) -> None:
        """Take one deserialized message (any channel)."""
        msg_type = msg.get("msg_type") or msg.get("header", {}).get("msg_type")
        content = msg.get("content") or {}
        if msg_type == "status" and content.get("execution_state") in ("restarting", "dead"):
            self.kernel_lost = str(content["execution_state"])
            return
        if (msg.get("parent_header") or {}).get("msg_id") != self.msg_id:
            return
        if msg_type == "input_request":
            self.input_requests.append(msg)
        elif msg_type == "stream":
            name: Literal["stdout", "stderr"] = (
                "stderr" if content.get("name") == "stderr" else "stdout"
            )
            stream = self.stderr if name == "stderr" else self.stdout
            text = str(content.get("text", ""))
            stream.add_text(text)
            self.order.append(StreamText(name, text))
        elif msg_type in ("display_data", "execute_result"):
            data = content.get("data") or {}
            if ERROR_MIME in data:
                self.error = _helper_error(data[ERROR_MIME])
                self.order.append(-1)  # where it showed (figures may follow it)
                return
            self.order.append(len(self.bundles))
            self.bundles.append(
                {
                    "output_type": msg_type,
                    "data": {str(k): _as_text(v) for k, v in data.items()},
                    "metadata": content.get("metadata") or {},
                    "execution_count": content.get("execution_count"),
                }
            )
        elif msg_type == "error" and self.error is None:
            self.error = parse_error(content)
        elif msg_type == "status" and content.get("execution_state") == "idle":
            self.idle = True
        elif msg_type == "execute_reply" and self.error is None:
            if content.get("status") == "error":
                self.error = parse_error(content)
            elif content.get("status") == "aborted":
                self.error = ExecError("Aborted", "the kernel aborted the request")

    def result(
        self,
        *,
        duration_s: float,
        error: ExecError | None = None,
        outputs: tuple[RichOutput, ...] = (),
    ) -> ExecResult:
        """The invocation's result; ``error`` (timeout, crash) replaces the collected one.

        ``outputs`` are the collected bundles (saved, see :func:`save_outputs`), in order.
        """
        stdout, stderr = self.stdout.freeze(), self.stderr.freeze()
        error = error or self.error
        result = exec_result(stdout, stderr, error, duration_s, outputs)
        if not outputs:
            return result
        log: list[LogItem] = []
        for item in self.order:
            if isinstance(item, StreamText):
                log.append(item)
            elif item < 0:
                if error is not None:
                    log.append(error)
            elif item < len(outputs):
                log.append(outputs[item])
        return replace(result, log=merge_log(log))


def _helper_error(payload: object) -> ExecError:
    try:
        fields = json.loads(payload) if isinstance(payload, str) else payload
        if not isinstance(fields, dict):
            raise TypeError(type(fields).__name__)
        if "ename" not in fields:
            raise KeyError("ename")
        return error_from_report(fields)
    except (ValueError, KeyError, TypeError):
        return ExecError("BackendProtocolError", f"malformed error report: {payload!r:.200}")


def _as_text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value)


_SAVED = {"image/png": ".png", "image/jpeg": ".jpg", "image/svg+xml": ".svg", "text/html": ".html"}
_BINARY = {"image/png", "image/jpeg"}


def save_outputs(
    bundles: list[dict[str, Any]], *, directory: Path, counter: int
) -> tuple[RichOutput, ...]:
    """Save the main payload (image, else HTML) of each output record in ``directory``.

    Files are named ``output-<n>.<ext>`` from ``counter`` on; bundles with only text keep
    ``path=None``.
    """
    outputs: list[RichOutput] = []
    for i, record in enumerate(bundles):
        output = rich_output(record)
        data = output.data
        mime = next((m for m in _SAVED if m in data), None)
        path: str | None = None
        if mime is not None:
            directory.mkdir(parents=True, exist_ok=True)
            target = directory / f"output-{counter + i}{_SAVED[mime]}"
            if mime in _BINARY:
                target.write_bytes(base64.b64decode(data[mime]))
            else:
                target.write_text(data[mime], encoding="utf-8", errors="surrogatepass")
            path = str(target)
        outputs.append(replace(output, path=path))
    return tuple(outputs)
