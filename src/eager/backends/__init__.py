"""Backends: persistent sessions that run the chunks (the one pluggable family of execution).

``Backend`` is the interface (``start``/``execute``/``interrupt``/``reset``/``close``, an async
context manager). Implementations: ``repl/`` a persistent Python subprocess; ``jupyter/`` a
local Jupyter kernel and a Kernel Gateway client (with a local gateway launcher); ``FakeBackend``
runs code in-process and records every call, for tests (``hold=True`` pauses each execution
until the test releases it). All of them run the program through one interpreter
(``_interpreter.py``, also what shows notebook cells as IPython does) and report output, errors and timeouts alike (``_report.py``). ``SandboxPolicy``
isolates a session (bubblewrap); every session starts with a scrubbed environment (``scrub_env``).
``RayBackend`` holds a REPL session in a Ray actor. ``SessionPool`` keeps warm sessions of any
backend ready for checkout.
"""

from ._base import Backend, CellStep
from ._env import scrub_env
from ._fake import FakeBackend, FakeCall
from ._pool import SessionPool
from ._pool_config import PoolConfig, PoolStats, ReturnPolicy
from ._ray import RayBackend
from ._sandbox import SandboxPolicy
from .jupyter import GatewayBackend, JupyterBackend, LocalGateway
from .repl import ReplBackend

__all__ = [
    "Backend",
    "CellStep",
    "FakeBackend",
    "FakeCall",
    "GatewayBackend",
    "JupyterBackend",
    "LocalGateway",
    "PoolConfig",
    "PoolStats",
    "RayBackend",
    "ReplBackend",
    "ReturnPolicy",
    "SandboxPolicy",
    "SessionPool",
    "scrub_env",
]
