"""SessionPool: warm sessions, return policies, replacement, bounds, shutdown, many runs."""

from __future__ import annotations

import asyncio
import contextlib
import os

import pytest

from eager import (
    Backend,
    BackendError,
    BackendStartError,
    FakeBackend,
    PoolConfig,
    PoolExhaustedError,
    ReplaySource,
    ReplBackend,
    SessionPool,
    UsageError,
    run,
)


def _repl() -> Backend:
    return ReplBackend(timeout_s=30, restart_grace_s=0.5)


def children() -> set[int]:
    """Child processes of this process (all its threads)."""
    pids: set[int] = set()
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/children") as f:
                pids.update(int(p) for p in f.read().split())
        except FileNotFoundError:
            pass  # the thread ended meanwhile
    return pids


def open_pipes() -> int:
    """Pipes open in this process: what a REPL session holds (4 each). Sockets and event fds
    are left out: a Ray driver started by other tests of the session opens and closes them
    on its own threads."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(FileNotFoundError):  # closed meanwhile (the listing's own)
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("pipe:")
    return count


async def _pid(backend: Backend) -> int:
    result = await backend.execute("import os\nprint(os.getpid())\n")
    assert result.ok, result.error
    return int(result.stdout)


# ---------------------------------------------------------------------------- config


@pytest.mark.parametrize(
    "options",
    [
        {"size": -1},
        {"size": 4, "max_sessions": 2},
        {"max_waiters": -1},
        {"wait_timeout_s": -1.0},
        {"on_return": "recycle"},
        {"start_timeout_s": 0},
        {"max_concurrent_starts": 0},
    ],
)
def test_bad_config_is_a_usage_error(options: dict[str, object]) -> None:
    with pytest.raises(UsageError):
        PoolConfig(**options)  # type: ignore[arg-type]


async def test_a_key_needs_the_keep_policy() -> None:
    async with SessionPool(FakeBackend, config=PoolConfig(size=1)) as pool:
        with pytest.raises(UsageError, match="keep"):
            async with pool.session(key="conv-1"):
                pass


async def test_a_pool_must_be_started_before_a_checkout() -> None:
    pool = SessionPool(FakeBackend)
    with pytest.raises(BackendError, match="not open"):
        async with pool.session():
            pass


# ---------------------------------------------------------------------------- warm sessions


async def test_sessions_are_started_ahead_of_demand_with_the_preload() -> None:
    config = PoolConfig(size=2, preload="import json\nPRELOADED = 'yes'\n")
    async with SessionPool(_repl, config=config) as pool:
        stats = pool.stats()
        assert (stats.idle, stats.started, stats.in_use) == (2, 2, 0)
        async with pool.session() as backend:
            assert pool.stats().in_use == 1
            result = await backend.execute("import sys\nprint(PRELOADED, 'json' in sys.modules)\n")
            assert result.stdout == "yes True\n"


async def test_a_failing_preload_is_a_start_error() -> None:
    before = children()
    pool = SessionPool(_repl, config=PoolConfig(size=1, preload="import no_such_module_here\n"))
    with pytest.raises(BackendStartError, match="ModuleNotFoundError"):
        await pool.start()
    assert pool.stats().failed_starts == 1
    assert children() <= before


async def test_a_factory_that_cannot_start_fails_the_pools_start(tmp_path: object) -> None:
    pool = SessionPool(lambda: ReplBackend(python="/no/such/python"), config=PoolConfig(size=2))
    with pytest.raises(BackendStartError, match="no/such/python"):
        await pool.start()
    assert pool.stats().failed_starts == 2


async def test_a_failed_start_on_demand_fails_the_waiter_not_hangs() -> None:
    made: list[int] = []

    def factory() -> Backend:
        made.append(1)
        return FakeBackend() if len(made) == 1 else ReplBackend(python="/no/such/python")

    config = PoolConfig(size=1, max_sessions=2, on_return="keep")
    async with SessionPool(factory, config=config) as pool, pool.session():
        with pytest.raises(BackendStartError):
            async with pool.session():
                pass
        assert pool.stats().failed_starts >= 1  # the warm top-up may have failed first


async def test_a_start_that_fails_once_the_factory_has_worked_is_tried_again() -> None:
    # A session killed while it starts (the soak's session killer) says nothing about the next
    # one: the waiter gets a session, not that start's error.
    made: list[str] = []

    def factory() -> Backend:
        made.append("bad" if len(made) == 1 else "ok")
        return FakeBackend() if made[-1] == "ok" else ReplBackend(python="/no/such/python")

    config = PoolConfig(size=1, max_sessions=2, on_return="keep")
    async with SessionPool(factory, config=config) as pool, pool.session():
        async with pool.session() as second:
            assert (await second.execute("print('up')\n")).stdout == "up\n"
        assert made == ["ok", "bad", "ok"]
        assert pool.stats().failed_starts == 1


# ---------------------------------------------------------------------------- return policies


async def test_reset_policy_gives_the_same_process_with_a_fresh_namespace() -> None:
    async with SessionPool(_repl, config=PoolConfig(size=1, on_return="reset")) as pool:
        async with pool.session() as backend:
            first = await _pid(backend)
            await backend.execute("secret = 1\n")
        async with pool.session() as backend:
            assert await _pid(backend) == first
            result = await backend.execute("print('secret' in globals())\n")
            assert result.stdout == "False\n"


async def test_fresh_policy_gives_a_new_process() -> None:
    async with SessionPool(_repl, config=PoolConfig(size=1, on_return="fresh")) as pool:
        async with pool.session() as backend:
            first = await _pid(backend)
            await backend.execute("secret = 1\n")
        async with pool.session() as backend:
            assert await _pid(backend) != first
            assert (await backend.execute("print('secret' in globals())\n")).stdout == "False\n"
        assert pool.stats().started == 2
    assert first not in children()


async def test_keep_policy_keeps_state_for_the_same_key_until_released() -> None:
    config = PoolConfig(size=1, max_sessions=2, on_return="keep")
    async with SessionPool(FakeBackend, config=config) as pool:
        async with pool.session(key="conv-1") as backend:
            await backend.execute("turns = 1\n")
        assert pool.stats().kept == 1
        async with pool.session(key="conv-2") as other:
            assert (await other.execute("print('turns' in globals())\n")).stdout == "False\n"
        async with pool.session(key="conv-1") as backend:
            assert (await backend.execute("turns += 1\nprint(turns)\n")).stdout == "2\n"
        await pool.release("conv-1")
        await pool.release("conv-2")
        assert pool.stats().kept == 0
        async with pool.session(key="conv-1") as backend:
            assert (await backend.execute("print('turns' in globals())\n")).stdout == "False\n"


async def test_one_checkout_per_key_at_a_time() -> None:
    config = PoolConfig(size=2, on_return="keep")
    async with SessionPool(FakeBackend, config=config) as pool:
        order: list[str] = []

        async def turn(name: str, entered: asyncio.Event, leave: asyncio.Event) -> None:
            async with pool.session(key="conv") as backend:
                entered.set()
                order.append(f"{name} in")
                await backend.execute(f"last = {name!r}\n")
                await leave.wait()
                order.append(f"{name} out")

        e1, e2, leave = asyncio.Event(), asyncio.Event(), asyncio.Event()
        first = asyncio.create_task(turn("a", e1, leave))
        await e1.wait()
        second = asyncio.create_task(turn("b", e2, leave))
        await asyncio.sleep(0)  # let the second reach its wait (no timing involved)
        assert not e2.is_set()
        leave.set()
        await asyncio.gather(first, second)
        assert order == ["a in", "a out", "b in", "b out"]


async def test_closing_the_pool_fails_checkouts_waiting_for_a_key() -> None:
    pool = SessionPool(FakeBackend, config=PoolConfig(size=1, on_return="keep"))
    await pool.start()
    held = pool.session(key="conv")
    await held.__aenter__()

    async def second_turn() -> None:
        async with pool.session(key="conv"):
            pass

    task = asyncio.create_task(second_turn())
    await asyncio.sleep(0)  # it runs up to its wait for the key (no timing involved)
    await pool.close()
    with pytest.raises(BackendError, match="closed"):
        await asyncio.wait_for(task, 10)
    await held.__aexit__(None, None, None)


async def test_a_returned_session_cannot_be_used() -> None:
    async with SessionPool(FakeBackend, config=PoolConfig(size=1)) as pool:
        async with pool.session() as backend:
            pass
        with pytest.raises(BackendError, match="went back to the pool"):
            await backend.execute("x = 1\n")


# ---------------------------------------------------------------------------- replacement


async def test_a_crashed_session_is_replaced_in_the_background() -> None:
    async with SessionPool(_repl, config=PoolConfig(size=1, on_return="reset")) as pool:
        async with pool.session() as backend:
            result = await backend.execute("import os\nos._exit(3)\n")
            assert result.error is not None and result.error.kind == "crash"
        assert pool.stats().replaced == 1
        async with pool.session() as backend:
            assert (await backend.execute("print('usable')\n")).stdout == "usable\n"
        assert pool.stats().started == 2


async def test_a_session_whose_block_raised_is_replaced() -> None:
    async with SessionPool(FakeBackend, config=PoolConfig(size=1)) as pool:
        with pytest.raises(RuntimeError):
            async with pool.session() as backend:
                await backend.execute("x = 1\n")
                raise RuntimeError("the caller failed")
        assert pool.stats().replaced == 1
        async with pool.session() as backend:
            assert (await backend.execute("print('x' in globals())\n")).stdout == "False\n"


async def test_a_cancelled_execution_replaces_the_session() -> None:
    async with SessionPool(_repl, config=PoolConfig(size=1)) as pool:
        started = asyncio.Event()

        async def hold() -> None:
            async with pool.session() as backend:
                started.set()
                await backend.execute("while True:\n    pass\n")

        task = asyncio.create_task(hold())
        await started.wait()
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert pool.stats().replaced == 1
        async with pool.session() as backend:
            assert (await backend.execute("print('fresh')\n")).stdout == "fresh\n"


# ---------------------------------------------------------------------------- bounds


async def test_waiters_are_bounded_and_served_in_order() -> None:
    config = PoolConfig(size=1, max_sessions=1, max_waiters=1, wait_timeout_s=None)
    async with SessionPool(FakeBackend, config=config) as pool:
        got = asyncio.Event()
        release = asyncio.Event()

        async def waiter() -> None:
            async with pool.session():
                got.set()

        async with pool.session():
            task = asyncio.create_task(waiter())
            await asyncio.sleep(0)  # the waiter runs up to its wait (no timing involved)
            assert pool.stats().waiting == 1
            with pytest.raises(PoolExhaustedError, match="max_waiters"):
                async with pool.session():
                    pass
            release.set()
        await asyncio.wait_for(got.wait(), 10)
        await task
        assert pool.stats().waiting == 0


async def test_a_wait_past_its_timeout_is_a_clear_error() -> None:
    config = PoolConfig(size=1, max_sessions=1, wait_timeout_s=0.05)
    async with SessionPool(FakeBackend, config=config) as pool, pool.session():
        with pytest.raises(PoolExhaustedError, match=r"within 0.05 s.*1 in use"):
            async with pool.session():
                pass
        assert pool.stats().waiting == 0


async def test_sessions_beyond_the_warm_size_start_on_demand_up_to_the_bound() -> None:
    config = PoolConfig(size=1, max_sessions=3, wait_timeout_s=0)
    pool = SessionPool(FakeBackend, config=config)
    async with pool, pool.session(), pool.session(), pool.session():
        assert pool.stats().in_use == 3
        with pytest.raises(PoolExhaustedError):
            async with pool.session():
                pass


# ---------------------------------------------------------------------------- shutdown


async def test_close_leaves_no_process_or_descriptor_behind() -> None:
    before_children, before_pipes = children(), open_pipes()
    pool = SessionPool(_repl, config=PoolConfig(size=3, max_sessions=4, on_return="fresh"))
    async with pool:
        async with pool.session() as backend:
            await backend.execute("print(1)\n")
        held = pool.session()
        backend = await held.__aenter__()  # still checked out when the pool closes
        assert len(children() - before_children) >= 3
    assert children() <= before_children
    assert open_pipes() == before_pipes
    with pytest.raises(BackendError):
        await backend.execute("print(1)\n")
    await held.__aexit__(None, None, None)
    with pytest.raises(BackendError, match="not open"):
        async with pool.session():
            pass


class _SlowClose(FakeBackend):
    """Its close waits for ``go``; ``closing`` says it began, ``finished`` that it ended."""

    def __init__(self, go: asyncio.Event) -> None:
        super().__init__()
        self.go = go
        self.closing = asyncio.Event()
        self.finished = asyncio.Event()

    async def _close(self) -> None:
        self.closing.set()
        await self.go.wait()
        self.finished.set()


async def test_leaving_the_pool_closes_its_sessions_even_when_cancelled_again() -> None:
    go = asyncio.Event()
    backend = _SlowClose(go)
    entered = asyncio.Event()

    async def body() -> None:
        async with SessionPool(lambda: backend, config=PoolConfig(size=1)):
            entered.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(body())
    await entered.wait()
    task.cancel()  # leaves the block: the pool closes its session...
    await backend.closing.wait()
    task.cancel()  # ...and a second cancellation does not cut that close short
    with pytest.raises(asyncio.CancelledError):
        await task
    go.set()
    async with asyncio.timeout(10):
        await backend.finished.wait()


# ---------------------------------------------------------------------------- many runs

_PROGRAMS = [
    "total = 0\nfor k in range({i}):\n    total += k * k\nprint('sum', total)\n"
    "names = [str(k) for k in range({i} % 7)]\nprint(','.join(names))\n",
    "import math\ndef area(r):\n    return math.pi * r * r\nprint(round(area({i}), 4))\n"
    "values = [1, 2, 3]\nprint(values[{i} % 5])\nprint('after')\n",  # IndexError for some i
    "import sys\nprint('to stderr {i}', file=sys.stderr)\nd = {{'k': {i}}}\nprint(d['k'] + 1)\n"
    "x = d['missing']\nprint('never')\n",  # KeyError
    "class Box:\n    def __init__(self, v):\n        self.v = v\n"
    "boxes = [Box(k) for k in range({i})]\nprint(sum(b.v for b in boxes))\n"
    "if {i} % 3 == 0:\n    raise ValueError('third {i}')\nprint('done')\n",
    "print('start {i}')\nx = (1,\n     2))\nprint('never')\n",  # a syntax error
]
_CRASH = "print('last words', flush=True)\nimport os\nos._exit(3)\nprint('never')\n"


def _program(i: int) -> str:
    return _CRASH if i == 17 else _PROGRAMS[i % len(_PROGRAMS)].format(i=i)


def _observable(result: object) -> tuple[object, ...]:
    from eager import RunResult

    assert isinstance(result, RunResult)
    error = result.error
    return (
        result.stdout,
        result.stderr,
        None if error is None else (error.ename, error.evalue, error.lineno, error.kind),
    )


@pytest.mark.timeout(240)
async def test_fifty_concurrent_runs_from_a_pool_equal_their_solo_runs() -> None:
    before_children, before_pipes = children(), open_pipes()
    programs = [_program(i) for i in range(50)]
    solo = []
    for program in programs:
        async with _repl() as backend:
            solo.append(_observable(await run(ReplaySource(program, tps=2000), backend)))
    assert sum(s[2] is not None for s in solo) >= 15  # failures are really mixed in
    assert any(s[2] is not None and s[2][3] == "crash" for s in solo)

    config = PoolConfig(size=8, max_sessions=8, max_waiters=64, on_return="reset")
    async with SessionPool(_repl, config=config) as pool:

        async def one(program: str, seed: int) -> tuple[object, ...]:
            async with pool.session() as backend:
                source = ReplaySource(program, tps=2000, jitter=0.5, seed=seed)
                return _observable(await run(source, backend))

        together = await asyncio.gather(*(one(p, i) for i, p in enumerate(programs)))
        stats = pool.stats()
    assert together == solo
    assert stats.checkouts == 50 and stats.replaced == 1 and stats.in_use == 0
    assert children() <= before_children
    assert open_pipes() == before_pipes
