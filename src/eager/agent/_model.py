"""The model side of an agent: one streamed answer per turn, from a conversation.

:class:`Model` is the interface: ``open(messages, system=...)`` returns a fresh
:class:`~eager.Source` streaming the next assistant turn (its code: fenced blocks of the text
with ``code="fence"``, the JSON arguments of the first code tool call with ``code="tool"``).
:class:`ScriptedModel` answers from given turns (tests, offline examples); :class:`EndpointModel`
calls an HTTP endpoint in one of the :data:`~eager.agent.Protocol` s.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any, Literal

from .._errors import UsageError
from .._extract import Format
from ..sources._base import Source, ToolCall, Turn
from ..sources._replay import tokenize
from ._encode import PROTOCOLS, Protocol, encode, tool_spec
from ._history import AssistantMessage, Message

__all__ = ["CodeStyle", "EndpointModel", "Model", "ScriptedModel"]

#: How a model carries code: ``"fence"`` markdown fences in its text, ``"tool"`` code tool calls.
CodeStyle = Literal["fence", "tool"]


class Model(abc.ABC):
    """Opens one streamed assistant turn per call (a model client for an agent).

    ``protocol`` names how the conversation is encoded; ``code`` how the model carries code;
    ``tool_name`` / ``tool_argument`` name the code tool and its string argument; ``images``:
    send the images of observations as image parts (False for a model that takes text only:
    the observation's text names them), at most ``max_images`` per request (the most recent).
    """

    protocol: Protocol = "chat"
    code: CodeStyle = "fence"
    tool_name: str = "python"
    tool_argument: str = "code"
    images: bool = True
    max_images: int | None = 50

    def __init__(
        self,
        *,
        code: CodeStyle = "fence",
        protocol: Protocol = "chat",
        tool_name: str = "python",
        tool_argument: str = "code",
        images: bool = True,
        max_images: int | None = 50,
    ) -> None:
        if protocol not in PROTOCOLS:
            raise UsageError(f"protocol must be one of {', '.join(PROTOCOLS)}, not {protocol!r}")
        if code not in ("fence", "tool"):
            raise UsageError(f"code must be 'fence' or 'tool', not {code!r}")
        self.code = code
        self.protocol = protocol
        self.tool_name = tool_name
        self.tool_argument = tool_argument
        self.images = images
        self.max_images = max_images

    @abc.abstractmethod
    def open(self, messages: Sequence[Message], *, system: str | None = None) -> Source:
        """A fresh source streaming the model's answer to ``messages``.

        Its ``format`` is ``"chat"`` (``code="fence"``) or ``"tool"``; its ``turn``, when not
        None, says what the model said so far (text and every tool call).
        """


class _ScriptedTurn(Source):
    """Streams one scripted turn token by token; ``turn`` is what was streamed so far."""

    def __init__(self, turn: Turn, *, code: CodeStyle, argument: str, delay_s: float) -> None:
        super().__init__()
        self.format = "tool" if code == "tool" else "chat"
        self.tool_argument = argument
        self._turn = turn
        self._delay_s = delay_s
        self._streamed = ""
        self._complete = False
        first = turn.tool_calls[0].arguments if turn.tool_calls else ""
        self._tokens = tokenize(first if code == "tool" else turn.text)
        self.tokens_total = len(self._tokens)

    @property
    def turn(self) -> Turn:
        t = self._turn
        if self._complete:
            return t
        if self.format == "chat":
            return Turn(text=self._streamed)
        if not t.tool_calls:
            return Turn(text=t.text)
        first = t.tool_calls[0]
        cut = ToolCall(first.id, first.name, self._streamed, first.kind)
        return Turn(text=t.text, tool_calls=(cut,))

    async def stream(self) -> AsyncIterator[str]:
        for token in self._tokens:
            if self.cancelled:
                return
            await asyncio.sleep(self._delay_s)
            self._streamed += token
            self.tokens_generated += 1
            yield token
        self._complete = not self.cancelled


class ScriptedModel(Model):
    """Answers turn k of a conversation with ``turns[k]`` (a fake model for tests and demos).

    A turn is a string (a chat answer: prose and fenced code) or a :class:`~eager.Turn` (with
    ``code="tool"``, its first tool call's JSON arguments stream; later calls and the text come
    with the turn). Tokens are cut as :func:`~eager.tokenize` cuts them, ``delay_s`` apart.
    Every request's messages are kept in ``requests``.
    """

    def __init__(
        self,
        turns: Sequence[str | Turn],
        *,
        code: CodeStyle = "fence",
        protocol: Protocol = "chat",
        tool_name: str = "python",
        tool_argument: str = "code",
        delay_s: float = 0.0,
        images: bool = True,
        max_images: int | None = 50,
    ) -> None:
        super().__init__(
            code=code,
            protocol=protocol,
            tool_name=tool_name,
            tool_argument=tool_argument,
            images=images,
            max_images=max_images,
        )
        self.turns = [t if isinstance(t, Turn) else Turn(text=t) for t in turns]
        self.delay_s = delay_s
        #: The encoded request of every :meth:`open`, in order.
        self.requests: list[dict[str, Any]] = []

    def open(self, messages: Sequence[Message], *, system: str | None = None) -> Source:
        """The turn answering ``messages`` (its index: the assistant turns already in it)."""
        k = sum(isinstance(m, AssistantMessage) for m in messages)
        if k >= len(self.turns):
            raise UsageError(f"the scripted model has {len(self.turns)} turns; turn {k + 1} asked")
        self.requests.append(
            encode(
                self.protocol,
                messages,
                system=system,
                images=self.images,
                max_images=self.max_images,
            )
        )
        return _ScriptedTurn(
            self.turns[k], code=self.code, argument=self.tool_argument, delay_s=self.delay_s
        )


class EndpointModel(Model):
    """A model behind an HTTP endpoint: OpenAI chat, OpenAI Responses or Anthropic Messages.

    ``code="tool"`` declares the code tool ``tool_name`` (``tool_choice`` auto: an answer
    without a call ends the loop); ``source_options`` go to the source's constructor
    (``api_key``, ``max_tokens``, timeouts, ``http_client``, ...).
    """

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        protocol: Protocol = "chat",
        code: CodeStyle = "fence",
        tool_name: str = "python",
        tool_argument: str = "code",
        source_options: dict[str, Any] | None = None,
        images: bool = True,
        max_images: int | None = 50,
    ) -> None:
        super().__init__(
            code=code,
            protocol=protocol,
            tool_name=tool_name,
            tool_argument=tool_argument,
            images=images,
            max_images=max_images,
        )
        self.base_url = base_url
        self.model = model
        self.source_options = dict(source_options or {})

    def open(self, messages: Sequence[Message], *, system: str | None = None) -> Source:
        """A source for the next turn, in this model's protocol."""
        from ..sources import AnthropicSource, OpenAIResponsesSource, OpenAISource

        body = encode(
            self.protocol, messages, system=system, images=self.images, max_images=self.max_images
        )
        if self.protocol == "responses":
            body = {"input": body["input"], "system": body.get("instructions")}
        fmt: Format = "tool" if self.code == "tool" else "chat"
        tools = [tool_spec(self.protocol, self.tool_name, self.tool_argument)]
        cls = {
            "chat": OpenAISource,
            "responses": OpenAIResponsesSource,
            "anthropic": AnthropicSource,
        }[self.protocol]
        source: Source = cls(
            base_url=self.base_url,
            model=self.model,
            format=fmt,
            tool_name=self.tool_name,
            tool_argument=self.tool_argument,
            tools=tools if self.code == "tool" else None,
            **body,
            **self.source_options,
        )
        return source
