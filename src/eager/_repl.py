"""The persistent Python subprocess session: one child interpreter, commands on private pipes."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib.resources
import json
import os
import secrets
import signal
import sys
import time
from collections.abc import Mapping
from typing import Any

from ._backend import Backend, ExecError, ExecResult
from ._errors import BackendCrashedError, BackendError, BackendStartError, UsageError
from ._repl_output import Captured, OutputStream, clean_text

__all__ = ["ReplBackend"]

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
#: Longest wait for a ``reset`` to finish (``__del__`` of user objects run) before a restart.
RESET_TIMEOUT_S = 10.0

_READ_LIMIT = 1 << 26  # longest reply line (bytes); errors are cut at 1e6 characters

_SIGNAL_HINTS = {
    signal.SIGSEGV: "segmentation fault",
    signal.SIGKILL: "killed; the out-of-memory killer does this",
    signal.SIGXCPU: "CPU time limit exceeded",
    signal.SIGABRT: "aborted",
    signal.SIGBUS: "bus error",
}

_BOOTSTRAP = """\
import sys, types
_m = types.ModuleType("eager_repl_worker")
_m.__file__ = {path!r}
sys.modules["eager_repl_worker"] = _m
exec(compile({source!r}, {path!r}, "exec"), _m.__dict__)
del sys, types
_m.main()
"""


@functools.cache
def _bootstrap() -> str:
    # The worker travels as source text: the child's Python need not have Eager installed.
    resource = importlib.resources.files("eager").joinpath("_repl_worker.py")
    return _BOOTSTRAP.format(path=str(resource), source=resource.read_text("utf-8"))


def _exit_description(status: int | None) -> str:
    if status is None:
        return "it stopped answering"
    if status < 0:
        try:
            sig = signal.Signals(-status)
        except ValueError:
            return f"killed by signal {-status}"
        hint = _SIGNAL_HINTS.get(sig)
        return f"killed by signal {-status} ({sig.name}{': ' + hint if hint else ''})"
    return f"exited with status {status}"


def _ends(reply: dict[str, Any]) -> list[str]:
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


class _Session:
    """One child process: its command pipe (stdin), reply pipe, and captured stdout/stderr."""

    def __init__(self, sentinel: bytes, cap: int | None) -> None:
        self.stdout = OutputStream(sentinel, cap_bytes=cap)
        self.stderr = OutputStream(sentinel, cap_bytes=cap)
        self.protocol = _ChildProtocol(self.stdout, self.stderr)
        self.replies: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.child: asyncio.SubprocessTransport | None = None
        self.reply_transport: asyncio.BaseTransport | None = None
        self.pid = 0
        self.startup_s = 0.0

    @classmethod
    async def spawn(
        cls,
        python: str,
        *,
        cwd: str | None,
        env: dict[str, str],
        config: dict[str, Any],
        cap: int | None,
    ) -> _Session:
        t0 = time.perf_counter()
        session = cls(bytes.fromhex(config["sentinel"]), cap)
        loop = asyncio.get_running_loop()
        reply_r, reply_w = os.pipe()
        try:
            session.child, _ = await loop.subprocess_exec(
                lambda: session.protocol,
                python,
                "-u",
                "-c",
                _bootstrap(),
                str(reply_w),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                cwd=cwd,
                env=env,
                pass_fds=(reply_w,),
                start_new_session=True,  # its own process group: killpg reaches its children
            )
        except OSError as exc:
            os.close(reply_r)
            raise BackendStartError(f"cannot start the Python session {python!r}: {exc}") from exc
        finally:
            os.close(reply_w)
        session.pid = session.child.get_pid()
        pipe = os.fdopen(reply_r, "rb", buffering=0)
        session.reply_transport, _ = await loop.connect_read_pipe(
            lambda: _ReplyProtocol(session.replies), pipe
        )
        try:
            session.send(config)
            ready = await session.reply(STARTUP_TIMEOUT_S)
        except (TimeoutError, BackendCrashedError) as exc:
            await session.kill()
            err = session.stderr.take_current().text().strip()
            detail = f": {err.splitlines()[-1]}" if err else ""
            raise BackendStartError(f"the Python session {python!r} did not start{detail}") from exc
        if ready is None or ready.get("op") != "ready":
            status = await session.kill()
            err = session.stderr.take_current().text().strip()
            raise BackendStartError(
                f"the Python session {python!r} did not start ({_exit_description(status)})"
                + (f":\n{err}" if err else "")
            )
        session.startup_s = time.perf_counter() - t0
        return session

    def send(self, message: dict[str, Any]) -> None:
        """Write one command; raises BackendCrashedError when the child is gone."""
        stdin = self.child.get_pipe_transport(0) if self.child is not None else None
        if not isinstance(stdin, asyncio.WriteTransport) or stdin.is_closing():
            raise BackendCrashedError("the Python session does not read its commands")
        stdin.write((json.dumps(message, ensure_ascii=True) + "\n").encode("ascii"))

    async def reply(self, timeout_s: float | None) -> dict[str, Any] | None:
        """The next reply (None: the child closed its end, i.e. it died); raises TimeoutError."""
        if timeout_s is None:
            return await self.replies.get()
        return await asyncio.wait_for(self.replies.get(), timeout_s)

    def signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, sig)

    async def wait_exit(self, timeout_s: float) -> int | None:
        try:
            await asyncio.wait_for(self.protocol.exited.wait(), timeout_s)
        except TimeoutError:
            return None
        return self.child.get_returncode() if self.child is not None else None

    async def kill(self) -> int | None:
        """Kill the process group, reap the child, release the pipes; the exit status."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        status = await self.wait_exit(EXIT_WAIT_S)
        await self.release()
        return status

    async def collect_killed(self) -> tuple[Captured, Captured]:
        """Kill the group and return what the streams received (a bounded wait for EOF)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        await self.wait_exit(EXIT_WAIT_S)
        # Grandchildren in another session may hold the pipes open: wait a bounded time only.
        await asyncio.gather(
            self.stdout.wait_eof(CRASH_DRAIN_S), self.stderr.wait_eof(CRASH_DRAIN_S)
        )
        return self.stdout.take_current(), self.stderr.take_current()

    async def close(self) -> None:
        """Let the child leave (EOF on its commands), then kill what is left of its group."""
        stdin = self.child.get_pipe_transport(0) if self.child is not None else None
        if stdin is not None:
            stdin.close()
        await self.wait_exit(CLOSE_GRACE_S)
        await self.kill()

    async def release(self) -> None:
        if self.child is not None:
            self.child.close()  # its pipes too, even those a grandchild still holds open
        if self.reply_transport is not None:
            self.reply_transport.close()

    async def outputs(self, ends: list[str]) -> tuple[Captured, Captured]:
        """This invocation's stdout and stderr, as the worker said each one ended.

        ``"sentinel"``: cut at the next sentinel; ``"drained"``: the pipe was empty, so all of
        it is here already; anything else (the fd was closed or replaced): take what is here.
        """
        got = []
        for stream, end in zip((self.stdout, self.stderr), ends, strict=False):
            segment = await stream.next_segment(DRAIN_TIMEOUT_S) if end == "sentinel" else None
            got.append(segment if segment is not None else stream.take_current())
        return got[0], got[1]


class ReplBackend(Backend):
    """A persistent Python subprocess: a script's ``__main__`` that survives between executions.

    The child runs ``python`` (default: this interpreter; any Python >= 3.8 works, Eager need
    not be installed there) in its own process group, with ``cwd`` and ``env`` (default: this
    process's environment) plus ``PYTHONUNBUFFERED=1`` and
    ``PYTHONIOENCODING=utf-8:backslashreplace``. Code runs in the real ``__main__`` module
    (``__name__ == "__main__"``, ``sys.argv == ["<program>"]``, classes pickle; there is no
    ``__file__``); stdin is ``/dev/null``. Commands and replies use private pipes.

    Output is captured at the file-descriptor level (``os.system`` and C extensions included),
    per invocation; each of stdout and stderr keeps at most ``max_output_bytes`` (None: no cap)
    and then gets :data:`~eager._repl_output.TRUNCATION_MARKER` and ``truncated=True``.
    Undecodable bytes become U+FFFD; lone surrogates are printed as ``\\udcxx`` escapes.

    Errors name lines of the whole program under the file name ``"<program>"``; the traceback
    holds only the program's frames, as a serial run of the program prints it.

    ``timeout_s`` (default for :meth:`execute`, None: no limit): when it expires, the session
    is interrupted (SIGINT; state kept); if it does not answer within ``restart_grace_s`` it is
    killed and restarted (state lost). Either way the result is an error of kind ``"timeout"``
    whose ``evalue`` says which. A crash (segfault, ``os._exit``, a kill by the OOM killer or
    the CPU limit) is seen at once (the reply pipe closes) and returned as ``BackendCrashed``,
    kind ``"crash"``; a fresh session is started before :meth:`execute` returns.

    ``memory_limit_bytes`` sets RLIMIT_AS of the child (a ``MemoryError`` for the program,
    usually); ``cpu_limit_s`` gives each execution that many CPU seconds (RLIMIT_CPU, whole
    seconds; exceeding it kills the session: a crash). ``startup_s`` is the last start-up time.
    """

    name = "repl"

    def __init__(
        self,
        *,
        python: str = sys.executable,
        cwd: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        timeout_s: float | None = 60.0,
        memory_limit_bytes: int | None = None,
        cpu_limit_s: float | None = None,
        max_output_bytes: int | None = 1_000_000,
        restart_grace_s: float = 2.0,
    ) -> None:
        for label, value in (
            ("timeout_s", timeout_s),
            ("memory_limit_bytes", memory_limit_bytes),
            ("cpu_limit_s", cpu_limit_s),
            ("max_output_bytes", max_output_bytes),
        ):
            if value is not None and not value > 0:
                raise UsageError(f"{label} must be positive or None, not {value!r}")
        if not restart_grace_s >= 0:
            raise UsageError(f"restart_grace_s must be >= 0, not {restart_grace_s!r}")
        self.python = python
        self.cwd = None if cwd is None else os.fspath(cwd)
        self.env = dict(os.environ if env is None else env)
        self.env.update(PYTHONUNBUFFERED="1", PYTHONIOENCODING="utf-8:backslashreplace")
        self.timeout_s = timeout_s
        self.memory_limit_bytes = memory_limit_bytes
        self.cpu_limit_s = cpu_limit_s
        self.max_output_bytes = max_output_bytes
        self.restart_grace_s = restart_grace_s
        #: Seconds the last start (or restart) of the child took, until it was ready.
        self.startup_s: float | None = None
        #: How many times the child was started.
        self.starts = 0
        self._session: _Session | None = None
        self._lock = asyncio.Lock()
        self._executing = False
        self._closed = False
        self._settling: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int | None:
        """The child's process id (None when not running)."""
        return self._session.pid if self._session is not None else None

    async def start(self) -> None:
        """Start the child (idempotent); raises :class:`~eager.BackendStartError`."""
        self._closed = False
        async with self._lock:
            await self._ensure_session()

    async def _ensure_session(self) -> _Session:
        if self._settling is not None:
            settling, self._settling = self._settling, None
            await settling
        if self._closed:
            raise BackendError("the REPL backend is closed; call start() to open it again")
        if self._session is None:
            sentinel = b"\x00[eager-end-" + secrets.token_hex(16).encode() + b"]"
            config = {
                "op": "config",
                "sentinel": sentinel.hex(),
                "memory_limit_bytes": self.memory_limit_bytes,
                "cpu_limit_s": self.cpu_limit_s,
            }
            self._session = await _Session.spawn(
                self.python, cwd=self.cwd, env=self.env, config=config, cap=self.max_output_bytes
            )
            self.startup_s = self._session.startup_s
            self.starts += 1
        return self._session

    async def _restart(self) -> str:
        """Kill the child and start a fresh one; says what happened (for an ``evalue``)."""
        session, self._session = self._session, None
        if session is not None:
            await session.kill()
        if self._closed:
            return "the backend was closed"
        try:
            await self._ensure_session()
        except BackendStartError as exc:
            return f"a fresh session could not be started ({exc})"
        return "the next execution runs in a fresh session (state lost)"

    async def execute(
        self, code: str, *, first_line: int = 1, timeout_s: float | None = None
    ) -> ExecResult:
        """Run ``code`` in the session; errors, timeouts and crashes come back as data."""
        if not isinstance(code, str):
            raise UsageError(f"code must be a str, not {type(code).__name__}")
        if isinstance(first_line, bool) or not isinstance(first_line, int) or first_line < 1:
            raise UsageError(f"first_line must be an int >= 1, not {first_line!r}")
        limit = self.timeout_s if timeout_s is None else timeout_s
        if limit is not None and not limit > 0:
            raise UsageError(f"timeout_s must be positive, not {limit!r}")
        async with self._lock:
            session = await self._ensure_session()
            t0 = time.perf_counter()
            self._executing = True
            try:
                return await self._run(session, code, first_line, limit, t0)
            except asyncio.CancelledError:
                # Keep the session in step: stop the code, swallow its reply, before anyone
                # else uses the session (the next call waits for this).
                self._settling = asyncio.create_task(self._settle(session))
                raise
            finally:
                self._executing = False

    async def _run(
        self, session: _Session, code: str, first_line: int, limit: float | None, t0: float
    ) -> ExecResult:
        try:
            session.send({"op": "exec", "code": code, "first_line": first_line})
            reply = await session.reply(limit)
        except BackendCrashedError:
            return await self._crashed(session, t0)
        except TimeoutError:
            assert limit is not None
            session.signal(signal.SIGINT)
            try:
                reply = await session.reply(self.restart_grace_s)
            except TimeoutError:
                out, err = await session.collect_killed()
                what = await self._restart()
                error = ExecError(
                    "TimeoutError",
                    f"execution timed out after {limit:g} s and did not stop on SIGINT within "
                    f"{self.restart_grace_s:g} s; the session was killed; {what}",
                    kind="timeout",
                )
                return self._result(out, err, error, t0)
            if reply is not None:
                result = await self._finish(session, reply, t0)
                if result.error is None:
                    return result  # it finished just as it was interrupted
                error = ExecError(
                    "TimeoutError",
                    f"execution timed out after {limit:g} s and was interrupted; "
                    "the session's state is kept",
                    result.error.traceback,
                    result.error.lineno,
                    kind="timeout",
                )
                return ExecResult(
                    result.stdout, result.stderr, error, (), result.duration_s, result.truncated
                )
        if reply is None:
            return await self._crashed(session, t0)
        return await self._finish(session, reply, t0)

    async def _finish(self, session: _Session, reply: dict[str, Any], t0: float) -> ExecResult:
        out, err = await session.outputs(_ends(reply))
        raw = reply.get("error")
        error = None
        if isinstance(raw, dict):
            lineno = raw.get("lineno")
            error = ExecError(
                clean_text(str(raw.get("ename", "Error"))),
                clean_text(str(raw.get("evalue", ""))),
                clean_text(str(raw.get("traceback", ""))),
                lineno if isinstance(lineno, int) else None,
                kind=str(raw.get("kind", "runtime")),
            )
        return self._result(out, err, error, t0)

    @staticmethod
    def _result(out: Captured, err: Captured, error: ExecError | None, t0: float) -> ExecResult:
        return ExecResult(
            stdout=out.text(),
            stderr=err.text(),
            error=error,
            duration_s=time.perf_counter() - t0,
            truncated=out.truncated or err.truncated,
        )

    async def _crashed(self, session: _Session, t0: float) -> ExecResult:
        status = await session.wait_exit(EXIT_WAIT_S)
        out, err = await session.collect_killed()
        what = await self._restart()
        if self._closed:
            raise BackendError("the REPL backend was closed during the execution")
        error = ExecError(
            "BackendCrashed",
            f"the Python session died ({_exit_description(status)}); {what}",
            kind="crash",
        )
        return self._result(out, err, error, t0)

    async def _settle(self, session: _Session) -> None:
        if session is not self._session:
            return
        session.signal(signal.SIGINT)
        try:
            reply = await session.reply(self.restart_grace_s)
        except TimeoutError:
            reply = None
        if reply is None:
            session, self._session = self._session, None
            if session is not None:
                await session.kill()
            return
        await session.outputs(_ends(reply))

    async def interrupt(self) -> None:
        """Send SIGINT to the running execution (it raises ``KeyboardInterrupt``; state kept)."""
        if self._executing and self._session is not None:
            self._session.signal(signal.SIGINT)

    async def reset(self) -> None:
        """Give ``__main__`` a fresh namespace (modules stay imported); restarts if stuck."""
        async with self._lock:
            session = await self._ensure_session()
            try:
                session.send({"op": "reset"})
                reply = await session.reply(RESET_TIMEOUT_S)
            except (BackendCrashedError, TimeoutError):
                reply = None
            if reply is None:
                await self._restart()
                return
            await session.outputs(_ends(reply))

    async def restart(self) -> None:
        """Kill the child and start a fresh one (everything lost, modules included)."""
        async with self._lock:
            await self._ensure_session()
            await self._restart()

    async def close(self) -> None:
        """Stop the child and kill its process group (idempotent, bounded)."""
        self._closed = True
        settling, self._settling = self._settling, None
        if settling is not None:
            settling.cancel()
            await asyncio.gather(settling, return_exceptions=True)
        session, self._session = self._session, None
        if session is not None:
            await asyncio.shield(session.close())
