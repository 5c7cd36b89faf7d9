"""The agent loop: turns over one session, early interruption with partial repair, answers."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from eager import (
    FakeBackend,
    ReplBackend,
    ScriptedSource,
    Source,
    ToolCall,
    Turn,
    UsageError,
    tokenize,
)
from eager.agent import (
    Agent,
    AgentConfig,
    AgentEvent,
    AssistantMessage,
    CodeFinished,
    CodeStarted,
    ModelDelta,
    ScriptedModel,
    ToolResult,
    TurnEnded,
    TurnStarted,
    UserMessage,
)

TAIL = "".join(f"w{i} = {i} * 2\n" for i in range(40))  # code the model would still write
FAILING = f"Load and compute.\n```python\nx = 21\nprint('x is', x)\ny = x / 0\n{TAIL}print('never')\n```\nDone.\n"
FIX = "Dividing by zero; fix it.\n```python\ny = x * 2\nprint(y)\n```\n"
ANSWER = "I now know the final answer.\nFinal Answer: 42"


def _history(model: ScriptedModel, k: int) -> list[dict[str, Any]]:
    """The conversation of request ``k`` without the (default) system prompt."""
    return [m for m in model.requests[k]["messages"] if m["role"] != "system"]


@pytest.fixture
async def repl() -> AsyncIterator[ReplBackend]:
    async with ReplBackend(timeout_s=30) as backend:
        yield backend


async def test_a_failing_turn_is_cut_early_and_repaired_from_the_partial_code() -> None:
    model = ScriptedModel([FAILING, FIX, ANSWER])
    result = await Agent(model=model, backend=FakeBackend()).run("What is 2x?")
    assert (result.answer, result.stop) == ("42", "answer")
    first = result.turns[0]
    assert first.interrupted and first.error == "ZeroDivisionError: division by zero"
    metrics = first.runs[0].metrics
    assert metrics.tokens_generated < metrics.tokens_total  # type: ignore[operator]
    # The second request holds the code up to the error (fence closed), then the error.
    sent = _history(model, 1)
    assert (
        sent[1]["content"]
        == "Load and compute.\n```python\nx = 21\nprint('x is', x)\ny = x / 0\n```"
    )
    assert "never" not in sent[1]["content"]
    # Notebook display: the printed text, then the traceback, as a notebook shows them.
    assert sent[2]["content"].startswith("x is 21\n")
    assert "line 3" in sent[2]["content"]
    assert sent[2]["content"].endswith("ZeroDivisionError: division by zero")
    assert result.turns[1].runs[0].stdout == "42\n"  # x survived the failed turn


async def test_a_script_display_agent_keeps_the_labelled_observation() -> None:
    model = ScriptedModel([FAILING, FIX, ANSWER])
    agent = Agent(model=model, backend=FakeBackend(), display="script")
    result = await agent.run("What is 2x?")
    assert result.answer == "42" and result.turns[0].runs[0].display == "script"
    sent = _history(model, 1)
    assert "ZeroDivisionError at line 3" in sent[2]["content"]
    assert "stdout:\nx is 21\n" in sent[2]["content"]


async def test_full_repair_lets_the_turn_finish_runs_nothing_more_and_keeps_the_whole_program() -> (
    None
):
    model = ScriptedModel([FAILING, FIX, ANSWER])
    config = AgentConfig(repair="full")
    result = await Agent(model=model, backend=FakeBackend(), config=config).run("What is 2x?")
    first = result.turns[0]
    assert not first.interrupted
    run = first.runs[0]
    assert run.metrics.tokens_generated == run.metrics.tokens_total
    assert "never" not in run.stdout
    assert _history(model, 1)[1]["content"] == FAILING
    assert result.answer == "42"


def _call(call_id: str, code: str) -> ToolCall:
    return ToolCall(call_id, "python", json.dumps({"code": code}))


async def test_several_code_calls_in_one_turn_run_in_order_each_with_its_own_result() -> None:
    turns = [
        Turn(
            tool_calls=(
                _call("a", "x = 2\n"),
                _call("b", "print(x * 3)\n"),
                _call("c", "print(x + 1)\n"),
            )
        ),
        Turn(text="It is 6."),
    ]
    model = ScriptedModel(turns, code="tool")
    result = await Agent(model=model, backend=FakeBackend()).run("t")
    assert result.answer == "It is 6." and result.stop == "answer"
    results = [m for m in result.messages if isinstance(m, ToolResult)]
    assert [(r.call_id, r.text) for r in results] == [
        ("a", "(no output)"),
        ("b", "6\n"),
        ("c", "3\n"),
    ]
    assert [r.stdout for r in result.turns[0].runs] == ["", "6\n", "3\n"]
    sent = _history(model, 1)
    assert [c["id"] for c in sent[1]["tool_calls"]] == ["a", "b", "c"]


async def test_calls_after_a_failing_call_are_answered_not_run() -> None:
    turns = [
        Turn(
            tool_calls=(
                _call("a", "x = 1\n"),
                _call("b", "y = x / 0\n"),
                _call("c", "print('no')\n"),
            )
        ),
        Turn(text="Final Answer: none"),
    ]
    result = await Agent(model=ScriptedModel(turns, code="tool"), backend=FakeBackend()).run("t")
    texts = [m.text for m in result.messages if isinstance(m, ToolResult)]
    assert "ZeroDivisionError" in texts[1] and texts[2].startswith("Not run")
    assert len(result.turns[0].runs) == 2


async def test_a_cut_code_call_goes_back_as_valid_json_with_the_code_up_to_the_error() -> None:
    code = f"a = 5\nb = a / 0\n{TAIL}"
    turns = [Turn(tool_calls=(_call("a", code), _call("b", "print(a)\n"))), Turn(text="ok")]
    model = ScriptedModel(turns, code="tool")
    result = await Agent(model=model, backend=FakeBackend()).run("t")
    assert result.turns[0].interrupted
    (call,) = _history(model, 1)[1]["tool_calls"]  # the unwritten call is dropped
    assert json.loads(call["function"]["arguments"]) == {"code": "a = 5\nb = a / 0\n"}
    assert _history(model, 1)[2]["tool_call_id"] == "a"


async def test_final_answer_in_code_ends_the_loop_and_stops_generation() -> None:
    text = f"```python\nresult = 6 * 7\nfinal_answer(result)\n{TAIL}```\n"
    model = ScriptedModel([text, "never asked"])
    result = await Agent(model=model, backend=FakeBackend()).run("t")
    assert (result.answer, result.stop) == ("42", "final_answer")
    assert len(model.requests) == 1
    m = result.turns[0].runs[0].metrics
    assert m.tokens_generated < m.tokens_total  # type: ignore[operator]


async def test_a_tool_model_answering_without_a_call_ends_the_loop() -> None:
    model = ScriptedModel([Turn(text="Nothing to run: 3.")], code="tool")
    result = await Agent(model=model, backend=FakeBackend()).run("t")
    assert (result.answer, result.stop, result.turns[0].runs) == (
        "Nothing to run: 3.",
        "answer",
        (),
    )


async def test_the_turn_limit_ends_the_loop() -> None:
    turn = "```python\nprint(1)\n```\n"
    config = AgentConfig(max_turns=2)
    result = await Agent(model=ScriptedModel([turn] * 5), backend=FakeBackend(), config=config).run(
        "t"
    )
    assert (result.stop, result.answer, len(result.turns)) == ("max_turns", None, 2)
    with pytest.raises(UsageError):
        AgentConfig(max_turns=0)


async def test_a_model_failure_ends_the_loop_with_the_conversation_kept() -> None:
    model = ScriptedModel(["```python\nx = 1\n```\n"])  # asked for a second turn it lacks
    result = await Agent(model=model, backend=FakeBackend()).run("t")
    assert result.stop == "error" and "2 asked" in (result.error or "")
    assert len(result.turns) == 1 and isinstance(result.messages[-1], UserMessage)


async def test_live_events_come_in_order() -> None:
    events: list[AgentEvent] = []
    model = ScriptedModel(["```python\nprint(1)\nprint(2)\n```\n", ANSWER])
    await Agent(model=model, backend=FakeBackend(), on_event=events.append).run("t")
    kinds = [type(e) for e in events]
    assert kinds[0] is TurnStarted and kinds[-1] is TurnEnded
    assert ModelDelta in kinds and CodeStarted in kinds
    assert kinds.index(CodeStarted) < kinds.index(CodeFinished) < kinds.index(TurnEnded)
    ts = [e.t for e in events]
    assert ts == sorted(ts)


@pytest.mark.parametrize("protocol", ["chat", "responses", "anthropic"])
async def test_every_protocol_gets_the_repaired_history(protocol: str) -> None:
    code = f"a = 5\nb = a / 0\n{TAIL}"
    turns = [Turn(text="Running.", tool_calls=(_call("t1", code),)), Turn(text="Final Answer: 5")]
    model = ScriptedModel(turns, code="tool", protocol=protocol)  # type: ignore[arg-type]
    result = await Agent(model=model, backend=FakeBackend(), system="sys").run("t")
    assert result.answer == "5"
    body = json.dumps(model.requests[1])
    assert "ZeroDivisionError" in body and "w39" not in body and "t1" in body


async def test_serial_and_eager_agents_see_the_same_observations(repl: ReplBackend) -> None:
    turns = [
        "```python\nimport math\nprint(math.sqrt(16))\n```\n",
        "```python\nprint(undefined)\n```\n",
        ANSWER,
    ]
    observations = {}
    for mode in ("serial", "eager"):
        await repl.reset()
        result = await Agent(
            model=ScriptedModel(turns), backend=repl, config=AgentConfig(mode=mode)
        ).run("t")  # type: ignore[arg-type]
        observations[mode] = [m.text for m in result.messages if isinstance(m, UserMessage)]
        assert result.answer == "42"
    assert observations["serial"] == observations["eager"]


async def test_a_timeout_gives_an_observation_and_the_session_keeps_its_state(
    repl: ReplBackend,
) -> None:
    turns = [
        "```python\nkept = 7\nwhile True:\n    pass\n```\n",
        "```python\nprint(kept)\n```\n",
        ANSWER,
    ]
    config = AgentConfig(timeout_s=0.5)
    result = await Agent(model=ScriptedModel(turns), backend=repl, config=config).run("t")
    first = result.messages[2]
    assert isinstance(first, UserMessage) and "time limit" in first.text
    assert result.turns[1].runs[0].stdout == "7\n" and result.answer == "42"


async def test_a_crash_is_observed_and_the_loop_goes_on_in_a_fresh_session(
    repl: ReplBackend,
) -> None:
    turns = [
        "```python\nimport os\nlost = 1\nos._exit(3)\n```\n",
        "```python\nprint('lost' in globals())\nfinal_answer('recovered')\n```\n",
    ]
    result = await Agent(model=ScriptedModel(turns), backend=repl).run("t")
    crash = result.messages[2]
    assert isinstance(crash, UserMessage) and "crashed" in crash.text
    assert result.turns[1].runs[0].stdout == "False\n"
    assert (result.answer, result.stop) == ("recovered", "final_answer")


async def test_a_mid_stream_syntax_error_interrupts_and_is_repaired() -> None:
    bad = f"```python\nx = 1\nif x\n    print(x)\n{TAIL}```\n"
    model = ScriptedModel([bad, "```python\nif x:\n    print(x)\n```\n", ANSWER])
    result = await Agent(model=model, backend=FakeBackend()).run("t")
    assert result.turns[0].interrupted and "SyntaxError" in (result.turns[0].error or "")
    assert _history(model, 1)[1]["content"].endswith("if x\n```")
    assert result.turns[1].runs[0].stdout == "1\n"


async def test_the_conversation_can_be_continued() -> None:
    agent = Agent(
        model=ScriptedModel(["Final Answer: 1", "Final Answer: 2"]), backend=FakeBackend()
    )
    assert (await agent.run("first")).answer == "1"
    second = await agent.run("second")
    assert second.answer == "2"
    assert [type(m) for m in second.messages] == [
        UserMessage,
        AssistantMessage,
        UserMessage,
        AssistantMessage,
    ]


async def test_on_a_jupyter_kernel_errors_and_rich_outputs_go_back_to_the_model() -> None:
    pytest.importorskip("jupyter_client")
    from eager import JupyterBackend

    turns = [
        f"```python\nvalues = [3, 4]\ncount = len(values) / 0\n{TAIL}```\n",
        "```python\nfrom IPython.display import display\ndisplay(sum(values))\n```\n",
        "```python\nfinal_answer(sum(values))\n```\n",
    ]
    async with JupyterBackend() as kernel:
        result = await Agent(model=ScriptedModel(turns), backend=kernel).run("t")
    assert (result.answer, result.stop) == ("7", "final_answer")
    first = result.messages[2]
    assert isinstance(first, UserMessage) and "ZeroDivisionError" in first.text
    assert "line 2" in first.text
    assert "w39" not in result.turns[0].runs[0].stdout
    second = result.messages[4]
    assert isinstance(second, UserMessage) and second.text == "7"  # display()'s text/plain


async def test_a_seal_holds_effects_back_and_the_model_hears_what_never_ran() -> None:
    sealed = "```python\nx = 1\nopen('never.txt', 'w').write('x')\nprint('after')\ndef f(:\n```\n"
    model = ScriptedModel([sealed, ANSWER])
    result = await Agent(model=model, backend=FakeBackend()).run("t")
    observation = result.messages[2]
    assert isinstance(observation, UserMessage)
    assert "SyntaxError" in observation.text and "Not run: lines 2-" in observation.text
    assert "stdout:" not in observation.text and result.answer == "42"


class _BreakingModel(ScriptedModel):
    """Turn 1's stream breaks after ``n`` deltas (a dropped connection); later turns are fine."""

    def __init__(self, turns: list[str], n: int) -> None:
        super().__init__(turns)
        self.n = n

    def open(self, messages: Any, *, system: str | None = None) -> Source:
        source = super().open(messages, system=system)
        if len(self.requests) > 1:
            return source
        return ScriptedSource(tokenize(self.turns[0].text), fail_after=self.n)


async def test_a_stream_that_breaks_mid_turn_goes_back_repaired_and_the_loop_goes_on() -> None:
    model = _BreakingModel([FAILING.replace("y = x / 0\n", ""), FIX, ANSWER], n=25)
    result = await Agent(model=model, backend=FakeBackend()).run("t")
    assert result.answer == "42"
    sent = _history(model, 1)
    assert sent[1]["content"].endswith("```") and sent[1]["content"].count("```") == 2
    assert "stream broke" in sent[2]["content"]
