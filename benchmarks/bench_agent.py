"""Agent benchmark: recorded multi-turn trajectories replayed turn by turn, serial vs eager agent.

The recorded DABench gpt-4o-mini ReAct trajectories (``../shared/data``) are served by the
replay server (``eager.server``, chat protocol, code in fences) at each token rate; for every
task a serial agent (each turn's program run once it is complete) and an eager agent (each
statement run while the turn streams; a failing statement stops the turn, repair from the
partial code) talk to it through one warm session per task, with the task's tables linked into
the session's folder (recorded upload paths rewritten to bare file names). Printed: time per
task and per turn, tokens saved by interruption, and whether both agents saw the same
observations. Times are wall clock on this machine; nothing is asserted.

    python benchmarks/bench_agent.py --backends repl,jupyter --tps 20,50,100,200 --limit 8
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from eager import Backend, JupyterBackend, ReplBackend
from eager.agent import Agent, AgentConfig, AgentResult, EndpointModel, UserMessage
from eager.server import Recording, ReplayServer, load_trajectories
from eager.server._trajectories import dump_recordings, local_paths

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "dabench"
TRAJECTORIES = DATA / "model_outputs/gpt-4o-mini_simone-kalbermatter/results_OPEN_AI_4o-mini.json"
TABLES = DATA / "da-dev-tables"


def local_recordings() -> list[Recording]:
    """Every trajectory as a recording whose code reads its tables from the working folder."""
    tables = {p.name for p in TABLES.glob("*.csv")}
    out = []
    for rec in sorted(load_trajectories(TRAJECTORIES).values(), key=lambda r: int(r.name)):
        turns = tuple(replace(t, text=local_paths(t.text, tables)) for t in rec.turns)
        out.append(replace(rec, turns=turns))
    return out


def load_tasks(limit: int) -> list[Recording]:
    """Half tasks whose recording saw an error (STDERR), half without, in id order."""
    failing, clean = [], []
    for rec in local_recordings():
        if len(rec.turns) < 2:
            continue
        saw_error = any((t.observation or "").lstrip().startswith("STDERR") for t in rec.turns)
        (failing if saw_error else clean).append(rec)
    half = limit // 2
    return failing[:half] + clean[: limit - min(half, len(failing))]


def session_folder(rec: Recording) -> str:
    """A fresh folder with every table the task's turns name, linked."""
    folder = tempfile.mkdtemp(prefix=f"eager-agent-{rec.name}-")
    text = "".join(t.text for t in rec.turns)
    for table in TABLES.glob("*.csv"):
        if table.name in text:
            os.symlink(table, Path(folder) / table.name)
    return folder


def make_backend(name: str, folder: str) -> Backend:
    env = {**os.environ, "MPLBACKEND": "Agg"}
    if name == "repl":
        return ReplBackend(cwd=folder, env=env, timeout_s=120)
    if name == "jupyter":
        return JupyterBackend(cwd=folder, env=env, timeout_s=120)
    raise SystemExit(f"unknown backend {name!r}")


async def one(srv: ReplayServer, rec: Recording, backend_name: str, mode: str) -> AgentResult:
    folder = session_folder(rec)
    backend = make_backend(backend_name, folder)
    async with backend:  # warm: started before the first request
        model = EndpointModel(base_url=srv.base_url, model=rec.name)
        config = AgentConfig(mode=mode, max_turns=len(rec.turns), timeout_s=120)  # type: ignore[arg-type]
        question = str(rec.metadata.get("input_text", "Answer the question."))
        return await Agent(model=model, backend=backend, config=config).run(question)


def summary(result: AgentResult) -> dict[str, Any]:
    return {
        "elapsed_s": result.elapsed_s,
        "turns": [
            {
                "actual_s": t.actual_s,
                "serial_s": t.serial_s,
                "interrupted": t.interrupted,
                "error": t.error,
                "tokens_generated": t.tokens_generated,
                "tokens_total": t.tokens_total,
            }
            for t in result.turns
        ],
        "tokens_generated": result.tokens_generated,
        "answer": result.answer,
        "observations": [m.text for m in result.messages if isinstance(m, UserMessage)][1:],
    }


