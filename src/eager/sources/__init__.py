"""Sources: cancellable streams of text deltas from a model (the pluggable family of input).

``Source`` is the interface; ``ScriptedSource`` yields given deltas; ``ReplaySource`` streams a
recording at a token rate. Model protocols over httpx and SSE (``HTTPSource`` their base):
``OpenAISource`` (chat completions), ``OpenAIResponsesSource`` (Responses) and
``AnthropicSource`` (Messages); each keeps what the model said as a ``Turn`` of ``ToolCall``s.
``OpenAISDKSource`` wraps a stream of the ``openai`` SDK.
"""

from ._anthropic import AnthropicSource
from ._base import ScriptedSource, Source, ToolCall, Turn
from ._http import HTTPSource
from ._openai import OpenAISource
from ._openai_sdk import OpenAISDKSource
from ._replay import ReplaySource, tokenize
from ._responses import OpenAIResponsesSource

__all__ = [
    "AnthropicSource",
    "HTTPSource",
    "OpenAIResponsesSource",
    "OpenAISDKSource",
    "OpenAISource",
    "ReplaySource",
    "ScriptedSource",
    "Source",
    "ToolCall",
    "Turn",
    "tokenize",
]
