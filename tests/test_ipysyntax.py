"""IPython syntax in notebook cells, streamed: CellSyntax against IPython's own transform."""

from __future__ import annotations

import itertools
import json
import random
import re
import sys
import sysconfig
import tokenize
import warnings
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from eager import Chunker, MissingExtraError, ProgramSyntaxError, UsageError
from eager._ipysyntax import CellSyntax, _Scanner, transform_cell

pytest.importorskip("IPython")
from IPython.core.inputtransformer2 import (
    TransformerManager,
    make_tokens_by_line,
)

ROOT = Path(__file__).parent


def reference(cell: str) -> str:
    return str(TransformerManager().transform_cell(cell))


def stream(cell: str, cuts: list[int]) -> tuple[list[str], str, CellSyntax]:
    """Feed ``cell`` cut at ``cuts``: (the text returned per delta, end()'s text, the object)."""
    bounds = [0, *sorted({c for c in cuts if 0 < c < len(cell)}), len(cell)]
    cs = CellSyntax()
    parts = [cs.feed(cell[a:b]) for a, b in itertools.pairwise(bounds)]
    return parts, cs.end(), cs


def streamed(cell: str, cuts: list[int]) -> str:
    parts, rest, cs = stream(cell, cuts)
    assert cs.exact
    return "".join(parts) + rest


