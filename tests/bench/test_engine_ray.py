"""``eager bench --engine ray`` on a local Ray instance: one tiny run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eager.bench.workloads import default_data_dir
from eager.cli import main

pytest.importorskip("ray")


@pytest.mark.skipif(default_data_dir() is None, reason="no ../shared/data")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_the_grid_runs_each_job_on_a_ray_worker(tmp_path: Path) -> None:
    out = tmp_path / "ray.json"
    argv = [
        "bench",
        "--engine",
        "ray",
        "--workload",
        "mbpp-chatgpt",
        "--limit",
        "1",
        "--tps",
        "200",
        "--variants",
        "recorded",
        "--json",
        str(out),
    ]
    assert main(argv) == 0
    doc = json.loads(out.read_text())
    assert len(doc["runs"]) == 1 and doc["runs"][0]["skip"] is None
    assert doc["summary"][0]["runs"] == 1
