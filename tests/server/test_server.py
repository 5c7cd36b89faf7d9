"""The replay server over real HTTP on loopback: routes, the wire format, faults, answers."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from eager import Answer, ReplayServer, UsageError, load_recordings, tokenize
from eager.server._answers import code_of
from eager.server._app import bind
from eager.server._faults import parse_faults
from eager.sources._sse import SSEDecoder

CODE = "import math\nprint(math.pi)\nfor i in range(3):\n    print(i)\n"
CHAT = f"Sure.\n\n```python\n{CODE}```\nDone.\n"
ANSWERS = {"code": Answer("code", CODE, "code"), "chat": Answer("chat", CHAT, "chat")}


@pytest.fixture
async def server() -> AsyncIterator[ReplayServer]:
    async with ReplayServer(ANSWERS, tps=5000, ttft_s=0.0, token="tok") as srv:
        yield srv


@pytest.fixture
async def client(server: ReplayServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=server.base_url, trust_env=False, headers={"Authorization": "Bearer tok"}
    ) as c:
        yield c


def body(model: str, **kw: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "x"}], **kw}


async def events(
    client: httpx.AsyncClient, payload: dict[str, Any], path: str = "/chat/completions"
) -> list[str]:
    decoder = SSEDecoder()
    out: list[str] = []
    async with client.stream("POST", path, json=payload) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        async for raw in r.aiter_bytes():
            out.extend(e.data for e in decoder.feed(raw))
    return out


async def test_models_lists_every_answer(client: httpx.AsyncClient) -> None:
    r = await client.get("/models")
    assert r.status_code == 200
    assert [m["id"] for m in r.json()["data"]] == ["chat", "code"]


async def test_a_chat_stream_is_openai_chunks_then_usage_then_done(
    client: httpx.AsyncClient, server: ReplayServer
) -> None:
    datas = await events(client, body("chat", stream=True, stream_options={"include_usage": True}))
    assert datas[-1] == "[DONE]"
    chunks = [json.loads(d) for d in datas[:-1]]
    assert all(c["object"] == "chat.completion.chunk" and c["model"] == "chat" for c in chunks)
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert deltas[0]["role"] == "assistant"
    assert "".join(d.get("content") or "" for d in deltas) == CHAT
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == len(
        tokenize(CHAT)
    )
    (record,) = await server.wait_records(1)
    assert record == {
        "model": "chat",
        "protocol": "chat",
        "turn": 1,
        "status": 200,
        "tokens_sent": len(tokenize(CHAT)),
        "stream": True,
        "format": "chat",
        "tokens_total": len(tokenize(CHAT)),
        "disconnected": False,
        "duration_s": record["duration_s"],
    }


async def test_no_usage_chunk_unless_asked(client: httpx.AsyncClient) -> None:
    datas = await events(
        client, body("code", stream=True), path="/v1/chat/completions".removeprefix("/v1")
    )
    assert not any("usage" in json.loads(d) for d in datas[:-1])


async def test_the_route_also_answers_without_v1(server: ReplayServer) -> None:
    async with httpx.AsyncClient(trust_env=False, headers={"Authorization": "Bearer tok"}) as c:
        r = await c.post(f"http://127.0.0.1:{server.port}/chat/completions", json=body("code"))
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == CODE


async def test_a_tool_stream_is_one_call_whose_arguments_arrive_in_pieces(
    client: httpx.AsyncClient,
) -> None:
    tools = [
        {"type": "function", "function": {"name": "exec", "parameters": {"required": ["src"]}}}
    ]
    datas = await events(client, body("chat", stream=True, tools=tools))
    chunks = [json.loads(d) for d in datas[:-1]]
    calls = [c["choices"][0]["delta"]["tool_calls"][0] for c in chunks[:-1]]
    assert calls[0]["function"]["name"] == "exec" and calls[0]["id"]
    assert all("name" not in c["function"] for c in calls[1:])
    args = "".join(c["function"]["arguments"] for c in calls)
    assert json.loads(args) == {"src": CODE}  # the chat answer's fenced code, as a tool call
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


async def test_a_non_stream_request_gets_the_whole_answer(client: httpx.AsyncClient) -> None:
    r = await client.post("/chat/completions", json=body("chat"))
    obj = r.json()
    assert obj["object"] == "chat.completion"
    assert obj["choices"][0]["message"]["content"] == CHAT
    assert obj["usage"]["completion_tokens"] == len(tokenize(CHAT))


async def test_an_unknown_model_is_a_404_listing_the_names(
    client: httpx.AsyncClient, server: ReplayServer
) -> None:
    r = await client.post("/chat/completions", json=body("gpt-5", stream=True))
    assert r.status_code == 404
    err = r.json()["error"]
    assert err["code"] == "model_not_found" and err["available"] == ["chat", "code"]
    assert "chat, code" in err["message"]
    (record,) = await server.wait_records(1)
    assert record["status"] == 404 and record["tokens_sent"] == 0


async def test_the_token_is_required(server: ReplayServer) -> None:
    async with httpx.AsyncClient(base_url=server.base_url, trust_env=False) as c:
        assert (await c.get("/models")).status_code == 401
        r = await c.post("/chat/completions", json=body("code"))
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"


@pytest.mark.parametrize(
    ("payload", "status"),
    [("not json", 400), ('{"messages": []}', 400), ('{"model": "code@frobnicate"}', 400)],
)
async def test_bad_requests_get_400(client: httpx.AsyncClient, payload: str, status: int) -> None:
    r = await client.post("/chat/completions", content=payload)
    assert r.status_code == status and "error" in r.json()


async def test_a_client_that_leaves_is_logged_as_disconnected() -> None:
    async with (
        ReplayServer(ANSWERS, tps=100) as srv,
        httpx.AsyncClient(base_url=srv.base_url, trust_env=False) as c,
        c.stream("POST", "/chat/completions", json=body("chat", stream=True)) as r,
    ):
        async for _ in r.aiter_bytes():
            break  # leave after the first piece
    (record,) = await srv.wait_records(1)
    assert record["disconnected"] is True and record["tokens_sent"] < record["tokens_total"]


async def test_status_faults_count_per_model_and_spec(client: httpx.AsyncClient) -> None:
    statuses = [
        (await client.post("/chat/completions", json=body("code@status=500x2"))).status_code
        for _ in range(3)
    ]
    assert statuses == [500, 500, 200]
    r = await client.post(
        "/chat/completions",
        json=body("code"),
        headers={"X-Eager-Fault": "status=429,retry-after=2"},
    )
    assert r.status_code == 429 and r.headers["retry-after"] == "2"


def test_faults_parse_and_bad_ones_are_usage_errors() -> None:
    f = parse_faults("status=429x2, retry-after=1.5,drop=3,no-done")
    assert (f.status, f.status_times, f.retry_after_s, f.drop) == (429, 2, 1.5, 3)
    assert f.no_done is not None and f.no_done > 10**9
    for bad in ("explode", "drop=x", "status=abc"):
        with pytest.raises(UsageError):
            parse_faults(bad)


# --- answers ---------------------------------------------------------------------------------


def test_answers_load_from_files_directories_and_jsonl(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(CODE)
    (tmp_path / "b.md").write_text(CHAT)
    (tmp_path / "ignored.csv").write_text("x")
    work = tmp_path / "work.jsonl"
    work.write_text(
        "\n".join(
            json.dumps(r)
            for r in [
                {"id": 1, "code": CODE},
                {"task_id": "t2", "response": CHAT},
                {"name": "t3", "full_content": "hi"},
            ]
        )
        + "\n\n"
    )
    answers = {
        n: rec.turns[0]
        for n, rec in load_recordings([tmp_path / "a.py", tmp_path / "b.md", work]).items()
    }
    assert {n: a.kind for n, a in answers.items()} == {
        "a": "code",
        "b": "chat",
        "1": "code",
        "t2": "chat",
        "t3": "chat",
    }
    assert code_of(answers["b"]) == CODE == code_of(answers["1"])
    assert set(load_recordings([tmp_path])) == {"a", "b", "1", "t2", "t3"}


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("{not json\n", "not JSON"),
        ('["x"]\n', "JSON object"),
        ('{"text": "x"}\n', "no id"),
        ('{"id": 1}\n', "no answer text"),
        ('{"id": 1, "text": "a"}\n{"id": 1, "text": "b"}\n', "two answers named '1'"),
    ],
)
def test_bad_workloads_are_clear_usage_errors(tmp_path: Path, content: str, match: str) -> None:
    path = tmp_path / "w.jsonl"
    path.write_text(content)
    with pytest.raises(UsageError, match=match):
        load_recordings([path])


def test_a_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such file"):
        load_recordings([tmp_path / "nope.py"])


def test_a_port_in_use_is_a_usage_error() -> None:
    first = bind("127.0.0.1", 0)
    try:
        with pytest.raises(UsageError, match="cannot listen"):
            bind("127.0.0.1", first.getsockname()[1]).close()
    finally:
        first.close()


def test_without_the_extras_imports_work_and_use_names_the_extra() -> None:
    import subprocess
    import sys

    script = (
        "import sys\n"
        "for m in ('starlette', 'uvicorn', 'openai'): sys.modules[m] = None\n"
        "import eager, eager.cli\n"
        "eager.cli.build_parser()\n"
        "for make in (lambda: eager.ReplayServer({}), lambda: eager.OpenAISDKSource([])):\n"
        "    try:\n"
        "        make()\n"
        "    except eager.MissingExtraError as exc:\n"
        "        print(exc.extra)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["serve", "openai"]
