"""The wire format of OpenAI Responses streams, client side: events to protocol-neutral deltas.

The event names and shapes are the official ones (``openai.types.responses``):
``response.output_text.delta``, ``response.output_item.added`` (a ``function_call`` or
``custom_tool_call`` item with its ``name`` and ``call_id``),
``response.function_call_arguments.delta`` (JSON arguments), ``response.custom_tool_call_input.delta``
(free-form input), reasoning deltas, ``response.completed`` / ``response.incomplete`` /
``response.failed`` (terminal, with ``usage``), and ``error``. ``response.refusal.delta`` is
the refusal's text (not the answer's). Output items other than messages, reasoning and client
function/custom tool calls (``web_search_call``, ``code_interpreter_call``, ``mcp_call``,
``computer_call``, ``compaction``, newer types) are kept for the caller as
:class:`~eager.TurnBlock` s (their final state from ``response.output_item.done``), never as
code or a tool call; so are events of types outside the ``response.*`` family. Other
``response.*`` events (``created``, ``in_progress``, ``*.done``, ...) carry nothing new and are
skipped. Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

from .._errors import StreamError
from ._delta import Delta, PartDelta, ToolCallDelta, Usage
from ._sse import (
    SSEEvent,
    clip,
    event_type,
    index_field,
    string_field,
    typed_event_object,
    usage_of,
)

__all__ = ["decode_responses_event", "parse_responses_object"]

#: ``response.*`` events that end the stream, and the stop reason each stands for.
TERMINAL = ("response.completed", "response.incomplete", "response.failed")
_REASONING = ("response.reasoning_text.delta", "response.reasoning_summary_text.delta")
_TOOL_ITEMS = {"function_call": "function", "custom_tool_call": "custom"}
#: Output items that are text or reasoning (their deltas carry them); not kept as blocks.
_TEXT_ITEMS = frozenset({"message", "reasoning"})
#: Events outside the ``response.*`` family that carry nothing.
_SKIPPED = frozenset({"ping", "keepalive"})


def decode_responses_event(event: SSEEvent) -> Delta | None:
    """One server-sent event of a Responses stream as a delta (None: nothing for us)."""
    obj = typed_event_object(event)
    return None if obj is None else parse_responses_object(obj)


def parse_responses_object(raw: object) -> Delta | None:
    """Like :func:`decode_responses_event`, from decoded JSON (an SDK event's ``model_dump()``).

    Raises :class:`~eager.StreamError` for an event whose fields have the wrong types.
    """
    obj, kind = event_type(raw)
    if kind == "response.output_text.delta":
        return Delta(content=string_field(obj, "delta"))
    if kind in _REASONING:
        return Delta(reasoning=string_field(obj, "delta"))
    if kind == "response.refusal.delta":
        return Delta(refusal=string_field(obj, "delta"), refused=True)
    if kind in ("response.output_item.added", "response.output_item.done"):
        item = obj.get("item")
        if not isinstance(item, dict):
            raise StreamError(f"output item event without an item: {clip(repr(obj))!r}")
        item_type = str(item.get("type"))
        tool_kind = _TOOL_ITEMS.get(item_type)
        if tool_kind is None:
            if item_type in _TEXT_ITEMS:
                return None
            done = kind == "response.output_item.done"
            return Delta(parts=(PartDelta(_index(obj), item_type, item, final=done),))
        args = item.get("arguments" if tool_kind == "function" else "input")
        if kind == "response.output_item.done":  # its arguments came as deltas, unless not
            text = args if isinstance(args, str) else ""
            if not text:
                return None
            return Delta(tool_calls=(ToolCallDelta(index=_index(obj), arguments=text, whole=True),))
        call = ToolCallDelta(
            index=_index(obj),
            arguments=args if isinstance(args, str) else "",
            name=_opt_str(item.get("name")),
            id=_opt_str(item.get("call_id")) or _opt_str(item.get("id")),
            kind="function" if tool_kind == "function" else "custom",
        )
        return Delta(tool_calls=(call,))
    if kind in ("response.function_call_arguments.delta", "response.custom_tool_call_input.delta"):
        return Delta(
            tool_calls=(ToolCallDelta(index=_index(obj), arguments=string_field(obj, "delta")),)
        )
    if kind in TERMINAL:
        return _terminal(kind, obj)
    if kind == "error":
        code = obj.get("code")
        message = obj.get("message") or "an error occurred during streaming"
        return Delta(error=f"{code}: {message}" if code else str(message), finish_reason="error")
    if kind.startswith("response.") or kind in _SKIPPED:
        return None
    return Delta(parts=(PartDelta(None, kind, obj),))  # an event type Eager does not know


def _terminal(kind: str, obj: dict[str, Any]) -> Delta:
    response = obj.get("response")
    if not isinstance(response, dict):
        raise StreamError(f"{kind} event without a response object: {clip(repr(obj))!r}")
    usage = _usage(response.get("usage"))
    if kind == "response.completed":
        return Delta(
            finish_reason=str(response.get("status") or "completed"), usage=usage, done=True
        )
    if kind == "response.incomplete":
        details = response.get("incomplete_details")
        reason = details.get("reason") if isinstance(details, dict) else None
        return Delta(finish_reason=str(reason or "incomplete"), usage=usage, done=True)
    error = response.get("error")
    if isinstance(error, dict):
        code, message = error.get("code"), error.get("message")
        text = f"{code}: {message}" if code else str(message or "the response failed")
    else:
        text = "the response failed"
    return Delta(finish_reason="failed", usage=usage, done=True, error=text)


def _index(obj: dict[str, Any]) -> int:
    return index_field(obj, "output_index")


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _usage(raw: object) -> Usage | None:
    return usage_of(raw, "input_tokens", "output_tokens", "total_tokens")
