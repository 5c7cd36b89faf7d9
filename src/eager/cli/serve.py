"""``eager serve``: an OpenAI-compatible replay server streaming recorded answers."""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import Any

from .._errors import UsageError

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add the ``serve`` subcommand."""
    p = sub.add_parser(
        "serve",
        help="serve recorded answers as an OpenAI-compatible streaming endpoint",
        description="Stream recorded answers as an OpenAI-compatible chat-completions endpoint "
        "(POST /v1/chat/completions, GET /v1/models). Each PATH is one answer, selected by "
        "the request's model == the file's stem (.py: bare code; .md/.txt: a chat answer as "
        "is); a .jsonl workload holds one answer per record ({id, code | text | response | "
        "full_content | completion | answer | content}); a directory holds such files. One "
        "JSON line per finished request goes to stdout (model, tokens_sent, tokens_total, "
        "disconnected, duration_s, ...). For tests, a model suffix NAME@FAULTS or a header "
        "X-Eager-Fault: FAULTS makes a request misbehave: status=CODE[xN], retry-after=S, "
        "non-sse, stall-headers, bad-json=N, drop=N, no-done[=N], stall=N, error-event=N "
        "(N: after that many tokens).",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="answer files, .jsonl, directories")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default loopback)")
    p.add_argument("--port", type=int, default=8000, help="port (0: any free port; default 8000)")
    p.add_argument("--tps", type=float, default=50.0, help="tokens per second (default 50)")
    p.add_argument("--ttft", type=float, default=0.1, help="time to first token, s (default 0.1)")
    p.add_argument("--jitter", type=float, default=0.0, help="relative jitter of token gaps")
    p.add_argument("--seed", type=int, default=0, help="seed of the jitter")
    p.add_argument(
        "--format",
        choices=["auto", "chat", "tool"],
        default="auto",
        help="chat: content deltas; tool: a code tool call; auto (default): a tool call "
        "when the request declares tools",
    )
    p.add_argument("--tool-name", default="python", help="tool name when the request has none")
    p.add_argument("--tool-argument", default="code", help="the tool's code argument")
    p.add_argument("--token", help="require Authorization: Bearer TOKEN")
    p.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    """Handler of ``eager serve``: serve until interrupted."""
    from ..server._answers import load_answers
    from ..server._app import bind, create_app, make_uvicorn

    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be 0..65535, got {args.port}")
    answers = load_answers(args.paths)
    app = create_app(
        answers,
        tps=args.tps,
        ttft_s=args.ttft,
        jitter=args.jitter,
        seed=args.seed,
        format=args.format,
        token=args.token,
        tool_name=args.tool_name,
        tool_argument=args.tool_argument,
    )
    sock = bind(args.host, args.port)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    names = ", ".join(sorted(answers))
    print(
        f"eager serve: listening on http://{shown}:{port}/v1 "
        f"({len(answers)} answer{'s' * (len(answers) != 1)}: {names[:500]})",
        file=sys.stderr,
        flush=True,
    )
    if host not in ("127.0.0.1", "::1", "localhost"):
        print("eager serve: warning: listening beyond loopback", file=sys.stderr, flush=True)
    server = make_uvicorn(app)
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=[sock])
    return 0
