"""OpenAI Responses on the replay server: ``POST /v1/responses``.

A text answer streams as ``response.created``, ``response.in_progress``,
``response.output_item.added`` (a ``message``), ``response.content_part.added``, one
``response.output_text.delta`` per token, ``response.output_text.done``,
``response.content_part.done``, ``response.output_item.done`` and ``response.completed`` (with
usage). A tool-call answer has one ``function_call`` item whose JSON arguments arrive as
``response.function_call_arguments.delta`` events (then ``...arguments.done``), or, for a custom
tool (``{"type": "custom"}`` in the request's tools), one ``custom_tool_call`` item whose raw
input arrives as ``response.custom_tool_call_input.delta`` events. Every event carries its
``type`` and a ``sequence_number``, and names its type in the SSE ``event`` field too.
"""

from __future__ import annotations

from typing import Any

from ..sources._sse import encode_event
from ._wire import Encoder, Reply, ToolForm, Wire, assistant_runs, first_argument, new_id, now

__all__ = ["ResponsesWire"]

_ASSISTANT_ITEMS = frozenset({"function_call", "custom_tool_call", "reasoning"})


class ResponsesWire(Wire):
    """The Responses protocol (stateless: ``previous_response_id`` is not looked up)."""

    name = "responses"
    path = "/responses"
    length_stop = "max_output_tokens"

    def history_turns(self, body: dict[str, Any]) -> int:
        items = body.get("input")
        if not isinstance(items, list):
            return 0  # a plain string input is one user message
        return assistant_runs(
            items, lambda it: it.get("role") == "assistant" or it.get("type") in _ASSISTANT_ITEMS
        )

    def declared_tool(self, body: dict[str, Any]) -> ToolForm | None:
        tools = body.get("tools")
        for tool in tools if isinstance(tools, list) else ():
            if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
                continue
            if tool.get("type") == "custom":
                return ToolForm(tool["name"], None)
            if tool.get("type") == "function":
                return ToolForm(tool["name"], first_argument(tool.get("parameters"), "code"))
        return None

    def encoder(self, reply: Reply, body: dict[str, Any]) -> Encoder:
        return _ResponsesEncoder(reply, include_usage=True)


class _ResponsesEncoder(Encoder):
    def __init__(self, reply: Reply, *, include_usage: bool) -> None:
        super().__init__(reply, include_usage=include_usage)
        self.id = new_id("resp_")
        self.created = now()
        self.seq = 0
        tool = reply.tool
        if tool is None:
            self.item_id = new_id("msg_")
        else:
            self.item_id = new_id("fc_" if tool.argument is not None else "ctc_")

    @property
    def _final_status(self) -> str:
        """``completed``; ``incomplete`` when a stop reason was injected (the API's cut answer)."""
        return "incomplete" if self.reply.stop else "completed"

    def _event(self, type_: str, **fields: Any) -> bytes:
        data = {"type": type_, **fields, "sequence_number": self.seq}
        self.seq += 1
        return encode_event(data, event=type_)

    def _item(self, *, done: bool) -> dict[str, Any]:
        text = self.reply.text if done else ""
        status = self._final_status if done else "in_progress"
        tool = self.reply.tool
        if tool is None:
            content = [_text_part(text)] if done else []
            return {
                "id": self.item_id,
                "type": "message",
                "role": "assistant",
                "status": status,
                "content": content,
            }
        call = {"id": self.item_id, "call_id": "call_0", "name": tool.name}
        if tool.argument is None:  # a custom tool call has no status
            return {**call, "type": "custom_tool_call", "input": text}
        return {**call, "type": "function_call", "arguments": text, "status": status}

    def _response(self, *, done: bool) -> dict[str, Any]:
        n = len(self.reply.tokens)
        return {
            "id": self.id,
            "object": "response",
            "created_at": self.created,
            "status": self._final_status if done else "in_progress",
            "model": self.reply.model,
            "output": [self._item(done=True)] if done else [],
            "parallel_tool_calls": False,
            "tool_choice": "auto",
            "tools": [],
            "error": None,
            "incomplete_details": (
                {"reason": self.reply.stop} if done and self.reply.stop else None
            ),
            "instructions": None,
            "metadata": {},
            "usage": (
                {
                    "input_tokens": 0,
                    "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
                    "output_tokens": n,
                    "output_tokens_details": {"reasoning_tokens": 0},
                    "total_tokens": n,
                }
                if done
                else None
            ),
        }

    def head(self) -> bytes:
        out = self._event("response.created", response=self._response(done=False))
        out += self._event("response.in_progress", response=self._response(done=False))
        out += self._event(
            "response.output_item.added", output_index=0, item=self._item(done=False)
        )
        if self.reply.tool is None:
            out += self._event("response.content_part.added", **self._at(), part=_text_part(""))
        return out

    def _at(self) -> dict[str, Any]:
        return {"item_id": self.item_id, "output_index": 0, "content_index": 0}

    def token(self, i: int) -> bytes:
        delta = self.reply.tokens[i]
        tool = self.reply.tool
        if tool is None:
            return self._event("response.output_text.delta", **self._at(), delta=delta, logprobs=[])
        kind = "function_call_arguments" if tool.argument is not None else "custom_tool_call_input"
        return self._event(
            f"response.{kind}.delta", item_id=self.item_id, output_index=0, delta=delta
        )

    def tail(self, *, done: bool = True) -> bytes:
        text, tool = self.reply.text, self.reply.tool
        at = {"item_id": self.item_id, "output_index": 0}
        if tool is None:
            out = self._event("response.output_text.done", **self._at(), text=text, logprobs=[])
            out += self._event("response.content_part.done", **self._at(), part=_text_part(text))
        elif tool.argument is None:
            out = self._event("response.custom_tool_call_input.done", **at, input=text)
        else:
            out = self._event("response.function_call_arguments.done", **at, arguments=text)
        out += self._event("response.output_item.done", output_index=0, item=self._item(done=True))
        if done:
            final = "response.incomplete" if self.reply.stop else "response.completed"
            out += self._event(final, response=self._response(done=True))
        return out

    def bad_json(self) -> bytes:
        return b'event: response.output_text.delta\ndata: {"type": "response.output_text.delta"\n\n'

    def error_event(self, message: str) -> bytes:
        return self._event("error", code="server_error", message=message, param=None)

    def whole(self) -> dict[str, Any]:
        return self._response(done=True)


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
