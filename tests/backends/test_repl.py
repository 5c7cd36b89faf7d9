"""What only the REPL subprocess session does: other interpreters, limits, processes, pipes."""

from __future__ import annotations

import asyncio
import os
import select
import shutil
import stat
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from eager import BackendError, BackendStartError, ReplBackend, UsageError

from .test_contract import started_signal


@pytest.fixture
async def repl() -> AsyncIterator[ReplBackend]:
    async with ReplBackend(timeout_s=30, restart_grace_s=0.5) as backend:
        yield backend


def _real(path: str | Path) -> str:
    return os.path.realpath(path)


def _wrapper(tmp_path: Path, body: str) -> str:
    path = tmp_path / "python"
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


async def test_the_worker_needs_no_eager_in_the_child(tmp_path: Path) -> None:
    # -S: no site-packages, so neither Eager nor anything installed is importable there.
    python = _wrapper(tmp_path, f'exec {sys.executable} -S "$@"')
    async with ReplBackend(python=python) as backend:
        result = await backend.execute("import eager\n")
        assert result.error is not None and result.error.ename == "ModuleNotFoundError"
        result = await backend.execute("x = 1\n1 / 0\n", first_line=3)
        assert result.error is not None and result.error.lineno == 4


@pytest.mark.skipif(not Path("/usr/bin/python3").exists(), reason="no system Python")
async def test_another_python_environment_runs_the_program() -> None:
    async with ReplBackend(python="/usr/bin/python3") as backend:
        result = await backend.execute("import sys\nprint(sys.executable)\n")
        assert result.ok, result.error
        assert result.stdout.strip() in {"/usr/bin/python3", _real("/usr/bin/python3")}
        assert backend.startup_s is not None and backend.startup_s > 0


async def test_a_missing_interpreter_is_a_start_error(tmp_path: Path) -> None:
    backend = ReplBackend(python=str(tmp_path / "no-such-python"))
    with pytest.raises(BackendStartError, match="no-such-python"):
        await backend.start()
    await backend.close()


async def test_an_interpreter_that_exits_at_once_is_a_start_error(tmp_path: Path) -> None:
    python = _wrapper(tmp_path, "echo 'broken environment' >&2; exit 7")
    backend = ReplBackend(python=python)
    with pytest.raises(BackendStartError, match="broken environment"):
        await backend.start()
    await backend.close()


def test_bad_options_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="timeout_s"):
        ReplBackend(timeout_s=0)
    with pytest.raises(UsageError, match="max_output_bytes"):
        ReplBackend(max_output_bytes=-1)


async def test_bad_arguments_are_usage_errors(repl: ReplBackend) -> None:
    with pytest.raises(UsageError, match="first_line"):
        await repl.execute("pass", first_line=0)
    with pytest.raises(UsageError, match="code"):
        await repl.execute(b"pass")  # type: ignore[arg-type]


async def test_execute_starts_the_session_and_close_then_refuses() -> None:
    backend = ReplBackend()
    assert (await backend.execute("print(1)")).stdout == "1\n"
    await backend.close()
    with pytest.raises(BackendError, match="closed"):
        await backend.execute("print(1)")
    await backend.start()
    assert (await backend.execute("print(2)")).stdout == "2\n"
    await backend.close()


async def test_memory_limit_gives_a_memory_error_and_the_session_lives() -> None:
    async with ReplBackend(memory_limit_bytes=512 * 2**20) as backend:
        result = await backend.execute("x = 1\nblob = bytearray(2 * 2**30)\n")
        assert result.error is not None and result.error.ename == "MemoryError"
        assert result.error.lineno == 2
        assert (await backend.execute("print(x)")).stdout == "1\n"


async def test_cpu_limit_stops_a_busy_execution() -> None:
    async with ReplBackend(cpu_limit_s=1) as backend:
        result = await backend.execute("while True:\n    pass\n")
        assert result.error is not None and result.error.kind == "crash"
        assert "SIGXCPU" in result.error.evalue
        assert (await backend.execute("print('fresh')")).stdout == "fresh\n"


async def test_close_kills_the_process_group(tmp_path: Path) -> None:
    if not hasattr(os, "pidfd_open"):
        pytest.skip("needs pidfd_open")
    backend = ReplBackend()
    result = await backend.execute(
        "import subprocess\nchild = subprocess.Popen(['sleep', '60'])\nprint(child.pid)\n"
    )
    pid = int(result.stdout)
    fd = os.pidfd_open(pid)
    try:
        await backend.close()
        await backend.close()
        readable, _, _ = select.select([fd], [], [], 10)  # readable once the process ended
        assert readable
    finally:
        os.close(fd)


