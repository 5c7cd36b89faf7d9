"""Gate: decide per chunk whether it runs now, waits for work (def/class), or seals the rest.

Pure and static (the chunk's AST plus the imports seen so far). Running a statement early is
harmless only if nothing outside the session can notice it ran before the program was complete;
a chunk with an external effect (process, file-system write, network, IPC), timing-sensitive code
(sleep, clocks, signals, threads) or dynamic execution (eval, exec, compile, __import__) *seals*:
it and everything after it wait until generation ended and the whole program compiles.

Names are resolved through the chunk's and earlier chunks' imports (``import os as o`` then
``o.remove`` is ``os.remove``; ``from subprocess import run`` then ``run`` is ``subprocess.run``),
and a function or class whose body uses an unsafe name taints its own name for later chunks.

IPython syntax arrives rewritten (``_ipysyntax.py``) into calls on ``get_ipython()`` (or a name
bound to it): ``system``/``getoutput`` (``!cmd``) seal as process creation, a line magic seals
unless the policy lists it as safe, a cell magic seals unless the policy looks through it
(``%%capture``: its body is classified as code, IPython syntax included).
"""

from __future__ import annotations

import ast
import fnmatch
import re

from ._chunker import Chunk
from ._errors import MissingExtraError, UsageError
from ._ipysyntax import IPYTHON_FAILURES, transform_cell
from ._policy import FS_WRITE, MAGIC, POLICIES, SHELL_METHODS, Policy
from ._result import GateDecision

__all__ = ["Gate"]

