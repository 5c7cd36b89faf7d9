"""Replay: stream a recorded program or chat answer as a model would, at a token rate.

Text is cut into tokens the way a byte-pair-encoding tokenizer cuts code (the GPT-4 family's
pre-tokenizer pattern, with long words split into sub-words): on the Python standard library
this gives a mean of about 4.3 characters per token (checked in tests/test_replay.py). Token ``i``
is due at ``ttft_s + i / tps`` after the stream starts (plus seeded jitter), scheduled against
absolute time so the rate never drifts.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import AsyncIterator

from .._errors import UsageError
from .._extract import Format
from ._base import Source

__all__ = ["ReplaySource", "tokenize"]

# cl100k-like pre-tokenization: contractions, words with one leading space, 1-3 digit numbers,
# punctuation runs with one leading space, newlines with their indentation, other whitespace.
_PRETOKEN = re.compile(
    r"""'(?:[sdmt]|ll|ve|re)|(?:[^\r\n\w]|_)?[^\W\d_]+|\d{1,3}| ?(?:[^\s\w]|_)+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
)
#: Longest letters-only piece kept as one token; longer words are split (BPE sub-words).
_MAX_WORD = 8


def tokenize(text: str) -> list[str]:
    """Cut ``text`` into tokens as a BPE tokenizer would cut code; ``"".join`` gives it back."""
    tokens: list[str] = []
    pos = 0
    for m in _PRETOKEN.finditer(text):
        if m.start() != pos:  # anything the pattern skipped (cannot happen, kept exact anyway)
            tokens.append(text[pos : m.start()])
        piece = m.group()
        pos = m.end()
        if len(piece) > _MAX_WORD and piece.strip().isidentifier():
            tokens.extend(piece[i : i + _MAX_WORD // 2 + 2] for i in range(0, len(piece), 6))
        else:
            tokens.append(piece)
    if pos != len(text):
        tokens.append(text[pos:])
    return tokens


class ReplaySource(Source):
    """Streams ``text`` token by token at ``tps`` tokens per second after ``ttft_s``.

    ``jitter`` is the relative standard deviation of each inter-token gap (0: exact rate),
    deterministic for a ``seed``. Cancelling (:meth:`aclose`) stops the stream at once.
    """

    def __init__(
        self,
        text: str,
        *,
        tps: float = 50.0,
        ttft_s: float = 0.0,
        jitter: float = 0.0,
        seed: int = 0,
        format: Format = "auto",
        tool_argument: str = "code",
    ) -> None:
        super().__init__()
        if tps <= 0:
            raise UsageError(f"tokens per second must be positive, got {tps}")
        if ttft_s < 0 or jitter < 0:
            raise UsageError("ttft and jitter must not be negative")
        self.text = text
        self.tps = tps
        self.ttft_s = ttft_s
        self.format = format
        self.tool_argument = tool_argument
        self.tokens = tokenize(text)
        self.tokens_total = len(self.tokens)
        rng = random.Random(seed)
        gap = 1.0 / tps
        due, t = [], ttft_s
        for i in range(len(self.tokens)):
            if i:
                t += gap * max(0.0, 1.0 + rng.gauss(0.0, jitter)) if jitter else gap
            due.append(t)
        #: Due time of each token, seconds after the stream starts.
        self.schedule = due

    async def stream(self) -> AsyncIterator[str]:
        loop = asyncio.get_running_loop()
        start = loop.time()
        for token, due in zip(self.tokens, self.schedule, strict=True):
            if self.cancelled:
                return
            delay = start + due - loop.time()
            await asyncio.sleep(delay)
            if self.cancelled:
                return
            self.tokens_generated += 1
            yield token
