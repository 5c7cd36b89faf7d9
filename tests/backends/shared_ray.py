"""One local Ray instance shared by the tests of a session (it takes ~3-5 s to start).

Started on first use (2 CPUs, loopback, no dashboard); pytest shuts it down at the end of the
session (see ``conftest.py``).
"""

from __future__ import annotations

import os
import threading

__all__ = ["shared_ray", "stop_shared_ray"]

_lock = threading.Lock()
_started: list[bool] = []


def shared_ray() -> None:
    """Make sure a local Ray instance runs (idempotent)."""
    import ray

    with _lock:
        if ray.is_initialized():
            return
        # The actors import this checkout of Eager (PYTHONPATH of a worktree), not another.
        src = os.path.join(os.path.dirname(__file__), "..", "..", "src")
        path = os.pathsep.join(p for p in (os.path.abspath(src), os.environ.get("PYTHONPATH")) if p)
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            log_to_driver=False,
            _node_ip_address="127.0.0.1",
            runtime_env={"env_vars": {"PYTHONPATH": path}},
        )
        _started.append(True)


def stop_shared_ray() -> None:
    """Shut down the instance if :func:`shared_ray` started it."""
    if _started:
        import ray

        ray.shutdown()
        _started.clear()
