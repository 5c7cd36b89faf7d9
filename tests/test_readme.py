"""The README's examples, run as written from the repository's root.

Fenced blocks by their info string: ``python`` blocks run as scripts; ``sh`` blocks run in bash
(``set -e``: every command must succeed; ``make TARGET`` lines are checked with ``make -n``, since
they are this very suite or long set-ups); ``json`` blocks must parse; ``text`` blocks are
pictures and synopses. The replay server's fixed port 8000 is swapped for a free one. A block
that needs ``../shared/data`` (it says so) is skipped when that folder is absent.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
SHARED_DATA = ROOT.parent / "shared" / "data"
#: Bound on one block (a few CLI runs, a replay server, a session or two).
BLOCK_TIMEOUT_S = 240
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.DOTALL | re.MULTILINE)


def _blocks() -> list[tuple[str, str, int]]:
    text = README.read_text(encoding="utf-8")
    return [
        (m.group(1), m.group(2), text.count("\n", 0, m.start()) + 1) for m in _FENCE.finditer(text)
    ]


BLOCKS = _blocks()


def _ids(kind: str) -> list[pytest.param]:  # type: ignore[valid-type]
    return [pytest.param(body, id=f"line{line}") for k, body, line in BLOCKS if k == kind]


def test_every_block_has_a_known_kind() -> None:
    assert BLOCKS, "no code blocks found"
    assert {k for k, _, _ in BLOCKS} <= {"python", "sh", "json", "text"}


def _needs_shared_data(body: str) -> bool:
    return "../shared/data" in body


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _shim(tmp_path: Path) -> dict[str, str]:
    """An environment whose ``eager`` is this checkout's, run by this interpreter."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "eager"
    shim.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m eager "$@"\n')
    shim.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update(PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", NO_COLOR="1", COLUMNS="100")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT / "src"), env.get("PYTHONPATH")) if p)
    return env


@pytest.mark.timeout(BLOCK_TIMEOUT_S + 30)
@pytest.mark.parametrize("body", _ids("sh"))
def test_shell_examples_run(body: str, tmp_path: Path) -> None:
    if _needs_shared_data(body) and not SHARED_DATA.is_dir():
        pytest.skip("needs ../shared/data")
    env = _shim(tmp_path)
    lines = []
    for line in body.splitlines():
        if line.startswith("make "):
            target = line.split()[1]
            done = subprocess.run(
                ["make", "-n", target], cwd=ROOT, capture_output=True, text=True, check=False
            )
            assert done.returncode == 0, (line, done.stderr)
            continue
        lines.append(line)
    port = str(_free_port())
    script = "\n".join(lines).replace("8000", port)
    done = subprocess.run(
        ["bash", "-c", f"set -e\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n{script}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=BLOCK_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, (script, done.stdout[-3000:], done.stderr[-3000:])
    assert "Traceback" not in done.stderr


@pytest.mark.timeout(BLOCK_TIMEOUT_S + 30)
@pytest.mark.parametrize("body", _ids("python"))
def test_python_examples_run(body: str, tmp_path: Path) -> None:
    if _needs_shared_data(body) and not SHARED_DATA.is_dir():
        pytest.skip("needs ../shared/data")
    script = tmp_path / "example.py"
    script.write_text(body)
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=ROOT,
        env=_shim(tmp_path),
        capture_output=True,
        text=True,
        timeout=BLOCK_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, (body, done.stdout[-3000:], done.stderr[-3000:])


@pytest.mark.parametrize("body", _ids("json"))
def test_json_examples_parse(body: str) -> None:
    json.loads(body)


def test_the_readme_names_only_files_that_ship() -> None:
    text = README.read_text(encoding="utf-8")
    for path in sorted(
        set(re.findall(r"(?<![\w./])((?:src|tests|benchmarks)/[\w./*-]+[\w*])", text))
    ):
        if "*" in path:
            continue
        assert (ROOT / path).exists(), path
