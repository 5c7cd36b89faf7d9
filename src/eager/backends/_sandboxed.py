"""Setting up one sandboxed session: bwrap found, a uid picked, the work folder handed over.

The policy and the command line are pure (:mod:`eager.backends._sandbox`); this module does the
few things around them that touch the machine, for the REPL and the Jupyter backends alike.

Each session has a state folder of its own on the host, ``<tmp>/eager-sandbox-<pid>-<start>-*``
(the parent's pid and start time): the sandbox's ``/etc/passwd`` and ``/etc/group`` (its uid has
a name, ``sandbox``, and a home, the work folder: ``getpass.getuser()``, ``Path.home()``,
``pwd`` look-ups resolve), the mount point of a private work folder, and, as root, who owned a
given work folder before it was handed over. A state folder whose parent died (killed hard,
``close`` never ran) is reclaimed by the next sandboxed start: the work folder given back to its
owner, the folder removed.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from .._errors import BackendStartError
from ._sandbox import (
    SANDBOX_NETWORK_PATHS,
    SANDBOX_SYSTEM_PATHS,
    SandboxPolicy,
    _within,
    bwrap_argv,
    find_bwrap,
    python_paths,
    system_view,
)

__all__ = ["SANDBOX_HINT", "STATE_PREFIX", "SandboxSetup", "reclaim_orphans"]

#: Appended to a start error of a sandboxed session: what to check, what to do.
SANDBOX_HINT = (
    "the sandbox (bubblewrap) could not be created: check that `bwrap --ro-bind / / true` works "
    "here (user namespaces enabled: sysctl user.max_user_namespaces > 0, and "
    "kernel.unprivileged_userns_clone=1 where it exists; in a container, run it with "
    "--privileged or a seccomp profile that allows namespaces), or run without isolation on "
    "purpose (sandbox=None; --no-sandbox on the CLI)"
)

#: Prefix of the sessions' state folders in the temporary folder.
STATE_PREFIX = "eager-sandbox-"

# Unprivileged uids picked for sessions: far from real users and from the "nobody" uid.
_UID_BASE = 1_000_000_000
_UID_SPAN = 1_000_000_000


def _tasks_of(uid: int) -> int:
    """Processes and threads owned by ``uid`` now (what RLIMIT_NPROC counts)."""
    count = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status", encoding="ascii", errors="replace") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            continue
        if int(fields.get("Uid", "-1 ").split()[0]) == uid:
            count += int(fields.get("Threads", "1").strip() or 1)
    return count


class SandboxSetup:
    """One backend's sandbox: its work folder, its uid, the command prefix, the environment.

    ``cwd`` None: a fresh private work folder (``work_dir``), removed by :meth:`release`. As
    root, the work folder (and what the caller put in it) is handed to the sandbox's uid for
    the session and given back to the folder's owner by :meth:`release`.
    """

    def __init__(self, policy: SandboxPolicy, *, cwd: str | None, python: str) -> None:
        self.policy = policy
        self.python = python
        reclaim_orphans()
        self._own_dir = cwd is None
        me = os.getpid()
        self.state_dir = tempfile.mkdtemp(prefix=f"{STATE_PREFIX}{me}-{_started(me)}-")
        os.chmod(self.state_dir, 0o711)  # bwrap (root without capabilities) binds from it
        if cwd is None:
            os.mkdir(os.path.join(self.state_dir, "work"), 0o700)
        self.work_dir = os.path.realpath(
            os.path.join(self.state_dir, "work") if cwd is None else cwd
        )
        self.as_root = os.geteuid() == 0
        self.uid = (
            policy.uid if policy.uid is not None else _UID_BASE + secrets.randbelow(_UID_SPAN)
        )
        self._owners: dict[str, tuple[int, int, int]] = {}

    def command(self) -> list[str]:
        """The prefix that runs a command in the sandbox; raises BackendStartError (what to do)."""
        bwrap = find_bwrap(self.policy)
        if not os.path.isdir(self.work_dir):
            raise BackendStartError(f"the sandbox's work folder {self.work_dir!r} does not exist")
        for tool in ("/usr/bin/prlimit", "/usr/bin/setpriv" if self.as_root else None):
            if tool is not None and not os.access(tool, os.X_OK):
                raise BackendStartError(
                    f"the sandbox needs {tool} (util-linux); install it, or run without "
                    "isolation on purpose (sandbox=None; --no-sandbox on the CLI)"
                )
        paths = SANDBOX_SYSTEM_PATHS + (SANDBOX_NETWORK_PATHS if self.policy.network else ())
        pythons = python_paths(self.python)
        self.check_folders([*paths, *pythons])
        if self.as_root:
            self._hand_over()
        return bwrap_argv(
            self.policy,
            bwrap=bwrap,
            work_dir=self.work_dir,
            python_paths=pythons,
            system_paths=system_view(paths),
            as_root=self.as_root,
            uid=self.uid,
            nproc_base=0 if self.as_root else _tasks_of(os.getuid()),
            private_work=self._own_dir,
            files=self._user_files(),
        )

    def _user_files(self) -> dict[str, str]:
        """The sandbox's /etc/passwd and /etc/group: root, the code's user, nobody."""
        uid, gid = (self.uid, self.uid) if self.as_root else (os.getuid(), os.getgid())
        passwd = (
            "root:x:0:0:root:/root:/usr/sbin/nologin\n"
            f"sandbox:x:{uid}:{gid}:eager sandbox:{self.work_dir}:/bin/sh\n"
            "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
        )
        group = f"root:x:0:\nsandbox:x:{gid}:\nnogroup:x:65534:\n"
        files = {}
        for name, text in (("passwd", passwd), ("group", group)):
            path = os.path.join(self.state_dir, name)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            os.chmod(path, 0o644)
            files[f"/etc/{name}"] = path
        return files

    def check_folders(self, needed: list[str]) -> None:
        """Refuse a writable folder holding ``needed`` paths or the home folder.

        It would open them up (and, as root, hand them to the sandbox's uid); the error says
        what to pass instead.
        """
        home = os.path.realpath(os.path.expanduser("~"))
        for path in (self.work_dir, *self.policy.writable_paths):
            real = os.path.realpath(path)
            for inner in (*needed, home):
                if _within(inner, real):
                    raise BackendStartError(
                        f"the sandbox's writable folder {path!r} holds {inner!r}: give the "
                        "session a folder of its own (cwd=, --cwd), not a parent of the "
                        "system, the Python environment or the home folder"
                    )

    def env(self, env: Mapping[str, str]) -> dict[str, str]:
        """``env`` as seen inside: HOME is the work folder, TMPDIR the private /tmp.

        Caches and configuration (XDG, matplotlib, IPython) go to the private /tmp, so the
        work folder holds what the program wrote and nothing else (``env`` may say otherwise).
        """
        inside = dict(env)
        inside.update(HOME=self.work_dir, TMPDIR="/tmp", USER="sandbox", LOGNAME="sandbox")
        for name, value in (
            ("XDG_CACHE_HOME", "/tmp/.cache"),
            ("XDG_CONFIG_HOME", "/tmp/.config"),
            ("MPLCONFIGDIR", "/tmp/matplotlib"),
            ("IPYTHONDIR", "/tmp/ipython"),
        ):
            inside.setdefault(name, value)
        return inside

    def _hand_over(self) -> None:
        for path in (self.work_dir, *self.policy.writable_paths):
            if path not in self._owners:
                st = os.stat(path)
                self._owners[path] = (st.st_uid, st.st_gid, st.st_mode & 0o7777)
                # Written before the hand-over: a parent that dies leaves what to undo.
                _write_owners(self.state_dir, self._owners)
            _chown_tree(path, self.uid, self.uid)
            # bwrap enters it as root without capabilities: it must be traversable by others.
            os.chmod(path, self._owners[path][2] | 0o711)

    def give(self, path: str) -> None:
        """As root, make a file we wrote for the session (a connection file) the sandbox's."""
        if self.as_root:
            with contextlib.suppress(OSError):
                os.chown(path, self.uid, self.uid)

    def release(self) -> None:
        """Give the work folder back to its owner (remove it if it was ours); idempotent."""
        owners, self._owners = self._owners, {}
        _give_back(owners)
        shutil.rmtree(self.state_dir, ignore_errors=True)


def _started(pid: int) -> int:
    """The start time of process ``pid`` (clock ticks since boot; 0 when unknown)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return int(f.read().rpartition(b")")[2].split()[19])
    except (OSError, ValueError, IndexError):
        return 0


def _write_owners(state_dir: str, owners: Mapping[str, tuple[int, int, int]]) -> None:
    path = os.path.join(state_dir, "owners.json")
    with open(path + ".new", "w", encoding="utf-8") as f:
        json.dump({p: list(o) for p, o in owners.items()}, f)
    os.replace(path + ".new", path)


def _give_back(owners: Mapping[str, tuple[int, int, int]]) -> None:
    for path, (uid, gid, mode) in owners.items():
        _chown_tree(path, uid, gid)
        with contextlib.suppress(OSError):
            os.chmod(path, mode)


def reclaim_orphans(tmp: str | None = None) -> list[str]:
    """Reclaim the state folders of sessions whose parent died: work folders given back to
    their owners, state folders removed. Returns the folders reclaimed."""
    reclaimed: list[str] = []
    if not os.path.isdir("/proc/self"):
        return reclaimed  # no way to tell a dead parent from a live one
    base = Path(tmp or tempfile.gettempdir())
    try:
        entries = list(base.glob(f"{STATE_PREFIX}*-*-*"))
    except OSError:
        return reclaimed
    for entry in entries:
        pid_s, _, rest = entry.name[len(STATE_PREFIX) :].partition("-")
        start_s = rest.partition("-")[0]
        if not (pid_s.isdigit() and start_s.isdigit()) or not entry.is_dir():
            continue
        pid = int(pid_s)
        if os.path.exists(f"/proc/{pid}") and _started(pid) == int(start_s):
            continue  # its parent lives
        if entry.stat().st_uid != os.geteuid():
            continue  # another user's
        try:
            with open(entry / "owners.json", encoding="utf-8") as f:
                owners = {p: (int(o[0]), int(o[1]), int(o[2])) for p, o in json.load(f).items()}
        except (OSError, ValueError, TypeError, IndexError, AttributeError):
            owners = {}
        _give_back(owners)
        shutil.rmtree(entry, ignore_errors=True)
        reclaimed.append(str(entry))
    return reclaimed


def _chown_tree(top: str, uid: int, gid: int) -> None:
    with contextlib.suppress(OSError):
        os.lchown(top, uid, gid)
    for root, dirs, files in os.walk(top):
        for name in dirs + files:
            with contextlib.suppress(OSError):
                os.lchown(os.path.join(root, name), uid, gid)
