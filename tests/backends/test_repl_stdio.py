"""The stdio mode's frame decoder (pure): fd 1, fd 2 and replies multiplexed on one stream."""

from __future__ import annotations

import json
import struct
from typing import Any

from eager.backends.repl._stdio import MAX_FRAME_BYTES, FrameDecoder


def frame(channel: bytes, payload: bytes) -> bytes:
    return channel + struct.pack(">I", len(payload)) + payload


def decode(*pieces: bytes) -> tuple[list[tuple[int, bytes]], list[dict[str, Any]], FrameDecoder]:
    outputs: list[tuple[int, bytes]] = []
    replies: list[dict[str, Any]] = []
    decoder = FrameDecoder(lambda fd, data: outputs.append((fd, data)), replies.append)
    for piece in pieces:
        decoder.feed(piece)
    return outputs, replies, decoder


STREAM = (
    frame(b"1", b"hello\n")
    + frame(b"2", b"warn\n")
    + frame(b"r", json.dumps({"op": "done", "error": None}).encode() + b"\n")
    + frame(b"1", b"")
    + frame(b"1", "é\x00".encode())
)


def test_frames_come_out_in_order_whatever_the_cuts() -> None:
    whole = decode(STREAM)
    assert whole[0] == [(1, b"hello\n"), (2, b"warn\n"), (1, b""), (1, "é\x00".encode())]
    assert whole[1] == [{"op": "done", "error": None}]
    for cut in range(len(STREAM) + 1):
        parts = decode(STREAM[:cut], STREAM[cut:])
        assert parts[0] == whole[0] and parts[1] == whole[1], cut
    bytewise = decode(*(STREAM[i : i + 1] for i in range(len(STREAM))))
    assert bytewise[0] == whole[0] and bytewise[1] == whole[1]


def test_garbage_on_the_stream_breaks_it_and_stops_decoding() -> None:
    outputs, replies, decoder = decode(frame(b"1", b"ok"), b"Xgarbage", frame(b"r", b"{}"))
    assert outputs == [(1, b"ok")] and replies == []
    assert decoder.broken is not None and "malformed" in decoder.broken


def test_an_oversized_frame_or_a_reply_that_is_not_an_object_breaks_it() -> None:
    too_big = b"1" + struct.pack(">I", MAX_FRAME_BYTES + 1)
    assert decode(too_big)[2].broken is not None
    assert decode(frame(b"r", b"[1, 2]"))[2].broken == "a reply that is not a JSON object"
