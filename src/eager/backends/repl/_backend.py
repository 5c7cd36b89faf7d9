"""The persistent Python subprocess session: a script's ``__main__`` that outlives executions."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import secrets
import signal
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..._bridge import ToolBridge
from ..._errors import BackendCrashedError, BackendError, BackendStartError, UsageError
from ..._result import ExecError, ExecResult, RichOutput
from ..._tools import Tool
from .._base import CLOSE_TIMEOUT_S, RESTART_GRACE_S, Backend, CellStep
from .._env import session_env
from .._report import (
    MAX_OUTPUT_BYTES,
    Captured,
    error_from_report,
    exec_result,
    output_record,
    segmented_result,
    timeout_error,
)
from .._sandbox import SandboxPolicy
from .._sandboxed import SANDBOX_HINT, SandboxSetup
from ._session import EXIT_WAIT_S, STARTUP_TIMEOUT_S, Session, exit_description, reply_ends

__all__ = ["ReplBackend"]

#: Longest wait for a ``reset`` to finish (``__del__`` of user objects run) before a restart.
RESET_TIMEOUT_S = 10.0


class ReplBackend(Backend):
    """A persistent Python subprocess: a script's ``__main__`` that survives between executions.

    The child runs ``python`` (default: this interpreter; another environment works too, Eager
    need not be installed there; the worker is written for Python 3.8+, tested on 3.11) in its
    own process group, in ``cwd``, with a scrubbed environment (allow-listed, never keys or
    tokens: :func:`eager.backends._env.scrub_env`) plus ``env`` on top (the way to pass a
    variable on purpose) plus ``PYTHONUNBUFFERED=1`` and
    ``PYTHONIOENCODING=utf-8:backslashreplace``.

    ``sandbox=SandboxPolicy(...)`` runs the child inside bubblewrap (no network, read-only
    system, one writable work folder ``cwd`` — a private temporary one when None, see
    :attr:`work_dir` — private ``/tmp`` and PID namespace, rlimits; see
    :class:`~eager.SandboxPolicy`); it cannot start without bwrap (a clear
    :class:`~eager.BackendStartError`, never a silent fallback). ``command=("docker", "exec",
    "-i", "box")`` runs the child behind any command that connects its stdin and stdout (the
    protocol then runs over them alone, interrupts included); ``python`` is then the
    interpreter's path as that command sees it. Code runs in the real ``__main__`` module
    (``__name__ == "__main__"``, ``sys.argv == ["<program>"]``, classes pickle; there is no
    ``__file__``); stdin is ``/dev/null``. Commands and replies use private pipes.

    Output is captured at the file-descriptor level (``os.system`` and C extensions included),
    per invocation; each of stdout and stderr keeps at most ``max_output_bytes`` (None: no cap)
    and then gets :data:`~eager.backends._report.TRUNCATION_MARKER` and ``truncated=True``.
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

    :meth:`interrupt` raises ``KeyboardInterrupt`` in the running code (state kept);
    :meth:`reset` empties ``__main__`` (imported modules stay loaded); :meth:`restart` starts
    a new child.

    The child belongs to the event loop that started it: ``close()`` it before that loop ends
    (``async with`` does). A backend reused under a new loop kills the old child and starts anew.
    """

    name = "repl"
    supports_tools = True

    def __init__(
        self,
        *,
        python: str = sys.executable,
        cwd: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        timeout_s: float | None = 60.0,
        memory_limit_bytes: int | None = None,
        cpu_limit_s: float | None = None,
        max_output_bytes: int | None = MAX_OUTPUT_BYTES,
        restart_grace_s: float = RESTART_GRACE_S,
        sandbox: SandboxPolicy | None = None,
        command: Sequence[str] | None = None,
        tools: Sequence[Tool | Callable[..., Any]] = (),
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
        if sandbox is not None and not isinstance(sandbox, SandboxPolicy):
            raise UsageError(f"sandbox must be a SandboxPolicy or None, not {sandbox!r}")
        if command is not None:
            if (
                isinstance(command, str)
                or not command
                or not all(isinstance(part, str) for part in command)
            ):
                raise UsageError(f"command must be a non-empty sequence of str, not {command!r}")
            if sandbox is not None:
                raise UsageError("pass sandbox= or command=, not both")
        self.python = python
        self.cwd = None if cwd is None else os.fspath(cwd)
        self.env = session_env(env)
        self.env.update(PYTHONUNBUFFERED="1", PYTHONIOENCODING="utf-8:backslashreplace")
        #: The sandbox policy (None: no sandbox).
        self.sandbox = sandbox
        #: The command the child runs behind (stdio protocol), if any.
        self.command = None if command is None else tuple(command)
        self._setup: SandboxSetup | None = None
        self.timeout_s = timeout_s
        self.memory_limit_bytes = memory_limit_bytes
        self.cpu_limit_s = cpu_limit_s
        self.max_output_bytes = max_output_bytes
        self.restart_grace_s = restart_grace_s
        #: Seconds the last start (or restart) of the child took, until it was ready.
        self.startup_s: float | None = None
        #: How many times the child was started.
        self.starts = 0
        self._session: Session | None = None
        self._lock = asyncio.Lock()
        self._lock_loop: asyncio.AbstractEventLoop | None = None
        self._executing = False
        self._settling: asyncio.Task[None] | None = None
        self._bridge = ToolBridge(tools) if tools else None
        #: The session and the tool specs whose stubs it holds.
        self._installed: tuple[Session, str] | None = None
        self._calls: set[asyncio.Task[None]] = set()

    def _loop_lock(self) -> asyncio.Lock:
        # One lock per event loop: a backend may serve several asyncio.run() calls in turn.
        loop = asyncio.get_running_loop()
        if self._lock_loop is not loop:
            self._lock, self._lock_loop = asyncio.Lock(), loop
        return self._lock

    @property
    def work_dir(self) -> str | None:
        """The session's working folder (sandboxed: the one writable folder; else ``cwd``)."""
        return self._setup.work_dir if self._setup is not None else self.cwd

    @property
    def alive(self) -> bool:
        """True while the child runs (False before the start, after a close, or once it died;
        the next ``start`` or ``execute`` then starts a fresh one)."""
        return self._session is not None and self._session.alive

    @property
    def pid(self) -> int | None:
        """The child's process id (None when not running)."""
        return self._session.pid if self._session is not None else None

    async def _start(self) -> None:
        """Start the child (idempotent); raises :class:`~eager.BackendStartError`."""
        async with self._loop_lock():
            await self._ensure_session()

    async def _ensure_session(self) -> Session:
        if self._settling is not None:
            settling, self._settling = self._settling, None
            if settling.get_loop() is asyncio.get_running_loop():
                await settling
        if self._closed:
            raise BackendError("the REPL backend is closed; call start() to open it again")
        if self._session is not None and self._session.loop is not asyncio.get_running_loop():
            # Left running by an earlier event loop (asyncio.run per call): its pipes are
            # bound to that loop. Kill it and start afresh.
            self._session.abandon()
            self._session = None
        if self._session is not None and not self._session.awaiting and not self._session.alive:
            # Died while idle (the OOM killer, an operator): a fresh child before anything runs.
            dead, self._session = self._session, None
            await dead.kill()
        if self._session is None:
            sentinel = b"\x00[eager-end-" + secrets.token_hex(16).encode() + b"]"
            config = {
                "op": "config",
                "sentinel": sentinel.hex(),
                "memory_limit_bytes": self.memory_limit_bytes,
                "cpu_limit_s": self.cpu_limit_s,
                # A direct child dies with this process (Linux). Behind a command its parent is
                # the command (and in a PID namespace pids differ): bwrap --die-with-parent and
                # the end of its stdin end it there.
                "parent_pid": os.getpid()
                if self.command is None and self.sandbox is None
                else None,
            }
            command: Sequence[str] | None = self.command
            cwd, env = self.cwd, self.env
            try:
                if self.sandbox is not None:
                    if self._setup is None:
                        self._setup = SandboxSetup(self.sandbox, cwd=self.cwd, python=self.python)
                    command, cwd = self._setup.command(), None
                    env = self._setup.env(self.env)
                    if config["cpu_limit_s"] is None:
                        config["cpu_limit_s"] = self.sandbox.cpu_s
                try:
                    self._session = await Session.spawn(
                        self.python,
                        cwd=cwd,
                        env=env,
                        config=config,
                        cap=self.max_output_bytes,
                        command=command,
                    )
                except BackendStartError as exc:
                    if self.sandbox is None:
                        raise
                    raise BackendStartError(f"{exc}; {SANDBOX_HINT}") from exc
            except BaseException:
                # No session: give the work folder back now (a failed start is not closed).
                setup, self._setup = self._setup, None
                if setup is not None:
                    setup.release()
                raise
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

    async def _install_tools(self, session: Session) -> None:
        """Give the session the stubs of the bound tools (once per session and tool set)."""
        bridge = self._bridge
        if bridge is None:
            return
        specs = bridge.specs_key
        if self._installed == (session, specs):
            return
        session.send({"op": "tools", "specs": bridge.specs})
        reply = await session.reply(STARTUP_TIMEOUT_S)
        if reply is None:
            raise BackendCrashedError("the Python session died while its tools were installed")
        await session.outputs(reply_ends(reply))
        self._installed = (session, specs)

    def _on_call(self, session: Session, message: dict[str, Any]) -> None:
        """A tool call of the running code: answered from a task (the reply wait goes on)."""
        task = asyncio.create_task(self._serve(session, message))
        self._calls.add(task)
        task.add_done_callback(self._calls.discard)

    async def _serve(self, session: Session, message: dict[str, Any]) -> None:
        bridge = self._bridge
        args, kwargs = message.get("args"), message.get("kwargs")
        if bridge is None:
            reply: dict[str, Any] = {"error": {"type": "RuntimeError", "message": "no tools"}}
        elif not isinstance(args, list) or not isinstance(kwargs, dict):
            reply = {"error": {"type": "TypeError", "message": "malformed tool call"}}
        else:
            reply = await bridge.handle(str(message.get("name")), args, kwargs)
        try:
            session.answer({"op": "result", "id": message.get("id"), **reply})
        except (TypeError, ValueError):  # a codec's value that is no JSON after all
            error = {"type": "TypeError", "message": "the tool's result is not a JSON value"}
            session.answer({"op": "result", "id": message.get("id"), "error": error})

    async def _execute(
        self,
        code: str,
        *,
        first_line: int,
        timeout_s: float | None,
        cell: CellStep | None = None,
    ) -> ExecResult:
        """Run ``code`` in the session; errors, timeouts and crashes come back as data."""
        limit = self.timeout_s if timeout_s is None else timeout_s
        async with self._loop_lock():
            session = await self._ensure_session()
            try:
                await self._install_tools(session)
            except (TimeoutError, BackendCrashedError):
                t0 = time.perf_counter()
                return await self._crashed(session, t0)
            t0 = time.perf_counter()
            self._executing = True
            try:
                return await self._run(session, code, first_line, limit, t0, cell)
            except asyncio.CancelledError:
                # Keep the session in step: stop the code, swallow its reply, before anyone
                # else uses the session (the next call waits for this).
                self._settling = asyncio.create_task(self._settle(session))
                raise
            finally:
                self._executing = False

    async def _run(
        self,
        session: Session,
        code: str,
        first_line: int,
        limit: float | None,
        t0: float,
        cell: CellStep | None,
    ) -> ExecResult:
        command: dict[str, Any] = {"op": "exec", "code": code, "first_line": first_line}
        if cell is not None:
            command["cell"] = dataclasses.asdict(cell)
        session.on_call = lambda message: self._on_call(session, message)
        try:
            return await self._exchange(session, command, limit, t0)
        finally:
            session.on_call = None
            for task in list(self._calls):  # calls of code that was stopped: nobody waits
                task.cancel()

    async def _exchange(
        self, session: Session, command: dict[str, Any], limit: float | None, t0: float
    ) -> ExecResult:
        try:
            session.send(command)
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
                ending = (
                    f"did not stop on SIGINT within {self.restart_grace_s:g} s; "
                    f"the session was killed; {what}"
                )
                error = timeout_error(limit, ending, where=None)
                return self._result(out, err, error, t0)
            if reply is not None:
                result = await self._finish(session, reply, t0)
                if result.error is None:
                    return result  # it finished just as it was interrupted
                return dataclasses.replace(result, error=timeout_error(limit, where=result.error))
        if reply is None:
            return await self._crashed(session, t0)
        return await self._finish(session, reply, t0)

    async def _finish(self, session: Session, reply: dict[str, Any], t0: float) -> ExecResult:
        records = reply.get("outputs")
        segments: list[tuple[Captured, Captured, RichOutput | ExecError | None]] = []
        if isinstance(records, list):  # rich outputs, each after the text printed before it
            for record in records:
                if isinstance(record, dict):
                    ends = reply_ends(record)
                    seg_out, seg_err = await session.cut(ends)
                    segments.append((seg_out, seg_err, output_record(record)))
        out, err = await session.outputs(reply_ends(reply))
        raw = reply.get("error")
        error = error_from_report(raw) if isinstance(raw, dict) else None
        if segments:
            segments.append((out, err, None))
            duration = time.perf_counter() - t0
            return segmented_result(segments, error, duration, cap=self.max_output_bytes)
        return self._result(out, err, error, t0)

    @staticmethod
    def _result(out: Captured, err: Captured, error: ExecError | None, t0: float) -> ExecResult:
        return exec_result(out, err, error, time.perf_counter() - t0)

    async def _crashed(self, session: Session, t0: float) -> ExecResult:
        broken = session.broken  # stdio mode: garbage on the protocol stream (it lives on)
        status = None if broken else await session.wait_exit(EXIT_WAIT_S)
        out, err = await session.collect_killed()
        what = await self._restart()
        if self._closed:
            raise BackendError("the REPL backend was closed during the execution")
        how = f"it broke the protocol: {broken}" if broken else exit_description(status)
        error = ExecError(
            "BackendCrashed",
            f"the Python session {'was killed' if broken else 'died'} ({how}); {what}",
            kind="crash",
        )
        return self._result(out, err, error, t0)

    async def _settle(self, session: Session) -> None:
        if session is not self._session:
            return
        if session.awaiting:  # the code still runs: stop it and take its reply
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
        if session.unconsumed_ends is not None:  # its output must not leak into the next
            await session.outputs(session.unconsumed_ends)

    async def interrupt(self) -> None:
        """Send SIGINT to the running execution (it raises ``KeyboardInterrupt``; state kept)."""
        if self._executing and self._session is not None:
            self._session.signal(signal.SIGINT)

    async def reset(self) -> None:
        """Give ``__main__`` a fresh namespace (modules stay imported); restarts if stuck."""
        async with self._loop_lock():
            session = await self._ensure_session()
            try:
                session.send({"op": "reset"})
                reply = await session.reply(RESET_TIMEOUT_S)
            except (BackendCrashedError, TimeoutError):
                reply = None
            if reply is None:
                await self._restart()
                return
            await session.outputs(reply_ends(reply))

    async def restart(self) -> None:
        """Kill the child and start a fresh one (everything lost, modules included)."""
        async with self._loop_lock():
            await self._ensure_session()
            await self._restart()

    async def _close(self) -> None:
        """Stop the child and kill its process group (idempotent, bounded)."""
        settling, self._settling = self._settling, None
        if settling is not None and settling.get_loop() is asyncio.get_running_loop():
            settling.cancel()
            await asyncio.gather(settling, return_exceptions=True)
        session, self._session = self._session, None
        if session is not None and session.loop is not asyncio.get_running_loop():
            session.abandon()  # started under an event loop that is gone
        elif session is not None:
            try:
                await asyncio.wait_for(asyncio.shield(session.close()), CLOSE_TIMEOUT_S)
            except TimeoutError:
                session.abandon()
        setup, self._setup = self._setup, None
        if setup is not None:
            setup.release()
