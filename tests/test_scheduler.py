"""Table-driven tests of the pure scheduler: batching, deferral, seals, failures, exits."""

from __future__ import annotations

import pytest

from eager import Chunk, ExecError, ExecResult, GateDecision, Scheduler


def _chunk(index: int) -> Chunk:
    """Chunk ``index`` holds one statement on program line ``index + 1``."""
    code = f"x{index} = {index}\n"
    return Chunk(code, index, index + 1, index + 1, 6 * index, 6 * index + len(code))


def play(script: str, *, mode: str = "eager", on_error: str = "defer") -> tuple[str, Scheduler]:
    """Play ``script`` on a scheduler; return what each ``?`` got and the scheduler.

    Words: ``run``/``defer``/``seal`` admit the next chunk with that gate decision (at time
    = its index); ``?`` asks for the next batch (``-`` for none, else its chunk ids joined by
    ``,``); ``ok`` / ``exit`` / ``err@L`` (statement line L) / ``errline@L`` (lineno only) /
    ``err`` (no line) finish the last batch; ``compiled``, ``end`` (at time 100), ``syntax``.
    ``cancel`` is appended to the output whenever a call asks to cancel generation.
    """
    s = Scheduler(mode=mode, on_error=on_error)  # type: ignore[arg-type]
    out: list[str] = []
    plan = None
    n = 0
    for word in script.split():
        cancel = False
        if word in ("run", "defer", "seal"):
            chunk = _chunk(n)
            s.admit(chunk, float(n), lambda c, w=word: GateDecision(c.index, w, "table"))  # type: ignore[misc]
            n += 1
        elif word == "?":
            plan = s.next_batch(50.0)
            out.append("-" if plan is None else ",".join(str(c.index) for c in plan.chunks))
        elif word == "compiled":
            s.program_compiled()
        elif word == "end":
            s.generation_ended(100.0, "".join(c.code for c in s.chunks))
        elif word == "syntax":
            cancel = s.syntax_error(ExecError("SyntaxError", "bad", kind="syntax"), 60.0)
        else:
            assert plan is not None
            error = None
            if word == "exit":
                error = ExecError("SystemExit", "0")
            elif word.startswith("err"):
                line = int(word.split("@")[1]) if "@" in word else None
                if word.startswith("errline"):
                    error = ExecError("E", "x", lineno=line)
                else:
                    error = ExecError("E", "x", lineno=99, statement_line=line)
            cancel = s.finished(plan, ExecResult(error=error), dispatched_s=50.0, finished_s=51.0)
        if cancel:
            out.append("cancel")
    return " ".join(out), s


# (name, script, what the ``?`` got, failed chunk)
CASES = [
    ("one chunk per idle moment", "run ? ok run ? ok", "0 1", None),
    ("chunks closed while busy go together", "run ? run run ok ? ok", "0 1,2", None),
    ("nothing pending", "?", "-", None),
    ("a def waits for work", "defer ? run ? ok", "- 0,1", None),
    ("a def waits for the end", "run defer ? ok ? end ?", "0 - 1", None),
    ("work after a def takes the def along", "defer defer run defer ?", "0,1,2", None),
    ("a seal waits for the end", "run seal run ? ok ? compiled ? end ?", "0 - - 1,2", None),
    ("a seal never runs if the program does not compile", "run seal ? ok end ?", "0 -", None),
    ("a seal runs after the end and the compile", "seal end compiled ?", "0", None),
    ("a failure drops pending chunks", "run ? run run err@1 ?", "0 -", 0),
    ("the statement line names the failing chunk", "run run run ? err@2", "0,1,2", 1),
    ("the error line when no statement line", "run run run ? errline@1", "0,1,2", 0),
    ("the last chunk when no line fits", "run run ? errline@40", "0,1", 1),
    ("the last chunk when no line at all", "run run ? err", "0,1", 1),
    ("nothing after a clean exit", "run ? exit run ?", "0 -", None),
    ("a syntax error fails the next chunk", "run ? ok run syntax ?", "0 -", 2),
    ("serial waits for the end", "run run ? end ? ?", "- 0,1 -", None),
    ("serial sends nothing for an empty program", "end ?", "-", None),
]


@pytest.mark.parametrize(("name", "script", "got", "failed"), CASES, ids=[c[0] for c in CASES])
def test_scheduler_decisions(name: str, script: str, got: str, failed: int | None) -> None:
    mode = "serial" if name.startswith("serial") else "eager"
    out, s = play(script, mode=mode)
    assert out == got
    assert s.failed_chunk == failed
    assert (s.error is not None) == (failed is not None)


# (script, on_error, cancels generation)
INTERRUPTS = [
    ("run ? err@1", "interrupt", True),
    ("run ? err@1", "defer", False),
    ("run end ? err@1", "interrupt", False),  # generation already ended: nothing to cancel
    ("run syntax", "interrupt", True),
    ("run ? exit", "interrupt", False),
    ("run ? ok", "interrupt", False),
]


@pytest.mark.parametrize(("script", "on_error", "cancels"), INTERRUPTS)
def test_a_failure_cancels_generation_only_when_asked_and_still_running(
    script: str, on_error: str, cancels: bool
) -> None:
    out, s = play(script, on_error=on_error)
    assert out.endswith("cancel") == cancels
    assert s.interrupted == cancels


def test_a_source_error_never_asks_to_cancel() -> None:
    s = Scheduler(on_error="interrupt")
    assert not s.fail(ExecError("StreamError", "reset", kind="source"), None, 1.0)
    assert s.error is not None and not s.interrupted and s.done


def test_only_the_first_error_counts() -> None:
    s = Scheduler()
    assert s.fail(ExecError("A", "a"), 3, 1.0)
    assert not s.fail(ExecError("B", "b"), 4, 2.0)
    assert (s.error.ename if s.error else None, s.failed_chunk, s.error_at) == ("A", 3, 1.0)


def test_batches_record_their_ready_time_and_code() -> None:
    _, s = play("run run ? ok seal compiled end ? ok")
    first, sealed = s.batches
    assert (first.chunks, first.ready_s, first.first_line) == ((0, 1), 1.0, 1)
    assert first.code == "x0 = 0\nx1 = 1\n"
    assert (sealed.chunks, sealed.ready_s) == ((2,), 100.0)  # released by the end, not before
    assert [d.decision for d in s.decisions] == ["run", "run", "seal"]


def test_after_a_seal_the_gate_is_not_asked() -> None:
    s = Scheduler()
    asked: list[int] = []

    def classify(chunk: Chunk) -> GateDecision:
        asked.append(chunk.index)
        return GateDecision(chunk.index, "seal" if chunk.index == 1 else "run", "table")

    for i in range(4):
        s.admit(_chunk(i), float(i), classify)
    assert asked == [0, 1]
    assert [d.decision for d in s.decisions] == ["run", "seal", "seal", "seal"]


def test_serial_mode_classifies_nothing_and_sends_the_whole_program() -> None:
    _, s = play("run run end", mode="serial")
    plan = s.next_batch(7.0)
    assert plan is not None and plan.code == "x0 = 0\nx1 = 1\n" and plan.ready_s == 7.0
    assert s.decisions == [] and s.next_batch(8.0) is None and s.done
