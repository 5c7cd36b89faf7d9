"""The contract every backend keeps (run against each entry of ``BACKEND_CASES``)."""

from __future__ import annotations

import ast
import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from eager import Backend, ExecError, ExecResult

from .conftest import BACKEND_CASES, MakeBackend

# ---------------------------------------------------------------------------- helpers


@contextlib.asynccontextmanager
async def started_signal() -> AsyncIterator[tuple[str, asyncio.Event]]:
    """Code to put first in a long execution, and an event set once the code got there."""
    event = asyncio.Event()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        event.set()
        writer.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    code = f"import socket\nsocket.create_connection(('127.0.0.1', {port})).close()\n"
    try:
        yield code, event
    finally:
        server.close()
        await server.wait_closed()


def split(program: str, starts: list[int]) -> list[tuple[str, int]]:
    """Cut ``program`` into chunks beginning at the given 1-based lines."""
    lines = program.splitlines(keepends=True)
    bounds = [*starts, len(lines) + 1]
    return [("".join(lines[a - 1 : b - 1]), a) for a, b in itertools.pairwise(bounds)]


async def run_chunks(
    backend: Backend, chunks: list[tuple[str, int]]
) -> tuple[str, ExecError | None]:
    """Run chunks in order until one fails: (all stdout, the error)."""
    out = []
    for code, first_line in chunks:
        result = await backend.execute(code, first_line=first_line)
        out.append(result.stdout)
        if result.error is not None:
            return "".join(out), result.error
    return "".join(out), None


def assert_encodable(result: ExecResult) -> None:
    texts = [result.stdout, result.stderr]
    if result.error is not None:
        texts += [result.error.ename, result.error.evalue, result.error.traceback]
    for text in texts:
        text.encode("utf-8")  # no lone surrogates left


# ---------------------------------------------------------------------------- state


async def test_state_persists_between_executions(backend: Backend) -> None:
    assert (await backend.execute("x = 41\ndef inc(v):\n    return v + 1\n")).ok
    result = await backend.execute("print(inc(x))\n", first_line=4)
    assert result.ok
    assert result.stdout == "42\n"


async def test_stdout_and_stderr_are_captured_per_execution(backend: Backend) -> None:
    first = await backend.execute("import sys\nprint('out 1')\nprint('err 1', file=sys.stderr)\n")
    second = await backend.execute("print('out 2')\n", first_line=4)
    assert (first.stdout, first.stderr) == ("out 1\n", "err 1\n")
    assert (second.stdout, second.stderr) == ("out 2\n", "")


async def test_namespace_is_a_scripts_main(backend: Backend) -> None:
    code = "print(__name__)\nif __name__ == '__main__':\n    print('main block ran')\n"
    result = await backend.execute(code)
    assert result.stdout == "__main__\nmain block ran\n"
    result = await backend.execute("class Point:\n    pass\nprint(Point.__module__)\n")
    assert result.stdout == "__main__\n"


@pytest.mark.needs("pickle")
async def test_classes_and_functions_defined_by_the_program_pickle(backend: Backend) -> None:
    await backend.execute(
        "import pickle\nclass Point:\n    def __init__(self, x):\n        self.x = x\n"
    )
    await backend.execute("def double(v):\n    return 2 * v\n", first_line=5)
    code = "p = pickle.loads(pickle.dumps(Point(3)))\nf = pickle.loads(pickle.dumps(double))\nprint(f(p.x))\n"
    result = await backend.execute(code, first_line=7)
    assert result.ok, result.error
    assert result.stdout == "6\n"


@pytest.mark.needs("script_argv")
async def test_argv_looks_like_a_scripts(backend: Backend) -> None:
    result = await backend.execute("import sys\nprint(len(sys.argv), type(sys.argv[0]).__name__)\n")
    assert result.stdout == "1 str\n"


async def test_reset_gives_a_fresh_namespace(backend: Backend) -> None:
    await backend.execute("secret = 1\n")
    await backend.reset()
    result = await backend.execute("print('secret' in globals(), __name__)\n")
    assert result.stdout == "False __main__\n"


async def test_close_is_idempotent(make_backend: MakeBackend) -> None:
    backend = await make_backend()
    await backend.execute("pass")
    await backend.close()
    await backend.close()


