"""A protocol-neutral conversation as each protocol's request messages (pure).

* ``chat`` (OpenAI Chat Completions): ``messages`` with ``tool_calls`` on assistant messages
  and ``role: "tool"`` results by ``tool_call_id``;
* ``responses`` (OpenAI Responses): ``input`` items: messages, ``function_call`` /
  ``custom_tool_call`` items and their ``*_output`` items by ``call_id``;
* ``anthropic`` (Anthropic Messages): ``system`` apart, ``tool_use`` blocks in assistant
  messages and ``tool_result`` blocks in the next user message (consecutive results merged).

Images of an observation (``images=True``): Chat Completions ``tool`` messages take text only,
so a tool result's images follow the turn's tool messages in one ``user`` message of
``image_url`` parts (``data:`` URLs); an observation user message holds its text part and its
``image_url`` parts. Responses: a ``*_call_output``'s ``output`` becomes a list of
``input_text`` and ``input_image`` parts, a user message's content likewise. Anthropic: ``image``
blocks (base64 source) inside the ``tool_result``'s content, or after the user message's text
block. With ``images=False`` (a model that takes no images) they are left out: the observation's
text names each one. ``max_images`` keeps only the conversation's most recent images (APIs cap
the images of one request; Anthropic at 100).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Literal, get_args

from .._errors import UsageError
from ._history import AssistantMessage, ImagePart, Message, ToolResult, UserMessage

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
    protocol: Protocol,
    messages: Sequence[Message],
    *,
    system: str | None = None,
    images: bool = True,
    max_images: int | None = None,
) -> dict[str, Any]:
    """The request fields holding the conversation: ``{"messages": ...}`` (chat, anthropic,
    with ``"system"`` for anthropic) or ``{"input": ..., "instructions": ...}`` (responses).
    ``images``: send the observations' images, at most the ``max_images`` most recent (module
    doc)."""
    messages = _recent_images(messages, 0 if not images else max_images)
    if protocol == "chat":
        chat: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
        return {"messages": chat + _chat_messages(messages)}
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


def _recent_images(messages: Sequence[Message], keep: int | None) -> Sequence[Message]:
    """``messages`` with only the ``keep`` most recent images (None: all)."""
    if keep is None:
        return messages
    out: list[Message] = []
    for m in reversed(messages):
        if isinstance(m, UserMessage | ToolResult) and m.images:
            kept = m.images[max(0, len(m.images) - keep) :] if keep else ()
            keep -= len(kept)
            if len(kept) < len(m.images):
                m = replace(m, images=kept)
        out.append(m)
    return out[::-1]


def _text_part(kind: str, text: str) -> list[dict[str, Any]]:
    """A text part before images (none for empty text, which some APIs refuse)."""
    return [{"type": kind, "text": text}] if text else []


def _chat_image(image: ImagePart) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": image.data_url}}


def _chat_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """Chat messages; the images of a run of tool results in one user message after it."""
    out: list[dict[str, Any]] = []
    pending: list[ToolResult] = []

    def flush() -> None:
        if len(pending) == 1:
            parts = [{"type": "text", "text": "The images shown by the code above:"}]
            parts += [_chat_image(i) for i in pending[0].images]
        else:
            parts = []
            for r in pending:
                parts.append({"type": "text", "text": f"The images shown by call {r.call_id}:"})
                parts.extend(_chat_image(i) for i in r.images)
        out.append({"role": "user", "content": parts})
        pending.clear()

    for m in messages:
        if pending and not isinstance(m, ToolResult):
            flush()
        out.append(_chat(m))
        if isinstance(m, ToolResult) and m.images:
            pending.append(m)
    if pending:
        flush()
    return out


def _chat(m: Message) -> dict[str, Any]:
    if isinstance(m, UserMessage):
        if not m.images:
            return {"role": "user", "content": m.text}
        parts = _text_part("text", m.text) + [_chat_image(i) for i in m.images]
        return {"role": "user", "content": parts}
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


def _responses_parts(text: str, images: Sequence[ImagePart]) -> list[dict[str, Any]]:
    parts = _text_part("input_text", text)
    parts += [{"type": "input_image", "image_url": i.data_url, "detail": "auto"} for i in images]
    return parts


def _responses(m: Message) -> list[dict[str, Any]]:
    if isinstance(m, UserMessage):
        content = _responses_parts(m.text, m.images) if m.images else m.text
        return [{"role": "user", "content": content}]
    if isinstance(m, ToolResult):
        kind = "custom_tool_call_output" if m.kind == "custom" else "function_call_output"
        output = _responses_parts(m.text, m.images) if m.images else m.text
        return [{"type": kind, "call_id": m.call_id, "output": output}]
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
        blocks = _anthropic_blocks(m)
        if out and out[-1]["role"] == "user":
            out[-1]["content"].extend(blocks)  # one user message answers all calls of a turn
        else:
            out.append({"role": "user", "content": blocks})
    return out


def _anthropic_blocks(m: UserMessage | ToolResult) -> list[dict[str, Any]]:
    images = [
        {"type": "image", "source": {"type": "base64", "media_type": i.mime, "data": i.b64}}
        for i in m.images
    ]
    if isinstance(m, UserMessage):
        return [{"type": "text", "text": m.text}, *images]
    content: str | list[dict[str, Any]] = _text_part("text", m.text) + images if images else m.text
    return [{"type": "tool_result", "tool_use_id": m.call_id, "content": content}]


def _input_of(arguments: str) -> Any:
    """A tool call's JSON arguments as the object Anthropic's ``input`` wants."""
    try:
        value = json.loads(arguments) if arguments.strip() else {}
    except ValueError:
        return {"code": arguments}
    return value if isinstance(value, dict) else {"code": arguments}
