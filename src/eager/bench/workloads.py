"""Benchmark workloads: recorded model answers read from a data directory, one loader each.

A :class:`Task` is what one session runs: optional untimed ``setup`` code, then its ``answers``
in order (each streamed as one model answer). Recorded file paths are rewritten to bare file
names, and the harness runs each task in a fresh working directory where ``files`` are linked,
so the recorded code finds its tables and whatever it writes stays there.
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
import json
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._errors import UsageError
from .._extract import Format

__all__ = [
    "WORKLOADS",
    "Task",
    "default_data_dir",
    "imported_modules",
    "load_workload",
    "missing_libraries",
    "required_libraries",
]

_DABENCH = Path("dabench")
_TABLES = _DABENCH / "da-dev-tables"
_GPT4O_MINI = (
    _DABENCH / "model_outputs/gpt-4o-mini_simone-kalbermatter/results_OPEN_AI_4o-mini.json"
)
_TABLEGPT2 = _DABENCH / "model_outputs/tablellms_celestebarnaby/results_tablegpt2.json"
_BCB = Path("bigcodebench/completions_pre_release")
_BCB_GPT4T = _BCB / "gpt-4-turbo-2024-04-09_completions_open-eval.jsonl.gz"
_BCB_RECORD = _BCB / "record_gpt-4-turbo-2024-04-09_completions_open-eval.json"
_MBPP = Path("humaneval/evalplus_mbpp_chatgpt/chatgpt_temp_0.0.jsonl")

#: Untimed set-up of every session: plots go to files, never to a window.
_HEADLESS = "import os as _os\n_os.environ['MPLBACKEND'] = 'Agg'\ndel _os\n"

_TOOL_CALL = (
    "[SYSTEM NOTIFICATION] We need to execute with python sandbox with the following code:\n"
)
_TOOL_RESULT = "[SYSTEM NOTIFICATION] Running the above tool with the following response: \n\n"
_TOOL_OUTPUT = re.compile(r"\A(?:STDOUT|STDERR):\n```[^\n]*\n.*?\n```\n?", re.DOTALL)
_FENCE = re.compile(r"```[ \t]*(?:python|py|python3)?[ \t]*\n(.*?)(?:\n```|\Z)", re.DOTALL)
_IMPORT = re.compile(r"^[ \t]*(?:import[ \t]+([\w., \t]+)|from[ \t]+(\w+)[\w.]*[ \t]+import)", re.M)


@dataclass(frozen=True, slots=True)
class Task:
    """One session's worth of recorded answers.

    ``answers`` stream one after another on the same session; ``format`` tells how they hold
    code. ``failed`` marks, per answer, whether it failed when recorded (None: unknown).
    ``files`` are linked into the task's working directory under their names.
    """

    workload: str
    task_id: str
    answers: tuple[str, ...]
    format: Format
    setup: str = _HEADLESS
    files: dict[str, str] = field(default_factory=dict)
    expected: object | None = None
    failed: tuple[bool | None, ...] = ()

    def codes(self) -> list[str]:
        """The code of each answer (fenced blocks joined, or the whole answer if bare)."""
        return [_code_of(a, self.format) for a in self.answers]


def _code_of(answer: str, format: Format) -> str:
    if format == "code":
        return answer
    blocks = _FENCE.findall(answer)
    if blocks or format == "chat":
        return "\n".join(blocks)
    return answer


def required_libraries(task: Task) -> set[str]:
    """Top-level modules the task imports (setup and answers)."""
    names: set[str] = set()
    for code in [task.setup, *task.codes()]:
        for m in _IMPORT.finditer(code):
            if m.group(1):
                for part in m.group(1).split(","):
                    words = part.split()
                    if words:
                        names.add(words[0].split(".")[0])
            elif m.group(2):
                names.add(m.group(2))
    return {n for n in names if n.isidentifier()}


def imported_modules(task: Task) -> set[str]:
    """Dotted modules the task may import: ``from a.b import c`` gives ``a.b`` and ``a.b.c``.

    Some of them are not modules (``c`` may be a function); preloading tries and skips those.
    """
    names: set[str] = set()
    for code in [task.setup, *task.codes()]:
        for m in _IMPORT.finditer(code):
            if m.group(1):
                names.update(p.split()[0] for p in m.group(1).split(",") if p.split())
        for m in re.finditer(
            r"^[ \t]*from[ \t]+([\w.]+)[ \t]+import[ \t(]*([\w, \t]*)", code, re.M
        ):
            names.add(m.group(1))
            # ``from scipy import stats``: the name may be a submodule (import it if it is).
            names.update(f"{m.group(1)}.{p.split()[0]}" for p in m.group(2).split(",") if p.split())
    return {n for n in names if all(part.isidentifier() for part in n.split("."))}


def missing_libraries(task: Task) -> list[str]:
    """Imported modules that cannot be found in this interpreter, sorted."""
    missing = []
    for name in sorted(required_libraries(task)):
        if not _importable(name):
            missing.append(name)
    return missing


@functools.cache
def _importable(name: str) -> bool:
    """Whether this interpreter can import ``name`` (asked once per module and process)."""
    if name in sys.stdlib_module_names or name in sys.builtin_module_names:
        return True
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def default_data_dir() -> Path | None:
    """``../shared/data`` next to the repository root (or the working directory), if present."""
    here = Path(__file__).resolve()
    for base in (here.parents[3], Path.cwd()):
        candidate = (base / ".." / "shared" / "data").resolve()
        if candidate.is_dir():
            return candidate
    return None


def _read(data: Path, rel: Path) -> Any:
    path = data / rel
    if not path.is_file():
        raise UsageError(f"workload data not found: {path} (pass --data DIR)")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        if ".jsonl" in path.name:
            return [json.loads(line) for line in f if line.strip()]
        return json.load(f)


def _tables(data: Path) -> dict[str, str]:
    tables = data / _TABLES
    if not tables.is_dir():
        raise UsageError(f"DABench tables not found: {tables} (pass --data DIR)")
    return {p.name: str(p) for p in sorted(tables.glob("*.csv"))}


def _local_paths(code: str, names: dict[str, str]) -> str:
    """Rewrite quoted recorded paths of known tables to their bare file names."""

    def repl(m: re.Match[str]) -> str:
        name = m.group(2).rsplit("/", 1)[-1]
        return f"{m.group(1)}{name}{m.group(1)}" if name in names else m.group(0)

    return re.sub(r"(['\"])([^'\"\n]*?\.csv)\1", repl, code)


def _labels(data: Path) -> dict[int, object]:
    return {
        row["id"]: row["common_answers"] for row in _read(data, _DABENCH / "da-dev-labels.jsonl")
    }


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


def _dabench_gpt4o_mini(data: Path) -> Iterator[Task]:
    tables = _tables(data)
    labels = _labels(data)
    for row in _read(data, _GPT4O_MINI):
        turns = split_trajectory(row["response"])
        if not turns:
            continue
        yield Task(
            workload="dabench-gpt4o-mini",
            task_id=str(row["id"]),
            answers=tuple(_local_paths(t, tables) for t, _ in turns),
            format="chat",
            files=tables,
            expected=labels.get(row["id"]),
            failed=tuple(f for _, f in turns),
        )


def _dabench_tablegpt2(data: Path) -> Iterator[Task]:
    tables = _tables(data)
    labels = _labels(data)
    for row in _read(data, _TABLEGPT2):
        name = row["file_path"].rsplit("/", 1)[-1]
        if "```" not in row["response"]:
            continue
        setup = _HEADLESS + f"import pandas as pd\ndf = pd.read_csv({name!r})\n"
        yield Task(
            workload="dabench-tablegpt2",
            task_id=str(row["id"]),
            answers=(_local_paths(row["response"], tables),),
            format="chat",
            setup=setup,
            files=tables,
            expected=labels.get(row["id"]),
        )


def _bigcodebench_gpt4_turbo(data: Path) -> Iterator[Task]:
    record: dict[str, bool] = _read(data, _BCB_RECORD)
    for row in _read(data, _BCB_GPT4T):
        raw = row["raw_generation"]
        text = raw[0] if isinstance(raw, list) else str(raw)
        if not text.strip():
            continue
        yield Task(
            workload="bigcodebench-gpt4-turbo",
            task_id=row["task_id"],
            answers=(text,),
            format="auto",
            expected=record.get(row["task_id"]),
        )


def _mbpp_chatgpt(data: Path) -> Iterator[Task]:
    for row in _read(data, _MBPP):
        if not row["full_content"].strip():
            continue
        yield Task(
            workload="mbpp-chatgpt",
            task_id=str(row["task_id"]),
            answers=(row["full_content"],),
            format="auto",
        )


def _demo(data: Path) -> Iterator[Task]:
    try:
        from .. import demo
    except ImportError as exc:
        raise UsageError("the demo programs are not available in this build") from exc
    programs = getattr(demo, "PROGRAMS", None)
    if programs is None:
        raise UsageError("the demo programs are not available in this build")
    data_dir = getattr(demo, "DATA_DIR", None)
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


#: Workload name -> loader taking the data directory.
WORKLOADS: dict[str, Callable[[Path], Iterator[Task]]] = {
    "dabench-gpt4o-mini": _dabench_gpt4o_mini,
    "dabench-tablegpt2": _dabench_tablegpt2,
    "bigcodebench-gpt4-turbo": _bigcodebench_gpt4_turbo,
    "mbpp-chatgpt": _mbpp_chatgpt,
    "demo": _demo,
}


def load_workload(
    name: str, *, data_dir: Path | None = None, limit: int | None = None
) -> list[Task]:
    """The tasks of workload ``name`` (the first ``limit`` of them)."""
    if name not in WORKLOADS:
        raise UsageError(f"unknown workload {name!r}; choose from {', '.join(WORKLOADS)}")
    data = data_dir if data_dir is not None else default_data_dir()
    if data is None and name != "demo":
        raise UsageError("no data directory found: pass --data DIR (e.g. ../shared/data)")
    tasks: list[Task] = []
    for task in WORKLOADS[name](data or Path(".")):
        if limit is not None and len(tasks) >= limit:
            break
        tasks.append(task)
    return tasks
