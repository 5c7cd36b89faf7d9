"""What the Kernel Gateway backend adds to the contract: auth, reachability, dropped sockets."""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlsplit

import pytest

pytest.importorskip("kernel_gateway")
pytest.importorskip("websockets")

from eager import BackendStartError, GatewayBackend

from .shared_gateway import shared_gateway


class CuttingProxy:
    """A loopback TCP proxy that cuts every connection once ``marker`` went to the client."""

    def __init__(self, target_port: int, marker: bytes) -> None:
        self.target_port = target_port
        self.marker = marker
        self.cut = asyncio.Event()
        self.writers: list[asyncio.StreamWriter] = []
        self.server: asyncio.Server | None = None
        self.port = 0

    async def __aenter__(self) -> CuttingProxy:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._cut_all()
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    def _cut_all(self) -> None:
        for writer in self.writers:
            writer.transport.abort()
        self.writers.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self.writers += [writer, up_writer]

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, watch: bool) -> None:
            with contextlib.suppress(ConnectionError):
                while data := await src.read(1 << 16):
                    dst.write(data)
                    if watch and not self.cut.is_set() and self.marker in data:
                        await dst.drain()
                        self.cut.set()
                        self._cut_all()
                        return
            dst.close()

        await asyncio.gather(pipe(reader, up_writer, False), pipe(up_reader, writer, True))


@pytest.fixture
def gateway() -> tuple[str, str]:
    return shared_gateway()


async def test_a_bad_token_is_a_clear_start_error(gateway: tuple[str, str]) -> None:
    url, _ = gateway
    with pytest.raises(BackendStartError, match="refused the token"):
        await GatewayBackend(url=url, token="wrong").start()


async def test_an_unreachable_gateway_is_a_clear_start_error() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()  # the port is now closed: nobody listens there
    with pytest.raises(BackendStartError, match="cannot reach the Kernel Gateway"):
        await GatewayBackend(url=f"http://127.0.0.1:{port}", token="t").start()


async def test_a_dropped_websocket_reports_what_ran_and_the_next_call_reconnects(
    gateway: tuple[str, str],
) -> None:
    url, token = gateway
    proxy = CuttingProxy(urlsplit(url).port or 80, b"before-drop")
    async with proxy, GatewayBackend(url=f"http://127.0.0.1:{proxy.port}", token=token) as backend:
        assert (await backend.execute("x = 'kept'\n")).ok
        code = "print('before-drop', flush=True)\nimport time\ntime.sleep(60)\n"
        result = await backend.execute(code, first_line=2)
        assert proxy.cut.is_set()
        assert result.error is not None and result.error.kind == "crash"
        assert "connection" in result.error.evalue
        assert result.stdout == "before-drop\n"
        after = await backend.execute("print(x)\n", first_line=5)
        assert (after.stdout, after.error) == ("kept\n", None)


async def test_without_a_url_a_local_gateway_lives_as_long_as_the_backend() -> None:
    backend = GatewayBackend()
    async with backend:
        assert backend.url is not None and backend.url.startswith("http://127.0.0.1:")
        result = await backend.execute("print(__name__)\n")
        assert result.stdout == "__main__\n"
        url = backend.url
    with pytest.raises(BackendStartError):
        await GatewayBackend(url=url, token="x").start()
