"""``eager serve``: a replay server streaming recorded conversations in three protocols."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import Any

from .._errors import UsageError
from ._checks import non_negative_float, positive_float

__all__ = ["register"]

_LOOPBACK = ("127.0.0.1", "::1", "localhost")


def register(sub: Any) -> None:
    """Add the ``serve`` subcommand."""
    p = sub.add_parser(
        "serve",
        help="serve recorded answers as an OpenAI/Anthropic-compatible streaming endpoint",
        description="Stream recorded conversations as a model endpoint: POST /v1/chat/completions "
        "(OpenAI Chat Completions), /v1/responses (OpenAI Responses), /v1/messages (Anthropic "
        "Messages), GET /v1/models; streaming or not, as content or as a code tool call when the "
        "request declares a tool. The request's model names a recording; its k-th assistant "
        "turn answers a request whose history holds k-1 assistant turns. Each PATH is one "
        "recording: .py (bare code) and .md/.txt (a chat answer) files named by their stem; "
        ".jsonl/.json records ({id, turns: [{text | code | tool_calls, observation?}], "
        "metadata?} or one-turn {id, code | text | response | ...}); a directory holds such "
        "files. --trajectories serves recorded DABench ReAct trajectories (a JSON list of "
        "{id, response}) split into turns. One JSON line per finished request goes to stdout "
        "(model, protocol, turn, tokens_sent, tokens_total, disconnected, duration_s, status, "
        "...). For tests, a model suffix NAME@FAULTS or a header X-Eager-Fault: FAULTS makes a "
        "request misbehave: status=CODE[xN], retry-after=S, non-sse, stall-headers, bad-json=N, "
        "drop=N, no-done[=N], stall=N, error-event=N (N: after that many tokens), length=N (end "
        "after N tokens with the protocol's token-limit stop), stop-reason=WORD.",
    )
    p.add_argument("paths", nargs="*", metavar="PATH", help="answer files, .jsonl, directories")
    p.add_argument(
        "--trajectories",
        action="append",
        default=[],
        metavar="FILE",
        help="a JSON list of recorded ReAct trajectories ({id, response}) to serve, one "
        "recording per trajectory (repeatable)",
    )
    p.add_argument(
        "--trajectory-prefix",
        default="",
        metavar="PREFIX",
        help="model name of a trajectory: PREFIX + its id (default: the id)",
    )
    p.add_argument(
        "--write-recordings",
        metavar="OUT",
        help="write every recording as JSONL in the recording format to OUT and exit",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default loopback)")
    p.add_argument("--port", type=int, default=8000, help="port (0: any free port; default 8000)")
    p.add_argument(
        "--tps", type=positive_float, default=50.0, help="tokens per second (default 50)"
    )
    p.add_argument(
        "--ttft",
        type=non_negative_float,
        default=0.1,
        help="time to first token, s (default 0.1)",
    )
    p.add_argument(
        "--jitter", type=non_negative_float, default=0.0, help="relative jitter of token gaps"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the jitter")
    p.add_argument(
        "--format",
        choices=["auto", "chat", "tool"],
        default="auto",
        help="chat: content deltas; tool: a code tool call; auto (default): a tool call "
        "when the request declares a tool and the turn holds code",
    )
    p.add_argument("--tool-name", default="python", help="tool name when the request has none")
    p.add_argument("--tool-argument", default="code", help="the tool's code argument")
    p.add_argument(
        "--token", help="require this API key (Authorization: Bearer TOKEN or x-api-key: TOKEN)"
    )
    p.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    """Handler of ``eager serve``: serve until interrupted."""
    from ..server._answers import Recording, add_unique, load_recordings
    from ..server._app import bind, create_app, make_uvicorn
    from ..server._trajectories import dump_recordings, load_trajectories

    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be 0..65535, got {args.port}")
    if not args.paths and not args.trajectories:
        raise UsageError("nothing to serve: give answer PATHs or --trajectories FILE")
    answers: dict[str, Recording] = load_recordings(args.paths) if args.paths else {}
    for file in args.trajectories:
        for rec in load_trajectories(file, prefix=args.trajectory_prefix).values():
            add_unique(answers, rec)
    if args.write_recordings:
        try:
            Path(args.write_recordings).write_text(dump_recordings(answers), encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write {args.write_recordings}: {exc}") from exc
        print(
            f"eager serve: wrote {len(answers)} recordings to {args.write_recordings}",
            file=sys.stderr,
        )
        return 0
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
        f"({len(answers)} recording{'s' * (len(answers) != 1)}: {names[:500]})",
        file=sys.stderr,
        flush=True,
    )
    if host not in _LOOPBACK:
        print("eager serve: warning: listening beyond loopback", file=sys.stderr, flush=True)
    server = make_uvicorn(app)
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=[sock])
    return 0