def random_cuts(cell: str, rng: random.Random) -> list[int]:
    return [rng.randint(0, len(cell)) for _ in range(len(cell) // 3 + 1)]


def compiles(code: str) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(code, "<cell>", "exec", flags=0x2000)  # PyCF_ALLOW_TOP_LEVEL_AWAIT
    except (SyntaxError, ValueError):
        return False
    return True


def chunks_parse(code: str) -> None:
    chunker = Chunker()
    for i in range(0, len(code), 7):
        chunker.feed(code[i : i + 7])
    chunker.close()  # raises ProgramSyntaxError on a genuine error


# ------------------------------------------------------------------------- real cells

#: NOTEBOOK.md §6 (cells separated by `|` there, one cell each here).
NOTEBOOK_CELLS = [
    "print('a')\n1\nprint('b')\n2",
    "x = 5\nx;",
    "x;  # c",
    "a = 1\na;\nb = 2\nb",
    "if True:\n    42",
    "for i in range(3):\n    i",
    "df = 1\ndf\nx = 1",
    "from IPython.display import display\nprint('before')\ndisplay(1)\nprint('after')\n2",
    "import matplotlib.pyplot as plt\nplt.plot([1,2,3])\nplt.title('t')",
    "import matplotlib.pyplot as plt, os\nplt.plot([1,2,3])\nplt.savefig('/tmp/x.png')\n"
    "os.path.getsize('/tmp/x.png') > 10000",
    "fig, ax = plt.subplots()\nax.plot([1,2])\nfig",
    "plt.plot([1,2])\nplt.show()\nprint('between')\nplt.plot([3,4])\nplt.title('second')",
    "plt.plot([1])\n1/0\n5",
    "import warnings\ndef f():\n    warnings.warn('w')\nf()\nf()",
    "ip = get_ipython()\nn = []\nip.events.register('post_run_cell', lambda r: n.append(1))",
    "1\nraise ValueError('x')\n2",
    "pwd\nx=1",  # 15
    "%%capture cap\nprint('hidden')\n1",  # 16
    "if True:\n    !echo inner\n1",  # 17
    "len?",  # 18
    "display('hi')\n3",
    "list(range(1500))",
    'pd.DataFrame(np.arange(60).reshape(3, 20), columns=[f"column_{i}" for i in range(20)])',
    "%config InteractiveShell.ast_node_interactivity='last_expr_or_assign'",
]

IPYTHON_CELLS = [
    "!pip install -q seaborn\nimport seaborn as sns\nsns.set_theme()\n",
    "%matplotlib inline\nimport matplotlib.pyplot as plt\nplt.plot([1, 2])\n",
    "files = !ls *.csv\nprint(files)\n",
    "x = %time sum(range(10))\nprint(x)\n",
    "%timeit -n 3 sum(range(100))\n",
    "%%time\nimport time\ntime.sleep(0.1)\nprint('slept')\n",
    "%%capture --no-stderr out\n!pip install x\nprint(1)\n",
    "%%bash\necho hi\nls -la | grep '('\n",
    "%%writefile out.txt\nhello ?\n!world\n",
    "print('Hello, World!')\nprint('50% done')\nmsg = 'what?'\nprint(\"%.2f\" % 3.14159)\n",
    "if a != b:\n    print('x != y!')\nprint('a=%d' % 5)\n",
    "df = pd.DataFrame({\n    'a': [1, 2],\n    'b': ['x!', 'y%'],\n})\n!echo done\n",
    "total = 1 + \\\n    2\n!echo \\\n  -n hi\nprint(total)\n",
    "s = '''\n!not a command\n%not a magic\nwhat?\n  \n'''\nprint(s)\n",
    "for i in range(3):\n    %time y = i\n    !echo {i}\n",
    "import os\nos.environ['A'] = '1'\n%env B=2\n!echo $A $B\n",
    "def f():\n    '''Doc.\n\n    >>> f()\n    1\n    '''\n    return 1\nf()\n",
    "x = 5\nx?\nx??\n?x\nx.real?\n",
    "%load_ext autoreload\n%autoreload 2\nimport mymod\n",
    "a = !!echo 1\nb = !echo 2\nc =!echo 3\n",
    "/print 1 2\n,print a b\n;print a b\n",
    "x=1\n%%time\ny = 2\n",
    "\n\n   \nx = 1\n   \ny = 2",
    "x = 1\r\n!ls\r\ny = 2\r\n",
    "x = [1,\n2] + foo?\nz = 3\n",
    "!echo # comment \\\nstill the command\nx = 1\n",
    "!echo it's\nx = 1\n",
    "!echo (\nx = (1,\n2)\n",
    "!echo '''\nx = 1\n'''\n",
    '!echo """\n!echo """\nx = 1\ny = 2\nz = 3?\n',
    "x = 1;\nprint(x);  # trailing\n",
    "    x = 1\n    !echo indented cell\n    y = 2\n",
    ">>> x = 1\n>>> x + 1\n",
    "In [1]: x = 1\n   ...: y = 2\n",
    "x = 1\n   ...: y = 2\n",
    "x = 1\nprint('''\n>>> not a prompt here\n''')\n",
    "%%capture?\n",
    "%%capture\n%%time\nx = 1\n",
    "if True:\n    x = 1\n\n    \n    !echo after blank\n",
    "# only a comment ending in a backslash \\\n!echo next\n",
    "",
    "\n\n",
    "x",
    "!ls",
    "%%time",
]


def _fences(path: Path) -> list[str]:
    cells = []
    for line in path.read_text().splitlines():
        for turn in json.loads(line)["turns"]:
            cells += re.findall(r"```python\n(.*?)```", turn["text"], re.S)
    return cells


def _programs() -> list[str]:
    paths = sorted((ROOT / "corpus").glob("*.py")) + sorted(
        (ROOT.parent / "src/eager/demo/programs").glob("*.py")
    )
    return [p.read_text() for p in paths]


REAL_CELLS = [
    *NOTEBOOK_CELLS,
    *IPYTHON_CELLS,
    *_fences(ROOT / "data/dabench_gpt4o_mini_recordings.jsonl"),
    *_programs(),
]
if sys.version_info >= (3, 12):  # PEP 701: quotes nest in f-strings
    REAL_CELLS.append('d = {"k": 1}\nprint(f"{d["k"]}!")\nprint(f"{\n  d["k"]  # c\n}?")\n!ls\n')

# ------------------------------------------------------------------------- tables


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("pwd\nx=1", "pwd\nx=1\n"),
        (
            "%%capture cap\nprint('hidden')\n1",
            "get_ipython().run_cell_magic('capture', 'cap', \"print('hidden')\\n1\\n\")\n",
        ),
        (
            "if True:\n    !echo inner\n1",
            "if True:\n    get_ipython().system('echo inner')\n1\n",
        ),
        ("len?", "get_ipython().run_line_magic('pinfo', 'len')\n"),
        ("x = !ls\n", "x = get_ipython().getoutput('ls')\n"),
        ("%matplotlib inline\n", "get_ipython().run_line_magic('matplotlib', 'inline')\n"),
        ("x = %time f()\n", "x = get_ipython().run_line_magic('time', 'f()')\n"),
        ("!ls \\\n  -la\n", "get_ipython().system('ls    -la')\n"),
        ("print('Done!')\n", "print('Done!')\n"),
        ("\n\n  \nx = 1\n   \ny = 2", "x = 1\n\ny = 2\n"),
        ("x = 1\n%%time\n", "x = 1\nget_ipython().run_line_magic('%time', '')\n"),
        ("    a = 1\n    b = 2\n", "a = 1\nb = 2\n"),
        ("", "\n"),
    ],
)
def test_known_transforms(cell: str, expected: str) -> None:
    assert reference(cell) == expected
    assert streamed(cell, list(range(1, len(cell)))) == expected  # one character at a time
    assert streamed(cell, []) == expected  # one delta (a serial cell)


