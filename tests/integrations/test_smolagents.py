"""A stock smolagents ``CodeAgent`` on the replay server: Eager's executor against its own."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from fractions import Fraction
from typing import Any

import pytest

pytest.importorskip("smolagents")

from smolagents import CodeAgent, OpenAIServerModel, tool

from eager import FakeBackend, ReplBackend, UsageError
from eager.integrations.smolagents import EagerExecutor, EagerModel, ExecutionFailed
from eager.server import Answer, Recording, ReplayServer

TAIL = "".join(f"w{i} = {i} * 2\n" for i in range(60))
TURNS = (
    "Thought: compute x, then the ratio.\n<code>\nx = 21\nprint('x is', x)\n"
    f"y = x / 0\n{TAIL}print('never')\n</code>",
    "Thought: division by zero; double x instead.\n<code>\nprint('doubling')\n"
    "final_answer(x * 2)\n</code>",
)
GOOD = (
    "Thought: sum the squares.\n<code>\nsquares = [i * i for i in range(5)]\n"
    "print(squares)\ntotal = sum(squares)\n</code>",
    "Thought: done.\n<code>\nfinal_answer(total)\n</code>",
)

TOOLS = (
    "Thought: use the tool.\n<code>\nproduct = multiply(6, 7)\nprint('product', product)\n</code>",
    "Thought: answer.\n<code>\nfinal_answer(product)\n</code>",
)


def _markdown(turn: str) -> str:
    return turn.replace("<code>\n", "```python\n").replace("</code>", "```\n")


@tool
def multiply(a: int, b: int) -> int:
    """Multiply two numbers.

    Args:
        a: the first factor
        b: the second factor
    """
    return a * b


@pytest.fixture
async def server() -> AsyncIterator[ReplayServer]:
    recordings = {
        name: Recording(name, tuple(Answer(name, t, "chat") for t in turns))
        for name, turns in (
            ("failing", TURNS),
            ("failing-md", tuple(_markdown(t) for t in TURNS)),
            ("good", GOOD),
            ("tools", TOOLS),
        )
    }
    async with ReplayServer(recordings, tps=400, ttft_s=0.0) as srv:
        yield srv


def _agent(server: ReplayServer, name: str, *, eager: bool) -> tuple[CodeAgent, Any]:
    model = OpenAIServerModel(model_id=name, api_base=server.base_url, api_key="test")
    tags = "markdown" if name.endswith("-md") else None
    options: dict[str, Any] = {"stream_outputs": True, "verbosity_level": 0}
    if not eager:
        return CodeAgent(tools=[multiply], model=model, code_block_tags=tags, **options), None
    executor = EagerExecutor()  # the agent's tags are read from its stop sequences
    agent = CodeAgent(
        tools=[multiply],
        model=EagerModel(model, executor),
        executor=executor,
        code_block_tags=tags,
        **options,
    )
    return agent, executor


@pytest.mark.parametrize(
    ("name", "expected"), [("failing", 42), ("failing-md", 42), ("good", 30), ("tools", 42)]
)
async def test_a_stock_code_agent_reaches_the_same_answer_with_the_eager_executor(
    server: ReplayServer, name: str, expected: int
) -> None:
    answers = {}
    for eager in (False, True):
        agent, _ = _agent(server, name, eager=eager)
        try:
            answers[eager] = await asyncio.to_thread(agent.run, "task", max_steps=4)
        finally:
            agent.cleanup()
    assert answers[False] == answers[True] == expected


@pytest.mark.parametrize("name", ["failing", "failing-md"])
async def test_a_failing_step_stops_the_model_early_and_memory_keeps_the_partial_code(
    server: ReplayServer, name: str
) -> None:
    agent, executor = _agent(server, name, eager=True)
    try:
        answer = await asyncio.to_thread(agent.run, "task", max_steps=4)
    finally:
        agent.cleanup()
    assert answer == 42
    records = await server.wait_records(2)
    first = records[0]
    assert first["disconnected"] and first["tokens_sent"] < first["tokens_total"] // 2
    step = agent.memory.steps[1]
    assert "y = x / 0" in step.model_output and "w59" not in step.model_output
    assert step.model_output.rstrip().endswith("</code>" if name == "failing" else "```")
    assert "ZeroDivisionError" in str(step.error) and "x is 21" in step.observations
    assert executor.runs[0].interrupted
    assert executor.runs[1].ok  # final_answer ends the session's program cleanly
    logs = agent.memory.steps[2].observations
    assert "doubling" in logs


# Notebook display (the default): a step's last expression is its output; figures are images.

VALUE = (
    "Thought: the squares, shown.\n<code>\nsquares = [i * i for i in range(5)]\n"
    "print('made')\nsum(squares)\n</code>",
    "Thought: done.\n<code>\nfinal_answer(squares[-1])\n</code>",
)
QUIET = (
    "Thought: quiet.\n<code>\nsquares = [i * i for i in range(5)]\nsum(squares);\n</code>",
    "Thought: done.\n<code>\nfinal_answer(squares[-1])\n</code>",
)
MID = (
    "Thought: a value mid-step shows nothing.\n<code>\nx = 3\nx\ny = x + 1\n</code>",
    "Thought: done.\n<code>\nfinal_answer(y)\n</code>",
)
PLOT = (
    "Thought: plot.\n<code>\nimport matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\n"
    "plt.title('t')\n</code>",
    "Thought: done.\n<code>\nfinal_answer('drawn')\n</code>",
)


@pytest.fixture
async def notebook_server() -> AsyncIterator[ReplayServer]:
    recordings = {
        name: Recording(name, tuple(Answer(name, t, "chat") for t in turns))
        for name, turns in (("value", VALUE), ("quiet", QUIET), ("mid", MID), ("plot", PLOT))
    }
    async with ReplayServer(recordings, tps=400, ttft_s=0.0) as srv:
        yield srv


def _notebook_agent(server: ReplayServer, name: str, **options: Any) -> tuple[CodeAgent, Any]:
    model = OpenAIServerModel(model_id=name, api_base=server.base_url, api_key="test")
    if options.pop("local", False):
        agent = CodeAgent(tools=[], model=model, stream_outputs=True, verbosity_level=0)
        return agent, None
    executor = EagerExecutor(**options)
    agent = CodeAgent(
        tools=[],
        model=EagerModel(model, executor),
        executor=executor,
        stream_outputs=True,
        verbosity_level=0,
        step_callbacks=[executor.step_callback],
    )
    return agent, executor


async def _run(agent: CodeAgent) -> Any:
    try:
        return await asyncio.to_thread(agent.run, "task", max_steps=3)
    finally:
        agent.cleanup()


@pytest.mark.parametrize("mode", ["eager", "serial"])
async def test_a_step_s_last_expression_reaches_memory_as_with_smolagents_own_executor(
    notebook_server: ReplayServer, mode: str
) -> None:
    local, _ = _notebook_agent(notebook_server, "value", local=True)
    agent, executor = _notebook_agent(notebook_server, "value", mode=mode)
    assert await _run(local) == await _run(agent) == 16
    ours, theirs = agent.memory.steps[1], local.memory.steps[1]
    assert ours.action_output == theirs.action_output == 30
    assert ours.observations == theirs.observations
    assert ours.observations == "Execution logs:\nmade\nLast output from code snippet:\n30"
    assert executor.images == [] and ours.observations_images is None


async def test_a_step_ending_in_a_semicolon_or_a_statement_shows_no_value(
    notebook_server: ReplayServer,
) -> None:
    for name, answer in (("quiet", 16), ("mid", 4)):
        agent, _ = _notebook_agent(notebook_server, name)
        assert await _run(agent) == answer
        assert agent.memory.steps[1].action_output is None


async def test_a_script_display_executor_shows_no_value(notebook_server: ReplayServer) -> None:
    agent, _ = _notebook_agent(notebook_server, "value", display="script")
    assert await _run(agent) == 16
    assert agent.memory.steps[1].action_output is None


async def test_a_figure_drawn_over_several_statements_is_one_image_in_memory(
    notebook_server: ReplayServer,
) -> None:
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    agent, _ = _notebook_agent(notebook_server, "plot")
    assert await _run(agent) == "drawn"
    step = agent.memory.steps[1]
    # the value of the last line, as its text: a sandboxed session cannot hand over the object
    assert step.action_output == "Text(0.5, 1.0, 't')"
    assert step.observations.startswith("Execution logs:\n<Figure size 640x480 with 1 Axes>\n")
    (image,) = step.observations_images
    assert image.format == "PNG" and image.size[0] > 100
    assert plt.get_fignums() == before  # shown figures are closed, as inline closes them
    assert agent.memory.steps[2].observations_images is None  # the final step showed none
    messages = step.to_messages()
    assert any(part.get("type") == "image" for m in messages for part in m.content)


def test_an_error_in_the_last_expression_reads_as_the_model_wrote_it() -> None:
    executor = EagerExecutor()
    try:
        with pytest.raises(ExecutionFailed) as failed:
            executor("x = 1\nx / 0\n")
    finally:
        executor.cleanup()
    text = str(failed.value)
    assert "ZeroDivisionError at line 2" in text and "    x / 0\n" in text
    assert "__eager_value__" not in text


# Tools through the bridge, on a sandboxed session; the in-process session by name.

LOOKUPS: list[str] = []

SHOP = (
    "Thought: look the prices up, then order.\n<code>\nprices = {k: price(k) for k in "
    "['apple', 'pear']}\nprint(prices)\ncheapest = min(prices, key=prices.get)\n"
    "receipt = order(cheapest, quantity=3)\nprint(receipt)\n</code>",
    "Thought: done.\n<code>\nfinal_answer({'item': cheapest, 'receipt': receipt})\n</code>",
)
BROKEN = (
    f"Thought: a missing item.\n<code>\nbanana = price('banana')\nprint('never')\n{TAIL}</code>",
    "Thought: use apple.\n<code>\nfinal_answer(price('apple'))\n</code>",
)
OBJECT = (
    "Thought: a fraction.\n<code>\nimport fractions\nf = fractions.Fraction(1, n)\nf\n</code>",
    "Thought: done.\n<code>\nfinal_answer(f)\n</code>",
)


@tool
def price(item: str) -> float:
    """The price of an item.

    Args:
        item: the item's name
    """
    LOOKUPS.append(item)
    prices = {"apple": 0.5, "pear": 0.75}
    if item not in prices:
        raise KeyError(f"no price for {item}")
    return prices[item]


@tool
def order(item: str, quantity: int | None = None) -> str:
    """Order an item.

    Args:
        item: the item's name
        quantity: how many (default one)
    """
    return f"ordered {quantity or 1} x {item}"


@pytest.fixture
async def tool_server() -> AsyncIterator[ReplayServer]:
    recordings = {
        name: Recording(name, tuple(Answer(name, t, "chat") for t in turns))
        for name, turns in (("shop", SHOP), ("broken", BROKEN), ("object", OBJECT))
    }
    async with ReplayServer(recordings, tps=400, ttft_s=0.0) as srv:
        yield srv


def _tool_agent(server: ReplayServer, name: str, executor: EagerExecutor | None) -> CodeAgent:
    model = OpenAIServerModel(model_id=name, api_base=server.base_url, api_key="test")
    options: dict[str, Any] = {"stream_outputs": True, "verbosity_level": 0}
    if executor is None:  # smolagents' own LocalPythonExecutor
        return CodeAgent(tools=[price, order], model=model, **options)
    return CodeAgent(
        tools=[price, order], model=EagerModel(model, executor), executor=executor, **options
    )


async def test_a_code_agent_with_tools_on_a_sandboxed_session_answers_as_smolagents_own(
    tool_server: ReplayServer,
) -> None:
    local = _tool_agent(tool_server, "shop", None)
    executor = EagerExecutor(read_only_tools={"price"})
    assert isinstance(executor.backend, ReplBackend) and executor.backend.sandbox is not None
    agent = _tool_agent(tool_server, "shop", executor)
    LOOKUPS.clear()
    ours = await _run(agent)
    assert LOOKUPS == ["apple", "pear"]  # the tool ran here, in the host
    theirs = await _run(local)
    assert ours == theirs == {"item": "apple", "receipt": "ordered 3 x apple"}
    assert agent.memory.steps[1].observations == local.memory.steps[1].observations
    first = executor.runs[0]
    assert first.metrics.tool_calls == 3 and first.error is None
    # `order` acts: its statement waited for the complete code; `price` only reads
    sealed = [d for d in first.decisions if d.decision == "seal"]
    assert sealed and sealed[0].reason.startswith("order")


async def test_a_failing_tool_fails_the_step_at_its_line_and_stops_the_model(
    tool_server: ReplayServer,
) -> None:
    executor = EagerExecutor(read_only_tools={"price"})  # an acting tool waits for all the code
    agent = _tool_agent(tool_server, "broken", executor)
    assert await _run(agent) == 0.5
    step = agent.memory.steps[1]
    assert "KeyError" in str(step.error) and "no price for banana" in str(step.error)
    assert "never" not in (step.observations or "")
    assert executor.runs[0].interrupted and executor.runs[0].error is not None
    assert executor.runs[0].error.lineno == 1


async def test_objects_stay_objects_only_in_the_in_process_session_asked_for_by_name(
    tool_server: ReplayServer,
) -> None:
    answers, outputs = {}, {}
    for backend in ("in-process", "sandbox"):
        executor = EagerExecutor(backend=backend)
        agent = _tool_agent(tool_server, "object", executor)
        try:
            answers[backend] = await asyncio.to_thread(
                agent.run, "task", max_steps=3, additional_args={"n": 3}
            )
        finally:
            agent.cleanup()
        outputs[backend] = agent.memory.steps[1].action_output
    assert answers["in-process"] == outputs["in-process"] == Fraction(1, 3)
    # in a sandbox, a value that is no JSON value or literal arrives as its text
    assert answers["sandbox"] == outputs["sandbox"] == "Fraction(1, 3)"


def test_a_sandboxed_session_takes_json_variables_and_cannot_install_packages() -> None:
    with pytest.raises(UsageError, match="no network"):
        EagerExecutor(additional_authorized_imports=["json", "surely_no_such_module_x"])
    executor = EagerExecutor(additional_authorized_imports=["json", "os.path", "*"])
    try:
        executor.send_variables({"n": [1, 2]})
        assert executor("n\n").output == [1, 2]
        with pytest.raises(UsageError, match="JSON values only"):
            executor.send_variables({"f": Fraction(1, 2)})
    finally:
        executor.cleanup()


def test_a_backend_is_named_or_passed() -> None:
    with pytest.raises(UsageError, match="backend must be"):
        EagerExecutor(backend="local")
    backend = FakeBackend()
    executor = EagerExecutor(backend=backend)
    try:
        assert executor("x = 2\nx * 21\n").output == 42
        assert executor.in_process and backend.namespace["x"] == 2
    finally:
        executor.cleanup()


def test_final_answer_takes_any_value_after_the_session_was_restarted() -> None:
    from smolagents.default_tools import FinalAnswerTool

    executor = EagerExecutor(backend=ReplBackend(timeout_s=1.0, restart_grace_s=0.2))
    try:
        executor.send_tools({"final_answer": FinalAnswerTool()})
        stuck = "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
        with pytest.raises(ExecutionFailed, match="state lost"):
            executor(stuck + "while True:\n    time.sleep(0.01)\n")
        out = executor("final_answer({1, 2})\nprint('never')\n")
    finally:
        executor.cleanup()
    assert out.is_final_answer and out.output == "{1, 2}" and out.logs == ""
