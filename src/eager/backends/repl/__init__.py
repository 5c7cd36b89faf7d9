"""The REPL backend: a persistent Python subprocess (backend, child session, output pipes, worker)."""

from ._backend import ReplBackend

__all__ = ["ReplBackend"]
