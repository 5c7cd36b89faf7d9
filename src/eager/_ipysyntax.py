"""IPython syntax in notebook mode, streamed: one :class:`CellSyntax` per cell. Pure, host-side.

A notebook cell may hold ``!cmd``, ``x = !cmd``, ``%magic``, ``x = %magic``, ``obj?`` and a
leading ``%%cell_magic``; the kernel rewrites them into Python with IPython's static
``TransformerManager.transform_cell`` before it parses the cell. :class:`CellSyntax` does the same
rewrite *while the cell streams in*, with IPython's own transformer, so that the chunker receives
plain Python and never text that a later delta could change.

How (``NOTEBOOK.md`` §3): IPython's token transforms are local to one logical line (a line plus
its bracket, string and backslash continuations), so a prefix that ends on a complete logical line
transforms the same alone as inside the whole cell. The cell is therefore cut into logical lines
by a small incremental scanner (brackets, strings, f-strings as the running Python tokenizes
them, comments, backslashes); a logical line without any character IPython could act on
(``!``/``%`` at a line start or after ``=``, ``?`` at a line end, ``, ; /`` at a line start)
passes at once; one with such a character goes through IPython's own token transforms, and is
held longer if IPython's intermediate result is not itself a complete logical line.

Cell-global syntax is not streamed: a first line that starts with ``%%``, is indented, or is a
prompt (``>>>``, ``In [n]:``, ``...:``) puts the cell in *whole-cell mode*: everything is held
until :meth:`CellSyntax.end`, then transformed at once. A prompt found later (a continuation
prompt on line 2, or a ``>>>`` line outside a docstring by IPython's own heuristic) holds the
rest of the cell; at the end IPython's cleanup runs on the whole cell and the part not yet
returned is transformed. Leading blank lines are dropped and whitespace-only lines emptied, as
IPython does.

``"".join(feed(d) for d in deltas) + end() == TransformerManager().transform_cell(cell)`` for
every split, except:

* a ``>>>`` prompt after line 1 makes IPython strip ``>>>``/``...`` prompts from *every* line
  (and dedent): a line already returned that IPython changes (a ``...`` line, say a stub's
  body) keeps its text, and :attr:`CellSyntax.exact` turns False at :meth:`CellSyntax.end`;
* cells IPython itself leaves invalid: a ``?`` or ``/`` escape it fails to rewrite stops its
  later rewrites of that kind (3.12+: a tokenizer error in a plain line stops all later ones),
  while here later lines are still rewritten; the chunker fails on the cell either way;
* cells IPython raises on (an inconsistent dedent, over 500 rewrites, an internal error on
  broken input): the code passes through unchanged for the chunker to report.
"""

from __future__ import annotations

import contextlib
import re
import sys
from typing import Any

from ._errors import MissingExtraError, UsageError

__all__ = ["IPYTHON_FAILURES", "CellSyntax", "transform_cell"]

# ---------------------------------------------------------------------------------- IPython


def _inputtransformer2() -> Any:
    """IPython's ``inputtransformer2`` module (imported on first use: IPython is optional)."""
    try:
        from IPython.core import inputtransformer2
    except ImportError as exc:
        raise MissingExtraError(
            "IPython",
            "jupyter",
            hint="pip install ipython (IPython syntax in notebook cells needs it)",
        ) from exc
    return inputtransformer2


def transform_cell(code: str) -> str:
    """IPython's static transform of a whole cell (``TransformerManager().transform_cell``)."""
    return str(_inputtransformer2().TransformerManager().transform_cell(code))


#: What IPython's transform may raise on a broken cell: the tokenizer's IndentationError on an
#: inconsistent dedent, a TokenError it lets through, its loop limit's RuntimeError, even an
#: IndexError (3.12, on ``x = %'''``). IPython's ``run_cell`` then fails the cell with it; here
#: the code passes through unchanged and the Python chunker reports the error instead.
IPYTHON_FAILURES: tuple[type[Exception], ...] = (Exception,)

# ---------------------------------------------------------------------------------- scanner

#: PEP 701 (3.12): f-strings are tokenized, and their replacement fields may hold any quotes.
_NESTED_FSTRINGS = sys.version_info >= (3, 12)
_TSTRINGS = sys.version_info >= (3, 14)


def _prefixes() -> frozenset[str]:
    words = ["", "r", "u", "b", "br", "rb", "f", "fr", "rf"]
    if _TSTRINGS:
        words += ["t", "tr", "rt"]
    return frozenset(words)


