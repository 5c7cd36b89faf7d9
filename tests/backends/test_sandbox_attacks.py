"""Escape attempts from a sandboxed session: each one is contained and reported, nothing lost.

Real processes: a bubblewrap-sandboxed REPL, a loopback listener, a fake home with secrets.
Every attempt must fail inside the program (a Python error) or kill the session, which is
restarted with a clear report; the parent, the other session and the work folder's earlier
files stay intact, and the next invocation runs.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from _runtime import CORPUS, SNAPSHOT_CODE, fresh_dir, read

from eager import ExecResult, ReplaySource, ReplBackend, SandboxPolicy, run

pytestmark = pytest.mark.skipif(
    shutil.which("bwrap") is None,
    reason="bubblewrap (bwrap) is not installed; `make test` installs it where it can",
)

MiB = 1 << 20
#: Tight limits keep each attack short.
POLICY = SandboxPolicy(
    memory_bytes=768 * MiB,
    cpu_s=2,
    max_processes=48,
    file_size_bytes=4 * MiB,
    tmp_bytes=8 * MiB,
)
EARLIER = "city,temp\nOslo,3\n"


@pytest.fixture
def fake_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test process's HOME, with an ssh key and cloud credentials in it; a key in env."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nSECRET\n")
    (home / ".aws").mkdir()
    (home / ".aws" / "credentials").write_text("[default]\naws_secret_access_key = SECRET\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-SECRET")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "SECRET")
    return home


@pytest.fixture
async def session(tmp_path: Path, fake_home: Path) -> AsyncIterator[ReplBackend]:
    """A started sandboxed session whose work folder holds an earlier data file."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "data.csv").write_text(EARLIER)
    backend = ReplBackend(sandbox=POLICY, cwd=work, timeout_s=20.0, restart_grace_s=1.0)
    await backend.start()
    try:
        yield backend
    finally:
        await backend.close()
    # Nothing lost: the earlier file is intact and given back to its owner.
    assert (work / "data.csv").read_text() == EARLIER
    assert (work / "data.csv").stat().st_uid == os.getuid()


async def still_works(backend: ReplBackend) -> None:
    result = await backend.execute("print(open('data.csv').read(), end='')\n")
    assert result.error is None, result.error
    assert result.stdout == EARLIER


def failed(result: ExecResult, *names: str) -> str:
    assert result.error is not None, result
    assert result.error.ename in names, result.error
    return result.error.evalue


async def test_no_connection_to_a_loopback_listener(session: ReplBackend) -> None:
    connected = asyncio.Event()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connected.set()
        writer.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        result = await session.execute(
            f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=5)\n"
        )
        failed(result, "ConnectionRefusedError", "OSError", "TimeoutError")
        outside = await session.execute(
            "import socket\nsocket.create_connection(('1.1.1.1', 53), timeout=5)\n"
        )
        failed(outside, "OSError", "TimeoutError")
        names = await session.execute("import socket\nprint(socket.if_nameindex())\n")
        assert names.stdout == "[(1, 'lo')]\n"
    finally:
        server.close()
        await server.wait_closed()
    assert not connected.is_set()
    await still_works(session)


async def test_no_secret_file_of_the_home_folder(session: ReplBackend, fake_home: Path) -> None:
    for path in (fake_home / ".ssh" / "id_rsa", fake_home / ".aws" / "credentials"):
        result = await session.execute(f"print(open({str(path)!r}).read())\n")
        failed(result, "FileNotFoundError", "PermissionError")
        assert "SECRET" not in result.stdout
    # HOME inside is the work folder; ~ holds no key; root's home is empty.
    result = await session.execute(
        "import os\nprint(os.path.expanduser('~') == os.getcwd())\n"
        "print(os.path.exists(os.path.expanduser('~/.ssh/id_rsa')))\n"
    )
    assert result.stdout == "True\nFalse\n", result
    listing = await session.execute(
        "import os\nprint(os.listdir('/home') if os.path.exists('/home') else 'none')\n"
    )
    assert listing.stdout == "none\n"
    await still_works(session)


async def test_no_secret_of_the_parents_environment(session: ReplBackend) -> None:
    result = await session.execute(
        "import os\nprint(sorted(k for k in os.environ if 'KEY' in k or 'SECRET' in k))\n"
    )
    assert result.stdout == "[]\n"
    # Nor through /proc: the parent is not in the sandbox's PID namespace.
    procs = await session.execute(
        "import os\nfor p in os.listdir('/proc'):\n"
        "    if p.isdigit():\n"
        "        try:\n"
        "            print(open(f'/proc/{p}/environ', 'rb').read().count(b'SECRET'))\n"
        "        except OSError as e:\n"
        "            print(type(e).__name__)\n"
    )
    assert "1" not in procs.stdout.split(), procs


