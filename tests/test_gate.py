"""The gate: table-driven decisions per chunk, imports and taint carried across chunks."""

from __future__ import annotations

import pytest

from eager import POLICIES, Chunk, Gate, Policy, UsageError


def decide(policy: Policy | str, *chunks: str) -> list[str]:
    gate = Gate(policy)
    out = []
    line = 1
    for i, code in enumerate(chunks):
        n = code.count("\n")
        chunk = Chunk(code, i, line, line + max(n - 1, 0), 0, len(code))
        out.append(gate.classify(chunk).decision)
        line += n
    return out


SAFE = [
    "import os\nprint(os.path.join('a', 'b'))\n",
    "import os.path\nx = os.path.exists('x')\n",
    "from os import path\nprint(path.basename('/a/b'))\n",
    "import pandas as pd\ndf = pd.read_csv('t.csv')\n",
    "with open('data.txt') as f:\n    text = f.read()\n",
    "f = open('data.txt', 'r')\n",
    "f = open('data.txt', mode='rb')\n",
    "df = df.rename(columns={'a': 'b'})\n",
    "import subprocess\n",
    "from datetime import datetime\nd = datetime.strptime('2020', '%Y')\n",
    "import json\ns = json.dumps({'a': 1})\n",
    "x = [i * i for i in range(10)]\n",
    "import re\npattern = re.compile('a+')\n",
    "import numpy as np\nrng = np.random.default_rng(0)\n",
]

UNSAFE = [
    ("import os\nos.remove('x')\n", "os.remove"),
    ("import os as o\no.unlink('x')\n", "os.unlink"),
    ("from os import remove\nremove('x')\n", "os.remove"),
    ("open('out.txt', 'w').write('x')\n", "open"),
    ("with open('out.txt', mode='a') as f:\n    f.write('x')\n", "open"),
    ("f = open(path, m)\n", "computed mode"),
    ("import io\nio.open('x', 'wb')\n", "open"),
    ("from pathlib import Path\nPath('x').open('w')\n", "open"),
    ("import subprocess\nsubprocess.run(['ls'])\n", "subprocess.run"),
    ("from subprocess import run as r\nr(['ls'])\n", "subprocess.run"),
    ("import requests\nrequests.post('http://x', json={})\n", "requests.post"),
    ("import time\ntime.sleep(1)\n", "time.sleep"),
    ("import time\nt0 = time.time()\n", "time.time"),
    ("from datetime import datetime\nnow = datetime.now()\n", "datetime.datetime.now"),
    ("import shutil\nshutil.rmtree('d')\n", "shutil.rmtree"),
    ("df.to_csv('out.csv')\n", "to_csv"),
    ("df.head().to_csv('out.csv')\n", "to_csv"),
    ("plt.savefig('fig.png')\n", "savefig"),
    ("import numpy as np\nnp.save('a.npy', a)\n", "numpy.save"),
    ("eval('1+1')\n", "eval"),
    ("exec(code)\n", "exec"),
    ("m = __import__('os')\n", "__import__"),
    ("import importlib\nm = importlib.import_module('os')\n", "importlib.import_module"),
    ("import threading\nt = threading.Thread(target=f)\n", "threading.Thread"),
    ("import socket\ns = socket.socket()\n", "socket.socket"),
    ("import urllib.request\nurllib.request.urlopen('http://x')\n", "urllib.request.urlopen"),
    ("name = input('name? ')\n", "input"),
    ("import signal\nsignal.alarm(1)\n", "signal.alarm"),
    ("files = list(map(os.remove, paths))\n", "os.remove"),
    ("import pickle\npickle.dump(obj, f)\n", "pickle.dump"),
]


@pytest.mark.parametrize("code", SAFE)
def test_safe_code_runs(code: str) -> None:
    assert decide("default", code) == ["run"]


@pytest.mark.parametrize(("code", "what"), UNSAFE)
def test_unsafe_code_seals_with_its_reason(code: str, what: str) -> None:
    gate = Gate("default")
    decision = gate.classify(Chunk(code, 0, 1, code.count("\n"), 0, len(code)))
    assert decision.decision == "seal"
    assert what in decision.reason


@pytest.mark.parametrize(
    "code",
    [
        "def f(x):\n    return x + 1\n",
        "@functools.cache\ndef f(x):\n    return x\n",
        "@a\n@b(1)\ndef f():\n    pass\n",
        "class A:\n    x = 1\n",
        "async def main():\n    await g()\n",
    ],
)
def test_definitions_are_deferred(code: str) -> None:
    assert decide("default", code) == ["defer"]


def test_imports_in_an_earlier_chunk_resolve_names_later() -> None:
    assert decide("default", "import os as o\n", "o.path.join('a')\n", "o.rmdir('d')\n") == [
        "run",
        "run",
        "seal",
    ]


