"""One conversation, three protocols: each encoding pairs every tool call with its result."""

from __future__ import annotations

import json

from eager import ToolCall
from eager.agent import AssistantMessage, ToolResult, UserMessage, encode, tool_spec

CALLS = (
    ToolCall("call_a", "python", json.dumps({"code": "x = 1\n"})),
    ToolCall("call_b", "python", json.dumps({"code": "print(x)\n"})),
)
CONVERSATION = [
    UserMessage("task"),
    AssistantMessage("Let me run it.", CALLS),
    ToolResult("call_a", "python", "(no output)"),
    ToolResult("call_b", "python", "stdout:\n1\n"),
    AssistantMessage("```python\nprint(2)\n```"),
    UserMessage("stdout:\n2\n", observation=True),
    AssistantMessage("Final Answer: 1"),
]


def test_chat_messages_carry_tool_calls_and_tool_results_by_id() -> None:
    messages = encode("chat", CONVERSATION, system="be brief")["messages"]
    assert [m["role"] for m in messages] == [
        "system",
        "user",
        "assistant",
        "tool",
        "tool",
        "assistant",
        "user",
        "assistant",
    ]
    calls = messages[2]["tool_calls"]
    assert [c["id"] for c in calls] == ["call_a", "call_b"]
    assert json.loads(calls[1]["function"]["arguments"]) == {"code": "print(x)\n"}
    assert [m["tool_call_id"] for m in messages[3:5]] == ["call_a", "call_b"]


def test_responses_items_pair_function_calls_with_their_outputs() -> None:
    body = encode("responses", CONVERSATION, system="be brief")
    assert body["instructions"] == "be brief"
    items = body["input"]
    kinds = [i.get("type", i.get("role")) for i in items]
    assert kinds == [
        "user",
        "message",
        "function_call",
        "function_call",
        "function_call_output",
        "function_call_output",
        "message",
        "user",
        "message",
    ]
    assert items[2]["call_id"] == items[4]["call_id"] == "call_a"
    assert items[1]["content"][0] == {"type": "output_text", "text": "Let me run it."}


def test_anthropic_merges_the_results_of_one_turn_into_one_user_message() -> None:
    body = encode("anthropic", CONVERSATION, system="be brief")
    assert body["system"] == "be brief"
    messages = body["messages"]
    assert [m["role"] for m in messages] == [
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
        "assistant",
    ]
    uses = [b for b in messages[1]["content"] if b["type"] == "tool_use"]
    assert [u["input"] for u in uses] == [{"code": "x = 1\n"}, {"code": "print(x)\n"}]
    results = messages[2]["content"]
    assert [r["tool_use_id"] for r in results] == ["call_a", "call_b"]


def test_a_custom_tool_call_stays_free_text_in_responses() -> None:
    conv = [
        UserMessage("t"),
        AssistantMessage("", (ToolCall("c", "python", "x = 1\n", "custom"),)),
        ToolResult("c", "python", "ok", "custom"),
    ]
    items = encode("responses", conv)["input"]
    assert items[1] == {
        "type": "custom_tool_call",
        "call_id": "c",
        "name": "python",
        "input": "x = 1\n",
    }
    assert items[2]["type"] == "custom_tool_call_output"


def test_the_code_tool_is_declared_in_each_protocol_s_shape() -> None:
    assert tool_spec("chat", "python")["function"]["parameters"]["required"] == ["code"]
    assert tool_spec("responses", "python")["name"] == "python"
    assert "input_schema" in tool_spec("anthropic", "python")
