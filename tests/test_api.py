"""The public API: one sorted ``__all__`` that names only what exists, extension points included."""

from __future__ import annotations

import importlib
import inspect

import eager


def test_all_is_unique() -> None:
    # The order is ruff's (RUF022, checked by `make lint`).
    assert len(eager.__all__) == len(set(eager.__all__))


def test_every_exported_name_exists_and_is_documented() -> None:
    for name in eager.__all__:
        obj = getattr(eager, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert inspect.getdoc(obj), f"{name} has no docstring"


def test_every_backend_source_and_error_class_is_exported() -> None:
    import pkgutil

    exported = {id(getattr(eager, n)) for n in eager.__all__}
    for info in pkgutil.walk_packages(eager.__path__, "eager."):
        leaf = info.name.rsplit(".", 1)[-1]
        if leaf == "__main__" or info.name.startswith(("eager.cli", "eager.bench", "eager.demo")):
            continue
        module = importlib.import_module(info.name)
        for public in getattr(module, "__all__", ()):
            obj = getattr(module, public)
            if inspect.isclass(obj) and issubclass(
                obj, eager.Backend | eager.Source | eager.EagerError
            ):
                assert id(obj) in exported, f"{info.name}.{public} is not exported"


def test_extension_points_are_exported() -> None:
    for name in ("Backend", "Source", "Extractor", "Gate", "Policy", "ScriptedSource"):
        assert name in eager.__all__


def test_the_exception_tree_has_one_root() -> None:
    for name in eager.__all__:
        obj = getattr(eager, name)
        if inspect.isclass(obj) and issubclass(obj, Exception):
            assert issubclass(obj, eager.EagerError)
