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
import time
from collections.abc import Callable, Sequence
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
    Prefetched,
    RequestSent,
    RunFinished,
)
from ._extract import Format, make_extractor
from ._gate import Gate
from ._policy import Policy
from ._prefetch import prefetch_cell
from ._result import ExecError, ExecResult, Metrics, Mode, RichOutput, RunResult
from ._scheduler import BatchPlan, OnError, Scheduler
from .backends._base import Backend
from .sources._base import Source

__all__ = ["OnError", "run", "run_sync"]

_BOM = "\ufeff"
#: Bound on closing a source after generation ended or was cancelled.
CLOSE_TIMEOUT_S = 5.0


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
    prefetch: Sequence[str] = (),
) -> RunResult:
    """Run the program ``source`` streams on ``backend`` and report what happened.

    ``mode="eager"`` executes complete statements while the rest is still streaming;
    ``mode="serial"`` runs the whole program in one invocation once generation ended. The
    backend is started before the request is sent (its start-up is reported apart, in
    ``metrics.startup_s``) and is left running. ``extract`` overrides ``source.format``;
    ``timeout_s`` bounds each invocation. ``prefetch`` names modules the session imports
    while waiting for the first token (time to first token is idle time), in both modes
    alike, quietly (a failing import is ignored); it is reported as a
    :class:`~eager.Prefetched` event and ``metrics.prefetch_s``, never as execution time of
    the program (see :func:`~eager.imports_of` for the modules of earlier turns). Errors of
    the program are data in the result; a :class:`~eager.SourceError` is raised only when
    the source failed before any token.
    """
    if mode not in ("eager", "serial"):
        raise UsageError(f"mode must be 'eager' or 'serial', not {mode!r}")
    if on_error not in ("interrupt", "defer"):
        raise UsageError(f"on_error must be 'interrupt' or 'defer', not {on_error!r}")
    if isinstance(prefetch, str):
        raise UsageError(f"prefetch takes a sequence of module names, not the string {prefetch!r}")
    modules = tuple(dict.fromkeys(prefetch))
    cell = prefetch_cell(modules)  # checks the names before anything starts
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
    return await state.go(startup_s, modules, cell)


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
    prefetch: Sequence[str] = (),
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
                prefetch=prefetch,
            )

    return asyncio.run(main())


