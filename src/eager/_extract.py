"""Extraction: model output (chat prose with fences, bare code, tool-call JSON) to code deltas.

PLACEHOLDER: identity for every format. Being replaced by the real streaming extractors.
"""

from __future__ import annotations

from typing import Literal, Protocol

from ._source import Format

__all__ = ["Extractor", "make_extractor"]


class Extractor(Protocol):
    """Streaming text-to-code filter: ``feed`` returns the code delta a text delta yields."""

    def feed(self, delta: str) -> str:
        """Consume a delta of model output; return the code it reveals (maybe empty)."""
        ...

    def close(self) -> str:
        """End of output: return any code still held back."""
        ...


class _Identity:
    def feed(self, delta: str) -> str:
        return delta

    def close(self) -> str:
        return ""


def make_extractor(
    format: Format,
    *,
    tool_argument: str = "code",
    blocks: Literal["all", "first"] = "all",
) -> Extractor:
    """Return a fresh extractor for ``format``."""
    return _Identity()
