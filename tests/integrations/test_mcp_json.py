"""The pure MCP mappings: JSON schema -> signature, server names -> Python names, result -> value."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from eager.integrations._mcp_json import (
    McpToolError,
    result_value,
    signature_from_schema,
    tool_names,
)


def obj(props: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": list(required)}


S = {"type": "string"}
I = {"type": "integer"}  # noqa: E741


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        (obj({}), "()"),
        ({"type": "object"}, "()"),
        (obj({"q": S, "n": {**I, "default": 3}}, ("q",)), "(q: str, n: int = 3)"),
        # optional without a default: None (not sent unless passed)
        (obj({"q": S, "tag": S}, ("q",)), "(q: str, tag: str = None)"),
        # a required property after an optional one: keyword-only from there on
        (
            obj({"a": {**I, "default": 0}, "b": I, "c": S}, ("b", "c")),
            "(a: int = 0, *, b: int, c: str)",
        ),
        (
            obj({"a": {**I, "default": 0}, "b": I, "c": S}, ("b",)),
            "(a: int = 0, *, b: int, c: str = None)",
        ),
        # names made identifiers; keywords get a trailing underscore; collisions a suffix
        (
            obj({"from": S, "user-id": I, "user_id": I}, ("from",)),
            "(from_: str, user_id: int = None, user_id_2: int = None)",
        ),
        (obj({"2x": S}, ("2x",)), "(arg_2x: str)"),
        # types: arrays, unions with null, numbers, booleans, enums, objects, unknown
        (obj({"xs": {"type": "array", "items": S}}, ("xs",)), "(xs: list[str])"),
        (obj({"xs": {"type": "array"}}, ("xs",)), "(xs: list)"),
        (obj({"x": {"anyOf": [I, {"type": "null"}], "default": None}}), "(x: int | None = None)"),
        (obj({"x": {"type": ["number", "boolean"]}}, ("x",)), "(x: float | bool)"),
        (obj({"m": {"enum": ["a", "b"]}}, ("m",)), "(m: Literal['a', 'b'])"),
        (obj({"d": {"type": "object", "additionalProperties": I}}, ("d",)), "(d: dict[str, int])"),
        (obj({"d": {"type": "object"}}, ("d",)), "(d: dict)"),
        (obj({"z": {}}, ("z",)), "(z)"),
        # local references (pydantic's $defs)
        (
            {**obj({"p": {"$ref": "#/$defs/P"}}, ("p",)), "$defs": {"P": obj({"x": I})}},
            "(p: dict)",
        ),
        (
            {**obj({"k": {"$ref": "#/$defs/K"}}, ("k",)), "$defs": {"K": {"enum": [1, 2]}}},
            "(k: Literal[1, 2])",
        ),
        (obj({"k": {"$ref": "#/$defs/Missing"}}, ("k",)), "(k: dict)"),
    ],
)
def test_a_schema_becomes_a_signature(schema: dict[str, Any], expected: str) -> None:
    signature, wire = signature_from_schema(schema)
    assert str(signature) == expected
    assert list(wire.values()) == list(schema.get("properties", {}))  # every property, in order


def test_parameters_send_the_properties_wire_names() -> None:
    signature, wire = signature_from_schema(obj({"from": S, "user-id": I}, ("from",)))
    bound = signature.bind("ann", user_id=3)
    assert {wire[k]: v for k, v in bound.arguments.items()} == {"from": "ann", "user-id": 3}
    with pytest.raises(TypeError):
        signature.bind("ann", cc="bob")


def test_the_return_annotation_comes_from_the_output_schema() -> None:
    wrapped = {**obj({"result": {"type": "array", "items": S}}, ("result",)), "title": "fOutput"}
    sig, _ = signature_from_schema(obj({}), output_schema=wrapped)
    assert sig.return_annotation == list[str]
    plain = {**obj({"city": S}, ("city",)), "title": "Weather"}
    sig, _ = signature_from_schema(obj({}), output_schema=plain)
    assert sig.return_annotation is dict
    sig, _ = signature_from_schema(obj({}))
    assert sig.return_annotation is inspect.Signature.empty


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["search", "send"], ["search", "send"]),
        (["get-weather", "2fa", "__x", "", "a.b"], ["get_weather", "tool_2fa", "x", "tool", "a_b"]),
        # keywords and builtins would break or shadow Python in the session
        (["class", "list", "print", "open"], ["class_", "list_", "print_", "open_"]),
        # a name already fit keeps it; the sanitised one that collides gets a suffix
        (["a-b", "a_b"], ["a_b_2", "a_b"]),
        (["x", "x", "x"], ["x", "x_2", "x_3"]),
        (["x_2", "x", "x"], ["x_2", "x", "x_3"]),
    ],
)
def test_tool_names_are_public_unique_identifiers(names: list[str], expected: list[str]) -> None:
    assert tool_names(names) == expected
    assert all(n.isidentifier() and not n.startswith("_") for n in expected)


def text(t: str) -> dict[str, Any]:
    return {"type": "text", "text": t}


IMAGE = {"type": "image", "mimeType": "image/png", "data": "iVBORw0KGgo=", "annotations": {}}


@pytest.mark.parametrize(
    ("result", "wrapped", "expected"),
    [
        ({"content": [text("hi")]}, False, "hi"),
        ({"content": [text("a"), text("b")]}, False, ["a", "b"]),
        ({"content": []}, False, None),
        (
            {"content": [IMAGE]},
            False,
            {"type": "image", "mimeType": "image/png", "data": "iVBORw0KGgo="},
        ),
        (
            {"content": [text("see"), {"type": "resource_link", "uri": "file:///a", "name": "a"}]},
            False,
            ["see", {"type": "resource_link", "uri": "file:///a", "name": "a"}],
        ),
        # structured content wins over the text
        ({"content": [text("{...}")], "structuredContent": {"a": 1}}, False, {"a": 1}),
        ({"content": [text("1")], "structuredContent": {"result": [1]}}, True, [1]),
        ({"content": [text("1")], "structuredContent": {"result": [1]}}, False, {"result": [1]}),
        (
            {"content": [], "structuredContent": {"result": 1, "more": 2}},
            True,
            {"result": 1, "more": 2},
        ),
        ({"content": [text("ok")], "isError": False}, False, "ok"),
    ],
)
def test_a_result_becomes_a_json_value(
    result: dict[str, Any], wrapped: bool, expected: Any
) -> None:
    assert result_value("t", result, wrapped=wrapped) == expected


def test_an_error_result_raises_with_the_servers_message() -> None:
    with pytest.raises(McpToolError, match=r"^quota exceeded\nretry later$") as caught:
        result_value(
            "fetch", {"content": [text("quota exceeded"), text("retry later")], "isError": True}
        )
    assert caught.value.tool == "fetch"
    with pytest.raises(McpToolError, match="'fetch' failed"):
        result_value("fetch", {"content": [], "isError": True})
