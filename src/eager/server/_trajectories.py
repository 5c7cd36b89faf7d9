"""Recorded ReAct trajectories (InfiAgent DABench outputs) split into servable conversations.

A trajectory is one string: the model's prose and a fenced program, then what the sandbox
answered, and so on, up to a final answer::

    <prose>
    [SYSTEM NOTIFICATION] We need to execute with python sandbox with the following code:
    ```python
    <code>
    ```

    [SYSTEM NOTIFICATION] Running the above tool with the following response:

    STDOUT:            (or STDERR:)
    ```python
    <output>
    ```

    <prose> ... <final answer>

Each model part becomes one assistant turn (a chat answer: the prose and the fence, without the
agent framework's "We need to execute" marker line); what the sandbox answered is not model
output, so it is kept as the turn's ``observation`` (never served). The record's question,
table path, answer format and concepts go to the recording's ``metadata``. Quoted paths of the
recorded machine that end in the task's table (``'/home/.../upload_files/x/test_ave.csv'``)
become the bare file name, so a replay reads the table from the session's working folder.
"""

from __future__ import annotations

import json
import re
from collections.abc import Container
from pathlib import Path
from typing import Any

from .._errors import UsageError
from ._answers import Answer, Recording, add_unique

__all__ = ["dump_recordings", "load_trajectories", "local_paths", "split_trajectory"]

EXEC_MARK = "[SYSTEM NOTIFICATION] We need to execute with python sandbox with the following code:"
RAN_MARK = "[SYSTEM NOTIFICATION] Running the above tool with the following response:"
# One "STDOUT:"/"STDERR:" label and its fenced block, after blank lines.
_OBSERVED = re.compile(r"\s*(?:STDOUT|STDERR):[ \t]*\n(`{3,})[^\n]*\n.*?^\1[ \t]*$\n?", re.M | re.S)
_METADATA_FIELDS = ("input_text", "file_path", "format", "concepts")
# A quoted path ending in a .csv file name.
_CSV = re.compile(r"(['\"])([^'\"\n]*?\.csv)\1")


def local_paths(text: str, names: Container[str]) -> str:
    """Quoted paths whose file name is one of ``names``, rewritten to that bare file name."""

    def repl(m: re.Match[str]) -> str:
        name = m.group(2).rsplit("/", 1)[-1]
        return f"{m.group(1)}{name}{m.group(1)}" if name in names else m.group(0)

    return _CSV.sub(repl, text)


def split_trajectory(response: str) -> list[tuple[str, str | None]]:
    """``(assistant text, observation)`` per turn of a ReAct trajectory; the last turn (the
    final answer) has no observation. Raises :class:`~eager.UsageError` if an observation
    cannot be told apart from the model's next turn."""
    parts = response.split(RAN_MARK)
    turns: list[tuple[str, str | None]] = []
    text = parts[0]
    for n, rest in enumerate(parts[1:], 1):
        rest = rest.removeprefix(" ")
        end = 0
        while m := _OBSERVED.match(rest, end):
            end = m.end()
        if end == 0:
            raise UsageError(f"observation {n}: no STDOUT:/STDERR: block after the marker")
        turns.append((_model_text(text), rest[:end].strip("\n")))
        text = rest[end:]
    turns.append((_model_text(text), None))
    return turns


def _model_text(text: str) -> str:
    lines = [line for line in text.strip("\n").split("\n") if line.strip() != EXEC_MARK]
    return "\n".join(lines) + "\n"


def load_trajectories(path: str | Path, *, prefix: str = "") -> dict[str, Recording]:
    """Recordings (named ``prefix + id``) from a JSON list of DABench result records
    (``id``, ``response``, ...) or from records already in the recording format."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise UsageError(f"{path}: no such file") from exc
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UsageError(f"{path}: cannot read a JSON list of trajectories: {exc}") from exc
    if not isinstance(data, list):
        raise UsageError(f"{path}: expected a JSON list of trajectories")
    out: dict[str, Recording] = {}
    for i, item in enumerate(data):
        where = f"{path}[{i}]"
        if (
            not isinstance(item, dict)
            or "id" not in item
            or not isinstance(item.get("response"), str)
        ):
            raise UsageError(f"{where}: a trajectory needs an 'id' and a 'response' string")
        name = f"{prefix}{item['id']}"
        try:
            turns = split_trajectory(item["response"])
        except UsageError as exc:
            raise UsageError(f"{where}: {exc}") from exc
        table = item.get("file_path")
        tables = {str(table).rsplit("/", 1)[-1]} if isinstance(table, str) and table else set()
        answers = tuple(
            Answer(name, local_paths(text, tables), "chat", where, obs) for text, obs in turns
        )
        metadata = {k: item[k] for k in _METADATA_FIELDS if k in item}
        add_unique(out, Recording(name, answers, metadata, where))
    return out


def dump_recordings(recordings: dict[str, Recording]) -> str:
    """The recordings as JSONL in the recording format (``_answers``); loads back equal."""
    lines = []
    for rec in recordings.values():
        turns: list[dict[str, Any]] = []
        for turn in rec.turns:
            entry: dict[str, Any] = {"code" if turn.kind == "code" else "text": turn.text}
            if turn.observation is not None:
                entry["observation"] = turn.observation
            turns.append(entry)
        record: dict[str, Any] = {"id": rec.name, "turns": turns}
        if rec.metadata:
            record["metadata"] = dict(rec.metadata)
        lines.append(json.dumps(record, ensure_ascii=False))
    return "".join(line + "\n" for line in lines)