async def test_a_crash_with_a_grandchild_holding_the_pipes_is_seen(repl: ReplBackend) -> None:
    code = (
        "import os, subprocess\n"
        "subprocess.Popen(['sleep', '30'], start_new_session=True)\n"
        "os._exit(5)\n"
    )
    result = await repl.execute(code)
    assert result.error is not None and result.error.kind == "crash"
    assert "status 5" in result.error.evalue
    assert (await repl.execute("print('ok')")).stdout == "ok\n"


async def test_cancelling_an_execution_keeps_the_session_in_step(repl: ReplBackend) -> None:
    await repl.execute("x = 'kept'\n")
    async with started_signal() as (signal_code, started):
        task = asyncio.create_task(repl.execute(signal_code + "while True:\n    pass\n"))
        await asyncio.wait_for(started.wait(), 30)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    result = await repl.execute("print(x)\n")
    assert (result.stdout, result.error) == ("kept\n", None)


async def test_interrupt_while_idle_is_harmless(repl: ReplBackend) -> None:
    await repl.interrupt()
    assert (await repl.execute("print('ok')")).stdout == "ok\n"


async def test_stdin_is_empty_and_commands_are_out_of_reach(repl: ReplBackend) -> None:
    result = await repl.execute("input()\n")
    assert result.error is not None and result.error.ename == "EOFError"
    result = await repl.execute("import sys\nprint(sys.stdin.read())\n")
    assert result.ok and result.stdout == "\n"


async def test_c_level_output_is_captured(repl: ReplBackend) -> None:
    result = await repl.execute("import ctypes\nctypes.CDLL(None).printf(b'from C\\n')\n")
    assert result.ok and result.stdout == "from C\n"


async def test_a_forked_child_never_serves_commands(repl: ReplBackend) -> None:
    code = "import os\npid = os.fork()\nif pid == 0:\n    print('child')\nelse:\n    os.waitpid(pid, 0)\n"
    result = await repl.execute(code)
    assert result.ok
    assert "child" in result.stdout
    assert (await repl.execute("print(pid > 0)")).stdout == "True\n"


async def test_output_that_looks_like_the_sentinel_is_only_output(repl: ReplBackend) -> None:
    result = await repl.execute("print('\\x00[eager-end-' + '0' * 32 + ']', end='')\n")
    assert result.stdout == "\x00[eager-end-" + "0" * 32 + "]"


async def test_replaced_or_closed_stdout_does_not_hang(repl: ReplBackend) -> None:
    result = await repl.execute("import io, sys\nsys.stdout = io.StringIO()\nprint('hidden')\n")
    assert result.ok and result.stdout == ""
    result = await repl.execute("import os\nos.close(1)\n")
    assert result.ok
    assert (await repl.execute("print('x', file=sys.stderr)")).stderr == "x\n"


async def test_system_exit_is_an_error_and_the_session_stays(repl: ReplBackend) -> None:
    result = await repl.execute("x = 1\nimport sys\nsys.exit('bye')\n")
    assert result.error is not None
    assert (result.error.ename, result.error.evalue, result.error.lineno) == (
        "SystemExit",
        "bye",
        3,
    )
    assert (await repl.execute("print(x)")).stdout == "1\n"


async def test_an_exception_whose_str_fails_is_reported(repl: ReplBackend) -> None:
    code = "class E(Exception):\n    def __str__(self):\n        raise RuntimeError\nraise E()\n"
    result = await repl.execute(code)
    assert result.error is not None and result.error.ename == "E"
    assert result.error.lineno == 4


async def test_restart_gives_a_new_process(repl: ReplBackend) -> None:
    before = repl.pid
    await repl.execute("import json\nx = 1\n")
    await repl.restart()
    assert repl.pid != before
    result = await repl.execute("import sys\nprint('x' in globals())\n")
    assert result.stdout == "False\n"


async def test_reset_forgets_future_imports_and_program_text(repl: ReplBackend) -> None:
    await repl.execute("from __future__ import annotations\n")
    await repl.reset()
    result = await repl.execute("def f(x: Undefined):\n    pass\n", first_line=2)
    assert result.error is not None and result.error.ename == "NameError"


