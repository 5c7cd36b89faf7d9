"""Workload loaders on the real data, error injection, and library checks."""

from __future__ import annotations

import ast
import dataclasses
import random
import re

import pytest

from eager import Backend, ReplBackend, UsageError
from eager.bench.dabench import tablellm_program
from eager.bench.harness import precheck
from eager.bench.inject import inject_error
from eager.bench.programs import BCB_RUN_TESTS
from eager.bench.task import code_of
from eager.bench.workloads import (
    Loaded,
    Skip,
    Task,
    default_data_dir,
    load_report,
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


@needs_data
def test_tablellm_programs_are_bare_code_with_the_made_up_output_cut() -> None:
    report = load_report("dabench-tablellm", check_libraries=False)
    assert len(report.tasks) + len(report.skipped) == 257
    assert report.reasons() == {"empty answer": 8}
    assert report.notes() == {"made-up Output: tail cut": len(report.tasks)}
    for t in report.tasks:
        assert t.format == "code" and len(t.answers) == 1
        assert not re.search(r"^\s*Output:", t.answers[0], re.M)
        assert "data.csv" in t.files and len(t.files) == 2  # the table, also as data.csv
    first = report.tasks[0].answers[0]
    assert first.startswith("import pandas as pd") and first.endswith("print(mean_fare_rounded)\n")


def test_the_output_tail_is_cut_at_its_own_line_only() -> None:
    program, cut = tablellm_program("\nx = 1\nprint('Output: x')\nOutput:\n1\n\n   ")
    assert (program, cut) == ("x = 1\nprint('Output: x')\n", True)
    assert tablellm_program("y = 2\n") == ("y = 2\n", False)


@needs_data
def test_gitchameleon_replays_the_gold_code_alone_and_the_variant_appends_its_test() -> None:
    every = load_report("gitchameleon", check_libraries=False)
    tested = load_report("gitchameleon-tests", check_libraries=False)
    assert len(every.tasks) == len(tested.tasks) == 328 and not every.skipped
    for gold, with_test in zip(every.tasks, tested.tasks, strict=True):
        assert gold.must_pass and gold.format == "code" and with_test.must_pass
        assert (gold.workload, with_test.workload) == ("gitchameleon", "gitchameleon-tests")
        assert with_test.answers[0].startswith(gold.answers[0].rstrip("\n"))
        assert len(with_test.answers[0]) > len(gold.answers[0])
    checked = load_report("gitchameleon")
    assert len(checked.tasks) + len(checked.skipped) == 328
    assert all(s.reason.startswith("missing libraries: ") for s in checked.skipped)
    torch = [t for t in every.tasks if "import torch" in t.answers[0]]
    assert torch and all(not missing_libraries(t) or t.task_id in _ids(checked) for t in torch)


def _ids(report: Loaded) -> set[str]:
    return {s.task_id for s in report.skipped}


@needs_data
def test_bigcodebench_programs_end_with_their_unittest_suite_run_as_a_script() -> None:
    report = load_report("bigcodebench", check_libraries=False)
    assert len(report.tasks) == 1140
    program = report.tasks[0].answers[0]
    assert program.startswith("import itertools") and program.endswith(BCB_RUN_TESTS)
    assert "class TestCases(unittest.TestCase)" in program
    ast.parse(program)


@needs_data
def test_limit_counts_runnable_tasks_and_keeps_every_skip_before_them() -> None:
    report = load_report("gitchameleon", limit=3)
    assert len(report.tasks) == 3
    assert [s.task_id for s in report.skipped] == [
        str(i) for i in range(int(report.tasks[-1].task_id)) if str(i) not in _tids(report)
    ]


def _tids(report: Loaded) -> set[str]:
    return {t.task_id for t in report.tasks}


def _repl(job: object, workdir: str) -> Backend:
    return ReplBackend(cwd=workdir)


async def test_a_gold_program_failing_under_installed_libraries_is_skipped_with_why() -> None:
    good = Task(
        "w",
        "1",
        ("import math\nassert math.isclose(math.pi, 3.14159, rel_tol=1e-5)\n",),
        "code",
        must_pass=True,
    )
    bad = dataclasses.replace(good, task_id="2", answers=("x = 1\nassert x == 2, 'test'\n",))
    assert await precheck(good, make=_repl) == dataclasses.replace(good, checked=(None,))
    skip = await precheck(bad, make=_repl)
    assert skip == Skip("w", "2", "fails under the installed libraries: AssertionError")


def test_the_check_hook_skips_what_it_refuses_and_keeps_what_it_annotates() -> None:
    def check(t: Task) -> Task | Skip:
        if "churn" in t.task_id:
            return Skip(t.workload, t.task_id, "no")
        return dataclasses.replace(t, checked=(None,))

    report = load_report("demo", check=check)
    assert report.reasons() == {"no": 1}
    assert report.tasks and all("churn" not in t.task_id for t in report.tasks)
    assert all(t.checked == (None,) for t in report.tasks)


def test_injection_lands_in_the_answer_where_the_extractor_reads_it() -> None:
    answer = (
        "First:\n\n  ```python\n  import math\n  a = 1\n  b = a + 1\n  ```\n"
        "Text with b = a + 1 in prose.\n```py\nc = b * math.pi\nd = c + a\nprint(d)\n```\n"
    )
    for seed in range(20):
        done = inject_error(answer, "chat", random.Random(seed))
        assert done is not None
        text, where = done
        code = code_of(text, "chat")
        assert code.count(where.misspelt) == 1 and where.misspelt not in code_of(answer, "chat")
        assert 0.0 <= where.position <= 1.0
        with pytest.raises(NameError):
            exec(compile(code, "<injected>", "exec"), {})


def test_injection_aims_at_the_share_of_code_it_is_given() -> None:
    code = "".join(f"v{i} = {i}\n" for i in range(100))
    code += "".join(f"x{i} = v{i} + 1\n" for i in range(100))
    aimed = inject_error(code, "code", random.Random(0), position=0.6)
    assert aimed is not None
    text, where = aimed
    assert 0.55 <= where.position <= 0.65
    assert text.index(where.misspelt) / len(code) == pytest.approx(where.position, abs=0.01)
