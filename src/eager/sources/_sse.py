"""The wire protocol of OpenAI-compatible streams: server-sent events and chat-completion chunks.

Both sides live here: the client's incremental :class:`SSEDecoder` (every protocol's transport)
and :func:`parse_chunk` (event JSON to a protocol-neutral :class:`~._delta.Delta`), and the server's :func:`encode_event` and chunk
builders (:func:`content_chunk`, :func:`tool_call_chunk`, ...). Pure: no I/O, no asyncio.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .._errors import StreamError
from ._delta import Delta, ToolCallDelta, Usage

# The typed deltas and the decoder are internal (used by the sources and the replay server).
__all__ = [
    "DONE",
    "content_chunk",
    "decode_chat_event",
    "encode_event",
    "final_chunk",
    "json_object",
    "parse_chunk",
    "parse_chunk_object",
    "tool_call_chunk",
    "usage_chunk",
]

_EOL = re.compile(r"\r\n|\r|\n")  # SSE line ends (not str.splitlines' other separators)

#: The data of the event that ends an OpenAI stream.
DONE = "[DONE]"

#: Longest event (bytes of ``data``) the decoder accepts: a runaway line is a broken stream.
MAX_EVENT_CHARS = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One dispatched server-sent event (``data`` lines joined with newlines)."""

    data: str
    event: str = "message"
    id: str | None = None
    retry_ms: int | None = None


class SSEDecoder:
    """Incremental ``text/event-stream`` parser (the WHATWG rules): bytes in, events out.

    Accepts ``\\n``, ``\\r\\n`` and ``\\r`` line ends split anywhere, UTF-8 split anywhere,
    comments (``:`` lines), multi-line ``data``, ``event``, ``id`` and ``retry`` fields.
    """

    def __init__(self) -> None:
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buf = ""
        self._data: list[str] = []
        self._event = ""
        self._id: str | None = None
        self._retry: int | None = None
        self._pending_cr = False
        self._data_chars = 0
        #: True once any field line was seen for an event not yet dispatched.
        self.partial = False

    def feed(self, data: bytes | str) -> list[SSEEvent]:
        """Consume a piece of the stream; return the events it completes."""
        text = self._utf8.decode(data) if isinstance(data, bytes) else data
        if not text:
            return []
        if self._pending_cr and text.startswith("\n"):
            text = text[1:]  # the \n of a \r\n split across pieces
        self._pending_cr = False
        buf = self._buf + text
        events: list[SSEEvent] = []
        start = 0
        n = len(buf)
        while True:
            i = _next_eol(buf, start)
            if i < 0:
                break
            if buf[i] == "\r":
                if i + 1 < n:
                    end = i + 2 if buf[i + 1] == "\n" else i + 1
                else:
                    end = i + 1
                    self._pending_cr = True
            else:
                end = i + 1
            event = self._line(buf[start:i])
            if event is not None:
                events.append(event)
            start = end
        self._buf = buf[start:]
        if len(self._buf) + self._data_chars > MAX_EVENT_CHARS:
            raise StreamError(f"server-sent event longer than {MAX_EVENT_CHARS} characters")
        return events

    def close(self) -> list[SSEEvent]:
        """End of stream. An event without its blank line is dropped, as browsers do."""
        tail = self._utf8.decode(b"", final=True)
        events = self.feed(tail + "\n") if (tail or self._buf) else []
        self.partial = self.partial or bool(self._data)
        return events

    def _line(self, line: str) -> SSEEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None  # comment (keep-alive)
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        self.partial = True
        if name == "data":
            self._data.append(value)
            self._data_chars += len(value) + 1
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                self._id = value
        elif name == "retry" and value.isdigit():
            self._retry = int(value)
        return None

    def _dispatch(self) -> SSEEvent | None:
        self._data_chars = 0
        self.partial = False
        if not self._data:
            self._event = ""
            return None
        event = SSEEvent(
            data="\n".join(self._data),
            event=self._event or "message",
            id=self._id,
            retry_ms=self._retry,
        )
        self._data = []
        self._event = ""
        self._retry = None  # the last event id persists (the spec), a retry does not
        return event


def _next_eol(buf: str, start: int) -> int:
    i = buf.find("\n", start)
    j = buf.find("\r", start, i if i >= 0 else len(buf))
    return j if j >= 0 else i


def encode_event(data: str | Mapping[str, Any], *, event: str | None = None) -> bytes:
    """One server-sent event: ``data: ...`` lines and the blank line (dicts as compact JSON)."""
    text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    lines = [f"event: {event}"] if event else []
    lines.extend(f"data: {line}" for line in _EOL.split(text))
    return ("\n".join(lines) + "\n\n").encode()


# --- chat-completion chunks, client side ---------------------------------------------------


