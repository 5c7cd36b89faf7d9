"""The replay source: BPE-like token cuts, an absolute schedule, determinism, cancellation."""

from __future__ import annotations

import asyncio
import itertools
import sysconfig
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eager import ReplaySource, UsageError, tokenize

T = TypeVar("T")

STDLIB = Path(sysconfig.get_paths()["stdlib"])
#: A fixed, varied sample of real code nobody here wrote.
STDLIB_FILES = sorted(
    p
    for p in [
        *STDLIB.glob("*.py"),
        *(STDLIB / "json").glob("*.py"),
        *(STDLIB / "asyncio").glob("*.py"),
        *(STDLIB / "email").glob("*.py"),
    ]
    if p.stat().st_size < 200_000
)[::7]


def _read(path: Path) -> str:
    return path.read_bytes().decode("utf-8", "surrogateescape")


# -- tokenize -----------------------------------------------------------------------------------


def test_the_stdlib_sample_is_big_enough() -> None:
    assert len(STDLIB_FILES) >= 30


@pytest.mark.parametrize("path", STDLIB_FILES, ids=[p.name for p in STDLIB_FILES])
def test_tokens_join_back_to_a_real_file_exactly(path: Path) -> None:
    text = _read(path)
    tokens = tokenize(text)
    assert "".join(tokens) == text
    assert all(tokens), "no empty token"


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_tokens_join_back_to_any_text(text: str) -> None:
    assert "".join(tokenize(text)) == text


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("abc_XY 019\t\n\r()[]{}:.,'\"#=+-*/\\é日"))))
def test_tokens_join_back_to_code_like_text(text: str) -> None:
    tokens = tokenize(text)
    assert "".join(tokens) == text
    assert all(tokens)


def test_mean_characters_per_token_is_like_a_bpe_tokenizer_on_code() -> None:
    chars = tokens = 0
    for path in STDLIB_FILES:
        text = _read(path)
        chars += len(text)
        tokens += len(tokenize(text))
    mean = chars / tokens
    assert 3.0 <= mean <= 6.0, mean


def test_long_identifiers_are_split_into_sub_words() -> None:
    tokens = tokenize("result = compute_something_very_long(x)\n")
    assert "".join(tokens) == "result = compute_something_very_long(x)\n"
    assert max(len(t) for t in tokens) <= 10


# -- schedule -----------------------------------------------------------------------------------


def test_the_schedule_is_absolute_without_jitter() -> None:
    source = ReplaySource("x = 1\n" * 500, tps=50.0, ttft_s=0.25)
    assert source.schedule[0] == 0.25
    for i, due in enumerate(source.schedule):
        assert due == pytest.approx(0.25 + i / 50.0, abs=1e-9)


def test_jittered_schedules_are_deterministic_per_seed_and_never_go_back() -> None:
    text = "for i in range(10):\n    print(i)\n" * 50
    a = ReplaySource(text, tps=40.0, jitter=0.5, seed=7).schedule
    b = ReplaySource(text, tps=40.0, jitter=0.5, seed=7).schedule
    c = ReplaySource(text, tps=40.0, jitter=0.5, seed=8).schedule
    assert a == b and a != c
    assert all(later >= earlier for earlier, later in itertools.pairwise(a))
    mean_gap = (a[-1] - a[0]) / (len(a) - 1)
    assert mean_gap == pytest.approx(1 / 40.0, rel=0.15)
    # The tokens themselves never depend on the seed.
    assert ReplaySource(text, seed=1).tokens == ReplaySource(text, seed=2).tokens


@pytest.mark.parametrize(
    "options", [{"tps": 0}, {"tps": -5}, {"ttft_s": -1}, {"jitter": -0.1}], ids=str
)
def test_bad_rates_are_usage_errors(options: dict[str, float]) -> None:
    with pytest.raises(UsageError):
        ReplaySource("x = 1\n", **options)  # type: ignore[arg-type]


# -- streaming on a virtual clock ---------------------------------------------------------------


