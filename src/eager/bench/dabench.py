"""InfiAgent-DABench workloads: gpt-4o-mini agent turns, TableGPT2 chat answers, TableLLM programs.

Recorded file paths are rewritten to bare file names; the harness runs each task in a fresh
working directory where its tables are linked, so the recorded code finds them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from .._errors import UsageError
from ..server._trajectories import local_paths
from .task import HEADLESS, Skip, Task, read_data

__all__ = [
    "dabench_gpt4o_mini",
    "dabench_tablegpt2",
    "dabench_tablellm",
    "split_trajectory",
]

_DABENCH = Path("dabench")
_TABLES = _DABENCH / "da-dev-tables"
_OUTPUTS = _DABENCH / "model_outputs"
_GPT4O_MINI = _OUTPUTS / "gpt-4o-mini_simone-kalbermatter/results_OPEN_AI_4o-mini.json"
_TABLEGPT2 = _OUTPUTS / "tablellms_celestebarnaby/results_tablegpt2.json"
_TABLELLM = _OUTPUTS / "tablellms_celestebarnaby/results_tablellm.json"

_TOOL_CALL = (
    "[SYSTEM NOTIFICATION] We need to execute with python sandbox with the following code:\n"
)
_TOOL_RESULT = "[SYSTEM NOTIFICATION] Running the above tool with the following response: \n\n"
_TOOL_OUTPUT = re.compile(r"\A(?:STDOUT|STDERR):\n```[^\n]*\n.*?\n```\n?", re.DOTALL)
#: TableLLM appends a made-up transcript: a line ``Output:`` and what it imagines is printed.
_OUTPUT_TAIL = re.compile(r"^[ \t]*Output:[ \t]*$", re.M)
#: The table TableLLM's programs read (its prompt calls every table this).
TABLELLM_TABLE = "data.csv"


def _tables(data: Path) -> dict[str, str]:
    tables = data / _TABLES
    if not tables.is_dir():
        raise UsageError(f"DABench tables not found: {tables} (pass --data DIR)")
    return {p.name: str(p) for p in sorted(tables.glob("*.csv"))}


def _labels(data: Path) -> dict[int, object]:
    rows = read_data(data, _DABENCH / "da-dev-labels.jsonl")
    return {row["id"]: row["common_answers"] for row in rows}


def split_trajectory(response: str) -> list[tuple[str, bool | None]]:
    """Cut a ReAct trajectory into the model's code-writing turns and whether each failed.

    A turn is the prose the model wrote since the last tool output, then its fenced cell (the
    agent's notification line removed). A cell failed when the sandbox answered on STDERR.
    """
    turns: list[tuple[str, bool | None]] = []
    segments = response.split(_TOOL_RESULT)
    for k, seg in enumerate(segments):
        if k:
            out = _TOOL_OUTPUT.match(seg)
            if turns:
                turns[-1] = (turns[-1][0], seg.startswith("STDERR"))
            seg = seg[out.end() :] if out else seg
        if _TOOL_CALL not in seg:
            continue
        prose, cell = seg.split(_TOOL_CALL, 1)
        m = re.match(r"```[^\n]*\n.*?\n```", cell, re.DOTALL)
        fenced = m.group(0) if m else cell
        turns.append((prose.strip() + "\n" + fenced + "\n", None))
    return turns


def dabench_gpt4o_mini(data: Path) -> Iterator[Task | Skip]:
    """gpt-4o-mini's ReAct trajectories: one answer per code cell, on one session per task."""
    tables = _tables(data)
    labels = _labels(data)
    for row in read_data(data, _GPT4O_MINI):
        turns = split_trajectory(row["response"])
        if not turns:
            yield Skip("dabench-gpt4o-mini", str(row["id"]), "no code cell in the trajectory")
            continue
        yield Task(
            workload="dabench-gpt4o-mini",
            task_id=str(row["id"]),
            answers=tuple(local_paths(t, tables) for t, _ in turns),
            format="chat",
            files=tables,
            expected=labels.get(row["id"]),
            failed=tuple(f for _, f in turns),
        )


def dabench_tablegpt2(data: Path) -> Iterator[Task | Skip]:
    """TableGPT2-7B's chat answers; the prompt's ``df`` is loaded in the untimed set-up."""
    tables = _tables(data)
    labels = _labels(data)
    for row in read_data(data, _TABLEGPT2):
        name = row["file_path"].rsplit("/", 1)[-1]
        if "```" not in row["response"]:
            yield Skip("dabench-tablegpt2", str(row["id"]), "no fenced code in the answer")
            continue
        setup = HEADLESS + f"import pandas as pd\ndf = pd.read_csv({name!r})\n"
        yield Task(
            workload="dabench-tablegpt2",
            task_id=str(row["id"]),
            answers=(local_paths(row["response"], tables),),
            format="chat",
            setup=setup,
            files=tables,
            expected=labels.get(row["id"]),
        )


def tablellm_program(response: str) -> tuple[str, bool]:
    """The bare program of a TableLLM answer, and whether a made-up ``Output:`` tail was cut."""
    m = _OUTPUT_TAIL.search(response)
    if m is None:
        return response.strip("\n") + "\n", False
    return response[: m.start()].strip("\n") + "\n", True


def dabench_tablellm(data: Path) -> Iterator[Task | Skip]:
    """TableLLM-13b's whole programs (bare code), run next to the task's table as ``data.csv``.

    The model appends a made-up ``Output:`` line and the output it imagines; that tail is cut
    (each task says so in ``notes``). Programs that raise stay in: they fail on their own.
    """
    tables = _tables(data)
    labels = _labels(data)
    for row in read_data(data, _TABLELLM):
        name = row["file_path"].rsplit("/", 1)[-1]
        program, cut = tablellm_program(row["response"])
        if name not in tables:
            yield Skip("dabench-tablellm", str(row["id"]), f"table {name} not in the data")
            continue
        if not program.strip():
            yield Skip("dabench-tablellm", str(row["id"]), "empty answer")
            continue
        yield Task(
            workload="dabench-tablellm",
            task_id=str(row["id"]),
            answers=(program,),
            format="code",
            files={TABLELLM_TABLE: tables[name], name: tables[name]},
            expected=labels.get(row["id"]),
            notes=("made-up Output: tail cut",) if cut else (),
        )
