"""The latency model of eager execution (DESIGN.md §6): pure numbers in, predictions out.

Symbols (seconds and tokens): ``L`` tokens at ``v`` tokens/s after a time to first token ``F``;
``N`` chunks of ``l_i`` tokens, ready ``δ_i`` after their last token; per-invocation overhead
``s``; execution times ``e_i`` (``E = Σ e_i``); serial one-off setup ``S``.

* serial: ``T_serial = F + L/v + S + E``
* eager (recurrence): ``g_i = F + (l_1+…+l_i)/v``, ``d_i = g_i + δ_i``,
  ``c_i = max(d_i, c_{i−1}) + s + e_i``, ``T_eager = max(F + L/v, c_N)``
* closed form: ``T_eager = max(F + L/v, max_i [d_i + Σ_{j≥i} (s + e_j)])``
* bounds: ``max(gen-bound, exec-bound) ≤ T_eager ≤ F + L/v + max δ + N·s + E``

``T_eager`` also waits for the end of generation: when the model writes prose after the last
chunk (``L > Σ l_i``) the answer is not complete before its last token.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from ._errors import UsageError

if TYPE_CHECKING:
    from ._result import RunResult

__all__ = [
    "Prediction",
    "Regime",
    "Scenario",
    "batched_latency",
    "closed_form",
    "critical_chunks",
    "eager_latency",
    "exec_lower_bound",
    "explain",
    "gen_lower_bound",
    "lower_bound",
    "median_error",
    "no_regression",
    "predict_from_result",
    "recurrence",
    "regime",
    "serial_latency",
    "speedup_limit",
    "suffix_bound",
    "uniform_latency",
    "upper_bound",
]

#: Which side of the pipeline sets the pace (uniform chunks, §6).
Regime = Literal["generation-dominated", "execution-dominated", "balanced"]


def _floats(values: Sequence[float] | float, n: int, name: str) -> tuple[float, ...]:
    if isinstance(values, int | float):
        out = (float(values),) * n
    else:
        out = tuple(float(v) for v in values)
        if not out and n:
            out = (0.0,) * n
    if len(out) != n:
        raise UsageError(f"{name} has {len(out)} values for {n} chunks")
    if any(not math.isfinite(v) or v < 0 for v in out):
        raise UsageError(f"{name} must be finite and >= 0")
    return out


@dataclass(frozen=True, slots=True)
class Scenario:
    """One answer to predict: chunk sizes, execution times and the model's speed.

    ``chunk_tokens`` are the ``l_i``; ``exec_s`` the ``e_i``; ``delay_s`` the detection delays
    ``δ_i`` (one value for all chunks, or one per chunk); ``tokens`` is ``L`` (default: the sum
    of the chunk sizes; larger when prose follows the code).
    """

    chunk_tokens: tuple[float, ...]
    exec_s: tuple[float, ...]
    tps: float
    ttft_s: float = 0.0
    overhead_s: float = 0.0
    setup_s: float = 0.0
    delay_s: tuple[float, ...] | float = 0.0
    tokens: float | None = None
    _delays: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        n = len(self.chunk_tokens)
        object.__setattr__(self, "chunk_tokens", _floats(self.chunk_tokens, n, "chunk_tokens"))
        object.__setattr__(self, "exec_s", _floats(self.exec_s, n, "exec_s"))
        object.__setattr__(self, "_delays", _floats(self.delay_s, n, "delay_s"))
        if not (math.isfinite(self.tps) and self.tps > 0):
            raise UsageError("tps must be > 0")
        for name in ("ttft_s", "overhead_s", "setup_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise UsageError(f"{name} must be finite and >= 0")
        if self.tokens is not None and self.tokens < sum(self.chunk_tokens) - 1e-9:
            raise UsageError("tokens must be at least the sum of the chunk sizes")

    @property
    def n(self) -> int:
        """``N``, the number of chunks."""
        return len(self.chunk_tokens)

    @property
    def total_tokens(self) -> float:
        """``L``."""
        return sum(self.chunk_tokens) if self.tokens is None else float(self.tokens)

    @property
    def total_exec_s(self) -> float:
        """``E = Σ e_i``."""
        return sum(self.exec_s)

    @property
    def delays(self) -> tuple[float, ...]:
        """``δ_i``, one per chunk."""
        return self._delays

    @property
    def gen_end_s(self) -> float:
        """``F + L/v``: when the last token arrives."""
        return self.ttft_s + self.total_tokens / self.tps

    def generated_s(self) -> tuple[float, ...]:
        """``g_i``: when the last token of chunk ``i`` arrives."""
        out: list[float] = []
        acc = 0.0
        for tokens in self.chunk_tokens:
            acc += tokens
            out.append(self.ttft_s + acc / self.tps)
        return tuple(out)

    def ready_s(self) -> tuple[float, ...]:
        """``d_i = g_i + δ_i``: when chunk ``i`` can be dispatched."""
        return tuple(g + d for g, d in zip(self.generated_s(), self.delays, strict=True))


def recurrence(ready_s: Sequence[float], cost_s: Sequence[float]) -> tuple[float, ...]:
    """Completion times ``c_k = max(r_k, c_{k−1}) + cost_k`` of invocations run in order."""
    if len(ready_s) != len(cost_s):
        raise UsageError("ready_s and cost_s differ in length")
    out: list[float] = []
    done = -math.inf
    for ready, cost in zip(ready_s, cost_s, strict=True):
        done = max(ready, done) + cost
        out.append(done)
    return tuple(out)


def serial_latency(sc: Scenario) -> float:
    """``T_serial = F + L/v + S + E``."""
    return sc.gen_end_s + sc.setup_s + sc.total_exec_s


def eager_latency(sc: Scenario) -> float:
    """``T_eager`` by the recurrence, one invocation per chunk."""
    done = recurrence(sc.ready_s(), [sc.overhead_s + e for e in sc.exec_s])
    return max([sc.gen_end_s, *done[-1:]])


def closed_form(sc: Scenario) -> float:
    """``T_eager`` by the closed form ``max_i [d_i + Σ_{j≥i} (s + e_j)]`` (equals the recurrence)."""
    best = sc.gen_end_s
    tail = 0.0
    for ready, e in zip(reversed(sc.ready_s()), reversed(sc.exec_s), strict=True):
        tail += sc.overhead_s + e
        best = max(best, ready + tail)
    return best


def batched_latency(sc: Scenario) -> tuple[float, tuple[tuple[int, ...], ...]]:
    """``T_eager`` with dynamic batching, and the batches (chunk indices) it forms.

    Whenever the executor is idle it takes every ready chunk and pays ``s`` once for them.
    Never slower than one invocation per chunk.
    """
    ready = sc.ready_s()
    batches: list[tuple[int, ...]] = []
    done = -math.inf
    i = 0
    while i < sc.n:
        start = max(done, ready[i])
        j = i
        while j + 1 < sc.n and ready[j + 1] <= start:
            j += 1
        batches.append(tuple(range(i, j + 1)))
        done = start + sc.overhead_s + sum(sc.exec_s[i : j + 1])
        i = j + 1
    return max(sc.gen_end_s, done), tuple(batches)


def upper_bound(sc: Scenario) -> float:
    """No overlap at all: ``F + L/v + max δ + N·s + E``."""
    return sc.gen_end_s + max(sc.delays, default=0.0) + sc.n * sc.overhead_s + sc.total_exec_s


def gen_lower_bound(sc: Scenario) -> float:
    """Generation-bound: the last chunk runs after it is written, ``d_N + s + e_N``."""
    if not sc.n:
        return sc.gen_end_s
    return max(sc.gen_end_s, sc.ready_s()[-1] + sc.overhead_s + sc.exec_s[-1])


def exec_lower_bound(sc: Scenario, *, invocations: int | None = None) -> float:
    """Execution-bound: all execution after the first chunk is ready, ``d_1 + N·s + E``.

    ``invocations`` replaces ``N`` in ``N·s`` (at least 1 with dynamic batching).
    """
    if not sc.n:
        return sc.gen_end_s
    k = sc.n if invocations is None else invocations
    return sc.ready_s()[0] + k * sc.overhead_s + sc.total_exec_s


def lower_bound(sc: Scenario) -> float:
    """The larger of the two lower bounds."""
    return max(gen_lower_bound(sc), exec_lower_bound(sc))


def no_regression(sc: Scenario) -> bool:
    """The sufficient condition ``S ≥ max δ + N·s`` for eager never to be slower than serial."""
    return sc.setup_s >= max(sc.delays, default=0.0) + sc.n * sc.overhead_s


def speedup_limit(sc: Scenario) -> float:
    """``1 + (S + E)/(F + L/v)``: all execution hidden behind generation."""
    return 1.0 + (sc.setup_s + sc.total_exec_s) / sc.gen_end_s if sc.gen_end_s > 0 else math.inf


def uniform_latency(
    *,
    tokens: float,
    tps: float,
    chunks: int,
    exec_s: float,
    overhead_s: float = 0.0,
    ttft_s: float = 0.0,
    delay_s: float = 0.0,
) -> tuple[float, Regime]:
    """``T_eager`` for ``chunks`` equal chunks of ``exec_s`` each, and its regime.

    ``α = L/(N v)``, ``β = s + e``: generation-dominated (``α > β``) gives
    ``F + L/v + δ + β``; execution-dominated (``α < β``) gives ``F + α + δ + N β``.
    """
    if chunks < 1:
        raise UsageError("chunks must be >= 1")
    alpha = tokens / (chunks * tps)
    beta = overhead_s + exec_s
    kind = regime(alpha_s=alpha, beta_s=beta)
    if kind == "execution-dominated":
        return ttft_s + alpha + delay_s + chunks * beta, kind
    return ttft_s + tokens / tps + delay_s + beta, kind


def regime(*, alpha_s: float, beta_s: float, rel_tol: float = 1e-9) -> Regime:
    """Classify generation per chunk ``α`` against execution per chunk ``β``."""
    if math.isclose(alpha_s, beta_s, rel_tol=rel_tol, abs_tol=1e-12):
        return "balanced"
    return "generation-dominated" if alpha_s > beta_s else "execution-dominated"


def critical_chunks(*, tokens: float, tps: float, exec_s: float, overhead_s: float) -> float:
    """``N* = (L/v − E)/s``: the chunk count where execution starts to set the pace.

    Up to ``N*`` chunks, finer chunks hide more; beyond it every extra chunk adds ``s``
    while saving less and less (infinite when ``s`` is 0; 0 when ``E ≥ L/v``).
    """
    room = tokens / tps - exec_s
    if room <= 0:
        return 0.0
    return math.inf if overhead_s <= 0 else room / overhead_s


def explain(sc: Scenario) -> str:
    """One sentence: the verdict of the model on a scenario."""
    serial = serial_latency(sc)
    eager = eager_latency(sc)
    saved = serial - eager
    gen = sc.gen_end_s
    exposed = max(0.0, eager - gen)
    hidden = 1.0 - exposed / sc.total_exec_s if sc.total_exec_s > 0 else 1.0
    pace = "generation" if gen >= exec_lower_bound(sc) else "execution"
    verb = "saves" if saved >= 0 else "costs"
    return (
        f"Eager {verb} {abs(saved):.3f} s ({abs(saved) / serial:.0%}) against serial "
        f"({eager:.3f} s vs {serial:.3f} s): {pace} sets the pace and "
        f"{max(hidden, 0.0):.0%} of the {sc.total_exec_s:.3f} s of execution hides behind "
        f"the {gen:.3f} s of generation."
    )


@dataclass(frozen=True, slots=True)
class Prediction:
    """The recurrence replayed over a measured run, and the run's own lower bounds.

    ``gap_s = measured − predicted`` is time the model does not explain: ``dispatch_lag_s``
    (batches sent later than the executor was free and the batch ready) plus ``tail_s`` (after
    the last execution and the end of generation, until the run finished).
    """

    e2el_s: float
    measured_e2el_s: float
    gap_s: float
    gen_bound_s: float
    exec_bound_s: float
    dispatch_lag_s: float
    tail_s: float
    suffix_bound_s: float = 0.0

    @property
    def lower_bound_s(self) -> float:
        """The largest lower bound: no eager run of these chunks can finish sooner."""
        return max(self.gen_bound_s, self.exec_bound_s, self.suffix_bound_s)

    @property
    def relative_error(self) -> float:
        """``|predicted − measured| / measured``."""
        m = self.measured_e2el_s
        return abs(self.e2el_s - m) / m if m > 0 else 0.0

    def to_dict(self) -> dict[str, float]:
        """JSON form."""
        return {
            "predicted_e2el_s": self.e2el_s,
            "gap_s": self.gap_s,
            "gen_bound_s": self.gen_bound_s,
            "exec_bound_s": self.exec_bound_s,
            "suffix_bound_s": self.suffix_bound_s,
            "lower_bound_s": self.lower_bound_s,
            "dispatch_lag_s": self.dispatch_lag_s,
            "tail_s": self.tail_s,
            "model_error": self.relative_error,
        }


def predict_from_result(result: RunResult, *, s: float = 0.0) -> Prediction:
    """Replay the batch recurrence over a run's own events and predict its e2el.

    Each batch is ready at ``ready_s`` (its last chunk closed or released) and costs its
    measured wall duration (which already holds the per-invocation overhead) plus ``s``
    (extra overhead to assume, default none). The run ends at the later of the end of
    generation and the last completion.
    """
    gen_end = result.metrics.gen_s
    batches = result.batches
    costs = [s + (b.finished_s - b.dispatched_s) for b in batches]
    done = recurrence([b.ready_s for b in batches], costs)
    predicted = max([gen_end, *done[-1:]])
    lag = 0.0
    prev = -math.inf
    for b in batches:
        lag += max(0.0, b.dispatched_s - max(b.ready_s, prev))
        prev = b.finished_s
    measured = result.metrics.e2el_s
    tail = measured - max([gen_end, *(b.finished_s for b in batches[-1:])])
    if batches:
        last = batches[-1]
        floor_cost = costs[-1] if len(last.chunks) == 1 else min(costs)
        gen_bound = max(gen_end, last.ready_s + floor_cost) if result.ok else gen_end
        exec_bound = batches[0].ready_s + sum(costs)
    else:
        gen_bound = exec_bound = gen_end
    return Prediction(
        e2el_s=predicted,
        measured_e2el_s=measured,
        gap_s=measured - predicted,
        gen_bound_s=gen_bound,
        exec_bound_s=exec_bound,
        dispatch_lag_s=lag,
        tail_s=tail,
        suffix_bound_s=suffix_bound(result, costs),
    )


def suffix_bound(result: RunResult, costs: Sequence[float]) -> float:
    """``max_b [r_b + Σ_{j≥b} e_j]``: the closed form's lower bound over every batch suffix.

    ``r_b`` is when the *first* chunk of batch ``b`` became runnable (closed, or for a sealed
    chunk the end of generation), so all work of ``b`` and later starts no sooner, whatever the
    schedule. Costs are measured batch durations; every invocation but one is charged only
    ``e_j`` (its cost minus the smallest batch cost, an upper estimate of the overhead ``s``).
    The paper's execution-bound is the first suffix; the generation-bound is the last one.
    """
    from ._events import ChunkClosed

    batches = result.batches
    if not batches:
        return 0.0
    closed = {ev.index: ev.t for ev in result.events if isinstance(ev, ChunkClosed)}
    sealed = {d.index for d in result.decisions if d.decision == "seal"}
    gen_end = result.metrics.gen_s
    overhead = min(costs)
    bound = 0.0
    work = overhead  # one invocation's overhead is always paid
    for b, cost in zip(reversed(batches), reversed(costs), strict=True):
        work += cost - overhead
        first = min(
            max(closed.get(c, b.ready_s), gen_end) if c in sealed else closed.get(c, b.ready_s)
            for c in b.chunks
        )
        bound = max(bound, first + work)
    return bound


def median_error(predictions: Sequence[Prediction]) -> float | None:
    """Median relative error of predictions (None when there are none)."""
    if not predictions:
        return None
    return statistics.median(p.relative_error for p in predictions)
