"""Property tests: any split of real code gives exact, parseable, prompt chunks."""

from __future__ import annotations

import ast
import itertools
import os
import random
import sysconfig
import warnings
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eager import Chunk, Chunker, ProgramSyntaxError

SAMPLE_SIZE = 30


def _stdlib_files() -> list[Path]:
    root = Path(sysconfig.get_paths()["stdlib"])
    return sorted(p for p in root.rglob("*.py") if "site-packages" not in p.parts)


def _load(path: Path) -> str | None:
    """The file's text, or None if it is not UTF-8 or does not parse on this Python."""
    try:
        text = path.read_bytes().decode("utf-8")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(text)
    except (UnicodeDecodeError, SyntaxError, ValueError):
        return None
    return text


def _normalised(tree: ast.Module) -> list[str]:
    return [ast.dump(s, include_attributes=True) for s in tree.body]


def check_program(program: str, cuts: list[int]) -> list[Chunk]:
    """Feed ``program`` cut at ``cuts``; assert the chunker invariants (DESIGN §2)."""
    bounds = [0, *sorted(set(c for c in cuts if 0 < c < len(program))), len(program)]
    chunker = Chunker()
    chunks: list[Chunk] = []
    for a, b in itertools.pairwise(bounds):
        for chunk in chunker.feed(program[a:b]):
            # (d) nothing is emitted before the text that completes it has arrived
            assert chunk.end <= b
            chunks.append(chunk)
    chunks += chunker.close()
    # (a) exact
    assert "".join(c.code for c in chunks) == program
    statements: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i, c in enumerate(chunks):
            assert c.index == i
            assert program[c.start : c.end] == c.code
            # (b) each chunk parses on its own, at its program lines
            statements += _normalised(ast.parse(c.compilable()))
        # (c) together they are the statements of the whole program
        whole = program[1:] if program.startswith("\ufeff") else program
        assert statements == _normalised(ast.parse(whole))
    return chunks


def _random_cuts(rng: random.Random, n: int) -> list[int]:
    cuts, i = [], 0
    while i < n:
        i += rng.randint(1, 12)
        cuts.append(i)
    return cuts


FILES = _stdlib_files()


@pytest.mark.parametrize("seed", range(SAMPLE_SIZE))
def test_random_stdlib_file_random_split(seed: int) -> None:
    rng = random.Random(seed)
    text = None
    while text is None:
        text = _load(rng.choice(FILES))
    check_program(text, _random_cuts(rng, len(text)))


@pytest.mark.parametrize("newline", ["\r\n", "\r"], ids=["crlf", "cr"])
@pytest.mark.parametrize("seed", range(SAMPLE_SIZE // 3))
def test_random_stdlib_file_with_windows_or_mac_line_endings(seed: int, newline: str) -> None:
    rng = random.Random(1000 + seed)
    text = None
    while text is None or "\r" in text:
        text = _load(rng.choice(FILES))
    check_program(text.replace("\n", newline), _random_cuts(rng, len(text)))


@pytest.mark.stdlib_full
@pytest.mark.timeout(3600)
@pytest.mark.skipif(not os.environ.get("EAGER_STDLIB_FULL"), reason="opt-in: EAGER_STDLIB_FULL=1")
def test_whole_stdlib_random_split() -> None:
    rng = random.Random(2024)
    failures = []
    checked = 0
    for path in FILES:
        text = _load(path)
        if text is None:
            continue
        try:
            check_program(text, _random_cuts(rng, len(text)))
            checked += 1
        except (AssertionError, ProgramSyntaxError) as exc:
            failures.append(f"{path}: {exc!r}"[:300])
    assert not failures, f"{len(failures)} of {checked + len(failures)} files:\n" + "\n".join(
        failures[:20]
    )


SNIPPETS = [
    "import os\n",
    "x = 1\n",
    "x = [\n1,\n2]\n",
    "if a:\n    b = 1\n",
    "elif_ = 2\n",
    "else_ = 3\n",
    "# comment\n",
    "\n",
    "for i in r:\n    pass\nelse:\n    pass\n",
    "try:\n    pass\nexcept E:\n    pass\nfinally:\n    pass\n",
    "@d\ndef f():\n    return 1\n",
    "class C:\n    '''doc\nelse:\n'''\n",
    "s = '''\nx = 1\n'''\n",
    "y = 1 + \\\n2\n",
    "match m:\n    case 1:\n        pass\n",
    "match = 1\n",
    "while x:\n    x -= 1\n",
    "async def g():\n    await h()\n",
    "if x: pass\n",
    "a = 1; b = 2\n",
    "x = 1\r\n",
    "\x0cz = 3\n",
]


@settings(max_examples=300, deadline=None)
@given(
    parts=st.lists(st.sampled_from(SNIPPETS), min_size=1, max_size=12),
    cuts=st.lists(st.integers(min_value=1, max_value=400), max_size=60),
    final_newline=st.booleans(),
    newline=st.sampled_from(["\n", "\r\n", "\r"]),
)
def test_any_split_of_generated_programs(
    parts: list[str], cuts: list[int], final_newline: bool, newline: str
) -> None:
    program = "".join(p if "\r" in p else p.replace("\n", newline) for p in parts)
    if not final_newline:
        program = program.rstrip("\r\n")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(program)
    except SyntaxError:
        return
    check_program(program, cuts)


@settings(max_examples=100, deadline=None)
@given(cuts=st.lists(st.integers(min_value=1, max_value=300), max_size=80))
def test_broken_program_raises_once_with_program_line(cuts: list[int]) -> None:
    program = "import os\n\ndef f():\n    return 1\n\nx = f(\n]\ny = 2\n"
    bounds = [0, *sorted(set(c for c in cuts if c < len(program))), len(program)]
    chunker = Chunker()
    emitted: list[Chunk] = []
    with pytest.raises(ProgramSyntaxError) as info:
        for a, b in itertools.pairwise(bounds):
            emitted += chunker.feed(program[a:b])
        chunker.close()
    emitted += info.value.chunks  # type: ignore[arg-type]
    assert info.value.lineno == 7
    assert "".join(c.code for c in emitted) == "import os\n\ndef f():\n    return 1\n\n"
