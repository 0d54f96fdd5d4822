"""The contexts benchmark's pure parts: wrk scripts, /proc parsing, ratios, the table (no DB)."""

import os
from pathlib import Path

import pytest

from slipway_bench.contexts_bench import (
    OPERATIONS,
    Measurement,
    format_table,
    goal_lines,
    load_script,
    parse_args,
    ratio,
    ratios,
)
from slipway_bench.limit_app import SELECT_PAGE
from slipway_bench.procfs import (
    parse_cpu_seconds,
    parse_rss_bytes,
    process_cpu_seconds,
    process_rss_bytes,
)
from slipway_bench.wrk import RESULT_MARKER, WrkResult

BEARER = "a.b-c_d"


def wrk_result(rps: float, p50: float, p99: float, errors: int = 0) -> WrkResult:
    """A run of 8 s at these figures."""
    return WrkResult(
        requests=int(rps * 8),
        duration_s=8.0,
        p50_ms=p50,
        p90_ms=p50,
        p99_ms=p99,
        max_ms=p99,
        errors={"connect": 0, "read": 0, "write": 0, "status": errors, "timeout": 0},
    )


def measurement(rps: float, p50: float, p99: float, cpu_us: float, errors: int = 0) -> Measurement:
    result = wrk_result(rps, p50, p99, errors)
    return Measurement(
        wrk=result, server_cpu_s=cpu_us * result.requests / 1e6, rss_bytes=100 * 1024 * 1024
    )


@pytest.mark.parametrize("operation", OPERATIONS)
def test_every_script_has_a_request_function_and_the_done_report(operation: str) -> None:
    script = load_script(operation, namespace="svc", token=BEARER, nonce="n1")
    assert "request = function()" in script
    assert "done = function(summary, latency, requests)" in script
    assert RESULT_MARKER in script
    assert f'Bearer {BEARER}"' in script
    assert "@" not in script.replace("\n", "")  # every placeholder is filled in


def test_write_scripts_make_distinct_bodies_and_rotate_over_the_contexts() -> None:
    put = load_script("PUT", namespace="svc", token=BEARER, nonce="n1", contexts=7)
    assert '"/v1/contexts/svc/c%d", counter % 7' in put
    assert "put %d of run n1" in put  # the counter makes every body new
    assert '"application/json"' in put
    patch = load_script("PATCH", namespace="raw", token=BEARER, nonce="n2")
    assert '"application/merge-patch+json"' in patch
    assert 'wrk.format("PATCH"' in patch
    assert "patch %d of run n2" in patch
    listing = load_script("LIST", namespace="svc", token=BEARER, nonce="n")
    assert '"/v1/contexts/svc?limit=50"' in listing


def test_script_refuses_values_lua_cannot_carry() -> None:
    with pytest.raises(ValueError, match="namespace"):
        load_script("GET", namespace='svc"; os.exit()', token=BEARER, nonce="n")
    with pytest.raises(ValueError, match="unknown operation"):
        load_script("DELETE", namespace="svc", token=BEARER, nonce="n")
    with pytest.raises(ValueError, match="contexts"):
        load_script("GET", namespace="svc", token=BEARER, nonce="n", contexts=0)


def test_proc_parsing_reads_this_process() -> None:
    stat = Path(f"/proc/{os.getpid()}/stat").read_text()
    # Read a moment apart, so the second may be a clock tick on (10 ms), never behind.
    parsed, read = parse_cpu_seconds(stat), process_cpu_seconds(os.getpid())
    assert parsed <= read <= parsed + 0.05
    assert process_cpu_seconds(os.getpid()) > 0
    rss = process_rss_bytes(os.getpid())
    assert 1024 * 1024 < rss < 64 * 1024 * 1024 * 1024
    assert process_cpu_seconds(2**22 + 1) == 0.0  # above pid_max: gone


def test_proc_parsing_handles_odd_names_and_units() -> None:
    clock = os.sysconf("SC_CLK_TCK")
    fields = ["S", *["0"] * 10, str(3 * clock), str(clock), *["0"] * 30]
    assert parse_cpu_seconds(f"42 (a b) c)) {' '.join(fields)}") == 4.0
    assert parse_rss_bytes("Name:\tx\nVmRSS:\t  2048 kB\n") == 2048 * 1024
    with pytest.raises(ValueError, match="VmRSS"):
        parse_rss_bytes("Name:\tkthreadd\n")


def test_ratios_are_contexts_over_the_limit() -> None:
    assert ratio(1.0, 4.0) == 0.25
    assert ratio(1.0, 0.0) is None
    assert ratio(None, 1.0) is None
    r = ratios(measurement(600, 20.0, 60.0, 1500.0), measurement(6000, 4.0, 30.0, 150.0))
    assert r == {"throughput": 0.1, "p50": 5.0, "p99": 2.0, "cpu_per_request": 10.0}
    assert measurement(600, 1.0, 2.0, 1500.0).cpu_us_per_request == pytest.approx(1500.0)
    assert measurement(600, 1.0, 2.0, 1500.0).as_dict()["rss_mib"] == 100.0


def test_table_has_a_row_per_app_and_operation_with_ratios() -> None:
    results = {
        ("GET", "contexts"): measurement(600, 20.0, 60.0, 1500.0),
        ("GET", "limit"): measurement(6000, 4.0, 30.0, 150.0),
        ("PUT", "contexts"): measurement(300, 50.0, 100.0, 3000.0, errors=3),
    }
    lines = format_table(results).splitlines()
    assert lines[0].split()[:3] == ["op", "app", "req/s"]
    assert [line.split()[:2] for line in lines[1:]] == [
        ["GET", "contexts"],
        ["GET", "limit"],
        ["PUT", "contexts"],
    ]
    assert lines[1].split()[2:] == [
        "600",
        "20.00",
        "60.00",
        "0",
        "1500",
        "100.0",
        "0.100x",
        "2.00x",
        "10.00x",
    ]
    assert lines[2].split()[-3:] == ["1.000x", "1.00x", "1.00x"]
    assert lines[3].split()[5] == "3"
    assert lines[3].split()[-3:] == ["n/a", "n/a", "n/a"]  # no limit row to compare with


def test_goals_are_reported_not_enforced() -> None:
    results = {
        ("GET", "contexts"): measurement(4000, 5.0, 50.0, 300.0),
        ("GET", "limit"): measurement(6000, 4.0, 30.0, 150.0),
        ("PUT", "contexts"): measurement(300, 50.0, 100.0, 3000.0),
        ("PUT", "limit"): measurement(2500, 10.0, 40.0, 400.0),
    }
    lines = goal_lines(results)
    assert lines[0].startswith("goal GET >= 0.6x")
    assert lines[0].endswith("MET")
    assert lines[1].startswith("goal PUT >= 0.5x")
    assert lines[1].endswith("MISSED")


def test_arguments_default_to_the_issue_recipe() -> None:
    args = parse_args([])
    assert (args.duration, args.warmup, args.concurrency) == (8, 2, 32)
    assert (args.server_cpu, args.load_cpu, args.sse_subscribers) == (0, 1, 100)
    assert args.pool_size == 15
    assert str(args.json_out) == "dist/bench/contexts.json"
    with pytest.raises(SystemExit):
        parse_args(["--concurrency", "0"])


def test_limit_page_query_selects_the_version_columns_through_the_pointer() -> None:
    assert SELECT_PAGE.startswith("SELECT v.namespace, v.name, v.version,")
    assert "v.updated_by FROM contexts_current c JOIN context_versions v" in SELECT_PAGE
    assert SELECT_PAGE.endswith("ORDER BY c.name LIMIT $2")