async def grid(args: argparse.Namespace) -> list[dict[str, Any]]:
    tasks = load_tasks(args.limit)
    rows: list[dict[str, Any]] = []
    for tps in args.tps:
        async with ReplayServer(dict((r.name, r) for r in tasks), tps=tps, ttft_s=args.ttft) as srv:
            for backend_name in args.backends:
                for rec in tasks:
                    row: dict[str, Any] = {"task": rec.name, "tps": tps, "backend": backend_name}
                    for mode in ("serial", "eager"):
                        row[mode] = summary(await one(srv, rec, backend_name, mode))
                    rows.append(row)
                    s, e = row["serial"], row["eager"]
                    print(
                        f"{backend_name:8} {tps:5g} tok/s task {rec.name:>4}: serial "
                        f"{s['elapsed_s']:6.2f} s, eager {e['elapsed_s']:6.2f} s "
                        f"({(e['elapsed_s'] - s['elapsed_s']) / s['elapsed_s']:+.0%}), tokens "
                        f"{e['tokens_generated']}/{s['tokens_generated']}, cut turns "
                        f"{sum(t['interrupted'] for t in e['turns'])}",
                        flush=True,
                    )
    return rows


def smolagents_recording(rec: Recording) -> Recording:
    """The task as smolagents code steps: its code turns as they are, the final prose turn
    as a ``final_answer(...)`` step (smolagents needs code in every step)."""
    final = rec.turns[-1]
    step = f"Thought: done.\n```python\nfinal_answer({final.text.strip()!r})\n```\n"
    return replace(rec, turns=(*rec.turns[:-1], replace(final, text=step)))


def smolagents_grid(args: argparse.Namespace) -> list[dict[str, Any]]:
    """A stock smolagents CodeAgent with its own executor against one with Eager's."""
    from smolagents import CodeAgent, OpenAIServerModel

    from eager.integrations.smolagents import EagerExecutor, EagerModel

    tasks = [smolagents_recording(r) for r in load_tasks(args.limit)]
    rows: list[dict[str, Any]] = []
    home = os.getcwd()

    async def serve(tps: float) -> None:
        async with ReplayServer({r.name: r for r in tasks}, tps=tps, ttft_s=args.ttft) as srv:
            for rec in tasks:
                os.chdir(session_folder(rec))
                row: dict[str, Any] = {"task": rec.name, "tps": tps}
                for kind in ("stock", "eager"):
                    model = OpenAIServerModel(model_id=rec.name, api_base=srv.base_url, api_key="x")
                    # in this process, as smolagents' own executor (same cwd, same tables)
                    executor = EagerExecutor(backend="in-process") if kind == "eager" else None
                    agent = CodeAgent(
                        tools=[],
                        model=EagerModel(model, executor) if executor else model,
                        executor=executor,
                        stream_outputs=True,
                        verbosity_level=0,
                        code_block_tags="markdown",
                        additional_authorized_imports=["*"],
                    )
                    t0 = time.monotonic()
                    before = len(srv.records)
                    answer = await asyncio.to_thread(agent.run, "task", max_steps=len(rec.turns))
                    elapsed = time.monotonic() - t0
                    agent.cleanup()
                    await srv.wait_records(before + 1)
                    sent = sum(r.get("tokens_sent", 0) for r in srv.records[before:])
                    row[kind] = {"elapsed_s": elapsed, "answer": str(answer), "tokens": sent}
                os.chdir(home)
                rows.append(row)
                print(
                    f"smolagents {tps:5g} tok/s task {rec.name:>4}: stock "
                    f"{row['stock']['elapsed_s']:6.2f} s, eager {row['eager']['elapsed_s']:6.2f} s, "
                    f"tokens {row['eager']['tokens']}/{row['stock']['tokens']}, "
                    f"same answer {row['stock']['answer'] == row['eager']['answer']}",
                    flush=True,
                )

    for tps in args.tps:
        asyncio.run(serve(tps))
    return rows


