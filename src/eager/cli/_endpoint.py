"""CLI options that choose a model endpoint and its protocol, and the source they build."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

from .._errors import UsageError
from .._extract import FORMATS, Format
from ..agent._encode import PROTOCOLS
from ..agent._prompt import files_line
from ..sources._anthropic import AnthropicSource
from ..sources._http import HTTPSource
from ..sources._openai import OpenAISource
from ..sources._responses import OpenAIResponsesSource
from ._checks import non_negative_float, non_negative_int, positive_float, positive_int

__all__ = [
    "DEFAULT_PROMPT",
    "PROTOCOLS",
    "add_endpoint_options",
    "api_key_of",
    "check_endpoint_args",
    "make_endpoint_source",
    "system_text",
]

#: The user message when no ``--prompt`` is given (a replay server ignores it).
DEFAULT_PROMPT = "Write the Python program."
#: Environment variables read for the API key of each protocol, first found wins.
API_KEY_ENV = {
    "chat": ("EAGER_API_KEY", "OPENAI_API_KEY"),
    "responses": ("EAGER_API_KEY", "OPENAI_API_KEY"),
    "anthropic": ("EAGER_API_KEY", "ANTHROPIC_API_KEY"),
}


def add_endpoint_options(
    parser: argparse.ArgumentParser, *, prompt: bool = True, format: bool = True
) -> None:
    """Add ``--base-url``, ``--model``, ``--api-key`` and the request options to a subcommand.

    ``prompt=False`` leaves out ``--prompt`` (a subcommand that takes the task positionally).
    ``format=False`` leaves out ``--format`` (a subcommand with its own, same ``text_format`` dest).
    """
    g = parser.add_argument_group("model endpoint")
    g.add_argument("--base-url", metavar="URL", help="e.g. http://127.0.0.1:8000/v1")
    g.add_argument(
        "--protocol",
        choices=PROTOCOLS,
        default="chat",
        help="chat: POST {base}/chat/completions; responses: POST {base}/responses (OpenAI "
        "Responses); anthropic: POST {base}/v1/messages (Anthropic Messages). Default chat",
    )
    g.add_argument("--model", metavar="NAME", help="the model name sent in the request")
    g.add_argument(
        "--api-key",
        metavar="KEY",
        help="API key (default: $EAGER_API_KEY, else $OPENAI_API_KEY, or $ANTHROPIC_API_KEY "
        "with --protocol anthropic; none on loopback is fine)",
    )
    if prompt:
        g.add_argument("--prompt", metavar="TEXT", help="the user message")
    g.add_argument(
        "--system",
        metavar="TEXT",
        help="the system prompt, replacing the default one (which says how the code runs and "
        "how to answer); '' sends none",
    )
    g.add_argument(
        "--system-append",
        metavar="TEXT",
        help="text added at the end of the system prompt (the default one, or --system)",
    )
    if format:
        g.add_argument(
            "--format",
            dest="text_format",
            choices=FORMATS,
            default=None,
            help="chat/auto/code: the answer is the content; tool: a code tool call",
        )
    g.add_argument("--tool-name", default="python", help="the code tool's name (default python)")
    g.add_argument(
        "--tool-argument", default="code", help="its argument holding the code (default code)"
    )
    g.add_argument("--max-tokens", type=positive_int, metavar="N", help="max_tokens of the request")
    g.add_argument(
        "--temperature", type=non_negative_float, metavar="T", help="temperature of the request"
    )
    g.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="K:V",
        help="an extra HTTP header (repeatable)",
    )
    g.add_argument(
        "--extra-body",
        metavar="JSON",
        help="extra request fields as a JSON object, e.g. '{\"top_p\": 0.9}' (null removes one)",
    )
    g.add_argument(
        "--connect-timeout",
        type=positive_float,
        default=10.0,
        metavar="S",
        help="seconds to connect (default %(default)s)",
    )
    g.add_argument(
        "--first-token-timeout",
        type=positive_float,
        default=120.0,
        metavar="S",
        help="seconds to wait for the first token (default %(default)s)",
    )
    g.add_argument(
        "--token-timeout",
        type=positive_float,
        default=60.0,
        metavar="S",
        help="seconds between two tokens (default %(default)s)",
    )
    g.add_argument(
        "--retries",
        type=non_negative_int,
        default=3,
        metavar="N",
        help="retries before the first token (default %(default)s)",
    )


#: Endpoint options that mean nothing without ``--base-url`` (their default is None or empty).
_NEEDS_BASE_URL = (
    "model",
    "prompt",
    "system",
    "system_append",
    "api_key",
    "max_tokens",
    "temperature",
    "extra_body",
    "header",
)


def check_endpoint_args(args: argparse.Namespace, *, required: bool) -> None:
    """Check the endpoint options before anything starts (:class:`~eager.UsageError`).

    ``required``: the command needs a model (``ask``, ``chat``); else (``run``) the options
    are an error without ``--base-url``, since nothing would read them.
    """
    if not getattr(args, "base_url", None):
        if required:
            raise UsageError("--base-url is required (e.g. http://127.0.0.1:8000/v1)")
        for dest in _NEEDS_BASE_URL:
            if getattr(args, dest, None):
                flag = "--" + dest.replace("_", "-")
                raise UsageError(f"{flag} is for a model endpoint: give --base-url too")
        return
    if not args.model:
        raise UsageError("--model is required with --base-url")
    _headers(args.header)
    _extra_body(args.extra_body)


def system_text(
    args: argparse.Namespace, default: str | None, files: list[str] | tuple[str, ...] = ()
) -> str | None:
    """The system prompt: ``--system`` (then the ``files`` listed) or ``default``, and
    ``--system-append``; None for none (``--system ''`` and nothing appended)."""
    custom: str | None = getattr(args, "system", None)
    parts = [default or ""] if custom is None else [custom, files_line(files)]
    parts.append(getattr(args, "system_append", None) or "")
    text = "\n\n".join(p.strip() for p in parts if p and p.strip())
    return text or None


def api_key_of(args: argparse.Namespace) -> str | None:
    """``--api-key``, else the first environment variable of the protocol's that is set."""
    key: str | None = getattr(args, "api_key", None)
    if key:
        return key
    names = API_KEY_ENV[getattr(args, "protocol", None) or "chat"]
    return next((os.environ[n] for n in names if os.environ.get(n)), None)


