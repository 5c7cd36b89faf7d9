"""``eager run`` says in one line when the model stopped for a limit or refused (``--json``: the
fields)."""

from __future__ import annotations

import json

from sources._wire import Reply, WireServer, anthropic_events

from .test_protocol import eager


async def test_run_says_when_the_model_hit_its_token_limit() -> None:
    events = anthropic_events(text=["```python\nprint(1)\nfor i in"], stop_reason="max_tokens")
    async with WireServer({"/v1/messages": Reply(events)}) as srv:
        args = ("run", "--base-url", srv.url, "--protocol", "anthropic", "--model", "m")
        _, out, err = await eager(*args, "--mode", "eager", "--no-sandbox")
    assert "the model stopped at its token limit (max_tokens)" in out, (out, err)
    assert sum("token limit" in line for line in out.splitlines()) == 1


async def test_run_json_carries_the_stop_reason_and_the_refusal() -> None:
    events = anthropic_events(text=["I can"], stop_reason="refusal")
    async with WireServer({"/v1/messages": Reply(events)}) as srv:
        args = ("run", "--base-url", srv.url, "--protocol", "anthropic", "--model", "m")
        _, out, err = await eager(*args, "--mode", "eager", "--json", "--no-sandbox")
    record = json.loads(out)
    assert (record["stop_reason"], record["refusal"]) == ("refusal", ""), err