# ---------------------------------------------------------------------------- errors

PROGRAMS = {
    "error in a function defined chunks earlier": (
        "import math\n"
        "\n"
        "def area(r):\n"
        "    return math.pi * r * r\n"
        "\n"
        "def bad(x):\n"
        "    return area(x) / 0\n"
        "\n"
        "print(round(area(2), 3))\n"
        "total = 0\n"
        "for i in range(3):\n"
        "    total += i\n"
        "print(total)\n"
        "bad(3)\n"
        "print('never')\n",
        [1, 3, 6, 9, 10, 11, 13, 14, 15],
        7,
    ),
    "error in a class body": (
        "x = 1\nclass A:\n    y = 2\n    z = undefined_name\n",
        [1, 2],
        4,
    ),
    "chained exception": (
        "def parse(s):\n"
        "    try:\n"
        "        return int(s)\n"
        "    except ValueError as e:\n"
        "        raise RuntimeError('bad input') from e\n"
        "\n"
        "values = ['1', '2']\n"
        "values.append('x')\n"
        "out = [parse(v) for v in values]\n",
        [1, 7, 8, 9],
        5,
    ),
    "error after comments and blank lines": (
        "# a comment\n\nx = [1, 2, 3]\n\n\n# out of range next\nprint(x[10])\n",
        [1, 6],
        7,
    ),
    "future import applies to later chunks": (
        "from __future__ import annotations\n"
        "\n"
        "def f(x: Undefined) -> int:\n"
        "    return 1\n"
        "\n"
        "print(f.__annotations__['x'])\n"
        "f.missing\n",
        [1, 3, 6, 7],
        7,
    ),
    "syntax error in a later chunk": (
        "print('before')\nx = 1\ny = )\n",
        [1, 2],
        3,
    ),
}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
async def test_split_and_whole_program_report_the_same_error(backend: Backend, name: str) -> None:
    program, starts, lineno = PROGRAMS[name]
    whole_out, whole = await run_chunks(backend, [(program, 1)])
    await backend.reset()
    split_out, eager = await run_chunks(backend, split(program, starts))
    assert whole is not None and eager is not None
    assert eager == whole
    assert eager.lineno == lineno
    if eager.ename != "SyntaxError":
        assert whole_out == split_out
        assert eager.traceback.startswith("Traceback (most recent call last):\n")
        source_line = program.splitlines()[lineno - 1].strip()
        assert f"line {lineno}, in " in eager.traceback
        assert source_line in eager.traceback
        assert "eager" not in eager.traceback  # only the program's frames


async def test_only_the_programs_first_statement_is_its_docstring(backend: Backend) -> None:
    await backend.execute('"""The module docstring."""\n')
    result = await backend.execute('"""Just a string."""\nprint(__doc__)\n', first_line=2)
    assert result.stdout == "The module docstring.\n"


async def test_a_byte_order_mark_at_the_top_is_skipped(backend: Backend) -> None:
    result = await backend.execute("\ufeffprint('bom')\n")
    assert (result.stdout, result.error) == ("bom\n", None)


async def test_an_error_names_type_message_and_program_line(backend: Backend) -> None:
    result = await backend.execute("a = 1\nb = 0\nc = a / b\n", first_line=10)
    assert result.error is not None
    assert (result.error.ename, result.error.evalue) == ("ZeroDivisionError", "division by zero")
    assert result.error.lineno == 12
    assert result.error.kind == "runtime"
    assert 'File "<program>", line 12, in <module>\n    c = a / b\n' in result.error.traceback


async def test_a_syntax_error_names_the_program_line(backend: Backend) -> None:
    result = await backend.execute("x = 1\ny = (1,\n     2))\n", first_line=20)
    assert result.error is not None
    assert result.error.ename == "SyntaxError"
    assert result.error.lineno == 22


async def test_an_error_inside_a_function_names_the_calling_statement(backend: Backend) -> None:
    defined = await backend.execute("def f(v):\n    return 1 / v\n", first_line=3)
    assert defined.ok
    code = "x = 1\ntotal = (\n    f(0)\n    + x\n)\n"
    result = await backend.execute(code, first_line=5)
    assert result.error is not None and result.error.ename == "ZeroDivisionError"
    assert result.error.lineno == 4  # inside f
    assert result.error.statement_line == 6  # the top-level statement that called it


