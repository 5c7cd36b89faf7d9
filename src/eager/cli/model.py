"""``eager model``: predict serial and eager latency, the regime, and explain the verdict."""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path
from typing import Any

from .. import latency as lat
from .._errors import UsageError
from ._checks import dumps, non_negative_float, positive_float

__all__ = ["register"]

#: Invocations of an empty statement used to measure the per-invocation overhead ``s``.
_OVERHEAD_SAMPLES = 20


def register(sub: Any) -> None:
    """Add the ``model`` subcommand."""
    p = sub.add_parser(
        "model",
        help="predict serial vs eager latency from parameters (the latency model)",
        description="Predict serial and eager latency, the bounds and the regime from the "
        "model's speed and the chunks' execution times (given, or measured with --calibrate).",
    )
    p.add_argument(
        "--tokens", type=positive_float, help="tokens of the answer, L (default: sum of chunks)"
    )
    p.add_argument(
        "--tps", type=positive_float, default=50.0, help="tokens per second, v (default 50)"
    )
    p.add_argument("--ttft", type=non_negative_float, default=0.0, help="time to first token F, s")
    p.add_argument("--exec", dest="exec_s", help="per-chunk execution times e_i, s: 0.5,0.01,...")
    p.add_argument("--chunk-tokens", help="per-chunk token counts l_i (default: L split evenly)")
    p.add_argument("--program", help="a Python file: chunks and their tokens come from it")
    p.add_argument(
        "--calibrate",
        action="store_true",
        help="measure e_i and s by running the program's chunks once in a fresh REPL",
    )
    p.add_argument(
        "--overhead", type=non_negative_float, default=None, help="per-invocation overhead s, s"
    )
    p.add_argument(
        "--setup", type=non_negative_float, default=0.0, help="serial one-off setup S, s"
    )
    p.add_argument(
        "--delta", type=non_negative_float, default=0.0, help="detection delay per chunk δ, s"
    )
    p.add_argument("--json", action="store_true", help="print the prediction as JSON")
    p.set_defaults(handler=main)


def _floats(text: str, name: str) -> list[float]:
    try:
        values = [float(x) for x in text.replace(" ", "").split(",") if x]
    except ValueError as exc:
        raise UsageError(f"{name}: expected comma-separated numbers, got {text!r}") from exc
    if not values:
        raise UsageError(f"{name}: no values")
    return values


