"""An agent whose code calls host tools: the model is told them, its code calls them."""

from __future__ import annotations

from eager import Agent, ReplBackend, ScriptedModel, tool


@tool(read_only=True)
def lookup(city: str) -> dict[str, float]:
    """Today's weather in ``city``."""
    return {"celsius": 21.5 if city == "Oslo" else 30.0}


@tool
def notify(to: str, text: str) -> str:
    """Send ``text`` to ``to``."""
    return f"sent to {to}"


async def test_the_model_is_told_its_tools_and_its_code_calls_them() -> None:
    turns = [
        "Let me look.\n```python\nw = lookup('Oslo')\nprint(notify('me', str(w)))\nw['celsius']\n```\n",
        "Final Answer: 21.5",
    ]
    model = ScriptedModel(turns)
    async with ReplBackend() as backend:
        agent = Agent(model=model, backend=backend, tools=[lookup, notify])
        result = await agent.run("How warm is Oslo?")
    assert result.answer == "21.5"
    system = model.requests[0]["messages"][0]
    assert system["role"] == "system"
    assert "def lookup(city: str) -> dict[str, float]:" in system["content"]
    assert "Today's weather in ``city``." in system["content"]
    assert "`notify`) run only once your code block is complete" in system["content"]
    run = result.turns[0].runs[0]
    assert run.error is None and run.metrics.tool_calls == 2
    observation = [m for m in model.requests[1]["messages"] if m["role"] != "system"][2]
    assert "sent to me" in observation["content"] and "21.5" in observation["content"]
