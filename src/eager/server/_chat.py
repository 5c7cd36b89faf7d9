"""OpenAI Chat Completions on the replay server: ``POST /v1/chat/completions``.

A stream is ``chat.completion.chunk`` events (content deltas, or one tool call whose JSON
arguments arrive in pieces, its ``id`` and ``name`` on the first), a chunk with
``finish_reason``, a usage chunk when ``stream_options.include_usage`` is set, then
``data: [DONE]``. The chunk builders are shared with the client side in ``sources/_sse.py``.
"""

from __future__ import annotations

from typing import Any

from ..sources._sse import (
    DONE,
    content_chunk,
    encode_event,
    final_chunk,
    tool_call_chunk,
    usage_chunk,
)
from ._wire import Encoder, Reply, ToolForm, Wire, first_argument, new_id, now

__all__ = ["ChatWire"]

_CALL_ID = "call_0"


class ChatWire(Wire):
    """The Chat Completions protocol."""

    name = "chat"
    path = "/chat/completions"
    length_stop = "length"

    def declared_tool(self, body: dict[str, Any]) -> ToolForm | None:
        tools = body.get("tools")
        if not isinstance(tools, list) or not tools or not isinstance(tools[0], dict):
            return None
        fn = tools[0].get("function")
        fn = fn if isinstance(fn, dict) else {}
        name = fn.get("name")
        return ToolForm(
            name if isinstance(name, str) else "python",
            first_argument(fn.get("parameters"), "code"),
        )

    def encoder(self, reply: Reply, body: dict[str, Any]) -> Encoder:
        opts = body.get("stream_options")  # usage only when the request asks for it
        usage = isinstance(opts, dict) and bool(opts.get("include_usage"))
        return _ChatEncoder(reply, include_usage=usage)


class _ChatEncoder(Encoder):
    def __init__(self, reply: Reply, *, include_usage: bool) -> None:
        super().__init__(reply, include_usage=include_usage)
        self.id = new_id("chatcmpl-")
        self.created = now()

    @property
    def _finish(self) -> str:
        return self.reply.stop or ("tool_calls" if self.reply.tool else "stop")

    def head(self) -> bytes:
        tool = self.reply.tool
        if tool is None:
            return b""
        chunk = tool_call_chunk(
            self.id, self.reply.model, self.created, "", name=tool.name, call_id=_CALL_ID
        )
        return encode_event(chunk)

    def token(self, i: int) -> bytes:
        tok, model = self.reply.tokens[i], self.reply.model
        if self.reply.tool is None:
            return encode_event(content_chunk(self.id, model, self.created, tok, role=i == 0))
        return encode_event(tool_call_chunk(self.id, model, self.created, tok))

    def tail(self, *, done: bool = True) -> bytes:
        model = self.reply.model
        out = encode_event(final_chunk(self.id, model, self.created, self._finish))
        if self.include_usage:
            n = len(self.reply.tokens)
            out += encode_event(
                usage_chunk(self.id, model, self.created, prompt_tokens=0, completion_tokens=n)
            )
        return out + (encode_event(DONE) if done else b"")

    def bad_json(self) -> bytes:
        return b'data: {"choices": [{"index": 0, "delta": {"content": "x"\n\n'

    def error_event(self, message: str) -> bytes:
        return encode_event({"error": {"message": message, "type": "server_error"}})

    def whole(self) -> dict[str, Any]:
        reply = self.reply
        message: dict[str, Any] = {
            "role": "assistant",
            "content": None if reply.tool else reply.text,
        }
        if reply.tool:
            fn = {"name": reply.tool.name, "arguments": reply.text}
            message["tool_calls"] = [{"id": _CALL_ID, "type": "function", "function": fn}]
        n = len(reply.tokens)
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": reply.model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": self._finish,
                }
            ],
            "usage": {"prompt_tokens": 0, "completion_tokens": n, "total_tokens": n},
        }
