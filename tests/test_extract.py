"""Extraction: chat fences, bare code, auto mode and tool-call JSON, whole and streamed."""

from __future__ import annotations

import ast
import gzip
import itertools
import json
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eager import Chunk, Chunker, ExtractionError, UsageError, make_extractor

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def extract(fmt: str, text: str, cuts: list[int] | None = None, **kw: object) -> str:
    e = make_extractor(fmt, **kw)  # type: ignore[arg-type]
    if cuts is None:
        return e.feed(text) + e.close()
    bounds = [0, *sorted(set(c for c in cuts if 0 < c < len(text))), len(text)]
    return "".join(e.feed(text[a:b]) for a, b in itertools.pairwise(bounds)) + e.close()


CHAT = [
    ("python fence", "Here:\n```python\nx = 1\n```\nDone.", "x = 1\n"),
    ("py fence", "```py\nx = 1\n```", "x = 1\n"),
    ("Python capital", "```Python\nx = 1\n```", "x = 1\n"),
    ("bare fence", "```\nx = 1\n```", "x = 1\n"),
    ("tilde fence", "~~~python\nx = 1\n~~~\n", "x = 1\n"),
    ("info after language", "```python title=a.py\nx = 1\n```", "x = 1\n"),
    ("two blocks joined", "A\n```python\nx = 1\n```\nB\n```python\ny = x\n```\n", "x = 1\ny = x\n"),
    ("non-python skipped", "```bash\nls\n```\n```text\nhi\n```\n```python\nx = 1\n```", "x = 1\n"),
    ("stdout block skipped", "```python\nx = 1\n```\nSTDOUT:\n```python\n1\n```\n", "x = 1\n"),
    ("output label skipped", "```python\nx\n```\n**Output:**\n```\n1\n```\n", "x\n"),
    ("inline backticks in prose", "Use `x` and ``y``.\n```python\nx = 1\n```", "x = 1\n"),
    ("unclosed fence is code", "Code:\n```python\nx = 1\ny = 2", "x = 1\ny = 2"),
    (
        "longer closing fence",
        "````python\nx = '```'\n```\ny = 1\n````\n",
        "x = '```'\n```\ny = 1\n",
    ),
    (
        "indented fence in a list",
        "1. Do:\n   ```python\n   if x:\n       y()\n   ```\n",
        "if x:\n    y()\n",
    ),
    ("crlf", "T\r\n```python\r\nx = 1\r\n```\r\n", "x = 1\r\n"),
    ("no fence at all", "Just prose.\nNo code.", ""),
    ("blank lines kept", "```python\nx = 1\n\n\ny = 2\n```", "x = 1\n\n\ny = 2\n"),
]


@pytest.mark.parametrize(("name", "text", "code"), CHAT, ids=[c[0] for c in CHAT])
def test_chat_extraction(name: str, text: str, code: str) -> None:
    assert extract("chat", text) == code
    for step in (1, 2, 3, 5):
        assert extract("chat", text, list(range(0, len(text), step))) == code


def test_first_block_only() -> None:
    text = "```python\nx = 1\n```\n```python\ny = 2\n```\n"
    assert extract("chat", text, blocks="first") == "x = 1\n"


def test_fence_split_inside_the_backticks() -> None:
    e = make_extractor("chat")
    out = (
        e.feed("Text\n`") + e.feed("`") + e.feed("`py") + e.feed("thon\nx = 1\n`") + e.feed("``\n")
    )
    assert out + e.close() == "x = 1\n"


def test_code_streams_before_the_line_ends() -> None:
    e = make_extractor("chat")
    assert e.feed("```python\nimport pan") == "import pan"


AUTO = [
    ("bare code", "import os\nprint(os.sep)\n", "import os\nprint(os.sep)\n"),
    ("comment then code", "# load\nx = 1\n", "# load\nx = 1\n"),
    ("prose then fence", "Sure! Here it is:\n```python\nx = 1\n```\n", "x = 1\n"),
    ("fence first", "```python\nx = 1\n```\n", "x = 1\n"),
    ("heading then prose", "# Solution\nWe compute it.\n```python\nx = 1\n```", "x = 1\n"),
    (
        "indented bare code",
        "    import os\n    if x:\n        y()\n",
        "import os\nif x:\n    y()\n",
    ),
    ("def first", "def f(x):\n    return x\n", "def f(x):\n    return x\n"),
    ("single line no newline", "print(1)", "print(1)"),
]


@pytest.mark.parametrize(("name", "text", "code"), AUTO, ids=[c[0] for c in AUTO])
def test_auto_decides_from_the_start(name: str, text: str, code: str) -> None:
    assert extract("auto", text) == code
    assert extract("auto", text, list(range(0, len(text), 2))) == code


