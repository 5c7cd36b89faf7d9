"""Seeded error injection: misspell one name at a random top-level statement of an answer.

The statement is a simple statement (assignment or expression) at the top level of the program,
so it always runs; one name it *reads* gets a spelling that exists nowhere in the program or the
builtins, so running it raises ``NameError``. The same seed picks the same statement and name.
"""

from __future__ import annotations

import ast
import builtins
import dataclasses
import random
from dataclasses import dataclass

from .._extract import Format
from .workloads import _FENCE

__all__ = ["Injection", "inject_error"]

_SIMPLE = (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr)


@dataclass(frozen=True, slots=True)
class Injection:
    """Where the error was put: statement ``statement`` (0-based) at program line ``lineno``."""

    statement: int
    statements: int
    lineno: int
    name: str
    misspelt: str

    def to_dict(self) -> dict[str, object]:
        """JSON form."""
        return dataclasses.asdict(self)


def _blocks(answer: str, format: Format) -> list[tuple[int, str]]:
    """(offset in the answer, code) of each code block, in order."""
    if format != "code":
        found = [(m.start(1), m.group(1)) for m in _FENCE.finditer(answer)]
        if found or format == "chat":
            return found
    return [(0, answer)]


def _misspell(name: str, taken: set[str]) -> str:
    candidates = [name[:-1], name + name[-1], name + "s", name[:1] + name[2:], name + "_x"]
    for c in candidates:
        if c.isidentifier() and c not in taken and not hasattr(builtins, c):
            return c
    return name + "_misspelt_"


def inject_error(answer: str, format: Format, rng: random.Random) -> tuple[str, Injection] | None:
    """Return the answer with one misspelt name, and where; None when nothing qualifies."""
    blocks = _blocks(answer, format)
    code = "\n".join(code for _, code in blocks)
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    taken = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    taken |= {a.arg for a in ast.walk(tree) if isinstance(a, ast.arg)}
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
    if not choices:
        return None
    index, node = choices[rng.randrange(len(choices))]
    wrong = _misspell(node.id, taken)
    # Map the program line back to its block and the answer's offset of that line.
    line = node.lineno
    for offset, block in blocks:
        lines = block.split("\n")
        if line <= len(lines):
            start = offset + sum(len(x) + 1 for x in lines[: line - 1])
            # col_offset counts UTF-8 bytes; convert to characters within the line.
            text = lines[line - 1]
            col = len(text.encode()[: node.col_offset].decode(errors="ignore"))
            at = start + col
            assert answer[at : at + len(node.id)] == node.id
            new = answer[:at] + wrong + answer[at + len(node.id) :]
            return new, Injection(index, len(tree.body), node.lineno, node.id, wrong)
        line -= len(lines)
    return None
