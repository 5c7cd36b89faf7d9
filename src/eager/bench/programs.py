"""Whole-program workloads: GitChameleon and BigCodeBench gold code, and chat answers.

``gitchameleon`` replays the gold code alone, as the paper did (its serial execution is the
imports of the versioned library); ``gitchameleon-tests`` and ``bigcodebench`` append the test and
run as one script (bare code): the session ends the run with an error when a test fails. Gold
programs are ``must_pass``: the bench runs each once serially first and leaves out, with the
reason, those that fail under the installed libraries (their versions differ from the
benchmark's).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from .._errors import UsageError
from .task import Skip, Task, read_data

__all__ = [
    "BCB_RUN_TESTS",
    "bigcodebench",
    "bigcodebench_gpt4_turbo",
    "demo",
    "gitchameleon",
    "gitchameleon_tests",
    "mbpp_chatgpt",
]

_GITCHAMELEON = Path("gitchameleon")
_BCB_DIR = Path("bigcodebench")
_BCB_TASKS = _BCB_DIR / "BigCodeBench.jsonl.gz"
_BCB = _BCB_DIR / "completions_pre_release"
_BCB_GPT4T = _BCB / "gpt-4-turbo-2024-04-09_completions_open-eval.jsonl.gz"
_BCB_RECORD = _BCB / "record_gpt-4-turbo-2024-04-09_completions_open-eval.json"
_MBPP = Path("humaneval/evalplus_mbpp_chatgpt/chatgpt_temp_0.0.jsonl")

#: Appended to a BigCodeBench program: run its ``TestCases`` as a script would, and fail the
#: program when a test failed (unittest's own ``main`` would exit the session).
BCB_RUN_TESTS = (
    "\n\nimport unittest as _unittest\n"
    "_outcome = _unittest.TextTestRunner(verbosity=0).run(\n"
    "    _unittest.defaultTestLoader.loadTestsFromTestCase(TestCases)\n"
    ")\n"
    "if not _outcome.wasSuccessful():\n"
    "    raise AssertionError(\n"
    '        f"{len(_outcome.failures)} tests failed, {len(_outcome.errors)} raised"\n'
    "    )\n"
)


def _gitchameleon(data: Path, workload: str, *, with_test: bool) -> Iterator[Task | Skip]:
    rows = read_data(data, _GITCHAMELEON / "dataset.jsonl")
    gold = {
        r["example_id"]: r["answer"]
        for r in read_data(data, _GITCHAMELEON / "ground_truth_solutions.jsonl")
    }
    for row in rows:
        task_id = str(row["example_id"])
        answer = gold.get(row["example_id"])
        if not answer or not answer.strip():
            yield Skip(workload, task_id, "no gold solution")
            continue
        program = answer.strip("\n") + "\n"
        if with_test:
            program += "\n" + row["test"].strip("\n") + "\n"
        yield Task(
            workload=workload,
            task_id=task_id,
            answers=(program,),
            format="code",
            expected=f"{row['library']}=={row['version']}",
            must_pass=True,
        )


def gitchameleon(data: Path) -> Iterator[Task | Skip]:
    """The gold solutions (starting code + solution) alone, as the paper replays them."""
    return _gitchameleon(data, "gitchameleon", with_test=False)


def gitchameleon_tests(data: Path) -> Iterator[Task | Skip]:
    """The gold solutions each followed by its test (the test runs after the last token)."""
    return _gitchameleon(data, "gitchameleon-tests", with_test=True)


def bigcodebench(data: Path) -> Iterator[Task | Skip]:
    """The canonical solutions, each followed by its unittest suite, run as a script."""
    for row in read_data(data, _BCB_TASKS):
        if not row["canonical_solution"].strip():
            yield Skip("bigcodebench", row["task_id"], "no canonical solution")
            continue
        program = (
            row["code_prompt"]
            + row["canonical_solution"].rstrip("\n")
            + "\n\n"
            + row["test"].strip("\n")
            + BCB_RUN_TESTS
        )
        yield Task(
            workload="bigcodebench",
            task_id=row["task_id"],
            answers=(program,),
            format="code",
            must_pass=True,
        )


def bigcodebench_gpt4_turbo(data: Path) -> Iterator[Task | Skip]:
    """gpt-4-turbo's raw chat answers to the pre-release BigCodeBench (function only)."""
    record: dict[str, bool] = read_data(data, _BCB_RECORD)
    for row in read_data(data, _BCB_GPT4T):
        raw = row["raw_generation"]
        text = raw[0] if isinstance(raw, list) else str(raw)
        if not text.strip():
            yield Skip("bigcodebench-gpt4-turbo", row["task_id"], "empty answer")
            continue
        yield Task(
            workload="bigcodebench-gpt4-turbo",
            task_id=row["task_id"],
            answers=(text,),
            format="auto",
            expected=record.get(row["task_id"]),
        )


def mbpp_chatgpt(data: Path) -> Iterator[Task | Skip]:
    """ChatGPT's chat answers to MBPP (prose and fences)."""
    for row in read_data(data, _MBPP):
        if not row["full_content"].strip():
            yield Skip("mbpp-chatgpt", str(row["task_id"]), "empty answer")
            continue
        yield Task(
            workload="mbpp-chatgpt",
            task_id=str(row["task_id"]),
            answers=(row["full_content"],),
            format="auto",
        )


def demo(data: Path) -> Iterator[Task | Skip]:
    """The bundled demo programs (no data directory needed)."""
    try:
        from .. import demo as bundled
    except ImportError as exc:
        raise UsageError("the demo programs are not available in this build") from exc
    programs = getattr(bundled, "PROGRAMS", None)
    if programs is None:
        raise UsageError("the demo programs are not available in this build")
    data_dir = getattr(bundled, "DATA_DIR", None)
    files = (
        {p.name: str(p) for p in sorted(Path(data_dir).iterdir())}
        if data_dir is not None and Path(data_dir).is_dir()
        else {}
    )
    for prog in programs:
        yield Task(
            workload="demo",
            task_id=prog.name,
            answers=(prog.text,),
            format="code",
            files=files,
            failed=(bool(getattr(prog, "fails", False)),),
        )
