"""The pure half of the MCP integration: protocol JSON in; names, signatures, values out.

No SDK, no I/O: a tool's ``inputSchema`` becomes an :class:`inspect.Signature`, the server's
tool names Python identifiers, a ``tools/call`` result a JSON value or :class:`McpToolError`.
Everything works on the JSON on the wire, so it does not depend on the ``mcp`` SDK's version.
"""

from __future__ import annotations

import builtins
import functools
import inspect
import keyword
import operator
import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal

__all__ = [
    "McpToolError",
    "describe",
    "is_wrapped",
    "result_value",
    "signature_from_schema",
    "tool_names",
]

#: Depth bound on following ``$ref`` in a schema (a recursive model stops at ``dict``).
_MAX_REF_DEPTH = 8

_JSON_TYPES: dict[str, Any] = {
    "string": str,
    "integer": int,
    "number": float,
    "boolean": bool,
    "null": None,
    "object": dict,
    "array": list,
}
_EMPTY = inspect.Parameter.empty
_POSITIONAL = inspect.Parameter.POSITIONAL_OR_KEYWORD


class McpToolError(Exception):
    """An MCP tool's call failed; the message is the server's (``tool``: the server's name)."""

    def __init__(self, tool: str, message: str) -> None:
        super().__init__(message)
        self.tool = tool
        self.message = message


def tool_names(names: Iterable[str]) -> list[str]:
    """Python names for tools, in order: public identifiers, unique, no keyword or builtin.

    ``"get-weather"`` becomes ``get_weather``, ``"2fa"`` ``tool_2fa``, ``"list"`` ``list_``;
    names that are already fit keep them before a sanitised one may, and a collision gets
    ``_2``, ``_3``, ...
    """
    names = list(names)
    wanted = [_identifier(n, public=True) for n in names]
    fit = [w == n for w, n in zip(wanted, names, strict=True)]
    out: list[str | None] = [None] * len(names)
    taken: set[str] = set()
    for first in (True, False):  # names already fit go first, so they stay as the server has them
        for i, w in enumerate(wanted):
            if fit[i] == first:
                out[i] = _unique(w, taken)
    return [n for n in out if n is not None]


def signature_from_schema(
    schema: Mapping[str, Any],
    *,
    output_schema: Mapping[str, Any] | None = None,
) -> tuple[inspect.Signature, dict[str, str]]:
    """A Python signature for a tool's JSON ``inputSchema``, and its parameters' wire names.

    Properties keep the schema's order. A required one has no default; an optional one has its
    schema ``default``, else None (an argument not passed is not sent, so the server applies
    its own default). A required property after an optional one, and every one after it,
    is keyword-only, which keeps the order valid. Names are made identifiers (``from`` ->
    ``from_``); the dict maps each parameter name to the property it sends. Annotations come
    from the JSON types; the return annotation from ``output_schema`` (unwrapped as
    :func:`result_value` unwraps it).
    """
    props = schema.get("properties") or {}
    required = set(schema.get("required") or ())
    keys = [str(k) for k in props]
    wire: dict[str, str] = {}
    params: list[inspect.Parameter] = []
    taken: set[str] = set()
    keyword_only = seen_optional = False
    for key in keys:
        prop = props[key] if isinstance(props[key], Mapping) else {}
        name = _unique(_identifier(key, public=False), taken)
        wire[name] = key
        if key in required:
            default: Any = _EMPTY
            keyword_only = keyword_only or seen_optional
        else:
            default = prop.get("default")
            seen_optional = True
        params.append(
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY if keyword_only else _POSITIONAL,
                default=default,
                annotation=_annotation(prop, schema),
            )
        )
    returns: Any = _EMPTY
    if output_schema:
        inner = output_schema
        if is_wrapped(output_schema):
            inner = output_schema["properties"]["result"]
        returns = _annotation(inner, output_schema)
    return inspect.Signature(params, return_annotation=returns), wire


def result_value(tool: str, result: Mapping[str, Any], *, wrapped: bool = False) -> Any:
    """The JSON value of a ``tools/call`` result (protocol JSON), or :class:`McpToolError`.

    ``structuredContent`` when present (``wrapped``: the SDK's ``{"result": value}`` for a
    tool returning no object, unwrapped); else the content: a text item is its string, an
    image or audio item ``{"type", "mimeType", "data"}``, any other item its JSON; one item is
    the value, several a list, none None.
    """
    content = [_content_value(item) for item in result.get("content") or ()]
    if result.get("isError"):
        texts = [c for c in content if isinstance(c, str)]
        raise McpToolError(tool, "\n".join(texts) or f"the MCP tool {tool!r} failed")
    structured = result.get("structuredContent")
    if structured is not None:
        if wrapped and isinstance(structured, dict) and set(structured) == {"result"}:
            return structured["result"]
        return structured
    if not content:
        return None
    return content[0] if len(content) == 1 else content


