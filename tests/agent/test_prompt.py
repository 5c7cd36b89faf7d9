"""The default system prompts: what an agent's model is told, in each code style and display."""

from __future__ import annotations

from pathlib import Path

import pytest

from eager import FakeBackend, ToolCall, Turn
from eager.agent import Agent, ScriptedModel, files_line, program_prompt, system_prompt


def test_the_fence_prompt_says_how_code_runs_what_is_shown_and_how_to_finish() -> None:
    text = system_prompt(code="fence", display="notebook")
    for words in (
        "```python",
        "persistent IPython-like session",
        "statement by statement",
        "last expression",
        "images",
        "`!command`",
        "open them by name",
        "Final Answer:",
        "final_answer(value)",
    ):
        assert words in text, words


def test_the_tool_prompt_names_the_tool_and_its_argument_in_the_protocols_words() -> None:
    chat = system_prompt(code="tool", tool_name="run_py", tool_argument="source")
    assert "function `run_py`" in chat and "`source` argument" in chat
    assert "reply without calling `run_py`" in chat and "```python" not in chat
    assert "tool `run_py`" in system_prompt(code="tool", protocol="anthropic", tool_name="run_py")


def test_script_display_says_only_printed_output_is_shown() -> None:
    text = system_prompt(display="script")
    assert "only what it prints is shown" in text and "last expression" not in text
    assert "IPython" not in text


def test_files_are_listed_by_name_with_their_size(tmp_path: Path) -> None:
    data = tmp_path / "sales.csv"
    data.write_bytes(b"x" * 2048)
    line = files_line([str(data), "notes.txt"])
    assert line.startswith("Files in the working folder")
    assert "sales.csv (2.0 KB)" in line and "notes.txt" in line and str(tmp_path) not in line
    assert str(tmp_path) not in system_prompt(files=[str(data)])
    assert files_line([]) == ""


def test_a_sandboxed_session_is_said_to_have_no_network() -> None:
    assert "no network" in system_prompt(network=False)
    assert "network" not in system_prompt()
    assert "no network" in program_prompt(network=False)


def test_the_program_prompt_asks_for_one_program() -> None:
    text = program_prompt(files=["a.csv"])
    assert "ONE complete" in text and "a.csv" in text and "Final Answer" not in text


@pytest.mark.parametrize("protocol", ["chat", "responses", "anthropic"])
async def test_an_agent_sends_the_default_prompt_unless_told_otherwise(protocol: str) -> None:
    turns: list[str | Turn] = ["Final Answer: 1"]
    model = ScriptedModel(turns, protocol=protocol)  # type: ignore[arg-type]
    await Agent(model=model, backend=FakeBackend()).run("q")
    body = model.requests[0]
    system = {
        "chat": lambda: body["messages"][0]["content"],
        "responses": lambda: body["instructions"],
        "anthropic": lambda: body["system"],
    }[protocol]()
    assert system == system_prompt(protocol=protocol)

    own = ScriptedModel(turns, protocol=protocol)  # type: ignore[arg-type]
    await Agent(model=own, backend=FakeBackend(), system="Be brief.").run("q")
    none = ScriptedModel(turns, protocol=protocol)  # type: ignore[arg-type]
    await Agent(model=none, backend=FakeBackend(), system="").run("q")
    assert "Be brief." in str(own.requests[0]) and "persistent" not in str(own.requests[0])
    assert "persistent" not in str(none.requests[0]) and "system" not in none.requests[0]


async def test_a_tool_agents_default_prompt_names_its_tool() -> None:
    call = ToolCall("c1", "python", '{"code": "final_answer(3)"}')
    model = ScriptedModel([Turn(text="", tool_calls=(call,))], code="tool")
    result = await Agent(model=model, backend=FakeBackend()).run("q")
    assert result.answer == "3"
    assert "function `python`" in model.requests[0]["messages"][0]["content"]
