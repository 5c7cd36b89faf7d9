"""Table-driven tests of the streaming chunker: every construct of DESIGN §2."""

from __future__ import annotations

import ast

import pytest

from eager import Chunk, Chunker, ProgramSyntaxError, UsageError


def feed_all(program: str, step: int = 1) -> tuple[list[Chunk], list[int]]:
    """Feed ``program`` in ``step``-sized deltas; return the chunks and how much had arrived."""
    c = Chunker()
    chunks: list[Chunk] = []
    seen: list[int] = []
    got = 0
    for i in range(0, len(program), step):
        got += len(program[i : i + step])
        new = c.feed(program[i : i + step])
        chunks += new
        seen += [got] * len(new)
    new = c.close()
    chunks += new
    seen += [got] * len(new)
    return chunks, seen


# (name, program, expected chunk codes)
CASES = [
    ("simple statements", "import os\nx = 1\nprint(x)\n", ["import os\n", "x = 1\n", "print(x)\n"]),
    ("semicolons", "a = 1; b = 2\nc = 3\n", ["a = 1; b = 2\n", "c = 3\n"]),
    ("no final newline", "x = 1\ny = 2", ["x = 1\n", "y = 2"]),
    (
        "decorators stacked",
        "@a\n@b(1)\ndef f():\n    pass\nx = 1\n",
        ["@a\n@b(1)\ndef f():\n    pass\n", "x = 1\n"],
    ),
    (
        "if elif else with column-0 comment",
        "if a:\n    x = 1\n# note\nelif b:\n    x = 2\nelse:\n    x = 3\ny = 1\n",
        ["if a:\n    x = 1\n# note\nelif b:\n    x = 2\nelse:\n    x = 3\n", "y = 1\n"],
    ),
    (
        "for else",
        "for i in r:\n    pass\nelse:\n    done()\nelse_ = 1\n",
        ["for i in r:\n    pass\nelse:\n    done()\n", "else_ = 1\n"],
    ),
    (
        "while else",
        "while x:\n    x -= 1\nelse:\n    y = 0\n",
        ["while x:\n    x -= 1\nelse:\n    y = 0\n"],
    ),
    (
        "try except star else finally",
        "try:\n    f()\nexcept* ValueError:\n    pass\nexcept* TypeError:\n    pass\n"
        "else:\n    g()\nfinally:\n    h()\nz = 1\n",
        [
            "try:\n    f()\nexcept* ValueError:\n    pass\nexcept* TypeError:\n    pass\n"
            "else:\n    g()\nfinally:\n    h()\n",
            "z = 1\n",
        ],
    ),
    (
        "try except",
        "try:\n    f()\nexcept Exception as e:\n    print(e)\nexcepted = 1\n",
        ["try:\n    f()\nexcept Exception as e:\n    print(e)\n", "excepted = 1\n"],
    ),
    (
        "one-line if then else",
        "if x: y = 1\nelse: y = 2\nprint(y)\n",
        ["if x: y = 1\nelse: y = 2\n", "print(y)\n"],
    ),
    (
        "match statement",
        "match p:\n    case 1:\n        pass\n    case _:\n        pass\nmatch = 3\n",
        ["match p:\n    case 1:\n        pass\n    case _:\n        pass\n", "match = 3\n"],
    ),
    (
        "match as a name",
        "match = 3\nmatch(x)\ncase = 4\n",
        ["match = 3\n", "match(x)\n", "case = 4\n"],
    ),
    (
        "async def and async for",
        "async def f():\n    async for x in y:\n        pass\nasync def g():\n    pass\n",
        ["async def f():\n    async for x in y:\n        pass\n", "async def g():\n    pass\n"],
    ),
    (
        "backslash continuation",
        "x = 1 + \\\n2\ny = 3\n",
        ["x = 1 + \\\n2\n", "y = 3\n"],
    ),
    (
        "backslash continuation then an indented line",
        "a = \\\n    1\nb = a\n",
        ["a = \\\n    1\n", "b = a\n"],
    ),
    (
        "nested brackets",
        "d = {\n'a': [1,\n2],\n}\nprint(d)\n",
        ["d = {\n'a': [1,\n2],\n}\n", "print(d)\n"],
    ),
    (
        "string lines look like code",
        's = """\nimport os\nelse:\ndef f():\n"""\nt = 1\n',
        ['s = """\nimport os\nelse:\ndef f():\n"""\n', "t = 1\n"],
    ),
    (
        "main guard",
        'def main():\n    pass\n\nif __name__ == "__main__":\n    main()\n',
        ["def main():\n    pass\n\n", 'if __name__ == "__main__":\n    main()\n'],
    ),
    (
        "global nonlocal",
        "def f():\n    global g\n    def h():\n        nonlocal x\nx = 1\n",
        ["def f():\n    global g\n    def h():\n        nonlocal x\n", "x = 1\n"],
    ),
    (
        "walrus",
        "if (n := 10) > 5:\n    print(n)\nprint(n)\n",
        ["if (n := 10) > 5:\n    print(n)\n", "print(n)\n"],
    ),
    (
        "comments and blank lines join the next chunk",
        "x = 1\n\n# c\n\ny = 2\n# end\n",
        ["x = 1\n", "\n# c\n\ny = 2\n", "# end\n"],
    ),
    (
        "crlf",
        "x = 1\r\nif x:\r\n    y = 2\r\nz = 3\r\n",
        ["x = 1\r\n", "if x:\r\n    y = 2\r\n", "z = 3\r\n"],
    ),
    ("lone cr", "x = 1\ry = 2\r", ["x = 1\r", "y = 2\r"]),
    ("bom", "\ufeffx = 1\ny = 2\n", ["\ufeffx = 1\n", "y = 2\n"]),
    ("tabs", "if x:\n\ty = 1\nz = 2\n", ["if x:\n\ty = 1\n", "z = 2\n"]),
    (
        "form feed",
        "def f():\n    pass\n\x0c\ndef g():\n    pass\n",
        ["def f():\n    pass\n\x0c\n", "def g():\n    pass\n"],
    ),
    (
        "unicode identifiers",
        "größe = 1\nπ = 3.14\ndef ƒ():\n    pass\né = 2\n",
        ["größe = 1\n", "π = 3.14\n", "def ƒ():\n    pass\n", "é = 2\n"],
    ),
    (
        "class",
        "class A:\n    x = 1\n\n    def f(self):\n        pass\nA()\n",
        ["class A:\n    x = 1\n\n    def f(self):\n        pass\n", "A()\n"],
    ),
    (
        "with",
        "with open(p) as f:\n    f.read()\nx = 1\n",
        ["with open(p) as f:\n    f.read()\n", "x = 1\n"],
    ),
    ("only comments", "# nothing\n", ["# nothing\n"]),
    ("empty", "", []),
]


