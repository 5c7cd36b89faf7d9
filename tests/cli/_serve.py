"""Running ``eager`` and ``eager serve`` as subprocesses, for the CLI tests (on loopback)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from typing import Any

#: No colours, a fixed width, and a proxy that would fail: loopback must never go through it.
ENV = {**os.environ, "NO_COLOR": "1", "COLUMNS": "120", "HTTP_PROXY": "http://127.0.0.1:9"}


def eager(*args: str, timeout_s: float = 90) -> subprocess.CompletedProcess[str]:
    """``python -m eager ARGS`` run to the end, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "eager", *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env=ENV,
        check=False,
    )


class Served:
    """An ``eager serve`` process: ``url`` its base URL, ``line`` its "listening on" line."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "eager", "serve", *args, "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=ENV,
        )
        try:
            assert self.proc.stderr is not None
            self.line = self.proc.stderr.readline()
            match = re.search(r"listening on (http://\S+)", self.line)
            assert match, f"no listening line: {self.line!r}"
        except BaseException:
            self.stop()
            raise
        self.url = match.group(1)

    def records(self) -> list[dict[str, Any]]:
        """Stop the server and return its log (one JSON line per request)."""
        self.proc.terminate()
        out, _ = self.proc.communicate(timeout=20)
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def stop(self) -> None:
        """Kill the server if it still runs and reap it."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate(timeout=20)
