"""The runtime: stream a source through extraction, chunker and gate into a backend session.

Two tasks share one :class:`_Run`: the *producer* reads the source, extracts code, cuts chunks
and classifies them; the *executor* sends every runnable pending chunk to the backend as one
invocation whenever the backend is idle (dynamic batching: no timer, no size knob). A failing
chunk cancels the producer (and with it the source's connection) at once, unless
``on_error="defer"``.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from typing import Literal

from ._chunker import Chunk, Chunker
from ._errors import EagerError, ExtractionError, ProgramSyntaxError, SourceError, UsageError
from ._events import (
    BatchDispatched,
    BatchFinished,
    ChunkClosed,
    Event,
    FirstToken,
    GateDecided,
    GenerationEnded,
    RequestSent,
    RunFinished,
)
from ._extract import Format, make_extractor
from ._gate import Gate, Policy
from ._result import (
    Batch,
    ExecError,
    ExecResult,
    GateDecision,
    Metrics,
    Mode,
    RichOutput,
    RunResult,
)
from .backends._base import Backend
from .sources._base import Source

__all__ = ["OnError", "run", "run_sync"]

#: ``"interrupt"`` cancels generation at the first failing chunk; ``"defer"`` keeps generating,
#: runs nothing more and reports the error with the whole program.
OnError = Literal["interrupt", "defer"]

_BOM = "\ufeff"
#: Bound on closing a source after generation ended or was cancelled.
CLOSE_TIMEOUT_S = 5.0
_MODULE_FRAME = re.compile(r"line (\d+), in <module>")
# A chained traceback prints the cause (or context) first: the error's own frames come last.
_CHAINED = re.compile(
    r"\n(?:The above exception was the direct cause of the following exception"
    r"|During handling of the above exception, another exception occurred):\n"
)


async def run(
    source: Source,
    backend: Backend,
    *,
    mode: Mode = "eager",
    on_error: OnError = "interrupt",
    gate: Gate | Policy | str = "default",
    extract: Format | None = None,
    blocks: Literal["all", "first"] = "all",
    timeout_s: float | None = None,
) -> RunResult:
    """Run the program ``source`` streams on ``backend`` and report what happened.

    ``mode="eager"`` executes complete statements while the rest is still streaming;
    ``mode="serial"`` runs the whole program in one invocation once generation ended. The
    backend is started before the request is sent (its start-up is reported apart, in
    ``metrics.startup_s``) and is left running. ``extract`` overrides ``source.format``;
    ``timeout_s`` bounds each invocation. Errors of the program are data in the result;
    a :class:`~eager.SourceError` is raised only when the source failed before any token.
    """
    if mode not in ("eager", "serial"):
        raise UsageError(f"mode must be 'eager' or 'serial', not {mode!r}")
    if on_error not in ("interrupt", "defer"):
        raise UsageError(f"on_error must be 'interrupt' or 'defer', not {on_error!r}")
    started = time.monotonic()
    await backend.start()
    startup = getattr(backend, "startup_s", None)
    startup_s = float(startup) if isinstance(startup, int | float) else time.monotonic() - started
    state = _Run(
        source,
        backend,
        mode=mode,
        on_error=on_error,
        gate=Gate(gate.policy if isinstance(gate, Gate) else gate),  # fresh imports per run
        extract=extract or source.format,
        blocks=blocks,
        timeout_s=timeout_s,
    )
    return await state.go(startup_s)


def run_sync(
    source: Source,
    backend: Backend,
    *,
    mode: Mode = "eager",
    on_error: OnError = "interrupt",
    gate: Gate | Policy | str = "default",
    extract: Format | None = None,
    blocks: Literal["all", "first"] = "all",
    timeout_s: float | None = None,
) -> RunResult:
    """Blocking :func:`run`: starts ``backend``, runs, and closes it (one event loop per call)."""

    async def main() -> RunResult:
        async with backend:
            return await run(
                source,
                backend,
                mode=mode,
                on_error=on_error,
                gate=gate,
                extract=extract,
                blocks=blocks,
                timeout_s=timeout_s,
            )

    return asyncio.run(main())


def _is_clean_exit(error: ExecError | None) -> bool:
    """``SystemExit`` with status 0 or None: the program ended successfully."""
    return error is not None and error.ename == "SystemExit" and error.evalue in ("", "0", "None")


class _Run:
    """The state of one run, shared by its producer and executor tasks."""

    def __init__(
        self,
        source: Source,
        backend: Backend,
        *,
        mode: Mode,
        on_error: OnError,
        gate: Gate,
        extract: Format,
        blocks: Literal["all", "first"],
        timeout_s: float | None,
    ) -> None:
        self.source = source
        self.backend = backend
        self.mode: Mode = mode
        self.on_error: OnError = on_error
        self.gate = gate
        self.extractor = make_extractor(extract, tool_argument=source.tool_argument, blocks=blocks)
        self.chunker = Chunker()
        self.timeout_s = timeout_s
        self.t0 = 0.0
        self.events: list[Event] = []
        self.code: list[str] = []
        self.chunks: list[Chunk] = []
        self.decisions: list[GateDecision] = []
        self.deferred: set[int] = set()
        self.sealed_at: int | None = None
        self.program_ok = False
        self.chunker_failed = False
        self.stop_generation = False
        self.exited = False
        self.pending: list[Chunk] = []
        self.ready_at: dict[int, float] = {}
        self.batches: list[Batch] = []
        self.results: list[ExecResult] = []
        self.error: ExecError | None = None
        self.error_at: float | None = None
        self.failed_chunk: int | None = None
        self.source_error: EagerError | None = None
        self.interrupted = False
        self.first_token: float | None = None
        self.gen_end: float | None = None
        self.gen_done = asyncio.Event()
        self.wake = asyncio.Event()
        self.producer: asyncio.Task[None] | None = None

    def now(self) -> float:
        return time.monotonic() - self.t0

    # -- driver -----------------------------------------------------------------------------

    async def go(self, startup_s: float) -> RunResult:
        self.t0 = time.monotonic()
        self.events.append(RequestSent(0.0))
        try:
            async with asyncio.TaskGroup() as tg:
                self.producer = tg.create_task(self._produce())
                tg.create_task(self._execute())
        except BaseExceptionGroup as group:
            # A stage failed unexpectedly (say a custom backend broke its contract): raise
            # that error itself, with its own cause, not a group the caller must unpack.
            if len(group.exceptions) == 1:
                error = group.exceptions[0]
                raise error from error.__cause__
            raise
        end = self.now()
        self.events.append(RunFinished(end))
        if self.source_error is not None and self.source.tokens_generated == 0:
            raise self.source_error
        return self._result(startup_s)

    # -- producer ---------------------------------------------------------------------------

    async def _produce(self) -> None:
        stream = aiter(self.source)
        cancelled = False
        try:
            async for delta in stream:
                if self.first_token is None:
                    self.first_token = self.now()
                    self.events.append(FirstToken(self.first_token))
                self._take_code(self.extractor.feed(delta))
                if self.stop_generation:
                    cancelled = True
                    break
            else:
                self._take_code(self.extractor.close())
                self._close_chunker()
        except asyncio.CancelledError:
            cancelled = True
            raise
        except SourceError as exc:
            self.source_error = exc
            self._fail(ExecError(type(exc).__name__, str(exc), kind="source"), None)
        except ExtractionError as exc:
            cancelled = True
            self.source_error = exc
            self._fail(ExecError(type(exc).__name__, str(exc), kind="extraction"), None)
        finally:
            self.gen_end = self.now()
            self.events.append(
                GenerationEnded(self.gen_end, self.source.tokens_generated, cancelled)
            )
            # Clean-up is shielded and bounded: closing a stream must never hang a run.
            aclose = getattr(stream, "aclose", None)
            with contextlib.suppress(Exception, asyncio.TimeoutError):
                if aclose is not None:
                    await asyncio.shield(asyncio.wait_for(aclose(), CLOSE_TIMEOUT_S))
                if cancelled:
                    await asyncio.shield(asyncio.wait_for(self.source.aclose(), CLOSE_TIMEOUT_S))
            self.gen_done.set()
            self.wake.set()

    def _take_code(self, code: str) -> None:
        if not code:
            return
        self.code.append(code)
        if self.chunker_failed or (self.error is not None and self.mode == "eager"):
            return  # defer mode: keep generating, run and chunk nothing more
        try:
            new = self.chunker.feed(code)
        except ProgramSyntaxError as exc:
            self._accept(exc.chunks)
            self._syntax_error(exc)
            return
        self._accept(new)

    def _close_chunker(self) -> None:
        if self.chunker_failed or (self.error is not None and self.mode == "eager"):
            return
        try:
            self._accept(self.chunker.close())
            if self.sealed_at is not None:
                # Sealed chunks run only if the whole program compiles (parsing alone misses
                # errors like a top-level `return`); without a seal this is the backend's job,
                # and compiling here would only delay the last chunk.
                program = self.chunker.text.removeprefix(_BOM)
                compile(program, "<program>", "exec", dont_inherit=True)
            self.program_ok = True
        except ProgramSyntaxError as exc:
            self._accept(exc.chunks)
            self._syntax_error(exc)
        except SyntaxError as exc:  # a compile-time error that parsing alone misses
            self._syntax_error(
                ProgramSyntaxError(exc.msg, lineno=exc.lineno, offset=exc.offset, text=exc.text)
            )
        self.wake.set()

    def _syntax_error(self, exc: ProgramSyntaxError) -> None:
        self.chunker_failed = True
        if self.mode == "serial":
            return  # serial reports the backend's own SyntaxError when it compiles the program
        index = self.chunks[-1].index + 1 if self.chunks else 0
        self._fail(
            ExecError("SyntaxError", exc.msg, traceback=str(exc), lineno=exc.lineno, kind="syntax"),
            index,
        )

    def _accept(self, chunks: list[Chunk] | tuple[object, ...]) -> None:
        for chunk in chunks:
            assert isinstance(chunk, Chunk)
            t = self.now()
            self.chunks.append(chunk)
            self.events.append(
                ChunkClosed(
                    t,
                    chunk.index,
                    chunk.start_line,
                    chunk.end_line,
                    self.source.tokens_generated,
                    chunk.end,
                )
            )
            if self.mode == "serial":
                continue
            if self.sealed_at is not None:  # no need to classify: everything after waits
                decision = GateDecision(
                    chunk.index, "seal", f"after the seal at chunk {self.sealed_at}"
                )
            else:
                decision = self.gate.classify(chunk)
                if decision.decision == "seal":
                    self.sealed_at = chunk.index
            if decision.decision == "defer":
                self.deferred.add(chunk.index)
            self.decisions.append(decision)
            self.events.append(GateDecided(t, chunk.index, decision.decision, decision.reason))
            self.ready_at[chunk.index] = t
            self.pending.append(chunk)
        if chunks:
            self.wake.set()

    # -- executor ---------------------------------------------------------------------------

    def _next_batch(self) -> list[Chunk]:
        """The chunks to send now: every free pending chunk, up to the last one doing work."""
        if self.error is not None or self.exited:
            return []
        free = self.pending
        if self.sealed_at is not None and not (self.gen_done.is_set() and self.program_ok):
            free = [c for c in free if c.index < self.sealed_at]
        if self.gen_done.is_set():
            return list(free)
        last = max((i for i, c in enumerate(free) if c.index not in self.deferred), default=-1)
        return free[: last + 1]

    async def _execute(self) -> None:
        if self.mode == "serial":
            await self.gen_done.wait()
            program = "".join(self.code)
            if self.error is None and program.strip():
                await self._invoke(list(self.chunks), program, first_line=1, ready=self.now())
            return
        while True:
            batch = self._next_batch()
            if not batch:
                if self.error is not None or self.exited or self.gen_done.is_set():
                    return
                self.wake.clear()  # no await since the check: no wake-up can be lost
                await self.wake.wait()
                continue
            del self.pending[: len(batch)]
            code = "".join(c.code for c in batch)
            ready = max(self.ready_at[c.index] for c in batch)
            if self.sealed_at is not None and batch[-1].index >= self.sealed_at:
                ready = max(ready, self.gen_end or ready)  # released by the gate, not before
            await self._invoke(batch, code, first_line=batch[0].start_line, ready=ready)

    async def _invoke(
        self, batch: list[Chunk], code: str, *, first_line: int, ready: float
    ) -> None:
        index = len(self.batches)
        ids = tuple(c.index for c in batch)
        dispatched = self.now()
        self.events.append(BatchDispatched(dispatched, index, ids))
        try:
            result = await self.backend.execute(
                code, first_line=first_line, timeout_s=self.timeout_s
            )
        except EagerError as exc:  # the session itself failed: report it, lose nothing
            result = ExecResult(error=ExecError(type(exc).__name__, str(exc), kind="crash"))
        finished = self.now()
        self.events.append(BatchFinished(finished, index, finished - dispatched, result.ok))
        self.results.append(result)
        self.batches.append(
            Batch(index, ids, first_line, code, ready, dispatched, finished, result.ok)
        )
        if _is_clean_exit(result.error):
            # sys.exit(0) ends a script successfully: nothing after it runs, in either mode.
            self.exited = True
            self.pending.clear()
        elif result.error is not None:
            self._fail(result.error, self._failing_chunk(batch, result.error))

    def _failing_chunk(self, batch: list[Chunk], error: ExecError) -> int | None:
        if not batch:
            return None
        found = _MODULE_FRAME.findall(_CHAINED.split(error.traceback)[-1])
        line = int(found[0]) if found else error.lineno
        if line is not None:
            for c in batch:
                if c.start_line <= line <= c.end_line:
                    return c.index
        return batch[-1].index

    def _fail(self, error: ExecError, chunk: int | None) -> None:
        if self.error is not None:
            return
        self.error = error
        self.error_at = self.now()
        self.failed_chunk = chunk
        self.pending.clear()
        self.wake.set()
        program_error = error.kind not in ("source", "extraction")
        if (
            program_error
            and self.on_error == "interrupt"
            and self.mode == "eager"
            and not self.gen_done.is_set()
        ):
            self.interrupted = True
            if self.producer is not None and self.producer is not asyncio.current_task():
                self.producer.cancel()  # closes the source's stream in the producer's finally
            else:
                self.stop_generation = True  # the producer found it: it stops reading

    # -- result -----------------------------------------------------------------------------

    def _result(self, startup_s: float) -> RunResult:
        gen_end = self.gen_end if self.gen_end is not None else self.now()
        exec_end = max((b.finished_s for b in self.batches), default=None)
        # An interrupted run ends when generation is cancelled, a few µs after the error was
        # reported: e2el covers both, so that gen_s <= e2el_s always holds.
        e2el = max(gen_end, exec_end or 0.0, self.error_at or 0.0)
        nel = max(0.0, exec_end - gen_end) if exec_end is not None else 0.0
        metrics = Metrics(
            ttft_s=self.first_token,
            gen_s=gen_end,
            e2el_s=e2el,
            nel_s=nel,
            exec_s=sum(b.finished_s - b.dispatched_s for b in self.batches),
            chunks=len(self.chunks),
            batches=len(self.batches),
            tokens_generated=self.source.tokens_generated,
            tokens_total=self.source.tokens_total,
            startup_s=startup_s,
        )
        outputs: list[RichOutput] = [o for r in self.results for o in r.outputs]
        return RunResult(
            mode=self.mode,
            code="".join(self.code),
            stdout="".join(r.stdout for r in self.results),
            stderr="".join(r.stderr for r in self.results),
            error=self.error,
            interrupted=self.interrupted,
            failed_chunk=self.failed_chunk,
            chunks=tuple(self.chunks),
            batches=tuple(self.batches),
            decisions=tuple(self.decisions),
            events=tuple(self.events),
            metrics=metrics,
            outputs=tuple(outputs),
            truncated=any(r.truncated for r in self.results),
        )
