"""Repair encoding of cut turns: fences closed, tool-call JSON re-encoded, nothing invented."""

from __future__ import annotations

import json

import pytest

from eager import ExtractionError, ToolCall, Turn
from eager.agent import close_fences, code_of_call, cut_at_code_line, partial_turn


@pytest.mark.parametrize(
    ("text", "closed"),
    [
        ("no fence at all", "no fence at all"),
        ("a\n```python\nx = 1\n", "a\n```python\nx = 1\n```"),
        ("a\n```python\nx = 1", "a\n```python\nx = 1\n```"),
        (
            "```python\nx = 1\n```\nthen\n```py\ny = 2\n",
            "```python\nx = 1\n```\nthen\n```py\ny = 2\n```",
        ),
        ("````python\n```\nstill code\n", "````python\n```\nstill code\n````"),
        ("~~~\nx\n", "~~~\nx\n~~~"),
        ("```python\nx = 1\n```\n", "```python\nx = 1\n```\n"),
    ],
)
def test_an_open_fence_is_closed_with_its_own_marker(text: str, closed: str) -> None:
    assert close_fences(text) == closed


def test_a_cut_chat_turn_keeps_complete_code_lines_and_closes_the_fence() -> None:
    turn = Turn(text="Load it.\n```python\nimport math\ny = 1/0\nprint(y + ma")
    repaired = partial_turn(turn)
    assert repaired.text == "Load it.\n```python\nimport math\ny = 1/0\n```"
    assert repaired.stop_reason is None


def test_a_cut_prose_line_outside_code_is_kept() -> None:
    turn = Turn(text="```python\nx = 1\n```\nNow I will")
    assert partial_turn(turn).text == "```python\nx = 1\n```\nNow I will"


def test_a_cut_tool_call_is_re_encoded_as_valid_json_with_the_code_so_far() -> None:
    args = json.dumps({"code": 'a = "x\\ty"\nb = a/0\nprint("unfinished'})
    cut = args[: args.index("unfinished") + 5]  # cut inside the string
    call = ToolCall("call_1", "python", cut)
    repaired = partial_turn(Turn(text="thinking", tool_calls=(call,)))
    (new,) = repaired.tool_calls
    assert (new.id, new.name) == ("call_1", "python")
    assert json.loads(new.arguments) == {"code": 'a = "x\\ty"\nb = a/0\n'}
    assert repaired.text == "thinking"


def test_a_cut_inside_an_escape_is_decoded_up_to_it() -> None:
    call = ToolCall("c", "python", '{"code": "x = 1\\ny = \\u00')
    assert code_of_call(call, cut=True) == "x = 1\ny = "
    with pytest.raises(ExtractionError):
        code_of_call(call)


def test_only_the_calls_that_ran_are_kept() -> None:
    calls = tuple(
        ToolCall(f"c{i}", "python", json.dumps({"code": f"x{i} = {i}\n"})) for i in range(3)
    )
    repaired = partial_turn(Turn(tool_calls=calls), keep_calls=1)
    assert [c.id for c in repaired.tool_calls] == ["c0"]
    assert json.loads(repaired.tool_calls[0].arguments) == {"code": "x0 = 0\n"}


def test_a_custom_tool_call_keeps_free_text() -> None:
    call = ToolCall("c", "python", "x = 1\ny = x/0\nprint(", kind="custom")
    (new,) = partial_turn(Turn(tool_calls=(call,))).tool_calls
    assert new.arguments == "x = 1\ny = x/0\n" and new.kind == "custom"


def test_a_custom_argument_name_is_used() -> None:
    call = ToolCall("c", "run", '{"source": "x = 1\\ny = 2\\nz')
    (new,) = partial_turn(Turn(tool_calls=(call,)), argument="source").tool_calls
    assert json.loads(new.arguments) == {"source": "x = 1\ny = 2\n"}


def test_code_written_after_the_failing_line_is_dropped_from_a_chat_turn() -> None:
    turn = Turn(text="Plan.\n```python\nx = 1\ny = x / 0\nz = 2\nw = 3\nprint(")
    assert partial_turn(turn, keep_lines=2).text == "Plan.\n```python\nx = 1\ny = x / 0\n```"


def test_code_after_the_failing_line_is_dropped_from_a_second_block_too() -> None:
    text = "```python\na = 1\n```\nthen\n```python\nb = a / 0\nc = 3\n"
    assert cut_at_code_line(text, 2) == "```python\na = 1\n```\nthen\n```python\nb = a / 0\n"
    assert partial_turn(Turn(text=text), keep_lines=2).text.endswith("b = a / 0\n```")


def test_code_after_the_failing_line_is_dropped_from_a_tool_call() -> None:
    call = ToolCall("c", "python", json.dumps({"code": "x = 1\ny = x / 0\nz = 2\n"})[:-5])
    (new,) = partial_turn(Turn(tool_calls=(call,)), keep_lines=2).tool_calls
    assert json.loads(new.arguments) == {"code": "x = 1\ny = x / 0\n"}
