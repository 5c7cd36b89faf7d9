"""A drop-in for smolagents' ``CodeAgent``: statements run while its model streams.

Two pieces, no fork or patch of smolagents: :class:`EagerModel` wraps any smolagents model
that has ``generate_stream`` and feeds the code of each streamed answer into an
:class:`EagerExecutor`, which runs complete statements in its session at once (the Eager
pipeline, on an event loop in a background thread). When a statement fails, the wrapper stops
reading the model's stream (closing it, so the server stops generating) and drops the
unfinished last line: smolagents closes the code block and keeps the code as streamed up to the
stop (the failing statement, and the few complete lines that arrived before the stop took
effect) in its memory, and the executor raises the error for the next step (the "partial"
repair)::

    from smolagents import CodeAgent, OpenAIServerModel
    from eager.integrations.smolagents import EagerExecutor, EagerModel

    executor = EagerExecutor()
    agent = CodeAgent(tools=[], model=EagerModel(OpenAIServerModel(...), executor),
                      executor=executor, stream_outputs=True)
    agent.run("...")

The executor's session runs in this process (like smolagents' local executor, tools and
variables are objects in its namespace; ``print`` output is captured, ``final_answer`` ends
the run; unlike it, imports are not restricted: it is no sandbox). Without streaming
(``generate``), code runs when the agent calls the executor, as with smolagents' own.

With ``display="notebook"`` (the default) a step is a notebook cell: its ``output`` (the "Last
output from code snippet" of the observation, and the step's ``action_output``) is the value of
its last line when that is a bare expression (the object itself, as smolagents' local executor
gives it; none after a ``;``), shown once the step's code ended, however the stream was cut.
Figures the step made (matplotlib) are rendered at its end and closed, and ``display(obj)``
works; their images are in :attr:`EagerExecutor.images` (PIL images) and go into the step's
``observations_images`` in the agent's memory (the way smolagents gives a model images) through
``step_callbacks=[executor.step_callback]``; each figure's text
(``<Figure size 640x480 with 1 Axes>``) ends the step's logs. With ``display="script"`` the
output is None (the step shows only what it prints).
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import gc
import inspect
import io
import re
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import replace
from typing import Any

from .._errors import MissingExtraError, UsageError
from .._extract import Extractor, make_extractor
from .._gate import Gate
from .._policy import Policy
from .._result import Display, ExecError, ExecResult, Mode, RunResult
from .._run import run
from ..agent._observe import observe
from ..backends._base import Backend, CellStep
from ..backends._interpreter import Interpreter
from ..backends._report import error_from_report
from ..sources._adapters import PushSource
from ..sources._base import ScriptedSource
from ._notebook import InProcessCell, png_of, unhold_traceback

__all__ = ["EagerExecutor", "EagerModel", "ExecutionFailed", "FinalAnswerRaised"]

#: Longest wait for the last statements of a turn to finish after its stream ended, in seconds.
TURN_WAIT_S = 600.0
#: Most generators searched for an SDK stream to close (a stopped turn).
_MAX_GENERATORS = 16
#: smolagents' default code block tags.
DEFAULT_TAGS = ("<code>", "</code>")
#: Its ``code_block_tags="markdown"``.
MARKDOWN_TAGS = ("```python", "```")


def _smolagents() -> Any:
    try:
        import smolagents
    except ImportError as exc:
        raise MissingExtraError("smolagents", "smolagents") from exc
    return smolagents


class ExecutionFailed(Exception):
    """Raised to smolagents when a step's code failed; its text is what the model sees."""


class FinalAnswerRaised(BaseException):
    """Raised inside the session by ``final_answer(...)``: the run stops there."""


