"""Seeded error injection: misspell one name in a top-level statement of an answer.

The statement is a simple statement (assignment or expression) at the top level of the program,
so it always runs; one name it *reads* gets a spelling that exists nowhere in the program or the
builtins, so running it raises ``NameError``. The statement is the one nearest a seeded share of
the code (:func:`error_position`: median 35 %, where the paper found real errors). The program
is what the runtime's extractor makes of the answer, and the misspelling is put into the answer
text itself, checked by extracting again. The same seed picks the same statement and name.
"""

from __future__ import annotations

import ast
import builtins
import dataclasses
import random
from dataclasses import dataclass

from .._extract import Format
from .task import code_of

__all__ = ["ERROR_MEDIAN", "Injection", "error_position", "inject_error"]

_SIMPLE = (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr)
#: Median share of the code before a real error, as the paper found (Table 2's failing runs).
ERROR_MEDIAN = 0.35


@dataclass(frozen=True, slots=True)
class Injection:
    """Where the error was put: statement ``statement`` (0-based) at program line ``lineno``.

    ``position`` is the share of the program's characters before the misspelt name.
    """

    statement: int
    statements: int
    lineno: int
    name: str
    misspelt: str
    position: float = 0.0

    def to_dict(self) -> dict[str, object]:
        """JSON form."""
        return dataclasses.asdict(self)


def error_position(rng: random.Random) -> float:
    """A seeded share of the code where the error goes: triangular on [0.1, 0.6], median 0.35."""
    return rng.triangular(0.1, 0.6, ERROR_MEDIAN)


def _misspell(name: str, taken: set[str]) -> str:
    candidates = [name[:-1], name + name[-1], name + "s", name[:1] + name[2:], name + "_x"]
    for c in candidates:
        if c.isidentifier() and c not in taken and not hasattr(builtins, c):
            return c
    return name + "_misspelt_"


def _candidates(tree: ast.Module) -> list[tuple[int, ast.Name]]:
    """(statement index, first single-line name it reads) of each top-level simple statement."""
    choices: list[tuple[int, ast.Name]] = []
    for i, stmt in enumerate(tree.body):
        if not isinstance(stmt, _SIMPLE):
            continue
        lambdas = {
            id(n) for lam in ast.walk(stmt) if isinstance(lam, ast.Lambda) for n in ast.walk(lam)
        }
        names = [
            n
            for n in ast.walk(stmt)
            if isinstance(n, ast.Name)
            and isinstance(n.ctx, ast.Load)
            and id(n) not in lambdas
            and n.lineno == n.end_lineno
        ]
        if names:
            choices.append((i, min(names, key=lambda n: (n.lineno, n.col_offset))))
    return choices


def _offset(lines: list[str], lineno: int, col_bytes: int) -> int:
    """Character offset in the joined ``lines`` of (1-based line, UTF-8 byte column)."""
    text = lines[lineno - 1]
    col = len(text.encode()[:col_bytes].decode(errors="ignore"))
    return sum(len(x) + 1 for x in lines[: lineno - 1]) + col


def _in_answer(
    answer: str, format: Format, code: str, at: int, name: str, wrong: str
) -> str | None:
    """The answer with the name at code offset ``at`` misspelt, or None if it cannot be placed.

    The extractor keeps code lines whole (dropping only fence indentation), so the target line
    is an answer line ending with it; each such line is tried until extracting gives the wanted
    code.
    """
    want = code[:at] + wrong + code[at + len(name) :]
    start = code.rfind("\n", 0, at) + 1
    end = code.find("\n", at)
    line = code[start : len(code) if end < 0 else end]
    col = at - start
    pos = 0
    while True:
        hit = answer.find(line, pos)
        if hit < 0:
            return None
        pos = hit + 1
        at_answer = hit + col
        if answer[at_answer : at_answer + len(name)] != name:
            continue
        new = answer[:at_answer] + wrong + answer[at_answer + len(name) :]
        if code_of(new, format) == want:
            return new


def inject_error(
    answer: str, format: Format, rng: random.Random, *, position: float | None = None
) -> tuple[str, Injection] | None:
    """Return the answer with one misspelt name, and where; None when nothing qualifies.

    ``position`` is the share of the code to aim at (default: drawn by :func:`error_position`);
    the statement whose misspelt name is nearest to it is chosen.
    """
    target = error_position(rng) if position is None else position
    code = code_of(answer, format)
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    taken = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    taken |= {a.arg for a in ast.walk(tree) if isinstance(a, ast.arg)}
    lines = code.split("\n")
    size = max(len(code), 1)
    placed = [(_offset(lines, n.lineno, n.col_offset), i, n) for i, n in _candidates(tree)]
    placed.sort(key=lambda p: (abs(p[0] / size - target), p[0]))
    for at, index, node in placed:
        wrong = _misspell(node.id, taken)
        new = _in_answer(answer, format, code, at, node.id, wrong)
        if new is not None:
            where = Injection(index, len(tree.body), node.lineno, node.id, wrong, at / size)
            return new, where
    return None
