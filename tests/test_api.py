"""The public API: one sorted ``__all__`` that names only what exists, extension points included."""

from __future__ import annotations

import inspect

import eager


def test_all_is_sorted_and_unique() -> None:
    assert list(eager.__all__) == sorted(set(eager.__all__))


def test_every_exported_name_exists_and_is_documented() -> None:
    for name in eager.__all__:
        obj = getattr(eager, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert inspect.getdoc(obj), f"{name} has no docstring"


def test_public_names_defined_in_private_modules_are_exported() -> None:
    exported = set(eager.__all__)
    for name in dir(eager):
        module = getattr(eager, name)
        if inspect.ismodule(module) and name.startswith("_") and hasattr(module, "__all__"):
            for public in module.__all__:
                if public in ("main",):
                    continue
                assert public in exported or public.isupper() or not public[0].isupper(), (
                    f"{name}.{public} is public there but not exported"
                )


def test_extension_points_are_exported() -> None:
    for name in ("Backend", "Source", "Extractor", "Gate", "Policy", "ScriptedSource"):
        assert name in eager.__all__


def test_the_exception_tree_has_one_root() -> None:
    for name in eager.__all__:
        obj = getattr(eager, name)
        if inspect.isclass(obj) and issubclass(obj, Exception):
            assert issubclass(obj, eager.EagerError)
