"""Medians over runs, platform/bare ratios and the goal (>= 0.85 throughput, p99 <= 1.25x)."""

import pytest

from slipway_bench.verdict import Summary, compare, summarize
from slipway_bench.wrk import WrkResult


def run(rps: float, p50: float, p99: float) -> WrkResult:
    """A 10 s run at `rps` requests per second."""
    return WrkResult(
        requests=int(rps * 10),
        duration_s=10.0,
        p50_ms=p50,
        p90_ms=p50,
        p99_ms=p99,
        max_ms=p99,
        errors={"status": 0},
    )


def test_summary_takes_the_median_of_each_number() -> None:
    summary = summarize([run(1000, 5.0, 9.0), run(3000, 4.0, 30.0), run(2000, 6.0, 8.0)])
    assert summary.runs == 3
    assert summary.requests_per_second == pytest.approx(2000)
    assert summary.p50_ms == 5.0
    assert summary.p99_ms == 9.0


def test_summary_of_no_runs_is_an_error() -> None:
    with pytest.raises(ValueError, match="no runs"):
        summarize([])


def summary(rps: float, p99: float, p50: float = 4.0) -> Summary:
    """Medians of three runs."""
    return Summary(runs=3, requests_per_second=rps, p50_ms=p50, p99_ms=p99)


def test_goal_met_at_the_boundaries() -> None:
    verdict = compare(summary(10_000, 8.0), summary(8_500, 10.0))
    assert verdict.throughput_ratio == pytest.approx(0.85)
    assert verdict.p99_ratio == pytest.approx(1.25)
    assert verdict.met


def test_goal_missed_on_throughput() -> None:
    verdict = compare(summary(10_000, 8.0), summary(8_400, 8.0))
    assert not verdict.throughput_ok
    assert verdict.p99_ok
    assert not verdict.met


def test_goal_missed_on_p99() -> None:
    verdict = compare(summary(10_000, 8.0), summary(9_900, 10.1, p50=6.0))
    assert verdict.throughput_ok
    assert not verdict.p99_ok
    assert not verdict.met
    assert verdict.p50_ratio == pytest.approx(1.5)


def test_zero_bare_numbers_do_not_divide_by_zero() -> None:
    verdict = compare(summary(0, 0.0, p50=0.0), summary(100, 1.0))
    assert verdict.throughput_ratio == float("inf")
    assert not verdict.p99_ok
