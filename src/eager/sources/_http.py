"""The HTTP side shared by every protocol source: request, retries, timeouts, SSE, cancellation.

:class:`HTTPSource` streams one ``POST`` over httpx and hands each server-sent event to its
protocol's decoder (``_decode``: event to :class:`~._delta.Delta`); the subclasses
(chat completions, OpenAI Responses, Anthropic Messages) only build the request and name
their decoder. Retries happen only before anything was received; :meth:`aclose` closes the
connection so the server stops generating.
"""

from __future__ import annotations

import abc
import asyncio
import email.utils
import ipaddress
import json
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, TypedDict

import httpx

from .._errors import (
    EagerError,
    EndpointError,
    SourceError,
    SourceTimeoutError,
    StreamError,
    UsageError,
)
from .._extract import Format
from ._delta import Delta, DeltaSelector
from ._pump import PumpSource, bounded
from ._sse import SSEDecoder, SSEEvent

__all__ = [
    "HTTPOptions",
    "HTTPSource",
    "bearer_headers",
    "is_loopback",
    "join_url",
    "prompt_messages",
    "request_body",
]

#: Statuses worth another attempt (before the first token only).
RETRY_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 520, 522, 524, 529})
#: Response header of the replay server giving the answer's length in tokens.
TOKENS_TOTAL_HEADER = "x-eager-tokens-total"
#: Most bytes of an error body kept in :class:`~eager.EndpointError`.
MAX_ERROR_BODY_BYTES = 64 * 1024

_HINTS = {
    403: "the API key is not allowed to use this model or endpoint",
    404: "check the base URL and the model name",
    429: "rate limited; try again later or lower the request rate",
}


def is_loopback(url: str) -> bool:
    """True when ``url`` names this machine (127.0.0.0/8, ::1, localhost)."""
    host = httpx.URL(url).host
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class HTTPOptions(TypedDict, total=False):
    """The transport settings every protocol source takes (defaults and meaning: HTTPSource)."""

    connect_timeout_s: float
    first_token_timeout_s: float
    token_timeout_s: float
    retries: int
    backoff_s: float
    max_backoff_s: float
    max_retry_after_s: float
    http_client: httpx.AsyncClient | None


