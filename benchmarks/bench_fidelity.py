"""Fidelity benchmark: do replayed DABench conversations show the model what the recording showed?

The recorded gpt-4o-mini ReAct conversations on InfiAgent-DABench (``../shared/data/dabench``)
hold, after each code turn, the observation InfiAgent's DA-Agent sandbox returned: an
ipykernel started with ``--matplotlib=inline`` ran the turn's code as one cell (a normal
``execute_request``: ``silent=False``, ``store_history=True``), and the observation is every
``stream`` text and ``execute_result`` ``text/plain`` joined with ``'\\n'`` (one part per stream
message; ``display_data`` dropped) and the ANSI-stripped traceback, in a python fence after
``STDOUT:`` (``STDERR:`` when the last message was an error; errors over 1,000 characters cut to
~500 + ``......`` + ~500 by lines). Each backend replays the conversations, each in a fresh
session whose folder holds the task's table, renders what every code turn showed the same way,
and compares it with the recording after the normalisation of :func:`normalise` (printed with
the results):

* ``reference``: a plain ipykernel (jupyter_client), each turn's code as one cell, as DA-Agent ran it;
* ``repl`` / ``jupyter``: ``eager.Agent`` with its defaults against the replay server
  (``eager.server.ReplayServer``, loopback), on ``ReplBackend`` / ``JupyterBackend``; each code
  turn's ``RunResult.log`` (printed text, rich outputs and the error, in order) is rendered.

Printed: per backend, the share of code turns whose observation matches, and the kinds of
mismatch with counts and one example each. Nothing is timed (the wall time is printed). Needs
the ``bench`` extra (scipy, scikit-learn, ... imported by the recorded code)::

    python benchmarks/bench_fidelity.py --limit 40 --backends repl,jupyter,reference --json out/fidelity.json

``--rescore out/fidelity.json`` runs nothing and compares that run's observations again (after
a change of the normalisation or of the kinds of mismatch).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import importlib.metadata
import json
import os
import platform
import queue
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from eager._result import ExecError, RichOutput, RunResult, StreamText
from eager.server import Recording, load_trajectories
from eager.server._trajectories import local_paths

ROOT = Path(__file__).resolve().parents[1]
# ../shared/data beside the checkout (also found from a work tree nested deeper).
DEFAULT_DATA = next(
    (d / "shared" / "data" for d in ROOT.parents if (d / "shared" / "data").is_dir()),
    ROOT.parent / "shared" / "data",
)
TRAJECTORIES = "dabench/model_outputs/gpt-4o-mini_simone-kalbermatter/results_OPEN_AI_4o-mini.json"
TABLES = "dabench/da-dev-tables"
BACKENDS = ("repl", "jupyter", "reference")
TIMEOUT_S = 120.0
#: DA-Agent's message for a cell that did not finish in time (``python_code_sandbox.py``).
TIMEOUT_TEXT = "Timeout: Code execution exceeded the time limit."

NORMALISATION = (
    "Both sides (recorded and replayed observation) are normalised the same way: ANSI escapes "
    "removed; trailing whitespace cut on every line and blank lines dropped (DA-Agent joins "
    "parts with '\\n', and how a kernel splits stdout into stream messages depends on timing); "
    "absolute file paths (also '~/...') become <path> and addresses 0x... become 0x?; a warning's "
    "location prefix ('<file>:<line>: FooWarning:') is cut to the category; an error observation "
    "(STDERR) keeps what was printed before the traceback plus the traceback's last line (the "
    "exception, without Python's 'Did you mean' hint). The STDOUT/STDERR label is compared. "
    "Nothing else is loosened: an empty observation never matches one with output."
)

Kind = Literal["stream", "result", "error", "fail"]


@dataclass(frozen=True, slots=True)
class Part:
    """One message of a cell's output as DA-Agent collects it: printed text (``stream``), a
    displayed value's ``text/plain`` (``result``), a traceback (``error``) or a sandbox failure
    (``fail``: the timeout)."""

    kind: Kind
    text: str


# -- the recorded conversations ---------------------------------------------------------------


def data_paths(data: Path) -> tuple[Path, Path]:
    """The trajectory file and the tables folder under ``data`` (``shared/data``)."""
    return data / TRAJECTORIES, data / TABLES


def load_conversations(trajectories: Path, tables: Path, limit: int | None) -> list[Recording]:
    """The first ``limit`` recorded conversations in id order, every quoted path to one of the
    tables rewritten to the bare file name (the session's folder holds the tables)."""
    names = {p.name for p in tables.glob("*.csv")}
    recs = sorted(load_trajectories(trajectories).values(), key=lambda r: int(r.name))
    out = [
        replace(rec, turns=tuple(replace(t, text=local_paths(t.text, names)) for t in rec.turns))
        for rec in recs
    ]
    return out if limit is None else out[:limit]


def code_turns(rec: Recording) -> list[int]:
    """Indices of the turns that ran code (those with a recorded observation)."""
    return [i for i, t in enumerate(rec.turns) if t.observation is not None]


_FENCED = re.compile(r"```(?:python)?\s*(.*?)\s*```", re.S)


def cell_code(text: str) -> str:
    """The code DA-Agent's sandbox ran for a turn: every fenced block, joined with ``'\\n'``."""
    return "\n".join(_FENCED.findall(text)).strip()


def session_folder(rec: Recording, tables: Path) -> str:
    """A fresh folder with every table the conversation names, linked."""
    folder = tempfile.mkdtemp(prefix=f"eager-fidelity-{rec.name}-")
    text = "".join(t.text for t in rec.turns)
    for table in tables.glob("*.csv"):
        if table.name in text:
            os.symlink(table, Path(folder) / table.name)
    return folder


# -- DA-Agent's rendering ---------------------------------------------------------------------

_ANSI = re.compile(r"\x1b\[[0-9;]*[a-zA-Z]|(?:\x1B[@-_]|[\x80-\x9F])[0-?]*[ -/]*[@-~]")


def strip_ansi(text: str) -> str:
    """``text`` without ANSI escape sequences."""
    return _ANSI.sub("", text)


def _cut_error(output: str) -> str:
    """DA-Agent's cut of an error observation over 1,000 characters: the first and the last
    ~500 characters by whole lines around a ``......`` line (``_process_sandbox_output``)."""
    if len(output) <= 1000:
        return output
    rows = output.split("\n")
    top: list[str] = []
    length = 0
    for row in rows:
        if length + len(row) > 500:
            break
        top.append(row)
        length += len(row)
    bottom: list[str] = []
    length = 0
    for row in reversed(rows):
        if length + len(row) > 500:
            break
        bottom.insert(0, row)
        length += len(row)
    return "\n".join([*top, "......", *bottom])


def _latex(text: str) -> str:
    """DA-Agent's ``replace_latex_format``: ``\\(..\\)`` and ``\\[..\\]`` become ``$$..$$``."""
    text = re.sub(r"\\\((.*?)\\\)", r"$$\1$$", text, flags=re.S)
    return re.sub(r"\\\[(.*?)\\\]", r"$$\1$$", text, flags=re.S)


def render(parts: Sequence[Part]) -> str:
    """The observation DA-Agent makes of a cell's output messages, as the recording stores it
    (without the surrounding newlines)."""
    state: Kind | None = None
    for part in parts:
        state = part.kind
    joined = "\n".join(p.text for p in parts)
    if state is None or state == "fail":
        msg = f"\nCode execution error\nWhat happened: {joined}"
    else:
        label = "STDERR" if state == "error" else "STDOUT"
        msg = f"\n{label}:\n```python\n{strip_ansi(joined)}\n```\n"
    if "STDERR" in msg:
        msg = _cut_error(msg)
    return _latex(msg).strip("\n")


def parts_of_messages(messages: Iterable[dict[str, Any]]) -> list[Part]:
    """The parts of a cell from its iopub messages (``stream``, ``execute_result``, ``error``)."""
    parts: list[Part] = []
    for msg in messages:
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream":
            parts.append(Part("stream", content["text"]))
        elif kind == "execute_result":
            parts.append(Part("result", content["data"].get("text/plain", "")))
        elif kind == "error":
            parts.append(Part("error", strip_ansi("\n".join(content["traceback"]))))
    return parts


def run_log(result: RunResult) -> tuple[StreamText | RichOutput | ExecError, ...]:
    """A run's ordered output log (printed text, rich outputs, then its error)."""
    return result.log


def parts_of_log(log: Iterable[StreamText | RichOutput | ExecError]) -> list[Part]:
    """The parts of an Eager run's output log: printed text, the ``text/plain`` of an
    ``execute_result`` (``display_data`` dropped, as DA-Agent does) and the error's traceback
    (a timeout as DA-Agent's timeout failure)."""
    parts: list[Part] = []
    for item in log:
        if isinstance(item, StreamText):
            parts.append(Part("stream", item.text))
        elif isinstance(item, RichOutput):
            if item.output_type == "execute_result":
                parts.append(Part("result", item.text))
        elif item.kind == "timeout":
            parts.append(Part("fail", TIMEOUT_TEXT))
        else:
            text = item.traceback.rstrip("\n") or f"{item.ename}: {item.evalue}"
            parts.append(Part("error", strip_ansi(text)))
    return parts


# -- normalisation and comparison -------------------------------------------------------------

_OBSERVATION = re.compile(r"(STDOUT|STDERR):\n```python\n(.*)\n```", re.S)
_FAILED = re.compile(r"Code execution error\nWhat happened: ?(.*)", re.S)
_PATH = re.compile(r"(?<![\w.~:/])~?(?:/[\w.+@=-]+){2,}/?")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]+")
_WARNING_AT = re.compile(r"^\S.*?:\d+: (\w*Warning|ChainedAssignmentError): ", re.M)
_DID_YOU_MEAN = re.compile(r"\. Did you mean: .*\?$")
# Where a traceback starts: IPython's rule of dashes or its header, Python's header, or the
# location line IPython prints first for a SyntaxError.
_TRACEBACK_START = re.compile(
    r"^(?:-{20,}$|Traceback \(most recent call last\)|\w+\s+Traceback \(most recent call last\)"
    r"|\s*Cell In\[\d+\], line \d+$|\s*File \"[^\"]*\", line \d+)"
)
CUT_LINE = "......"