class _Session(Backend):
    """An in-process session: the namespace holds the tools; ``print`` goes to a buffer.

    ``cell`` (notebook display) holds the value of the step's last expression and its images.
    """

    name = "smolagents"

    def __init__(self, display: Display = "notebook") -> None:
        self.namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
        self.cell = InProcessCell() if display == "notebook" else None
        if self.cell is not None:
            self.namespace["display"] = self._display
        self._interp = Interpreter(self.namespace, hidden_files=(__file__,))
        self.startup_s = 0.0
        self._out = io.StringIO()

    def _display(self, *objs: Any, **_: Any) -> None:
        assert self.cell is not None
        self.cell.display(*objs, out=self._out)

    def _print(self, *args: Any, sep: str | None = " ", end: str | None = "\n", **kw: Any) -> None:
        if kw.get("file") is not None:  # an explicit file (sys.stderr, an open file) is kept
            builtins.print(*args, sep=sep, end=end, **kw)
            return
        builtins.print(*args, sep=sep, end=end, file=self._out, flush=bool(kw.get("flush")))

    async def _start(self) -> None:
        self.namespace.setdefault("print", self._print)

    async def _execute(
        self,
        code: str,
        *,
        first_line: int,
        timeout_s: float | None,
        cell: CellStep | None = None,
    ) -> ExecResult:
        # ``cell`` (Eager's own notebook display) is not used: the step is the cell, kept here.
        self._out = io.StringIO()
        self.namespace["print"] = self._print
        t0 = time.perf_counter()
        if self.cell is None:
            raw = self._interp.run(code, first_line)
        else:
            raw = self._interp.run(self.cell.prepare(code), first_line)
            self.cell.ran(self.namespace, failed=raw is not None)
        error: ExecError | None = None if raw is None else error_from_report(raw)
        if error is not None and self.cell is not None:
            error = replace(error, traceback=unhold_traceback(error.traceback))
        return ExecResult(
            stdout=self._out.getvalue(), error=error, duration_s=time.perf_counter() - t0
        )

    async def _close(self) -> None:
        """Nothing to release."""

    async def interrupt(self) -> None:
        """Code runs in this process: it cannot be interrupted from outside."""

    async def reset(self) -> None:
        self._interp.reset()


class _Tags:
    """Streams the code of the first block between literal ``open`` and ``close`` tags."""

    def __init__(self, open_tag: str, close_tag: str) -> None:
        self.open, self.close_tag = open_tag, close_tag
        self.buf = ""
        self.state = "prose"  # prose | lead (skipping newlines after the tag) | code | done

    def feed(self, text: str) -> tuple[str, bool]:
        """The code this text reveals, and whether the block closed."""
        self.buf += text
        out: list[str] = []
        while True:
            if self.state == "prose":
                i = self.buf.find(self.open)
                if i < 0:
                    self.buf = self.buf[-(len(self.open) - 1) :] if len(self.open) > 1 else ""
                    return "", False
                self.buf = self.buf[i + len(self.open) :]
                self.state = "lead"
            if self.state == "lead":
                self.buf = self.buf.lstrip("\r\n")
                if not self.buf:
                    return "".join(out), False
                self.state = "code"
            if self.state == "code":
                j = self.buf.find(self.close_tag)
                if j >= 0:
                    out.append(self.buf[:j])
                    self.buf, self.state = "", "done"
                    return "".join(out), True
                keep = len(self.close_tag) - 1
                cut = max(0, len(self.buf) - keep)
                out.append(self.buf[:cut])
                self.buf = self.buf[cut:]
                return "".join(out), False
            return "", self.state == "done"


class _ChatBlocks:
    """Markdown fences (smolagents' ``code_block_tags="markdown"``): Eager's chat extractor."""

    def __init__(self) -> None:
        self.inner: Extractor = make_extractor("chat", blocks="first")

    def feed(self, text: str) -> tuple[str, bool]:
        return self.inner.feed(text), False


def _tags_of(stop_sequences: Sequence[str] | None) -> tuple[str, str]:
    """The code block tags of the smolagents ``CodeAgent`` that sent ``stop_sequences``: it
    stops its model at ``</code>`` with its default tags; with markdown tags (whose closing
    fence is part of the opening one) it sends no closing tag."""
    return DEFAULT_TAGS if DEFAULT_TAGS[1] in (stop_sequences or ()) else MARKDOWN_TAGS


def _block_reader(tags: tuple[str, str]) -> _Tags | _ChatBlocks | None:
    if tags[0].startswith("```"):
        return _ChatBlocks()
    if all(re.escape(t) == t or t in DEFAULT_TAGS for t in tags):
        return _Tags(tags[0], tags[1])
    return None  # a regex we cannot match while streaming: run when the agent asks


class _Turn:
    """One streamed answer: its code source, its run (a future on the executor's loop).

    The model's thread pushes code into a :class:`~eager.PushSource` on the executor's loop;
    the run's cancellation (a statement failed) sets :attr:`stopped` for the model's thread.
    """

    def __init__(self, executor: EagerExecutor, tags: tuple[str, str]) -> None:
        self.loop = executor.loop
        self._stopped = threading.Event()
        self._ended = False
        self.source = PushSource(format="code", on_cancel=self._stopped.set)
        self.reader = _block_reader(tags)
        coro = run(
            self.source,
            executor.session,
            mode=executor.mode,
            gate=executor.gate,
            extract="code",
            timeout_s=executor.timeout_s,
        )
        self.future = asyncio.run_coroutine_threadsafe(coro, executor.loop)
        self.result: RunResult | None = None

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    def _end(self) -> None:
        if not self._ended:
            self._ended = True
            self.loop.call_soon_threadsafe(self.source.end)

    def feed(self, text: str) -> None:
        if self.reader is None or self._ended:
            return
        code, closed = self.reader.feed(text)
        if code:
            self.loop.call_soon_threadsafe(self.source.feed, code)
        if closed:
            self._end()  # a closing tag ends the code: run the last statement now

    def finish(self) -> RunResult:
        self._end()
        if self.result is None:
            self.result = self.future.result(TURN_WAIT_S)
        return self.result