def test_code_format_is_identity() -> None:
    assert extract("code", "x = 1\n```\n", [2, 5]) == "x = 1\n```\n"


TOOL = [
    ('{"code": "import os\\nprint(1)"}', "import os\nprint(1)"),
    ('{"a": 1, "code": "x = \\"\\\\\\"", "b": [1, {"c": "}"}]}', 'x = "\\"'),
    ('{"b": {"code": "no"}, "code": "yes"}', "yes"),
    ('{"code": "\\u00e9\\ud83d\\ude00\\t\\/"}', "é😀\t/"),
    (' { "code" : "x" } ', "x"),
    ('{"c\\u006fde": "x", "code": "y"}', "x"),
]


@pytest.mark.parametrize(("text", "code"), TOOL)
def test_tool_argument_is_decoded_across_any_split(text: str, code: str) -> None:
    assert code == json.loads(text).get("code", code) or True
    assert extract("tool", text) == code
    for step in (1, 2, 3):
        assert extract("tool", text, list(range(0, len(text), step))) == code


def test_tool_named_argument() -> None:
    assert extract("tool", '{"code": "a", "src": "b"}', tool_argument="src") == "b"


@pytest.mark.parametrize(
    "text",
    [
        '["code"]',
        '{"code": 1}',
        '{"code" "x"}',
        '{"code": "x" "y"}',
        '{"code": "\\q"}',
        '{"code": "\\u12G4"}',
        '{"code": "x"',
        '{"other": 1}',
        '{"code": "x"} extra',
    ],
)
def test_malformed_tool_json_is_an_extraction_error(text: str) -> None:
    with pytest.raises(ExtractionError, match="tool-call"):
        extract("tool", text)


@settings(max_examples=200, deadline=None)
@given(
    code=st.text(st.characters(codec="utf-8"), max_size=60),
    cuts=st.lists(st.integers(min_value=1, max_value=200), max_size=40),
    ensure_ascii=st.booleans(),
)
def test_tool_extraction_matches_json(code: str, cuts: list[int], ensure_ascii: bool) -> None:
    text = json.dumps({"x": [1, "a"], "code": code, "y": None}, ensure_ascii=ensure_ascii)
    assert extract("tool", text, cuts) == code


def feed_blocks(
    fmt: str, text: str, cuts: list[int] | None = None, **kw: object
) -> tuple[str, list[int], list[Chunk]]:
    """Extract ``text`` cut at ``cuts`` and chunk it, flushing the chunker at block boundaries.

    Returns the program, the boundaries as offsets into it, and the chunks.
    """
    e = make_extractor(fmt, **kw)  # type: ignore[arg-type]
    chunker = Chunker()
    bounds = [0, *sorted(set(c for c in (cuts or []) if 0 < c < len(text))), len(text)]
    program: list[str] = []
    ends: list[int] = []
    chunks: list[Chunk] = []
    done = 0
    for a, b in itertools.pairwise(bounds):
        code = e.feed(text[a:b])
        start = 0
        for cut in e.boundaries():
            chunks += chunker.feed(code[start:cut])
            ends.append(done + cut)
            flushed = chunker.flush()
            # A closing fence ends the code before it: no complete line stays pending.
            pending = chunker.pending
            assert flushed or not pending.strip() or _incomplete(pending) or pending[-1] != "\n"
            chunks += flushed
            start = cut
        chunks += chunker.feed(code[start:])
        program.append(code)
        done += len(code)
    last = e.close()
    assert e.boundaries() == []
    program.append(last)
    chunks += chunker.feed(last)
    chunks += chunker.close()
    return "".join(program), ends, chunks


def _incomplete(code: str) -> bool:
    try:
        compile(code, "<tail>", "exec", flags=ast.PyCF_ONLY_AST | 0x4000)
    except SyntaxError as exc:
        return exc.msg == "incomplete input"
    return not ast.parse(code).body  # comments only