def split_observation(observation: str) -> tuple[str, str]:
    """``(label, body)`` of a rendered observation: ``STDOUT``/``STDERR`` and the fenced text,
    or ``FAIL`` and what DA-Agent's "Code execution error" says happened (empty: nothing
    was shown)."""
    text = observation.strip("\n")
    m = _OBSERVATION.fullmatch(text)
    if m is not None:
        return m.group(1), m.group(2)
    m = _FAILED.fullmatch(text)
    return "FAIL", text if m is None else m.group(1)


def error_lines(lines: list[str]) -> list[str]:
    """An error observation's lines cut to what was printed before the traceback (up to a
    ``......`` cut) and the traceback's last line."""
    start = next((i for i, line in enumerate(lines) if _TRACEBACK_START.match(line)), None)
    if start is None:
        return lines
    before = lines[:start]
    if CUT_LINE in before:
        before = before[: before.index(CUT_LINE)]
    last = next((line for line in reversed(lines) if line.strip()), "")
    return [*before, _DID_YOU_MEAN.sub("", last)]


def normalise(observation: str) -> str:
    """The observation in the form compared (see :data:`NORMALISATION`)."""
    label, body = split_observation(strip_ansi(observation))
    body = _PATH.sub("<path>", body)
    body = _ADDRESS.sub("0x?", body)
    body = _WARNING_AT.sub(r"\1: ", body)
    lines = [line.rstrip() for line in body.split("\n")]
    lines = [line for line in lines if line]
    if label == "STDERR":
        lines = error_lines(lines)
    return "\n".join([label, *lines])


