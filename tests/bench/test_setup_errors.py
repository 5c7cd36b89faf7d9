"""The serial pre-check, the sandboxed REPL column and set-up errors, on real REPL sessions."""

from __future__ import annotations

import dataclasses
import functools
import shutil
from pathlib import Path

import pytest

from eager import Backend, ReplBackend
from eager.backends._sandbox import SandboxPolicy
from eager.bench.harness import Job, make_jobs, precheck, run_job
from eager.bench.sandbox import SANDBOXED_REPL, task_sandbox
from eager.bench.summary import summarize
from eager.bench.tables import render_tables
from eager.bench.workloads import Skip, Task
from eager.cli.bench import bench_backend

needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap not installed")

PROGRAM = (
    "rows = open('data.csv').read().splitlines()\n"
    + "".join(f"v{i} = len(rows) + {i}\n" for i in range(12))
    + "print(v11)\n"
)


def _task(tmp_path: Path, *answers: str) -> Task:
    table = tmp_path / "data" / "table.csv"
    table.parent.mkdir(exist_ok=True)
    table.write_text("a,b\n1,2\n3,4\n")
    return Task(
        workload="w",
        task_id="1",
        answers=answers or (PROGRAM,),
        format="code",
        files={"data.csv": str(table)},
    )


def _plain(job: Job, workdir: str) -> Backend:
    return ReplBackend(cwd=workdir)


def _blind(job: Job, workdir: str) -> Backend:
    """A sandbox that does not see the task's table (the bug the grid must report)."""
    return ReplBackend(cwd=workdir, sandbox=SandboxPolicy())


async def test_the_precheck_records_each_answers_error_and_skips_failing_gold(
    tmp_path: Path,
) -> None:
    task = _task(tmp_path, PROGRAM, "x = 1 / 0\n", "print(v3)\n")
    checked = await precheck(task, make=_plain)
    assert isinstance(checked, Task)
    assert checked.checked == (None, "ZeroDivisionError: division by zero", None)
    gold = dataclasses.replace(task, must_pass=True)
    assert await precheck(gold, make=_plain) == Skip(
        "w", "1", "fails under the installed libraries: ZeroDivisionError"
    )


def test_the_sandbox_policy_adds_the_tasks_files_read_only_and_nothing_else(
    tmp_path: Path,
) -> None:
    task = _task(tmp_path)
    policy = task_sandbox(task)
    assert policy.read_only_paths == (task.files["data.csv"],)
    assert policy.writable_paths == () and not policy.network
    wider = task_sandbox(task, SandboxPolicy(read_only_paths=("/opt",), memory_bytes=None))
    assert wider.read_only_paths == ("/opt", task.files["data.csv"])
    assert wider.memory_bytes is None


@needs_bwrap
async def test_the_sandboxed_repl_sees_its_tasks_table_and_runs_clean(tmp_path: Path) -> None:
    task = await precheck(_task(tmp_path), make=_plain)
    assert isinstance(task, Task)
    make = functools.partial(bench_backend, {})
    (job,) = make_jobs(
        [task], backends=[SANDBOXED_REPL], tps=[5000], ttft_s=0.0, repeat=1, variants=["recorded"]
    )
    out = await run_job(job, make=make)
    assert out.skip is None
    (record,) = out.records
    assert record["ok"] and record["setup_error"] is None and record["checked"] is None
    assert record["same_stdout"]


@needs_bwrap
async def test_a_sandbox_that_cannot_see_the_table_gives_set_up_errors_not_failures(
    tmp_path: Path,
) -> None:
    task = await precheck(_task(tmp_path), make=_plain)
    assert isinstance(task, Task)
    jobs = make_jobs(
        [task],
        backends=["blind"],
        tps=[5000],
        ttft_s=0.0,
        repeat=1,
        variants=["recorded", "injected"],
    )
    records = [r for job in jobs for r in (await run_job(job, make=_blind)).records]
    assert len(records) == 2
    for r in records:
        assert r["setup_error"] is not None and r["setup_error"].startswith("FileNotFoundError")
        assert not r["ok"] and not r["failing"]
    summary = summarize(records)
    assert all(s["failing_runs"] == 0 and s["setup_errors"] == 1 for s in summary)
    text = render_tables(records)
    assert "* w blind 5000 tok/s recorded: 1 × FileNotFoundError" in text
    assert "| blind | 5000 | natural |" not in text


async def test_an_injected_error_on_a_clean_task_is_a_failing_run(tmp_path: Path) -> None:
    task = await precheck(_task(tmp_path), make=_plain)
    assert isinstance(task, Task)
    (job,) = make_jobs(
        [task], backends=["repl"], tps=[5000], ttft_s=0.0, repeat=1, variants=["injected"]
    )
    (record,) = (await run_job(job, make=_plain)).records
    assert record["failing"] and record["setup_error"] is None
    assert record["serial_error"]["ename"] == "NameError"


@needs_bwrap
async def test_the_sandboxed_repl_sees_nothing_else_of_the_data_folder(tmp_path: Path) -> None:
    task = _task(tmp_path)
    other = tmp_path / "data" / "other.csv"
    other.write_text("secret\n")
    probe = (
        "import os\n"
        f"print(os.path.exists({str(other)!r}), os.path.exists({str(tmp_path)!r} + '/data'))\n"
        f"print(sorted(os.listdir({str(other.parent)!r})))\n"
    )
    (job,) = make_jobs(
        [dataclasses.replace(task, answers=(probe,))],
        backends=[SANDBOXED_REPL],
        tps=[5000],
        ttft_s=0.0,
        repeat=1,
        variants=["recorded"],
    )
    out = await run_job(job, make=functools.partial(bench_backend, {}))
    (serial,) = [r for label, r in out.results.items() if label.endswith("serial")]
    assert serial.ok and serial.stdout == "False True\n['table.csv']\n"