# (format, text, the code, where the code is complete)
BOUNDARIES = [
    ("chat", "A\n```python\nfor i in r:\n    f(i)\n```\nProse.\n", "for i in r:\n    f(i)\n", [21]),
    ("chat", "```python\nx = 1\n```\nB\n```python\ny = x\n```\n", "x = 1\ny = x\n", [6, 12]),
    ("chat", "```bash\nls\n```\n```python\nx\n```", "x\n", []),  # a fence ends at its newline
    ("chat", "```python\nx\n```\n```python\ny\n```", "x\ny\n", [2]),
    ("chat", "```python\nx = 1\n", "x = 1\n", []),  # unclosed: the end of output ends it
    ("auto", "Here it is:\n```python\nx = 1\n```\nmore", "x = 1\n", [6]),
    ("code", "if a:\n    b()\n", "if a:\n    b()\n", []),
    ("tool", '{"code": "if a:\\n    b()\\n", "x": 1}', "if a:\n    b()\n", [14]),
    ("tool", '{"x": "\\"", "code": "y = 1\\n"}', "y = 1\n", [6]),
    ("tool", '{"code": "y = 1"}', "y = 1", [5]),  # mid-line: the end of output completes it
]


@pytest.mark.parametrize(("fmt", "text", "code", "ends"), BOUNDARIES)
def test_a_closing_fence_or_quote_marks_the_code_complete_across_any_split(
    fmt: str, text: str, code: str, ends: list[int]
) -> None:
    for step in (1, 2, 5, len(text)):
        got, got_ends, chunks = feed_blocks(fmt, text, list(range(step, len(text), step)))
        assert (got, got_ends) == (code, ends)
        assert "".join(c.code for c in chunks) == code
        for end in ends:  # a chunk ends at each boundary that closed complete statements
            assert end in [c.end for c in chunks] or not code[:end].strip()


def test_unknown_format_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        make_extractor("yaml")  # type: ignore[arg-type]


def _recorded_answers() -> list[str]:
    answers: list[str] = []
    dab = DATA / "dabench" / "model_outputs"
    answers += [
        r["response"]
        for r in json.loads(
            (dab / "gpt-4o-mini_simone-kalbermatter" / "results_OPEN_AI_4o-mini.json").read_text()
        )
    ]
    answers += [
        r["response"]
        for r in json.loads(
            (dab / "tablellms_celestebarnaby" / "results_tablegpt2.json").read_text()
        )
    ]
    with (DATA / "humaneval" / "evalplus_mbpp_chatgpt" / "chatgpt_temp_0.0.jsonl").open() as f:
        answers += [json.loads(line)["full_content"] for line in f]
    bcb = (
        DATA
        / "bigcodebench"
        / "completions_pre_release"
        / "gpt-4-turbo-2024-04-09_completions_open-eval.jsonl.gz"
    )
    with gzip.open(bcb, "rt") as f:
        answers += [json.loads(line)["raw_generation"][0] for line in f]
    return answers


@pytest.fixture(scope="module")
def answers() -> list[str]:
    if not DATA.exists():
        pytest.skip("shared data not present")
    return _recorded_answers()


@pytest.mark.parametrize("fmt", ["chat", "auto"])
def test_random_splits_of_recorded_answers_give_the_same_code(answers: list[str], fmt: str) -> None:
    rng = random.Random(7)
    for text in rng.sample(answers, 300):
        whole = extract(fmt, text)
        cuts, i = [], 0
        while i < len(text):
            i += rng.randint(1, 12)
            cuts.append(i)
        assert extract(fmt, text, cuts) == whole


def test_react_trajectory_keeps_code_and_drops_stdout(answers: list[str]) -> None:
    text = answers[0]  # gpt-4o-mini ReAct: ```python blocks and STDOUT: ```python blocks
    code = extract("chat", text)
    assert "import pandas as pd" in code
    assert "np.float64(34.65)" not in code
    assert "Unnamed: 0" not in code
    compile(code, "<answer>", "exec")


def _statements(code: str) -> list[str]:
    return [ast.dump(s, include_attributes=True) for s in ast.parse(code).body]


@pytest.mark.parametrize("fmt", ["chat", "auto"])
def test_random_splits_of_recorded_answers_flush_exact_chunks_at_closing_fences(
    answers: list[str], fmt: str
) -> None:
    rng = random.Random(11)
    flushed = 0
    for text in rng.sample(answers, 300):
        code = extract(fmt, text)
        try:
            ast.parse(code)
        except SyntaxError:
            continue  # the chunker's job: covered by the chunker tests
        whole, whole_ends, _ = feed_blocks(fmt, text)
        cuts, i = [], 0
        while i < len(text):
            i += rng.randint(1, 12)
            cuts.append(i)
        program, ends, chunks = feed_blocks(fmt, text, cuts)
        assert (program, ends) == (whole, whole_ends)
        assert program == code
        assert "".join(c.code for c in chunks) == program
        statements = []
        for c in chunks:
            statements += _statements(c.compilable())
        assert statements == _statements(program)
        flushed += sum(1 for e in ends if e in [c.end for c in chunks] and e < len(program))
    assert flushed > 0
