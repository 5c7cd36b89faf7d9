"""Extraction: model output (chat prose with fences, bare code, tool-call JSON) to code deltas."""

from __future__ import annotations

import ast
import re
from typing import Literal, Protocol, get_args

from ._errors import UsageError
from ._tool_json import ToolArgument

__all__ = ["FORMATS", "Extractor", "Format", "make_extractor"]

#: How the text of a source holds code: ``"code"`` bare code, ``"chat"`` prose with markdown
#: fences, ``"auto"`` decided from the start of the answer, ``"tool"`` the JSON arguments of a
#: code tool call.
Format = Literal["auto", "chat", "code", "tool"]
#: The values of :data:`Format`, for option choices.
FORMATS: tuple[Format, ...] = get_args(Format)

#: Fence info words (first word, lower case) whose block is Python; a bare fence is Python too.
PYTHON_LANGUAGES = frozenset({"", "python", "py", "python3", "py3", "ipython", "ipython3"})
# A block right after a line like "STDOUT:" or "**Output:**" is a transcript, not code.
_OUTPUT_LABEL = re.compile(
    r"\W*(?:stdout|stderr|output|outputs|result|results|console|out|execution output|"
    r"expected output|sample output)\W*",
    re.IGNORECASE,
)
_FENCE_OPEN = re.compile(r"( *)(`{3,}|~{3,})(.*)")
_MAYBE_FENCE = re.compile(r" *(?:`{0,2}|~{0,2})")  # a line start that may still become a fence
_ALLOW_INCOMPLETE = 0x4000  # PyCF_ALLOW_INCOMPLETE_INPUT
_AUTO_DECIDE_CHARS = 4096  # auto mode decides at the latest after this much undecided text


class Extractor(Protocol):
    """Streaming text-to-code filter: ``feed`` returns the code delta a text delta yields."""

    def feed(self, delta: str) -> str:
        """Consume a delta of model output; return the code it reveals (maybe empty)."""
        ...

    def close(self) -> str:
        """End of output: return any code still held back."""
        ...

    def boundaries(self) -> list[int]:
        """Where the code returned by the last ``feed`` is complete, as offsets into it.

        A closing fence (or the closing quote of a tool-call code string) ends the code before
        it, as the end of the output does: the runtime flushes complete statements there
        instead of waiting for a later column-0 line. Empty when nothing closed.
        """
        ...


class _Code:
    """Bare code: every character is code, optionally dedented by ``indent`` spaces per line."""

    def __init__(self, indent: int = 0) -> None:
        self._indent = indent
        self._at_line_start = True
        self._held = ""  # leading spaces of the current line, up to ``indent``

    def feed(self, delta: str) -> str:
        if not self._indent:
            return delta
        out: list[str] = []
        i, n = 0, len(delta)
        while i < n:
            if self._at_line_start:
                c = delta[i]
                if c == " " and len(self._held) < self._indent:
                    self._held += c
                    i += 1
                    continue
                if c in "\r\n":
                    out.append(self._held)  # a blank line keeps its spaces
                self._held = ""  # otherwise dedent: drop up to ``indent`` leading spaces
                self._at_line_start = False
            j = delta.find("\n", i)
            if j < 0:
                out.append(delta[i:])
                break
            out.append(delta[i : j + 1])
            i = j + 1
            self._at_line_start = True
        return "".join(out)

    def close(self) -> str:
        held, self._held = self._held, ""
        return held

    def boundaries(self) -> list[int]:
        return []


