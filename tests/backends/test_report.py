"""What all backends report alike: the one output capper and the one timeout error."""

from __future__ import annotations

import pytest

from eager import ExecError
from eager.backends._report import (
    MAX_OUTPUT_BYTES,
    STATE_KEPT,
    TRUNCATION_MARKER,
    OutputCap,
    exec_result,
    timeout_error,
)


def test_under_the_cap_everything_is_kept_without_a_marker() -> None:
    cap = OutputCap(10)
    cap.add(b"abc")
    cap.add_text("def\n")
    captured = cap.freeze()
    assert (captured.text(), captured.truncated) == ("abcdef\n", False)


@pytest.mark.parametrize("cap_bytes", [0, 1, 5, 9])
def test_over_the_cap_bytes_are_counted_and_marked(cap_bytes: int) -> None:
    cap = OutputCap(cap_bytes)
    for part in (b"0123", b"4567", b"89"):
        cap.add(part)
    captured = cap.freeze()
    assert captured.truncated
    dropped = 10 - cap_bytes
    marker = TRUNCATION_MARKER.format(kept=cap_bytes, dropped=dropped)
    assert captured.text() == "0123456789"[:cap_bytes] + marker


def test_no_cap_keeps_everything() -> None:
    cap = OutputCap(None)
    cap.add(b"x" * (MAX_OUTPUT_BYTES + 1))
    assert not cap.freeze().truncated


def test_text_is_counted_in_the_repls_encoding() -> None:
    cap = OutputCap(None)
    cap.add_text("é\udcff")  # 2 bytes, then a lone surrogate as a 6-byte escape
    assert cap.freeze().total == 8
    assert cap.freeze().text() == "é\\udcff"


def test_segments_merge_with_their_dropped_counts() -> None:
    first, second = OutputCap(2), OutputCap(2)
    first.add(b"abcd")
    second.add(b"ef")
    merged = OutputCap(3)
    merged.add_captured(first.freeze())
    merged.add_captured(second.freeze())
    assert merged.freeze().text() == "abe" + TRUNCATION_MARKER.format(kept=3, dropped=3)


def test_a_result_is_truncated_when_either_stream_is() -> None:
    out, err = OutputCap(1), OutputCap(1)
    out.add(b"o")
    err.add(b"ee")
    result = exec_result(out.freeze(), err.freeze(), None, 0.5)
    assert (result.stdout, result.truncated, result.duration_s) == ("o", True, 0.5)


def test_the_timeout_error_says_where_the_code_stopped() -> None:
    where = ExecError("KeyboardInterrupt", "", "Traceback...\n", 7, statement_line=5)
    error = timeout_error(1.5, where=where)
    assert (error.kind, error.ename) == ("timeout", "TimeoutError")
    assert error.evalue == f"execution timed out after 1.5 s and {STATE_KEPT}"
    assert (error.traceback, error.lineno, error.statement_line) == ("Traceback...\n", 7, 5)
    bare = timeout_error(2, "was killed", where=None)
    assert (bare.evalue, bare.lineno, bare.statement_line) == (
        "execution timed out after 2 s and was killed",
        None,
        None,
    )
