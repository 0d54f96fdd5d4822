"""The contexts benchmark's pure parts: percentiles, summaries, ratios and the table (no DB)."""

import pytest

from slipway_bench.contexts_bench import (
    CpuMonitor,
    Measurement,
    compare,
    format_table,
    parse_args,
    percentile,
    ratio,
    summarize,
)


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert percentile(values, 0.50) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile(values, 1.0) == 100.0
    assert percentile(values, 0.0) == 1.0
    assert percentile([7.0], 0.99) == 7.0
    assert percentile([1.0, 2.0, 3.0], 0.5) == 2.0


@pytest.mark.parametrize(("values", "fraction"), [([], 0.5), ([1.0], 1.5), ([1.0], -0.1)])
def test_percentile_refuses_bad_input(values: list[float], fraction: float) -> None:
    with pytest.raises(ValueError, match=r"no values|outside"):
        percentile(values, fraction)


def test_summarize_counts_throughput_latency_and_cpu_per_request() -> None:
    latencies = [float(v) for v in range(100, 0, -1)]  # unsorted on purpose
    m = summarize(latencies, errors=2, elapsed_s=4.0, cpu_seconds={"server": 0.5, "client": 0.1})
    assert m.requests == 100
    assert m.errors == 2
    assert m.requests_per_second == pytest.approx(25.0)
    assert (m.p50_ms, m.p90_ms, m.p99_ms, m.max_ms) == (50.0, 90.0, 99.0, 100.0)
    assert m.cpu_ms_per_request == {"server": pytest.approx(5.0), "client": pytest.approx(1.0)}
    assert m.as_dict()["requests_per_second"] == 25.0


def test_summarize_refuses_an_empty_or_instant_phase() -> None:
    with pytest.raises(ValueError, match="no requests"):
        summarize([], errors=0, elapsed_s=1.0)
    with pytest.raises(ValueError, match="positive"):
        summarize([1.0], errors=0, elapsed_s=0.0)


def measurement(rps: float, p50: float, p99: float) -> Measurement:
    """A phase of 1000 requests at these figures."""
    return Measurement(
        requests=1000,
        errors=0,
        elapsed_s=1000 / rps,
        requests_per_second=rps,
        p50_ms=p50,
        p90_ms=p50,
        p99_ms=p99,
        max_ms=p99,
        cpu_ms_per_request={"server": 1.25, "client": 0.5, "postgres": 0.25},
    )


def test_ratio_and_compare_put_the_service_over_the_ceiling() -> None:
    assert ratio(1.0, 4.0) == 0.25
    assert ratio(1.0, 0.0) is None
    r = compare(measurement(500, 20.0, 60.0), measurement(2000, 5.0, 12.0))
    assert r.throughput == pytest.approx(0.25)
    assert r.p50 == pytest.approx(4.0)
    assert r.p99 == pytest.approx(5.0)
    assert r.as_dict() == {"throughput": 0.25, "p50": 4.0, "p99": 5.0}


def test_table_lists_each_operation_with_its_ratio_row() -> None:
    table = format_table(
        {
            ("PUT", "service"): measurement(512, 20.0, 60.0),
            ("PUT", "ceiling"): measurement(2048, 5.0, 12.0),
            ("GET", "service"): measurement(1500, 9.0, 20.0),
            ("GET", "ceiling"): measurement(6000, 2.0, 5.0),
        }
    )
    lines = table.splitlines()
    assert lines[0].split()[:6] == ["operation", "path", "req/s", "p50", "ms", "p99"]
    assert [line.split()[:2] for line in lines[1:]] == [
        ["PUT", "service"],
        ["PUT", "ceiling"],
        ["PUT", "service/ceiling"],
        ["GET", "service"],
        ["GET", "ceiling"],
        ["GET", "service/ceiling"],
    ]
    assert lines[1].split()[2:6] == ["512", "20.00", "60.00", "0"]
    assert lines[1].split()[6:] == ["1.250", "+", "0.500", "+", "0.250"]
    assert lines[3].split()[2:] == ["0.250x", "4.00x", "5.00x"]


def test_table_without_a_ceiling_has_no_ratio_row() -> None:
    table = format_table({("GET", "service"): measurement(100, 1.0, 2.0)})
    assert "service/ceiling" not in table
    assert len(table.splitlines()) == 2


def test_arguments_default_to_the_service_connection_cap() -> None:
    args = parse_args(["--duration", "5", "--concurrency", "16"])
    assert (args.duration, args.concurrency, args.pool_size) == (5.0, 16, 15)
    assert str(args.json_out) == "dist/bench/contexts.json"
    with pytest.raises(SystemExit):
        parse_args(["--concurrency", "0"])


def test_cpu_used_counts_only_the_benchmark_backends_seen_at_the_end() -> None:
    before = ({"client": 1.0, "server": 10.0}, {101: 2.0, 102: 3.0})
    # 102 exited (its time is lost), 103 connected during the phase (counted from zero).
    after = ({"client": 1.5, "server": 12.0}, {101: 2.25, 103: 0.5})
    used = CpuMonitor.used(before, after)
    assert used == {
        "client": pytest.approx(0.5),
        "server": pytest.approx(2.0),
        "postgres": pytest.approx(0.75),
    }
