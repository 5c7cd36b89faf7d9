"""The worker that runs inside the REPL child process (standalone: stdlib only, Python >= 3.8).

The parent (``repl/_session.py``) does not import this module in the child: it sends its source
text through ``python -u -c``, so the child may be any Python environment, with or without
Eager installed. :class:`Interpreter` is also used in-process by :class:`eager.FakeBackend`,
so both report errors the same way.

Wire protocol (JSON lines; ``ensure_ascii`` so lone surrogates travel as ``\\udcxx``):

* parent -> worker, on the child's original stdin (moved to a private fd; user code sees
  ``/dev/null`` as stdin): ``{"op": "config", "sentinel", "memory_limit_bytes", "cpu_limit_s"}``
  once, then ``{"op": "exec", "code", "first_line"}`` or ``{"op": "reset"}``.
* worker -> parent, on a dedicated pipe whose fd is ``argv[1]``: ``{"op": "ready", "pid",
  "python"}`` once, then one ``{"op": "done", "error", "ends"}`` per command. ``error`` is
  null or ``{"ename", "evalue", "traceback", "lineno", "statement_line", "kind"}``
  (``statement_line``: where the running top-level statement starts); ``ends`` says for fd 1 and
  fd 2 how the invocation's output ended: ``"drained"`` (the pipe was empty: the parent has
  it all), ``"sentinel"`` (written), ``"lost"`` (the fd was closed).

Output is captured at the file-descriptor level by the parent (fd 1 and 2 are pipes), so
``os.system`` and C-level writes are captured too. After each command the worker flushes
``sys.stdout``/``sys.stderr`` (and C stdio when ``ctypes`` is loaded); then, unless the pipe is
already empty, writes the sentinel to the fd, and the parent cuts the stream at it.
"""

from __future__ import annotations

import contextlib
import gc
import json
import linecache
import os
import re
import signal
import stat
import struct
import sys
import traceback
from types import CodeType, TracebackType
from typing import Any

# Interpreter is internal (shared by the REPL worker, FakeBackend and the kernel backends).
__all__ = ["PROGRAM_FILENAME", "main"]

#: The file name of the program in code objects, tracebacks and :mod:`linecache`.
PROGRAM_FILENAME = "<program>"
#: Longest error message or traceback text sent back (characters); longer ones are cut.
MAX_ERROR_CHARS = 1_000_000

_MAIN_KEYS = frozenset(
    (
        "__name__",
        "__doc__",
        "__package__",
        "__loader__",
        "__spec__",
        "__annotations__",
        "__builtins__",
    )
)
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")
_FUTURE_MASK = 0
for _name in ("annotations", "generator_stop", "barry_as_FLUFL"):
    _feature = getattr(__import__("__future__"), _name, None)
    if _feature is not None:
        _FUTURE_MASK |= _feature.compiler_flag


def _this_file() -> str:
    return _this_file.__code__.co_filename


_THIS_FILE = _this_file()


def _split_lines(text: str) -> list[str]:
    """Lines as the compiler counts them (only ``\\r\\n``, ``\\r``, ``\\n`` end a line)."""
    return _LINE.findall(text)


def _unread_bytes(fd: int) -> int:
    import fcntl
    import termios

    return int(struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0])


def _safe_str(value: object) -> str:
    try:
        return _cut(str(value))
    except BaseException:
        return "<exception str() failed>"


def _cut(text: str) -> str:
    if len(text) <= MAX_ERROR_CHARS:
        return text
    return text[:MAX_ERROR_CHARS] + f"\n[eager: cut after {MAX_ERROR_CHARS} characters]\n"


def _statement_start(code: str, first_line: int, lineno: int | None) -> int | None:
    """The first line (decorators included) of the top-level statement holding ``lineno``."""
    if lineno is None:
        return None
    import ast

    try:
        tree = ast.parse("\n" * (first_line - 1) + code)
    except BaseException:  # it compiled, so this is only a very deep nesting
        return lineno
    for node in tree.body:
        if node.lineno <= lineno <= (node.end_lineno or node.lineno):
            starts = [node.lineno]
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                starts += [d.lineno for d in node.decorator_list]
            return min(starts)
    return lineno


