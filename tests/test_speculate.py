"""The speculator (pure): which tool calls in unfinished code are final."""

from __future__ import annotations

from typing import Any

import pytest

from eager._speculate import FoundCall, Speculator

RESULTS = {("search", ("cats",)): ["u0", "u1"], ("fetch", ("u0",)): "page zero"}


def result_of(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[bool, Any]:
    key = (name, tuple(args))
    return (key in RESULTS, RESULTS.get(key))


def spec() -> Speculator:
    return Speculator(["search", "fetch", "summarize"], result_of)


@pytest.mark.parametrize(
    ("learned", "code", "expected"),
    [
        ("", 'x = search("cats"', []),  # not closed yet
        ("", 'x = search("cats")', [FoundCall("search", ("cats",), {})]),
        (
            "",
            'search("a", limit=2) + fetch("u")',
            [
                FoundCall("search", ("a",), {"limit": 2}),
                FoundCall("fetch", ("u",), {}),
            ],
        ),
        ("", 'print(search("un', []),  # an unfinished string
        ("", "fetch(url)", []),  # an unknown name
        ("url = 'u9'\n", "fetch(url)", [FoundCall("fetch", ("u9",), {})]),
        ("hits = search('cats')\n", "fetch(hits[1])", [FoundCall("fetch", ("u1",), {})]),
        ("hits = search('dogs')\n", "fetch(hits[0])", []),  # result not seen yet
        ("url = 'u9'\nurl = compute()\n", "fetch(url)", []),  # rebound: forgotten
        ("a = 'x'\nb = 'y'\n", "fetch(a + ' ' + b)", [FoundCall("fetch", ("x y",), {})]),
        ("n = 3\n", "fetch(f'page-{n}!')", [FoundCall("fetch", ("page-3!",), {})]),
        ("n = 3\n", "fetch(f'{n:03d}')", []),  # a format spec: not evaluated here
        ("", "fetch('a' * 10**9)", []),  # too large to build
        (  # a chain: each result known once its call (with arguments known then) answered
            "hits = search('cats')\npage = fetch(hits[0])\n",
            "summarize(page, 'short')",
            [FoundCall("summarize", ("page zero", "short"), {})],
        ),
        ("", "fetch(*urls)", []),
        ("", "fetch(**opts)", []),
        ("", "obj.search('x')", []),  # a method, not the tool
        ("", "research('x')", []),
        ("", "fetch(f'{x}')", []),
        ("", "[fetch(u) for u in ('a', 'b')]", []),  # a loop variable is no value yet
    ],
)
def test_final_calls_are_found_and_nothing_else(
    learned: str, code: str, expected: list[FoundCall]
) -> None:
    s = spec()
    s.learn(learned)
    assert s.calls(code) == expected


def test_without_read_only_tools_nothing_is_scanned() -> None:
    assert Speculator([], result_of).calls("search('x')") == []
