"""IPython syntax in notebook cells (placeholder until the streaming transformer lands)."""

from __future__ import annotations

__all__ = ["CellSyntax"]


class CellSyntax:
    """Streams one cell's code; returns the text that is final (IPython syntax rewritten)."""

    def feed(self, code: str) -> str:
        """Take a code delta; return the transformed text that no later delta can change."""
        return code

    def end(self) -> str:
        """The cell ended: the rest, transformed."""
        return ""
