"""The local Jupyter kernel backend (jupyter_client + ipykernel, the ``jupyter`` extra)."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import hmac
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from ..._errors import (
    BackendProtocolError,
    BackendStartError,
    MissingExtraError,
    UsageError,
)
from .._base import CLOSE_TIMEOUT_S, RESTART_GRACE_S
from .._env import session_env
from .._report import MAX_OUTPUT_BYTES
from .._sandbox import SandboxPolicy
from .._sandboxed import SANDBOX_HINT, SandboxSetup
from ._kernel import KernelBackend, KernelLost

__all__ = ["JupyterBackend"]

#: Bound on starting a kernel until it answers ``kernel_info``.
START_TIMEOUT_S = 60.0
#: After the kernel process exited, how long its last messages may still take to arrive.
LAST_WORDS_S = 0.05
#: Liveness check period where the kernel process cannot be watched through a pidfd.
LIVENESS_POLL_S = 0.05


class JupyterBackend(KernelBackend):
    """A local Jupyter kernel (default ``python3``: ipykernel) as the execution session.

    The program runs with script semantics in the kernel's ``__main__`` namespace: no display
    of bare expressions, program line numbers, the REPL backend's error reports; ``display()``
    and ``plt.show()`` give rich outputs, saved as files under ``output_dir`` (default: a
    temporary directory) and listed in :attr:`ExecResult.outputs`. A kernel that dies is
    noticed at once (its process is watched) and replaced by a fresh one.

    The kernel starts with a scrubbed environment (allow-listed, never keys or tokens) plus
    ``env`` on top. ``sandbox=SandboxPolicy(...)`` launches the kernel process inside the same
    bubblewrap wrapping as the sandboxed REPL (``cwd`` the one writable work folder; a private
    temporary one when None). Its own network namespace would cut the kernel's ZMQ sockets
    over TCP off from us, so a sandboxed kernel talks over ZMQ ``ipc`` (Unix sockets) in a
    private folder bound writable into the sandbox: the network stays shut. Interrupts then
    travel as ``interrupt_request`` messages (a signal cannot cross bwrap).

    Requires ``pip install 'eager[jupyter]'``.
    """

    name = "jupyter"

    def __init__(
        self,
        *,
        kernel_name: str = "python3",
        timeout_s: float | None = 60.0,
        output_dir: str | Path | None = None,
        max_output_bytes: int | None = MAX_OUTPUT_BYTES,
        restart_grace_s: float = RESTART_GRACE_S,
        cwd: str | Path | None = None,
        env: dict[str, str] | None = None,
        start_timeout_s: float = START_TIMEOUT_S,
        sandbox: SandboxPolicy | None = None,
    ) -> None:
        super().__init__(timeout_s, output_dir, max_output_bytes, restart_grace_s)
        self._kernel_name = kernel_name
        self._cwd = str(cwd) if cwd is not None else None
        self._env = env
        self._start_timeout_s = start_timeout_s
        if sandbox is not None and not isinstance(sandbox, SandboxPolicy):
            raise UsageError(f"sandbox must be a SandboxPolicy or None, not {sandbox!r}")
        #: The sandbox policy (None: no sandbox).
        self.sandbox = sandbox
        self._sandbox_setup: SandboxSetup | None = None
        self._sockets_dir: str | None = None
        self._km: Any = None
        self._kc: Any = None
        self._poller: Any = None
        self._pidfd: int | None = None
        self._pending: collections.deque[dict[str, Any]] = collections.deque()
        self._exited = False

    @property
    def pid(self) -> int | None:
        """The kernel's process id (sandboxed: the sandbox's); None when not running."""
        if self._km is None or self._kc is None:
            return None
        pid = getattr(self._km.provisioner, "pid", None)
        return pid if isinstance(pid, int) else None

    @property
    def alive(self) -> bool:
        """True while the kernel's process runs (False before the start, after a close, or
        once it died: the next ``execute`` restarts it, its state gone)."""
        if not super().alive or self._km is None or self._kc is None or self._exited:
            return False
        process = getattr(self._km.provisioner, "process", None)
        return process is None or process.poll() is None

    @property
    def _session_id(self) -> str:
        return str(self._kc.session.session)

    async def _open(self) -> None:
        try:
            from jupyter_client.manager import AsyncKernelManager
        except ImportError as exc:
            raise MissingExtraError("jupyter_client", "jupyter") from exc
        if self.sandbox is None:
            # Unix sockets, not TCP: no free-port race between processes starting kernels
            # at once (a TCP port found free may be taken before the kernel binds it).
            if self._sockets_dir is None:
                self._sockets_dir = tempfile.mkdtemp(prefix="eager-kernel-")
            self._km = AsyncKernelManager(
                kernel_name=self._kernel_name,
                transport="ipc",
                ip=os.path.join(self._sockets_dir, "kernel"),
                connection_file=os.path.join(self._sockets_dir, "kernel.json"),
            )
        else:
            self._km = self._sandboxed_manager(AsyncKernelManager)
        await self._launch()

    def _sandboxed_manager(self, base: type[Any]) -> Any:
        assert self.sandbox is not None
        if self._sandbox_setup is None:
            # Unix sockets in a folder of their own, writable inside: no network needed.
            self._sockets_dir = tempfile.mkdtemp(prefix="eager-kernel-")
            policy = dataclasses.replace(
                self.sandbox, writable_paths=(*self.sandbox.writable_paths, self._sockets_dir)
            )
            self._sandbox_setup = SandboxSetup(policy, cwd=self._cwd, python=sys.executable)
        setup = self._sandbox_setup
        assert self._sockets_dir is not None
        try:
            prefix = setup.command()
        except BackendStartError as exc:
            raise BackendStartError(f"{exc}; {SANDBOX_HINT}") from exc

        class SandboxedKernelManager(base):  # type: ignore[misc]
            def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
                # The connection file is written (by us, 0600) before this is asked for.
                setup.give(self.connection_file)
                # ipykernel leaves when its parent looks gone (getppid() == 1: bwrap's init
                # here); the sandbox dies with us anyway (--die-with-parent).
                unset = ["/usr/bin/env", "-u", "JPY_PARENT_PID"]
                return [*prefix, *unset, *super().format_kernel_cmd(extra_arguments)]

        km = SandboxedKernelManager(
            kernel_name=self._kernel_name,
            transport="ipc",
            ip=os.path.join(self._sockets_dir, "kernel"),
            connection_file=os.path.join(self._sockets_dir, "kernel.json"),
        )
        km.kernel_spec.interrupt_mode = "message"  # SIGINT cannot cross bwrap
        return km

    async def _launch(self) -> None:
        env = session_env(self._env)  # allow-listed, never keys or tokens; env= on top
        cwd = self._cwd
        if self._sandbox_setup is not None:
            env = self._sandbox_setup.env(env)
            env.setdefault("JUPYTER_RUNTIME_DIR", "/tmp/jupyter-runtime")
            cwd = self._sandbox_setup.work_dir
        env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
        # ipykernel stops capturing fd 1/2 (os.write, subprocesses) under this variable.
        env.pop("PYTEST_CURRENT_TEST", None)
        try:
            await asyncio.wait_for(
                self._km.start_kernel(
                    env=env,
                    cwd=cwd,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                ),
                self._start_timeout_s,
            )
            await self._connect()
        except Exception as exc:
            await self._shut()
            raise BackendStartError(
                f"could not start the Jupyter kernel {self._kernel_name!r}: {exc}"
            ) from exc

    async def _connect(self) -> None:
        import zmq
        import zmq.asyncio

        self._kc = self._km.client()
        self._kc.start_channels(shell=True, iopub=True, stdin=True, hb=False, control=False)
        await self._kc.wait_for_ready(timeout=self._start_timeout_s)
        self._pending.clear()
        self._exited = False
        self._poller = zmq.asyncio.Poller()
        self._poller.register(self._kc.iopub_channel.socket, zmq.POLLIN)
        self._poller.register(self._kc.shell_channel.socket, zmq.POLLIN)
        self._poller.register(self._kc.stdin_channel.socket, zmq.POLLIN)
        pid = getattr(self._km.provisioner, "pid", None)
        if pid is not None and hasattr(os, "pidfd_open"):
            with contextlib.suppress(OSError):
                self._pidfd = os.pidfd_open(pid)
                self._poller.register(self._pidfd, zmq.POLLIN)

    def _disconnect(self) -> None:
        if self._kc is not None:
            with contextlib.suppress(Exception):
                self._kc.stop_channels()
            self._kc = None
        self._poller = None
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None

    async def _shut(self) -> None:
        self._disconnect()
        km, self._km = self._km, None
        if km is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(km.shutdown_kernel(now=True), CLOSE_TIMEOUT_S)
        setup, self._sandbox_setup = self._sandbox_setup, None
        if setup is not None:
            setup.release()
        sockets, self._sockets_dir = self._sockets_dir, None
        if sockets is not None:
            shutil.rmtree(sockets, ignore_errors=True)

    async def _send(self, msg: dict[str, Any]) -> None:
        if self._kc is None:
            raise KernelLost("the kernel is not running")
        channel = (
            self._kc.stdin_channel if msg.get("channel") == "stdin" else self._kc.shell_channel
        )
        channel.send(msg)

    async def _recv(self, timeout_s: float | None) -> dict[str, Any] | None:
        if self._pending:
            return self._pending.popleft()
        if self._poller is None:
            raise KernelLost("the kernel is not running")
        if self._exited:
            raise KernelLost("the kernel process exited")
        wait_s = timeout_s
        if self._pidfd is None:
            wait_s = LIVENESS_POLL_S if wait_s is None else min(wait_s, LIVENESS_POLL_S)
        ready = dict(await self._poller.poll(None if wait_s is None else int(wait_s * 1000)))
        exited = self._pidfd is not None and self._pidfd in ready
        if not ready and self._pidfd is None:
            exited = not await self._km.is_alive()
        if exited:
            # What the kernel sent just before dying may still be in flight: collect it.
            self._exited = True
            ready = dict(await self._poller.poll(int(LAST_WORDS_S * 1000)))
        await self._drain(ready)
        if self._pending:
            return self._pending.popleft()
        if exited:
            raise KernelLost("the kernel process exited")
        return None

    async def _drain(self, ready: dict[Any, int]) -> None:
        import zmq

        kc = self._kc
        for socket in (kc.iopub_channel.socket, kc.shell_channel.socket, kc.stdin_channel.socket):
            if socket in ready:
                with contextlib.suppress(zmq.Again):
                    while True:
                        frames = await socket.recv_multipart(flags=zmq.NOBLOCK)
                        self._pending.append(self._deserialize(frames))

    def _deserialize(self, frames: list[bytes]) -> dict[str, Any]:
        # jupyter_client's Session.deserialize also parses every date in the headers, which
        # costs more than the rest of the client side of a round trip; we need none of them.
        session = self._kc.session
        _, parts = session.feed_identities(frames)
        if len(parts) < 5:
            raise BackendProtocolError(f"malformed kernel message ({len(parts)} frames)")
        if session.auth is not None and not hmac.compare_digest(
            bytes(parts[0]), session.sign(parts[1:5])
        ):
            raise BackendProtocolError("kernel message with a bad signature")
        try:
            return {
                "header": json.loads(parts[1]),
                "parent_header": json.loads(parts[2]),
                "content": json.loads(parts[4]),
            }
        except ValueError as exc:
            raise BackendProtocolError(f"kernel message is not JSON: {exc}") from exc

    async def _interrupt_kernel(self) -> None:
        if self._km is not None:
            with contextlib.suppress(Exception):
                await self._km.interrupt_kernel()

    async def _recover(self, lost: KernelLost | None) -> None:
        self._disconnect()
        if self._km is None:
            await self._open()
            return
        try:
            await asyncio.wait_for(
                self._km.restart_kernel(now=True), self._start_timeout_s + CLOSE_TIMEOUT_S
            )
            await self._connect()
        except Exception as exc:
            await self._shut()
            raise BackendStartError(f"could not restart the Jupyter kernel: {exc}") from exc
