"""Notebook display, judged against a real ipykernel running the same cells serially.

Every case is a list of cells (sent as one chat answer with a fenced block per cell). Each
backend runs it serially and eagerly in notebook display, the stream cut into small pieces;
both must show what the reference kernel shows: printed text, displayed values in order,
the error, and images (the same PNG bytes: the REPL renders figures as the inline backend
does).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from eager import Backend, FakeBackend, JupyterBackend, ReplBackend, ScriptedSource, run

from ._reference import Shown, run_cells, shown

PLT = "import matplotlib.pyplot as plt\n"
PD = "import pandas as pd\nimport numpy as np\n"

#: name -> cells. NOTEBOOK.md §6 numbers in brackets.
CASES: dict[str, list[str]] = {
    "last expression only [1]": ["print('a')\n1\nprint('b')\n2\n"],
    "semicolon per cell [2]": ["x = 5\nx;\n", "x;  # c\n", "a = 1\na;\nb = 2\nb\n"],
    "underscore and Out per cell [3]": ["10\n", "20\n_\n", "Out\n"],
    "counts skip silent cells [4]": ["7\n", "x = 3\n", "8\n", "_1, _3\n"],
    "nothing from blocks or mid-cell [5]": [
        "if True:\n    42\n",
        "for i in range(3):\n    i\n",
        "df = 1\ndf\nx = 1\n",
    ],
    "display keeps its place [6]": [
        "from IPython.display import display\nprint('before')\ndisplay(1)\nprint('after')\n2\n"
    ],
    "a figure over two statements [7]": [PLT + "plt.plot([1,2,3])\nplt.title('t')\n"],
    "savefig sees the whole figure [8]": [
        PLT
        + "import os\nplt.plot([1,2,3])\nplt.savefig('x.png')\nos.path.getsize('x.png') > 10000\n"
    ],
    "fig shown twice [9]": [PLT + "fig, ax = plt.subplots()\nax.plot([1,2])\nfig\n"],
    "show mid-cell [10]": [
        PLT
        + "plt.plot([1,2])\nplt.show()\nprint('between')\nplt.plot([3,4])\nplt.title('second')\n"
    ],
    "error then figure [11]": [PLT + "plt.plot([1])\n1/0\n5\n"],
    "an error drops the held value [14]": ["1\nraise ValueError('x')\n2\n", "_\n"],
    "display builtin [19]": ["display('hi')\n3\n"],
    "long list text [20]": ["list(range(1500))\n"],
    "wide DataFrame [21]": [
        PD
        + "pd.DataFrame(np.arange(60).reshape(3, 20), columns=[f'column_{i}' for i in range(20)])\n"
    ],
    "a function defined then called": ["def f(x):\n    return x * 2\n\nf(21)\n"],
    "a value then a def": ["3\ndef g():\n    pass\n"],
    "a docstring-like string last": ["x = 1\n'text'\n"],
    "stderr and stdout": ["import sys\nprint('o')\nprint('e', file=sys.stderr)\n7\n"],
    "no automagic in a longer cell [15]": ["pwd\nx=1\n"],
    "%%capture [16]": ["%%capture cap\nprint('hidden')\n1\n", "cap.stdout\n"],
    "!cmd inside a block [17]": ["if True:\n    !echo inner\n1\n"],
    "shell output captured, %matplotlib inline": [
        "x = !echo captured\nx\n",
        "%matplotlib inline\n" + PLT + "plt.plot([1, 2])\n;\n",
    ],
}


def answer(cells: list[str]) -> str:
    """The chat answer holding ``cells`` as fenced blocks, prose around them."""
    parts = ["Let me work on it.\n"]
    for i, cell in enumerate(cells):
        parts.append(f"```python\n{cell}```\n")
        parts.append(f"Step {i + 1} done.\n")
    return "".join(parts)


def pieces(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


@pytest.fixture(scope="module")
def references(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Shown]]:
    """The reference kernel's view of every case (one fresh kernel per case)."""
    out = {}
    for name, cells in CASES.items():
        cwd = tmp_path_factory.mktemp("ref")
        out[name] = run_cells(cells, cwd)
    return out


@pytest.fixture(params=["repl", "jupyter", "fake"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def make(kind: str, cwd: Path) -> Backend:
    if kind == "repl":
        return ReplBackend(cwd=str(cwd))
    if kind == "jupyter":
        return JupyterBackend(cwd=str(cwd))
    return FakeBackend()


async def shown_by(kind: str, cells: list[str], mode: str, cwd: Path, size: int) -> list[Shown]:
    backend = make(kind, cwd)
    async with backend:
        source = ScriptedSource(pieces(answer(cells), size), delay_s=0.001)
        result = await run(source, backend, mode=mode, display="notebook", extract="chat")  # type: ignore[arg-type]
        return shown(result)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", list(CASES))
async def test_a_notebook_run_shows_what_ipykernel_shows(
    name: str, kind: str, references: dict[str, list[Shown]], tmp_path: Path
) -> None:
    cells = CASES[name]
    if kind == "fake" and ("savefig" in name or "wide" in name):
        pytest.skip("the fake backend runs in this process, whose working folder is not tmp")
    if kind == "fake" and any("matplotlib" in c for c in cells):
        pytest.skip(
            "the fake backend's figures follow this process's matplotlib, which other tests set"
        )
    expected = references[name]
    for mode, size in (("serial", 7), ("eager", 3)):
        cwd = tmp_path / mode
        cwd.mkdir()
        got = await shown_by(kind, cells, mode, cwd, size)
        assert [(s.kind, s.text) for s in got] == [(s.kind, s.text) for s in expected], mode
        assert [len(s.images) for s in got] == [len(s.images) for s in expected], mode
        if kind != "fake":  # the fake shares this process's matplotlib settings
            assert [s.images for s in got] == [s.images for s in expected], mode
