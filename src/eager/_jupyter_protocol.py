"""The Jupyter message protocol shared by the kernel and gateway backends (no I/O but saving)."""

from __future__ import annotations

import base64
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ._backend import ExecError, ExecResult, RichOutput

__all__ = [
    "KERNEL_SETUP",
    "MAX_OUTPUT_BYTES",
    "PROGRAM_FILENAME",
    "Collector",
    "execute_request",
    "kernel_info_request",
    "parse_error",
    "save_outputs",
    "strip_ansi",
    "wrap_code",
]

#: Protocol version we speak (Jupyter messaging 5.x).
PROTOCOL_VERSION = "5.3"

#: Bytes of stdout + stderr kept per invocation; the rest is replaced by a visible marker.
MAX_OUTPUT_BYTES = 1_000_000

#: Filename under which the program is compiled in the kernel (tracebacks name it).
PROGRAM_FILENAME = "<program>"

#: Traceback entry carrying the structured fields computed in the kernel.
_META_PREFIX = "\x00eager-meta:"

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_CELL_LINE = re.compile(r'(?:Cell In\s*\[\d*\], line (\d+))|(?:File "<program>", line (\d+))')

# Installed once per kernel process (silently): a private module that runs program code with
# script semantics. Why not a plain cell: IPython strips leading blank lines (so the padding
# that keeps program line numbers would vanish), displays a cell's last expression (eager
# batches end at other places than the serial cell) and formats tracebacks slowly (~50 ms).
_KERNEL_HELPER = r'''
import json as _json
import linecache as _linecache
import sys as _sys
import traceback as _traceback

FILENAME = __FILENAME__
_META = __META__
_lines = []


def _remember(code, first_line):
    new = code.splitlines(keepends=True)
    if new and not new[-1].endswith("\n"):
        new[-1] += "\n"
    start = first_line - 1
    if len(_lines) < start:
        _lines.extend(["\n"] * (start - len(_lines)))
    _lines[start:start + len(new)] = new
    _linecache.cache[FILENAME] = (sum(map(len, _lines)), None, _lines, FILENAME)


def _render(exc):
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != FILENAME:
        tb = tb.tb_next
    lineno = None
    frame = tb
    while frame is not None:
        if frame.tb_frame.f_code.co_filename == FILENAME:
            lineno = frame.tb_lineno
        frame = frame.tb_next
    if isinstance(exc, SyntaxError) and exc.filename == FILENAME:
        lineno = exc.lineno
    text = "".join(_traceback.format_exception(type(exc), exc, tb))
    meta = _META + _json.dumps({"lineno": lineno})
    return [text, meta]


def run(code, first_line, ns):
    _remember(code, first_line)
    try:
        exec(compile("\n" * (first_line - 1) + code, FILENAME, "exec", dont_inherit=True), ns)
    except BaseException as exc:
        rendered = _render(exc)
        try:
            exc._render_traceback_ = lambda: rendered
        except Exception:
            pass
        raise


def reset():
    del _lines[:]
    _linecache.cache.pop(FILENAME, None)


def _no_inline_autoflush():
    # matplotlib-inline shows (and closes) figures after every cell; eager runs many cells
    # where serial runs one, so only explicit show()/display() may produce output.
    mod = _sys.modules.get("matplotlib_inline.backend_inline")
    if mod is not None:
        mod.show._draw_called = False
        mod.show._to_draw = []
'''

_HELPER_SOURCE = _KERNEL_HELPER.replace("__FILENAME__", repr(PROGRAM_FILENAME)).replace(
    "__META__", repr(_META_PREFIX)
)

#: Cell run once after each kernel (re)start: installs ``__eager_kernel__``.
KERNEL_SETUP = (
    "import sys as _s, types as _t\n"
    "_m = _t.ModuleType('__eager_kernel__')\n"
    f"exec({_HELPER_SOURCE!r}, _m.__dict__)\n"
    "_s.modules['__eager_kernel__'] = _m\n"
    "get_ipython().events.register('post_execute', _m._no_inline_autoflush)\n"
    "del _s, _t, _m\n"
)


