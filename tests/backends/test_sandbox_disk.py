"""The sandbox's bounded disk, its named user, and work folders left by a parent that died."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from eager import ReplBackend, SandboxPolicy, UsageError
from eager.backends._sandbox import bwrap_argv, disk_split
from eager.backends._sandboxed import STATE_PREFIX, reclaim_orphans

MiB = 1 << 20
needs_bwrap = pytest.mark.skipif(
    shutil.which("bwrap") is None,
    reason="bubblewrap (bwrap) is not installed; `make test` installs it where it can",
)
SMALL = SandboxPolicy(disk_bytes=16 * MiB, tmp_bytes=6 * MiB, file_size_bytes=4 * MiB)


def argv(policy: SandboxPolicy, **kw: object) -> list[str]:
    options: dict[str, object] = {
        "bwrap": "/usr/bin/bwrap",
        "work_dir": "/tmp/s/work",
        "python_paths": ["/opt/venv"],
        "system_paths": {"/usr": "dir", "/etc/passwd": "file"},
        "as_root": True,
        "uid": 1234567,
    }
    options.update(kw)
    return bwrap_argv(policy, **options)  # type: ignore[arg-type]


def test_the_disk_is_split_between_tmp_and_a_private_work_folder() -> None:
    assert disk_split(SandboxPolicy()) == (256 * MiB, 2048 * MiB - 256 * MiB)
    assert disk_split(SandboxPolicy(tmp_bytes=None, disk_bytes=8 * MiB)) == (4 * MiB, 4 * MiB)
    assert disk_split(SandboxPolicy(disk_bytes=None)) == (256 * MiB, None)
    private = argv(SMALL, private_work=True)
    i = private.index("/tmp/s/work")
    assert private[i - 5 : i] == ["--size", str(10 * MiB), "--perms", "0777", "--tmpfs"]
    assert "--bind" not in private
    given = argv(SMALL)  # a work folder of the caller's: bound, not a tmpfs
    assert given[given.index("--bind") + 1] == "/tmp/s/work"
    files = argv(SMALL, files={"/etc/passwd": "/tmp/state/passwd"})
    i = files.index("/tmp/state/passwd")
    assert files[i - 1 : i + 2] == ["--ro-bind", "/tmp/state/passwd", "/etc/passwd"]
    assert files.count("/etc/passwd") == 1  # the system's is not bound too


@pytest.mark.parametrize(
    "bad", [{"disk_bytes": 0}, {"disk_bytes": 8 * MiB, "tmp_bytes": 8 * MiB}, {"disk_bytes": True}]
)
def test_a_bad_disk_bound_is_a_usage_error(bad: dict[str, object]) -> None:
    with pytest.raises(UsageError):
        SandboxPolicy(**bad)  # type: ignore[arg-type]


def _free(path: str) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


@needs_bwrap
async def test_filling_the_disk_is_enospc_inside_and_harms_nothing_outside() -> None:
    host_free = _free(os.getcwd())
    async with ReplBackend(sandbox=SMALL, timeout_s=30) as backend:
        work = backend.work_dir
        assert work is not None
        fill = await backend.execute(
            "n = 0\ntry:\n    while True:\n"
            "        open(f'part{n}', 'wb').write(bytes(3 << 20))\n        n += 1\n"
            "except OSError as e:\n    print(n, e.errno)\n    raise\n"
        )
        assert fill.error is not None and "No space left on device" in fill.error.evalue
        assert fill.stdout.split()[1] == "28"  # ENOSPC, not the file size limit (EFBIG)
        tmp = await backend.execute(
            "import os\nfor i in range(8):\n    open(f'/tmp/t{i}', 'wb').write(bytes(1 << 20))\n"
        )
        assert tmp.error is not None and "No space left" in tmp.error.evalue
        # Both together stay within disk_bytes.
        sizes = await backend.execute(
            "import os\nb = lambda p: os.statvfs(p).f_blocks * os.statvfs(p).f_frsize\n"
            "print(b('.') + b('/tmp'))\n"
        )
        assert int(sizes.stdout) <= 16 * MiB
        assert os.listdir(work) == []  # the host's folder holds nothing of it
        # The session goes on: room again once it deletes what it wrote.
        again = await backend.execute(
            "import glob\nfor p in glob.glob('part*'):\n    os.remove(p)\n"
            "open('small.txt', 'w').write('ok')\nprint(open('small.txt').read())\n"
        )
        assert again.error is None and again.stdout == "ok\n"
    assert abs(_free(os.getcwd()) - host_free) < 64 * MiB


@needs_bwrap
async def test_the_sandbox_user_resolves(tmp_path: Path) -> None:
    code = textwrap.dedent(
        """\
        import getpass, grp, os, pwd
        from pathlib import Path
        me = pwd.getpwuid(os.getuid())
        print(getpass.getuser(), me.pw_name, grp.getgrgid(os.getgid()).gr_name)
        print(Path.home() == Path.cwd() == Path(me.pw_dir), os.path.expanduser("~") == os.getcwd())
        print(len(pwd.getpwall()))
        """
    )
    for cwd in (None, tmp_path):
        async with ReplBackend(sandbox=SandboxPolicy(), cwd=cwd) as backend:
            result = await backend.execute(code)
        assert result.error is None, result.error
        assert result.stdout.splitlines() == ["sandbox sandbox sandbox", "True True", "3"]


@needs_bwrap
@pytest.mark.skipif(os.geteuid() != 0, reason="the hand-over of a work folder is done as root")
def test_a_work_folder_left_by_a_parent_that_died_is_reclaimed(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "data.csv").write_text("a,b\n")
    # A parent that starts a sandboxed session on `work`, then dies hard (no close).
    parent = textwrap.dedent(
        f"""\
        import asyncio, os, signal
        from eager import ReplBackend, SandboxPolicy
        async def main():
            backend = ReplBackend(sandbox=SandboxPolicy(), cwd={str(work)!r})
            await backend.start()
            await backend.execute("open('out.txt', 'w').write('x')\\n")
            print(backend._setup.state_dir, flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        asyncio.run(main())
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-c", parent], capture_output=True, text=True, env=env, timeout=60
    )
    state = Path(done.stdout.strip())
    assert state.name.startswith(STATE_PREFIX) and state.is_dir(), done.stderr
    assert (work / "data.csv").stat().st_uid != os.getuid()  # still the sandbox's uid
    owners = json.loads((state / "owners.json").read_text())
    assert str(work) in owners
    assert str(state) in reclaim_orphans()  # what the next sandboxed start does
    assert not state.exists()
    for path in (work, work / "data.csv", work / "out.txt"):
        assert path.stat().st_uid == os.getuid()


def test_a_live_parents_state_folder_is_left_alone() -> None:
    from eager.backends._sandboxed import SandboxSetup

    setup = SandboxSetup(SandboxPolicy(), cwd=None, python=sys.executable)
    try:
        assert setup.state_dir not in reclaim_orphans()
        assert os.path.isdir(setup.work_dir)
    finally:
        setup.release()
    assert not os.path.exists(setup.state_dir)
