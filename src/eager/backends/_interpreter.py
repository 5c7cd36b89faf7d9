"""The interpreter of every backend: runs chunks as lines of one program (stdlib, Python >= 3.8).

:class:`Interpreter` compiles each chunk at its line in the whole program, keeps the program's
text for tracebacks and reports errors as data: ``{"ename", "evalue", "traceback", "lineno",
"statement_line", "kind"}`` (``lineno``: the program line that raised; ``statement_line``: where
the top-level statement that was running starts). The same code runs in three places: in the
REPL child (sent as source text with the worker, so the child needs no Eager), in a Jupyter
kernel (installed by the setup cell) and in-process for :class:`eager.FakeBackend`; so every
backend reports errors alike. Standalone: no import of Eager, no syntax newer than 3.8.
"""

from __future__ import annotations

import gc
import linecache
import re
import traceback
from types import CodeType, TracebackType
from typing import Any

# Interpreter is internal (shared by the REPL worker, FakeBackend and the kernel backends).
__all__ = ["PROGRAM_FILENAME"]

#: The file name of the program in code objects, tracebacks and :mod:`linecache`.
PROGRAM_FILENAME = "<program>"
#: Longest error message or traceback text sent back (characters); longer ones are cut.
MAX_ERROR_CHARS = 1_000_000

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")
_FUTURE_MASK = 0
for _name in ("annotations", "generator_stop", "barry_as_FLUFL"):
    _feature = getattr(__import__("__future__"), _name, None)
    if _feature is not None:
        _FUTURE_MASK |= _feature.compiler_flag


def _this_file() -> str:
    return _this_file.__code__.co_filename


_THIS_FILE = _this_file()


def _split_lines(text: str) -> list[str]:
    """Lines as the compiler counts them (only ``\\r\\n``, ``\\r``, ``\\n`` end a line)."""
    return _LINE.findall(text)


def _safe_str(value: object) -> str:
    try:
        return _cut(str(value))
    except BaseException:
        return "<exception str() failed>"


def _cut(text: str) -> str:
    if len(text) <= MAX_ERROR_CHARS:
        return text
    return text[:MAX_ERROR_CHARS] + f"\n[eager: cut after {MAX_ERROR_CHARS} characters]\n"


def _statement_start(code: str, first_line: int, lineno: int | None) -> int | None:
    """The first line (decorators included) of the top-level statement holding ``lineno``."""
    if lineno is None:
        return None
    import ast

    try:
        tree = ast.parse("\n" * (first_line - 1) + code)
    except BaseException:  # it compiled, so this is only a very deep nesting
        return lineno
    for node in tree.body:
        if node.lineno <= lineno <= (node.end_lineno or node.lineno):
            starts = [node.lineno]
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                starts += [d.lineno for d in node.decorator_list]
            return min(starts)
    return lineno