@pytest.mark.parametrize("cell", REAL_CELLS)
def test_real_cells_any_split(cell: str) -> None:
    expected = reference(cell)
    rng = random.Random(cell)
    for size in (1, 4, 13):
        assert streamed(cell, list(range(size, len(cell), size))) == expected
    for _ in range(5):
        assert streamed(cell, random_cuts(cell, rng)) == expected
    if compiles(expected):
        chunks_parse(streamed(cell, random_cuts(cell, rng)))


# ------------------------------------------------------------------------- properties

SNIPPETS = [
    "import pandas as pd\n",
    "df = pd.read_csv('data.csv')\n",
    "df.head()\n",
    "print('Hello, World!')\n",
    'print("50% of rows?")\n',
    "x = 10 % 3\n",
    "y = 1 if x != 2 else 0\n",
    "# comment with ! and % and ?\n",
    "\n",
    "   \n",
    "data = {\n    'a': [1, 2],\n    'b': 'c!',\n}\n",
    "total = (1 +\n         2)\n",
    "z = 1 + \\\n    2\n",
    "s = '''\n!echo no\n%no magic\nwhat?\n'''\n",
    "t = 'it\\'s %d' % 3\n",
    "def f(a, b=2):\n    '''Doc?'''\n    return a % b\n",
    "class A:\n    x = 1\n\n    def m(self):\n        return self.x\n",
    "for i in range(3):\n    print(i)\nelse:\n    pass\n",
    "if True:\n    !echo inner\n",
    "if x:\n    %time y = 1\n",
    "!pip install -q numpy\n",
    "!echo \\\n  continued\n",
    "!!echo captured\n",
    "files = !ls\n",
    "out = %timeit -o pass\n",
    "%matplotlib inline\n",
    "%env A=1\n",
    "obj?\n",
    "obj.attr??\n",
    "?len\n",
    "x = [1,\n     2] + foo?\n",
    "%%time\n",
    "%%capture cap\nprint(1)\n",
    "    indented = 1\n",
    "f(\n  1, 2)\n",
    "print(f'{x!r} {y:>{w}}!')\n",
    "async def g():\n    return 1\n",
    "lambda: 1\n",
    "x = 1;\n",
]


@st.composite
def composed_cells(draw: st.DrawFn) -> str:
    cell = "".join(draw(st.lists(st.sampled_from(SNIPPETS), min_size=1, max_size=8)))
    if draw(st.booleans()):
        cell = cell.rstrip("\n")  # no final line break
    return cell


