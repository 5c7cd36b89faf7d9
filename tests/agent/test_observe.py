"""Observations: output cut to a budget (head and tail kept, the cut marked), errors with lines."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eager import FakeBackend, ScriptedSource, UsageError, run
from eager._result import (
    Display,
    ExecError,
    LogItem,
    Metrics,
    RichOutput,
    RunResult,
    StreamText,
)
from eager.agent import ImagePart, ObservationBudget, cut_middle, observation, observe
from eager.agent._history import format_bytes


def test_text_within_budget_is_untouched() -> None:
    assert cut_middle("abc", 3) == "abc"


def test_long_text_keeps_head_and_tail_and_marks_the_cut() -> None:
    text = "".join(f"line {i}\n" for i in range(1000))
    out = cut_middle(text, 200, 0.5)
    assert out.startswith("line 0\n") and out.endswith("line 999\n")
    removed = len(text) - 200
    assert f"[... {removed} characters cut ...]" in out
    assert len(out) < 300


def test_the_budget_is_checked() -> None:
    with pytest.raises(UsageError):
        ObservationBudget(max_chars=0)
    with pytest.raises(UsageError):
        ObservationBudget(head_fraction=2.0)


async def _run(code: str, **kw: object) -> object:
    return await run(ScriptedSource([code], format="code"), FakeBackend(), **kw)  # type: ignore[arg-type]


async def test_an_observation_holds_stdout_stderr_and_the_error_with_its_program_line() -> None:
    result = await run(
        ScriptedSource(
            ["import sys\n", "print('hi')\n", "print('warn', file=sys.stderr)\n", "x = 1/0\n"]
        ),
        FakeBackend(),
    )
    text = observe(result)
    assert "stdout:\nhi\n" in text and "stderr:\nwarn\n" in text
    assert "error: ZeroDivisionError at line 4: division by zero" in text
    assert 'File "<program>", line 4' in text


async def test_huge_output_is_cut_to_the_budget() -> None:
    result = await run(
        ScriptedSource(["for i in range(5000):\n    print('row', i)\n"], format="code"),
        FakeBackend(),
    )
    text = observe(result, ObservationBudget(max_chars=300))
    assert "row 0\n" in text and "row 4999\n" in text and "characters cut" in text
    assert len(text) < 500


async def test_an_interrupted_run_is_observed_as_the_serial_run_of_the_same_program() -> None:
    lines = [f"print({i})\n" for i in range(50)]
    program = [*lines[:3], "boom()\n", *lines[3:]]
    eager = await run(ScriptedSource(program), FakeBackend())
    serial = await run(ScriptedSource(program), FakeBackend(), mode="serial")
    assert eager.interrupted and not serial.interrupted
    assert "NameError at line 4" in observe(eager)
    assert observe(eager) == observe(serial)


async def test_a_syntax_error_found_while_streaming_is_named() -> None:
    result = await run(
        ScriptedSource(["x = 1\n", "y = (1,\n", "z = 2)) +\n", *["a = 1\n"] * 20]), FakeBackend()
    )
    text = observe(result)
    assert "error: SyntaxError" in text and "syntax error" in text


async def test_sealed_statements_that_never_ran_are_named() -> None:
    code = ["x = 1\n", "open('out.txt', 'w').write('x')\n", "y = 2\n", "def f(:\n"]
    result = await run(ScriptedSource(code), FakeBackend())
    text = observe(result)
    assert "Not run: lines 2-" in text


async def test_a_run_without_output_says_so() -> None:
    result = await run(ScriptedSource(["x = 1\n"]), FakeBackend())
    assert observe(result) == "(no output)"


# Notebook display: the observation is the cell's output list as text, images as parts.


def _png(width: int = 2, height: int = 1) -> str:
    """A real PNG (RGB, black), base64 as in a MIME bundle."""
    import base64
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = b"".join(b"\0" + b"\0\0\0" * width for _ in range(height))
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
    return base64.b64encode(png + chunk(b"IEND", b"")).decode()


def _cell(
    log: list[LogItem],
    *,
    display: Display = "notebook",
    code: str = "x\n",
) -> RunResult:
    """The result of one cell whose output list is ``log`` (as a backend in notebook mode)."""
    error = next((i for i in log if isinstance(i, ExecError)), None)
    outputs = tuple(i for i in log if isinstance(i, RichOutput))
    streams = [i for i in log if isinstance(i, StreamText)]
    return RunResult(
        mode="eager",
        code=code,
        stdout="".join(s.text for s in streams if s.name == "stdout"),
        stderr="".join(s.text for s in streams if s.name == "stderr"),
        error=error,
        interrupted=False,
        failed_chunk=None,
        chunks=(),
        batches=(),
        decisions=(),
        events=(),
        metrics=Metrics(None, 0.0, 0.0, 0.0, 0.0, 0, 0, 0, None),
        outputs=outputs,
        log=tuple(log),
        display=display,
    )


def _value(text: str, **data: str) -> RichOutput:
    bundle = {"text/plain": text, **{k.replace("_", "/", 1): v for k, v in data.items()}}
    return RichOutput(bundle, output_type="execute_result", execution_count=1)


def _figure(png: str, path: str | None = None) -> RichOutput:
    return RichOutput({"image/png": png, "text/plain": "<Figure size 640x480 with 1 Axes>"}, path)


RECORDINGS = Path(__file__).parent.parent / "data" / "dabench_gpt4o_mini_recordings.jsonl"


def _recorded_bodies() -> list[str]:
    """The text inside the fence of each recorded successful observation."""
    bodies = []
    for line in RECORDINGS.read_text().splitlines():
        for turn in json.loads(line)["turns"]:
            seen = turn.get("observation", "")
            head = "STDOUT:\n```python\n"
            if seen.startswith(head):
                bodies.append(seen[len(head) :].removesuffix("\n```"))
    return bodies


def test_a_displayed_value_is_observed_verbatim_as_the_recorded_notebook_shows_it() -> None:
    bodies = _recorded_bodies()
    assert len(bodies) >= 4
    for body in bodies:  # a DataFrame's text/plain, np.float64(34.65), a tuple...
        html = "<table>...</table>"
        assert observe(_cell([_value(body, text_html=html)])) == body


def test_printed_text_and_the_value_join_as_a_notebook_shows_them() -> None:
    # DA-Agent joins the cell's outputs with newlines: `data.info()` printed, then the value.
    info = "<class 'pandas.core.frame.DataFrame'>\nmemory usage: 73.3+ KB\n"
    result = _cell([StreamText("stdout", info), _value("(None, 1)")])
    assert observe(result) == info + "\n" + "(None, 1)"


def test_outputs_keep_their_order_and_the_error_comes_last() -> None:
    error = ExecError("ValueError", "bad", "Traceback (most recent call last):\nValueError: bad\n")
    log: list[LogItem] = [
        StreamText("stdout", "before\n"),
        RichOutput({"text/plain": "'shown'"}),
        StreamText("stderr", "careful\n"),
        StreamText("stdout", "after\n"),
        error,
    ]
    text = observe(_cell(log))
    assert text == (
        "before\n\n'shown'\ncareful\n\nafter\n\nTraceback (most recent call last):\nValueError: bad"
    )


def test_a_figure_is_an_image_part_named_in_place() -> None:
    png = _png()
    seen = observation(_cell([_value("Text(0.5, 1.0, 't')"), _figure(png, "/tmp/f.png")]))
    assert seen.text == (
        "Text(0.5, 1.0, 't')\n<Figure size 640x480 with 1 Axes>\n"
        f"[image 1: image/png, {len(base64.b64decode(png))} B, saved to /tmp/f.png]"
    )
    assert seen.images == (ImagePart("image/png", png, "/tmp/f.png"),)
    assert seen.images[0].decoded().startswith(b"\x89PNG")
    assert seen.images[0].data_url == f"data:image/png;base64,{png}"


def test_the_budget_bounds_images_and_names_what_it_drops() -> None:
    small, big = _png(2, 1), _png(400, 400)
    size = ImagePart("image/png", big).size_bytes
    log: list[LogItem] = [_figure(small), _figure(big), _figure(small), _figure(small)]
    seen = observation(_cell(log), ObservationBudget(max_images=2, max_image_bytes=size - 1))
    assert len(seen.images) == 2
    assert f"not shown (over {format_bytes(size - 1)} per image)" in seen.text
    assert "[image 2: image/png" in seen.text
    assert "not shown (over 2 images per observation)" in seen.text
    total = ObservationBudget(max_total_image_bytes=ImagePart("image/png", small).size_bytes)
    seen = observation(_cell([_figure(small), _figure(small)]), total)
    assert len(seen.images) == 1 and "of images per observation)" in seen.text
    none = observation(_cell([_figure(small)]), ObservationBudget(max_images=0))
    assert none.images == () and "not shown" in none.text


def test_an_image_type_no_model_takes_is_named_only() -> None:
    svg = RichOutput({"image/svg+xml": "<svg/>", "text/plain": "<Drawing>"})
    seen = observation(_cell([svg]))
    assert seen.images == ()
    assert seen.text == "<Drawing>\n[image/svg+xml: not shown (not an image type the model takes)]"


def test_one_bundle_is_one_image_in_the_preferred_type() -> None:
    both = RichOutput({"image/jpeg": _png(), "image/png": _png(3, 1), "text/plain": "<Image>"})
    seen = observation(_cell([both]))
    assert [i.mime for i in seen.images] == ["image/png"]


def test_a_script_display_run_keeps_the_labelled_format_and_sends_its_images() -> None:
    png = _png()
    result = _cell([StreamText("stdout", "hi\n"), _figure(png)], display="script")
    seen = observation(result)
    assert seen.text.startswith("stdout:\nhi\n\noutput 1: image/png\n<Figure size 640x480")
    assert len(seen.images) == 1


def test_notebook_text_and_values_are_cut_to_the_budget() -> None:
    rows = "".join(f"row {i}\n" for i in range(2000))
    text = observe(_cell([_value(rows)]), ObservationBudget(max_chars=300))
    assert text.startswith("row 0\n") and "characters cut" in text and len(text) < 400


def test_an_empty_cell_says_so_in_both_displays() -> None:
    assert observe(_cell([])) == observe(_cell([], display="script")) == "(no output)"


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["stdout", "stderr", "value"]), st.text(min_size=1, max_size=40)),
        max_size=8,
    )
)
def test_every_output_appears_verbatim_and_in_order(items: list[tuple[str, str]]) -> None:
    log: list[LogItem] = [
        _value(text) if kind == "value" else StreamText(kind, text)  # type: ignore[arg-type]
        for kind, text in items
    ]
    text = observe(_cell(log))
    if not items:
        assert text == "(no output)"
        return
    assert text == "\n".join(t for _, t in items)
