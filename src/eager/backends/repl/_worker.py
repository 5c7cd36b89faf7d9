"""The worker that runs inside the REPL child process (standalone: stdlib only, Python >= 3.8).

The parent (``repl/_session.py``) does not import this module in the child: a short loader
(``python -u -c``) reads its source text from the command pipe, so the child may be any Python
environment, with or without Eager installed. The child runs the text of
``backends/_interpreter.py`` first, then this module's, in one namespace.

Wire protocol (JSON lines; ``ensure_ascii`` so lone surrogates travel as ``\\udcxx``):

* parent -> worker, on the child's original stdin (moved to a private fd; user code sees
  ``/dev/null`` as stdin): ``{"op": "config", "sentinel", "memory_limit_bytes", "cpu_limit_s", "parent_pid"}``
  once, then ``{"op": "exec", "code", "first_line"[, "cell"]}`` (``cell``: a notebook step,
  ``{"begin", "end", "source", "failed"}``), ``{"op": "reset"}``, ``{"op": "tools",
  "specs"}`` (define the host tools' stubs), or ``{"op": "result", "id", "value"|"error"}``
  (the answer to a tool call).
* worker -> parent, on a dedicated pipe whose fd is ``argv[1]``: ``{"op": "ready", "pid",
  "python"}`` once, then one ``{"op": "done", "error", "ends"}`` per command. ``error`` is
  null or ``{"ename", "evalue", "traceback", "lineno", "statement_line", "kind"}``
  (``statement_line``: where the running top-level statement starts); ``ends`` says for fd 1 and
  fd 2 how the invocation's output ended: ``"drained"`` (the pipe was empty: the parent has
  it all), ``"sentinel"`` (written), ``"lost"`` (the fd was closed). A notebook step's reply
  also has ``"outputs"``: its rich outputs in order, each ``{"output_type", "data",
  "metadata", "execution_count", "ends"}`` where ``ends`` cut stdout and stderr at the point
  it showed (the worker wrote a sentinel to each before it); ``{"output_type": "error"}``
  marks where the error showed. While a command runs the worker may send ``{"op": "call",
  "id", "name", "args", "kwargs"}`` (a tool call) and waits for its ``result``.

**stdio mode** (``argv[1] == "stdio"``, for a session behind any command that connects the
child's stdin and stdout: ``bwrap …``, ``docker exec -i …``, ``ssh host …``): commands come on
stdin as above (plus ``{"op": "interrupt"}``, which a reader thread turns into SIGINT for the
main thread, as signals cannot cross such a command); fd 1 and fd 2 become pipes inside the
child whose bytes, with the replies, travel as frames on the real stdout: one byte of channel
(``1``, ``2`` or ``r`` for a reply) and a 4-byte big-endian length, then the payload. The
worker always writes the sentinel and sends the reply only after the sentinel went out.

Output is captured at the file-descriptor level by the parent (fd 1 and 2 are pipes), so
``os.system`` and C-level writes are captured too. After each command the worker flushes
``sys.stdout``/``sys.stderr`` (and C stdio when ``ctypes`` is loaded); then, unless the pipe is
already empty, writes the sentinel to the fd, and the parent cuts the stream at it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import stat
import struct
import sys
import threading
import traceback
from typing import Any

if __package__:  # imported from Eager (tests); in the child the bootstrap ran its text first
    from .._interpreter import (
        PROGRAM_FILENAME,
        Interpreter,
        Notebook,
        bundle,
        install_tools,
        make_shell,
    )

__all__ = ["main"]

#: stdio mode: how long the worker waits for a sentinel to be forwarded before replying (s).
FORWARD_WAIT_S = 5.0

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


def _worker_file() -> str:
    return _worker_file.__code__.co_filename


# Its frames (the SIGINT handler) never show in a traceback. Not _THIS_FILE: in the child this
# module shares one namespace with the interpreter's, which has that name.
_WORKER_FILE = _worker_file()


def _unread_bytes(fd: int) -> int:
    import fcntl
    import termios

    return int(struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0])


class _Framer:
    """stdio mode: the real stdout, shared by the forwarding threads and the replies."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.lock = threading.Lock()

    def write(self, channel: bytes, payload: bytes) -> None:
        data = channel + struct.pack(">I", len(payload)) + payload
        with self.lock:
            while data:
                data = data[os.write(self.fd, data) :]