class EagerExecutor:
    """A smolagents ``PythonExecutor`` running each step's code while the model streams it.

    Use with :class:`EagerModel` around the agent's model and ``stream_outputs=True``. ``mode``
    ``"serial"`` runs each step once its code is complete (the baseline); ``gate`` and
    ``timeout_s`` as in :func:`eager.run` (the in-process session does not enforce a timeout).
    ``code_block_tags`` as the agent's (default: read from the agent's stop sequences, which
    tell smolagents' ``<code>``/``</code>`` from its ``"markdown"`` tags). ``display``:
    ``"notebook"`` (a step's last expression is its output; figures and ``display()`` give
    :attr:`images`) or ``"script"`` (see the module doc).
    """

    def __init__(
        self,
        *,
        mode: Mode = "eager",
        gate: Gate | Policy | str = "default",
        timeout_s: float | None = None,
        code_block_tags: tuple[str, str] | str | None = None,
        display: Display = "notebook",
    ) -> None:
        _smolagents()
        if display not in ("notebook", "script"):
            raise UsageError(f"display must be 'notebook' or 'script', not {display!r}")
        self.display: Display = display
        self.mode: Mode = mode
        self.gate = gate
        self.timeout_s = timeout_s
        tags = MARKDOWN_TAGS if code_block_tags == "markdown" else code_block_tags
        if tags is not None and (isinstance(tags, str) or len(tags) != 2):
            raise UsageError("code_block_tags must be 'markdown' or an (open, close) pair")
        self.code_block_tags: tuple[str, str] | None = None if tags is None else (tags[0], tags[1])
        self.session = _Session(display)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="eager-smolagents", daemon=True
        )
        self._thread.start()
        self._call(self.session.start())
        self._turn: _Turn | None = None
        self._final: list[Any] = []
        #: Every step's :class:`~eager.RunResult`, in order.
        self.runs: list[RunResult] = []
        #: The images the last step showed (PIL images): ``display()`` calls, then its figures.
        self.images: list[Any] = []

    @property
    def state(self) -> dict[str, Any]:
        """The session's namespace (smolagents reads ``_print_outputs`` from it on errors)."""
        return self.session.namespace

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(TURN_WAIT_S)

    def send_variables(self, variables: dict[str, Any]) -> None:
        """Put the agent's variables into the session."""
        self.state.update(variables)

    def send_tools(self, tools: dict[str, Any]) -> None:
        """Put the tools into the session; ``final_answer`` ends the step with its value."""
        for name, tool in tools.items():
            self.state[name] = self._final_answer(tool) if name == "final_answer" else tool

    def _final_answer(self, tool: Callable[..., Any]) -> Callable[..., Any]:
        def final_answer(*args: Any, **kwargs: Any) -> Any:
            self._final.append(tool(*args, **kwargs))
            raise FinalAnswerRaised(repr(self._final[-1]))

        return final_answer

    def begin_turn(self, stop_sequences: Sequence[str] | None = None) -> _Turn:
        """A new streamed answer (called by :class:`EagerModel`).

        Without ``code_block_tags``, the agent's are read from its ``stop_sequences``.
        """
        if self._turn is not None and self._turn.result is None:
            self._turn.finish()
        self._final.clear()
        if self.session.cell is not None:
            self.session.cell.begin()
        self._turn = _Turn(self, self.code_block_tags or _tags_of(stop_sequences))
        return self._turn

    def step_callback(self, memory_step: Any, agent: Any = None) -> None:
        """A smolagents step callback putting the step's :attr:`images` into its memory
        (``observations_images``): ``CodeAgent(..., step_callbacks=[executor.step_callback])``."""
        if self.images and hasattr(memory_step, "observations_images"):
            memory_step.observations_images = list(self.images)

    def __call__(self, code_action: str) -> Any:
        """The step's outcome: the streamed run's, else ``code_action`` run now."""
        smolagents = _smolagents()
        turn, self._turn = self._turn, None
        result = turn.finish() if turn is not None else None
        if result is None or not result.code.strip():
            self._final.clear()
            if self.session.cell is not None:
                self.session.cell.begin()
            source = ScriptedSource([code_action], format="code")
            result = self._call(
                run(source, self.session, mode=self.mode, gate=self.gate, timeout_s=self.timeout_s)
            )
        self.runs.append(result)
        error = result.error
        shown, logs = self._shown(result)
        self.state["_print_outputs"] = logs
        if error is not None and error.ename == FinalAnswerRaised.__name__ and self._final:
            return smolagents.local_python_executor.CodeOutput(
                output=self._final[-1], logs=logs, is_final_answer=True
            )
        if error is not None:
            raise ExecutionFailed(observe(replace(result, stdout="", stderr="")))
        return smolagents.local_python_executor.CodeOutput(
            output=shown, logs=logs, is_final_answer=False
        )

    def _shown(self, result: RunResult) -> tuple[Any, str]:
        """The step's shown value (None: none) and its logs; :attr:`images` set."""
        cell = self.session.cell
        self.images = []
        if cell is None:
            return None, result.stdout
        held, pngs, texts = cell.finish(result.code, failed=result.error is not None)
        value = None if held is None else held[0]
        main = None if value is None or hasattr(value, "savefig") else png_of(value)
        self.images = [_pil(png) for png in ([main] if main else []) + pngs]
        return value, result.stdout + texts

    def cleanup(self) -> None:
        """Stop the background event loop."""
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=5)
        if not self.loop.is_running() and not self.loop.is_closed():
            self.loop.close()


