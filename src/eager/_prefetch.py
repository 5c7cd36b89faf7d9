"""Prefetch: the quiet import cell a session runs while waiting for the first token. Pure."""

from __future__ import annotations

import ast
from collections.abc import Iterable

from ._errors import UsageError

__all__ = ["imports_of", "prefetch_cell"]

# A name nobody writes; deleted again, so the program's namespace stays as it was.
_VAR = "__eager_prefetch_module"


def prefetch_cell(modules: Iterable[str]) -> str:
    """The code that imports ``modules`` quietly: no name bound, every failure ignored.

    Raises :class:`~eager.UsageError` for a name that is not a dotted Python identifier.
    """
    names = tuple(dict.fromkeys(modules))
    for name in names:
        if not isinstance(name, str) or not all(p.isidentifier() for p in name.split(".")):
            raise UsageError(f"prefetch: {name!r} is not a module name like 'pandas' or 'os.path'")
    if not names:
        return ""
    return (
        f"for {_VAR} in {names!r}:\n"
        f"    try:\n"
        f"        __import__({_VAR})\n"
        f"    except BaseException:\n"
        f"        pass\n"
        f"del {_VAR}\n"
    )


def imports_of(code: str) -> tuple[str, ...]:
    """The modules a program's top-level statements import, in order, without repeats.

    For callers that know earlier turns: ``run(..., prefetch=imports_of(previous_code))``.
    ``import a.b as c`` gives ``"a.b"``, ``from a.b import c`` gives ``"a.b"``; relative
    imports are skipped. A program that does not parse is read statement by statement, from
    each column-0 ``import``/``from`` line, so a broken tail loses nothing before it.
    """
    try:
        body = ast.parse(code).body
    except (SyntaxError, ValueError):
        body = []
        for line in code.splitlines():
            if line.startswith(("import ", "from ")):
                try:
                    body += ast.parse(line).body
                except (SyntaxError, ValueError):
                    continue
    found: dict[str, None] = {}
    for stmt in body:
        if isinstance(stmt, ast.Import):
            found.update(dict.fromkeys(a.name for a in stmt.names))
        elif isinstance(stmt, ast.ImportFrom) and not stmt.level and stmt.module:
            found[stmt.module] = None
    return tuple(found)