def parse_chunk(data: str) -> Delta:
    """Parse the JSON ``data`` of one event into a :class:`~._delta.Delta` (choice 0).

    Raises :class:`~eager.StreamError` for malformed JSON, a shape that is not a chunk, or an
    ``{"error": ...}`` event (servers report mid-stream failures that way).
    """
    return parse_chunk_object(_loads(data))


def parse_chunk_object(obj: object) -> Delta:
    """Like :func:`parse_chunk`, from already decoded JSON (an SDK chunk's ``model_dump()``)."""
    if not isinstance(obj, dict):
        raise StreamError(f"event is not a JSON object: {clip(json.dumps(obj))!r}")
    if obj.get("error") is not None:
        err = obj["error"]
        msg = err.get("message", err) if isinstance(err, dict) else err
        raise StreamError(f"the server reported an error in the stream: {msg}")
    usage = _usage(obj.get("usage"))
    choices = obj.get("choices")
    if choices is None:
        choices = []
    if not isinstance(choices, list):
        raise StreamError(f"event 'choices' is not a list: {clip(json.dumps(obj))!r}")
    choice = next((c for c in choices if isinstance(c, dict) and c.get("index", 0) == 0), None)
    if choice is None:
        return Delta(usage=usage)
    delta = choice.get("delta") or {}
    if not isinstance(delta, dict):
        raise StreamError(f"event 'delta' is not an object: {clip(json.dumps(obj))!r}")
    calls: list[ToolCallDelta] = []
    for raw in delta.get("tool_calls") or ():
        if not isinstance(raw, dict):
            raise StreamError(f"malformed tool call delta: {clip(json.dumps(raw))!r}")
        fn = raw.get("function") or {}
        calls.append(
            ToolCallDelta(
                index=int(raw.get("index", 0)),
                arguments=_str(fn.get("arguments")),
                name=fn.get("name") or None,
                id=raw.get("id") or None,
            )
        )
    finish = choice.get("finish_reason")
    content, reasoning = _content_parts(delta.get("content"))
    reasoning += _reasoning(delta)
    return Delta(
        content=content,
        reasoning=reasoning,
        tool_calls=tuple(calls),
        finish_reason=finish if isinstance(finish, str) else None,
        usage=usage,
        refusal=_str(delta.get("refusal")),
    )


def _content_parts(raw: object) -> tuple[str, str]:
    """The text and the reasoning of a ``content`` that is a string or a list of parts.

    Some providers send a list (Mistral's magistral: ``[{"type": "thinking", "thinking":
    [{"type": "text", "text": ...}]}, {"type": "text", "text": ...}]``): text parts are the
    answer, thinking and reasoning parts are reasoning, other parts (references) carry nothing.
    """
    if isinstance(raw, str):
        return raw, ""
    if not isinstance(raw, list):
        return "", ""
    text: list[str] = []
    thought: list[str] = []
    for part in raw:
        if isinstance(part, str):
            text.append(part)
            continue
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind in ("text", "output_text"):
            text.append(_str(part.get("text")))
        elif kind in ("thinking", "reasoning", "reasoning_text", "summary_text"):
            for key in ("thinking", "reasoning", "text", "content"):
                if key in part:
                    thought.append(_flat_text(part[key]))
                    break
    return "".join(text), "".join(thought)


def _flat_text(raw: object) -> str:
    """Text nested in strings, ``{"text": ...}`` parts and lists of them."""
    if isinstance(raw, str):
        return raw
    if isinstance(raw, dict):
        return _flat_text(raw.get("text", raw.get("thinking", "")))
    if isinstance(raw, list):
        return "".join(_flat_text(item) for item in raw)
    return ""


def _reasoning(delta: dict[str, Any]) -> str:
    """Reasoning of a chat delta: ``reasoning_content`` (DeepSeek, Qwen), ``reasoning``
    (OpenRouter, Groq, vLLM), else OpenRouter's ``reasoning_details`` texts."""
    for key in ("reasoning_content", "reasoning"):
        value = delta.get(key)
        if isinstance(value, str) and value:
            return value
    details = delta.get("reasoning_details")
    if isinstance(details, list):
        return "".join(
            _str(d.get("text") or d.get("summary")) for d in details if isinstance(d, dict)
        )
    return ""


def json_object(data: str) -> dict[str, Any]:
    """The JSON object ``data`` of one event, or :class:`~eager.StreamError` naming it."""
    obj = _loads(data)
    if not isinstance(obj, dict):
        raise StreamError(f"event is not a JSON object: {clip(data)!r}")
    return obj


def clip(text: str, limit: int = 200) -> str:
    """``text`` cut to ``limit`` characters for an error message."""
    return text if len(text) <= limit else text[:limit] + "…"


def typed_event_object(event: SSEEvent) -> dict[str, Any] | None:
    """The JSON object of one event of a typed-event stream (Responses, Messages); None for a
    ``ping`` or an empty event. A server that names the event only in the SSE ``event`` field
    gets that name as the object's ``type``."""
    if event.event == "ping" or not event.data.strip():
        return None
    obj = json_object(event.data)
    if "type" not in obj and event.event not in ("message", ""):
        obj = {**obj, "type": event.event}
    return obj


