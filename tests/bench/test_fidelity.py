"""The fidelity benchmark's rendering, normalisation and comparison, on a shipped conversation
run through the reference kernel (a plain ipykernel, one cell per turn)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from eager._result import ExecError, RichOutput, StreamText
from eager.server import load_recordings

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
RECORDINGS = DATA / "dabench_gpt4o_mini_recordings.jsonl"


def _bench() -> ModuleType:
    name = "bench_fidelity"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / "bench_fidelity.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


bf = _bench()


def _observations() -> list[str]:
    recs = load_recordings([RECORDINGS])
    return [t.observation for r in recs.values() for t in r.turns if t.observation is not None]


def _out(text: str) -> str:
    return f"STDOUT:\n```python\n{text}\n```"


def test_a_cell_renders_as_da_agent_joined_its_parts() -> None:
    parts = [bf.Part("stream", "a\nb\n"), bf.Part("result", "2")]
    assert bf.render(parts) == "STDOUT:\n```python\na\nb\n\n2\n```"
    error = bf.render([bf.Part("stream", "x\n"), bf.Part("error", "Traceback\nKeyError: 'k'")])
    assert error.startswith("STDERR:\n```python\nx\n")
    assert bf.render([]) == "Code execution error\nWhat happened: "


def test_an_eager_log_renders_without_display_data() -> None:
    log = [
        StreamText("stdout", "hi\n"),
        RichOutput({"text/plain": "<Figure>", "image/png": "AAAA"}),
        RichOutput({"text/plain": "3"}, output_type="execute_result", execution_count=1),
        ExecError("ValueError", "v", "Traceback (most recent call last):\nValueError: v\n"),
    ]
    parts = bf.parts_of_log(log)
    assert [p.kind for p in parts] == ["stream", "result", "error"]
    assert bf.render(parts).startswith("STDERR:\n```python\nhi\n\n3\nTraceback")


def test_identical_observations_match_and_blank_ones_do_not() -> None:
    observations = _observations()
    assert len(observations) >= 4
    blank_forms = [
        bf.render([]),
        bf.render([bf.Part("stream", "")]),
        bf.render([bf.Part("stream", "\n \n")]),
    ]
    for obs in observations:
        assert bf.matches(obs, obs)
        assert bf.classify(obs, obs) is None
        for blank in blank_forms:
            assert not bf.matches(obs, blank)
            assert bf.classify(obs, blank) == "nothing shown"
        assert bf.classify(obs, None) == "not run"


def test_normalisation_sets_aside_paths_addresses_and_traceback_layout() -> None:
    ipython = (
        "STDERR:\n```python\npartial\n\x1b[0;31m---------------------------------------------\x1b[0m\n"
        "\x1b[0;31mNameError\x1b[0m                 Traceback (most recent call last)\n"
        "Cell In[3], line 2\n----> 2 fo\n\x1b[0;31mNameError\x1b[0m: name 'fo' is not defined\n```"
    )
    plain = (
        "STDERR:\n```python\npartial   \n\nTraceback (most recent call last):\n"
        '  File "<program>", line 2, in <module>\n'
        "NameError: name 'fo' is not defined. Did you mean: 'foo'?\n```"
    )
    assert bf.matches(ipython, plain)
    other = plain.replace("'fo' is", "'bar' is")
    assert bf.classify(ipython, other) == "different error message"
    a = "STDOUT:\n```python\n<obj at 0x7f00aa> /home/u/x/t.csv\n/tmp/ipykernel_1/2.py:3: FutureWarning: w\n```"
    b = "STDOUT:\n```python\n<obj at 0x55bb> /srv/t.csv\n<program>:3: FutureWarning: w\n```"
    assert bf.matches(a, b)
    assert bf.classify(_out("1.0000000000001"), _out("1.0000000000002")) == "float last digits"
    assert bf.classify(_out("1.5"), _out("2.5")) == "different numbers"
    assert bf.classify(_out("a\nb"), _out("a")) == "part missing"
    assert bf.classify(_out("a"), _out("a\nb")) == "extra output"
    assert bf.classify(_out("Index(['a'], dtype='object')"), _out("Index(['a'], dtype='str')")) == (
        "library versions"
    )
    wrapped = _out("   a  b  \\\n0  1  2\n\n   c\n0  3")
    cut = _out("   a  ...  c\n0  1  ...  3\n\n[1 rows x 3 columns]")
    assert bf.classify(wrapped, cut) == "pandas layout"


@pytest.mark.timeout(60)
def test_the_reference_kernel_replays_a_shipped_conversation_into_a_report() -> None:
    pytest.importorskip("jupyter_client")
    pytest.importorskip("ipykernel")
    pytest.importorskip("pandas")
    rec = load_recordings([RECORDINGS])["dabench-0"]
    rows = bf.reference_rows(rec, DATA)
    assert [r["turn"] for r in rows] == bf.code_turns(rec) == [0, 1]
    for row in rows:
        assert set(row) >= {
            "backend",
            "conversation",
            "turn",
            "recorded",
            "replayed",
            "match",
            "kind",
        }
        assert row["backend"] == "reference" and row["conversation"] == "dabench-0"
        assert row["match"] == (row["kind"] is None)
        assert row["replayed"].startswith("STDOUT:\n```python\n")
    assert "PassengerId" in rows[0]["replayed"]  # the cell's last value, data.head(), is shown
    summary = bf.summarise(rows)
    assert list(summary) == ["reference"]
    s = summary["reference"]
    assert (s["conversations"], s["turns"]) == (1, 2)
    assert s["matched"] == sum(r["match"] for r in rows)
    assert sum(k["count"] for k in s["kinds"].values()) == 2 - s["matched"]
    text = bf.report(summary)
    assert text.startswith("| backend | conversations | code turns | matching | share |")
    assert f"| reference | 1 | 2 | {s['matched']} |" in text
