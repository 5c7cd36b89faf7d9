"""The runtime marks the end of generation before it closes the source's stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from eager import FakeBackend, Source, run


class _SlowClose:
    """An async iterator over deltas whose ``aclose`` takes a while (an HTTP close, say)."""

    def __init__(self, deltas: list[str]) -> None:
        self.deltas = deltas
        self.closing = asyncio.Event()

    def __aiter__(self) -> _SlowClose:
        return self

    async def __anext__(self) -> str:
        if not self.deltas:
            raise StopAsyncIteration
        await asyncio.sleep(0)
        return self.deltas.pop(0)

    async def aclose(self) -> None:
        self.closing.set()
        await asyncio.sleep(0.5)


class _Source(Source):
    format = "code"

    def __init__(self, deltas: list[str]) -> None:
        super().__init__()
        self.it = _SlowClose(deltas)

    def __aiter__(self) -> AsyncIterator[str]:
        return self.it

    async def stream(self) -> AsyncIterator[str]:  # pragma: no cover - __aiter__ is used
        yield ""


async def test_a_batch_failing_while_the_stream_closes_finds_generation_ended() -> None:
    source = _Source(["x = 1\n", "y = 1 / 0\n"])
    backend = FakeBackend(delay_s=0.05)  # the batch fails while the stream is being closed
    result = await asyncio.wait_for(run(source, backend), 10)
    assert result.error is not None and result.error.ename == "ZeroDivisionError"
    assert source.it.closing.is_set()
    # Generation had ended (every token came) before the batch failed: nothing was cut.
    assert not result.interrupted and result.code == "x = 1\ny = 1 / 0\n"