def matches(recorded: str, replayed: str | None) -> bool:
    """The replayed observation equals the recorded one after normalisation."""
    return replayed is not None and normalise(recorded) == normalise(replayed)


# The looser forms below only name a mismatch; they never count as a match.
_NP_SCALAR = re.compile(r"np\.(?:float|int|uint|bool|complex|str)_?\d*\((.*?)\)")
_OBJECT_DTYPE = re.compile(r"\b(?:object|str|string)\b")
_PANDAS_PATH = re.compile(r"pandas\.core\.[\w.]*\.(\w+)")
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_WARNING_HEAD = re.compile(r"^(?:\w*Warning|ChainedAssignmentError):")


def _round(text: str, digits: int = 12) -> str:
    """``text`` with every number rounded to ``digits`` significant digits."""

    def one(m: re.Match[str]) -> str:
        try:
            return f"{float(m.group(0)):.{digits}g}"
        except ValueError:
            return m.group(0)

    return _NUMBER.sub(one, text)


def _drop_warnings(lines: list[str]) -> list[str]:
    """Lines without warnings: a ``Category: message`` line, its continuation lines and the
    indented source line the warnings module prints under it."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        if not _WARNING_HEAD.match(lines[i]):
            out.append(lines[i])
            i += 1
            continue
        block = lines[i + 1 : i + 9]
        source = next((k for k, line in enumerate(block) if line.startswith("  ")), None)
        i += 1 if source is None else source + 2
    return out


def _version_loose(lines: list[str]) -> list[str]:
    """The words of the text with what changes between library versions set aside: warnings,
    memory-usage lines, numpy 2's scalar reprs (``np.float64(x)``), pandas 3's ``str`` dtype
    and module paths, numbers beyond 12 significant digits, line breaks and alignment."""
    kept = [line for line in _drop_warnings(lines) if not line.startswith("memory usage:")]
    text = _NP_SCALAR.sub(r"\1", "\n".join(kept))
    text = _PANDAS_PATH.sub(r"pandas.\1", _OBJECT_DTYPE.sub("<obj>", text))
    return _round(text).split()


def _is_subsequence(small: list[str], big: list[str]) -> bool:
    it = iter(big)
    return all(word in it for word in small)


def _exception(line: str) -> str:
    return line.split(":", 1)[0]


#: The kinds of mismatch, in the order :func:`classify` tries them.
KINDS = {
    "not run": "the turn's code never ran (the agent stopped before it)",
    "nothing shown": "the replay showed nothing, the recording did",
    "timeout": "the replay ran out of time",
    "error only in replay": "the replay raised, the recording did not",
    "error only in recording": "the recording raised, the replay did not",
    "different exception": "both raised, different exceptions",
    "different error message": "both raised the same exception, with a different message",
    "truncation": "one side was cut (DA-Agent's '......' cut of long errors, a backend's limit)",
    "float last digits": "the same text, numbers equal to 12 significant digits",
    "layout": "the same words, other line breaks or spacing",
    "library versions": (
        "the same once what changes between library versions is set aside (warnings, "
        "numpy 2 scalar reprs, pandas 3 'str' dtype and module paths, memory-usage lines, "
        "line breaks and alignment)"
    ),
    "pandas layout": "a wide DataFrame wrapped with '\\' on one side, cut with '...' on the other",
    "part missing": (
        "the replay shows only part of what was recorded (e.g. prints but not the last value)"
    ),
    "extra output": "the replay shows everything recorded and more",
    "different numbers": "the same text with different numbers",
    "other": "anything else",
}


def classify(recorded: str, replayed: str | None, *, truncated: bool = False) -> str | None:
    """None when the observations match, else the kind of mismatch (a key of :data:`KINDS`)."""
    if replayed is None:
        return "not run"
    if matches(recorded, replayed):
        return None
    rec_label, rec_body = split_observation(recorded)
    rep_label, rep_body = split_observation(replayed)
    rec = normalise(recorded).split("\n")[1:]
    rep = normalise(replayed).split("\n")[1:]
    if not rep and rec:
        return "nothing shown"
    if TIMEOUT_TEXT in rep_body and TIMEOUT_TEXT not in rec_body:
        return "timeout"
    if rep_label == "STDERR" and rec_label != "STDERR":
        return "error only in replay"
    if rec_label == "STDERR" and rep_label != "STDERR":
        return "error only in recording"
    if rec_label == rep_label == "STDERR" and rec[-1:] != rep[-1:]:
        if CUT_LINE in (rec[-1:] + rep[-1:]):
            return "truncation"  # DA-Agent's cut took the exception line itself
        same = _exception(rec[-1]) == _exception(rep[-1]) if rec and rep else False
        return "different error message" if same else "different exception"
    cut = {CUT_LINE in rec_body.split("\n"), CUT_LINE in rep_body.split("\n")}
    if len(cut) == 2 or truncated or "characters cut ...]" in rep_body:
        return "truncation"
    if [_round(line) for line in rec] == [_round(line) for line in rep]:
        return "float last digits"
    if " ".join(rec).split() == " ".join(rep).split():
        return "layout"
    loose_rec, loose_rep = _version_loose(rec), _version_loose(rep)
    if loose_rec == loose_rep:
        return "library versions"
    wrapped_rec, wrapped_rep = (any(line.endswith("\\") for line in side) for side in (rec, rep))
    dotted_rec, dotted_rep = (any(" ... " in f" {line} " for line in side) for side in (rec, rep))
    if wrapped_rec != wrapped_rep and (dotted_rep if wrapped_rec else dotted_rec):
        return "pandas layout"
    if len(loose_rep) < len(loose_rec) and _is_subsequence(loose_rep, loose_rec):
        return "part missing"
    if len(loose_rec) < len(loose_rep) and _is_subsequence(loose_rec, loose_rep):
        return "extra output"
    if [_NUMBER.sub("#", line) for line in rec] == [_NUMBER.sub("#", line) for line in rep]:
        return "different numbers"
    return "other"


def turn_row(
    backend: str,
    conversation: str,
    turn: int,
    recorded: str,
    replayed: str | None,
    *,
    truncated: bool = False,
    note: str = "",
) -> dict[str, Any]:
    """One compared code turn: where, both observations, match and kind of mismatch
    (``truncated``: the backend cut the output)."""
    kind = classify(recorded, replayed, truncated=truncated)
    return {
        "backend": backend,
        "conversation": conversation,
        "turn": turn,
        "recorded": recorded,
        "replayed": replayed,
        "match": kind is None,
        "kind": kind,
        "truncated": truncated,
        "note": note,
    }


def recorded_of(rec: Recording, turn: int) -> str:
    """The observation recorded after ``turn``."""
    return rec.turns[turn].observation or ""


# -- the reference: a plain ipykernel, one cell per turn ----------------------------------------


class ReferenceKernel:
    """A plain ipykernel as InfiAgent's sandbox started it (``--matplotlib=inline``), in
    ``folder``; :meth:`run_cell` sends a normal ``execute_request`` and returns the cell's
    output parts."""

    def __init__(self, folder: str, *, timeout_s: float = TIMEOUT_S) -> None:
        from jupyter_client.manager import KernelManager

        self.timeout_s = timeout_s
        self.km = KernelManager(kernel_name="python3")
        self.km.start_kernel(cwd=folder, extra_arguments=["--matplotlib=inline", "--quiet"])
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)

    def run_cell(self, code: str) -> list[Part]:
        msg_id = self.kc.execute(code, silent=False, store_history=True)
        messages: list[dict[str, Any]] = []
        deadline = time.monotonic() + self.timeout_s
        while True:
            try:
                msg = self.kc.get_iopub_msg(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                self.km.interrupt_kernel()
                self._drain(msg_id)
                return [*parts_of_messages(messages), Part("fail", TIMEOUT_TEXT)]
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                return parts_of_messages(messages)
            messages.append(msg)

    def _drain(self, msg_id: str) -> None:
        with contextlib.suppress(queue.Empty):
            while True:
                msg = self.kc.get_iopub_msg(timeout=10)
                ours = msg["parent_header"].get("msg_id") == msg_id
                if ours and msg["content"].get("execution_state") == "idle":
                    return

    def close(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


def reference_rows(rec: Recording, tables: Path) -> list[dict[str, Any]]:
    """Every code turn of ``rec`` run as one cell in a fresh plain ipykernel, compared."""
    folder = session_folder(rec, tables)
    kernel = ReferenceKernel(folder)
    try:
        return [
            turn_row(
                "reference",
                rec.name,
                i,
                recorded_of(rec, i),
                render(kernel.run_cell(cell_code(rec.turns[i].text))),
            )
            for i in code_turns(rec)
        ]
    finally:
        kernel.close()
        shutil.rmtree(folder, ignore_errors=True)


# -- Eager: the agent against the replay server -------------------------------------------------


def make_backend(name: str, folder: str) -> Any:
    """A fresh Eager session of backend ``name`` in ``folder`` (otherwise its defaults)."""
    from eager import JupyterBackend, ReplBackend

    if name == "repl":
        return ReplBackend(cwd=folder, timeout_s=TIMEOUT_S)
    if name == "jupyter":
        return JupyterBackend(cwd=folder, timeout_s=TIMEOUT_S)
    raise SystemExit(f"unknown backend {name!r} (one of {', '.join(BACKENDS)})")


async def eager_rows(
    base_url: str, rec: Recording, tables: Path, backend_name: str
) -> list[dict[str, Any]]:
    """``rec`` run through ``eager.Agent`` (its defaults) against the replay server at
    ``base_url`` in a fresh session; every recorded code turn compared with what it showed."""
    from eager.agent import Agent, AgentConfig, EndpointModel

    folder = session_folder(rec, tables)
    try:
        async with make_backend(backend_name, folder) as backend:
            model = EndpointModel(base_url=base_url, model=rec.name)
            config = AgentConfig(max_turns=len(rec.turns))
            question = str(rec.metadata.get("input_text", "Answer the question."))
            result = await Agent(model=model, backend=backend, config=config).run(question)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    rows = []
    for i in code_turns(rec):
        turn = result.turns[i] if i < len(result.turns) else None
        if turn is None or not turn.runs:
            why = f"agent stopped after {len(result.turns)} turn(s): {result.stop}"
            if result.error:
                why += f" ({result.error})"
            rows.append(turn_row(backend_name, rec.name, i, recorded_of(rec, i), None, note=why))
            continue
        run = turn.runs[0]
        replayed = render(parts_of_log(run_log(run)))
        note = "interrupted" if turn.interrupted else ""
        rows.append(
            turn_row(
                backend_name,
                rec.name,
                i,
                recorded_of(rec, i),
                replayed,
                truncated=run.truncated,
                note=note,
            )
        )
    return rows


async def eager_backend_rows(
    convs: Sequence[Recording], tables: Path, backend_name: str, tps: float
) -> list[dict[str, Any]]:
    """Every conversation through the agent on one backend, one replay server for all."""
    from eager.server import ReplayServer

    rows: list[dict[str, Any]] = []
    async with ReplayServer({r.name: r for r in convs}, tps=tps, ttft_s=0.0) as srv:
        for rec in convs:
            got = await eager_rows(srv.base_url, rec, tables, backend_name)
            progress(backend_name, rec, got)
            rows += got
    return rows


# -- report -----------------------------------------------------------------------------------


def progress(backend: str, rec: Recording, rows: Sequence[dict[str, Any]]) -> None:
    ok = sum(r["match"] for r in rows)
    kinds = Counter(r["kind"] for r in rows if r["kind"])
    what = ", ".join(f"{k} {n}" for k, n in kinds.most_common())
    print(f"{backend:9} {rec.name:>4}: {ok}/{len(rows)} match {what}", flush=True)


#: Kinds of mismatch that only library versions (or the machine's float rounding) explain.
VERSION_ONLY = ("float last digits", "layout", "library versions")


def _size(row: dict[str, Any]) -> int:
    return len(row["recorded"]) + len(row["replayed"] or "")


def summarise(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per backend: code turns, matching turns, their share, the share matching or differing
    only by library versions (:data:`VERSION_ONLY`), and per kind of mismatch its count and
    its shortest example."""
    out: dict[str, dict[str, Any]] = {}
    for backend in dict.fromkeys(r["backend"] for r in rows):
        sel = [r for r in rows if r["backend"] == backend]
        kinds: dict[str, dict[str, Any]] = {}
        for r in sel:
            if r["kind"] is None:
                continue
            entry = kinds.setdefault(r["kind"], {"count": 0, "example": r})
            entry["count"] += 1
            if _size(r) < _size(entry["example"]):
                entry["example"] = r  # the shortest example reads best
        matched = sum(r["match"] for r in sel)
        near = matched + sum(r["kind"] in VERSION_ONLY for r in sel)
        ordered = sorted(kinds.items(), key=lambda kv: (-kv[1]["count"], list(KINDS).index(kv[0])))
        out[backend] = {
            "turns": len(sel),
            "conversations": len({r["conversation"] for r in sel}),
            "matched": matched,
            "share": matched / len(sel) if sel else 0.0,
            "matched_or_version_only": near,
            "share_or_version_only": near / len(sel) if sel else 0.0,
            "kinds": dict(ordered),
        }
    return out


