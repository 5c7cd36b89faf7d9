"""Speculative tool calls: find read-only calls whose tool and arguments are already final.

Pure: strings in, calls out. The runtime peeks into code that has not run yet (the chunker's
unfinished statement, chunks waiting for the busy session) and starts the calls found here in
the host (``_bridge.py``). An argument is final when it is a literal, or a name whose value
the host already knows: bound to a literal, or to the result of a tool call the host has seen
(so ``fetch(hits[0])`` can start once ``hits = search("q")`` has answered). A guess is
harmless: the session's real call takes a speculative result only when its arguments are
equal, so a wrong guess is a miss, never a different value.
"""

from __future__ import annotations

import ast
import io
import operator
import re
import tokenize
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["FoundCall", "Speculator"]

_OPEN = {"(": ")", "[": "]", "{": "}"}


@dataclass(frozen=True, slots=True)
class FoundCall:
    """A call found in code: the tool's name and its final arguments."""

    name: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


class _Unknown(Exception):
    """An argument whose value is not known yet."""


class Speculator:
    """Knows what the host can know of the program's names; finds final calls of ``tools``.

    ``result_of(name, args, kwargs)`` returns ``(True, value)`` when the host has seen that
    call's JSON result (a finished real or speculative call), else ``(False, None)``.
    """

    def __init__(
        self,
        tools: Iterable[str],
        result_of: Callable[[str, tuple[Any, ...], dict[str, Any]], tuple[bool, Any]],
    ) -> None:
        self.tools = frozenset(tools)
        self.result_of = result_of
        self._pattern = (
            re.compile(r"(?<![\w.])(" + "|".join(map(re.escape, sorted(self.tools))) + r")\s*\(")
            if self.tools
            else None
        )
        #: name -> a literal value, or the tool call (its AST) whose result it holds.
        self._known: dict[str, Any] = {}

    def learn(self, code: str) -> None:
        """A complete chunk: remember what its top-level assignments bind (or forget)."""
        try:
            tree = ast.parse(code)
        except SyntaxError:
            return
        for stmt in tree.body:
            targets: list[ast.expr] = []
            value: ast.expr | None = None
            if isinstance(stmt, ast.Assign):
                targets, value = stmt.targets, stmt.value
            elif isinstance(stmt, ast.AnnAssign | ast.AugAssign):
                targets, value = [stmt.target], None
            for node in ast.walk(stmt):  # anything else bound here is no longer known
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                    self._known.pop(node.id, None)
            if value is None or len(targets) != 1 or not isinstance(targets[0], ast.Name):
                continue
            name = targets[0].id
            try:
                self._known[name] = ast.literal_eval(value)
                continue
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                pass
            if self._is_tool_call(value):  # resolved when asked: its arguments may be later
                self._known[name] = value

    def calls(self, code: str) -> list[FoundCall]:
        """The complete calls of the tools in ``code`` (maybe unfinished) whose arguments
        are final, outermost first."""
        if self._pattern is None:
            return []
        found: list[FoundCall] = []
        for match in self._pattern.finditer(code):
            end = _closing(code, match.end() - 1)
            if end is None:
                continue
            try:
                node = ast.parse(code[match.start() : end], mode="eval").body
            except SyntaxError:
                continue
            call = self._final_call(node)
            if call is not None:
                found.append(call)
        return found

    def _is_tool_call(self, node: ast.expr) -> bool:
        return (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in self.tools
        )

    def _final_call(self, node: ast.expr) -> FoundCall | None:
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            return None
        if node.func.id not in self.tools:
            return None
        try:
            args = []
            for arg in node.args:
                if isinstance(arg, ast.Starred):
                    return None
                args.append(self._value(arg))
            kwargs = {}
            for kw in node.keywords:
                if kw.arg is None:
                    return None
                kwargs[kw.arg] = self._value(kw.value)
        except _Unknown:
            return None
        return FoundCall(node.func.id, tuple(args), kwargs)

    def _value(self, node: ast.expr) -> Any:
        try:
            return ast.literal_eval(node)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            pass
        if isinstance(node, ast.Name):
            if node.id not in self._known:
                raise _Unknown(node.id)
            known = self._known[node.id]
            if isinstance(known, ast.expr):  # the result of a tool call: known once seen
                call = self._final_call(known)
                if call is None:
                    raise _Unknown(node.id)
                ok, value = self.result_of(call.name, call.args, call.kwargs)
                if not ok:
                    raise _Unknown(node.id)
                return value
            return known
        if isinstance(node, ast.Subscript):
            container = self._value(node.value)
            index = self._value(node.slice)
            try:
                return container[index]
            except Exception as exc:
                raise _Unknown("subscript") from exc
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            left, right = self._value(node.left), self._value(node.right)
            if not all(type(v) in _PLAIN for v in (left, right)):
                raise _Unknown("operands")  # only plain values: no user type's __add__
            if isinstance(node.op, ast.Mult) and any(
                isinstance(v, int) and v > 10_000 for v in (left, right)
            ):
                raise _Unknown("too large")
            try:
                return _OPERATORS[type(node.op)](left, right)
            except Exception as exc:
                raise _Unknown("operator") from exc
        if isinstance(node, ast.JoinedStr):
            parts = []
            for part in node.values:
                if isinstance(part, ast.Constant):
                    parts.append(str(part.value))
                elif isinstance(part, ast.FormattedValue) and part.format_spec is None:
                    value = self._value(part.value)
                    if type(value) not in _PLAIN:
                        raise _Unknown("f-string value")
                    convert: Callable[[object], str] = _CONVERSIONS[part.conversion]
                    parts.append(convert(value))
                else:
                    raise _Unknown("f-string format")
            return "".join(parts)
        raise _Unknown(type(node).__name__)


#: Operators evaluated on known plain values (the same result as in the session).
_OPERATORS: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Mod: operator.mod,
    ast.FloorDiv: operator.floordiv,
    ast.Div: operator.truediv,
}
#: f-string conversions: none, !s, !r, !a.
_CONVERSIONS: dict[int, Callable[[object], str]] = {-1: str, 115: str, 114: repr, 97: ascii}
#: Types whose operators are the language's own (JSON values and tuples).
_PLAIN = (str, int, float, bool, list, tuple, dict, type(None))


def _closing(code: str, open_at: int) -> int | None:
    """The end (exclusive) of the bracket opened at ``open_at``; None if it is not closed
    yet (or the text between does not tokenize, say an unfinished string)."""
    depth = 0
    try:
        tokens = tokenize.generate_tokens(io.StringIO(code[open_at:]).readline)
        lines = code[open_at:].splitlines(keepends=True)
        offsets = [0]
        for line in lines:
            offsets.append(offsets[-1] + len(line))
        for tok in tokens:
            if tok.type != tokenize.OP:
                continue
            if tok.string in _OPEN:
                depth += 1
            elif tok.string in (")", "]", "}"):
                depth -= 1
                if depth == 0:
                    row, col = tok.end
                    return open_at + offsets[row - 1] + col
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return None
    return None
