"""The sandbox policy and the bubblewrap command line that applies it (pure: argv out, no I/O).

A sandboxed session runs as ``bwrap <mounts and namespaces> [setpriv …] prlimit … -- python …``:

* **Namespaces**: own network (only its own loopback: ``--unshare-net``), PID (``/proc`` shows
  only the sandbox; the parent is invisible, so it can be neither signalled nor traced), IPC,
  UTS and cgroup namespaces; ``--new-session`` (no terminal injection), ``--die-with-parent``
  (the whole PID namespace goes when the session's parent goes).
* **Files**: an empty root with read-only binds of the system (``/usr`` and the ``/bin``,
  ``/lib*``, ``/sbin`` links or folders, a few harmless files of ``/etc``) and of the Python
  environment (interpreter prefix, virtualenv, site-packages, even inside ``/root`` or a home
  folder); a private ``/tmp`` (tmpfs of ``tmp_bytes``), a minimal ``/dev`` and ``/proc``; one
  writable work folder (the session's ``cwd``) plus ``writable_paths``; everything else (home
  folders, other sessions' folders, the project) does not exist inside. ``/etc/passwd`` and
  ``/etc/group`` are the sandbox's own (see :mod:`eager.backends._sandboxed`): the code's uid
  has a name and a home there.
* **Disk**: the writable space is bounded in total bytes (``disk_bytes``, 2 GiB by default):
  ``/tmp`` is a tmpfs of ``tmp_bytes`` and a private work folder (no ``cwd`` given) a tmpfs of
  the rest, so a full disk is ``ENOSPC`` inside and nothing outside notices. A work folder the
  caller gave (``cwd``) and ``writable_paths`` are the caller's own disk: bind-mounted, bounded
  per file only (``file_size_bytes``).
* **Who runs it**: as root, bwrap builds the namespaces without a user namespace, drops every
  capability but CAP_SETUID/CAP_SETGID, and ``setpriv`` switches to an unprivileged uid/gid
  picked per backend (no name in ``/etc/passwd``): the code holds no capability, cannot read
  root's files, and RLIMIT_NPROC is enforced (it is never enforced for uid 0, whatever the
  capabilities; a per-session uid also makes the count per session, without cgroups). The
  work folder is handed to that uid for the session. As another user, bwrap runs in a user
  namespace (``--unshare-user``) as that user, and RLIMIT_NPROC counts all the user's
  processes: the limit is set to the count at start plus ``max_processes``.
* **Limits** (``prlimit``, soft = hard, so the code cannot raise them): address space
  (``memory_bytes``: a ``MemoryError``), processes and threads, file size (``file_size_bytes``:
  an ``OSError`` "File too large"; Python ignores SIGXFSZ) and open files. CPU seconds per
  execution (``cpu_s``) are armed by the worker before each execution (a soft RLIMIT_CPU; over
  it the session is killed by SIGXCPU, reported as a crash and restarted).

The environment is passed by the process environment (already scrubbed, see
:mod:`eager.backends._env`), never on the command line, where ``ps`` would show it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from .._errors import BackendStartError, UsageError

__all__ = [
    "SANDBOX_NETWORK_PATHS",
    "SANDBOX_SYSTEM_PATHS",
    "SandboxPolicy",
    "bwrap_argv",
    "disk_split",
    "find_bwrap",
    "python_paths",
    "system_view",
]

#: System paths bound read-only when they exist (a folder, a file, or a symlink kept as one).
SANDBOX_SYSTEM_PATHS = (
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/timezone",
    "/etc/passwd",
    "/etc/group",
    "/etc/nsswitch.conf",
    "/etc/hosts",
    "/etc/host.conf",
    "/etc/mime.types",
    "/etc/fonts",
    "/etc/alternatives",
    "/etc/matplotlibrc",
    "/etc/os-release",
)

#: Also bound when the policy opens the network (name resolution, TLS certificates).
SANDBOX_NETWORK_PATHS = (
    "/etc/resolv.conf",
    "/etc/gai.conf",
    "/etc/ssl",
    "/etc/ca-certificates",
    "/etc/ca-certificates.conf",
)

_MiB = 1 << 20
_INSTALL_HINT = (
    "install bubblewrap (Debian/Ubuntu: `apt-get install bubblewrap`; `make test` does it when "
    "it can), or run without isolation on purpose (sandbox=None; --no-sandbox on the CLI)"
)


@dataclass(frozen=True, kw_only=True)
class SandboxPolicy:
    """What a sandboxed session may reach (safe defaults: nothing but its work folder).

    Every limit is per session; None lifts it. Paths are absolute; they are bound at the same
    place inside the sandbox.
    """

    #: Share the host's network (default False: own network namespace, its loopback only).
    network: bool = False
    #: Extra paths visible read-only (data sets, models), beyond the system and Python's own.
    read_only_paths: tuple[str, ...] = ()
    #: Extra writable paths, beyond the work folder (a shared output folder, say).
    writable_paths: tuple[str, ...] = ()
    #: Address-space limit of every process (RLIMIT_AS), bytes.
    memory_bytes: int | None = 2048 * _MiB
    #: CPU seconds each execution may use (RLIMIT_CPU, re-armed per execution); whole seconds.
    cpu_s: int | None = 600
    #: Processes and threads the sandbox may hold at once (RLIMIT_NPROC).
    max_processes: int | None = 256
    #: Largest file the code may write (RLIMIT_FSIZE), bytes.
    file_size_bytes: int | None = 1024 * _MiB
    #: Open files per process (RLIMIT_NOFILE).
    open_files: int | None = 1024
    #: Size of the private ``/tmp`` (memory-backed tmpfs), bytes (None with ``disk_bytes``: half
    #: of it).
    tmp_bytes: int | None = 256 * _MiB
    #: All the sandbox may write in its private work folder and ``/tmp`` together, bytes: the
    #: work folder (a tmpfs when no ``cwd`` is given) gets what ``/tmp`` does not. None: no
    #: bound beyond ``tmp_bytes``. A ``cwd`` given by the caller is not bounded by it.
    disk_bytes: int | None = 2048 * _MiB
    #: The bubblewrap executable (a name looked up on PATH, or a path).
    bwrap: str = "bwrap"
    #: As root: the uid/gid the code runs as (None: a fresh unprivileged one per backend).
    uid: int | None = None
    #: Extra bwrap arguments, inserted before the command (an escape hatch; reviewed by you).
    extra_bwrap_args: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        for name in (
            "memory_bytes",
            "cpu_s",
            "max_processes",
            "file_size_bytes",
            "open_files",
            "tmp_bytes",
            "disk_bytes",
        ):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value <= 0
            ):
                raise UsageError(f"SandboxPolicy.{name} must be a positive int or None: {value!r}")
        for name in ("read_only_paths", "writable_paths"):
            paths = getattr(self, name)
            if isinstance(paths, str) or not all(
                isinstance(p, str) and os.path.isabs(p) for p in paths
            ):
                raise UsageError(f"SandboxPolicy.{name} must be a tuple of absolute paths")
        if (
            self.disk_bytes is not None
            and self.tmp_bytes is not None
            and not self.tmp_bytes < self.disk_bytes
        ):
            raise UsageError(
                f"SandboxPolicy.tmp_bytes ({self.tmp_bytes}) must be less than disk_bytes "
                f"({self.disk_bytes}): /tmp is part of the bounded disk"
            )
        if self.uid is not None and not (0 < self.uid < 2**32 - 1):
            raise UsageError(f"SandboxPolicy.uid must be an unprivileged uid, not {self.uid!r}")


def disk_split(policy: SandboxPolicy) -> tuple[int | None, int | None]:
    """Bytes of the private ``/tmp`` and of a private work folder (None: unbounded)."""
    tmp = policy.tmp_bytes
    if policy.disk_bytes is None:
        return tmp, None
    if tmp is None:
        tmp = policy.disk_bytes // 2
    return tmp, policy.disk_bytes - tmp


def find_bwrap(policy: SandboxPolicy) -> str:
    """The bwrap executable's path; :class:`~eager.BackendStartError` saying what to do if none."""
    found = shutil.which(policy.bwrap)
    if found is None:
        raise BackendStartError(
            f"the sandbox needs bubblewrap ({policy.bwrap!r} not found): " + _INSTALL_HINT
        )
    return found