@st.composite
def cuts_for(draw: st.DrawFn, cell: str) -> list[int]:
    if not cell:
        return []
    return draw(st.lists(st.integers(1, len(cell)), max_size=len(cell) // 2 + 2))


@settings(max_examples=250, deadline=None)
@given(st.data())
def test_composed_cells_stream_to_ipythons_transform(data: st.DataObject) -> None:
    cell = data.draw(composed_cells())
    try:
        expected = reference(cell)
    except SyntaxError:  # IPython raises (an inconsistent dedent): no reference
        assume(False)
        return
    cuts = data.draw(cuts_for(cell))
    parts, rest, cs = stream(cell, cuts)
    assert "".join(parts) + rest == expected
    assert cs.exact
    if compiles(expected):
        chunks_parse(expected)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(REAL_CELLS), st.data())
def test_real_cells_random_splits(cell: str, data: st.DataObject) -> None:
    cuts = data.draw(cuts_for(cell))
    assert streamed(cell, cuts) == reference(cell)


#: Continuations that would change text already emitted if the streamer emitted too early.
ADVERSARIAL = [
    "?\n",
    "??\n",
    "?",
    " = %time f()\n",
    " = !ls\n",
    "\n!ls\n",
    "!ls\n",
    ")\n",
    ")?\n",
    "]\n",
    "'''\n",
    '"""\n',
    "\\\n!ls\n",
    "\\\n%foo\n",
    "\n%%time\n",
    "\n   ...: y\n",
    " + foo?\n",
    "#\n",
    "\n\n",
    "x\n",
]


@settings(max_examples=120, deadline=None)
@given(st.data())
def test_emitted_text_is_final(data: st.DataObject) -> None:
    """Whatever follows, text already returned is a prefix of IPython's transform."""
    cell = data.draw(st.one_of(composed_cells(), st.sampled_from(REAL_CELLS)))
    assume(">>>" not in cell and "..." not in cell)  # the documented prompt exception
    cut = data.draw(st.integers(0, len(cell)))
    prefix = cell[:cut]
    cs = CellSyntax()
    pieces = data.draw(cuts_for(prefix))
    bounds = [0, *sorted({c for c in pieces if 0 < c < len(prefix)}), len(prefix)]
    emitted = "".join(cs.feed(prefix[a:b]) for a, b in itertools.pairwise(bounds))
    for tail in ADVERSARIAL:
        try:
            full = reference(prefix + tail)
        except Exception:  # IPython fails on the cell (even with IndexError on 3.12)
            continue
        assert full.startswith(emitted), (prefix, tail)


# ------------------------------------------------------------------------- timing


def emitted_by_line(cell: str) -> list[str]:
    """Feed ``cell`` one character at a time; the text returned once each line break is in."""
    cs = CellSyntax()
    out: list[str] = []
    done = ""
    for c in cell:
        done += cs.feed(c)
        if c == "\n":
            out.append(done)
    return out


def test_plain_lines_pass_at_their_line_break() -> None:
    cell = "import os\nx = 1\nprint('ok!')\nif x:\n    y = 2\nz = [\n  1,\n]\n"
    assert emitted_by_line(cell) == [
        "import os\n",
        "import os\nx = 1\n",
        "import os\nx = 1\nprint('ok!')\n",
        "import os\nx = 1\nprint('ok!')\nif x:\n",
        "import os\nx = 1\nprint('ok!')\nif x:\n    y = 2\n",
        "import os\nx = 1\nprint('ok!')\nif x:\n    y = 2\n",  # an open bracket: wait
        "import os\nx = 1\nprint('ok!')\nif x:\n    y = 2\n",
        cell,
    ]


def test_ipython_lines_pass_at_their_line_break() -> None:
    cell = "!pip install x\nx = %time f()\nobj?\n"
    assert emitted_by_line(cell) == [
        "get_ipython().system('pip install x')\n",
        "get_ipython().system('pip install x')\nx = get_ipython().run_line_magic('time', 'f()')\n",
        reference(cell),
    ]


def test_a_backslash_holds_an_escaped_line_until_its_continuation() -> None:
    cell = "!ls \\\n  -la\nx = 1\n"
    assert emitted_by_line(cell) == [
        "",
        "get_ipython().system('ls    -la')\n",
        "get_ipython().system('ls    -la')\nx = 1\n",
    ]


@pytest.mark.parametrize(
    "cell", ["%%time\nx = 1\ny = 2\n", "    x = 1\n    y = 2\n", ">>> x = 1\n>>> y = 2\n"]
)
def test_cell_global_syntax_waits_for_the_end(cell: str) -> None:
    parts, rest, cs = stream(cell, list(range(1, len(cell))))
    assert "".join(parts) == ""
    assert cs.mode == "whole"
    assert rest == reference(cell)


def test_modes() -> None:
    cs = CellSyntax()
    assert cs.mode == "pending"
    assert cs.feed("\n\nx = 1") == ""
    assert cs.mode == "pending"
    assert cs.feed("\n") == "x = 1\n"
    assert cs.mode == "stream"
    assert cs.feed("   ...: y = 2\nz = 3\n") == ""
    assert cs.mode == "held"  # a continuation prompt on line 2 strips prompts cell-wide
    assert cs.end() == "y = 2\nz = 3\n" == reference("\n\nx = 1\n   ...: y = 2\nz = 3\n")[6:]
    assert cs.exact


# ------------------------------------------------------------------------- exceptions


def test_a_later_doctest_prompt_holds_the_rest_and_stays_exact_when_it_can() -> None:
    cell = "x = 1\ny = 2\n>>> z = 3\n... w = 4\n"
    parts, rest, cs = stream(cell, [1, 5, 9, 15])
    assert "".join(parts) == "x = 1\ny = 2\n"
    assert cs.mode == "held"
    assert "".join(parts) + rest == reference(cell) == "x = 1\ny = 2\nz = 3\nw = 4\n"
    assert cs.exact


def test_a_later_doctest_prompt_cannot_unsay_an_ellipsis_line() -> None:
    """The one divergence: IPython strips ``...`` from a line emitted before ``>>>`` came."""
    cell = "def f():\n    ...\n>>> 1\n"
    parts, rest, cs = stream(cell, [])
    assert reference(cell) == "def f():\n\n1\n"
    assert "".join(parts) + rest == "def f():\n    ...\n1\n"
    assert not cs.exact


def test_a_doctest_inside_a_docstring_does_not_hold_the_cell() -> None:
    cell = "def f():\n    '''\n    >>> f()\n    '''\n    return 1\nx = 2\n"
    out = emitted_by_line(cell)
    assert out[-1] == cell == reference(cell)
    assert out[-2] == cell[: cell.index("x = 2")]


def test_a_failing_help_blocks_later_transforms_only_in_ipython() -> None:
    """IPython stops at a ``?`` it cannot rewrite; the cell is invalid Python either way."""
    cell = "x = f(1)?\ny?\n"
    assert reference(cell) == cell
    assert streamed(cell, []) == "x = f(1)?\nget_ipython().run_line_magic('pinfo', 'y')\n"
    with pytest.raises(ProgramSyntaxError):
        chunks_parse(streamed(cell, []))


def test_where_ipython_raises_the_code_passes_through() -> None:
    cell = "if x:\n        a = 1\n    !ls\n"
    with pytest.raises(IndentationError):
        reference(cell)
    out = streamed(cell, [3, 9])
    assert out == "if x:\n        a = 1\n    get_ipython().system('ls')\n"
    with pytest.raises(ProgramSyntaxError):
        chunks_parse(out)
    whole = CellSyntax()
    whole.feed("    " + cell.replace("\n", "\n    "))
    assert whole.end().startswith("    if x:")  # raw, for the chunker to report


# ------------------------------------------------------------------------- API


def test_feed_after_end_is_a_usage_error() -> None:
    cs = CellSyntax()
    cs.feed("x = 1\n")
    assert cs.end() == ""
    assert cs.end() == ""
    with pytest.raises(UsageError):
        cs.feed("y")


def test_transform_cell_is_ipythons() -> None:
    assert transform_cell("!ls") == reference("!ls")


def test_missing_ipython_names_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("IPython", "IPython.core", "IPython.core.inputtransformer2"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(MissingExtraError, match="pip install ipython"):
        CellSyntax()


# ------------------------------------------------------------------------- the scanner


def _ends_ipython(text: str) -> set[int]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        groups = make_tokens_by_line(text.splitlines(keepends=True))
    return {g[-1].start[0] for g in groups if g and g[-1].type in (tokenize.NEWLINE, tokenize.NL)}


def _ends_scanner(text: str) -> set[int]:
    scanner = _Scanner()
    return {i for i, line in enumerate(text.splitlines(keepends=True), 1) if scanner.scan(line)}


SCANNER_SNIPPETS = [
    "x = 'a' 'b'\ny = \"c\\\"\"\n",
    "s = 'it\\\n continues'\nt = 1\n",
    'r"\\"" + rb"\\\\"\n',
    "u = f'{x!r:>{w}}' + F\"{{literal}}\"\n",
    "v = f'''\n{a\n}b'''\n",
    "w = (1,  # ( in a comment\n     2)\n",
    "z = [\n    '''\n    ]\n    ''',\n]\n",
    "if x:\\\n    pass\n",
    "elif_ = 1; elif'x': pass\n" if False else "q = 1\n",
    'f"\\N{EM DASH}{y}"\n',
    "rf'\\{x}'\n",
]
if sys.version_info >= (3, 12):
    SCANNER_SNIPPETS += [
        'a = f"{d["k"]}"\n',
        'b = f"{", ".join(xs)}"\n',
        "c = f'{\n  x  # comment\n}'\n",
        'd = f"{x:{"<" if y else ">"}10}"\n',
        "e = f'{f'{f'{1}'}'}'\n",
        'g = f"{x:\n}"\n',
        "h = f'{'\\n'.join(a)}'\n",
    ]


@pytest.mark.parametrize("snippet", SCANNER_SNIPPETS)
def test_scanner_ends_logical_lines_where_the_tokenizer_does(snippet: str) -> None:
    assert compiles(snippet)
    assert _ends_scanner(snippet) == _ends_ipython(snippet)


def test_scanner_on_standard_library_sample() -> None:
    root = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(root.glob("*.py"))
    for path in random.Random(7).sample(files, 12):
        text = path.read_text(encoding="utf-8", errors="replace")
        if "\r" in text or "\x0c" in text or not compiles(text):
            continue
        assert _ends_scanner(text) == _ends_ipython(text), path
