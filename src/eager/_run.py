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
import dataclasses
import time
from collections.abc import Callable, Sequence
from typing import Any, Literal

from ._bridge import ToolBridge, ToolCallRecord, ToolStats
from ._chunker import Chunk, Chunker
from ._errors import (
    BackendStartError,
    EagerError,
    ExtractionError,
    ProgramSyntaxError,
    SourceError,
    UsageError,
)
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
    SpeculationStarted,
    ToolCalled,
)
from ._extract import Format, make_extractor
from ._gate import Gate
from ._ipysyntax import CellSyntax
from ._policy import Policy
from ._prefetch import prefetch_cell
from ._result import (
    DISPLAYS,
    Batch,
    Display,
    ExecError,
    ExecResult,
    LogItem,
    Metrics,
    Mode,
    RichOutput,
    RunResult,
    StreamText,
    merge_log,
)
from ._scheduler import BatchPlan, OnError, Scheduler
from ._speculate import Speculator
from ._tools import Tool
from .backends._base import Backend, CellStep
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
    display: Display = "script",
    tools: Sequence[Tool | Callable[..., Any]] | ToolBridge | None = None,
    speculate: bool = True,
    on_batch: Callable[[Batch, ExecResult], None] | None = None,
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
    the program (see :func:`~eager.imports_of` for the modules of earlier turns).
    ``on_batch(batch, result)`` is called as each invocation returns (a live view). Errors of
    the program are data in the result; a :class:`~eager.SourceError` is raised only when
    the source failed before any token.

    ``display="notebook"`` shows each *cell* (a fenced block of a chat answer, a code tool
    call, a whole bare-code program) as IPython shows it run whole: the value of a last bare
    expression, ``display()`` output and matplotlib figures (``RunResult.outputs`` and, in
    order with the printed text, ``RunResult.log``), ``_``/``Out`` and the execution count
    once per cell, and IPython syntax (``!cmd``, ``%magic``). Eager mode shows exactly what
    serial mode shows, however the stream is cut. ``"script"`` (the default) shows only what
    the program prints, as ``python program.py`` does.

    ``tools``: host functions (or :class:`~eager.Tool` s) the program may call; in the
    session each is a function of the same name and signature whose call runs in the host
    (async tools on this event loop, alongside generation). Without ``tools`` the backend's
    own (``backend.bridge``) are used. Read-only tools are values to the gate; acting ones
    seal. With ``speculate`` (eager mode), a read-only call whose arguments are already final
    starts before its statement is complete; the program takes its result only for the same
    call (``metrics.spec_*`` count started, hits, misses and the seconds hidden).
    """
    if display not in DISPLAYS:
        raise UsageError(f"display must be 'notebook' or 'script', not {display!r}")
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
    if display == "notebook":  # the session's IPython shell, made now (start-up, not the run)
        warm = time.monotonic()
        ready = await backend.execute("", cell=CellStep())
        if ready.error is not None and ready.error.kind in ("crash", "timeout"):
            ready = await backend.execute("", cell=CellStep())  # a fresh session, once more
        if ready.error is not None:
            raise BackendStartError(f"the {backend.name} session: {ready.error.evalue}")
        startup_s += time.monotonic() - warm
    bridge, previous = backend.bridge, backend.bridge
    if tools is not None:
        bridge = tools if isinstance(tools, ToolBridge) else ToolBridge(tools)
        backend.bind_tools(bridge)  # raises UsageError where the backend has no tool channel
    policy = gate.policy if isinstance(gate, Gate) else Gate(gate).policy
    if bridge is not None and policy.seal:
        policy = policy.extend(
            unsafe=bridge.names(read_only=False),
            safe=bridge.names(read_only=True),
            category="a tool that acts",
        )
    state = _Run(
        source,
        backend,
        mode=mode,
        on_error=on_error,
        gate=Gate(policy),  # fresh imports per run
        extract=extract or source.format,
        blocks=blocks,
        timeout_s=timeout_s,
        display=display,
        bridge=bridge,
        speculate=speculate and mode == "eager",
    )
    state.on_batch = on_batch
    try:
        return await state.go(startup_s, modules, cell)
    finally:
        if tools is not None:
            backend.bind_tools(previous)


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
    display: Display = "script",
    tools: Sequence[Tool | Callable[..., Any]] | ToolBridge | None = None,
    speculate: bool = True,
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
                display=display,
                tools=tools,
                speculate=speculate,
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
        display: Display = "script",
        bridge: ToolBridge | None = None,
        speculate: bool = False,
    ) -> None:
        self.source = source
        self.bridge = bridge
        self.speculator = (
            Speculator(bridge.names(read_only=True), bridge.result_of)
            if bridge is not None and speculate and bridge.names(read_only=True)
            else None
        )
        self.display: Display = display
        self.backend = backend
        self.gate = gate
        self.extractor = make_extractor(extract, tool_argument=source.tool_argument, blocks=blocks)
        self.chunker = Chunker()
        self.timeout_s = timeout_s
        self.sched = Scheduler(mode=mode, on_error=on_error, cells=display == "notebook")
        #: Notebook display: the open cell's IPython syntax transformer, and where the cell
        #: starts in the (transformed) program text.
        self.syntax = CellSyntax() if display == "notebook" else None
        self.program: list[str] = []
        self.cell_start = 0
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
        self.tool_stats = ToolStats()
        self._stats_at_start = ToolStats()
        self.on_batch: Callable[[Batch, ExecResult], None] | None = None

    def now(self) -> float:
        return time.monotonic() - self.t0

    # -- driver -----------------------------------------------------------------------------

    async def go(self, startup_s: float, modules: tuple[str, ...], cell: str) -> RunResult:
        self.t0 = time.monotonic()
        self.events.append(RequestSent(0.0))
        bridge = self.bridge
        if bridge is None:
            return await self._go(startup_s, modules, cell)
        self._stats_at_start = dataclasses.replace(bridge.stats)
        bridge.on_record, bridge.on_result = self._tool_called, self._peek
        try:
            return await self._go(startup_s, modules, cell)
        finally:
            bridge.on_record = bridge.on_result = None
            await bridge.aclose()  # speculations of a run that failed: cancelled, too

    async def _go(self, startup_s: float, modules: tuple[str, ...], cell: str) -> RunResult:
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
        if self.bridge is not None:
            await self.bridge.aclose()  # misses counted before the metrics are made
            self.tool_stats = _stats_since(self._stats_at_start, self.bridge.stats)
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
                self._end_cell()
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
            self.sched.generation_ended(self.gen_end, "".join(self.program))
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
        if self.syntax is not None:
            code = self.syntax.feed(code)
        self._chunk(code)

    def _chunk(self, code: str) -> None:
        if not code:
            return
        self.program.append(code)
        if self.sched.takes_code:  # else (defer mode) keep generating, chunk nothing more
            self._cut(self.chunker.feed, code)

    def _end_cell(self) -> None:
        """A notebook cell ended (a block closed, or the stream): its rest, and its text."""
        if self.syntax is None:
            return
        self._chunk(self.syntax.end())
        self.syntax = CellSyntax()
        program = "".join(self.program)
        source = program[self.cell_start :]
        first_line = program.count("\n", 0, self.cell_start) + 1
        self.cell_start = len(program)
        if self.sched.takes_code:
            self._cut(self.chunker.flush)
        self.sched.cell_ended(source, first_line)
        self.wake.set()

    def _take_blocks(self, code: str, cuts: list[int]) -> None:
        """Code in which a block closed at ``cuts``: complete statements go at each cut."""
        start = 0
        for cut in cuts:
            self._take_code(code[start:cut])
            start = cut
            if self.syntax is not None:
                self._end_cell()
            elif self.sched.takes_code:
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
        # A call becomes final only when its ")" arrives or a chunk closes (new names known);
        # results arriving later peek by themselves: the hot path scans nothing else.
        if self.speculator is not None and (new or any(")" in a for a in args)):
            self._peek()

    # -- speculative tool calls -------------------------------------------------------------

    def _peek(self) -> None:
        """Start the final read-only calls in code not run yet: the statement being written
        and the chunks waiting for the session."""
        speculator, bridge = self.speculator, self.bridge
        if speculator is None or bridge is None or not self.sched.takes_code:
            return
        texts = [c.code for c in self.sched.pending]
        texts.append(self.chunker.pending)
        for text in texts:
            if "(" not in text:
                continue
            for call in speculator.calls(text):
                if bridge.speculate(call.name, list(call.args), call.kwargs):
                    self.events.append(SpeculationStarted(self.now(), call.name))

    def _tool_called(self, record: ToolCallRecord) -> None:
        t = record.started - self.t0
        self.events.append(
            ToolCalled(t, record.name, record.waited_s, record.ok, record.speculated)
        )
        self._peek()  # a result may make later calls' arguments final

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
            if self.speculator is not None:
                self.speculator.learn(chunk.code)
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
                    closing = sched.closing_step(self.now())
                    if closing is not None:
                        await self._invoke(closing)
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
            # A script's invocations say nothing of cells (backends written before cells).
            extra = {} if plan.cell is None else {"cell": plan.cell}
            result = await self.backend.execute(
                plan.code, first_line=plan.first_line, timeout_s=self.timeout_s, **extra
            )
        except EagerError as exc:  # the session itself failed: report it, lose nothing
            result = ExecResult(error=ExecError(type(exc).__name__, str(exc), kind="crash"))
        finished = self.now()
        self.events.append(BatchFinished(finished, index, finished - dispatched, result.ok))
        if self.sched.finished(plan, result, dispatched_s=dispatched, finished_s=finished):
            self._stop_generation()
        if self.on_batch is not None:
            self.on_batch(self.sched.batches[-1], result)

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
            tool_calls=self.tool_stats.calls,
            tool_s=self.tool_stats.tool_s,
            spec_started=self.tool_stats.spec_started,
            spec_hits=self.tool_stats.spec_hits,
            spec_misses=self.tool_stats.spec_misses,
            spec_hidden_s=self.tool_stats.spec_hidden_s,
        )
        results = sched.results
        log = _log(results, sched.error)
        outputs = [item for item in log if isinstance(item, RichOutput)]
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
            log=log,
            display=self.display,
            stop_reason=turn.stop_reason if turn is not None else None,
            refusal=turn.refusal if turn is not None else None,
        )


def _stats_since(before: ToolStats, now: ToolStats) -> ToolStats:
    """This run's share of a bridge's counters."""
    return ToolStats(
        calls=now.calls - before.calls,
        tool_s=now.tool_s - before.tool_s,
        spec_started=now.spec_started - before.spec_started,
        spec_hits=now.spec_hits - before.spec_hits,
        spec_misses=now.spec_misses - before.spec_misses,
        spec_hidden_s=now.spec_hidden_s - before.spec_hidden_s,
    )


def _log(results: Sequence[ExecResult], error: ExecError | None) -> tuple[LogItem, ...]:
    """Everything the run showed, in order (a notebook's output list), then its error."""
    items: list[LogItem] = []
    for r in results:
        if r.log:
            items.extend(r.log)
        else:  # no rich output in this invocation: its streams (stdout first)
            items += [StreamText("stdout", r.stdout), StreamText("stderr", r.stderr)]
            items.extend(r.outputs)
    if error is not None and not any(isinstance(i, ExecError) for i in items):
        items.append(error)
    return merge_log(items)