class HTTPSource(PumpSource):
    """Base of the protocol sources: one streaming ``POST`` of ``self.body`` to ``self.url``.

    Subclasses set ``self.body`` in their constructor and implement :meth:`_decode`. Failures
    before anything was received (429, 5xx, connection errors) are retried ``retries`` times
    with exponential backoff from ``backoff_s`` (``Retry-After`` honoured up to
    ``max_retry_after_s``); after that a broken stream raises :class:`~eager.StreamError`. An
    HTTP error raises :class:`~eager.EndpointError`; a timeout (``connect_timeout_s``,
    ``first_token_timeout_s`` from the request to the first delta, ``token_timeout_s`` between
    deltas) :class:`~eager.SourceTimeoutError`. A stream that ends without the protocol's
    terminal event is a :class:`~eager.StreamError` when ``require_end`` (the default). Every
    error keeps what was received (:attr:`turn`). Loopback URLs never go through a proxy from
    the environment.
    """

    #: The protocol's terminal event, for error messages.
    END_EVENT = "the end event"
    #: What to check on a 401.
    KEY_HINT = "check the API key (api_key=, eager --api-key)"
    _selector: DeltaSelector

    def __init__(
        self,
        *,
        url: str,
        model: str,
        headers: Mapping[str, str],
        format: Format,
        tool: bool,
        tool_name: str | None,
        tool_argument: str,
        require_end: bool = True,
        connect_timeout_s: float = 10.0,
        first_token_timeout_s: float = 120.0,
        token_timeout_s: float = 60.0,
        retries: int = 3,
        backoff_s: float = 0.5,
        max_backoff_s: float = 8.0,
        max_retry_after_s: float = 60.0,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__()
        if not url.startswith(("http://", "https://")):
            raise UsageError(f"base URL must start with http:// or https://, got {url!r}")
        if not model:
            raise UsageError("a model name is required")
        for name, value in (
            ("connect_timeout_s", connect_timeout_s),
            ("first_token_timeout_s", first_token_timeout_s),
            ("token_timeout_s", token_timeout_s),
        ):
            if value <= 0:
                raise UsageError(f"{name} must be positive, got {value}")
        if retries < 0 or backoff_s < 0:
            raise UsageError("retries and backoff_s must not be negative")
        self.url = url
        self.model = model
        self.format = format
        self.tool_name = tool_name
        self.tool_argument = tool_argument
        self.headers = {"Accept": "text/event-stream", **headers}
        self.body: dict[str, Any] = {}
        self.connect_timeout_s = connect_timeout_s
        self.first_token_timeout_s = first_token_timeout_s
        self.token_timeout_s = token_timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.max_retry_after_s = max_retry_after_s
        self.require_end = require_end
        self._client = http_client
        # Made here, not at the request: an SSL context costs tens of ms (none for http://).
        self._own_client = (
            None
            if http_client is not None
            else httpx.AsyncClient(
                timeout=httpx.Timeout(None, connect=connect_timeout_s),
                trust_env=not is_loopback(url),
                verify=url.startswith("https://"),
            )
        )
        self._selector = DeltaSelector(tool=tool, tool_name=tool_name)
        #: Attempts made (1 when the first request succeeded).
        self.attempts = 0

    @abc.abstractmethod
    def _decode(self, event: SSEEvent) -> Delta | None:
        """The delta of one server-sent event (None: nothing for us); StreamError if malformed."""

    async def _pump(self) -> None:
        client = self._client or self._own_client
        assert client is not None
        try:
            while True:
                self.attempts += 1
                try:
                    await self._attempt(client)
                    return
                except _Retry as retry:
                    if self.attempts > self.retries:
                        raise retry.error from retry.error.__cause__
                    delay = min(self.max_backoff_s, self.backoff_s * 2 ** (self.attempts - 1))
                    if retry.retry_after_s is not None:
                        if retry.retry_after_s > self.max_retry_after_s:
                            raise retry.error from retry.error.__cause__
                        delay = retry.retry_after_s
                    await asyncio.sleep(delay)
        finally:
            if client is self._own_client:
                await asyncio.shield(bounded(client.aclose()))

    async def _attempt(self, client: httpx.AsyncClient) -> None:
        loop = asyncio.get_running_loop()
        first_deadline = loop.time() + self.first_token_timeout_s
        request = client.build_request("POST", self.url, json=self.body, headers=self.headers)
        try:
            async with asyncio.timeout_at(first_deadline):
                response = await client.send(request, stream=True)
        except TimeoutError as exc:
            raise SourceTimeoutError(
                f"no response from {self.url} within the first-token timeout "
                f"({self.first_token_timeout_s:g} s)"
            ) from exc
        except httpx.TimeoutException as exc:
            raise _Retry(
                _caused(
                    SourceTimeoutError(
                        f"cannot connect to {self.url} within {self.connect_timeout_s:g} s"
                    ),
                    exc,
                )
            ) from exc
        except httpx.TransportError as exc:
            raise _Retry(
                _caused(
                    SourceError(
                        f"cannot reach {self.url}: {exc or type(exc).__name__} "
                        "(is the server running, is the base URL right?)"
                    ),
                    exc,
                )
            ) from exc
        try:
            await self._check_response(response)
            await self._read(response, first_deadline)
        finally:
            await asyncio.shield(bounded(response.aclose()))

    async def _check_response(self, response: httpx.Response) -> None:
        status = response.status_code
        total = response.headers.get(TOKENS_TOTAL_HEADER, "")
        if total.isdigit():  # the replay server knows the length of its answer
            self.tokens_total = int(total)
        if status == 200:
            ctype = response.headers.get("content-type", "")
            if "text/event-stream" not in ctype:
                body = await self._error_body(response)
                raise StreamError(
                    f"{self.url} answered {ctype or 'no content type'} instead of an event "
                    f"stream (text/event-stream); does it support streaming? "
                    f"Body: {body[:300]!r}"
                )
            return
        body = await self._error_body(response)
        detail = " ".join(_error_message(body).split())  # one line
        hint = (
            self.KEY_HINT
            if status == 401
            else _HINTS.get(status, "the endpoint rejected the request")
        )
        error = EndpointError(
            f"{self.url} answered HTTP {status} {response.reason_phrase}: {detail} ({hint})",
            status=status,
            body=body,
        )
        if status in RETRY_STATUSES or status >= 500:
            raise _Retry(error, retry_after_s=_retry_after_s(response.headers.get("retry-after")))
        raise error

    async def _error_body(self, response: httpx.Response) -> str:
        data = bytearray()
        try:
            async with asyncio.timeout(self.token_timeout_s):
                async for piece in response.aiter_bytes():
                    data += piece
                    if len(data) >= MAX_ERROR_BODY_BYTES:
                        break
        except (TimeoutError, httpx.HTTPError):
            pass
        return bytes(data[:MAX_ERROR_BODY_BYTES]).decode("utf-8", "replace")

    async def _read(self, response: httpx.Response, deadline: float) -> None:
        loop = asyncio.get_running_loop()
        decoder = SSEDecoder()
        pieces: AsyncIterator[bytes] = response.aiter_bytes()
        selector = self._selector
        got_token = False
        while True:
            try:
                async with asyncio.timeout_at(deadline):
                    raw = await anext(pieces)
            except StopAsyncIteration:
                events = decoder.close()
                ended = True
            except TimeoutError as exc:
                raise SourceTimeoutError(self._timeout_message(got_token)) from exc
            except httpx.TransportError as exc:
                error = _caused(
                    StreamError(
                        f"the stream from {self.url} broke after {self.tokens_generated} "
                        f"tokens{selector.where()}: {exc or type(exc).__name__}"
                    ),
                    exc,
                )
                if not selector.started:
                    raise _Retry(error) from exc
                raise error from exc
            else:
                events = decoder.feed(raw)
                ended = False
            for event in events:
                delta = self._decode(event)
                if delta is None:
                    continue
                if self._accept(selector, delta):
                    got_token = True
                    deadline = loop.time() + self.token_timeout_s
                elif delta.alive:
                    # The model is alive (thinking, prose, a tool, a server tool): its text may
                    # come later.
                    timeout = self.token_timeout_s if got_token else self.first_token_timeout_s
                    deadline = loop.time() + timeout
                if delta.done:
                    self._finish()
                    return
            if ended:
                if self.require_end:
                    raise StreamError(
                        f"the stream from {self.url} ended without {self.END_EVENT} after "
                        f"{self.tokens_generated} tokens{selector.where()} (truncated answer?)"
                    )
                self._finish()
                return

    def _timeout_message(self, got_token: bool) -> str:
        if got_token:
            return (
                f"no token from {self.url} for {self.token_timeout_s:g} s "
                f"(between-token timeout) after {self.tokens_generated} tokens"
            )
        return f"no first token from {self.url} within {self.first_token_timeout_s:g} s"


class _Retry(Exception):
    """An attempt failed before the first token in a way worth retrying."""

    def __init__(self, error: EagerError, *, retry_after_s: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after_s = retry_after_s


def prompt_messages(
    prompt: str | None, messages: Sequence[Mapping[str, Any]] | None
) -> Sequence[Mapping[str, Any]]:
    """``messages``, else one user message of ``prompt``; UsageError when neither is given."""
    if messages is not None:
        return messages
    if prompt is None:
        raise UsageError("give prompt= or messages=")
    return [{"role": "user", "content": prompt}]


def bearer_headers(api_key: str | None, headers: Mapping[str, str] | None) -> dict[str, str]:
    """``headers`` with ``Authorization: Bearer {api_key}`` when a key is given (OpenAI style)."""
    all_headers = dict(headers or {})
    if api_key:
        all_headers["Authorization"] = f"Bearer {api_key}"
    return all_headers


def request_body(
    body: dict[str, Any],
    *,
    tools: Sequence[Mapping[str, Any]] | None,
    extra: Mapping[str, Any] | None,
    code_tool: tuple[dict[str, Any], dict[str, Any]] | None,
) -> dict[str, Any]:
    """``body`` with its tools and ``extra`` (None entries removed from the result).

    ``tools`` given are sent as they are; else ``code_tool`` (the code tool's spec and the
    ``tool_choice`` forcing it) is declared unless ``extra`` brings its own ``tools``.
    """
    extra = extra or {}
    if tools is not None:
        body["tools"] = [dict(t) for t in tools]
    elif code_tool is not None and "tools" not in extra:
        body["tools"] = [code_tool[0]]
        body["tool_choice"] = code_tool[1]
    body.update(extra)
    return {k: v for k, v in body.items() if v is not None}


def join_url(base_url: str, path: str) -> str:
    """``base_url`` with ``path`` appended unless it already ends with it (no double slash)."""
    base = base_url.rstrip("/")
    return base if base.endswith(path) else base + path


def _caused(error: EagerError, cause: BaseException) -> EagerError:
    error.__cause__ = cause
    return error


def _error_message(body: str) -> str:
    """The ``error.message`` of an OpenAI error body, else the body (clipped)."""
    try:
        obj = json.loads(body)
    except ValueError:
        return body.strip()[:300] or "(empty body)"
    if isinstance(obj, dict):
        err = obj.get("error", obj)
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return str(err["message"])
        if isinstance(err, str):
            return err
    return body.strip()[:300]


def _retry_after_s(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
