"""Which commands sandbox their session by default, and what --sandbox/--no-sandbox change."""

from __future__ import annotations

import argparse

import pytest

from eager import JupyterBackend, ReplBackend, UsageError
from eager.cli import build_parser
from eager.cli._backends import make_backend, sandbox_wanted


def parsed(*argv: str) -> argparse.Namespace:
    args = build_parser().parse_args(list(argv))
    if args.command == "run":  # as run's handler decides before it builds the backend
        args.sandbox_default = bool(getattr(args, "base_url", None))
    return args


@pytest.mark.parametrize(
    ("argv", "sandboxed"),
    [
        (("ask", "sum the numbers"), True),
        (("ask", "x", "--no-sandbox"), False),
        (("run", "p.py"), False),
        (("run", "p.py", "--sandbox"), True),
        (("run", "--base-url", "http://127.0.0.1:1/v1", "--model", "m"), True),
        (("run", "--base-url", "http://127.0.0.1:1/v1", "--model", "m", "--no-sandbox"), False),
        (("demo",), False),
        (("demo", "--sandbox"), True),
    ],
)
def test_model_code_is_sandboxed_by_default_and_replays_are_not(
    argv: tuple[str, ...], sandboxed: bool
) -> None:
    args = parsed(*argv)
    assert sandbox_wanted(args) is sandboxed
    backend = make_backend(args)
    assert isinstance(backend, ReplBackend)
    assert (backend.sandbox is not None) is sandboxed


def test_the_jupyter_backend_is_sandboxed_too_and_a_gateway_cannot_be() -> None:
    backend = make_backend(parsed("ask", "x", "--backend", "jupyter"))
    assert isinstance(backend, JupyterBackend) and backend.sandbox is not None
    with pytest.raises(UsageError, match="--no-sandbox"):
        make_backend(parsed("ask", "x", "--backend", "gateway"))
    assert make_backend(parsed("ask", "x", "--backend", "gateway", "--no-sandbox")) is not None


def test_a_helper_without_a_default_is_sandboxed() -> None:
    # A command that adds the shared options but says nothing (the agent command) is safe.
    assert sandbox_wanted(argparse.Namespace()) is True
    assert sandbox_wanted(argparse.Namespace(sandbox=False)) is False
