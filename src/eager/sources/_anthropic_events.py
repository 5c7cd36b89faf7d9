"""The wire format of Anthropic Messages streams, client side: events to protocol-neutral deltas.

The event names and shapes are the official ones (``anthropic.types.RawMessageStreamEvent``):
``message_start`` (input usage), ``content_block_start`` (a ``text``, ``tool_use`` with its
``id`` and ``name``, or ``thinking`` block at an ``index``), ``content_block_delta``
(``text_delta``, ``input_json_delta``, ``thinking_delta``; ``signature_delta`` and
``citations_delta`` carry nothing for us), ``content_block_stop``, ``message_delta`` (the
``stop_reason``, any value kept as given, and output usage), ``message_stop`` (terminal),
``ping`` (ignored) and ``error``.

Only ``tool_use`` blocks are client tool calls. Every other block (``server_tool_use`` and
its ``*_tool_result``, ``redacted_thinking``, ``compaction``, types newer than this module)
is kept for the caller as a :class:`~eager.TurnBlock` at its index, its streamed input and
later deltas with it: never code, never a tool call. Unknown event types are kept the same
way (and otherwise skipped, as the API asks clients to). Pure: no I/O.
"""

from __future__ import annotations

import json
from typing import Any

from ._delta import Delta, PartDelta, ToolCallDelta, Usage
from ._sse import (
    SSEEvent,
    event_type,
    index_field,
    object_field,
    string_field,
    typed_event_object,
    usage_of,
)

__all__ = ["ANTHROPIC_VERSION", "decode_anthropic_event", "parse_anthropic_object"]

#: The ``anthropic-version`` header the API and its SDK send.
ANTHROPIC_VERSION = "2023-06-01"


def decode_anthropic_event(event: SSEEvent) -> Delta | None:
    """One server-sent event of a Messages stream as a delta (None: nothing for us)."""
    obj = typed_event_object(event)
    return None if obj is None else parse_anthropic_object(obj)


def parse_anthropic_object(raw: object) -> Delta | None:
    """Like :func:`decode_anthropic_event`, from decoded JSON (an SDK event's ``model_dump()``).

    Raises :class:`~eager.StreamError` for an event whose fields have the wrong types.
    """
    obj, kind = event_type(raw)
    if kind == "message_start":
        return Delta(usage=_usage(object_field(obj, "message").get("usage")))
    if kind == "content_block_start":
        return _block_start(obj)
    if kind == "content_block_delta":
        return _block_delta(obj)
    if kind == "message_delta":
        delta = object_field(obj, "delta")
        reason = delta.get("stop_reason")
        return Delta(
            finish_reason=reason if isinstance(reason, str) else None,
            usage=_usage(obj.get("usage")),
            refused=reason == "refusal",
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
    if kind in _SKIPPED:
        return None
    return Delta(parts=(PartDelta(None, kind, obj),))  # an event type newer than this module


#: Events that carry nothing for us.
_SKIPPED = frozenset({"ping", "content_block_stop"})
#: Block types that are text, reasoning or a client tool call (all others are kept as blocks).
_OURS = frozenset({"text", "thinking", "tool_use"})


def _block_start(obj: dict[str, Any]) -> Delta | None:
    index = _index(obj)
    block = object_field(obj, "content_block")
    btype = block.get("type")
    if btype == "text":
        text = block.get("text")
        return Delta(content=text) if isinstance(text, str) and text else None
    if btype == "thinking":
        thinking = block.get("thinking")
        return Delta(reasoning=thinking) if isinstance(thinking, str) and thinking else None
    if btype == "tool_use":
        name, cid, given = block.get("name"), block.get("id"), block.get("input")
        call = ToolCallDelta(
            index=index,
            # The API starts with an empty input and streams it; a proxy may give it whole.
            arguments=json.dumps(given, ensure_ascii=False)
            if isinstance(given, dict) and given
            else "",
            name=name if isinstance(name, str) else None,
            id=cid if isinstance(cid, str) else None,
            kind="function",
        )
        return Delta(tool_calls=(call,))
    if not isinstance(btype, str):
        btype = "unknown"
    return Delta(parts=(PartDelta(index, btype, block),))


def _block_delta(obj: dict[str, Any]) -> Delta | None:
    index = _index(obj)
    delta = object_field(obj, "delta")
    dtype = delta.get("type")
    if dtype == "text_delta":
        return Delta(content=string_field(delta, "text"))
    if dtype == "input_json_delta":
        return Delta(
            tool_calls=(ToolCallDelta(index=index, arguments=string_field(delta, "partial_json")),)
        )
    if dtype == "thinking_delta":
        return Delta(reasoning=string_field(delta, "thinking"))
    if dtype in ("signature_delta", "citations_delta"):
        return None
    # compaction_delta and newer types: fields for the block at this index (when it is kept)
    fields = {k: v for k, v in delta.items() if k != "type"}
    return Delta(parts=(PartDelta(index, data=fields),)) if fields else None


def _index(obj: dict[str, Any]) -> int:
    return index_field(obj, "index")


def _usage(raw: object) -> Usage | None:
    return usage_of(raw, "input_tokens", "output_tokens")