def _content_value(item: Mapping[str, Any]) -> Any:
    kind = item.get("type")
    if kind == "text":
        return item.get("text", "")
    if "data" in item:
        return {"type": kind, "mimeType": item.get("mimeType"), "data": item["data"]}
    return dict(item)


def is_wrapped(output_schema: Mapping[str, Any] | None) -> bool:
    """Whether a tool's output is the SDK's wrapper ``{"result": value}`` (its exact shape).

    The SDK's servers wrap a return value that is no object in a model titled
    ``<function>Output`` with the one required property ``result``.
    """
    if not output_schema:
        return False
    props = output_schema.get("properties") or {}
    return (
        set(props) == {"result"}
        and list(output_schema.get("required") or ()) == ["result"]
        and str(output_schema.get("title", "")).endswith("Output")
    )


def describe(spec: Mapping[str, Any], wire: Mapping[str, str]) -> str:
    """The tool's description, then its parameters' descriptions (Google style ``Args:``)."""
    text = str(spec.get("description") or spec.get("title") or "").strip()
    props = (spec.get("inputSchema") or {}).get("properties") or {}
    args = []
    for name, key in wire.items():
        prop = props.get(key)
        about = prop.get("description") if isinstance(prop, Mapping) else None
        if about:
            args.append(f"    {name}: {' '.join(str(about).split())}")
    if args:
        text = "\n\n".join(p for p in (text, "Args:\n" + "\n".join(args)) if p)
    return text


def _identifier(name: str, *, public: bool) -> str:
    """``name`` made a valid (``public``: not starting with ``_``, no builtin) identifier."""
    ident = re.sub(r"\W", "_", name, flags=re.ASCII)
    if public:
        ident = ident.lstrip("_")
    if not ident:
        ident = "tool" if public else "arg"
    if ident[0].isdigit():
        ident = ("tool_" if public else "arg_") + ident
    if keyword.iskeyword(ident) or (public and hasattr(builtins, ident)):
        ident += "_"
    return ident


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name}_{n}"
    taken.add(candidate)
    return candidate


def _annotation(schema: Any, root: Mapping[str, Any], depth: int = 0) -> Any:
    """A Python annotation for a JSON schema (``list[str]``, ``int | None``); empty if unknown."""
    if not isinstance(schema, Mapping) or depth > _MAX_REF_DEPTH:
        return _EMPTY
    ref = schema.get("$ref")
    if isinstance(ref, str):
        target = _resolve(ref, root)
        return dict if target is None else _annotation(target, root, depth + 1)
    if "enum" in schema and isinstance(schema["enum"], list) and schema["enum"]:
        values = tuple(v for v in schema["enum"] if isinstance(v, str | int | bool) or v is None)
        if len(values) == len(schema["enum"]):
            return Literal[values]
    kind = schema.get("type")
    if isinstance(kind, list):
        return _union([_annotation({**schema, "type": k}, root, depth) for k in kind])
    if kind == "array":
        item = _annotation(schema.get("items"), root, depth + 1)
        return list if item is _EMPTY else list[item]  # type: ignore[valid-type]
    if kind == "object":
        extra = _annotation(schema.get("additionalProperties"), root, depth + 1)
        return dict if extra is _EMPTY or schema.get("properties") else dict[str, extra]  # type: ignore[valid-type]
    if isinstance(kind, str) and kind in _JSON_TYPES:
        return _JSON_TYPES[kind]
    for key in ("anyOf", "oneOf"):
        members = schema.get(key)
        if isinstance(members, list) and members:
            return _union([_annotation(m, root, depth + 1) for m in members])
    return _EMPTY


def _union(members: list[Any]) -> Any:
    if not members or any(m is _EMPTY for m in members):
        return _EMPTY
    unique: list[Any] = []
    for m in members:
        if m not in unique:
            unique.append(m)
    try:
        return functools.reduce(operator.or_, unique)
    except TypeError:  # a member | cannot combine (None alone, say)
        return unique[0] if len(unique) == 1 else _EMPTY


def _resolve(ref: str, root: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """A local ``#/$defs/Name`` reference's schema, else None."""
    if not ref.startswith("#/"):
        return None
    node: Any = root
    for part in ref[2:].split("/"):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node if isinstance(node, Mapping) else None
