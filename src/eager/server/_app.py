"""The replay server: an OpenAI-compatible ASGI app that streams recorded answers at a token rate.

``POST /v1/chat/completions`` (also ``/chat/completions``) streams the answer whose name equals
the request's ``model`` as chat-completion chunks: content deltas, or (format ``"tool"``, or
``"auto"`` when the request declares ``tools``) one tool call whose JSON arguments arrive in
pieces; ``data: [DONE]`` ends it, preceded by a usage chunk when ``stream_options.include_usage``
is set. Token ``i`` is sent at ``ttft_s + i / tps`` after the request (absolute schedule, seeded
jitter), tokens cut by :func:`eager._replay.tokenize`. ``GET /v1/models`` lists the names. One
JSON record per finished request goes to ``log`` (``model``, ``tokens_sent``, ``tokens_total``,
``disconnected``, ``duration_s``, ``status``, ...); a client that disconnects stops generation
at once.

Faults, for tests: a model suffix ``NAME@fault,fault`` or a header ``X-Eager-Fault: fault,...``:

* ``status=CODE`` (every request) / ``status=CODExN`` (the first N requests, then OK) and
  ``retry-after=S`` (its ``Retry-After`` header);
* ``non-sse``: 200 with an HTML body; ``stall-headers``: never answer;
* after ``N`` tokens: ``bad-json=N`` (a malformed event), ``drop=N`` (connection cut),
  ``no-done=N`` (clean end without ``[DONE]``; ``no-done`` alone after all tokens),
  ``stall=N`` (stop sending, keep the connection), ``error-event=N`` (an ``{"error"}`` event).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Self

from .._errors import MissingExtraError, UsageError
from ..sources._replay import ReplaySource
from ..sources._sse import (
    DONE,
    content_chunk,
    encode_event,
    final_chunk,
    tool_call_chunk,
    usage_chunk,
)
from ._answers import Answer, code_of

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

# Fault and ServerFormat are internal: the package exports ReplayServer.
__all__ = ["ReplayServer", "bind", "create_app", "make_uvicorn", "parse_faults"]

#: ``"auto"``: a tool call when the request declares ``tools``, else content.
ServerFormat = Literal["auto", "chat", "tool"]
#: Header that asks the server to misbehave (see the module doc).
FAULT_HEADER = "x-eager-fault"
#: Longest wait for the server to start or stop.
SERVER_START_TIMEOUT_S = 10.0

Log = Callable[[dict[str, Any]], None]


@dataclass(frozen=True, slots=True)
class Fault:
    """Parsed misbehaviour of one request (see the module doc); None fields are off."""

    status: int | None = None
    status_times: int | None = None
    retry_after_s: float | None = None
    non_sse: bool = False
    stall_headers: bool = False
    bad_json: int | None = None
    drop: int | None = None
    no_done: int | None = None
    stall: int | None = None
    error_event: int | None = None

    @property
    def after(self) -> dict[str, int]:
        """The faults that act after a number of tokens."""
        names = ("bad_json", "drop", "no_done", "stall", "error_event")
        return {n: v for n in names if (v := getattr(self, n)) is not None}


def parse_faults(spec: str) -> Fault:
    """``"status=429x2,retry-after=0"`` → :class:`Fault` (:class:`~eager.UsageError` if bad)."""
    fields: dict[str, Any] = {}
    for item in filter(None, (p.strip() for p in spec.split(","))):
        name, _, value = item.partition("=")
        key = name.strip().lower().replace("-", "_")
        try:
            if key == "status":
                code, _, times = value.partition("x")
                fields["status"] = int(code)
                fields["status_times"] = int(times) if times else None
            elif key == "retry_after":
                fields["retry_after_s"] = float(value)
            elif key in ("non_sse", "stall_headers"):
                fields[key] = True
            elif key in ("bad_json", "drop", "no_done", "stall", "error_event"):
                fields[key] = int(value) if value else (1 << 62)
            else:
                raise UsageError(f"unknown fault {name!r}")
        except ValueError as exc:
            raise UsageError(f"bad fault {item!r}: {exc}") from exc
    return Fault(**fields)


def _print_log(record: dict[str, Any]) -> None:
    print(json.dumps(record), file=sys.stdout, flush=True)


def _error(status: int, message: str, *, code: str, **extra: Any) -> Response:
    from starlette.responses import JSONResponse

    body = {"error": {"message": message, "type": "invalid_request_error", "code": code, **extra}}
    return JSONResponse(body, status_code=status)


class _Plan:
    """What one request streams: its event payloads, their due times, and the log record."""

    def __init__(
        self,
        *,
        answer: Answer,
        model: str,
        tool: tuple[str, str] | None,
        tps: float,
        ttft_s: float,
        jitter: float,
        seed: int,
        include_usage: bool,
        fault: Fault,
    ) -> None:
        self.model = model
        self.tool = tool
        text = json.dumps({tool[1]: code_of(answer)}) if tool else answer.text
        replay = ReplaySource(text, tps=tps, ttft_s=ttft_s, jitter=jitter, seed=seed)
        self.tokens = replay.tokens
        self.schedule = replay.schedule
        self.include_usage = include_usage
        self.fault = fault
        self.id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        self.created = int(time.time())

    def token_event(self, i: int) -> bytes:
        tok = self.tokens[i]
        if self.tool is None:
            return encode_event(content_chunk(self.id, self.model, self.created, tok, role=i == 0))
        return encode_event(tool_call_chunk(self.id, self.model, self.created, tok))

    def head_event(self) -> bytes | None:
        if self.tool is None:
            return None
        return encode_event(
            tool_call_chunk(
                self.id, self.model, self.created, "", name=self.tool[0], call_id="call_0"
            )
        )

    def tail_events(self, *, done: bool = True) -> bytes:
        finish = "tool_calls" if self.tool else "stop"
        out = encode_event(final_chunk(self.id, self.model, self.created, finish))
        if self.include_usage:
            n = len(self.tokens)
            out += encode_event(
                usage_chunk(self.id, self.model, self.created, prompt_tokens=0, completion_tokens=n)
            )
        return out + (encode_event(DONE) if done else b"")


class _EventStream:
    """The streaming response: sends the plan on schedule, stops when the client leaves."""

    media_type = "text/event-stream"

    def __init__(self, plan: _Plan, record: dict[str, Any], finish: Callable[[], None]) -> None:
        self.plan = plan
        self.record = record
        self.finish = finish

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        record = self.record
        record.update(tokens_sent=0, disconnected=False)
        try:
            if self.plan.fault.stall_headers:
                await _wait_disconnect(receive)
                record["disconnected"] = True
                return
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"text/event-stream; charset=utf-8"),
                        (b"cache-control", b"no-cache"),
                        (b"x-accel-buffering", b"no"),
                        (b"x-eager-tokens-total", str(len(self.plan.tokens)).encode()),
                    ],
                }
            )
            produce = asyncio.create_task(self._produce(send))
            listen = asyncio.create_task(_wait_disconnect(receive))
            try:
                await asyncio.wait({produce, listen}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (produce, listen):
                    task.cancel()
                await asyncio.gather(produce, listen, return_exceptions=True)
            if produce.cancelled():
                record["disconnected"] = True
            elif produce.exception() is not None:
                record["error"] = repr(produce.exception())
        finally:
            self.finish()

    async def _produce(self, send: Any) -> None:
        """Send the events (returning without ending the body makes uvicorn cut the line)."""
        plan, record = self.plan, self.record
        loop = asyncio.get_running_loop()
        start = loop.time()
        after = plan.fault.after

        async def body(data: bytes, *, more: bool = True) -> None:
            await send({"type": "http.response.body", "body": data, "more_body": more})

        head = plan.head_event()
        n_tokens = len(plan.tokens)
        for i in range(n_tokens + 1):
            for name, n in after.items():
                if i == min(n, n_tokens):
                    return await self._misbehave(name, body)
            if i == n_tokens:
                break
            delay = start + plan.schedule[i] - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if head is not None:
                await body(head)
                head = None
            await body(plan.token_event(i))
            record["tokens_sent"] = i + 1
        await body(plan.tail_events(), more=False)

    async def _misbehave(self, name: str, body: Callable[..., Any]) -> None:
        self.record["fault"] = name.replace("_", "-")
        if name == "drop":
            return  # the body never ends: the connection is cut
        if name == "stall":
            await asyncio.Event().wait()  # until the client leaves (the task is cancelled)
        elif name == "bad_json":
            await body(b'data: {"choices": [{"index": 0, "delta": {"content": "x"\n\n')
        elif name == "error_event":
            await body(encode_event({"error": {"message": "injected server error"}}))
        elif name == "no_done":
            await body(self.plan.tail_events(done=False))
        await body(b"", more=False)


async def _wait_disconnect(receive: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


def _require_serve() -> None:
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise MissingExtraError(exc.name or "starlette", "serve") from exc


def create_app(
    answers: Mapping[str, Answer],
    *,
    tps: float = 50.0,
    ttft_s: float = 0.1,
    jitter: float = 0.0,
    seed: int = 0,
    format: ServerFormat = "auto",
    token: str | None = None,
    tool_name: str = "python",
    tool_argument: str = "code",
    log: Log | None = None,
) -> Starlette:
    """The replay server's ASGI app (Starlette) serving ``answers`` (see the module doc).

    ``token``: require ``Authorization: Bearer <token>``. ``log`` receives one record per
    finished request (default: a JSON line on stdout).
    """
    _require_serve()
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    if tps <= 0 or ttft_s < 0 or jitter < 0:
        raise UsageError("tps must be positive; ttft and jitter must not be negative")
    emit = log or _print_log
    names = sorted(answers)
    fault_counts: dict[tuple[str, str], int] = {}

    def unauthorized(request: Request) -> Response | None:
        if token is None or request.headers.get("authorization", "") == f"Bearer {token}":
            return None
        return _error(
            401, "invalid or missing API key (Authorization: Bearer ...)", code="invalid_api_key"
        )

    async def models(request: Request) -> Response:
        if (denied := unauthorized(request)) is not None:
            return denied
        data = [{"id": n, "object": "model", "created": 0, "owned_by": "eager"} for n in names]
        return JSONResponse({"object": "list", "data": data})

    async def completions(request: Request) -> Any:
        t0 = time.monotonic()
        record: dict[str, Any] = {"model": None, "status": 200, "tokens_sent": 0}

        def finish() -> None:
            record.setdefault("disconnected", False)
            record["duration_s"] = round(time.monotonic() - t0, 4)
            emit(record)

        response = await _completions(request, record, finish)
        if not isinstance(response, _EventStream):
            record["status"] = response.status_code
            record.setdefault("tokens_total", 0)
            finish()
        return response

    async def _completions(
        request: Request, record: dict[str, Any], finish: Callable[[], None]
    ) -> Any:
        if (denied := unauthorized(request)) is not None:
            return denied
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "the request body is not JSON", code="invalid_json")
        if not isinstance(body, dict) or not isinstance(body.get("model"), str):
            return _error(400, "the request needs a 'model' string", code="invalid_request")
        name, _, suffix = body["model"].partition("@")
        spec = ",".join(filter(None, (suffix, request.headers.get(FAULT_HEADER, ""))))
        record["model"] = name
        try:
            fault = parse_faults(spec)
        except UsageError as exc:
            return _error(400, str(exc), code="invalid_fault")
        if spec:
            record["fault"] = spec
        answer = answers.get(name)
        if answer is None:
            return _error(
                404,
                f"model {name!r} not found; available: {', '.join(names)}",
                code="model_not_found",
                param="model",
                available=names,
            )
        if fault.status is not None:
            key = (name, spec)
            fault_counts[key] = fault_counts.get(key, 0) + 1
            if fault.status_times is None or fault_counts[key] <= fault.status_times:
                response = _error(fault.status, f"injected HTTP {fault.status}", code="injected")
                if fault.retry_after_s is not None:
                    response.headers["retry-after"] = f"{fault.retry_after_s:g}"
                return response
        if fault.non_sse:
            return Response("<html><body>not an event stream</body></html>", media_type="text/html")
        tool = _tool_of(body, format, tool_name, tool_argument)
        opts = body.get("stream_options")
        plan = _Plan(
            answer=answer,
            model=name,
            tool=tool,
            tps=tps,
            ttft_s=ttft_s,
            jitter=jitter,
            seed=seed,
            include_usage=isinstance(opts, dict) and bool(opts.get("include_usage")),
            fault=fault,
        )
        record.update(stream=bool(body.get("stream")), format="tool" if tool else "chat")
        record["tokens_total"] = len(plan.tokens)
        if not body.get("stream"):
            record["tokens_sent"] = len(plan.tokens)
            return JSONResponse(_whole(plan))
        return _EventStream(plan, record, finish)

    return Starlette(
        routes=[Route(p + "/chat/completions", completions, methods=["POST"]) for p in ("/v1", "")]
        + [Route(p + "/models", models, methods=["GET"]) for p in ("/v1", "")]
    )


def _tool_of(
    body: dict[str, Any], format: ServerFormat, name: str, argument: str
) -> tuple[str, str] | None:
    """The (tool name, argument) of a tool-call answer, or None for content."""
    tools = body.get("tools")
    if format == "chat" or (format == "auto" and not tools):
        return None
    if isinstance(tools, list) and tools and isinstance(tools[0], dict):
        fn = tools[0].get("function") or {}
        name = fn.get("name") or name
        params = fn.get("parameters") or {}
        required = params.get("required") or list(params.get("properties") or ())
        if required and isinstance(required[0], str):
            argument = required[0]
    return name, argument


def _whole(plan: _Plan) -> dict[str, Any]:
    text = "".join(plan.tokens)
    message: dict[str, Any] = {"role": "assistant", "content": None if plan.tool else text}
    if plan.tool:
        message["tool_calls"] = [
            {
                "id": "call_0",
                "type": "function",
                "function": {"name": plan.tool[0], "arguments": text},
            }
        ]
    n = len(plan.tokens)
    return {
        "id": plan.id,
        "object": "chat.completion",
        "created": plan.created,
        "model": plan.model,
        "choices": [
            {"index": 0, "message": message, "finish_reason": "tool_calls" if plan.tool else "stop"}
        ],
        "usage": {"prompt_tokens": 0, "completion_tokens": n, "total_tokens": n},
    }


class _QuietCut(logging.Filter):
    """Hides uvicorn's complaint when a ``drop`` fault cuts a response on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "without completing response" not in record.getMessage()


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: an ephemeral port)."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc}") from exc
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot listen on {host}:{port}: {exc}") from exc
    sock.setblocking(False)
    return sock