def event_type(obj: object) -> tuple[dict[str, Any], str]:
    """A decoded typed event (or an SDK event's ``model_dump()``) and its ``type``;
    :class:`~eager.StreamError` when it is not an object with a string ``type``."""
    if not isinstance(obj, dict):
        raise StreamError(f"event is not a JSON object: {clip(repr(obj))!r}")
    kind = obj.get("type")
    if not isinstance(kind, str):
        raise StreamError(f"event without a type: {clip(repr(obj))!r}")
    return obj, kind


def object_field(obj: dict[str, Any], key: str) -> dict[str, Any]:
    """The object ``obj[key]`` of a protocol event, or :class:`~eager.StreamError`."""
    value = obj.get(key)
    if not isinstance(value, dict):
        raise StreamError(f"{obj.get('type')} without a {key}: {clip(repr(obj))!r}")
    return value


def string_field(obj: dict[str, Any], key: str) -> str:
    """``obj[key]`` of a protocol event, or :class:`~eager.StreamError` naming its type."""
    value = obj.get(key)
    if not isinstance(value, str):
        raise StreamError(f"{obj.get('type')} event without a string {key!r}: {clip(repr(obj))!r}")
    return value


def index_field(obj: dict[str, Any], key: str) -> int:
    """The integer ``obj[key]`` (a block or output index), or :class:`~eager.StreamError`."""
    value = obj.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise StreamError(f"{obj.get('type')} event without an integer {key}: {clip(repr(obj))!r}")
    return value


def usage_of(raw: object, input_key: str, output_key: str, total_key: str = "") -> Usage | None:
    """The token counts of a ``usage`` object under the protocol's key names (None: no object)."""
    if not isinstance(raw, dict):
        return None

    def num(key: str) -> int | None:
        v = raw.get(key)
        return v if isinstance(v, int) and not isinstance(v, bool) else None

    return Usage(num(input_key), num(output_key), num(total_key) if total_key else None)


def _loads(data: str) -> object:
    try:
        return json.loads(data)
    except ValueError as exc:
        raise StreamError(f"malformed event JSON: {clip(data)!r} ({exc})") from exc


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _usage(raw: object) -> Usage | None:
    return usage_of(raw, "prompt_tokens", "completion_tokens", "total_tokens")


# --- chat-completion chunks, server side ---------------------------------------------------


def _chunk(cid: str, model: str, created: int, choices: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": choices,
    }


def content_chunk(
    cid: str, model: str, created: int, content: str, *, role: bool = False
) -> dict[str, Any]:
    """A chunk carrying a content delta (with ``role`` on the first chunk of a stream)."""
    delta: dict[str, Any] = (
        {"role": "assistant", "content": content} if role else {"content": content}
    )
    return _chunk(cid, model, created, [{"index": 0, "delta": delta, "finish_reason": None}])


def tool_call_chunk(
    cid: str,
    model: str,
    created: int,
    arguments: str,
    *,
    name: str | None = None,
    call_id: str | None = None,
) -> dict[str, Any]:
    """A chunk carrying a piece of tool call 0's arguments (its ``name`` on the first piece)."""
    call: dict[str, Any] = {"index": 0}
    fn: dict[str, Any] = {"arguments": arguments}
    delta: dict[str, Any] = {}
    if name is not None:
        call.update(id=call_id or "call_0", type="function")
        fn = {"name": name, "arguments": arguments}
        delta = {"role": "assistant", "content": None}
    call["function"] = fn
    delta["tool_calls"] = [call]
    return _chunk(cid, model, created, [{"index": 0, "delta": delta, "finish_reason": None}])


def final_chunk(cid: str, model: str, created: int, finish_reason: str) -> dict[str, Any]:
    """The chunk that ends choice 0 (``"stop"``, ``"tool_calls"``, ``"length"``)."""
    return _chunk(cid, model, created, [{"index": 0, "delta": {}, "finish_reason": finish_reason}])


def usage_chunk(
    cid: str, model: str, created: int, *, prompt_tokens: int, completion_tokens: int
) -> dict[str, Any]:
    """The last chunk when ``stream_options.include_usage`` is set: no choices, the usage."""
    obj = _chunk(cid, model, created, [])
    obj["usage"] = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
    return obj


def decode_chat_event(event: SSEEvent) -> Delta | None:
    """One server-sent event of a chat-completions stream as a delta (None: not for us).

    ``[DONE]`` is the terminal delta; an ``event: error`` the server's reported error.
    """
    if event.event == "error":
        return Delta(error=event.data)
    if event.event != "message":
        return None
    if event.data.strip() == DONE:
        return Delta(done=True)
    return parse_chunk(event.data)
