"""Sources: cancellable streams of text deltas from a model (the pluggable family of input).

``Source`` is the interface; ``ScriptedSource`` yields given deltas; ``ReplaySource`` streams a
recording at a token rate; ``OpenAISource`` reads an OpenAI-compatible endpoint over httpx and
SSE; ``OpenAISDKSource`` wraps a stream of the ``openai`` SDK.
"""

from ._base import ScriptedSource, Source, ToolCall, Turn
from ._openai import OpenAISource
from ._openai_sdk import OpenAISDKSource
from ._replay import ReplaySource, tokenize

__all__ = [
    "OpenAISDKSource",
    "OpenAISource",
    "ReplaySource",
    "ScriptedSource",
    "Source",
    "ToolCall",
    "Turn",
    "tokenize",
]
