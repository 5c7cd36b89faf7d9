"""What only RayBackend does: an actor holds the session; its death is a crash; placement; pools.

The contract suite runs against it too (``"ray"`` in ``conftest.BACKEND_CASES``).
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
from collections.abc import AsyncIterator

import pytest

from eager import (
    Backend,
    BackendStartError,
    PoolConfig,
    RayBackend,
    ReplaySource,
    SessionPool,
    UsageError,
    run,
)

from .shared_ray import shared_ray
from .test_contract import started_signal
from .test_repl import process_exited

pytestmark = pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="no ray")


@pytest.fixture
async def ray_backend() -> AsyncIterator[RayBackend]:
    shared_ray()
    async with RayBackend(repl_options={"timeout_s": 30, "restart_grace_s": 0.5}) as backend:
        yield backend


def test_bad_options_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="repl_options"):
        RayBackend(repl_options={"no_such_option": 1})
    with pytest.raises(UsageError, match="timeout_s"):
        RayBackend(repl_options={"timeout_s": -1})
    with pytest.raises(UsageError, match="num_cpus"):
        RayBackend(num_cpus=-1)


async def test_the_session_runs_in_an_actor_process(ray_backend: RayBackend) -> None:
    result = await ray_backend.execute("import os\nprint(os.getppid())\n")
    assert result.ok, result.error
    actor_pid = int(result.stdout)
    assert actor_pid != os.getpid()  # the REPL's parent is the actor, not this process
    assert ray_backend.startup_s is not None and ray_backend.starts == 1


async def test_the_actors_death_is_a_crash_and_a_fresh_actor_follows(
    ray_backend: RayBackend,
) -> None:
    await ray_backend.execute("x = 1\n")
    # The program kills the actor holding it: the session is lost with its host.
    result = await ray_backend.execute("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n")
    if result.ok:  # the REPL may answer before its parent is gone: the next call sees it
        result = await ray_backend.execute("import time\ntime.sleep(30)\n")
    assert result.error is not None
    assert (result.error.kind, result.error.ename) == ("crash", "BackendCrashed")
    assert "Ray actor" in result.error.evalue
    after = await ray_backend.execute("print('x' in globals())\n")
    assert after.ok and after.stdout == "False\n"
    assert ray_backend.starts == 2


async def test_an_actor_killed_from_outside_is_a_crash_and_leaves_no_session(
    ray_backend: RayBackend,
) -> None:
    import ray

    pid = int((await ray_backend.execute("import os\nprint(os.getpid())\n")).stdout)
    async with started_signal() as (signal_code, started):
        task = asyncio.create_task(ray_backend.execute(signal_code + "while True:\n    pass\n"))
        await asyncio.wait_for(started.wait(), 60)
        ray.kill(ray_backend.actor)
        result = await asyncio.wait_for(task, 60)
    assert result.error is not None and result.error.kind == "crash"
    # The busy session, in its own process group, dies with its actor (no orphan left: Ray
    # reaps a dead worker's children, and the REPL worker dies with its parent).
    await asyncio.wait_for(process_exited(pid), 30)
    assert (await ray_backend.execute("print('back')\n")).stdout == "back\n"


async def test_placement_and_resources_reach_ray() -> None:
    shared_ray()
    # More CPUs than the cluster has: the actor cannot be placed within the start bound.
    backend = RayBackend(num_cpus=1, memory_bytes=200 * 2**20, scheduling_strategy="SPREAD")
    assert backend.actor_options["num_cpus"] == 1
    assert backend.actor_options["memory"] == 200 * 2**20
    async with backend:
        assert (await backend.execute("print(1 + 1)\n")).stdout == "2\n"
    unknown = RayBackend(resources={"no_such_resource": 1})
    import eager.backends._ray as ray_module

    bound = ray_module.RAY_START_TIMEOUT_S
    ray_module.RAY_START_TIMEOUT_S = 2.0  # a module constant, not a patched function
    try:
        with pytest.raises(BackendStartError, match="did not start"):
            await unknown.start()
    finally:
        ray_module.RAY_START_TIMEOUT_S = bound
        await unknown.close()


async def test_a_pool_holds_ray_sessions() -> None:
    shared_ray()

    def factory() -> Backend:
        return RayBackend(repl_options={"timeout_s": 30})

    config = PoolConfig(size=2, preload="import json\n", on_return="reset")
    async with SessionPool(factory, config=config) as pool:
        assert pool.stats().idle == 2

        async def one(i: int) -> str:
            async with pool.session() as backend:
                result = await run(ReplaySource(f"x = {i}\nprint(x * 2)\n", tps=500), backend)
                return result.stdout

        assert await asyncio.gather(*(one(i) for i in range(4))) == ["0\n", "2\n", "4\n", "6\n"]
        async with pool.session() as backend:
            crash = await backend.execute(
                "import os\nos.kill(os.getppid(), 9)\nimport time\ntime.sleep(30)\n"
            )
            assert crash.error is not None and crash.error.kind == "crash"
        assert pool.stats().replaced == 1


def test_the_cli_builds_a_ray_backend() -> None:
    import argparse

    from eager.cli._backends import add_backend_options, make_backend

    parser = argparse.ArgumentParser()
    add_backend_options(parser)
    backend = make_backend(parser.parse_args(["--backend", "ray", "--ray-address", "auto"]))
    assert isinstance(backend, RayBackend)
    assert backend.address == "auto"


async def test_code_in_the_actor_calls_the_drivers_tools(ray_backend: RayBackend) -> None:
    import os

    from eager import ReplaySource, run, tool

    called_in: list[int] = []

    @tool(read_only=True)
    async def where(tag: str) -> dict[str, object]:
        """Which process answered."""
        called_in.append(os.getpid())
        return {"tag": tag, "pid": os.getpid()}

    @tool
    def fails() -> None:
        """Always fails."""
        raise ValueError("no luck")

    program = (
        "import os\nr = where('x')\nprint(r['tag'], r['pid'] != os.getpid())\n"
        "try:\n    fails()\nexcept ValueError as e:\n    print('raised', e)\n"
        + "".join(f"v{i} = where('{i}')\n" for i in range(6))  # one call per invocation
        + "print(''.join(globals()[f'v{i}']['tag'] for i in range(6)))\n"
    )
    result = await run(
        ReplaySource(program, tps=500, format="code"), ray_backend, tools=[where, fails]
    )
    assert result.error is None, result.error
    assert result.stdout == "x True\nraised no luck\n012345\n"
    assert set(called_in) == {os.getpid()} and len(called_in) == 7  # here, in the driver
