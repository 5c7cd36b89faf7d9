"""Fault injection of the replay server: the ``@fault,...`` spec, its header, and its counters.

A model suffix ``NAME@fault,fault`` or a header ``X-Eager-Fault: fault,...`` makes one request
misbehave, in every protocol:

* ``status=CODE`` (every request) / ``status=CODExN`` (the first N requests, then OK) and
  ``retry-after=S`` (its ``Retry-After`` header);
* ``non-sse``: 200 with an HTML body; ``stall-headers``: never answer;
* after ``N`` tokens: ``bad-json=N`` (a malformed event), ``drop=N`` (connection cut),
  ``no-done=N`` (clean end without the protocol's last event: ``[DONE]``,
  ``response.completed``, ``message_stop``; ``no-done`` alone: after all tokens),
  ``stall=N`` (stop sending, keep the connection), ``error-event=N`` (the protocol's error event);
* ``length=N``: the answer ends cleanly after N tokens with the protocol's token-limit stop
  (chat ``finish_reason: "length"``, Anthropic ``stop_reason: "max_tokens"``, Responses
  ``response.incomplete`` with reason ``max_output_tokens``);
* ``stop-reason=WORD``: the answer ends with the stop reason WORD (chat ``finish_reason``,
  Anthropic ``stop_reason``, Responses ``response.incomplete`` with that reason), e.g. an
  unknown one.

The server ignores the request's own token limit (``max_tokens``...): only ``length`` cuts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .._errors import UsageError

__all__ = ["FAULT_HEADER", "Fault", "StatusCounter", "parse_faults"]

#: Header that asks the server to misbehave (see the module doc).
FAULT_HEADER = "x-eager-fault"
#: Faults that act after a number of tokens, in the order they are checked.
AFTER_TOKENS = ("bad_json", "drop", "no_done", "stall", "error_event")
_ALWAYS = 1 << 62  # "after all tokens"


@dataclass(frozen=True, slots=True)
class Fault:
    """Parsed misbehaviour of one request (see the module doc); None fields are off."""

    status: int | None = None
    status_times: int | None = None
    retry_after_s: float | None = None
    non_sse: bool = False
    stall_headers: bool = False
    bad_json: int | None = None
    drop: int | None = None
    no_done: int | None = None
    stall: int | None = None
    error_event: int | None = None
    length: int | None = None
    stop_reason: str | None = None

    def schedule(self, n_tokens: int) -> dict[int, str]:
        """Token index -> the fault that acts before it, for an answer of ``n_tokens``
        (``n_tokens``: the end); the first in :data:`AFTER_TOKENS` order wins a tie."""
        out: dict[int, str] = {}
        for name in AFTER_TOKENS:
            if (n := getattr(self, name)) is not None:
                out.setdefault(min(n, n_tokens), name)
        return out

    def due(self, i: int, n_tokens: int) -> str | None:
        """The fault that acts before token ``i`` of ``n_tokens`` (``i == n_tokens``: the end)."""
        return self.schedule(n_tokens).get(i)


def parse_faults(spec: str) -> Fault:
    """``"status=429x2,retry-after=0"`` → :class:`Fault` (:class:`~eager.UsageError` if bad)."""
    fields: dict[str, Any] = {}
    for item in filter(None, (p.strip() for p in spec.split(","))):
        name, _, value = item.partition("=")
        key = name.strip().lower().replace("-", "_")
        try:
            if key == "status":
                code, _, times = value.partition("x")
                fields["status"] = int(code)
                fields["status_times"] = int(times) if times else None
            elif key == "retry_after":
                fields["retry_after_s"] = float(value)
            elif key == "length":
                fields["length"] = int(value)
            elif key == "stop_reason":
                if not value:
                    raise ValueError("stop-reason needs a value")
                fields["stop_reason"] = value
            elif key in ("non_sse", "stall_headers"):
                fields[key] = True
            elif key in AFTER_TOKENS:
                fields[key] = int(value) if value else _ALWAYS
            else:
                raise UsageError(f"unknown fault {name!r}")
        except ValueError as exc:
            raise UsageError(f"bad fault {item!r}: {exc}") from exc
    return Fault(**fields)


class StatusCounter:
    """Counts ``status=CODExN`` requests per (model, spec) so only the first N fail."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str], int] = {}

    def fails(self, model: str, spec: str, fault: Fault) -> bool:
        """Whether this request gets the injected status (counts it)."""
        if fault.status is None:
            return False
        key = (model, spec)
        self._counts[key] = n = self._counts.get(key, 0) + 1
        return fault.status_times is None or n <= fault.status_times
