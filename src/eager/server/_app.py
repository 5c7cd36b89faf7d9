"""The replay server: recorded conversations served as a model endpoint in three protocols.

Routes (each also without the ``/v1`` prefix): ``POST /v1/chat/completions`` (OpenAI Chat
Completions), ``POST /v1/responses`` (OpenAI Responses), ``POST /v1/messages`` (Anthropic
Messages), ``GET /v1/models``. The request's ``model`` names a recording (see ``_answers``);
its turn k answers a request whose history already holds k−1 assistant turns (stateless; past
the last turn: a 400 error). Streaming (``"stream": true``) or whole; as content, or as a tool
call whose input is the turn's code (format ``"tool"``, or ``"auto"`` when the request declares
a tool: ``{"code": ...}`` JSON for a function tool, the raw code for a Responses custom tool).
Token ``i`` is due at ``ttft_s + i / tps`` (``_schedule``); faults come from a model suffix
``NAME@fault,...`` or the ``X-Eager-Fault`` header (``_faults``). With ``token`` set, a request
needs ``Authorization: Bearer TOKEN`` or ``x-api-key: TOKEN`` (else 401). One record per
finished request goes to ``log`` (``model``, ``protocol``, ``turn``, ``status``,
``tokens_sent``, ``tokens_total``, ``disconnected``, ``duration_s``, ...).
"""

from __future__ import annotations

import json
import logging
import socket
import sys
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from .._errors import MissingExtraError, UsageError
from ._answers import Answer, Recording, code_in, recording_of
from ._anthropic import AnthropicWire
from ._chat import ChatWire
from ._faults import FAULT_HEADER, StatusCounter, parse_faults
from ._responses import ResponsesWire
from ._schedule import Pace, TokenPlan, plan_tokens
from ._stream import EventStream
from ._wire import Reply, ToolForm, Wire

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

__all__ = ["WIRES", "ServerFormat", "bind", "create_app", "make_uvicorn", "require_serve"]

#: ``"auto"``: a tool call when the request declares a tool, else content.
ServerFormat = Literal["auto", "chat", "tool"]
#: The protocols served, by name.
WIRES: dict[str, Wire] = {w.name: w for w in (ChatWire(), ResponsesWire(), AnthropicWire())}

Log = Callable[[dict[str, Any]], None]


def _print_log(record: dict[str, Any]) -> None:
    print(json.dumps(record), file=sys.stdout, flush=True)


def require_serve() -> None:
    """Raise :class:`~eager.MissingExtraError` unless the ``serve`` extra is installed."""
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise MissingExtraError(exc.name or "starlette", "serve") from exc


