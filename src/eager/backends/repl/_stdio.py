"""The REPL child's stdio mode, parent side: one stream of frames carries fd 1, fd 2 and replies.

Behind a command (``bwrap …``, ``docker exec -i …``, ``ssh host …``) only the child's stdin and
stdout reach the parent, so the worker frames everything on its stdout (see
:mod:`eager.backends.repl._worker`): one byte of channel (``1``, ``2``, ``r``), a 4-byte
big-endian length, the payload. The command's own stderr (bwrap's complaints, a remote shell's
banner) is kept apart as diagnostics.

The stream is no integrity boundary: code running in the worker's process can write on it (and
so forge its own replies, as it can print anything); the parent only needs to stay robust.
Garbage breaks the stream: the session is killed and restarted, and the sandbox (not the
stream) keeps the code away from everything else.
"""

from __future__ import annotations

import asyncio
import json
import struct
from collections.abc import Callable
from typing import Any

from ._output import OutputStream

__all__ = ["MAX_FRAME_BYTES", "FrameDecoder"]

#: Longest frame accepted; a longer one (or an unknown channel) breaks the protocol.
MAX_FRAME_BYTES = 1 << 26

_HEADER = struct.Struct(">cI")


class FrameDecoder:
    """Cuts the child's stdout into frames and hands each payload on (pure, synchronous).

    ``on_output(fd, data)`` gets the bytes of fd 1 or 2, ``on_reply(message)`` each reply. A
    malformed stream (garbage written on the protocol's fd, say) sets :attr:`broken` with the
    reason; everything after it is ignored.
    """

    def __init__(
        self,
        on_output: Callable[[int, bytes], None],
        on_reply: Callable[[dict[str, Any]], None],
    ) -> None:
        self._on_output = on_output
        self._on_reply = on_reply
        self._buffer = bytearray()
        self.broken: str | None = None

    def feed(self, data: bytes) -> None:
        """Add bytes read from the child's stdout."""
        if self.broken is not None:
            return
        self._buffer += data
        buf = self._buffer
        start = 0
        while len(buf) - start >= _HEADER.size:
            channel, size = _HEADER.unpack_from(buf, start)
            if channel not in (b"1", b"2", b"r") or size > MAX_FRAME_BYTES:
                self.broken = f"a malformed frame (channel {channel!r}, {size} bytes)"
                self._buffer.clear()
                return
            end = start + _HEADER.size + size
            if len(buf) < end:
                break
            payload = bytes(buf[start + _HEADER.size : end])
            start = end
            if channel == b"r":
                try:
                    message = json.loads(payload)
                except ValueError:
                    message = None
                if not isinstance(message, dict):
                    self.broken = "a reply that is not a JSON object"
                    self._buffer.clear()
                    return
                self._on_reply(message)
            else:
                self._on_output(int(channel), payload)
        del buf[:start]


class StdioChildProtocol(asyncio.SubprocessProtocol):
    """The child's stdout through a :class:`FrameDecoder`; its stderr into ``diagnostics``."""

    def __init__(
        self,
        stdout: OutputStream,
        stderr: OutputStream,
        diagnostics: OutputStream,
        replies: asyncio.Queue[dict[str, Any] | None],
    ) -> None:
        self.streams = {1: stdout, 2: stderr}
        self.diagnostics = diagnostics
        self.replies = replies
        self.exited = asyncio.Event()
        self.decoder = FrameDecoder(self._output, replies.put_nowait)
        self._ended = False

    def _output(self, fd: int, data: bytes) -> None:
        self.streams[fd].feed(data)

    def pipe_data_received(self, fd: int, data: bytes | bytearray) -> None:
        if fd == 2:
            self.diagnostics.feed(bytes(data))
        elif fd == 1:
            self.decoder.feed(bytes(data))
            if self.decoder.broken is not None:
                self.diagnostics.feed(
                    f"\n[eager: protocol broken: {self.decoder.broken}]\n".encode()
                )
                self._end()

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        if fd == 2:
            self.diagnostics.feed_eof()
        elif fd == 1:
            self._end()

    def _end(self) -> None:
        if not self._ended:
            self._ended = True
            for stream in self.streams.values():
                stream.feed_eof()
            self.replies.put_nowait(None)  # like a closed reply pipe: the session is gone

    def process_exited(self) -> None:
        self.exited.set()
