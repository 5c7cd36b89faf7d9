"""Chunker: streamed code text in, complete top-level statements (chunks) out. Pure, no I/O."""

from __future__ import annotations

import ast
import re
import warnings
from dataclasses import dataclass, field
from typing import NoReturn

from ._errors import ProgramSyntaxError, UsageError

__all__ = ["Chunk", "Chunker"]

# compile() flags: build the AST only, and report "incomplete input" apart from real errors.
_ALLOW_INCOMPLETE = 0x4000  # PyCF_ALLOW_INCOMPLETE_INPUT (codeop's private constant)
_CHECK_FLAGS = ast.PyCF_ONLY_AST | _ALLOW_INCOMPLETE
_FINAL_FLAGS = ast.PyCF_ONLY_AST
_FILENAME = "<eager>"
_BOM = "\ufeff"

#: A tail this short is parsed at every line end and every column-0 line (cheap).
SMALL_TAIL_CHARS = 2048
#: A tail that starts with a compound statement is parsed at line ends only to catch syntax
#: errors early; below this size at every line end, beyond it as it grows.
SMALL_BLOCK_CHARS = 0
#: Beyond those sizes, a tail is parsed again only once it has grown by this factor (keeps cost
#: linear inside huge statements, such as a 3,000-line class or a data table at column 0).
TAIL_GROWTH = 1.5
#: The same factor inside a compound statement (there only syntax errors are looked for).
BLOCK_GROWTH = 2.0
_COMPOUND_START = re.compile(
    r"(?:[ \t\f]*(?:#[^\r\n]*)?(?:\r\n|\r|\n))*\ufeff?"
    r"(?:@|(?:async|def|class|if|for|while|try|with|match)(?![\w]))"
)

# Statements that a later column-0 line may continue, and the words that continue them.
_CONTINUATIONS: dict[type[ast.stmt], frozenset[str]] = {
    ast.If: frozenset({"elif", "else"}),
    ast.For: frozenset({"else"}),
    ast.AsyncFor: frozenset({"else"}),
    ast.While: frozenset({"else"}),
    ast.Try: frozenset({"except", "else", "finally"}),
    ast.TryStar: frozenset({"except", "else", "finally"}),
}
_COMPOUND: tuple[type[ast.stmt], ...] = (
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.With,
    ast.AsyncWith,
    ast.Match,
    *_CONTINUATIONS,
)
_NO_WORDS: frozenset[str] = frozenset()
_BRACKETS = ")]}"
_CLOSERS = ")]}\"'"

# Scanner states for the current line.
_LINE_START = 0  # only indentation seen so far
_WORD = 1  # reading the first word of a column-0 line
_REST = 2  # nothing to watch until the line break

# What the current line holds (decided at its first non-blank character).
_BLANK = 0
_COMMENT = 1
_CODE = 2


@dataclass(frozen=True, slots=True)
class Chunk:
    """An exact slice of the program made of one or more complete top-level statements.

    ``start_line``/``end_line`` are 1-based lines of the whole program (inclusive);
    ``start``/``end`` are character offsets into the program. Blank lines and comments before
    a statement belong to its chunk; trailing ones form the last chunk, which then may hold no
    statement at all.
    """

    code: str
    index: int
    start_line: int
    end_line: int
    start: int
    end: int
    #: The chunk's statements as the chunker parsed them (None when it had no parse of exactly
    #: this text); later stages reuse it instead of parsing the chunk again.
    tree: ast.Module | None = field(default=None, compare=False, repr=False)

    def compilable(self) -> str:
        """The code ready for ``compile``: padded so tracebacks name program lines, BOM dropped."""
        code = self.code[1:] if self.start == 0 and self.code.startswith(_BOM) else self.code
        return "\n" * (self.start_line - 1) + code


class _Incomplete(Exception):
    """The tail cannot be complete yet (open bracket, string, block or decorator)."""


def _is_word_char(c: str) -> bool:
    return c.isalnum() or c == "_"


