"""The wire format of Anthropic Messages streams, client side: events to protocol-neutral deltas.

The event names and shapes are the official ones (``anthropic.types.RawMessageStreamEvent``):
``message_start`` (input usage), ``content_block_start`` (a ``text``, ``tool_use`` with its
``id`` and ``name``, or ``thinking`` block at an ``index``), ``content_block_delta``
(``text_delta``, ``input_json_delta``, ``thinking_delta``; ``signature_delta`` and
``citations_delta`` carry nothing for us), ``content_block_stop``, ``message_delta`` (the
``stop_reason``, any value kept as given, and output usage), ``message_stop`` (terminal),
``ping`` (ignored) and ``error``. Unknown event types are skipped, as the API asks clients to.
Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

from .._errors import StreamError
from ._delta import Delta, ToolCallDelta, Usage
from ._sse import SSEEvent, clip, index_field, json_object, string_field, usage_of

__all__ = ["ANTHROPIC_VERSION", "decode_anthropic_event", "parse_anthropic_object"]

#: The ``anthropic-version`` header the API and its SDK send.
ANTHROPIC_VERSION = "2023-06-01"


def decode_anthropic_event(event: SSEEvent) -> Delta | None:
    """One server-sent event of a Messages stream as a delta (None: nothing for us)."""
    if event.event == "ping" or not event.data.strip():
        return None
    obj = json_object(event.data)
    if "type" not in obj and event.event not in ("message", ""):
        obj = {**obj, "type": event.event}
    return parse_anthropic_object(obj)


def parse_anthropic_object(obj: object) -> Delta | None:
    """Like :func:`decode_anthropic_event`, from decoded JSON (an SDK event's ``model_dump()``).

    Raises :class:`~eager.StreamError` for an event whose fields have the wrong types.
    """
    if not isinstance(obj, dict):
        raise StreamError(f"event is not a JSON object: {clip(repr(obj))!r}")
    kind = obj.get("type")
    if not isinstance(kind, str):
        raise StreamError(f"event without a type: {clip(repr(obj))!r}")
    if kind == "message_start":
        message = obj.get("message")
        if not isinstance(message, dict):
            raise StreamError(f"message_start without a message: {clip(repr(obj))!r}")
        return Delta(usage=_usage(message.get("usage")))
    if kind == "content_block_start":
        return _block_start(obj)
    if kind == "content_block_delta":
        return _block_delta(obj)
    if kind == "message_delta":
        delta = obj.get("delta")
        if not isinstance(delta, dict):
            raise StreamError(f"message_delta without a delta: {clip(repr(obj))!r}")
        reason = delta.get("stop_reason")
        return Delta(
            finish_reason=reason if isinstance(reason, str) else None,
            usage=_usage(obj.get("usage")),
        )
    if kind == "message_stop":
        return Delta(done=True)
    if kind == "error":
        error = obj.get("error")
        if isinstance(error, dict):
            etype, message = error.get("type"), error.get("message")
            text = f"{etype}: {message}" if etype else str(message or "an error occurred")
        else:
            text = str(error or "an error occurred during streaming")
        return Delta(error=text, finish_reason="error")
    return None  # ping, content_block_stop, and event types newer than this module


def _block_start(obj: dict[str, Any]) -> Delta | None:
    index = _index(obj)
    block = obj.get("content_block")
    if not isinstance(block, dict):
        raise StreamError(f"content_block_start without a content_block: {clip(repr(obj))!r}")
    btype = block.get("type")
    if btype == "text":
        text = block.get("text")
        return Delta(content=text) if isinstance(text, str) and text else None
    if btype == "thinking":
        thinking = block.get("thinking")
        return Delta(reasoning=thinking) if isinstance(thinking, str) and thinking else None
    if btype == "tool_use":
        name, cid = block.get("name"), block.get("id")
        call = ToolCallDelta(
            index=index,
            name=name if isinstance(name, str) else None,
            id=cid if isinstance(cid, str) else None,
            kind="function",
        )
        return Delta(tool_calls=(call,))
    return None


def _block_delta(obj: dict[str, Any]) -> Delta | None:
    index = _index(obj)
    delta = obj.get("delta")
    if not isinstance(delta, dict):
        raise StreamError(f"content_block_delta without a delta: {clip(repr(obj))!r}")
    dtype = delta.get("type")
    if dtype == "text_delta":
        return Delta(content=string_field(delta, "text"))
    if dtype == "input_json_delta":
        return Delta(
            tool_calls=(ToolCallDelta(index=index, arguments=string_field(delta, "partial_json")),)
        )
    if dtype == "thinking_delta":
        return Delta(reasoning=string_field(delta, "thinking"))
    return None  # signature_delta, citations_delta, newer types


def _index(obj: dict[str, Any]) -> int:
    return index_field(obj, "index")


def _usage(raw: object) -> Usage | None:
    return usage_of(raw, "input_tokens", "output_tokens")
