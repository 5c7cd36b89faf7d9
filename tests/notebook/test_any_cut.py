"""Eager notebook display shows exactly what serial shows, however the stream is cut.

Random cuts of real cells into deltas, and random execution delays (so that batches form
differently), on the in-process fake backend: the whole output log, values and counts
included, equals the serial run's.
"""

from __future__ import annotations

import asyncio
import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eager import FakeBackend, RunResult, ScriptedSource, run

PROGRAMS = [
    # several cells (fences), values, `;`, `_`, Out, display(), blocks, defs
    "Look.\n```python\nx = 1\nx\n```\nThen:\n```python\nprint(x)\ny = x + 1;\ny\n```\n"
    "```python\n_\n```\n```python\nOut\n```\n",
    "```python\ndef f(a):\n    return a * 2\n\nprint('f')\nf(3)\nif True:\n    5\n```\n"
    "```python\nfor i in range(2):\n    print(i)\ni\n```\n",
    "```python\ndisplay('a')\nprint('b')\ndisplay(1, 2)\n10 # the value\n# a comment\n```\n",
    "```python\nclass A:\n    def __repr__(self):\n        return 'A'\n\n    def _repr_html_(self):\n"
    "        return '<b>A</b>'\n\nA()\n```\n"
    "```python\nA();\n```\n```python\n[A(), 1]\n```\n",
    "```python\nv = 3\nv\nv * 2\n'last'\n```\n",
]


def _view(result: RunResult) -> list[tuple[str, str]]:
    return [(type(i).__name__, repr(i)) for i in result.log]


async def _run(program: str, mode: str, cuts: list[int], delay: float) -> RunResult:
    bounds = [0, *sorted(set(cuts)), len(program)]
    deltas = [program[a:b] for a, b in itertools.pairwise(bounds) if b > a]
    async with FakeBackend(delay_s=delay) as backend:
        source = ScriptedSource(deltas, delay_s=0.0005)
        return await run(source, backend, mode=mode, display="notebook", extract="chat")  # type: ignore[arg-type]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    index=st.integers(0, len(PROGRAMS) - 1),
    data=st.data(),
    delay=st.sampled_from([0.0, 0.0005, 0.003]),
)
def test_any_cut_of_the_stream_shows_what_serial_shows(
    index: int, data: st.DataObject, delay: float
) -> None:
    program = PROGRAMS[index]
    cuts = data.draw(st.lists(st.integers(1, len(program) - 1), max_size=40))
    serial = asyncio.run(_run(program, "serial", [], 0.0))
    eager = asyncio.run(_run(program, "eager", cuts, delay))
    assert serial.error is None and eager.error is None
    assert _view(eager) == _view(serial)
    assert eager.stdout == serial.stdout