def _excerpt(lines: list[str], start: int, count: int = 6, width: int = 110) -> list[str]:
    """The label line, then ``count`` lines from ``start`` (cut to ``width``)."""
    shown = lines[:1]
    if start > 1:
        shown.append(f"[{start - 1} lines]")
    body = lines[max(start, 1) : max(start, 1) + count]
    shown += [r if len(r) <= width else r[: width - 1] + "…" for r in body]
    rest = len(lines) - max(start, 1) - len(body)
    if rest > 0:
        shown.append(f"[{rest} more lines]")
    return shown


def example(row: dict[str, Any]) -> list[str]:
    """Both normalised observations of a row, from a line before their first difference."""
    rec = normalise(row["recorded"]).split("\n")
    if row["replayed"] is None:
        return ["--- recorded", *_excerpt(rec, 1), "--- replayed", "(not run)"]
    rep = normalise(row["replayed"]).split("\n")
    first = next((i for i, (a, b) in enumerate(zip(rec, rep, strict=False)) if a != b), None)
    first = min(len(rec), len(rep)) if first is None else first
    start = max(1, first - 1)
    if rep == ["FAIL"]:
        rep = ["FAIL (nothing to show: DA-Agent's 'Code execution error')"]
    return ["--- recorded", *_excerpt(rec, start), "--- replayed", *_excerpt(rep, start)]


