"""Recorded answers for the replay server: files and JSONL workloads, keyed by model name.

* a ``.py`` file is bare code (served as it is; as a tool call its text is the ``code``);
* a ``.md``/``.txt`` (any other) file is a chat answer, served as it is (prose and fences);
* a ``.jsonl`` file is a workload: one answer per line, named by its ``id`` (or ``task_id``,
  ``name``), its text from the first of ``code`` (bare code), ``text``, ``response``,
  ``full_content``, ``completion``, ``answer``, ``content`` (a chat answer as it is);
* a directory stands for the files above inside it (sorted, not recursive).

The model name of a file is its stem (``prog.py`` → ``prog``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .._errors import UsageError

__all__ = ["Answer", "code_of", "load_answers"]

#: JSONL record fields that name an answer, in order of preference.
ID_FIELDS = ("id", "task_id", "name")
#: JSONL record fields that hold a chat answer, in order of preference (``code``: bare code).
TEXT_FIELDS = ("text", "response", "full_content", "completion", "answer", "content")
_SUFFIXES = (".py", ".md", ".txt", ".jsonl")
_FENCE = re.compile(
    r"^[ \t]*(`{3,}|~{3,})[ \t]*([\w+-]*)[^\n]*\n(.*?)^[ \t]*\1[ \t]*$", re.M | re.S
)


@dataclass(frozen=True, slots=True)
class Answer:
    """One recorded answer: ``kind="code"`` is bare code, ``"chat"`` prose with fences."""

    name: str
    text: str
    kind: Literal["code", "chat"]
    source: str = ""


def code_of(answer: Answer) -> str:
    """The program of an answer: its text for bare code, else its python (or bare) fences."""
    if answer.kind == "code":
        return answer.text
    blocks = [
        m.group(3)
        for m in _FENCE.finditer(answer.text)
        if m.group(2).lower() in ("", "python", "py", "python3")
    ]
    return "".join(blocks) if blocks else answer.text


def load_answers(paths: Iterable[str | Path]) -> dict[str, Answer]:
    """Answers by model name from files, directories and JSONL workloads (see the module doc).

    Raises :class:`~eager.UsageError` for a missing or unreadable path, a bad JSONL record,
    or two answers with the same name.
    """
    answers: dict[str, Answer] = {}
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix in _SUFFIXES and p.is_file())
            if not files:
                raise UsageError(f"{path}: no .py/.md/.txt/.jsonl answers in this directory")
        else:
            files = [path]
        for file in files:
            for answer in _load_file(file):
                if answer.name in answers:
                    raise UsageError(
                        f"two answers named {answer.name!r} ({answers[answer.name].source} and "
                        f"{answer.source}): model names must be unique"
                    )
                answers[answer.name] = answer
    if not answers:
        raise UsageError("no answers given")
    return answers


def _load_file(path: Path) -> list[Answer]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise UsageError(f"{path}: no such file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read: {exc}") from exc
    if path.suffix == ".jsonl":
        return _load_jsonl(path, text)
    kind: Literal["code", "chat"] = "code" if path.suffix == ".py" else "chat"
    return [Answer(path.stem, text, kind, str(path))]


def _load_jsonl(path: Path, text: str) -> list[Answer]:
    out = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise UsageError(f"{where}: not JSON: {exc}") from exc
        if not isinstance(record, dict):
            raise UsageError(f"{where}: a record must be a JSON object")
        name = next((record[k] for k in ID_FIELDS if record.get(k) is not None), None)
        if name is None:
            raise UsageError(f"{where}: no id (one of {', '.join(ID_FIELDS)})")
        if isinstance(record.get("code"), str):
            out.append(Answer(str(name), record["code"], "code", where))
            continue
        body = next((record[k] for k in TEXT_FIELDS if isinstance(record.get(k), str)), None)
        if body is None:
            raise UsageError(f"{where}: no answer text (one of code, {', '.join(TEXT_FIELDS)})")
        out.append(Answer(str(name), body, "chat", where))
    return out