async def test_no_write_outside_the_work_folder(session: ReplBackend, tmp_path: Path) -> None:
    for target in ("/usr/evil", "/etc/evil", str(tmp_path / "evil"), sys.prefix + "/evil"):
        result = await session.execute(f"open({target!r}, 'w').write('x')\n")
        failed(result, "OSError", "PermissionError", "FileNotFoundError")
        assert not Path(target).exists()  # noqa: ASYNC240 (a stat, after the fact)
    inside = await session.execute("open('out.txt', 'w').write('ok')\nopen('/tmp/t', 'w')\n")
    assert inside.error is None, inside.error
    await still_works(session)


async def test_a_fork_bomb_hits_the_process_limit(session: ReplBackend) -> None:
    result = await session.execute("import os\nwhile True:\n    os.fork()\n")
    failed(result, "BlockingIOError", "OSError")
    await still_works(session)


async def test_unbounded_allocation_is_a_memory_error(session: ReplBackend) -> None:
    result = await session.execute(
        "hoard = []\nwhile True:\n    hoard.append(bytearray(64 << 20))\n"
    )
    failed(result, "MemoryError")
    await session.execute("del hoard\n")
    await still_works(session)


async def test_filling_the_disk_stops_at_the_file_size_limit(session: ReplBackend) -> None:
    result = await session.execute(
        "with open('big.bin', 'wb') as f:\n    for _ in range(64):\n        f.write(bytes(1 << 20))\n"
    )
    assert "File too large" in failed(result, "OSError")
    tmp = await session.execute(
        "for i in range(8):\n    open(f'/tmp/f{i}', 'wb').write(bytes(3 << 20))\n"
    )
    assert "No space left" in failed(tmp, "OSError")
    await still_works(session)


async def test_the_parent_can_be_neither_killed_nor_traced(session: ReplBackend) -> None:
    me = os.getpid()
    result = await session.execute(
        "import os, signal, ctypes\n"
        "print(os.getppid())\n"
        f"for pid in (os.getppid(), {me}):\n"
        "    try:\n"
        "        os.kill(pid, signal.SIGKILL)\n"
        "    except OSError as e:\n"
        "        print(type(e).__name__)\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        f"print(libc.ptrace(16, os.getppid(), 0, 0), libc.ptrace(16, {me}, 0, 0))\n"
    )
    assert result.error is None, result.error
    lines = result.stdout.split("\n")
    assert lines[0] == "1"  # the sandbox's own init: the real parent is not visible
    assert "ProcessLookupError" in lines and lines[-2] == "-1 -1"
    assert os.getpid() == me  # still here
    await still_works(session)


async def test_a_cpu_hog_is_killed_and_the_session_restarted(session: ReplBackend) -> None:
    await session.execute("x = 1\n")
    result = await session.execute("while True:\n    pass\n")
    assert result.error is not None and result.error.kind == "crash", result.error
    assert "SIGXCPU" in result.error.evalue and "fresh session" in result.error.evalue
    await still_works(session)


async def test_another_sessions_folder_is_out_of_reach(tmp_path: Path, fake_home: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "private.txt").write_text("A's")
    async with (
        ReplBackend(sandbox=POLICY, cwd=a) as first,
        ReplBackend(sandbox=POLICY, cwd=b) as second,
    ):
        wrote = await first.execute("open('result.txt', 'w').write('from a')\n")
        assert wrote.error is None
        result = await second.execute(f"print(open({str(a / 'private.txt')!r}).read())\n")
        failed(result, "FileNotFoundError", "PermissionError")
        listing = await second.execute(f"import os\nprint(os.listdir({str(a)!r}))\n")
        failed(listing, "FileNotFoundError", "PermissionError")
        again = await first.execute("print(open('private.txt').read())\n")
        assert again.stdout == "A's\n"
    # What a session wrote is the caller's to read after it.
    assert (a / "result.txt").read_text() == "from a"
    assert (a / "result.txt").stat().st_uid == os.getuid()


async def test_a_private_work_folder_is_made_and_removed(fake_home: Path) -> None:
    backend = ReplBackend(sandbox=POLICY)
    async with backend:
        work = backend.work_dir
        assert work is not None and Path(work).is_dir()  # noqa: ASYNC240
        result = await backend.execute("import os\nprint(os.getcwd())\n")
        assert result.stdout == f"{work}\n"
    assert not Path(work).exists()  # noqa: ASYNC240


