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

By default the executor's session is a REPL in a bubblewrap sandbox (``backend="sandbox"``:
no network, nothing of the host's files but its own work folder), or any Eager backend passed
as ``EagerExecutor(backend=...)``. The agent's tools (and managed agents) are functions of the
same name in the session whose calls run here, in the host, through Eager's tool bridge:
arguments and results travel as JSON values (a result that is none arrives as its ``repr``).
A tool acts unless named in ``read_only_tools``: a statement calling an acting tool runs only
once the step's code is complete; a read-only one runs at once (and may start before its
statement is complete). ``final_answer(value)`` records the value here (a JSON value, or the
``repr`` of anything else) and ends the step's program there. Variables the agent sends must be
JSON values; ``additional_authorized_imports`` must be importable in the session (a sandbox
has no network to install them). Without streaming (``generate``), code runs when the agent
calls the executor, as with smolagents' own.

``backend="in-process"`` (only by that name) runs the code in this process, as smolagents' local
executor does but with no import restrictions: no isolation at all, in exchange for objects:
a step's output and the final answer are the objects themselves, variables may be any object
(tools still travel as JSON values, so that the gate knows them); ``print`` is captured through
``sys.stdout`` while a step runs, so another thread's printing meanwhile lands in the step's logs.

With ``display="notebook"`` (the default) a step is a notebook cell, shown by the session's own
IPython display (the shared core of every backend): its ``output`` (the "Last output from code
snippet" of the observation, and the step's ``action_output``) is the value of its last line
when that is a bare expression (none after a ``;``), shown once the step's code ended, however
the stream was cut. From a session in another process that value is its ``text/plain`` (as
smolagents' remote executors give it), read back as the value when it is a Python literal
(``30``, ``'text'``, ``[1, 2]``). Figures the step made (matplotlib) are rendered at its end and
closed, and ``display(obj)`` works; their images are in :attr:`EagerExecutor.images` (PIL images)
and go into the step's ``observations_images`` in the agent's memory (the way smolagents gives a
model images) through ``step_callbacks=[executor.step_callback]``; each figure's text
(``<Figure size 640x480 with 1 Axes>``) ends the step's logs. With ``display="script"`` the
output is None (the step shows only what it prints).
"""

from __future__ import annotations

import ast
import asyncio
import base64
import contextlib
import gc
import inspect
import io
import json
import re
import threading
from collections.abc import Collection, Generator, Iterator, Sequence
from dataclasses import replace
from typing import Any

from .._bridge import ToolBridge
from .._errors import MissingExtraError, UsageError
from .._extract import Extractor, make_extractor
from .._gate import Gate
from .._policy import Policy
from .._result import Display, ExecResult, Mode, RichOutput, RunResult, StreamText
from .._run import run
from ..agent._observe import observe
from ..backends._base import Backend
from ..backends._fake import FakeBackend
from ..backends._sandbox import SandboxPolicy
from ..backends.repl import ReplBackend
from ..sources._adapters import PushSource
from ..sources._base import ScriptedSource
from ._smolagents_tools import FINAL_ANSWER, SETUP_FINAL_ANSWER, FinalAnswer, json_or_repr, tools_of

__all__ = ["IN_PROCESS", "EagerExecutor", "EagerModel", "ExecutionFailed"]

#: The name of the backend that runs the code in this process (no isolation).
IN_PROCESS = "in-process"
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


def _make_backend(backend: Backend | str | None) -> Backend:
    """The executor's backend: the one given, or one made by name."""
    if isinstance(backend, Backend):
        return backend
    if backend is None or backend == "sandbox":
        return ReplBackend(sandbox=SandboxPolicy())
    if backend == "repl":
        return ReplBackend()
    if backend == IN_PROCESS:
        return FakeBackend()
    raise UsageError(
        f"backend must be a Backend, 'sandbox', 'repl' or {IN_PROCESS!r}, not {backend!r}"
    )


def _value_of_text(text: str) -> Any:
    """The value a ``text/plain`` form stands for when it is a Python literal (numbers,
    strings, lists, dicts...: what smolagents' local executor would have given as the object);
    the text itself otherwise."""
    try:
        return ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return text


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
            executor.backend,
            mode=executor.mode,
            gate=executor.gate,
            extract="code",
            timeout_s=executor.timeout_s,
            display=executor.display,
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

    Use with :class:`EagerModel` around the agent's model and ``stream_outputs=True``.
    ``backend``: where the code runs: a :class:`~eager.Backend` instance (started here, closed
    by :meth:`cleanup`), or by name: ``"sandbox"`` (the default: a REPL session in a bubblewrap
    sandbox, no network), ``"repl"`` (a REPL subprocess, no sandbox) or ``"in-process"`` (this
    process, no isolation at all; see the module doc for what changes). ``read_only_tools``: the names of
    the agent's tools that only read (their statements run as soon as they are complete; the
    others act, and run once the step's code is complete). ``tool_timeout_s`` bounds one tool
    call (None: no bound, as smolagents' own executor). ``additional_authorized_imports``: the
    modules the session must be able to import (installed when missing and the session may
    reach the network; a :class:`~eager.UsageError` otherwise). ``mode`` ``"serial"`` runs each
    step once its code is complete (the baseline); ``gate`` and ``timeout_s`` as in
    :func:`eager.run`. ``code_block_tags`` as the agent's (default: read from the agent's stop
    sequences, which tell smolagents' ``<code>``/``</code>`` from its ``"markdown"`` tags).
    ``display``: ``"notebook"`` (a step's last expression is its output; figures and
    ``display()`` give :attr:`images`) or ``"script"`` (see the module doc).
    """

    def __init__(
        self,
        *,
        backend: Backend | str | None = None,
        read_only_tools: Collection[str] = (),
        tool_timeout_s: float | None = None,
        additional_authorized_imports: Sequence[str] = (),
        mode: Mode = "eager",
        gate: Gate | Policy | str = "default",
        timeout_s: float | None = None,
        code_block_tags: tuple[str, str] | str | None = None,
        display: Display = "notebook",
    ) -> None:
        _smolagents()
        if display not in ("notebook", "script"):
            raise UsageError(f"display must be 'notebook' or 'script', not {display!r}")
        if isinstance(read_only_tools, str):
            raise UsageError("read_only_tools takes a collection of tool names, not a string")
        self.display: Display = display
        self.mode: Mode = mode
        self.gate = gate
        self.timeout_s = timeout_s
        self.read_only_tools = frozenset(read_only_tools)
        self.tool_timeout_s = tool_timeout_s
        tags = MARKDOWN_TAGS if code_block_tags == "markdown" else code_block_tags
        if tags is not None and (isinstance(tags, str) or len(tags) != 2):
            raise UsageError("code_block_tags must be 'markdown' or an (open, close) pair")
        self.code_block_tags: tuple[str, str] | None = None if tags is None else (tags[0], tags[1])
        self.backend = _make_backend(backend)
        #: True when the code runs in this process (step outputs and answers are objects).
        self.in_process = isinstance(self.backend, FakeBackend)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="eager-smolagents", daemon=True
        )
        self._thread.start()
        self._turn: _Turn | None = None
        self._final: FinalAnswer | None = None
        #: Every step's :class:`~eager.RunResult`, in order.
        self.runs: list[RunResult] = []
        #: The images the last step showed (PIL images): ``display()`` calls, then its figures.
        self.images: list[Any] = []
        #: What smolagents reads of an executor's state: ``_print_outputs``, the last step's logs.
        self.state: dict[str, Any] = {}
        try:
            self._call(self.backend.start())
            self.installed_packages = self.install_packages(list(additional_authorized_imports))
        except BaseException:
            self.cleanup()
            raise

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(TURN_WAIT_S)

    def _setup(self, code: str) -> ExecResult:
        """Run setup code in the session (not part of any step); raise when it failed."""
        result: ExecResult = self._call(self.backend.execute(code))
        if result.error is not None:
            raise ExecutionFailed(f"{result.error.ename}: {result.error.evalue}")
        return result

    @property
    def _namespace(self) -> dict[str, Any] | None:
        """The session's namespace when it is in this process."""
        return self.backend.namespace if isinstance(self.backend, FakeBackend) else None

    def send_variables(self, variables: dict[str, Any]) -> None:
        """Put the agent's variables into the session: JSON values (a sandboxed session cannot
        take objects, as smolagents' remote executors without pickle); objects in process."""
        if not variables:
            return
        namespace = self._namespace
        if namespace is not None:
            namespace.update(variables)
            return
        bad = sorted(k for k, v in variables.items() if json_or_repr(v) is not v)
        if bad:
            raise UsageError(
                f"the variables {', '.join(bad)} are no JSON values: a session in another "
                "process takes JSON values only (EagerExecutor(backend='in-process') takes objects)"
            )
        self._setup(f"globals().update(__import__('json').loads({json.dumps(variables)!r}))\n")

    def send_tools(self, tools: dict[str, Any]) -> None:
        """Make the tools callable in the session, through the tool bridge (their calls run
        here); ``final_answer`` ends the step with its value."""
        final = tools.get(FINAL_ANSWER)
        self._final = None if final is None else FinalAnswer(final, self._namespace)
        specs = tools_of(
            tools, self._final, read_only=self.read_only_tools, timeout_s=self.tool_timeout_s
        )
        self.backend.bind_tools(ToolBridge(specs))
        if self._final is not None:
            self._setup(SETUP_FINAL_ANSWER)

    def install_packages(self, additional_imports: list[str]) -> list[str]:
        """Make sure the session can import these modules (``"*"`` and names it can import
        already are skipped); missing ones are installed with pip in the session, which a
        sandbox without network cannot do: that is a :class:`~eager.UsageError`."""
        names = sorted({m.split(".")[0] for m in additional_imports if m and m != "*"})
        if not names:
            return list(additional_imports)
        probe = (
            "import importlib.util as __u\n"
            f"print(*[m for m in {names!r} if __u.find_spec(m) is None], sep=',')\ndel __u\n"
        )
        missing = [m for m in self._setup(probe).stdout.strip().split(",") if m]
        if missing:
            policy = getattr(self.backend, "sandbox", None)
            if isinstance(policy, SandboxPolicy) and not policy.network:
                raise UsageError(
                    f"the sandboxed session cannot import {', '.join(missing)} and has no "
                    "network to install them: install them in the Python the session runs, or "
                    "pass EagerExecutor(backend=ReplBackend(sandbox=SandboxPolicy(network=True)))"
                )
            self._setup(
                "import subprocess as __s, sys as __y\n"
                f"__s.run([__y.executable, '-m', 'pip', 'install', *{missing!r}], check=True,"
                " capture_output=True)\ndel __s, __y\n"
            )
        return list(additional_imports)

    def begin_turn(self, stop_sequences: Sequence[str] | None = None) -> _Turn:
        """A new streamed answer (called by :class:`EagerModel`).

        Without ``code_block_tags``, the agent's are read from its ``stop_sequences``.
        """
        if self._turn is not None and self._turn.result is None:
            self._turn.finish()
        if self._final is not None:
            self._final.clear()
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
            if self._final is not None:
                self._final.clear()
            source = ScriptedSource([code_action], format="code")
            result = self._call(
                run(
                    source,
                    self.backend,
                    mode=self.mode,
                    gate=self.gate,
                    timeout_s=self.timeout_s,
                    display=self.display,
                )
            )
        self.runs.append(result)
        shown, logs = self._shown(result)
        self.state["_print_outputs"] = logs
        if result.error is not None:
            if result.error.kind in ("timeout", "crash") and self._final is not None:
                # the session may have been restarted: its final_answer is a bare stub again
                with contextlib.suppress(Exception):
                    self._setup(SETUP_FINAL_ANSWER)
            plain = replace(result, stdout="", stderr="", log=(), outputs=(), display="script")
            raise ExecutionFailed(observe(plain))
        final = self._final
        if final is not None and final.answered:
            return smolagents.local_python_executor.CodeOutput(
                output=final.value, logs=logs, is_final_answer=True
            )
        return smolagents.local_python_executor.CodeOutput(
            output=shown, logs=logs, is_final_answer=False
        )

    def _shown(self, result: RunResult) -> tuple[Any, str]:
        """The step's shown value (None: none) and its logs; :attr:`images` set.

        The value is the ``execute_result`` of the step's cell: the object itself in process,
        else its ``text/plain`` (a Python literal read back as its value). Logs are what it
        printed, then the text of what it displayed (a figure: ``<Figure size ...>``).
        """
        self.images = []
        logs: list[str] = []
        value: Any = None
        for item in result.log:
            if isinstance(item, StreamText):
                if item.name == "stdout":
                    logs.append(item.text)
                continue
            if not isinstance(item, RichOutput):
                continue
            png = item.data.get("image/png")
            if png is not None:
                self.images.append(_pil(base64.b64decode(png)))
            if item.output_type == "execute_result":
                value = _value_of_text(item.text)
                namespace = self._namespace
                if namespace is not None and "_" in namespace:
                    value = namespace["_"]  # IPython's display hook keeps the object
            elif item.text:
                logs.append(item.text if item.text.endswith("\n") else item.text + "\n")
        return value, "".join(logs)

    def cleanup(self) -> None:
        """Close the session (it runs on this executor's event loop, so the executor closes
        it, a backend passed in too) and stop the background event loop."""
        if self.loop.is_running():
            with contextlib.suppress(Exception):
                self._call(self.backend.close())
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