class VirtualClockLoop(asyncio.SelectorEventLoop):
    """An event loop whose clock jumps to the next timer when nothing is ready to run.

    Sleeps take no real time, and the times a stream sees are exact: tests of the schedule
    need no real waiting and make no timed assertions. ``work(s)`` makes the running code
    "take" ``s`` seconds.
    """

    def __init__(self) -> None:
        super().__init__()
        self.now = 1000.0

    def time(self) -> float:
        return self.now

    def work(self, seconds: float) -> None:
        self.now += seconds

    def _run_once(self) -> None:
        # CPython's private queues: the loop runs ``_ready`` now and ``_scheduled`` later.
        ready: Any = self._ready  # type: ignore[attr-defined]
        scheduled: Any = self._scheduled  # type: ignore[attr-defined]
        if not ready and scheduled:
            self.now = max(self.now, scheduled[0].when())
        super()._run_once()


def _on_virtual_clock(main: Callable[[VirtualClockLoop], Coroutine[Any, Any, T]]) -> T:
    loop = VirtualClockLoop()
    try:
        return loop.run_until_complete(main(loop))
    finally:
        loop.close()


def test_tokens_arrive_exactly_on_schedule() -> None:
    async def main(loop: VirtualClockLoop) -> tuple[list[float], ReplaySource]:
        source = ReplaySource("value = compute(1, 2)\n" * 20, tps=100.0, ttft_s=0.5)
        start = loop.time()
        arrivals = [loop.time() - start async for _ in source]
        return arrivals, source

    arrivals, source = _on_virtual_clock(main)
    assert arrivals == pytest.approx(source.schedule, abs=1e-9)
    assert source.tokens_generated == source.tokens_total == len(source.tokens)


def test_a_slow_consumer_does_not_shift_the_schedule() -> None:
    # A consumer that takes 0.3 s on token 5: later tokens are due at their absolute times,
    # so the overdue ones come at once and the stream is back on schedule (no drift).
    async def main(loop: VirtualClockLoop) -> tuple[list[float], ReplaySource]:
        source = ReplaySource("total = total + item\n" * 40, tps=50.0)
        start = loop.time()
        arrivals = []
        async for _ in source:
            arrivals.append(loop.time() - start)
            if len(arrivals) == 6:
                loop.work(0.3)
        return arrivals, source

    arrivals, source = _on_virtual_clock(main)
    due = source.schedule
    stall_end = due[5] + 0.3
    for i, t in enumerate(arrivals):
        assert t == pytest.approx(max(due[i], stall_end) if i > 5 else due[i], abs=1e-9)
    assert arrivals[-1] == pytest.approx(due[-1], abs=1e-9)


def test_a_consumer_slow_on_every_token_gets_the_tokens_as_fast_as_it_reads() -> None:
    async def main(loop: VirtualClockLoop) -> tuple[float, ReplaySource]:
        source = ReplaySource("x = 1\n" * 30, tps=100.0)
        start = loop.time()
        async for _ in source:
            loop.work(0.005)  # half the gap: the stream still sets the pace
        return loop.time() - start, source

    elapsed, source = _on_virtual_clock(main)
    assert elapsed == pytest.approx(source.schedule[-1] + 0.005, abs=1e-9)


def test_closing_the_source_stops_the_stream_at_once() -> None:
    async def main(loop: VirtualClockLoop) -> tuple[int, ReplaySource, float]:
        source = ReplaySource("y = 2\n" * 100, tps=10.0)
        got = 0
        start = loop.time()
        async for _ in source:
            got += 1
            if got == 3:
                await source.aclose()
        return got, source, loop.time() - start

    got, source, elapsed = _on_virtual_clock(main)
    assert got == 3 and source.cancelled
    assert source.tokens_generated == 3 < (source.tokens_total or 0)
    assert elapsed == pytest.approx(source.schedule[2], abs=1e-9), "no wait for the next token"


async def test_cancelling_a_waiting_consumer_stops_the_stream() -> None:
    source = ReplaySource("z = 3\n" * 10, tps=0.01, ttft_s=0.0)  # the second token is far away
    first = asyncio.Event()

    async def consume() -> None:
        async for _ in source:
            first.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert source.tokens_generated == 1
