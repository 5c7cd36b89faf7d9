"""A real ipykernel running cells as a notebook does (one normal execute_request per cell).

The reference every notebook-display test compares with: what Jupyter shows for the cells
run serially, reduced to what the issue judges (printed text, displayed values in order,
images) by :func:`shown`.
"""

from __future__ import annotations

import base64
import os
import queue
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_client.manager import KernelManager

from eager import ExecError, RichOutput, RunResult, StreamText

#: How long a reference cell may take (s).
CELL_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Shown:
    """One thing a notebook showed: ``kind`` stdout / stderr / result / display / error."""

    kind: str
    text: str
    images: tuple[bytes, ...] = ()


def _merge(items: Iterable[Shown]) -> list[Shown]:
    out: list[Shown] = []
    for item in items:
        if item.kind in ("stdout", "stderr") and not item.text:
            continue
        if out and item.kind in ("stdout", "stderr") and out[-1].kind == item.kind:
            out[-1] = Shown(item.kind, out[-1].text + item.text)
            continue
        out.append(item)
    return out


def _images(data: dict[str, Any]) -> tuple[bytes, ...]:
    return tuple(
        base64.b64decode(data[m])
        for m in ("image/png", "image/jpeg")
        if isinstance(data.get(m), str)
    )


def shown(result: RunResult) -> list[Shown]:
    """What an Eager run showed, in the reference's terms."""
    items: list[Shown] = []
    for item in result.log:
        if isinstance(item, StreamText):
            items.append(Shown(item.name, item.text))
        elif isinstance(item, RichOutput):
            kind = "result" if item.output_type == "execute_result" else "display"
            items.append(Shown(kind, item.text, _images(item.data)))
        elif isinstance(item, ExecError):
            items.append(Shown("error", item.ename))
    return _merge(items)


def run_cells(cells: Sequence[str], cwd: Path) -> list[Shown]:
    """Run ``cells`` in a fresh ipykernel, in order, stopping after a failing one."""
    sockets = tempfile.mkdtemp(prefix="eager-ref-")  # ipc: no free-port race between workers
    km = KernelManager(
        kernel_name="python3",
        transport="ipc",
        ip=os.path.join(sockets, "kernel"),
        connection_file=os.path.join(sockets, "kernel.json"),
    )
    km.start_kernel(cwd=str(cwd), env=_env())
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=CELL_TIMEOUT_S)
        items: list[Shown] = []
        for cell in cells:
            msg_id = kc.execute(cell, store_history=True)
            failed = _collect(kc, msg_id, items)
            if failed:
                break
        return _merge(items)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
        shutil.rmtree(sockets, ignore_errors=True)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("MPLBACKEND", None)  # ipykernel picks the inline backend itself
    return env


def _collect(kc: Any, msg_id: str, items: list[Shown]) -> bool:
    failed = False
    while True:
        try:
            msg = kc.get_iopub_msg(timeout=CELL_TIMEOUT_S)
        except queue.Empty as exc:
            raise TimeoutError("the reference kernel did not answer") from exc
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream":
            items.append(Shown(content["name"], content["text"]))
        elif kind in ("execute_result", "display_data"):
            data = content["data"]
            name = "result" if kind == "execute_result" else "display"
            items.append(Shown(name, data.get("text/plain", ""), _images(data)))
        elif kind == "error":
            items.append(Shown("error", content["ename"]))
            failed = True
        elif kind == "status" and content["execution_state"] == "idle":
            return failed
