"""Test-wide settings: how the suite is spread over parallel workers (``make test``: xdist).

Each file runs on one worker (its module fixtures are made once), and the files that start a
local Ray instance share one worker, so that a run starts one Ray instance, not several.
"""

from __future__ import annotations

import pytest

#: Files whose tests start (or reuse) the shared local Ray instance.
RAY_FILES = frozenset({"tests/backends/test_ray.py", "tests/backends/test_contract.py"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        path = item.nodeid.split("::", 1)[0]
        item.add_marker(pytest.mark.xdist_group("ray" if path in RAY_FILES else path))