def _ancestors(path: str) -> list[str]:
    parts = path.strip("/").split("/")[:-1]
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _limit(flag: str, value: int | None) -> list[str]:
    return [] if value is None else [f"--{flag}={value}:{value}"]


def bwrap_argv(
    policy: SandboxPolicy,
    *,
    bwrap: str,
    work_dir: str,
    python_paths: Iterable[str],
    system_paths: Mapping[str, str],
    as_root: bool,
    uid: int,
    nproc_base: int = 0,
    prlimit: str = "/usr/bin/prlimit",
    setpriv: str = "/usr/bin/setpriv",
    private_work: bool = False,
    files: Mapping[str, str] | None = None,
) -> list[str]:
    """The command prefix that runs a command inside ``policy``'s sandbox (append the command).

    ``system_paths`` maps each existing system path to ``"dir"``, ``"file"`` or a symlink's
    target (kept as a symlink); ``python_paths`` are the interpreter's folders; ``as_root``
    says whether the caller is root (then ``setpriv`` switches to ``uid``); ``nproc_base`` is
    added to ``max_processes`` (the processes the uid already has, when not root).
    ``private_work``: the work folder is the sandbox's own, a tmpfs of what ``disk_bytes``
    leaves to it (else the host folder is bound). ``files`` maps a path inside to a host file
    bound read-only there in place of the system's (``/etc/passwd``).
    """
    files = dict(files or {})
    tmp_bytes, work_bytes = disk_split(policy)
    argv = [bwrap, "--unshare-ipc", "--unshare-pid", "--unshare-uts", "--unshare-cgroup"]
    if not policy.network:
        argv.append("--unshare-net")
    if not as_root:
        argv.append("--unshare-user")
    argv += ["--hostname", "eager-sandbox", "--die-with-parent", "--new-session"]
    if as_root:
        argv += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]

    binds: list[tuple[str, str]] = []  # (path, how): how in ro, rw
    links: list[tuple[str, str]] = []
    for path, kind in system_paths.items():
        if path in files:
            continue
        if kind in ("dir", "file"):
            binds.append((path, "ro"))
        else:
            links.append((path, kind))
    binds += [(p, "ro") for p in python_paths]
    binds += [(p, "ro") for p in policy.read_only_paths]
    binds += [(p, "rw") for p in (work_dir, *policy.writable_paths)]
    # The private /tmp first: folders and binds below it come after.
    argv += ["--proc", "/proc", "--dev", "/dev"]
    if tmp_bytes is not None:
        argv += ["--size", str(tmp_bytes)]
    argv += ["--perms", "1777", "--tmpfs", "/tmp"]
    # Folders bwrap creates on its way to a bind point are 0700 by default: make them
    # traversable (the unprivileged uid must reach /root/.pyenv/... or /work/venv).
    # Shallow first, so a writable folder inside a read-only one (or inside /tmp) wins; a path
    # listed twice is writable if either says so; a read-only path inside a bound one is there.
    unique: dict[str, str] = {}
    for path, how in binds:
        unique[path] = "rw" if unique.get(path) == "rw" else how
    order = sorted(unique, key=lambda p: (p.count("/"), p))
    order = [
        p
        for p in order
        if unique[p] == "rw"
        or not any(_within(p, q) and unique[q] == "ro" for q in order if q != p)
    ]
    made: list[str] = []
    for path in [*order, *files]:
        for parent in _ancestors(path):
            if (
                parent not in made
                and parent != "/tmp"
                and not any(_within(parent, q) for q in order)
            ):
                made.append(parent)
    for parent in sorted(made, key=lambda p: p.count("/")):
        argv += ["--perms", "0755", "--dir", parent]
    for path, target in links:
        argv += ["--symlink", target, path]
    for path in order:
        if path == work_dir and private_work:
            # The sandbox's own folder: a tmpfs, its bytes counted against disk_bytes.
            if work_bytes is not None:
                argv += ["--size", str(work_bytes)]
            argv += ["--perms", "0777" if as_root else "0700", "--tmpfs", path]
            continue
        argv += ["--bind" if unique[path] == "rw" else "--ro-bind", path, path]
    for inside, host in files.items():
        argv += ["--ro-bind", host, inside]
    argv += ["--chdir", work_dir, *policy.extra_bwrap_args, "--"]
    if as_root:
        argv += [
            setpriv,
            f"--reuid={uid}",
            f"--regid={uid}",
            "--clear-groups",
            "--no-new-privs",
            "--",
        ]
    limits = [
        *_limit("as", policy.memory_bytes),
        *_limit(
            "nproc",
            None if policy.max_processes is None else policy.max_processes + nproc_base,
        ),
        *_limit("fsize", policy.file_size_bytes),
        *_limit("nofile", policy.open_files),
    ]
    if limits:
        argv += [prlimit, *limits, "--"]
    return argv


