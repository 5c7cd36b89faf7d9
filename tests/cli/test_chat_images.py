"""``eager chat`` saves the images each turn shows and puts the outputs in ``--json``."""

from __future__ import annotations

import base64
import json
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from ._serve import Served, eager


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 2, 1, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" + b"\0\0\0" * 2)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


PNG = _png()
SHOW = (
    "Show it.\n```python\nimport base64\nfrom IPython.display import Image, display\n"
    f"display(Image(data=base64.b64decode({base64.b64encode(PNG).decode()!r})))\n"
    "print('shown')\n```\n"
)


@pytest.fixture
def served(tmp_path: Path, serve: Callable[..., Served]) -> str:
    recordings = tmp_path / "show.jsonl"
    turns = [{"text": SHOW}, {"text": "Final Answer: shown"}]
    recordings.write_text(json.dumps({"id": "show", "turns": turns}) + "\n")
    return serve(str(recordings), "--tps", "1000", "--ttft", "0").url


def _chat(served: str, *args: str) -> list[str]:
    return ["chat", "Show the image.", "--base-url", served, "--model", "show", *args]


def test_chat_json_saves_the_image_and_carries_the_outputs(served: str, tmp_path: Path) -> None:
    pytest.importorskip("jupyter_client")
    folder = tmp_path / "images"
    args = ("--backend", "jupyter", "--outputs-dir", str(folder), "--json")
    done = eager(*_chat(served, *args), timeout_s=180)
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["answer"] == "shown" and record["outputs_dir"] == str(folder)
    (output,) = record["turns"][0]["outputs"]
    assert output["output_type"] == "display_data" and "image/png" in output["data"]
    assert output["path"] == str(folder / "turn1-1.png")
    assert Path(output["path"]).read_bytes() == PNG
    assert record["turns"][1]["outputs"] == []
    assert "[image 1: image/png" in record["turns"][0]["observations"][0]


def test_chat_prints_where_it_saved_the_image(served: str, tmp_path: Path) -> None:
    pytest.importorskip("jupyter_client")
    cwd = tmp_path / "session"
    cwd.mkdir()
    done = eager(*_chat(served, "--backend", "jupyter", "--cwd", str(cwd)), timeout_s=180)
    assert done.returncode == 0, done.stderr
    saved = cwd / "outputs" / "turn1-1.png"
    assert f"image/png saved to {saved}" in done.stdout.replace("\n", "")
    assert saved.read_bytes() == PNG