class _Chat:
    """Markdown: Python fenced blocks are code, everything else (prose, other blocks) is not."""

    def __init__(self, *, first_only: bool) -> None:
        self._first_only = first_only
        self._done = False
        self._line = ""  # the undecided start of the current line
        self._mode = "hold"  # hold | code (stream the rest of the line) | skip (drop it)
        self._prose = ""  # the current prose line (first 80 characters), to spot output labels
        self._last_prose = ""  # the last non-blank prose line
        self._block: tuple[str, int, int, bool] | None = None  # fence char, length, indent, python
        self._ends_nl = True  # the code returned so far ends with a newline (or is empty)
        self._closed_at: list[int] = []  # offsets into the last feed's code: a block closed

    def boundaries(self) -> list[int]:
        return self._closed_at

    def feed(self, delta: str) -> str:
        out: list[str] = []
        self._closed_at = []
        i, n = 0, len(delta)
        while i < n and not self._done:
            j = delta.find("\n", i)
            end = n if j < 0 else j
            if self._mode == "code":
                out.append(delta[i : end + 1] if j >= 0 else delta[i:])
            elif self._mode == "hold":
                self._line += delta[i:end]
                self._decide(out)
                if self._mode == "code" and j >= 0:
                    out.append("\n")
            elif self._block is None and len(self._prose) < 80:
                self._prose += delta[i:end]
            if j < 0:
                break
            i = j + 1
            self._line_end(out)
        return self._join(out)

    def close(self) -> str:
        out: list[str] = []
        self._closed_at = []
        if not self._done and self._mode == "hold" and self._line:
            block = self._block
            if block is not None and block[3] and not self._is_close_fence(self._line, block):
                out.append(self._dedent(self._line))
        self._done = True
        return self._join(out)

    def _join(self, out: list[str]) -> str:
        code = "".join(out)
        if code:
            self._ends_nl = code.endswith("\n")
        return code

    def _decide(self, out: list[str]) -> None:
        """Decide what the held start of a line is, once it can be decided before its end."""
        line = self._line
        block = self._block
        if block is None:
            if not _MAYBE_FENCE.fullmatch(line) and not _FENCE_OPEN.match(line):
                self._prose = line[:80]
                self._mode = "skip"
            return
        if line.strip(" \t\r").strip(block[0]) == "":
            return  # blank so far, or may still be the closing fence: wait for the line end
        self._mode = "code" if block[3] else "skip"
        if block[3]:
            out.append(self._dedent(line))

    def _line_end(self, out: list[str]) -> None:
        line, mode, block = self._line, self._mode, self._block
        self._line = ""
        self._mode = "hold"
        if block is None:
            text = line if mode == "hold" else self._prose
            self._prose = ""
            m = _FENCE_OPEN.fullmatch(line.rstrip("\r")) if mode == "hold" else None
            if m is not None and not (m.group(2)[0] == "`" and "`" in m.group(3)):
                info = m.group(3).strip().split(maxsplit=1)
                lang = info[0].lower().lstrip(".{") if info else ""
                python = lang in PYTHON_LANGUAGES and not _OUTPUT_LABEL.fullmatch(self._last_prose)
                self._block = (m.group(2)[0], len(m.group(2)), len(m.group(1)), python)
                if python and not self._ends_nl:
                    out.append("\n")
                    self._ends_nl = True
            elif text.strip():
                self._last_prose = text.strip()
            return
        if mode == "hold":
            if self._is_close_fence(line, block):
                self._block = None
                self._last_prose = ""
                if block[3]:
                    self._closed_at.append(sum(map(len, out)))
                if block[3] and self._first_only:
                    self._done = True
                return
            if block[3]:
                out.append(self._dedent(line) + "\n")

    @staticmethod
    def _is_close_fence(line: str, block: tuple[str, int, int, bool]) -> bool:
        s = line.strip(" \t\r")
        return len(s) >= block[1] and s.strip(block[0]) == ""

    def _dedent(self, line: str) -> str:
        assert self._block is not None
        k = self._block[2]  # CommonMark: drop up to the fence's own indentation
        j = 0
        while j < k and j < len(line) and line[j] == " ":
            j += 1
        return line[j:]


class _Auto:
    """Decide from the start of the answer: a fence or prose means chat, code means bare code."""

    def __init__(self, *, first_only: bool) -> None:
        self._first_only = first_only
        self._buf = ""
        self._inner: Extractor | None = None

    def feed(self, delta: str) -> str:
        if self._inner is not None:
            return self._inner.feed(delta)
        self._buf += delta
        choice = self._choose(final=False)
        if choice is None:
            return ""
        self._inner = choice
        return choice.feed(self._buf)

    def boundaries(self) -> list[int]:
        return self._inner.boundaries() if self._inner is not None else []

    def close(self) -> str:
        if self._inner is None:
            self._inner = self._choose(final=True) or _Code()
            return self._inner.feed(self._buf) + self._inner.close()
        return self._inner.close()

    def _choose(self, *, final: bool) -> Extractor | None:
        lines = self._buf.split("\n")
        complete = lines if final else lines[:-1]
        for line in complete:
            s = line.strip()
            if not s or (s.startswith("#") and not s.startswith("#!")):
                continue  # blank, or a comment that may be a markdown heading: look further
            if s.startswith(("```", "~~~")):
                return _Chat(first_only=self._first_only)
            if not _looks_like_code(s):
                return _Chat(first_only=self._first_only)
            indent = len(line) - len(line.lstrip(" "))
            return _Code(indent)
        if not final and len(self._buf) > _AUTO_DECIDE_CHARS:
            return _Chat(first_only=self._first_only)
        rest = lines[-1].lstrip() if not final else ""
        if rest.startswith(("```", "~~~")):
            return _Chat(first_only=self._first_only)
        return None


def _looks_like_code(line: str) -> bool:
    try:
        compile(line, "<line>", "exec", flags=ast.PyCF_ONLY_AST | _ALLOW_INCOMPLETE)
    except SyntaxError as exc:
        return exc.msg == "incomplete input"
    except ValueError:
        return False
    return True


def make_extractor(
    format: Format,
    *,
    tool_argument: str = "code",
    blocks: Literal["all", "first"] = "all",
) -> Extractor:
    """Return a fresh extractor for ``format``.

    * ``"code"``: the text is bare code.
    * ``"chat"``: markdown; the Python fenced blocks (```` ```python ````, ```` ```py ````, a
      bare fence, ``~~~``) are code, joined in order with a newline between them
      (``blocks="first"``: the first one only). Other languages and transcripts (a block right
      after ``STDOUT:`` or ``Output:``) are skipped. An unclosed last fence is still code.
    * ``"auto"``: chat unless the answer starts with a line of code (bare code, dedented if the
      whole answer is indented).
    * ``"tool"``: the JSON arguments of a tool call; the code is the string value of
      ``tool_argument``, decoded as it streams. Malformed JSON raises :class:`~eager.ExtractionError`.
    """
    if blocks not in ("all", "first"):
        raise UsageError(f"blocks must be 'all' or 'first', not {blocks!r}")
    first_only = blocks == "first"
    if format == "code":
        return _Code()
    if format == "chat":
        return _Chat(first_only=first_only)
    if format == "auto":
        return _Auto(first_only=first_only)
    if format == "tool":
        return ToolArgument(tool_argument)
    raise UsageError(f"unknown format {format!r}: use 'auto', 'chat', 'code' or 'tool'")
