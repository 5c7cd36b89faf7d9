"""Workload loaders on the real data, error injection, and library checks."""

from __future__ import annotations

import random
import re

import pytest

from eager import UsageError
from eager.bench.inject import inject_error
from eager.bench.workloads import (
    Task,
    default_data_dir,
    load_workload,
    missing_libraries,
    split_trajectory,
)

DATA = default_data_dir()
needs_data = pytest.mark.skipif(DATA is None, reason="no ../shared/data next to the repository")


@needs_data
def test_gpt4o_mini_trajectories_become_one_answer_per_code_cell() -> None:
    tasks = load_workload("dabench-gpt4o-mini")
    assert len(tasks) == 150
    assert sum(len(t.answers) for t in tasks) == 363
    for t in tasks:
        for answer in t.answers:
            assert answer.count("```python") == 1 and answer.rstrip().endswith("```")
            assert "[SYSTEM NOTIFICATION]" not in answer
            assert "STDOUT:" not in answer


@needs_data
def test_recorded_table_paths_resolve_to_linked_local_tables() -> None:
    tasks = load_workload("dabench-gpt4o-mini")
    for t in tasks:
        for code in t.codes():
            for path in re.findall(r"['\"]([^'\"\n]*\.csv)['\"]", code):
                if "/" not in path and path in t.files:
                    assert t.files[path].endswith("/" + path)
    first = tasks[0].codes()[0]
    assert "'test_ave.csv'" in first and "/home/" not in first


@needs_data
def test_recorded_failures_are_marked_from_the_sandbox_stderr() -> None:
    tasks = load_workload("dabench-gpt4o-mini")
    flags = [f for t in tasks for f in t.failed]
    assert flags.count(True) == 21


@needs_data
def test_tablegpt2_answers_get_the_df_preamble_as_setup() -> None:
    tasks = load_workload("dabench-tablegpt2", limit=3)
    assert tasks[0].task_id == "0"
    assert "df = pd.read_csv('test_ave.csv')" in tasks[0].setup
    assert "```python" in tasks[0].answers[0]


@needs_data
@pytest.mark.parametrize(
    ("name", "count"), [("bigcodebench-gpt4-turbo", 538), ("mbpp-chatgpt", 420)]
)
def test_chat_answer_workloads_load_every_answer(name: str, count: int) -> None:
    tasks = load_workload(name)
    assert len(tasks) == count
    assert all(len(t.answers) == 1 for t in tasks)


@needs_data
def test_limit_takes_the_first_tasks() -> None:
    assert [t.task_id for t in load_workload("mbpp-chatgpt", limit=2)] == ["2", "3"]


def test_an_unknown_workload_or_missing_data_is_a_usage_error(tmp_path: object) -> None:
    with pytest.raises(UsageError, match="unknown workload"):
        load_workload("nope")
    with pytest.raises(UsageError, match="not found"):
        load_workload("mbpp-chatgpt", data_dir=tmp_path)  # type: ignore[arg-type]


def test_a_task_importing_a_missing_library_names_it() -> None:
    task = Task(
        workload="w",
        task_id="1",
        answers=(
            "```python\nimport os, json\nfrom no_such_lib_xyz.sub import a\nimport numpy\n```",
        ),
        format="chat",
    )
    assert missing_libraries(task) == ["no_such_lib_xyz"]


def test_a_trajectory_split_drops_tool_output_and_keeps_the_prose() -> None:
    response = (
        "I will look.\n[SYSTEM NOTIFICATION] We need to execute with python sandbox with the "
        "following code:\n```python\nx = 1\n```\n\n[SYSTEM NOTIFICATION] Running the above tool "
        "with the following response: \n\nSTDERR:\n```python\nboom\n```\n\nFix it.\n"
        "[SYSTEM NOTIFICATION] We need to execute with python sandbox with the following code:\n"
        "```python\ny = 2\n```\n\n[SYSTEM NOTIFICATION] Running the above tool with the "
        "following response: \n\nSTDOUT:\n```python\n2\n```\n\nDone.\n"
    )
    turns = split_trajectory(response)
    assert turns == [
        ("I will look.\n```python\nx = 1\n```\n", True),
        ("Fix it.\n```python\ny = 2\n```\n", False),
    ]


def test_error_injection_is_seeded_and_raises_a_name_error() -> None:
    answer = "Here:\n```python\nimport math\nx = 1\ny = x + math.pi\nprint(y)\n```\nDone."
    one = inject_error(answer, "chat", random.Random(7))
    two = inject_error(answer, "chat", random.Random(7))
    assert one is not None and one == two
    text, where = one
    assert where.name != where.misspelt and where.misspelt in text
    code = text.split("```python\n", 1)[1].split("\n```", 1)[0]
    with pytest.raises(NameError):
        exec(compile(code, "<injected>", "exec"), {})


def test_nothing_to_inject_into_gives_none() -> None:
    assert inject_error("def f():\n    return 1\n", "code", random.Random(0)) is None
