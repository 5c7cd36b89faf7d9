"""One REPL child process: spawn it, talk to it over private pipes (or its stdio alone, behind a
command), collect its output, kill it."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib.resources
import json
import os
import signal
import time
from collections.abc import Callable, Sequence
from typing import Any

from ..._errors import BackendCrashedError, BackendStartError
from .._report import Captured
from ._output import OutputStream
from ._stdio import StdioChildProtocol

# Session is internal to ReplBackend (not exported by the package).
__all__ = [
    "CLOSE_GRACE_S",
    "CRASH_DRAIN_S",
    "DRAIN_TIMEOUT_S",
    "EXIT_WAIT_S",
    "STARTUP_TIMEOUT_S",
    "exit_description",
    "reply_ends",
]

#: Longest wait for a new child to say it is ready (another environment may start slowly).
STARTUP_TIMEOUT_S = 60.0
#: On close, how long the child may take to leave by itself before the group is killed.
CLOSE_GRACE_S = 1.0
#: After a reply (or a crash), how long to wait for the rest of its stdout/stderr.
DRAIN_TIMEOUT_S = 1.0
#: After the child died, how long to wait for the end of its output pipes (a grandchild
#: may hold them open; what the child wrote is already in the pipe).
CRASH_DRAIN_S = 0.25
#: How long a killed or dead child may take to be reaped.
EXIT_WAIT_S = 5.0

_READ_LIMIT = 1 << 26  # longest reply line (bytes); errors are cut at 1e6 characters

_SIGNAL_HINTS = {
    signal.SIGSEGV: "segmentation fault",
    signal.SIGKILL: "killed; the out-of-memory killer does this",
    signal.SIGXCPU: "CPU time limit exceeded",
    signal.SIGABRT: "aborted",
    signal.SIGBUS: "bus error",
}

#: The answer to a tool call when no tools are bound to the session.
_NO_TOOLS = {"type": "RuntimeError", "message": "no tools are bound to this session"}

_BOOTSTRAP = """\
import sys, types
_m = types.ModuleType("eager_repl_worker")
_m.__file__ = {path!r}
sys.modules["eager_repl_worker"] = _m
exec(compile({interpreter!r}, {interpreter_path!r}, "exec"), _m.__dict__)
exec(compile({source!r}, {path!r}, "exec"), _m.__dict__)
del sys, types
_m.main()
"""


#: The child's whole command line program: read a 10-digit length, then that many bytes of the
#: bootstrap, from the command pipe (stdin), exactly (no read-ahead: the commands follow), and
#: run them. The worker's ~20 KB of source thus never shows in ``ps``, ``top`` or audit logs.
_LOADER = (
    "import os;r=lambda n,b=b'':b if len(b)>=n else "
    "r(n,b+(os.read(0,n-len(b))or os._exit(70)));exec(r(int(r(10))))"
)


@functools.cache
def _bootstrap_message() -> bytes:
    """What the parent writes first on the command pipe: the length, then the bootstrap."""
    code = _bootstrap().encode("utf-8")
    return b"%010d" % len(code) + code


@functools.cache
def _bootstrap() -> str:
    # The worker travels as source text: the child's Python need not have Eager installed.
    # The interpreter first, then the worker's command loop, in one module.
    interpreter = importlib.resources.files("eager.backends").joinpath("_interpreter.py")
    resource = importlib.resources.files("eager.backends.repl").joinpath("_worker.py")
    return _BOOTSTRAP.format(
        interpreter_path=str(interpreter),
        interpreter=interpreter.read_text("utf-8"),
        path=str(resource),
        source=resource.read_text("utf-8"),
    )


def exit_description(status: int | None) -> str:
    """Words for an exit status (negative: killed by that signal)."""
    if status is None:
        return "it stopped answering"
    if status < 0:
        try:
            sig = signal.Signals(-status)
        except ValueError:
            return f"killed by signal {-status}"
        hint = _SIGNAL_HINTS.get(sig)
        return f"killed by signal {-status} ({sig.name}{': ' + hint if hint else ''})"
    if 128 < status < 128 + 65:  # a command in between (bwrap, a shell) reports 128 + signal
        inner = exit_description(128 - status)
        if not inner.startswith("killed by signal") or "(" not in inner:
            return f"exited with status {status}"
        return f"exited with status {status}: the Python inside was {inner}"
    return f"exited with status {status}"


def reply_ends(reply: dict[str, Any]) -> list[str]:
    """How the worker said each output stream of a command ended (see the worker's protocol)."""
    ends = reply.get("ends")
    return [str(e) for e in ends] if isinstance(ends, list) else ["lost", "lost"]


class _ChildProtocol(asyncio.SubprocessProtocol):
    """Feeds the child's stdout/stderr into their streams as read; tells when it exited.

    (``asyncio.subprocess.Process.wait()`` would wait for the pipes to close, which a
    grandchild holding them delays forever.)
    """

    def __init__(self, stdout: OutputStream, stderr: OutputStream) -> None:
        self.streams = {1: stdout, 2: stderr}
        self.exited = asyncio.Event()

    def pipe_data_received(self, fd: int, data: bytes | bytearray) -> None:
        stream = self.streams.get(fd)
        if stream is not None:
            stream.feed(bytes(data))

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        stream = self.streams.get(fd)
        if stream is not None:
            stream.feed_eof()

    def process_exited(self) -> None:
        self.exited.set()


class _ReplyProtocol(asyncio.Protocol):
    """Cuts the reply pipe into JSON messages on a queue; None when the pipe closes."""

    def __init__(self, queue: asyncio.Queue[dict[str, Any] | None]) -> None:
        self.queue = queue
        self.buffer = bytearray()
        self.scanned = 0

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\n", self.scanned)) >= 0:
            line = bytes(self.buffer[:end])
            del self.buffer[: end + 1]
            self.scanned = 0
            try:
                message = json.loads(line)
            except ValueError:
                continue  # not ours: the protocol has one JSON object per line
            if isinstance(message, dict):
                self.queue.put_nowait(message)
        self.scanned = len(self.buffer)
        if len(self.buffer) > _READ_LIMIT:  # never a reply of ours: the worker cuts errors
            self.buffer.clear()
            self.scanned = 0

    def connection_lost(self, exc: Exception | None) -> None:
        self.queue.put_nowait(None)


class Session:
    """One child process: its command pipe (stdin), reply pipe, and captured stdout/stderr."""

    def __init__(self, sentinel: bytes, cap: int | None, *, stdio: bool = False) -> None:
        self.stdout = OutputStream(sentinel, cap_bytes=cap)
        self.stderr = OutputStream(sentinel, cap_bytes=cap)
        self.replies: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        #: Where the child's complaints at start-up are (stdio mode: the command's own stderr).
        self.diagnostics = self.stderr
        #: True when the protocol runs over the child's stdin/stdout alone (behind a command).
        self.stdio = stdio
        self.protocol: _ChildProtocol | StdioChildProtocol
        if stdio:
            self.diagnostics = OutputStream(sentinel, cap_bytes=cap)
            self.protocol = StdioChildProtocol(
                self.stdout, self.stderr, self.diagnostics, self.replies
            )
        else:
            self.protocol = _ChildProtocol(self.stdout, self.stderr)
        self.child: asyncio.SubprocessTransport | None = None
        self.reply_transport: asyncio.BaseTransport | None = None
        self.pid = 0
        self.startup_s = 0.0
        self.loop = asyncio.get_running_loop()
        #: Commands sent whose reply was not taken yet.
        self.awaiting = 0
        #: How the output of the last replied command ended, until :meth:`outputs` took it.
        self.unconsumed_ends: list[str] | None = None
        #: Takes the tool calls the running command makes (``{"op": "call", ...}``).
        self.on_call: Callable[[dict[str, Any]], None] | None = None

    @classmethod
    async def spawn(
        cls,
        python: str,
        *,
        cwd: str | None,
        env: dict[str, str],
        config: dict[str, Any],
        cap: int | None,
        command: Sequence[str] | None = None,
    ) -> Session:
        """Start ``python`` (behind ``command``, talking over its stdio, when given)."""
        t0 = time.perf_counter()
        session = cls(bytes.fromhex(config["sentinel"]), cap, stdio=command is not None)
        loop = asyncio.get_running_loop()
        # Behind a command the replies share stdout; else they come on a pipe of their own.
        reply_r, reply_w = os.pipe() if command is None else (-1, -1)
        try:
            session.child, _ = await loop.subprocess_exec(
                lambda: session.protocol,
                *(command or ()),
                python,
                "-u",
                "-c",
                _LOADER,
                "stdio" if command is not None else str(reply_w),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                cwd=cwd,
                env=env,
                pass_fds=(reply_w,) if command is None else (),
                start_new_session=True,  # its own process group: killpg reaches its children
            )
        except OSError as exc:
            if command is not None:
                where = f"behind {command[0]!r}"
            else:
                os.close(reply_r)
                where = repr(python)
            raise BackendStartError(f"cannot start the Python session {where}: {exc}") from exc
        finally:
            if command is None:
                os.close(reply_w)
        session.pid = session.child.get_pid()
        stdin = session.child.get_pipe_transport(0)
        assert isinstance(stdin, asyncio.WriteTransport)
        stdin.write(_bootstrap_message())  # the worker itself, through the command pipe
        if command is None:
            pipe = os.fdopen(reply_r, "rb", buffering=0)
            session.reply_transport, _ = await loop.connect_read_pipe(
                lambda: _ReplyProtocol(session.replies), pipe
            )
        return await session._handshake(python, config, t0)

    async def _handshake(self, python: str, config: dict[str, Any], t0: float) -> Session:
        session = self
        try:
            session.send(config)
            ready = await session.reply(STARTUP_TIMEOUT_S)
        except (TimeoutError, BackendCrashedError) as exc:
            _, err = await session._last_words()
            detail = f": {err.splitlines()[-1]}" if err else ""
            raise BackendStartError(f"the Python session {python!r} did not start{detail}") from exc
        if ready is None or ready.get("op") != "ready":
            status, err = await session._last_words()
            raise BackendStartError(
                f"the Python session {python!r} did not start ({exit_description(status)})"
                + (f":\n{err}" if err else "")
            )
        session.startup_s = time.perf_counter() - t0
        return session

    async def _last_words(self) -> tuple[int | None, str]:
        """Kill a child that failed to start: its exit status and what it said on stderr (a
        child that died at once, e.g. bwrap refusing its arguments, may still have it in the
        pipe: drained, bounded)."""
        status = await self.kill()
        await self.diagnostics.wait_eof(CRASH_DRAIN_S)
        return status, self.diagnostics.take_current().text().strip()

    @property
    def alive(self) -> bool:
        """False once the child is gone (it exited, or its command or reply pipe closed): a
        session that died while idle."""
        if self.protocol.exited.is_set():
            return False
        if self.child is None or self.child.get_returncode() is not None:
            return False
        stdin = self.child.get_pipe_transport(0)
        if stdin is None or stdin.is_closing():
            return False
        if self.reply_transport is not None and self.reply_transport.is_closing():
            return False
        # Exited, though the event loop has not heard yet (a zombie, or reaped by a watcher
        # thread): ask the kernel without reaping it (one system call, about a microsecond).
        try:
            return os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None
        except ChildProcessError:
            return False  # reaped already: gone
        except (OSError, AttributeError):
            return True  # no waitid here: trust what the event loop saw

    @property
    def broken(self) -> str | None:
        """stdio mode: why the stream stopped making sense (the child wrote garbage on it)."""
        if isinstance(self.protocol, StdioChildProtocol):
            return self.protocol.decoder.broken
        return None

    def send(self, message: dict[str, Any]) -> None:
        """Write one command; raises BackendCrashedError when the child is gone."""
        stdin = self.child.get_pipe_transport(0) if self.child is not None else None
        if not isinstance(stdin, asyncio.WriteTransport) or stdin.is_closing():
            raise BackendCrashedError("the Python session does not read its commands")
        stdin.write((json.dumps(message, ensure_ascii=True) + "\n").encode("ascii"))
        self.awaiting += 1

    async def reply(self, timeout_s: float | None) -> dict[str, Any] | None:
        """The next reply (None: the child closed its end, i.e. it died); raises TimeoutError."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout_s is None else loop.time() + timeout_s
        while True:
            # asyncio.timeout, not wait_for: 3.11's wait_for drops a cancellation (Ctrl-C)
            # that lands as the reply arrives, and the run would go on.
            async with asyncio.timeout_at(deadline):
                message = await self.replies.get()
            if message is None or message.get("op") != "call":
                break
            if self.on_call is not None:  # a tool call of the running code: not its reply
                self.on_call(message)
            else:
                self.answer({"op": "result", "id": message.get("id"), "error": _NO_TOOLS})
        self.awaiting -= 1
        if message is not None:
            self.unconsumed_ends = reply_ends(message)
        return message

    def answer(self, message: dict[str, Any]) -> None:
        """Send the result of a tool call (no reply is awaited); dropped when the child is gone."""
        stdin = self.child.get_pipe_transport(0) if self.child is not None else None
        if isinstance(stdin, asyncio.WriteTransport) and not stdin.is_closing():
            stdin.write((json.dumps(message, ensure_ascii=True) + "\n").encode("ascii"))

    def signal(self, sig: int) -> None:
        """Send ``sig`` to the child (stdio mode: SIGINT travels as an ``interrupt`` command)."""
        if self.stdio:
            if sig == signal.SIGINT:
                stdin = self.child.get_pipe_transport(0) if self.child is not None else None
                if isinstance(stdin, asyncio.WriteTransport) and not stdin.is_closing():
                    stdin.write(b'{"op": "interrupt"}\n')
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, sig)

    def _killpg(self) -> None:
        if self.pid > 0:  # never 0: killpg(0) would kill our own process group
            os.killpg(self.pid, signal.SIGKILL)

    async def wait_exit(self, timeout_s: float) -> int | None:
        try:
            async with asyncio.timeout(timeout_s):
                await self.protocol.exited.wait()
        except TimeoutError:
            return None
        return self.child.get_returncode() if self.child is not None else None

    async def kill(self) -> int | None:
        """Kill the process group, reap the child, release the pipes; the exit status."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            self._killpg()
        status = await self.wait_exit(EXIT_WAIT_S)
        await self.release()
        return status

    async def collect_killed(self) -> tuple[Captured, Captured]:
        """Kill the group and return what the streams received (a bounded wait for EOF)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            self._killpg()
        await self.wait_exit(EXIT_WAIT_S)
        # Grandchildren in another session may hold the pipes open: wait a bounded time only.
        await asyncio.gather(
            self.stdout.wait_eof(CRASH_DRAIN_S), self.stderr.wait_eof(CRASH_DRAIN_S)
        )
        out, err = self.stdout.take_current(), self.stderr.take_current()
        if self.diagnostics is not self.stderr:  # what the command between us said, too
            await self.diagnostics.wait_eof(CRASH_DRAIN_S)
            extra = self.diagnostics.take_current()
            err = Captured(err.data + extra.data, err.total + extra.total)
        return out, err

    async def close(self) -> None:
        """Let the child leave (EOF on its commands), then kill what is left of its group."""
        stdin = self.child.get_pipe_transport(0) if self.child is not None else None
        if stdin is not None:
            stdin.close()
        await self.wait_exit(CLOSE_GRACE_S)
        await self.kill()

    def abandon(self) -> None:
        """Kill the group without the event loop (the session's loop is gone)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            self._killpg()

    async def release(self) -> None:
        if self.child is not None:
            self.child.close()  # its pipes too, even those a grandchild still holds open
        if self.reply_transport is not None:
            self.reply_transport.close()

    async def cut(self, ends: list[str]) -> tuple[Captured, Captured]:
        """The output printed before a rich output of the running command (see the worker's
        ``emit``): each stream up to its next sentinel, or nothing when it was lost."""
        got = []
        for stream, end in zip((self.stdout, self.stderr), ends, strict=False):
            segment = await stream.next_segment(DRAIN_TIMEOUT_S) if end == "sentinel" else None
            got.append(segment if segment is not None else Captured(b"", 0))
        return got[0], got[1]

    async def outputs(self, ends: list[str]) -> tuple[Captured, Captured]:
        """This invocation's stdout and stderr, as the worker said each one ended.

        ``"sentinel"``: cut at the next sentinel; ``"drained"``: the pipe was empty, so all of
        it is here already; anything else (the fd was closed or replaced): take what is here.
        """
        got = []
        for stream, end in zip((self.stdout, self.stderr), ends, strict=False):
            segment = await stream.next_segment(DRAIN_TIMEOUT_S) if end == "sentinel" else None
            got.append(segment if segment is not None else stream.take_current())
        self.unconsumed_ends = None
        return got[0], got[1]
