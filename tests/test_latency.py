"""The latency model: bounds hold, the closed form equals the recurrence, regimes are right."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eager import UsageError
from eager import latency as lat

_pos = st.floats(min_value=0.0, max_value=5.0, allow_nan=False, allow_infinity=False)


@st.composite
def scenarios(draw: st.DrawFn) -> lat.Scenario:
    n = draw(st.integers(min_value=1, max_value=12))
    tokens = draw(st.lists(st.integers(min_value=1, max_value=300), min_size=n, max_size=n))
    execs = draw(st.lists(_pos, min_size=n, max_size=n))
    delays = draw(st.lists(st.floats(min_value=0, max_value=0.5), min_size=n, max_size=n))
    extra = draw(st.integers(min_value=0, max_value=200))
    return lat.Scenario(
        chunk_tokens=tuple(float(t) for t in tokens),
        exec_s=tuple(execs),
        tps=draw(st.floats(min_value=1.0, max_value=500.0)),
        ttft_s=draw(st.floats(min_value=0.0, max_value=2.0)),
        overhead_s=draw(st.floats(min_value=0.0, max_value=0.1)),
        setup_s=draw(st.floats(min_value=0.0, max_value=1.0)),
        delay_s=tuple(delays),
        tokens=float(sum(tokens) + extra),
    )


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_the_closed_form_equals_the_recurrence(sc: lat.Scenario) -> None:
    assert _close(lat.closed_form(sc), lat.eager_latency(sc))


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_eager_latency_lies_between_its_bounds(sc: lat.Scenario) -> None:
    t = lat.eager_latency(sc)
    assert lat.gen_lower_bound(sc) <= t + 1e-9
    assert lat.exec_lower_bound(sc) <= t + 1e-9
    assert lat.lower_bound(sc) <= t + 1e-9
    assert t <= lat.upper_bound(sc) + 1e-9


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_dynamic_batching_is_never_slower_and_keeps_every_chunk_in_order(
    sc: lat.Scenario,
) -> None:
    t, batches = lat.batched_latency(sc)
    assert t <= lat.eager_latency(sc) + 1e-9
    assert lat.gen_lower_bound(sc) <= t + 1e-9
    assert lat.exec_lower_bound(sc, invocations=len(batches)) <= t + 1e-9
    assert [i for b in batches for i in b] == list(range(sc.n))


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_the_no_regression_condition_guarantees_eager_is_not_slower(sc: lat.Scenario) -> None:
    if lat.no_regression(sc):
        assert lat.eager_latency(sc) <= lat.serial_latency(sc) + 1e-9


@settings(max_examples=200, deadline=None)
@given(scenarios())
def test_the_speedup_never_exceeds_its_limit(sc: lat.Scenario) -> None:
    speedup = lat.serial_latency(sc) / lat.eager_latency(sc)
    assert speedup <= lat.speedup_limit(sc) + 1e-9


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(min_value=1, max_value=40),
    per_chunk=st.integers(min_value=1, max_value=100),
    tps=st.floats(min_value=5, max_value=300),
    e=st.floats(min_value=0, max_value=1),
    s=st.floats(min_value=0, max_value=0.05),
    f=st.floats(min_value=0, max_value=1),
    d=st.floats(min_value=0, max_value=0.1),
)
def test_the_uniform_formulas_match_the_recurrence(
    n: int, per_chunk: int, tps: float, e: float, s: float, f: float, d: float
) -> None:
    sc = lat.Scenario(
        chunk_tokens=(float(per_chunk),) * n,
        exec_s=(e,) * n,
        tps=tps,
        ttft_s=f,
        overhead_s=s,
        delay_s=d,
    )
    t, _ = lat.uniform_latency(
        tokens=per_chunk * n, tps=tps, chunks=n, exec_s=e, overhead_s=s, ttft_s=f, delay_s=d
    )
    assert math.isclose(t, lat.eager_latency(sc), rel_tol=1e-6, abs_tol=1e-6)


@pytest.mark.parametrize(
    ("tokens", "tps", "chunks", "exec_s", "overhead_s", "expected", "kind"),
    [
        # 100 tokens at 10 tok/s in 10 chunks: α = 1 s; β = 0.1 s -> generation sets the pace.
        (100, 10, 10, 0.09, 0.01, 10 + 0.1, "generation-dominated"),
        # α = 0.1 s < β = 1 s -> execution: F + α + N β.
        (100, 100, 10, 0.99, 0.01, 0.1 + 10 * 1.0, "execution-dominated"),
        # α == β: both formulas agree.
        (100, 100, 10, 0.09, 0.01, 1.0 + 0.1, "balanced"),
        # One chunk: nothing can overlap, T = L/v + s + e.
        (50, 50, 1, 0.5, 0.0, 1.5, "generation-dominated"),
    ],
)
def test_the_uniform_regimes(
    tokens: int,
    tps: float,
    chunks: int,
    exec_s: float,
    overhead_s: float,
    expected: float,
    kind: str,
) -> None:
    t, got = lat.uniform_latency(
        tokens=tokens, tps=tps, chunks=chunks, exec_s=exec_s, overhead_s=overhead_s
    )
    assert got == kind
    assert math.isclose(t, expected, rel_tol=1e-9)


@pytest.mark.parametrize(
    ("tokens", "tps", "exec_s", "overhead_s", "expected"),
    [
        (1000, 100, 4.0, 0.01, 600.0),  # (10 − 4) / 0.01
        (1000, 100, 10.0, 0.01, 0.0),  # execution alone exceeds generation
        (1000, 100, 12.0, 0.01, 0.0),
        (1000, 100, 4.0, 0.0, math.inf),  # free invocations: finer is always better
    ],
)
def test_the_critical_chunk_count(
    tokens: float, tps: float, exec_s: float, overhead_s: float, expected: float
) -> None:
    got = lat.critical_chunks(tokens=tokens, tps=tps, exec_s=exec_s, overhead_s=overhead_s)
    assert got == pytest.approx(expected)


def test_at_the_critical_chunk_count_generation_and_execution_balance() -> None:
    n_star = lat.critical_chunks(tokens=1000, tps=100, exec_s=4.0, overhead_s=0.01)
    _, kind = lat.uniform_latency(
        tokens=1000, tps=100, chunks=int(n_star), exec_s=4.0 / n_star, overhead_s=0.01
    )
    assert kind == "balanced"


def test_serial_latency_is_generation_then_setup_then_execution() -> None:
    sc = lat.Scenario(chunk_tokens=(10, 30), exec_s=(0.5, 0.25), tps=20, ttft_s=0.5, setup_s=0.1)
    assert lat.serial_latency(sc) == pytest.approx(0.5 + 2.0 + 0.1 + 0.75)


def test_prose_after_the_code_keeps_eager_waiting_for_the_last_token() -> None:
    sc = lat.Scenario(chunk_tokens=(10,), exec_s=(0.1,), tps=10, tokens=100)
    assert lat.eager_latency(sc) == pytest.approx(10.0)
    assert lat.closed_form(sc) == pytest.approx(10.0)


def test_the_verdict_is_one_sentence_naming_both_latencies() -> None:
    sc = lat.Scenario(chunk_tokens=(20, 20, 20), exec_s=(0.3, 0.01, 0.01), tps=50)
    text = lat.explain(sc)
    assert text.count(".") >= 1 and "\n" not in text
    assert "saves" in text and "generation sets the pace" in text


@pytest.mark.parametrize(
    "kwargs",
    [
        {"chunk_tokens": (1, 2), "exec_s": (0.1,), "tps": 10},
        {"chunk_tokens": (1,), "exec_s": (0.1,), "tps": 0},
        {"chunk_tokens": (1,), "exec_s": (-0.1,), "tps": 10},
        {"chunk_tokens": (10,), "exec_s": (0.1,), "tps": 10, "tokens": 5},
        {"chunk_tokens": (1,), "exec_s": (0.1,), "tps": 10, "overhead_s": math.nan},
    ],
)
def test_bad_parameters_are_a_usage_error(kwargs: dict[str, object]) -> None:
    with pytest.raises(UsageError):
        lat.Scenario(**kwargs)  # type: ignore[arg-type]


def test_recurrence_over_batches() -> None:
    assert lat.recurrence([0.0, 0.5, 3.0], [1.0, 1.0, 0.5]) == pytest.approx((1.0, 2.0, 3.5))


async def test_the_suffix_bound_is_tight_yet_never_above_a_measured_run() -> None:
    from eager import FakeBackend, ScriptedSource, run

    # A slow statement in the middle: the execution after it cannot start before it is
    # written, which neither of the paper's two bounds sees.
    lines = ["x = 1\n", "y = 2\n", "import time as _t\n", "z = 3\n", "w = 4\n", "print(x)\n"]
    backend = FakeBackend(delay_s=0.01)
    async with backend:
        result = await run(ScriptedSource(lines, delay_s=0.005, format="code"), backend, gate="off")
    pred = lat.predict_from_result(result)
    assert pred.suffix_bound_s <= result.metrics.e2el_s + 1e-9
    assert pred.lower_bound_s >= max(pred.gen_bound_s, pred.exec_bound_s)
    assert pred.lower_bound_s <= result.metrics.e2el_s + 1e-9
