"""The paper's Table 1 (whole programs, execution hidden), Table 2's failing half and its model
row, as markdown, the paper's figures beside ours.

Table 1 reads the summaries of the ``recorded`` runs that ran without error in both modes, with
the paper's NEL and E2EL for the same benchmark, environment (:mod:`eager.bench.paper`) and rate.
Table 2's failing half reads every run whose serial execution failed: ``natural`` (the recorded
program raised on its own) and ``injected`` (one seeded error, :mod:`eager.bench.inject`); per
backend and rate it gives the E2EL saved by early interruption and the share of tokens never
generated, as the median and the interquartile range over runs. Table 2's model row
(:func:`table2_model`) gives mean NEL and E2EL, serial → eager in ms, of recorded answers streamed
at a model's timing, beside the paper's GPT-4o-mini DABench row. Set-up errors are listed apart.
"""

from __future__ import annotations

import statistics
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from .paper import (
    FAILING_HEADLINE,
    NOT_REPRODUCIBLE,
    TABLE2_GPT4O_MINI_DABENCH,
    paper_e2el,
    paper_environment,
    paper_nel,
)
from .summary import _pct, efficiency_text, residual_text, summarize

__all__ = [
    "failing_stats",
    "not_reproducible",
    "render_tables",
    "table1",
    "table2",
    "table2_model",
]


def _spread(values: list[float]) -> str:
    """``median [p25–p75]`` in percent."""
    if not values:
        return "–"
    med = statistics.median(values)
    if len(values) < 2:
        return _pct(med)
    q = statistics.quantiles(values, n=4, method="inclusive")
    return f"{_pct(med)} [{100 * q[0]:.0f}–{100 * q[2]:.0f}%]"


def _backend(name: str) -> str:
    env = paper_environment(name)
    return name if env is None else f"{name} ({env})"


