"""An agent in notebook display sees what a notebook shows (needs ``run(display=...)``).

A recorded DABench conversation (gpt-4o-mini on a Jupyter sandbox) replayed through
``eager.Agent`` with its defaults on a real session: every code turn's observation holds the
recorded notebook output verbatim. A figure drawn over several statements comes back once,
as an image part of the observation.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from eager import ReplBackend
from eager.agent import Agent, ScriptedModel, UserMessage
from eager.server import load_recordings

DATA = Path(__file__).parent.parent / "data"
HEAD = "STDOUT:\n```python\n"


@pytest.fixture
async def repl(tmp_path: Path) -> AsyncIterator[ReplBackend]:
    shutil.copy(DATA / "test_ave.csv", tmp_path)
    async with ReplBackend(cwd=tmp_path, timeout_s=60) as backend:
        yield backend


async def test_a_recorded_dabench_conversation_shows_the_recorded_notebook_output(
    repl: ReplBackend,
) -> None:
    pytest.importorskip("pandas")
    recording = load_recordings([DATA / "dabench_gpt4o_mini_recordings.jsonl"])["dabench-0"]
    model = ScriptedModel([t.text for t in recording.turns])
    result = await Agent(model=model, backend=repl).run("task")
    assert result.answer is not None and "34.65" in result.answer
    seen = [m.text for m in result.messages if isinstance(m, UserMessage) and m.observation]
    recorded = [t.observation for t in recording.turns if t.observation]
    assert len(seen) == len(recorded) == 2
    for got, want in zip(seen, recorded, strict=True):
        assert want is not None and want.startswith(HEAD)
        assert got == want[len(HEAD) :].removesuffix("\n```")  # the DataFrame, np.float64(34.65)


async def test_a_figure_built_over_several_statements_comes_back_once_as_an_image(
    repl: ReplBackend,
) -> None:
    pytest.importorskip("matplotlib")
    turn = "```python\nimport matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.title('t')\n```\n"
    model = ScriptedModel([turn, "Final Answer: drawn"])
    result = await Agent(model=model, backend=repl).run("plot")
    seen = result.messages[2]
    assert isinstance(seen, UserMessage)
    assert seen.text.startswith("Text(0.5, 1.0, 't')\n<Figure size 640x480 with 1 Axes>\n")
    assert len(seen.images) == 1 and seen.images[0].decoded().startswith(b"\x89PNG")
    sent = [m for m in model.requests[1]["messages"] if m["role"] != "system"]
    parts = sent[2]["content"]
    assert [p["type"] for p in parts] == ["text", "image_url"]
