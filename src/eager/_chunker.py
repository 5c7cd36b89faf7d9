"""Chunker: streamed code text in, complete top-level statements (chunks) out. Pure, no I/O.

PLACEHOLDER: emits everything at close(). Being replaced by the real streaming chunker.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Chunk", "Chunker"]


@dataclass(frozen=True, slots=True)
class Chunk:
    """An exact slice of the program made of one or more complete top-level statements.

    ``start_line``/``end_line`` are 1-based lines of the whole program (inclusive);
    ``start``/``end`` are character offsets into the program.
    """

    code: str
    index: int
    start_line: int
    end_line: int
    start: int
    end: int


class Chunker:
    """Feed deltas of a program, get chunks as soon as they are final."""

    def __init__(self) -> None:
        self._buf: list[str] = []
        self._closed = False

    def feed(self, delta: str) -> list[Chunk]:
        """Add a delta; return the chunks it completed."""
        self._buf.append(delta)
        return []

    def close(self) -> list[Chunk]:
        """End of stream: flush the rest (raises ProgramSyntaxError on a genuine error)."""
        code = "".join(self._buf)
        if not code:
            return []
        return [Chunk(code, 0, 1, code.count("\n") + 1, 0, len(code))]
