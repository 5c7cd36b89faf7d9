"""Run benchmark jobs on a Ray cluster: each job (a task under one setting) on one worker.

A job holds both modes of a task, so serial and eager always share one machine. The backend
factory travels with each job (it must pickle: a module-level function, or a partial of one).
Ray is an optional extra (``pip install 'eager[ray]'``), imported only here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

from .._errors import BackendError, MissingExtraError
from .harness import BackendFactory, Job, JobOutcome, run_job

__all__ = ["run_jobs_ray"]


def _run_one(job: Job, make: BackendFactory) -> JobOutcome:
    outcome = asyncio.run(run_job(job, make=make))
    outcome.results = {}  # results stay on the worker: records are what the driver needs
    return outcome


def run_jobs_ray(
    jobs: list[Job],
    *,
    make: BackendFactory,
    address: str | None = None,
    cpus_per_job: float = 1.0,
    init_options: dict[str, Any] | None = None,
    on_done: Callable[[JobOutcome], None] | None = None,
) -> Iterator[JobOutcome]:
    """Yield the outcomes of ``jobs`` as workers finish them (not in order).

    ``address`` joins an existing cluster (``"auto"`` or ``"ray://host:10001"``); without it a
    local instance is started and shut down at the end.
    """
    try:
        import ray
    except ImportError as exc:
        raise MissingExtraError("ray", "ray") from exc
    started = not ray.is_initialized()
    if started:
        try:
            ray.init(
                address=address,
                ignore_reinit_error=True,
                include_dashboard=False,
                log_to_driver=False,
                **(init_options or {}),
            )
        except Exception as exc:  # ray raises plain ConnectionError/RuntimeError types
            raise BackendError(f"cannot start or reach the Ray cluster: {exc}") from exc
    try:
        remote = ray.remote(num_cpus=cpus_per_job, max_retries=0)(_run_one)
        pending = [remote.remote(job, make) for job in jobs]
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            outcome: JobOutcome = ray.get(done[0])
            if on_done is not None:
                on_done(outcome)
            yield outcome
    finally:
        if started:
            ray.shutdown()
