"""The grid's sandboxed REPL (the paper's Docker column): a session that sees its task's folder only.

A bench session works in a fresh folder where the task's files (its tables) are symlinks into
the data directory. Inside bubblewrap only the work folder exists, so the links would dangle and
every recorded program would fail with ``FileNotFoundError``: :func:`task_sandbox` adds each
link's target read-only, bound at its own path, and nothing else of the data directory.
"""

from __future__ import annotations

import dataclasses
import os

from ..backends._sandbox import SandboxPolicy
from .task import Task

__all__ = ["SANDBOXED_REPL", "task_sandbox"]

#: The grid's name of a REPL in the default bubblewrap sandbox plus the task's files.
SANDBOXED_REPL = "repl-sandbox"


def task_sandbox(task: Task, base: SandboxPolicy | None = None) -> SandboxPolicy:
    """``base`` (default: the default policy) that also reads the task's files, read-only."""
    policy = base if base is not None else SandboxPolicy()
    targets = sorted({os.path.abspath(t) for t in task.files.values()})
    extra = tuple(t for t in targets if t not in policy.read_only_paths)
    if not extra:
        return policy
    return dataclasses.replace(policy, read_only_paths=(*policy.read_only_paths, *extra))
