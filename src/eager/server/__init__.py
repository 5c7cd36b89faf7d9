"""The replay server: recorded answers served as a model endpoint, with fault injection."""

from ._answers import Answer
from ._app import ReplayServer

__all__ = ["Answer", "ReplayServer"]
