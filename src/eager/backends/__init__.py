"""Backends: persistent sessions that run the chunks (the one pluggable family of execution).

``Backend`` is the interface (``start``/``execute``/``interrupt``/``reset``/``close``, an async
context manager). Implementations: ``repl/`` a persistent Python subprocess; ``jupyter/`` a
local Jupyter kernel and a Kernel Gateway client (with a local gateway launcher); ``FakeBackend``
runs code in-process and records every call, for tests; ``RayBackend`` holds a REPL session in a
Ray actor. ``SessionPool`` keeps warm sessions of any backend ready for checkout.
"""

from ._base import Backend
from ._fake import FakeBackend, FakeCall
from ._pool import SessionPool
from ._pool_config import PoolConfig, PoolStats, ReturnPolicy
from ._ray import RayBackend
from .jupyter import GatewayBackend, JupyterBackend, LocalGateway
from .repl import ReplBackend

__all__ = [
    "Backend",
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
    "SessionPool",
]
