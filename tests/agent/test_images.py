"""Images of observations in each protocol: the official SDKs' typed params accept the
encoding, the official clients send it, and the replay server answers the right turn."""

from __future__ import annotations

import base64
import json
import struct
import zlib
from collections.abc import AsyncIterator, Iterable
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from eager import CellStep, ExecResult, FakeBackend, RichOutput, ToolCall, Turn
from eager.agent import (
    PROTOCOLS,
    Agent,
    AssistantMessage,
    EndpointModel,
    ImagePart,
    Message,
    ScriptedModel,
    ToolResult,
    UserMessage,
    encode,
)
from eager.server import Answer, Recording, ReplayServer

openai = pytest.importorskip("openai")
anthropic = pytest.importorskip("anthropic")


def _png(width: int) -> str:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, 1, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" + b"\0\0\0" * width)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    return base64.b64encode(png).decode()


FIG = ImagePart("image/png", _png(2), "/tmp/fig-1.png")
FIG2 = ImagePart("image/png", _png(3))
CALLS = (
    ToolCall("call_a", "python", json.dumps({"code": "plt.plot([1, 2])\n"})),
    ToolCall("call_b", "python", json.dumps({"code": "df.head()\n"})),
)
#: Tool calls whose results carry images, then fenced code whose observation does.
CONVERSATION: list[Message] = [
    UserMessage("task"),
    AssistantMessage("Plot it.", CALLS),
    ToolResult("call_a", "python", "[<matplotlib.lines.Line2D>]\n[image 1: ...]", images=(FIG,)),
    ToolResult("call_b", "python", "   a\n0  1", images=(FIG2,)),
    AssistantMessage("```python\nplt.show()\n```"),
    UserMessage("<Figure size 640x480 with 1 Axes>\n[image 1: ...]", True, (FIG, FIG2)),
]
TURNS = ("one", "two", "three")


def _realized(value: Any) -> Any:
    """``value`` with pydantic's lazily validated iterables run (validating each item)."""
    if isinstance(value, dict):
        return {k: _realized(v) for k, v in value.items()}
    if isinstance(value, str | bytes | int | float | type(None)):
        return value
    if isinstance(value, Iterable):
        return [_realized(v) for v in value]
    return value


def _check(adapter: TypeAdapter[Any], value: Any) -> None:
    _realized(adapter.validate_python(value))


def _adapter(protocol: str) -> TypeAdapter[Any]:
    if protocol == "chat":
        from openai.types.chat import ChatCompletionMessageParam

        return TypeAdapter(list[ChatCompletionMessageParam])
    if protocol == "responses":
        from openai.types.responses import ResponseInputItemParam

        return TypeAdapter(list[ResponseInputItemParam])
    from anthropic.types import MessageParam

    return TypeAdapter(list[MessageParam])


def _items(protocol: str, body: dict[str, Any]) -> list[Any]:
    if protocol != "responses":
        return list(body["messages"])
    # The items carrying observations (assistant items are replayed output, typed apart).
    return [i for i in body["input"] if i.get("role") == "user" or "output" in i]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_the_encoding_with_images_is_valid_for_the_official_sdk_types(protocol: str) -> None:
    _check(_adapter(protocol), _items(protocol, encode(protocol, CONVERSATION)))  # type: ignore[arg-type]


def test_the_sdk_types_do_reject_an_image_in_a_chat_tool_message() -> None:
    bad = [
        {
            "role": "tool",
            "tool_call_id": "a",
            "content": [{"type": "image_url", "image_url": {"url": "x"}}],
        }
    ]
    with pytest.raises(ValidationError):
        _check(_adapter("chat"), bad)


def test_chat_images_follow_the_tool_messages_in_one_user_message() -> None:
    messages = encode("chat", CONVERSATION)["messages"]
    assert [m["role"] for m in messages] == [
        "user",
        "assistant",
        "tool",
        "tool",
        "user",
        "assistant",
        "user",
    ]
    assert messages[2]["content"] == "[<matplotlib.lines.Line2D>]\n[image 1: ...]"  # text only
    parts = messages[4]["content"]
    urls = [p["image_url"]["url"] for p in parts if p["type"] == "image_url"]
    assert urls == [FIG.data_url, FIG2.data_url]
    assert [p["text"] for p in parts if p["type"] == "text"] == [
        "The images shown by call call_a:",
        "The images shown by call call_b:",
    ]
    fence = messages[6]["content"]  # the fenced code's observation: text, then its images
    assert fence[0] == {"type": "text", "text": CONVERSATION[5].text}
    assert [p["image_url"]["url"] for p in fence[1:]] == [FIG.data_url, FIG2.data_url]
    assert FIG.data_url.startswith("data:image/png;base64,iVBORw0KGgo")