class EagerModel:
    """Wraps a smolagents model: its stream feeds an :class:`EagerExecutor` as it arrives.

    Every attribute but ``generate_stream`` is the wrapped model's. The stream stops (and is
    closed) as soon as a statement fails; the answer then ends at its last complete line.
    """

    def __init__(self, model: Any, executor: EagerExecutor) -> None:
        if not hasattr(model, "generate_stream"):
            raise TypeError(f"{type(model).__name__} has no generate_stream: it cannot stream")
        self.model = model
        self.executor = executor

    def __getattr__(self, name: str) -> Any:
        return getattr(self.model, name)

    def generate_stream(self, *args: Any, **kwargs: Any) -> Generator[Any, None, None]:
        """The wrapped model's stream, each content delta fed to the executor first."""
        delta_type = _smolagents().models.ChatMessageStreamDelta
        stops = kwargs.get("stop_sequences", args[1] if len(args) > 1 else None)
        turn = self.executor.begin_turn(stops)
        stream: Iterator[Any] = self.model.generate_stream(*args, **kwargs)
        held = ""  # the unfinished line: shown once complete, dropped if the turn is cut
        try:
            for delta in stream:
                text = getattr(delta, "content", None)
                if not text:
                    yield delta
                    continue
                turn.feed(text)
                lines, nl, held = (held + text).rpartition("\n")
                if nl:
                    yield replace_content(delta, lines + nl, delta_type)
                if turn.stopped:
                    held = ""
                    break
            if held:
                yield delta_type(content=held)
        finally:
            if turn.stopped:
                _close_sdk_streams(stream)
            close = getattr(stream, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    close()
            turn.finish()


def _close_sdk_streams(generator: Any) -> None:
    """Close the SDK stream a model's ``generate_stream`` is iterating, so the server sees
    the disconnect now: the openai SDK closes its HTTP response only when its stream object is
    freed, and that object sits in a reference cycle (freed at the next garbage collection).
    The stream is found among what the generator (and the generators it iterates) holds."""
    todo, seen = [generator], {id(generator)}
    while todo and len(seen) < _MAX_GENERATORS:
        for obj in gc.get_referents(todo.pop()):
            if inspect.isgenerator(obj):
                if id(obj) not in seen:
                    seen.add(id(obj))
                    todo.append(obj)
            elif hasattr(obj, "response") and callable(getattr(obj, "close", None)):
                with contextlib.suppress(Exception):
                    obj.close()


def _pil(png: bytes) -> Any:
    """A PNG as a PIL image (loaded: independent of the bytes), as smolagents keeps images."""
    from PIL import Image

    image = Image.open(io.BytesIO(png))
    image.load()
    return image


def replace_content(delta: Any, content: str, delta_type: Any) -> Any:
    """A copy of a smolagents stream delta with other content."""
    return delta_type(
        content=content,
        tool_calls=getattr(delta, "tool_calls", None),
        token_usage=getattr(delta, "token_usage", None),
    )
