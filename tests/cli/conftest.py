"""Fixtures of the CLI tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from ._serve import Served


@pytest.fixture
def serve() -> Iterator[Callable[..., Served]]:
    """Starts ``eager serve ARGS --port 0`` (as often as called); every server is stopped after."""
    started: list[Served] = []

    def start(*args: str) -> Served:
        served = Served(*args)
        started.append(served)
        return served

    yield start
    for served in started:
        served.stop()
