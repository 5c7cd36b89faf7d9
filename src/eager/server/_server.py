"""The replay server running inside this event loop, for tests and benchmarks."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any

from .._errors import UsageError
from ..backends._base import AsyncResource
from ._answers import Answer, Recording
from ._app import bind, create_app, make_uvicorn

__all__ = ["SERVER_START_TIMEOUT_S", "ReplayServer"]

#: Longest wait for the server to start or stop.
SERVER_START_TIMEOUT_S = 10.0


class ReplayServer(AsyncResource):
    """The replay server running in this event loop, for tests and benchmarks.

    ``async with ReplayServer(answers, port=0) as server:`` serves on ``server.base_url``
    (OpenAI clients) and ``server.root_url`` (Anthropic clients, which append ``/v1/messages``);
    ``server.records`` collects the log records, :meth:`wait_records` waits for them.
    ``answers`` maps model names to :class:`Recording` or one-turn :class:`Answer` values;
    keyword arguments go to :func:`eager.server.create_app`.
    """

    def __init__(
        self,
        answers: Mapping[str, Answer | Recording],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        **app: Any,
    ) -> None:
        self.records: list[dict[str, Any]] = []
        self._changed = asyncio.Event()
        self.app = create_app(answers, log=self._log, **app)
        self.host = host
        self._sock = bind(host, port)
        self.port: int = self._sock.getsockname()[1]
        self._server: Any = None
        self._task: asyncio.Task[None] | None = None

    @property
    def root_url(self) -> str:
        """``http://HOST:PORT``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT/v1``."""
        return f"{self.root_url}/v1"

    def _log(self, record: dict[str, Any]) -> None:
        self.records.append(record)
        self._changed.set()

    async def wait_records(self, n: int = 1, *, timeout_s: float = 10.0) -> list[dict[str, Any]]:
        """Wait until ``n`` requests have finished; return all records."""
        async with asyncio.timeout(timeout_s):
            while len(self.records) < n:
                self._changed.clear()
                await self._changed.wait()
        return self.records

    async def start(self) -> None:
        """Start serving (idempotent); ``async with`` does it."""
        if self._server is not None:
            return
        server = make_uvicorn(self.app)
        server.capture_signals = contextlib.nullcontext  # the host process owns its signals
        self._server = server
        self._task = asyncio.create_task(server.serve(sockets=[self._sock]))
        async with asyncio.timeout(SERVER_START_TIMEOUT_S):
            while not server.started:
                if self._task.done():
                    await self._task
                    raise UsageError("the replay server stopped during start-up")
                await asyncio.sleep(0.005)

    async def close(self) -> None:
        """Stop serving and release the socket (idempotent); ``async with`` does it."""
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            done, _ = await asyncio.wait({self._task}, timeout=SERVER_START_TIMEOUT_S)
            if not done:
                self._task.cancel()
                await asyncio.wait({self._task}, timeout=SERVER_START_TIMEOUT_S)
        self._sock.close()
