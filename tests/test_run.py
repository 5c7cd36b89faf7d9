"""The pipeline of ``eager.run``: batching, gate, early interruption, source failures, events."""

from __future__ import annotations

import asyncio
import sys

import pytest
from _runtime import wait_drained

from eager import (
    BatchDispatched,
    BatchFinished,
    ChunkClosed,
    FakeBackend,
    FirstToken,
    GateDecided,
    GenerationEnded,
    Prefetched,
    PushSource,
    RequestSent,
    RunFinished,
    RunResult,
    ScriptedSource,
    StreamError,
    UsageError,
    imports_of,
    run,
    run_sync,
)

#: Bound on any one run in these tests (they take milliseconds).
RUN_TIMEOUT_S = 20.0


def _lines(program: str) -> list[str]:
    return program.splitlines(keepends=True)


async def _start(
    source: PushSource, backend: FakeBackend, **options: object
) -> asyncio.Task[RunResult]:
    await backend.start()
    return asyncio.ensure_future(
        asyncio.wait_for(run(source, backend, **options), RUN_TIMEOUT_S)  # type: ignore[arg-type]
    )


def _batch_ids(result: RunResult) -> list[tuple[int, ...]]:
    return [b.chunks for b in result.batches]


def _generation_end(result: RunResult) -> GenerationEnded:
    return next(e for e in result.events if isinstance(e, GenerationEnded))


# -- dynamic batching -------------------------------------------------------------------------


async def test_chunks_closed_while_the_backend_is_busy_go_as_one_invocation() -> None:
    source = PushSource(format="code")
    backend = FakeBackend(hold=True)
    task = await _start(source, backend)
    source.feed("a = 1\n")
    assert await backend.next_entered() == "a = 1\n"  # the first chunk runs at once
    source.feed("b = 2\n", "c = 3\n", "d = a + b + c\n")
    await wait_drained(source)  # all three are closed and pending behind the busy backend
    backend.release()
    assert await backend.next_entered() == "b = 2\nc = 3\nd = a + b + c\n"
    backend.release()
    source.feed("e = d * 2\n")
    assert await backend.next_entered() == "e = d * 2\n"
    backend.release()
    source.end()
    result = await task
    assert result.error is None
    assert _batch_ids(result) == [(0,), (1, 2, 3), (4,)]
    assert [c.first_line for c in backend.calls] == [1, 2, 5]
    assert backend.namespace["e"] == 12
    assert result.metrics.batches == 3 and result.metrics.chunks == 5


async def test_an_idle_backend_gets_each_chunk_as_soon_as_it_closes() -> None:
    source = PushSource(format="code")
    backend = FakeBackend(hold=True)
    task = await _start(source, backend)
    for i in range(4):
        source.feed(f"x{i} = {i}\n")
        assert await backend.next_entered() == f"x{i} = {i}\n"
        backend.release()
    source.end()
    result = await task
    assert _batch_ids(result) == [(0,), (1,), (2,), (3,)]


# -- gate: defer --------------------------------------------------------------------------------


async def test_a_definition_waits_for_the_next_chunk_that_does_work() -> None:
    program = "def f(x):\n    return x + 1\n\n\nclass K:\n    v = 2\n\n\ny = f(K.v)\nz = y * 2\n"
    source = ScriptedSource(_lines(program), format="code")
    backend = FakeBackend()
    async with backend:
        result = await run(source, backend)
    assert result.error is None
    decisions = [d.decision for d in result.decisions]
    assert decisions[:2] == ["defer", "defer"] and "run" in decisions
    assert _batch_ids(result)[0][:3] == (0, 1, 2), "def and class go with the first working chunk"
    assert all(b.chunks[-1] not in (0, 1) for b in result.batches)
    assert backend.namespace["z"] == 6


async def test_a_definition_at_the_end_of_the_program_still_runs() -> None:
    program = "x = 1\ndef last():\n    return 'ran'\n"
    source = ScriptedSource(_lines(program), format="code")
    backend = FakeBackend()
    async with backend:
        result = await run(source, backend)
    assert result.error is None
    assert backend.namespace["last"]() == "ran"
    assert sorted(i for b in result.batches for i in b.chunks) == [0, 1]


