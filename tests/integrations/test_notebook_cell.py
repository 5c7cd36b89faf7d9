"""A smolagents step is a notebook cell of the shared core: which value a step shows."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("smolagents")

from eager import FakeBackend, RunResult, ScriptedSource, run
from eager.integrations.smolagents import EagerExecutor, ExecutionFailed


@pytest.fixture(scope="module")
def executor() -> Iterator[EagerExecutor]:
    executor = EagerExecutor()  # the default: a sandboxed session
    try:
        executor("x = 5\n")
        yield executor
    finally:
        executor.cleanup()


@pytest.mark.parametrize(
    ("cell", "shown"),
    [
        ("x;", None),
        ("x;  # comment\n", None),
        ("y = 5\nx;\n\n", None),
        ("1; 2", 2),
        ("x", 5),
        ("s = ';'\ns", ";"),
        ("x  # ;", 5),
        ("x\ny = 1\n", None),
        ("if True:\n    42\n", None),
        ("None\n", None),
        ("'é'; 'ü'\n", "ü"),
        ("x, [x]\n", (5, [5])),
    ],
)
def test_a_step_shows_its_last_bare_expression_unless_quiet(
    executor: EagerExecutor, cell: str, shown: object
) -> None:
    assert executor(cell).output == shown


def test_a_failing_step_shows_nothing(executor: EagerExecutor) -> None:
    with pytest.raises(ExecutionFailed, match="ZeroDivisionError"):
        executor("x\n1 / 0\n")
    assert executor.state["_print_outputs"] == ""


def _shown(result: RunResult) -> list[str]:
    return [o.text for o in result.outputs if o.output_type == "execute_result"]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(["x = 1\n", "x\n", "x + 1\n", "y = x\n", "# c\n"]), min_size=1))
def test_however_a_step_is_cut_it_shows_what_it_shows_run_whole(lines: list[str]) -> None:
    code = "x = 0\n" + "".join(lines)

    async def both() -> tuple[RunResult, RunResult]:
        async with FakeBackend() as backend:
            cut = ScriptedSource(code.splitlines(keepends=True), format="code")
            eager = await run(cut, backend, mode="eager", display="notebook")
            await backend.reset()
            whole = ScriptedSource([code], format="code")
            return eager, await run(whole, backend, mode="serial", display="notebook")

    eager, serial = asyncio.run(both())
    assert _shown(eager) == _shown(serial)
    last = [ln for ln in code.splitlines() if not ln.startswith("#")][-1]
    assert bool(_shown(serial)) == (not last.startswith(("x =", "y =")))