async def test_a_decorated_definitions_statement_starts_at_its_decorator(
    backend: Backend,
) -> None:
    code = "def deco(g):\n    raise ValueError('no')\n\n@deco\ndef h():\n    pass\n"
    result = await backend.execute(code)
    assert result.error is not None and result.error.ename == "ValueError"
    assert (result.error.lineno, result.error.statement_line) == (2, 4)


async def test_a_syntax_errors_statement_line_is_its_line(backend: Backend) -> None:
    result = await backend.execute("x = 1\ny = (1,\n     2))\n", first_line=20)
    assert result.error is not None and result.error.kind == "syntax"
    assert result.error.statement_line == result.error.lineno == 22


async def test_state_before_an_error_is_kept(backend: Backend) -> None:
    result = await backend.execute("kept = 'yes'\nraise ValueError('boom')\n")
    assert result.error is not None and result.error.ename == "ValueError"
    assert result.error.evalue == "boom"
    assert (await backend.execute("print(kept)\n")).stdout == "yes\n"


async def test_outputs_before_an_error_are_returned(backend: Backend) -> None:
    result = await backend.execute("print('partial')\n1 / 0\n")
    assert result.stdout == "partial\n"
    assert result.error is not None


# Programs of the equivalence corpus light enough to run twice per backend (no pandas/numpy,
# no files written into the working directory), and the failing ones that parse.
_TESTS = Path(__file__).resolve().parent.parent
_HEAVY = ("numpy", "pandas", "matplotlib", "open(")
LIGHT_CORPUS = [
    p
    for p in sorted([*(_TESTS / "corpus").glob("*.py"), *(_TESTS / "corpus_failing").glob("*.py")])
    if not any(word in p.read_text("utf-8") for word in _HEAVY)
]


def statement_chunks(program: str) -> list[tuple[str, int]]:
    """The program cut before each top-level statement that starts its own line."""
    starts = [1]
    previous_end = 0
    for node in ast.parse(program.removeprefix("\ufeff")).body:
        first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
        if first > previous_end and first > starts[-1]:
            starts.append(first)
        previous_end = node.end_lineno or node.lineno
    return split(program, starts)


def read_program(path: Path) -> str:
    return path.read_bytes().decode("utf-8")


async def test_corpus_programs_split_at_every_statement_equal_the_whole(
    backend: Backend, backend_name: str
) -> None:
    # One session for the whole corpus (reset in between): starting a kernel per program
    # would cost a second each.
    lacks = BACKEND_CASES[backend_name].lacks
    checked = []
    for path in LIGHT_CORPUS:
        program = read_program(path)
        if "asyncio.run" in program and "own_process" in lacks:
            continue  # the code would run inside the caller's event loop
        try:
            chunks = statement_chunks(program)
        except SyntaxError:
            continue  # the chunker reports it, not the backend
        await backend.reset()
        whole = await run_chunks(backend, [(program, 1)])
        await backend.reset()
        eager = await run_chunks(backend, chunks)
        assert eager == whole, path.name
        checked.append(path.name)
    assert len(checked) >= 20


# ---------------------------------------------------------------------------- stopping


@pytest.mark.needs("interrupt")
async def test_interrupt_stops_running_code_and_keeps_state(backend: Backend) -> None:
    await backend.execute("x = 'still here'\n")
    async with started_signal() as (signal_code, started):
        task = asyncio.create_task(backend.execute(signal_code + "while True:\n    pass\n"))
        await asyncio.wait_for(started.wait(), 30)
        await backend.interrupt()
        result = await asyncio.wait_for(task, 30)
    assert result.error is not None
    assert result.error.ename == "KeyboardInterrupt"
    assert (await backend.execute("print(x)\n")).stdout == "still here\n"


async def test_timeout_stops_the_code_and_keeps_the_session(backend: Backend) -> None:
    await backend.execute("x = 'still here'\n")
    result = await backend.execute(
        "import itertools\nfor i in itertools.count():\n    pass\n", timeout_s=0.5
    )
    assert result.error is not None
    assert (result.error.kind, result.error.ename) == ("timeout", "TimeoutError")
    assert "timed out" in result.error.evalue
    assert "state is kept" in result.error.evalue
    assert result.error.statement_line == 2  # where the loop was stopped
    assert (await backend.execute("print(x)\n")).stdout == "still here\n"