def _headers(items: list[str]) -> dict[str, str]:
    headers = {}
    for item in items:
        name, sep, value = item.partition(":")
        if not sep or not name.strip():
            raise UsageError(f"--header wants NAME:VALUE, got {item!r}")
        headers[name.strip()] = value.strip()
    return headers


def _extra_body(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        obj = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"--extra-body is not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise UsageError("--extra-body must be a JSON object")
    return obj


def make_endpoint_source(
    args: argparse.Namespace,
    *,
    prompt: str | None = None,
    system: str | None = None,
    messages: Sequence[Mapping[str, Any]] | None = None,
) -> HTTPSource:
    """The source the endpoint options describe, for ``--protocol`` (a fresh one per call).

    ``messages`` (a whole conversation, chat roles) replaces ``prompt``/``system`` and
    ``--prompt``; for the Responses and Anthropic protocols its system messages become the
    request's instructions / system prompt.
    """
    if not args.base_url:
        raise UsageError("--base-url is required to stream from a model")
    if not args.model:
        raise UsageError("--model is required with --base-url")
    fmt: Format = getattr(args, "text_format", None) or "auto"
    protocol = getattr(args, "protocol", None) or "chat"
    if system is None:
        system = getattr(args, "system", None) or None
    if messages is None:
        user = prompt or getattr(args, "prompt", None) or DEFAULT_PROMPT
        messages = [{"role": "system", "content": system}] if system else []
        messages = [*messages, {"role": "user", "content": user}]
    common: dict[str, Any] = {
        "base_url": args.base_url,
        "model": args.model,
        "api_key": api_key_of(args),
        "format": fmt,
        "tool_name": args.tool_name,
        "tool_argument": args.tool_argument,
        "temperature": args.temperature,
        "headers": _headers(args.header),
        "extra_body": _extra_body(args.extra_body),
        "connect_timeout_s": args.connect_timeout,
        "first_token_timeout_s": args.first_token_timeout,
        "token_timeout_s": args.token_timeout,
        "retries": args.retries,
    }
    if protocol == "chat":
        return OpenAISource(messages=messages, max_tokens=args.max_tokens, **common)
    instructions, rest = _split_system(messages)
    if protocol == "responses":
        return OpenAIResponsesSource(
            input=rest, system=instructions, max_tokens=args.max_tokens, **common
        )
    if args.max_tokens is not None:
        common["max_tokens"] = args.max_tokens
    return AnthropicSource(messages=rest, system=instructions, **common)


def _split_system(
    messages: Sequence[Mapping[str, Any]],
) -> tuple[str | None, list[Mapping[str, Any]]]:
    """System messages joined (the Responses instructions / Anthropic system), and the rest."""
    system = [str(m.get("content", "")) for m in messages if m.get("role") == "system"]
    rest = [m for m in messages if m.get("role") != "system"]
    return ("\n\n".join(system) or None), rest