def test_a_function_using_an_unsafe_name_taints_its_callers() -> None:
    decisions = decide(
        "default",
        "import os\n",
        "def cleanup(p):\n    os.remove(p)\n",
        "x = 1\n",
        "cleanup('f')\n",
    )
    assert decisions == ["run", "defer", "run", "seal"]


def test_paper_policy_seals_on_whole_modules() -> None:
    assert decide("paper", "import os\n") == ["seal"]
    assert decide("paper", "import json\n", "json.dumps(1)\n") == ["run", "run"]
    assert decide("paper", "from time import perf_counter\n") == ["seal"]
    assert decide("paper", "eval('1')\n") == ["seal"]


def test_off_runs_everything_at_once() -> None:
    assert decide("off", "import os\nos.remove('x')\n", "def f():\n    pass\n") == ["run", "run"]


def test_policy_can_be_extended() -> None:
    policy = POLICIES["default"].extend(unsafe=["mylib.upload*"], safe=["time.time"])
    assert decide(policy, "import mylib\nmylib.upload_file('x')\n") == ["seal"]
    assert decide(policy, "import time\nt = time.time()\n") == ["run"]
    assert decide(policy, "import time\ntime.sleep(1)\n") == ["seal"]


def test_unknown_policy_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown gate policy"):
        Gate("nope")


def test_comment_only_chunk_runs() -> None:
    assert decide("default", "# just a comment\n") == ["run"]


# -- IPython syntax, as CellSyntax rewrites it (get_ipython().system(...) and friends) --------

IPYTHON = [
    ("get_ipython().system('pip install x')\n", "seal", "system: process creation"),
    ("files = get_ipython().getoutput('ls')\n", "seal", "getoutput: process creation"),
    ("get_ipython().system_raw('ls')\n", "seal", "process creation"),
    ("get_ipython().run_cell('x = 1')\n", "seal", "run_cell: dynamic execution"),
    ("get_ipython().ex('x = 1')\n", "seal", "dynamic execution"),
    ("ip = get_ipython()\nip.system('ls')\n", "seal", "system: process creation"),
    ("if True:\n    get_ipython().system('echo inner')\n", "seal", "process creation"),
    ("get_ipython().run_line_magic('matplotlib', 'inline')\n", "run", "safe"),
    (
        "get_ipython().run_line_magic('config', \"InlineBackend.figure_format = 'svg'\")\n",
        "run",
        "",
    ),
    ("get_ipython().run_line_magic('precision', '3')\n", "run", ""),
    ("get_ipython().run_line_magic('pprint', '')\n", "run", ""),
    ("get_ipython().run_line_magic('xmode', 'Minimal')\n", "run", ""),
    ("get_ipython().run_line_magic('who', '')\n", "run", ""),
    ("get_ipython().run_line_magic('whos', '')\n", "run", ""),
    ("get_ipython().run_line_magic('pinfo', 'len')\n", "run", ""),
    ("get_ipython().run_line_magic('pinfo2', 'df.head')\n", "run", ""),
    ("get_ipython().run_line_magic('lsmagic', '')\n", "run", ""),
    ("get_ipython().run_line_magic('env', '')\n", "run", ""),
    ("get_ipython().run_line_magic('env', 'HOME')\n", "run", ""),
    ("get_ipython().run_line_magic('env', 'A=1')\n", "seal", "%env A=1: IPython magic"),
    ("get_ipython().run_line_magic('env', 'A 1')\n", "seal", "%env A 1"),
    ("get_ipython().run_line_magic('pip', 'install x')\n", "seal", "%pip install x: IPython"),
    ("get_ipython().run_line_magic('conda', 'install x')\n", "seal", "%conda"),
    ("get_ipython().run_line_magic('run', 'script.py')\n", "seal", "%run"),
    ("get_ipython().run_line_magic('load', 'script.py')\n", "seal", "%load"),
    ("get_ipython().run_line_magic('writefile', 'x.txt')\n", "seal", "%writefile"),
    ("get_ipython().run_line_magic('cd', '/tmp')\n", "seal", "%cd"),
    ("get_ipython().run_line_magic('sx', 'ls')\n", "seal", "%sx"),
    ("get_ipython().run_line_magic('system', 'ls')\n", "seal", "%system"),
    ("get_ipython().run_line_magic('ls', '')\n", "seal", "%ls"),
    ("x = get_ipython().run_line_magic('time', 'f()')\n", "seal", "%time f()"),
    ("get_ipython().run_line_magic('timeit', '-n1 f()')\n", "seal", "%timeit"),
    ("get_ipython().run_line_magic('load_ext', 'autoreload')\n", "seal", "%load_ext"),
    ("get_ipython().run_line_magic('%time', '')\n", "seal", "%%time"),  # a misplaced %%time
    ("get_ipython().run_line_magic(name, '')\n", "seal", "computed"),
    ("get_ipython().run_line_magic('matplotlib', f'{b}')\n", "seal", "computed"),
    ("get_ipython().run_cell_magic('capture', 'cap', \"print('hidden')\\n1\\n\")\n", "run", ""),
    (
        "get_ipython().run_cell_magic('capture', '', \"import os\\nos.remove('x')\\n\")\n",
        "seal",
        "%%capture body: os.remove",
    ),
    (
        "get_ipython().run_cell_magic('capture', '--no-stderr', '!pip install x\\n')\n",
        "seal",
        "%%capture body: get_ipython().system",
    ),
    (
        "get_ipython().run_cell_magic('capture', '', '%%capture inner\\n%matplotlib inline\\n')\n",
        "run",
        "",
    ),
    ("get_ipython().run_cell_magic('capture', '', '%%time\\nx = 1\\n')\n", "seal", "%%time"),
    ("get_ipython().run_cell_magic('capture', '', 'x = (\\n')\n", "run", ""),
    ("get_ipython().run_cell_magic('capture', '', body)\n", "seal", "computed body"),
    ("get_ipython().run_cell_magic('time', '', 'x = 1\\n')\n", "seal", "%%time: IPython magic"),
    ("get_ipython().run_cell_magic('bash', '', 'echo hi\\n')\n", "seal", "%%bash"),
    ("get_ipython().run_cell_magic('writefile', 'a.txt', 'hi\\n')\n", "seal", "%%writefile"),
    ("get_ipython().show_usage()\n", "run", ""),
    ("get_ipython().events.register('post_run_cell', f)\n", "run", ""),
]


