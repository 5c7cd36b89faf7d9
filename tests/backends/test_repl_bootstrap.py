"""The REPL child starts from a short command line: its worker arrives through the command pipe."""

from __future__ import annotations

import shutil
import sys

import pytest

from eager import ReplBackend, SandboxPolicy


def cmdline(pid: int) -> list[bytes]:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return f.read().split(b"\0")[:-1]


async def test_the_child_command_line_is_short_and_holds_no_worker_source() -> None:
    async with ReplBackend() as backend:
        assert backend.pid is not None
        argv = cmdline(backend.pid)
        assert argv[0] == sys.executable.encode() and argv[1:3] == [b"-u", b"-c"]
        assert sum(map(len, argv)) < 400, argv
        assert b"_Worker" not in b" ".join(argv) and b"Interpreter" not in b" ".join(argv)
        result = await backend.execute("import sys as _s\nprint(_s.argv, __name__)\n")
        assert result.stdout == "['<program>'] __main__\n"
        # The loader's own names do not leak into the program's namespace.
        names = await backend.execute(
            "print(sorted(k for k in globals() if not k.startswith('_')))\n"
        )
        assert names.stdout == "[]\n"


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap (bwrap) is not installed")
async def test_a_sandboxed_child_gets_its_worker_through_the_pipe_too() -> None:
    async with ReplBackend(sandbox=SandboxPolicy()) as backend:
        result = await backend.execute("print(6 * 7)\n")
        assert result.error is None and result.stdout == "42\n"
        assert backend.pid is not None
        assert sum(map(len, cmdline(backend.pid))) < 8192  # bwrap's arguments and the loader
