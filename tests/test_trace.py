"""Timelines: a run's events become a Chrome trace with four tracks and a Gantt PNG."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eager import ReplBackend, RunResult, ScriptedSource, run
from eager._trace import trace_events, write_plot, write_trace
from eager.latency import predict_from_result

PROGRAM = "x = 1\ny = x + 1\n\ndef f(a):\n    return a * 2\n\nprint(f(y))\n"


def _deltas(text: str, size: int = 4) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


@pytest.fixture
async def runs() -> dict[str, RunResult]:
    out = {}
    for mode in ("serial", "eager"):
        async with ReplBackend() as backend:
            source = ScriptedSource(_deltas(PROGRAM), delay_s=0.002, format="code")
            out[mode] = await run(source, backend, mode=mode)  # type: ignore[arg-type]
    return out


async def test_a_trace_has_generation_chunk_batch_and_execution_tracks(
    runs: dict[str, RunResult], tmp_path: Path
) -> None:
    path = write_trace(tmp_path / "t.json", runs)
    doc = json.loads(path.read_text())
    events = doc["traceEvents"]
    threads = {(e["pid"], e["args"]["name"]) for e in events if e.get("name") == "thread_name"}
    for pid in (1, 2):
        assert {(pid, n) for n in ("generation", "chunks", "batches", "executions")} <= threads
    names = {e["args"]["name"] for e in events if e.get("name") == "process_name"}
    assert names == {"serial", "eager"}
    eager = runs["eager"]
    spans = [e for e in events if e["pid"] == 2 and e["ph"] == "X" and e["tid"] == 4]
    assert len(spans) == len(eager.batches)
    assert all(e["dur"] >= 0 for e in events if e["ph"] == "X")


async def test_every_chunk_gets_a_span_on_the_chunks_track(runs: dict[str, RunResult]) -> None:
    eager = runs["eager"]
    events = trace_events("eager", eager)
    chunk_spans = [e for e in events if e.get("tid") == 2 and e["ph"] == "X"]
    assert len(chunk_spans) == len(eager.chunks)


async def test_a_gantt_plot_is_a_png(runs: dict[str, RunResult], tmp_path: Path) -> None:
    path = write_plot(tmp_path / "g.png", runs)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


async def test_the_replayed_recurrence_never_exceeds_the_measured_latency(
    runs: dict[str, RunResult],
) -> None:
    for result in runs.values():
        pred = predict_from_result(result)
        assert pred.gap_s >= -1e-9
        assert pred.lower_bound_s <= result.metrics.e2el_s + 1e-9
        assert pred.dispatch_lag_s >= 0


async def test_an_error_is_marked_on_the_executions_track(tmp_path: Path) -> None:
    async with ReplBackend() as backend:
        source = ScriptedSource(_deltas("a = 1\nb = missing + 1\nc = 3\n"), format="code")
        result = await run(source, backend)
    events = trace_events("failing", result)
    assert any(e["ph"] == "i" and e["name"].startswith("NameError") for e in events)


def test_nothing_to_plot_is_a_usage_error(tmp_path: Path) -> None:
    from eager import UsageError

    with pytest.raises(UsageError):
        write_plot(tmp_path / "x.png", {})