@pytest.mark.needs("escalation")
async def test_timeout_escalates_when_the_code_swallows_the_interrupt(
    make_backend: MakeBackend,
) -> None:
    backend = await make_backend(restart_grace_s=0.3)
    code = (
        "import itertools\n"
        "while True:\n"
        "    try:\n"
        "        for i in itertools.count():\n"
        "            pass\n"
        "    except KeyboardInterrupt:\n"
        "        pass\n"
    )
    result = await backend.execute(code, timeout_s=0.3)
    assert result.error is not None
    assert (result.error.kind, result.error.ename) == ("timeout", "TimeoutError")
    after = await backend.execute("print('usable')\n")
    assert after.ok and after.stdout == "usable\n"


@pytest.mark.needs("crash")
@pytest.mark.parametrize(
    "code",
    [
        "import os\nos._exit(3)\n",
        "import ctypes\nctypes.string_at(0)\n",
        "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n",
    ],
    ids=["os._exit", "segfault", "sigkill"],
)
async def test_a_crash_is_reported_and_a_fresh_session_follows(
    backend: Backend, code: str, lacks: frozenset[str]
) -> None:
    await backend.execute("x = 1\n")
    result = await backend.execute("print('last words', flush=True)\n" + code)
    assert result.error is not None
    assert result.error.kind == "crash"
    if "crash_output" not in lacks:
        assert result.stdout == "last words\n"
    after = await backend.execute("print('x' in globals())\n")
    assert after.ok and after.stdout == "False\n"


# ---------------------------------------------------------------------------- output


async def test_output_over_the_cap_is_truncated_with_a_marker(make_backend: MakeBackend) -> None:
    backend = await make_backend(max_output_bytes=1000)
    result = await backend.execute("for i in range(10000):\n    print('0123456789')\n")
    assert result.ok and result.truncated
    assert result.stdout.startswith("0123456789\n" * 90)
    assert "[eager: output truncated after 1000 bytes" in result.stdout
    assert len(result.stdout) < 1200
    after = await backend.execute("print('small')\n")
    assert (after.stdout, after.truncated) == ("small\n", False)


async def test_a_flood_of_output_does_not_block(make_backend: MakeBackend) -> None:
    backend = await make_backend(max_output_bytes=100)
    result = await backend.execute(
        "import sys\nfor i in range(2000):\n    sys.stdout.write('x' * 10000)\n"
    )
    assert result.ok and result.truncated


@pytest.mark.needs("fd_output")
async def test_output_of_the_file_descriptors_is_captured(backend: Backend) -> None:
    result = await backend.execute(
        "import os\nos.write(1, b'fd1\\n')\nos.write(2, b'fd2\\n')\nos.system('echo shell')\n"
    )
    assert result.stdout == "fd1\nshell\n"
    assert result.stderr == "fd2\n"


@pytest.mark.needs("fd_output")
async def test_undecodable_bytes_do_not_break_anything(backend: Backend) -> None:
    result = await backend.execute("import os\nos.write(1, b'a\\xff\\xfeb\\n')\n")
    assert result.ok
    assert result.stdout == "a\ufffd\ufffdb\n"


async def test_lone_surrogates_do_not_break_anything(backend: Backend) -> None:
    result = await backend.execute("print('x\\udcff\\ud800y')\nraise ValueError('bad \\udc80')\n")
    assert_encodable(result)
    assert result.stdout.startswith("x") and result.stdout.endswith("y\n")
    assert result.error is not None and result.error.ename == "ValueError"
    assert (await backend.execute("print('fine')\n")).stdout == "fine\n"


async def test_unicode_round_trips(backend: Backend) -> None:
    result = await backend.execute("s = 'héllo ✓ 🐍'\nprint(s)\n")
    assert result.stdout == "héllo ✓ 🐍\n"


async def test_input_fails_at_once(backend: Backend) -> None:
    # EOFError on the REPL and the fake (stdin is empty); a Jupyter kernel without a stdin
    # channel raises StdinNotImplementedError. Either way: an error, never a hang.
    result = await backend.execute("x = 1\ninput()\n")
    assert result.error is not None
    assert result.error.lineno == 2