def table1(summary: Iterable[dict[str, Any]]) -> str:
    """Table 1: NEL hidden and E2EL saving beside the paper's, efficiency or residual, errors.

    Runs are those without error in both modes; savings are pooled (ratios of sums), and the
    NEL share of the median run is given beside. A workload whose programs execute in a few
    milliseconds has little to hide: there the efficiency cell gives the residual (eager E2EL
    over the suffix bound, median / p90 ms), the fixed cost that is left. The model gap
    (measured minus the latency model replayed over the run's own batches) is time the scheduler
    lost; a regression with no gap is execution that ran slower in eager mode than in serial
    mode (contention, noise). Set-up errors are not in the runs (listed under the tables).
    """
    rows = [
        "| workload | backend (paper env) | tok/s | runs | serial exec, mean | NEL hidden | "
        "median run | paper NEL | E2EL saving | paper E2EL | efficiency (suffix bound) | "
        "over bound, median / p90 | set-up errors | regressions | model gap, mean |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in summary:
        if s["variant"] != "recorded":
            continue
        w, b, tps = s["workload"], s["backend"], s["tps"]
        exec_s = s["serial_nel_s"] / s["ok_runs"] if s["ok_runs"] else None
        exec_text = "–" if exec_s is None else f"{exec_s:.3f} s"
        gap = "–" if s["mean_gap_s"] is None else f"{1000 * s['mean_gap_s']:.1f} ms"
        rows.append(
            f"| {w} | {_backend(b)} | {tps:g} | {s['ok_runs']} | {exec_text} | "
            f"**{_pct(s['nel_saving'])}** | {_pct(s['nel_saving_median'])} | "
            f"{paper_nel(w, b, tps)} | {_pct(s['e2el_saving'])} | {paper_e2el(w, b, tps)} | "
            f"{efficiency_text(s)} | {residual_text(s)} | {s['setup_errors']} | "
            f"{s['regressions']} | {gap} |"
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


def _mean_ms(values: list[float]) -> str:
    return "–" if not values else f"{1000 * statistics.fmean(values):.0f}"


def _arrow(serial: list[float], eager: list[float]) -> str:
    return f"{_mean_ms(serial)} → {_mean_ms(eager)}"


def _paper_arrow(pair: tuple[float, float | None]) -> str:
    serial, eager = pair
    return f"{serial:g} → {'—' if eager is None else f'{eager:g}'}"


def table2_model(records: Iterable[dict[str, Any]]) -> str:
    """Table 2's model row: mean NEL and E2EL (serial → eager, ms) per backend and run kind.

    Kinds: ``error-free`` (recorded answers without error in both modes), ``failing`` (recorded
    answers that fail on their own, also in the serial pre-check) and ``failing, injected`` (one
    seeded error); each beside the paper's GPT-4o-mini DABench row (Docker). Generation is the
    mean time from the request to the last token of a serial run, TTFT included.
    """
    groups: dict[tuple[str, float, str], list[dict[str, Any]]] = {}
    for r in records:
        if r.get("skip") is not None or r.get("setup_error"):
            continue
        if r["ok"]:
            kind = "error-free"
        elif r["failing"]:
            kind = "failing, injected" if r.get("variant") == "injected" else "failing"
        else:
            continue
        groups.setdefault((r["backend"], float(r["tps"]), kind), []).append(r)
    rows = [
        "| backend (paper env) | tok/s | runs | kind | generation, mean | NEL, ms | E2EL, ms | "
        "E2EL saving, pooled | paper NEL | paper E2EL |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    order = {"error-free": 0, "failing": 1, "failing, injected": 2}
    for (backend, tps, kind), runs in sorted(
        groups.items(), key=lambda kv: (*kv[0][:2], order[kv[0][2]])
    ):
        paper = TABLE2_GPT4O_MINI_DABENCH["error-free" if kind == "error-free" else "failing"]
        s_e2el = [r["serial"]["e2el_s"] for r in runs]
        e_e2el = [r["eager"]["e2el_s"] for r in runs]
        gen = statistics.fmean(r["serial"]["gen_s"] for r in runs)
        saving = 1.0 - sum(e_e2el) / sum(s_e2el) if sum(s_e2el) > 0 else None
        rows.append(
            f"| {_backend(backend)} | {tps:g} | {len(runs)} | {kind} | {gen:.2f} s | "
            f"{_arrow([r['serial']['nel_s'] for r in runs], [r['eager']['nel_s'] for r in runs])} | "
            f"**{_arrow(s_e2el, e_e2el)}** | {_pct(saving)} | {_paper_arrow(paper['nel_ms'])} | "
            f"{_paper_arrow(paper['e2el_ms'])} |"
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
            lines.append(f"* {_where(s)}: {text}")
    return lines


def _where(s: Mapping[str, Any]) -> str:
    where = f"{s['workload']} {s['backend']} {s['tps']:g} tok/s {s['variant']}"
    return where + (f" (`{s['setting']}`)" if s["setting"] else "")


def _setup_errors(summary: list[dict[str, Any]]) -> list[str]:
    lines = []
    for s in summary:
        reasons = s.get("setup_error_reasons") or {}
        if reasons:
            text = "; ".join(f"{n} × {why}" for why, n in sorted(reasons.items(), key=_by_count))
            lines.append(f"* {_where(s)}: {text}")
        if s.get("eager_only_errors"):
            lines.append(f"* {_where(s)}: {s['eager_only_errors']} × failed in eager mode only")
    return lines


def _by_count(item: tuple[str, int]) -> tuple[int, str]:
    return (-item[1], item[0])


def not_reproducible() -> str:
    """The paper's benchmarks not replayed here, with the reason, as a markdown list."""
    return "\n".join(f"* **{name}**: {why}." for name, why in NOT_REPRODUCIBLE.items())


def render_tables(
    records: list[dict[str, Any]],
    *,
    header: str = "",
    loader_skips: Mapping[str, Mapping[str, int]] | None = None,
    settings: Mapping[str, str] | None = None,
    model_settings: Collection[str] = (),
) -> str:
    """Every table for every setting found in ``records``, with skips and set-up errors.

    ``settings`` maps a setting label to its description (TTFT, jitter, prefetch, rate); the
    settings in ``model_settings`` stream a model's recorded answers at its timing and get
    Table 2's model row instead of Table 1.
    """
    summary = summarize(records)
    stats = failing_stats(records)
    parts = [header.rstrip()] if header else []
    labels = sorted({s["setting"] for s in summary} | {s["setting"] for s in stats})
    for label in labels:
        about = (settings or {}).get(label, "")
        title = f"setting `{label}`" + (f": {about}" if about else "") if label else "all runs"
        if label in model_settings:
            parts.append(f"### Table 2, recorded gpt-4o-mini answers at its timing ({title})\n")
            parts.append(table2_model(r for r in records if (r.get("setting") or "") == label))
            parts.append(
                "\nPaper: GPT-4o-mini on DABench under Docker (its Table 2); mean ms, serial → "
                "eager.\n"
            )
            continue
        parts.append(f"### Table 1, whole programs ({title})\n")
        parts.append(table1(s for s in summary if s["setting"] == label))
        parts.append("")
        parts.append(f"### Table 2, failing runs ({title})\n")
        parts.append(table2(s for s in stats if s["setting"] == label))
        parts.append("")
    parts.append("Not reproducible here (no counterpart rows):\n")
    parts.append(not_reproducible() + "\n")
    broken = _setup_errors(summary)
    if broken:
        parts.append(
            "Set-up errors (ran clean in the serial pre-check on a plain REPL, failed in the "
            "measured setting; not counted as failing runs), and runs that failed in eager mode "
            "only:\n"
        )
        parts.extend(broken)
        parts.append("")
    skipped = _skips(summary, loader_skips or {})
    if skipped:
        parts.append("Tasks not run, with the reason:\n")
        parts.extend(skipped)
    return "\n".join(parts) + "\n"
