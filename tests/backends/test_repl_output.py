"""Cutting a child's output stream into per-invocation segments, with a cap."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eager.backends._report import clean_text
from eager.backends.repl._output import OutputStream

SENTINEL = b"\x00[end-1234]"


def feed_in_pieces(stream: OutputStream, data: bytes, cuts: list[int]) -> None:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    for a, b in itertools.pairwise(points):
        stream.feed(data[a:b])


def segments(stream: OutputStream) -> list[bytes]:
    out = []
    while (segment := stream.pop()) is not None:
        out.append(segment.data)
    return out


@given(
    st.lists(st.binary(max_size=40), min_size=1, max_size=6),
    st.lists(st.integers(min_value=0, max_value=10_000), max_size=12),
)
def test_any_split_of_the_stream_gives_the_same_segments(
    parts: list[bytes], cuts: list[int]
) -> None:
    parts = [p.replace(b"\x00", b"\x01") for p in parts]  # no sentinel inside the output
    stream = OutputStream(SENTINEL, cap_bytes=None)
    feed_in_pieces(stream, SENTINEL.join(parts) + SENTINEL, cuts)
    assert segments(stream) == parts


@given(st.binary(max_size=200), st.lists(st.integers(min_value=0, max_value=300), max_size=8))
def test_output_with_nul_bytes_and_sentinel_prefixes_is_kept(data: bytes, cuts: list[int]) -> None:
    data = data.replace(SENTINEL, b"") + SENTINEL[:5]
    stream = OutputStream(SENTINEL, cap_bytes=None)
    feed_in_pieces(stream, data + SENTINEL, cuts)
    assert segments(stream) == [data]


def test_the_cap_keeps_the_first_bytes_and_counts_the_rest() -> None:
    stream = OutputStream(SENTINEL, cap_bytes=10)
    for _ in range(100):
        stream.feed(b"0123456789abcdef")
    stream.feed(SENTINEL + b"next")
    first = stream.pop()
    assert first is not None
    assert (first.data, first.total, first.truncated) == (b"0123456789", 1600, True)
    assert (
        first.text()
        == "0123456789\n[eager: output truncated after 10 bytes; 1590 more bytes discarded]\n"
    )
    stream.feed_eof()
    assert stream.take_current().data == b"next"


def test_take_current_merges_what_was_not_collected() -> None:
    stream = OutputStream(SENTINEL, cap_bytes=None)
    stream.feed(b"a" + SENTINEL + b"b" + SENTINEL + b"c\x00[en")
    stream.feed_eof()
    assert stream.take_current().data == b"abc\x00[en"


def test_undecodable_bytes_are_replaced() -> None:
    stream = OutputStream(SENTINEL, cap_bytes=None)
    stream.feed(b"a\xffb" + SENTINEL)
    segment = stream.pop()
    assert segment is not None and segment.text() == "a\ufffdb"


def test_a_sentinel_whose_first_byte_repeats_is_refused() -> None:
    with pytest.raises(ValueError, match="first byte"):
        OutputStream(b"\x00ab\x00", cap_bytes=None)


async def test_next_segment_gives_up_after_its_timeout() -> None:
    stream = OutputStream(SENTINEL, cap_bytes=None)
    assert await stream.next_segment(0.01) is None
    stream.feed(b"x" + SENTINEL)
    segment = await stream.next_segment(0.01)
    assert segment is not None and segment.data == b"x"


def test_clean_text_escapes_lone_surrogates() -> None:
    assert clean_text("ok ✓") == "ok ✓"
    assert clean_text("a\udcffb") == "a\\udcffb"