class _Worker:
    """The child's command loop."""

    def __init__(self, reply_fd: int | None) -> None:
        self.pid = os.getpid()
        self.framer: _Framer | None = None
        self.queue: Any = None
        self.seen: dict[int, threading.Event] = {}
        if reply_fd is None:  # stdio mode: replies (and fd 1/2 bytes) framed on the real stdout
            reply_fd = os.dup(1)
            self.framer = _Framer(reply_fd)
        self.reply_fd = reply_fd
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
        self.interp = Interpreter(namespace, hidden_files=(_WORKER_FILE,))
        self.notebook: Any = None
        self.call_id = 0
        #: The rich outputs of the running command, each with where it cut stdout and stderr.
        self.records: list[dict[str, Any]] = []
        if self.framer is not None:
            self.start_stdio()

    def start_stdio(self) -> None:
        import queue

        self.queue = queue.Queue()
        self.main_ident = threading.get_ident()
        for fd in (1, 2):
            r, w = os.pipe()
            os.dup2(w, fd)
            os.close(w)
            os.set_inheritable(r, False)
            self.seen[fd] = threading.Event()
            channel = str(fd).encode()
            threading.Thread(target=self.forward, args=(r, fd, channel), daemon=True).start()
        threading.Thread(target=self.read_commands, daemon=True).start()

    def forward(self, r: int, fd: int, channel: bytes) -> None:
        assert self.framer is not None
        tail = b""
        while True:
            try:
                data = os.read(r, 1 << 16)
            except OSError:
                return
            if not data:
                return
            self.framer.write(channel, data)
            sentinel = self.sentinel
            if sentinel:
                if sentinel in tail + data:
                    self.seen[fd].set()
                tail = (tail + data)[-(len(sentinel) - 1) :]

    def read_commands(self) -> None:
        while True:
            try:
                line = self.commands.readline()
            except BaseException:
                line = b""
            if not line:  # the parent (or the command between us) is gone: leave at once
                os._exit(0)
            if not line.strip():
                continue
            message = json.loads(line)
            if isinstance(message, dict) and message.get("op") == "interrupt":
                if self.interp.executing:
                    signal.pthread_kill(self.main_ident, signal.SIGINT)
                continue
            self.queue.put(message)

    def send(self, message: dict[str, Any]) -> None:
        data = (json.dumps(message, ensure_ascii=True) + "\n").encode("ascii")
        if self.framer is not None:
            self.framer.write(b"r", data)
            return
        while data:
            written = os.write(self.reply_fd, data)
            data = data[written:]

    def receive(self, interruptible: bool = False) -> dict[str, Any] | None:
        while self.queue is not None:
            try:
                got: dict[str, Any] | None = self.queue.get()
            except KeyboardInterrupt:  # a late SIGINT under a handler the user installed
                if interruptible:
                    raise
                continue
            return got
        while True:
            try:
                line = self.commands.readline()
            except KeyboardInterrupt:  # a late SIGINT under a handler the user installed
                if interruptible:
                    raise
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
        die_with_parent(config.get("parent_pid"))
        signal.signal(signal.SIGINT, self.on_sigint)
        # A parent thread that blocked SIGINT (a Ray worker's, say) passes its mask on.
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
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

    def call_tool(self, name: str, args: list[Any], kwargs: dict[str, Any]) -> dict[str, Any]:
        """A tool stub's call: ask the parent, wait for its result (an interrupt stops the
        wait; the late result is then dropped by the command loop)."""
        self.call_id += 1
        ident = self.call_id
        self.send({"op": "call", "id": ident, "name": name, "args": args, "kwargs": kwargs})
        while True:
            message = self.receive(interruptible=True)
            if message is None:
                os._exit(0)  # the parent is gone
            if message.get("op") == "result" and message.get("id") == ident:
                return message

    def run_cell(self, code: str, first_line: int, cell: dict[str, Any]) -> Any:
        """One invocation of a notebook cell (see ``Notebook.step``)."""
        if self.notebook is None:
            try:
                shell = make_shell(self.interp.namespace, self.emit)
            except ImportError as exc:
                return {
                    "ename": "ImportError",
                    "evalue": str(exc),
                    "traceback": "ImportError: " + str(exc) + "\n",
                    "lineno": None,
                    "statement_line": None,
                    "kind": "runtime",
                }
            self.notebook = Notebook(self.interp, shell, hooks_per_request=False)
        return self.notebook.step(
            code,
            first_line,
            bool(cell.get("begin")),
            bool(cell.get("end")),
            str(cell.get("source") or ""),
            bool(cell.get("failed")),
        )

    def emit(self, output_type: str, data: Any, metadata: Any, count: Any) -> None:
        """A rich output: the text printed before it is cut off first (order is kept)."""
        self.flush()
        ends = [self.end_stream(fd, cut=True) for fd in (1, 2)]
        try:
            metadata = json.loads(json.dumps(metadata, default=str))
        except (TypeError, ValueError):
            metadata = {}
        self.records.append(
            {
                "output_type": output_type,
                "data": bundle(data),
                "metadata": metadata,
                "execution_count": count,
                "ends": ends,
            }
        )

    def flush(self) -> None:
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

    def end_invocation(self) -> list[str]:
        self.flush()
        return [self.end_stream(fd) for fd in (1, 2)]

    def end_stream(self, fd: int, cut: bool = False) -> str:
        # The pipe empty and still ours: the parent has read (and filed) all of this
        # invocation's output, so no sentinel is needed (it would cost a wake-up). Not for a
        # cut before a rich output: the parent files it only later, with the reply.
        try:
            st = os.fstat(fd)
            if self.pipes.get(fd) != (st.st_dev, st.st_ino):
                return "lost"  # closed or redirected by the program: no sentinel would come
            if not cut and self.framer is None and _unread_bytes(fd) == 0:
                return "drained"
        except (OSError, ValueError):
            return "lost"
        seen = self.seen.get(fd)
        if seen is not None:
            seen.clear()
        try:
            data = self.sentinel
            while data:
                data = data[os.write(fd, data) :]
        except OSError:
            return "lost"
        if seen is not None:  # stdio mode: the reply must not overtake the output
            seen.wait(FORWARD_WAIT_S)
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
            self.records = []
            if message.get("op") == "result":
                continue  # the result of a tool call that was interrupted: nobody waits
            if message.get("op") == "tools":
                install_tools(self.interp, message["specs"], self.call_tool)
            elif message.get("op") == "exec":
                self.arm_cpu_limit()
                cell = message.get("cell")
                if isinstance(cell, dict):
                    error = self.run_cell(message["code"], message.get("first_line", 1), cell)
                else:
                    error = self.interp.run(message["code"], message.get("first_line", 1))
                if os.getpid() != self.pid:  # a fork of user code returned here: never serve
                    os._exit(0)
            elif message.get("op") == "reset":
                if self.notebook is not None:
                    self.interp.reset()
                    self.notebook.reset()
                else:
                    self.interp.reset()
            ends = self.end_invocation()
            reply = {"op": "done", "error": error, "ends": ends}
            if self.records:
                reply["outputs"] = self.records
            self.send(reply)


def die_with_parent(parent_pid: Any) -> None:
    """Linux: be killed when the process that started us dies (an agent or a Ray actor killed
    hard must not leave its session running, in its own session group, forever)."""
    if not isinstance(parent_pid, int) or not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        return
    if os.getppid() != parent_pid:  # it died before the prctl
        os._exit(1)


def main() -> None:
    """Entry point in the child: ``argv[1]`` is the fd of the reply pipe, or ``stdio``."""
    stdio = sys.argv[1] == "stdio"
    diag = os.dup(2) if stdio else 2  # where a bug of the worker is told (the real stderr)
    if stdio:
        os.set_inheritable(diag, False)
    status = 0
    try:
        worker = _Worker(None if stdio else int(sys.argv[1]))
        worker.loop()
    except BaseException:
        # A bug of the worker: the parent reports it as a crash.
        with contextlib.suppress(BaseException):
            os.write(diag, traceback.format_exc().encode("utf-8", "backslashreplace"))
        status = 70
    finally:
        # Leave at once: interpreter shutdown could wait on user threads.
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(BaseException):
                stream.flush()
        os._exit(status)
