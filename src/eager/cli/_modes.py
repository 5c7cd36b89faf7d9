"""What makes ``--mode both`` a fair comparison: one generation, and a folder of its own each.

:class:`SharedStream` reads a model's answer once: the eager run reads it live (stopping at an
error stops the eager run's view, not the stream), the rest is read to its end, and the serial
run replays the same deltas with the same timing. :func:`serial_folder` gives the serial run a
copy of the working folder made before anything ran, so that what the eager run wrote (or
appended) is not there for the serial run, whichever order they ran in.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

from .._errors import UsageError
from ..sources._base import Source, Turn

__all__ = ["MAX_COPY_BYTES", "MAX_COPY_FILES", "SharedStream", "copy_folder"]

#: Largest working folder copied for ``--mode both`` (files, bytes).
MAX_COPY_FILES = 5000
MAX_COPY_BYTES = 500 * 1024 * 1024
#: Names never copied (caches, version control, virtual environments).
SKIPPED = frozenset({".git", ".hg", ".svn", ".venv", "venv", "__pycache__", "node_modules"})


class SharedStream:
    """One model answer for two runs: :meth:`live` (read as it streams), then :meth:`replay`."""

    def __init__(self, inner: Source) -> None:
        self.inner = inner
        self.deltas: list[tuple[float, str]] = []
        self.error: Exception | None = None
        self.ended = asyncio.Event()
        self.grew = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._t0 = 0.0

    def _start(self) -> None:
        if self._task is None:
            self._t0 = time.monotonic()
            self._task = asyncio.create_task(self._pump())

    async def _pump(self) -> None:
        try:
            async for delta in self.inner:
                self.deltas.append((time.monotonic() - self._t0, delta))
                self.grew.set()
        except Exception as exc:  # a broken stream: both runs see it where it happened
            self.error = exc
        finally:
            self.ended.set()
            self.grew.set()

    def live(self) -> Source:
        """The answer as it streams (for the eager run)."""
        return _LiveView(self)

    async def rest(self) -> None:
        """Wait until the whole answer was read (started if nobody read it yet)."""
        self._start()
        await self.ended.wait()

    def replay(self) -> Source:
        """The whole answer again, with the gaps it arrived with (for the serial run)."""
        return _ReplayView(self)

    async def aclose(self) -> None:
        """Stop reading and close the model's stream."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        with contextlib.suppress(Exception):
            await self.inner.aclose()


class _LiveView(Source):
    def __init__(self, shared: SharedStream) -> None:
        super().__init__()
        self.shared = shared
        self.format = shared.inner.format
        self.tool_argument = shared.inner.tool_argument

    @property
    def turn(self) -> Turn | None:
        return self.shared.inner.turn

    async def stream(self) -> AsyncIterator[str]:
        shared = self.shared
        shared._start()
        i = 0
        while True:
            while i < len(shared.deltas):
                if self.cancelled:
                    return
                delta = shared.deltas[i][1]
                i += 1
                self.tokens_generated = i
                self.tokens_total = shared.inner.tokens_total
                yield delta
            if shared.ended.is_set():
                self.tokens_total = shared.inner.tokens_total
                if shared.error is not None:
                    raise shared.error
                return
            shared.grew.clear()
            await shared.grew.wait()

    async def aclose(self) -> None:
        """Stop this view only: the answer is read on, for the serial run."""
        self.cancelled = True


class _ReplayView(Source):
    def __init__(self, shared: SharedStream) -> None:
        super().__init__()
        self.shared = shared
        self.format = shared.inner.format
        self.tool_argument = shared.inner.tool_argument
        self.tokens_total = len(shared.deltas)

    @property
    def turn(self) -> Turn | None:
        return self.shared.inner.turn

    async def stream(self) -> AsyncIterator[str]:
        start = time.monotonic()
        for t, delta in self.shared.deltas:
            wait = t - (time.monotonic() - start)
            await asyncio.sleep(max(0.0, wait))
            if self.cancelled:
                return
            self.tokens_generated += 1
            yield delta
        if self.shared.error is not None:
            raise self.shared.error


def copy_folder(folder: str, *, flag: str = "--cwd") -> str:
    """A temporary copy of ``folder`` (caches and version control left out); the caller
    removes it. A folder too large to copy is a :class:`~eager.UsageError`, raised before
    anything is copied."""
    files = size = 0
    root = Path(folder)
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in SKIPPED]
        for name in filenames:
            files += 1
            with contextlib.suppress(OSError):
                size += os.lstat(os.path.join(dirpath, name)).st_size
        if files > MAX_COPY_FILES or size > MAX_COPY_BYTES:
            raise UsageError(
                f"--mode both runs serial in a copy of the working folder {folder}, and it is "
                f"too large to copy (over {MAX_COPY_FILES} files or "
                f"{MAX_COPY_BYTES // 2**20} MB): give {flag} a smaller folder, or one --mode"
            )
    target = tempfile.mkdtemp(prefix="eager-serial-")
    shutil.copytree(
        root,
        target,
        symlinks=True,
        ignore=shutil.ignore_patterns(*SKIPPED),
        dirs_exist_ok=True,
    )
    return target
