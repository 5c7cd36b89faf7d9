"""A source over a message stream of the ``anthropic`` SDK (sync or async)."""

from __future__ import annotations

from typing import Any

from ._anthropic_events import parse_anthropic_object
from ._delta import Delta
from ._sdk import SDKSource

__all__ = ["AnthropicSDKSource"]


class AnthropicSDKSource(SDKSource):
    """Wraps a message stream of the ``anthropic`` SDK as a Source.

    ``stream`` is what ``client.messages.create(..., stream=True)`` returns, or the
    ``MessageStream`` a ``client.messages.stream(...)`` manager enters (its derived ``text`` /
    ``input_json`` events are skipped: the raw events carry the same). Sync streams are
    iterated in a thread, async ones in a task; :meth:`aclose` closes the stream, hence its
    connection. ``format``/``tool_name`` as in :class:`AnthropicSource`; stop reasons are
    reported as given (:attr:`finish_reason`, ``turn.stop_reason``); the stream must end with
    ``message_stop``. Needs the ``anthropic`` extra.
    """

    SDK = "anthropic"
    END_EVENT = "message_stop"

    def _decode(self, event: dict[str, Any]) -> Delta | None:
        return parse_anthropic_object(event)