def make_uvicorn(app: Any, *, log_level: str = "warning") -> Any:
    """A uvicorn server for ``app`` (no access log, no lifespan, quick graceful shutdown)."""
    _require_serve()
    import uvicorn

    logging.getLogger("uvicorn.error").addFilter(_QuietCut())
    config = uvicorn.Config(
        app,
        log_level=log_level,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=1,
        ws="none",
    )
    return uvicorn.Server(config)


class ReplayServer:
    """The replay server running in this event loop, for tests and benchmarks.

    ``async with ReplayServer(answers, port=0) as server:`` serves on ``server.base_url``;
    ``server.records`` collects the log records, :meth:`wait_records` waits for them.
    Keyword arguments go to :func:`create_app`.
    """

    def __init__(
        self, answers: Mapping[str, Answer], *, host: str = "127.0.0.1", port: int = 0, **app: Any
    ) -> None:
        self.records: list[dict[str, Any]] = []
        self._changed = asyncio.Event()
        self.app = create_app(answers, log=self._log, **app)
        self.host = host
        self._sock = bind(host, port)
        self.port: int = self._sock.getsockname()[1]
        self._server: Any = None
        self._task: asyncio.Task[None] | None = None

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT/v1``."""
        return f"http://{self.host}:{self.port}/v1"

    def _log(self, record: dict[str, Any]) -> None:
        self.records.append(record)
        self._changed.set()

    async def wait_records(self, n: int = 1, *, timeout_s: float = 10.0) -> list[dict[str, Any]]:
        """Wait until ``n`` requests have finished; return all records."""
        async with asyncio.timeout(timeout_s):
            while len(self.records) < n:
                self._changed.clear()
                await self._changed.wait()
        return self.records

    async def __aenter__(self) -> Self:
        server = make_uvicorn(self.app)
        server.capture_signals = contextlib.nullcontext  # the host process owns its signals
        self._server = server
        self._task = asyncio.create_task(server.serve(sockets=[self._sock]))
        async with asyncio.timeout(SERVER_START_TIMEOUT_S):
            while not server.started:
                if self._task.done():
                    await self._task
                    raise UsageError("the replay server stopped during start-up")
                await asyncio.sleep(0.005)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            done, _ = await asyncio.wait({self._task}, timeout=SERVER_START_TIMEOUT_S)
            if not done:
                self._task.cancel()
                await asyncio.wait({self._task}, timeout=SERVER_START_TIMEOUT_S)
        self._sock.close()
