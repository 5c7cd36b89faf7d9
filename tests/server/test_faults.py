"""Faults of the program, run through ``eager.run`` on the REPL session and through the CLI."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest
from _runtime import StallingReplay

from eager import Mode, ReplaySource, ReplBackend, RunResult, ScriptedSource, run

TPS = 4000.0
#: Bound on one run in these tests (a generous multiple of what they take).
RUN_TIMEOUT_S = 60.0
#: The per-invocation timeout given to programs that never end.
EXEC_TIMEOUT_S = 0.5


def _lines(program: str) -> list[str]:
    return program.splitlines(keepends=True)


async def _run(
    backend: ReplBackend, program: str, *, mode: Mode = "eager", timeout_s: float | None = None
) -> RunResult:
    source = ScriptedSource(_lines(program), format="code")
    return await asyncio.wait_for(
        run(source, backend, mode=mode, timeout_s=timeout_s), RUN_TIMEOUT_S
    )


# -- infinite loop ------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["eager", "serial"])
async def test_an_infinite_loop_times_out_and_the_session_keeps_its_state(mode: Mode) -> None:
    program = "x = 41\nprint('started')\nwhile True:\n    x = 41\n"
    async with ReplBackend() as backend:
        result = await _run(backend, program, mode=mode, timeout_s=EXEC_TIMEOUT_S)
        assert result.error is not None
        assert (result.error.kind, result.error.ename) == ("timeout", "TimeoutError")
        assert result.error.lineno in (3, 4)
        assert result.stdout == "started\n"
        after = await backend.execute("print(x + 1)")
    assert after.stdout == "42\n", "interrupted, not restarted: the state is kept"


async def test_a_loop_that_ignores_the_interrupt_gets_a_fresh_session() -> None:
    program = (
        "x = 1\n"
        "while True:\n"
        "    try:\n"
        "        while True:\n"
        "            pass\n"
        "    except KeyboardInterrupt:\n"
        "        pass\n"
    )
    async with ReplBackend(restart_grace_s=0.3) as backend:
        result = await _run(backend, program, timeout_s=EXEC_TIMEOUT_S)
        assert result.error is not None and result.error.kind == "timeout"
        assert "killed" in result.error.evalue
        after = await backend.execute("print('alive', 'x' in globals())")
    assert after.stdout == "alive False\n"


# -- crash --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("crash", "says"),
    [
        ("import os\nos._exit(3)\n", "exited with status 3"),
        ("import ctypes\nctypes.string_at(0)\n", "SIGSEGV"),
    ],
    ids=["os._exit", "segfault"],
)
async def test_a_crash_is_reported_and_a_new_session_is_usable(crash: str, says: str) -> None:
    program = "print('before')\n" + crash + "print('after')\n"
    async with ReplBackend() as backend:
        result = await _run(backend, program)
        assert result.error is not None
        assert (result.error.kind, result.error.ename) == ("crash", "BackendCrashed")
        assert "died" in result.error.evalue and says in result.error.evalue
        assert "after" not in result.stdout
        assert result.stdout.startswith("before\n")
        after = await backend.execute("print(6 * 7)")
    assert after.stdout == "42\n" and after.error is None


async def test_a_crash_mid_stream_interrupts_generation() -> None:
    text = "print('one')\nimport os\nos._exit(9)\nprint('AFTER-FAILURE')\n" + "y = 1\n" * 30
    source = StallingReplay(text, stall_after="print('AFTER-FAILURE')\n", tps=TPS, format="code")
    async with ReplBackend(cwd=None) as backend:
        result = await asyncio.wait_for(run(source, backend), RUN_TIMEOUT_S)
    assert result.error is not None and result.error.kind == "crash"
    assert result.interrupted and source.cancelled
    assert "AFTER-FAILURE" not in result.stdout


# -- output flood, memory bomb ------------------------------------------------------------------


async def test_an_output_flood_is_capped_and_marked() -> None:
    program = "for i in range(50_000):\n    print('x' * 99)\nprint('done')\n"
    async with ReplBackend(max_output_bytes=20_000) as backend:
        result = await _run(backend, program)
        after = await backend.execute("print('still here')")
    assert result.error is None
    assert result.truncated
    assert "[eager: output truncated after" in result.stdout
    assert len(result.stdout.encode()) < 25_000
    assert result.to_dict()["truncated"] is True
    assert after.stdout == "still here\n"


async def test_a_memory_bomb_under_a_limit_is_a_memory_error_and_the_session_lives() -> None:
    program = "blocks = []\nwhile True:\n    blocks.append(bytearray(64 * 1024 * 1024))\n"
    async with ReplBackend(memory_limit_bytes=256 << 20) as backend:
        result = await _run(backend, program)
        after = await backend.execute("n = len(blocks)\nblocks.clear()\nprint(n > 0)")
    assert result.error is not None
    assert result.error.ename == "MemoryError" and result.error.kind == "runtime"
    assert result.error.lineno == 3
    assert after.error is None and after.stdout == "True\n"


# -- undecodable output -------------------------------------------------------------------------


_ODD_OUTPUT = (
    "import sys\n"
    "sys.stdout.buffer.write(b'bytes: \\xff\\xfe end\\n')\n"
    "sys.stdout.flush()\n"
    "print('surrogate: \\udcff end')\n"
    "print('ok')\n"
)


@pytest.mark.parametrize("mode", ["eager", "serial"])
async def test_undecodable_bytes_and_lone_surrogates_in_output_do_not_break_a_run(
    mode: Mode,
) -> None:
    async with ReplBackend() as backend:
        result = await _run(backend, _ODD_OUTPUT, mode=mode)
    assert result.error is None
    lines = result.stdout.splitlines()
    assert lines[0] == "bytes: \ufffd\ufffd end"
    assert lines[1] == "surrogate: \\udcff end"
    assert lines[2] == "ok"
    json.dumps(result.to_dict()).encode("utf-8")  # serialisable, encodable


async def test_a_lone_surrogate_in_an_error_message_is_escaped() -> None:
    async with ReplBackend() as backend:
        result = await _run(backend, "x = 1\nraise ValueError('bad \\udcff value')\n")
    assert result.error is not None and result.error.ename == "ValueError"
    assert "\\udcff" in result.error.evalue
    json.dumps(result.to_dict()).encode("utf-8")


async def test_eager_and_serial_agree_on_odd_output() -> None:
    results = {}
    for mode in ("serial", "eager"):
        async with ReplBackend() as backend:
            source = ReplaySource(_ODD_OUTPUT, tps=TPS, format="code")
            results[mode] = await asyncio.wait_for(run(source, backend, mode=mode), RUN_TIMEOUT_S)
    assert results["eager"].stdout == results["serial"].stdout


# -- through the CLI ----------------------------------------------------------------------------


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eager", *args],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        cwd=cwd,
        check=False,
    )


def test_the_cli_reports_a_timeout_and_undecodable_output_as_json(tmp_path: Path) -> None:
    program = tmp_path / "odd.py"
    program.write_text(_ODD_OUTPUT + "while True:\n    pass\n", encoding="utf-8")
    done = _cli(
        "run",
        str(program),
        "--mode",
        "both",
        "--json",
        "--tps",
        "2000",
        "--timeout",
        "0.5",
        cwd=tmp_path,
    )
    assert done.returncode == 1, done.stderr
    record = json.loads(done.stdout)
    for mode in ("serial", "eager"):
        r = record[mode]
        assert r["error"]["kind"] == "timeout"
        assert r["error"]["lineno"] in (6, 7)
        assert r["stdout"].splitlines()[:3] == [
            "bytes: \ufffd\ufffd end",
            "surrogate: \\udcff end",
            "ok",
        ]
    assert record["eager"]["stdout"] == record["serial"]["stdout"]
