"""Anthropic Messages on the replay server: ``POST /v1/messages``.

A stream is ``message_start`` (the message with empty content and input usage),
``content_block_start`` (a ``text`` block, or a ``tool_use`` block with ``input: {}``), a
``ping``, one ``content_block_delta`` per token (``text_delta``, or ``input_json_delta`` with a
piece of the tool input's JSON), ``content_block_stop``, ``message_delta`` (``stop_reason``
``end_turn`` or ``tool_use``, output usage) and ``message_stop``. Errors use Anthropic's shape
(``{"type": "error", "error": {"type": ..., "message": ...}}``), in a body or an ``error`` event.
"""

from __future__ import annotations

import json
from typing import Any

from ..sources._sse import encode_event
from ._wire import Encoder, Reply, ToolForm, Wire, first_argument, new_id

__all__ = ["AnthropicWire"]

#: Anthropic's error ``type`` by HTTP status.
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


class AnthropicWire(Wire):
    """The Anthropic Messages protocol."""

    name = "anthropic"
    path = "/messages"
    length_stop = "max_tokens"

    def declared_tool(self, body: dict[str, Any]) -> ToolForm | None:
        tools = body.get("tools")
        for tool in tools if isinstance(tools, list) else ():
            named = isinstance(tool, dict) and isinstance(tool.get("name"), str)
            if named and tool.get("type") in (None, "custom"):
                return ToolForm(tool["name"], first_argument(tool.get("input_schema"), "code"))
        return None

    def error_body(self, status: int, message: str, *, code: str, **extra: Any) -> dict[str, Any]:
        kind = _ERROR_TYPES.get(status, "api_error")
        return {"type": "error", "error": {"type": kind, "message": message, "code": code, **extra}}

    def encoder(self, reply: Reply, body: dict[str, Any]) -> Encoder:
        return _AnthropicEncoder(reply, include_usage=True)


class _AnthropicEncoder(Encoder):
    def __init__(self, reply: Reply, *, include_usage: bool) -> None:
        super().__init__(reply, include_usage=include_usage)
        self.id = new_id("msg_")
        self.tool_id = new_id("toolu_")

    def _message(self, content: list[dict[str, Any]], stop: str | None, n: int) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.reply.model,
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": n},
        }

    def _block(self, *, done: bool) -> dict[str, Any]:
        tool = self.reply.tool
        if tool is None:
            return {"type": "text", "text": self.reply.text if done else ""}
        args = _json_object(self.reply.text) if done else {}
        return {"type": "tool_use", "id": self.tool_id, "name": tool.name, "input": args}

    @property
    def _stop(self) -> str:
        return self.reply.stop or ("end_turn" if self.reply.tool is None else "tool_use")

    def head(self) -> bytes:
        out = _event("message_start", message=self._message([], None, 1))
        out += _event("content_block_start", index=0, content_block=self._block(done=False))
        return out + _event("ping")

    def token(self, i: int) -> bytes:
        tok = self.reply.tokens[i]
        if self.reply.tool is None:
            delta = {"type": "text_delta", "text": tok}
        else:
            delta = {"type": "input_json_delta", "partial_json": tok}
        return _event("content_block_delta", index=0, delta=delta)

    def tail(self, *, done: bool = True) -> bytes:
        out = _event("content_block_stop", index=0)
        out += _event(
            "message_delta",
            delta={"stop_reason": self._stop, "stop_sequence": None},
            usage={"output_tokens": len(self.reply.tokens)},
        )
        return out + (_event("message_stop") if done else b"")

    def bad_json(self) -> bytes:
        return b'event: content_block_delta\ndata: {"type": "content_block_delta", "index": 0\n\n'

    def error_event(self, message: str) -> bytes:
        return _event("error", error={"type": "api_error", "message": message})

    def whole(self) -> dict[str, Any]:
        return self._message([self._block(done=True)], self._stop, len(self.reply.tokens))


def _json_object(text: str) -> dict[str, Any]:
    """A tool input; ``{}`` when it was cut short (fault ``length``)."""
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _event(type_: str, **fields: Any) -> bytes:
    return encode_event({"type": type_, **fields}, event=type_)