class Interpreter:
    """Runs program chunks in a namespace, reporting errors with lines of the whole program.

    Each chunk is compiled as ``"\\n" * (first_line - 1) + code`` under one file name, and the
    program text seen so far is kept in :mod:`linecache`, so a traceback of chunk 7 is the
    traceback a serial run of the whole program prints.
    """

    def __init__(
        self,
        namespace: dict[str, Any],
        *,
        filename: str = PROGRAM_FILENAME,
        hidden_files: tuple[str, ...] = (),
    ) -> None:
        self.namespace = namespace
        self.filename = filename
        #: Files whose frames never show in a traceback (this module's, the caller's).
        self.hidden_files = frozenset((_THIS_FILE, *hidden_files))
        self.executing = False
        self._base = dict(namespace)
        self._lines: list[str] = []
        self._future_flags = 0

    def reset(self) -> None:
        """Restore the namespace to its initial entries and forget the program text."""
        self.namespace.clear()
        self.namespace.update(self._base)
        self._lines = []
        self._future_flags = 0
        linecache.cache.pop(self.filename, None)
        gc.collect()

    def _remember(self, code: str, first_line: int) -> None:
        start = first_line - 1
        if len(self._lines) < start:
            self._lines.extend(["\n"] * (start - len(self._lines)))
        new = _split_lines(code)
        self._lines[start : start + len(new)] = new
        self._publish()

    def _publish(self) -> None:
        # mtime None: linecache.checkcache() leaves the entry alone.
        lines = list(self._lines)
        linecache.cache[self.filename] = (sum(map(len, lines)), None, lines, self.filename)

    def run(self, code: str, first_line: int = 1) -> dict[str, Any] | None:
        """Compile and run ``code`` (line ``first_line`` of the program); the error or None."""
        first_line = max(1, int(first_line))
        if first_line == 1 and code.startswith("\ufeff"):
            code = code[1:]  # a byte-order mark, as Python skips it at the top of a script file
        self._remember(code, first_line)
        try:
            compiled: CodeType = compile(
                "\n" * (first_line - 1) + code,
                self.filename,
                "exec",
                flags=self._future_flags,
                dont_inherit=True,
            )
        except BaseException as exc:
            return self._compile_error(exc)
        if first_line > 1 and "__doc__" in compiled.co_names:
            compiled = self._without_docstring(compiled, code, first_line)
        # A `from __future__` import in an early chunk applies to the rest, as in one file.
        self._future_flags |= compiled.co_flags & _FUTURE_MASK
        try:
            self.executing = True
            try:
                exec(compiled, self.namespace)
            finally:
                self.executing = False
        except BaseException as exc:
            return self._runtime_error(exc, compiled, code, first_line)
        return None

    def _without_docstring(self, compiled: CodeType, code: str, first_line: int) -> CodeType:
        # A string first in a later chunk is no module docstring in the whole program: with
        # an expression on the (blank) first line it is a plain expression here too.
        try:
            plain: CodeType = compile(
                "0" + "\n" * (first_line - 1) + code,
                self.filename,
                "exec",
                flags=self._future_flags,
                dont_inherit=True,
            )
        except BaseException:  # e.g. a `from __future__` import, which must come first
            return compiled
        return plain

    def _compile_error(self, exc: BaseException) -> dict[str, Any]:
        self._publish()
        lineno = getattr(exc, "lineno", None) if isinstance(exc, SyntaxError) else None
        text = "".join(traceback.format_exception_only(type(exc), exc))
        return {
            "ename": type(exc).__name__,
            "evalue": _safe_str(getattr(exc, "msg", None) or exc),
            "traceback": _cut(text),
            "lineno": lineno if isinstance(lineno, int) else None,
            "statement_line": lineno if isinstance(lineno, int) else None,
            "kind": "syntax" if isinstance(exc, SyntaxError) else "runtime",
        }

    def _runtime_error(
        self, exc: BaseException, compiled: CodeType, code: str, first_line: int
    ) -> dict[str, Any]:
        self._publish()
        tb: TracebackType | None = exc.__traceback__
        # The chunk's own (<module>) frame says which top-level statement was running.
        statement = None
        walk = tb
        while walk is not None and statement is None:
            if walk.tb_frame.f_code is compiled:
                statement = _statement_start(code, first_line, walk.tb_lineno)
            walk = walk.tb_next
        # Drop the worker's own frames: the traceback starts at the program's first frame...
        while tb is not None and tb.tb_frame.f_code.co_filename != self.filename:
            tb = tb.tb_next
        # ...and ends before a frame of ours (the SIGINT handler, a tracer), as for a script.
        prev, walk = None, tb
        while walk is not None:
            if walk.tb_frame.f_code.co_filename in self.hidden_files:
                if prev is None:
                    tb = None
                else:
                    prev.tb_next = None
                break
            prev, walk = walk, walk.tb_next
        lineno = None
        walk = tb
        while walk is not None:
            if walk.tb_frame.f_code.co_filename == self.filename:
                lineno = walk.tb_lineno
            walk = walk.tb_next
        try:
            text = "".join(traceback.format_exception(type(exc), exc, tb))
        except BaseException:
            text = "".join(traceback.format_exception_only(type(exc), exc))
        exc.__traceback__ = None  # do not keep the frames (and their locals) alive
        return {
            "ename": type(exc).__name__,
            "evalue": _safe_str(exc),
            "traceback": _cut(text),
            "lineno": lineno if isinstance(lineno, int) else None,
            "statement_line": statement,
            "kind": "runtime",
        }