def report(summary: dict[str, dict[str, Any]]) -> str:
    """The results as markdown: the share table, then the kinds of mismatch with an example."""
    lines = [
        "| backend | conversations | code turns | matching | share | matching or only "
        f"{', '.join(VERSION_ONLY)} |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for backend, s in summary.items():
        lines.append(
            f"| {backend} | {s['conversations']} | {s['turns']} | {s['matched']} | "
            f"**{s['share']:.1%}** | {s['matched_or_version_only']} "
            f"({s['share_or_version_only']:.1%}) |"
        )
    for backend, s in summary.items():
        lines += ["", f"Mismatches, {backend}:", ""]
        if not s["kinds"]:
            lines.append("* none")
        for kind, entry in s["kinds"].items():
            ex = entry["example"]
            where = f"conversation {ex['conversation']}, turn {ex['turn']}"
            note = f"; {ex['note']}" if ex["note"] else ""
            lines += [
                f"* **{kind}** ({entry['count']}): {KINDS[kind]}. Example, {where}{note}:",
                "",
                "  ```text",
                *(f"  {line}" for line in example(ex)),
                "  ```",
                "",
            ]
    return "\n".join(lines)


def versions() -> dict[str, str]:
    """Versions of the libraries that shape what a cell shows (sessions use this interpreter)."""
    out = {"python": platform.python_version()}
    for dist in (
        "ipython",
        "ipykernel",
        "jupyter_client",
        "pandas",
        "numpy",
        "scipy",
        "scikit-learn",
        "matplotlib",
        "matplotlib-inline",
    ):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = "missing"
    return out


def machine() -> str:
    return (
        f"{platform.node()}: {platform.machine()}, {os.cpu_count()} cores, load "
        f"{os.getloadavg()[0]:.1f}; " + ", ".join(f"{k} {v}" for k, v in versions().items())
    )


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--limit", type=int, default=40, help="conversations, in id order (default 40)")
    p.add_argument("--backends", default=",".join(BACKENDS), help="of repl, jupyter, reference")
    p.add_argument("--json", metavar="OUT", help="write the summary and every compared turn")
    p.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help="shared/data (default ../shared/data)"
    )
    p.add_argument("--tps", type=float, default=200.0, help="replayed token rate (eager backends)")
    p.add_argument(
        "--rescore",
        metavar="IN",
        type=Path,
        help="run nothing: compare again the observations of an earlier --json run and report",
    )
    args = p.parse_args(argv)
    if args.rescore:
        rescored = [
            turn_row(
                r["backend"],
                r["conversation"],
                r["turn"],
                r["recorded"],
                r["replayed"],
                truncated=r.get("truncated", False),
                note=r["note"],
            )
            for r in json.loads(args.rescore.read_text())["rows"]
        ]
        return finish(rescored, args.json, time.monotonic())
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    for b in backends:
        if b not in BACKENDS:
            p.error(f"unknown backend {b!r} (one of {', '.join(BACKENDS)})")
    trajectories, tables = data_paths(args.data)
    if not trajectories.is_file() or not tables.is_dir():
        print(
            f"skip: no DABench trajectories at {trajectories} (see shared/data/README.md; --data DIR)"
        )
        return 0
    started = time.monotonic()
    convs = load_conversations(trajectories, tables, args.limit)
    print(
        f"{machine()}\n{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, "
        f"{len(convs)} conversations, {sum(len(code_turns(r)) for r in convs)} code turns\n"
    )
    missing = [k for k, v in versions().items() if v == "missing"]
    if missing:
        print(
            f"note: {', '.join(missing)} missing: turns that import them fail on every backend "
            "(pip install -e '.[bench]')\n"
        )
    rows: list[dict[str, Any]] = []
    for backend in backends:
        if backend == "reference":
            for rec in convs:
                got = reference_rows(rec, tables)
                progress(backend, rec, got)
                rows += got
        else:
            rows += asyncio.run(eager_backend_rows(convs, tables, backend, args.tps))
    return finish(rows, args.json, started)


def finish(rows: list[dict[str, Any]], out: str | None, started: float) -> int:
    """Print the report of ``rows`` (and write them with the summary to ``out``)."""
    summary = summarise(rows)
    print(f"\nNormalisation: {NORMALISATION}\n")
    print(report(summary))
    print(f"\n{machine()}; {time.monotonic() - started:.0f} s wall time in all")
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(
            json.dumps(
                {
                    "machine": machine(),
                    "normalisation": NORMALISATION,
                    "summary": summary,
                    "rows": rows,
                },
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