class Interpreter:
    """Runs program chunks in a namespace, reporting errors with lines of the whole program.

    Each chunk is compiled as ``"\\n" * (first_line - 1) + code`` under one file name, and the
    program text seen so far is kept in :mod:`linecache`, so a traceback of chunk 7 is the
    traceback a serial run of the whole program prints.
    """

    def __init__(
        self,
        namespace: dict[str, Any],
        *,
        filename: str = PROGRAM_FILENAME,
        hidden_files: tuple[str, ...] = (),
    ) -> None:
        self.namespace = namespace
        self.filename = filename
        #: Files whose frames never show in a traceback (this module's, the caller's).
        self.hidden_files = frozenset((_THIS_FILE, *hidden_files))
        self.executing = False
        self._base = dict(namespace)
        self._lines: list[str] = []
        self._future_flags = 0

    def reset(self) -> None:
        """Restore the namespace to its initial entries and forget the program text."""
        self.namespace.clear()
        self.namespace.update(self._base)
        self._lines = []
        self._future_flags = 0
        linecache.cache.pop(self.filename, None)
        gc.collect()

    def _remember(self, code: str, first_line: int) -> None:
        start = first_line - 1
        if len(self._lines) < start:
            self._lines.extend(["\n"] * (start - len(self._lines)))
        new = _split_lines(code)
        self._lines[start : start + len(new)] = new
        self._publish()

    def _publish(self) -> None:
        # mtime None: linecache.checkcache() leaves the entry alone.
        lines = list(self._lines)
        linecache.cache[self.filename] = (sum(map(len, lines)), None, lines, self.filename)

    def run(self, code: str, first_line: int = 1) -> dict[str, Any] | None:
        """Compile and run ``code`` (line ``first_line`` of the program); the error or None."""
        first_line = max(1, int(first_line))
        if first_line == 1 and code.startswith("\ufeff"):
            code = code[1:]  # a byte-order mark, as Python skips it at the top of a script file
        self._remember(code, first_line)
        try:
            compiled: CodeType = compile(
                "\n" * (first_line - 1) + code,
                self.filename,
                "exec",
                flags=self._future_flags,
                dont_inherit=True,
            )
        except BaseException as exc:
            return self._compile_error(exc)
        if first_line > 1 and "__doc__" in compiled.co_names:
            compiled = self._without_docstring(compiled, code, first_line)
        # A `from __future__` import in an early chunk applies to the rest, as in one file.
        self._future_flags |= compiled.co_flags & _FUTURE_MASK
        try:
            self.executing = True
            try:
                exec(compiled, self.namespace)
            finally:
                self.executing = False
        except BaseException as exc:
            return self._runtime_error(exc, compiled, code, first_line)
        return None

    def _without_docstring(self, compiled: CodeType, code: str, first_line: int) -> CodeType:
        # A string first in a later chunk is no module docstring in the whole program: with
        # an expression on the (blank) first line it is a plain expression here too.
        try:
            plain: CodeType = compile(
                "0" + "\n" * (first_line - 1) + code,
                self.filename,
                "exec",
                flags=self._future_flags,
                dont_inherit=True,
            )
        except BaseException:  # e.g. a `from __future__` import, which must come first
            return compiled
        return plain

    def _compile_error(self, exc: BaseException) -> dict[str, Any]:
        self._publish()
        lineno = getattr(exc, "lineno", None) if isinstance(exc, SyntaxError) else None
        text = "".join(traceback.format_exception_only(type(exc), exc))
        return {
            "ename": type(exc).__name__,
            "evalue": _safe_str(getattr(exc, "msg", None) or exc),
            "traceback": _cut(text),
            "lineno": lineno if isinstance(lineno, int) else None,
            "statement_line": lineno if isinstance(lineno, int) else None,
            "kind": "syntax" if isinstance(exc, SyntaxError) else "runtime",
        }

    def _runtime_error(
        self, exc: BaseException, compiled: CodeType, code: str, first_line: int
    ) -> dict[str, Any]:
        self._publish()
        tb: TracebackType | None = exc.__traceback__
        # The chunk's own (<module>) frame says which top-level statement was running.
        statement = None
        walk = tb
        while walk is not None and statement is None:
            if walk.tb_frame.f_code is compiled:
                statement = _statement_start(code, first_line, walk.tb_lineno)
            walk = walk.tb_next
        # Drop the worker's own frames: the traceback starts at the program's first frame...
        while tb is not None and tb.tb_frame.f_code.co_filename != self.filename:
            tb = tb.tb_next
        # ...and ends before a frame of ours (the SIGINT handler, a tracer), as for a script.
        prev, walk = None, tb
        while walk is not None:
            if walk.tb_frame.f_code.co_filename in self.hidden_files:
                if prev is None:
                    tb = None
                else:
                    prev.tb_next = None
                break
            prev, walk = walk, walk.tb_next
        lineno = None
        walk = tb
        while walk is not None:
            if walk.tb_frame.f_code.co_filename == self.filename:
                lineno = walk.tb_lineno
            walk = walk.tb_next
        try:
            text = "".join(traceback.format_exception(type(exc), exc, tb))
        except BaseException:
            text = "".join(traceback.format_exception_only(type(exc), exc))
        exc.__traceback__ = None  # do not keep the frames (and their locals) alive
        return {
            "ename": type(exc).__name__,
            "evalue": _safe_str(exc),
            "traceback": _cut(text),
            "lineno": lineno if isinstance(lineno, int) else None,
            "statement_line": statement,
            "kind": "runtime",
        }


