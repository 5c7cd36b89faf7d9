"""A local Jupyter Kernel Gateway: a ``jupyter-kernelgateway`` process on loopback, for tests."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import importlib.util
import os
import re
import secrets
import socket
import sys

from ..._errors import BackendStartError, MissingExtraError
from .._base import CLOSE_TIMEOUT_S, AsyncResource
from .._env import scrub_env

__all__ = ["LocalGateway"]

#: Bound on a local gateway's start-up (it prints its URL when it listens).
GATEWAY_START_TIMEOUT_S = 60.0
#: How often a local gateway checks that its kernels are alive (the restarter's period).
LOCAL_TIME_TO_DEAD_S = 0.2

_AVAILABLE = re.compile(r"is available at (http://\S+)")


class LocalGateway(AsyncResource):
    """A ``jupyter-kernelgateway`` on 127.0.0.1, an ephemeral port and a random token.

    ``start`` returns once the gateway listens (it announces its URL); ``close`` (or its
    alias ``stop``) terminates it, bounded by :data:`CLOSE_TIMEOUT_S`. An async context
    manager. ``url`` and ``token`` are set once started.
    """

    def __init__(
        self,
        *,
        token: str | None = None,
        python: str = sys.executable,
        start_timeout_s: float = GATEWAY_START_TIMEOUT_S,
        time_to_dead_s: float = LOCAL_TIME_TO_DEAD_S,
    ) -> None:
        self.token = token if token is not None else secrets.token_urlsafe(24)
        self.url = ""
        self._python = python
        self._start_timeout_s = start_timeout_s
        self._time_to_dead_s = time_to_dead_s
        self._process: asyncio.subprocess.Process | None = None
        self._log: collections.deque[str] = collections.deque(maxlen=40)
        self._drain: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the gateway and wait until it listens (idempotent)."""
        if self._process is not None:
            return
        if importlib.util.find_spec("kernel_gateway") is None:
            raise MissingExtraError("jupyter_kernel_gateway", "gateway")
        for _ in range(3):  # the free port we picked may be taken before the gateway binds it
            if await self._try_start():
                return
        raise BackendStartError("the local Kernel Gateway did not start:\n" + "\n".join(self._log))

    async def _try_start(self) -> bool:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        # The gateway gets the scrubbed environment; its kernels get PATH and the names listed
        # in KG_ENV_PROCESS_WHITELIST only (we send "env" when starting one), never the token.
        env = scrub_env()
        env.update(
            KG_ENV_PROCESS_WHITELIST=",".join(sorted(env)),
            KG_IP="127.0.0.1",
            KG_PORT=str(port),
            KG_PORT_RETRIES="0",
            KG_AUTH_TOKEN=self.token,  # not on the command line: `ps` would show it
            PYDEVD_DISABLE_FILE_VALIDATION="1",
        )
        self._process = await asyncio.create_subprocess_exec(
            self._python,
            "-m",
            "kernel_gateway",
            f"--KernelRestarter.time_to_dead={self._time_to_dead_s}",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            start_new_session=True,
        )
        try:
            url = await asyncio.wait_for(self._announced(), self._start_timeout_s)
        except TimeoutError:
            url = None
        if url is None:
            await self.close()
            return False
        self.url = url.replace("http://0.0.0.0", "http://127.0.0.1")
        assert self._process is not None and self._process.stderr is not None
        self._drain = asyncio.create_task(self._keep_draining(self._process.stderr))
        return True

    async def _announced(self) -> str | None:
        assert self._process is not None and self._process.stderr is not None
        while line := await self._process.stderr.readline():
            text = line.decode("utf-8", "replace").rstrip()
            self._log.append(text)
            if (found := _AVAILABLE.search(text)) is not None:
                return found.group(1)
        return None

    async def _keep_draining(self, stderr: asyncio.StreamReader) -> None:
        # The gateway logs every request: keep reading so its stderr pipe never fills.
        while data := await stderr.read(1 << 16):
            self._log.extend(data.decode("utf-8", "replace").splitlines())

    async def stop(self) -> None:
        """Terminate the gateway and its kernels: :meth:`close`."""
        await self.close()

    async def close(self) -> None:
        """Terminate the gateway and its kernels (idempotent, bounded)."""
        process, self._process = self._process, None
        drain, self._drain = self._drain, None
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            try:
                await asyncio.wait_for(asyncio.shield(process.wait()), CLOSE_TIMEOUT_S)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, 9)
                await process.wait()
        if drain is not None:
            drain.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await drain
