"""Eager and serial execution of a corpus of programs on the REPL give the same results."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from _runtime import (
    CORPUS,
    CORPUS_FAILING,
    MARKER,
    SESSION_ENV,
    SNAPSHOT_CODE,
    StallingReplay,
    expected_error,
    fresh_dir,
    read,
)

from eager import Mode, OnError, ReplaySource, ReplBackend, RunResult, Source, run

#: Fast enough to keep the suite short; the chunker and batching see the same token cuts.
TPS = 4000.0
#: Bound on one program's run in one mode (pandas imports are the slowest part).
RUN_TIMEOUT_S = 60.0


def _ids(paths: list[Path]) -> list[str]:
    return [p.stem for p in paths]


async def _run_one(
    source: Source, mode: Mode, cwd: Path, *, on_error: OnError = "interrupt"
) -> tuple[RunResult, dict[str, str]]:
    """Run ``source`` on a fresh session; return the result and the final user globals."""
    async with ReplBackend(cwd=fresh_dir(cwd), env=SESSION_ENV, timeout_s=RUN_TIMEOUT_S) as backend:
        result = await asyncio.wait_for(
            run(source, backend, mode=mode, on_error=on_error), RUN_TIMEOUT_S
        )
        snapshot = await backend.execute(SNAPSHOT_CODE)
    assert snapshot.error is None, snapshot.error
    state: dict[str, str] = json.loads(snapshot.stdout)
    return result, state


def test_the_corpus_is_big_and_varied_enough() -> None:
    assert len(CORPUS) >= 30
    assert len(CORPUS_FAILING) >= 8
    names = {expected_error(p).ename for p in CORPUS_FAILING}
    assert {"NameError", "KeyError", "ZeroDivisionError", "SyntaxError"} <= names


@pytest.mark.parametrize("path", CORPUS, ids=_ids(CORPUS))
async def test_eager_and_serial_give_the_same_output_and_state(path: Path, tmp_path: Path) -> None:
    text = read(path)
    (serial, serial_state), (eager, eager_state) = await asyncio.gather(
        _run_one(ReplaySource(text, tps=TPS, format="code"), "serial", tmp_path / "serial"),
        _run_one(ReplaySource(text, tps=TPS, format="code"), "eager", tmp_path / "eager"),
    )
    assert serial.error is None, serial.error
    assert eager.error is None, eager.error
    assert eager.stdout == serial.stdout
    assert eager.stderr == serial.stderr
    assert serial.stdout.count("\n") >= 3, "a corpus program prints several lines"
    assert eager_state == serial_state
    assert eager_state, "a corpus program ends with variables to compare"
    # The chunks are an exact cut of the program, and every chunk ran.
    assert "".join(c.code for c in eager.chunks) == text
    assert eager.code == serial.code == text
    assert sorted(i for b in eager.batches for i in b.chunks) == [c.index for c in eager.chunks]
    assert len(eager.chunks) > 1
    assert not eager.interrupted and not serial.interrupted
    assert eager.metrics.tokens_generated == eager.metrics.tokens_total


async def test_a_program_with_unsafe_effects_is_sealed_and_still_equivalent(
    tmp_path: Path,
) -> None:
    text = read(next(p for p in CORPUS if p.stem == "c34_sealed_effects"))
    eager, _ = await _run_one(ReplaySource(text, tps=TPS, format="code"), "eager", tmp_path)
    assert eager.error is None
    seals = [d for d in eager.decisions if d.decision == "seal"]
    assert seals, eager.decisions
    first_sealed = seals[0].index
    ended = next(e.t for e in eager.events if type(e).__name__ == "GenerationEnded")
    for batch in eager.batches:
        if any(i >= first_sealed for i in batch.chunks):
            assert batch.dispatched_s >= ended


@pytest.mark.parametrize("path", CORPUS_FAILING, ids=_ids(CORPUS_FAILING))
async def test_a_failing_program_is_interrupted_early_with_the_serial_error(
    path: Path, tmp_path: Path
) -> None:
    text = read(path)
    expected = expected_error(path)
    marker_line = next(line for line in text.splitlines(keepends=True) if MARKER in line)
    stalling = StallingReplay(text, stall_after=marker_line, tps=TPS, format="code")
    (serial, _), (eager, _) = await asyncio.gather(
        _run_one(ReplaySource(text, tps=TPS, format="code"), "serial", tmp_path / "serial"),
        _run_one(stalling, "eager", tmp_path / "eager"),
    )
    assert serial.error is not None and eager.error is not None
    assert (serial.error.ename, serial.error.lineno) == (expected.ename, expected.lineno)
    assert (eager.error.ename, eager.error.lineno) == (expected.ename, expected.lineno)
    # Generation was cancelled: fewer tokens, a prefix of the program, the source closed.
    assert eager.interrupted and not serial.interrupted
    assert stalling.cancelled
    assert eager.metrics.tokens_total is not None
    assert eager.metrics.tokens_generated < eager.metrics.tokens_total
    assert text.startswith(eager.code) and len(eager.code) < len(text)
    # Nothing after the failing chunk ran.
    assert MARKER not in eager.stdout
    assert eager.failed_chunk is not None
    if expected.ename == "SyntaxError":
        assert serial.stdout == ""  # serial compiles the whole program first
        assert eager.error.kind == "syntax"
        # The chunks before the bad line ran; the failing "chunk" is the unfinished rest.
        assert all(b.ok for b in eager.batches)
        assert all(i < eager.failed_chunk for b in eager.batches for i in b.chunks)
    else:
        # No invocation after the failing one (its batch may hold later chunks: not run).
        assert eager.failed_chunk in eager.batches[-1].chunks
        assert not eager.batches[-1].ok and all(b.ok for b in eager.batches[:-1])
        failed = eager.chunks[eager.failed_chunk]
        assert eager.stdout == serial.stdout
        assert failed.start_line <= _module_line(eager) <= failed.end_line


def _module_line(result: RunResult) -> int:
    """The line of the top-level statement that raised (the ``<module>`` frame)."""
    assert result.error is not None
    for line in result.error.traceback.splitlines():
        if line.strip().startswith('File "<program>"') and "in <module>" in line:
            return int(line.split("line ")[1].split(",")[0])
    raise AssertionError(f"no <module> frame in {result.error.traceback!r}")


@pytest.mark.parametrize("path", CORPUS_FAILING[:3], ids=_ids(CORPUS_FAILING[:3]))
async def test_defer_mode_generates_everything_and_runs_nothing_after_the_error(
    path: Path, tmp_path: Path
) -> None:
    text = read(path)
    expected = expected_error(path)
    source = ReplaySource(text, tps=TPS, format="code")
    eager, _ = await _run_one(source, "eager", tmp_path, on_error="defer")
    assert eager.error is not None
    assert (eager.error.ename, eager.error.lineno) == (expected.ename, expected.lineno)
    assert not eager.interrupted and not source.cancelled
    assert eager.code == text
    assert eager.metrics.tokens_generated == eager.metrics.tokens_total
    assert MARKER not in eager.stdout
    assert eager.failed_chunk in eager.batches[-1].chunks
    assert not eager.batches[-1].ok and all(b.ok for b in eager.batches[:-1])


async def test_a_syntax_error_stops_generation_at_once_without_a_stall(tmp_path: Path) -> None:
    # The chunker sees the error as the line ends: no race with the end of the stream.
    path = next(p for p in CORPUS_FAILING if expected_error(p).ename == "SyntaxError")
    text = read(path)
    source = ReplaySource(text, tps=TPS, format="code")
    eager, _ = await _run_one(source, "eager", tmp_path)
    assert eager.error is not None and eager.error.kind == "syntax"
    assert eager.error.lineno == expected_error(path).lineno
    assert eager.interrupted and source.cancelled
    assert eager.metrics.tokens_total is not None
    assert eager.metrics.tokens_generated < eager.metrics.tokens_total


@pytest.mark.parametrize("mode", ["eager", "serial"])
async def test_prefetch_leaves_output_and_state_as_without_it(mode: Mode, tmp_path: Path) -> None:
    path = CORPUS[0]
    program = read(path) + "\nimport sys as s_\nfractions_loaded = 'fractions' in s_.modules\n"
    plain, plain_state = await _run_one(
        ReplaySource(program, tps=TPS, format="code"), mode, tmp_path
    )
    async with ReplBackend(cwd=fresh_dir(tmp_path), env=SESSION_ENV) as backend:
        warm = await asyncio.wait_for(
            run(
                ReplaySource(program, tps=TPS, format="code"),
                backend,
                mode=mode,
                prefetch=("fractions", "no_such_module_eager_test"),
            ),
            RUN_TIMEOUT_S,
        )
        snapshot = await backend.execute(SNAPSHOT_CODE)
    warm_state = json.loads(snapshot.stdout)
    assert warm.error is None and plain.error is None
    assert warm.stdout == plain.stdout
    assert warm_state.pop("fractions_loaded") == "True"
    assert plain_state.pop("fractions_loaded") == "False"
    assert warm_state == plain_state
    assert warm.metrics.prefetch_s is not None and plain.metrics.prefetch_s is None
