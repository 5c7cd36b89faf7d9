"""The paper's Table 1 (whole programs, execution hidden) and Table 2's failing half, as markdown.

Table 1 reads the summaries of the ``recorded`` runs that ran without error in both modes.
Table 2 reads every run whose serial execution failed: ``natural`` (the recorded program raised
on its own) and ``injected`` (one seeded error, :mod:`eager.bench.inject`); per backend and rate
it gives the E2EL saved by early interruption and the share of tokens never generated, as the
median and the interquartile range over runs.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from typing import Any

from .paper import E2EL_HEADLINE, FAILING_HEADLINE, paper_nel
from .summary import _pct, summarize

__all__ = ["failing_stats", "render_tables", "table1", "table2"]


def _spread(values: list[float]) -> str:
    """``median [p25–p75]`` in percent."""
    if not values:
        return "–"
    med = statistics.median(values)
    if len(values) < 2:
        return _pct(med)
    q = statistics.quantiles(values, n=4, method="inclusive")
    return f"{_pct(med)} [{100 * q[0]:.0f}–{100 * q[2]:.0f}%]"


def table1(summary: Iterable[dict[str, Any]]) -> str:
    """Table 1: NEL hidden and E2EL saving beside the paper, efficiency, regressions.

    Runs are those without error in both modes; savings are pooled (ratios of sums), and the
    NEL share of the median run is given beside. A
    workload whose programs execute in a few milliseconds has little to hide: read its NEL
    share beside its serial execution time. The model gap (measured minus the latency model
    replayed over the run's own batches) is time the scheduler lost; a regression with no gap
    is execution that ran slower in eager mode than in serial mode (contention, noise).
    """
    rows = [
        "| workload | backend | tok/s | runs | serial exec, mean | NEL hidden | median run | "
        "paper (same benchmark, env) | E2EL saving | efficiency (suffix bound) | regressions | "
        "model gap, mean |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in summary:
        if s["variant"] != "recorded":
            continue
        eff = "–" if s["efficiency"] is None else f"{s['efficiency']:.3f}"
        exec_s = s["serial_nel_s"] / s["ok_runs"] if s["ok_runs"] else None
        exec_text = "–" if exec_s is None else f"{exec_s:.3f} s"
        gap = "–" if s["mean_gap_s"] is None else f"{1000 * s['mean_gap_s']:.1f} ms"
        rows.append(
            f"| {s['workload']} | {s['backend']} | {s['tps']:g} | {s['ok_runs']} | {exec_text} | "
            f"**{_pct(s['nel_saving'])}** | {_pct(s['nel_saving_median'])} | {paper_nel(s['workload'], s['backend'], s['tps'])} | "
            f"{_pct(s['e2el_saving'])} | {eff} | {s['regressions']} | {gap} |"
        )
    return "\n".join(rows)


def failing_stats(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (setting, backend, tps, source): E2EL saved and tokens not generated, per run."""
    groups: dict[tuple[str, str, float, str], list[dict[str, Any]]] = {}
    for r in records:
        if r.get("skip") is not None or not r.get("failing"):
            continue
        source = "injected" if r.get("variant") == "injected" else "natural"
        key = (r.get("setting") or "", r["backend"], float(r["tps"]), source)
        groups.setdefault(key, []).append(r)
    out = []
    order = {"natural": 0, "injected": 1}
    for (setting, backend, tps, source), runs in sorted(
        groups.items(), key=lambda kv: (*kv[0][:3], order[kv[0][3]])
    ):
        saved = [
            1.0 - r["eager"]["e2el_s"] / r["serial"]["e2el_s"]
            for r in runs
            if r["serial"]["e2el_s"] > 0
        ]
        unmade = [
            1.0 - r["eager"]["tokens_generated"] / r["eager"]["tokens_total"]
            for r in runs
            if r["eager"].get("tokens_total")
        ]
        positions = [r["injection"]["position"] for r in runs if r.get("injection")]
        s_sum = sum(r["serial"]["e2el_s"] for r in runs)
        e_sum = sum(r["eager"]["e2el_s"] for r in runs)
        out.append(
            {
                "setting": setting,
                "backend": backend,
                "tps": tps,
                "source": source,
                "runs": len(runs),
                "workloads": sorted({r["workload"] for r in runs}),
                "e2el_saved": saved,
                "tokens_not_generated": unmade,
                "pooled_e2el_saving": None if s_sum <= 0 else 1.0 - e_sum / s_sum,
                "error_position_median": statistics.median(positions) if positions else None,
            }
        )
    return out


def table2(stats: Iterable[dict[str, Any]]) -> str:
    """Table 2's failing half: E2EL saved by early interruption and tokens not generated."""
    rows = [
        "| backend | tok/s | errors | runs | E2EL saved, median [IQR] | pooled | "
        "tokens not generated, median [IQR] | error at (median share of code) | paper |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for s in stats:
        pos = s["error_position_median"]
        rows.append(
            f"| {s['backend']} | {s['tps']:g} | {s['source']} | {s['runs']} | "
            f"**{_spread(s['e2el_saved'])}** | {_pct(s['pooled_e2el_saving'])} | "
            f"{_spread(s['tokens_not_generated'])} | {_pct(pos)} | {FAILING_HEADLINE} |"
        )
    return "\n".join(rows)


def _skips(
    summary: list[dict[str, Any]], loader_skips: Mapping[str, Mapping[str, int]]
) -> list[str]:
    lines = []
    for workload, reasons in sorted(loader_skips.items()):
        if reasons:
            text = "; ".join(f"{n} × {why}" for why, n in sorted(reasons.items(), key=_by_count))
            lines.append(f"* {workload}, not run: {text}")
    for s in summary:
        if s["skip_reasons"]:
            text = "; ".join(
                f"{n} × {why}" for why, n in sorted(s["skip_reasons"].items(), key=_by_count)
            )
            where = f"{s['workload']} {s['backend']} {s['tps']:g} tok/s {s['variant']}"
            setting = f" (`{s['setting']}`)" if s["setting"] else ""
            lines.append(f"* {where}{setting}: {text}")
    return lines


def _by_count(item: tuple[str, int]) -> tuple[int, str]:
    return (-item[1], item[0])


def render_tables(
    records: list[dict[str, Any]],
    *,
    header: str = "",
    loader_skips: Mapping[str, Mapping[str, int]] | None = None,
    settings: Mapping[str, str] | None = None,
) -> str:
    """Both tables for every setting found in ``records``, with skip reasons, as markdown.

    ``settings`` maps a setting label to its description (TTFT, jitter, prefetch).
    """
    summary = summarize(records)
    stats = failing_stats(records)
    parts = [header.rstrip()] if header else []
    labels = sorted({s["setting"] for s in summary} | {s["setting"] for s in stats})
    for label in labels:
        about = (settings or {}).get(label, "")
        title = f"setting `{label}`" + (f": {about}" if about else "") if label else "all runs"
        parts.append(f"### Table 1, whole programs ({title})\n")
        parts.append(table1(s for s in summary if s["setting"] == label))
        parts.append(
            f"\nPaper E2EL savings per cell are not quoted here (n/a); its headline on replays: "
            f"{E2EL_HEADLINE}.\n"
        )
        parts.append(f"### Table 2, failing runs ({title})\n")
        parts.append(table2(s for s in stats if s["setting"] == label))
        parts.append("")
    skipped = _skips(summary, loader_skips or {})
    if skipped:
        parts.append("Tasks not run, with the reason:\n")
        parts.extend(skipped)
    return "\n".join(parts) + "\n"