class _Worker:
    """The child's command loop."""

    def __init__(self, reply_fd: int) -> None:
        self.reply_fd = reply_fd
        self.pid = os.getpid()
        # Commands come on the original stdin; user code gets /dev/null as stdin.
        self.cmd_fd = os.dup(0)
        os.set_inheritable(self.cmd_fd, False)
        os.set_inheritable(reply_fd, False)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        self.commands = os.fdopen(self.cmd_fd, "rb", buffering=1 << 16)
        self.sentinel = b""
        self.cpu_limit_s: float | None = None
        self.pipes: dict[int, tuple[int, int]] = {}
        main_module = sys.modules["__main__"]
        namespace = main_module.__dict__
        for key in list(namespace):  # the bootstrap's names
            if key not in _MAIN_KEYS:
                del namespace[key]
        self.interp = Interpreter(namespace)

    def send(self, message: dict[str, Any]) -> None:
        data = (json.dumps(message, ensure_ascii=True) + "\n").encode("ascii")
        while data:
            written = os.write(self.reply_fd, data)
            data = data[written:]

    def receive(self) -> dict[str, Any] | None:
        while True:
            try:
                line = self.commands.readline()
            except KeyboardInterrupt:  # a late SIGINT under a handler the user installed
                continue
            if not line:
                return None
            if line.strip():
                message: dict[str, Any] = json.loads(line)
                return message

    def configure(self, config: dict[str, Any]) -> None:
        self.sentinel = bytes.fromhex(config["sentinel"])
        limit = config.get("memory_limit_bytes")
        self.cpu_limit_s = config.get("cpu_limit_s")
        if limit is not None or self.cpu_limit_s is not None:
            import resource

            if limit is not None:
                _, hard = resource.getrlimit(resource.RLIMIT_AS)
                if hard != resource.RLIM_INFINITY and hard < limit:
                    limit = hard
                resource.setrlimit(resource.RLIMIT_AS, (int(limit), hard))
        for stream in (sys.stdout, sys.stderr):
            reconfigure = getattr(stream, "reconfigure", None)
            if reconfigure is not None:
                reconfigure(encoding="utf-8", errors="backslashreplace")
        sys.argv = [PROGRAM_FILENAME]
        if sys.path and sys.path[0] == "":
            sys.path[0] = os.getcwd()
        signal.signal(signal.SIGINT, self.on_sigint)
        for fd in (1, 2):
            st = os.fstat(fd)
            if stat.S_ISFIFO(st.st_mode):
                self.pipes[fd] = (st.st_dev, st.st_ino)

    def on_sigint(self, signum: int, frame: object) -> None:
        # Only user code is interruptible; a late SIGINT while idle is ignored.
        if self.interp.executing:
            raise KeyboardInterrupt

    def arm_cpu_limit(self) -> None:
        # RLIMIT_CPU counts the process's lifetime: move the soft limit to "now + limit".
        if self.cpu_limit_s is None:
            return
        import math
        import resource

        used = resource.getrusage(resource.RUSAGE_SELF)
        spent = used.ru_utime + used.ru_stime
        _, hard = resource.getrlimit(resource.RLIMIT_CPU)
        soft = math.ceil(spent + self.cpu_limit_s)
        if hard != resource.RLIM_INFINITY:
            soft = min(soft, hard)
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))

    def end_invocation(self) -> list[str]:
        for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            try:
                if stream is not None:
                    stream.flush()
            except BaseException:
                pass
        if "ctypes" in sys.modules:  # C stdio buffers (printf from extensions)
            try:
                import ctypes

                ctypes.CDLL(None).fflush(None)
            except BaseException:
                pass
        return [self.end_stream(fd) for fd in (1, 2)]

    def end_stream(self, fd: int) -> str:
        # The pipe empty and still ours: the parent has read (and filed) all of this
        # invocation's output, so no sentinel is needed (it would cost a wake-up).
        try:
            st = os.fstat(fd)
            if self.pipes.get(fd) != (st.st_dev, st.st_ino):
                return "lost"  # closed or redirected by the program: no sentinel would come
            if _unread_bytes(fd) == 0:
                return "drained"
        except (OSError, ValueError):
            return "lost"
        try:
            data = self.sentinel
            while data:
                data = data[os.write(fd, data) :]
        except OSError:
            return "lost"
        return "sentinel"

    def loop(self) -> None:
        config = self.receive()
        if config is None:
            return
        self.configure(config)
        version = ".".join(map(str, sys.version_info[:3]))
        self.send({"op": "ready", "pid": self.pid, "python": version})
        while True:
            message = self.receive()
            if message is None:
                return
            error = None
            if message.get("op") == "exec":
                self.arm_cpu_limit()
                error = self.interp.run(message["code"], message.get("first_line", 1))
                if os.getpid() != self.pid:  # a fork of user code returned here: never serve
                    os._exit(0)
            elif message.get("op") == "reset":
                self.interp.reset()
            ends = self.end_invocation()
            self.send({"op": "done", "error": error, "ends": ends})


def main() -> None:
    """Entry point in the child: ``argv[1]`` is the fd of the reply pipe."""
    worker = _Worker(int(sys.argv[1]))
    status = 0
    try:
        worker.loop()
    except BaseException:
        traceback.print_exc()  # a bug of the worker: the parent reports it as a crash
        status = 70
    finally:
        # Leave at once: interpreter shutdown could wait on user threads.
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(BaseException):
                stream.flush()
        os._exit(status)
