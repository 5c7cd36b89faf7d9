"""Model clients: the scripted fake streams turn k for a history with k assistant turns."""

from __future__ import annotations

import json

import pytest

from eager import ToolCall, Turn, UsageError
from eager.agent import AssistantMessage, EndpointModel, ScriptedModel, UserMessage


async def _drain(source: object) -> str:
    return "".join([d async for d in source])  # type: ignore[attr-defined]


async def test_the_scripted_model_answers_by_the_number_of_assistant_turns() -> None:
    model = ScriptedModel(["first", "second"])
    assert await _drain(model.open([UserMessage("q")])) == "first"
    history = [UserMessage("q"), AssistantMessage("first"), UserMessage("obs")]
    assert await _drain(model.open(history)) == "second"
    with pytest.raises(UsageError):
        model.open([*history, AssistantMessage("second")])


async def test_a_scripted_tool_turn_streams_its_first_call_and_reports_the_rest() -> None:
    calls = (
        ToolCall("a", "python", json.dumps({"code": "x = 1\n"})),
        ToolCall("b", "python", json.dumps({"code": "print(x)\n"})),
    )
    source = ScriptedModel([Turn(text="go", tool_calls=calls)], code="tool").open([])
    assert source.format == "tool"
    assert json.loads(await _drain(source)) == {"code": "x = 1\n"}
    assert source.turn is not None and source.turn.tool_calls == calls


def test_models_reject_unknown_protocols_and_code_styles() -> None:
    with pytest.raises(UsageError):
        EndpointModel(base_url="http://127.0.0.1:1/v1", model="m", protocol="grpc")  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        ScriptedModel([], code="xml")  # type: ignore[arg-type]


def test_an_endpoint_model_declares_the_code_tool_in_its_protocol() -> None:
    model = EndpointModel(
        base_url="http://127.0.0.1:1", model="m", protocol="anthropic", code="tool"
    )
    source = model.open([UserMessage("q")], system="be brief")
    body = source.body  # type: ignore[attr-defined]
    assert body["system"] == "be brief" and body["tools"][0]["name"] == "python"
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "q"}]}]
