"""The Jupyter Kernel Gateway backend: a kernel behind REST + websocket (the ``gateway`` extra)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..._errors import BackendProtocolError, BackendStartError, MissingExtraError
from .._base import CLOSE_TIMEOUT_S, RESTART_GRACE_S
from .._report import MAX_OUTPUT_BYTES
from . import _protocol as proto
from ._kernel import SETUP_TIMEOUT_S, KernelBackend, KernelLost
from ._launcher import LocalGateway

__all__ = ["GatewayBackend"]

#: Bound on one REST call (create, interrupt, restart, delete).
HTTP_TIMEOUT_S = 30.0
#: Bound on opening a kernel's websocket. The server holds the handshake until the kernel
#: answers ``kernel_info`` and gives up waiting after its own ``kernel_info_timeout`` (60 s by
#: default), opening anyway; a new kernel on a loaded machine can take longer than a REST call,
#: so this outlasts the server's own wait instead of failing a slow start at 30 s.
WS_OPEN_TIMEOUT_S = 75.0


class GatewayBackend(KernelBackend):
    """A kernel behind a Jupyter Kernel Gateway (or any server with its REST + websocket API).

    REST creates, interrupts, restarts and deletes the kernel; messages go over the kernel's
    websocket channel. ``token`` is sent as ``Authorization: token …``. With ``url=None`` the
    backend starts a :class:`LocalGateway` in :meth:`start` and stops it in :meth:`close`.

    Semantics are :class:`~eager.JupyterBackend`'s. A kernel that dies is reported at once
    when the gateway says so (status ``restarting``/``dead``); a websocket dropped during an
    execution returns what ran before with an error of kind ``"crash"``, and the next call
    reconnects. An unreachable gateway or a refused token raise
    :class:`~eager.BackendStartError`.

    Requires ``pip install 'eager[gateway]'``.
    """

    name = "gateway"

    def __init__(
        self,
        *,
        url: str | None = None,
        token: str | None = None,
        kernel_name: str = "python3",
        timeout_s: float | None = 60.0,
        output_dir: str | Path | None = None,
        max_output_bytes: int | None = MAX_OUTPUT_BYTES,
        restart_grace_s: float = RESTART_GRACE_S,
        cwd: str | None = None,
    ) -> None:
        super().__init__(timeout_s, output_dir, max_output_bytes, restart_grace_s)
        self._chdir = cwd  # a directory on the kernel's host
        self._url = url.rstrip("/") if url else None
        self._token = token
        self._kernel_name = kernel_name
        self._local: LocalGateway | None = None
        self._http: Any = None
        self._ws: Any = None
        self._kernel_id: str | None = None
        self._sid = secrets.token_hex(16)
        self._sock: Any = None
        self._quickack: int | None = None

    @property
    def url(self) -> str | None:
        """The gateway's base URL (set once started when it is a local one)."""
        return self._url

    @property
    def _session_id(self) -> str:
        return self._sid

    # -- REST ----------------------------------------------------------------------------

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        import httpx

        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise BackendStartError(
                f"cannot reach the Kernel Gateway at {self._url}: {exc}"
            ) from exc
        if response.status_code in (401, 403):
            raise BackendStartError(
                f"the Kernel Gateway at {self._url} refused the token "
                f"(HTTP {response.status_code}): pass --gateway-token / EAGER_GATEWAY_TOKEN"
            )
        if response.status_code >= 400:
            raise BackendProtocolError(
                f"Kernel Gateway: {method} {path} failed with HTTP {response.status_code}: "
                f"{response.text[:300]}"
            )
        return response.json() if response.content else None

    async def _open(self) -> None:
        try:
            import httpx
            import websockets  # noqa: F401
        except ImportError as exc:
            raise MissingExtraError(exc.name or "websockets", "gateway") from exc
        if self._url is None:
            self._local = LocalGateway(token=self._token)
            await self._local.start()
            self._url, self._token = self._local.url, self._local.token
        headers = {"Authorization": f"token {self._token}"} if self._token else {}
        self._http = httpx.AsyncClient(
            base_url=self._url, headers=headers, timeout=HTTP_TIMEOUT_S, trust_env=False
        )
        try:
            await self._new_kernel()
            await self._connect()
        except BaseException:
            await self._shut()
            raise

    async def _new_kernel(self) -> None:
        kernel = await self._call(
            "POST", "/api/kernels", json={"name": self._kernel_name, "env": {}}
        )
        if not isinstance(kernel, dict) or "id" not in kernel:
            raise BackendProtocolError(f"Kernel Gateway: unexpected answer {kernel!r:.200}")
        self._kernel_id = str(kernel["id"])

    async def _connect(self) -> None:
        from websockets.asyncio.client import connect
        from websockets.exceptions import InvalidStatus, WebSocketException

        assert self._url is not None
        parts = urlsplit(self._url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        path = f"{parts.path}/api/kernels/{self._kernel_id}/channels"
        uri = urlunsplit((scheme, parts.netloc, path, f"session_id={self._sid}", ""))
        headers = {"Authorization": f"token {self._token}"} if self._token else {}
        try:
            self._ws = await connect(
                uri,
                additional_headers=headers,
                max_size=None,
                compression=None,
                open_timeout=WS_OPEN_TIMEOUT_S,
                ping_interval=None,
                proxy=None,
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            what = "refused the token" if status in (401, 403) else f"answered HTTP {status}"
            raise BackendStartError(f"the Kernel Gateway websocket {what}") from exc
        except (OSError, TimeoutError, WebSocketException) as exc:
            raise BackendStartError(f"cannot open the kernel websocket at {uri}: {exc}") from exc
        sock = self._ws.transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            # Nagle + delayed ACK cost ~40 ms per round trip on loopback (DESIGN.md §8).
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._quickack = getattr(socket, "TCP_QUICKACK", None)
        else:
            self._quickack = None
        self._sock = sock

    async def _close_ws(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), CLOSE_TIMEOUT_S)

    async def _shut(self) -> None:
        await self._close_ws()
        kernel_id, self._kernel_id = self._kernel_id, None
        if self._http is not None:
            if kernel_id is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(
                        self._http.delete(f"/api/kernels/{kernel_id}"), CLOSE_TIMEOUT_S
                    )
            with contextlib.suppress(Exception):
                await self._http.aclose()
            self._http = None
        local, self._local = self._local, None
        if local is not None:
            await local.stop()
            self._url = None

    # -- messages ------------------------------------------------------------------------

    async def _send(self, msg: dict[str, Any]) -> None:
        from websockets.exceptions import ConnectionClosed

        if self._ws is None:
            raise KernelLost("the websocket is closed", channel=True)
        try:
            await self._ws.send(json.dumps(msg, ensure_ascii=True))
        except ConnectionClosed as exc:
            raise KernelLost(f"the websocket closed: {exc}", channel=True) from exc

    async def _recv(self, timeout_s: float | None) -> dict[str, Any] | None:
        from websockets.exceptions import ConnectionClosed

        if self._ws is None:
            raise KernelLost("the websocket is closed", channel=True)
        if self._quickack is not None:
            with contextlib.suppress(OSError):  # not sticky: the kernel resets it, set each time
                self._sock.setsockopt(socket.IPPROTO_TCP, self._quickack, 1)
        try:
            async with asyncio.timeout(timeout_s):
                data = await self._ws.recv()
        except TimeoutError:
            return None
        except ConnectionClosed as exc:
            self._ws = None
            raise KernelLost(f"the websocket closed: {exc}", channel=True) from exc
        try:
            msg = json.loads(data)
        except ValueError as exc:
            raise BackendProtocolError(f"Kernel Gateway sent a non-JSON message: {exc}") from exc
        if not isinstance(msg, dict):
            raise BackendProtocolError("Kernel Gateway sent a message that is not an object")
        return msg

    async def _interrupt_kernel(self) -> None:
        if self._http is not None and self._kernel_id is not None:
            with contextlib.suppress(Exception):
                await self._call("POST", f"/api/kernels/{self._kernel_id}/interrupt")

    async def _kernel_answers(self, timeout_s: float) -> bool:
        """Send ``kernel_info_request`` every so often until one is answered (True) or
        ``timeout_s`` passed (False); other messages are dropped (nothing runs meanwhile)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        sent: set[str] = set()
        wait = 0.2
        try:
            while loop.time() < deadline:
                msg = proto._message("kernel_info_request", {}, session=self._session_id)
                sent.add(msg["header"]["msg_id"])
                await self._send(msg)
                until = min(deadline, loop.time() + wait)
                while (remaining := until - loop.time()) > 0:
                    reply = await self._recv(remaining)
                    if reply is None:
                        break
                    parent = reply.get("parent_header") or {}
                    if (
                        reply.get("msg_type") == "kernel_info_reply"
                        or (reply.get("header") or {}).get("msg_type") == "kernel_info_reply"
                    ) and parent.get("msg_id") in sent:
                        return True
                wait = min(wait * 2, 2.0)
        except KernelLost:
            return False
        return False

    async def _recover(self, lost: KernelLost | None) -> None:
        if self._http is None or self._kernel_id is None:
            await self._shut()
            await self._open()
            return
        if lost is not None and lost.channel:
            # The kernel may still run the dropped execution: reconnect, then interrupt it.
            await self._close_ws()
            await self._connect()
            await self._interrupt_kernel()
            return
        # The gateway restarts a dead kernel itself; a request sent before the new kernel is
        # connected is lost (under load that window is seconds long, and the setup cell then
        # waited in vain): ask until it answers, else restart it through REST.
        if (
            lost is not None
            and "restarting" in lost.reason
            and await self._kernel_answers(SETUP_TIMEOUT_S)
        ):
            return
        await self._close_ws()
        try:
            await self._call("POST", f"/api/kernels/{self._kernel_id}/restart")
        except BackendProtocolError:  # the kernel is gone: start a new one
            await self._new_kernel()
        await self._connect()