def test_responses_outputs_become_input_text_and_input_image_lists() -> None:
    items = encode("responses", CONVERSATION)["input"]
    output = items[4]["output"]
    assert items[4]["type"] == "function_call_output" and items[4]["call_id"] == "call_a"
    assert output == [
        {"type": "input_text", "text": CONVERSATION[2].text},
        {"type": "input_image", "image_url": FIG.data_url, "detail": "auto"},
    ]
    assert [p["type"] for p in items[-1]["content"]] == ["input_text", "input_image", "input_image"]


def test_anthropic_images_stay_inside_the_tool_result() -> None:
    messages = encode("anthropic", CONVERSATION)["messages"]
    results = messages[2]["content"]
    assert [r["type"] for r in results] == ["tool_result", "tool_result"]
    assert results[0]["content"][1] == {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": FIG.b64},
    }
    assert [b["type"] for b in messages[4]["content"]] == ["text", "image", "image"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_text_only_model_gets_no_image_parts(protocol: str) -> None:
    body = json.dumps(encode(protocol, CONVERSATION, images=False))  # type: ignore[arg-type]
    assert FIG.b64 not in body and "image_url" not in body and "input_image" not in body
    plain = [m for m in CONVERSATION if not isinstance(m, UserMessage | ToolResult) or not m.images]
    if protocol == "chat":
        assert len(json.loads(body)["messages"]) == len(CONVERSATION)
    assert len(plain) < len(CONVERSATION)


def test_image_sizes_and_descriptions() -> None:
    raw = base64.b64decode(FIG.data)
    assert FIG.size_bytes == len(raw) and FIG.decoded() == raw
    wrapped = ImagePart(
        "image/png", "\n".join(FIG.data[i : i + 10] for i in range(0, len(FIG.data), 10))
    )
    assert wrapped.size_bytes == len(raw) and wrapped.b64 == FIG.data
    assert FIG.describe() == f"image/png, {len(raw)} B, saved to /tmp/fig-1.png"


@pytest.fixture
async def server() -> AsyncIterator[ReplayServer]:
    recording = Recording("plots", tuple(Answer("plots", t, "chat") for t in TURNS))
    async with ReplayServer({"plots": recording}, tps=1000, ttft_s=0.0) as srv:
        yield srv


async def test_the_official_clients_send_images_and_the_server_answers_the_next_turn(
    server: ReplayServer,
) -> None:
    chat = openai.AsyncOpenAI(base_url=server.base_url, api_key="test")
    responses = openai.AsyncOpenAI(base_url=server.base_url, api_key="test")
    claude = anthropic.AsyncAnthropic(base_url=server.root_url, api_key="test")
    try:
        body = encode("chat", CONVERSATION, system="sys")
        got = await chat.chat.completions.create(model="plots", messages=body["messages"])
        assert got.choices[0].message.content == "three"
        body = encode("responses", CONVERSATION, system="sys")
        resp = await responses.responses.create(
            model="plots", input=body["input"], instructions=body["instructions"]
        )
        assert resp.output_text == "three"
        body = encode("anthropic", CONVERSATION, system="sys")
        msg = await claude.messages.create(
            model="plots", max_tokens=100, messages=body["messages"], system=body["system"]
        )
        assert msg.content[0].text == "three"
    finally:
        await chat.close()
        await responses.close()
        await claude.close()
    records = await server.wait_records(3)
    assert [r["turn"] for r in records] == [3, 3, 3] and all(r["status"] == 200 for r in records)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_the_endpoint_model_streams_the_next_turn_after_an_image_observation(
    server: ReplayServer, protocol: str
) -> None:
    url = server.root_url if protocol == "anthropic" else server.base_url
    model = EndpointModel(base_url=url, model="plots", protocol=protocol)  # type: ignore[arg-type]
    source = model.open(CONVERSATION, system="sys")
    text = "".join([d async for d in source.stream()])
    assert text == "three" and source.turn is not None and source.turn.text == "three"
    (record,) = await server.wait_records(1)
    assert record["turn"] == 3 and record["status"] == 200


class _PictureBackend(FakeBackend):
    """A fake session where ``shown = figure()`` displays a figure (a PNG and its text/plain)."""

    async def _execute(
        self,
        code: str,
        *,
        first_line: int,
        timeout_s: float | None,
        cell: CellStep | None = None,
    ) -> ExecResult:
        result = await super()._execute(code, first_line=first_line, timeout_s=timeout_s, cell=cell)
        if "figure()" not in code:
            return result
        figure = RichOutput(
            {"image/png": FIG.data, "text/plain": "<Figure size 640x480 with 1 Axes>"}
        )
        return replace(result, outputs=(*result.outputs, figure))


PLOT = "Plot.\n```python\nprint('drawn')\nfigure = list\nshown = figure()\n```\n"


@pytest.mark.parametrize("code", ["fence", "tool"])
async def test_an_agent_sends_the_figure_its_code_showed(code: str) -> None:
    turn: str | Turn = PLOT
    if code == "tool":
        call = ToolCall(
            "c1",
            "python",
            json.dumps({"code": "print('drawn')\nfigure = list\nshown = figure()\n"}),
        )
        turn = Turn(text="Plot.", tool_calls=(call,))
    model = ScriptedModel([turn, "Final Answer: done"], code=code)  # type: ignore[arg-type]
    result = await Agent(model=model, backend=_PictureBackend()).run("t")
    assert result.answer == "done" and result.turns[0].error is None
    seen = result.messages[2]
    assert isinstance(seen, UserMessage | ToolResult) and seen.images == (
        ImagePart("image/png", FIG.data),
    )
    assert seen.text.startswith("drawn\n\n<Figure size 640x480 with 1 Axes>\n[image 1: image/png")
    sent = model.requests[1]["messages"]
    images = [
        p
        for m in sent
        if isinstance(m["content"], list)
        for p in m["content"]
        if p["type"] == "image_url"
    ]
    assert [p["image_url"]["url"] for p in images] == [FIG.data_url]
    assert sent[-1]["role"] == "user"  # tool mode: the images follow the tool message


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_an_endpoint_agent_with_figures_runs_to_its_answer_on_the_replay_server(
    protocol: str,
) -> None:
    turns = (PLOT, "Final Answer: done")
    recording = Recording("plot", tuple(Answer("plot", t, "chat") for t in turns))
    async with ReplayServer({"plot": recording}, tps=1000, ttft_s=0.0) as srv:
        url = srv.root_url if protocol == "anthropic" else srv.base_url
        model = EndpointModel(base_url=url, model="plot", protocol=protocol)  # type: ignore[arg-type]
        result = await Agent(model=model, backend=_PictureBackend()).run("t")
        records = await srv.wait_records(2)
    assert (result.answer, result.error) == ("done", None)
    assert [(r["turn"], r["status"]) for r in records] == [(1, 200), (2, 200)]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.lists(st.integers(min_value=0, max_value=2), min_size=1, max_size=3), max_size=4)
)
def test_every_image_is_sent_once_and_tool_messages_stay_together(turns: list[list[int]]) -> None:
    # Each turn: an assistant message with one call per entry, whose result has that many images.
    conv: list[Message] = [UserMessage("task")]
    n = 0
    for t, counts in enumerate(turns):
        calls = tuple(ToolCall(f"c{t}_{i}", "python", "{}") for i in range(len(counts)))
        conv.append(AssistantMessage("", calls))
        for call, k in zip(calls, counts, strict=True):
            images = tuple(ImagePart("image/png", _png(n + j + 1)) for j in range(k))
            n += k
            conv.append(ToolResult(call.id, "python", "out", images=images))
    for protocol in PROTOCOLS:
        body = json.dumps(encode(protocol, conv))
        for width in range(1, n + 1):
            assert body.count(_png(width)) == 1
    for cap in range(n + 2):  # the most recent images, up to the cap
        body = json.dumps(encode("anthropic", conv, max_images=cap))
        assert [body.count(_png(w)) for w in range(1, n + 1)] == [0] * (n - min(cap, n)) + [
            1
        ] * min(cap, n)
    messages = encode("chat", conv)["messages"]
    for i, m in enumerate(messages):
        if m["role"] == "assistant":
            answered = [c["id"] for c in m.get("tool_calls") or []]
            following = [x["tool_call_id"] for x in messages[i + 1 : i + 1 + len(answered)]]
            assert following == answered  # the tool messages come first, then images


def test_only_the_most_recent_images_are_sent() -> None:
    body = encode("anthropic", CONVERSATION, max_images=3)["messages"]
    sent = json.dumps(body)
    # FIG is in the first tool result and the last observation; FIG2 in both too.
    assert sent.count(FIG2.b64) == 2 and sent.count(FIG.b64) == 1
    first = body[2]["content"][0]["content"]
    assert first == CONVERSATION[2].text  # its image dropped: the text still names it
    assert "image_url" not in json.dumps(encode("chat", CONVERSATION, max_images=0))
    assert encode("chat", CONVERSATION, max_images=None) == encode("chat", CONVERSATION)