_PREFIXES = _prefixes()
_CODE = re.compile(r"[\"'#\\()\[\]{}]")
_EXPR = re.compile(r"[\"'#\\()\[\]{}:]")  # code inside an f-string replacement field
_SLOW = re.compile(r"[\"'#\\]")  # a line without these needs only its brackets counted
_BODY = {
    "'": re.compile(r"(?:[^'\\\n]|\\.)*", re.S),
    '"': re.compile(r'(?:[^"\\\n]|\\.)*', re.S),
    "'''": re.compile(r"(?:[^'\\]|\\.|'(?!''))*", re.S),
    '"""': re.compile(r'(?:[^"\\]|\\.|"(?!""))*', re.S),
}
_FBODY = {q: re.compile(r"[^" + q[0] + r"\\{}\n]*") for q in ("'", '"')}
_SPEC = {q: re.compile(r"[^" + q[0] + r"\\{}\n]*") for q in ("'", '"')}

# Frame kinds on the scanner's stack.
_STR = 0  # inside a string literal: (kind, quote, start, fstring, raw)
_FIELD = 1  # inside an f-string replacement field: [kind, bracket depth]
_FSPEC = 2  # inside a replacement field's format spec: (kind, quote of its f-string)


class _Scanner:
    """Where logical lines end, one complete physical line at a time.

    Tracks what the running Python's tokenizer tracks across lines: bracket depth, an open
    string (triple-quoted, or single-quoted continued by a backslash), f-string replacement
    fields (3.12+), and a backslash continuation. Agrees with IPython's own grouping on valid
    code (the tests compare them over standard-library files); on invalid code it may not,
    which can only change how the cell's syntax error looks.
    """

    __slots__ = ("cont", "depth", "stack")

    def __init__(self) -> None:
        self.depth = 0
        self.stack: list[Any] = []
        self.cont = False

    def closed(self) -> bool:
        return not self.stack and not self.depth and not self.cont

    def scan(self, line: str) -> bool:
        """Scan one physical line (ending in ``\\n``); True if a logical line ends with it."""
        self.cont = False
        stack = self.stack
        if not stack and _SLOW.search(line) is None:
            closes = line.count(")") + line.count("]") + line.count("}")
            if closes <= self.depth:  # clamping at 0 cannot happen: counting is exact
                self.depth += line.count("(") + line.count("[") + line.count("{") - closes
                return not self.depth
        if line.endswith("\r\n"):
            line = line[:-2] + "\n"  # the tokenizer treats "\\\r\n" as "\\\n"
        pos = 0
        n = len(line)
        while pos < n:
            if not stack:
                pos = self._code(line, pos, n, None)
                continue
            top = stack[-1]
            kind = top[0]
            if kind == _FIELD:
                pos = self._code(line, pos, n, top)
            elif kind == _FSPEC:
                pos = self._spec(line, pos, n, top[1])
            elif top[3]:
                pos = self._fstring(line, pos, n, top)
            else:
                pos = self._string(line, pos, n, top)
        return self.closed()

    # -- modes ------------------------------------------------------------------------------

    def _code(self, line: str, pos: int, n: int, field: list[int] | None) -> int:
        m = (_CODE if field is None else _EXPR).search(line, pos)
        if m is None:
            return n
        i = m.start()
        c = line[i]
        if c in "([{":
            if field is None:
                self.depth += 1
            else:
                field[1] += 1
        elif c in ")]}":
            if field is None:
                if self.depth:
                    self.depth -= 1
            elif field[1]:
                field[1] -= 1
            elif c == "}":
                self.stack.pop()  # the replacement field ends
        elif c == ":":  # only in a replacement field: a format spec starts at depth 0
            if field is not None and not field[1]:
                self.stack[-1] = (_FSPEC, self._fstring_quote())
        elif c == "#":
            return n
        elif c == "\\":
            if i + 2 == n:  # a backslash right before the line break: continuation
                self.cont = True
                return n
        else:
            return self._open_string(line, i, c)
        return i + 1

    def _fstring_quote(self) -> str:
        for frame in reversed(self.stack):
            if frame[0] == _STR:
                return str(frame[1])
        return '"'  # unreachable: a field is always inside an f-string

    def _open_string(self, line: str, i: int, q: str) -> int:
        j = i
        while j > 0 and (line[j - 1].isalnum() or line[j - 1] == "_"):
            j -= 1
        prefix = line[j:i].lower()
        if prefix not in _PREFIXES:
            prefix = ""  # a name right before a quote ("elif'x'"), not a string prefix
        quote = q * 3 if line.startswith(q * 3, i) else q
        fstring = _NESTED_FSTRINGS and ("f" in prefix or (_TSTRINGS and "t" in prefix))
        self.stack.append((_STR, quote, i, fstring, "r" in prefix))
        return i + len(quote)

    def _string(self, line: str, pos: int, n: int, top: tuple[Any, ...]) -> int:
        quote = top[1]
        k = _span(_BODY[quote], line, pos)
        if line.startswith(quote, k):
            self.stack.pop()
            return k + len(quote)
        if len(quote) == 3:
            return n  # a triple-quoted string goes on
        if k >= n:  # a backslash before the line break: the string goes on
            self.stack[-1] = (_STR, quote, -1, False, top[4])
            return n
        # A single-quoted string unterminated at the line break: an error token. 3.11 goes on
        # after the quote (after the whole line, for a continued string); 3.12 stops.
        self.stack.pop()
        return n if top[2] < 0 else top[2] + 1

    def _fstring(self, line: str, pos: int, n: int, top: tuple[Any, ...]) -> int:
        quote = top[1]
        k = _span(_FBODY[quote[0]], line, pos)
        if k >= n:
            return n
        c = line[k]
        if c == quote[0]:
            if line.startswith(quote, k):
                self.stack.pop()
                return k + len(quote)
            return k + 1
        if c == "\\":
            if not top[4] and line.startswith("N{", k + 1):
                end = line.find("}", k + 3)  # a named escape, not a replacement field
                return n if end < 0 else end + 1
            return k + 1 if line[k + 1 : k + 2] in ("{", "}") else k + 2
        if c == "{":
            if line.startswith("{{", k):
                return k + 2
            self.stack.append([_FIELD, 0])
            return k + 1
        if c == "}":
            return k + 2 if line.startswith("}}", k) else k + 1
        # A line break: part of a triple-quoted f-string; ends a single-quoted one (an error).
        if len(quote) == 1:
            self.stack.pop()
        return k + 1

    def _spec(self, line: str, pos: int, n: int, quote: str) -> int:
        k = _span(_SPEC[quote[0]], line, pos)
        if k >= n:
            return n
        c = line[k]
        if c == "{":
            self.stack.append([_FIELD, 0])
        elif c == "}":
            self.stack.pop()
        elif c == quote[0]:  # the quote ends the f-string, format spec or not
            if line.startswith(quote, k):
                while self.stack.pop()[0] != _STR:
                    pass
                return k + len(quote)
        elif c == "\\":
            return k + 2
        return k + 1


