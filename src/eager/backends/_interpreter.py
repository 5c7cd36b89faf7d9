"""The interpreter of every backend: runs chunks as lines of one program (stdlib, Python >= 3.8).

:class:`Interpreter` compiles each chunk at its line in the whole program, keeps the program's
text for tracebacks and reports errors as data: ``{"ename", "evalue", "traceback", "lineno",
"statement_line", "kind"}`` (``lineno``: the program line that raised; ``statement_line``: where
the top-level statement that was running starts). The same code runs in three places: in the
REPL child (sent as source text with the worker, so the child needs no Eager), in a Jupyter
kernel (installed by the setup cell) and in-process for :class:`eager.FakeBackend`; so every
backend reports errors alike. Standalone: no import of Eager, no syntax newer than 3.8.

:class:`Notebook` adds what IPython shows for a cell (``display="notebook"``) on top of it, for
any ``InteractiveShell``: the kernel's own, or one made by :func:`make_shell` whose display hook
and publisher hand each output to a callback (the REPL worker, the fake backend). A cell runs
as several invocations; display and bookkeeping happen once, at its end (NOTEBOOK.md §5).
"""

from __future__ import annotations

import ast
import gc
import linecache
import os
import re
import sys
import traceback
from types import CodeType, TracebackType
from typing import Any

# Interpreter is internal (shared by the REPL worker, FakeBackend and the kernel backends).
__all__ = ["NOTEBOOK_NEEDS", "PROGRAM_FILENAME"]

#: What a session needs for notebook display (said when it is missing).
NOTEBOOK_NEEDS = (
    "notebook display needs IPython in the session's Python environment "
    "(pip install ipython), or display='script'"
)
#: The matplotlib backend of notebook cells (ipykernel's default): figures at the cell end.
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"
_NOTHING = object()

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


