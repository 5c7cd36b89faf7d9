"""Multi-turn recordings: the format, the DABench trajectory loader, and turn k served to a
history of k−1 assistant turns in every protocol (over real HTTP on loopback)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from eager import (
    Recording,
    ReplayServer,
    UsageError,
    load_recordings,
    load_trajectories,
    make_extractor,
)
from eager.server._answers import code_of
from eager.server._trajectories import RAN_MARK, dump_recordings, local_paths, split_trajectory

DATA = Path(__file__).parent.parent / "data"
RAW = DATA / "dabench_gpt4o_mini_trajectories.json"
CONVERTED = DATA / "dabench_gpt4o_mini_recordings.jsonl"
TURNS = [
    {"text": "First I look.\n```python\nx = 40\n```\n", "observation": "STDOUT: nothing"},
    {"code": "x += 2\n"},
    {"tool_calls": [{"name": "python", "arguments": json.dumps({"code": "print(x)"})}]},
    {"text": "The answer is 42."},
]
RECORD = {"id": "conv", "turns": TURNS, "metadata": {"task": 7}}


@pytest.fixture
def conv(tmp_path: Path) -> dict[str, Recording]:
    path = tmp_path / "conv.jsonl"
    path.write_text(json.dumps(RECORD) + "\n")
    return load_recordings([path])


def test_a_record_with_turns_loads_as_a_conversation(conv: dict[str, Recording]) -> None:
    rec = conv["conv"]
    assert [t.kind for t in rec.turns] == ["chat", "code", "code", "chat"]
    assert [code_of(t) for t in rec.turns[:3]] == ["x = 40\n", "x += 2\n", "print(x)"]
    assert rec.turns[0].observation == "STDOUT: nothing" and rec.metadata == {"task": 7}
    assert rec.turns[3].text == "The answer is 42."


def test_a_json_file_holds_a_list_of_records(tmp_path: Path) -> None:
    path = tmp_path / "many.json"
    path.write_text(json.dumps([RECORD, {"id": "one", "code": "pass\n"}]))
    got = load_recordings([path])
    assert {n: len(r.turns) for n, r in got.items()} == {"conv": 4, "one": 1}


@pytest.mark.parametrize(
    ("record", "match"),
    [
        ({"id": 1, "turns": []}, "non-empty list"),
        ({"id": 1, "turns": ["x"]}, "turn 1: a turn must be a JSON object"),
        ({"id": 1, "turns": [{"text": "a"}, {"prose": "b"}]}, "turn 2: no answer text"),
        ({"id": 1, "turns": [{"tool_calls": [{"arguments": {"a": "x", "b": "y"}}]}]}, "'code'"),
        ({"id": 1, "turns": [{"tool_calls": []}]}, "non-empty list"),
        ({"id": 1, "text": "a", "metadata": [1]}, "metadata"),
    ],
)
def test_bad_records_are_clear_usage_errors(
    tmp_path: Path, record: dict[str, Any], match: str
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(record) + "\n")
    with pytest.raises(UsageError, match=match):
        load_recordings([path])


# --- serving turns ------------------------------------------------------------------------------


@pytest.fixture
async def server(conv: dict[str, Recording]) -> AsyncIterator[ReplayServer]:
    async with ReplayServer(conv, tps=5000, ttft_s=0.0) as srv:
        yield srv


def _chat(k: int) -> dict[str, Any]:
    messages: list[dict[str, Any]] = [{"role": "system", "content": "s"}]
    for i in range(k):
        messages += [{"role": "user", "content": f"u{i}"}, {"role": "assistant", "content": "a"}]
    return {"model": "conv", "messages": [*messages, {"role": "user", "content": "go"}]}


def _responses(k: int) -> dict[str, Any]:
    items: list[dict[str, Any]] = [{"role": "user", "content": "q"}]
    for i in range(k):
        # one turn: an assistant message and the call it made, then the tool's output
        items += [
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "a"}],
            },
            {"type": "function_call", "call_id": f"c{i}", "name": "python", "arguments": "{}"},
            {"type": "function_call_output", "call_id": f"c{i}", "output": "ok"},
        ]
    return {"model": "conv", "input": items}


def _anthropic(k: int) -> dict[str, Any]:
    messages: list[dict[str, Any]] = [{"role": "user", "content": "q"}]
    for _ in range(k):
        messages += [{"role": "assistant", "content": "a"}, {"role": "user", "content": "ok"}]
    return {"model": "conv", "max_tokens": 10, "messages": messages}


def _content(protocol: str, obj: dict[str, Any]) -> str:
    if protocol == "chat":
        return str(obj["choices"][0]["message"]["content"])
    if protocol == "responses":
        return str(obj["output"][0]["content"][0]["text"])
    return str(obj["content"][0]["text"])


PROTOCOLS = {
    "chat": ("/v1/chat/completions", _chat),
    "responses": ("/v1/responses", _responses),
    "anthropic": ("/v1/messages", _anthropic),
}


@pytest.mark.parametrize("protocol", list(PROTOCOLS))
async def test_turn_k_answers_a_history_of_k_minus_1_assistant_turns(
    server: ReplayServer, protocol: str
) -> None:
    path, make = PROTOCOLS[protocol]
    async with httpx.AsyncClient(base_url=server.root_url, trust_env=False) as c:
        texts = [_content(protocol, (await c.post(path, json=make(k))).json()) for k in range(4)]
        past = await c.post(path, json=make(4))
    assert texts == [
        "First I look.\n```python\nx = 40\n```\n",
        "x += 2\n",
        "print(x)",
        TURNS[3]["text"],
    ]
    assert past.status_code == 400
    body = past.json()
    error = body["error"]
    assert "has 4 assistant turn(s)" in error["message"] and "already holds 4" in error["message"]
    if protocol == "anthropic":
        assert body["type"] == "error" and error["type"] == "invalid_request_error"
    records = await server.wait_records(5)
    assert [r["turn"] for r in records] == [1, 2, 3, 4, 5]
    assert {r["protocol"] for r in records} == {protocol}


async def test_with_a_tool_declared_code_turns_are_calls_and_prose_turns_are_content(
    server: ReplayServer,
) -> None:
    tools = [{"type": "function", "function": {"name": "python", "parameters": {}}}]
    async with httpx.AsyncClient(base_url=server.base_url, trust_env=False) as c:
        msgs = [
            (await c.post("/chat/completions", json={**_chat(k), "tools": tools})).json()
            for k in range(4)
        ]
    calls = [m["choices"][0]["message"].get("tool_calls") for m in msgs]
    args = [json.loads(call[0]["function"]["arguments"]) for call in calls[:3] if call]
    assert args == [{"code": "x = 40\n"}, {"code": "x += 2\n"}, {"code": "print(x)"}]
    assert calls[3] is None and msgs[3]["choices"][0]["message"]["content"] == TURNS[3]["text"]


# --- DABench trajectories -----------------------------------------------------------------------


def test_trajectories_split_into_turns_with_the_sandbox_output_as_observations() -> None:
    raw = json.loads(RAW.read_text())
    recs = load_trajectories(RAW, prefix="dabench-")
    for item in raw:
        rec = recs[f"dabench-{item['id']}"]
        assert len(rec.turns) == item["response"].count(RAN_MARK) + 1
        assert all(
            t.observation and t.observation.startswith(("STDOUT:", "STDERR:"))
            for t in rec.turns[:-1]
        )
        assert rec.turns[-1].observation is None
        assert not any("[SYSTEM NOTIFICATION]" in t.text for t in rec.turns)
        assert rec.metadata["input_text"] == item["input_text"]
        # the turns hold exactly the code of the whole trajectory (observations are not code),
        # the recorded machine's path of the task's table made a bare file name
        whole = make_extractor("chat")
        code = whole.feed(item["response"]) + whole.close()
        table = item["file_path"].rsplit("/", 1)[-1]
        assert "".join(code_of(t) for t in rec.turns[:-1]) == local_paths(code, {table})
        assert f"'{table}'" in code_of(rec.turns[0]) and "/home/" not in code_of(rec.turns[0])
        # every observation is a verbatim part of the trajectory
        assert all(t.observation in item["response"] for t in rec.turns[:-1])


def test_the_bundled_conversions_match_the_loader_and_load_back_equal() -> None:
    recs = load_trajectories(RAW, prefix="dabench-")
    assert dump_recordings(recs) == CONVERTED.read_text()

    def content(recs: dict[str, Recording]) -> list[Any]:
        return [
            (n, [(t.text, t.kind, t.observation) for t in r.turns], r.metadata)
            for n, r in recs.items()
        ]

    assert content(load_recordings([CONVERTED])) == content(recs)


def test_a_trajectory_whose_observation_is_not_a_block_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="observation 1"):
        split_trajectory(f"hi\n```python\nx=1\n```\n{RAN_MARK}\n\nno block here")


async def test_a_served_trajectory_replays_turn_by_turn_to_a_chat_client() -> None:
    recs = load_recordings([CONVERTED])
    rec = recs["dabench-28"]
    async with (
        ReplayServer(recs, tps=20000, ttft_s=0.0) as srv,
        httpx.AsyncClient(base_url=srv.base_url, trust_env=False) as c,
    ):
        messages: list[dict[str, Any]] = [{"role": "user", "content": "question"}]
        for turn in rec.turns:
            r = await c.post(
                "/chat/completions", json={"model": "dabench-28", "messages": messages}
            )
            text = r.json()["choices"][0]["message"]["content"]
            assert text == turn.text
            messages += [
                {"role": "assistant", "content": text},
                {"role": "user", "content": turn.observation or ""},
            ]
        r = await c.post("/chat/completions", json={"model": "dabench-28", "messages": messages})
        assert r.status_code == 400 and r.json()["error"]["code"] == "conversation_exhausted"