#: Line endings every table case runs with: Unix, Windows and old Mac (Python runs all three).
NEWLINES = {"lf": "\n", "crlf": "\r\n", "cr": "\r"}
# Each case with each line ending (a case that spells out its own line endings runs as it is).
CASES_BY_NEWLINE = [
    pytest.param(
        program.replace("\n", newline),
        [e.replace("\n", newline) for e in expected],
        id=f"{name}-{nl_name}",
    )
    for name, program, expected in CASES
    for nl_name, newline in NEWLINES.items()
    if newline == "\n" or "\r" not in program
]


@pytest.mark.parametrize("step", [1, 3, 7, 1000])
@pytest.mark.parametrize(("program", "expected"), CASES_BY_NEWLINE)
def test_constructs_are_chunked_at_statement_boundaries(
    program: str, expected: list[str], step: int
) -> None:
    chunks, _ = feed_all(program, step)
    assert [c.code for c in chunks] == expected
    assert [c.index for c in chunks] == list(range(len(chunks)))
    for c in chunks:
        ast.parse(c.compilable())
        assert program[c.start : c.end] == c.code


def test_line_numbers_are_program_lines() -> None:
    chunks, _ = feed_all("x = 1\n\ndef f():\n    pass\n\ny = f(\n1)\n", 2)
    assert [(c.start_line, c.end_line) for c in chunks] == [(1, 1), (2, 5), (6, 7)]
    assert chunks[1].compilable().startswith("\n\ndef f")


def test_simple_statement_is_emitted_at_its_newline() -> None:
    c = Chunker()
    assert c.feed("x = 1") == []
    assert [k.code for k in c.feed("\n")] == ["x = 1\n"]


def test_compound_statement_waits_for_the_next_column0_word() -> None:
    c = Chunker()
    assert c.feed("if a:\n    b()\n") == []
    assert c.feed("# comment\n") == []
    assert c.feed("el") == []  # half-typed: may become else
    assert c.feed("i") == []  # may become elif
    assert [k.code for k in c.feed("x = 1\n")] == ["if a:\n    b()\n# comment\n", "elix = 1\n"]


def test_def_is_emitted_at_the_first_column0_character() -> None:
    c = Chunker()
    assert c.feed("def f():\n    return 1\n\n") == []
    assert [k.code for k in c.feed("x")] == ["def f():\n    return 1\n\n"]


def test_decorator_waits_for_its_def() -> None:
    c = Chunker()
    assert c.feed("@dec\n") == []
    assert c.feed("def f(): pass\n") == []
    assert [k.code for k in c.feed("x")] == ["@dec\ndef f(): pass\n"]


def test_text_and_line_count() -> None:
    c = Chunker()
    c.feed("x = 1\ny")
    assert c.text == "x = 1\ny"
    assert c.line_count == 2
    assert c.pending == "y"


def test_syntax_error_is_raised_at_the_line_end() -> None:
    c = Chunker()
    assert [k.code for k in c.feed("x = 1\n")] == ["x = 1\n"]
    with pytest.raises(ProgramSyntaxError) as info:
        c.feed("y = (]\n")
    assert info.value.lineno == 2


