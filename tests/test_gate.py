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
