"""A turn whose stream broke or hit the token limit ends the agent with an error, never with the
cut text as its answer (real HTTP sources over a loopback server, and scripted ones)."""

from __future__ import annotations

from typing import Any

from sources._wire import Reply, WireServer, anthropic_events, chat_events

from eager import FakeBackend, ScriptedSource, Source, Turn, tokenize
from eager.agent import Agent, EndpointModel, ScriptedModel


class _CutModel(ScriptedModel):
    """Turn 1 streams ``n`` tokens of its text, then the stream breaks."""

    def __init__(self, turns: list[str], *, n: int, **kw: Any) -> None:
        super().__init__(turns, **kw)
        self.n = n

    def open(self, messages: Any, *, system: str | None = None) -> Source:
        source = super().open(messages, system=system)
        if len(self.requests) > 1:
            return source
        return ScriptedSource(tokenize(self.turns[0].text), fail_after=self.n)


async def test_a_stream_broken_before_any_code_is_an_error_not_the_answer() -> None:
    text = "Let me look.\n```python\nprint(1)\n```\n"
    cut = len(tokenize("Let me look.\n```python"))
    model = _CutModel([text, "never asked"], n=cut)
    result = await Agent(model=model, backend=FakeBackend()).run("t")
    assert (result.stop, result.answer) == ("error", None)
    assert "broke" in (result.error or "") and "cut" in (result.error or "")
    assert result.turns[-1].answer is None and len(model.requests) == 1


async def test_a_token_limit_without_code_is_an_error_not_the_answer() -> None:
    model = ScriptedModel([Turn(text="The answer is", stop_reason="length"), "never"])
    result = await Agent(model=model, backend=FakeBackend()).run("t")
    assert (result.stop, result.answer) == ("error", None)
    assert "token limit (length)" in (result.error or "")


async def test_final_answer_before_the_limit_is_kept() -> None:
    text = "```python\nfinal_answer(42)\nprint('more')\nfor i in"
    model = ScriptedModel([Turn(text=text, stop_reason="length")])
    result = await Agent(model=model, backend=FakeBackend()).run("t")
    assert (result.stop, result.answer) == ("final_answer", "42")


async def test_a_chat_endpoint_cut_before_its_code_ends_the_agent_with_an_error() -> None:
    events = chat_events(text=["Let me look.\n", "```python\n"])[:2]  # then the stream drops
    async with WireServer({"/v1/chat/completions": Reply(events, cut=True)}) as srv:
        model = EndpointModel(base_url=srv.url + "/v1", model="m", source_options={"retries": 0})
        result = await Agent(model=model, backend=FakeBackend()).run("t")
    assert (result.stop, result.answer) == ("error", None)
    assert "StreamError" in (result.error or "")


async def test_an_anthropic_max_tokens_stop_in_tool_mode_is_an_error() -> None:
    events = anthropic_events(text=["I will write"], stop_reason="max_tokens")
    async with WireServer({"/v1/messages": Reply(events)}) as srv:
        model = EndpointModel(base_url=srv.url, model="m", protocol="anthropic", code="tool")
        result = await Agent(model=model, backend=FakeBackend()).run("t")
    assert (result.stop, result.answer) == ("error", None)
    assert "max_tokens" in (result.error or "")
