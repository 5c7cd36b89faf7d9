"""An in-memory backend for tests and users: runs code in-process, records every call."""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import io
import sys
import time
from dataclasses import dataclass
from types import FrameType
from typing import Any

from .._errors import UsageError
from .._result import ExecError, ExecResult, RichOutput
from ._base import Backend, CellStep
from ._interpreter import Interpreter, Notebook, bundle, install_tools, make_shell
from ._report import (
    MAX_OUTPUT_BYTES,
    Captured,
    OutputCap,
    error_from_report,
    exec_result,
    output_record,
    segmented_result,
    timeout_error,
)

__all__ = ["FakeBackend", "FakeCall"]


@dataclass(frozen=True, slots=True)
class FakeCall:
    """One invocation received by a :class:`FakeBackend`."""

    code: str
    first_line: int


class _CappedText(io.StringIO):
    """A text stream feeding an :class:`OutputCap` (what ``print`` writes, capped); what it
    received since the last :meth:`cut` is kept too (the text before a rich output)."""

    def __init__(self, cap: int | None) -> None:
        super().__init__()
        self.cap = OutputCap(cap)
        self.since_cut = OutputCap(cap)

    def write(self, text: str) -> int:
        self.cap.add_text(text)
        self.since_cut.add_text(text)
        return len(text)

    def cut(self) -> Captured:
        """What was written since the last cut."""
        piece, self.since_cut = self.since_cut.freeze(), OutputCap(self.since_cut.cap)
        return piece


