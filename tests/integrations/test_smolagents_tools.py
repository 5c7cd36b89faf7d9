"""smolagents tools as Eager tools: signatures, descriptions, results (pure parts)."""

from __future__ import annotations

import asyncio
import inspect
from fractions import Fraction

import pytest

pytest.importorskip("smolagents")

from smolagents import Tool as SmolTool
from smolagents.default_tools import FinalAnswerTool

from eager.integrations._smolagents_tools import FinalAnswer, json_or_repr, tools_of


class Search(SmolTool):
    name = "search"
    description = "Search the web."
    inputs = {  # noqa: RUF012 (smolagents reads class attributes)
        "query": {"type": "string", "description": "what to look for"},
        "limit": {"type": "integer", "description": "how many", "nullable": True},
        "site": {"type": "string", "description": "a site"},
    }
    output_type = "object"

    def forward(self, query: str, limit: int | None, site: str) -> object:
        return {"query": query, "limit": limit, "site": site, "score": Fraction(1, 2)}


def test_a_signature_is_built_from_the_inputs() -> None:
    (search,) = tools_of({"search": Search()}, None, read_only={"search"})
    assert str(search.signature) == "(query, limit=None, *, site)"
    assert search.read_only and search.timeout_s is None
    assert search.description.startswith("Search the web.\n\nArgs:\n")
    assert "    limit (integer): how many" in search.description
    (acting,) = tools_of({"search": Search()}, None)
    assert not acting.read_only


def test_a_result_that_is_no_json_value_arrives_as_its_repr() -> None:
    (search,) = tools_of({"search": Search()}, None)
    value = asyncio.run(search.call(["cats"], {"site": "x.org"}))
    assert value == "{'query': 'cats', 'limit': None, 'site': 'x.org', 'score': Fraction(1, 2)}"
    assert json_or_repr([1, "a", None]) == [1, "a", None]
    assert json_or_repr({1, 2}) == "{1, 2}"


def test_final_answer_records_json_or_repr_or_the_object_in_process() -> None:
    final = FinalAnswer(FinalAnswerTool())
    (tool,) = tools_of({"final_answer": FinalAnswerTool()}, final, read_only={"final_answer"})
    assert not tool.read_only
    assert tool.codec is not None and "SystemExit" in tool.codec.decode
    assert asyncio.run(tool.call([[1, 2]], {})) is None and final.answered
    assert final.value == [1, 2]
    final.clear()
    assert not final.answered
    objects: dict[str, object] = {"__eager_final_args__": ((Fraction(1, 3),), {})}
    in_process = FinalAnswer(FinalAnswerTool(), objects)
    in_process("Fraction(1, 3)")
    assert in_process.value == Fraction(1, 3) and objects == {}
    assert list(inspect.signature(FinalAnswerTool().forward).parameters) == ["answer"]