@pytest.mark.parametrize(("code", "decision", "why"), IPYTHON)
def test_ipython_calls(code: str, decision: str, why: str) -> None:
    gate = Gate("default")
    got = gate.classify(Chunk(code, 0, 1, code.count("\n"), 0, len(code)))
    assert (got.decision, why in got.reason) == (decision, True), got.reason


def test_ipython_calls_under_the_other_policies() -> None:
    assert decide("paper", "get_ipython().system('ls')\n") == ["seal"]
    assert decide("paper", "get_ipython().run_line_magic('matplotlib', 'inline')\n") == ["run"]
    assert decide("off", "get_ipython().system('ls')\n") == ["run"]
    policy = POLICIES["default"].extend(safe_magics=["timeit"])
    assert decide(policy, "get_ipython().run_line_magic('timeit', 'f()')\n") == ["run"]
    assert decide(policy, "get_ipython().run_line_magic('time', 'f()')\n") == ["seal"]


def test_a_function_running_a_shell_command_taints_its_callers() -> None:
    decisions = decide("default", "def f():\n    get_ipython().system('ls')\n", "x = 1\n", "f()\n")
    assert decisions == ["defer", "run", "seal"]


def test_a_captured_body_binds_names_for_later_chunks() -> None:
    code = "get_ipython().run_cell_magic('capture', '', 'import os as o\\n')\n"
    assert decide("default", code, "o.remove('x')\n") == ["run", "seal"]


def test_a_streamed_notebook_cell_through_chunker_and_gate() -> None:
    pytest.importorskip("IPython")
    from eager import Chunker
    from eager._ipysyntax import CellSyntax

    cell = (
        "%matplotlib inline\nimport pandas as pd\nx = %time f()\n"
        "df = pd.DataFrame({'a': [1]})\n!pip install -q seaborn\nprint('done!')\n"
    )
    syntax, chunker, gate = CellSyntax(), Chunker(), Gate("default")
    chunks = []
    for i in range(0, len(cell), 4):
        chunks += chunker.feed(syntax.feed(cell[i : i + 4]))
    chunks += chunker.feed(syntax.end()) + chunker.close()
    decisions = [(c.code.split("(")[0], gate.classify(c).decision) for c in chunks]
    assert [d for _, d in decisions] == ["run", "run", "seal", "run", "seal", "run"]


def test_a_captured_body_with_ipython_syntax_seals_without_ipython(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sys

    for name in ("IPython", "IPython.core", "IPython.core.inputtransformer2"):
        monkeypatch.setitem(sys.modules, name, None)
    plain = "get_ipython().run_cell_magic('capture', '', 'x = 1\\n')\n"
    magic = "get_ipython().run_cell_magic('capture', '', '%matplotlib inline\\n')\n"
    assert decide("default", plain) == ["run"]  # plain Python needs no IPython to be read
    gate = Gate("default")
    got = gate.classify(Chunk(magic, 0, 1, 1, 0, len(magic)))
    assert got.decision == "seal"
    assert "without IPython" in got.reason
