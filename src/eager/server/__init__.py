"""The replay server: recorded conversations served as a model endpoint, with fault injection.

Three protocols (OpenAI Chat Completions and Responses, Anthropic Messages), multi-turn
recordings, token pacing and faults. ``_answers`` holds the recording format, ``_trajectories``
the DABench ReAct trajectory loader, ``_app`` the routes, ``_stream`` the streaming response,
``_faults`` and ``_schedule`` the pure parts, and one module per wire protocol.
"""

from ._answers import Answer, Recording, load_recordings
from ._server import ReplayServer
from ._trajectories import load_trajectories

__all__ = [
    "Answer",
    "Recording",
    "ReplayServer",
    "load_recordings",
    "load_trajectories",
]