async def test_gate_off_runs_definitions_alone() -> None:
    source = PushSource(format="code")
    backend = FakeBackend(hold=True)
    task = await _start(source, backend, gate="off")
    source.feed("def f():\n", "    return 1\n", "x ")  # "x " closes the def
    assert await backend.next_entered() == "def f():\n    return 1\n"
    backend.release()
    source.feed("= f()\n")
    assert await backend.next_entered() == "x = f()\n"
    backend.release()
    source.end()
    result = await task
    assert {d.decision for d in result.decisions} == {"run"}


# -- gate: seal ---------------------------------------------------------------------------------


async def test_chunks_after_an_unsafe_chunk_wait_for_the_end_of_generation() -> None:
    source = PushSource(format="code")
    backend = FakeBackend(run_code=False)  # record only: nothing touches the file system
    task = await _start(source, backend)
    source.feed("import os\n", "a = 1\n")
    await wait_drained(source)
    source.feed("os.remove('some-file')\n", "b = 2\n", "c = 3\n")
    await wait_drained(source)
    for _ in range(20):  # plenty of chances for the executor to (wrongly) run sealed chunks
        await asyncio.sleep(0)
    calls_before_end = len(backend.calls)
    source.end()
    result = await task
    assert result.error is None
    assert [d.decision for d in result.decisions] == ["run", "run", "seal", "seal", "seal"]
    assert "seal at chunk 2" in result.decisions[3].reason
    sealed_code = "".join(c.code for c in backend.calls[calls_before_end:])
    assert sealed_code == "os.remove('some-file')\nb = 2\nc = 3\n"
    ended = _generation_end(result)
    events = list(result.events)
    for event in events:
        if isinstance(event, BatchDispatched) and max(event.chunks) >= 2:
            assert events.index(event) > events.index(ended)
            assert event.t >= ended.t


async def test_sealed_chunks_never_run_when_the_program_ends_in_a_syntax_error() -> None:
    program = "a = 1\nimport subprocess\nsubprocess.run(['true'])\nb = 2\nc = (1,\n"
    source = ScriptedSource(_lines(program), format="code")
    backend = FakeBackend(run_code=False)
    async with backend:
        result = await run(source, backend)
    assert result.error is not None and result.error.kind == "syntax"
    ran = "".join(call.code for call in backend.calls)
    assert "subprocess.run" not in ran and "b = 2" not in ran
    assert "a = 1\n" in ran


# -- errors: interrupt and defer ---------------------------------------------------------------


async def test_a_failing_chunk_cancels_generation_at_once() -> None:
    source = PushSource(format="code", total=100)
    backend = FakeBackend()
    task = await _start(source, backend)
    source.feed("x = 1\n", "print('before')\n", "y = 1 / 0\n")
    result = await task  # ends although the source never ends by itself
    assert result.interrupted
    assert source.cancelled
    assert result.error is not None
    assert (result.error.ename, result.error.lineno) == ("ZeroDivisionError", 3)
    assert result.failed_chunk == 2
    assert result.stdout == "before\n"
    assert result.metrics.tokens_generated == 3 < (result.metrics.tokens_total or 0)
    assert _generation_end(result).cancelled


async def test_pending_chunks_are_dropped_when_a_chunk_fails() -> None:
    source = PushSource(format="code", total=100)
    backend = FakeBackend(hold=True)
    task = await _start(source, backend)
    source.feed("boom = undefined_name\n")
    assert await backend.next_entered() == "boom = undefined_name\n"
    source.feed("print('never')\n", "z = 3\n")
    await wait_drained(source)
    backend.release()
    result = await task
    assert result.error is not None and result.error.ename == "NameError"
    assert len(backend.calls) == 1
    assert "never" not in result.stdout
    assert _batch_ids(result) == [(0,)]


async def test_defer_mode_keeps_generating_and_runs_nothing_more() -> None:
    program = "a = 1\nb = a / 0\nprint('after')\nc = 3\n"
    source = ScriptedSource(_lines(program), format="code")
    backend = FakeBackend()
    async with backend:
        result = await run(source, backend, on_error="defer")
    assert result.error is not None and result.error.ename == "ZeroDivisionError"
    assert result.error.lineno == 2
    assert not result.interrupted and not source.cancelled
    assert result.code == program
    assert result.metrics.tokens_generated == result.metrics.tokens_total == 4
    assert "after" not in result.stdout and "c" not in backend.namespace
    assert result.failed_chunk == 1