def report(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| backend | tok/s | tasks | turns | serial s/task | eager s/task | change | "
        "serial s/turn | eager s/turn | cut turns | tokens saved | same observations |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    keys = sorted({(r["backend"], r["tps"]) for r in rows}, key=lambda k: (k[0], -k[1]))
    for backend, tps in keys:
        sel = [r for r in rows if r["backend"] == backend and r["tps"] == tps]
        s_task = statistics.mean(r["serial"]["elapsed_s"] for r in sel)
        e_task = statistics.mean(r["eager"]["elapsed_s"] for r in sel)
        s_turns = [t["actual_s"] for r in sel for t in r["serial"]["turns"]]
        e_turns = [t["actual_s"] for r in sel for t in r["eager"]["turns"]]
        cut = sum(t["interrupted"] for r in sel for t in r["eager"]["turns"])
        s_tok = sum(r["serial"]["tokens_generated"] for r in sel)
        e_tok = sum(r["eager"]["tokens_generated"] for r in sel)
        same = sum(r["serial"]["observations"] == r["eager"]["observations"] for r in sel)
        lines.append(
            f"| {backend} | {tps:g} | {len(sel)} | {len(s_turns)}/{len(e_turns)} | {s_task:.2f} | "
            f"{e_task:.2f} | {(e_task - s_task) / s_task:+.0%} | "
            f"{statistics.mean(s_turns):.2f} | {statistics.mean(e_turns):.2f} | {cut} | "
            f"{s_tok - e_tok} of {s_tok} | {same}/{len(sel)} |"
        )
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--backends", default="repl,jupyter")
    p.add_argument("--tps", default="20,50,100,200")
    p.add_argument("--ttft", type=float, default=0.3, help="replayed time to first token, s")
    p.add_argument("--limit", type=int, default=8, help="tasks (half with recorded errors)")
    p.add_argument("--json", metavar="PATH", help="write every row as JSON")
    p.add_argument(
        "--smolagents",
        action="store_true",
        help="compare a stock smolagents CodeAgent with its own and with Eager's executor",
    )
    p.add_argument(
        "--write-recordings",
        metavar="PATH",
        help="only write the trajectories (local table paths) as JSONL for `eager serve PATH`",
    )
    args = p.parse_args()
    if args.write_recordings:
        recordings = {r.name: r for r in local_recordings()}
        Path(args.write_recordings).write_text(dump_recordings(recordings), encoding="utf-8")
        print(f"wrote {len(recordings)} recordings to {args.write_recordings}")
        return 0
    args.backends = args.backends.split(",")
    args.tps = [float(x) for x in args.tps.split(",")]
    started = time.monotonic()
    if args.smolagents:
        rows = smolagents_grid(args)
        for tps in args.tps:
            sel = [r for r in rows if r["tps"] == tps]
            stock = statistics.mean(r["stock"]["elapsed_s"] for r in sel)
            eager = statistics.mean(r["eager"]["elapsed_s"] for r in sel)
            same = sum(r["stock"]["answer"] == r["eager"]["answer"] for r in sel)
            tokens = [sum(r[k]["tokens"] for r in sel) for k in ("stock", "eager")]
            print(
                f"| {tps:g} | {len(sel)} | {stock:.2f} | {eager:.2f} | "
                f"{(eager - stock) / stock:+.0%} | {tokens[1]}/{tokens[0]} | {same}/{len(sel)} |"
            )
        return 0
    rows = asyncio.run(grid(args))
    print(
        f"\n{platform.node()}: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, Python "
        f"{platform.python_version()}, {time.monotonic() - started:.0f} s in all\n"
    )
    print(report(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
