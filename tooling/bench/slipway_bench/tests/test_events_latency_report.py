"""The latency benchmark's statistics: percentiles over all subscribers, losses, the verdict."""

import pytest

from slipway_bench.latency_report import (
    GOAL_P99_MS,
    SubscriberCounts,
    format_table,
    summarize,
)


def subscriber(latencies: list[float], *, events: int | None = None) -> SubscriberCounts:
    return SubscriberCounts(
        events=len(latencies) if events is None else events, duplicates=0, latencies_ms=latencies
    )


def run(subscribers: list[SubscriberCounts], *, acked: int = 100, committed: int = 100) -> object:
    return summarize(
        "embedded",
        target_rate=100.0,
        writes_acked=acked,
        writes_committed=committed,
        write_errors=0,
        write_seconds=1.0,
        subscribers=subscribers,
    )


def test_percentiles_are_nearest_rank_over_every_subscribers_events() -> None:
    first = [float(v) for v in range(1, 101)]  # 1..100 ms
    second = [float(v) for v in range(101, 201)]  # 101..200 ms
    result = summarize(
        "postgres-redis",
        target_rate=100.0,
        writes_acked=100,
        writes_committed=100,
        write_errors=0,
        write_seconds=1.0,
        subscribers=[subscriber(second), subscriber(first)],
    )
    assert (result.p50_ms, result.p90_ms, result.p99_ms, result.max_ms) == (100, 180, 198, 200)
    assert result.events_received == 200
    assert result.lost == 0
    assert not result.goal_met
    assert "MISSED (p99 198.0 ms > 50 ms)" in result.verdict()


def test_goal_met_at_the_boundary() -> None:
    result = summarize(
        "embedded",
        target_rate=100.0,
        writes_acked=95,
        writes_committed=95,
        write_errors=0,
        write_seconds=1.0,
        subscribers=[subscriber([1.0] * 94 + [GOAL_P99_MS])],
    )
    assert result.p99_ms == GOAL_P99_MS
    assert result.rate_reached
    assert result.goal_met
    assert result.verdict() == "embedded: goal p99 <= 50 ms at 100 writes/s: MET"


def test_lost_counts_committed_versions_the_worst_subscriber_missed() -> None:
    result = summarize(
        "embedded",
        target_rate=100.0,
        writes_acked=99,  # the write in flight when wrk stopped is not counted by wrk
        writes_committed=100,
        write_errors=0,
        write_seconds=1.0,
        subscribers=[subscriber([1.0] * 100), subscriber([1.0] * 97)],
    )
    assert list(result.lost_per_subscriber) == [0, 3]
    assert result.lost == 3
    assert not result.goal_met
    assert "3 events lost" in result.verdict()


def test_too_slow_a_writer_misses_the_goal_whatever_the_latency() -> None:
    result = summarize(
        "postgres-redis",
        target_rate=100.0,
        writes_acked=40,
        writes_committed=40,
        write_errors=0,
        write_seconds=2.0,
        subscribers=[subscriber([1.0] * 40)],
    )
    assert result.writes_per_second == 20.0
    assert not result.goal_met
    assert "20.0 writes/s < 95% of 100" in result.verdict()


def test_a_failed_subscriber_fails_the_run() -> None:
    failed = SubscriberCounts(events=0, duplicates=0, latencies_ms=[], error="answered 429")
    with pytest.raises(ValueError, match="1 of 2 subscribers failed: answered 429"):
        run([subscriber([1.0]), failed])


def test_no_event_at_all_is_an_error_not_a_zero_latency() -> None:
    with pytest.raises(ValueError, match="no event reached any subscriber"):
        run([subscriber([], events=0)])


def test_subscriber_counts_read_the_subscriber_process_output() -> None:
    counts = SubscriberCounts.from_dict(
        {"events": 2, "duplicates": 1, "error": None, "latencies_ms": [1.5, 2]}
    )
    assert counts == SubscriberCounts(events=2, duplicates=1, latencies_ms=[1.5, 2.0])


def test_table_has_one_row_per_backend() -> None:
    first = summarize(
        "embedded",
        target_rate=100.0,
        writes_acked=100,
        writes_committed=100,
        write_errors=0,
        write_seconds=1.0,
        subscribers=[subscriber([10.0] * 100)],
    )
    lines = format_table([first]).splitlines()
    assert lines[0].split() == [
        "backend",
        "writes/s",
        "events",
        "lost",
        "p50",
        "ms",
        "p90",
        "ms",
        "p99",
        "ms",
        "max",
        "ms",
    ]
    assert lines[1].split() == ["embedded", "100.0", "100", "0", "10.0", "10.0", "10.0", "10.0"]