async def test_a_syntax_error_mid_stream_interrupts_and_names_the_line() -> None:
    program = "a = 1\nb = 2\nc = 3 +* 4\nd = 5\n" + "e = 6\n" * 20
    source = ScriptedSource(_lines(program), format="code")
    backend = FakeBackend()
    async with backend:
        result = await run(source, backend)
    assert result.error is not None
    assert (result.error.ename, result.error.kind, result.error.lineno) == (
        "SyntaxError",
        "syntax",
        3,
    )
    assert result.interrupted and source.cancelled
    assert result.metrics.tokens_generated < 24
    assert "d" not in backend.namespace


async def test_serial_mode_reports_a_syntax_error_from_the_backend_and_runs_nothing() -> None:
    program = "print('x')\nc = 3 +* 4\n"
    source = ScriptedSource(_lines(program), format="code")
    backend = FakeBackend()
    async with backend:
        result = await run(source, backend, mode="serial")
    assert result.error is not None
    assert (result.error.ename, result.error.lineno) == ("SyntaxError", 2)
    assert result.stdout == ""
    assert not result.interrupted


async def test_the_failing_chunk_is_found_when_the_error_chains_an_earlier_one() -> None:
    # The traceback prints the cause first, with its own <module> frame in chunk 0: the
    # failing chunk is the one of the *last* exception, not the first frame in the text.
    source = PushSource(format="code", total=100)
    backend = FakeBackend(hold=True)
    task = await _start(source, backend)
    source.feed("try:\n    1 / 0\nexcept Exception as e:\n    saved = e\n", "a = 1\n")
    await backend.next_entered()
    backend.release()
    source.feed("b = 2\n")
    assert await backend.next_entered() == "b = 2\n"
    source.feed("c = 3\n", "raise RuntimeError('wrapped') from saved\n", "print('after')\n")
    await wait_drained(source)
    backend.release()
    assert "raise RuntimeError" in await backend.next_entered()
    backend.release()
    result = await task
    assert result.error is not None and result.error.ename == "RuntimeError"
    assert "ZeroDivisionError" in result.error.traceback
    assert _batch_ids(result)[-1] == (3, 4, 5)
    assert result.failed_chunk == 4


# -- the source fails ---------------------------------------------------------------------------


async def test_a_source_that_breaks_mid_stream_keeps_what_already_ran() -> None:
    source = PushSource(format="code")
    backend = FakeBackend(hold=True)
    task = await _start(source, backend)
    source.feed("print('first')\n")
    await backend.next_entered()
    backend.release()
    source.feed("x = 2\n")
    await backend.next_entered()
    backend.release()
    await wait_drained(source)
    source.fail(StreamError("connection reset"))
    result = await task
    assert result.error is not None
    assert result.error.kind == "source"
    assert result.error.ename == "StreamError" and "connection reset" in result.error.evalue
    assert result.stdout == "first\n"
    assert backend.namespace["x"] == 2
    assert result.code == "print('first')\nx = 2\n"
    assert not result.interrupted


async def test_a_scripted_source_failing_after_some_deltas_gives_a_source_error() -> None:
    deltas = ["a = 1\n", "print(a)\n", "b = 2\n", "c = 3\n", "d = 4\n"]
    source = ScriptedSource(deltas, format="code", fail_after=3)
    backend = FakeBackend()
    async with backend:
        result = await run(source, backend)
    assert result.error is not None and result.error.kind == "source"
    assert result.code == "".join(deltas[:3])
    assert result.metrics.tokens_generated == 3
    assert result.stdout in ("", "1\n")  # what ran before the break is kept
    assert result.stdout == "".join("1\n" for b in result.batches if 1 in b.chunks), (
        "stdout is exactly the output of the batches that ran"
    )