def test_warnings_do_not_leak_from_the_chunker() -> None:
    chunks, _ = feed_all('x = "\\("\nif x is 1:\n    pass\n', 3)
    assert len(chunks) == 2


ERRORS = [
    ("x = )\n", 1),
    ("x = 1\ny = 1 +\n", 2),
    ("def f(:\n    pass\n", 1),
    ("x = 1\n    y = 2\n", 2),
    ("if x:\n    pass\n  y\n", 3),
]


@pytest.mark.parametrize(("program", "lineno"), ERRORS)
def test_syntax_error_names_the_program_line(program: str, lineno: int) -> None:
    c = Chunker()
    with pytest.raises(ProgramSyntaxError) as info:
        c.feed(program)
        c.close()
    assert info.value.lineno == lineno
    for chunk in info.value.chunks:
        assert isinstance(chunk, Chunk)
    with pytest.raises(ProgramSyntaxError):  # the chunker stays failed
        c.feed("z = 1\n")


def test_chunks_before_an_error_are_not_lost() -> None:
    c = Chunker()
    with pytest.raises(ProgramSyntaxError) as info:
        c.feed("import os\nx = (]\n")
    assert [k.code for k in info.value.chunks] == ["import os\n"]  # type: ignore[attr-defined]
    assert info.value.lineno == 2


def test_error_found_at_close() -> None:
    c = Chunker()
    assert c.feed("x = (1,\n") == []
    with pytest.raises(ProgramSyntaxError) as info:
        c.close()
    assert info.value.lineno == 1


@pytest.mark.parametrize(
    "incomplete",
    [
        "x = 1 + \\\n",
        "x = [\n1,\n",
        's = """\nimport os\n',
        "@dec\n",
        "if x:\n",
        "try: x = 1\n",
        "def f(a,\n",
    ],
)
def test_incomplete_input_is_not_an_error(incomplete: str) -> None:
    c = Chunker()
    assert c.feed(incomplete) == []


def test_feed_after_close_is_a_usage_error() -> None:
    c = Chunker()
    c.close()
    with pytest.raises(UsageError):
        c.feed("x")
    assert c.close() == []


def test_long_program_is_chunked_per_statement() -> None:
    body = "".join(f"def f{i}(x):\n    return x + {i}\n\nv{i} = f{i}(1)\n" for i in range(300))
    chunks, seen = feed_all(body, 5)
    assert len(chunks) == 600
    assert "".join(c.code for c in chunks) == body
    assert all(
        s <= c.end + 5 + 1 for c, s in zip(chunks, seen, strict=True) if c.code.startswith("v")
    )


# (code fed before the closing fence, chunks flush() emits, what stays pending)
FLUSHES = [
    ("for i in r:\n    f(i)\n", ["for i in r:\n    f(i)\n"], ""),
    ("if __name__ == '__main__':\n    main()\n", ["if __name__ == '__main__':\n    main()\n"], ""),
    ("def f():\n    return 1\n\n# done\n", ["def f():\n    return 1\n\n# done\n"], ""),
    ("try:\n    f()\nexcept E:\n    g()\n", ["try:\n    f()\nexcept E:\n    g()\n"], ""),
    ("x = 1\n", [], ""),  # already emitted at its newline
    ("x = (1,\n", [], "x = (1,\n"),  # an open bracket goes on in the next block
    ("@d\n", [], "@d\n"),
    ("# only a comment\n", [], "# only a comment\n"),
    ("for i in r:\n    f(i)", [], "for i in r:\n    f(i)"),  # mid-line: wait for the line end
    ("for i in r:\r\n    f(i)\r\n", ["for i in r:\r\n    f(i)\r\n"], ""),
]


@pytest.mark.parametrize(("code", "flushed", "pending"), FLUSHES)
def test_flush_emits_what_a_closing_fence_completed(
    code: str, flushed: list[str], pending: str
) -> None:
    c = Chunker()
    c.feed(code)
    assert [ch.code for ch in c.flush()] == flushed
    assert c.pending == pending
    assert c.flush() == []  # flushing twice changes nothing


def test_after_a_flush_the_stream_goes_on() -> None:
    c = Chunker()
    first = c.feed("for i in r:\n    f(i)\n") + c.flush()
    rest = c.feed("y = 2\nwhile y:\n    y -= 1\n") + c.close()
    assert [ch.code for ch in first] == ["for i in r:\n    f(i)\n"]
    assert [(ch.code, ch.start_line) for ch in rest] == [
        ("y = 2\n", 3),
        ("while y:\n    y -= 1\n", 4),
    ]


def test_an_else_after_a_flushed_if_is_a_syntax_error() -> None:
    # A fenced block is a unit, as a notebook cell is: the next block cannot continue it.
    c = Chunker()
    c.feed("if a:\n    b()\n")
    assert len(c.flush()) == 1
    with pytest.raises(ProgramSyntaxError) as info:
        c.feed("else:\n    d()\n")
    assert info.value.lineno == 3
