"""smolagents' tools as Eager tools: called from the session through the tool bridge.

A smolagents ``Tool`` (or a managed agent: anything with ``name``, ``description``,
``inputs`` and a call) becomes an :class:`eager.Tool` of the same name, a signature built from
its ``inputs`` (a ``nullable`` input defaults to None) and its description; calling it in the
session runs the smolagents tool in the host. Results travel as JSON values; any other value
arrives as its ``repr``. ``final_answer`` records its value in the host and ends the session's
program there (a clean ``SystemExit``, as ``sys.exit()`` ends a script).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Collection
from typing import Any

from .._tools import Codec, Tool

__all__ = ["FINAL_ANSWER", "SETUP_FINAL_ANSWER", "FinalAnswer", "json_or_repr", "tools_of"]

#: The name of smolagents' final answer tool.
FINAL_ANSWER = "final_answer"

#: Session code run once the stubs exist: ``final_answer`` accepts any value (one that is no
#: JSON value travels as its ``repr``); in a session in this process the objects are also kept
#: in ``__eager_final_args__`` so the host can take them as they are.
SETUP_FINAL_ANSWER = """\
def __eager_wrap_final_answer(stub):
    import functools, json
    def plain(value):
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            return repr(value)
        return value
    @functools.wraps(stub)
    def final_answer(*args, **kwargs):
        globals()["__eager_final_args__"] = (args, kwargs)
        return stub(*[plain(a) for a in args], **{k: plain(v) for k, v in kwargs.items()})
    final_answer.__eager_final__ = True
    return final_answer
if not getattr(final_answer, "__eager_final__", False):
    final_answer = __eager_wrap_final_answer(final_answer)
del __eager_wrap_final_answer
"""

#: The stub's decoder: instead of returning, the session's program ends cleanly (a
#: ``SystemExit`` with no status, which the runtime counts as a successful end). A generator's
#: ``throw`` is how an expression raises.
_END_PROGRAM = "lambda _: (_ for _ in ()).throw(SystemExit())"


def json_or_repr(value: Any) -> Any:
    """``value`` when it is a JSON value, else its ``repr``."""
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
    return value


def _signature(inputs: dict[str, Any]) -> inspect.Signature:
    """Parameters from smolagents ``inputs``: required ones first in order, ``nullable`` ones
    default to None; a required input after an optional one becomes keyword-only."""
    params: list[inspect.Parameter] = []
    kind: inspect._ParameterKind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    for name, spec in inputs.items():
        optional = isinstance(spec, dict) and bool(spec.get("nullable"))
        if not optional and any(p.default is not inspect.Parameter.empty for p in params):
            kind = inspect.Parameter.KEYWORD_ONLY
        default = None if optional else inspect.Parameter.empty
        params.append(inspect.Parameter(name, kind, default=default))
    return inspect.Signature(params)


def _description(tool: Any) -> str:
    lines = [str(getattr(tool, "description", "") or "").strip()]
    inputs = getattr(tool, "inputs", None) or {}
    if inputs:
        lines += ["", "Args:"]
        for name, spec in inputs.items():
            kind = spec.get("type", "any") if isinstance(spec, dict) else "any"
            text = spec.get("description", "") if isinstance(spec, dict) else ""
            lines.append(f"    {name} ({kind}): {text}")
    return "\n".join(lines).strip()


class FinalAnswer:
    """The host's end of ``final_answer``: the value of the last call (``answered``).

    ``objects``: where the session's own objects can be read (an in-process session's
    namespace), so the answer is the object rather than its JSON form.
    """

    def __init__(self, tool: Callable[..., Any], objects: dict[str, Any] | None = None) -> None:
        self.tool = tool
        self.objects = objects
        self.answered = False
        self.value: Any = None

    def clear(self) -> None:
        """A new step: no answer yet."""
        self.answered, self.value = False, None

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        kept = self.objects.pop("__eager_final_args__", None) if self.objects is not None else None
        if kept is not None:
            args, kwargs = kept
        value = self.tool(*args, **kwargs)
        self.value = value if self.objects is not None else json_or_repr(value)
        self.answered = True


def tools_of(
    tools: dict[str, Any],
    final: FinalAnswer | None,
    *,
    read_only: Collection[str] = (),
    timeout_s: float | None = None,
) -> list[Tool]:
    """Eager tools for smolagents tools (by name); ``final_answer`` calls ``final`` and always
    acts (named in ``read_only`` or not)."""
    out: list[Tool] = []
    for name, tool in tools.items():
        signature = _signature(dict(getattr(tool, "inputs", None) or {}))
        only_reads = name in read_only
        if name == FINAL_ANSWER and final is not None:
            fn: Callable[..., Any] = final
            codec: Codec | None = Codec(encode=lambda _: None, decode=_END_PROGRAM)
            only_reads = False  # never speculated: a call not taken would still record
        else:
            fn, codec = _caller(tool, signature), None
        out.append(
            Tool(
                fn,
                name=name,
                read_only=only_reads,
                description=_description(tool),
                timeout_s=timeout_s,
                codec=codec,
                signature=signature,
            )
        )
    return out


def _caller(tool: Any, signature: inspect.Signature) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()  # a nullable input left out is None, as smolagents passes it
        return json_or_repr(tool(*bound.args, **bound.kwargs))

    return call