class _Run:
    """One run: the producer and executor tasks around a :class:`Scheduler`, and clean-up."""

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
        self.gate = gate
        self.extractor = make_extractor(extract, tool_argument=source.tool_argument, blocks=blocks)
        self.chunker = Chunker()
        self.timeout_s = timeout_s
        self.sched = Scheduler(mode=mode, on_error=on_error)
        self.t0 = 0.0
        self.events: list[Event] = []
        self.code: list[str] = []
        self.source_error: EagerError | None = None
        self.stop_generation = False
        self.first_token: float | None = None
        self.gen_end: float | None = None
        self.wake = asyncio.Event()
        self.producer: asyncio.Task[None] | None = None
        self.prefetch_s: float | None = None

    def now(self) -> float:
        return time.monotonic() - self.t0

    # -- driver -----------------------------------------------------------------------------

    async def go(self, startup_s: float, modules: tuple[str, ...], cell: str) -> RunResult:
        self.t0 = time.monotonic()
        self.events.append(RequestSent(0.0))
        try:
            async with asyncio.TaskGroup() as tg:
                self.producer = tg.create_task(self._produce())
                tg.create_task(self._execute(modules, cell))
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
                code = self.extractor.feed(delta)
                cuts = self.extractor.boundaries()
                if cuts:
                    self._take_blocks(code, cuts)
                else:
                    self._take_code(code)
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
            # The end first: a cancellation during the close below must not lose it.
            self.sched.generation_ended(self.gen_end, "".join(self.code))
            self.wake.set()
            # Clean-up is shielded and bounded: closing a stream must never hang a run.
            aclose = getattr(stream, "aclose", None)
            with contextlib.suppress(Exception, asyncio.TimeoutError):
                if aclose is not None:
                    await asyncio.shield(asyncio.wait_for(aclose(), CLOSE_TIMEOUT_S))
                if cancelled:
                    await asyncio.shield(asyncio.wait_for(self.source.aclose(), CLOSE_TIMEOUT_S))

    def _take_code(self, code: str) -> None:
        if not code:
            return
        self.code.append(code)
        if self.sched.takes_code:  # else (defer mode) keep generating, chunk nothing more
            self._cut(self.chunker.feed, code)

    def _take_blocks(self, code: str, cuts: list[int]) -> None:
        """Code in which a block closed at ``cuts``: complete statements go at each cut."""
        start = 0
        for cut in cuts:
            self._take_code(code[start:cut])
            start = cut
            if self.sched.takes_code:
                self._cut(self.chunker.flush)
        self._take_code(code[start:])

    def _cut(self, step: Callable[..., list[Chunk]], *args: str) -> None:
        """Run one chunker step and accept its chunks (those before a syntax error too)."""
        try:
            new = step(*args)
        except ProgramSyntaxError as exc:
            self._accept(exc.chunks)
            self._syntax_error(exc)
            return
        if new:
            self._accept(new)

    def _close_chunker(self) -> None:
        if not self.sched.takes_code:
            return
        try:
            self._accept(self.chunker.close())
            if self.sched.sealed_at is not None:
                # Sealed chunks run only if the whole program compiles (parsing alone misses
                # errors like a top-level `return`); without a seal this is the backend's job,
                # and compiling here would only delay the last chunk.
                program = self.chunker.text.removeprefix(_BOM)
                compile(program, "<program>", "exec", dont_inherit=True)
            self.sched.program_compiled()
        except ProgramSyntaxError as exc:
            self._accept(exc.chunks)
            self._syntax_error(exc)
        except SyntaxError as exc:  # a compile-time error that parsing alone misses
            self._syntax_error(
                ProgramSyntaxError(exc.msg, lineno=exc.lineno, offset=exc.offset, text=exc.text)
            )
        self.wake.set()

    def _syntax_error(self, exc: ProgramSyntaxError) -> None:
        error = ExecError(
            "SyntaxError", exc.msg, traceback=str(exc), lineno=exc.lineno, kind="syntax"
        )
        if self.sched.syntax_error(error, self.now()):
            self._stop_generation()
        self.wake.set()

    def _accept(self, chunks: list[Chunk] | tuple[object, ...]) -> None:
        events = self.events
        tokens = self.source.tokens_generated
        for chunk in chunks:
            assert isinstance(chunk, Chunk)
            t = self.now()
            events.append(
                ChunkClosed(t, chunk.index, chunk.start_line, chunk.end_line, tokens, chunk.end)
            )
            decision = self.sched.admit(chunk, t, self.gate.classify)
            if decision is not None:
                events.append(GateDecided(t, chunk.index, decision.decision, decision.reason))
        if chunks:
            self.wake.set()

    # -- executor ---------------------------------------------------------------------------

    async def _prefetch(self, modules: tuple[str, ...], cell: str) -> None:
        """Import ``modules`` in the session while the first token is awaited (quietly)."""
        started = self.now()
        try:
            result = await self.backend.execute(cell, timeout_s=self.timeout_s)
            ok = result.error is None or result.error.kind == "runtime"
        except EagerError:  # a broken session is reported by the program's first batch
            ok = False
        finished = self.now()
        self.prefetch_s = finished - started
        self.events.append(Prefetched(finished, modules, self.prefetch_s, ok))

    async def _execute(self, modules: tuple[str, ...], cell: str) -> None:
        if cell:
            await self._prefetch(modules, cell)
        sched = self.sched
        while True:
            plan = sched.next_batch(self.now())
            if plan is None:
                if sched.done:
                    return
                self.wake.clear()  # no await since the check: no wake-up can be lost
                await self.wake.wait()
                continue
            await self._invoke(plan)

    async def _invoke(self, plan: BatchPlan) -> None:
        index = len(self.sched.batches)
        dispatched = self.now()
        self.events.append(BatchDispatched(dispatched, index, tuple(c.index for c in plan.chunks)))
        try:
            result = await self.backend.execute(
                plan.code, first_line=plan.first_line, timeout_s=self.timeout_s
            )
        except EagerError as exc:  # the session itself failed: report it, lose nothing
            result = ExecResult(error=ExecError(type(exc).__name__, str(exc), kind="crash"))
        finished = self.now()
        self.events.append(BatchFinished(finished, index, finished - dispatched, result.ok))
        if self.sched.finished(plan, result, dispatched_s=dispatched, finished_s=finished):
            self._stop_generation()

    def _fail(self, error: ExecError, chunk: int | None) -> None:
        if self.sched.fail(error, chunk, self.now()):
            self._stop_generation()
        self.wake.set()

    def _stop_generation(self) -> None:
        if self.producer is not None and self.producer is not asyncio.current_task():
            self.producer.cancel()  # closes the source's stream in the producer's finally
        else:
            self.stop_generation = True  # the producer found it: it stops reading

    # -- result -----------------------------------------------------------------------------

    def _result(self, startup_s: float) -> RunResult:
        sched = self.sched
        gen_end = self.gen_end if self.gen_end is not None else self.now()
        exec_end = max((b.finished_s for b in sched.batches), default=None)
        # An interrupted run ends when generation is cancelled, a few µs after the error was
        # reported: e2el covers both, so that gen_s <= e2el_s always holds.
        e2el = max(gen_end, exec_end or 0.0, sched.error_at or 0.0)
        nel = max(0.0, exec_end - gen_end) if exec_end is not None else 0.0
        metrics = Metrics(
            ttft_s=self.first_token,
            gen_s=gen_end,
            e2el_s=e2el,
            nel_s=nel,
            exec_s=sum(b.finished_s - b.dispatched_s for b in sched.batches),
            chunks=len(sched.chunks),
            batches=len(sched.batches),
            tokens_generated=self.source.tokens_generated,
            tokens_total=self.source.tokens_total,
            startup_s=startup_s,
            prefetch_s=self.prefetch_s,
        )
        results = sched.results
        outputs: list[RichOutput] = [o for r in results for o in r.outputs]
        turn = self.source.turn
        return RunResult(
            mode=sched.mode,
            code="".join(self.code),
            stdout="".join(r.stdout for r in results),
            stderr="".join(r.stderr for r in results),
            error=sched.error,
            interrupted=sched.interrupted,
            failed_chunk=sched.failed_chunk,
            chunks=tuple(sched.chunks),
            batches=tuple(sched.batches),
            decisions=tuple(sched.decisions),
            events=tuple(self.events),
            metrics=metrics,
            outputs=tuple(outputs),
            truncated=any(r.truncated for r in results),
            stop_reason=turn.stop_reason if turn is not None else None,
            refusal=turn.refusal if turn is not None else None,
        )
