"""Gate policies: which dotted names seal (by category), which are safe, and the named policies.

Data, not logic: the default policy classifies calls and attributes precisely (``os.path.*`` is
safe, ``os.remove`` a file-system write, ``open(p, "w")`` a write mode); the ``paper`` policy
seals on any use of the paper's modules by name; ``off`` runs everything at once.
:meth:`Policy.extend` adds patterns. The gate (``_gate.py``) applies a policy to chunks.

IPython syntax reaches the gate already rewritten (``_ipysyntax.py``) as calls on
``get_ipython()``: :data:`SHELL_METHODS` says which methods seal (``!cmd`` is ``system``),
``Policy.line_magics`` which line magics may run early, ``Policy.cell_magics`` which cell magics
are looked through (their body is classified as code).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

__all__ = [
    "CODE_CELL_MAGICS",
    "FS_WRITE",
    "MAGIC",
    "POLICIES",
    "SAFE_LINE_MAGICS",
    "SHELL_METHODS",
    "Policy",
]

#: The category of a file-system write (also what ``open()`` in a writing mode is).
FS_WRITE = "file-system write"
_PROC = "process creation"
_NET = "network"
_IPC = "IPC"
_TIME = "timing-sensitive"
_DYN = "dynamic execution"
_IO = "interactive input"
#: The category of an IPython magic that is not on the policy's safe list.
MAGIC = "IPython magic"

#: Precise default: dotted names (fnmatch patterns) whose use seals, with their category.
_DEFAULT_UNSAFE: dict[str, str] = {
    **dict.fromkeys(
        [
            "os.remove",
            "os.unlink",
            "os.rmdir",
            "os.removedirs",
            "os.rename",
            "os.renames",
            "os.replace",
            "os.mkdir",
            "os.makedirs",
            "os.link",
            "os.symlink",
            "os.truncate",
            "os.chmod",
            "os.chown",
            "os.lchown",
            "os.utime",
            "os.mkfifo",
            "os.mknod",
            "os.write",
            "os.open",
            "os.ftruncate",
            "os.chdir",
            "os.chroot",
            "shutil.*",
            "pathlib.Path.write_*",
            "tempfile.*",
            "sqlite3.connect",
            "shelve.open",
            "dbm.open",
            "numpy.save*",
            "pickle.dump",
            "json.dump",
            "marshal.dump",
            "zipfile.ZipFile",
            "tarfile.open",
            "logging.FileHandler",
            "joblib.dump",
            "torch.save",
            "*.to_csv",
            "*.to_excel",
            "*.to_json",
            "*.to_parquet",
            "*.to_pickle",
            "*.to_feather",
            "*.to_hdf",
            "*.to_sql",
            "*.to_stata",
            "*.savefig",
            "*.save",
            "*.savez",
            "*.savetxt",
            "*.write_text",
            "*.write_bytes",
            "*.unlink",
            "*.mkdir",
            "*.rmdir",
            "*.touch",
            "*.symlink_to",
            "*.hardlink_to",
            "*.chmod",
        ],
        FS_WRITE,
    ),
    **dict.fromkeys(
        [
            "subprocess.*",
            "os.system",
            "os.popen",
            "os.fork",
            "os.forkpty",
            "os.exec*",
            "os.spawn*",
            "os.posix_spawn*",
            "os.kill",
            "os.killpg",
            "os.startfile",
            "os.abort",
            "pty.*",
            "multiprocessing.*",
            "concurrent.futures.ProcessPoolExecutor",
            "asyncio.create_subprocess_*",
            "webbrowser.*",
            "ctypes.*",
        ],
        _PROC,
    ),
    **dict.fromkeys(
        [
            "socket.*",
            "ssl.*",
            "requests.*",
            "httpx.*",
            "aiohttp.*",
            "urllib.request.*",
            "urllib3.*",
            "http.client.*",
            "http.server.*",
            "ftplib.*",
            "smtplib.*",
            "poplib.*",
            "imaplib.*",
            "telnetlib.*",
            "xmlrpc.client.*",
            "socketserver.*",
            "websockets.*",
            "websocket.*",
            "paramiko.*",
            "boto3.*",
            "openai.*",
            "pandas.read_html",
            "*.read_html",
            "nltk.download",
            "kaggle.*",
            "yfinance.*",
            "pandas_datareader.*",
        ],
        _NET,
    ),
    **dict.fromkeys(["mmap.*", "signal.*", "os.pipe", "os.mkfifo", "sysv_ipc.*"], _IPC),
    **dict.fromkeys(
        [
            "time.sleep",
            "time.time",
            "time.time_ns",
            "time.perf_counter*",
            "time.monotonic*",
            "time.process_time*",
            "time.clock_*",
            "time.localtime",
            "time.gmtime",
            "time.ctime",
            "time.asctime",
            "time.strftime",
            "datetime.datetime.now",
            "datetime.datetime.today",
            "datetime.datetime.utcnow",
            "datetime.date.today",
            "pandas.Timestamp.now",
            "pandas.Timestamp.today",
            "timeit.*",
            "asyncio.sleep",
            "threading.*",
            "_thread.*",
            "sched.*",
            "concurrent.futures.ThreadPoolExecutor",
            "atexit.*",
            "sys.setswitchinterval",
            "faulthandler.*",
        ],
        _TIME,
    ),
    **dict.fromkeys(
        [
            "eval",
            "exec",
            "compile",
            "__import__",
            "importlib.import_module",
            "importlib.reload",
            "runpy.*",
            "code.interact",
            "pdb.*",
            "breakpoint",
        ],
        _DYN,
    ),
    **dict.fromkeys(["input", "getpass.*", "sys.stdin.*"], _IO),
}

#: Methods of the IPython shell (``get_ipython().NAME(...)``) whose call seals, by category:
#: ``!cmd`` and ``!!cmd``/``x = !cmd`` become ``system`` and ``getoutput``.
SHELL_METHODS: dict[str, str] = {
    **dict.fromkeys(["system", "getoutput", "system_raw", "system_piped"], _PROC),
    **dict.fromkeys(
        [
            "run_cell",
            "run_cell_async",
            "run_code",
            "run_ast_nodes",
            "ex",
            "ev",
            "safe_execfile",
            "safe_execfile_ipy",
            "safe_run_module",
        ],
        _DYN,
    ),
}

#: IPython line magics that may run before the program is complete: they only configure the
#: session's display or inspect it, with no effect outside the session. ``env`` only while it
#: reads (``%env``, ``%env NAME``; ``%env NAME=value`` seals). Everything else seals, among
#: them the shell aliases (``ls``, ``cp``, ``rm``...), ``pip``/``conda``/``uv``, ``run``,
#: ``load``, ``save``, ``writefile``, ``cd``, ``sx``/``sc``/``system``, ``time``/``timeit``,
#: ``load_ext`` (runs the extension's code), ``history`` (``-f`` writes a file), ``reset``
#: (asks on stdin), ``bookmark``/``store`` (write IPython's database).
SAFE_LINE_MAGICS: frozenset[str] = frozenset(
    {
        # display and session settings
        "matplotlib",
        "config",
        "precision",
        "pprint",
        "xmode",
        "colors",
        "autocall",
        "automagic",
        "autoawait",
        "doctest_mode",
        # introspection: prints, changes nothing
        "pinfo",
        "pinfo2",
        "pdef",
        "pdoc",
        "psource",
        "pfile",
        "psearch",
        "who",
        "whos",
        "who_ls",
        "lsmagic",
        "magic",
        "quickref",
        "page",
        "pwd",
        "dirs",
        "dhist",
        "env",
    }
)

#: Cell magics the gate looks through: ``%%capture`` only captures the output of its body, so
#: the body is classified as code. Every other cell magic seals (``%%bash``, ``%%writefile``,
#: ``%%time``, ``%%script``...).
CODE_CELL_MAGICS: frozenset[str] = frozenset({"capture"})

#: Exceptions to the unsafe patterns (checked first).
_DEFAULT_SAFE = ("os.path.*", "pathlib.PurePath.*", "time.strptime", "datetime.datetime.strptime")

#: The paper's policy: any use of these modules seals.
_PAPER_MODULES = (
    "os",
    "subprocess",
    "shutil",
    "socket",
    "multiprocessing",
    "time",
    "signal",
    "threading",
)


@dataclass(frozen=True, slots=True)
class Policy:
    """What the gate seals on and whether it defers definitions.

    ``unsafe`` maps fnmatch patterns of dotted names (``"os.remove"``, ``"subprocess.*"``,
    ``"*.to_csv"`` for a method on any object) to a category; ``safe`` patterns win over them;
    ``modules`` seals on any use (import included) of a module by name, as the paper does.
    ``write_modes`` seals ``open()`` in a writing mode. ``line_magics`` are the IPython line
    magics allowed to run early, ``cell_magics`` the cell magics whose body is classified
    instead (other magics, ``!cmd`` and the :data:`SHELL_METHODS` seal). Extend with
    :meth:`extend`.
    """

    name: str
    unsafe: dict[str, str] = field(default_factory=dict)
    safe: tuple[str, ...] = ()
    modules: tuple[str, ...] = ()
    write_modes: bool = False
    defer_definitions: bool = True
    seal: bool = True
    line_magics: frozenset[str] = SAFE_LINE_MAGICS
    cell_magics: frozenset[str] = CODE_CELL_MAGICS

    def extend(
        self,
        *,
        unsafe: Iterable[str] = (),
        safe: Iterable[str] = (),
        category: str = "user",
        safe_magics: Iterable[str] = (),
    ) -> Policy:
        """A copy that also seals on ``unsafe`` patterns and never on ``safe`` ones (nor on the
        IPython line magics ``safe_magics``)."""
        return replace(
            self,
            name=f"{self.name}+",
            unsafe={**self.unsafe, **dict.fromkeys(unsafe, category)},
            safe=(*self.safe, *safe),
            line_magics=self.line_magics | frozenset(safe_magics),
        )


#: The policies selectable by name (``--gate NAME``).
POLICIES: dict[str, Policy] = {
    "default": Policy("default", unsafe=_DEFAULT_UNSAFE, safe=_DEFAULT_SAFE, write_modes=True),
    "paper": Policy(
        "paper",
        modules=_PAPER_MODULES,
        unsafe={k: v for k, v in _DEFAULT_UNSAFE.items() if v == _DYN},
    ),
    "off": Policy("off", defer_definitions=False, seal=False),
}
