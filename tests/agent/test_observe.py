"""Observations: output cut to a budget (head and tail kept, the cut marked), errors with lines."""

from __future__ import annotations

import pytest

from eager import FakeBackend, ScriptedSource, UsageError, run
from eager.agent import ObservationBudget, cut_middle, observe


def test_text_within_budget_is_untouched() -> None:
    assert cut_middle("abc", 3) == "abc"


def test_long_text_keeps_head_and_tail_and_marks_the_cut() -> None:
    text = "".join(f"line {i}\n" for i in range(1000))
    out = cut_middle(text, 200, 0.5)
    assert out.startswith("line 0\n") and out.endswith("line 999\n")
    removed = len(text) - 200
    assert f"[... {removed} characters cut ...]" in out
    assert len(out) < 300


def test_the_budget_is_checked() -> None:
    with pytest.raises(UsageError):
        ObservationBudget(max_chars=0)
    with pytest.raises(UsageError):
        ObservationBudget(head_fraction=2.0)


async def _run(code: str, **kw: object) -> object:
    return await run(ScriptedSource([code], format="code"), FakeBackend(), **kw)  # type: ignore[arg-type]


async def test_an_observation_holds_stdout_stderr_and_the_error_with_its_program_line() -> None:
    result = await run(
        ScriptedSource(
            ["import sys\n", "print('hi')\n", "print('warn', file=sys.stderr)\n", "x = 1/0\n"]
        ),
        FakeBackend(),
    )
    text = observe(result)
    assert "stdout:\nhi\n" in text and "stderr:\nwarn\n" in text
    assert "error: ZeroDivisionError at line 4: division by zero" in text
    assert 'File "<program>", line 4' in text


async def test_huge_output_is_cut_to_the_budget() -> None:
    result = await run(
        ScriptedSource(["for i in range(5000):\n    print('row', i)\n"], format="code"),
        FakeBackend(),
    )
    text = observe(result, ObservationBudget(max_chars=300))
    assert "row 0\n" in text and "row 4999\n" in text and "characters cut" in text
    assert len(text) < 500


async def test_an_interrupted_run_is_observed_as_the_serial_run_of_the_same_program() -> None:
    lines = [f"print({i})\n" for i in range(50)]
    program = [*lines[:3], "boom()\n", *lines[3:]]
    eager = await run(ScriptedSource(program), FakeBackend())
    serial = await run(ScriptedSource(program), FakeBackend(), mode="serial")
    assert eager.interrupted and not serial.interrupted
    assert "NameError at line 4" in observe(eager)
    assert observe(eager) == observe(serial)


async def test_a_syntax_error_found_while_streaming_is_named() -> None:
    result = await run(
        ScriptedSource(["x = 1\n", "y = (1,\n", "z = 2)) +\n", *["a = 1\n"] * 20]), FakeBackend()
    )
    text = observe(result)
    assert "error: SyntaxError" in text and "syntax error" in text


async def test_sealed_statements_that_never_ran_are_named() -> None:
    code = ["x = 1\n", "open('out.txt', 'w').write('x')\n", "y = 2\n", "def f(:\n"]
    result = await run(ScriptedSource(code), FakeBackend())
    text = observe(result)
    assert "Not run: lines 2-" in text


async def test_a_run_without_output_says_so() -> None:
    result = await run(ScriptedSource(["x = 1\n"]), FakeBackend())
    assert observe(result) == "(no output)"