async def test_a_source_failing_before_the_first_token_raises() -> None:
    source = ScriptedSource(["a = 1\n"], format="code", fail_after=0)
    backend = FakeBackend()
    async with backend:
        with pytest.raises(StreamError):
            await run(source, backend)
    assert backend.calls == []


async def test_serial_mode_runs_nothing_when_the_source_breaks() -> None:
    source = ScriptedSource(["a = 1\n", "print(a)\n", "b = 2\n"], format="code", fail_after=2)
    backend = FakeBackend()
    async with backend:
        result = await run(source, backend, mode="serial")
    assert result.error is not None and result.error.kind == "source"
    assert backend.calls == []


# -- events and metrics -------------------------------------------------------------------------


def _check_events_and_metrics(result: RunResult) -> None:
    events = list(result.events)
    times = [e.t for e in events]
    assert times == sorted(times), "events are in time order"
    assert isinstance(events[0], RequestSent) and events[0].t == 0.0
    assert isinstance(events[-1], RunFinished)
    assert sum(isinstance(e, GenerationEnded) for e in events) == 1
    firsts = [e for e in events if isinstance(e, FirstToken)]
    assert len(firsts) == 1
    closed = [e.index for e in events if isinstance(e, ChunkClosed)]
    assert closed == list(range(len(result.chunks)))
    if result.mode == "eager":
        decided = [e.index for e in events if isinstance(e, GateDecided)]
        assert decided == closed
        for e in events:
            if isinstance(e, GateDecided):
                close = next(c for c in events if isinstance(c, ChunkClosed) and c.index == e.index)
                assert events.index(close) < events.index(e)
    dispatched = [e for e in events if isinstance(e, BatchDispatched)]
    finished = [e for e in events if isinstance(e, BatchFinished)]
    assert (
        [e.index for e in dispatched]
        == [e.index for e in finished]
        == list(range(len(result.batches)))
    )
    for d, f in zip(dispatched, finished, strict=True):
        assert events.index(d) < events.index(f)
    for before, after in zip(finished, dispatched[1:], strict=False):
        assert events.index(before) < events.index(after), "one invocation at a time"
    m = result.metrics
    assert m.ttft_s is not None and 0.0 <= m.ttft_s <= m.gen_s
    assert 0.0 <= m.nel_s <= m.e2el_s
    assert m.gen_s <= m.e2el_s
    assert 0.0 <= m.exec_s <= m.e2el_s
    assert m.batches == len(result.batches) and m.chunks == len(result.chunks)
    assert m.tokens_total is None or m.tokens_generated <= m.tokens_total
    if result.batches:
        last = max(b.finished_s for b in result.batches)
        assert m.nel_s == pytest.approx(max(0.0, last - m.gen_s))
    for b in result.batches:
        assert 0.0 <= b.ready_s <= b.dispatched_s <= b.finished_s <= m.e2el_s


@pytest.mark.parametrize("mode", ["eager", "serial"])
async def test_events_are_ordered_and_metrics_consistent(mode: str) -> None:
    program = "import math\ndef f(x):\n    return math.sqrt(x)\nvals = [f(i) for i in range(5)]\nprint(vals)\n"
    source = ScriptedSource(_lines(program) * 1, format="code")
    backend = FakeBackend()
    async with backend:
        result = await run(source, backend, mode=mode)  # type: ignore[arg-type]
    assert result.error is None
    _check_events_and_metrics(result)
    if mode == "serial":
        assert len(result.batches) == 1 and result.batches[0].first_line == 1
        assert result.metrics.nel_s >= result.metrics.exec_s  # all of it after generation


async def test_metrics_of_an_interrupted_run_are_consistent() -> None:
    source = PushSource(format="code", total=50)
    backend = FakeBackend()
    task = await _start(source, backend)
    source.feed("x = 1\n", "y = x.nope\n")
    result = await task
    assert result.interrupted
    _check_events_and_metrics(result)
    assert _generation_end(result).tokens == 2


async def test_metrics_of_a_defer_mode_failure_are_consistent() -> None:
    source = ScriptedSource(["a = 1\n", "b = [][1]\n", "c = 2\n"], format="code")
    backend = FakeBackend()
    async with backend:
        result = await run(source, backend, on_error="defer")
    _check_events_and_metrics(result)