def _is_string(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


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
        #: The value of the last bare expression run with ``hold=True`` (or _NOTHING).
        self.held: Any = _NOTHING
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

    def define(self, values: dict[str, Any]) -> None:
        """Put ``values`` in the namespace for good (a reset keeps them): the tools' stubs."""
        self.namespace.update(values)
        self._base.update(values)

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

    def run(self, code: str, first_line: int = 1, hold: bool = False) -> dict[str, Any] | None:
        """Compile and run ``code`` (line ``first_line`` of the program); the error or None.

        ``hold``: a notebook cell's chunk. When its last top-level statement is a bare
        expression, its value is kept in :attr:`held` (the cell may end with it); any other
        statement drops what was held, as it is no longer the cell's last.
        """
        first_line = max(1, int(first_line))
        if first_line == 1 and code.startswith("\ufeff"):
            code = code[1:]  # a byte-order mark, as Python skips it at the top of a script file
        self._remember(code, first_line)
        if hold:
            return self._run_held(code, first_line)
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

    def _run_held(self, code: str, first_line: int) -> dict[str, Any] | None:
        flags = self._future_flags
        try:
            tree = compile(
                "\n" * (first_line - 1) + code,
                self.filename,
                "exec",
                flags=flags | ast.PyCF_ONLY_AST,
                dont_inherit=True,
            )
            if not tree.body:  # comments only: the cell's last statement is unchanged
                return None
            self.held = _NOTHING
            last = tree.body.pop() if isinstance(tree.body[-1], ast.Expr) else None
            body = tree.body
            if first_line > 1 and body and _is_string(body[0]):
                # not the program's docstring: keep it a plain expression
                body.insert(0, ast.Pass(lineno=body[0].lineno, col_offset=0))
            parts: list[tuple[str, CodeType]] = []
            if body:
                parts.append(("exec", compile(tree, self.filename, "exec", flags, True)))
            if last is not None:
                expr = ast.Expression(last.value)
                parts.append(("eval", compile(expr, self.filename, "eval", flags, True)))
        except BaseException as exc:
            return self._compile_error(exc)
        for kind, compiled in parts:
            self._future_flags |= compiled.co_flags & _FUTURE_MASK
            try:
                self.executing = True
                try:
                    value = eval(compiled, self.namespace)
                finally:
                    self.executing = False
            except BaseException as exc:
                return self._runtime_error(exc, compiled, code, first_line)
            if kind == "eval":
                self.held = value
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


class Notebook:
    """Shows a cell as IPython's ``run_cell`` does, though it runs as several invocations.

    ``shell`` is an IPython ``InteractiveShell``. Per invocation: :meth:`step` (begin the cell,
    run a chunk holding a last bare expression, finish the cell). Per cell, once: the
    execution count, ``pre_run_cell``/``post_run_cell``, the ``;`` test on the whole cell (it
    is stored in the history first, as IPython stores it), the display hook (``_``, ``Out``,
    ``execute_result``), and ``post_execute`` (matplotlib-inline's figure flush). Between
    the begin and the end of a cell the ``pre_execute``/``post_execute`` callbacks are held
    back; ``hooks_per_request``: the shell itself fires them around every invocation (an
    ipykernel runs each invocation as a silent request), else this class fires them.
    """

    def __init__(self, interp: Interpreter, shell: Any, *, hooks_per_request: bool) -> None:
        self.interp = interp
        self.shell = shell
        self.hooks_per_request = hooks_per_request
        self.open = False
        #: The execution count of the last cell begun (the shell's own, at first).
        self.count = max(0, int(getattr(shell, "execution_count", 1)) - 1)
        self._parked: dict[str, list[Any]] = {}
        self._info: Any = None

    def step(
        self,
        code: str,
        first_line: int,
        begin: bool = False,
        end: bool = False,
        source: str = "",
        failed: bool = False,
        on_error: Any = None,
    ) -> dict[str, Any] | None:
        """One invocation of a cell: the error of its code, or None. A failing chunk ends
        the cell (nothing displayed, figures flushed after the error, as IPython does);
        ``on_error(error)`` is called first, so the error is shown where IPython shows it."""
        if not (code or begin or end):
            return None  # a warm-up: the shell exists now
        shell = self.shell
        if getattr(shell, "_eager_shell", False):  # ours: as run_cell holds them while it runs
            with shell.builtin_trap, shell.display_trap, _inline_backend_env():
                return self._step(code, first_line, begin, end, source, failed, on_error)
        return self._step(code, first_line, begin, end, source, failed, on_error)

    def _step(
        self,
        code: str,
        first_line: int,
        begin: bool,
        end: bool,
        source: str,
        failed: bool,
        on_error: Any,
    ) -> dict[str, Any] | None:
        if begin or (code and not self.open):  # (a lone end after a restart closes nothing)
            self.begin()
        error = None
        if code:
            try:
                error = self.interp.run(code, first_line, hold=True)
            finally:
                self._park_new()
        if error is not None:
            if on_error is not None:
                on_error(error)
            elif getattr(self.shell, "_eager_shell", False):
                self.shell._eager_emit[0]("error", {}, {}, None)
        if error is not None or end:
            self.finish(source, failed or error is not None)
        return error

    def begin(self) -> None:
        """Open a cell: reserve its execution count, fire the start hooks, hold the rest."""
        if self.open:
            self.finish("", True)
        shell = self.shell
        _pandas_as_in_a_kernel()
        self.interp.held = _NOTHING
        self.count += 1
        shell.execution_count = self.count + 1  # as run_cell: taken before the code runs
        self.open = True
        if not self.hooks_per_request:
            shell.events.trigger("pre_execute")
        try:
            from IPython.core import interactiveshell

            info: Any = interactiveshell.ExecutionInfo
            self._info = info("", True, False, True, None)
        except Exception:
            self._info = None
        shell.events.trigger("pre_run_cell", self._info)
        for name in ("pre_execute", "post_execute"):
            self._parked[name] = list(shell.events.callbacks[name])
            shell.events.callbacks[name][:] = []

    def _park_new(self) -> None:
        # Hooks registered mid-cell (matplotlib-inline's, at the first pyplot import) wait too.
        callbacks = self.shell.events.callbacks
        for name, parked in self._parked.items():
            parked.extend(c for c in callbacks[name] if c not in parked)
            callbacks[name][:] = []

    def finish(self, source: str, failed: bool) -> None:
        """Close the cell: store it, display its value, then the end hooks (figures)."""
        if not self.open:
            return
        shell = self.shell
        self._park_new()
        value, self.interp.held = self.interp.held, _NOTHING
        self.open = False
        try:
            if source.strip() and shell.history_manager is not None:
                shell.history_manager.store_inputs(self.count, source, source)
            if value is not _NOTHING and not failed:
                shell.displayhook(value)
        finally:
            for name, parked in self._parked.items():
                shell.events.callbacks[name][:] = parked
            self._parked = {}
            if not self.hooks_per_request:
                shell.events.trigger("post_execute")
            result = None
            try:
                from IPython.core import interactiveshell

                outcome: Any = interactiveshell.ExecutionResult
                result = outcome(self._info)
                result.execution_count = self.count
            except Exception:
                result = None
            shell.events.trigger("post_run_cell", result)

    def reset(self) -> None:
        """A fresh namespace (the interpreter's reset) and fresh notebook bookkeeping."""
        if self.open:
            self.finish("", True)
        self.count = 0
        shell = self.shell
        shell.execution_count = 1
        hm = shell.history_manager
        if hm is not None:
            del hm.input_hist_parsed[1:], hm.input_hist_raw[1:]
            hm.output_hist.clear()
            hm.output_hist_reprs.clear()
        hook = shell.displayhook
        hook._, hook.__, hook.___ = "", "", ""
        shell.init_user_ns()


def make_shell(namespace: dict[str, Any], emit: Any) -> Any:
    """The process's IPython shell for notebook cells, publishing through ``emit``.

    ``emit(output_type, data, metadata, execution_count)`` receives every ``display_data``
    and ``execute_result`` bundle, in order. The shell runs code in ``namespace``; it is the
    process-wide ``InteractiveShell`` (``display()`` and matplotlib-inline find it so), so one
    process has one. Raises ImportError (with :data:`NOTEBOOK_NEEDS`) without IPython.
    """
    try:
        from IPython.core.displayhook import DisplayHook
        from IPython.core.displaypub import DisplayPublisher
        from IPython.core.interactiveshell import InteractiveShell
    except ImportError as exc:
        raise ImportError(NOTEBOOK_NEEDS) from exc

    class Publisher(DisplayPublisher):
        def publish(self, data: Any, metadata: Any = None, source: Any = None, **kw: Any) -> None:
            if kw.get("update"):
                return  # an update of an earlier display: a static log keeps the first
            emit("display_data", dict(data), dict(metadata or {}), None)

        def clear_output(self, wait: bool = False) -> None:
            return

    class Hook(DisplayHook):
        def write_output_prompt(self) -> None:
            return

        def write_format_data(self, format_dict: Any, md_dict: Any = None) -> None:
            emit("execute_result", dict(format_dict), dict(md_dict or {}), self.prompt_count)

        def finish_displayhook(self) -> None:
            self._is_active = False

    shell: Any
    if InteractiveShell.initialized():
        shell = InteractiveShell.instance()
        if not getattr(shell, "_eager_shell", False):
            raise ImportError("this process already runs an IPython shell of its own")
        shell._eager_emit[0] = emit
        _rebind(shell, namespace)
        return shell
    main = sys.modules.get("__main__")
    emitter = [emit]

    def forward(*args: Any) -> None:
        emitter[0](*args)

    emit = forward
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.enabled = False
    config.InteractiveShell.colors = "nocolor"
    config.InteractiveShell.xmode = "Plain"

    class Shell(InteractiveShell):
        def enable_gui(self, gui: Any = None) -> None:
            # %matplotlib inline (and %matplotlib): figures come back at the cell's end, as
            # under ipykernel; a session has no screen for a GUI event loop.
            if gui not in (None, "inline"):
                raise RuntimeError(f"no GUI in this session: %gui {gui} is not available")

    shell = Shell.instance(
        config=config,
        user_ns=namespace,
        display_pub_class=Publisher,
        displayhook_class=Hook,
    )
    # The shell installs its namespace as __main__: a host process keeps its own.
    keep = main is not None and main.__dict__ is not namespace
    if keep and main is not None and sys.modules.get("__main__") is not main:
        sys.modules["__main__"] = main
    shell._eager_shell = True
    shell._eager_emit = emitter
    shell._eager_ns = namespace
    _inline_figures()
    if "pandas" not in sys.modules:
        sys.meta_path.insert(0, _PandasAsInAKernel())
    return shell


class _inline_backend_env:
    """While a cell runs: a first ``import matplotlib`` picks the inline backend (as under
    ipykernel, which sets ``MPLBACKEND``), unless the environment chose one; restored after,
    so a host process running cells in itself keeps its own environment."""

    def __enter__(self) -> None:
        self.set = "MPLBACKEND" not in os.environ
        if self.set:
            os.environ["MPLBACKEND"] = INLINE_BACKEND

    def __exit__(self, *exc: object) -> None:
        if self.set:
            os.environ.pop("MPLBACKEND", None)


def _rebind(shell: Any, namespace: dict[str, Any]) -> None:
    """Point the process's shell at another namespace (in-process fake backends)."""
    if shell._eager_ns is namespace:
        return
    shell._eager_ns = namespace
    hook = shell.displayhook
    hook._, hook.__, hook.___ = "", "", ""
    module, namespace = shell.prepare_user_module(user_ns=namespace)
    shell.user_ns = namespace
    shell.user_module = module
    shell.ns_table["user_global"] = namespace
    shell.ns_table["user_local"] = namespace
    if "Out" not in namespace:
        shell.init_user_ns()
        namespace["_oh"] = namespace["Out"] = {}  # its own outputs, not another namespace's


def bundle(data: Any) -> dict[str, str]:
    """A MIME bundle with text payloads only (binary as base64, JSON values as JSON text)."""
    import base64
    import json

    out = {}
    for key, value in dict(data).items():
        if isinstance(value, (bytes, bytearray)):
            value = base64.b64encode(bytes(value)).decode("ascii")
        elif not isinstance(value, str):
            try:
                value = json.dumps(value)
            except (TypeError, ValueError):
                value = repr(value)
        out[str(key)] = value
    return out


def _inline_figures() -> None:
    # pyplot already imported (a preloaded session): switch it to the inline backend.
    if "matplotlib.pyplot" in sys.modules:
        try:
            plt = sys.modules["matplotlib.pyplot"]
            if plt.get_backend() != INLINE_BACKEND:
                plt.switch_backend(INLINE_BACKEND)
        except Exception:
            pass


class _PandasAsInAKernel:
    """A meta path finder that sets pandas' notebook options right after its import (in the
    same statement, as a kernel's pandas has them from the start)."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name != "pandas":
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        import importlib.util

        spec = importlib.util.find_spec(name)
        loader = getattr(spec, "loader", None)
        run = getattr(loader, "exec_module", None)
        if run is None:
            return spec

        def exec_module(module: Any) -> None:
            run(module)
            _pandas_as_in_a_kernel()

        loader.exec_module = exec_module  # type: ignore[union-attr]
        return spec


def _pandas_as_in_a_kernel() -> None:
    # pandas picks display.max_columns at import: 20 under a kernel, 0 (the terminal's
    # width) elsewhere; a DataFrame must print as the notebook prints it.
    pd: Any = sys.modules.get("pandas")
    if pd is None or getattr(pd, "_eager_notebook", False):
        return
    try:
        pd.set_option("display.max_columns", 20)
        pd._eager_notebook = True
    except Exception:
        pass


class ToolError(Exception):
    """A host tool failed (its own error type is no builtin exception): type and message."""


def install_tools(interp: Interpreter, specs: list[dict[str, Any]], call: Any) -> None:
    """Define one stub per tool spec in the namespace (for good): a function of the tool's name,
    signature and doc that sends its JSON arguments through ``call(name, args, kwargs)`` and
    returns the reply's value (decoded by the tool's codec), or raises the tool's error."""
    import builtins
    import inspect
    import json

    namespace = interp.namespace
    stubs = {}
    for spec in specs:
        params = []
        for p in spec["params"]:
            default: Any = inspect.Parameter.empty
            if "default" in p:
                default = p["default"]
            elif "default_repr" in p:
                default = _Default(p["default_repr"])
            params.append(
                inspect.Parameter(p["name"], inspect._ParameterKind(p["kind"]), default=default)
            )
        signature = inspect.Signature(params)
        decode = eval(spec["decode"], namespace) if spec.get("decode") else None

        def make(name: str, signature: Any, decode: Any, doc: Any) -> Any:
            def stub(*args: Any, **kwargs: Any) -> Any:
                bound = signature.bind(*args, **kwargs)
                given = [a for a in bound.args]
                named = {k: v for k, v in bound.kwargs.items()}
                for i, value in enumerate(given):  # an unserialisable default stays the host's
                    if isinstance(value, _Default):
                        del given[i:]
                        break
                named = {k: v for k, v in named.items() if not isinstance(v, _Default)}
                try:
                    json.dumps([given, named])
                except (TypeError, ValueError) as exc:
                    raise TypeError(f"{name}() takes JSON values as arguments: {exc}") from None
                reply = call(name, given, named)
                if "error" in reply:
                    error = reply["error"]
                    kind = getattr(builtins, str(error.get("type")), None)
                    message = str(error.get("message", ""))
                    if isinstance(kind, type) and issubclass(kind, Exception):
                        raise kind(message)
                    raise ToolError(f"{error.get('type')}: {message}")
                value = reply.get("value")
                return decode(value) if decode is not None else value

            stub.__name__ = stub.__qualname__ = name
            stub.__doc__ = doc
            stub.__signature__ = signature  # type: ignore[attr-defined]
            return stub

        stubs[spec["name"]] = make(spec["name"], signature, decode, spec.get("doc") or None)
    interp.define(stubs)


class _Default:
    """A tool's default that is no JSON value: shown by its repr, filled in by the host."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text