def system_view(paths: Sequence[str] = SANDBOX_SYSTEM_PATHS) -> dict[str, str]:
    """What each existing system path is here: ``"dir"``, ``"file"`` or a symlink's target."""
    view: dict[str, str] = {}
    for path in paths:
        if os.path.islink(path):
            view[path] = os.readlink(path)
        elif os.path.isdir(path):
            view[path] = "dir"
        elif os.path.exists(path):
            view[path] = "file"
    return view


def python_paths(python: str) -> list[str]:
    """The folders an interpreter needs: its prefix, its virtualenv's, their site-packages.

    For this interpreter they come from :mod:`sys` and :mod:`site`; for another one, from its
    location (``<prefix>/bin/python``) and its ``pyvenv.cfg``.
    """
    import site
    import sys

    found: list[str] = []
    exe = os.path.abspath(python)
    real = os.path.realpath(exe)
    if real == os.path.realpath(sys.executable):
        found += [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix]
        found += site.getsitepackages()
        if site.ENABLE_USER_SITE and os.path.isdir(site.getusersitepackages()):
            found.append(site.getusersitepackages())
    for binary in (exe, real):
        root = os.path.dirname(os.path.dirname(binary))
        found.append(root)
        cfg = os.path.join(root, "pyvenv.cfg")
        if os.path.isfile(cfg):
            with open(cfg, encoding="utf-8", errors="replace") as f:
                for line in f:
                    key, _, value = line.partition("=")
                    if key.strip() == "home" and value.strip():
                        found.append(os.path.dirname(os.path.realpath(value.strip())))
    result: list[str] = []
    for path in found:
        path = os.path.realpath(path)
        if path != "/" and os.path.isdir(path) and path not in result:
            result.append(path)
    # The venv path as written too (a symlinked venv is reached by the name in its scripts).
    for path in found:
        path = os.path.abspath(path)
        if path != "/" and os.path.isdir(path) and path not in result:
            result.append(path)
    return result