# -- arguments and the sync wrapper --------------------------------------------------------------


async def test_bad_arguments_are_usage_errors() -> None:
    backend = FakeBackend()
    with pytest.raises(UsageError):
        await run(ScriptedSource(["a = 1\n"]), backend, mode="fast")  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        await run(ScriptedSource(["a = 1\n"]), backend, on_error="ignore")  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        await run(ScriptedSource(["a = 1\n"]), backend, gate="no-such-policy")


def test_run_sync_starts_runs_and_closes_the_backend() -> None:
    backend = FakeBackend()
    result = run_sync(ScriptedSource(["x = 2\n", "print(x * 21)\n"], format="code"), backend)
    assert result.stdout == "42\n" and result.ok
    assert backend.closed


async def test_an_empty_program_runs_nothing() -> None:
    backend = FakeBackend()
    async with backend:
        result = await run(ScriptedSource([], format="code"), backend)
    assert result.ok and result.batches == () and result.metrics.ttft_s is None


# -- contract violations and cancellation ---------------------------------------------------------


class _BrokenSource(PushSource):
    """Breaks its contract: raises a foreign error instead of a SourceError."""

    async def stream(self):  # type: ignore[no-untyped-def, override]
        self.tokens_generated += 1
        yield "a = 1\n"
        raise RuntimeError("a bug in a custom source")


class _BrokenBackend(FakeBackend):
    async def execute(self, code: str, *, first_line: int = 1, timeout_s: float | None = None):  # type: ignore[no-untyped-def, override]
        raise RuntimeError("a bug in a custom backend")


async def test_a_foreign_error_of_a_custom_source_propagates_as_itself() -> None:
    backend = FakeBackend()
    async with backend:
        with pytest.raises(RuntimeError, match="custom source"):
            await run(_BrokenSource(), backend)


async def test_a_foreign_error_of_a_custom_backend_propagates_as_itself() -> None:
    backend = _BrokenBackend()
    async with backend:
        with pytest.raises(RuntimeError, match="custom backend"):
            await run(ScriptedSource(["a = 1\n"], format="code"), backend)


async def test_cancelling_a_run_closes_the_source() -> None:
    source = PushSource(format="code", total=10)
    backend = FakeBackend()
    task = await _start(source, backend)
    source.feed("a = 1\n")
    await wait_drained(source)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert source.cancelled


# -- script semantics (a strict xfail marks a known bug: remove it once fixed) ------------------


async def test_a_bare_string_in_a_later_invocation_does_not_replace_the_module_docstring() -> None:
    source = PushSource(format="code")
    backend = FakeBackend(hold=True)
    task = await _start(source, backend)
    source.feed('"""The module docstring."""\n', "x = 1\n")
    assert await backend.next_entered() == '"""The module docstring."""\nx = 1\n'
    backend.release()
    source.feed('"""A section comment as a string."""\n', "y = 2\n")
    assert await backend.next_entered() == '"""A section comment as a string."""\ny = 2\n'
    backend.release()
    source.feed("print(__doc__)\n")
    await backend.next_entered()
    backend.release()
    source.end()
    result = await task
    assert result.stdout == "The module docstring.\n"


@pytest.mark.parametrize("mode", ["eager", "serial"])
async def test_sys_exit_zero_ends_the_program_without_an_error(mode: str) -> None:
    program = "import sys\nprint('done')\nsys.exit(0)\nprint('not reached')\n"
    backend = FakeBackend()
    async with backend:
        result = await run(ScriptedSource(_lines(program), format="code"), backend, mode=mode)  # type: ignore[arg-type]
    assert result.stdout == "done\n"
    assert result.error is None


