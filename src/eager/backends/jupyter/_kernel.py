"""What the Jupyter-kernel backends share: one request at a time, timeout, crash recovery."""

from __future__ import annotations

import abc
import asyncio
import contextlib
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from ..._errors import BackendCrashedError, BackendError, BackendProtocolError, BackendStartError
from ..._result import ExecError, ExecResult, RichOutput
from .._base import Backend, CellStep
from .._report import STATE_KEPT, timeout_error
from . import _protocol as proto

__all__ = ["KernelLost"]  # KernelBackend: a shared base

#: Bound on the setup cell and on the namespace reset.
SETUP_TIMEOUT_S = 30.0


class KernelLost(Exception):
    """The kernel died or the channel to it broke (``reason`` says which)."""

    def __init__(self, reason: str, *, channel: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.channel = channel


class KernelBackend(Backend):
    supports_tools = True

    """A backend speaking the Jupyter protocol; subclasses supply the transport.

    Program code runs through the REPL worker's interpreter installed in the kernel, so errors,
    line numbers and tracebacks are the REPL backend's. Streams and rich outputs are collected
    per invocation (rich outputs saved under ``output_dir``).
    """

    def __init__(
        self,
        timeout_s: float | None,
        output_dir: str | Path | None,
        max_output_bytes: int | None,
        restart_grace_s: float,
        /,
    ) -> None:
        # Positional: each subclass passes its own keyword-only options of these names on.
        self._timeout_s = timeout_s
        self._chdir: str | None = None
        self._output_dir = Path(output_dir) if output_dir is not None else None
        self._max_output_bytes = max_output_bytes
        self._restart_grace_s = restart_grace_s
        self._outputs_saved = 0
        self._started = False
        self._broken: BackendError | None = None
        self._lock = asyncio.Lock()
        #: The tool specs the kernel holds stubs of (None: none, or a new kernel).
        self._installed: str | None = None
        self._calls: set[asyncio.Task[None]] = set()

    # -- transport (subclasses) ----------------------------------------------------------

    @property
    @abc.abstractmethod
    def _session_id(self) -> str:
        """The Jupyter session id put in our message headers."""

    @abc.abstractmethod
    async def _open(self) -> None:
        """Start (or reach) a kernel and open the message channel; BackendError on failure."""

    @abc.abstractmethod
    async def _shut(self) -> None:
        """Stop the kernel and the channel (bounded, never raises)."""

    @abc.abstractmethod
    async def _send(self, msg: dict[str, Any]) -> None:
        """Send one shell message; KernelLost when the channel is gone."""

    @abc.abstractmethod
    async def _recv(self, timeout_s: float | None) -> dict[str, Any] | None:
        """The next message of any channel, None after ``timeout_s``; KernelLost on death."""

    @abc.abstractmethod
    async def _interrupt_kernel(self) -> None:
        """Interrupt the running execution (SIGINT or its remote equivalent)."""

    @abc.abstractmethod
    async def _recover(self, lost: KernelLost | None) -> None:
        """Make a fresh (or reconnected) kernel usable; ``lost`` None after a timeout."""

    # -- Backend -------------------------------------------------------------------------

    async def _start(self) -> None:
        """Start the kernel and install the interpreter in it (idempotent)."""
        if self._started:
            return
        await self._open()
        self._started = True
        try:
            await self._setup()
        except BaseException:
            await self._close()
            raise

    async def _execute(
        self,
        code: str,
        *,
        first_line: int,
        timeout_s: float | None,
        cell: CellStep | None = None,
    ) -> ExecResult:
        """Run ``code`` as lines ``first_line…`` of the program (see :class:`Backend`)."""
        if not self._started:
            raise BackendError(f"{self.name} backend: execute() before start()")
        async with self._lock:
            if self._broken is not None:
                await self._recover_or_raise(None)
            await self._install_tools()
            return await self._run_cell(code, first_line, timeout_s, cell)

    async def _install_tools(self) -> None:
        """Give the kernel the stubs of the bound tools (once per kernel and tool set)."""
        bridge = self._bridge
        if bridge is None:
            return
        specs = bridge.specs_key
        if self._installed == specs:
            return
        collector, lost = await self._request(proto.tools_cell(bridge.specs), SETUP_TIMEOUT_S)
        if lost is not None or not collector.done or collector.error is not None:
            what = lost.reason if lost is not None else collector.error or "no answer"
            raise BackendProtocolError(f"{self.name}: the tools could not be installed: {what}")
        self._installed = specs

    def _serve_input(self, msg: dict[str, Any]) -> None:
        """An input request of the running cell: a tool call, answered from a task."""
        task = asyncio.create_task(self._answer_input(msg))
        self._calls.add(task)
        task.add_done_callback(self._calls.discard)

    async def _answer_input(self, msg: dict[str, Any]) -> None:
        call, bridge = proto.tool_call_of(msg), self._bridge
        if call is None:
            reply: dict[str, Any] = {"error": {"type": "EOFError", "message": "no input"}}
        elif bridge is None:
            reply = {"error": {"type": "RuntimeError", "message": "no tools are bound"}}
        else:
            args, kwargs = call.get("args"), call.get("kwargs")
            if not isinstance(args, list) or not isinstance(kwargs, dict):
                reply = {"error": {"type": "TypeError", "message": "malformed tool call"}}
            else:
                reply = await bridge.handle(str(call.get("name")), args, kwargs)
        answer = proto.input_reply(
            json.dumps(reply, ensure_ascii=True), parent=msg["header"], session=self._session_id
        )
        with contextlib.suppress(KernelLost):
            await self._send(answer)

    async def interrupt(self) -> None:
        """Interrupt the running execution; the kernel keeps its state."""
        if self._started:
            await self._interrupt_kernel()

    async def reset(self) -> None:
        """Give the program a fresh namespace (imported modules stay, as in the REPL)."""
        if not self._started:
            return
        async with self._lock:
            if self._broken is not None:
                await self._recover_or_raise(None)
                return
            collector, lost = await self._request(proto.RESET_CELL, SETUP_TIMEOUT_S)
            if lost is not None or not collector.done or collector.error is not None:
                await self._recover_or_raise(lost)

    async def _close(self) -> None:
        """Stop the kernel (idempotent, bounded)."""
        self._started = False
        await asyncio.shield(self._shut())

    # -- internals -----------------------------------------------------------------------

    async def _setup(self) -> None:
        setup = proto.kernel_setup()
        if self._chdir is not None:  # a remote kernel starts where its gateway says: move it
            setup += f"import os as _o\n_o.chdir({self._chdir!r})\ndel _o\n"
        collector, lost = await self._request(setup, SETUP_TIMEOUT_S)
        if lost is not None:
            raise BackendCrashedError(f"{self.name}: kernel lost during setup: {lost.reason}")
        if not collector.done:
            raise BackendStartError(f"{self.name}: kernel did not answer the setup cell")
        if collector.error is not None:
            raise BackendProtocolError(
                f"{self.name}: setup failed in the kernel: "
                f"{collector.error.ename}: {collector.error.evalue}"
            )

    async def _recover_or_raise(self, lost: KernelLost | None) -> None:
        self._installed = None  # a new kernel holds no stubs
        try:
            await self._recover(lost)
            await self._setup()
        except BackendError as exc:
            self._broken = exc
            raise
        self._broken = None

    async def _request(
        self, cell: str, timeout_s: float | None
    ) -> tuple[proto.Collector, KernelLost | None]:
        """Send ``cell``; collect until answered, ``timeout_s`` passed or the kernel is lost."""
        msg = proto.execute_request(
            cell, session=self._session_id, allow_stdin=self._bridge is not None
        )
        collector = proto.Collector(
            msg["header"]["msg_id"], max_output_bytes=self._max_output_bytes
        )
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        try:
            await self._send(msg)
            await self._collect(collector, deadline)
        except KernelLost as lost:
            return collector, lost
        return collector, None

    async def _collect(self, collector: proto.Collector, deadline: float | None) -> None:
        while True:
            if collector.kernel_lost is not None:
                raise KernelLost(f"the kernel is {collector.kernel_lost}")
            remaining = None if deadline is None else deadline - time.monotonic()
            if collector.done or (remaining is not None and remaining <= 0):
                return
            msg = await self._recv(remaining)
            if msg is not None:
                collector.feed(msg)
                while collector.input_requests:
                    self._serve_input(collector.input_requests.pop(0))

    async def _run_cell(
        self, code: str, first_line: int, timeout_s: float | None, cell: CellStep | None = None
    ) -> ExecResult:
        timeout = timeout_s if timeout_s is not None else self._timeout_s
        try:
            return await self._run_request(code, first_line, cell, limit_s=timeout)
        finally:
            for task in list(self._calls):  # calls of code that was stopped: nobody waits
                task.cancel()

    async def _run_request(
        self, code: str, first_line: int, cell: CellStep | None, *, limit_s: float | None
    ) -> ExecResult:
        timeout = limit_s
        started = time.monotonic()
        collector, lost = await self._request(proto.wrap_code(code, first_line, cell), timeout)
        error: ExecError | None = None
        if lost is None and not collector.done:  # timed out: interrupt, else restart
            assert timeout is not None
            await self._interrupt_kernel()
            try:
                await self._collect(collector, time.monotonic() + self._restart_grace_s)
            except KernelLost as exc:
                lost = exc
            ending = STATE_KEPT if collector.done else "was interrupted; the kernel was restarted"
            error = timeout_error(timeout, ending, where=collector.error)
            if lost is None and not collector.done:
                await self._recover_quietly(None)
        duration = time.monotonic() - started
        if lost is not None:
            what = "the connection to the kernel was lost" if lost.channel else "the kernel died"
            error = error or ExecError("BackendCrashed", f"{what}: {lost.reason}", kind="crash")
            await self._recover_quietly(lost)
        outputs: tuple[RichOutput, ...] = ()
        if collector.bundles:
            outputs = proto.save_outputs(
                collector.bundles, directory=self._outputs_dir(), counter=self._outputs_saved
            )
            self._outputs_saved += len(outputs)
        return collector.result(duration_s=duration, error=error, outputs=outputs)

    async def _recover_quietly(self, lost: KernelLost | None) -> None:
        # The failed invocation is reported first; a recovery failure surfaces at the next call.
        with contextlib.suppress(BackendError):
            await self._recover_or_raise(lost)

    def _outputs_dir(self) -> Path:
        if self._output_dir is None:
            self._output_dir = Path(tempfile.mkdtemp(prefix="eager-outputs-"))
        return self._output_dir
