"""Scheduler: the state of one run and its decisions. Pure: no asyncio, no I/O, times passed in.

The runtime (``_run.py``) moves data: it tells the scheduler what happened (a chunk was closed,
generation ended, a batch returned, something failed) and asks it what to do (which chunks to
send now that the backend is idle, whether a failure cancels generation). Every decision of
DESIGN.md §1, §4 and §5 lives here:

* **dynamic batching**: when the backend is idle, every free pending chunk goes as one batch,
  up to the last chunk doing work (deferred ``def``/``class`` chunks wait for one that does,
  or for the end of generation);
* **sealing**: from the first sealed chunk on, nothing runs until generation ended and the
  whole program compiled; the batch holding sealed chunks is ready no earlier than that;
* **early interruption**: the first error drops every pending chunk and, with
  ``on_error="interrupt"`` in eager mode while generation goes on, cancels generation;
* **the failing chunk** of a batch: the chunk holding the error's top-level statement;
* **notebook cells** (``cells=True``): a batch never spans two cells; the first batch of a
  cell begins it, the one holding its last chunk ends it once the cell is known to have ended
  (else a finishing step with no code follows); serial mode runs each cell whole, in order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from ._chunker import Chunk
from ._result import Batch, ExecError, ExecResult, GateDecision, Mode
from .backends._base import CellStep

__all__ = ["BatchPlan", "OnError", "Scheduler"]

#: ``"interrupt"`` cancels generation at the first failing chunk; ``"defer"`` keeps generating,
#: runs nothing more and reports the error with the whole program.
OnError = Literal["interrupt", "defer"]


@dataclass(frozen=True, slots=True)
class BatchPlan:
    """What to send to the backend now: ``code`` (the chunks' text) at ``first_line``.

    ``ready_s`` is when the batch could have gone at the earliest: its last chunk closed, or
    the gate released it (for the latency model); seconds since t0.
    """

    chunks: tuple[Chunk, ...]
    code: str
    first_line: int
    ready_s: float
    #: Where the batch stands in its notebook cell (None: a script).
    cell: CellStep | None = None


@dataclass(frozen=True, slots=True)
class _Cell:
    """An ended notebook cell: its chunks ``[first, end)``, its text and first line."""

    first: int
    end: int
    source: str
    first_line: int


def _is_clean_exit(error: ExecError | None) -> bool:
    """``SystemExit`` with status 0 or None: the program ended successfully."""
    return error is not None and error.ename == "SystemExit" and error.evalue in ("", "0", "None")


class Scheduler:
    """The state of one run (chunks, pending, deferred, seal, batches, failure) and its choices.

    Call :meth:`admit` for each chunk the chunker closes, :meth:`program_compiled` when the
    whole program is known to compile, :meth:`generation_ended` once the source is done, and
    :meth:`next_batch` whenever the backend is idle; report each batch with :meth:`finished`
    and other failures with :meth:`fail`. Methods that may stop generation return True when
    the caller must cancel it.
    """

    def __init__(
        self, *, mode: Mode = "eager", on_error: OnError = "interrupt", cells: bool = False
    ) -> None:
        self.mode: Mode = mode
        #: Notebook display: chunks belong to cells, shown as IPython shows them.
        self.notebook = cells
        #: The cells ended so far, in order.
        self.cells: list[_Cell] = []
        #: The cell of each chunk (by chunk index).
        self.cell_of: dict[int, int] = {}
        #: The cell begun in the session and not finished (None: none).
        self.open_cell: int | None = None
        self._next_serial_cell = 0
        self.on_error: OnError = on_error
        self.chunks: list[Chunk] = []
        self.decisions: list[GateDecision] = []
        self.batches: list[Batch] = []
        self.results: list[ExecResult] = []
        #: Chunks closed and not yet sent, in order.
        self.pending: list[Chunk] = []
        #: Indexes of chunks that compute nothing alone (def/class): they wait for work.
        self.deferred: set[int] = set()
        #: The index of the first sealed chunk (None while nothing is sealed).
        self.sealed_at: int | None = None
        self.ready_at: dict[int, float] = {}
        self.program: str | None = None  # the whole program, once generation ended
        self.program_ok = False  # the whole program compiles: sealed chunks may run
        self.gen_ended = False
        self.gen_end_s: float | None = None
        self.chunker_failed = False
        self.exited = False  # sys.exit(0) ran: nothing after it runs
        self.error: ExecError | None = None
        self.error_at: float | None = None
        self.failed_chunk: int | None = None
        self.interrupted = False
        self._serial_sent = False

    @staticmethod
    def failing_chunk(chunks: Sequence[Chunk], error: ExecError) -> int | None:
        """The index of the chunk of ``chunks`` (one batch) whose statement raised ``error``.

        The backend names the running top-level statement's line (``statement_line``); without it
        the error's own line (``lineno``) is used; if neither falls in the batch, its last chunk.
        """
        if not chunks:
            return None
        for line in (error.statement_line, error.lineno):
            if line is not None:
                for c in chunks:
                    if c.start_line <= line <= c.end_line:
                        return c.index
        return chunks[-1].index

    # -- what happened ------------------------------------------------------------------------

    @property
    def takes_code(self) -> bool:
        """Whether new code is still chunked (not after a syntax error, nor an eager error)."""
        return not (self.chunker_failed or (self.error is not None and self.mode == "eager"))

    def admit(
        self, chunk: Chunk, t: float, classify: Callable[[Chunk], GateDecision]
    ) -> GateDecision | None:
        """Chunk ``chunk`` closed at ``t``: record it and, in eager mode, the gate's decision.

        ``classify`` is asked only while nothing is sealed: after a seal everything waits.
        Returns the decision (None in serial mode, where nothing is classified).
        """
        self.chunks.append(chunk)
        self.cell_of[chunk.index] = len(self.cells)
        if self.mode == "serial":
            return None
        if self.sealed_at is not None:
            decision = GateDecision(
                chunk.index, "seal", f"after the seal at chunk {self.sealed_at}"
            )
        else:
            decision = classify(chunk)
            if decision.decision == "seal":
                self.sealed_at = chunk.index
        if decision.decision == "defer":
            self.deferred.add(chunk.index)
        self.decisions.append(decision)
        self.ready_at[chunk.index] = t
        if self.error is None and not self.exited:
            self.pending.append(chunk)
        return decision

    def cell_ended(self, source: str, first_line: int) -> None:
        """The current notebook cell ended: its text ``source`` starts at ``first_line``."""
        first = self.cells[-1].end if self.cells else 0
        self.cells.append(_Cell(first, len(self.chunks), source, first_line))

    def program_compiled(self) -> None:
        """The whole program is known and compiles: sealed chunks may run after generation."""
        self.program_ok = True

    def generation_ended(self, t: float, program: str) -> None:
        """Generation ended (or was cancelled) at ``t``; ``program`` is all the code generated."""
        self.gen_ended = True
        self.gen_end_s = t
        self.program = program

    def syntax_error(self, error: ExecError, t: float) -> bool:
        """The chunker found a genuine syntax error: no more chunking; in eager mode a failure.

        Serial mode reports the backend's own error when it compiles the program. Returns
        True when generation must be cancelled.
        """
        self.chunker_failed = True
        if self.mode == "serial":
            return False
        index = self.chunks[-1].index + 1 if self.chunks else 0
        return self.fail(error, index, t)

    def fail(self, error: ExecError, chunk: int | None, t: float) -> bool:
        """Record the run's first error (later ones are ignored) and drop pending chunks.

        Returns True when generation must be cancelled: a program error (not the source's
        or the extraction's own) in eager mode with ``on_error="interrupt"``, before
        generation ended.
        """
        if self.error is not None:
            return False
        self.error = error
        self.error_at = t
        self.failed_chunk = chunk
        self.pending.clear()
        program_error = error.kind not in ("source", "extraction")
        cancel = (
            program_error
            and self.on_error == "interrupt"
            and self.mode == "eager"
            and not self.gen_ended
        )
        if cancel:
            self.interrupted = True
        return cancel

    # -- what to do ---------------------------------------------------------------------------

    @property
    def done(self) -> bool:
        """Nothing will ever be sent again (ask when :meth:`next_batch` returned None)."""
        return self.error is not None or self.exited or self.gen_ended

    def next_batch(self, t: float) -> BatchPlan | None:
        """What the idle backend should run now (at ``t``), removed from pending; or None."""
        if self.mode == "serial":
            return self._serial_cell(t) if self.notebook else self._serial_batch(t)
        if self.error is not None or self.exited:
            return None
        finish = self._finish_cell(t)
        if finish is not None:
            return finish
        free = self.pending
        if self.sealed_at is not None and not (self.gen_ended and self.program_ok):
            free = [c for c in free if c.index < self.sealed_at]
        cell = self.cell_of.get(free[0].index) if self.notebook and free else None
        if cell is not None:  # a batch never spans two cells
            same = next((i for i, c in enumerate(free) if self.cell_of[c.index] != cell), None)
            free = free if same is None else free[:same]
        if not self.gen_ended and not (cell is not None and cell < len(self.cells)):
            last = max((i for i, c in enumerate(free) if c.index not in self.deferred), default=-1)
            free = free[: last + 1]
        if not free:
            return None
        batch = tuple(free)
        del self.pending[: len(batch)]
        ready = max(self.ready_at[c.index] for c in batch)
        if self.sealed_at is not None and batch[-1].index >= self.sealed_at:
            ready = max(ready, self.gen_end_s or ready)  # released by the gate, not before
        code = "".join(c.code for c in batch)
        step = None if cell is None else self._cell_step(cell, batch)
        return BatchPlan(batch, code, batch[0].start_line, ready, step)

    def _cell_step(self, cell: int, batch: tuple[Chunk, ...]) -> CellStep:
        begin = self.open_cell != cell
        self.open_cell = cell
        ended = cell < len(self.cells) and batch[-1].index + 1 >= self.cells[cell].end
        if not ended:
            return CellStep(begin=begin)
        self.open_cell = None
        return CellStep(begin=begin, end=True, source=self.cells[cell].source)

    def _finish_cell(self, t: float) -> BatchPlan | None:
        """The open cell ended after its last chunk ran: a step that only finishes it."""
        cell = self.open_cell
        if cell is None or cell >= len(self.cells):
            return None
        if any(self.cell_of[c.index] == cell for c in self.pending):
            return None
        self.open_cell = None
        return BatchPlan((), "", 1, t, CellStep(end=True, source=self.cells[cell].source))

    def closing_step(self, t: float) -> BatchPlan | None:
        """After the run's last batch: a step closing a cell left open (the stream broke, or a
        syntax error was found outside the session); None when no cell is open."""
        cell, self.open_cell = self.open_cell, None
        if cell is None:
            return None
        source = self.cells[cell].source if cell < len(self.cells) else ""
        failed = self.error is not None or cell >= len(self.cells)
        return BatchPlan((), "", 1, t, CellStep(end=True, source=source, failed=failed))

    def _serial_cell(self, t: float) -> BatchPlan | None:
        """Serial notebook: the next ended cell, whole, once generation ended."""
        if not self.gen_ended or self.error is not None or self.exited:
            return None
        while self._next_serial_cell < len(self.cells):
            cell = self.cells[self._next_serial_cell]
            self._next_serial_cell += 1
            if cell.source.strip():
                chunks = tuple(self.chunks[cell.first : cell.end])
                step = CellStep(begin=True, end=True, source=cell.source)
                return BatchPlan(chunks, cell.source, cell.first_line, t, step)
        return None

    def _serial_batch(self, t: float) -> BatchPlan | None:
        if self._serial_sent or not self.gen_ended or self.error is not None:
            return None
        self._serial_sent = True
        if not (self.program and self.program.strip()):
            return None
        return BatchPlan(tuple(self.chunks), self.program, 1, t)

    def finished(
        self, plan: BatchPlan, result: ExecResult, *, dispatched_s: float, finished_s: float
    ) -> bool:
        """Batch ``plan`` returned ``result``: record it; True when generation must stop."""
        ids = tuple(c.index for c in plan.chunks)
        index = len(self.batches)
        self.results.append(result)
        if result.error is not None:
            self.open_cell = None  # the session closed the cell itself
        self.batches.append(
            Batch(
                index,
                ids,
                plan.first_line,
                plan.code,
                plan.ready_s,
                dispatched_s,
                finished_s,
                result.ok,
            )
        )
        if _is_clean_exit(result.error):
            # sys.exit(0) ends a script successfully: nothing after it runs, in either mode.
            self.exited = True
            self.pending.clear()
            return False
        if result.error is not None:
            return self.fail(
                result.error, self.failing_chunk(plan.chunks, result.error), finished_s
            )
        return False
