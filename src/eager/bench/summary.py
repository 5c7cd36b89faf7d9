"""Summaries of run records: savings, efficiency, regressions, model error, and the table.

Savings are pooled (ratios of sums over runs), so long programs weigh what they cost. Runs
where both modes ran without error give ``nel_saving``, ``e2el_saving``, ``efficiency`` (None
when the achievable saving is below :data:`NOISE_ABS_S` per run) and the *residual*: eager E2EL
minus the suffix bound per run (median and p90, seconds), the fixed cost left where there is
little to hide. Runs whose serial execution failed (recorded or injected errors) give
``failing_e2el_saving``; set-up errors (an answer that ran clean in the serial pre-check fails in
the measured setting) are counted apart with their errors, never as failing runs.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from typing import Any

from .paper import FAILING_HEADLINE, paper_e2el, paper_nel

__all__ = [
    "NOISE_ABS_S",
    "NOISE_REL",
    "efficiency_text",
    "markdown_table",
    "residual_text",
    "summarize",
]

#: Eager counts as a regression when slower than serial by more than this many seconds...
NOISE_ABS_S = 0.005
#: ...and by more than this share of the serial latency.
NOISE_REL = 0.02


def _median(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def _ratio(num: float, den: float) -> float | None:
    return num / den if den > 0 else None


def _p90(values: list[float]) -> float | None:
    if not values:
        return None
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=10, method="inclusive")[-1]


def _counts(texts: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for t in texts:
        out[t] = out.get(t, 0) + 1
    return out


def summarize(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One summary per (setting, workload, backend, tps, variant)."""
    groups: dict[tuple[str, str, str, float, str], list[dict[str, Any]]] = {}
    for r in records:
        key = (
            r.get("setting") or "",
            r["workload"],
            r["backend"],
            float(r["tps"]),
            r.get("variant", "recorded"),
        )
        groups.setdefault(key, []).append(r)
    out = []
    for (setting, workload, backend, tps, variant), group in sorted(groups.items()):
        runs = [r for r in group if r.get("skip") is None]
        skipped = [r for r in group if r.get("skip") is not None]
        ok = [r for r in runs if r["ok"]]
        failing = [r for r in runs if r["failing"]]
        broken = [r for r in runs if r.get("setup_error")]
        eager_only = [
            r for r in runs if not r["ok"] and not r["failing"] and not r.get("setup_error")
        ]
        residuals = [r["eager"]["e2el_s"] - r["lower_bound_s"] for r in ok]
        s_nel = sum(r["serial"]["nel_s"] for r in ok)
        e_nel = sum(r["eager"]["nel_s"] for r in ok)
        s_e2el = sum(r["serial"]["e2el_s"] for r in ok)
        e_e2el = sum(r["eager"]["e2el_s"] for r in ok)
        achievable = sum(r["serial"]["e2el_s"] - r["lower_bound_s"] for r in ok)
        regressions = [
            r
            for r in ok
            if r["eager"]["e2el_s"] - r["serial"]["e2el_s"]
            > max(NOISE_ABS_S, NOISE_REL * r["serial"]["e2el_s"])
        ]
        errors = [r["prediction"]["model_error"] for r in runs]
        f_s = sum(r["serial"]["e2el_s"] for r in failing)
        f_e = sum(r["eager"]["e2el_s"] for r in failing)
        reasons = _counts(r["skip"] for r in skipped)
        out.append(
            {
                "setting": setting,
                "workload": workload,
                "backend": backend,
                "tps": tps,
                "variant": variant,
                "runs": len(runs),
                "ok_runs": len(ok),
                "skipped": len(skipped),
                "skip_reasons": reasons,
                "nel_saving": None if s_nel <= 0 else 1.0 - e_nel / s_nel,
                "e2el_saving": None if s_e2el <= 0 else 1.0 - e_e2el / s_e2el,
                "nel_saving_median": _median(r.get("nel_saving") for r in ok),
                # Below the noise floor there is nothing to gain and the ratio is noise.
                "efficiency": _ratio(s_e2el - e_e2el, achievable)
                if achievable > NOISE_ABS_S * len(ok)
                else None,
                "residual_s_median": _median(residuals),
                "residual_s_p90": _p90(residuals),
                "achievable_s_mean": achievable / len(ok) if ok else None,
                "setup_errors": len(broken),
                "setup_error_reasons": _counts(r["setup_error"] for r in broken),
                "eager_only_errors": len(eager_only),
                "regressions": len(regressions),
                "model_error": statistics.median(errors) if errors else None,
                "model_error_p90": (
                    statistics.quantiles(errors, n=10)[-1] if len(errors) >= 2 else None
                ),
                "mean_gap_s": statistics.fmean(r["prediction"]["gap_s"] for r in runs)
                if runs
                else None,
                "failing_runs": len(failing),
                "failing_e2el_saving": None if f_s <= 0 else 1.0 - f_e / f_s,
                "serial_nel_s": s_nel,
                "eager_nel_s": e_nel,
                "same_stdout": sum(1 for r in ok if r.get("same_stdout")),
            }
        )
    return out


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def residual_text(s: dict[str, Any]) -> str:
    """Eager E2EL over the suffix bound, ``median / p90`` in ms (``–`` without runs)."""
    med, p90 = s.get("residual_s_median"), s.get("residual_s_p90")
    if med is None or p90 is None:
        return "–"
    return f"{1000 * med:.2f} / {1000 * p90:.2f} ms"


def efficiency_text(s: dict[str, Any]) -> str:
    """The efficiency, or, where the achievable saving is too small for a ratio, the residual."""
    if s["efficiency"] is not None:
        return f"{s['efficiency']:.3f}"
    if s.get("residual_s_median") is None:
        return "–"
    return f"< {1000 * NOISE_ABS_S:g} ms to save; residual {residual_text(s)}"


def markdown_table(summary: list[dict[str, Any]]) -> str:
    """A table like the paper's Table 1 (and Table 2 for failing runs), paper figures beside."""
    head = (
        "| workload | backend | tok/s | variant | runs | skipped | set-up errors | NEL hidden | "
        "paper | E2EL saving | paper | efficiency | over bound, median / p90 | regressions | "
        "model error | failing runs | failing E2EL saving | paper |\n"
        "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    rows = [head]
    for s in summary:
        w, b, tps = s["workload"], s["backend"], s["tps"]
        rows.append(
            f"| {w} | {b} | {tps:g} | {s['variant']} | {s['runs']} | "
            f"{s['skipped']} | {s['setup_errors']} | {_pct(s['nel_saving'])} | "
            f"{paper_nel(w, b, tps)} | {_pct(s['e2el_saving'])} | {paper_e2el(w, b, tps)} | "
            f"{efficiency_text(s)} | {residual_text(s)} | {s['regressions']} | "
            f"{_pct(s['model_error'])} | {s['failing_runs']} | "
            f"{_pct(s['failing_e2el_saving'])} | {FAILING_HEADLINE} |"
        )
    return "\n".join(rows)
