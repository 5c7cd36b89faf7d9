"""Recordings for the replay server: conversations of assistant turns, keyed by model name.

A **recording** is one conversation: an ``id`` (the model name a request asks for) and its
assistant ``turns`` in order; turn k answers a request whose history already holds k−1
assistant turns. Files:

* a ``.py`` file is one turn of bare code; a ``.md``/``.txt`` file one chat turn (prose and
  fences, served as it is); the name is the file's stem (``prog.py`` → ``prog``);
* a ``.jsonl`` file holds one record per line, a ``.json`` file one record or a list of them;
* a directory stands for the files above inside it (sorted, not recursive).

A record (the recording format)::

    {"id": "titanic-mean",                       # or "task_id", "name"
     "turns": [                                   # the assistant turns, in order
       {"text": "Let me look.\\n```python\\ndf.head()\\n```\\n",   # a chat answer as it is
        "observation": "STDOUT: ..."},            # optional: what the environment said back
       {"code": "print(df.Fare.mean())"},         # bare code
       {"tool_calls": [{"name": "python", "arguments": {"code": "print(1)"}}]},
       {"text": "The mean fare is 34.65."}],
     "metadata": {"source": "..."}}               # optional, anything JSON

A ``tool_calls`` turn is code: the string argument of each call (``arguments`` an object or a
JSON string; ``code`` first, else the only string), joined with newlines. A record without
``turns`` is a one-turn recording whose text is the first of ``code`` (bare code), ``text``,
``response``, ``full_content``, ``completion``, ``answer``, ``content`` (a chat answer).
Observations and metadata are never served; they let a replay compare what it observed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .._errors import UsageError
from .._extract import make_extractor

__all__ = [
    "Answer",
    "Recording",
    "add_unique",
    "code_in",
    "code_of",
    "load_recordings",
    "parse_record",
    "recording_of",
]

#: Record fields that name a recording, in order of preference.
ID_FIELDS = ("id", "task_id", "name")
#: Fields of a one-turn record that hold a chat answer, in order of preference (``code``: bare).
TEXT_FIELDS = ("text", "response", "full_content", "completion", "answer", "content")
_SUFFIXES = (".py", ".md", ".txt", ".jsonl", ".json")


@dataclass(frozen=True, slots=True)
class Answer:
    """One recorded assistant turn: ``kind="code"`` is bare code, ``"chat"`` prose with fences.

    ``observation``: what the environment answered after this turn (never served).
    """

    name: str
    text: str
    kind: Literal["code", "chat"]
    source: str = ""
    observation: str | None = None


@dataclass(frozen=True, slots=True)
class Recording:
    """A recorded conversation: its assistant ``turns`` in order, and free ``metadata``."""

    name: str
    turns: tuple[Answer, ...]
    metadata: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""


def recording_of(item: Answer | Recording) -> Recording:
    """A recording as it is; an answer as a one-turn recording."""
    if isinstance(item, Recording):
        return item
    return Recording(item.name, (item,), source=item.source)


def code_in(answer: Answer) -> str | None:
    """The program of a turn: bare code as it is; a chat answer's Python fences joined the way
    the runtime joins them (:func:`eager.make_extractor` ``"chat"``); None if it has none."""
    if answer.kind == "code":
        return answer.text
    extractor = make_extractor("chat")
    code = extractor.feed(answer.text) + extractor.close()
    return code if code.strip() else None


def code_of(answer: Answer) -> str:
    """The program of a turn (:func:`code_in`), or its text if it holds no code."""
    code = code_in(answer)
    return answer.text if code is None else code


def load_recordings(paths: Iterable[str | Path]) -> dict[str, Recording]:
    """Recordings by model name from files, directories and JSONL/JSON (see the module doc).

    Raises :class:`~eager.UsageError` for a missing or unreadable path, a bad record, or two
    recordings with the same name.
    """
    out: dict[str, Recording] = {}
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix in _SUFFIXES and p.is_file())
            if not files:
                raise UsageError(f"{path}: no .py/.md/.txt/.jsonl/.json answers in this directory")
        else:
            files = [path]
        for file in files:
            for rec in _load_file(file):
                add_unique(out, rec)
    if not out:
        raise UsageError("no answers given")
    return out


def add_unique(into: dict[str, Recording], rec: Recording) -> None:
    """Add ``rec`` under its name (:class:`~eager.UsageError` if the name is taken)."""
    if rec.name in into:
        raise UsageError(
            f"two answers named {rec.name!r} ({into[rec.name].source} and {rec.source}): "
            "model names must be unique"
        )
    into[rec.name] = rec


def _load_file(path: Path) -> list[Recording]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise UsageError(f"{path}: no such file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read: {exc}") from exc
    if path.suffix == ".jsonl":
        return [
            parse_record(_json(line, f"{path}:{n}"), f"{path}:{n}")
            for n, line in enumerate(text.splitlines(), 1)
            if line.strip()
        ]
    if path.suffix == ".json":
        data = _json(text, str(path))
        records = data if isinstance(data, list) else [data]
        return [parse_record(r, f"{path}[{i}]") for i, r in enumerate(records)]
    kind: Literal["code", "chat"] = "code" if path.suffix == ".py" else "chat"
    return [recording_of(Answer(path.stem, text, kind, str(path)))]


def _json(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{where}: not JSON: {exc}") from exc


def parse_record(record: object, where: str) -> Recording:
    """One record (see the module doc) as a :class:`Recording`; ``where`` names it in errors."""
    if not isinstance(record, dict):
        raise UsageError(f"{where}: a record must be a JSON object")
    name = next((record[k] for k in ID_FIELDS if record.get(k) is not None), None)
    if name is None:
        raise UsageError(f"{where}: no id (one of {', '.join(ID_FIELDS)})")
    name = str(name)
    metadata = record.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise UsageError(f"{where}: 'metadata' must be a JSON object")
    if "turns" not in record:
        return Recording(name, (_turn(record, name, where, one=True),), metadata, where)
    turns = record["turns"]
    if not isinstance(turns, list) or not turns:
        raise UsageError(f"{where}: 'turns' must be a non-empty list")
    parsed = tuple(_turn(t, name, f"{where} turn {i}", one=False) for i, t in enumerate(turns, 1))
    return Recording(name, parsed, metadata, where)


def _turn(turn: object, name: str, where: str, *, one: bool) -> Answer:
    if not isinstance(turn, dict):
        raise UsageError(f"{where}: a turn must be a JSON object")
    obs = turn.get("observation")
    obs = obs if isinstance(obs, str) else None
    if isinstance(turn.get("code"), str):
        return Answer(name, turn["code"], "code", where, obs)
    if not one and "tool_calls" in turn:
        return Answer(name, _tool_code(turn["tool_calls"], where), "code", where, obs)
    fields = TEXT_FIELDS if one else ("text",)
    body = next((turn[k] for k in fields if isinstance(turn.get(k), str)), None)
    if body is None:
        what = ", ".join(("code", *fields)) if one else "text, code, tool_calls"
        raise UsageError(f"{where}: no answer text (one of {what})")
    return Answer(name, body, "chat", where, obs)


def _tool_code(calls: object, where: str) -> str:
    if not isinstance(calls, list) or not calls:
        raise UsageError(f"{where}: 'tool_calls' must be a non-empty list")
    codes = []
    for call in calls:
        args = call.get("arguments") if isinstance(call, dict) else None
        if isinstance(args, str):
            try:
                args = json.loads(args)
            except ValueError:
                codes.append(args)  # a custom tool's raw input
                continue
        strings = [v for v in args.values() if isinstance(v, str)] if isinstance(args, dict) else []
        code = args.get("code") if isinstance(args, dict) else None
        if not isinstance(code, str):
            if len(strings) != 1:
                raise UsageError(f"{where}: a tool call needs a 'code' (or one string) argument")
            code = strings[0]
        codes.append(code)
    return "\n".join(codes)
