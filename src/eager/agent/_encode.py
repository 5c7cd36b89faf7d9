"""A protocol-neutral conversation as each protocol's request messages (pure).

* ``chat`` (OpenAI Chat Completions): ``messages`` with ``tool_calls`` on assistant messages
  and ``role: "tool"`` results by ``tool_call_id``;
* ``responses`` (OpenAI Responses): ``input`` items: messages, ``function_call`` /
  ``custom_tool_call`` items and their ``*_output`` items by ``call_id``;
* ``anthropic`` (Anthropic Messages): ``system`` apart, ``tool_use`` blocks in assistant
  messages and ``tool_result`` blocks in the next user message (consecutive results merged).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal, get_args

from .._errors import UsageError
from ._history import AssistantMessage, Message, ToolResult, UserMessage

__all__ = ["PROTOCOLS", "Protocol", "encode", "tool_spec"]

#: The model protocols an agent can speak.
Protocol = Literal["chat", "responses", "anthropic"]
#: The values of :data:`Protocol`.
PROTOCOLS: tuple[Protocol, ...] = get_args(Protocol)

_TOOL_DESCRIPTION = (
    "Run Python code in a persistent session (variables, imports and files persist between "
    "calls); returns its output, or the error with line numbers."
)


def tool_spec(protocol: Protocol, name: str, argument: str = "code") -> dict[str, Any]:
    """The declaration of the code tool ``name`` (one string ``argument``) in ``protocol``."""
    schema = {
        "type": "object",
        "properties": {argument: {"type": "string", "description": "Python code"}},
        "required": [argument],
    }
    if protocol == "chat":
        return {
            "type": "function",
            "function": {"name": name, "description": _TOOL_DESCRIPTION, "parameters": schema},
        }
    if protocol == "responses":
        return {
            "type": "function",
            "name": name,
            "description": _TOOL_DESCRIPTION,
            "parameters": schema,
        }
    if protocol == "anthropic":
        return {"name": name, "description": _TOOL_DESCRIPTION, "input_schema": schema}
    raise UsageError(f"unknown protocol {protocol!r} (one of {', '.join(PROTOCOLS)})")


def encode(
    protocol: Protocol, messages: Sequence[Message], *, system: str | None = None
) -> dict[str, Any]:
    """The request fields holding the conversation: ``{"messages": ...}`` (chat, anthropic,
    with ``"system"`` for anthropic) or ``{"input": ..., "instructions": ...}`` (responses)."""
    if protocol == "chat":
        chat: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
        return {"messages": chat + [_chat(m) for m in messages]}
    if protocol == "responses":
        items: list[dict[str, Any]] = []
        for m in messages:
            items.extend(_responses(m))
        out: dict[str, Any] = {"input": items}
        if system:
            out["instructions"] = system
        return out
    if protocol == "anthropic":
        result: dict[str, Any] = {"messages": _anthropic(messages)}
        if system:
            result["system"] = system
        return result
    raise UsageError(f"unknown protocol {protocol!r} (one of {', '.join(PROTOCOLS)})")


def _chat(m: Message) -> dict[str, Any]:
    if isinstance(m, UserMessage):
        return {"role": "user", "content": m.text}
    if isinstance(m, ToolResult):
        return {"role": "tool", "tool_call_id": m.call_id, "content": m.text}
    out: dict[str, Any] = {"role": "assistant", "content": m.text or None}
    if m.tool_calls:
        out["tool_calls"] = [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.name, "arguments": c.arguments},
            }
            for c in m.tool_calls
        ]
    return out


def _responses(m: Message) -> list[dict[str, Any]]:
    if isinstance(m, UserMessage):
        return [{"role": "user", "content": m.text}]
    if isinstance(m, ToolResult):
        kind = "custom_tool_call_output" if m.kind == "custom" else "function_call_output"
        return [{"type": kind, "call_id": m.call_id, "output": m.text}]
    items: list[dict[str, Any]] = []
    if m.text:
        items.append(
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": m.text}],
            }
        )
    for c in m.tool_calls:
        if c.kind == "custom":
            items.append(
                {"type": "custom_tool_call", "call_id": c.id, "name": c.name, "input": c.arguments}
            )
        else:
            items.append(
                {"type": "function_call", "call_id": c.id, "name": c.name, "arguments": c.arguments}
            )
    return items


def _anthropic(messages: Sequence[Message]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for m in messages:
        if isinstance(m, AssistantMessage):
            blocks: list[dict[str, Any]] = []
            if m.text:
                blocks.append({"type": "text", "text": m.text})
            for c in m.tool_calls:
                blocks.append(
                    {
                        "type": "tool_use",
                        "id": c.id,
                        "name": c.name,
                        "input": _input_of(c.arguments),
                    }
                )
            out.append({"role": "assistant", "content": blocks or [{"type": "text", "text": ""}]})
            continue
        block: dict[str, Any] = (
            {"type": "tool_result", "tool_use_id": m.call_id, "content": m.text}
            if isinstance(m, ToolResult)
            else {"type": "text", "text": m.text}
        )
        if out and out[-1]["role"] == "user":
            out[-1]["content"].append(block)  # one user message answers all calls of a turn
        else:
            out.append({"role": "user", "content": [block]})
    return out


def _input_of(arguments: str) -> Any:
    """A tool call's JSON arguments as the object Anthropic's ``input`` wants."""
    try:
        value = json.loads(arguments) if arguments.strip() else {}
    except ValueError:
        return {"code": arguments}
    return value if isinstance(value, dict) else {"code": arguments}
