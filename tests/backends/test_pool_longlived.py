"""A long-lived SessionPool: stale releases, sessions that died while idle, kept-session eviction."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time

import pytest

from eager import FakeBackend, PoolConfig, ReplBackend, SessionPool


async def has(backend: object, name: str) -> bool:
    result = await backend.execute(f"print({name!r} in globals())\n")  # type: ignore[attr-defined]
    return bool(result.stdout == "True\n")


async def test_a_release_asked_in_a_failing_block_applies_to_that_conversation_only() -> None:
    config = PoolConfig(size=1, max_sessions=2, on_return="keep")
    async with SessionPool(FakeBackend, config=config) as pool:
        with contextlib.suppress(RuntimeError):
            async with pool.session(key="a") as backend:
                await backend.execute("old = 1\n")
                await pool.release("a")
                raise RuntimeError("the block fails")
        # A later conversation under "a" keeps its state from its first turn on.
        async with pool.session(key="a") as backend:
            await backend.execute("fresh = 1\n")
        async with pool.session(key="a") as backend:
            assert await has(backend, "fresh") and not await has(backend, "old")


async def test_a_release_in_a_block_that_ends_well_resets_that_conversation() -> None:
    config = PoolConfig(size=1, max_sessions=2, on_return="keep")
    async with SessionPool(FakeBackend, config=config) as pool:
        async with pool.session(key="a") as backend:
            await backend.execute("old = 1\n")
            await pool.release("a")
        assert pool.stats().kept == 0
        async with pool.session(key="a") as backend:
            assert not await has(backend, "old")
            await backend.execute("new = 1\n")
        async with pool.session(key="a") as backend:
            assert await has(backend, "new")


class _Mortal(FakeBackend):
    """A fake session that can die while idle."""

    def __init__(self) -> None:
        super().__init__()
        self.dead = False

    @property
    def alive(self) -> bool:
        return not self.dead and super().alive


async def test_an_idle_session_found_dead_is_replaced_before_it_runs_anything() -> None:
    made: list[_Mortal] = []

    def factory() -> _Mortal:
        made.append(_Mortal())
        return made[-1]

    async with SessionPool(factory, config=PoolConfig(size=1)) as pool:
        made[0].dead = True  # killed while idle
        async with pool.session() as backend:
            assert (await backend.execute("print(1)\n")).stdout == "1\n"
            assert backend.inner is not made[0]  # type: ignore[attr-defined]
        stats = pool.stats()
        assert (stats.found_dead, stats.replaced) == (1, 1)
        assert made[0].closed


async def test_a_kept_session_found_dead_gives_its_key_a_fresh_one() -> None:
    made: list[_Mortal] = []

    def factory() -> _Mortal:
        made.append(_Mortal())
        return made[-1]

    async with SessionPool(factory, config=PoolConfig(size=1, on_return="keep")) as pool:
        async with pool.session(key="k") as backend:
            await backend.execute("x = 1\n")
            first = backend.inner  # type: ignore[attr-defined]
        first.dead = True
        async with pool.session(key="k") as backend:
            assert backend.inner is not first  # type: ignore[attr-defined]
            assert (await backend.execute("print(2)\n")).stdout == "2\n"
        assert pool.stats().found_dead == 1


async def test_a_pooled_repl_killed_while_idle_is_not_handed_out_warm() -> None:
    config = PoolConfig(size=1, max_sessions=1)
    async with SessionPool(lambda: ReplBackend(timeout_s=30), config=config) as pool:
        async with pool.session() as backend:
            pid = backend.inner.pid  # type: ignore[attr-defined]
        for _ in range(500):  # reset in the background, then idle
            if pool.stats().idle == 1:
                break
            await asyncio.sleep(0.01)
        os.kill(pid, signal.SIGKILL)  # the OOM killer, an operator
        await asyncio.sleep(0.3)
        async with pool.session() as backend:
            result = await backend.execute("print('innocent')\n")
        assert result.error is None and result.stdout == "innocent\n"
        assert pool.stats().found_dead == 1


async def test_a_started_repl_whose_child_died_restarts_at_start_and_at_execute() -> None:
    async with ReplBackend(timeout_s=30) as backend:
        await backend.execute("x = 1\n")
        os.kill(backend.pid, signal.SIGKILL)  # type: ignore[arg-type]
        await asyncio.sleep(0.3)
        assert not backend.alive
        await backend.start()
        assert backend.alive and backend.starts == 2
        os.kill(backend.pid, signal.SIGKILL)  # type: ignore[arg-type]
        await asyncio.sleep(0.3)
        result = await backend.execute("print('next')\n")
        assert result.error is None and result.stdout == "next\n" and backend.starts == 3


async def test_kept_sessions_idle_too_long_are_evicted() -> None:
    config = PoolConfig(size=1, max_sessions=3, on_return="keep", kept_idle_s=0.2)
    async with SessionPool(FakeBackend, config=config) as pool:
        async with pool.session(key="a") as backend:
            await backend.execute("mine = 1\n")
        assert pool.stats().kept == 1
        await asyncio.sleep(0.6)
        stats = pool.stats()
        assert (stats.kept, stats.evicted) == (0, 1)
        async with pool.session(key="a") as backend:
            assert not await has(backend, "mine")  # reset: no state of the old conversation


async def test_past_max_kept_the_least_recently_used_is_evicted() -> None:
    config = PoolConfig(size=1, max_sessions=4, on_return="keep", max_kept=2, kept_idle_s=None)
    async with SessionPool(FakeBackend, config=config) as pool:
        for key in ("a", "b"):
            async with pool.session(key=key) as backend:
                await backend.execute(f"{key} = 1\n")
        async with pool.session(key="a") as backend:  # "a" used last: "b" is the oldest
            pass
        async with pool.session(key="c") as backend:
            await backend.execute("c = 1\n")
        stats = pool.stats()
        assert (stats.kept, stats.evicted) == (2, 1)
        async with pool.session(key="a") as backend:
            assert await has(backend, "a")
        async with pool.session(key="b") as backend:
            assert not await has(backend, "b")


async def test_a_full_pool_of_kept_sessions_evicts_one_for_a_new_conversation() -> None:
    config = PoolConfig(size=1, max_sessions=2, on_return="keep", wait_timeout_s=2)
    async with SessionPool(FakeBackend, config=config) as pool:
        for key in ("a", "b"):
            async with pool.session(key=key) as backend:
                await backend.execute(f"{key} = 1\n")
        assert pool.stats().kept == 2
        async with pool.session(key="c") as backend:
            assert not await has(backend, "a") and not await has(backend, "b")
        stats = pool.stats()
        assert stats.evicted == 1 and stats.kept == 2


@pytest.mark.parametrize("bad", [{"kept_idle_s": 0}, {"max_kept": 0}, {"max_kept": True}])
def test_bad_eviction_settings_are_usage_errors(bad: dict[str, object]) -> None:
    from eager import UsageError

    with pytest.raises(UsageError):
        PoolConfig(**bad)  # type: ignore[arg-type]


async def test_an_idle_session_that_died_is_replaced_in_the_background(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from eager.backends import _pool

    monkeypatch.setattr(_pool, "SWEEP_S", 0.05)
    made: list[_Mortal] = []

    def factory() -> _Mortal:
        made.append(_Mortal())
        return made[-1]

    async with SessionPool(factory, config=PoolConfig(size=2)) as pool:
        made[0].dead = True
        for _ in range(100):
            if pool.stats().found_dead == 1 and pool.stats().idle == 2:
                break
            await asyncio.sleep(0.02)
        stats = pool.stats()
        assert (stats.found_dead, stats.idle, stats.started) == (1, 2, 3)
        assert made[0].closed


async def test_a_child_killed_before_the_event_loop_heard_of_it_is_still_found_dead() -> None:
    async with ReplBackend(timeout_s=30) as backend:
        await backend.execute("x = 1\n")
        os.kill(backend.pid, signal.SIGKILL)  # type: ignore[arg-type]
        time.sleep(0.2)  # noqa: ASYNC251 - on purpose: the loop must not see the exit first
        result = await backend.execute("print('innocent')\n")
        assert result.error is None and result.stdout == "innocent\n"
        assert backend.starts == 2
