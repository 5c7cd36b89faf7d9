"""A notebook cell in this process: the last expression's value held, figures flushed at the end.

For integrations whose session is an in-process namespace (smolagents): a cell (one step's
code) runs as several invocations while it streams; :class:`InProcessCell` keeps what IPython
would show for the cell run whole (``ast_node_interactivity="last_expr"``): an invocation that
ends in a bare expression holds its value (the object itself), any later statement drops it, and
at the cell's end the value is shown unless the cell ended with ``;``, raised, or the value is
None. Figures the cell made (matplotlib, when imported) are rendered to PNG at the cell's end
and closed, as matplotlib-inline does; ``display(obj)`` shows an image, or prints the object's
``repr``.
"""

from __future__ import annotations

import ast
import contextlib
import io
import sys
import tokenize
from typing import Any

__all__ = ["HOLD_NAME", "InProcessCell", "hold_last_expression", "is_quiet", "unhold_traceback"]

#: The name the last bare expression's value is assigned to while it is held.
HOLD_NAME = "__eager_value__"
_PREFIX = f"{HOLD_NAME} = "


def hold_last_expression(code: str) -> str | None:
    """``code`` with its last top-level statement, a bare expression, assigned to
    :data:`HOLD_NAME` (same lines); None when the last statement is no bare expression or the
    code does not parse (it then runs as it is)."""
    try:
        body = ast.parse(code).body
    except (SyntaxError, ValueError):
        return None
    if not body or not isinstance(body[-1], ast.Expr):
        return None
    node = body[-1]
    lines = code.splitlines(keepends=True)
    line = lines[node.lineno - 1]
    col = len(line.encode("utf-8")[: node.col_offset].decode("utf-8", "replace"))
    lines[node.lineno - 1] = line[:col] + _PREFIX + line[col:]
    return "".join(lines)


def has_statements(code: str) -> bool:
    """True when ``code`` holds a statement (not only blank lines and comments)."""
    try:
        return bool(ast.parse(code).body)
    except (SyntaxError, ValueError):
        return True


def unhold_traceback(text: str) -> str:
    """A traceback of held code as the model wrote it: the assignment of :data:`HOLD_NAME`
    removed from its lines (and the caret line under such a line dropped)."""
    out: list[str] = []
    skip = False
    for line in text.splitlines(keepends=True):
        if skip and line.strip() and set(line.strip()) <= {"^", "~"}:
            skip = False
            continue
        skip = _PREFIX in line
        out.append(line.replace(_PREFIX, ""))
    return "".join(out)


def is_quiet(cell: str) -> bool:
    """True when the cell's last token (comments aside) is ``;``: IPython shows no value."""
    last = None
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.ENDMARKER}
    skip |= {tokenize.INDENT, tokenize.DEDENT}
    with contextlib.suppress(tokenize.TokenError, SyntaxError, IndentationError):
        for tok in tokenize.generate_tokens(io.StringIO(cell).readline):
            if tok.type not in skip:
                last = tok
    return last is not None and last.type == tokenize.OP and last.string == ";"


def figure_numbers() -> set[int]:
    """The open matplotlib figures (none when pyplot was never imported)."""
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is None:
        return set()
    return {int(n) for n in plt.get_fignums()}


def png_of(obj: Any) -> bytes | None:
    """The PNG an object shows as: a matplotlib figure, a PIL image, ``_repr_png_``."""
    if hasattr(obj, "savefig") and hasattr(obj, "get_axes"):  # a matplotlib Figure
        if not obj.get_axes():
            return None  # inline shows a figure without axes as text only
        buf = io.BytesIO()
        obj.savefig(buf, format="png", bbox_inches="tight")
        return buf.getvalue()
    if hasattr(obj, "save") and hasattr(obj, "mode") and hasattr(obj, "size"):  # PIL
        buf = io.BytesIO()
        try:
            obj.save(buf, format="PNG")
        except (OSError, ValueError):
            return None
        return buf.getvalue()
    repr_png = getattr(obj, "_repr_png_", None)
    if callable(repr_png) and not isinstance(obj, type):
        with contextlib.suppress(Exception):
            data = repr_png()
            if isinstance(data, bytes):
                return data
    return None


class InProcessCell:
    """What one cell shows, for a session whose namespace is in this process (module doc).

    ``begin()`` opens a cell; ``prepare(code)`` gives the code to run for one invocation (the
    last bare expression held); ``ran(namespace, failed)`` records its outcome; ``display`` is
    the session's ``display()``; ``finish(cell, failed)`` returns the value to show (a 1-tuple,
    or None) and the PNG images of the cell (``display()`` calls, then the figures it made),
    with ``texts`` the ``text/plain`` of each figure (``<Figure size 640x480 with 1 Axes>``).
    """

    def __init__(self) -> None:
        self.held: tuple[Any] | None = None
        self.images: list[bytes] = []
        self.figures_before: set[int] = set()

    def begin(self) -> None:
        """A new cell: nothing held, no images; the figures open now are not this cell's."""
        self.held = None
        self.images = []
        self.figures_before = figure_numbers()

    def prepare(self, code: str) -> str:
        """The code to run for an invocation of the cell (its last expression held)."""
        if has_statements(code):
            self.held = None  # a later statement: the held value is no longer the last
        return hold_last_expression(code) or code

    def ran(self, namespace: dict[str, Any], *, failed: bool) -> None:
        """Keep the held value of the invocation that just ran (none when it failed)."""
        if HOLD_NAME in namespace:
            value = namespace.pop(HOLD_NAME)
            self.held = None if failed else (value,)
        elif failed:
            self.held = None

    def display(self, *objs: Any, out: Any = None) -> None:
        """``display()``: an image is kept for the cell, anything else printed as its repr."""
        for obj in objs:
            png = png_of(obj)
            if png is not None:
                self.images.append(png)
            else:
                print(repr(obj), file=out if out is not None else sys.stdout)

    def finish(self, cell: str, *, failed: bool) -> tuple[tuple[Any] | None, list[bytes], str]:
        """The cell's shown value, its images and the text of its figures (class doc)."""
        value = self.held
        if failed or value is None or value[0] is None or is_quiet(cell):
            value = None
        self.held = None
        images = list(self.images)
        texts: list[str] = []
        plt = sys.modules.get("matplotlib.pyplot")
        if plt is not None:
            for num in sorted(figure_numbers() - self.figures_before):
                fig = plt.figure(num)
                png = png_of(fig)
                if png is not None:
                    images.append(png)
                    texts.append(_figure_text(fig))
                plt.close(fig)
        self.images = []
        return value, images, "".join(t + "\n" for t in texts)


def _figure_text(fig: Any) -> str:
    """``<Figure size 640x480 with 1 Axes>``: a figure's ``text/plain`` in a notebook."""
    try:
        return repr(fig)
    except Exception:
        return "<Figure>"
