"""What one bench session runs (:class:`Task`), why a task is left out (:class:`Skip`), its code.

The code of an answer is what the runtime's extractor makes of it (:func:`code_of`), so blocks
are joined exactly as a run joins them. The library checks read the task's own imports.
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._errors import UsageError
from .._extract import Format, make_extractor

__all__ = [
    "HEADLESS",
    "Skip",
    "Task",
    "code_of",
    "default_data_dir",
    "imported_modules",
    "missing_libraries",
    "read_data",
    "required_libraries",
]

#: Untimed set-up of every session: plots go to files, never to a window.
HEADLESS = "import os as _os\n_os.environ['MPLBACKEND'] = 'Agg'\ndel _os\n"

_IMPORT = re.compile(r"^[ \t]*(?:import[ \t]+([\w., \t]+)|from[ \t]+(\w+)[\w.]*[ \t]+import)", re.M)
_FROM = re.compile(r"^[ \t]*from[ \t]+([\w.]+)[ \t]+import[ \t(]*([\w, \t]*)", re.M)


@dataclass(frozen=True, slots=True)
class Task:
    """One session's worth of recorded answers.

    ``answers`` stream one after another on the same session; ``format`` tells how they hold
    code. ``failed`` marks, per answer, whether it failed when recorded (None: unknown).
    ``files`` are linked into the task's working directory under their names. ``must_pass``:
    a gold program, which the bench runs once serially first and leaves out (with the reason)
    when it fails under the installed libraries. ``notes`` say what the loader changed.
    ``checked`` holds, per answer, the error its code raised in the bench's serial pre-check on a
    plain REPL (``"NameError: …"``; None: it ran clean); empty when not pre-checked. A measured
    run of an answer that ran clean there and fails is a set-up error, not a failing run.
    """

    workload: str
    task_id: str
    answers: tuple[str, ...]
    format: Format
    setup: str = HEADLESS
    files: dict[str, str] = field(default_factory=dict)
    expected: object | None = None
    failed: tuple[bool | None, ...] = ()
    must_pass: bool = False
    notes: tuple[str, ...] = ()
    checked: tuple[str | None, ...] = ()

    def codes(self) -> list[str]:
        """The code of each answer, as the runtime's extractor joins it."""
        return [code_of(a, self.format) for a in self.answers]


@dataclass(frozen=True, slots=True)
class Skip:
    """A task of the data that the bench does not run, and why."""

    workload: str
    task_id: str
    reason: str


def code_of(answer: str, format: Format) -> str:
    """The code the runtime extracts from ``answer`` (all Python blocks, joined as it joins)."""
    extractor = make_extractor(format)
    return extractor.feed(answer) + extractor.close()


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
        for m in _FROM.finditer(code):
            names.add(m.group(1))
            # ``from scipy import stats``: the name may be a submodule (import it if it is).
            names.update(f"{m.group(1)}.{p.split()[0]}" for p in m.group(2).split(",") if p.split())
    return {n for n in names if all(part.isidentifier() for part in n.split("."))}


def missing_libraries(task: Task) -> list[str]:
    """Imported modules that cannot be found in this interpreter, sorted."""
    return [name for name in sorted(required_libraries(task)) if not _importable(name)]


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
    """``shared/data`` beside the repository root (or the working directory), if present.

    A git worktree one level further down (``wt/<name>``) finds the same folder one level up.
    """
    here = Path(__file__).resolve()
    for base in (here.parents[3], Path.cwd()):
        for up in (base, base.parent):
            candidate = (up / ".." / "shared" / "data").resolve()
            if candidate.is_dir():
                return candidate
    return None


def read_data(data: Path, rel: Path) -> Any:
    """A JSON or JSON Lines file (gzipped or not) of the data directory."""
    path = data / rel
    if not path.is_file():
        raise UsageError(f"workload data not found: {path} (pass --data DIR)")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        if ".jsonl" in path.name:
            return [json.loads(line) for line in f if line.strip()]
        return json.load(f)
