"""The in-memory fake backend: recorded calls, simulated delay, REPL-identical errors."""

from __future__ import annotations

import asyncio

import pytest

from eager import BackendError, FakeBackend, FakeCall, ReplBackend, UsageError


async def test_calls_are_recorded_in_order() -> None:
    async with FakeBackend() as backend:
        await backend.execute("x = 1\n")
        await backend.execute("y = x + 1\nprint(y)\n", first_line=2)
        assert backend.calls == [FakeCall("x = 1\n", 1), FakeCall("y = x + 1\nprint(y)\n", 2)]
        assert backend.namespace["y"] == 2


async def test_record_only_runs_nothing() -> None:
    backend = FakeBackend(run_code=False)
    result = await backend.execute("raise SystemExit\n")
    assert result.ok
    assert backend.calls == [FakeCall("raise SystemExit\n", 1)]


async def test_delay_lets_the_event_loop_run_and_can_be_interrupted() -> None:
    backend = FakeBackend(delay_s=60)
    task = asyncio.create_task(backend.execute("ran = True\n"))
    await asyncio.wait_for(backend.executing.wait(), 10)
    await backend.interrupt()
    result = await asyncio.wait_for(task, 10)
    assert result.error is not None and result.error.ename == "KeyboardInterrupt"
    assert "ran" not in backend.namespace


async def test_a_delay_longer_than_the_timeout_is_a_timeout() -> None:
    backend = FakeBackend(delay_s=60)
    result = await backend.execute("pass\n", timeout_s=0.01)
    assert result.error is not None and result.error.kind == "timeout"


async def test_errors_are_the_repls_errors() -> None:
    program = "def f(x):\n    return 10 / x\n\nvalues = [1, 0]\nfor v in values:\n    print(f(v))\n"
    async with FakeBackend() as fake, ReplBackend() as repl:
        got = []
        for backend in (fake, repl):
            first = await backend.execute(program[:28], first_line=1)
            second = await backend.execute(program[28:], first_line=3)
            assert first.ok
            got.append((second.stdout, second.error))
        assert got[0] == got[1]
        assert got[0][1] is not None and got[0][1].lineno == 2


async def test_closed_refuses_and_bad_arguments_are_usage_errors() -> None:
    backend = FakeBackend()
    with pytest.raises(UsageError):
        await backend.execute("pass", first_line=0)
    with pytest.raises(UsageError):
        FakeBackend(delay_s=-1)
    await backend.close()
    with pytest.raises(BackendError, match="closed"):
        await backend.execute("pass")


async def test_a_held_backend_runs_nothing_until_released() -> None:
    async with FakeBackend(hold=True) as backend:
        first = asyncio.create_task(backend.execute("x = 1\n"))
        second = asyncio.create_task(backend.execute("y = x + 1\n", first_line=2))
        assert await backend.next_entered() == "x = 1\n"
        assert await backend.next_entered() == "y = x + 1\n"
        assert backend.calls == [] and "x" not in backend.namespace  # both wait
        backend.release()
        assert (await asyncio.wait_for(first, 10)).ok
        assert backend.calls == [FakeCall("x = 1\n", 1)] and not second.done()
        backend.release()
        assert (await asyncio.wait_for(second, 10)).ok
        assert backend.namespace["y"] == 2


async def test_permits_given_in_advance_let_executions_through() -> None:
    async with FakeBackend(hold=True) as backend:
        backend.release(2)
        assert (await backend.execute("a = 1\n")).ok
        assert (await backend.execute("b = 2\n")).ok
        assert [await backend.next_entered() for _ in range(2)] == ["a = 1\n", "b = 2\n"]
        with pytest.raises(UsageError):
            backend.release(-1)


async def test_a_held_execution_is_cancelled_with_its_caller() -> None:
    async with FakeBackend(hold=True) as backend:
        task = asyncio.create_task(backend.execute("ran = True\n"))
        await backend.next_entered()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert backend.calls == [] and "ran" not in backend.namespace
