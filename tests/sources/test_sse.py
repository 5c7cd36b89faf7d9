"""The SSE wire protocol: incremental decoding split anywhere, encoding, chunk parsing."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eager import StreamError
from eager.sources._sse import (
    DONE,
    SSEDecoder,
    SSEEvent,
    content_chunk,
    encode_event,
    final_chunk,
    parse_chunk,
    tool_call_chunk,
    usage_chunk,
)


def decode_all(pieces: list[bytes]) -> list[SSEEvent]:
    decoder = SSEDecoder()
    events = []
    for piece in pieces:
        events.extend(decoder.feed(piece))
    events.extend(decoder.close())
    return events


STREAM = (
    ": keep-alive comment\r\n"
    "data: first\r\n\r\n"
    "event: ping\ndata: {}\n\n"
    "data: line one\rdata: line two\r\r"
    "id: 7\nretry: 1500\ndata:no-space\n\n"
    "data: é ünïcode ✓\n\n"
    "data: [DONE]\n\n"
).encode()
EXPECTED = [
    SSEEvent("first"),
    SSEEvent("{}", event="ping"),
    SSEEvent("line one\nline two"),
    SSEEvent("no-space", id="7", retry_ms=1500),
    SSEEvent("é ünïcode ✓", id="7"),  # the last event id persists
    SSEEvent("[DONE]", id="7"),
]


def test_a_whole_stream_decodes_to_its_events() -> None:
    assert decode_all([STREAM]) == EXPECTED


@pytest.mark.parametrize("cut", range(1, len(STREAM)))
def test_a_stream_cut_anywhere_decodes_the_same(cut: int) -> None:
    # Cuts fall inside \r\n pairs and inside multi-byte UTF-8 characters too.
    assert decode_all([STREAM[:cut], STREAM[cut:]]) == EXPECTED


def test_byte_by_byte_decoding_gives_the_same_events() -> None:
    assert decode_all([STREAM[i : i + 1] for i in range(len(STREAM))]) == EXPECTED


def test_an_event_without_its_blank_line_is_dropped_and_flagged() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: complete\n\ndata: cut") == [SSEEvent("complete")]
    assert decoder.close() == []
    assert decoder.partial


def test_a_runaway_line_is_a_stream_error() -> None:
    decoder = SSEDecoder()
    with pytest.raises(StreamError, match="longer than"):
        for _ in range(9):
            decoder.feed(b"x" * (1024 * 1024))


@given(
    st.lists(
        st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)
        .map(lambda s: s.replace("\r", "").replace("\n", " "))
        .filter(lambda s: s.strip() != ""),
        max_size=8,
    ),
    st.lists(st.integers(min_value=0, max_value=10_000), max_size=10),
)
def test_encoded_events_round_trip_under_any_split(datas: list[str], cuts: list[int]) -> None:
    wire = b"".join(encode_event(d) for d in datas)
    points = sorted({c % (len(wire) + 1) for c in cuts})
    pieces = [wire[a:b] for a, b in zip([0, *points], [*points, len(wire)], strict=True)]
    assert [e.data for e in decode_all(pieces)] == datas


def test_multiline_data_is_encoded_as_several_data_lines() -> None:
    assert encode_event("a\nb") == b"data: a\ndata: b\n\n"
    assert decode_all([encode_event("a\nb")]) == [SSEEvent("a\nb")]
    assert encode_event({"k": 1}, event="x") == b'event: x\ndata: {"k":1}\n\n'


def test_content_chunks_parse_to_content_deltas() -> None:
    first = parse_chunk(json.dumps(content_chunk("c", "m", 0, "print(", role=True)))
    assert first.content == "print(" and first.tool_calls == () and first.finish_reason is None
    end = parse_chunk(json.dumps(final_chunk("c", "m", 0, "stop")))
    assert end.content == "" and end.finish_reason == "stop"


def test_tool_call_chunks_parse_with_name_on_the_first_piece() -> None:
    head = parse_chunk(json.dumps(tool_call_chunk("c", "m", 0, "", name="python", call_id="k")))
    assert head.tool_calls[0].name == "python" and head.tool_calls[0].id == "k"
    piece = parse_chunk(json.dumps(tool_call_chunk("c", "m", 0, '{"code": "x')))
    assert piece.tool_calls[0].arguments == '{"code": "x' and piece.tool_calls[0].name is None
    assert piece.content == ""


def test_the_usage_chunk_has_no_choices_and_the_counts() -> None:
    delta = parse_chunk(json.dumps(usage_chunk("c", "m", 0, prompt_tokens=3, completion_tokens=40)))
    assert delta.usage is not None and delta.usage.completion_tokens == 40
    assert delta.usage.total_tokens == 43 and delta.content == ""


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ('{"choices": [{"delta": {"content": "x"', "malformed event JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"choices": 3}', "not a list"),
        ('{"choices": [{"index": 0, "delta": "x"}]}', "not an object"),
        ('{"error": {"message": "overloaded"}}', "overloaded"),
    ],
)
def test_malformed_chunks_are_stream_errors(data: str, match: str) -> None:
    with pytest.raises(StreamError, match=match):
        parse_chunk(data)


def test_null_fields_of_real_servers_are_tolerated() -> None:
    data = '{"choices": [{"index": 0, "delta": {"role": "assistant", "content": null, "tool_calls": null}, "finish_reason": null}], "usage": null}'
    delta = parse_chunk(data)
    assert delta.content == "" and delta.tool_calls == () and delta.usage is None


def test_done_is_the_terminator() -> None:
    assert decode_all([encode_event(DONE)]) == [SSEEvent("[DONE]")]