_DEFINITION = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _constant_str(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _arguments(call: ast.Call, *names: str) -> list[ast.expr | None]:
    """The call's arguments for the parameters ``names`` (positional or keyword)."""
    found: list[ast.expr | None] = [*call.args[: len(names)]]
    found += [None] * (len(names) - len(found))
    for kw in call.keywords:
        if kw.arg in names:
            found[names.index(kw.arg)] = kw.value
    return found


def _env_reads(args: str) -> bool:
    """``%env`` and ``%env NAME`` read; ``%env NAME=value`` and ``%env NAME value`` set."""
    words = args.split()
    return len(words) <= 1 and not any(c in args for c in "={$")


def _dotted(node: ast.expr) -> list[str] | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return parts[::-1]
    if isinstance(node, ast.Call | ast.Subscript) and parts:
        return ["*", *parts[::-1]]  # a method on some object: ``df.head().to_csv``
    return None


#: One regular expression per set of unsafe patterns: a name none of them matches (nearly
#: every name) is safe after one regex call instead of one ``fnmatch`` per pattern.
_PREFILTERS: dict[tuple[str, ...], re.Pattern[str]] = {}


def _prefilter(patterns: tuple[str, ...]) -> re.Pattern[str]:
    found = _PREFILTERS.get(patterns)
    if found is None:
        parts = [fnmatch.translate(p) for p in patterns]
        found = re.compile("|".join(f"(?:{p})" for p in parts) or r"(?!)")
        _PREFILTERS[patterns] = found
    return found


class Gate:
    """Classifies the chunks of one program in order (keeps the imports seen so far)."""

    def __init__(self, policy: Policy | str = "default") -> None:
        if isinstance(policy, str):
            try:
                policy = POLICIES[policy]
            except KeyError:
                names = ", ".join(sorted(POLICIES))
                raise UsageError(f"unknown gate policy {policy!r} (choose from {names})") from None
        self.policy = policy
        self._maybe_unsafe = _prefilter(tuple(policy.unsafe))
        self._aliases: dict[str, str] = {}
        self._tainted: dict[str, str] = {}
        self._shells: set[str] = set()  # names bound to get_ipython()

    def classify(self, chunk: Chunk) -> GateDecision:
        """The decision for ``chunk`` (``run``, ``defer`` or ``seal``) and its reason."""
        tree = chunk.tree
        if tree is None:
            try:
                tree = ast.parse(chunk.code)
            except SyntaxError:
                return GateDecision(chunk.index, "run", "does not parse: the backend reports it")
        reason = self._unsafe_reason(tree) if self.policy.seal else None
        if reason is not None:
            return GateDecision(chunk.index, "seal", reason)
        if (
            self.policy.defer_definitions
            and tree.body
            and all(isinstance(s, _DEFINITION) for s in tree.body)
        ):
            names = ", ".join(s.name for s in tree.body if isinstance(s, _DEFINITION))
            return GateDecision(chunk.index, "defer", f"definition only ({names})")
        return GateDecision(chunk.index, "run", "safe")

    # -- analysis ---------------------------------------------------------------------------

    def _unsafe_reason(self, tree: ast.Module) -> str | None:
        first: str | None = None
        for stmt in tree.body:
            if isinstance(stmt, _DEFINITION):
                inner = self._scan(stmt, top=False)
                if inner is not None:
                    # Defining is harmless; calling it later is not.
                    self._tainted[stmt.name] = inner
                for deco in stmt.decorator_list:
                    first = first or self._scan(deco, top=True)
                continue
            first = first or self._scan(stmt, top=True)
        return first

    def _scan(self, node: ast.AST, *, top: bool) -> str | None:
        found: str | None = None
        for sub in ast.walk(node):
            if isinstance(sub, ast.Import | ast.ImportFrom):
                found = found or self._import(sub)
            elif isinstance(sub, ast.Call):
                found = found or self._open_mode(sub) or self._shell_call(sub)
            elif isinstance(sub, ast.Attribute | ast.Name):
                found = found or self._reference(sub)
            elif isinstance(sub, ast.Assign) and self._is_shell(sub.value):
                self._shells.update(t.id for t in sub.targets if isinstance(t, ast.Name))
        return found

    # -- IPython ------------------------------------------------------------------------------

    def _is_shell(self, node: ast.expr) -> bool:
        """``get_ipython()``, or a name bound to it."""
        if isinstance(node, ast.Name):
            return node.id in self._shells
        return (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "get_ipython"
            and not node.args
            and not node.keywords
        )

    def _shell_call(self, call: ast.Call) -> str | None:
        func = call.func
        if not isinstance(func, ast.Attribute) or not self._is_shell(func.value):
            return None
        method = func.attr
        if method in SHELL_METHODS:
            return f"get_ipython().{method}: {SHELL_METHODS[method]}"
        if method == "run_line_magic":
            name, line = (_constant_str(a) for a in _arguments(call, "magic_name", "line"))
            if name is None or line is None:
                return f"a line magic with computed arguments: {MAGIC}"
            if name in self.policy.line_magics and (name != "env" or _env_reads(line)):
                return None
            return f"%{name} {line}".rstrip() + f": {MAGIC}"
        if method == "run_cell_magic":
            args = _arguments(call, "magic_name", "line", "cell")
            name, body = _constant_str(args[0]), _constant_str(args[2])
            if name is None or name not in self.policy.cell_magics:
                return f"%%{name or '?'}: {MAGIC}"
            if body is None:
                return f"%%{name} with a computed body: {MAGIC}"
            inner = self._cell_body(body)
            return None if inner is None else f"%%{name} body: {inner}"
        return None

    def _cell_body(self, body: str) -> str | None:
        """Classify a looked-through cell magic's body: a cell, IPython syntax included."""
        try:
            tree = ast.parse(body)
        except (SyntaxError, ValueError):
            try:
                tree = ast.parse(transform_cell(body))
            except MissingExtraError:
                return f"IPython syntax that cannot be read without IPython: {MAGIC}"
            except IPYTHON_FAILURES:
                return None  # nothing of it runs: the session reports the error
        return self._unsafe_reason(tree)

    def _import(self, node: ast.Import | ast.ImportFrom) -> str | None:
        modules = self.policy.modules
        if isinstance(node, ast.Import):
            for a in node.names:
                self._aliases[a.asname or a.name.split(".")[0]] = (
                    a.name if a.asname else a.name.split(".")[0]
                )
                if a.name.split(".")[0] in modules:
                    return f"import {a.name}: paper policy module"
            return None
        if node.level or node.module is None:
            return None
        for a in node.names:
            self._aliases[a.asname or a.name] = f"{node.module}.{a.name}"
        if node.module.split(".")[0] in modules:
            return f"from {node.module} import: paper policy module"
        return None  # importing a name is harmless; using it is checked where it is used

    def _reference(self, node: ast.Attribute | ast.Name) -> str | None:
        if isinstance(node, ast.Name):
            if node.id in self._tainted:
                return f"uses {node.id}, whose body has {self._tainted[node.id]}"
            if isinstance(node.ctx, ast.Store):
                return None
        parts = _dotted(node)
        if parts is None:
            return None
        root = self._aliases.get(parts[0], parts[0])
        name = ".".join([root, *parts[1:]])
        if (
            self.policy.modules
            and name.split(".")[0] in self.policy.modules
            and parts[0] in self._aliases
        ):
            return f"{name}: paper policy module"
        return self._match(name)

    def _match(self, name: str) -> str | None:
        if not self._maybe_unsafe.match(name):
            return None  # no unsafe pattern matches: the safe ones need not be asked
        if any(fnmatch.fnmatchcase(name, pat) for pat in self.policy.safe):
            return None
        for pattern, category in self.policy.unsafe.items():
            if fnmatch.fnmatchcase(name, pattern):  # "*" spans dots: "*.save" is any method
                return f"{name}: {category}"
        return None

    def _open_mode(self, call: ast.Call) -> str | None:
        """``open(path, "w")`` and friends: a write when the mode writes (or is computed)."""
        if not self.policy.write_modes:
            return None
        func = call.func
        if isinstance(func, ast.Name):
            if self._aliases.get(func.id, func.id) not in ("open", "io.open", "builtins.open"):
                return None
            mode_pos = 1
        elif isinstance(func, ast.Attribute) and func.attr == "open":
            parts = _dotted(func)
            on_module = parts is not None and parts[0] in self._aliases
            mode_pos = 1 if on_module else 0  # gzip.open(p, "wt") vs Path(p).open("w")
        else:
            return None
        mode = call.args[mode_pos] if len(call.args) > mode_pos else None
        for kw in call.keywords:
            if kw.arg == "mode":
                mode = kw.value
        if mode is None:
            return None
        if isinstance(mode, ast.Constant) and isinstance(mode.value, str):
            if any(c in mode.value for c in "wax+"):
                return f"open(..., {mode.value!r}): {FS_WRITE}"
            return None
        return f"open() with a computed mode: {FS_WRITE}"