def wrap_code(code: str, first_line: int) -> str:
    """The cell that runs ``code`` as lines ``first_line…`` of the program, script-style."""
    # ascii(): lone surrogates and any other character survive the JSON/UTF-8 transport.
    return (
        "__import__('__eager_kernel__').run("
        f"{ascii(code)}, {int(first_line)}, get_ipython().user_ns)"
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


def execute_request(cell: str, *, session: str) -> dict[str, Any]:
    """An ``execute_request`` that runs silently: no history, no execute_input, no display hook."""
    return _message(
        "execute_request",
        {
            "code": cell,
            "silent": True,
            "store_history": False,
            "user_expressions": {},
            "allow_stdin": False,
            "stop_on_error": True,
        },
        session=session,
    )


def kernel_info_request(*, session: str) -> dict[str, Any]:
    """A ``kernel_info_request`` (answered once the kernel is ready)."""
    return _message("kernel_info_request", {}, session=session)


def strip_ansi(text: str) -> str:
    """``text`` without ANSI colour and cursor escapes."""
    return _ANSI.sub("", text)


def parse_error(content: dict[str, Any]) -> ExecError:
    """The :class:`ExecError` of an ``error`` message or an ``execute_reply`` with status error."""
    frames = [str(f) for f in content.get("traceback") or []]
    lineno: int | None = None
    if frames and frames[-1].startswith(_META_PREFIX):
        meta = json.loads(frames.pop()[len(_META_PREFIX) :])
        lineno = meta.get("lineno")
    text = strip_ansi("\n".join(f.rstrip("\n") for f in frames))
    if lineno is None:  # formatted by IPython, not by our helper: read the innermost cell frame
        found = [m.group(1) or m.group(2) for m in _CELL_LINE.finditer(text)]
        lineno = int(found[-1]) if found else None
    return ExecError(
        ename=str(content.get("ename", "Error")),
        evalue=str(content.get("evalue", "")),
        traceback=text.rstrip("\n") + "\n" if text else "",
        lineno=lineno,
    )


@dataclass(slots=True)
class Collector:
    """Gathers the messages answering one request into an :class:`ExecResult`.

    Feed it every message from iopub and shell; it keeps those whose parent is ``msg_id``.
    ``done`` is True once the kernel went idle for the request *and* the reply arrived.
    ``kernel_lost`` is set when the kernel reported itself restarting or dead.
    """

    msg_id: str
    max_output_bytes: int = MAX_OUTPUT_BYTES
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    bundles: list[dict[str, str]] = field(default_factory=list)
    error: ExecError | None = None
    idle: bool = False
    replied: bool = False
    kernel_lost: str | None = None
    truncated: bool = False
    _kept_bytes: int = 0
    _dropped_bytes: int = 0

    @property
    def done(self) -> bool:
        """The request is fully answered."""
        return self.idle and self.replied

    def feed(self, msg: dict[str, Any]) -> None:
        """Take one deserialized message (any channel)."""
        msg_type = msg.get("msg_type") or msg.get("header", {}).get("msg_type")
        content = msg.get("content") or {}
        if msg_type == "status" and content.get("execution_state") in ("restarting", "dead"):
            self.kernel_lost = str(content["execution_state"])
            return
        if (msg.get("parent_header") or {}).get("msg_id") != self.msg_id:
            return
        if msg_type == "stream":
            self._stream(str(content.get("name")), str(content.get("text", "")))
        elif msg_type in ("display_data", "execute_result"):
            data = content.get("data") or {}
            self.bundles.append({str(k): _as_text(v) for k, v in data.items()})
        elif msg_type == "error":
            self.error = parse_error(content)
        elif msg_type == "status" and content.get("execution_state") == "idle":
            self.idle = True
        elif msg_type == "execute_reply":
            self.replied = True
            if content.get("status") == "error" and self.error is None:
                self.error = parse_error(content)
            elif content.get("status") == "aborted" and self.error is None:
                self.error = ExecError("Aborted", "the kernel aborted the request")

    def _stream(self, name: str, text: str) -> None:
        size = len(text.encode("utf-8", "surrogatepass"))
        room = self.max_output_bytes - self._kept_bytes
        if size > room:
            kept = text.encode("utf-8", "surrogatepass")[: max(room, 0)]
            text = kept.decode("utf-8", "ignore")
            self._dropped_bytes += size - len(kept)
            self.truncated = True
        self._kept_bytes += len(text.encode("utf-8", "surrogatepass"))
        if text:
            (self.stderr if name == "stderr" else self.stdout).append(text)

    def result(
        self,
        *,
        duration_s: float,
        error: ExecError | None = None,
        outputs: tuple[RichOutput, ...] = (),
    ) -> ExecResult:
        """The invocation's result; ``error`` (timeout, crash) replaces the collected one."""
        stdout = "".join(self.stdout)
        if self.truncated:
            stdout += f"\n[eager: output truncated, {self._dropped_bytes} bytes dropped]\n"
        return ExecResult(
            stdout=stdout,
            stderr="".join(self.stderr),
            error=error or self.error,
            outputs=outputs,
            duration_s=duration_s,
            truncated=self.truncated,
        )


def _as_text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value)


_SAVED = {"image/png": ".png", "image/jpeg": ".jpg", "image/svg+xml": ".svg", "text/html": ".html"}
_BINARY = {"image/png", "image/jpeg"}


def save_outputs(
    bundles: list[dict[str, str]], *, directory: Path, counter: int
) -> tuple[RichOutput, ...]:
    """Save the main payload (image, else HTML) of each bundle in ``directory``.

    Files are named ``output-<n>.<ext>`` from ``counter`` on; bundles with only text keep
    ``path=None``.
    """
    outputs: list[RichOutput] = []
    for i, data in enumerate(bundles):
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
        outputs.append(RichOutput(data=data, path=path))
    return tuple(outputs)