class Chunker:
    """Feed deltas of a program, get chunks as soon as they are final.

    A simple statement is emitted when its line ends; a compound statement when the first
    character (or, for ``elif``/``else``/``except``/``finally`` candidates, the first word) of
    the next column-0 line shows it cannot continue. Text already emitted is never parsed again.

    A genuine syntax error raises :class:`~eager.ProgramSyntaxError` as soon as it is certain
    (at a line end, or at :meth:`close`); its ``chunks`` are those completed earlier in the same
    call. The chunker is then finished: later ``feed``/``close`` calls raise the same error again
    (with no chunks). ``feed`` after ``close`` raises :class:`~eager.UsageError`.
    """

    def __init__(self) -> None:
        self._parts: list[str] = []  # every delta, for .text
        self._length = 0  # characters fed
        self._breaks = 0  # line breaks seen (scanned) so far
        self._index = 0  # next chunk index
        self._closed = False
        self._error: ProgramSyntaxError | None = None
        # The unconsumed tail: text[_tail_start:], held as _tail + "".join(_pending).
        self._tail = ""
        self._pending: list[str] = []
        self._tail_start = 0
        self._tail_line = 1
        self._tail_has_code = False  # a finished line of the tail holds code
        self._tail_block: bool | None = None  # the tail starts with a compound statement
        self._parsed_len = 0  # tail length at its last parse
        self._trigger_fail_len = 0  # tail length at its last incomplete column-0 parse
        # What we know of text[_tail_start:_status_at]: complete, and the continuation words.
        self._status_at = -1
        self._status_complete = False
        self._status_simple = False
        self._status_words: frozenset[str] = _NO_WORDS
        self._status_tree: ast.Module | None = None
        # The line being scanned.
        self._state = _LINE_START
        self._line_start = 0
        self._line_kind = _BLANK
        self._col0 = True
        self._word = ""
        self._cr_pending = False  # the text ends with "\r": a "\n" may follow
        self._force = False  # parse at the end of this line whatever the tail size

    # ------------------------------------------------------------------ public API

    @property
    def text(self) -> str:
        """The whole program text fed so far."""
        if len(self._parts) > 1:
            self._parts = ["".join(self._parts)]
        return self._parts[0] if self._parts else ""

    @property
    def line_count(self) -> int:
        """Number of lines fed so far (a last line without its line break counts)."""
        return self._breaks + (1 if self._length > self._line_start else 0)

    @property
    def pending(self) -> str:
        """The text fed but not yet emitted in a chunk."""
        self._materialize()
        return self._tail

    def feed(self, delta: str) -> list[Chunk]:
        """Add a delta; return the chunks it completed."""
        self._check_usable()
        if self._closed:
            raise UsageError("Chunker.feed() called after close()")
        if not delta:
            return []
        start = self._length
        self._parts.append(delta)
        self._pending.append(delta)
        self._length += len(delta)
        out: list[Chunk] = []
        try:
            self._scan(delta, start, out)
        except ProgramSyntaxError as exc:
            exc.chunks = tuple(out)
            raise
        return out

    def flush(self) -> list[Chunk]:
        """The code so far is complete (a closing fence): emit the rest if it parses.

        Unlike :meth:`close` the stream goes on: an incomplete rest (an open bracket, a
        decorator) stays pending, and a later column-0 ``else``/``except`` can no longer
        continue a statement emitted here (it is then a syntax error). Only at a line start.
        """
        self._check_usable()
        if self._closed or self._cr_pending or self._length != self._line_start:
            return []
        if not self._tail_has_code or self._length == self._tail_start:
            return []
        if self._status_at != self._length:
            self._status(self._length)  # a ProgramSyntaxError here carries no chunks
        return [self._emit(self._length)] if self._status_complete else []

    def close(self) -> list[Chunk]:
        """End of stream: flush the rest (raises ProgramSyntaxError on a genuine error)."""
        self._check_usable()
        if self._closed:
            return []
        self._closed = True
        out: list[Chunk] = []
        try:
            if self._cr_pending:
                self._cr_pending = False
                self._line_end(self._length, out)
            self._materialize()
            if not self._tail:
                return out
            if not (self._tail_has_code or self._line_kind == _CODE):
                out.append(self._emit(self._length))
                return out
            tree = self._parse(self._tail, final=True)
            out.append(self._emit(self._length, tree))
        except ProgramSyntaxError as exc:
            exc.chunks = tuple(out)
            raise
        return out

    # ------------------------------------------------------------------ scanning

    def _check_usable(self) -> None:
        if self._error is not None:
            e = self._error
            raise ProgramSyntaxError(e.msg, lineno=e.lineno, offset=e.offset, text=e.text)

    def _scan(self, delta: str, start: int, out: list[Chunk]) -> None:
        i = 0
        n = len(delta)
        if self._cr_pending:
            self._cr_pending = False
            if delta[0] == "\n":
                i = 1
            self._line_end(start + i, out)
        has_cr = "\r" in delta
        while i < n:
            state = self._state
            if state == _REST:
                j = delta.find("\n", i)
                if has_cr:
                    k = delta.find("\r", i)
                    if k >= 0 and (j < 0 or k < j):
                        if k + 1 == n:
                            self._cr_pending = True
                            return
                        j = k + 1 if delta[k + 1] == "\n" else k
                if j < 0:
                    return
                i = j + 1
                self._line_end(start + i, out)
                continue
            c = delta[i]
            if state == _LINE_START:
                if c == " " or c == "\t":
                    self._col0 = False
                    i += 1
                elif c == "\f":
                    self._col0 = True  # the tokenizer resets the column at a form feed
                    i += 1
                elif c == "\n" or c == "\r":
                    self._state = _REST
                elif c == "#":
                    self._line_kind = _COMMENT
                    self._state = _REST
                elif c == _BOM and start + i == 0:
                    i += 1
                else:
                    self._line_kind = _CODE
                    if not self._col0:
                        self._state = _REST
                    elif _is_word_char(c):
                        self._word = c
                        i += 1
                        self._state = _REST if self._trigger(False, out) else _WORD
                    else:
                        # A closing bracket or a quote at column 0 usually ends a big literal:
                        # parse at this line's end whatever the size.
                        self._force = c in _CLOSERS
                        if c not in _BRACKETS:
                            self._word = ""
                            self._trigger(True, out)
                        self._state = _REST
            elif _is_word_char(c):  # _WORD
                self._word += c
                i += 1
                if self._trigger(False, out):
                    self._state = _REST
            else:
                self._trigger(True, out)
                self._state = _REST

    # ------------------------------------------------------------------ decisions

    def _line_end(self, end: int, out: list[Chunk]) -> None:
        """A line break ends at ``end``: emit a finished simple statement, catch real errors."""
        kind = self._line_kind
        line_start = self._line_start
        force = self._force
        self._force = False
        self._breaks += 1
        self._line_start = end
        self._line_kind = _BLANK
        self._state = _LINE_START
        self._col0 = True
        if kind == _CODE:
            self._tail_has_code = True
        if not self._tail_has_code:
            return
        if self._status_at == line_start and (
            kind == _BLANK or (kind == _COMMENT and self._status_complete)
        ):
            # A blank line (or a comment after complete code) changes nothing.
            self._status_at = end
            return
        if self._tail_block is None:
            self._materialize()
            self._tail_block = _COMPOUND_START.match(self._tail) is not None
        size = end - self._tail_start
        if self._tail_block:
            small, growth = SMALL_BLOCK_CHARS, BLOCK_GROWTH
        else:
            small, growth = SMALL_TAIL_CHARS, TAIL_GROWTH
        if size > small and size < self._parsed_len * growth and not force:
            return
        self._materialize()
        line = self._tail[line_start - self._tail_start : size].rstrip()
        if line.endswith(":") and "#" not in line:
            return  # a block header (or a genuine error found at the next line end): wait
        self._status(end)
        if self._status_complete and self._status_simple:
            out.append(self._emit(end))

    def _trigger(self, word_complete: bool, out: list[Chunk]) -> bool:
        """A column-0 line starts: emit the tail before it if nothing can continue it.

        Returns False while the first word may still become a continuation keyword.
        """
        q = self._line_start
        if q == self._tail_start or not self._tail_has_code:
            return True
        if self._status_at != q:
            size = q - self._tail_start
            if size > SMALL_TAIL_CHARS and size < self._trigger_fail_len * TAIL_GROWTH:
                return True
            self._status(q)
            if not self._status_complete:
                self._trigger_fail_len = size
        if not self._status_complete:
            return True
        words = self._status_words
        word = self._word
        if words and word:
            if word_complete:
                if word in words:
                    return True
            elif any(w.startswith(word) for w in words):
                return False
        out.append(self._emit(q))
        return True

    def _status(self, end: int) -> None:
        """Parse ``text[_tail_start:end]`` and record whether it is complete."""
        self._materialize()
        src = self._tail[: end - self._tail_start]
        self._parsed_len = len(src)
        self._status_at = end
        self._status_tree = None
        try:
            tree = self._parse(src, final=False)
        except _Incomplete:
            self._status_complete = False
            return
        body = tree.body
        if not body:
            self._status_complete = False
            return
        self._status_tree = tree
        last = body[-1]
        self._status_complete = True
        self._status_simple = not isinstance(last, _COMPOUND)
        self._status_words = _CONTINUATIONS.get(type(last), _NO_WORDS)

    def _parse(self, src: str, *, final: bool) -> ast.Module:
        if self._tail_start == 0 and src.startswith(_BOM):
            src = src[1:]
        if "\r" in src:
            # CPython calls a backslash before a final "\r\n" "invalid syntax", not "incomplete
            # input" (with "\n" it is incomplete). compile() translates line breaks anyway, so
            # translating them first changes neither the statements nor their line numbers.
            src = src.replace("\r\n", "\n").replace("\r", "\n")
        try:
            with warnings.catch_warnings():  # warnings belong to the real compile, not to ours
                warnings.simplefilter("ignore")
                tree = compile(
                    src,
                    _FILENAME,
                    "exec",
                    flags=_FINAL_FLAGS if final else _CHECK_FLAGS,
                    dont_inherit=True,
                )
        except SyntaxError as exc:
            if not final and exc.msg == "incomplete input":
                raise _Incomplete from None
            self._fail(exc)
        except ValueError as exc:  # source with a NUL character
            self._fail(SyntaxError(str(exc)))
        assert isinstance(tree, ast.Module)
        return tree

    def _fail(self, exc: SyntaxError) -> NoReturn:
        lineno = None if exc.lineno is None else exc.lineno + self._tail_line - 1
        err = ProgramSyntaxError(
            exc.msg or str(exc), lineno=lineno, offset=exc.offset, text=exc.text
        )
        self._error = err
        raise err from exc

    # ------------------------------------------------------------------ tail bookkeeping

    def _materialize(self) -> None:
        if self._pending:
            self._tail += "".join(self._pending)
            self._pending.clear()

    def _emit(self, end: int, tree: ast.Module | None = None) -> Chunk:
        """Cut ``text[_tail_start:end]`` off the tail as the next chunk."""
        self._materialize()
        if tree is None and self._status_at == end and self._status_complete:
            tree = self._status_tree  # the last parse covered exactly this text
        cut = end - self._tail_start
        code = self._tail[:cut]
        self._tail = self._tail[cut:]
        end_line = self._breaks if end == self._line_start else self._breaks + 1
        chunk = Chunk(code, self._index, self._tail_line, end_line, self._tail_start, end, tree)
        self._index += 1
        self._tail_start = end
        self._tail_line = end_line + 1
        self._tail_has_code = False
        self._tail_block = None
        self._parsed_len = 0
        self._trigger_fail_len = 0
        self._status_at = -1
        return chunk
