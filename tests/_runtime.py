"""Helpers of the runtime tests: corpus files, controllable sources, snapshots."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from eager import PushSource, ReplaySource

__all__ = [
    "CORPUS",
    "CORPUS_FAILING",
    "MARKER",
    "SESSION_ENV",
    "SNAPSHOT_CODE",
    "Expected",
    "StallingReplay",
    "expected_error",
    "fresh_dir",
    "read",
    "wait_drained",
]

HERE = Path(__file__).parent
#: Deterministic programs that run without error.
CORPUS = sorted((HERE / "corpus").glob("*.py"))
#: Programs that fail; the first line says ``# expect: ENAME LINE``.
CORPUS_FAILING = sorted((HERE / "corpus_failing").glob("*.py"))
#: Printed by every failing program right after its failing statement: it must never appear.
MARKER = "AFTER-FAILURE"
#: Same hash seed in both sessions, so that set order cannot make two runs differ.
SESSION_ENV = {**os.environ, "PYTHONHASHSEED": "0"}

#: Run after a program in the same session: prints a JSON object of the user's globals
#: (addresses removed, sets sorted), so the final state of two sessions can be compared.
SNAPSHOT_CODE = r"""
def __eager_snapshot():
    import json, re, types
    def canon(value):
        if isinstance(value, (set, frozenset)):
            return "set" + repr(sorted(canon(v) for v in value))
        if isinstance(value, types.ModuleType):
            return "module " + value.__name__
        if isinstance(value, (types.FunctionType, type)):
            return type(value).__name__ + " " + value.__qualname__
        try:
            text = repr(value)
        except Exception as exc:
            text = "unrepresentable " + type(exc).__name__
        return re.sub(r" at 0x[0-9a-fA-F]+", "", text)
    state = {
        name: canon(value)
        for name, value in globals().items()
        if not name.startswith("_")
    }
    print(json.dumps(state, sort_keys=True))
__eager_snapshot()
del __eager_snapshot
"""


@dataclass(frozen=True)
class Expected:
    """What a failing corpus program must report."""

    ename: str
    lineno: int


def read(path: Path) -> str:
    """The exact text of a corpus program (CRLF and a byte-order mark kept)."""
    return path.read_bytes().decode("utf-8")


def fresh_dir(path: Path) -> Path:
    """``path``, created (a working directory for one session)."""
    path.mkdir(parents=True, exist_ok=True)
    return path


def expected_error(path: Path) -> Expected:
    """The ``# expect: ENAME LINE`` header of a failing program."""
    first = path.read_text(encoding="utf-8").splitlines()[0]
    match = re.fullmatch(r"# expect: (\w+) (\d+)", first.strip())
    assert match, f"{path.name}: first line must be '# expect: ENAME LINE'"
    return Expected(match.group(1), int(match.group(2)))


class StallingReplay(ReplaySource):
    """A replay whose model stalls once ``stall_after`` is fully streamed: only a cancel ends it.

    With it, a run can end only through early interruption: no race between the failing chunk
    and the end of the stream.
    """

    def __init__(self, text: str, *, stall_after: str, **options: object) -> None:
        super().__init__(text, **options)  # type: ignore[arg-type]
        at = text.index(stall_after)
        self.stall_at_chars = at + len(stall_after)
        self.stalled = asyncio.Event()

    async def stream(self) -> AsyncIterator[str]:
        sent = 0
        async for token in super().stream():
            yield token
            sent += len(token)
            if sent >= self.stall_at_chars:
                self.stalled.set()
                await asyncio.Event().wait()  # the model never sends more; a cancel ends this


async def wait_drained(source: PushSource) -> None:
    """Wait until the run has read *and processed* everything fed to ``source`` so far."""
    await asyncio.wait_for(source.drained.wait(), 10)
