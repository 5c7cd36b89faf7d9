"""PushSource and IteratorSource: streams the caller owns, with cancellation reported back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from eager import (
    FakeBackend,
    IteratorSource,
    PushSource,
    StreamError,
    UsageError,
    run,
)


async def collect(src: PushSource | IteratorSource) -> list[str]:
    return [d async for d in src]


# --- PushSource ------------------------------------------------------------------------------


async def test_fed_deltas_stream_in_order_until_end() -> None:
    src = PushSource(format="code")
    assert src.feed("a = 1\n", "b = 2\n") is True
    src.feed("c = 3\n")
    src.end()
    src.end()  # idempotent
    assert await collect(src) == ["a = 1\n", "b = 2\n", "c = 3\n"]
    assert src.tokens_generated == 3 and src.format == "code"


async def test_fail_raises_the_error_after_the_deltas_before_it() -> None:
    src = PushSource()
    src.feed("x")
    src.fail(StreamError("engine died"))
    got: list[str] = []
    with pytest.raises(StreamError, match="engine died"):
        async for d in src:
            got.append(d)
    assert got == ["x"]


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_a_run_that_fails_reports_the_cancellation_to_the_pusher(kind: str) -> None:
    calls: list[str] = []

    async def on_cancel_async() -> None:
        calls.append("async")

    def on_cancel_sync() -> None:
        calls.append("sync")

    src = PushSource(format="code", on_cancel=on_cancel_sync if kind == "sync" else on_cancel_async)
    backend = FakeBackend()
    async with backend:
        task = asyncio.create_task(run(src, backend))
        src.feed("x = 1\n", "y = 1 / 0\n", "z = ")
        await asyncio.wait_for(src.cancel_requested.wait(), 10)  # the engine learns it here
        assert src.feed("more\n") is False  # dropped: generation was cancelled
        result = await task
    assert calls == [kind]
    assert result.error is not None and result.error.ename == "ZeroDivisionError"
    assert result.interrupted and src.cancelled


async def test_drained_is_set_when_everything_fed_was_read() -> None:
    src = PushSource()
    stream = src.stream()
    src.feed("a", "b")
    assert [await anext(stream), await anext(stream)] == ["a", "b"]
    reader = asyncio.create_task(anext(stream))
    await asyncio.wait_for(src.drained.wait(), 10)
    src.feed("c")
    assert await reader == "c"
    await src.aclose()
    await stream.aclose()


def test_bad_use_is_a_usage_error() -> None:
    src = PushSource()
    with pytest.raises(UsageError, match="str"):
        src.feed(b"bytes")  # type: ignore[arg-type]
    src.end()
    with pytest.raises(UsageError, match="after end"):
        src.feed("late")


async def test_a_push_source_is_iterated_once() -> None:
    src = PushSource()
    src.end()
    await collect(src)
    with pytest.raises(UsageError, match="once"):
        await collect(src)


# --- IteratorSource --------------------------------------------------------------------------


async def test_an_async_generator_is_a_source() -> None:
    async def gen() -> AsyncIterator[str]:
        for piece in ("print(", "1)\n", ""):
            yield piece

    src = IteratorSource(gen(), format="code")
    assert await collect(src) == ["print(", "1)\n"]  # empty pieces are not deltas
    assert src.tokens_generated == src.tokens_total == 2


async def test_cancelling_closes_the_generator_and_calls_back_once() -> None:
    closed = asyncio.Event()
    waiting = asyncio.Event()
    calls: list[int] = []

    async def gen() -> AsyncIterator[str]:
        try:
            yield "a = 1\n"
            waiting.set()
            await asyncio.Event().wait()  # the engine is slow: only a cancel ends this
            yield "never"
        finally:
            closed.set()

    src = IteratorSource(gen(), on_cancel=lambda: calls.append(1), format="code")
    stream = src.stream()
    assert await anext(stream) == "a = 1\n"
    await asyncio.wait_for(waiting.wait(), 10)
    await src.aclose()
    await src.aclose()
    await asyncio.wait_for(closed.wait(), 10)
    await stream.aclose()
    assert calls == [1] and src.cancelled


async def test_a_failing_iterator_is_a_stream_error_after_its_deltas() -> None:
    async def gen() -> AsyncIterator[str]:
        yield "a = 1\n"
        raise ConnectionResetError("engine gone")

    got: list[str] = []
    with pytest.raises(StreamError, match="engine gone") as info:
        async for d in IteratorSource(gen()):
            got.append(d)
    assert got == ["a = 1\n"] and isinstance(info.value.__cause__, ConnectionResetError)


async def test_an_iterator_of_non_text_is_a_stream_error() -> None:
    async def gen() -> AsyncIterator[object]:
        yield 42

    with pytest.raises(StreamError, match="int, not a str"):
        await collect(IteratorSource(gen()))  # type: ignore[arg-type]


def test_a_sync_iterable_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="async iterable"):
        IteratorSource(["a"])  # type: ignore[arg-type]