async def _calibrate(chunks: list[str]) -> tuple[list[float], float]:
    """Run the chunks once in a fresh REPL: each chunk's time, and the overhead of ``pass``."""
    from ..backends.repl._backend import ReplBackend

    times: list[float] = []
    async with ReplBackend() as backend:
        overhead = []
        for _ in range(_OVERHEAD_SAMPLES):
            t = time.perf_counter()
            await backend.execute("pass\n")
            overhead.append(time.perf_counter() - t)
        s = sorted(overhead)[len(overhead) // 2]
        line = 1
        for code in chunks:
            t = time.perf_counter()
            result = await backend.execute(code, first_line=line)
            times.append(max(0.0, time.perf_counter() - t - s))
            if result.error is not None:
                raise UsageError(
                    f"calibration failed at line {result.error.lineno}: "
                    f"{result.error.ename}: {result.error.evalue}"
                )
            line += code.count("\n")
    return times, s


def _scenario(args: argparse.Namespace) -> lat.Scenario:
    overhead = args.overhead
    if args.program:
        from .._chunker import Chunker
        from ..sources._replay import tokenize

        try:
            text = Path(args.program).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot read {args.program}: {exc.strerror}") from exc
        chunker = Chunker()
        chunks = [c.code for c in [*chunker.feed(text), *chunker.close()]]
        tokens = [float(len(tokenize(c))) for c in chunks]
        if args.calibrate:
            execs, measured = asyncio.run(_calibrate(chunks))
            overhead = measured if overhead is None else overhead
        elif args.exec_s:
            execs = _floats(args.exec_s, "--exec")
            if len(execs) == 1:
                execs = [execs[0] / len(chunks)] * len(chunks)
        else:
            raise UsageError("--program needs --calibrate or --exec")
        if len(execs) != len(chunks):
            raise UsageError(f"--exec has {len(execs)} values for {len(chunks)} chunks")
    else:
        if not args.exec_s:
            raise UsageError("give --exec (per-chunk execution times) or --program")
        execs = _floats(args.exec_s, "--exec")
        if args.chunk_tokens:
            tokens = _floats(args.chunk_tokens, "--chunk-tokens")
        elif args.tokens:
            tokens = [args.tokens / len(execs)] * len(execs)
        else:
            raise UsageError("give --tokens or --chunk-tokens")
    return lat.Scenario(
        chunk_tokens=tuple(tokens),
        exec_s=tuple(execs),
        tps=args.tps,
        ttft_s=args.ttft,
        overhead_s=overhead or 0.0,
        setup_s=args.setup,
        delay_s=args.delta,
        tokens=args.tokens,
    )


def predict(sc: lat.Scenario) -> dict[str, Any]:
    """Every figure of the model for one scenario."""
    n = sc.n
    alpha = sc.total_tokens / (n * sc.tps)
    beta = sc.overhead_s + sc.total_exec_s / n
    batched, batches = lat.batched_latency(sc)
    return {
        "chunks": n,
        "tokens": sc.total_tokens,
        "exec_s": sc.total_exec_s,
        "serial_s": lat.serial_latency(sc),
        "eager_s": lat.eager_latency(sc),
        "eager_batched_s": batched,
        "batches": len(batches),
        "upper_bound_s": lat.upper_bound(sc),
        "gen_bound_s": lat.gen_lower_bound(sc),
        "exec_bound_s": lat.exec_lower_bound(sc),
        "regime": lat.regime(alpha_s=alpha, beta_s=beta),
        "alpha_s": alpha,
        "beta_s": beta,
        "critical_chunks": lat.critical_chunks(
            tokens=sc.total_tokens, tps=sc.tps, exec_s=sc.total_exec_s, overhead_s=sc.overhead_s
        ),
        "no_regression": lat.no_regression(sc),
        "speedup_limit": lat.speedup_limit(sc),
        "overhead_s": sc.overhead_s,
        "verdict": lat.explain(sc),
    }


def main(args: argparse.Namespace) -> int:
    """Handler of ``eager model``."""
    out = predict(_scenario(args))
    if args.json:
        print(dumps(out, indent=2, default=str))
        return 0
    rows = [
        ("chunks N", f"{out['chunks']}"),
        ("tokens L", f"{out['tokens']:.0f}"),
        ("execution E", f"{out['exec_s']:.4f} s"),
        ("overhead s", f"{out['overhead_s'] * 1e3:.3f} ms"),
        ("serial", f"{out['serial_s']:.4f} s"),
        ("eager (one invocation per chunk)", f"{out['eager_s']:.4f} s"),
        ("eager (dynamic batching)", f"{out['eager_batched_s']:.4f} s in {out['batches']} batches"),
        (
            "lower bounds (generation / execution)",
            f"{out['gen_bound_s']:.4f} / {out['exec_bound_s']:.4f} s",
        ),
        ("upper bound", f"{out['upper_bound_s']:.4f} s"),
        (
            "regime (α vs β per chunk)",
            f"{out['regime']} ({out['alpha_s']:.4f} vs {out['beta_s']:.4f} s)",
        ),
        ("critical chunk count N*", f"{out['critical_chunks']:.1f}"),
        (
            "no-regression condition S ≥ max δ + N·s",
            "holds" if out["no_regression"] else "does not hold",
        ),
        ("speedup limit", f"{out['speedup_limit']:.3f}x"),
    ]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    print()
    print(out["verdict"])
    return 0
