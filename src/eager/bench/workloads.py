"""Benchmark workloads by name: recorded model answers or gold programs, one loader each.

A loader yields a :class:`~eager.bench.task.Task` per task it can run and a
:class:`~eager.bench.task.Skip` (with the reason) per task it cannot; :func:`load_report` also
skips tasks whose libraries this interpreter cannot import, so every task of the data is either
run or counted with its reason.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .._errors import UsageError
from . import dabench, programs
from .dabench import split_trajectory
from .task import (
    Skip,
    Task,
    default_data_dir,
    imported_modules,
    missing_libraries,
    required_libraries,
)

__all__ = [
    "WHOLE_PROGRAMS",
    "WORKLOADS",
    "Loaded",
    "Skip",
    "Task",
    "default_data_dir",
    "imported_modules",
    "load_report",
    "load_workload",
    "missing_libraries",
    "required_libraries",
    "split_trajectory",
]

#: Workload name -> loader taking the data directory.
WORKLOADS: dict[str, Callable[[Path], Iterator[Task | Skip]]] = {
    "dabench-tablellm": dabench.dabench_tablellm,
    "dabench-tablegpt2": dabench.dabench_tablegpt2,
    "dabench-gpt4o-mini": dabench.dabench_gpt4o_mini,
    "gitchameleon": programs.gitchameleon,
    "gitchameleon-tests": programs.gitchameleon_tests,
    "bigcodebench": programs.bigcodebench,
    "bigcodebench-gpt4-turbo": programs.bigcodebench_gpt4_turbo,
    "mbpp-chatgpt": programs.mbpp_chatgpt,
    "demo": programs.demo,
}

#: The workloads of whole programs (one answer per task), as the paper's Table 1 replays.
WHOLE_PROGRAMS: tuple[str, ...] = (
    "dabench-tablellm",
    "dabench-tablegpt2",
    "gitchameleon",
    "gitchameleon-tests",
    "bigcodebench",
    "mbpp-chatgpt",
)


@dataclass(frozen=True, slots=True)
class Loaded:
    """The tasks a workload runs and the ones it skips, in data order."""

    name: str
    tasks: list[Task] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)

    def reasons(self) -> dict[str, int]:
        """Skip reason -> number of tasks."""
        return dict(Counter(s.reason for s in self.skipped))

    def notes(self) -> dict[str, int]:
        """What the loader changed (e.g. a cut tail) -> number of tasks."""
        return dict(Counter(n for t in self.tasks for n in t.notes))


def load_report(
    name: str,
    *,
    data_dir: Path | None = None,
    limit: int | None = None,
    check_libraries: bool = True,
    check: Callable[[Task], Task | Skip] | None = None,
) -> Loaded:
    """Load workload ``name`` up to ``limit`` runnable tasks, with every skip on the way.

    ``check_libraries`` skips tasks importing a module this interpreter cannot find;
    ``check`` returns the task (possibly annotated, e.g. with the errors of the bench's serial
    pre-check) or a skip (a gold program that fails under the installed libraries).
    """
    if name not in WORKLOADS:
        raise UsageError(f"unknown workload {name!r}; choose from {', '.join(WORKLOADS)}")
    data = data_dir if data_dir is not None else default_data_dir()
    if data is None and name != "demo":
        raise UsageError("no data directory found: pass --data DIR (e.g. ../shared/data)")
    out = Loaded(name)
    for item in WORKLOADS[name](data or Path(".")):
        if limit is not None and len(out.tasks) >= limit:
            break
        if isinstance(item, Skip):
            out.skipped.append(item)
            continue
        missing = missing_libraries(item) if check_libraries else []
        if missing:
            reason = f"missing libraries: {', '.join(missing)}"
            out.skipped.append(Skip(item.workload, item.task_id, reason))
            continue
        checked = check(item) if check is not None else item
        if isinstance(checked, Skip):
            out.skipped.append(checked)
        else:
            out.tasks.append(checked)
    return out


def load_workload(
    name: str, *, data_dir: Path | None = None, limit: int | None = None
) -> list[Task]:
    """The tasks of workload ``name`` (the first ``limit`` of them), libraries unchecked."""
    return load_report(name, data_dir=data_dir, limit=limit, check_libraries=False).tasks