def _span(body: re.Pattern[str], line: str, pos: int) -> int:
    m = body.match(line, pos)
    return pos if m is None else m.end()


def _closed(lines: list[str]) -> bool:
    scanner = _Scanner()
    closed = True
    for line in lines:
        closed = scanner.scan(line)
    return closed


# ---------------------------------------------------------------------------------- the cell

#: A line IPython could rewrite: an escape first (``! % ? , ; /``), ``!``/``%`` right after an
#: ``=``, or a ``?`` ending it. Deliberately wide (``"a=%d" % x`` matches): a match only means
#: "ask IPython".
_SUSPECT = re.compile(r"^[^\S\n]*[!%?,;/]|=[^\S\n]*[!%]|\?[\s\\]*$")
#: Line breaks of ``str.splitlines`` other than ``\n`` and ``\r\n``: IPython's lines would not be
#: ours, so the rest of the cell is held and transformed whole.
_EXOTIC = re.compile("[\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]|\r(?!\n)")
#: A line with only whitespace (IPython's dedent empties those of spaces and tabs).
_BLANKISH = re.compile(r"^[^\S\n]+$", re.M)

_PENDING = "pending"
_STREAM = "stream"
_WHOLE = "whole"
_HELD = "held"


class CellSyntax:
    """IPython syntax of one notebook cell, transformed as the cell streams in.

    ``feed(delta)`` takes the next code delta of the cell (split anywhere) and returns the
    transformed text that became final; ``end()`` says the cell is complete and returns the
    rest. Joined, they equal ``TransformerManager().transform_cell(cell)`` (see the module
    docstring for the exceptions). Text is returned only in whole lines, and a line that
    cannot be IPython syntax at most when its line break arrives; the first line waits for its
    line break even so (it decides whole-cell mode).

    Raises :class:`~eager.MissingExtraError` at construction when IPython is not installed.
    """

    def __init__(self) -> None:
        it2 = _inputtransformer2()
        self._it2 = it2
        self._tm = it2.TransformerManager()
        classic, ipy = it2.classic_prompt, it2.ipython_prompt
        # A line 1 matching any prompt pattern is cell-global (whole-cell mode); so is a
        # line 2 matching a continuation prompt, and (doctest mode, IPython 9) any ``>>>`` line.
        first = [classic.initial_re, classic.prompt_re, ipy.initial_re, ipy.prompt_re]
        self._doctest = None
        if getattr(classic, "doctest", False):
            self._doctest = classic._doctest_initial_re
            first += [classic._doctest_ps1_re, classic._doctest_ps2_re]
        self._first_prompts = first
        self._second_prompts = [classic.initial_re, classic.prompt_re, ipy.prompt_re]
        self._raw: list[str] = []
        self._mode = _PENDING
        self._ended = False
        self._exact = True
        self._line1_at = 0  # raw offset of line 1 (leading blank lines dropped)
        self._line_end = 0  # raw offset after the last complete line scanned
        self._emitted = 0  # raw characters (from line 1) already transformed and returned
        self._lineno = 0  # complete lines scanned, line 1 being 1
        self._partial: list[str] = []  # the line being received
        self._group: list[str] = []  # complete lines of the logical line being received
        self._group_len = 0
        self._suspect = False
        self._retry_len = 0  # a held group is transformed again once this long (keeps it linear)
        self._scanner = _Scanner()

    @property
    def mode(self) -> str:
        """``pending`` (line 1 not complete), ``stream``, ``whole`` (cell-global syntax on line
        1: everything waits for :meth:`end`) or ``held`` (a prompt later on: the rest waits)."""
        return self._mode

    @property
    def exact(self) -> bool:
        """False once :meth:`end` found that text already returned differs from IPython's
        transform of the whole cell (only a ``...`` line before a later ``>>>`` prompt)."""
        return self._exact

    # ------------------------------------------------------------------ public API

    def feed(self, code: str) -> str:
        """Add the next delta of the cell; return the transformed text that is now final."""
        if self._ended:
            raise UsageError("CellSyntax.feed() called after end()")
        if not code:
            return ""
        self._raw.append(code)
        if self._mode == _STREAM:
            if "\n" not in code:
                self._partial.append(code)
                return ""
            if self._partial:
                self._partial.append(code)
                code = "".join(self._partial)
            cut = code.rfind("\n") + 1
            self._partial = [code[cut:]] if cut < len(code) else []
            return self._lines(code, cut)
        if self._mode == _PENDING and "\n" in code:
            return self._decide()
        return ""

    def end(self) -> str:
        """The cell is complete: return the rest of its transformed text."""
        if self._ended:
            return ""
        self._ended = True
        raw = "".join(self._raw)
        if self._mode in (_PENDING, _WHOLE):
            self._mode = _WHOLE
            return self._whole(raw)
        out = ""
        if self._mode == _STREAM and self._partial:
            last = "".join(self._partial) + "\n"  # IPython ends the cell with a line break
            self._partial = []
            out = self._lines(last, len(last), final=True)
        if self._mode == _HELD:
            return out + self._held(raw)
        if self._group:
            out += self._finish(self._group)
        return out

    # ------------------------------------------------------------------ line 1

    def _decide(self) -> str:
        """At a line break before the mode is known: decide it once line 1 is complete."""
        text = "".join(self._raw)
        if text.isspace():
            return ""  # leading blank lines only, so far
        if _EXOTIC.search(text, 0, len(text) - text.endswith("\r")):  # "\r" + a "\n" to come
            self._mode = _WHOLE
            return ""
        kept = self._it2.leading_empty_lines(text.splitlines(keepends=True))
        first = kept[0]
        if not first.endswith("\n"):
            return ""
        if (
            first[0] in " \t"
            or first.startswith("%%")
            or any(p.match(first) for p in self._first_prompts)
        ):
            self._mode = _WHOLE
            return ""
        self._mode = _STREAM
        self._line1_at = self._line_end = len(text) - sum(map(len, kept))
        rest = text[self._line1_at :]
        cut = rest.rfind("\n") + 1
        self._partial = [rest[cut:]] if cut < len(rest) else []
        return self._lines(rest, cut)

    # ------------------------------------------------------------------ streaming

    def _lines(self, text: str, end: int, *, final: bool = False) -> str:
        """Scan the complete lines ``text[:end]``; return what became final."""
        out: list[str] = []
        pos = 0
        while pos < end:
            nl = text.index("\n", pos) + 1
            line = text[pos:nl]
            pos = nl
            self._lineno += 1
            if self._prompt_later(line):
                self._mode = _HELD  # the rest waits for end()
                break
            self._line_end += len(line)
            if not self._suspect and _SUSPECT.search(line):
                self._suspect = True
            self._group.append(line)
            self._group_len += len(line)
            # IPython's escape transforms take a physical line ending in a backslash and the
            # next one, even after a comment: hold such a line whatever the tokenizer says.
            if (
                self._scanner.scan(line)
                and not final
                and not (self._suspect and line.endswith(("\\\n", "\\\r\n")))
            ):
                done = self._flush()
                if done is not None:
                    out.append(done)
        return "".join(out)

    def _prompt_later(self, line: str) -> bool:
        """Would this line (2 or later) make IPython strip prompts cell-wide?"""
        if _EXOTIC.search(line):
            return True
        if self._lineno == 2 and any(p.match(line) for p in self._second_prompts):
            return True
        if self._doctest is None or ">>>" not in line or not self._doctest.match(line):
            return False
        # IPython 9 strips doctest prompts when a ">>>" line lies outside a docstring (by its
        # own triple-quote heuristic, which looks only at the lines before).
        mask = getattr(self._it2.classic_prompt, "_triple_quote_mask", None)
        if mask is None:
            return True
        raw = "".join(self._raw)[self._line1_at : self._line_end] + line
        return not mask(raw.splitlines(keepends=True))[-1]

    def _flush(self) -> str | None:
        """The group is a complete logical line: its transformed text, or None to hold it."""
        lines = self._group
        if self._suspect:
            if self._group_len < self._retry_len:
                return None
            done = self._transform(self._normalize(lines))
            if done is None:  # IPython's intermediate result is still open: wait for more
                self._retry_len = 2 * self._group_len
                return None
        else:
            done = "".join(self._normalize(lines))
        self._emitted += self._group_len
        self._group = []
        self._group_len = 0
        self._suspect = False
        self._retry_len = 0
        return done

    def _normalize(self, lines: list[str]) -> list[str]:
        """IPython's dedent of an unindented cell: whitespace-only lines become empty."""
        if len(lines) == 1 and not lines[0][0].isspace():
            return lines
        if not _BLANKISH.search("".join(lines)):
            return lines
        fixed: list[str] = self._it2.leading_indent(["x\n", *lines])  # "x": no margin
        return fixed[1:]

    def _transform(self, lines: list[str]) -> str | None:
        """IPython's token transforms, step by step; None if a step leaves an open line."""
        done = lines
        try:
            for _ in range(getattr(self._it2, "TRANSFORM_LOOP_LIMIT", 500)):
                changed, done = self._tm.do_one_token_transform(done)
                if not changed:
                    break
                if not _closed(done):
                    return None
        except IPYTHON_FAILURES:
            done = lines  # IPython fails on the whole cell too; the chunker reports the error
        return "".join(done)

    def _finish(self, lines: list[str]) -> str:
        """The last (possibly open) logical lines at the end of the cell."""
        lines = self._normalize(lines)
        if self._suspect:
            with contextlib.suppress(*IPYTHON_FAILURES):
                lines = self._tm.do_token_transforms(lines)
        self._group = []
        return "".join(lines)

    # ------------------------------------------------------------------ whole cell

    def _whole(self, raw: str) -> str:
        try:
            return str(self._tm.transform_cell(raw))
        except IPYTHON_FAILURES:
            return raw if raw.endswith("\n") else raw + "\n"

    def _held(self, raw: str) -> str:
        """The rest of a cell held since a later prompt: from IPython's whole-cell cleanup."""
        if not self._emitted:
            return self._whole(raw)
        cell = raw if raw.endswith("\n") else raw + "\n"
        lines = cell.splitlines(keepends=True)
        for cleanup in self._tm.cleanup_transforms:
            lines = cleanup(lines)
        done_raw = raw[self._line1_at : self._line1_at + self._emitted]
        done = self._normalize(done_raw.splitlines(keepends=True))
        if lines[: len(done)] != done:
            self._exact = False  # IPython's prompt stripping changed lines already emitted
        rest = lines[len(done) :]
        with contextlib.suppress(*IPYTHON_FAILURES):
            rest = self._tm.do_token_transforms(rest)
        return "".join(rest)