async def test_working_directory_and_environment_are_passed(tmp_path: Path) -> None:
    async with ReplBackend(
        cwd=tmp_path, env={"EAGER_TEST": "yes", "PATH": os.environ["PATH"]}
    ) as b:
        result = await b.execute("import os\nprint(os.getcwd(), os.environ['EAGER_TEST'])\n")
        assert result.stdout == f"{_real(tmp_path)} yes\n"


@pytest.mark.skipif(shutil.which("sh") is None, reason="needs sh")
async def test_startup_time_is_measured(repl: ReplBackend) -> None:
    assert repl.startup_s is not None and 0 < repl.startup_s < 60
    assert repl.starts == 1


async def test_close_during_an_execution_ends_it_without_hanging() -> None:
    backend = ReplBackend()
    await backend.start()
    async with started_signal() as (signal_code, started):
        task = asyncio.create_task(backend.execute(signal_code + "while True:\n    pass\n"))
        await asyncio.wait_for(started.wait(), 30)
        await backend.close()
        with pytest.raises(BackendError, match="closed"):
            await asyncio.wait_for(task, 30)
    assert backend.pid is None


async def test_a_background_thread_printing_between_executions_loses_nothing(
    repl: ReplBackend,
) -> None:
    code = (
        "import threading\n"
        "done = threading.Event()\n"
        "def chatter():\n"
        "    for i in range(200):\n"
        "        print('t', i)\n"
        "    done.set()\n"
        "threading.Thread(target=chatter).start()\n"
    )
    first = await repl.execute(code)
    second = await repl.execute("done.wait(30)\n")
    lines = (first.stdout + second.stdout).splitlines()
    assert lines == [f"t {i}" for i in range(200)]


async def test_stdout_redirected_by_the_program_does_not_stall(repl: ReplBackend) -> None:
    code = "import os\nos.dup2(os.open(os.devnull, os.O_WRONLY), 1)\nprint('gone', flush=True)\n"
    assert (await repl.execute(code)).ok
    result = await repl.execute("import sys\nprint('err', file=sys.stderr)\n")
    assert result.stderr == "err\n"


async def test_a_timeout_interrupts_a_blocking_call_and_keeps_state(repl: ReplBackend) -> None:
    await repl.execute("x = 'kept'\n")
    result = await repl.execute("import time\ntime.sleep(60)\n", first_line=2, timeout_s=0.3)
    assert result.error is not None and result.error.kind == "timeout"
    assert result.error.lineno == 3
    assert "time.sleep(60)" in result.error.traceback
    assert (await repl.execute("print(x)")).stdout == "kept\n"


def test_the_worker_parses_as_python_3_8() -> None:
    # It runs in whatever interpreter the user names: no newer syntax in it.
    import ast

    import eager.backends._interpreter as interpreter
    import eager.backends.repl._worker as worker

    for module in (interpreter, worker):
        ast.parse(Path(module.__file__).read_text("utf-8"), feature_version=(3, 8))


async def process_exited(pid: int) -> None:
    """Wait until process ``pid`` (not necessarily our child) is gone: an event, via a pidfd."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    gone = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_reader(fd, gone.set)
    try:
        await gone.wait()
    finally:
        loop.remove_reader(fd)
        os.close(fd)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
async def test_a_busy_session_dies_with_the_process_that_started_it() -> None:
    # The session has its own process group, so a parent killed hard (an agent OOM-killed, a
    # Ray actor killed) would leave it running forever, unless it dies with its parent.
    async with started_signal() as (signal_code, started):
        busy = signal_code + "while True:\n    pass\n"
        script = (
            "import asyncio\nfrom eager import ReplBackend\n"
            "async def main():\n"
            "    backend = ReplBackend()\n"
            "    await backend.start()\n"
            "    print(backend.pid, flush=True)\n"
            f"    await backend.execute({busy!r})\n"
            "asyncio.run(main())\n"
        )
        parent = await asyncio.create_subprocess_exec(
            sys.executable, "-c", script, stdout=asyncio.subprocess.PIPE
        )
        assert parent.stdout is not None
        pid = int(await asyncio.wait_for(parent.stdout.readline(), 60))
        await asyncio.wait_for(started.wait(), 60)  # the session is busy, not reading commands
        parent.kill()
        await parent.wait()
    await asyncio.wait_for(process_exited(pid), 30)
