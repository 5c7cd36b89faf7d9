"""The agent loop: model turns over one persistent session, each turn run while it streams.

Each turn: send the conversation, stream the answer, run its code eagerly (:func:`eager.run`),
append the observation, repeat. The loop ends when

* a turn carries **no code**: its text is the answer (the text after the last ``Final Answer:``
  line marker when there is one, else the whole text), ``stop="answer"``;
* the code calls **``final_answer(value)``** (defined in the session before the first turn):
  ``str(value)`` is the answer, ``stop="final_answer"`` (generation stops right there);
* ``max_turns`` turns were taken (``stop="max_turns"``), or the model endpoint failed
  (``stop="error"``, the conversation so far kept);
* a turn was **cut before any code**: the model hit its token limit, or the stream broke:
  ``stop="error"``, never the cut text as the answer. (A turn cut after code ran is retried
  in the loop: the repaired turn and what happened go back to the model, within
  ``max_turns``.)

Code comes as fenced blocks in the text (observation: a user message) or as code tool calls
(observation: one tool result per call, by id). The first call runs while it streams; later
calls of the same turn run after it, in order, each with its own result; calls after a failing
one get a "not run" result.

Repair: with ``repair="partial"`` (default) a failing statement stops generation at once and
the history keeps the turn as generated up to there (fence closed, tool-call JSON re-encoded;
:func:`~eager.agent.partial_turn`), then the error. ``repair="full"`` lets the turn finish
(``on_error="defer"``: nothing more runs) and keeps the whole program, then the error.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from .._bridge import ToolBridge
from .._errors import EagerError, ExtractionError
from .._result import Display, ExecError, RunResult
from .._run import run
from .._tools import Tool
from ..backends._base import Backend
from ..sources._base import LIMIT_STOPS, ScriptedSource, ToolCall, Turn
from ._events import AgentEvent, CodeFinished, CodeStarted, ModelDelta, TurnEnded, TurnStarted
from ._history import (
    AssistantMessage,
    Message,
    ToolResult,
    UserMessage,
    close_fences,
    code_of_call,
    partial_turn,
)
from ._model import Model
from ._observe import Observation, observation
from ._prompt import system_prompt
from ._records import (
    FINAL_ANSWER_SETUP,
    AgentConfig,
    AgentResult,
    AgentTurn,
    StopReason,
    final_answer_of,
)
from ._wrap import ObservedBackend, RecordingSource

__all__ = ["Agent"]


class Agent:
    """A code agent: ``model`` turns over one ``backend`` session (see the module doc).

    The backend is started by :meth:`run` and left running (the caller closes it). ``system``
    is the system prompt: None (default) builds the default one for the model's code style
    and protocol (:func:`~eager.agent.system_prompt`: how code runs, what is shown, how to
    finish), ``""`` sends none. ``on_event`` receives :class:`~eager.agent.AgentEvent` s live.
    ``display`` is how each turn's code is shown (:func:`eager.run`): ``"notebook"`` (a cell's
    last expression, ``display()`` and figures; the observation carries images) or ``"script"``.
    ``messages`` and ``turns`` hold the whole conversation and every turn, also while running.
    """

    def __init__(
        self,
        *,
        model: Model,
        backend: Backend,
        config: AgentConfig | None = None,
        system: str | None = None,
        on_event: Callable[[AgentEvent], None] | None = None,
        display: Display = "notebook",
        tools: Sequence[Tool | Callable[..., Any]] | ToolBridge | None = None,
    ) -> None:
        self.model = model
        self.display: Display = display
        #: The host tools the agent's code may call (None: the backend's own, if any).
        self.bridge = tools if isinstance(tools, ToolBridge) or tools is None else ToolBridge(tools)
        self.backend = backend
        self.config = config or AgentConfig()
        self.system = self.default_system() if system is None else (system or None)
        self.on_event = on_event
        self.messages: list[Message] = []
        self.turns: list[AgentTurn] = []
        self._t0 = time.monotonic()
        self._setup_done = False

    def default_system(self) -> str:
        """The default system prompt for this agent's model (code style, tool, protocol)."""
        model = self.model
        return system_prompt(
            code=model.code,
            display=self.display,
            protocol=model.protocol,
            tool_name=model.tool_name,
            tool_argument=model.tool_argument,
            final_answer=self.config.final_answer,
            tools=tuple((self.bridge or self.backend.bridge or ToolBridge()).by_name.values()),
        )

    def _emit(self, event: AgentEvent) -> None:
        if self.on_event is not None:
            self.on_event(event)

    def _now(self) -> float:
        return time.monotonic() - self._t0

    async def run(self, task: str | Sequence[Message]) -> AgentResult:
        """Work on ``task`` (a user message, or a conversation to continue) until it stops."""
        self._t0 = time.monotonic()
        if isinstance(task, str):
            self.messages.append(UserMessage(task))
        else:
            self.messages.extend(task)
        await self.backend.start()
        for _ in range(self.config.max_turns):
            try:
                turn = await self._turn(len(self.turns))
            except EagerError as exc:
                return self._result(None, "error", error=f"{type(exc).__name__}: {exc}")
            failure = _stream_failure(turn)
            if failure is not None:  # a cut answer is no answer: never the final one
                turn = replace(turn, answer=None)
            self.turns.append(turn)
            self._emit(TurnEnded(self._now(), turn))
            if failure is not None:
                return self._result(None, "error", error=failure)
            if turn.answer is not None:
                code = bool(turn.runs)
                return self._result(turn.answer, "final_answer" if code else "answer")
        return self._result(None, "max_turns")

    def _result(
        self, answer: str | None, stop: StopReason, *, error: str | None = None
    ) -> AgentResult:
        return AgentResult(
            answer, stop, tuple(self.turns), tuple(self.messages), self._now(), error
        )

    async def _setup(self) -> None:
        if self.config.final_answer and not self._setup_done:
            result = await self.backend.execute(FINAL_ANSWER_SETUP)
            if result.error is not None:
                raise EagerError(f"cannot define final_answer in the session: {result.error}")
        self._setup_done = True

    async def _turn(self, index: int) -> AgentTurn:
        await self._setup()
        self._emit(TurnStarted(self._now(), index))
        model, cfg = self.model, self.config
        source = RecordingSource(
            model.open(self.messages, system=self.system),
            on_delta=lambda d: self._emit(ModelDelta(self._now(), index, d)),
            tool_name=model.tool_name,
            call_id=f"call_{index}_0",
        )
        backend = ObservedBackend(
            self.backend,
            on_start=lambda code, line: self._emit(CodeStarted(self._now(), index, code, line)),
            on_end=lambda r: self._emit(CodeFinished(self._now(), index, r)),
        )
        started = time.monotonic()
        try:
            first = await run(
                source,
                backend,
                mode=cfg.mode,
                on_error="interrupt" if cfg.repair == "partial" else "defer",
                gate=cfg.gate,
                timeout_s=cfg.timeout_s,
                display=self.display,
                tools=self.bridge,
            )
        except ExtractionError:
            if source.turn.tool_calls:
                raise
            first = None  # a tool-format answer without a code call: the final answer
        said = source.turn
        has_code = first is not None and (
            bool(first.code.strip()) if model.code == "fence" else bool(said.tool_calls)
        )
        if first is None or not has_code:
            message = AssistantMessage(said.text)
            self.messages.append(message)
            return self._turn_record(index, said, message, (), (), started, first)
        if model.code == "fence":
            return self._fence_turn(index, said, first, started)
        return await self._tool_turn(index, said, first, backend, started)

    def _fence_turn(self, index: int, said: Turn, first: RunResult, started: float) -> AgentTurn:
        cut = _was_cut(first) or not _well_formed(said)
        text = partial_turn(said, keep_lines=_kept_lines(first)).text if cut else said.text
        message = AssistantMessage(text, cut=cut)
        seen = self._observe(first)
        observed = UserMessage(seen.text, observation=True, images=seen.images)
        self.messages += [message, observed]
        answer = self._final(first)
        return self._turn_record(
            index, said, message, (first,), (observed,), started, first, answer
        )

    async def _tool_turn(
        self, index: int, said: Turn, first: RunResult, backend: Backend, started: float
    ) -> AgentTurn:
        model, cfg = self.model, self.config
        calls = [
            c if c.id else ToolCall(f"call_{index}_{i}", c.name, c.arguments, c.kind)
            for i, c in enumerate(said.tool_calls)
        ]
        cut = _was_cut(first) or not _well_formed(said)
        if cut:
            repaired = partial_turn(
                Turn(said.text, tuple(calls)),
                argument=model.tool_argument,
                keep_calls=1,
                keep_lines=_kept_lines(first),
            )
            message = AssistantMessage(repaired.text, repaired.tool_calls, cut=True)
            calls = calls[:1]
        else:
            message = AssistantMessage(said.text, tuple(calls))
        runs = [first]
        results: list[Message] = [self._tool_result(calls[0], self._observe(first))]
        failed = first.error is not None
        text: str | Observation
        for call in calls[1:]:
            if failed:
                text = "Not run: an earlier code call of this turn failed."
            elif call.name != model.tool_name:
                text = f"Unknown tool {call.name!r}: the only tool is {model.tool_name!r}."
            else:
                try:
                    code = code_of_call(call, model.tool_argument)
                except ExtractionError as exc:
                    text = f"Not run: {exc}"
                else:
                    result = await run(
                        ScriptedSource([code], format="code"),
                        backend,
                        mode=cfg.mode,
                        gate=cfg.gate,
                        timeout_s=cfg.timeout_s,
                        display=self.display,
                        tools=self.bridge,
                    )
                    runs.append(result)
                    failed = result.error is not None
                    text = self._observe(result)
            results.append(self._tool_result(call, text))
        self.messages.append(message)
        self.messages.extend(results)
        answer = next((a for a in map(self._final, runs) if a is not None), None)
        return self._turn_record(
            index, said, message, tuple(runs), tuple(results), started, first, answer
        )

    def _observe(self, result: RunResult) -> Observation:
        error = result.error
        if self.config.final_answer and error is not None and error.ename == "FinalAnswer":
            log = tuple(i for i in result.log if not isinstance(i, ExecError))
            head = observation(replace(result, error=None, log=log), self.config.budget)
            if not (result.stdout or result.outputs):
                return Observation(error.evalue)
            return replace(head, text=f"{head.text}\nfinal_answer: {error.evalue}")
        return observation(result, self.config.budget)

    @staticmethod
    def _tool_result(call: ToolCall, seen: str | Observation) -> ToolResult:
        if isinstance(seen, str):
            return ToolResult(call.id, call.name, seen, call.kind)
        return ToolResult(call.id, call.name, seen.text, call.kind, seen.images)

    def _final(self, result: RunResult) -> str | None:
        error = result.error
        if error is not None and error.kind == "crash":
            self._setup_done = False  # a fresh session: define final_answer again
        if self.config.final_answer and error is not None and error.ename == "FinalAnswer":
            return error.evalue
        return None

    def _turn_record(
        self,
        index: int,
        said: Turn,
        message: AssistantMessage,
        runs: tuple[RunResult, ...],
        observations: tuple[Message, ...],
        started: float,
        first: RunResult | None,
        answer: str | None = None,
    ) -> AgentTurn:
        actual = time.monotonic() - started
        if not runs:
            answer = final_answer_of(said.text)
        return AgentTurn(
            index=index,
            said=said,
            message=message,
            runs=runs,
            observations=observations,
            interrupted=bool(runs) and runs[0].interrupted,
            actual_s=actual,
            serial_s=_serial_equivalent(first, runs, actual),
            answer=answer,
            stream=first,
        )


