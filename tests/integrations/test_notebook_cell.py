"""The in-process notebook cell of the integrations: which value a cell shows (pure parts)."""

from __future__ import annotations

import linecache
import traceback

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eager.integrations._notebook import (
    HOLD_NAME,
    InProcessCell,
    hold_last_expression,
    is_quiet,
    unhold_traceback,
)


@pytest.mark.parametrize(
    ("code", "held"),
    [
        ("x = 1\nx\n", "x = 1\n__eager_value__ = x\n"),
        ("x = 1; x\n", "x = 1; __eager_value__ = x\n"),
        ("f(\n  1,\n)\n", "__eager_value__ = f(\n  1,\n)\n"),
        ("'é'; 'ü'\n", "'é'; __eager_value__ = 'ü'\n"),
        ("a, b\n", "__eager_value__ = a, b\n"),
        ("x;  # quiet\n", "__eager_value__ = x;  # quiet\n"),
        ("x = 1\n", None),
        ("if True:\n    42\n", None),
        ("for i in range(3):\n    i\n", None),
        ("def f(:\n", None),
        ("# only a comment\n", None),
    ],
)
def test_only_a_last_top_level_bare_expression_is_held(code: str, held: str | None) -> None:
    assert hold_last_expression(code) == held


@pytest.mark.parametrize(
    ("cell", "quiet"),
    [
        ("x;", True),
        ("x;  # comment\n", True),
        ("x = 5\nx;\n\n", True),
        ("1; 2", False),
        ("x", False),
        ("s = ';'\ns", False),
        ("x  # ;", False),
        ("", False),
    ],
)
def test_a_cell_ending_in_a_semicolon_is_quiet(cell: str, quiet: bool) -> None:
    assert is_quiet(cell) is quiet


def _run(cell: InProcessCell, namespace: dict[str, object], code: str) -> None:
    failed = False
    try:
        exec(cell.prepare(code), namespace)
    except Exception:
        failed = True
    cell.ran(namespace, failed=failed)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["x = 1\n", "x\n", "x + 1\n", "y = x\n", "# c\n"]), min_size=1))
def test_however_a_cell_is_cut_it_shows_what_it_shows_run_whole(lines: list[str]) -> None:
    code = "x = 0\n" + "".join(lines)
    whole, cut = InProcessCell(), InProcessCell()
    ns_whole: dict[str, object] = {}
    ns_cut: dict[str, object] = {}
    whole.begin()
    _run(whole, ns_whole, code)
    cut.begin()
    for line in code.splitlines(keepends=True):  # one invocation per line
        _run(cut, ns_cut, line)
    shown_whole = whole.finish(code, failed=False)[0]
    assert cut.finish(code, failed=False)[0] == shown_whole
    last = [ln for ln in code.splitlines() if not ln.startswith("#")][-1]
    assert (shown_whole is not None) == (not last.startswith(("x =", "y =")))
    assert HOLD_NAME not in ns_whole and HOLD_NAME not in ns_cut


def test_a_failing_or_none_value_is_not_shown() -> None:
    cell = InProcessCell()
    ns: dict[str, object] = {}
    cell.begin()
    _run(cell, ns, "None\n")
    assert cell.finish("None\n", failed=False)[0] is None
    _run(cell, ns, "1 / 0\n")
    assert cell.finish("1 / 0\n", failed=True)[0] is None


def test_a_traceback_shows_the_line_as_written() -> None:
    code = hold_last_expression("x = 1\nx / 0\n")
    assert code is not None
    lines = code.splitlines(keepends=True)
    linecache.cache["<held>"] = (len(code), None, lines, "<held>")
    try:
        exec(compile(code, "<held>", "exec"), {})
    except ZeroDivisionError as exc:
        text = "".join(traceback.format_exception(exc))
    assert HOLD_NAME in text
    clean = unhold_traceback(text)
    assert "    x / 0\n" in clean and HOLD_NAME not in clean and "^" not in clean