class FakeBackend(Backend):
    """Runs code with ``exec`` in a dict namespace in this process, and records ``calls``.

    For tests of everything above the backend (and for users' tests): ``calls`` lists each
    invocation's ``(code, first_line)`` so batching can be asserted; ``delay_s`` makes every
    execution take that long first (an interruptible ``asyncio.sleep``: it simulates execution
    time while the event loop keeps running); ``run_code=False`` only records.

    Errors are reported as the REPL session reports them (same compilation at the program's
    line, same traceback text). ``print`` output is captured via ``sys.stdout``/``sys.stderr``
    redirection (not file descriptors), capped at ``max_output_bytes`` per stream. Running code
    blocks the event loop; a ``timeout_s`` is enforced with a tracer between lines of Python
    code (not inside C calls). There is no ``__main__`` module, so classes do not pickle, and it
    cannot crash.

    ``hold=True`` pauses every execution until the test lets it go, to check what the caller
    does meanwhile: each invocation puts its code on :attr:`entered` (await
    :meth:`next_entered`) and waits for a permit of :meth:`release` (permits may be given in
    advance); only then is it recorded in ``calls`` and run. :meth:`interrupt` does not end a
    held execution; cancelling the caller does.
    """

    name = "fake"
    supports_tools = True

    def __init__(
        self,
        *,
        delay_s: float = 0.0,
        run_code: bool = True,
        timeout_s: float | None = None,
        max_output_bytes: int | None = MAX_OUTPUT_BYTES,
        hold: bool = False,
    ) -> None:
        if delay_s < 0:
            raise UsageError(f"delay_s must be >= 0, not {delay_s!r}")
        self.delay_s = delay_s
        self.run_code = run_code
        self.timeout_s = timeout_s
        self.max_output_bytes = max_output_bytes
        #: Every invocation, in order.
        self.calls: list[FakeCall] = []
        #: The namespace the code runs in (a script's ``__main__`` look-alike).
        self.namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
        self.started = False
        self.startup_s = 0.0
        self._interp = Interpreter(self.namespace, hidden_files=(__file__,))
        self._notebook: Notebook | None = None
        self._installed: str | None = None
        self._interrupted = asyncio.Event()
        #: Set while an execution is running (tests wait on it to interrupt at the right time).
        self.executing = asyncio.Event()
        self.hold = hold
        #: With ``hold``: the code of each invocation, as it starts waiting for its permit.
        self.entered: asyncio.Queue[str] = asyncio.Queue()
        self._permits: asyncio.Queue[None] = asyncio.Queue()

    def release(self, n: int = 1) -> None:
        """With ``hold``: let ``n`` held executions (the oldest first, or the next ones) run."""
        if n < 0:
            raise UsageError(f"n must be >= 0, not {n!r}")
        for _ in range(n):
            self._permits.put_nowait(None)

    async def next_entered(self, timeout_s: float = 10.0) -> str:
        """With ``hold``: the code of the next execution to start; TimeoutError after ``timeout_s``."""
        async with asyncio.timeout(timeout_s):
            return await self.entered.get()

    async def _start(self) -> None:
        """Mark the backend started (idempotent)."""
        if not self.executing.is_set():
            self.executing = asyncio.Event()  # bound to this start's event loop
        self.started = True

    async def _execute(
        self,
        code: str,
        *,
        first_line: int,
        timeout_s: float | None,
        cell: CellStep | None = None,
    ) -> ExecResult:
        """Wait for a permit (``hold``), record the call, wait ``delay_s``, run ``code``."""
        if cell is not None and not (code or cell.begin or cell.end):
            self._cell_step("", 1, cell, None)  # a warm-up: the shell, not an execution
            return ExecResult()
        if self.hold:
            self.entered.put_nowait(code)
            await self._permits.get()
        self.started = True
        self.calls.append(FakeCall(code, first_line))
        limit = self.timeout_s if timeout_s is None else timeout_s
        t0 = time.perf_counter()
        self._interrupted = asyncio.Event()  # per call: the caller's event loop may change
        self.executing.set()
        try:
            if self.delay_s:
                wait = self.delay_s if limit is None else min(self.delay_s, limit)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await self._interrupted.wait()
                if self._interrupted.is_set():
                    error = ExecError("KeyboardInterrupt", "", "KeyboardInterrupt\n")
                    return ExecResult(error=error, duration_s=time.perf_counter() - t0)
                if limit is not None and self.delay_s >= limit:
                    error = timeout_error(limit, where=None)
                    return ExecResult(error=error, duration_s=time.perf_counter() - t0)
            if not self.run_code:
                return ExecResult(duration_s=time.perf_counter() - t0)
            self._install_tools()
            remaining = None if limit is None else max(0.0, limit - (time.perf_counter() - t0))
            return self._run(code, first_line, limit, remaining, t0, cell)
        finally:
            self.executing.clear()

    def _run(
        self,
        code: str,
        first_line: int,
        limit: float | None,
        remaining: float | None,
        t0: float,
        cell: CellStep | None,
    ) -> ExecResult:
        out, err = _CappedText(self.max_output_bytes), _CappedText(self.max_output_bytes)
        segments: list[tuple[Captured, Captured, RichOutput | ExecError | None]] = []

        def emit(output_type: str, data: Any, metadata: Any, count: Any) -> None:
            record = {"output_type": output_type, "data": bundle(data), "metadata": metadata}
            record["execution_count"] = count
            segments.append((out.cut(), err.cut(), output_record(record)))

        timed_out = False
        program = self._interp.filename

        def tracer(frame: FrameType, event: str, arg: object) -> Any:
            # Only the program's own lines are stopped (never Eager's or a library's code).
            nonlocal timed_out
            if frame.f_code.co_filename != program:
                return None
            if timed_out or time.perf_counter() > deadline:
                timed_out = True
                raise KeyboardInterrupt
            return tracer

        deadline = time.perf_counter() + (remaining or 0.0)
        stdin, sys.stdin = sys.stdin, io.StringIO()  # input() sees end of file, as in the REPL
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            previous = sys.gettrace()
            if remaining is not None:
                sys.settrace(tracer)
            try:
                if cell is None:
                    raw = self._interp.run(code, first_line)
                else:
                    raw = self._cell_step(code, first_line, cell, emit)
            finally:
                if remaining is not None:
                    sys.settrace(previous)
                sys.stdin = stdin
        error = None
        if raw is not None:
            error = error_from_report(raw)
            if timed_out and limit is not None and error.ename == "KeyboardInterrupt":
                error = timeout_error(limit, where=error)
        duration_s = time.perf_counter() - t0
        if segments:
            segments.append((out.cut(), err.cut(), None))
            return segmented_result(segments, error, duration_s, cap=self.max_output_bytes)
        return exec_result(out.cap.freeze(), err.cap.freeze(), error, duration_s)

    def _cell_step(
        self, code: str, first_line: int, cell: CellStep, emit: Any
    ) -> dict[str, Any] | None:
        try:
            shell = make_shell(self.namespace, emit)  # this process's shell, bound to us
        except ImportError as exc:
            return {"ename": "ImportError", "evalue": str(exc), "kind": "runtime"}
        if self._notebook is None or self._notebook.shell is not shell:
            self._notebook = Notebook(self._interp, shell, hooks_per_request=False)
            self._notebook.count = 0  # the process's shell counted other backends' cells
        return self._notebook.step(code, first_line, cell.begin, cell.end, cell.source, cell.failed)

    def _install_tools(self) -> None:
        bridge = self._bridge
        if bridge is None:
            return
        specs = bridge.specs_key
        if self._installed != specs:
            install_tools(self._interp, bridge.specs, self._call_tool)
            self._installed = specs

    def _call_tool(self, name: str, args: list[Any], kwargs: dict[str, Any]) -> dict[str, Any]:
        bridge = self._bridge
        if bridge is None:
            return {"error": {"type": "RuntimeError", "message": "no tools are bound"}}
        return bridge.handle_blocking(name, args, kwargs)

    async def interrupt(self) -> None:
        """Stop the ``delay_s`` wait of the running execution (code itself runs to its end)."""
        if self.executing.is_set():
            self._interrupted.set()

    async def reset(self) -> None:
        """Give the code a fresh namespace."""
        self._interp.reset()
        if self._notebook is not None:
            self._notebook.reset()

    async def _close(self) -> None:
        """Nothing to release: the namespace stays until the backend is dropped."""