def _stream_failure(turn: AgentTurn) -> str | None:
    """Why this turn without code cannot be the answer, if it cannot: the model hit its token
    limit, or the stream broke, before any code came (its text is cut, not an answer). A turn
    cut after code ran is not one: the repaired turn and what happened go back to the model,
    which goes on (the bounded retry: at most ``max_turns`` turns)."""
    said, stream = turn.said, turn.stream
    if turn.runs:
        return None  # code ran: the repaired turn and its observation go back to the model
    if said.stop_reason in LIMIT_STOPS:
        return (
            f"StreamError: the model stopped at its token limit ({said.stop_reason}) in turn "
            f"{turn.index}; its answer is cut short (raise the model's max tokens)"
        )
    error = stream.error if stream is not None else None
    if not turn.runs and error is not None and error.kind == "source":
        return f"{error.ename}: {error.evalue} (turn {turn.index}; its text is cut, not an answer)"
    return None


def _kept_lines(result: RunResult) -> int | None:
    """Lines of the program up to the failing statement (None: not known)."""
    error = result.error
    if error is None:
        return None
    if error.kind == "syntax":
        return error.lineno
    chunk = next((c for c in result.chunks if c.index == result.failed_chunk), None)
    return None if chunk is None else chunk.end_line


def _was_cut(result: RunResult) -> bool:
    """Generation stopped early: interrupted at an error, or the stream broke or was malformed."""
    return result.interrupted or (
        result.error is not None and result.error.kind in ("source", "extraction")
    )


def _well_formed(turn: Turn) -> bool:
    """No fence left open, every function call's arguments complete JSON (a turn the model
    ended itself may still be cut: by its token limit)."""
    if close_fences(turn.text) != turn.text:
        return False
    for call in turn.tool_calls:
        if call.kind == "function":
            try:
                json.loads(call.arguments)
            except ValueError:
                return False
    return True


def _serial_equivalent(
    first: RunResult | None, runs: tuple[RunResult, ...], actual: float
) -> float:
    """Generation of the whole answer (scaled by tokens when cut) plus all execution time."""
    if first is None:
        return actual
    m = first.metrics
    gen = m.gen_s
    if first.interrupted and m.tokens_total and m.tokens_generated:
        ttft = m.ttft_s or 0.0
        gen = ttft + (m.gen_s - ttft) * m.tokens_total / m.tokens_generated
    return gen + sum(r.metrics.exec_s for r in runs)
