"""Sources: cancellable streams of text deltas from a model (the pluggable family of input).

``Source`` is the interface; ``ScriptedSource`` yields given deltas; ``ReplaySource`` streams a
recording at a token rate. Model protocols over httpx and SSE (``HTTPSource`` their base):
``OpenAISource`` (chat completions), ``OpenAIResponsesSource`` (Responses) and
``AnthropicSource`` (Messages); each keeps what the model said as a ``Turn`` of ``ToolCall``s.
``SDKSource`` is the base of the official SDK wrappers: ``OpenAISDKSource`` (chat),
``OpenAIResponsesSDKSource`` and ``AnthropicSDKSource``. For streams Eager does not read
itself: ``PushSource`` (the caller feeds deltas) and ``IteratorSource`` (any async iterable).
"""

from ._adapters import IteratorSource, PushSource
from ._anthropic import AnthropicSource
from ._anthropic_sdk import AnthropicSDKSource
from ._base import ScriptedSource, Source, ToolCall, Turn, TurnBlock
from ._http import HTTPSource
from ._openai import OpenAISource
from ._openai_sdk import OpenAIResponsesSDKSource, OpenAISDKSource
from ._replay import ReplaySource, tokenize
from ._responses import OpenAIResponsesSource
from ._sdk import SDKSource

__all__ = [
    "AnthropicSDKSource",
    "AnthropicSource",
    "HTTPSource",
    "IteratorSource",
    "OpenAIResponsesSDKSource",
    "OpenAIResponsesSource",
    "OpenAISDKSource",
    "OpenAISource",
    "PushSource",
    "ReplaySource",
    "SDKSource",
    "ScriptedSource",
    "Source",
    "ToolCall",
    "Turn",
    "TurnBlock",
    "tokenize",
]