class _Refusal(Exception):
    """An error response (status, message, code) the handler turns into the protocol's body."""

    def __init__(self, status: int, message: str, code: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.extra = status, message, code, extra
        self.headers: dict[str, str] = {}


def create_app(
    answers: Mapping[str, Answer | Recording],
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

    ``answers`` maps model names to recordings (an :class:`Answer` is a one-turn recording).
    ``token``: the API key a request must send. ``log`` receives one record per finished
    request (default: a JSON line on stdout).
    """
    require_serve()
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    pace = Pace(tps=tps, ttft_s=ttft_s, jitter=jitter, seed=seed)
    if format not in ("auto", "chat", "tool"):
        raise UsageError(f"format must be auto, chat or tool, not {format!r}")
    emit = log or _print_log
    recordings = {name: recording_of(item) for name, item in answers.items()}
    names = sorted(recordings)
    statuses = StatusCounter()
    default_tool = ToolForm(tool_name, tool_argument)

    def authorized(request: Request) -> bool:
        if token is None:
            return True
        headers = request.headers
        return (
            headers.get("x-api-key") == token or headers.get("authorization") == f"Bearer {token}"
        )

    def refuse(wire: Wire, exc: _Refusal) -> Response:
        body = wire.error_body(exc.status, exc.message, code=exc.code, **exc.extra)
        return JSONResponse(body, status_code=exc.status, headers=exc.headers)

    async def models(request: Request) -> Response:
        if not authorized(request):
            return refuse(WIRES["chat"], _unauthorized())
        data = [{"id": n, "object": "model", "created": 0, "owned_by": "eager"} for n in names]
        return JSONResponse({"object": "list", "data": data})

    def endpoint(wire: Wire) -> Callable[[Request], Any]:
        async def handle(request: Request) -> Any:
            t0 = time.monotonic()
            record: dict[str, Any] = {"model": None, "protocol": wire.name, "turn": None}
            record["status"] = 200
            record["tokens_sent"] = 0

            def finish() -> None:
                record.setdefault("disconnected", False)
                record["duration_s"] = round(time.monotonic() - t0, 4)
                emit(record)

            try:
                response = await answer(wire, request, record, finish)
            except _Refusal as exc:
                response = refuse(wire, exc)
            if not isinstance(response, EventStream):
                record["status"] = response.status_code
                record.setdefault("tokens_total", 0)
                finish()
            return response

        return handle

    async def answer(
        wire: Wire, request: Request, record: dict[str, Any], finish: Callable[[], None]
    ) -> Any:
        if not authorized(request):
            raise _unauthorized()
        try:
            body = await request.json()
        except ValueError:
            raise _Refusal(400, "the request body is not JSON", "invalid_json") from None
        if not isinstance(body, dict) or not isinstance(body.get("model"), str):
            raise _Refusal(400, "the request needs a 'model' string", "invalid_request")
        name, _, suffix = body["model"].partition("@")
        spec = ",".join(filter(None, (suffix, request.headers.get(FAULT_HEADER, ""))))
        record["model"] = name
        try:
            fault = parse_faults(spec)
        except UsageError as exc:
            raise _Refusal(400, str(exc), "invalid_fault") from exc
        if spec:
            record["fault"] = spec
        recording = recordings.get(name)
        if recording is None:
            raise _Refusal(
                404,
                f"model {name!r} not found; available: {', '.join(names)[:2000]}",
                "model_not_found",
                param="model",
                available=names,
            )
        done = wire.history_turns(body)
        record["turn"] = done + 1
        if done >= len(recording.turns):
            raise _Refusal(
                400,
                f"recording {name!r} has {len(recording.turns)} assistant turn(s) and the "
                f"request's history already holds {done}: nothing left to answer",
                "conversation_exhausted",
            )
        if statuses.fails(name, spec, fault):
            assert fault.status is not None
            refusal = _Refusal(fault.status, f"injected HTTP {fault.status}", "injected")
            if fault.retry_after_s is not None:
                refusal.headers["retry-after"] = f"{fault.retry_after_s:g}"
            raise refusal
        if fault.non_sse:
            return Response("<html><body>not an event stream</body></html>", media_type="text/html")
        text, tool = _served(recording.turns[done], wire.declared_tool(body), format, default_tool)
        plan = plan_tokens(text, pace)
        stop = fault.stop_reason
        if fault.length is not None and fault.length < len(plan.tokens):
            plan = TokenPlan(plan.tokens[: fault.length], plan.due_s[: fault.length])
            stop = stop or wire.length_stop
        encoder = wire.encoder(Reply(name, plan.tokens, tool, stop), body)
        stream = bool(body.get("stream"))
        record.update(stream=stream, format="tool" if tool else "chat")
        record["tokens_total"] = len(plan.tokens)
        if not stream:
            record["tokens_sent"] = len(plan.tokens)
            return JSONResponse(encoder.whole())
        return EventStream(plan, encoder, fault, record, finish)

    routes = [
        Route(prefix + wire.path, endpoint(wire), methods=["POST"])
        for wire in WIRES.values()
        for prefix in ("/v1", "")
    ]
    routes += [Route(prefix + "/models", models, methods=["GET"]) for prefix in ("/v1", "")]
    return Starlette(routes=routes)


def _unauthorized() -> _Refusal:
    return _Refusal(
        401,
        "invalid or missing API key (send Authorization: Bearer TOKEN or x-api-key: TOKEN)",
        "invalid_api_key",
    )


def _served(
    turn: Answer, declared: ToolForm | None, format: ServerFormat, default: ToolForm
) -> tuple[str, ToolForm | None]:
    """What a turn is served as: its text as content, or a tool call (with its input text).

    A tool call when the format is ``"tool"``, or ``"auto"`` and the request declares a tool
    and the turn holds code (a turn in prose only, like a final answer, stays content).
    """
    code = code_in(turn)
    if format == "chat" or (format == "auto" and (declared is None or code is None)):
        return turn.text, None
    tool = declared or default
    code = turn.text if code is None else code
    return (code if tool.argument is None else json.dumps({tool.argument: code})), tool


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
    require_serve()
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