# -- block boundaries ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "deltas"),
    [
        (
            "chat",
            [
                "Here:\n",
                "```python\n",
                "for i in range(3):\n",
                "    print(i)\n",
                "```\n",
                "The loop ",
                "prints ",
                "three ",
                "numbers.\n",
            ],
        ),
        (
            "chat",
            [
                "```python\n",
                "def main():\n    print(1)\n",
                "if __name__ == '__main__':\n",
                "    main()\n",
                "```\n",
                "Run it ",
                "as a script.\n",
            ],
        ),
        (
            "tool",
            ['{"code": "for i in range(3):\\n', '    print(i)\\n"', ', "note": ', '"a loop"}'],
        ),
    ],
)
async def test_a_closing_fence_or_quote_completes_the_last_statement(
    fmt: str, deltas: list[str]
) -> None:
    closing = next(i for i, d in enumerate(deltas) if d == "```\n" or d.endswith('"'))
    backend = FakeBackend()
    async with backend:
        result = await run(ScriptedSource(deltas, format=fmt), backend)  # type: ignore[arg-type]
    assert result.error is None
    last = [e for e in result.events if isinstance(e, ChunkClosed)][-1]
    assert last.tokens == closing + 1, "closed at the fence, not at the end of the answer"
    assert result.stdout.strip()


# -- prefetch -----------------------------------------------------------------------------------


async def test_the_session_imports_prefetched_modules_before_the_first_token() -> None:
    source = PushSource(format="code")
    backend = FakeBackend(hold=True)
    task = await _start(source, backend, prefetch=("json", "no_such_module_eager_test"))
    cell = await backend.next_entered(RUN_TIMEOUT_S)
    assert "'json'" in cell and "no_such_module_eager_test" in cell  # no token pushed yet
    backend.release(2)  # the cell and the program's one chunk
    source.feed("x = 1\n")
    source.end()
    result = await task
    assert result.error is None
    assert [c.code for c in backend.calls] == [cell, "x = 1\n"]
    prefetched = next(e for e in result.events if isinstance(e, Prefetched))
    first = next(e for e in result.events if isinstance(e, FirstToken))
    assert prefetched.modules == ("json", "no_such_module_eager_test") and prefetched.ok
    assert prefetched.t - prefetched.duration_s <= first.t
    assert result.metrics.prefetch_s == prefetched.duration_s
    assert _batch_ids(result) == [(0,)]  # not a batch, not execution time of the program
    assert result.metrics.exec_s == sum(b.finished_s - b.dispatched_s for b in result.batches)


@pytest.mark.parametrize("mode", ["eager", "serial"])
async def test_prefetch_is_quiet_and_binds_no_name(mode: str) -> None:
    backend = FakeBackend()
    async with backend:
        result = await run(
            ScriptedSource(
                ["print(sorted(k for k in globals() if 'json' in k or 'eager' in k))\n"]
            ),
            backend,
            mode=mode,  # type: ignore[arg-type]
            prefetch=["json", "no_such_module_eager_test"],
        )
    assert result.error is None and result.stdout == "[]\n"
    assert result.metrics.prefetch_s is not None and result.metrics.batches == 1
    assert "json" in sys.modules


async def test_without_prefetch_nothing_extra_runs() -> None:
    backend = FakeBackend()
    async with backend:
        result = await run(ScriptedSource(["x = 1\n"]), backend)
    assert [c.code for c in backend.calls] == ["x = 1\n"]
    assert result.metrics.prefetch_s is None
    assert not any(isinstance(e, Prefetched) for e in result.events)


@pytest.mark.parametrize("bad", ["pandas", ["os; import sys"], ["a..b"], [""]])
async def test_a_bad_prefetch_name_is_a_usage_error_before_anything_runs(bad: object) -> None:
    backend = FakeBackend()
    async with backend:
        with pytest.raises(UsageError, match="prefetch"):
            await run(ScriptedSource(["x = 1\n"]), backend, prefetch=bad)  # type: ignore[arg-type]
    assert backend.calls == []


IMPORTS = [
    ("import pandas as pd\nimport numpy, os.path\n", ("pandas", "numpy", "os.path")),
    (
        "from sklearn.linear_model import LinearRegression\nfrom . import x\n",
        ("sklearn.linear_model",),
    ),
    ("def f():\n    import secret\nimport json\nimport json\n", ("json",)),
    ("import math\nx = (\nimport re\n", ("math", "re")),  # a broken program: line by line
    ("", ()),
]


@pytest.mark.parametrize(("code", "modules"), IMPORTS)
def test_imports_of_lists_top_level_imports(code: str, modules: tuple[str, ...]) -> None:
    assert imports_of(code) == modules