@pytest.mark.parametrize("path", CORPUS[::9], ids=lambda p: p.stem)
async def test_eager_and_serial_agree_inside_the_sandbox(path: Path, tmp_path: Path) -> None:
    text = read(path)

    async def one(mode: str) -> tuple[str, str, dict[str, str]]:
        async with ReplBackend(
            sandbox=POLICY, cwd=fresh_dir(tmp_path / mode), env={"PYTHONHASHSEED": "0"}
        ) as backend:
            result = await run(ReplaySource(text, tps=4000.0, format="code"), backend, mode=mode)  # type: ignore[arg-type]
            assert result.error is None, result.error
            snapshot = await backend.execute(SNAPSHOT_CODE)
        return result.stdout, result.stderr, json.loads(snapshot.stdout)

    assert await one("eager") == await one("serial")


ATTACK_PROGRAM = """\
import os, socket
found = []
for path in (HOME + "/.ssh/id_rsa", "/etc/shadow"):
    try:
        found.append(open(path).read())
    except OSError as e:
        print("blocked", type(e).__name__)
print("env", sorted(k for k in os.environ if "KEY" in k))
try:
    socket.create_connection(("127.0.0.1", 22), timeout=2)
except OSError as e:
    print("blocked", type(e).__name__)
print("found", len(found))
open("/usr/evil", "w")
"""


def test_eager_run_sandbox_contains_a_program_file(tmp_path: Path, fake_home: Path) -> None:
    import subprocess

    program = tmp_path / "attack.py"
    program.write_text(f"HOME = {str(fake_home)!r}\n" + ATTACK_PROGRAM)
    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    argv = [sys.executable, "-m", "eager", "run", str(program)]
    done = subprocess.run(
        [*argv, "--sandbox", "--cwd", str(work), "--mode", "eager", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stderr  # the program's last statement fails
    record = json.loads(done.stdout)
    assert record["stdout"].splitlines() == [
        "blocked FileNotFoundError",  # the fake home's key: its folder is not in the sandbox
        "blocked FileNotFoundError",
        "env []",
        "blocked ConnectionRefusedError",
        "found 0",
    ]
    assert record["error"]["evalue"].startswith("[Errno 30] Read-only file system")


async def test_a_sandboxed_jupyter_kernel_is_contained(tmp_path: Path, fake_home: Path) -> None:
    pytest.importorskip("ipykernel")
    from eager import JupyterBackend

    work = tmp_path / "work"
    work.mkdir()
    (work / "data.csv").write_text(EARLIER)
    secret = fake_home / ".ssh" / "id_rsa"
    async with JupyterBackend(sandbox=POLICY, cwd=work, timeout_s=30.0) as kernel:
        net = await kernel.execute("import socket\nsocket.create_connection(('1.1.1.1', 53), 3)\n")
        failed(net, "OSError", "TimeoutError")
        key = await kernel.execute(f"open({str(secret)!r}).read()\n")
        failed(key, "FileNotFoundError", "PermissionError")
        env = await kernel.execute(
            "import os\nprint(sorted(k for k in os.environ if 'KEY' in k or 'SECRET' in k))\n"
        )
        assert env.stdout == "[]\n"
        write = await kernel.execute("open('/usr/evil', 'w')\n")
        failed(write, "OSError")
        ok = await kernel.execute("print(open('data.csv').read(), end='')\n")
        assert ok.stdout == EARLIER
    assert (work / "data.csv").read_text() == EARLIER
    assert (work / "data.csv").stat().st_uid == os.getuid()


async def test_forging_the_protocol_gets_the_session_killed_and_restarted(
    session: ReplBackend,
) -> None:
    # The worker's reply stream is one of the child's fds: garbage written on every fd must
    # not confuse the parent beyond this session. (Code in the worker's process can forge its
    # own replies too, as it can print anything: the sandbox is the boundary, not the stream.)
    result = await session.execute(
        "import os\n"
        "for fd in range(3, 64):\n"
        "    try:\n"
        "        os.write(fd, b'garbage' * 10)\n"
        "    except OSError:\n"
        "        pass\n"
        "import time\ntime.sleep(30)\n"
    )
    assert result.error is not None and result.error.kind == "crash", result.error
    assert "protocol" in result.error.evalue and "fresh session" in result.error.evalue
    await still_works(session)
